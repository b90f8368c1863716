"""Revoked token ids in a plain file, re-read whenever it changes, so revoking needs no restart.

Failure policy: a configured file that is missing (deleted, or its name misspelt) or cannot be read
fails CLOSED: `contains` raises RevocationUnavailable, a TokenError, so a caller that refuses on
TokenError refuses every token until the file is back, rather than accepting tokens that may have
been revoked. An empty file revokes nothing; `aai-mcp token revoke` creates the file.
Each change between readable and not is logged once, not once per request.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from aai_mcp.access.tokens import JTI_PATTERN, TokenError

logger = logging.getLogger(__name__)

_StatKey = tuple[int, int, int]


class RevocationUnavailable(TokenError):
    """The revocation file is missing or cannot be read. `detail` is for logs and health only."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            "revocation_unavailable", "the server cannot check token revocations right now; try again later"
        )
        self.path = path
        self.detail = detail


class RevocationList:
    """Token ids (jti) one a line, `#` starts a comment. `jti in revocations` works as well."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[_StatKey, frozenset[str]] | None = None
        self._problem: str | None = None

    def __contains__(self, jti: object) -> bool:
        return isinstance(jti, str) and self.contains(jti)

    def contains(self, jti: str) -> bool:
        """Whether `jti` is revoked; raises RevocationUnavailable when the file cannot be read."""
        return jti in self.ids()

    def problem(self) -> str | None:
        """Why tokens are being refused right now (for /healthz), or None when the file is readable."""
        try:
            self.ids()
        except RevocationUnavailable as exc:
            return exc.detail
        return None

    def ids(self) -> frozenset[str]:
        try:
            ids = self._current_ids()
        except RevocationUnavailable as exc:
            self._cache = None
            self._note(exc.detail)
            raise
        self._note(None)
        return ids

    def _current_ids(self) -> frozenset[str]:
        # One stat per call is cheap; the file is read again only when that stat changes.
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise RevocationUnavailable(self.path, _describe(exc)) from None
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._read())
        return self._cache[1]

    def _read(self) -> frozenset[str]:
        try:
            return parse_revocations(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise RevocationUnavailable(self.path, _describe(exc)) from None

    def _note(self, problem: str | None) -> None:
        if problem == self._problem:
            return
        if problem is None:
            logger.info("token revocation file %s is readable again: accepting tokens", self.path)
        else:
            logger.error(
                "token revocation file %s: %s; refusing every token until it is back", self.path, problem
            )
        self._problem = problem


def parse_revocations(text: str) -> frozenset[str]:
    """The first word of every line, once comments (`#` to the end of the line) are removed."""
    ids: set[str] = set()
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            ids.add(words[0])
    return frozenset(ids)


def append_revocation(path: Path, jti: str, note: str = "") -> bool:
    """Add `jti` to the file (created if missing); False when it was already there."""
    if not re.fullmatch(JTI_PATTERN, jti):
        raise ValueError(f"{jti!r} is not a token id (they look like tok_abcdefgh2345)")
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if jti in parse_revocations(existing):
        return False
    separator = "" if not existing or existing.endswith("\n") else "\n"
    comment = f"  # {' '.join(note.split())}" if note.strip() else ""
    with path.open("a", encoding="utf-8") as file:
        file.write(f"{separator}{jti}{comment}\n")
    return True


def _describe(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "revocation file missing"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return f"revocation file unreadable ({reason})"
