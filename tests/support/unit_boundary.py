"""What `--unit` (scripts/check) runs, and the guard that keeps that honest.

A unit test runs in this process: no child process (servers, node, the CLI as a subprocess) and no
TCP socket (uvicorn on loopback, a real client), only in-memory transports (the SDK client against
the server object, httpx.ASGITransport, respx). Tests that need more carry the `slow` marker, and so
do the property-based sweeps (hypothesis over every tool): in-process, but a minute of CPU between
them, which would keep scripts/check from being run on every change.

Loaded as a plugin by conftest.py. With `--unit` it deselects `slow` tests and, for the whole
session, refuses every process start and every IPv4/IPv6 bind or connect, from any thread. A test
during which that happened fails at teardown, naming what it tried, so a test that crosses the
boundary without the marker is found, not silently timed into scripts/check.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

NETWORK_FAMILIES = (socket.AF_INET, socket.AF_INET6)

# Tests that cross the boundary without saying so in their own file: whole modules, or one test of a
# module that is otherwise in-process. Kept here, beside the guard that finds any this list misses,
# so a test file need not change to be classified.
END_TO_END = (
    "tests/test_store_cli.py::test_db_with_an_unreachable_database_exits_1_without_the_password",
    "tests/test_revocation_store.py::test_healthz_names_the_store_and_turns_503_when_it_is_stale",
    "tests/test_error_kinds.py::test_each_kind_end_to_end",
    "tests/test_one_yaml_tool.py::test_the_fault_matrix_holds_for_it",
    "tests/test_shared_polling.py",
    "tests/test_shared_state.py",
    "tests/test_access_accounts.py",
    "tests/test_access_composite.py",
    "tests/test_access_http.py",
    "tests/test_access_matrix.py",
    "tests/test_access_reads.py",
    "tests/test_access_variants.py",
    "tests/test_bench_smoke.py",
    "tests/test_credential_conflicts.py",
    "tests/test_doctor.py",
    "tests/test_exhaustion.py",
    "tests/test_fault_matrix.py",
    "tests/test_graceful_shutdown.py",
    "tests/test_health.py",
    "tests/test_host_check.py",
    "tests/test_inspector_cli.py",
    "tests/test_key_characters.py",
    "tests/test_load_script.py",
    "tests/test_request_framing.py",
    "tests/test_scale_out.py",
    "tests/test_session_ownership.py",
    "tests/test_simulator_exposure.py",
    "tests/test_stream_caps.py",
    "tests/test_transports.py",
    "tests/test_typescript_client.py",
    "tests/test_upload_urls.py",
    "tests/test_workflows.py",
    "tests/simulator/test_official_sdk.py",
    "tests/simulator/test_sdk_streaming.py",
    # property-based sweeps, in-process but long
    "tests/test_fuzz.py",
    "tests/test_request_bodies.py",
    "tests/test_canary.py::test_a_key_split_across_chunks_or_in_a_header_is_caught",
    "tests/test_canary.py::test_http_responses_of_the_gateway_are_checked",
    "tests/test_canary.py::test_the_plugin_fails_tests_that_leak_and_exceptions_that_name_the_key",
    "tests/test_cli.py::test_output_into_a_closed_pipe_ends_quietly",
    "tests/test_client_config.py::test_the_claude_desktop_stdio_entry_really_starts_a_server",
    "tests/test_error_results.py::test_a_passthrough_key_that_cannot_be_a_header_is_refused_at_the_door",
    "tests/test_hostile_input.py::test_an_oversize_request_body_gets_413_and_the_server_keeps_serving",
    "tests/test_revocation_file.py::test_the_server_keeps_answering_whatever_is_at_the_path",
    "tests/test_schema_portability.py::test_inspector_reports_no_portability_findings_over_http",
    "tests/test_token_cli.py::test_mint_prints_every_form_of_the_token",
    "tests/test_upload_paths.py::test_a_huge_path_is_refused_and_healthz_keeps_answering",
    "tests/test_upload_paths.py::test_filesystem_work_runs_off_the_event_loop",
    "tests/test_upload_variants.py::test_a_compressed_answer_is_relayed_as_received_and_counted_so",
    "tests/test_upload_variants.py::test_a_huge_header_block_is_a_download_failure",
    "tests/test_upload_variants.py::test_a_redirect_to_an_unparsable_location_is_a_tool_error",
    "tests/test_upload_variants.py::test_proxy_variables_are_ignored",
)
HINT = "mark it @pytest.mark.slow (end-to-end), or keep it in-process (tests/support/unit_boundary.py)"


class BoundaryCrossed(RuntimeError):
    """A unit test tried to start a process or use a TCP socket."""


class Crossings:
    """What tests tried since the last `take`, from every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[str] = []

    def refuse(self, what: str) -> BoundaryCrossed:
        with self._lock:
            self._seen.append(what)
        return BoundaryCrossed(f"unit run: {what} is not allowed; {HINT}")

    def take(self) -> list[str]:
        with self._lock:
            seen, self._seen = self._seen, []
        return seen


