"""The `dlnp` commands, run as a user would run them."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from dlnp.manifest import load_manifest
from instructor.release import chapter_table
from instructor.submissions import make_submission

KIT = Path(__file__).resolve().parent.parent


def dlnp(*args: str, cwd: Path = KIT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(cwd if (cwd / "dlnp").is_dir() else KIT))
    return subprocess.run([sys.executable, "-m", "instructor", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_demo_runs_end_to_end() -> None:
    proc = dlnp("demo", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "student,score,max_score" in proc.stdout
    rows = {line.split(",")[0]: line.split(",") for line in proc.stdout.splitlines() if line.count(",") > 3}
    total = str(load_manifest().max_score)
    assert rows["perfect"][1] == total and rows["perfect"][2] == total
    assert 0 < float(rows["half_done"][1]) < float(total)
    assert 0 < float(rows["classic_mistakes"][1]) < float(total)
    assert "Likely mistake" in proc.stdout


def test_check_inside_a_release(release: Path, tmp_path: Path) -> None:
    proc = dlnp("check", "2.1", cwd=release)
    assert proc.returncode == 0 and "not started" in proc.stdout
    done = make_submission(release, tmp_path / "done")
    proc = dlnp("check", cwd=done)
    assert proc.returncode == 0, proc.stdout
    assert "FAILED" not in proc.stdout and "not started" not in proc.stdout
    broken = make_submission(release, tmp_path / "broken", patches={
        "mse_loss": "def mse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))\n"})
    proc = dlnp("check", "2.1", cwd=broken)
    assert proc.returncode == 1 and "FAILED" in proc.stdout and "sum instead of mean" in proc.stdout


def test_grade_and_grade_batch(release: Path, tmp_path: Path) -> None:
    root = tmp_path / "subs"
    make_submission(release, root / "alice")
    make_submission(release, root / "bob", implement=[])
    out = tmp_path / "alice.json"
    proc = dlnp("grade", str(root / "alice"), "--out", str(out), "--chapter", "2.1")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["chapters"]["2.1"]["score"] > 0
    proc = dlnp("grade-batch", str(root), "--out", str(tmp_path / "graded"), "--jobs", "2", "--chapter", "2.1")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.reader((tmp_path / "graded" / "gradebook.csv").open()))
    assert rows[0][:3] == ["student", "score", "max_score"]
    assert rows[0][3:] == [c.id for c in load_manifest().chapters]
    assert [r[0] for r in rows[1:]] == ["alice", "bob"]
    assert (tmp_path / "graded" / "feedback" / "bob.md").read_text().count("Not started") >= 1
    assert (tmp_path / "graded" / "results" / "alice.json").is_file()


def test_readme_chapter_table_is_generated_from_the_manifest() -> None:
    assert chapter_table(load_manifest()) in (KIT / "README.md").read_text(), (
        "README's chapter table is stale: run `dlnp readme` to regenerate it"
    )


def test_submit_writes_the_archive_gradescope_unpacks(release: Path, tmp_path: Path) -> None:
    import shutil
    import zipfile

    from autograder.gradescope_upload import stage_upload

    done = make_submission(release, tmp_path / "done")
    (done / "neural_network" / "__pycache__").mkdir(exist_ok=True)
    (done / "neural_network" / "__pycache__" / "losses.cpython-311.pyc").write_bytes(b"\0")
    proc = dlnp("submit", cwd=done)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    archive = done / "neural_network.zip"
    assert "Gradescope" in proc.stdout and archive.is_file()
    names = zipfile.ZipFile(archive).namelist()
    assert "neural_network/losses.py" in names and all(n.startswith("neural_network/") for n in names)
    assert not any("__pycache__" in n for n in names)
    # Gradescope's runner, given the zip as uploaded and given it unzipped, grades the whole package
    for unzip in (False, True):
        upload = tmp_path / f"upload{unzip}"
        upload.mkdir()
        if unzip:
            zipfile.ZipFile(archive).extractall(upload)
        else:
            shutil.copyfile(archive, upload / archive.name)
        staged = stage_upload(upload, release / "neural_network", tmp_path / f"graded{unzip}", load_manifest(),
                              tmp_path / f"scratch{unzip}")
        assert staged is not None and staged.kind == "package" and not staged.from_stubs, staged
        got = (staged.root / "neural_network" / "losses.py").read_text()
        assert got == (done / "neural_network" / "losses.py").read_text()
    # the same files give the same archive (fixed timestamps)
    first = archive.read_bytes()
    assert dlnp("submit", cwd=done).returncode == 0 and archive.read_bytes() == first


def test_submit_warns_when_a_file_does_not_compile(release: Path, tmp_path: Path) -> None:
    broken = make_submission(release, tmp_path / "broken")
    (broken / "neural_network" / "metrics.py").write_text("def accuracy(:\n")
    proc = dlnp("submit", cwd=broken)
    assert proc.returncode == 1
    assert "neural_network/metrics.py, line 1: SyntaxError" in proc.stdout


def test_check_shows_points_progress_next_chapter_and_hand_in(release: Path, tmp_path: Path) -> None:
    first_two = [f.name for c in load_manifest().chapters[:2] for f in c.functions]
    partial = make_submission(release, tmp_path / "partial", implement=first_two)
    proc = dlnp("check", cwd=partial)
    assert proc.returncode == 0, proc.stdout
    chapters = load_manifest().chapters
    points = chapters[0].points + chapters[1].points
    assert f"Progress: 2 of {len(chapters)} chapters pass every public check ({points} of " in proc.stdout
    assert f"Next: chapter {chapters[2].id}, {chapters[2].title}" in proc.stdout
    for route in ("dlnp submit", "git push", "nbgrader"):
        assert route in proc.stdout
