"""Fuzzing shared by tests/test_fuzz.py and scripts/fuzz.py.

Hypothesis strategies built from a tool's input schema: valid arguments (types, enums, bounds,
patterns, lengths, nested objects; required properties always, optional ones sometimes) and
invalid ones (a valid value with exactly one mutation). A rig runs each case through the
in-memory MCP client against a gateway whose upstream is the simulator, and judges the result.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from mcp.client import Client

from aai_mcp.catalog import ToolSpec
from aai_mcp.config.settings import DEFAULT_LLM_MODELS
from aai_mcp.gateway import build_gateway
from aai_mcp.mcp_server.factory import build_server
from aai_mcp.mcp_server.registry import accepted_schema
from aai_mcp.mcp_server.runtime.validation import MAX_SAFE_INTEGER
from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app
from tests.support import CANARY_KEY, make_settings, wav_bytes

Strategy = st.SearchStrategy[Any]
Hints = Mapping[str, Strategy]
Path_ = tuple[str | int, ...]

TEXT_CAP = 24
EXTRA_ITEMS = 3
# Valid JSON as every client reads it (I-JSON, RFC 7493): the server refuses integers past 2**53.
SAFE_INTEGER = MAX_SAFE_INTEGER
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE_INTEGER, SAFE_INTEGER)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
JSON_VALUES: Strategy = st.recursive(
    SCALARS.filter(lambda v: not isinstance(v, float) or math.isfinite(v)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
WRONG_TYPE_SAMPLES: dict[str, Strategy] = {
    "boolean": st.booleans(),
    "integer": st.integers(),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()),
    "string": st.text(max_size=12),
    "array": st.lists(st.integers(), max_size=3),
    "object": st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
}


@dataclass(frozen=True)
class Case:
    arguments: dict[str, Any]
    mutation: str | None = None  # None: a valid case; else the kind of the one mutation
    where: str = ""


# --- the oracle: what the schema means, with JSON Schema's ECMA-262 regex semantics ---


@cache
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """ECMA-262 reading of a pattern: `$` ends the input (Python's also matches before a final
    newline) and \\d, \\w are ASCII."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern, re.ASCII)


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


OracleValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})  # type: ignore[no-untyped-call]


def oracle(schema: dict[str, Any]) -> Any:
    return OracleValidator(schema, format_checker=FormatChecker())


# --- valid values ---


def _types(schema: dict[str, Any]) -> list[str] | None:
    declared = schema.get("type")
    return [declared] if isinstance(declared, str) else declared


def valid_value(schema: dict[str, Any], hints: Hints, name: str | None = None) -> Strategy:
    base = _valid(schema, hints)
    if name is None or name not in hints:
        return base
    hint = hints[name]  # three times in four: real ids, files and models reach past 404s
    return st.integers(0, 3).flatmap(lambda pick: base if pick == 0 else hint)


def _valid(schema: dict[str, Any], hints: Hints) -> Strategy:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    declared = _types(schema)
    if not declared:
        return JSON_VALUES
    return st.one_of(*[_typed(kind, schema, hints) for kind in declared])


def _typed(kind: str, schema: dict[str, Any], hints: Hints) -> Strategy:
    low, high = schema.get("minimum"), schema.get("maximum")
    if kind == "integer":
        return st.integers(
            -SAFE_INTEGER if low is None else max(math.ceil(low), -SAFE_INTEGER),
            SAFE_INTEGER if high is None else min(math.floor(high), SAFE_INTEGER),
        )
    if kind == "number":
        floats = st.floats(low, high, allow_nan=False, allow_infinity=False)
        return floats | _typed("integer", schema, hints)
    if kind == "string":
        return _string(schema)
    if kind == "array":
        items = schema.get("items")
        low_items = schema.get("minItems", 0)
        element = valid_value(items, hints) if isinstance(items, dict) else JSON_VALUES
        return st.lists(element, min_size=low_items, max_size=schema.get("maxItems", low_items + EXTRA_ITEMS))
    if kind == "object":
        return _object(schema, hints)
    return st.none() if kind == "null" else st.booleans()


def _string(schema: dict[str, Any]) -> Strategy:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if schema.get("format") == "date":
        strings: Strategy = st.dates().map(lambda day: day.isoformat())
    elif "pattern" in schema:
        strings = st.from_regex(schema["pattern"], fullmatch=True)
    elif schema.get("format") == "uri":
        strings = st.builds(
            "{}://{}{}".format,
            st.sampled_from(["http", "https"]),
            st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9-]{1,10}){0,2}\.[a-z]{2,6}", fullmatch=True),
            st.from_regex(r"(/[A-Za-z0-9._~-]{0,12}){0,3}", fullmatch=True),
        )
    else:
        return st.text(min_size=low, max_size=high if high is not None else max(low, TEXT_CAP))
    return strings.filter(lambda s: low <= len(s) <= (high if high is not None else len(s)))


