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
