"""The suite-wide canary: the fake key in tests.support must never leave the gateway.

Loaded as a plugin by conftest.py. For the whole session it
- puts the canary in ASSEMBLYAI_API_KEY (tests that want the simulator say api_key=None; subprocess
  servers get clean_env()),
- checks every CallToolResult (and exception) of `ToolRunner.call`,
- checks every HTTP response (headers and body) of every app `build_http_app` builds: that function
  looks `Starlette` up in its module when it runs, so replacing that one name reaches every caller,
  however it imported `build_http_app`, without touching the simulator's own Starlette app,
- checks every log record when it is created (a record factory, not a handler: uvicorn's dictConfig
  replaces handlers and its loggers do not propagate, and a record is a leak even where nobody
  writes it down; the product's own loggers are opened to DEBUG so their records exist at all),
- fails a test whose exception text contains the canary (pytest_runtest_makereport).
A leak fails the test that produced it at teardown; `canary.expect_leak()` lets a test plant one on
purpose and look at what was caught.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import traceback
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

import aai_mcp.transports.http as http_transport
from aai_mcp.mcp_server.runtime.runner import ToolRunner
from tests.support import CANARY_KEY

KEY_BYTES = CANARY_KEY.encode()
OPENED_LOGGERS = ("aai_mcp",)
SHOWN = "<CANARY>"


@dataclass(frozen=True)
class Leak:
    where: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.where}: {self.excerpt}"


class CanaryWatch:
    """Collects leaks from every thread; `expect_leak` diverts them to a list the test can inspect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leaks: list[Leak] = []

    def check(self, where: str, text: str) -> None:
        at = text.find(CANARY_KEY)
        if at < 0:
            return
        excerpt = text[max(0, at - 80) : at + len(CANARY_KEY) + 80].replace(CANARY_KEY, SHOWN)
        with self._lock:
            self._leaks.append(Leak(where, " ".join(excerpt.split())))

    def take(self) -> list[Leak]:
        with self._lock:
            leaks, self._leaks = self._leaks, []
        return leaks

    @contextmanager
    def expect_leak(self) -> Iterator[list[Leak]]:
        """Leaks inside the block go to the yielded list instead of failing the test."""
        earlier = self.take()
        caught: list[Leak] = []
        try:
            yield caught
        finally:
            caught.extend(self.take())
            with self._lock:
                self._leaks[:0] = earlier


WATCH = CanaryWatch()


def exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


# --- the detectors -------------------------------------------------------------------------------


def checked_tool_call(call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    async def checked(self: ToolRunner, *args: Any, **kwargs: Any) -> Any:
        try:
            result = await call(self, *args, **kwargs)
        except BaseException as exc:
            WATCH.check("exception from a tool call", exception_text(exc))
            raise
        WATCH.check("tool result", result.model_dump_json(by_alias=True))
        return result

    return checked


class CheckedStarlette(Starlette):
    """The gateway's HTTP app, with every response it sends checked on the way out."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        tail = b""

        async def checked_send(message: Message) -> None:
            nonlocal tail
            if message["type"] == "http.response.start":
                headers = b"\n".join(name + b": " + value for name, value in message.get("headers", []))
                _check_bytes("HTTP response headers", headers)
            elif message["type"] == "http.response.body":
                # The previous chunk's tail catches a key split across two chunks.
                seen = tail + message.get("body", b"")
                _check_bytes("HTTP response body", seen)
                tail = seen[-(len(KEY_BYTES) - 1) :]
            await send(message)

        await super().__call__(scope, receive, checked_send)


def _check_bytes(where: str, data: bytes) -> None:
    if KEY_BYTES in data:
        WATCH.check(where, data.decode("utf-8", "replace"))


def check_record(record: logging.LogRecord) -> None:
    try:
        text = record.getMessage()
    except Exception:  # a bad format string is logging's problem to report, not ours
        text = f"{record.msg} {record.args}"
    if isinstance(record.exc_info, tuple) and record.exc_info[1] is not None:
        text += "\n" + exception_text(record.exc_info[1])
    if record.exc_text:
        text += "\n" + record.exc_text
    if record.stack_info:
        text += "\n" + record.stack_info
    WATCH.check(f"log record ({record.name})", text)


def install() -> Callable[[], None]:
    """Turn every detector on; returns the function that turns them off again."""
    original_call = ToolRunner.call
    ToolRunner.call = checked_tool_call(original_call)  # type: ignore[method-assign]
    original_starlette = http_transport.Starlette  # type: ignore[attr-defined]
    http_transport.Starlette = CheckedStarlette  # type: ignore[attr-defined]
    original_factory = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original_factory(*args, **kwargs)
        check_record(record)
        return record

    logging.setLogRecordFactory(factory)
    levels = {name: logging.getLogger(name).level for name in OPENED_LOGGERS}
    for name in OPENED_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    previous_key = os.environ.get("ASSEMBLYAI_API_KEY")
    os.environ["ASSEMBLYAI_API_KEY"] = CANARY_KEY

    def uninstall() -> None:
        ToolRunner.call = original_call  # type: ignore[method-assign]
        http_transport.Starlette = original_starlette  # type: ignore[attr-defined]
        logging.setLogRecordFactory(original_factory)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if previous_key is None:
            os.environ.pop("ASSEMBLYAI_API_KEY", None)
        else:
            os.environ["ASSEMBLYAI_API_KEY"] = previous_key

    return uninstall


# --- pytest wiring -------------------------------------------------------------------------------

_UNINSTALL = pytest.StashKey[Callable[[], None]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_UNINSTALL] = install()


def pytest_unconfigure(config: pytest.Config) -> None:
    uninstall = config.stash.get(_UNINSTALL, None)
    if uninstall is not None:
        uninstall()


@pytest.fixture(autouse=True)
def canary() -> Iterator[CanaryWatch]:
    """Fails the test if anything it ran leaked the canary key (request it to use expect_leak)."""
    _fail_on(WATCH.take(), "before this test (a wider fixture, or the previous test's teardown)")
    yield WATCH
    _fail_on(WATCH.take(), "during this test")


def _fail_on(leaks: list[Leak], when: str) -> None:
    if leaks:
        listed = "\n".join(f"  {leak}" for leak in leaks)
        pytest.fail(f"the canary key leaked {when} ({SHOWN} marks it):\n{listed}", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if call.excinfo is None or CANARY_KEY not in exception_text(call.excinfo.value):
        return
    last = call.excinfo.traceback[-1]
    raised = "".join(traceback.format_exception_only(call.excinfo.type, call.excinfo.value))
    report.outcome = "failed"
    report.longrepr = (
        f"the canary key appeared in exception text ({SHOWN} marks it), raised at "
        f"{last.path}:{last.lineno + 1}:\n{raised.replace(CANARY_KEY, SHOWN)}"
    )
    if hasattr(report, "wasxfail"):
        del report.wasxfail
