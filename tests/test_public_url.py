"""The gateway's public URL: the one base of webhook and upload-link addresses, spelled one way."""

import pytest
from pydantic import ValidationError

from aai_mcp.transports.http import checked_host_policy
from tests.support import make_settings


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://aai.example.com", "https://aai.example.com"),
        ("https://aai.example.com/", "https://aai.example.com"),
        ("http://127.0.0.1:8000/gateway/", "http://127.0.0.1:8000/gateway"),
    ],
)
def test_the_public_url_is_kept_without_a_trailing_slash(given: str, kept: str) -> None:
    assert make_settings(public_url=given).public_url == kept


@pytest.mark.parametrize(
    "given", ["aai.example.com", "ftp://aai.example.com", "https://aai.example.com/?next=x", "https://a b/"]
)
def test_a_public_url_that_is_not_a_plain_http_address_is_refused(given: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        make_settings(public_url=given)


def test_the_public_url_is_unset_by_default() -> None:
    assert make_settings().public_url is None


def test_the_public_urls_host_and_origin_pass_the_host_and_origin_checks() -> None:
    """AssemblyAI's webhooks and people's browsers reach the gateway by the public name: accepted
    without listing it in allowed_hosts; other names still refused."""
    policy = checked_host_policy(make_settings(public_url="https://aai.example.com:8443/gw"))
    assert policy.host_allowed("aai.example.com:8443")
    assert policy.origin_allowed("https://aai.example.com:8443")
    assert not policy.host_allowed("evil.example.com") and not policy.origin_allowed(
        "https://evil.example.com"
    )
    assert not policy.origin_allowed("http://aai.example.com:8443")  # the scheme is part of the origin
    unset = checked_host_policy(make_settings())
    assert not unset.host_allowed("aai.example.com:8443")
    assert not unset.origin_allowed("https://aai.example.com:8443")
