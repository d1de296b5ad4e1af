"""Per-function public points (``.github/classroom/public_points.py``): which tests count for which function."""

from __future__ import annotations

from pathlib import Path

from dlnp.manifest import load_manifest
from instructor.classroom import public_tests, step_id
from instructor.classroom_points import Entry, Table, Verdicts, needed_tests

MANIFEST = load_manifest()


def entry(tests: list[str], needs: dict[str, list[str]] | None = None) -> Entry:
    return {"tests": tests, "needs": needs or {}, "points": 1}


# a chapter 1 function, and two chapter 2 functions tested alone and together, one test using chapter 1's
TABLE: Table = {
    "1 loss": entry(["t_loss"]),
    "2 f": entry(["t_f", "t_both", "t_f_with_loss"], {"t_both": ["2 g"], "t_f_with_loss": ["1 loss"]}),
    "2 g": entry(["t_both"], {"t_both": ["2 f"]}),
}


def verdicts(failed: set[str]) -> Verdicts:
    tests = {"t_loss", "t_f", "t_both", "t_f_with_loss"}
    return Verdicts(TABLE, {t: "failed" if t in failed else "passed" for t in tests})


def test_everything_passing_gives_every_function() -> None:
    v = verdicts(set())
    assert [v.explain(k)[0] for k in TABLE] == [True, True, True]


def test_a_wrong_dependency_costs_only_itself() -> None:
    v = verdicts({"t_loss", "t_f_with_loss"})  # a wrong loss also breaks f's test that uses it
    assert [v.explain(k)[0] for k in TABLE] == [False, True, True]


def test_a_shared_test_counts_for_a_function_with_no_other_evidence() -> None:
    v = verdicts({"t_both"})
    ok, counted, _ = v.explain("2 g")  # g's only test fails and f passes its own: g is wrong
    assert (ok, counted) == (False, 1)
    assert v.explain("2 f")[0] is False  # f's other tests pass, but g is not known to fail: t_both counts


def test_a_shared_test_is_not_counted_when_the_other_function_fails() -> None:
    v = verdicts({"t_f", "t_both"})  # f is wrong (its own test fails); g shares only t_both with f
    assert v.explain("2 f")[0] is False
    ok, counted, lines = v.explain("2 g")
    assert ok is False and counted == 0 and any("not counted" in line for line in lines)


def test_tests_needed_follow_needs_transitively() -> None:
    assert needed_tests("2 g", TABLE) == {"t_both", "t_f", "t_f_with_loss", "t_loss"}


def test_public_tests_of_the_release(release: Path) -> None:
    table = {e.key: e for e in public_tests(release, MANIFEST)}
    assert len(table) == sum(1 for c in MANIFEST.chapters for f in c.functions if f.points > 0)
    assert all(e.tests for e in table.values()), "every graded function has public tests"
    gd = table["2.2 gradient_descent"]
    assert gd.needs == {"tests/test_ch2_2.py::test_three_epochs_with_the_default_loss": ["2.1 mse_loss"]}
    assert "tests/test_ch2_2.py::test_one_epoch_by_hand" in gd.tests
    ids = [step_id(e.chapter, e.function) for e in table.values()]
    assert len(set(ids)) == len(ids) and step_id(MANIFEST.chapter("2.1"), MANIFEST.chapter("2.1").functions[0]) \
        == "ch2x1mseloss"
