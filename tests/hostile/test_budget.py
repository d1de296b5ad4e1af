"""A submission whose every function loops is graded within its time budget, and says so test by test.

The per-test limits here are longer than the whole budget (a call may take 40 s, a test
60 s, the budget is 20 s): only the cap of each test's deadline by what is left of the
submission's budget can end the grading in time. Half the functions spin (CPU), half
sleep in a loop (no CPU: only a wall-clock deadline stops them).
"""

from __future__ import annotations

import importlib
import inspect
import json
import time
from pathlib import Path

from autograder.engine import grade_submission
from autograder.results import parse_results
from autograder.sandbox import Limits
from dlnp.manifest import load_manifest
from instructor.submissions import make_submission

MANIFEST = load_manifest()
BUDGET = 20.0
#: Collection, the worker's start, closing it and writing the results, on a loaded machine.
SLACK = 10.0
LONG = Limits(call_seconds=40.0, cpu_seconds=40.0, test_seconds=60.0, memory_bytes=1 << 30)


def _never_returns(i: int, indent: str) -> str:
    """A body that loops forever: spinning (odd ``i``) or sleeping in a loop (even ``i``)."""
    lines = ["while True:", "    pass"] if i % 2 else ["import time", "while True:", "    time.sleep(0.05)"]
    return "".join(f"{indent}{line}\n" for line in lines)


def every_function_loops() -> dict[str, str]:
    """A replacement for every graded function and class that never returns (classes in ``__init__``)."""
    patches: dict[str, str] = {}
    for i, name in enumerate(MANIFEST.modules):
        reference = getattr(importlib.import_module(f"solutions.{MANIFEST.modules[name]}"), name)
        if inspect.isclass(reference):
            patches[name] = f"class {name}:\n    def __init__(self, *args, **kwargs):\n{_never_returns(i, ' ' * 8)}"
        else:
            patches[name] = f"def {name}(*args, **kwargs):\n{_never_returns(i, ' ' * 4)}"
    return patches


def test_every_function_looping_is_graded_within_the_budget(release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "loops", patches=every_function_loops())
    out = tmp_path / "graded" / "results.json"
    started = time.monotonic()
    results = grade_submission(sub, out, limits=LONG, budget_seconds=BUDGET)
    took = time.monotonic() - started
    assert took < BUDGET + SLACK, f"grading took {took:.1f} s with a budget of {BUDGET:g} s"
    on_disk = parse_results(json.loads(out.read_text()))  # the results file is valid and final
    assert on_disk == json.loads(json.dumps(results))
    assert on_disk["grading"]["complete"], on_disk["grading"]["problems"]
    assert on_disk["score"] == 0 and on_disk["max_score"] == MANIFEST.max_score  # every test is present
    outcomes = {t["extra_data"]["outcome"] for t in on_disk["tests"]}
    assert outcomes == {"timeout"}, outcomes
    outputs = [t["output"] for t in on_disk["tests"]]
    cut = [o for o in outputs if "did not finish before the time budget of this submission ran out" in o]
    skipped = [o for o in outputs if o.startswith(f"Not run: grading this submission may take at most {BUDGET:g} s")]
    assert len(cut) == 1, cut  # the test running when the budget ran out was stopped then, and says why
    assert skipped and len(cut) + len(skipped) <= len(outputs)
    for output in outputs:  # one clear line each: waited for, not called again, or not run for the budget
        assert "did not finish" in output or "not called again" in output or output in skipped, output
