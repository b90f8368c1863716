"""`aai-mcp token mint | inspect | revoke`: output, exit codes, and tokens that really verify."""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aai_mcp.access import RevocationList, Scopes, TokenError, inspect, verify
from aai_mcp.cli.main import load_command
from aai_mcp.cli.token import UsageError, parse_expires, run_token_command
from aai_mcp.gateway import load_default_catalog

CATALOG = load_default_catalog()
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
SECRET = "s" * 40
OLD_SECRET = "o" * 40
# An empty data directory of its own: no default store, so `revoked` is "unknown" whatever else ran.
ENV = {"AAI_MCP_TOKEN_SECRETS": SECRET, "XDG_DATA_HOME": tempfile.mkdtemp(prefix="aai-mcp-token-cli-")}


def run(
    capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    loaded = load_command(["token", *argv], ENV if env is None else env)
    code = run_token_command(loaded, now=NOW, catalog=CATALOG)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def field(output: str, name: str) -> str:
    match = re.search(rf"^\s*{re.escape(name)}:\s+(.*)$", output, re.MULTILINE)
    assert match, f"no {name!r} line in:\n{output}"
    return match[1]


def mint_token(capsys: pytest.CaptureFixture[str], *flags: str, env: dict[str, str] | None = None) -> str:
    code, out, err = run(capsys, "mint", "--name", "ci", *flags, env=env)
    assert (code, err) == (0, "")
    return field(out, "token")


def test_mint_prints_every_form_of_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "mint", "--name", "ci bot", "--methods", "read,llm", "--toolsets", "transcripts",
        "--read-only", "--account", "team-a", "--base-url", "https://mcp.example.com/",
    )  # fmt: skip
    assert (code, err) == (0, "")
    token = field(out, "token")
    assert re.fullmatch(r"[A-Za-z0-9._-]+", token)
    claims = verify(token, [SECRET.encode()], NOW, frozenset(), None)
    assert field(out, "id") == claims.jti
    assert field(out, "expires") == "2023-11-15T22:13:20Z (in 1d)"
    assert field(out, "URL") == f"https://mcp.example.com/mcp/t/{token}"
    assert field(out, "HTTP header") == f"Authorization: Bearer {token}"
    assert (claims.name, claims.account) == ("ci bot", "team-a")
    assert claims.scopes == Scopes(
        methods=frozenset({"read", "llm"}), toolsets=frozenset({"transcripts"}), read_only=True
    )
    assert field(out, "methods") == "llm, read" and field(out, "read-only") == "yes"
    assert "get_transcript" in field(out, "allows") and "create_transcript" not in field(out, "allows")
    assert "X-AAI-MCP-Secret:" not in out and f"token revoke {claims.jti}" in out


def test_mint_require_header_prints_the_secret_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "mint", "--name", "ci", "--require-header")
    header_secret = field(out, "X-AAI-MCP-Secret")
    assert code == 0 and "shown only once" in out
    token = field(out, "token")
    with pytest.raises(TokenError, match="requires the X-AAI-MCP-Secret header"):
        verify(token, [SECRET.encode()], NOW, frozenset(), None)
    assert verify(token, [SECRET.encode()], NOW, frozenset(), header_secret).hdr


@pytest.mark.parametrize(
    ("expires", "expected"),
    [
        ("90m", NOW + 5400),
        ("24h", NOW + 86400),
        ("7d", NOW + 7 * 86400),
        ("2W", NOW + 14 * 86400),
        ("2030-01-31T12:00:00Z", datetime(2030, 1, 31, 12, tzinfo=UTC).timestamp()),
        ("2030-01-31T12:00:00+02:00", datetime(2030, 1, 31, 10, tzinfo=UTC).timestamp()),
        ("2030-01-31", datetime(2030, 1, 31, tzinfo=UTC).timestamp()),
        ("never", None),
    ],
)
def test_parse_expires(expires: str, expected: float | None) -> None:
    assert parse_expires(expires, NOW) == expected


@pytest.mark.parametrize("expires", ["0h", "-1d", "1y", "tomorrow", "2020-01-01T00:00:00Z", "4000d"])
def test_bad_expires_is_a_usage_error(expires: str) -> None:
    with pytest.raises(UsageError, match="--expires"):
        parse_expires(expires, NOW)


def test_mint_never_and_iso_expiry(capsys: pytest.CaptureFixture[str]) -> None:
    assert inspect(mint_token(capsys, "--expires", "never")).exp is None
    expected = datetime(2030, 1, 31, 12, tzinfo=UTC).timestamp()
    assert inspect(mint_token(capsys, "--expires", "2030-01-31T12:00:00Z")).exp == expected


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--methods", "read,reed"],
            "--methods: unknown method class 'reed'; choose from read, transcription, llm, upload, delete, "
            "credentials",
        ),
        (["--methods", "read,custom"], "--methods: method class 'custom' was retired"),
        (["--methods", "write"], "--methods: method class 'write' was retired"),
        (["--toolsets", "transcript"], "--toolsets: unknown toolset 'transcript'"),
        (["--tools", "get_transcript,nope"], "--tools: unknown tool 'nope'"),
        (["--tags", "free"], "--tags: unknown tag 'free'"),
        (["--methods", " , "], "--methods is empty"),
        (["--expires", "soon"], "--expires 'soon': expected"),
        (["--expires", "2000-01-01"], "is not in the future"),
        (["--base-url", "mcp.example.com"], "--base-url"),
        (["--account", "team a"], "--account 'team a' is not valid"),
        (["--toolsets", "realtime", "--read-only"], "allow none of the tools"),
    ],
)
def test_mint_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    code, out, err = run(capsys, "mint", "--name", "ci", *flags)
    assert (code, out) == (2, "")
    assert err.startswith("aai-mcp token: ") and message in err


