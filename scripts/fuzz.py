"""Fuzz every tool's arguments through the in-memory MCP client against the simulator.

    python scripts/fuzz.py [--cases 10000] [--seed 0]

Hypothesis generates, per tool, valid arguments from the tool's input schema and invalid ones
(a valid value with one mutation), split evenly over tools and the two kinds. Properties: no call
crashes (no exception, always a CallToolResult); every invalid case is an isError of kind
invalid_arguments with no upstream request; every valid case succeeds or is a clear error whose
kind is not "internal". Prints per-tool counts and exits 1 on any crash or violated property.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fuzzing import Case, Outcome, SyncRig, running_rig  # noqa: E402

KINDS = ("valid", "invalid")
COLUMNS = (  # refused: a valid schema value the tool declines (e.g. upload_file given two sources)
    ("valid ok", "ok"),
    ("valid refused", "refused"),
    ("valid upstream-err", "upstream_error"),
    ("invalid rejected", "rejected"),
    ("violations", "violation"),
    ("crashes", "crash"),
)
SHOWN_PROBLEMS = 10
QUIET = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


@dataclass
class Tally:
    by_tool: dict[str, Counter[str]] = field(default_factory=dict)
    mutations: Counter[str] = field(default_factory=Counter)
    problems: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.by_tool.setdefault(outcome.tool, Counter())[outcome.category] += 1
        if outcome.case.mutation:
            self.mutations[outcome.case.mutation] += 1
        if outcome.problem:
            self.problems.append(outcome)

    def total(self) -> Counter[str]:
        return sum(self.by_tool.values(), Counter())


def fuzz(rig: SyncRig, tool: str, kind: str, examples: int, seed_value: int, tally: Tally) -> None:
    strategy: st.SearchStrategy[Case] = getattr(rig.strategies(tool), kind)

    # The body never raises: every outcome is counted, problems are listed at the end.
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=QUIET,
    )
    @seed(seed_value)
    @given(strategy)
    def run(case: Case) -> None:
        tally.add(rig.run(tool, case))

    run()


def report(tally: Tally, cases_wanted: int, seconds: float) -> int:
    width = max(len(tool) for tool in tally.by_tool)
    header = f"{'tool':<{width}}  " + "  ".join(title for title, _ in COLUMNS)
    rows = [*tally.by_tool.items(), ("total", tally.total())]
    print(header)
    for tool, counts in rows:
        if tool == "total":
            print("-" * len(header))
        print(f"{tool:<{width}}  " + "  ".join(f"{counts[key]:>{len(title)}}" for title, key in COLUMNS))
    total = rows[-1][1]
    cases = sum(total.values())
    print(f"\n{cases} cases in {seconds:.1f} s ({cases / seconds:.0f}/s) over {len(tally.by_tool)} tools")
    print("mutations: " + ", ".join(f"{kind} {n}" for kind, n in sorted(tally.mutations.items())))
    for outcome in tally.problems[:SHOWN_PROBLEMS]:
        print(f"PROBLEM {outcome.describe()}")
    failed = bool(tally.problems) or total["crash"] > 0 or cases < cases_wanted
    if cases < cases_wanted:
        print(f"FAILED: only {cases} cases ran, {cases_wanted} wanted")
    print("FAILED" if failed else "OK: no crashes, every property held")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000, help="Total cases, spread over tools and kinds.")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (runs are reproducible).")
    parser.add_argument("--verbose", action="store_true", help="Show the server's traceback for each crash.")
    args = parser.parse_args(argv)
    if not args.verbose:  # crashes are counted and listed below; their tracebacks would bury the table
        logging.getLogger("mcp").setLevel(logging.CRITICAL)
    tally = Tally()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, running_rig(Path(tmp)) as rig:
        # delete_transcript last: it deletes its own disposable transcripts, never the shared ones.
        tools = sorted(rig.tools, key=lambda name: (name == "delete_transcript", name))
        per_run = math.ceil(args.cases / (len(tools) * len(KINDS)))
        for index, tool in enumerate(tools):
            for offset, kind in enumerate(KINDS):
                fuzz(rig, tool, kind, per_run, args.seed * 1000 + 2 * index + offset, tally)
    return report(tally, args.cases, time.monotonic() - started)


if __name__ == "__main__":
    sys.exit(main())
