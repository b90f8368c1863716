"""The proxy's one error shape: `{"error": "<message>", "code": "<code>"}` with the status that says why.

AssemblyAI's own shape is `{"error": "<message>"}`, and both official SDKs show `error` as the
message (the JavaScript one throws `new Error(body.error)`), so the message goes there as a string;
the proxy's machine-readable code sits beside it, where neither SDK looks."""

from __future__ import annotations

import logging
import math

from starlette.responses import JSONResponse


class Refused(Exception):
    """A request answered by the proxy itself, in the one error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        headers = dict(self.headers)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="aai-mcp"'
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        body = {"error": self.message, "code": self.code}
        return JSONResponse(body, status_code=self.status, headers=headers or None)


def unreachable(method: str, host: str, exc: Exception, log: logging.Logger) -> Refused:
    """The 502 for a request whose upstream host failed to answer, logged without its path (it
    holds transcript ids, the caller's data) and without httpx's text (it names the URL)."""
    log.warning("proxy: %s to %s failed: %s", method, host, type(exc).__name__)
    message = f"AssemblyAI's {host} host could not be reached or did not answer in time."
    return Refused(502, "upstream_unreachable", message)
