"""The scratch watchdog of the container-like mode (:mod:`autograder.sandbox.scratch`), piece by piece.

What it counts (the working folder, the worker uid's entries in world-writable folders
and inside its folders there, files its processes hold open after deleting them), what
it does not count (other users' files), and what it does over the bound (kill every
process of the uid, say why, delete the files). Needs root: files are given to a
dedicated worker uid, and a process runs as that uid. The end-to-end case (a worker
filling /tmp, /dev/shm and its working folder) is in ``tests/hostile/test_containment.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.sandbox import WorkerUser, claim_user, grader_is_root, processes_of_user
from autograder.sandbox.scratch import MAX_ENTRIES, ScratchWatch, measure

MIB = 2**20
pytestmark = pytest.mark.skipif(not grader_is_root(), reason="needs root to give files to a worker uid")


@pytest.fixture
def user() -> Iterator[WorkerUser]:
    claimed = claim_user()
    assert claimed is not None
    yield claimed
    claimed.release()


@pytest.fixture
def space() -> Iterator[Path]:
    """A folder the worker uid can reach (pytest's own temporary folders are root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="dlnp-scratch-test-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _file(path: Path, mib: int, uid: int = 0) -> Path:
    path.write_bytes(b"x" * (mib * MIB))
    os.chown(path, uid, uid)
    return path


def _folders(space: Path) -> tuple[Path, Path]:
    work, shared = space / "work", space / "shared"
    work.mkdir()
    shared.mkdir()
    shared.chmod(0o1777)
    return work, shared


def test_it_counts_the_working_folder_and_what_the_uid_owns_in_shared_folders(space: Path,
                                                                              user: WorkerUser) -> None:
    work, shared = _folders(space)
    _file(work / "a.bin", 1, user.uid)
    (work / "sub").mkdir()
    _file(work / "sub" / "b.bin", 1)  # everything in the working folder counts, whoever owns it
    _file(shared / "mine.bin", 2, user.uid)
    _file(shared / "theirs.bin", 4)  # another user's file: not the worker's
    mine = shared / "mine"
    mine.mkdir()
    os.chown(mine, user.uid, user.uid)
    _file(mine / "inner.bin", 3)  # inside the worker's folder: counted
    (shared / "link").symlink_to(shared / "theirs.bin")
    os.lchown(shared / "link", user.uid, user.uid)  # a link is not followed
    usage = measure(user.uid, work, shared=(str(shared),), open_files=False)
    assert 7 * MIB <= usage.bytes < 7 * MIB + 256 * 1024, usage.bytes
    assert not usage.capped


MEMFD = f"import os, time; fd = os.memfd_create('m'); os.write(fd, bytes({2 * MIB})); print('ready', flush=True); " \
        "time.sleep(30)"


@pytest.mark.parametrize("kind", ["deleted file", "memfd"])
def test_a_deleted_file_or_memfd_held_open_by_the_uid_is_counted(space: Path, user: WorkerUser, kind: str) -> None:
    work, shared = _folders(space)
    if kind == "memfd":
        if not os.access("/usr/bin/python3", os.X_OK):
            pytest.skip("no /usr/bin/python3 to make a memfd as the worker uid")
        argv = ["/usr/bin/python3", "-I", "-c", MEMFD]
    else:
        argv = ["/bin/sh", "-c",
                f"exec 3>{shared}/held; head -c {2 * MIB} /dev/zero >&3; rm {shared}/held; echo ready; sleep 30"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, preexec_fn=user.drop)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        assert not (shared / "held").exists()
        assert measure(user.uid, work, shared=(str(shared),), open_files=False).bytes == 0
        assert measure(user.uid, work, shared=(str(shared),), open_files=True).bytes >= 2 * MIB
    finally:
        proc.kill()
        proc.wait()


def test_over_the_bound_every_process_of_the_uid_is_killed_and_the_files_deleted(space: Path,
                                                                                  user: WorkerUser) -> None:
    work, _ = _folders(space)
    os.chown(work, user.uid, user.uid)
    proc = subprocess.Popen(["/bin/sleep", "60"], preexec_fn=user.drop)
    watch = ScratchWatch(user, work, 1 * MIB)
    try:
        _file(work / "small.bin", 1, user.uid)
        assert watch.check().bytes == MIB and watch.tripped is None  # at the bound, not over it
        _file(work / "big.bin", 2, user.uid)
        watch.check()
        assert watch.tripped is not None and watch.tripped.startswith("wrote more than 1 MiB of scratch files (3 MiB")
        assert proc.wait(timeout=10) == -9 and processes_of_user(user.uid) == []
        watch.clear()
        assert watch.tripped is None and list(work.iterdir()) == []
    finally:
        proc.kill()
        proc.wait()


def test_too_many_entries_trip_the_bound(space: Path, user: WorkerUser) -> None:
    work, _ = _folders(space)
    for i in range(MAX_ENTRIES + 1):
        (work / f"e{i}").touch()  # empty files hold no bytes, but inodes
    watch = ScratchWatch(user, work, 64 * MIB)
    watch.check(open_files=False)
    assert watch.tripped == (f"made more than {MAX_ENTRIES} scratch files and folders (in its working folder, /tmp, "
                             "/var/tmp and /dev/shm)")


def test_the_watch_polls_in_a_thread_while_the_worker_runs(space: Path, user: WorkerUser) -> None:
    work, _ = _folders(space)
    watch = ScratchWatch(user, work, 1 * MIB)
    watch.start()
    try:
        started = time.monotonic()
        _file(work / "big.bin", 2, user.uid)
        while watch.tripped is None and time.monotonic() - started < 5:
            time.sleep(0.02)
        assert watch.tripped is not None, "the watch did not notice in 5 s"
    finally:
        watch.stop()
