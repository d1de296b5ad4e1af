"""The course tools on a synthetic class graded once by ``dlnp grade-batch``.

24 honest students (known mistakes, some chapters not started) and two copies (one
byte for byte, one disguised), each with a submission time left by Gradescope, git or
nbgrader. The tests check the report against gradebook.csv and the class's truth, the
similarity pairs, the late penalties, the Canvas file and the regrade history.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dlnp.manifest import load_manifest
from instructor.cli import main
from instructor.course.synthetic import CHAPTERS, CORRECT, MISTAKES, SyntheticClass, generate_class
from instructor.submissions import replace_definition

# one grading of the class for the whole module: keep its tests on one xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("course-class")]

CHAPTER_ARGS = [arg for chapter in CHAPTERS for arg in ("--chapter", chapter)]
Class = tuple[SyntheticClass, Path]


@pytest.fixture(scope="module")
def graded_class(release: Path, tmp_path_factory: pytest.TempPathFactory) -> Class:
    root = tmp_path_factory.mktemp("course") / "submissions"
    synthetic = generate_class(release, root, students=24, seed=1)
    graded = root.parent / "graded"
    code = main(["grade-batch", str(root), "--out", str(graded), "--jobs", "2", "--no-progress", *CHAPTER_ARGS])
    assert code == 0
    return synthetic, graded


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_class_has_its_known_mistakes(graded_class: Class) -> None:
    synthetic, graded = graded_class
    assert len(synthetic.students) == 26
    for student in synthetic.students:
        results = json.loads((graded / "results" / f"{student.student}.json").read_text())
        for function, state in student.plan.items():
            tests = [t for t in results["tests"] if t["extra_data"]["function"] == function]
            lost = sum(t["max_score"] - t["score"] for t in tests)
            output = "\n".join(t["output"] for t in tests)
            if state == "correct":
                assert lost == 0, (student.student, function, output)
            elif state == "stub":
                assert {t["extra_data"]["outcome"] for t in tests} == {"not_implemented"}
            else:
                assert lost > 0 and f"Likely mistake ({state})" in output, (student.student, function, output)


def test_report_numbers_equal_the_gradebook_and_the_truth(graded_class: Class, tmp_path: Path) -> None:
    synthetic, graded = graded_class
    assert main(["report", str(graded), "--out", str(tmp_path), "--format", "json"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    gradebook = {row["student"]: row for row in read_csv(graded / "gradebook.csv")}
    manifest = load_manifest()
    assert [c["id"] for c in report["chapters"]] == list(CHAPTERS)
    assert {s["student"] for s in report["students"]} == set(gradebook)
    for row in report["students"]:
        book = gradebook[row["student"]]
        assert row["score"] == float(book["score"]) and row["max_score"] == float(book["max_score"])
        for chapter in CHAPTERS:
            assert row["chapters"][chapter] == float(book[chapter])
    for chapter in report["chapters"]:
        column = [float(row[chapter["id"]]) for row in gradebook.values()]
        points = manifest.chapter(chapter["id"]).points
        assert chapter["max_score"] == points
        assert chapter["scores"]["mean"] == pytest.approx(sum(column) / len(column), abs=1e-4)
        assert chapter["states"]["full"]["count"] == sum(score == points for score in column)
        functions = [f.name for f in manifest.chapter(chapter["id"]).functions]
        not_started = sum(all(s.plan[f] == "stub" for f in functions) for s in synthetic.students)
        assert chapter["states"]["not_started"]["count"] == not_started
    truth = Counter(state for s in synthetic.students for state in s.plan.values() if state not in ("correct", "stub"))
    assert {m["name"]: m["students"] for m in report["mistakes"]} == dict(truth)
    top = report["mistakes"][0]
    assert top["students"] == max(truth.values())
    by_name = {m.diagnosis: m.function for m in MISTAKES}
    assert list(top["functions"]) == [by_name[top["name"]]]
    for name in {s.student for s in synthetic.students}:  # the example feedback is anonymised
        assert not re.search(rf"\b{name}\b", top["example"])
    health = report["health"]
    assert health["not_gradable"] == [] and health["gradebook"]["agrees"]
    assert sum(health["isolation"].values()) == 26


def test_html_report_is_self_contained(graded_class: Class, tmp_path: Path) -> None:
    _, graded = graded_class
    assert main(["report", str(graded), "--out", str(tmp_path)]) == 0
    page = (tmp_path / "index.html").read_text()
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)  # nothing fetched
    assert "<link" not in page and "<script src" not in page
    assert page.count("data:image/svg+xml;base64,") >= 5
    assert "Most frequent diagnosed mistakes" in page and "Grading health" in page
    assert len(page) < 2_000_000


def test_similarity_finds_the_two_copied_pairs_and_no_honest_pair(graded_class: Class, tmp_path: Path) -> None:
    synthetic, graded = graded_class
    out = tmp_path / "similar.json"
    assert main(["similar", str(synthetic.root), "--format", "json", "--out", str(out), "--all"]) == 0
    listing = json.loads(out.read_text())
    assert "hint for a human" in listing["note"]
    flagged = [p for p in listing["pairs"] if p["flagged"]]
    assert {frozenset((p["a"], p["b"])) for p in flagged} == synthetic.copied_pairs()
    kinds = {frozenset((p["a"], p["b"])): p for p in flagged}
    for student in synthetic.students:
        if student.copy_kind == "verbatim":
            assert kinds[frozenset((student.student, student.copy_of))]["identical_package"]
        elif student.copy_kind == "disguised":
            pair = kinds[frozenset((student.student, student.copy_of))]
            assert not pair["identical_package"] and pair["expected_by_chance"] < 0.01
            assert "near-identical" in {f["kind"] for f in pair["functions"]}  # the line the copier added
    # from the graded folder alone: the byte-identical copy only, found from the recorded sha256
    out_graded = tmp_path / "from-graded.json"
    assert main(["similar", str(graded), "--format", "json", "--out", str(out_graded)]) == 0
    pairs = json.loads(out_graded.read_text())["pairs"]
    verbatim = next(s for s in synthetic.students if s.copy_kind == "verbatim")
    assert [frozenset((p["a"], p["b"])) for p in pairs] == [frozenset((verbatim.student, verbatim.copy_of))]


def write_course(path: Path, due: datetime, extension_for: str) -> Path:
    path.write_text(f"""
