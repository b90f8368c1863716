"""Logging to stderr, with every secret redacted at the one place records are written."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from aai_mcp.redaction import REDACTED, Redactor

__all__ = ["REDACTED", "RedactingFilter", "configure_logging", "redacting"]

# The redactor of the tool call being run, which knows the caller's own key (passthrough or account):
# records are filtered in the task that logs them, so a call's lines are redacted with its key too.
_CALL_REDACTOR: ContextVar[Redactor | None] = ContextVar("aai_mcp_call_redactor", default=None)


@contextmanager
def redacting(redactor: Redactor) -> Iterator[None]:
    """Log records written inside the block are redacted with `redactor` as well."""
    token = _CALL_REDACTOR.set(redactor)
    try:
        yield
    finally:
        _CALL_REDACTOR.reset(token)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        redactors = [self.redactor]
        call = _CALL_REDACTOR.get()
        if call is not None:
            redactors.append(call)
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for redactor in redactors:
            message = redactor.text(message)
            if record.exc_text:
                record.exc_text = redactor.text(record.exc_text)
        record.msg, record.args = message, None
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO; keep that at DEBUG only.
    logging.getLogger("httpx").setLevel(max(logging.getLevelName(level), logging.WARNING))
