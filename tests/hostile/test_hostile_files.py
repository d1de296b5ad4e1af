"""A submission whose folder holds hostile files is graded, quickly, on its regular files alone.

FIFOs and symlinks named like modules, a symlink to ``/dev/zero``, a 512 MiB sparse
file, names that are not UTF-8 and thousands of small files: ``grade_submission``
must neither hang nor blow up, and grade the real modules as usual.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

from autograder.engine import grade_submission
from autograder.plugin import submission_digest
from instructor.submissions import make_submission


def test_hostile_files_in_the_package_do_not_stop_the_grading(release: Path, tmp_path: Path) -> None:
    sub = make_submission(release, tmp_path / "perfect")
    package = sub / "neural_network"
    os.mkfifo(package / "x.py")
    (package / "zero.py").symlink_to("/dev/zero")
    (package / "solutions.py").symlink_to(Path(__file__).resolve().parents[2] / "solutions" / "losses.py")
    with open(package / "sparse.bin", "wb") as fh:
        fh.truncate(512 * 2**20)
    with open(os.path.join(os.fsencode(package), b"\xff\xfe-not-utf8.py"), "wb") as fh:
        fh.write(b"BROKEN = 1\n")
    many = package / "many"
    many.mkdir()
    for i in range(3000):
        (many / f"f{i}.txt").write_text("x")
    results: list[dict[str, Any]] = []
    digest: list[str] = []

    def grade() -> None:
        digest.append(submission_digest(sub))
        results.append(grade_submission(sub, chapters=["1.3", "2.1"]))

    thread = threading.Thread(target=grade, daemon=True)
    thread.start()
    thread.join(timeout=180)
    assert results, "grading hung on a hostile file"
    graded = results[0]
    assert graded["score"] == graded["max_score"] > 0, [t["output"] for t in graded["tests"] if t["score"] == 0]
    assert graded["submission_sha256"] == digest[0]
    shutil.rmtree(many)


def test_files_not_given_to_the_worker_are_named_in_the_feedback(release: Path, tmp_path: Path) -> None:
    """A FIFO and symlinks in the package: the results say which files the code did not get and why,
    and the tests of a module that is a symlink say that this is why it could not be imported."""
    sub = make_submission(release, tmp_path / "links")
    package = sub / "neural_network"
    os.mkfifo(package / "helpers.py")
    (package / "data.npy").symlink_to("/etc/hostname")
    losses = package / "losses.py"
    real = tmp_path / "elsewhere" / "losses.py"
    real.parent.mkdir()
    losses.replace(real)
    losses.symlink_to(real)  # the module the student wrote, kept outside the package
    results = grade_submission(sub, chapters=["1.3", "2.1"])
    lines = results["output"].splitlines()
    skipped = [line for line in lines if line.startswith("Some files of your neural_network/ package were not given")]
    assert len(skipped) == 1, results["output"]
    for name in ("helpers.py", "data.npy", "losses.py"):
        assert f"{name}: not a regular file (a symlink, FIFO, socket or device): ignored" in skipped[0], skipped
    assert results["chapters"]["1.3"]["score"] == results["chapters"]["1.3"]["max_score"] > 0
    lost = [t for t in results["tests"] if t["number"] == "2.1"]
    assert lost and all(t["score"] == 0 for t in lost)
    for test in lost:
        assert test["output"].startswith("Note: neural_network/losses.py: not a regular file"), test["output"]
    passed = [t for t in results["tests"] if t["number"] == "1.3"]
    assert all(t["output"] == "" for t in passed), "only the tests of the skipped module carry the note"
