"""`--unit` (scripts/check) runs only in-process tests, and its guard catches any that is not."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import unit_boundary
from tests.support.unit_boundary import END_TO_END, BoundaryCrossed, end_to_end

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def guarded() -> Iterator[unit_boundary.Crossings]:
    undo = unit_boundary.install()
    try:
        yield unit_boundary.CROSSINGS
    finally:
        undo()
        unit_boundary.CROSSINGS.take()  # what this test provoked on purpose is not a crossing of its own


def test_the_guard_refuses_a_process_and_names_it(guarded: unit_boundary.Crossings) -> None:
    with pytest.raises(BoundaryCrossed, match="starting a process"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert guarded.take() == [f"starting a process ({[sys.executable, '-c', 'pass']!r:.120})"]


@pytest.mark.parametrize(
    ("family", "address"), [(socket.AF_INET, ("127.0.0.1", 0)), (socket.AF_INET6, ("::1", 0))]
)
def test_the_guard_refuses_tcp_binds_and_connects(
    guarded: unit_boundary.Crossings, family: socket.AddressFamily, address: tuple[str, int]
) -> None:
    with socket.socket(family) as sock:
        with pytest.raises(BoundaryCrossed, match="socket bind"):
            sock.bind(address)
        with pytest.raises(BoundaryCrossed, match="socket connect"):
            sock.connect((address[0], 9))
        with pytest.raises(BoundaryCrossed, match="socket connect_ex"):
            sock.connect_ex((address[0], 9))
    assert len(guarded.take()) == 3


def test_the_guard_lets_in_memory_plumbing_through(guarded: unit_boundary.Crossings) -> None:
    # The event loop's self-pipe and anyio's memory streams use socketpairs: no network, allowed.
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
    assert guarded.take() == []


def test_undo_puts_back_what_was_there() -> None:
    before = (subprocess.Popen.__init__, socket.socket.bind, socket.socket.connect)
    unit_boundary.install()()
    assert (subprocess.Popen.__init__, socket.socket.bind, socket.socket.connect) == before


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        ("tests/test_transports.py::test_healthz", True),
        ("tests/test_cli.py::test_output_into_a_closed_pipe_ends_quietly[command3]", True),
        ("tests/test_cli.py::test_every_bounded_option_out_of_range_names_itself", False),
        ("tests/test_catalog.py::test_catalog_loads", False),
    ],
)
def test_end_to_end_names_modules_and_tests_whatever_their_parameters(nodeid: str, expected: bool) -> None:
    assert end_to_end(nodeid) is expected


def test_every_listed_module_and_test_exists() -> None:
    # A renamed test would silently rejoin the unit run (and the guard would fail it there).
    for entry in END_TO_END:
        module, _, name = entry.partition("::")
        source = (ROOT / module).read_text(encoding="utf-8")
        assert not name or re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), entry


INNER_TESTS = """
import subprocess

import pytest


def test_in_memory():
    assert True


def test_hides_a_process():
    try:
        subprocess.run(["true"], check=False)
    except Exception:
        pass  # swallowed: the guard must still fail this test


@pytest.mark.slow
def test_marked_end_to_end():
    subprocess.run(["true"], check=True)
"""


def test_a_unit_run_deselects_slow_tests_and_fails_one_that_crossed_even_if_it_hid_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_inner=INNER_TESTS)
    pytester.makeini("[pytest]\nmarkers =\n    slow: end-to-end\n")
    result = pytester.runpytest_inprocess(
        "-p", "tests.support.unit_boundary", "--unit", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2, errors=1, deselected=1)
    result.stdout.fnmatch_lines(["*this unit test crossed the in-process boundary*", "*starting a process*"])
    assert unit_boundary.CROSSINGS.take() == []
