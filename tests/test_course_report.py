"""The class report on hand-made graded folders: diagnoses, states, grading health, a stale gradebook."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from instructor.cli import main
from instructor.course.graded import HiddenTest, load_graded
from instructor.course.report import anonymise, build_report, classify, mistakes_in, render_html


def make_test(function: str, score: float, max_score: float, outcome: str, output: str = "") -> dict[str, Any]:
    return {"name": f"2.1 {function}: a check {score}{outcome}", "number": "2.1", "score": score,
            "max_score": max_score, "status": "passed" if outcome == "passed" else "failed", "output": output,
            "visibility": "visible", "extra_data": {"function": function, "outcome": outcome}}


def results(tests: list[dict[str, Any]], *, complete: bool = True, seconds: float = 1.0,
            problems: list[str] | None = None) -> dict[str, Any]:
    score = sum(t["score"] for t in tests)
    max_score = sum(t["max_score"] for t in tests)
    return {"score": score, "max_score": max_score, "execution_time": seconds, "output": "", "tests": tests,
            "chapters": {"2.1": {"score": score, "max_score": max_score}},
            "sandbox": {"isolation": "bwrap", "note": ""},
            "grading": {"complete": complete, "problems": problems or [], "kit_version": "0.1.0+abc",
                        "fingerprint": "f"}}


FACTOR = ("mse_loss(y_pred, y) returned 2.5, expected 1.25.\nLikely mistake (sum instead of mean) for "
          "student alice in /tmp/x/alice/neural_network/losses.py: divide by n.")
LOG0 = "binary_cross_entropy returned inf.\nLikely mistake (log(0)) clip the probabilities."


def make_graded(root: Path) -> Path:
    students = {
        "alice": [make_test("mse_loss", 0, 4, "failed", FACTOR), make_test("binary_cross_entropy", 6, 6, "passed")],
        "bob": [make_test("mse_loss", 4, 4, "passed"), make_test("binary_cross_entropy", 0, 6, "failed", LOG0)],
        "carol": [make_test("mse_loss", 0, 4, "failed", FACTOR + "\n" + FACTOR),
                  make_test("binary_cross_entropy", 0, 6, "timeout", "took more than 60 s")],
        "dave": [make_test("mse_loss", 0, 4, "not_implemented"),
                 make_test("binary_cross_entropy", 0, 6, "not_implemented")],
        "erin": [make_test("mse_loss", 4, 4, "passed"), make_test("binary_cross_entropy", 6, 6, "passed")],
    }
    (root / "results").mkdir(parents=True)
    for name, tests in students.items():
        (root / "results" / f"{name}.json").write_text(json.dumps(results(tests, seconds=len(name))))
    broken = results([], complete=False, problems=["the grading process stopped while grading frank"])
    (root / "results" / "frank.json").write_text(json.dumps(broken))
    with (root / "gradebook.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "score", "max_score", "2.1"])
        for name in [*students, "frank"]:
            r = json.loads((root / "results" / f"{name}.json").read_text())
            writer.writerow([name, r["score"], r["max_score"], r["chapters"]["2.1"]["score"]])
    return root


def test_diagnosis_names_and_states() -> None:
    assert mistakes_in("x\nLikely mistake (log(0)) y\nLikely mistake (factor 2) z\nLikely mistake (log(0))") == [
        "log(0)", "factor 2"]
    assert mistakes_in("returned wrong values") == []
    t = HiddenTest("t", "2.1", "f", 0.0, 4.0, "not_implemented", "")
    assert classify([t, t], 0.5) == "not_started"
    assert classify([], 0.5) == "not_graded"
    assert classify([HiddenTest("t", "2.1", "f", 4.0, 4.0, "passed", "")], 0.5) == "full"
    assert classify([HiddenTest("t", "2.1", "f", 1.0, 4.0, "failed", ""), t], 0.5) == "failing"
    assert classify([HiddenTest("t", "2.1", "f", 2.0, 4.0, "failed", "")], 0.5) == "partial"
    text = anonymise("alice's file /srv/grading/alice/neural_network/losses.py, not malice", ["alice"])
    assert "alice" not in text.replace("malice", "") and "neural_network/losses.py" in text and "/srv" not in text


def test_report_counts_mistakes_health_and_states(tmp_path: Path) -> None:
    batch = load_graded(make_graded(tmp_path / "graded"))
    report = build_report(batch)
    mistakes = {m["name"]: m for m in report["mistakes"]}
    assert list(mistakes) == ["sum instead of mean", "log(0)"]  # 2 students, then 1
    assert mistakes["sum instead of mean"]["students"] == 2 and mistakes["sum instead of mean"]["tests"] == 2
    assert mistakes["sum instead of mean"]["functions"] == {"mse_loss": 2}
    example = mistakes["sum instead of mean"]["example"]
    assert "alice" not in example and "carol" not in example and "<student>" in example
    (chapter,) = report["chapters"]
    assert chapter["id"] == "2.1" and chapter["max_score"] == 10
    states = {k: v["count"] for k, v in chapter["states"].items()}
    assert states == {"full": 1, "partial": 1, "failing": 2, "not_started": 1, "not_graded": 1}
    health = report["health"]
    assert [s["student"] for s in health["not_gradable"]] == ["frank"]
    assert "stopped while grading" in health["not_gradable"][0]["why"]
    assert [t["student"] for t in health["timeouts"]] == ["carol"]
    assert health["isolation"] == {"bwrap": 6} and health["gradebook"]["agrees"]
    assert health["seconds"]["max"] == 5.0  # frank's time is not a grading time
    assert {"function": "binary_cross_entropy", "outcome": "timeout", "tests": 1} in report["other_failures"]
    anonymous = build_report(batch, anonymous=True)
    assert {s["student"] for s in anonymous["students"]} == {f"student {i:03d}" for i in range(1, 7)}
    assert "alice" not in json.dumps(anonymous)


def test_stale_gradebook_is_a_health_problem(tmp_path: Path) -> None:
    root = make_graded(tmp_path / "graded")
    text = (root / "gradebook.csv").read_text().replace("erin,10,10,10", "erin,9,10,9")
    (root / "gradebook.csv").write_text(text)
    health = build_report(load_graded(root))["health"]
    assert not health["gradebook"]["agrees"] and any("erin score" in d for d in health["gradebook"]["differences"])


def test_html_and_json_from_the_command(tmp_path: Path) -> None:
    root = make_graded(tmp_path / "graded")
    assert main(["report", str(root), "--out", str(tmp_path / "r")]) == 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert "sum instead of mean" in page and "frank" in page and "<table class=\"data\"" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert render_html(build_report(load_graded(root))).count("<img") >= 4
    assert main(["report", str(root), "--out", str(tmp_path / "j"), "--format", "json"]) == 0
    assert json.loads((tmp_path / "j" / "report.json").read_text())["class"]["students"] == 6
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "x")]) == 2  # not a graded folder
