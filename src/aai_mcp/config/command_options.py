"""The options of each subcommand beyond the server's `Settings`: one typed model per concern.

Flags, environment variables, config file keys, help texts and error messages are all derived from
these fields (`aai_mcp.config.options`); `aai_mcp.cli.main.COMMANDS` says which command uses which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from aai_mcp.access.scopes import METHOD_CLASSES
from aai_mcp.access.tokens import HEADER_NAME
from aai_mcp.config.marker import ARGUMENT, POSITIONAL, Option

SIMULATOR_PORT = 8765
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_EXPIRES = "24h"
CLIENTS = ("claude-desktop", "claude-code", "vscode", "cursor", "chatgpt")


class CommandOptions(BaseModel):
    """A command's own options: validated like Settings, unknown names refused."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
    ENV_PREFIX: ClassVar[str | None] = None
    FILE_SECTION: ClassVar[str | None] = None


class SimulateOptions(CommandOptions):
    """`aai-mcp simulate`: where the standalone simulator listens and what faults it injects.

    Its own --host/--port (AAI_MCP_SIMULATOR_*): AAI_MCP_HOST/PORT are for `serve`, and a simulator
    started next to it must neither clash with its port nor follow it onto 0.0.0.0.
    """

    ENV_PREFIX = "AAI_MCP_SIMULATOR_"
    FILE_SECTION = "simulate"

    host: str = Field(
        "127.0.0.1", description="Address the simulator binds; anything beyond loopback prints a warning."
    )
    port: int = Field(
        SIMULATOR_PORT,
        ge=0,
        le=65535,
        description="Port the simulator binds; 0 picks a free port, printed on stderr.",
    )
    key: str = Field(
        "sim-key",
        min_length=1,
        description="The API key the simulator accepts, also needed by its /_sim/ admin routes.",
    )
    keys: Annotated[
        SecretStr | None, Option(secret=True, hint="or list them in a file named by key_file")
    ] = Field(
        None,
        description="Keys the simulator accepts instead of --key, comma-separated: each one AssemblyAI "
        "account of its own (uploads and transcripts apart, rate-limited or rejected apart).",
    )
    key_file: Path | None = Field(
        None, description="File of keys the simulator accepts instead of --key, one a line (# comments)."
    )
    rate_429: float = Field(0.0, ge=0, le=1, description="Fraction of requests answered 429.")
    rate_5xx: float = Field(0.0, ge=0, le=1, description="Fraction of requests answered 5xx.")
    latency_ms: int = Field(0, ge=0, description="Latency added to every request, in milliseconds.")
    history: int = Field(
        0, ge=0, description="Completed transcripts the first key's account starts with (past ones)."
    )
    history_days: float = Field(
        30.0, gt=0, description="Days the --history transcripts are spread over (older than 90 are gone)."
    )
    history_seed: int = Field(0, description="Seed of the --history transcripts (same seed, same ids).")

    @model_validator(mode="after")
    def _rates_fit(self) -> Self:
        if self.rate_429 + self.rate_5xx > 1:
            raise ValueError("--rate-429 plus --rate-5xx must not exceed 1")
        return self


class ToolListOptions(CommandOptions):
    """`aai-mcp tools`."""

    json_output: Annotated[bool, Option(flag="--json", env=None, file=False)] = Field(
        False, description="Print JSON instead of a table."
    )


class ClientConfigOptions(CommandOptions):
    """`aai-mcp config CLIENT`: which client, and how it reaches the server."""

    client: Annotated[Literal[CLIENTS], POSITIONAL] = Field(description="The MCP client to configure.")  # type: ignore[valid-type]
    via: Annotated[Literal["stdio", "url"] | None, ARGUMENT] = Field(
        None,
        description="stdio: the client starts `aai-mcp stdio` itself (default, except chatgpt); "
        "url: it connects to a running `aai-mcp serve`.",
    )
    url: Annotated[str | None, ARGUMENT] = Field(
        None, description="The server's public base URL, e.g. https://mcp.example.com (implies url)."
    )
    name: Annotated[str, ARGUMENT] = Field("assemblyai", description="The server's name in the client.")


class TokenKeys(CommandOptions):
    """What the token commands share with `serve`: the same variables and config file keys."""

    ENV_PREFIX = "AAI_MCP_"

    token_secrets: Annotated[
        SecretStr | None, Option(secret=True, hint="or list them in a file named by token_secret_file")
    ] = Field(None, description="HMAC secrets that sign access tokens, comma-separated, first signs.")
    token_secret_file: Path | None = Field(
        None, description="File of signing secrets, one a line; or set AAI_MCP_TOKEN_SECRETS."
    )
    token_revocation_file: Annotated[Path | None, Option(flag="--revocation-file")] = Field(
        None, description="File of revoked token ids, the one the server reads."
    )
    data_dir: Path | None = Field(
        None,
        description="The data directory of the store's SQLite file, the one the server uses (default "
        "~/.local/share/aai-mcp); AAI_MCP_DATABASE_URL selects PostgreSQL instead.",
    )
    database_url: Annotated[SecretStr | None, Option(secret=True)] = Field(
        None, description="PostgreSQL URL of the store the servers share. Holds a password: environment only."
    )


