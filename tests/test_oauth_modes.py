"""`--auth oauth` as a mode among the others (issue 15, first slice): it needs a public URL (https, or
http on loopback) and a signing secret; with tokens it accepts operator tokens too; an OAuth token is
accepted only for this server's MCP URL, and not at all where oauth is off."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from aai_mcp.access.principal import Authenticator, AuthFailure
from aai_mcp.access.scopes import Scopes
from aai_mcp.access.tokens import mint
from aai_mcp.cli.serving import oauth_banner
from aai_mcp.transports.http import checked_authenticator
from tests.support import make_settings

SECRET = "oauth-modes-secret-0123456789abcdef"
PUBLIC = "https://mcp.example.test"


def authenticator(*modes: str, public_url: str | None = PUBLIC) -> Authenticator:
    return Authenticator(
        make_settings(auth=list(modes), public_url=public_url, token_secrets=SecretStr(SECRET))
    )


def bearer(audience: str | None) -> dict[str, str]:
    minted = mint(SECRET.encode(), name="t", scopes=Scopes(), expires_at=None, audience=audience)
    return {"authorization": f"Bearer {minted.token}"}


def refusal(auth: Authenticator, headers: dict[str, str]) -> str | None:
    try:
        auth.authenticate(headers, None)
    except AuthFailure as failure:
        return failure.code
    return None


def test_oauth_needs_a_public_url_that_is_https_or_loopback() -> None:
    with pytest.raises(ValueError, match="public_url"):
        authenticator("oauth", public_url=None)
    with pytest.raises(ValueError, match="HTTPS"):
        authenticator("oauth", public_url="http://mcp.example.test")
    assert authenticator("oauth", public_url="http://127.0.0.1:8000").resource == "http://127.0.0.1:8000/mcp"


def test_a_malformed_operator_password_hash_stops_the_start() -> None:
    settings = make_settings(
        auth=["oauth"], public_url=PUBLIC, token_secrets=SecretStr(SECRET),
        oauth_operator_password_hash=SecretStr("not-a-hash"),
    )  # fmt: skip
    with pytest.raises(ValueError, match="scrypt"):
        checked_authenticator(settings)


def test_oauth_needs_a_signing_secret() -> None:
    with pytest.raises(ValueError, match="'oauth' needs AAI_MCP_TOKEN_SECRETS"):
        Authenticator(make_settings(auth=["oauth"], public_url=PUBLIC))


def test_each_mode_accepts_the_tokens_meant_for_it() -> None:
    ours, elsewhere, operator = bearer(PUBLIC + "/mcp"), bearer("https://other.test/mcp"), bearer(None)
    both = authenticator("oauth", "tokens")
    assert [refusal(both, h) for h in (ours, elsewhere, operator)] == [None, "wrong_resource", None]
    oauth_only = authenticator("oauth")
    assert [refusal(oauth_only, h) for h in (ours, operator)] == [None, "tokens_disabled"]
    tokens_only = authenticator("tokens")
    assert [refusal(tokens_only, h) for h in (ours, operator)] == ["wrong_resource", None]


def test_an_oauth_token_is_refused_in_the_url() -> None:
    ours = bearer(PUBLIC + "/mcp")["authorization"].removeprefix("Bearer ")
    with pytest.raises(AuthFailure) as refused:
        authenticator("oauth", "tokens").authenticate({}, ours)
    assert refused.value.code == "token_in_path"
    operator = bearer(None)["authorization"].removeprefix("Bearer ")
    assert authenticator("oauth", "tokens").authenticate({}, operator).scopes == Scopes()


def test_a_401_points_at_the_resource_metadata_only_with_oauth() -> None:
    assert authenticator("oauth").resource_metadata == (
        "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"
    )
    assert authenticator("tokens").resource_metadata is None


def test_the_start_banner_says_when_no_one_can_approve() -> None:
    settings = make_settings(auth=["oauth"], public_url=PUBLIC, token_secrets=SecretStr(SECRET))
    assert oauth_banner(PUBLIC + "/mcp", settings).endswith("so no client can be approved")
    hashed = settings.model_copy(update={"oauth_operator_password_hash": SecretStr("scrypt$...")})
    assert "approved" not in oauth_banner(PUBLIC + "/mcp", hashed)
