"""cgroup v2 whole-tree limits, on a fake cgroup v2 tree (this machine may have cgroup v1 only).

The fake tree is a temporary folder laid out as ``/sys/fs/cgroup`` with the grader's own
cgroup delegated; a small fake "kernel" (:class:`FakeKernel`) fills a new cgroup with its
interface files on ``mkdir`` and removes them on ``rmdir``, as the real one does. The
tests check what the sandbox writes there (limits, attach, kill), what it reads back
(``cpu.stat``, ``memory.events``), and what the results say held (``whole_tree``),
including the fallback bounds without cgroups.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.sandbox import Limits
from autograder.sandbox.cgroups import Hierarchy, TreeCgroup, cgroup_support
from autograder.sandbox.choice import tree_bounds

#: The interface files the kernel puts in a new cgroup v2 (those the sandbox uses).
V2_FILES = {
    "cgroup.procs": "",
    "cgroup.kill": "",
    "pids.max": "max\n",
    "memory.max": "max\n",
    "memory.swap.max": "max\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
}


@dataclass(frozen=True)
class FakeKernel(Hierarchy):
    """A cgroup v2 hierarchy in a plain folder: ``mkdir`` and ``rmdir`` do what the kernel does."""

    def mkdir(self, folder: Path) -> None:
        super().mkdir(folder)
        for name, text in V2_FILES.items():
            (folder / name).write_text(text)

    def rmdir(self, folder: Path) -> None:
        if (folder / "cgroup.procs").read_text().split():
            raise OSError(16, "Device or resource busy")  # a cgroup with processes cannot be removed
        for name in V2_FILES:
            (folder / name).unlink(missing_ok=True)
        folder.rmdir()


def fake_v2(tmp_path: Path, delegated: str = "cpu memory pids", own: str = "/grading") -> FakeKernel:
    """A v2 tree whose root offers every controller and whose ``/grading`` delegates ``delegated``."""
    root = tmp_path / "cgroup"
    (root / "grading").mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "grading" / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "grading" / "cgroup.subtree_control").write_text(delegated + "\n")
    (root / own.lstrip("/")).mkdir(parents=True, exist_ok=True)
    self_cgroup = tmp_path / "self-cgroup"
    self_cgroup.write_text(f"0::{own}\n")
    return FakeKernel(root=root, self_cgroup=self_cgroup)


def test_a_v2_cgroup_gets_the_limits_and_its_cpu_time_is_read(tmp_path: Path) -> None:
    kernel = fake_v2(tmp_path)
    group = TreeCgroup.create("v2", processes=7, memory_bytes=123 * 2**20, hierarchy=kernel)
    assert group is not None and group.version == "v2"
    folder = group.folders[""]
    assert folder.parent == kernel.root / "grading" and folder.name.startswith(f"dlnp-worker-{os.getpid()}-")
    assert (folder / "pids.max").read_text() == "7"
    assert (folder / "memory.max").read_text() == str(123 * 2**20)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert group.cpu_seconds() == 0.0
    (folder / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    assert group.cpu_seconds() == 2.5  # usage_usec: user + system of every process that ran there
    assert not group.ran_out_of_memory()
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert group.ran_out_of_memory()
    group.attach_self()  # what the worker's launcher does between fork and exec
    assert (folder / "cgroup.procs").read_text() == "0"
    (folder / "cgroup.procs").write_text("")
    group.kill_all()
    assert (folder / "cgroup.kill").read_text() == "1"  # one write kills the whole tree
    group.remove()
    assert not folder.exists() and group.folders == {}


def test_v2_is_used_where_pids_and_memory_are_delegated_and_the_results_say_so(tmp_path: Path) -> None:
    kernel = fake_v2(tmp_path)
    support = cgroup_support(kernel)
    assert support == ("v2", "")
    assert [p.name for p in (kernel.root / "grading").iterdir() if p.is_dir()] == [], "the probe's cgroup is removed"
    limits = Limits(processes=40, memory_bytes=512 * 2**20)
    bounds = tree_bounds(limits, support, root=True)
    assert bounds["mechanism"] == "cgroup v2"
    assert bounds["processes"] == "at most 40 processes and threads in the tree (pids.max)"
    assert bounds["memory"] == "at most 512 MiB for the whole tree, memfd and shared memory included"
    assert "every process of the tree" in bounds["cpu"] and "every process of the tree" in bounds["kill"]


def test_v2_uses_the_parent_cgroup_when_the_grader_sits_in_a_leaf(tmp_path: Path) -> None:
    kernel = fake_v2(tmp_path, own="/grading/leaf")  # the leaf has no subtree_control of its own
    group = TreeCgroup.create("v2", processes=3, memory_bytes=2**20, hierarchy=kernel)
    assert group is not None and group.folders[""].parent == kernel.root / "grading"
    group.remove()


def test_v2_is_not_used_without_pids_and_memory_delegated(tmp_path: Path) -> None:
    kernel = fake_v2(tmp_path, delegated="cpu")
    assert TreeCgroup.create("v2", processes=3, memory_bytes=2**20, hierarchy=kernel) is None
    version, why = cgroup_support(kernel)
    assert version == "" and "no writable cgroup hierarchy" in why


def test_a_cgroup_left_by_a_dead_grader_is_swept(tmp_path: Path) -> None:
    kernel = fake_v2(tmp_path)
    stale = kernel.root / "grading" / "dlnp-worker-999999999-0000"
    kernel.mkdir(stale)
    group = TreeCgroup.create("v2", processes=3, memory_bytes=2**20, hierarchy=kernel)
    assert group is not None and not stale.exists()
    group.remove()


@pytest.mark.parametrize("root", [True, False])
def test_without_cgroups_the_results_state_the_bound_that_holds(root: bool) -> None:
    limits = Limits(processes=32, memory_bytes=256 * 2**20, output_bytes=2**20)
    bounds = tree_bounds(limits, ("", "no writable cgroup hierarchy with the pids and memory controllers here"),
                         root=root)
    if root:  # the dedicated uid: RLIMIT_NPROC bounds the tree, its memory is processes x address space
        assert bounds["mechanism"].startswith("dedicated uid and per-process limits (no writable cgroup")
        assert bounds["processes"] == "at most 32 processes and threads (RLIMIT_NPROC of the worker's uid)"
        assert "so at most 8192 MiB for the tree" in bounds["memory"]
        assert bounds["kill"] == "every process of the worker's uid killed with the worker"
    else:
        assert bounds["mechanism"].startswith("per-process limits only")
        assert bounds["processes"] == "no bound but the grader user's own process limit"
        assert "can outlive it" in bounds["kill"]
