"""Revoked token ids in a plain file, re-read whenever it changes, so revoking needs no restart.

Failure policy: a configured file that is missing (deleted, or its name misspelt) or cannot be read
fails CLOSED: `contains` raises RevocationUnavailable, a TokenError, so a caller that refuses on
TokenError refuses every token until the file is back, rather than accepting tokens that may have
been revoked. An empty file revokes nothing; `aai-mcp token revoke` creates the file.
Each change between readable and not is logged once, not once per request.

Only a regular file of at most MAX_REVOCATION_BYTES is read, opened without blocking: the check runs
on the event loop, and a FIFO at that path (open() waits for a writer) froze every client, while a
link to /dev/zero would have been read forever. Either is refused like an unreadable file.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path

from aai_mcp.access.tokens import JTI_PATTERN, TokenError

logger = logging.getLogger(__name__)

_StatKey = tuple[int, int, int]
# About 200 000 revoked ids with notes: bounds the memory and the time one re-read holds the event loop.
MAX_REVOCATION_BYTES = 4 * 1024 * 1024


class RevocationUnavailable(TokenError):
    """The revocation file (or the store) is missing or cannot be read. `detail` is for logs and health
    only; `path` is the file, or the store as it may be shown."""

    def __init__(self, path: Path | str, detail: str) -> None:
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
            status = self.path.stat()
        except OSError as exc:
            raise RevocationUnavailable(self.path, _describe(exc)) from None
        _check_readable(self.path, status)
        if self._cache is None or self._cache[0] != _stat_key(status):
            self._cache = self._read()
        return self._cache[1]

    def _read(self) -> tuple[_StatKey, frozenset[str]]:
        """The ids and the stat of the file they were read from (it may have changed since the stat)."""
        try:
            # O_NONBLOCK: a FIFO swapped in after the stat must not block the open; links are followed
            # (Kubernetes mounts files as links), the opened file is what is checked.
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise RevocationUnavailable(self.path, _describe(exc)) from None
        with os.fdopen(fd, "rb") as file:
            try:
                status = os.fstat(fd)
                _check_readable(self.path, status)
                data = file.read(MAX_REVOCATION_BYTES + 1)
                _check_readable(self.path, status, len(data))
                return _stat_key(status), parse_revocations(data.decode("utf-8"))
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


def _stat_key(status: os.stat_result) -> _StatKey:
    return (status.st_mtime_ns, status.st_size, status.st_ino)


def _check_readable(path: Path, status: os.stat_result, size: int | None = None) -> None:
    """RevocationUnavailable unless a regular file of at most MAX_REVOCATION_BYTES (`size` read)."""
    if not stat.S_ISREG(status.st_mode):
        raise RevocationUnavailable(path, "revocation file unreadable (not a regular file)")
    if max(status.st_size, size or 0) > MAX_REVOCATION_BYTES:
        detail = f"revocation file unreadable (larger than {MAX_REVOCATION_BYTES} bytes)"
        raise RevocationUnavailable(path, detail)


def _describe(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "revocation file missing"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return f"revocation file unreadable ({reason})"
