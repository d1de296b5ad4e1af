"""Containment of hostile submissions, attack by attack, in every isolation mode this machine has.

Each test writes attack code (:mod:`tests.hostile.attacks`) as the student's module,
runs it on one confined worker through :mod:`tests.hostile.harness` in a subprocess,
and checks what the grader observed. Modes:

- ``bwrap`` and ``unshare``: skipped where they do not work here;
- ``container``: no namespaces, grader root (a Docker container such as Gradescope's):
  the kit is copied into a folder only root can read, and the worker must run as an
  unprivileged user that cannot read it. Skipped unless the grader is root and its
  interpreter can be run by other users.

The classes of attack are those of issue 11: reading root-only files, writing sysctls,
host devices, fork and thread bombs, memory across processes and in memfd, CPU burnt
in children, daemons that outlive the worker, and amplified replies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder.sandbox import FIRST_UID, grader_is_root, probe, readable_by

KIT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODES = ["bwrap", "unshare", "container"]
#: Small limits: a second of CPU per test, 512 MiB per process, 32 processes.
LIMITS = {"call_seconds": 8.0, "cpu_seconds": 1.0, "test_seconds": 20.0, "memory_bytes": 512 * 2**20,
          "processes": 32, "open_files": 64, "reply_bytes": 16 * 2**20, "decoded_bytes": 64 * 2**20}

Run = Callable[..., dict[str, Any]]


#: The grader's interpreter in the subprocess: ``$DLNP_HOSTILE_PYTHON`` (a Python with NumPy
#: that every user can run, for machines whose own Python lives in a private home), else this one.
PYTHON = os.environ.get("DLNP_HOSTILE_PYTHON") or sys.executable


def _container_ready() -> str:
    """'' when the container-like mode can run here, else why not."""
    if not grader_is_root():
        return "the container-like mode needs a root grader"
    if not readable_by(Path(os.path.realpath(PYTHON)), FIRST_UID, FIRST_UID):
        return (f"the interpreter {os.path.realpath(PYTHON)} cannot be run by an unprivileged user here "
                "(set $DLNP_HOSTILE_PYTHON to one that can)")
    return ""


def _copy_kit(dest: Path) -> Path:
    """The kit's Python packages in ``dest``, a folder only root can read (as in a grading container)."""
    dest.mkdir(mode=0o700)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("autograder", "dlnp", "solutions", "instructor", "assignments"):
        if (KIT / name).is_dir():
            shutil.copytree(KIT / name, dest / name, ignore=ignore)
    shutil.copytree(HERE, dest / "tests" / "hostile", ignore=ignore)
    (dest / "tests" / "__init__.py").touch()
    return dest