def _object(schema: dict[str, Any], hints: Hints) -> Strategy:
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        return st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)
    required = list(schema.get("required", []))
    optional = [name for name in props if name not in required]
    low = max(0, schema.get("minProperties", 0) - len(required))
    high = min(len(optional), schema.get("maxProperties", len(props)) - len(required))
    chosen = st.sets(st.sampled_from(optional), min_size=low, max_size=high) if optional else st.just(set())

    def build(extra: set[str]) -> Strategy:
        names = required + sorted(extra)
        return st.fixed_dictionaries({n: valid_value(props.get(n, {}), hints, n) for n in names})

    return chosen.flatmap(build)


def valid_cases(schema: dict[str, Any], hints: Hints) -> st.SearchStrategy[Case]:
    check = oracle(schema)
    return _object(schema, hints).filter(check.is_valid).map(Case)


# --- invalid values: one mutation of a valid one ---


@dataclass(frozen=True)
class Target:
    path: Path_
    kind: str
    node: Strategy  # what replaces the value at `path`


def _replacements(schema: dict[str, Any], path: Path_) -> list[Target]:
    declared, enum = _types(schema), schema.get("enum")
    found: list[Target] = []
    allowed = set(declared or ())
    if "number" in allowed:
        allowed.add("integer")
    wrong = [sample for kind, sample in WRONG_TYPE_SAMPLES.items() if kind not in allowed]
    if declared and wrong:
        found.append(Target(path, "wrong_type", st.one_of(*wrong)))
    if (declared or enum) and "null" not in allowed and None not in (enum or ()):
        found.append(Target(path, "null", st.none()))
    if enum:
        found.append(Target(path, "bad_enum", st.text(max_size=12).filter(lambda s: s not in enum)))
    integral = "number" not in (declared or ())
    if "integer" in allowed and "minimum" in schema:
        found.append(Target(path, "out_of_range", _beyond(schema["minimum"], -1, integral)))
    if "integer" in allowed and "maximum" in schema:
        found.append(Target(path, "out_of_range", _beyond(schema["maximum"], 1, integral)))
    if "string" in allowed:
        found.extend(_string_breaks(schema, path))
    return found


def _beyond(bound: float, direction: int, integral: bool) -> Strategy:
    if direction < 0:
        ints, floats = (
            st.integers(max_value=math.ceil(bound) - 1),
            st.floats(max_value=bound, exclude_max=True),
        )
    else:
        ints, floats = (
            st.integers(min_value=math.floor(bound) + 1),
            st.floats(min_value=bound, exclude_min=True),
        )
    return ints if integral else ints | floats.filter(math.isfinite)


def _string_breaks(schema: dict[str, Any], path: Path_) -> list[Target]:
    found = []
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if "pattern" in schema:
        regex = ecma_regex(schema["pattern"])
        near = st.from_regex(schema["pattern"], fullmatch=True)
        breaks = st.one_of(
            st.text(max_size=TEXT_CAP),
            near.map(lambda s: s + "\n"),
            near.map(lambda s: s + ",/ ?"),
            near.map(lambda s: "../" + s),
            st.just(""),
        )
        found.append(Target(path, "pattern_break", breaks.filter(lambda s: not regex.search(s))))
    if schema.get("format") == "date":
        impossible = st.builds(
            "{:04d}-{:02d}-{:02d}".format, st.integers(0, 9999), st.integers(13, 99), st.integers(1, 9)
        )
        found.append(Target(path, "bad_format", impossible | st.just("2023-02-30")))
    if low:
        found.append(Target(path, "too_short", st.text(max_size=low - 1)))
    if high is not None:
        found.append(Target(path, "too_long", st.text(min_size=high + 1, max_size=high + 8)))
    return found


def _targets(
    schema: dict[str, Any], value: Any, path: Path_, hints: Hints, refused: tuple[str, ...]
) -> list[Target]:
    found = _replacements(schema, path) if path else []
    if isinstance(value, dict):
        found.extend(_object_targets(schema, value, path, hints, refused if not path else ()))
        props = schema.get("properties", {})
        for name, child in value.items():
            if name in props:
                found.extend(_targets(props[name], child, (*path, name), hints, ()))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        found.extend(_array_targets(schema, value, path, hints))
        for index, child in enumerate(value):
            found.extend(_targets(schema["items"], child, (*path, index), hints, ()))
    return found


