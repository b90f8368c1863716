"""Search and describe the bundled specs: compact entries an agent can read in a few hundred bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aai_mcp.api_reference.products import PRODUCTS, Product
from aai_mcp.catalog.spec_schemas import flatten, resolve
from aai_mcp.catalog.upstream_specs import Operation, load_spec_files

SPEC_FILES = ("openapi.json", "llm-gateway.yml", "streaming-token.yml")
NOTES_FILE = "NOTES.md"
WORD = re.compile(r"[a-z0-9]+")
# Short descriptions keep a compact answer compact; `detail` gives the spec's whole text.
BRIEF_CHARACTERS = 120
MAX_FIELDS_PER_HIT = 6


@dataclass(frozen=True)
class Field:
    name: str
    location: str
    """path, query, header or body."""
    type: str
    required: bool
    enum: tuple[str, ...]
    description: str
    deprecated: bool


@dataclass(frozen=True)
class Endpoint:
    id: str
    """The spec's operationId, e.g. createTranscript."""
    host: str
    method: str
    path: str
    summary: str
    description: str
    fields: tuple[Field, ...]
    response_fields: tuple[str, ...]
    source: str

    @property
    def shown(self) -> str:
        return f"{self.method} {self.path}"


def _package_dir() -> Path:
    return Path(str(files("aai_mcp.api_reference")))


def notes_text() -> str:
    return (_package_dir() / NOTES_FILE).read_text(encoding="utf-8")


def _words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if kind == "array":
        return f"array<{_type_of(schema.get('items') or {})}>"
    if kind is None and ("anyOf" in schema or "oneOf" in schema):
        return "|".join(_type_of(b) for b in schema.get("anyOf", []) + schema.get("oneOf", []))
    return str(kind or "any")


def _field(
    name: str, location: str, schema: dict[str, Any], required: bool, document: dict[str, Any]
) -> Field:
    resolved = resolve(schema, document)
    items = resolve(resolved.get("items") or {}, document)
    enum = resolved.get("enum") or items.get("enum") or []
    return Field(
        name=name,
        location=location,
        type=_type_of(resolved),
        required=required,
        enum=tuple(str(value) for value in enum),
        description=" ".join(str(resolved.get("description", "")).split()),
        deprecated=bool(resolved.get("deprecated")),
    )


def _fields(operation: Operation) -> tuple[Field, ...]:
    document = operation.document
    found = [
        _field(name, location, param.get("schema") or {}, bool(param.get("required")), document)
        for (location, name), param in operation.parameters.items()
    ]
    body = operation.body_schema or {}
    required = set(body.get("required") or [])
    for name, schema in (body.get("properties") or {}).items():
        found.append(_field(name, "body", schema, name in required, document))
    return tuple(found)


def _response_fields(raw: dict[str, Any], document: dict[str, Any]) -> tuple[str, ...]:
    responses = raw.get("responses") or {}
    ok = resolve(responses.get("200") or responses.get("201") or {}, document)
    content = (ok.get("content") or {}).get("application/json") or {}
    if "schema" not in content:
        return ()
    schema = flatten(content["schema"], document)
    return tuple(schema.get("properties") or {})


def _endpoint(host: str, operation: Operation) -> Endpoint:
    document = operation.document
    base_path = urlsplit(operation.server).path.rstrip("/")
    raw = document["paths"][operation.path.removeprefix(base_path)][operation.method.lower()]
    return Endpoint(
        id=str(raw.get("operationId") or f"{operation.method} {operation.path}"),
        host=host,
        method=operation.method,
        path=operation.path,
        summary=str(raw.get("summary", "")),
        description=" ".join(str(raw.get("description", "")).split()),
        fields=_fields(operation),
        response_fields=_response_fields(raw, document),
        source=operation.source,
    )


@cache
def load_reference() -> ApiReference:
    """The bundled specs, indexed once per process (they never change while it runs)."""
    specs = load_spec_files([_package_dir() / "specs" / name for name in SPEC_FILES])
    endpoints = [
        _endpoint(host, operation)
        for host, operations in specs.operations.items()
        for operation in operations.values()
    ]
    return ApiReference(tuple(endpoints), PRODUCTS)


@dataclass(frozen=True)
class ApiReference:
    endpoints: tuple[Endpoint, ...]
    products: dict[str, Product]

    def find(self, wanted: str) -> Endpoint | Product | list[str]:
        """An endpoint by operationId or `METHOD path` (or a path one method serves), or a product
        by name; otherwise the names nearest to what was asked, for the error message."""
        key = " ".join(wanted.split()).lower()
        if key in self.products:
            return self.products[key]
        for endpoint in self.endpoints:
            if key in (endpoint.id.lower(), endpoint.shown.lower()):
                return endpoint
        by_path = [endpoint for endpoint in self.endpoints if endpoint.path.lower() == key]
        if len(by_path) == 1:
            return by_path[0]
        if by_path:
            return [endpoint.shown for endpoint in by_path]
        return [hit.name for hit in self.search(wanted, 5)]

    def search(self, query: str, limit: int) -> list[Hit]:
        words = _words(query)
        scored = [(_score(endpoint, words), index, endpoint) for index, endpoint in enumerate(self.endpoints)]
        hits = [
            Hit(endpoint, score, _matching_fields(endpoint, words))
            for score, _, endpoint in sorted(scored, key=lambda item: (-item[0], item[1]))
            if score > 0
        ]
        return hits[:limit]

    def matching_products(self, query: str) -> list[str]:
        """Products whose name or overview has the words asked for, best first: the way to the
        products the 2026-03 specs lack (sync, dictation, tts)."""
        words = _words(query)
        # The words in the order asked tell "text to speech" (tts) from "speech-to-text" (pre-recorded).
        phrase = " ".join(WORD.findall(query.lower()))
        scored = [
            (
                3 * len(words & _words(name))
                + len(words & _words(product.summary))
                + (5 if phrase and phrase in " ".join(WORD.findall(product.summary.lower())) else 0),
                name,
            )
            for name, product in self.products.items()
        ]
        return [name for score, name in sorted(scored, key=lambda item: (-item[0], item[1])) if score > 0]


@dataclass(frozen=True)
class Hit:
    endpoint: Endpoint
    score: int
    fields: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.endpoint.id


def _score(endpoint: Endpoint, words: set[str]) -> int:
    # Words in the endpoint's own name and summary weigh most, then a parameter's name, then any text.
    heading = _words(f"{endpoint.id} {endpoint.summary} {endpoint.path} {endpoint.host.replace('_', ' ')}")
    names = (
        set().union(*(_words(field.name.replace("_", " ")) for field in endpoint.fields))
        if endpoint.fields
        else set()
    )
    text = _words(endpoint.description)
    return 3 * len(words & heading) + 2 * len(words & names) + len(words & text)


def _matching_fields(endpoint: Endpoint, words: set[str]) -> tuple[str, ...]:
    matched = [field for field in endpoint.fields if words & _words(field.name.replace("_", " "))]
    # The field that names every word asked for first (speaker_labels before speakers_expected).
    matched.sort(key=lambda field: -len(words & _words(field.name.replace("_", " "))))
    return tuple(field.name for field in matched[:MAX_FIELDS_PER_HIT])
