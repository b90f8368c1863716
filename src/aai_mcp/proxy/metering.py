"""The proxy's side of quotas and usage: a team over quota is refused before anything is forwarded,
and the answer a team gets is watched as it is relayed (never held) for the usage it shows."""

from __future__ import annotations

from starlette.types import Message, Send

from aai_mcp.access.quota_gate import OverQuota, RateLimit
from aai_mcp.gateway import Gateway
from aai_mcp.proxy.allowlist import Target
from aai_mcp.proxy.refusals import Refused
from aai_mcp.upstream.answer_fields import AnswerFields
from aai_mcp.upstream.usage import Metered, metered_call, wanted_fields


async def admit(gateway: Gateway, team: str, target: Target) -> RateLimit | None:
    """The team's per-minute state when it may go on; Refused (429 team_quota) when it may not."""
    try:
        return await gateway.quota_gate.admit(team, target.effect)
    except OverQuota as over:
        gateway.metrics.quota_refused(team, over.state.quota)
        headers = over.state.headers()
        raise Refused(429, "team_quota", over.message, over.state.reset_seconds, headers) from None


class MeteredSend:
    """The relay's `send`, adding the team's RateLimit-* headers and reading usage fields on the way."""

    def __init__(self, send: Send, method: str, target: Target, rate: RateLimit | None) -> None:
        self.send = send
        self.rate = rate
        self.metered: Metered | None = metered_call(target.host, method, target.path)
        self.status = 0
        self.fields: AnswerFields | None = None
        self.complete = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._started(message)
        elif message["type"] == "http.response.body":
            if self.fields is not None:
                self.fields.feed(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        await self.send(message)

    def _started(self, message: Message) -> None:
        self.status = message["status"]
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
        names = {name.lower() for name, _ in headers}
        if self.rate is not None and b"ratelimit-limit" not in names:
            headers += [(k.lower().encode(), v.encode()) for k, v in self.rate.headers().items()]
            message["headers"] = headers
        if self.metered is not None and 200 <= self.status < 300:
            encoding = next(
                (v.decode("latin-1") for k, v in headers if k.lower() == b"content-encoding"), None
            )
            self.fields = AnswerFields(wanted_fields(self.metered), encoding)


async def record(gateway: Gateway, team: str, target: Target, answer: MeteredSend) -> None:
    """The usage a whole relayed answer showed (a cut-off one shows none)."""
    if answer.metered is None or answer.fields is None or not answer.complete:
        return
    fields = answer.fields.fields()
    await gateway.usage.answer(team, answer.metered, target.path, answer.status, fields)