def _object_targets(
    schema: dict[str, Any], value: dict[str, Any], path: Path_, hints: Hints, refused: tuple[str, ...]
) -> list[Target]:
    props: dict[str, Any] = schema.get("properties", {})
    found = [
        Target(path, "missing_required", st.just({k: v for k, v in value.items() if k != name}))
        for name in schema.get("required", [])
        if name in value
    ]
    if schema.get("additionalProperties") is False:
        names = st.text(min_size=1, max_size=16).filter(lambda k: k not in props)
        if refused:
            names = names | st.sampled_from(refused)
        added = st.tuples(names, JSON_VALUES).map(lambda kv: {**value, kv[0]: kv[1]})
        found.append(Target(path, "unknown_property", added))
    spare = [name for name in props if name not in value]
    if "maxProperties" in schema and len(value) >= schema["maxProperties"] and spare:
        extra = st.sampled_from(spare).flatmap(lambda n: valid_value(props[n], hints).map(lambda v: (n, v)))
        found.append(Target(path, "too_many_properties", extra.map(lambda kv: {**value, kv[0]: kv[1]})))
    if schema.get("minProperties", 0) > 0 and value:
        found.append(Target(path, "too_few_properties", st.just({})))
    return found


def _array_targets(schema: dict[str, Any], value: list[Any], path: Path_, hints: Hints) -> list[Target]:
    found = []
    if schema.get("minItems", 0) > 0:
        found.append(Target(path, "too_few_items", st.just(value[: schema["minItems"] - 1])))
    if "maxItems" in schema:
        missing = schema["maxItems"] + 1 - len(value)
        more = st.lists(valid_value(schema["items"], hints), min_size=missing, max_size=missing)
        found.append(Target(path, "too_many_items", more.map(lambda extra: value + extra)))
    return found


def _replace(root: Any, path: Path_, new: Any) -> Any:
    if not path:
        return new
    copy = list(root) if isinstance(root, list) else dict(root)
    copy[path[0]] = _replace(root[path[0]], path[1:], new)  # type: ignore[index]
    return copy


def _mutate(schema: dict[str, Any], hints: Hints, refused: tuple[str, ...], args: dict[str, Any]) -> Strategy:
    groups: dict[str, list[Target]] = {}
    for target in _targets(schema, args, (), hints, refused):
        groups.setdefault(target.kind, []).append(target)
    one = st.sampled_from(sorted(groups)).flatmap(lambda kind: st.sampled_from(groups[kind]))
    return one.flatmap(
        lambda t: t.node.map(
            lambda new: Case(_replace(args, t.path, new), t.kind, ".".join(map(str, t.path)) or "(arguments)")
        )
    )


def invalid_cases(
    schema: dict[str, Any], hints: Hints, refused: tuple[str, ...] = ()
) -> st.SearchStrategy[Case]:
    check = oracle(schema)
    valid = _object(schema, hints).filter(check.is_valid)
    return valid.flatmap(partial(_mutate, schema, hints, refused)).filter(
        lambda c: not check.is_valid(c.arguments)
    )


@dataclass(frozen=True)
class ToolStrategies:
    valid: st.SearchStrategy[Case]
    invalid: st.SearchStrategy[Case]


def strategies_for(spec: ToolSpec, hints: Hints, one_of: tuple[str, ...] = ()) -> ToolStrategies:
    """`one_of`: optional properties a handler wants exactly one of; half the valid cases give one."""
    # The server's contract (every bound, folded fields at the top level), which tools/list abridges.
    schema = accepted_schema(spec)
    valid = valid_cases(schema, hints)
    if one_of:
        valid = st.one_of(
            valid, st.sampled_from(one_of).flatmap(lambda n: valid_cases(_only(schema, n, one_of), hints))
        )
    return ToolStrategies(valid, invalid_cases(schema, hints, tuple(sorted(spec.refuse))))


def _only(schema: dict[str, Any], keep: str, names: tuple[str, ...]) -> dict[str, Any]:
    props = {name: sub for name, sub in schema["properties"].items() if name == keep or name not in names}
    return {**schema, "properties": props, "required": [*schema.get("required", []), keep]}


# --- the rig: every case through the in-memory MCP client, the simulator as upstream ---

