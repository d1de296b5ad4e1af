"""Run one untrusted command confined like a worker (the public self-checks of an upload)."""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .cgroups import TreeCgroup, cgroup_support
from .channel import POLL_SECONDS
from .choice import choose_isolation
from .errors import SandboxError
from .isolation import Sandbox, check_out_of_reach
from .layout import interpreter, numpy_dirs
from .limits import Limits
from .processes import ISSUED_TOKENS, TOKEN_VAR, kill_tagged
from .users import claim_user
from .worker import limit_preexec


def numpy_binds() -> dict[str, Path]:
    """NumPy (and its bundled libraries) for ``deps/``: the only package a worker may import."""
    return {f"deps/{name}": path for name, path in numpy_dirs().items()}


def run_confined(
    command: Callable[[Sandbox, str], list[str]],
    binds: dict[str, Path],
    limits: Limits,
    timeout: float,
    *,
    hide: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
) -> tuple[int | None, bytes]:
    """Run one untrusted command confined like a worker; (exit code or None on timeout, output).

    ``command(box, python)`` builds the argv from the sandbox's paths. Output (stdout and
    stderr together) is cut at ``limits.output_bytes``; everything it started is killed.
    """
    isolation, _ = choose_isolation(limits.isolation)
    scratch = Path(tempfile.mkdtemp(prefix="dlnp-confined-"))
    token = secrets.token_hex(16)
    ISSUED_TOKENS.add(token)
    user = claim_user()
    cgroup: TreeCgroup | None = None
    try:
        if isolation == "none" and user is not None:
            check_out_of_reach(user, hide)
        box = Sandbox(isolation, scratch, dict(binds), list(hide), limits.scratch_bytes, user)
        (scratch / "work").mkdir(exist_ok=True)
        exe, _ = interpreter()
        full_env = {"PATH": "/usr/bin:/bin", "HOME": box.cwd, "TMPDIR": box.cwd, "LANG": "C.UTF-8",
                    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", TOKEN_VAR: token,
                    **(env or {})}
        version, _ = cgroup_support()
        if version:
            try:
                cgroup = TreeCgroup.create(version, processes=limits.processes, memory_bytes=limits.memory_bytes)
            except OSError as exc:
                raise SandboxError(f"could not make the cgroup of a confined command ({version}): {exc}") from None
        proc = subprocess.Popen(box.command(command(box, exe)), cwd=scratch / "work", env=full_env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=limit_preexec(limits, user, cgroup, box.drops_in_preexec),
                                start_new_session=True)
        assert proc.stdout is not None
        out = bytearray()
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([fd], [], [], min(remaining, POLL_SECONDS))
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                if len(out) < limits.output_bytes:
                    out += chunk[: limits.output_bytes - len(out)]
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        code = proc.wait()
        proc.stdout.close()
        timed_out = time.monotonic() >= deadline
        return (None if timed_out else code), bytes(out)
    finally:
        if cgroup is not None:
            cgroup.remove()
        if user is not None:
            user.release()
        if sys.platform.startswith("linux"):
            kill_tagged(token)
        shutil.rmtree(scratch, ignore_errors=True)
