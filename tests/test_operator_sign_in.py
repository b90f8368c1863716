"""The operator's sign-in on the consent page: an scrypt hash checks the right password only; a
malformed hash fails at start, not at the first sign-in; without one nobody signs in."""

from __future__ import annotations

import pytest

from aai_mcp.access.operator_sign_in import OPERATOR, NoSignIn, PasswordSignIn, hash_password


def test_the_right_password_signs_in_and_no_other() -> None:
    stored = hash_password("s3cret pass", n=2**10)
    assert "s3cret" not in stored and stored.startswith("scrypt$1024$")
    sign_in = PasswordSignIn(stored)
    assert sign_in.subject({"password": "s3cret pass"}) == OPERATOR
    assert [sign_in.subject({"password": p}) for p in ("s3cret pas", "", "S3cret pass")] == [None] * 3
    assert sign_in.subject({}) is None
    assert hash_password("s3cret pass", n=2**10) != stored  # salted


def test_a_malformed_hash_is_refused_and_no_sign_in_admits_nobody() -> None:
    with pytest.raises(ValueError, match="scrypt"):
        PasswordSignIn("plain-password")
    assert NoSignIn().subject({"password": "anything"}) is None and NoSignIn().fields == ()