CROSSINGS = Crossings()


def _refusing_popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
    raise CROSSINGS.refuse(f"starting a process ({args!r:.120})")


def _network_only(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(self: socket.socket, address: Any, *rest: Any) -> Any:
        if self.family in NETWORK_FAMILIES:
            raise CROSSINGS.refuse(f"socket {name} to {address!r}")
        return original(self, address, *rest)

    return guarded


def install() -> Callable[[], None]:
    """Refuse processes and TCP sockets; returns the function that allows them again."""
    patch = pytest.MonkeyPatch()
    patch.setattr(subprocess.Popen, "__init__", _refusing_popen)
    for name in ("bind", "connect", "connect_ex"):
        patch.setattr(socket.socket, name, _network_only(name, getattr(socket.socket, name)))
    return patch.undo


# --- pytest wiring -------------------------------------------------------------------------------

_UNDO = pytest.StashKey[Callable[[], None]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--unit",
        action="store_true",
        help="run only in-process tests (not `slow`); fail any that starts a process or opens a TCP socket",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    # From the first test on, not before: session start-up may start processes of its own (pytest-xdist
    # a worker's platform details). Under pytest-xdist the controller starts the workers as processes
    # and runs no test itself: the guard belongs in the workers.
    config = session.config
    if config.getoption("unit") and not _xdist_controller(config):
        config.stash[_UNDO] = install()


def _xdist_controller(config: pytest.Config) -> bool:
    is_worker = hasattr(config, "workerinput")
    return not is_worker and config.getoption("numprocesses", default=None) not in (None, 0)


def pytest_unconfigure(config: pytest.Config) -> None:
    undo = config.stash.get(_UNDO, None)
    if undo is not None:
        undo()


def end_to_end(nodeid: str) -> bool:
    """Whether END_TO_END names this test (its module, or the test whatever its parameters)."""
    module, _, rest = nodeid.partition("::")
    return module in END_TO_END or f"{module}::{rest.split('[')[0]}" in END_TO_END


REAL_SERVERS = frozenset({"postgres_server", "shared_redis"})
"""Fixtures that start a real server on a socket: a test using one is end-to-end."""


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under --unit, a module END_TO_END lists whole is not even imported: collecting it would only
    deselect every test in it, and importing those modules was a fifth of the run's time."""
    if not config.getoption("unit") or collection_path.suffix != ".py":
        return None
    relative = collection_path.relative_to(config.rootpath).as_posix()
    return True if relative in END_TO_END else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if end_to_end(item.nodeid) or REAL_SERVERS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    if not config.getoption("unit"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


def pytest_runtest_setup(item: pytest.Item) -> None:
    CROSSINGS.take()  # wider fixtures set up for this test count towards it, the last test's do not


@pytest.fixture(autouse=True)
def in_process_only() -> Iterator[None]:
    yield
    crossed = CROSSINGS.take()
    if crossed:
        listed = "\n".join(f"  {what}" for what in crossed)
        pytest.fail(f"this unit test crossed the in-process boundary:\n{listed}\n{HINT}", pytrace=False)
