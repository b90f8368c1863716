"""A few top-level fields of a JSON answer, picked from its bytes as they are relayed.

A transcript answer can be many megabytes (its words), and the proxy streams it through without
holding it: usage needs only `id`, `status` and `audio_duration` (or an LLM answer's `usage`). So the
bytes are scanned as they pass, tracking only nesting and strings: memory stays constant whatever the
size, and a nested `"status"` (a feature's own, e.g. `auto_highlights_result.status`) is never taken
for the transcript's. Parsing whole answers up to a size was the alternative; the scan steps over
whole strings and flat objects (a word) in one regex match, measured at ~40 MB/s, as fast as orjson
building the document, so one path serves every size. A value longer than MAX_VALUE is not kept.
A streamed LLM answer (server-sent events) is read line by line instead (EventStreamFields).
"""

from __future__ import annotations

import logging
import re
import zlib
from typing import Any

import orjson

MAX_VALUE = 4096
MAX_KEY = 64
MAX_EVENT_LINE = 64 * 1024
# Decompressed in pieces of this size at most, so a small gzip chunk cannot expand all at once.
_PIECE = 64 * 1024
_IN_STRING = re.compile(rb'["\\]')
_OUTSIDE = re.compile(rb'["{}\[\],:]')
# Inside a nested value: everything up to the next bracket that opens or closes a nesting level, in one
# C-speed match: whole strings, and whole flat objects or arrays (a word) are stepped over. A piece
# that ends inside a string or a flat object stops it at the quote or bracket.
_STRING = rb'"(?:[^"\\]++|\\.)*+"'
_FLAT = rb'(?:[^"{}\[\]]++|' + _STRING + rb")*+"
_NESTED_RUN = re.compile(rb"(?:[^\"{}\[\]]++|" + _STRING + rb"|\{" + _FLAT + rb"\}|\[" + _FLAT + rb"\])*+")
log = logging.getLogger("aai_mcp.usage")


class AnswerFields:
    """Feed the raw (still encoded) body chunk by chunk, then read `fields()`."""

    def __init__(self, wanted: frozenset[str], content_encoding: str | None) -> None:
        self._decoder = _decoder(content_encoding)
        self._scanner = TopLevelScanner(wanted)

    def feed(self, raw: bytes) -> None:
        if self._decoder is None or not raw:
            return
        try:
            for piece in self._decoder.decode(raw):
                self._scanner.feed(piece)
        except zlib.error:
            log.warning("usage: an answer's compressed body could not be read; not counted")
            self._decoder = None

    @property
    def complete(self) -> bool:
        """The top-level object has ended: every field it had is known."""
        return self._decoder is not None and self._scanner.closed

    def fields(self) -> dict[str, Any]:
        """The wanted top-level fields the answer had (none when it was not a readable JSON object)."""
        return {} if self._decoder is None else self._scanner.found


class EventStreamFields:
    """The same for a streamed (`"stream": true`) LLM answer: server-sent events, one JSON chunk per
    `data:` line, the usage in a late chunk. Lines are read one at a time (a line longer than
    MAX_EVENT_LINE is skipped); the last wanted value seen wins, as the chunks carry running totals."""

    def __init__(self, wanted: frozenset[str], content_encoding: str | None) -> None:
        self.wanted = wanted
        self._decoder = _decoder(content_encoding)
        self._line = bytearray()
        self._skipping = False
        self.found: dict[str, Any] = {}
        self.complete = False

    def feed(self, raw: bytes) -> None:
        if self._decoder is None or not raw:
            return
        try:
            pieces = self._decoder.decode(raw)
        except zlib.error:
            self._decoder = None
            return
        for piece in pieces:
            self._take(piece)

    def _take(self, piece: bytes) -> None:
        *lines, rest = piece.split(b"\n")
        for line in lines:
            if not self._skipping:
                self._event_line(bytes(self._line + line))
            self._line.clear()
            self._skipping = False
        if len(self._line) + len(rest) > MAX_EVENT_LINE:
            self._line.clear()
            self._skipping = True
        elif not self._skipping:
            self._line += rest

    def _event_line(self, line: bytes) -> None:
        data = line.strip()
        if not data.startswith(b"data:"):
            return
        data = data[5:].strip()
        if data == b"[DONE]":
            self.complete = True
            return
        if not any(b'"' + key.encode() + b'"' in data for key in self.wanted):
            return  # most chunks carry text only: not parsed
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if isinstance(chunk, dict):
            self.found.update({k: chunk[k] for k in self.wanted if chunk.get(k) is not None})

    def fields(self) -> dict[str, Any]:
        return {} if self._decoder is None else self.found


