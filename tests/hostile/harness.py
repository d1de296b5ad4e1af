"""Run attack functions on one confined worker and report what the grader observed (JSON on stdout).

Run as ``python -m tests.hostile.harness`` or as a file, with a JSON request on stdin::

    {"submission": ..., "isolation": ..., "limits": {...}, "calls": [[function, args], ...],
     "after_close": {"marker": ..., "target": ...}}

It prints ``{"report": sandbox_report, "host_uid": ..., "results": [...], "left": [...],
"target_grew": bool, "rss_mib": ...}``. The containment tests run it in a subprocess so that
the container-like mode can use a copy of the kit that only root can read, and so
that it can run as an unprivileged user.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from autograder.sandbox import (
    KIT_ROOT,
    Limits,
    SandboxError,
    Student,
    StudentError,
    choose_isolation,
    processes_of_user,
    sandbox_report,
    tagged_processes,
)


def _host_uid(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _with_marker(marker: str) -> list[int]:
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        if marker.encode() in argv and stat[stat.rindex(b")") + 2 :][:1] != b"Z":
            found.append(int(name))
    return found


def _plain(value: Any) -> Any:
    """``value`` if it is JSON data, else a short description (``{"items": n}`` for a list)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return {"items": len(value)} if isinstance(value, list) else repr(value)[:200]


def main() -> None:
    request: dict[str, Any] = json.loads(sys.stdin.read())
    limits = Limits(**request.get("limits", {}), isolation=request["isolation"])
    kit = str(KIT_ROOT)  # the kit this grader runs (a root-only copy in the container-like mode)
    calls: list[list[Any]] = json.loads(json.dumps(request["calls"]).replace("{KIT}", kit))
    try:
        choose_isolation(limits.isolation)
    except SandboxError as exc:  # the mode asked for does not work on this machine
        print(json.dumps({"unavailable": str(exc)}))
        return
    student = Student(Path(request["submission"]), {name: "attacks" for name, _ in calls}, limits)
    results: list[dict[str, Any]] = []
    host_uid = None
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    uid = student.user.uid if student.user is not None else None
    try:
        for name, args in calls:
            started = time.monotonic()
            try:
                value = student.call(name, *args, check_inputs=False)
                results.append({"status": "ok", "value": _plain(value), "seconds": time.monotonic() - started})
            except StudentError as exc:
                results.append({"status": exc.status, "message": exc.message, "seconds": time.monotonic() - started})
            if host_uid is None:
                host_uid = _host_uid(student.pid)
    finally:
        token = student.token
        student.close()
    after = request.get("after_close") or {}
    target = Path(after["target"]) if after.get("target") else None
    size = target.stat().st_size if target is not None and target.exists() else 0
    deadline = time.monotonic() + 3
    left = tagged_processes(token) + (processes_of_user(uid) if uid is not None else [])
    if after.get("marker"):
        left += _with_marker(after["marker"])
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = tagged_processes(token) + (processes_of_user(uid) if uid is not None else [])
        left += _with_marker(after["marker"]) if after.get("marker") else []
    time.sleep(0.5 if target is not None else 0)
    grew = target is not None and target.exists() and target.stat().st_size > size
    print(json.dumps({
        "report": sandbox_report(limits),
        "host_uid": host_uid,
        "results": results,
        "left": sorted(set(left)),
        "target_grew": grew,
        "rss_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024,
        "shm_left": len([n for n in os.listdir("/dev/shm") if n.startswith("dlnp-hostile-")]),
        "tmp_left": len([n for n in os.listdir("/tmp") if n.startswith("dlnp-hostile-scratch-")]),
    }, default=str))


if __name__ == "__main__":
    main()