AUDIO_URLS = ("https://example.com/support-call.mp3", "https://example.com/interview.wav")
SPEECH_MODELS = ("universal-3-pro", "universal-2")
ONE_SOURCE = {"upload": ("path", "url", "data_base64"), "transcribe": ("audio_url", "path", "data_base64")}
# Waits stay short: the simulator finishes jobs at once, and a wait is capped at wait_max_seconds.
FAST_WAITS = {"wait_poll_initial_seconds": 0.001, "wait_poll_max_seconds": 0.005, "wait_max_seconds": 0.3}
FUNCTION_NAMES = st.sampled_from(["lookup_account", "issue_refund"])
PARAMETERS = JSON_VALUES | st.fixed_dictionaries(
    {"type": st.just("object"), "properties": st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3)},
    optional={"required": st.lists(st.text(max_size=6), max_size=3) | JSON_VALUES},
)
FUNCTION_TOOL = st.fixed_dictionaries(
    {
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": FUNCTION_NAMES}, optional={"parameters": PARAMETERS}),
    }
)
# OpenAI-shaped tools, tool_choice and response_format, so llm_chat_completion cases reach past shape errors.
TEXT_PARTS = st.lists(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=20)}), min_size=1, max_size=2
)
MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant"]),
        "content": st.text(max_size=40) | st.just("Summarise: {{ transcript }}") | TEXT_PARTS,
    }
)
LLM_HINTS = {
    "messages": st.lists(MESSAGE, min_size=1, max_size=3),
    "tools": st.lists(FUNCTION_TOOL, max_size=3),
    "tool_choice": st.sampled_from(["auto", "none"])
    | st.fixed_dictionaries(
        {"type": st.just("function"), "function": st.fixed_dictionaries({"name": FUNCTION_NAMES})}
    ),
    "response_format": st.fixed_dictionaries(
        {
            "type": st.just("json_schema"),
            "json_schema": st.fixed_dictionaries({"name": st.just("out"), "schema": PARAMETERS}),
        }
    ),
}
CATEGORIES = ("ok", "refused", "upstream_error", "rejected", "violation", "crash")


@dataclass(frozen=True)
class Outcome:
    tool: str
    case: Case
    category: str  # one of CATEGORIES
    problem: str | None = None

    def describe(self) -> str:
        what = (
            "valid" if self.case.mutation is None else f"invalid ({self.case.mutation} at {self.case.where})"
        )
        return f"{self.tool} {what}: {self.problem}\n    arguments: {self.case.arguments!r}"[:1500]


def error_kind(result: types.CallToolResult) -> str | None:
    """The kind of a clear error: a message with a kind, or a transcript whose job failed with a reason."""
    details = (result.meta or {}).get("aai-mcp/error")
    if isinstance(details, dict) and details.get("message") and details.get("kind"):
        return str(details["kind"])
    structured = result.structured_content or {}
    error = structured.get("error")
    if structured.get("status") == "error" and isinstance(error, str) and error:
        return "transcript_error"
    return None