@pytest.fixture(params=MODES)
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Run:
    """``run(calls, after_close=None, limits=None) -> harness report`` in the parametrized mode."""
    mode: str = request.param
    if mode == "container":
        why = _container_ready()
        kit = _copy_kit(tmp_path / "kit") if not why else KIT
    else:
        kit = KIT
    if mode != "container":
        why = probe(mode) if PYTHON == sys.executable else ""  # else: the subprocess probes its own
    if why:
        pytest.skip(why)
    package = tmp_path / "submissions" / "mallory" / "neural_network"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    shutil.copyfile(HERE / "attacks.py", package / "attacks.py")

    def call(calls: list[list[Any]], after_close: dict[str, str] | None = None,
             limits: dict[str, Any] | None = None) -> dict[str, Any]:
        request_data = {"submission": str(package.parent), "isolation": "none" if mode == "container" else mode,
                        "limits": {**LIMITS, **(limits or {})}, "calls": calls, "after_close": after_close}
        env = dict(os.environ, PYTHONPATH=str(kit), DLNP_ISOLATION="")
        proc = subprocess.run([PYTHON, str(kit / "tests" / "hostile" / "harness.py")], cwd=kit, env=env,
                              input=json.dumps(request_data), capture_output=True, text=True, timeout=240,
                              check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        seen: dict[str, Any] = json.loads(proc.stdout)
        if "unavailable" in seen:
            pytest.skip(seen["unavailable"])
        return seen

    return call


def test_the_worker_is_never_host_root(run: Run) -> None:
    seen = run([["identity", []]])
    assert seen["host_uid"] not in (None, 0), seen
    if grader_is_root():
        assert seen["host_uid"] >= FIRST_UID
    inside = seen["results"][0]["value"]
    assert inside["cap_eff"] == "0000000000000000", inside
    assert inside["no_new_privs"] == "1" or not grader_is_root(), inside
    assert inside["groups"] in ([], [inside["uid"]], [65534]), inside
    assert seen["report"]["isolated"] is True


def test_root_only_files_sysctls_and_devices_are_out_of_reach(run: Run, tmp_path: Path) -> None:
    secret = Path("/etc") / f"dlnp-hostile-secret-{os.getpid()}"
    if not grader_is_root():
        pytest.skip("needs root to make a root-only file")
    secret.write_text("root only")
    secret.chmod(0o600)
    try:
        seen = run([["read_files", [[str(secret), "/etc/shadow", "/root/.bash_history", "{KIT}/solutions/losses.py",
                                     "{KIT}/autograder/graders/test_ch2_1.py"]]],
                    ["write_sysctls", []],
                    ["open_devices", [["kmsg", "console", "kvm", "mem", "vda", "sda", "nvme0", "tty1"], "w"]],
                    ["open_devices", [["null", "zero", "urandom"], "r"]]])
    finally:
        secret.unlink()
    read, sysctls, devices, harmless = (r.get("value") for r in seen["results"])
    assert read == [], read
    assert sysctls == [], sysctls
    assert devices == [], devices
    assert harmless == ["null", "zero", "urandom"]


def test_fork_and_thread_bombs_stop_at_the_process_limit(run: Run) -> None:
    seen = run([["fork_bomb", [500]], ["thread_bomb", [2000]]])
    forks, threads = seen["results"]
    if not grader_is_root() and seen["report"]["whole_tree"]["mechanism"].startswith("per-process"):
        pytest.skip("no whole-tree process bound without root or cgroups")
    assert forks["status"] == "ok" and forks["value"] < LIMITS["processes"], forks
    assert threads["status"] in ("ok", "error", "crash"), threads
    if threads["status"] == "ok":
        assert threads["value"] < LIMITS["processes"], threads
    assert seen["left"] == [], "every process of the worker is dead when it is"


def test_memory_is_bounded_across_processes_and_in_memfd(run: Run) -> None:
    seen = run([["memory_in_children", [4, 300]], ["memfd_fill", [600]], ["shm_fill", [600]]])
    children, memfd, shm = seen["results"]
    tree = seen["report"]["whole_tree"]["mechanism"]
    if tree.startswith("cgroup"):  # 4 x 300 MiB cannot all be held under 512 MiB for the tree
        assert children["status"] != "ok" or children["value"] < 2, children
    else:  # the stated bound: processes x address space
        assert children["status"] != "ok" or children["value"] * 300 <= LIMITS["processes"] * 512, children
    # a memory file is a file: it grows no larger than the file-size limit (1 MiB)
    assert memfd["status"] != "ok" or memfd["value"] <= 1, memfd
    # /dev/shm: a private tmpfs of scratch size with namespaces, the cgroup's memory without; with
    # neither, the host's /dev/shm is not bounded while the worker runs, but emptied of its files after
    if seen["report"]["isolation"] != "none":
        assert shm["status"] != "ok" or shm["value"] <= 64 + 1, shm
    elif tree.startswith("cgroup"):
        assert shm["status"] != "ok" or shm["value"] < 512, shm
    assert seen["shm_left"] == 0, "files in /dev/shm outlived the worker"
    assert seen["left"] == []


def test_cpu_burnt_in_a_child_is_charged_to_the_test(run: Run) -> None:
    # the child would spin for a minute; the call may take 40 s of wall-clock time, but
    # only 1 s of CPU time: the CPU of the child must be what stops it
    seen = run([["cpu_in_child", [60.0]]], limits={"call_seconds": 40.0, "test_seconds": 40.0})
    (result,) = seen["results"]
    assert result["status"] == "timeout", result
    assert "CPU time" in result["message"], result
    assert seen["left"] == []


def test_a_daemon_does_not_outlive_the_worker(run: Run, tmp_path: Path) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("")
    target.chmod(0o666)
    marker = f"dlnp-hostile-daemon-{os.getpid()}-{id(target)}"
    seen = run([["daemon", [marker, str(target)]]], after_close={"marker": marker, "target": str(target)})
    assert seen["results"][0]["status"] == "ok", seen["results"]
    assert seen["left"] == [], "a process started by the student outlived the worker"
    assert not seen["target_grew"], "something kept writing after the worker was closed"


def test_amplified_and_forged_replies_are_bounded(run: Run) -> None:
    seen = run([["forged_reply", [2000, 4]]])
    (amplified,) = seen["results"]
    # one 4 MiB blob referenced 2000 times is decoded once: the grader does not grow by 8 GB
    assert amplified["status"] == "ok" and amplified["value"] == {"items": 2000}, amplified
    assert seen["rss_mib"] < 200, seen["rss_mib"]
    # a blob whose header claims 80 GB is refused from its header, before anything is allocated
    (claimed,) = run([["forged_header", [10**10]]])["results"]
    assert claimed["status"] == "crash" and "cannot read" in claimed["message"], claimed


# ------------------------------------------------------------------ a grader that is not root


def _as_nobody(request_data: dict[str, Any]) -> dict[str, Any]:
    """Run the harness as the user ``nobody`` on the checkout itself (skips where that cannot work)."""
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if not grader_is_root() or runuser is None:
        pytest.skip("needs root and runuser to start a grader as nobody")
    nobody = 65534
    if not readable_by(Path(os.path.realpath(PYTHON)), nobody, nobody) or not readable_by(KIT / "autograder",
                                                                                          nobody, nobody):
        pytest.skip("the interpreter or the kit cannot be read by nobody here (set $DLNP_HOSTILE_PYTHON)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(KIT), "HOME": "/tmp", "LANG": "C.UTF-8"}
    proc = subprocess.run([runuser, "-u", "nobody", "--", PYTHON, str(HERE / "harness.py")], cwd="/tmp",
                          env=env, input=json.dumps(request_data), capture_output=True, text=True, timeout=240,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.fixture
def public_submission() -> Iterator[Path]:
    """A submission that the user nobody can read."""
    root = Path(tempfile.mkdtemp(prefix="dlnp-hostile-public-"))
    root.chmod(0o755)
    package = root / "mallory" / "neural_network"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    shutil.copyfile(HERE / "attacks.py", package / "attacks.py")
    for folder in (root / "mallory", package):
        folder.chmod(0o755)
    yield root / "mallory"
    shutil.rmtree(root, ignore_errors=True)


def test_a_non_root_grader_without_namespaces_says_it_is_not_isolated(public_submission: Path) -> None:
    seen = _as_nobody({"submission": str(public_submission), "isolation": "none", "limits": LIMITS,
                       "calls": [["identity", []]]})
    report = seen["report"]
    assert report["isolated"] is False and report["kit_hidden"] is False
    assert report["note"].startswith("NOT ISOLATED"), report["note"]
    assert report["user"].startswith("the grader's own uid 65534")
    assert seen["host_uid"] == 65534  # the grader's own user: it cannot be anyone else
    assert seen["results"][0]["status"] == "ok"


def test_a_non_root_grader_with_namespaces_is_isolated(public_submission: Path) -> None:
    seen = _as_nobody({"submission": str(public_submission), "isolation": "auto", "limits": LIMITS,
                       "calls": [["identity", []], ["read_files", [["{KIT}/solutions/losses.py"]]]]})
    if seen["report"]["isolation"] == "none":
        pytest.skip("no user namespaces for unprivileged users here")
    assert seen["report"]["isolated"] is True
    assert seen["results"][0]["value"]["cap_eff"] == "0000000000000000"
    assert seen["results"][1]["value"] == [], "the kit is covered by the namespace"


def test_open_files_and_scratch_disk_are_bounded(run: Run) -> None:
    seen = run([["open_many", [5000]], ["fill_scratch", [200]]], limits={"scratch_bytes": 16 * 2**20})
    opened, scratch = seen["results"]
    assert opened["status"] == "ok" and opened["value"] < LIMITS["open_files"], opened
    if seen["report"]["isolation"] != "none":  # a private tmpfs of scratch_bytes
        assert scratch["status"] == "ok" and scratch["value"] <= 16, scratch
    assert seen["left"] == []


def test_scratch_disk_is_bounded_in_total(run: Run) -> None:
    """1 MiB files written in turn in the working folder, /tmp and /dev/shm: at most ``scratch_bytes``
    in total (private tmpfs mounts with namespaces; the grader's watchdog without)."""
    seen = run([["fill_everywhere", [100]], ["pause", [1.0]], ["count_scratch", []]],
               limits={"scratch_bytes": 16 * 2**20})
    filled, paused, left = seen["results"]
    report = seen["report"]
    scratch = report["whole_tree"]["scratch"]
    if report["isolation"] != "none":  # the working folder is in the private /tmp
        assert filled["status"] == "ok" and filled["value"] <= 2 * 16, filled
        assert paused["status"] == "ok", paused
        assert "a private /tmp and a private /dev/shm of 16 MiB each" in scratch, scratch
    else:  # the container-like mode: the grader is root, the worker a dedicated uid
        # The watchdog polls every 0.2 s: a fast writer may finish its call first; then the files are
        # found while the next call runs (the 1 s pause: five polls), and that call fails.
        stopped = [r for r in (filled, paused) if r["status"] == "crash"]
        assert len(stopped) == 1, (filled, paused)
        message = stopped[0]["message"]
        assert "wrote more than 16 MiB of scratch files" in message, message
        found = re.search(r"\((\d+) MiB in its working folder", message)
        assert found and 16 < int(found.group(1)) < 300, message  # stopped long before 300 MiB
        assert "measured every 0.2 s" in scratch, scratch
        assert left == {"status": "ok", "value": 0, "seconds": left["seconds"]}, "its files were deleted"
    assert left["status"] == "ok", "a fresh worker runs after the scratch bound stopped one"
    assert seen["shm_left"] == 0 and seen["tmp_left"] == 0, "files outlived the worker"
    assert seen["left"] == []
