"""Who a worker runs as: never the grader's root, always someone who owns nothing.

When the grader is root, every worker gets a *dedicated* unprivileged user: a uid (and
a gid of the same number) from :data:`FIRST_UID` upwards that no account uses, held
for the worker's lifetime by a lock file. The worker has no supplementary groups, no
capabilities and ``no_new_privs``. Because nothing else runs as that uid:

- its process count is bounded (``RLIMIT_NPROC`` counts processes and threads per uid);
- every process it started, wherever it went (``setsid``, a cleared environment, a
  double fork), is killed by one ``kill(-1, SIGKILL)`` sent *as that user*;
- it can read only what is readable by "others" (or its own scratch folder).

A grader that is not root cannot change uid: its workers run as itself, confined by
namespaces when there are any (and then reported as not isolated when there are not).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import SandboxError
from .processes import die_with_parent, no_new_privileges, processes_of_user

FIRST_UID = 64000
#: World-writable folders a worker without namespaces can write in; emptied of its files when it ends.
SHARED_WRITABLE = ("/dev/shm", "/tmp", "/var/tmp")
UID_SLOTS = 1000


@dataclass
class WorkerUser:
    """A dedicated uid/gid, held (by an exclusive lock on ``lock_fd``) until :meth:`release`."""

    uid: int
    gid: int
    lock_fd: int = -1

    def drop(self) -> None:
        """Become this user for good (in a child, between fork and exec): no groups, no capabilities."""
        os.setgroups([])
        os.setresgid(self.gid, self.gid, self.gid)
        os.setresuid(self.uid, self.uid, self.uid)
        no_new_privileges()
        die_with_parent()  # changing credentials clears the parent-death signal: set it again

    def kill_all(self) -> None:
        """SIGKILL every process of this uid, atomically (``kill(-1)`` sent as the user itself)."""
        for _ in range(3):
            if not processes_of_user(self.uid):  # read from status files: no process can hide from it
                return
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(["/bin/true"], preexec_fn=self._kill_from_inside, check=False, timeout=10,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _kill_from_inside(self) -> None:
        self.drop()
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal (all of its own), but not us

    def remove_files(self) -> None:
        """Delete what this uid left in the shared writable folders (``/tmp``, ``/var/tmp``,
        ``/dev/shm``): without namespaces they are the host's, and ``/dev/shm`` is memory."""
        for folder in SHARED_WRITABLE:
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if info.st_uid != self.uid:
                    continue
                with contextlib.suppress(OSError):
                    if stat.S_ISDIR(info.st_mode):
                        shutil.rmtree(path)  # never follows a link
                    else:
                        os.unlink(path)

    def release(self) -> None:
        self.kill_all()
        self.remove_files()
        if self.lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.lock_fd)  # closing drops the lock
            self.lock_fd = -1


def _lock_dir() -> Path:
    """A root-only folder of lock files, one per uid slot (created if missing).

    Always ``/tmp/dlnp-worker-uids``, whatever ``$TMPDIR`` says: every grader on the machine
    must see the same locks, or two of them would hand out the same uid (and killing one
    worker's processes would kill the other's).
    """
    folder = Path("/tmp") / "dlnp-worker-uids"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
        raise SandboxError(f"{folder} must be a folder owned by root with mode 0700")
    return folder


def _unused(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return True
    return False


def claim_user() -> WorkerUser | None:
    """A dedicated user for one worker when the grader is root; ``None`` otherwise."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    folder = _lock_dir()
    for slot in range(UID_SLOTS):
        uid = FIRST_UID + slot
        if not _unused(uid):
            continue
        fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        user = WorkerUser(uid, uid, fd)
        user.kill_all()  # anything left by a grader that died holding this uid
        user.remove_files()
        if processes_of_user(uid, zombies=True):
            # dead processes not reaped yet (an init that reaps slowly) still count against
            # RLIMIT_NPROC of this uid: take another one
            os.close(fd)
            continue
        return user
    raise SandboxError(f"all {UID_SLOTS} worker uids from {FIRST_UID} are in use")


def readable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether ``uid`` (with only group ``gid``) could open ``path`` (by permission bits; ACLs not read).

    Every folder on the way must be searchable by that user, and ``path`` itself
    readable or searchable.
    """
    try:
        path = Path(os.path.abspath(path))
        chain = [*reversed(path.parents), path]
        for i, part in enumerate(chain):
            info = os.stat(part)
            if info.st_uid == uid:
                bits = (info.st_mode >> 6) & 7
            elif info.st_gid == gid:
                bits = (info.st_mode >> 3) & 7
            else:
                bits = info.st_mode & 7
            last = i == len(chain) - 1
            if not last and not bits & 1:
                return False
            if last and not bits & 5:
                return False
    except OSError:
        return False
    return True
