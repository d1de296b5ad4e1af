"""Finding the package in a Gradescope upload (no grading here: see test_gradescope_runner.py)."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.gradescope_upload import merge_notebooks, stage_upload
from dlnp.manifest import load_manifest

MANIFEST = load_manifest()


@pytest.fixture()
def stubs(release: Path) -> Path:
    return release / "neural_network"


def stage(upload: Path, stubs: Path, tmp_path: Path) -> Path:
    staged = stage_upload(upload, stubs, tmp_path / "staged", MANIFEST, tmp_path / "unzipped")
    assert staged is not None
    return staged.root / "neural_network"


def test_loose_files_are_completed_with_the_stubs(stubs: Path, tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    (upload / "nested").mkdir(parents=True)
    (upload / "losses.py").write_text("X = 1\n")
    (upload / "nested" / "losses.py").write_text("X = 2\n")  # the shallowest copy wins
    (upload / "nested" / "activations.py").write_text("Y = 2\n")
    (upload / "notes.py").write_text("not a module of the package\n")
    package = stage(upload, stubs, tmp_path)
    assert (package / "losses.py").read_text() == "X = 1\n"
    assert (package / "activations.py").read_text() == "Y = 2\n"
    assert (package / "_types.py").read_text() == (stubs / "_types.py").read_text()
    assert (package / "optimization.py").read_text() == (stubs / "optimization.py").read_text()
    assert not (package / "notes.py").exists()
    assert sorted(p.name for p in package.glob("*.py")) == sorted(p.name for p in stubs.glob("*.py"))


def test_the_uploads_own_package_comes_before_a_zipped_one(stubs: Path, tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    (upload / "repo" / "neural_network").mkdir(parents=True)
    (upload / "repo" / "neural_network" / "losses.py").write_text("MINE = 1\n")
    with zipfile.ZipFile(upload / "old.zip", "w") as zf:
        zf.writestr("neural_network/losses.py", "OLD = 1\n")
    assert (stage(upload, stubs, tmp_path) / "losses.py").read_text() == "MINE = 1\n"


def test_a_linked_package_or_a_link_in_a_zip_is_never_followed(stubs: Path, tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    upload.mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "losses.py").write_text("REFERENCE = 1\n")
    (upload / "neural_network").symlink_to(secret)
    with zipfile.ZipFile(upload / "s.zip", "w") as zf:
        info = zipfile.ZipInfo("pkg/activations.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, str(secret / "losses.py"))
        zf.writestr("../../outside.py", "X = 1\n")
        zf.writestr("pkg/losses.py", "STUDENT = 1\n")
    package = stage(upload, stubs, tmp_path)
    assert (package / "losses.py").read_text() == "STUDENT = 1\n"
    assert (package / "activations.py").read_text() == (stubs / "activations.py").read_text()
    assert not list(tmp_path.rglob("outside.py"))


def test_notebooks_merge_in_chapter_order(tmp_path: Path) -> None:
    def notebook(setup: str, answers: dict[str, str]) -> str:
        cells = [{"cell_type": "code", "source": setup, "metadata": {"nbgrader": {"grade_id": "setup"}}}]
        cells += [{"cell_type": "code", "source": src,
                   "metadata": {"nbgrader": {"grade_id": f"answer-{f}", "solution": True}}}
                  for f, src in answers.items()]
        return json.dumps({"cells": cells})

    later, earlier = "def gradient_descent(): return 3", "def gradient_descent(): return 2"
    (tmp_path / "ch2_3.ipynb").write_text(notebook("import math", {"gradient_descent": later}))
    (tmp_path / "ch2_2.ipynb").write_text(notebook("import numpy as np", {"gradient_descent": earlier}))
    (tmp_path / "empty.ipynb").write_text(notebook("", {}))
    merged, used = merge_notebooks(sorted(tmp_path.glob("*.ipynb")), MANIFEST)
    assert [p.name for p in used] == ["ch2_2.ipynb", "ch2_3.ipynb"]
    sources = [c["source"] for c in merged["cells"]]
    assert sources[0] == "import numpy as np\n\nimport math"
    assert sources[1:] == [earlier, later]  # run in this order, chapter 2.3's definition wins


def test_nothing_usable(stubs: Path, tmp_path: Path) -> None:
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "README.txt").write_text("hello\n")
    (upload / "broken.zip").write_bytes(b"not a zip")
    assert stage_upload(upload, stubs, tmp_path / "staged", MANIFEST, tmp_path / "unzipped") is None


def test_pipes_huge_files_and_deep_clutter_are_never_read(stubs: Path, tmp_path: Path) -> None:
    """Loose uploads are read only as small regular files: a FIFO named ``losses.py`` (reading it
    would hang) and a sparse 1 GiB ``activations.py`` are passed over and graded as stubs."""
    import os

    upload = tmp_path / "upload"
    upload.mkdir()
    os.mkfifo(upload / "losses.py")
    with (upload / "activations.py").open("wb") as fh:
        fh.truncate(2**30)
    (upload / "basics.py").write_text("OK = 1\n")
    package = stage(upload, stubs, tmp_path)
    assert (package / "basics.py").read_text() == "OK = 1\n"
    assert (package / "losses.py").read_text() == (stubs / "losses.py").read_text()
    assert (package / "activations.py").read_text() == (stubs / "activations.py").read_text()
