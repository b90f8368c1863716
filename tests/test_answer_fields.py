"""The top-level fields usage is counted from, picked from an answer's bytes in any pieces: never a
nested field of the same name, whatever the strings hold, compressed or not, in constant memory."""

from __future__ import annotations

import gzip
import json
import random
import zlib

import pytest

from aai_mcp.upstream.answer_fields import (
    MAX_EVENT_LINE,
    MAX_VALUE,
    AnswerFields,
    EventStreamFields,
    TopLevelScanner,
)

WANTED = frozenset({"id", "status", "audio_duration", "usage"})
TRICKY = {
    "id": "tr_1",
    "auto_highlights_result": {"status": "success", "results": [{"text": 'a "q" [x] {y} \\'}]},
    "words": [{"text": f'w\\"{i}[]{{}}', "start": i, "end": i + 1, "speaker": None} for i in range(300)],
    "utterances": [{"words": [{"text": "x", "status": "no"}], "id": "nested"}],
    "text": 'status: "error", "audio_duration": 1',
    "status": "completed",
    "audio_duration": 123.5,
    "usage": {"input_tokens": 3, "output_tokens": 4},
}
EXPECTED = {"id": "tr_1", "status": "completed", "audio_duration": 123.5, "usage": TRICKY["usage"]}


def pieces(body: bytes, rng: random.Random, most: int) -> list[bytes]:
    cut, out = 0, []
    while cut < len(body):
        size = rng.randint(1, most)
        out.append(body[cut : cut + size])
        cut += size
    return out


@pytest.mark.parametrize("most", [1, 3, 17, 4096])
def test_only_top_level_fields_in_any_pieces(most: int) -> None:
    body = json.dumps(TRICKY).encode()
    rng = random.Random(most)
    for _ in range(3 if most > 1 else 1):
        scanner = TopLevelScanner(WANTED)
        for piece in pieces(body, rng, most):
            scanner.feed(piece)
        assert scanner.found == EXPECTED


def test_compact_and_spaced_json_alike() -> None:
    for body in (json.dumps(TRICKY, separators=(",", ":")), json.dumps(TRICKY, indent=4)):
        scanner = TopLevelScanner(WANTED)
        scanner.feed(body.encode())
        assert scanner.found == EXPECTED


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), (None, lambda body: body)],
)
def test_compressed_answers_are_read(encoding: str | None, compress: object) -> None:
    assert callable(compress)
    raw = compress(json.dumps(TRICKY).encode())
    fields = AnswerFields(WANTED, encoding)
    for piece in pieces(raw, random.Random(1), 5000):
        fields.feed(piece)
    assert fields.fields() == EXPECTED


def test_an_unknown_encoding_or_broken_body_counts_nothing() -> None:
    unknown = AnswerFields(WANTED, "br")
    unknown.feed(json.dumps(TRICKY).encode())
    assert unknown.fields() == {}
    broken = AnswerFields(WANTED, "gzip")
    broken.feed(b"not gzip at all")
    assert broken.fields() == {}


def test_long_values_are_not_kept_and_other_bodies_give_nothing() -> None:
    scanner = TopLevelScanner(WANTED)
    scanner.feed(json.dumps({"id": "x" * (MAX_VALUE + 10), "status": "queued"}).encode())
    assert scanner.found == {"status": "queued"}
    for body in (b"[1, 2]", b'"text"', b"WEBVTT\n\n00:00.000 --> 00:01.000\nhi", b""):
        other = TopLevelScanner(WANTED)
        other.feed(body)
        assert other.found == {}


def test_complete_once_the_top_level_object_ends() -> None:
    body = json.dumps(TRICKY).encode()
    fields = AnswerFields(WANTED, None)
    fields.feed(body[:-1])
    assert not fields.complete  # every nested object closed, the document not yet
    fields.feed(body[-1:])
    assert fields.complete and fields.fields() == EXPECTED


SSE = (
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"usage \\"is\\" fine"}}]}\n\n'
    b": a comment line\n\n"
    b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":'
    b'{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}\n\n'
    b"data: [DONE]\n\n"
)


@pytest.mark.parametrize("most", [1, 9, 4096])
def test_a_streamed_llm_answer_gives_its_last_usage(most: int) -> None:
    fields = EventStreamFields(frozenset({"usage"}), None)
    done = SSE.index(b"[DONE]")
    for piece in pieces(SSE[:done], random.Random(most), most):
        fields.feed(piece)
    assert not fields.complete  # not before the stream says it is done
    for piece in pieces(SSE[done:], random.Random(most), most):
        fields.feed(piece)
    assert fields.complete
    assert fields.fields() == {"usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}


def test_an_overlong_event_line_is_skipped_not_held() -> None:
    fields = EventStreamFields(frozenset({"usage"}), "gzip")
    long_line = b'data: {"usage": {"total_tokens": 1}, "pad": "' + b"x" * (MAX_EVENT_LINE + 10) + b'"}\n'
    fields.feed(gzip.compress(long_line + b'data: {"usage": {"total_tokens": 2}}\n'))
    assert fields.fields() == {"usage": {"total_tokens": 2}}