class _Decoder:
    def __init__(self, compressed: bool) -> None:
        # wbits 47: a gzip or a zlib header, told apart by the decoder itself.
        self._zlib = zlib.decompressobj(47) if compressed else None

    def decode(self, raw: bytes) -> list[bytes]:
        if self._zlib is None:
            return [raw]
        pieces = [self._zlib.decompress(raw, _PIECE)]
        while self._zlib.unconsumed_tail:
            pieces.append(self._zlib.decompress(self._zlib.unconsumed_tail, _PIECE))
        return pieces


def _decoder(content_encoding: str | None) -> _Decoder | None:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return _Decoder(compressed=False)
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Decoder(compressed=True)
    # br, zstd: only when the caller asked for them, which the official SDKs do not.
    log.warning("usage: an answer in %s encoding cannot be read; not counted", encoding[:20])
    return None


class TopLevelScanner:
    """The values of wanted keys of a top-level JSON object, from its bytes in any pieces.

    Tracks only what it must: nesting depth, whether it is inside a string (and after a backslash),
    and at depth 1 the key it is in. Each step jumps with a regex to the next byte that matters."""

    def __init__(self, wanted: frozenset[str]) -> None:
        self.wanted = wanted
        self.found: dict[str, Any] = {}
        self.depth = 0
        self.in_string = False
        self.escaped = False
        self.expect_key = False
        self.key: str | None = None
        self.capture: bytearray | None = None
        """The key's or the wanted value's bytes so far (None: not capturing, or given up)."""
        self.capturing_key = False
        self.closed = False
        """The top-level object has ended."""

    def feed(self, data: bytes) -> None:
        i, size = 0, len(data)
        if self.escaped and size:
            self.escaped, i = False, 1
        start: int | None = 0 if self.capture is not None else None
        while i < size:
            if self.in_string:
                match = _IN_STRING.search(data, i)
                if match is None:
                    break
                at = match.start()
                if data[at] == _BACKSLASH:
                    self.escaped, i = at + 1 >= size, at + 2
                    continue
                self.in_string, i = False, at + 1
                if self.capturing_key:
                    self._end_key(data, start, at)
                    start = None
                continue
            if self.depth > 1 and self.capture is None:
                at = _NESTED_RUN.match(data, i).end()  # type: ignore[union-attr]  # matches empty too
                if at >= size:
                    break
            else:
                match = _OUTSIDE.search(data, i)
                if match is None:
                    break
                at = match.start()
            i = at + 1
            start = self._structural(data, data[at], start, at)
        if self.capture is not None and start is not None:
            self._append(data[start:])

    def _structural(self, data: bytes, byte: int, start: int | None, at: int) -> int | None:
        """One byte outside strings; returns where the capture in `data` now starts."""
        if byte == _QUOTE:
            self.in_string = True
            if self.depth == 1 and self.expect_key:
                self.capturing_key, self.capture = True, bytearray()
                return at + 1
        elif byte in _OPENERS:
            self.depth += 1
            if self.depth == 1:
                self.expect_key = byte == _BRACE
        elif byte in _CLOSERS:
            if self.depth == 1:
                self._end_value(data, start, at)
                start = None
                self.closed = True
            self.depth -= 1
        elif self.depth == 1 and byte == _COLON:
            self.expect_key = False
            if self.key in self.wanted:
                self.capture = bytearray()
                return at + 1
        elif self.depth == 1:  # a comma between two members
            self._end_value(data, start, at)
            start = None
            self.expect_key, self.key = True, None
        return start

    def _append(self, piece: bytes) -> None:
        assert self.capture is not None
        most = MAX_KEY if self.capturing_key else MAX_VALUE
        if len(self.capture) + len(piece) > most:
            self.capture = None  # longer than anything wanted: given up
        else:
            self.capture += piece

    def _end_key(self, data: bytes, start: int | None, at: int) -> None:
        if self.capture is not None and start is not None:
            self._append(data[start:at])
        self.key = None if self.capture is None else self.capture.decode("utf-8", "replace")
        self.capture, self.capturing_key = None, False

    def _end_value(self, data: bytes, start: int | None, at: int) -> None:
        if self.capture is None or start is None or self.key is None:
            return None
        self._append(data[start:at])
        if self.capture is not None:
            try:
                self.found[self.key] = orjson.loads(bytes(self.capture))
            except orjson.JSONDecodeError:
                pass
        self.capture = None


_QUOTE, _BACKSLASH, _BRACE, _COLON = ord('"'), ord("\\"), ord("{"), ord(":")
_OPENERS = frozenset(b"{[")
_CLOSERS = frozenset(b"}]")