class MintOptions(CommandOptions):
    """`aai-mcp token mint`: what the new token allows. Checked against the catalog when it runs."""

    name: Annotated[str, ARGUMENT] = Field(description="Who or what the token is for (shown by inspect).")
    methods: Annotated[str | None, ARGUMENT] = Field(
        None,
        description=f"Comma-separated method classes (effects) allowed ({', '.join(METHOD_CLASSES)}); a "
        "tool needs every effect it has. Default: all.",
    )
    toolsets: Annotated[str | None, ARGUMENT] = Field(
        None, description="Comma-separated toolsets allowed. Default: all."
    )
    tools: Annotated[str | None, ARGUMENT] = Field(
        None, description="Comma-separated tool names allowed. Default: all."
    )
    read_only: Annotated[bool, ARGUMENT] = Field(False, description="Allow only tools annotated read-only.")
    tags: Annotated[str | None, ARGUMENT] = Field(
        None, description="Allow only tools carrying at least one of these tags."
    )
    metrics: Annotated[bool, ARGUMENT] = Field(
        False, description="Also allow reading /metrics (every caller's tool usage) from anywhere."
    )
    metrics_only: Annotated[bool, ARGUMENT] = Field(
        False, description="Allow reading /metrics and nothing else (no tool): for a Prometheus scraper."
    )
    proxy: Annotated[bool, ARGUMENT] = Field(
        False, description="Also allow the team proxy (/v1/assemblyai): AssemblyAI's REST API as it is."
    )
    admin: Annotated[bool, ARGUMENT] = Field(
        False,
        description="Allow the admin API (/admin/v1: issue, list and revoke tokens) and nothing else; "
        "accepted only as a bearer, never in a URL.",
    )
    expires: Annotated[str, ARGUMENT] = Field(
        DEFAULT_EXPIRES,
        description="A lifetime (90m, 24h, 7d, 2w), an ISO-8601 time (UTC unless it has an offset) "
        "or 'never'.",
    )
    account: Annotated[str, ARGUMENT] = Field("default", description="The account the token acts for.")
    require_header: Annotated[bool, ARGUMENT] = Field(
        False, description=f"Also require a second secret in the {HEADER_NAME} header (printed once, now)."
    )
    base_url: Annotated[str, ARGUMENT] = Field(
        DEFAULT_BASE_URL, description="The server's address for the printed URL."
    )


class TokenListOptions(CommandOptions):
    """`aai-mcp token list`: the issued tokens recorded in the store."""

    all: Annotated[bool, ARGUMENT] = Field(False, description="Also list expired tokens not yet pruned.")
    json_output: Annotated[bool, Option(flag="--json", env=None, file=False)] = Field(
        False, description="Print JSON (as GET /admin/v1/tokens answers) instead of a table."
    )


class InspectOptions(CommandOptions):
    """`aai-mcp token inspect TOKEN`."""

    token: Annotated[str, POSITIONAL] = Field(description="The token to read.")
    unverified: Annotated[bool, ARGUMENT] = Field(
        False, description="Show the claims without checking the signature."
    )


class RevokeOptions(CommandOptions):
    """`aai-mcp token revoke JTI`."""

    jti: Annotated[str, POSITIONAL] = Field(description="The token id (tok_...) or the whole token.")
    reason: Annotated[str | None, ARGUMENT] = Field(
        None, description="Why, kept with the revocation in the store or the file (no secrets: it is shown)."
    )


class KeyEnableOptions(CommandOptions):
    """`aai-mcp keys enable NAME`."""

    name: Annotated[str, POSITIONAL] = Field(
        description="The pooled key's name as `aai-mcp keys list` shows it (account/VAR), never its value."
    )


class UsageOptions(CommandOptions):
    """`aai-mcp usage`: which team and period to show."""

    team: Annotated[str | None, Option(env=None, file=False)] = Field(
        None, description="Show this team (account) only."
    )
    since: Annotated[str, Option(env=None, file=False)] = Field(
        "month",
        description="Start of the period: month (this calendar month, UTC), a date YYYY-MM-DD (UTC), "
        "or a span back from now such as 7d or 12h.",
    )
    json_output: Annotated[bool, Option(flag="--json", env=None, file=False)] = Field(
        False, description="Print JSON instead of a table."
    )


class CatalogDiffOptions(CommandOptions):
    """`aai-mcp catalog diff SPEC...`."""

    specs: Annotated[list[str], POSITIONAL] = Field(
        description="AssemblyAI spec files to compare with: OpenAPI (.json or .yml) or an SDK fields "
        "list (like tool_schemas/upstream/sdk-fields.yaml)."
    )
    omissions: Annotated[str | None, Option(env=None, file=False)] = Field(
        None,
        description="The allow-list of deliberate differences (default: the catalog's "
        "tool_schemas/upstream/omissions.yaml).",
    )
