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
