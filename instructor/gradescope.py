"""The Gradescope autograder zip (``dlnp gradescope --out autograder.zip``).

The zip holds, at its root (Gradescope unpacks it into ``/autograder/source``):

``setup.sh``          run once when Gradescope builds the image: a Python the kit supports
                      (:data:`SETUP_SH`), a venv with the grader's requirements, bubblewrap
``run_autograder``    run for every submission: ``python -m autograder.gradescope_runner``
``requirements.txt``  the grader's pinned requirements (from the kit's ``pyproject.toml``)
``grading.json``      chapters, secret salt, hidden tests' visibility, the assignment's timeout
``autograder/ solutions/ dlnp/ assignments/ pyproject.toml``   the engine, graders, reference
``release/``          the parts of the student release grading needs: the stub package
                      (to fill what an upload lacks), the public tests and the student
                      runtime (the self-checks), so nothing is generated per submission

What happens inside Gradescope is :mod:`autograder.gradescope_runner`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import tomllib
import zipfile
from pathlib import Path

from autograder.gradescope_runner import DEFAULT_TIMEOUT, GradescopeConfig, HiddenTests
from dlnp.manifest import Manifest, load_manifest

from .paths import KIT_ROOT
from .release import build_release

#: What the zip carries of the kit (everything grading needs, nothing else).
KIT_FILES = ("autograder", "solutions", "dlnp", "assignments", "pyproject.toml")
#: What it carries of the release, under ``release/``.
RELEASE_PARTS = ("neural_network", "tests", "dlnp", "chapters.toml", "pyproject.toml")
#: Packages the grader needs on Gradescope (pinned as in the kit's pyproject.toml).
GRADER_REQUIREMENTS = ("numpy", "pytest", "tqdm")
#: Python versions the kit supports, newest first (the kit needs 3.11+: tomllib, typing).
PYTHONS = ("3.13", "3.12", "3.11")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image
# (Ubuntu 22.04 or 24.04 base image). It needs a Python 3.11 or newer:
#   1. one already installed (24.04 ships python3.12);
#   2. else from apt (python3.12 / python3.11 and their -venv packages, when the archive has them);
#   3. else a standalone CPython downloaded by uv (uv itself comes from PyPI);
# and fails with one sentence when none of these works.
# DLNP_GRADESCOPE_ROOT and DLNP_PYTHON_DIR move it (the kit's tests run it in a fake root).
set -euo pipefail
ROOT="${DLNP_GRADESCOPE_ROOT:-/autograder}"
PYTHON_DIR="${DLNP_PYTHON_DIR:-/opt/dlnp-python}"
export DEBIAN_FRONTEND=noninteractive

fail() { echo "setup.sh: $*" >&2; exit 1; }

supported() {  # "$1" is Python 3.11+ and can make a venv with pip
  "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

find_python() {
  local name path
  for name in python3.13 python3.12 python3.11 python3; do
    path=$(command -v "$name" 2>/dev/null) || continue
    if supported "$path"; then echo "$path"; return 0; fi
  done
  return 1
}

apt-get update -q || echo "setup.sh: apt-get update failed; going on with the package lists there are"
apt-get install -y -q bubblewrap \\
  || echo "setup.sh: bubblewrap unavailable: student code will run with resource limits only"

PY=$(find_python) || PY=""
if [ -z "$PY" ]; then
  for version in 3.12 3.11; do
    if apt-get install -y -q "python$version" "python$version-venv"; then break; fi
  done
  PY=$(find_python) || PY=""
fi
if [ -z "$PY" ]; then
  echo "setup.sh: no Python 3.11+ from apt: installing one with uv into $PYTHON_DIR"
  apt-get install -y -q python3-pip || true
  python3 -m pip install -q uv || python3 -m pip install -q --break-system-packages uv || true
  if UV_PYTHON_INSTALL_DIR="$PYTHON_DIR" python3 -m uv python install 3.11; then
    for candidate in "$PYTHON_DIR"/cpython-3.11*/bin/python3.11; do
      if [ -x "$candidate" ]; then PY="$candidate"; break; fi
    done
  fi
fi
if [ -z "$PY" ] || ! supported "$PY"; then
  fail "no Python 3.11 or newer could be installed (none in apt, and uv could not download one): \\
select the Ubuntu 24.04 base image on Gradescope's Configure Autograder page and rebuild."
fi
"$PY" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install -q --upgrade pip
"$ROOT/venv/bin/python" -m pip install -q -r "$ROOT/source/requirements.txt"
echo "setup.sh: grading with $("$ROOT/venv/bin/python" --version 2>&1) from $PY"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into
# /autograder/results/results.json. DLNP_GRADESCOPE_ROOT and DLNP_PYTHON move it (tests).
set -uo pipefail
ROOT="${DLNP_GRADESCOPE_ROOT:-/autograder}"
PY="${DLNP_PYTHON:-$ROOT/venv/bin/python}"
[ -x "$PY" ] || PY=python3
# Gradescope's container has no namespaces: the worker runs as a dedicated unprivileged uid, and
# the hidden graders, the reference, the salt, the results and the upload must be unreadable to it
# (the sandbox refuses to run student code otherwise). The venv stays outside, readable.
if [ "$(id -u)" = 0 ]; then chmod 700 "$ROOT/source" "$ROOT/results" "$ROOT/submission" 2>/dev/null || true; fi
cd "$ROOT/source"
PYTHONPATH="$ROOT/source" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
    exec "$PY" -m autograder.gradescope_runner --root "$ROOT"
"""