[course]
name = "Synthetic class"
timezone = "Europe/Berlin"

[late_policy]
grace_minutes = 15
per_day = 10
cap = 30

[[assignment]]
name = "Foundations"
chapters = {json.dumps(list(CHAPTERS))}
due = {due.isoformat()}
canvas_id = 4711

[[extension]]
student = "{extension_for}"
days = 5
""")
    return path


def expected_days_late(submitted: datetime, due: datetime) -> int:
    late = submitted - due
    return 0 if late <= timedelta(minutes=15) else math.ceil(late.total_seconds() / 86400)


def test_late_penalties_and_canvas_export(graded_class: Class, tmp_path: Path) -> None:
    synthetic, graded = graded_class
    late = [s for s in synthetic.students if expected_days_late(datetime.fromisoformat(s.submitted_at), synthetic.due)]
    assert len(late) >= 3 and len({s.time_source for s in late}) >= 2
    extended = late[0].student
    course = write_course(tmp_path / "course.toml", synthetic.due, extended)
    roster = tmp_path / "canvas_export.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (99)\n"
                      "    Points Possible,,,,,10\n"
                      f'"Doe, Jane",1234,U-1,{synthetic.students[0].student},Lab A,7\n')
    out = tmp_path / "export"
    assert main(["export", str(graded), "--course", str(course), "--submissions", str(synthetic.root),
                 "--canvas", "--roster", str(roster), "--long", "--out", str(out)]) == 0
    final = {row["student"]: row for row in read_csv(out / "gradebook_final.csv")}
    gradebook = {row["student"]: row for row in read_csv(graded / "gradebook.csv")}
    for student in synthetic.students:
        row = final[student.student]
        assert row["time_source"] == student.time_source
        days = 0 if student.student == extended else expected_days_late(
            datetime.fromisoformat(student.submitted_at), synthetic.due)
        for chapter in CHAPTERS:
            raw = float(gradebook[student.student][chapter])
            assert float(row[f"{chapter} raw"]) == raw
            assert int(row[f"{chapter} days late"]) == days
            assert float(row[f"{chapter} penalty"]) == pytest.approx(raw * min(0.3, 0.1 * days), abs=1e-4)
            assert float(row[chapter]) == pytest.approx(raw * (1 - min(0.3, 0.1 * days)), abs=1e-4)
        assert float(row["score"]) == pytest.approx(float(row["raw_score"]) - float(row["penalty"]), abs=1e-4)
    with (out / "canvas.csv").open(newline="") as fh:
        canvas = list(csv.reader(fh))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Foundations (4711)"]
    assert "Points Possible" in canvas[1][0] and canvas[1][5] == "43"
    rows = {r[3]: r for r in canvas[2:]}
    assert rows[synthetic.students[0].student][:5] == ["Doe, Jane", "1234", "U-1", synthetic.students[0].student,
                                                       "Lab A"]
    for student in synthetic.students:
        assert float(rows[student.student][5]) == pytest.approx(float(final[student.student]["score"]), abs=1e-4)
    long = read_csv(out / "long.csv")
    assert len(long) == 26 * len(CHAPTERS) and list(long[0])[:4] == ["student", "item", "score", "max_score"]


def test_regrade_keeps_history_and_reports_what_changed(graded_class: Class, tmp_path: Path) -> None:
    synthetic, graded = graded_class
    root, regraded = tmp_path / "submissions", tmp_path / "graded"
    shutil.copytree(synthetic.root, root, symlinks=True)
    shutil.copytree(graded, regraded)
    fixer = next(s for s in synthetic.students if not s.copy_of and any(
        v not in ("correct", "stub") for v in s.plan.values()))
    function, mistake = next((f, v) for f, v in fixer.plan.items() if v not in ("correct", "stub"))
    module = root / fixer.student / "neural_network" / f"{load_manifest().modules[function]}.py"
    module.write_text(replace_definition(module.read_text(), function, CORRECT[function][0]))
    args = ["grade-batch", str(root), "--out", str(regraded), "--resume", "--no-progress", *CHAPTER_ARGS]
    assert main(args) == 0
    history = list((regraded / "history").iterdir())
    assert len(history) == 1
    kept = history[0]
    assert json.loads((kept / "results" / f"{fixer.student}.json").read_text()) == json.loads(
        (graded / "results" / f"{fixer.student}.json").read_text())
    changes = json.loads((kept / "changes.json").read_text())
    assert [c["student"] for c in changes] == [fixer.student]
    assert changes[0]["reasons"][0] == "the submission changed"  # (and the kit, if it was edited meanwhile)
    assert changes[0]["after"] > changes[0]["before"]
    chapter = load_manifest().chapter_of(function)
    assert changes[0]["tests"] and all(t["name"].startswith(f"{chapter} {function}") for t in changes[0]["tests"])
    report = (kept / "changes" / f"{fixer.student}.md").read_text()
    assert f"({mistake})" in report and "passed" in report
    assert fixer.student in (kept / "changes.md").read_text()
    # grading again with nothing changed leaves no new history folder
    assert main(args) == 0
    assert len(list((regraded / "history").iterdir())) == 1
