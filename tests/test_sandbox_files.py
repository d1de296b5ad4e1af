"""The bounded walk through which the trusted side reads student files (``autograder.sandbox.files``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from autograder.plugin import submission_digest
from autograder.sandbox import BoundedWalk, WalkLimits, copy_package, package_digest


def _package(root: Path) -> Path:
    package = root / "neural_network"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "losses.py").write_text("def mse_loss(y_pred, y):\n    return 0.0\n")
    return package


def test_devices_fifos_and_symlinks_are_never_opened(tmp_path: Path) -> None:
    package = _package(tmp_path / "sub")
    os.mkfifo(package / "x.py")
    (package / "zero.py").symlink_to("/dev/zero")
    (package / "passwd.py").symlink_to("/etc/passwd")
    (package / "up").symlink_to(tmp_path)
    done: list[list[str]] = []
    # a FIFO opened for reading would block this thread forever; a symlink to /dev/zero, exhaust memory
    worker = threading.Thread(target=lambda: done.append(copy_package(package, tmp_path / "copy")), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert done, "copying the package hung"
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["__init__.py", "losses.py"]
    assert any("x.py" in line and "not a regular file" in line for line in done[0])
    assert any("zero.py" in line for line in done[0])


def test_sparse_files_count_by_their_logical_size(tmp_path: Path) -> None:
    package = _package(tmp_path / "sub")
    with open(package / "huge.npy", "wb") as fh:
        fh.truncate(512 * 2**20)  # 512 MiB that take no disk
    skipped = copy_package(package, tmp_path / "copy")
    assert not (tmp_path / "copy" / "huge.npy").exists()
    assert any("huge.npy" in line and "larger than 8 MiB" in line for line in skipped)


def test_caps_on_file_count_and_total_size(tmp_path: Path) -> None:
    package = _package(tmp_path / "sub")
    for i in range(30):
        (package / f"data{i:02d}.txt").write_bytes(b"x" * 1000)
    walk = BoundedWalk(package, WalkLimits(max_files=10, max_total_bytes=1_000_000))
    files = list(walk.files())
    assert len(files) == 10 and any("more than 10 files" in s for s in walk.skipped)
    walk = BoundedWalk(package, WalkLimits(max_files=100, max_total_bytes=5_500))
    assert sum(len(data) for _, data in walk.files()) <= 5_500
    assert any("add up to more than" in s for s in walk.skipped)


def test_names_of_any_bytes_are_copied_and_hashed(tmp_path: Path) -> None:
    package = _package(tmp_path / "sub")
    odd = os.path.join(os.fsencode(package), b"caf\xe9-\xff.py")
    with open(odd, "wb") as fh:
        fh.write(b"X = 1\n")
    copy_package(package, tmp_path / "copy")
    assert os.path.exists(os.path.join(os.fsencode(tmp_path / "copy"), b"caf\xe9-\xff.py"))
    before = package_digest(package)
    with open(odd, "wb") as fh:
        fh.write(b"X = 2\n")
    assert package_digest(package) != before


def test_the_digest_covers_every_file_the_worker_sees(tmp_path: Path) -> None:
    package = _package(tmp_path / "sub")
    (package / "weights.json").write_text("[1, 2, 3]")
    before = submission_digest(tmp_path / "sub")
    assert submission_digest(tmp_path / "sub") == before
    (package / "weights.json").write_text("[1, 2, 4]")  # behaviour may live in a data file
    assert submission_digest(tmp_path / "sub") != before
    changed = submission_digest(tmp_path / "sub")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "losses.cpython-311.pyc").write_bytes(b"\0" * 10)
    assert submission_digest(tmp_path / "sub") == changed, "what the worker never sees does not count"


def test_a_package_that_is_a_symlink_is_not_followed(tmp_path: Path) -> None:
    real = _package(tmp_path / "elsewhere")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "neural_network").symlink_to(real)
    skipped = copy_package(tmp_path / "sub" / "neural_network", tmp_path / "copy")
    assert list((tmp_path / "copy").iterdir()) == []
    assert skipped


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a device node")
def test_device_nodes_are_not_read(tmp_path: Path) -> None:
    package = _package(tmp_path / "sub")
    os.mknod(package / "zero.py", 0o666 | 0o020000, os.makedev(1, 5))  # a character device: /dev/zero
    skipped = copy_package(package, tmp_path / "copy")
    assert not (tmp_path / "copy" / "zero.py").exists()
    assert any("zero.py" in line for line in skipped)
