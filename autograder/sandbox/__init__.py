"""The trusted side of the grading boundary: start, confine, talk to, and kill student workers.

A :class:`Student` (:mod:`.student`) owns one worker process at a time, reused across a
submission's tests. The worker runs ``autograder/worker_runtime.py`` with
``python -I -S -B``; its ``sys.path`` holds only the stdlib, NumPy and a copy of the
submission's package. The package is split by responsibility:

- :mod:`.limits`, :mod:`.errors`, :mod:`.values`: what a grader configures, catches and passes;
- :mod:`.layout`, :mod:`.isolation`, :mod:`.choice`: what the worker may see, the
  ``bwrap``/``unshare``/``none`` launch commands, and which one this machine offers;
- :mod:`.users`, :mod:`.cgroups`, :mod:`.processes`, :mod:`.worker`: who the worker
  runs as, the limits of its whole process tree, and its launch and death;
- :mod:`.scratch`: without namespaces, the bound on the scratch files it writes;
- :mod:`.files`: the one bounded walk through which student files are read;
- :mod:`.channel`, :mod:`.codec`: frames on the pipes, and bounded decoding of replies;
- :mod:`.inputs`, :mod:`.wording`: the input guard, and every sentence written for the student;
- :mod:`.confined`: one-off confined commands (public self-checks).

docs/SECURITY.md states what each isolation mode guarantees, as root and not.
"""

from __future__ import annotations

from .cgroups import cgroup_support
from .choice import choose_isolation, grader_is_root, probe, sandbox_report
from .confined import numpy_binds, run_confined
from .errors import (
    InputMutated,
    RngDrawn,
    SandboxError,
    StudentCrashed,
    StudentError,
    StudentNotImplemented,
    StudentRaised,
    StudentTimeout,
)
from .files import BoundedWalk, WalkLimits, copy_package, package_digest
from .inputs import reference_signature, rounding_equal
from .isolation import INSIDE, Sandbox
from .layout import KIT_ROOT, RUNTIME, SYSTEM_DIRS, secret_paths
from .limits import ISOLATIONS, Limits
from .processes import (
    ISSUED_TOKENS,
    TOKEN_VAR,
    cpu_seconds_of,
    die_with_parent,
    kill_tagged,
    processes_of_user,
    tagged_processes,
)
from .student import Student
from .users import FIRST_UID, WorkerUser, claim_user, readable_by
from .values import Fixture, Remote, RngState, Seed, StudentFunction

_probe = probe  # the name the kit's older tests use

__all__ = [
    "FIRST_UID",
    "INSIDE",
    "ISOLATIONS",
    "ISSUED_TOKENS",
    "KIT_ROOT",
    "RUNTIME",
    "SYSTEM_DIRS",
    "TOKEN_VAR",
    "BoundedWalk",
    "Fixture",
    "InputMutated",
    "Limits",
    "Remote",
    "RngDrawn",
    "RngState",
    "Sandbox",
    "SandboxError",
    "Seed",
    "Student",
    "StudentCrashed",
    "StudentError",
    "StudentFunction",
    "StudentNotImplemented",
    "StudentRaised",
    "StudentTimeout",
    "WalkLimits",
    "WorkerUser",
    "cgroup_support",
    "choose_isolation",
    "claim_user",
    "copy_package",
    "cpu_seconds_of",
    "die_with_parent",
    "grader_is_root",
    "kill_tagged",
    "numpy_binds",
    "package_digest",
    "probe",
    "processes_of_user",
    "readable_by",
    "reference_signature",
    "rounding_equal",
    "run_confined",
    "sandbox_report",
    "secret_paths",
    "tagged_processes",
]
