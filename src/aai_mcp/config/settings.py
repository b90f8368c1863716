"""One typed settings object, built at start-up from flags, the environment and the config file
(`aai_mcp.config.layers`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aai_mcp.config.marker import Option

Region = Literal["us", "eu"]

# LLM Gateway models per ENDPOINTS.md §8 (AssemblyAI docs at the spec commit). The EU gateway
# serves only the Claude and Gemini families.
DEFAULT_LLM_MODELS = (
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-5-20251101",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "claude-opus-4-20250514",
    "claude-sonnet-4-20250514",
    "gpt-5.2",
    "gpt-5.1",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "gpt-4.1",
    "gpt-oss-120b",
    "gpt-oss-20b",
    "gemini-3-pro-preview",
    "gemini-3-flash-preview",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
)
EU_MODEL_PREFIXES = ("claude-", "gemini-")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
MIN_WEBHOOK_SECRET_CHARS = 16

CommaList = Annotated[list[str], NoDecode]
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?$")
PathList = Annotated[list[Path] | None, NoDecode]


class Settings(BaseSettings):
    """Every option; environment variables are AAI_MCP_<NAME> (the key is ASSEMBLYAI_API_KEY)."""

    model_config = SettingsConfigDict(
        env_prefix="AAI_MCP_", extra="forbid", validate_default=True, populate_by_name=True
    )

    api_key: Annotated[SecretStr | None, Option(secret=True)] = Field(
        None,
        validation_alias="ASSEMBLYAI_API_KEY",
        description="AssemblyAI API key. Unset: serve the built-in simulator instead of the real API.",
    )
    region: Region = Field("us", description="AssemblyAI region: us or eu (moves every host at once).")
    api_base_url: str | None = Field(
        None, description="Override the REST API origin, e.g. https://api.assemblyai.com (no /v2 path)."
    )
    llm_gateway_base_url: str | None = Field(
        None, description="Override the LLM Gateway origin, e.g. https://llm-gateway.assemblyai.com (no /v1)."
    )
    streaming_base_url: str | None = Field(
        None, description="Override the streaming origin, e.g. https://streaming.assemblyai.com (no /v3)."
    )
    agents_base_url: str | None = Field(
        None, description="Override the Voice Agent API origin, e.g. https://agents.assemblyai.com (no /v1)."
    )
    sync_base_url: str | None = Field(
        None, description="Override the Sync STT API origin, e.g. https://sync.assemblyai.com (no /v1)."
    )
    dictation_base_url: str | None = Field(
        None, description="Override the Dictation API origin, e.g. https://dictation.assemblyai.com (no /v1)."
    )
    tts_base_url: str | None = Field(
        None, description="Override the text-to-speech origin, e.g. https://tts.us.assemblyai.com (no /v1)."
    )
    token_base_url: str | None = Field(
        None,
        description="Override the TTS temporary-token origin, e.g. https://token.assemblyai.com (no /v1).",
    )

    timeout_seconds: float = Field(30.0, gt=0, description="Read timeout for ordinary upstream calls.")
    connect_timeout_seconds: float = Field(10.0, gt=0, description="Connect timeout for upstream calls.")
    tts_timeout_seconds: float | None = Field(
        None,
        gt=0,
        description="Read timeout for text_to_speech (unset: --timeout-seconds). A long text can take "
        "minutes; AssemblyAI stops one request at 600 s.",
    )
    upload_timeout_seconds: float = Field(900.0, gt=0, description="Read/write timeout for uploads.")
    upstream_transport: Literal["aiohttp", "httpx"] = Field(
        "aiohttp",
        description="What carries the JSON calls to AssemblyAI beneath the httpx API: aiohttp (less CPU "
        "per call; httpx's own when httpx-aiohttp is missing or a proxy is set in the environment) or "
        "httpx (httpcore, as uploads always use).",
    )
    get_retries: int = Field(
        2, ge=0, le=5, description="Retries of idempotent GETs on 5xx/connection errors."
    )
    retry_backoff_seconds: float = Field(
        0.5, ge=0, description="Base backoff between GET retries (jittered)."
    )

    max_result_chars: int = Field(
        40_000, ge=1_000, description="Size cap for a tool result's text; longer results say how to page."
    )
    upload_roots: PathList = Field(
        None,
        description="Directories upload_file(path) may read (comma-separated). "
        "Default: none over HTTP, the home directory over stdio.",
    )
    upload_allow_private_urls: bool = Field(
        False, description="Let upload_file(url) fetch loopback/private/link-local addresses."
    )
    upload_max_base64_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Largest decoded size accepted by upload_file(data_base64)."
    )
    upload_max_download_bytes: int = Field(
        2_200_000_000,
        ge=1,
        description="Most bytes upload_file(url) relays, counted as they arrive (AssemblyAI takes 2.2 GB).",
    )
    upload_download_deadline_seconds: float = Field(
        1800.0, gt=0, description="Longest an upload_file(url) download may take in total."
    )

    wait_default_seconds: float = Field(
        45.0, gt=0, description="How long wait_for_transcript and transcribe wait when not told."
    )
    wait_max_seconds: float = Field(
        300.0, gt=0, description="Longest wait a caller may ask for (longer requests are capped)."
    )
    wait_poll_initial_seconds: float = Field(1.0, gt=0, description="First interval between status polls.")
    wait_poll_max_seconds: float = Field(5.0, gt=0, description="Longest interval between status polls.")
    task_heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        le=300,
        description="How often the instance running an MCP Task says it still runs it.",
    )
    task_stale_seconds: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="A task whose instance said nothing this long is resumed by the next reader.",
    )
    llm_models: CommaList = Field(
        list(DEFAULT_LLM_MODELS),
        description="LLM Gateway model ids the llm tools accept when the gateway's model list cannot be "
        "read (comma-separated); when set, also an allow-list on top of that list.",
    )
    llm_models_ttl_seconds: float = Field(
        600.0, ge=0, description="How long the LLM Gateway's model list is kept before it is read again."
    )
    llm_default_model: str = Field(
        "claude-sonnet-4-6", description="Model ask_transcript uses when not told."
    )
    ask_max_transcripts: int = Field(
        5, ge=1, le=50, description="Most transcripts one ask_transcript may use."
    )
    ask_max_context_chars: int = Field(
        400_000, ge=1_000, description="Largest transcript context ask_transcript sends to the LLM."
    )
    extraction_kits_dir: Path | None = Field(
        None,
        description="A folder of your own extraction kits (*.yaml) beside the shipped ones, for "
        "extract_from_transcript and `archive extract`.",
    )
    transcript_url_base: str | None = Field(
        None,
        pattern=r"^https://[^\s?#]+/$",
        description="Link base of search/fetch results (the transcript id is appended; https, ending "
        "in /). Default: the region's REST address, https://api.assemblyai.com/v2/transcript/.",
    )
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The gateway's address as AssemblyAI and people's browsers reach it (http(s), no "
        "query), e.g. https://aai.example.com: the base of webhook and upload-link URLs. Unset: "
        "neither is offered.",
    )
    upload_link_max_bytes: int = Field(
        2_000_000_000,
        ge=1,
        le=2_200_000_000,
        description="Largest file one upload link takes, counted as it arrives (AssemblyAI takes 2.2 GB).",
    )
    upload_link_requests_per_minute: int = Field(
        60,
        ge=1,
        description="Requests per minute one client address may make to upload-link pages (they need "
        "no token: the link is the credential), across every instance when state is shared.",
    )
    webhook_auth_header_name: str = Field(
        "X-AAI-MCP-Webhook-Secret",
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="Header AssemblyAI sends with the gateway's completion webhooks (its value: "
        "webhook_auth_header_value).",
    )
    webhook_auth_header_value: Annotated[SecretStr | None, Option(secret=True)] = Field(
        None,
        description="Secret the gateway gives AssemblyAI for its webhooks and checks on each one (16 "
        "characters at least). With public_url, it turns on webhook capture at "
        "{public_url}/webhooks/assemblyai.",
    )
    webhook_auto: bool = Field(
        True,
        description="create_transcript and transcribe set the gateway's webhook when capture is on "
        "(never over a webhook_url the caller gave).",
    )
    webhook_wait_poll_seconds: float = Field(
        30.0, gt=0, description="Interval between safety-net polls of a transcript whose webhook is expected."
    )
    viewer_media_origins: CommaList = Field(
        [],
        description="Origins (scheme://host[:port]) whose audio the transcript viewer may play, e.g. "
        "https://media.example.com: the view's CSP allows media from these alone. Empty: the viewer shows "
        "no player (it never reaches the network otherwise).",
    )
    search_max_transcripts: int = Field(
        20, ge=1, le=200, description="Most recent transcripts `search` scans (bounds its upstream calls)."
    )

    toolsets: CommaList | None = Field(
        None, description="Offer only tools of these toolsets (comma-separated)."
    )
    tools: CommaList | None = Field(None, description="Offer only these tools (comma-separated allowlist).")
    methods: CommaList | None = Field(
        None,
        description="Offer only tools whose every effect is listed: read, transcription, llm, upload, "
        "delete, credentials (comma-separated).",
    )
    tags: CommaList | None = Field(None, description="Offer only tools carrying one of these tags.")
    read_only: bool = Field(False, description="Offer only tools whose readOnlyHint is true.")
    dynamic_toolsets: bool = Field(
        False,
        description="List only list_toolsets and enable_toolset at first; a session enables toolsets "
        "on request (tools/list_changed). Needs sessions: not with stateless. 2026-07-28 clients, which "
        "have none, see every tool.",
    )

    auth: CommaList = Field(
        ["none"],
        description="HTTP auth modes: none, or tokens, passthrough-key and/or oauth (comma-separated; "
        "oauth needs public_url and a token signing secret).",
    )
    oauth_operator_password_hash: Annotated[
        SecretStr | None, Option(secret=True, hint="make one with aai_mcp.access.operator_sign_in")
    ] = Field(
        None,
        description="scrypt hash of the password the operator signs in with on the OAuth consent page "
        "(auth oauth). Unset: no one can approve a client.",
    )
    oauth_access_token_seconds: int = Field(
        3600,
        ge=60,
        le=86400,
        description="Lifetime of an access token issued by OAuth (auth oauth); the client gets a new one "
        "with its refresh token.",
    )
    oauth_refresh_token_days: float = Field(
        30.0,
        gt=0,
        le=365,
        description="Lifetime of an OAuth refresh token (auth oauth). Each use replaces it with a new one "
        "of the same lifetime; an unused one lapses, and the client asks the operator's consent again.",
    )
    oauth_client_metadata_private_hosts: CommaList = Field(
        [],
        description="Hosts whose OAuth client metadata documents (https client_id URLs) are fetched even "
        "though they resolve to private or loopback addresses: for tests and intranet clients only.",
    )
    oauth_client_metadata_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Deadline for fetching one OAuth client metadata document."
    )
    insecure_no_auth: bool = Field(
        False,
        description="Allow auth=none on a non-loopback address (anyone who reaches it can spend the key).",
    )
    token_secrets: Annotated[
        SecretStr | None, Option(secret=True, hint="or list them in a file named by token_secret_file")
    ] = Field(None, description="HMAC secrets that sign access tokens, comma-separated, first signs.")
    token_secret_file: Path | None = Field(None, description="File of token signing secrets, one per line.")
    token_revocation_file: Path | None = Field(
        None,
        description="File of revoked token ids, one per line; re-read when it changes. Missing or "
        "unreadable: every token is refused (503).",
    )
    data_dir: Path | None = Field(
        None,
        description="Directory of the durable store's SQLite file, aai-mcp.db (revoked tokens). Default: "
        "$XDG_DATA_HOME/aai-mcp, else ~/.local/share/aai-mcp; /data in the Docker image.",
    )
    database_url: Annotated[SecretStr | None, Option(secret=True)] = Field(
        None,
        description="PostgreSQL URL of the durable store, shared by every instance "
        "(postgresql://USER:PASSWORD@HOST/NAME). Unset: SQLite under data_dir. Holds a password: "
        "environment only.",
    )
    accounts: CommaList = Field(
        [],
        description="Extra AssemblyAI accounts as name=env:VAR or name=file:/path (the key is read from "
        "there; 'default' is ASSEMBLYAI_API_KEY). An account named several times pools its keys for the "
        "team proxy; name=env:VAR*3 weighs a key.",
    )
    team_quotas: Annotated[list[str], NoDecode] = Field(
        [],
        description="Per-team quotas of the team proxy, entries separated by ';': "
        "team:rpm=120,jobs=4,audio_hours=50,llm_tokens=2000000,stream_seconds=3600 (each limit optional; "
        "a team is an account).",
    )
    delivery_destinations: Annotated[SecretStr | None, Option(secret=True)] = Field(
        None,
        description="Where each newly archived transcript and extraction result is delivered, signed: "
        "name=URL#env:VAR or name=URL#file:/path entries separated by ';' (the HMAC secret is read from "
        "there). A URL may hold credentials: never shown.",
    )
    delivery_max_attempts: int = Field(8, ge=1, le=50, description="Tries per delivery before a dead letter.")
    delivery_retry_seconds: float = Field(
        5.0, gt=0, description="Wait after a delivery's first failed try; doubled after each (with jitter)."
    )
    delivery_timeout_seconds: float = Field(10.0, gt=0, description="Time a destination has to answer.")
    metrics: Literal["off", "loopback", "token"] = Field(
        "loopback",
        description="Who may read /metrics: off (404), loopback (this machine, not through a proxy, or a "
        "token minted with --metrics), token (only such a token).",
    )
    max_concurrent_calls_per_token: int = Field(
        8, ge=1, description="Tool calls one token (or passthrough key) may have running at once."
    )
    proxy_stream_max_seconds: float = Field(
        4 * 3600.0,
        gt=0,
        allow_inf_nan=False,
        description="Longest a streaming session through the team proxy may last; then it is ended "
        "(Terminate upstream, close 4008).",
    )

    host: str = Field("127.0.0.1", description="Address `serve` binds.")
    port: int = Field(8000, ge=0, le=65535, description="Port `serve` binds.")
    stateless: bool = Field(False, description="Streamable HTTP without sessions (for scale-out).")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes `serve` runs on its one listening socket (about one per core). More than 1 "
        "needs stateless, an API key (not the built-in simulator), and redis_url when limits are counted.",
    )
    json_response: bool = Field(
        False,
        description="Answer every Streamable HTTP POST with JSON, not SSE (stateless calls that have "
        "nothing to stream get JSON without it).",
    )
    allowed_hosts: CommaList = Field(
        [],
        description="Extra Host header values accepted (DNS-rebinding protection): a name on any port, "
        "or name:port, e.g. mcp.example.com.",
    )
    allowed_origins: CommaList = Field(
        [],
        description="Extra Origin values accepted, exactly scheme://host[:port], e.g. https://chatgpt.com.",
    )
    max_request_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest MCP request body accepted over HTTP."
    )
    max_sessions: int = Field(
        1000, ge=1, description="Streamable HTTP sessions open at once, all callers together."
    )
    max_sessions_per_principal: int = Field(
        64, ge=1, description="Sessions one token (or passthrough key) may hold open; below max_sessions."
    )
    session_idle_timeout_seconds: float = Field(
        600.0,
        gt=0,
        allow_inf_nan=False,
        description="A session with no request in flight and no open stream for this long is closed.",
    )
    max_sse_streams: int = Field(
        200,
        ge=1,
        description="SSE streams (legacy /sse, and Streamable HTTP GET streams) open at once, all callers; "
        "below max_connections.",
    )
    max_sse_streams_per_principal: int = Field(
        16,
        ge=1,
        description="SSE streams (legacy /sse and Streamable HTTP GET) one token (or passthrough key) may "
        "hold open.",
    )
    stream_recheck_seconds: float = Field(
        30.0,
        gt=0,
        allow_inf_nan=False,
        description="How often an open SSE stream's credential is checked again; a revoked or expired "
        "one ends the stream.",
    )
    request_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        allow_inf_nan=False,
        description="Time a client has to send a request's line and headers before its connection is closed.",
    )
    request_body_timeout_seconds: float = Field(
        60.0,
        gt=0,
        allow_inf_nan=False,
        description="Time a client has to send a request's whole body before its connection is closed.",
    )
    response_stall_timeout_seconds: float = Field(
        60.0,
        gt=0,
        allow_inf_nan=False,
        description="Time a client may leave the server's send buffer full (not reading its response) "
        "before its connection is dropped.",
    )
    keep_alive_timeout_seconds: float = Field(
        5.0, gt=0, allow_inf_nan=False, description="How long an idle keep-alive connection stays open."
    )
    max_connections: int = Field(
        512,
        ge=1,
        description="Open HTTP connections; past it, the connection waiting longest for its request is "
        "closed (or the new one, when none is waiting).",
    )
    instance_id: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[!-~]+$",
        description="Name sent in the X-AAI-MCP-Instance header of every HTTP response "
        "(default: a random name per process).",
    )
    shutdown_grace_seconds: int = Field(
        10,
        ge=1,
        description="On SIGTERM, how long in-flight calls may finish (waits return at once; "
        "calls still running near the end get a retryable error).",
    )
    redis_url: Annotated[SecretStr | None, Option(secret=True)] = Field(
        None,
        description="Redis or Valkey URL (redis://, rediss:// or unix://) for state every instance shares: "
        "one poll loop per transcript, per-token call limits, speech clips. Unset: per process. "
        "Holds a password: environment only.",
    )

    simulator_delay_seconds: float = Field(
        3.0, ge=0, description="Simulator: seconds a transcript takes from queued to completed."
    )
    simulator_time_scale: float = Field(
        1.0,
        gt=0,
        le=10_000,
        description="Simulator: how many times faster than real time its clock runs (60: a 600-second "
        "job ends after 10 real seconds, its timestamps 10 simulated minutes apart).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")

    @field_validator("api_key", mode="before")
    @classmethod
    def _checked_key(cls, value: Any) -> Any:
        """Unset when empty; surrounding whitespace dropped; ValueError for what a header cannot carry."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            return value
        if not raw.strip():
            return None
        check_key_text(raw.strip())
        return raw.strip()

    @field_validator(
        "allowed_hosts",
        "allowed_origins",
        "oauth_client_metadata_private_hosts",
        "llm_models",
        "toolsets",
        "tools",
        "methods",
        "tags",
        "auth",
        "accounts",
        "viewer_media_origins",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("team_quotas", mode="before")
    @classmethod
    def _split_quota_entries(cls, value: Any) -> Any:
        from aai_mcp.access.team_quotas import split_entries

        return split_entries(value) if isinstance(value, str) else value

    @field_validator("team_quotas")
    @classmethod
    def _checked_quotas(cls, value: list[str]) -> list[str]:
        from aai_mcp.access.team_quotas import parse_team_quotas

        parse_team_quotas(value)  # TeamQuotaError is a ValueError: reported with the option's names
        return value

    @field_validator("webhook_auth_header_value")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # Anyone who guesses it can fill the archive's pending list; the message never quotes it.
        if value is not None and len(value.get_secret_value()) < MIN_WEBHOOK_SECRET_CHARS:
            raise ValueError(
                f"must be at least {MIN_WEBHOOK_SECRET_CHARS} characters (try `openssl rand -hex 32`)"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        # The message never quotes the URL: it may carry a password.
        if value is not None and not value.get_secret_value().startswith(REDIS_SCHEMES):
            raise ValueError("must start with " + ", ".join(REDIS_SCHEMES))
        return value

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        # One spelling, so callers join paths with f"{public_url}/webhooks/..." and never get "//".
        return value.rstrip("/") if value else value

    @field_validator("viewer_media_origins")
    @classmethod
    def _origins_only(cls, value: list[str]) -> list[str]:
        # An origin, nothing more: a path or a wildcard would widen the view's CSP beyond what is named.
        bad = [item for item in value if not ORIGIN.fullmatch(item)]
        if bad:
            raise ValueError("each entry must be an origin like https://media.example.com[:port]")
        return value

    @field_validator("upload_roots", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list):  # a list comes from the config file
            return [Path(str(item).strip()).expanduser() for item in value if str(item).strip()]
        return value

    @model_validator(mode="after")
    def _one_caller_cannot_fill_the_server(self) -> Settings:
        for name in ("max_sessions", "max_sse_streams"):
            if getattr(self, f"{name}_per_principal") >= getattr(self, name):
                raise ValueError(f"{name}_per_principal must be below {name}, so one caller cannot fill it")
        self._quotas_name_accounts()
        if self.dynamic_toolsets and self.stateless:
            # Each stateless request is a new session: an enabled toolset would be forgotten at once.
            raise ValueError(
                "dynamic_toolsets needs sessions to remember enabled toolsets: not with stateless"
            )
        if self.max_sse_streams >= self.max_connections:
            raise ValueError("max_sse_streams must be below max_connections: streams leave room for others")
        return self

    def _quotas_name_accounts(self) -> None:
        """A quota for a team that is no account would never apply: a typo must not pass silently."""
        accounts = {"default", *(entry.partition("=")[0].strip() for entry in self.accounts)}
        for entry in self.team_quotas:
            team = entry.partition(":")[0].strip()
            if team not in accounts:
                known = ", ".join(sorted(accounts))
                raise ValueError(f"team_quotas names team {team!r}, which is no account (accounts: {known})")

    @property
    def simulated(self) -> bool:
        return self.api_key is None

    def api_key_value(self) -> str:
        return self.api_key.get_secret_value() if self.api_key else SIMULATOR_KEY


SIMULATOR_KEY = "simulator-key"
_HEADER_TEXT = re.compile(r"[!-~]+")


def is_key_text(key: str) -> bool:
    """Whether `key` is visible ASCII, all an HTTP header can carry as it is: a pasted non-breaking
    space or curly quote otherwise fails inside httpx with a traceback."""
    return _HEADER_TEXT.fullmatch(key) is not None


def check_key_text(key: str) -> None:
    """ValueError unless `is_key_text(key)`; the message never quotes the key."""
    if not is_key_text(key):
        raise ValueError("the key has a character other than visible ASCII (copy it again, without spaces)")