def judge(tool: str, case: Case, result: Any, sent: int) -> Outcome:
    """Invalid: isError, kind invalid_arguments, nothing sent upstream. Valid: ok, or a clear error."""
    if not isinstance(result, types.CallToolResult) or not result.content:
        return Outcome(tool, case, "crash", f"not a CallToolResult with content: {result!r}"[:500])
    kind = error_kind(result) if result.is_error else None
    if case.mutation is not None:
        if not result.is_error:
            return Outcome(tool, case, "violation", f"accepted ({sent} upstream request(s))")
        if kind != "invalid_arguments":
            return Outcome(tool, case, "violation", f"rejected with kind {kind!r}, not invalid_arguments")
        if sent:
            return Outcome(tool, case, "violation", f"{sent} upstream request(s) before rejecting")
        return Outcome(tool, case, "rejected")
    if not result.is_error:
        return Outcome(tool, case, "ok")
    if kind is None or kind == "internal":
        return Outcome(tool, case, "violation", f"unclear error (kind {kind!r}): {result.content}"[:500])
    return Outcome(tool, case, "refused" if kind == "invalid_arguments" else "upstream_error")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class FuzzRig:
    client: Client
    simulator: Simulator
    specs: Mapping[str, ToolSpec]
    workdir: Path
    known_ids: list[str] = field(default_factory=list)
    disposable_ids: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    upload_urls: list[str] = field(default_factory=list)
    _strategies: dict[str, ToolStrategies] = field(default_factory=dict)

    async def prepare(self) -> None:
        """Real ids, files and upload URLs, so valid cases reach past 404s into the tools' real paths."""
        wav, notes = self.workdir / "call.wav", self.workdir / "notes.txt"
        wav.write_bytes(wav_bytes(0.1))
        notes.write_text("plain text, not audio\n")
        self.files = [str(wav), str(notes)]
        uploaded = await self.client.call_tool("upload_file", {"path": str(wav)})
        self.upload_urls = [str((uploaded.structured_content or {})["upload_url"])]
        redacted = {"redact_pii": True, "redact_pii_policies": ["person_name"], "redact_pii_audio": True}
        for index in range(6):
            args = {
                "audio_url": AUDIO_URLS[index % 2],
                "speaker_labels": index % 2 == 0,
                **(redacted if index == 1 else {}),
            }
            done = await self.client.call_tool("transcribe", args)
            assert not done.is_error and done.structured_content, done
            (self.known_ids if index < 4 else self.disposable_ids).append(str(done.structured_content["id"]))

    def hints(self, tool: str) -> dict[str, Strategy]:
        ids = st.sampled_from(self.disposable_ids if tool == "delete_transcript" else self.known_ids)
        data = st.binary(min_size=1, max_size=48).map(_b64) | st.just(_b64(wav_bytes(0.05)))
        return {
            "transcript_id": ids,
            "id": ids,
            "before_id": ids,
            "after_id": ids,
            "transcript_ids": st.lists(ids, min_size=1, max_size=3),
            "path": st.sampled_from(self.files),
            "data_base64": data,
            "audio_url": st.sampled_from([*AUDIO_URLS, *self.upload_urls]),
            "model": st.sampled_from(DEFAULT_LLM_MODELS),
            "speech_models": st.lists(st.sampled_from(SPEECH_MODELS), min_size=1, max_size=2, unique=True),
            "language_code": st.sampled_from(["en_us", "en", "es"]),
            **LLM_HINTS,
        }

    @property
    def strategies_built(self) -> list[str]:
        return sorted(self._strategies)

    def strategies(self, tool: str) -> ToolStrategies:
        if tool not in self._strategies:
            spec = self.specs[tool]
            self._strategies[tool] = strategies_for(
                spec, self.hints(tool), ONE_SOURCE.get(spec.handler or "", ())
            )
        return self._strategies[tool]

    async def run(self, tool: str, case: Case) -> Outcome:
        before = len(self.simulator.requests)
        try:
            result = await self.client.call_tool(tool, case.arguments)
        except Exception as exc:  # a crash is what the fuzzer looks for: record it, keep going
            return Outcome(tool, case, "crash", f"call_tool raised {type(exc).__name__}: {exc}"[:500])
        return judge(tool, case, result, len(self.simulator.requests) - before)


@asynccontextmanager
async def fuzz_rig(workdir: Path) -> AsyncIterator[FuzzRig]:
    app = build_simulator_app(SimulatorConfig(api_key=CANARY_KEY, processing_delay_seconds=0))
    settings = make_settings(upload_roots=[workdir], **FAST_WAITS)
    gateway = build_gateway(settings, transport=httpx.ASGITransport(app=app))
    try:
        # legacy mode: JSON-RPC framing over in-memory streams, so every case is serialized as on the wire.
        async with Client(build_server(gateway), mode="legacy") as client:
            rig = FuzzRig(client, app.state.simulator, gateway.registry.specs, workdir)
            await rig.prepare()
            yield rig
    finally:
        await gateway.aclose()


@dataclass(frozen=True)
class SyncRig:
    """The rig driven from synchronous code (Hypothesis bodies); its event loop runs in a portal thread."""

    portal: BlockingPortal
    rig: FuzzRig

    def __repr__(self) -> str:
        return f"SyncRig({len(self.rig.specs)} tools, {len(self.rig.strategies_built)} with strategies)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis pretty-prints a failing call's arguments (this rig among them) before its final
        # replay, a dataclass field by field: every cached strategy spelled out its schema, some
        # 100-300 kB once a few tools had run, past Hypothesis' 30 000-character warning. Under
        # filterwarnings=error that warning struck before the replay's first draw, and the report
        # became FlakyStrategyDefinition ("stopped drawing earlier") instead of the failure found.
        printer.text(repr(self))

    @property
    def tools(self) -> list[str]:
        return sorted(self.rig.specs)

    def strategies(self, tool: str) -> ToolStrategies:
        return self.rig.strategies(tool)

    def run(self, tool: str, case: Case) -> Outcome:
        return self.portal.call(self.rig.run, tool, case)


@contextmanager
def running_rig(workdir: Path) -> Iterator[SyncRig]:
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(fuzz_rig(workdir)) as rig:
        yield SyncRig(portal, rig)
