"""The MCP Apps extension advertised to clients of both protocol eras this server speaks."""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.server.lowlevel import NotificationOptions, Server

EXTENSION_SETTINGS: dict[str, Any] = {"mimeTypes": [APP_MIME_TYPE]}


class AppsServer(Server[Any]):
    """The low-level server, announcing `io.modelcontextprotocol/ui`.

    2026-07-28 clients read `capabilities.extensions` (initialize and server/discover). The SDK leaves
    that key out of a 2025-11-25 initialize result (the field is not in that era's schema), so the
    extension is also named under `capabilities.experimental`, the map that era keeps for
    capabilities outside the spec; hosts of either era then see it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extensions[EXTENSION_ID] = dict(EXTENSION_SETTINGS)
        self.tasks_capability: dict[str, Any] | None = None
        """The 2025-11-25 `capabilities.tasks` (set when the server runs tools as MCP Tasks)."""
        self.tools_list_changes = False
        """Announce `tools.listChanged` (2025-11-25): the tool list changes within a session
        (--dynamic-toolsets). The transports pass no NotificationOptions of their own."""

    def get_capabilities(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
        *,
        protocol_version: str | None = None,
    ) -> types.ServerCapabilities:
        experimental = {EXTENSION_ID: dict(EXTENSION_SETTINGS), **(experimental_capabilities or {})}
        if self.tools_list_changes:
            given = notification_options or NotificationOptions()
            notification_options = NotificationOptions(
                prompts_changed=given.prompts_changed,
                resources_changed=given.resources_changed,
                tools_changed=True,
            )
        capabilities = super().get_capabilities(
            notification_options, experimental, extensions, protocol_version=protocol_version
        )
        if self.tasks_capability is not None:
            capabilities.tasks = types.ServerTasksCapability.model_validate(self.tasks_capability)
        return capabilities
