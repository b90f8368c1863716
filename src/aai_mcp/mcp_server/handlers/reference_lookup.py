"""search_api_reference and get_api_reference: answered from the specs bundled with the package,
with no upstream request (the tools are `local` in the catalog)."""

from __future__ import annotations

from typing import Any

from aai_mcp.api_reference import load_reference
from aai_mcp.api_reference.compact_answers import endpoint_answer, hit_answer, product_answer
from aai_mcp.api_reference.products import Product
from aai_mcp.caller_input import ToolInputError
from aai_mcp.mcp_server.runtime.tool_call import ToolCall

REFERENCE_CALLS: frozenset[str] = frozenset()
DEFAULT_LIMIT = 5
MAX_PRODUCTS = 3


async def search_reference(call: ToolCall) -> dict[str, Any]:
    reference = load_reference()
    query = str(call.args["query"])
    hits = reference.search(query, int(call.args.get("limit") or DEFAULT_LIMIT))
    answer: dict[str, Any] = {"hits": [hit_answer(hit) for hit in hits], "count": len(hits)}
    # Products (get_api_reference gives their overview) reach what no bundled spec describes.
    products = reference.matching_products(query)[:MAX_PRODUCTS]
    if products:
        answer["products"] = products
    return answer


async def get_reference(call: ToolCall) -> dict[str, Any]:
    reference = load_reference()
    wanted = str(call.args["endpoint_or_product"])
    found = reference.find(wanted)
    if isinstance(found, list):
        # Only names from the bundled reference go back, never the caller's text beyond what it sent.
        nearest = ", ".join(found) or "none"
        products = ", ".join(sorted(reference.products))
        raise ToolInputError(
            f"No endpoint or product by that name. Nearest: {nearest}. Products: {products}. "
            "search_api_reference finds endpoints by words."
        )
    if isinstance(found, Product):
        return product_answer(found, reference)
    return endpoint_answer(found, bool(call.args.get("detail")))
