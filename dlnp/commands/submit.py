"""``dlnp submit``: write ``neural_network.zip``, the archive to upload to Gradescope.

The archive holds the folder ``neural_network/`` with your source files (``*.py``
and ``py.typed``; no caches), which is what the course's Gradescope grader
unpacks and grades. Other routes need no archive: with GitHub Classroom you push
your repository, with Jupyter/nbgrader you submit the notebooks.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path
from typing import Any

PACKAGE = "neural_network"
#: Fixed timestamp of every entry, so the same files always give the same archive.
_EPOCH = (1980, 1, 1, 0, 0, 0)


def register(sub: Any) -> None:
    p = sub.add_parser("submit", help="write neural_network.zip, the archive to upload to Gradescope")
    p.add_argument("--release", type=Path, default=Path("."), help="your release folder (default: here)")
    p.add_argument("--out", type=Path, default=None, help="archive to write (default: RELEASE/neural_network.zip)")
    p.set_defaults(func=run)


def package_files(release: Path) -> list[Path]:
    """The files of the student's package that go into the archive, sorted."""
    root = release / PACKAGE
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and (p.suffix == ".py" or p.name == "py.typed"))


def write_archive(release: Path, out: Path) -> list[Path]:
    """Zip ``release/neural_network`` into ``out`` (entries ``neural_network/...``); return the files."""
    files = package_files(release)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(release).as_posix(), date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return files


def run(args: argparse.Namespace) -> int:
    from ..selfcheck import compile_errors

    release = args.release.resolve()
    if not (release / PACKAGE).is_dir():
        print(f"There is no {PACKAGE}/ folder in {release}: run `dlnp submit` inside your release folder.")
        return 2
    out = (args.out or release / f"{PACKAGE}.zip").resolve()
    files = write_archive(release, out)
    print(f"Wrote {out} ({len(files)} files of {PACKAGE}/).")
    errors = compile_errors(release)
    if errors:
        print("Warning: these files do not compile, and every test that needs them will get 0 points:")
        for error in errors:
            print(f"  {error.file}, line {error.line}: {error.message.splitlines()[0]}")
    print("Upload this file to the assignment on Gradescope. Run `dlnp check` first to see what you hand in.")
    return 1 if errors else 0
