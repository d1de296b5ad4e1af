"""Public points of one function, for GitHub Classroom: ``python .github/classroom/public_points.py 2.1 mse_loss``.

``dlnp classroom`` copies this file into the release as ``.github/classroom/public_points.py``
next to ``public_tests.json``, which lists, for every graded function of every chapter,
the public tests that exercise it (``tests``) and, for a test that also calls other
graded functions, those functions (``needs``). The workflow runs this once per
function with GitHub Classroom's command grader: exit code 0 gives the function's points.

A function passes when every one of its public tests passes, except that a test which
also uses another graded function is not counted while that function fails its own
other public tests: a wrong ``mse_loss`` costs ``mse_loss``'s points, not those of
every later function whose tests use it (as with the hidden graders, which test each
function on its own). At least one test must be counted.

Standalone on purpose (it runs in the student's repository with only pytest): no
import of the kit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TypedDict

import pytest

TESTS = Path(__file__).resolve().parent / "public_tests.json"


class Entry(TypedDict):
    """One function's row of ``public_tests.json``."""

    tests: list[str]  # pytest node ids
    needs: dict[str, list[str]]  # node id -> the other graded functions ("2.1 mse_loss") it calls
    points: int


Table = dict[str, Entry]


class Outcomes:
    """pytest plugin: the outcome of each test (``passed``, ``failed`` or ``skipped``) by node id.

    A parametrized test counts once: failed if any case failed, skipped if every case was skipped.
    """

    def __init__(self) -> None:
        self.by_id: dict[str, str] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and report.passed:
            return
        test = report.nodeid.split("[", 1)[0]
        before = self.by_id.get(test)
        if before == "failed" or (before == "passed" and report.outcome == "skipped"):
            return
        self.by_id[test] = report.outcome


class Verdicts:
    """Whether each function earns its points, given the outcomes of the public tests."""

    def __init__(self, table: Table, outcomes: dict[str, str]) -> None:
        self.table = table
        self.outcomes = outcomes
        self.known: dict[tuple[str, frozenset[str]], bool] = {}  # (function, asking) -> fails

    def fails(self, key: str, asking: frozenset[str] = frozenset()) -> bool:
        """Whether ``key`` fails one of its tests that do not involve the functions in ``asking``.

        A function with no such test is not known to fail: a test it shares is counted.
        """
        if key not in self.table:
            return False
        memo = (key, asking)
        if memo not in self.known:
            ok, counted, _ = self.explain(key, asking)
            self.known[memo] = counted > 0 and not ok
        return self.known[memo]

    def explain(self, key: str, asking: frozenset[str] = frozenset()) -> tuple[bool, int, list[str]]:
        """Whether the function ``key`` ("2.1 mse_loss") passes, the tests counted, and why (a line each).

        A test that also uses functions in ``asking`` (those whose verdict waits on this
        one) is not counted: two functions tested together are each judged on the rest.
        """
        entry = self.table[key]
        lines: list[str] = []
        counted = 0
        ok = True
        for test in entry["tests"]:
            needs = entry["needs"].get(test, [])
            failing = [n for n in needs if n in asking or self.fails(n, asking | {key})]
            outcome = self.outcomes.get(test, "not run")
            if failing:
                lines.append(f"  not counted: {test} (also uses {', '.join(failing)}, failing its other tests)")
                continue
            if outcome == "skipped":
                lines.append(f"  skipped: {test}")
                continue
            counted += 1
            ok = ok and outcome == "passed"
            lines.append(f"  {outcome}: {test}")
        if counted == 0:
            lines.append("  no public test of this function could be counted")
        return ok and counted > 0, counted, lines


def needed_tests(key: str, table: Table) -> set[str]:
    """The tests of ``key`` and, transitively, those of every function its tests need."""
    needed: set[str] = set()
    seen: set[str] = set()
    todo = [key]
    while todo:
        current = todo.pop()
        if current in seen or current not in table:
            continue
        seen.add(current)
        needed.update(table[current]["tests"])
        todo += [n for names in table[current]["needs"].values() for n in names]
    return needed


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python .github/classroom/public_points.py CHAPTER FUNCTION", file=sys.stderr)
        return 2
    key = f"{argv[0]} {argv[1]}"
    table: Table = json.loads(TESTS.read_text())["functions"]
    if key not in table:
        print(f"{key}: not a graded function of this release", file=sys.stderr)
        return 2
    plugin = Outcomes()
    pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", "--tb=line", *sorted(needed_tests(key, table))],
                plugins=[plugin])
    ok, _, lines = Verdicts(table, plugin.by_id).explain(key)
    print(f"{key}: {'PASSED' if ok else 'FAILED'}")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
