"""The declarative tool catalog: tool_schemas/*.yaml as typed, validated specs."""

from aai_mcp.catalog.loader import Catalog, CatalogError, default_schema_dir, load_catalog
from aai_mcp.catalog.model import Annotations, Param, Toolset, ToolSpec

__all__ = [
    "Annotations",
    "Catalog",
    "CatalogError",
    "Param",
    "ToolSpec",
    "Toolset",
    "default_schema_dir",
    "load_catalog",
]
