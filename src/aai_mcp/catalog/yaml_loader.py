"""A strict YAML loader: duplicate keys fail, and only true/false are booleans."""

from __future__ import annotations

import re
from typing import Any

import yaml

# libyaml's parser when present (several times faster); the constructors below stay Python.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictYamlLoader(_Base):  # type: ignore[valid-type,misc]
    """SafeLoader that refuses duplicate mapping keys and YAML 1.1 booleans like `no`.

    PyYAML keeps the last of two equal keys, which would silently drop a parameter, and
    reads a bare `no` (Norwegian) as False.
    """


def _construct_mapping(
    loader: StrictYamlLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node, deep=deep)
    return mapping


def _without_yaml11_bools() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept = [(tag, regexp) for tag, regexp in entries if tag != "tag:yaml.org,2002:bool"]
        if kept:
            resolvers[first] = kept
    bool_re = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
    for first in "tTfF":
        resolvers.setdefault(first, []).append(("tag:yaml.org,2002:bool", bool_re))
    return resolvers


StrictYamlLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)
StrictYamlLoader.yaml_implicit_resolvers = _without_yaml11_bools()


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
