"""The key pool's state in the durable store, on SQLite and PostgreSQL: cooldowns, disabled keys and
which key made each resource, seen by every instance and kept across restarts."""

from __future__ import annotations

import pytest

from aai_mcp.state.store_sql import SqlStore
from tests.support.stores import StoreConfig


def test_a_cooldown_is_only_ever_lengthened(store: SqlStore) -> None:
    store.cool_key("team/A", 2000.0)
    store.cool_key("team/A", 1500.0)
    assert store.key_states()["team/A"].cooling_until == 2000.0
    store.cool_key("team/A", 2500.0)
    assert store.key_states()["team/A"].cooling_until == 2500.0
    assert "team/B" not in store.key_states()


def test_a_disabled_key_stays_out_until_enabled(store: SqlStore) -> None:
    store.disable_key("team/A", "upstream answered 401")
    store.disable_key("team/A", "upstream answered 403")  # the first reason stays
    state = store.key_states()["team/A"]
    assert state.disabled and state.disabled_reason == "upstream answered 401"
    assert store.enable_key("team/A")
    assert "team/A" not in store.key_states()
    assert not store.enable_key("team/A")


def test_resource_affinity_is_recorded_and_overwritten(store: SqlStore) -> None:
    store.record_resource_key(["tr_1", "tr_2", "tr_1", ""], "team/A")
    assert store.resource_key("tr_1") == "team/A"
    assert store.resource_key("tr_2") == "team/A"
    assert store.resource_key("tr_3") is None
    store.record_resource_key(["tr_2"], "team/B")
    assert store.resource_key("tr_2") == "team/B"
    store.record_resource_key([], "team/B")  # nothing to record is no error


def test_key_state_and_affinity_survive_a_restart_and_reach_another_instance(
    store_config: StoreConfig,
) -> None:
    first = store_config.open(auto_upgrade=True)
    second = store_config.open(auto_upgrade=True)
    try:
        first.record_resource_key(["https://cdn.assemblyai.com/upload/u1"], "team/A")
        first.disable_key("team/B", "upstream answered 403")
        assert second.resource_key("https://cdn.assemblyai.com/upload/u1") == "team/A"
        assert second.key_states()["team/B"].disabled
    finally:
        first.close()
        second.close()
    reopened = store_config.open()
    try:
        assert reopened.resource_key("https://cdn.assemblyai.com/upload/u1") == "team/A"
        assert reopened.key_states()["team/B"].disabled
    finally:
        reopened.close()


def test_key_names_must_fit(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="key name"):
        store.cool_key("", 1.0)
    with pytest.raises(ValueError, match="key name"):
        store.disable_key("k" * 201, "x")
