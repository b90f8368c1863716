"""The delivery signature: what a receiver's copy of verify_signature accepts and refuses."""

from __future__ import annotations

from aai_mcp.delivery.signing import REPLAY_WINDOW_SECONDS, signature_header, verify_signature

SECRET = "whsec-0123456789abcdef"
BODY = b'{"id":"evt_1","type":"transcript.archived","data":{"text":"hello"}}'
NOW = 1_800_000_000


def test_a_signed_body_verifies() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert header.startswith(f"t={NOW},v1=") and len(header.split("v1=")[1]) == 64
    assert verify_signature(SECRET, header, BODY, now=NOW)


def test_a_tampered_body_or_timestamp_or_secret_fails() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, header, BODY.replace(b"hello", b"hellO"), now=NOW)
    digest = header.split("v1=")[1]
    assert not verify_signature(SECRET, f"t={NOW + 1},v1={digest}", BODY, now=NOW)
    assert not verify_signature("whsec-another-secret-0000", header, BODY, now=NOW)


def test_an_old_or_future_timestamp_fails_outside_the_replay_window() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert verify_signature(SECRET, header, BODY, now=NOW + REPLAY_WINDOW_SECONDS)
    assert not verify_signature(SECRET, header, BODY, now=NOW + REPLAY_WINDOW_SECONDS + 1)
    assert not verify_signature(SECRET, header, BODY, now=NOW - REPLAY_WINDOW_SECONDS - 1)
    assert verify_signature(SECRET, header, BODY, tolerance_seconds=3600, now=NOW + 3000)


def test_malformed_headers_fail_and_any_v1_may_match_during_rotation() -> None:
    for header in ("", "v1=abc", "t=notanumber,v1=abc", f"t={NOW}", f"t={NOW},v1="):
        assert not verify_signature(SECRET, header, BODY, now=NOW)
    good = signature_header(SECRET, NOW, BODY).split("v1=")[1]
    assert verify_signature(SECRET, f"t={NOW},v1={'0' * 64},v1={good}", BODY, now=NOW)
