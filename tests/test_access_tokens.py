"""Access tokens: scopes over the real catalog, signing and every refusal, secrets, revocation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import re
from collections.abc import Container
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from aai_mcp.access import (
    METHOD_CLASSES,
    RevocationList,
    RevocationUnavailable,
    Scopes,
    SecretsError,
    TokenError,
    UnknownMethodClass,
    append_revocation,
    check_signature,
    inspect,
    load_signing_secrets,
    method_classes,
    mint,
    verify,
)
from aai_mcp.access.revocation import parse_revocations
from aai_mcp.access.tokens import _sign, format_time
from aai_mcp.catalog import ToolSpec
from aai_mcp.gateway import load_default_catalog

CATALOG = load_default_catalog()
SPECS = list(CATALOG.tools.values())
TAGS = sorted({tag for spec in SPECS for tag in spec.tags})
NOW = 1_700_000_000.0
DAY = 86_400
OLD = b"o" * 40
NEW = b"n" * 40
TOKEN_CHARS = re.compile(r"[A-Za-z0-9._-]+")


def minted(
    secret: bytes = NEW,
    scopes: Scopes | None = None,
    *,
    expires_at: float | None = NOW + DAY,
    require_header: bool = False,
) -> str:
    made = mint(
        secret,
        name="ci",
        scopes=scopes or Scopes(),
        expires_at=expires_at,
        require_header=require_header,
        issued_at=NOW,
    )
    return made.token


def refusal(
    token: str,
    secrets: list[bytes] | None = None,
    *,
    now: float = NOW,
    revoked: Container[str] = frozenset(),
    header_secret: str | None = None,
) -> TokenError:
    with pytest.raises(TokenError) as caught:
        verify(token, [NEW] if secrets is None else secrets, now, revoked, header_secret)
    return caught.value


def flip(text: str, index: int) -> str:
    replacement = "B" if text[index] == "A" else "A"
    return text[:index] + replacement + text[index + 1 :]


# --- scopes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("get_transcript", ["read"]),
        ("create_transcript", ["transcription"]),
        ("delete_transcript", ["delete"]),
        ("transcribe", ["transcription", "read"]),
        ("upload_file", ["upload"]),
        ("ask_transcript", ["llm", "read"]),
        ("search", ["read"]),
        ("wait_for_transcript", ["read"]),
        ("create_streaming_token", ["credentials"]),
    ],
)
def test_effects_of_known_tools(name: str, expected: list[str]) -> None:
    assert CATALOG.tools[name].effects == expected


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_axis_allows_or_names_the_missing_scope(spec: ToolSpec) -> None:
    assert Scopes().allows(spec) is None
    for kind in METHOD_CLASSES:
        lacking = [effect for effect in spec.effects if effect != kind]
        expected = f"method {lacking[0]!r}" if lacking else None
        _assert_reason(Scopes(methods=frozenset({kind})).allows(spec), expected)
    assert Scopes(methods=frozenset(spec.effects)).allows(spec) is None
    for toolset in CATALOG.toolsets:
        expected = None if toolset == spec.toolset else f"toolset {spec.toolset!r}"
        _assert_reason(Scopes(toolsets=frozenset({toolset})).allows(spec), expected)
    for other in CATALOG.tools:
        expected = None if other == spec.name else f"tool {spec.name!r}"
        _assert_reason(Scopes(tools=frozenset({other})).allows(spec), expected)
    read_only = Scopes(read_only=True).allows(spec)
    assert read_only == (None if spec.annotations.read_only else "this token is read-only")
    for tag in TAGS:
        reason = Scopes(tags=frozenset({tag})).allows(spec)
        assert (reason is None) == (tag in spec.tags)
        if reason is not None:
            assert any(repr(own) in reason for own in spec.tags) or "no tags" in reason


def _assert_reason(reason: str | None, names: str | None) -> None:
    if names is None:
        assert reason is None
    else:
        assert reason == f"this token's scopes do not include {names}"


@pytest.mark.parametrize("retired", ["write", "custom"])
def test_retired_method_classes_are_refused_with_the_new_names(retired: str) -> None:
    with pytest.raises(UnknownMethodClass) as caught:
        method_classes(["read", retired], "--methods")
    assert f"--methods: method class {retired!r} was retired" in str(caught.value)
    assert "llm" in str(caught.value) and "transcription" in str(caught.value)
    with pytest.raises(ValidationError):
        Scopes.model_validate({"methods": [retired]})


def with_methods(methods: Any) -> str:
    """A token signed here whose scopes name `methods` as given (as an older version minted them)."""
    token = minted(scopes=Scopes(methods=frozenset({"read"})))
    prefix, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scopes"]["methods"] = methods
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{prefix}.{body}.{_sign(NEW, f'{prefix}.{body}')}"


def test_a_token_minted_with_a_retired_class_is_refused_saying_why() -> None:
    refused = refusal(with_methods(["read", "custom"]))
    assert refused.code == "malformed"
    assert "retired method class(es) custom; mint a new token" in str(refused)


@pytest.mark.parametrize("methods", [[["custom"]], [{"a": 1}], ["nope"], 7])
def test_odd_method_values_are_plainly_malformed(methods: Any) -> None:
    refused = refusal(with_methods(methods))
    assert (refused.code, str(refused)) == (
        "malformed",
        "the token is malformed: its payload is not valid claims",
    )


def test_empty_sets_allow_nothing() -> None:
    assert all(Scopes(tools=frozenset()).allows(spec) for spec in SPECS)


SAMPLE_SCOPES = [
    Scopes(),
    Scopes(methods=frozenset({"read"})),
    Scopes(methods=frozenset({"read", "llm"}), read_only=True),
    Scopes(methods=frozenset({"transcription", "delete"})),
    Scopes(toolsets=frozenset({"transcripts"})),
    Scopes(toolsets=frozenset({"llm", "realtime"}), tags=frozenset(TAGS)),
    Scopes(tools=frozenset({"get_transcript", "delete_transcript", "transcribe"})),
    Scopes(read_only=True),
    Scopes(tags=frozenset(TAGS[:1])),
    Scopes(toolsets=frozenset(), tools=frozenset({"get_transcript"})),
]


def test_intersection_never_widens_and_is_symmetric() -> None:
    for mine, theirs in itertools.product(SAMPLE_SCOPES, repeat=2):
        both = mine.intersect(theirs)
        assert both == theirs.intersect(mine)
        for spec in SPECS:
            if both.allows(spec) is None:
                assert mine.allows(spec) is None and theirs.allows(spec) is None, (mine, theirs, spec.name)


def test_intersection_keeps_each_restriction() -> None:
    server = Scopes(toolsets=frozenset({"transcripts", "llm"}), read_only=True)
    token = Scopes(toolsets=frozenset({"llm", "realtime"}), methods=frozenset({"read"}))
    assert server.intersect(token) == Scopes(
        toolsets=frozenset({"llm"}), methods=frozenset({"read"}), read_only=True
    )
    assert Scopes().intersect(server) == server


# --- tokens ----------------------------------------------------------------------------------


def test_round_trip_keeps_every_claim() -> None:
    scopes = Scopes(methods=frozenset({"read"}), toolsets=frozenset({"transcripts"}), tags=frozenset({"x"}))
    made = mint(NEW, name="ci bot", scopes=scopes, expires_at=NOW + DAY, account="team-a", issued_at=NOW)
    claims = verify(made.token, [NEW], NOW, frozenset(), None)
    assert claims == made.claims == inspect(made.token)
    assert (claims.name, claims.account, claims.scopes, claims.jti) == ("ci bot", "team-a", scopes, made.jti)
    assert (claims.iat, claims.exp, claims.hdr, made.header_secret) == (int(NOW), int(NOW) + DAY, None, None)
    assert re.fullmatch(r"tok_[a-z2-7]{12}", made.jti)


def test_tokens_use_only_url_path_safe_characters() -> None:
    names = ["ci", "ünïcödé name/with?query#frag", "x" * 64]
    scopes = Scopes(tools=frozenset(CATALOG.tools), tags=frozenset({"a/b+c=d"}))
    for name in names:
        token = mint(NEW, name=name, scopes=scopes, expires_at=None, require_header=True).token
        assert TOKEN_CHARS.fullmatch(token), token
        assert token.startswith("aai1.") and "=" not in token


def test_never_expiring_token_verifies_far_in_the_future() -> None:
    token = minted(expires_at=None)
    assert verify(token, [NEW], NOW + 100 * 365 * DAY, frozenset(), None).exp is None


def test_expired_token_says_when() -> None:
    token = minted()
    assert verify(token, [NEW], NOW + DAY - 1, frozenset(), None)
    error = refusal(token, now=NOW + DAY)
    assert error.code == "expired"
    assert format_time(NOW + DAY) == "2023-11-15T22:13:20Z"
    assert error.reason == f"token {inspect(token).jti} expired at 2023-11-15T22:13:20Z"


def test_revoked_token_is_refused() -> None:
    token = minted()
    error = refusal(token, revoked={inspect(token).jti})
    assert error.code == "revoked" and inspect(token).jti in error.reason


def test_tampering_of_any_kind_is_a_bad_signature() -> None:
    token, other = minted(), minted(scopes=Scopes(read_only=True))
    prefix, payload, signature = token.split(".")
    tampered = [f"{prefix}.{flip(payload, index)}.{signature}" for index in range(len(payload))]
    # Every signature position, the last included: its spare base64 bits must not be ignored.
    tampered += [f"{prefix}.{payload}.{flip(signature, index)}" for index in range(len(signature))]
    tampered.append(f"{prefix}.{other.split('.')[1]}.{signature}")
    tampered.append(f"{prefix}.{payload}.{other.split('.')[2]}")
    reasons = {refusal(forged).reason for forged in tampered}
    assert {refusal(forged).code for forged in tampered} == {"bad_signature"}
    assert reasons == {refusal(minted(secret=OLD)).reason}, "an unknown secret must look like tampering"


def test_verify_with_no_secrets_refuses() -> None:
    assert refusal(minted(), secrets=[]).code == "bad_signature"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "aai1.e30",
        "aai2.e30." + "A" * 43,
        "aai1.e30=." + "A" * 43,
        "aai1..." + "A" * 43,
        "aai1.e30." + "A" * 42,
        "aai1.e+0." + "A" * 43,
        "aai1.e30." + "A" * 43 + "\n",
        "aai1." + "A" * 5000 + "." + "A" * 43,
    ],
)
def test_malformed_tokens(token: str) -> None:
    error = refusal(token)
    assert error.code == "malformed" and error.reason.startswith("the token is malformed")


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"v": 2}', b'{"v":1,"jti":"tok_x"}'])
def test_signed_but_invalid_payload_is_malformed(payload: bytes) -> None:
    body = "aai1." + base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(hmac.new(NEW, body.encode(), hashlib.sha256).digest())
    assert refusal(f"{body}.{signature.rstrip(b'=').decode()}").code == "malformed"


def test_rotation_accepts_every_configured_secret() -> None:
    old_token = minted(secret=OLD)
    assert verify(old_token, [NEW, OLD], NOW, frozenset(), None).jti == inspect(old_token).jti
    assert refusal(old_token, secrets=[NEW]).code == "bad_signature"


def test_require_header_missing_wrong_and_right() -> None:
    made = mint(NEW, name="ci", scopes=Scopes(), expires_at=NOW + DAY, require_header=True, issued_at=NOW)
    assert made.header_secret and made.claims.hdr == hashlib.sha256(made.header_secret.encode()).hexdigest()
    assert made.header_secret not in made.token
    assert refusal(made.token).code == "header_missing"
    assert refusal(made.token, header_secret="").code == "header_missing"
    assert refusal(made.token, header_secret=made.header_secret + "x").code == "header_wrong"
    assert verify(made.token, [NEW], NOW, frozenset(), made.header_secret).hdr == made.claims.hdr
    # Without the header nothing else about the token is disclosed, not even that it expired.
    assert refusal(made.token, now=NOW + 2 * DAY, revoked={made.jti}).code == "header_missing"


def test_header_is_ignored_for_tokens_that_do_not_require_it() -> None:
    assert verify(minted(), [NEW], NOW, frozenset(), "anything").hdr is None


def test_every_refusal_has_its_own_code_and_reason() -> None:
    header_token = minted(require_header=True)
    errors = [
        refusal("nope"),
        refusal(minted(secret=OLD)),
        refusal(header_token),
        refusal(header_token, header_secret="wrong"),
        refusal(minted(), revoked=_AllRevoked()),
        refusal(minted(), now=NOW + 2 * DAY),
    ]
    assert len({error.code for error in errors}) == len({error.reason for error in errors}) == len(errors)


class _AllRevoked:
    def __contains__(self, item: object) -> bool:
        return True


def test_inspect_reads_forged_claims_that_verify_refuses() -> None:
    forged = minted(secret=OLD, scopes=Scopes(tools=frozenset({"delete_transcript"})))
    assert inspect(forged).scopes.tools == frozenset({"delete_transcript"})
    with pytest.raises(TokenError):
        check_signature(forged, [NEW])


def test_mint_refuses_short_secrets_and_past_expiry() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        mint(b"short", name="ci", scopes=Scopes(), expires_at=None)
    with pytest.raises(ValueError, match="future"):
        mint(NEW, name="ci", scopes=Scopes(), expires_at=NOW, issued_at=NOW)


# --- secrets ---------------------------------------------------------------------------------


def test_secrets_from_variable_and_file_in_order(tmp_path: Path) -> None:
    file = tmp_path / "secrets"
    file.write_text("# rotated in 2024\n\n  " + "f" * 32 + "  \n" + "n" * 40 + "\n")
    found = load_signing_secrets(SecretStr(f" {'n' * 40} , ,{'o' * 40}"), file)
    assert found == [NEW, OLD, b"f" * 32]
    assert load_signing_secrets(None, None) == []
    assert load_signing_secrets("", file) == [b"f" * 32, NEW]


def test_short_secret_fails_without_showing_it(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="AAI_MCP_TOKEN_SECRETS entry 2") as caught:
        load_signing_secrets(f"{'n' * 40},tooShortSecret", None)
    assert "tooShortSecret" not in str(caught.value)
    file = tmp_path / "secrets"
    file.write_text("#comment\nhunter2\n")
    with pytest.raises(SecretsError, match="line 2") as caught:
        load_signing_secrets(None, file)
    assert "hunter2" not in str(caught.value)


def test_unreadable_secret_file_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="cannot read the token secret file"):
        load_signing_secrets(None, tmp_path / "missing")
    with pytest.raises(SecretsError, match="cannot read"):
        load_signing_secrets(None, tmp_path)


# --- revocation ------------------------------------------------------------------------------

JTI_A, JTI_B = "tok_aaaaaaaaaaaa", "tok_bbbbbbbbbbbb"


def test_revocation_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    revocations = RevocationList(path)
    assert JTI_A not in revocations, "a missing file revokes nothing"
    path.write_text(f"# revoked tokens\n{JTI_A}  # leaked in a log\n")
    assert revocations.contains(JTI_A) and not revocations.contains(JTI_B)
    with path.open("a") as file:
        file.write(f"{JTI_B}\n")
    assert revocations.contains(JTI_B)
    # Same size, new content: the changed mtime alone must trigger a re-read.
    stat = path.stat()
    path.write_text(path.read_text().replace(JTI_A, "tok_cccccccccccc"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert not revocations.contains(JTI_A) and revocations.contains("tok_cccccccccccc")
    path.unlink()
    assert not revocations.contains(JTI_B)


def test_unreadable_revocation_file_fails_closed(tmp_path: Path) -> None:
    # chmod 000 does not stop root, which runs these tests; a directory cannot be read by anyone.
    path = tmp_path / "revoked"
    path.mkdir()
    with pytest.raises(RevocationUnavailable) as caught:
        RevocationList(path).contains(JTI_A)
    assert caught.value.path == path and str(tmp_path) not in caught.value.reason
    error = refusal(minted(), revoked=RevocationList(path))
    assert error.code == "revocation_unavailable"


def test_revocation_file_that_becomes_unreadable_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    path.write_text(JTI_A + "\n")
    revocations = RevocationList(path)
    assert JTI_A in revocations
    path.unlink()
    path.mkdir()
    with pytest.raises(RevocationUnavailable):
        revocations.contains(JTI_B)


def test_parse_and_append_revocations(tmp_path: Path) -> None:
    assert parse_revocations(f"  {JTI_A} # why\n#{JTI_B}\n\n") == {JTI_A}
    path = tmp_path / "revoked"
    path.write_text(JTI_A)  # no trailing newline
    assert append_revocation(path, JTI_B, note="leaked\nsecond line")
    assert not append_revocation(path, JTI_B)
    assert path.read_text() == f"{JTI_A}\n{JTI_B}  # leaked second line\n"
    with pytest.raises(ValueError, match="not a token id"):
        append_revocation(path, "aai1.whole.token")
