"""Extraction kits: one YAML file each (extraction_kits/ shipped with the package, plus a folder of the
operator's own), loaded and validated once; a bad kit fails naming its file and the path inside it."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from aai_mcp.catalog.keywords import unknown_keywords
from aai_mcp.catalog.yaml_loader import load_yaml

KIT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
KIT_KEYS = frozenset({"name", "description", "instructions", "fields", "required"})
MAX_FIELDS = 40  # each field costs the model a value, its quotes and a confidence


class KitError(ValueError):
    """A kit file is wrong; the message names the file and the path inside it."""


@dataclass(frozen=True)
class ExtractionKit:
    """One kit: what to extract (`fields`: name -> JSON Schema of its value) and how."""

    name: str
    description: str
    instructions: str
    fields: dict[str, dict[str, Any]]
    required: tuple[str, ...]
    source: str
    """The file it came from, for messages."""

    def schema(self) -> dict[str, Any]:
        """The JSON Schema every answer's values must meet."""
        return {
            "type": "object",
            "properties": self.fields,
            "required": list(self.required),
            "additionalProperties": False,
        }

    def digest(self) -> str:
        """Changes whenever what the model is asked changes: a stored result of another digest is stale."""
        content = {
            "description": self.description,
            "instructions": self.instructions,
            "schema": self.schema(),
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def default_kit_dir() -> Path:
    """extraction_kits/ inside an installed wheel, else at the top of a source checkout."""
    packaged = Path(__file__).resolve().parent.parent / "extraction_kits"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "extraction_kits"


@functools.cache
def available_kits(extra_dir: Path | None = None) -> dict[str, ExtractionKit]:
    """The shipped kits and those in `extra_dir`, by name, read once per process (a kit changed on disk
    is read at the next start)."""
    return load_kits([default_kit_dir(), *([extra_dir] if extra_dir is not None else [])])


def load_kits(directories: list[Path]) -> dict[str, ExtractionKit]:
    """Every *.yaml kit in `directories`, in order; two kits of one name fail."""
    kits: dict[str, ExtractionKit] = {}
    for directory in directories:
        if not directory.is_dir():
            raise KitError(f"{directory}: the extraction kits folder does not exist")
        for path in sorted(directory.glob("*.yaml")):
            kit = load_kit(path)
            if kit.name in kits:
                raise KitError(f"{path}: kit name {kit.name!r} is already used by {kits[kit.name].source}")
            kits[kit.name] = kit
    return kits


def load_kit(path: Path) -> ExtractionKit:
    where = str(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KitError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KitError(f"{where}: expected a mapping with keys {sorted(KIT_KEYS)}")
    stray = sorted(set(data) - KIT_KEYS)
    missing = sorted({"name", "description", "instructions", "fields"} - set(data))
    if stray or missing:
        raise KitError(f"{where}: unknown keys {stray}, missing keys {missing}")
    name = _text(data, "name", where)
    if not KIT_NAME.match(name):
        raise KitError(f"{where}: name: {name!r} is not lower-case letters, digits and dashes (max 63)")
    fields = _fields(data["fields"], where)
    return ExtractionKit(
        name=name,
        description=_text(data, "description", where),
        instructions=_text(data, "instructions", where),
        fields=fields,
        required=_required(data.get("required"), fields, where),
        source=where,
    )


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise KitError(f"{where}: {key}: must be non-empty text")
    return value.strip()


def _fields(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not raw:
        raise KitError(f"{where}: fields: must map each field name to the JSON Schema of its value")
    if len(raw) > MAX_FIELDS:
        raise KitError(f"{where}: fields: {len(raw)} fields, at most {MAX_FIELDS}")
    for name, schema in raw.items():
        _check_field(str(name), schema, f"{where}: fields.{name}")
    return {str(name): schema for name, schema in raw.items()}


def _check_field(name: str, schema: Any, where: str) -> None:
    if not FIELD_NAME.match(name):
        raise KitError(f"{where}: field names are lower-case snake_case (max 63)")
    if not isinstance(schema, dict) or not isinstance(schema.get("description"), str):
        raise KitError(f"{where}: must be a JSON Schema with a description (the model reads it)")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        inner = ".".join(str(part) for part in exc.path)
        raise KitError(f"{where}{'.' + inner if inner else ''}: invalid JSON Schema: {exc.message}") from None
    stray = unknown_keywords(schema)
    if stray:
        raise KitError(f"{where}: not JSON Schema keywords (a typo?): " + "; ".join(stray[:5]))


def _required(raw: Any, fields: dict[str, dict[str, Any]], where: str) -> tuple[str, ...]:
    """Every field unless the kit says which; a field not required may be left out of an answer."""
    if raw is None:
        return tuple(fields)
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise KitError(f"{where}: required: must be a list of field names")
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise KitError(f"{where}: required: names fields that do not exist: {unknown}")
    return tuple(raw)
