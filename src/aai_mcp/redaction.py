"""The one redactor: every form of every AssemblyAI key the server holds, blanked in results and logs.

An upstream that echoes a key rarely echoes it verbatim: it lower-cases it, cuts it to a prefix,
base64-encodes an Authorization header, or percent-encodes it into a URL. So a key is matched in all
of those forms, case-insensitively, and for keys long enough to tell apart from ordinary words, any
run of FRAGMENT or more characters taken from one of those forms counts as the key.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

from pydantic import BaseModel

from aai_mcp.access.accounts import AccountsError, load_key_pools
from aai_mcp.config.settings import Settings

REDACTED = "[REDACTED]"
Model = TypeVar("Model", bound=BaseModel)
# Shorter secrets would blank ordinary words; nothing the server holds is that short.
MIN_SECRET = 4
# From this length a key is also redacted in part: 8 characters of a 32-character key are 32 bits,
# too many to guess and too few to appear by chance in a result.
FRAGMENTS_FROM = 16
FRAGMENT = 8
# Position-preserving case folding (str.lower() may change a string's length outside ASCII).
_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_URLSAFE = str.maketrans("+/", "-_")
_FOLD_BYTES = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
MARK, SPACE = ord("x"), ord(" ")


def _base64_cores(raw: bytes) -> set[str]:
    """The characters of base64(... + raw + ...) that depend on `raw` alone, at each of the three
    alignments `raw` can have inside a longer encoded value (such as 'Basic ' credentials)."""
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        core = encoded[(offset * 8 + 5) // 6 : ((offset + len(raw)) * 8) // 6]
        cores |= {core, core.translate(_URLSAFE)}
    return cores


def spellings(secret: str) -> tuple[set[str], set[str]]:
    """How `secret` may appear, case-folded: plain spellings (matched in part too) and base64 ones
    (matched whole: in part, base64 looks too much like ordinary words to scan for cheaply)."""
    plain = {secret, quote(secret, safe=""), quote_plus(secret)}
    plain |= {json.dumps(form)[1:-1] for form in plain}  # as it appears inside JSON text
    encoded = {core for core in _base64_cores(secret.encode()) if len(core) >= FRAGMENT}
    return {form.translate(_FOLD) for form in plain}, {form.translate(_FOLD) for form in encoded}


class Redactor:
    """Finds and blanks secrets in text and in JSON-like values. Immutable; cheap to extend."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(secret for secret in secrets if len(secret) >= MIN_SECRET)
        self._pieces: dict[int, set[str]] = {}
        self._encoded: set[str] = set()
        for secret in self.secrets:
            plain, encoded = spellings(secret)
            self._encoded |= encoded
            for form in plain:
                size = min(FRAGMENT if len(secret) >= FRAGMENTS_FROM else len(form), len(form))
                pieces = self._pieces.setdefault(size, set())
                pieces.update(form[i : i + size] for i in range(len(form) - size + 1))
        alphabet = {char for pieces in self._pieces.values() for piece in pieces for char in piece}
        alphabet |= {char.upper() for char in alphabet}
        self._shortest = min(self._pieces, default=0)
        # Scanning is done on bytes, one per character (`_bytes`), through a mask that marks the
        # characters a key can contain: finding runs of marks long enough to hold a piece is then a
        # C-speed `bytes.find`, and prose (and anything without such a run) costs no Python loop.
        # A non-ASCII character becomes "?" there, so a key with one also marks "?".
        marked = {ord(char) for char in alphabet if char.isascii()}
        marked |= {ord("?")} if any(not char.isascii() for char in alphabet) else set()
        self._mask = bytes(MARK if byte in marked else SPACE for byte in range(256))
        self._encoded_bytes = [form.encode() for form in self._encoded]

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def including(self, secret: str | None) -> Redactor:
        """This redactor plus one more secret (a caller's own key)."""
        if not secret or secret in self.secrets:
            return self
        return _extended(self, secret)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where secrets are in `text`: merged [start, end) ranges."""
        if not self.secrets:
            return []
        data = _bytes(text)
        found = [span for start, end in self._runs(data) for span in self._pieces_in(text, start, end)]
        if self._encoded_bytes:
            folded = data.translate(_FOLD_BYTES)
            for form in self._encoded_bytes:
                at = folded.find(form)
                while at >= 0:
                    found.append((at, at + len(form)))
                    at = folded.find(form, at + 1)
        return _merged(found)

    def _runs(self, data: bytes) -> Iterator[tuple[int, int]]:
        """[start, end) of each run of key characters at least as long as the shortest piece."""
        if not self._shortest:
            return
        mapped = data.translate(self._mask)
        marker = bytes([MARK]) * self._shortest
        at = mapped.find(marker)
        while at >= 0:
            end = at + self._shortest
            while end < len(mapped) and mapped[end] == MARK:
                end += 1
            yield at, end
            at = mapped.find(marker, end)

    def _pieces_in(self, text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
        folded = text[start:end].translate(_FOLD)
        for size, pieces in self._pieces.items():
            for i in range(len(folded) - size + 1):
                if folded[i : i + size] in pieces:
                    yield start + i, start + i + size

    def text(self, text: str) -> str:
        spans = self.spans(text)
        if not spans:
            return text
        parts, last = [], 0
        for start, end in spans:
            parts += [text[last:start], REDACTED]
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string (keys too) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value


@lru_cache(maxsize=256)
def _extended(base: Redactor, secret: str) -> Redactor:
    # Per caller key, not per call: building the pieces of a key costs more than a small result's scan.
    return Redactor([*base.secrets, secret])


def _bytes(text: str) -> bytes:
    # One byte per character, so byte offsets are character offsets.
    return text.encode("ascii", "replace")


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def secret_parts(value: str) -> list[str]:
    """A secret setting's value and, when it is a URL (a database, Redis), the password inside it, which
    a driver's error may quote alone, in either its percent-encoded or its plain spelling."""
    parts = [value]
    try:
        split = urlsplit(value)
        password = split.password
    except ValueError:
        return parts
    found = [password] if password else []
    found += [item for key, item in parse_qsl(split.query) if key.lower() == "password"]
    for secret in found:
        parts += [secret, unquote(secret)]
    return list(dict.fromkeys(parts))


def held_keys(settings: Settings) -> Redactor:
    """A redactor for every AssemblyAI key the server holds (its own and every key of each account's
    pool) and the secret its webhooks carry."""
    keys = [settings.api_key.get_secret_value()] if settings.api_key else []
    if settings.webhook_auth_header_value is not None:
        keys.append(settings.webhook_auth_header_value.get_secret_value())
    try:
        pools = load_key_pools(settings.accounts, None).values()
        keys += [key.value.get_secret_value() for pool in pools for key in pool]
    except AccountsError:
        pass  # a broken account list stops the HTTP server at start-up; stdio never reads it
    return Redactor(keys)


def redacted_model(model: Model, redactor: Redactor) -> Model:
    """Any protocol result (a resource read, a listing) with every string in it redacted."""
    if not redactor:
        return model
    data = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    clean = redactor.value(data)
    return model if clean == data else type(model).model_validate(clean)
