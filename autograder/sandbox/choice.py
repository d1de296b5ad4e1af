"""Which confinement this machine offers (:func:`choose_isolation`), and what the results say about it."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .cgroups import cgroup_support
from .errors import SandboxError
from .isolation import Sandbox
from .layout import RUNTIME, interpreter
from .limits import ISOLATIONS, Limits
from .scratch import MAX_ENTRIES, POLL_SECONDS
from .users import claim_user


def grader_is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@functools.cache
def probe(isolation: str) -> str:
    """'' when ``isolation`` works on this machine (as the workers' user), else why not
    (tried twice: a launcher may fail once for reasons of the moment)."""
    why = _probe_once(isolation)
    return _probe_once(isolation) if why else why


def _probe_once(isolation: str) -> str:
    tool = {"bwrap": "bwrap", "unshare": "unshare"}[isolation]
    if not sys.platform.startswith("linux") or shutil.which(tool) is None:
        return f"{tool} is not installed"
    scratch = Path(tempfile.mkdtemp(prefix="dlnp-probe-"))
    user = None
    try:
        user = claim_user()
        (scratch / "runtime").mkdir()
        (scratch / "runtime" / "probe.py").write_text(
            f"import os, socket\nassert not os.path.exists({str(RUNTIME)!r})\n"
            "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\n    raise SystemExit(3)\n"
            "except OSError:\n    pass\nprint('ok')\n"
        )
        (scratch / "runtime").chmod(0o755)
        box = Sandbox(isolation, scratch, {"runtime": scratch / "runtime"}, user=user)
        exe, _ = interpreter()
        cmd = box.command([exe, "-I", "-S", "-B", box.path("runtime/probe.py")])
        proc = subprocess.run(cmd, cwd=scratch, capture_output=True, timeout=30, check=False,
                              stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                              preexec_fn=user.drop if user is not None and box.drops_in_preexec else None)
        if proc.returncode != 0 or b"ok" not in proc.stdout:
            return f"{tool} failed here: {proc.stderr.decode(errors='replace').strip()[:300]}"
        return ""
    except (OSError, subprocess.SubprocessError, SandboxError) as exc:
        return f"{tool} failed here: {exc}"
    finally:
        if user is not None:
            user.release()
        shutil.rmtree(scratch, ignore_errors=True)


def not_isolated_note(reasons: str) -> str:
    return ("NOT ISOLATED: student code ran WITHOUT namespace isolation and as the grader's own user "
            f"({reasons}): time, memory and output limits applied, but it could read every file this user "
            "can read (the hidden graders and the reference included), use the network, and leave processes "
            "behind. Install bubblewrap (apt-get install bubblewrap) or grade as root.")


def choose_isolation(requested: str = "auto") -> tuple[str, str]:
    """(isolation actually used, note). ``auto`` degrades to ``none`` with a note; an
    explicitly requested kind that does not work is an error."""
    if requested not in ISOLATIONS:
        raise ValueError(f"isolation must be one of {', '.join(ISOLATIONS)}, not {requested!r}")
    if requested == "none":
        if grader_is_root():
            return "none", ("isolation switched off (--isolation none): no namespaces, so the network was not "
                            "blocked; the worker ran as a dedicated unprivileged user that cannot read the kit, "
                            "the results or other submissions")
        return "none", not_isolated_note("isolation switched off with --isolation none")
    if requested != "auto":
        why = probe(requested)
        if why:
            raise SandboxError(f"--isolation {requested} is not available: {why}")
        return requested, ""
    reasons: list[str] = []
    for kind in ("bwrap", "unshare"):
        why = probe(kind)
        if not why:
            return kind, ""
        reasons.append(why)
    if grader_is_root():
        return "none", ("student code ran WITHOUT namespace isolation (" + "; ".join(reasons) + "): the network "
                        "was not blocked; the worker ran as a dedicated unprivileged user that cannot read the "
                        "kit, the results or other submissions. Install bubblewrap to confine it further.")
    return "none", not_isolated_note("; ".join(reasons))


def tree_bounds(limits: Limits, support: tuple[str, str] | None = None, root: bool | None = None) -> dict[str, str]:
    """The bounds that hold for the whole process tree of one worker on this machine (``support``:
    what :func:`~.cgroups.cgroup_support` says, ``root``: whether the grader is root; by default probed)."""
    version, why_not = support if support is not None else cgroup_support()
    root = grader_is_root() if root is None else root
    mib = limits.memory_bytes // 2**20
    if version:
        return {
            "mechanism": f"cgroup {version}",
            "processes": f"at most {limits.processes} processes and threads in the tree (pids.max)",
            "memory": f"at most {mib} MiB for the whole tree, memfd and shared memory included",
            "cpu": "CPU time of every process of the tree, charged to the test",
            "kill": "every process of the tree killed with the worker",
        }
    if root:
        return {
            "mechanism": f"dedicated uid and per-process limits ({why_not})",
            "processes": f"at most {limits.processes} processes and threads (RLIMIT_NPROC of the worker's uid)",
            "memory": f"at most {mib} MiB address space per process, so at most {limits.processes * mib} MiB "
                      f"for the tree; memfd and /dev/shm files at most {limits.output_bytes // 2**20} MiB each",
            "cpu": "CPU time of the worker and its live descendants, charged to the test",
            "kill": "every process of the worker's uid killed with the worker",
        }
    return {
        "mechanism": f"per-process limits only ({why_not}; the grader is not root)",
        "processes": "no bound but the grader user's own process limit",
        "memory": f"at most {mib} MiB address space per process",
        "cpu": "CPU time of the worker and its live descendants, charged to the test",
        "kill": "processes found by their environment tag are killed with the worker (one that clears its "
                "environment and starts a new session can outlive it)",
    }


def scratch_bound(isolation: str, root: bool, limits: Limits) -> str:
    """The bound that holds on the files a worker writes (``whole_tree.scratch`` of the results)."""
    mib = limits.scratch_bytes / 2**20
    each = limits.output_bytes / 2**20
    if isolation != "none":
        return (f"a private /tmp and a private /dev/shm of {mib:g} MiB each (tmpfs); the working folder is in "
                f"that /tmp; each file at most {each:g} MiB")
    if root:
        return (f"at most {mib:g} MiB (and {MAX_ENTRIES} entries) in the working folder, /tmp, /var/tmp and "
                f"/dev/shm together, files held open after deletion and memfd included: measured every "
                f"{POLL_SECONDS:g} s by the grader, which then kills every process of the worker's uid, so it may "
                f"be exceeded by what the worker writes in {POLL_SECONDS:g} s; each file at most {each:g} MiB; "
                "its files are deleted when it ends")
    return (f"not bounded in total (each file at most {each:g} MiB): the worker writes wherever the grader's "
            "user can")


def sandbox_report(limits: Limits) -> dict[str, Any]:
    """What confined the student's code, for the results file.

    ``isolated`` is False only for a non-root grader without namespaces: the engine
    and the exports then say loudly that the run was not isolated.
    """
    isolation, note = choose_isolation(limits.isolation)
    root = grader_is_root()
    bounds = tree_bounds(limits)
    if isolation != "none" and not root:
        bounds["kill"] = "the pid namespace kills every process of the tree with the worker"
    bounds["scratch"] = scratch_bound(isolation, root, limits)
    return {
        "isolation": isolation,
        "isolated": isolation != "none" or root,
        "network": "blocked" if isolation != "none" else "not blocked",
        "kit_hidden": isolation != "none" or root,
        "user": ("a dedicated unprivileged uid, no supplementary groups, no capabilities, no_new_privs" if root
                 else f"the grader's own uid {os.getuid()}"
                 + (" (mapped to 65534 in a user namespace, no capabilities)" if isolation != "none" else "")),
        "whole_tree": bounds,
        "note": note,
        "limits": {k: v for k, v in asdict(limits).items() if k != "isolation"},
    }
