"""The reference as tool answers: compact dicts, each under a fixed size whatever was asked."""

from __future__ import annotations

import json
from typing import Any

from aai_mcp.api_reference.lookup import BRIEF_CHARACTERS, ApiReference, Endpoint, Field, Hit
from aai_mcp.api_reference.products import Product

MAX_ANSWER_CHARACTERS = 12_000
MAX_ENUM_SHOWN = 8


def hit_answer(hit: Hit) -> dict[str, Any]:
    endpoint = hit.endpoint
    answer: dict[str, Any] = {
        "endpoint": endpoint.id,
        "host": endpoint.host,
        "method": endpoint.method,
        "path": endpoint.path,
        "summary": endpoint.summary,
    }
    if hit.fields:
        answer["matching_parameters"] = list(hit.fields)
    return answer


def _brief(text: str, detail: bool) -> str:
    if detail or len(text) <= BRIEF_CHARACTERS:
        return text
    return text[: BRIEF_CHARACTERS - 1].rstrip() + "…"


def _field_answer(field: Field, detail: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {"name": field.name, "in": field.location, "type": field.type}
    if field.required:
        answer["required"] = True
    if field.deprecated:
        answer["deprecated"] = True
    if field.enum:
        shown = field.enum if detail else field.enum[:MAX_ENUM_SHOWN]
        answer["enum"] = list(shown) + (
            [f"… {len(field.enum) - len(shown)} more"] if len(shown) < len(field.enum) else []
        )
    # Compact: descriptions only where a request cannot do without the parameter.
    if field.description and (detail or field.required):
        answer["description"] = _brief(field.description, detail)
    return answer


def endpoint_answer(endpoint: Endpoint, detail: bool = False) -> dict[str, Any]:
    # Required parameters first: they are the ones a request cannot do without.
    fields = sorted(endpoint.fields, key=lambda field: not field.required)
    answer = {
        "endpoint": endpoint.id,
        "host": endpoint.host,
        "method": endpoint.method,
        "path": endpoint.path,
        "summary": endpoint.summary,
        "description": _brief(endpoint.description, detail),
        "parameters": [_field_answer(field, detail) for field in fields],
        "response_fields": list(endpoint.response_fields),
        "source": endpoint.source,
    }
    return bounded(answer)


def product_answer(product: Product, reference: ApiReference) -> dict[str, Any]:
    known = {endpoint.shown: endpoint.id for endpoint in reference.endpoints}
    return {
        "product": product.name,
        "summary": product.summary,
        "host": product.host,
        "endpoints": [
            {"endpoint": known.get(shown, shown), "call": shown, "in_bundled_specs": shown in known}
            for shown in product.endpoints
        ],
        "source": product.source,
    }


def bounded(answer: dict[str, Any]) -> dict[str, Any]:
    """`answer` with parameters dropped from the end until it fits, saying how many were left out."""
    parameters = list(answer["parameters"])
    omitted = 0
    while len(json.dumps(answer, ensure_ascii=False)) > MAX_ANSWER_CHARACTERS and parameters:
        parameters.pop()
        omitted += 1
        answer = {**answer, "parameters": parameters, "parameters_omitted": omitted}
    return answer