def test_mint_without_a_secret_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "mint", "--name", "ci", env={})
    assert (code, out) == (2, "")
    assert "no signing secret configured: set AAI_MCP_TOKEN_SECRETS" in err


def test_mint_with_a_short_secret_exits_2_without_showing_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "mint", "--name", "ci", env={"AAI_MCP_TOKEN_SECRETS": "hunter2"})
    assert code == 2 and "shorter than 32 characters" in err and "hunter2" not in err


def test_mint_reads_the_secret_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    file = tmp_path / "secrets"
    file.write_text(f"# newest first\n{SECRET}\n{OLD_SECRET}\n")
    from_env = mint_token(capsys, env={"AAI_MCP_TOKEN_SECRET_FILE": str(file)})
    from_flag = mint_token(capsys, "--token-secret-file", str(file), env={})
    for token in (from_env, from_flag):
        assert verify(token, [SECRET.encode()], NOW, frozenset(), None)


def test_missing_name_is_an_argparse_error() -> None:
    with pytest.raises(SystemExit) as caught:
        load_command(["token", "mint"], ENV)
    assert caught.value.code == 2


def test_inspect_verified(capsys: pytest.CaptureFixture[str]) -> None:
    token = mint_token(capsys, "--tools", "get_transcript", "--require-header")
    code, out, err = run(capsys, "inspect", token)
    assert (code, err) == (0, "")
    assert field(out, "signature").startswith("verified")
    assert field(out, "id") == inspect(token).jti
    assert field(out, "name") == "ci" and field(out, "account") == "default"
    assert field(out, "expires") == "2023-11-15T22:13:20Z (in 1d)"
    assert field(out, "header") == "X-AAI-MCP-Secret required"
    assert field(out, "tools") == "get_transcript"
    assert field(out, "allows") == f"1 of {len(CATALOG.tools)} tools: get_transcript"
    assert field(out, "revoked").startswith("unknown")


def test_inspect_without_secrets_is_marked_unverified(capsys: pytest.CaptureFixture[str]) -> None:
    token = mint_token(capsys)
    code, out, _ = run(capsys, "inspect", token, env={})
    assert code == 0 and field(out, "signature").startswith("UNVERIFIED (no signing secret configured)")
    code, out, _ = run(capsys, "inspect", token, "--unverified")
    assert code == 0 and field(out, "signature").startswith("UNVERIFIED (--unverified)")


def test_inspect_refuses_a_token_from_another_secret(capsys: pytest.CaptureFixture[str]) -> None:
    token = mint_token(capsys, env={"AAI_MCP_TOKEN_SECRETS": OLD_SECRET})
    code, out, err = run(capsys, "inspect", token)
    assert (code, out) == (1, "")
    assert "invalid token: the token's signature is not valid" in err and "--unverified" in err
    assert run(capsys, "inspect", "garbage")[0] == 1


def test_inspect_shows_expired_and_revoked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    token = mint_token(capsys, "--expires", "1m")
    jti = inspect(token).jti
    path = tmp_path / "revoked"
    path.write_text(jti + "\n")
    loaded = load_command(["token", "inspect", token, "--revocation-file", str(path)], ENV)
    assert run_token_command(loaded, now=NOW + 3600, catalog=CATALOG) == 0
    out = capsys.readouterr().out
    assert field(out, "expires") == "2023-11-14T22:14:20Z (EXPIRED)"
    assert field(out, "revoked") == f"YES (listed in {path})"


def test_revoke_appends_once_and_the_server_list_sees_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    token = mint_token(capsys)
    jti = inspect(token).jti
    path = tmp_path / "revoked"
    path.write_text("")
    revocations = RevocationList(path)
    assert verify(token, [SECRET.encode()], NOW, revocations, None)
    code, out, err = run(capsys, "revoke", jti, "--revocation-file", str(path))
    assert (code, err) == (0, "") and f"{jti} revoked in {path}" in out
    with pytest.raises(TokenError, match="has been revoked"):
        verify(token, [SECRET.encode()], NOW, revocations, None)
    code, out, _ = run(capsys, "revoke", token, env={"AAI_MCP_TOKEN_REVOCATION_FILE": str(path)})
    assert code == 0 and "was already revoked" in out
    assert path.read_text() == f"{jti}  # revoked 2023-11-14T22:13:20Z\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["revoke", "tok_aaaaaaaaaaaa", "--data-dir", "/proc/no-such-dir"], "cannot create the data dir"),
        (["revoke", "tok_A", "--revocation-file", "x"], "is not a token id"),
        (["revoke", "aai1.nope", "--revocation-file", "x"], "the token is malformed"),
    ],
)
def test_revoke_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_revoke_into_an_unwritable_path_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "revoke", "tok_aaaaaaaaaaaa", "--revocation-file", str(tmp_path))
    assert code == 1 and f"cannot update {tmp_path}" in err
