"""list_llm_models: the gateway's models, compact by default (one line each), or every field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aai_mcp.mcp_server.views.contract import Shaped, ViewContext
from aai_mcp.mcp_server.views.shaping import capped_json, compact


def compact_model(model: dict[str, Any]) -> dict[str, Any]:
    price = ((model.get("pricing") or {}).get("global")) or {}
    retiring = model.get("retirement_date")
    return compact(
        {
            "id": model["id"],
            "creator": model.get("creator"),
            "context_length": model.get("context_length"),
            "regions": model.get("available_regions"),
            "price_per_million_tokens": compact(
                {"prompt": price.get("prompt"), "completion": price.get("completions")}
            )
            or None,
            "retires_on": retirement_day(retiring),
        }
    )


def retirement_day(value: Any) -> str | None:
    """The SDK's unix-seconds retirement_date as a date; 0 means not retiring (models.py:27-99)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value, UTC).date().isoformat()


def model_line(model: dict[str, Any]) -> str:
    facts = [str(model[key]) for key in ("creator",) if model.get(key)]
    if model.get("context_length"):
        facts.append(f"{model['context_length']:,} tokens context")
    if model.get("regions"):
        facts.append("regions " + "/".join(model["regions"]))
    price = model.get("price_per_million_tokens") or {}
    if price:
        facts.append(f"${price.get('prompt', '?')} in / ${price.get('completion', '?')} out per M tokens")
    if model.get("retires_on"):
        facts.append(f"retires {model['retires_on']}")
    return f"{model['id']}: {', '.join(facts)}" if facts else str(model["id"])


def llm_models_view(payload: dict[str, Any], ctx: ViewContext) -> Shaped:
    models = payload["models"]
    if payload.get("detail"):
        full = {"count": len(models), "models": models}
        return Shaped(structured=full, text=capped_json(full, ctx.max_chars, "Leave detail off."))
    shown = [compact_model(model) for model in models]
    text = "\n".join([f"{len(shown)} models:", *map(model_line, shown)])
    return Shaped(structured={"count": len(shown), "models": shown}, text=text)
