"""The delivery_destinations setting: entries, secrets from a variable or a file, and refusals that
name the entry but never show its URL or secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from aai_mcp.delivery.destinations import DestinationError, parse_destinations

SECRET = "whsec-0123456789abcdef"


def test_entries_with_secrets_from_a_variable_or_a_file(tmp_path: Path) -> None:
    (tmp_path / "chat.secret").write_text(SECRET + "-file\n")
    text = f"crm=https://u:p@crm.invalid/h?a=1,2#env:CRM ; chat=http://127.0.0.1:9/x#file:{tmp_path}/chat.secret;"
    found = parse_destinations(text, {"CRM": SECRET})
    assert list(found) == ["crm", "chat"]
    assert found["crm"].url == "https://u:p@crm.invalid/h?a=1,2" and found["crm"].secret == SECRET
    assert found["chat"].secret == SECRET + "-file"
    assert "crm.invalid" not in repr(found) and SECRET not in repr(found)
    assert parse_destinations(None, {}) == {} and parse_destinations(" ; ", {}) == {}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("https://crm.invalid/h#env:CRM", "entry 1 is not name=URL"),
        ("crm=https://crm.invalid/h", "entry 1 is not name=URL"),
        ("crm=ftp://crm.invalid/h#env:CRM", "must be http:// or https://"),
        ("crm=https:///h#env:CRM", "must be http:// or https://"),
        ("crm=https://crm.invalid/h#env:MISSING", "MISSING is not set"),
        ("crm=https://crm.invalid/h#file:/nonexistent/secret", "cannot read /nonexistent/secret"),
        ("crm=https://crm.invalid/h#vault:x", "must be env:VAR or file:/path"),
        ("crm=https://crm.invalid/h#env:SHORT", "16 characters"),
        ("crm=https://a.invalid/h#env:CRM;crm=https://b.invalid/h#env:CRM", "named twice"),
    ],
)
def test_refusals_name_the_entry_never_its_url_or_secret(text: str, said: str) -> None:
    with pytest.raises(DestinationError, match=said) as refused:
        parse_destinations(text, {"CRM": SECRET, "SHORT": "short"})
    assert "invalid" not in str(refused.value) and SECRET not in str(refused.value)
