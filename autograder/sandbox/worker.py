"""One running worker process: how it is launched, measured and killed, with everything it started.

The launcher (``bwrap``, ``unshare`` or the interpreter itself) is started with the
per-process limits, inside the worker's cgroup when the machine has one, and as the
worker's dedicated user when the grader is root (``unshare`` drops to that user itself,
after building its mounts). Killing a worker kills its whole tree: the cgroup, every
process of its uid, and every process carrying its token.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence

from .cgroups import TreeCgroup, cgroup_support
from .errors import SandboxError
from .isolation import Sandbox
from .limits import Limits
from .processes import die_with_parent, find_worker, kill_tagged, tree_cpu_seconds
from .users import WorkerUser


def limit_preexec(limits: Limits, user: WorkerUser | None = None, cgroup: TreeCgroup | None = None,
                  drop: bool = False) -> Callable[[], None]:
    """Runs in the child between fork and exec: rlimits, the cgroup, the user, and die with the grader."""

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        backstop = int(max(600.0, 30 * limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_CPU, (backstop, backstop + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.output_bytes, limits.output_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        if user is not None:  # counts the processes and threads of the dedicated uid: the whole tree
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if cgroup is not None:
            cgroup.attach_self()
        if drop and user is not None:
            user.drop()
        else:
            die_with_parent()

    return preexec


class WorkerProcess:
    """A launched worker: ``launcher`` (the Popen), ``pid`` (the Python worker, once found),
    the pipe ends ``fd_out`` (requests) and ``fd_in`` (replies), and its cgroup."""

    def __init__(self, box: Sandbox, limits: Limits, token: str) -> None:
        self.box = box
        self.limits = limits
        self.token = token
        self.launcher: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.fd_out = self.fd_in = -1
        self.cgroup: TreeCgroup | None = None

    def start(self, argv: Sequence[str], env: dict[str, str]) -> None:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        # the worker's protocol fds are >= 10: the unshare sandbox's shell uses 3-9
        child_in = fcntl.fcntl(to_worker_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_worker_w, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (to_worker_r, from_worker_w):
            os.close(fd)
        version, _ = cgroup_support()
        try:
            if version:
                try:
                    self.cgroup = TreeCgroup.create(version, processes=self.limits.processes,
                                                    memory_bytes=self.limits.memory_bytes)
                except OSError as exc:
                    raise SandboxError(f"could not make the worker's cgroup ({version}): {exc}") from None
            argv = [a.replace("{FD_IN}", str(child_in)).replace("{FD_OUT}", str(child_out)) for a in argv]
            self.launcher = subprocess.Popen(
                self.box.command(argv), cwd=self.box.scratch / "work", env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(child_in, child_out),
                preexec_fn=limit_preexec(self.limits, self.box.user, self.cgroup, self.box.drops_in_preexec),
                start_new_session=True,
            )
        except BaseException:
            for fd in (to_worker_w, from_worker_r):
                os.close(fd)
            self._remove_cgroup()
            raise
        finally:
            os.close(child_in)
            os.close(child_out)
        os.set_blocking(to_worker_w, False)
        self.fd_out, self.fd_in = to_worker_w, from_worker_r

    def find(self, program: str, marker: bytes) -> None:
        """Find the Python worker's host pid (for CPU accounting), once it said hello."""
        if self.launcher is not None:
            self.pid = find_worker(self.launcher.pid, program, marker)

    def alive(self) -> bool:
        return self.launcher is not None and self.launcher.poll() is None

    def cpu_seconds(self) -> float | None:
        """CPU time of the whole tree: the cgroup's, else the launcher's and its live descendants'."""
        if self.cgroup is not None:
            return self.cgroup.cpu_seconds()
        if self.pid is None or self.launcher is None:
            return None
        root = self.pid if self.box.isolation == "none" else self.launcher.pid
        return tree_cpu_seconds(root)

    def ran_out_of_memory(self) -> bool:
        return self.cgroup is not None and self.cgroup.ran_out_of_memory()

    def kill(self) -> None:
        """Kill the worker and every process it started, wherever they went."""
        if self.launcher is not None:
            for pid in (self.pid, self.launcher.pid):
                if pid:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.killpg(self.launcher.pid, signal.SIGKILL)
            if self.cgroup is not None:
                self.cgroup.kill_all()
            self.launcher.wait()
            self.launcher = None
        for fd in (self.fd_out, self.fd_in):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.fd_out = self.fd_in = -1
        self.pid = None
        if self.box.user is not None:
            self.box.user.kill_all()  # whatever the student left running, wherever it went
        elif sys.platform.startswith("linux"):
            kill_tagged(self.token)  # the same, found by the token in their environment
        self._remove_cgroup()

    def _remove_cgroup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

