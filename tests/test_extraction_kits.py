"""Extraction kits load strictly: the shipped two are valid, an operator's folder adds its own, and a
bad kit fails naming its file and the path inside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from aai_mcp.extraction.answer import answer_schema, response_format
from aai_mcp.extraction.kits import KitError, available_kits, default_kit_dir, load_kit, load_kits

GOOD = """\
name: churn-check
description: Is the customer about to leave?
instructions: Judge only from the transcript.
fields:
  churn_risk:
    type: string
    enum: [low, medium, high]
    description: How likely the customer is to leave.
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_kits_are_the_two_common_uses_and_valid() -> None:
    kits = load_kits([default_kit_dir()])
    assert sorted(kits) == ["sales-call", "support-call-qa"]
    assert {"resolution", "customer_frustration_causes", "risk_flag"} <= set(kits["support-call-qa"].fields)
    assert {"next_steps", "objections", "competitors_mentioned"} <= set(kits["sales-call"].fields)
    for kit in kits.values():
        Draft202012Validator.check_schema(answer_schema(kit))
        assert response_format(kit)["json_schema"]["strict"] is True


def test_an_operator_folder_adds_kits_beside_the_shipped_ones(tmp_path: Path) -> None:
    write(tmp_path, "churn.yaml", GOOD)
    kits = available_kits(tmp_path)
    assert sorted(kits) == ["churn-check", "sales-call", "support-call-qa"]
    assert kits["churn-check"].required == ("churn_risk",)


def test_a_kit_name_used_twice_fails_naming_both_files(tmp_path: Path) -> None:
    write(tmp_path, "mine.yaml", GOOD.replace("churn-check", "sales-call"))
    with pytest.raises(
        KitError, match=r"mine\.yaml: kit name 'sales-call' is already used by .*sales-call\.yaml"
    ):
        load_kits([default_kit_dir(), tmp_path])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("    type: string\n", "    type: strng\n"), r"fields\.churn_risk\.type: invalid JSON Schema"),
        (("    enum: [low, medium, high]\n", "    enum: low\n"), r"churn_risk\.enum: invalid JSON Schema"),
        (("    description: How", "    descripton: How"), r"churn_risk: must be .* a description"),
        (("name: churn-check", "name: Churn Check"), r"name: 'Churn Check' is not lower-case"),
        (("instructions: Judge only from the transcript.\n", ""), r"missing keys \['instructions'\]"),
        (("fields:", "extra: 1\nfields:"), r"unknown keys \['extra'\]"),
        (("  churn_risk:", "  Churn-Risk:"), r"fields\.Churn-Risk: field names are lower-case"),
        (("    description: How", "    maxLenght: 3\n    description: How"), r"not JSON Schema keywords"),
        (("fields:", "required: [other]\nfields:"), r"required: names fields that do not exist: \['other'\]"),
        (("name: churn-check", "name: churn-check\nname: again"), r"not valid YAML"),
    ],
)  # fmt: skip
def test_a_bad_kit_fails_naming_its_file_and_the_path(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, "bad.yaml", GOOD.replace(old, new))
    with pytest.raises(KitError, match=message) as raised:
        load_kit(path)
    assert str(raised.value).startswith(str(path))


def test_a_missing_extra_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KitError, match="does not exist"):
        load_kits([tmp_path / "nowhere"])


def test_the_digest_changes_with_what_the_model_is_asked_only(tmp_path: Path) -> None:
    first = load_kit(write(tmp_path, "a.yaml", GOOD))
    moved = load_kit(write(tmp_path / "elsewhere", "a.yaml", GOOD + "# a comment\n"))
    assert first.digest() == moved.digest()
    for old, new in [
        ("Is the customer", "Will the customer"),
        ("from the transcript", "from the call"),
        ("[low, medium, high]", "[low, high]"),
    ]:
        assert load_kit(write(tmp_path, "c.yaml", GOOD.replace(old, new))).digest() != first.digest(), old
