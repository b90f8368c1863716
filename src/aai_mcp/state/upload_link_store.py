"""One-time upload links in the store: created for an account, claimed by the one upload they allow,
and how that upload went (bytes so far, the AssemblyAI upload_url, or why it failed).

A link is `<link_id>.<secret>`: the id (128 random bits) names the row, the secret (256 random bits)
proves the holder was given the link. Only the secret's SHA-256 is kept, so reading the table (a
backup, a replica) gives nobody a working link; comparing hashes in constant time keeps timing from
telling how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from aai_mcp.state.store_schema import upload_links

LinkState = Literal["waiting", "receiving", "done", "failed", "expired"]
TERMINAL: frozenset[str] = frozenset({"done", "failed", "expired"})
# A receiving link whose progress was last written this long ago lost its upload (the instance serving
# it died or the browser went away without the connection closing): waiters stop waiting for it.
STALL_SECONDS = 120.0
_TOKEN = re.compile(r"(?:^|/)([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})/?$")
_FAILURE_MAX = 500


@dataclass(frozen=True)
class LinkCredential:
    link_id: str
    secret: str

    @property
    def token(self) -> str:
        """What goes into the URL after /u/."""
        return f"{self.link_id}.{self.secret}"


@dataclass(frozen=True)
class UploadLink:
    """One link's row, as every instance reads it (times in epoch seconds)."""

    link_id: str
    account: str
    stored_state: str
    max_bytes: int
    bytes_received: int
    created_at: float
    expires_at: float
    updated_at: float
    upload_url: str | None = None
    failure: str | None = None

    def state(self, now: float) -> LinkState:
        """The state a person or a waiter sees: a waiting link past its time is expired, a receiving
        one that stopped reporting progress failed."""
        if self.stored_state == "waiting" and now >= self.expires_at:
            return "expired"
        if self.stored_state == "receiving" and now - self.updated_at > STALL_SECONDS:
            return "failed"
        return self.stored_state  # type: ignore[return-value]

    def why_failed(self, now: float) -> str | None:
        if self.state(now) != "failed":
            return None
        return self.failure or "The upload stopped sending data before it finished."


def new_credential() -> LinkCredential:
    return LinkCredential(secrets.token_urlsafe(16), secrets.token_urlsafe(32))


def parse_link(text: str) -> LinkCredential | None:
    """The credential in a link URL (or in its bare `<id>.<secret>` part); None when it is neither."""
    match = _TOKEN.search(text.strip())
    return None if match is None else LinkCredential(match.group(1), match.group(2))


def _hashed(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class UploadLinks:
    """The upload_links table on one engine (the platform store's). Calls block: run them in a thread."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def create(self, account: str, max_bytes: int, ttl_seconds: float) -> tuple[LinkCredential, UploadLink]:
        credential = new_credential()
        now = self.clock()
        values: dict[str, Any] = {
            "link_id": credential.link_id,
            "secret_hash": _hashed(credential.secret),
            "account": account,
            "state": "waiting",
            "max_bytes": max_bytes,
            "bytes_received": 0,
            "created_at": now,
            "expires_at": now + ttl_seconds,
            "updated_at": now,
        }
        with self.engine.begin() as connection:
            connection.execute(upload_links.insert().values(**values))
        return credential, _link(values)

    def find(self, credential: LinkCredential) -> UploadLink | None:
        """The link this credential opens; None when there is none or the secret is wrong (the same
        answer, so a guess learns nothing)."""
        query = sa.select(upload_links).where(upload_links.c.link_id == credential.link_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None or not hmac.compare_digest(row["secret_hash"], _hashed(credential.secret)):
            return None
        return _link(row)

    def get(self, link_id: str) -> UploadLink | None:
        query = sa.select(upload_links).where(upload_links.c.link_id == link_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _link(row)

    def claim(self, link_id: str) -> bool:
        """Start the link's one upload: True for exactly one caller, while it waits and has not expired
        (one UPDATE with the condition in it, so two instances never both win)."""
        now = self.clock()
        statement = (
            upload_links.update()
            .where(
                (upload_links.c.link_id == link_id)
                & (upload_links.c.state == "waiting")
                & (upload_links.c.expires_at > now)
            )
            .values(state="receiving", updated_at=now)
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def record_progress(self, link_id: str, bytes_received: int) -> None:
        self._update_receiving(link_id, bytes_received=bytes_received)

    def finish(self, link_id: str, bytes_received: int, upload_url: str) -> None:
        self._update_receiving(link_id, state="done", bytes_received=bytes_received, upload_url=upload_url)

    def fail(self, link_id: str, bytes_received: int, reason: str) -> None:
        self._update_receiving(
            link_id, state="failed", bytes_received=bytes_received, failure=reason[:_FAILURE_MAX]
        )

    def _update_receiving(self, link_id: str, **values: Any) -> None:
        # Only a receiving link moves on: a finished one keeps its outcome whatever arrives late.
        statement = (
            upload_links.update()
            .where((upload_links.c.link_id == link_id) & (upload_links.c.state == "receiving"))
            .values(updated_at=self.clock(), **values)
        )
        with self.engine.begin() as connection:
            connection.execute(statement)


def _link(row: Any) -> UploadLink:
    return UploadLink(
        link_id=row["link_id"],
        account=row["account"],
        stored_state=row["state"],
        max_bytes=row["max_bytes"],
        bytes_received=row["bytes_received"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        updated_at=row["updated_at"],
        upload_url=row.get("upload_url"),
        failure=row.get("failure"),
    )
