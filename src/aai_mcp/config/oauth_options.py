"""The options of `aai-mcp oauth clients | revoke` beyond the store settings."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from aai_mcp.config.command_options import CommandOptions
from aai_mcp.config.marker import POSITIONAL, Option


class OAuthClientsOptions(CommandOptions):
    """`aai-mcp oauth clients [--remove ID]`."""

    remove: Annotated[str | None, Option(env=None, file=False)] = Field(
        None,
        max_length=2000,
        description="Remove this client's registration and revoke every grant it holds (its tokens are "
        "refused by every instance within a second).",
    )


class OAuthRevokeOptions(CommandOptions):
    """`aai-mcp oauth revoke GRANT_ID`."""

    grant_id: Annotated[str, POSITIONAL] = Field(
        max_length=64, description="The grant's id as `aai-mcp oauth grants` shows it."
    )
