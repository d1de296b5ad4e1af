"""What a student uploaded to Gradescope, laid out as a submission the engine grades.

Students upload in many shapes; each becomes ``dest/neural_network/`` (a submission
folder, as ``dlnp grade`` takes):

1. **the package folder** ``neural_network/`` anywhere up to :data:`MAX_DEPTH` folders
   down (the whole release folder, a repository, or the package folder itself);
2. **module files, loose** (``losses.py``, ``_types.py``, ...; any subset, also in a
   folder) when no package folder was uploaded;
3. **chapter notebooks** (``ch2_1.ipynb``, one or several) when neither of the above:
   their setup and answer cells, merged in chapter order (as if run one after the
   other in one kernel), become a package with the engine's notebook conversion
   (:mod:`autograder.notebook_source`), as ``nbgrader`` grading does;

each also inside a ``.zip`` (expanded first, safely: no path outside the folder, no
link, a size cap). What the upload holds itself comes before what its zips hold,
and the shallowest match wins. Whatever the upload lacks of the package
(a module, ``_types.py``, ``__init__.py``) comes from the release's stubs shipped in
the autograder (shapes 1 and 2), so a missing module counts as not implemented,
exactly as in a release where the student never touched it: the score equals
``dlnp grade`` on the same code.

This runs on the trusted side and only reads and copies files: nothing of the
student's is imported or executed here.
"""

from __future__ import annotations

import json
import shutil
import stat
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from dlnp.manifest import Manifest

from .notebook_source import ANSWER, SETUP, Json, answer_cells, notebook_submission, setup_code
from .sandbox import copy_package

PACKAGE = "neural_network"
#: How deep (folders below the upload's root) a package, module or notebook is looked for.
MAX_DEPTH = 5
#: Folders never searched: editor, OS and notebook clutter.
IGNORED = frozenset({"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git", "node_modules", ".venv", "venv"})
#: Limits of zip expansion (total bytes written, number of files, size of one file).
ZIP_BYTES = 256 * 1024**2
ZIP_FILES = 5000
FILE_BYTES = 8 * 1024**2
#: At most this many entries of an upload are looked at (a tree of a million files is not a submission).
WALK_ENTRIES = 20_000

UploadKind = Literal["package", "files", "notebooks"]


@dataclass(frozen=True)
class Upload:
    """The submission made from an upload: ``root/neural_network`` and how it was found."""

    root: Path
    kind: UploadKind
    found: str  # where, relative to the upload ("my-repo/neural_network", "3 module files", ...)
    from_stubs: list[str] = field(default_factory=lambda: [])  # modules the upload lacked

    def describe(self) -> str:
        """One or two sentences for the student on what was graded."""
        what = {"package": f"the package folder `{self.found}`",
                "files": f"the module files {self.found}",
                "notebooks": f"the answer cells of {self.found}"}[self.kind]
        text = f"Graded {what}."
        missing = [m for m in self.from_stubs if not m.startswith("_")]
        if missing:
            text += (f" Not in your upload, so graded as not implemented: {', '.join(f'{m}.py' for m in missing)}"
                     " (upload every module you worked on).")
        return text


# ----------------------------------------------------------------------------- walking


def _walk(top: Path, depth: int = MAX_DEPTH) -> Iterator[Path]:
    """Every path under ``top`` down to ``depth`` levels, never following a link, clutter skipped.

    Yields shallower paths first, each level in name order (the order decides ties), and at
    most :data:`WALK_ENTRIES` paths.
    """
    level = [top]
    seen = 0
    for _ in range(depth):
        following: list[Path] = []
        for folder in level:
            try:
                children = sorted(folder.iterdir(), key=lambda p: p.name)
            except OSError:
                continue
            for child in children:
                if child.is_symlink() or child.name in IGNORED or child.name.startswith("._"):
                    continue
                seen += 1
                if seen > WALK_ENTRIES:
                    return
                yield child
                if child.is_dir():
                    following.append(child)
        level = following


def expand_zips(upload: Path, into: Path) -> list[Path]:
    """Expand every ``.zip`` of ``upload`` (and zips inside those, once) under ``into``; the folders."""
    folders: list[Path] = []
    pending = [p for p in _walk(upload) if p.suffix.lower() == ".zip" and _small_zip(p)]
    for round_ in range(2):
        found: list[Path] = []
        for archive in pending:
            dest = into / f"{round_}-{len(folders)}-{archive.stem}"
            if _safe_extract(archive, dest):
                folders.append(dest)
                found += [p for p in _walk(dest) if p.suffix.lower() == ".zip" and _small_zip(p)]
        pending = found
    return folders


def _small_zip(path: Path) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= ZIP_BYTES


def _safe_extract(archive: Path, dest: Path) -> bool:
    """Extract the regular files of ``archive`` inside ``dest`` (nothing outside it, no link); False if unreadable."""
    try:
        with zipfile.ZipFile(archive) as zf:
            written, count = 0, 0
            for info in zf.infolist():
                mode = info.external_attr >> 16
                if info.is_dir() or stat.S_ISLNK(mode) or info.file_size > FILE_BYTES:
                    continue
                parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]
                if not parts or ".." in parts or info.filename.startswith("/") or ":" in parts[0]:
                    continue
                count += 1
                written += info.file_size
                if count > ZIP_FILES or written > ZIP_BYTES:
                    break
                target = dest.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    return True


