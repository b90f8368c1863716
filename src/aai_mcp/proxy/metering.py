"""The proxy's side of quotas and usage: a team over quota is refused before anything is forwarded,
and the answer a team gets is watched as it is relayed (never held) for the usage it shows."""

from __future__ import annotations

from starlette.types import Message, Send

from aai_mcp.access.principal import Principal
from aai_mcp.access.quota_gate import Admission, OverQuota, RateLimit
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.allowlist import Target
from aai_mcp.proxy.headers import RawHeaders
from aai_mcp.proxy.refusals import Refused
from aai_mcp.upstream.answer_fields import AnswerFields, EventStreamFields
from aai_mcp.upstream.usage import BILLED_CHARACTERS, Metered, billed_characters, metered_call, wanted_fields


async def admit(gateway: Gateway, team: str, effect: str) -> Admission:
    """What the team's call was admitted with; Refused (429 team_quota) when it may not go on."""
    try:
        return await gateway.quota_gate.admit(team, effect)
    except OverQuota as over:
        gateway.metrics.quota_refused(team, over.state.quota)
        headers = over.state.headers()
        raise Refused(429, "team_quota", over.message, over.state.reset_seconds, headers) from None


async def admit_stream(gateway: Gateway, principal: Principal) -> None:
    """A streaming session's upgrade counts as one of the team's requests of the minute (its length
    is capped by the team's `stream_seconds`, its audio recorded when it ends)."""
    if principal.scopes is not None:
        await admit(gateway, principal.account, "stream")


# Content codings the usage reader can decode: a metered call asks upstream for no other, or a caller
# asking for br or zstd only would have its usage go uncounted (and its quota unenforced).
READABLE_CODINGS = frozenset({b"gzip", b"x-gzip", b"deflate", b"identity"})


def readable_encodings(method: str, target: Target, headers: RawHeaders) -> RawHeaders:
    """The caller's headers, its Accept-Encoding narrowed to READABLE_CODINGS on every call: a metered
    answer is read for usage, and any error answer is read for the upstream key it may echo
    (proxy/whole_answers.py), so no answer may come in a coding this process cannot undo."""
    kept: RawHeaders = []
    for name, value in headers:
        if name.lower() != b"accept-encoding":
            kept.append((name, value))
            continue
        codings = [
            c.strip() for c in value.split(b",") if c.split(b";")[0].strip().lower() in READABLE_CODINGS
        ]
        kept.append((name, b", ".join(codings) or b"identity"))
    return kept


def _readable(coding: bytes) -> bool:
    return coding.split(b";")[0].strip().lower() in READABLE_CODINGS


class MeteredSend:
    """The relay's `send`, adding the team's RateLimit-* headers and reading usage fields on the way.

    The usage is recorded before the answer's last bytes go out, so a caller holding the whole
    answer (a completed transcript) finds it counted, and its next request meets the quota."""

    def __init__(
        self, gateway: Gateway, team: str, method: str, target: Target, send: Send, rate: RateLimit | None
    ) -> None:
        self.gateway, self.team, self.target = gateway, team, target
        self.send = send
        self.rate = rate
        self.metered: Metered | None = metered_call(target.host, method, target.path)
        self.status = 0
        self.fields: AnswerFields | EventStreamFields | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._started(message)
            if self.metered == "speech" and 200 <= self.status < 300:
                billed = billed_characters(_header(message.get("headers", []), BILLED_CHARACTERS.encode()))
                await self.gateway.usage.speech_answer(self.team, billed)
        elif message["type"] == "http.response.body" and self.fields is not None:
            self.fields.feed(message.get("body", b""))
            # Before the bytes that end the document: with a Content-Length the caller holds the
            # whole answer as soon as they arrive, before the relay's last (empty) message.
            if self.fields.complete or not message.get("more_body", False):
                await self._record(self.fields)
        await self.send(message)

    async def _record(self, fields: AnswerFields | EventStreamFields) -> None:
        assert self.metered is not None
        self.fields = None  # once
        found = fields.fields()
        await self.gateway.usage.answer(self.team, self.metered, self.target.path, self.status, found)

    def _started(self, message: Message) -> None:
        self.status = message["status"]
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
        names = {name.lower() for name, _ in headers}
        if self.rate is not None and b"ratelimit-limit" not in names:
            headers += [(k.lower().encode(), v.encode()) for k, v in self.rate.headers().items()]
            message["headers"] = headers
        wanted = self.metered is not None and self.gateway.usage.wants(self.metered, self.target.path)
        if self.metered not in (None, "speech") and wanted and 200 <= self.status < 300:
            encoding = _header(headers, b"content-encoding")
            events = (_header(headers, b"content-type") or "").startswith("text/event-stream")
            reader = EventStreamFields if events else AnswerFields
            assert self.metered is not None
            self.fields = reader(wanted_fields(self.metered), encoding)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    return next((v.decode("latin-1").strip().lower() for k, v in headers if k.lower() == name), None)
