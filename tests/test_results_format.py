"""Typed results: their shape on disk, the Gradescope export, the gradebook, and what they record."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

from autograder.engine import grade_submission
from autograder.plugin import graders_digest, kit_digest, salt_fingerprint
from autograder.results import (
    OUTCOMES,
    GradingResults,
    csv_cell,
    isolation_warning,
    parse_results,
    sandbox_info,
    to_gradescope,
    write_gradebook,
)
from dlnp.manifest import load_manifest
from instructor.submissions import make_submission

#: Gradescope's documented top-level keys of results.json, and of one test.
GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
                  "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
                   "tags", "visibility", "extra_data"}
IDS = [c.id for c in load_manifest().chapters]


@pytest.fixture(scope="module")
def graded(release: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[GradingResults, Path]:
    """Chapter 0 of a submission with a wrong layer_output, graded with the salt "s3cret"."""
    sub = make_submission(release, tmp_path_factory.mktemp("fmt") / "sub",
                          patches={"layer_output": "def layer_output(X, W):\n    return (X @ W).T\n"})
    out = sub.parent / "results.json"
    return grade_submission(sub, out, chapters=["0", "1.2"], salt="s3cret"), out


def test_results_file_is_the_returned_results_and_gradescope_shaped(graded: tuple[GradingResults, Path]) -> None:
    results, out = graded
    on_disk = parse_results(json.loads(out.read_text()))
    assert on_disk == json.loads(json.dumps(results))
    assert {"score", "max_score", "execution_time", "tests", "chapters", "sandbox", "grading"} <= set(on_disk)
    assert set(on_disk["chapters"]) == set(IDS)
    assert on_disk["chapters"]["0"]["score"] < on_disk["chapters"]["0"]["max_score"]
    assert on_disk["chapters"]["1.2"]["score"] == on_disk["chapters"]["1.2"]["max_score"] > 0
    for test in on_disk["tests"]:
        assert test["extra_data"]["outcome"] in OUTCOMES
        assert (test["status"] == "passed") == (test["extra_data"]["outcome"] == "passed")
        assert test["score"] == (test["max_score"] if test["status"] == "passed" else 0.0)


def test_results_record_kit_version_graders_digest_and_salt_fingerprint(graded: tuple[GradingResults, Path]) -> None:
    grading = graded[0]["grading"]
    assert grading["kit_sha256"] == kit_digest() and len(grading["kit_sha256"]) == 64
    assert grading["kit_version"].endswith("+" + kit_digest()[:12])
    assert grading["graders_sha256"] == graders_digest() != kit_digest()
    assert grading["salt_fingerprint"] == salt_fingerprint("s3cret") != salt_fingerprint("s3cres")
    assert "s3cret" not in json.dumps(graded[0])
    assert grading["complete"] is True and grading["problems"] == [] and grading["timed_out"] == []


def test_to_gradescope_keeps_only_documented_keys_and_moves_the_extras(graded: tuple[GradingResults, Path]) -> None:
    results = graded[0]
    exported = to_gradescope(results, visibility="after_due_date")
    assert set(exported) <= GRADESCOPE_TOP
    assert all(set(test) <= GRADESCOPE_TEST for test in exported["tests"])
    assert exported["visibility"] == "after_due_date" and exported["stdout_visibility"] == "hidden"
    assert exported["score"] == results["score"]
    extra = exported["extra_data"]
    assert extra["chapters"] == results["chapters"] and extra["max_score"] == results["max_score"]
    assert extra["grading"] == results["grading"] and extra["sandbox"] == results["sandbox"]
    assert extra["submission_sha256"] == results["submission_sha256"]
    json.dumps(exported, allow_nan=False)


def test_a_run_without_isolation_says_so_everywhere(graded: tuple[GradingResults, Path], tmp_path: Path) -> None:
    results = copy.deepcopy(graded[0])
    results["sandbox"] = {"isolation": "none", "note": "no namespaces here"}
    warning = isolation_warning(results)
    assert warning.startswith("WARNING: NOT ISOLATED")
    assert warning in to_gradescope(results)["output"]
    write_gradebook(tmp_path / "gradebook.csv", {"alice": results}, IDS)
    rows = list(csv.reader((tmp_path / "gradebook.csv").open()))
    assert "NOT ISOLATED" in rows[1][-1]
    for isolation in ("bwrap", "unshare"):
        results["sandbox"] = {"isolation": isolation, "note": ""}
        assert isolation_warning(results) == ""
    results["sandbox"] = sandbox_info({"isolation": "unshare", "note": "", "isolated": False})
    assert isolation_warning(results) != ""
    # A root grader without namespaces (a container) isolates by a dedicated uid: the sandbox says so.
    results["sandbox"] = sandbox_info({"isolation": "none", "note": "", "isolated": True})
    assert isolation_warning(results) == ""


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_cannot_become_formulas(lead: str) -> None:
    assert csv_cell(lead + 'HYPERLINK("http://x","y")').startswith("'")
    assert csv_cell("alice") == "alice" and csv_cell("") == ""


def test_gradebook_has_a_row_and_a_note_per_student(graded: tuple[GradingResults, Path], tmp_path: Path) -> None:
    ok = graded[0]
    partial = copy.deepcopy(ok)
    partial["grading"]["complete"] = False
    partial["grading"]["problems"] = ["grading stopped before 3 of 9 tests (partial results)"]
    write_gradebook(tmp_path / "clean.csv", {"=cmd|' /C calc'!A0": ok}, IDS)
    clean = list(csv.reader((tmp_path / "clean.csv").open()))
    assert clean == [["student", "score", "max_score", *IDS],  # exactly SPEC's columns when nothing to say
                     ["'=cmd|' /C calc'!A0", f"{ok['score']:g}", f"{ok['max_score']:g}",
                      *[f"{ok['chapters'][c]['score']:g}" for c in IDS]]]
    write_gradebook(tmp_path / "g.csv", {"=cmd|' /C calc'!A0": ok, "bob": partial}, IDS)
    rows = list(csv.reader((tmp_path / "g.csv").open()))
    assert rows[0] == ["student", "score", "max_score", *IDS, "note"]
    by_name = {r[0]: r for r in rows[1:]}
    assert set(by_name) == {"'=cmd|' /C calc'!A0", "bob"}
    assert by_name["'=cmd|' /C calc'!A0"][-1] == ""
    assert by_name["bob"][-1].startswith("NOT GRADED COMPLETELY: grading stopped")
    assert float(by_name["bob"][1]) == ok["score"]


def test_parse_results_rejects_what_is_not_results(graded: tuple[GradingResults, Path]) -> None:
    good = json.loads(json.dumps(graded[0]))
    parse_results(good)
    for breaks in ("score", "tests", "grading"):
        bad = copy.deepcopy(good)
        del bad[breaks]
        with pytest.raises(ValueError, match=breaks):
            parse_results(bad)
    bad = copy.deepcopy(good)
    bad["tests"][0]["extra_data"]["outcome"] = "won"
    with pytest.raises(ValueError, match="outcome"):
        parse_results(bad)
    with pytest.raises(ValueError):
        parse_results([good])