# ----------------------------------------------------------------------------- the three shapes


def _package_folder(roots: Sequence[Path]) -> tuple[Path, Path] | None:
    """(root, package folder) of the shallowest ``neural_network/`` holding a ``.py`` file, first root first."""
    for root in roots:
        for path in _walk(root):  # shallowest first
            if path.name == PACKAGE and path.is_dir() and any(path.glob("*.py")):
                return root, path
    return None


def _module_files(roots: Sequence[Path], modules: set[str]) -> dict[str, Path]:
    """The shallowest file of each module name of the package found among ``roots``."""
    chosen: dict[str, tuple[int, Path]] = {}
    for root in roots:
        for path in _walk(root):
            if path.suffix == ".py" and path.stem in modules and _small_regular_file(path):
                depth = len(path.relative_to(root).parts)
                if path.stem not in chosen or depth < chosen[path.stem][0]:
                    chosen[path.stem] = (depth, path)
    return {name: path for name, (_, path) in chosen.items()}


def _notebooks(roots: Sequence[Path]) -> list[Path]:
    return [p for root in roots for p in _walk(root) if p.suffix == ".ipynb" and _small_regular_file(p)]


def _small_regular_file(path: Path) -> bool:
    """A regular file (no link, pipe or device) of at most :data:`FILE_BYTES`: the only kind read from an upload."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= FILE_BYTES


def _fill_from_stubs(package: Path, stubs: Path) -> list[str]:
    """Copy every stub module (and ``__init__.py``, ``py.typed``) that ``package`` lacks; their names."""
    filled: list[str] = []
    for stub in sorted(stubs.iterdir()):
        if stub.is_file() and not (package / stub.name).exists():
            shutil.copyfile(stub, package / stub.name)
            (package / stub.name).chmod(0o644)
            if stub.suffix == ".py" and stub.stem != "__init__":
                filled.append(stub.stem)
    return filled


def stage_upload(upload: Path, stubs: Path, dest: Path, manifest: Manifest, scratch: Path) -> Upload | None:
    """Lay out what the student uploaded (``upload``) as ``dest/neural_network``; None if nothing usable.

    ``stubs``: the release's stub package (``neural_network/`` as ``dlnp release``
    writes it). ``scratch``: an empty folder for expanding zips.
    """
    roots = [upload, *expand_zips(upload, scratch)]
    package = dest / PACKAGE
    modules = {p.stem for p in stubs.glob("*.py")}

    found = _package_folder(roots)
    if found is not None:
        root, folder = found
        copy_package(folder, package)
        where = folder.relative_to(root).as_posix() if root == upload else f"{folder.name} (in your zip)"
        return Upload(dest, "package", where, _fill_from_stubs(package, stubs))

    files = _module_files(roots, modules)
    if files:
        package.mkdir(parents=True)
        package.chmod(0o755)
        for name, path in sorted(files.items()):
            shutil.copyfile(path, package / f"{name}.py")
            (package / f"{name}.py").chmod(0o644)
        listed = ", ".join(f"{n}.py" for n in sorted(files))
        return Upload(dest, "files", listed, _fill_from_stubs(package, stubs))

    notebooks = _notebooks(roots)
    if notebooks:
        merged, used = merge_notebooks(notebooks, manifest)
        if used:
            notebook_submission(merged, dest, manifest)
            return Upload(dest, "notebooks", ", ".join(p.name for p in used))
    return None


# ----------------------------------------------------------------------------- notebooks


def _read_notebook(path: Path) -> Json:
    try:
        data: object = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return cast("Json", data) if isinstance(data, dict) else {}


def merge_notebooks(notebooks: Sequence[Path], manifest: Manifest) -> tuple[Json, list[Path]]:
    """One notebook holding every setup cell, then every answer cell, of ``notebooks`` in chapter order.

    Running the chapters' notebooks one after the other in one kernel gives the same
    namespace, so a function answered in two chapters (``gradient_descent``) takes its
    later definition. Returns the merged notebook and the notebooks that had answer cells.
    """
    order = {c.slug: i for i, c in enumerate(manifest.chapters)}
    setups: list[str] = []
    answers: list[Json] = []
    used: list[Path] = []
    for path in sorted(notebooks, key=lambda p: (order.get(p.stem, len(order)), p.name, str(p))):
        nb = _read_notebook(path)
        cells = answer_cells(nb)
        if not cells:
            continue
        used.append(path)
        setups.append(setup_code(nb))
        answers += [_code_cell(source, f"{ANSWER}{function}", solution=True) for function, source in cells]
    merged: Json = {"cells": [_code_cell("\n\n".join(setups), SETUP, solution=False), *answers]}
    return merged, used


def _code_cell(source: str, grade_id: str, *, solution: bool) -> Json:
    return {"cell_type": "code", "source": source,
            "metadata": {"nbgrader": {"grade_id": grade_id, "solution": solution}}}
