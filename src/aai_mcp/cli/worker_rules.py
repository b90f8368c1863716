"""When `serve --workers N` (N > 1) is refused, and why.

Each worker is a process of its own, exactly like one more instance behind a load balancer, except
that the kernel, not a proxy, picks the worker for each new connection: nothing can be sticky. So
whatever several instances need, several workers need too, and what one process keeps in memory for a
later request must not be needed by another: MCP sessions (stateful Streamable HTTP), the built-in
simulator's transcripts, and limits counted in memory when no Redis shares them.
"""

from __future__ import annotations

from aai_mcp.config.options import option_names
from aai_mcp.config.settings import Settings


def workers_refusal(settings: Settings) -> str | None:
    """Why these settings cannot run in several worker processes; None when they can (or N is 1)."""
    workers = settings.workers
    if workers == 1:
        return None
    asked = f"{workers} workers ({option_names('workers')})"
    if not settings.stateless:
        return (
            f"{asked} need {option_names('stateless')}: an MCP session lives in the memory of the "
            "process that opened it, and the kernel hands each new connection to any worker, so a "
            "session's next request would reach a worker that does not know it. Serve stateless, or run "
            "one worker per instance behind a proxy with sticky sessions"
        )
    if settings.simulated:
        return (
            f"{asked} need ASSEMBLYAI_API_KEY: without a key each worker would run a built-in simulator "
            "of its own, and a transcript created on one worker would be unknown to the others. Set the "
            "key, or run one `aai-mcp simulate` and point the workers at it (the key it accepts, and "
            f"{option_names('api_base_url')})"
        )
    counted = limits_counted_in_memory(settings)
    if counted and settings.redis_url is None:
        return (
            f"{asked} need AAI_MCP_REDIS_URL with {'; '.join(counted)}: without shared state each "
            f"worker counts these limits in its own memory, so together the workers would allow {workers} "
            "times as much"
        )
    return None


def limits_counted_in_memory(settings: Settings) -> list[str]:
    """The limits these settings turn on that are counted in shared state (in-process without Redis)."""
    found = []
    if set(settings.auth) - {"none"}:
        per_token = option_names("max_concurrent_calls_per_token")
        found.append(f"auth {','.join(settings.auth)} (calls per token, {per_token})")
    if "oauth" in settings.auth:
        found.append("OAuth consent sign-in attempts")
    if settings.team_quotas:
        found.append(f"{option_names('team_quotas')} (requests per minute, jobs)")
    if settings.public_url is not None:
        found.append(f"upload-link requests per client ({option_names('upload_link_requests_per_minute')})")
    return found
