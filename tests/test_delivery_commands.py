"""The delivery commands end to end, on SQLite and PostgreSQL, with a real receiver on loopback:
`archive deliver --drain` delivers through injected 500s, two of them at once share the outbox,
`archive redeliver` lists dead letters and replays them by id or all, and `aai-mcp serve` (store
open) runs the worker by itself. Nothing shows a
destination's URL or secret."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pydantic import SecretStr

from aai_mcp.cli.main import main
from aai_mcp.config.settings import Settings
from aai_mcp.delivery.deliveries import archive_store_of
from aai_mcp.state.archive_store import ArchivedTranscript
from aai_mcp.state.delivery_outbox import DeliveryOutbox
from tests.support.delivery_receiver import Receiver
from tests.support.servers import clean_env, serve_app_in_thread, serve_in_process, wait_until
from tests.support.stores import StoreConfig

pytestmark = pytest.mark.slow
SECRET = "whsec-commands-test-secret-01"
PATH_TOKEN = "path-token-7f3a"


def _env(store_config: StoreConfig, base_url: str) -> dict[str, str]:
    return {
        **store_config.env(),
        "CRM_SECRET": SECRET,
        "AAI_MCP_DELIVERY_DESTINATIONS": f"crm={base_url}/hooks/{PATH_TOKEN}#env:CRM_SECRET",
        "AAI_MCP_DELIVERY_RETRY_SECONDS": "0.05",
    }


def _archive(store_config: StoreConfig, env: dict[str, str], count: int) -> None:
    store = store_config.open(auto_upgrade=True)
    try:
        settings = Settings(delivery_destinations=SecretStr(env["AAI_MCP_DELIVERY_DESTINATIONS"]))
        archive = archive_store_of(store.engine, settings, env)
        for n in range(count):
            archive.upsert(ArchivedTranscript(f"t-{n}", "completed", {}, text=f"call {n}"))
    finally:
        store.close()


@contextmanager
def _receiving(
    receiver: Receiver, store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    with serve_app_in_thread(receiver.app()) as base_url:
        env = _env(store_config, base_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield base_url


def _secrets_absent(text: str, base_url: str) -> None:
    assert SECRET not in text and PATH_TOKEN not in text and base_url not in text


def test_deliver_drain_delivers_through_injected_500s(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    receiver = Receiver(SECRET, lambda _id, tries: "500" if tries < 2 else None)
    with _receiving(receiver, store_config, monkeypatch) as base_url:
        _archive(store_config, _env(store_config, base_url), 5)
        assert main(["archive", "deliver", "--drain"]) == 0
    said = capfd.readouterr().err
    assert "outbox: 0 pending, 5 delivered, 0 dead letters" in said
    assert len(receiver.accepted) == 5 and set(receiver.accepted.values()) == {1}
    _secrets_absent(said, base_url)


def test_redeliver_lists_dead_letters_and_replays_by_id_then_all(
    store_config: StoreConfig, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    refusing = True
    receiver = Receiver(SECRET, lambda _id, _tries: "410" if refusing else None)
    with _receiving(receiver, store_config, monkeypatch) as base_url:
        _archive(store_config, _env(store_config, base_url), 3)
        assert main(["archive", "deliver", "--drain"]) == 1  # dead letters left
        assert main(["archive", "redeliver"]) == 0
        listed = capfd.readouterr().out.splitlines()
        ids = [line.split("\t")[0] for line in listed]
        assert len(ids) == 3 and all(
            line.split("\t")[1:3] == ["crm", "transcript.archived"] for line in listed
        )
        refusing = False
        assert main(["archive", "redeliver", "--id", ids[1]]) == 1  # two are still dead
        assert set(receiver.accepted) == {ids[1]}
        assert main(["archive", "redeliver", "--all"]) == 0
    said = capfd.readouterr().err
    assert "2 dead letters back in the outbox" in said and "0 dead letters" in said
    assert set(receiver.accepted) == set(ids) and set(receiver.accepted.values()) == {1}
    _secrets_absent(said, base_url)


def test_serve_runs_the_delivery_worker(store_config: StoreConfig) -> None:
    receiver = Receiver(SECRET, lambda _id, tries: "500" if tries == 0 else None)
    with serve_app_in_thread(receiver.app()) as base_url:
        env = _env(store_config, base_url)
        _archive(store_config, env, 2)
        served_env = clean_env(AAI_MCP_TOKEN_SECRETS="serve-secret-0123456789abcdefghijklmnopqrstuv", **env)
        with serve_in_process("--auth", "tokens", env=served_env) as server:
            wait_until(lambda: len(receiver.accepted) == 2, timeout=60, what="two deliveries")
            logs = server.stderr()
    assert set(receiver.accepted.values()) == {1}
    store = store_config.open()
    try:
        assert DeliveryOutbox(store.engine).counts() == {"pending": 0, "delivered": 2, "dead": 0}
    finally:
        store.close()
    _secrets_absent(logs, base_url)


def test_two_deliver_processes_share_the_outbox(store_config: StoreConfig) -> None:
    receiver = Receiver(
        SECRET, lambda event_id, tries: "500" if tries == 0 and event_id[-1] in "0369" else None
    )
    with serve_app_in_thread(receiver.app()) as base_url:
        env = _env(store_config, base_url)
        _archive(store_config, env, 40)
        command = [sys.executable, "-m", "aai_mcp", "archive", "deliver", "--drain"]
        processes = [
            subprocess.Popen(command, env=clean_env(**env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        said = [process.communicate(timeout=300)[1].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0], said
    assert receiver.most_in_flight == 1
    assert len(receiver.accepted) == 40 and set(receiver.accepted.values()) == {1}
    for text in said:
        _secrets_absent(text, base_url)
