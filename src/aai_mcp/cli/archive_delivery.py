"""`aai-mcp archive deliver`: run the delivery worker (until Ctrl-C, or --drain: until nothing is
pending). `aai-mcp archive redeliver`: list dead letters, or replay them (--all, --id) and try each once now.

Exit codes: 0 done, 1 the store failed or a replayed row died again, 2 the configuration is wrong,
130 interrupted.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Literal

from aai_mcp.cli.archive_admin import error
from aai_mcp.cli.store_session import with_store
from aai_mcp.config.delivery_options import DeliverOptions, RedeliverOptions
from aai_mcp.config.settings import Settings

if TYPE_CHECKING:
    from aai_mcp.state.delivery_outbox import DeliveryOutbox
    from aai_mcp.state.store_sql import SqlStore


def run_deliver(options: DeliverOptions, settings: Settings) -> int:
    if (problem := _destinations_problem(settings)) is not None:
        return problem
    mode: Literal["run", "drain"] = "drain" if options.drain else "run"
    code = with_store("archive deliver", settings, lambda store: _deliver(store, settings, mode))
    return 1 if code is None else code


def run_redeliver(options: RedeliverOptions, settings: Settings) -> int:
    if (problem := _destinations_problem(settings)) is not None:
        return problem
    code = with_store("archive redeliver", settings, lambda store: _redeliver(store, settings, options))
    return 1 if code is None else code


def _destinations_problem(settings: Settings) -> int | None:
    from aai_mcp.config.options import option_names
    from aai_mcp.delivery.deliveries import configured_destinations
    from aai_mcp.delivery.destinations import DestinationError

    try:
        found = configured_destinations(settings)
    except DestinationError as exc:
        return error(f"{option_names('delivery_destinations')}: {exc}", 2)
    if not found:
        return error(f"no destination is configured: set {option_names('delivery_destinations')}", 2)
    return None


def _deliver(store: SqlStore, settings: Settings, mode: Literal["run", "drain", "due"]) -> int:
    import anyio

    from aai_mcp.delivery.running import delivery_client, worker_of
    from aai_mcp.state.delivery_outbox import DeliveryOutbox

    async def work() -> None:
        async with delivery_client() as client:
            worker = worker_of(store.engine, settings, client)
            await {"run": worker.run, "drain": worker.drain, "due": worker.deliver_due}[mode]()

    print(f"aai-mcp archive: delivering from {store.shown}", file=sys.stderr, flush=True)
    try:
        anyio.run(work)
    except KeyboardInterrupt:
        return error("interrupted; pending deliveries stay in the outbox", 130)
    return _report(DeliveryOutbox(store.engine).counts())


def _redeliver(store: SqlStore, settings: Settings, options: RedeliverOptions) -> int:
    from aai_mcp.state.delivery_outbox import DeliveryOutbox

    outbox = DeliveryOutbox(store.engine)
    ids = options.event_ids
    if ids == []:
        return _list_dead(outbox)
    replayed = outbox.requeue_dead(ids)
    print(f"aai-mcp archive: {replayed} dead letters back in the outbox", file=sys.stderr, flush=True)
    # Each replayed row is tried once now; one that fails again waits for its retry in the worker
    # (serve, archive sync --every, archive deliver), not in this command.
    return _deliver(store, settings, "due") if replayed else 0


def _list_dead(outbox: DeliveryOutbox) -> int:
    dead = outbox.dead_letters()
    for letter in dead:
        answer = letter.last_status if letter.last_status is not None else letter.last_error
        print(f"{letter.event_id}\t{letter.destination}\t{letter.kind}\t{letter.subject_id}\t"
              f"{letter.attempts} tries\t{answer}")  # fmt: skip
    print(f"aai-mcp archive: {len(dead)} dead letters; replay with --all or --id EVENT_ID", file=sys.stderr)
    return 0


def _report(counts: dict[str, int]) -> int:
    print(
        f"aai-mcp archive: outbox: {counts['pending']} pending, {counts['delivered']} delivered, "
        f"{counts['dead']} dead letters",
        file=sys.stderr,
        flush=True,
    )
    return 1 if counts["dead"] else 0
