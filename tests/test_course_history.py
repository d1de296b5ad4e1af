"""Regrade history: what a regrade changed, and why (submission, graders, kit, salt)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from instructor.course.graded import StudentResults
from instructor.course.history import compare, keep_previous, why, write_changes


def results(score: float, *, graders: str = "g1", kit: str = "k1", salt: str = "s1", sha: str = "a",
            output: str = "") -> dict[str, Any]:
    passed = score == 4
    test = {"name": "2.1 mse_loss: random", "number": "2.1", "score": score, "max_score": 4.0,
            "status": "passed" if passed else "failed", "output": output,
            "extra_data": {"function": "mse_loss", "outcome": "passed" if passed else "failed"}}
    return {"score": score, "max_score": 4.0, "tests": [test], "submission_sha256": sha,
            "chapters": {"2.1": {"score": score, "max_score": 4.0}},
            "grading": {"complete": True, "graders_sha256": graders, "kit_sha256": kit, "salt_fingerprint": salt,
                        "kit_version": f"0.1.0+{kit}", "fingerprint": graders + kit + salt}}


def test_reasons_tell_the_inputs_of_grading_apart() -> None:
    before = StudentResults("ann", results(0))
    assert why(before, StudentResults("ann", results(4, sha="b"))) == ["the submission changed"]
    assert why(before, StudentResults("ann", results(4, graders="g2", kit="k2"))) == ["the hidden graders changed"]
    assert why(before, StudentResults("ann", results(4, kit="k2"))) == ["the kit changed (0.1.0+k1 -> 0.1.0+k2)"]
    assert why(before, StudentResults("ann", results(4, salt="s2"))) == ["the salt changed"]


def test_compare_lists_changed_tests_with_their_diagnoses() -> None:
    before = {"ann": StudentResults("ann", results(0, output="Likely mistake (half MSE) no")),
              "bob": StudentResults("bob", results(4))}
    after = {"ann": StudentResults("ann", results(4, graders="g2")), "bob": StudentResults("bob", results(4)),
             "cat": StudentResults("cat", results(4))}
    changes = {c.student: c for c in compare(before, after)}
    assert not changes["bob"].changed
    assert changes["cat"].reasons == ["new student"]
    (test,) = changes["ann"].tests
    assert test.before == "0/4 failed (half MSE)" and test.after == "4/4 passed"
    assert changes["ann"].reasons == ["the hidden graders changed"]


def write(folder: Path, students: dict[str, dict[str, Any]]) -> None:
    (folder / "results").mkdir(parents=True, exist_ok=True)
    for name, data in students.items():
        (folder / "results" / f"{name}.json").write_text(json.dumps(data))


def test_history_kept_only_when_something_changed(tmp_path: Path) -> None:
    out = tmp_path / "graded"
    assert keep_previous(out) is None  # a first grading has nothing to keep
    write(out, {"ann": results(0), "bob": results(4)})
    (out / "gradebook.csv").write_text("student,score\nann,0\nbob,4\n")
    snapshot = keep_previous(out)
    assert snapshot is not None and (snapshot / "gradebook.csv").is_file()
    write_changes(snapshot, out)  # nothing was regraded differently
    assert not snapshot.exists()
    snapshot = keep_previous(out)
    assert snapshot is not None
    write(out, {"ann": results(4, graders="g2")})
    changes = [c for c in write_changes(snapshot, out) if c.changed]
    assert [c.student for c in changes] == ["ann"]
    assert json.loads((snapshot / "results" / "ann.json").read_text())["score"] == 0  # the old results are kept
    page = (snapshot / "changes" / "ann.md").read_text()
    assert "Before: 0/4" in page and "After: 4/4" in page and "the hidden graders changed" in page
    assert "[ann](changes/ann.md)" in (snapshot / "changes.md").read_text()