def requirements(kit_root: Path = KIT_ROOT) -> list[str]:
    """The grader's pinned requirements, taken from the kit's ``pyproject.toml``."""
    deps: list[str] = tomllib.loads((kit_root / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = set(GRADER_REQUIREMENTS)
    return [d for d in deps if re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() in wanted]


def _files(root: Path, names: tuple[str, ...], prefix: str = "") -> list[tuple[Path, str]]:
    """(path, name in the zip) of every file of ``names`` under ``root``, caches left out, sorted."""
    members: list[tuple[Path, str]] = []
    for name in names:
        top = root / name
        if not top.exists():
            continue
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            rel = path.relative_to(root)
            if "__pycache__" in rel.parts or path.suffix == ".pyc":
                continue
            members.append((path, prefix + rel.as_posix()))
    return members


def build_gradescope(out: Path, *, chapters: list[str] | None = None, salt: str | None = None,
                     hidden_tests: HiddenTests = "score-only", timeout_minutes: float = DEFAULT_TIMEOUT / 60,
                     manifest: Manifest | None = None, kit_root: Path = KIT_ROOT) -> Path:
    """Write the Gradescope autograder zip to ``out``; returns ``out``.

    ``timeout_minutes``: the assignment's autograder timeout set on Gradescope; grading
    stops in time to write results before it. Deterministic for a given salt.
    """
    manifest = manifest or load_manifest()
    config = GradescopeConfig(
        chapters=[manifest.chapter(c).id for c in chapters] if chapters else None,
        salt=salt or os.environ.get("DLNP_GRADING_SALT") or secrets.token_hex(16),
        hidden_tests=hidden_tests,
        timeout_seconds=timeout_minutes * 60,
    )

    def add(zf: zipfile.ZipFile, name: str, data: str | bytes, mode: int = 0o644) -> None:
        info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="dlnp-gradescope-build-") as work:
        release = build_release(Path(work) / "release", manifest, kit_root)
        with zipfile.ZipFile(tmp, "w") as zf:
            add(zf, "setup.sh", SETUP_SH, 0o755)
            add(zf, "run_autograder", RUN_AUTOGRADER, 0o755)
            add(zf, "requirements.txt", "\n".join(requirements(kit_root)) + "\n")
            add(zf, "grading.json", json.dumps(config.to_json(), indent=2) + "\n")
            for path, name in [*_files(kit_root, KIT_FILES), *_files(release, RELEASE_PARTS, "release/")]:
                add(zf, name, path.read_bytes())
        shutil.rmtree(release)
    tmp.replace(out)
    return out
