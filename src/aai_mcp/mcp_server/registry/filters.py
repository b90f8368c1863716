"""The server's own tool filters, as one Scopes value: the same check a token's scopes go through."""

from __future__ import annotations

from collections.abc import Collection

from aai_mcp.access.scopes import Scopes, UnknownMethodClass, method_classes
from aai_mcp.catalog import Catalog
from aai_mcp.config.layers import ConfigError
from aai_mcp.config.settings import Settings


class FilterError(ConfigError):
    """A filter names something the catalog does not have: a configuration problem, so the CLI says
    it in one line and exits 2 (never a traceback)."""

    def __init__(self, message: str) -> None:
        super().__init__([message])


def server_scopes(settings: Settings, catalog: Catalog) -> Scopes:
    tags = {tag for spec in catalog.tools.values() for tag in spec.tags}
    return Scopes(
        toolsets=_known(settings.toolsets, catalog.toolsets, "--toolsets", "toolset"),
        tools=_known(settings.tools, catalog.tools, "--tools", "tool"),
        methods=_methods(settings.methods),
        tags=_known(settings.tags, tags, "--tags", "tag"),
        read_only=settings.read_only,
    )


def _methods(values: list[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    try:
        return method_classes(values, "--methods")
    except UnknownMethodClass as exc:
        raise FilterError(str(exc)) from None


def _known(values: list[str] | None, known: Collection[str], flag: str, noun: str) -> frozenset[str] | None:
    if values is None:
        return None
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise FilterError(f"{flag}: unknown {noun} {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return frozenset(values)
