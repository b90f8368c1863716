"""Typed model of one tool entry in tool_schemas/*.yaml."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HostName = Literal["api", "llm_gateway", "streaming", "agents", "sync", "dictation", "tts", "token"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ParamLocation = Literal["path", "query", "body", "options"]
JsonType = Literal["string", "integer", "number", "boolean", "array", "object", "null"]
Effect = Literal["read", "transcription", "llm", "upload", "delete", "credentials", "synthesis", "reference"]
"""What a tool does, by consequence (what `--methods` and a token's methods filter on):
read: reads the account's transcripts and their parts; transcription: starts billed transcription
jobs; llm: billed LLM Gateway / Speech Understanding requests; upload: sends audio to AssemblyAI's
upload store, reading the server's files or fetching a URL from the server; delete: deletes data;
credentials: mints temporary credentials (streaming / voice-agent / TTS tokens); synthesis: billed
text-to-speech; reference: reads the API reference bundled with the server, nothing of the account."""

MAX_NAME_LENGTH = 64
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Param(Strict):
    """One tool argument. Every key but `required`, `apply_default` and `serialize` is JSON Schema."""

    type: JsonType | list[JsonType]
    description: str | None = Field(None, min_length=1)
    """Left out where the name and the schema say it all: every listed byte costs the model context."""
    required: bool = False
    default: Any = None
    apply_default: bool = False
    """Send `default` upstream when the caller omits the argument (upstream requires it)."""
    serialize: Literal["json", "comma"] = "json"
    """How an array goes into a query string: `comma` joins it (`?words=a,b`)."""
    enum: list[Any] | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    min_length: int | None = Field(None, alias="minLength")
    max_length: int | None = Field(None, alias="maxLength")
    min_items: int | None = Field(None, alias="minItems")
    max_items: int | None = Field(None, alias="maxItems")
    pattern: str | None = None
    format: str | None = None
    items: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    additional_properties: bool | dict[str, Any] | None = Field(None, alias="additionalProperties")
    required_properties: list[str] | None = Field(None, alias="requiredProperties")

    def json_schema(self) -> dict[str, Any]:
        schema = self.model_dump(
            by_alias=True,
            exclude_none=True,
            exclude={"required", "apply_default", "serialize", "required_properties"},
        )
        if self.required_properties:
            schema["required"] = list(self.required_properties)
        return schema


class Annotations(Strict):
    """MCP tool annotations; every hint is stated, none is defaulted."""

    read_only: bool = Field(alias="readOnlyHint")
    destructive: bool = Field(alias="destructiveHint")
    idempotent: bool = Field(alias="idempotentHint")
    open_world: bool = Field(alias="openWorldHint")


class Params(Strict):
    path: dict[str, Param] = {}
    query: dict[str, Param] = {}
    body: dict[str, Param] = {}
    options: dict[str, Param] = {}
    """Arguments the gateway itself uses (paging, views); never sent upstream."""

    def by_location(self) -> dict[ParamLocation, dict[str, Param]]:
        return {"path": self.path, "query": self.query, "body": self.body, "options": self.options}


class Inherit(Strict):
    """Take another tool's body parameters and refusals (e.g. transcribe takes create_transcript's)."""

    tool: str
    optional: list[str] = []
    """Inherited parameters that are not required here."""


OPTIONS_ARGUMENT = "options"
"""The one object argument a folding tool takes its less common body fields in."""


class Fold(Strict):
    """Body parameters listed inside one `options` object argument instead of one by one, all but
    the ones kept at the top: create_transcript has some 40 upstream fields, and listing each with
    its schema cost the model ~10 KB of context on every turn. Each folded field is still accepted
    (inside `options`, or at the top level as before) and validated by its own schema."""

    keep: list[str] = Field(min_length=1)
    """Body parameters listed at the top level (the common ones)."""


class Use(Strict):
    """Another tool whose capability this one exercises: a call needs that tool's permission too."""

    tool: str
    when: list[str] = []
    """Only when one of these arguments is given (transcribe uploads only for path/data_base64);
    empty: on every call."""


