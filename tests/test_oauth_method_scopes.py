"""`method:<class>` scope strings (issue 15 part 4): they map onto Scopes.methods, the consent page's
narrowing never widens a request, and leaving every class out is refused rather than read as "all"."""

from __future__ import annotations

import pytest

from aai_mcp.access.oauth_scopes import narrowed, offered_methods, supported, to_scopes, unknown
from aai_mcp.access.scopes import METHOD_CLASSES, Scopes


def test_method_scopes_map_onto_the_scopes_methods_axis() -> None:
    assert to_scopes(["mcp", "method:read", "method:llm"]) == Scopes(methods=frozenset({"read", "llm"}))
    assert to_scopes(["mcp"]).methods is None  # none named: every class
    assert "method:delete" in supported(["transcripts"]) and unknown(["method:write"], []) == ["method:write"]


def test_all_classes_ticked_on_an_open_request_stays_open() -> None:
    assert narrowed(["mcp"], ["a"], read_only=False, methods=METHOD_CLASSES) == ["toolset:a"]
    assert narrowed(["mcp"], ["a"], read_only=False, methods=["read"]) == ["toolset:a", "method:read"]


def test_narrowing_never_adds_a_class_the_request_left_out() -> None:
    asked = ["mcp", "method:read", "method:upload"]
    assert offered_methods(asked) == ["read", "upload"]
    chosen = narrowed(asked, ["a"], read_only=False, methods=["read", "delete"])
    assert chosen == ["toolset:a", "method:read"]
    # A request that named classes keeps them named even when all of them stay ticked.
    assert narrowed(asked, ["a"], read_only=False, methods=["read", "upload"])[1:] == [
        "method:read",
        "method:upload",
    ]


def test_no_class_ticked_is_refused_not_widened() -> None:
    with pytest.raises(ValueError, match="method class"):
        narrowed(["mcp"], ["a"], read_only=False, methods=[])
