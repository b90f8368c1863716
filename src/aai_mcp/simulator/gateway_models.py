"""`GET /v1/models` and `POST /v1/understanding/validate` of the LLM Gateway.

The model list follows the 2026-10 SDK's `Model` (`llm_gateway/v1/models.py:27-99`; ENDPOINTS-SDK-2026-10.md
§4.1): `{"data": [...]}`, no key needed. Validate follows §4.3: 200 when the request would be accepted
(the SDK ignores the body), else a business error whose `metadata.errors` lists what is wrong.
"""

from __future__ import annotations

from typing import Any

from .llm import ANTHROPIC_MODELS, GOOGLE_MODELS, OPENAI_MODELS
from .params import ParamError
from .understanding import check_understanding

# Per-million-token prices, by creator: (prompt, completions). Deterministic, not AssemblyAI's.
PRICES = {"anthropic": (3.0, 15.0), "openai": (1.25, 10.0), "google": (0.3, 2.5)}
CONTEXT = {"anthropic": 200_000, "openai": 400_000, "google": 1_048_576}
SUPPORTED = ["max_tokens", "temperature", "tools", "tool_choice", "response_format"]
# The EU host serves Claude and Gemini models only (README "EU region").
REGIONS = {"anthropic": ["us", "eu"], "openai": ["us"], "google": ["us", "eu"]}
PROVIDERS = {"anthropic": "Anthropic", "openai": "OpenAI", "google": "Google"}


def model_entry(model_id: str, creator: str) -> dict[str, Any]:
    prompt, completions = PRICES[creator]
    provider = {"id": creator, "name": PROVIDERS[creator]}
    return {
        "id": model_id,
        "name": model_id.replace("-", " ").title(),
        "description": f"{PROVIDERS[creator]} model {model_id}, served by the AssemblyAI simulator.",
        "creator": creator,
        "context_length": CONTEXT[creator],
        "retirement_date": 0,
        "default_parameters": {"temperature": 1.0},
        "supported_parameters": list(SUPPORTED),
        "top_provider": {
            "is_moderated": False,
            "context_length": CONTEXT[creator],
            "max_completion_tokens": 64_000,
        },
        "pricing": {"global": {"prompt": prompt, "completions": completions}},
        "available_regions": list(REGIONS[creator]),
        "providers": [provider],
        "default_provider": provider,
    }


def model_list() -> list[dict[str, Any]]:
    groups = (("anthropic", ANTHROPIC_MODELS), ("openai", OPENAI_MODELS), ("google", GOOGLE_MODELS))
    return [model_entry(model_id, creator) for creator, models in groups for model_id in models]


def validation_errors(body: dict[str, Any]) -> list[str]:
    """What `/v1/understanding` would refuse in this request, one message per problem."""
    errors = []
    transcript_id = body.get("transcript_id")
    if transcript_id is not None and (not isinstance(transcript_id, str) or not transcript_id):
        errors.append("transcript_id must be a non-empty string")
    speech_understanding = body.get("speech_understanding")
    if not isinstance(speech_understanding, dict):
        errors.append("speech_understanding is required and must be an Object")
        return errors
    try:
        check_understanding(speech_understanding)
    except ParamError as exc:
        errors.append(str(exc))
    return errors