class Route(Strict):
    """One upstream request a tool makes: method, host and path template."""

    method: HttpMethod
    host: HostName
    path: str = Field(pattern=r"^/")

    def shown(self) -> str:
        return f"{self.method} {self.host}:{self.path}"

    def placeholders(self) -> list[str]:
        return _placeholders(self.path)


class Call(Route):
    """One upstream request a handler tool makes, named so its code asks for it by name."""

    name: str = Field(pattern=NAME_PATTERN)
    later: bool = False
    """Made after the tool call has answered, never during it (an upload link's file goes upstream
    when the person sends it): upstream faults and rate limits reach that later request, not the call."""


class ToolSpec(Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)
    title: str
    description: str = Field(min_length=40)
    toolset: str
    method: HttpMethod | None = None
    host: HostName | None = None
    path: str | None = Field(None, pattern=r"^/")
    """A plain tool's one forwarded request (a handler tool declares `calls` instead)."""
    calls: list[Call] = []
    """Every upstream request a handler tool makes; the first is the one its parameters mirror."""
    local: bool = False
    """A handler that answers from data the server carries (the bundled API reference) and makes no
    upstream request: it declares no calls, so no upstream fault, rate limit or key reaches it."""
    params: Params = Params()
    response: Literal["json", "text"]
    output: str
    """Name of an output schema in outputs.yaml."""
    view: str = "raw"
    """How the upstream answer is shaped for the model (see aai_mcp.mcp_server.views.view_table)."""
    handler: str | None = None
    """Name of a code handler, for the few tools a single forwarded request cannot serve."""
    refuse: dict[str, str] = {}
    """Arguments refused with a pointer to what replaces them (deprecated upstream fields)."""
    annotations: Annotations
    effects: list[Effect] = Field(min_length=1)
    """Every effect of the tool itself; required (no default), so a new tool is classified on purpose."""
    uses: list[Use] = []
    plain_text: bool = False
    """The text content is exactly the structured JSON (ChatGPT's connector contract): in simulator
    mode the simulated marker lives only in `_meta`, not as a banner line in the text."""
    tags: list[str] = []
    inherit: Inherit | None = None
    fold: Fold | None = None
    task_support: Literal["optional", "required"] | None = None
    """MCP Tasks: the tool may run as a task (a handle at once, the result fetched later); None: never."""

    @field_validator("name", mode="before")
    @classmethod
    def _name_length(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) > MAX_NAME_LENGTH:
            raise ValueError(f"name {value!r} is {len(value)} characters; the limit is {MAX_NAME_LENGTH}")
        return value

    @model_validator(mode="after")
    def _check_route(self) -> ToolSpec:
        single = (self.method, self.host, self.path)
        if self.local:
            if self.handler is None or self.calls or any(value is not None for value in single):
                raise ValueError("a local tool names a handler and declares no calls, method, host or path")
            return self
        if self.handler is None:
            if None in single or self.calls:
                raise ValueError("a plain tool declares method, host and path, and no calls")
            return self
        if any(value is not None for value in single) or not self.calls:
            raise ValueError(
                "a handler tool declares every upstream request it makes in `calls`, "
                "not a single method, host and path"
            )
        names = [call.name for call in self.calls]
        if len(set(names)) != len(names):
            raise ValueError(f"calls {names} name a call twice")
        return self

    @property
    def route(self) -> Route:
        """The request the tool's parameters mirror: a plain tool's only one, a handler's first.
        A local tool has none: ask `upstream_calls` (empty for it) when iterating every tool."""
        if self.local:
            raise ValueError(f"{self.name} is local: it makes no upstream request")
        if self.handler is not None:
            return self.calls[0]
        assert self.method and self.host and self.path, "checked by _check_route"
        return Route(method=self.method, host=self.host, path=self.path)

    @property
    def upstream_calls(self) -> list[Route]:
        """Every upstream request the tool may make."""
        return list(self.calls) if self.handler is not None else [self.route]

    @property
    def calls_only_later(self) -> bool:
        """Every upstream request the tool declares is made after its call answered (see `Call.later`)."""
        return bool(self.calls) and all(call.later for call in self.calls)

    @property
    def answers_at_once(self) -> bool:
        """Read-only, never a task, and at most one upstream request, a GET: the answer comes as soon
        as that GET's does, with nothing to report on the way, so a stateless server answers the call
        with plain JSON instead of an SSE stream (transports/plain_answers.py)."""
        if self.task_support is not None or not self.annotations.read_only:
            return False
        calls = self.upstream_calls
        return len(calls) <= 1 and all(call.method == "GET" for call in calls)

    @property
    def calls_upstream_in_call(self) -> bool:
        """The call itself can send an upstream request: false for a local tool (bundled data) and
        for one whose every request comes after its answer. Upstream faults, rate limits and keys
        reach a tool call only when this holds; the fault and access matrices ask this one question."""
        return not self.local and not self.calls_only_later

    def call(self, name: str) -> Call:
        """A handler's declared call (the loader checked the handler's names against `calls`)."""
        for call in self.calls:
            if call.name == name:
                return call
        raise KeyError(f"{self.name} declares no call {name!r}")

    @model_validator(mode="after")
    def _check_params(self) -> ToolSpec:
        seen: dict[str, str] = {}
        for location, params in self.params.by_location().items():
            for name in params:
                if name in seen:
                    raise ValueError(f"parameter {name!r} appears in both {seen[name]} and {location}")
                seen[name] = location
        path = "" if self.local else self.route.path
        placeholders = set(_placeholders(path))
        if placeholders != set(self.params.path):
            raise ValueError(
                f"path {path!r} names {sorted(placeholders)} but path params are {sorted(self.params.path)}"
            )
        optional = sorted(name for name, param in self.params.path.items() if not param.required)
        if optional:
            raise ValueError(f"path params {optional} must be required: true (the path needs them)")
        clash = set(self.refuse) & set(seen)
        if clash:
            raise ValueError(f"refused arguments {sorted(clash)} are also declared as parameters")
        if len(set(self.effects)) != len(self.effects):
            raise ValueError(f"effects {self.effects} name an effect twice")
        self._check_fold(seen)
        return self

    def _check_fold(self, seen: dict[str, str]) -> None:
        if self.fold is None:
            return
        stray = sorted(set(self.fold.keep) - set(self.params.body))
        if stray:
            raise ValueError(f"fold.keep names {stray}, which are not body parameters")
        if OPTIONS_ARGUMENT in seen:
            raise ValueError(f"a folding tool cannot also have a parameter named {OPTIONS_ARGUMENT!r}")

    @property
    def folded(self) -> list[str]:
        """Body parameters taken inside `options` rather than listed one by one."""
        if self.fold is None:
            return []
        return [name for name in self.params.body if name not in self.fold.keep]

    def inheriting(self, base: ToolSpec) -> ToolSpec:
        """This spec with `base`'s body parameters and refusals added (its own win no clash: both fail)."""
        assert self.inherit is not None
        body = {
            name: param.model_copy(update={"required": False}) if name in self.inherit.optional else param
            for name, param in base.params.body.items()
        }
        clash = set(body) & set(self.all_params())
        if clash:
            raise ValueError(f"inherited parameters {sorted(clash)} are also declared here")
        data = self.model_dump(by_alias=True, exclude_unset=True)
        data["params"] = {**data.get("params", {}), "body": {**self.params.body, **body}}
        data["refuse"] = {**base.refuse, **self.refuse}
        if self.fold is None and base.fold is not None:
            data["fold"] = base.fold.model_dump()
        return ToolSpec.model_validate(data)

    def all_params(self) -> dict[str, Param]:
        merged: dict[str, Param] = {}
        for params in self.params.by_location().values():
            merged.update(params)
        return merged

    def location_of(self, name: str) -> ParamLocation:
        for location, params in self.params.by_location().items():
            if name in params:
                return location
        raise KeyError(name)


class Toolset(Strict):
    description: str


def _placeholders(template: str) -> list[str]:
    names: list[str] = []
    for part in template.split("{")[1:]:
        names.append(part.split("}", 1)[0])
    return names
