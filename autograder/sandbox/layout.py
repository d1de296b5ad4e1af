"""What a confined process must not see: the folders to cover, and the interpreter to re-expose.

Every top-level folder that is not the system's (``/work``, ``/home``, ``/root``,
``/opt``, ``/srv``, ``/var``, ``/mnt``, ...) is covered, as are the kit, its packages,
the home folders and the temporary folders; the interpreter and NumPy are then
re-exposed read-only wherever they live.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import worker_runtime
from ..paths import KIT_ROOT

RUNTIME = Path(worker_runtime.__file__).resolve()

#: Top-level folders a confined process may read: the system.
SYSTEM_DIRS = frozenset({"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "dev", "proc", "sys"})


def package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _top_level_dirs() -> list[Path]:
    try:
        return [p for p in Path("/").iterdir()
                if p.name not in SYSTEM_DIRS and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


def secret_paths(extra: Sequence[Path] = ()) -> list[Path]:
    """Folders a confined process must not see (those that exist), shallowest first."""
    candidates: list[Path | None] = [
        KIT_ROOT, package_dir("solutions"), package_dir("autograder"), package_dir("dlnp"),
        Path.home(), Path("/root"), Path("/home"), Path(tempfile.gettempdir()), Path("/tmp"),
        Path("/var/tmp"), Path("/dev/shm"), Path("/run/user"), *_top_level_dirs(), *extra,
    ]
    found: list[Path] = []
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            path = candidate.resolve()
        except OSError:
            continue
        if path == Path(path.anchor) or not path.is_dir():
            continue
        found.append(path)
    # nested ones are kept: a folder re-exposed inside an outer one (the interpreter
    # under a hidden home) may itself contain a hidden one (a pip-installed kit)
    return sorted(set(found), key=lambda p: (len(p.parts), str(p)))


def grading_secrets(extra: Sequence[Path] = ()) -> list[Path]:
    """What decides or records scores: the kit, the reference, the graders, and ``extra``
    (the submissions root, the results folder). A worker must never read these."""
    found = [p for p in (KIT_ROOT, package_dir("solutions"), package_dir("autograder")) if p is not None]
    return [*found, *(Path(p).resolve() for p in extra)]


def interpreter() -> tuple[str, list[Path]]:
    """The real interpreter and the folders it needs (stdlib, shared libraries)."""
    exe = Path(os.path.realpath(sys.executable))
    needs = {Path(sys.base_prefix).resolve(), exe.parent}
    return str(exe), sorted(needs)


def numpy_dirs() -> dict[str, Path]:
    """NumPy (and its bundled libraries) for ``deps/``: the only package a worker may import."""
    site = Path(np.__file__).resolve().parent.parent
    return {name: site / name for name in ("numpy", "numpy.libs") if (site / name).exists()}


def cover_and_rebind(hide: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(folders to cover, interpreter folders to re-expose inside covered ones)."""
    hidden = secret_paths(hide)
    _, needs = interpreter()
    inner = [p for p in needs if any(inside(p, h) and p != h for h in hidden)]
    rebinds = [p for p in inner if not any(q != p and inside(p, q) for q in inner)]

    def needed(h: Path) -> bool:  # a nested folder is covered again only when re-exposed
        outer = [q for q in hidden if q != h and inside(h, q)]
        return not outer or any(inside(h, r) and any(inside(r, q) for q in outer) for r in rebinds)

    return [h for h in hidden if needed(h)], rebinds
