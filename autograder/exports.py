"""The grader on course platforms: a Gradescope autograder and a GitHub Classroom setup.

Gradescope (``dlnp gradescope --out autograder.zip``)
    The zip holds ``setup.sh`` (installs Python, NumPy, pytest, tqdm and, when it can,
    bubblewrap), ``run_autograder``, ``grading.json`` (chapters and the secret salt)
    and the kit itself (engine, hidden graders, reference, manifest). Gradescope unpacks
    it into ``/autograder/source``; ``run_autograder`` runs :func:`run_gradescope`,
    which finds the ``neural_network`` package in ``/autograder/submission`` (the whole
    release, a repository with the package somewhere inside, or just the module files),
    grades it and writes ``/autograder/results/results.json``. Hidden tests are
    ``after_due_date``; the public self-checks (the same tests as ``dlnp check``) are
    run confined and shown at once (``visible``, 0 points: they never decide a score).
    ``$DLNP_GRADESCOPE_ROOT`` (default ``/autograder``) and ``$DLNP_PYTHON`` move it
    elsewhere, for testing.

GitHub Classroom (``dlnp classroom --release DIR``)
    Writes ``DIR/.github/classroom/autograding.json`` (one test per chapter that runs the
    chapter's public tests with pytest; points from the manifest) and the workflow
    ``DIR/.github/workflows/classroom.yml`` that runs them with GitHub's autograding
    actions. That grading runs in the student's own repository: it is a convenience, not
    a secure grade (use Gradescope or ``dlnp grade-batch`` for that).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from dlnp.manifest import Chapter, Manifest, load_manifest

KIT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "neural_network"
#: What the Gradescope zip carries of the kit (everything grading needs, nothing else).
KIT_FILES = ("autograder", "solutions", "dlnp", "assignments", "pyproject.toml")
#: Packages the grader needs on Gradescope (pinned as in the kit's pyproject.toml).
GRADER_REQUIREMENTS = ("numpy", "pytest", "tqdm")
PUBLIC_SECONDS = 300.0

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
# Python 3.11+ (the kit's grader) and, when the image allows it, bubblewrap to confine student code.
apt-get install -y python3.11 python3.11-venv || apt-get install -y python3 python3-venv
apt-get install -y bubblewrap || echo "bubblewrap unavailable: student code will run with resource limits only"
PY=$(command -v python3.12 || command -v python3.11 || command -v python3)
"$PY" -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
/autograder/venv/bin/pip install -r /autograder/source/requirements.txt
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission into
# /autograder/results/results.json. DLNP_GRADESCOPE_ROOT and DLNP_PYTHON move it (tests).
set -uo pipefail
ROOT="${DLNP_GRADESCOPE_ROOT:-/autograder}"
PY="${DLNP_PYTHON:-$ROOT/venv/bin/python}"
[ -x "$PY" ] || PY=python3
cd "$ROOT/source"
PYTHONPATH="$ROOT/source" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
    exec "$PY" -m autograder.exports gradescope-run --root "$ROOT"
"""


# ----------------------------------------------------------------------------- Gradescope: build


def requirements(kit_root: Path = KIT_ROOT) -> list[str]:
    """The grader's pinned requirements, taken from the kit's ``pyproject.toml``."""
    deps: list[str] = tomllib.loads((kit_root / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = set(GRADER_REQUIREMENTS)
    return [d for d in deps if re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() in wanted]


def _kit_members(kit_root: Path) -> list[tuple[Path, str]]:
    members: list[tuple[Path, str]] = []
    for name in KIT_FILES:
        root = kit_root / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            rel = path.relative_to(kit_root)
            if "__pycache__" in rel.parts or path.suffix == ".pyc":
                continue
            members.append((path, rel.as_posix()))
    return members


def build_gradescope(out: Path, *, chapters: list[str] | None = None, salt: str | None = None,
                     kit_root: Path = KIT_ROOT) -> Path:
    """Write the Gradescope autograder zip to ``out``; returns ``out``."""
    manifest = load_manifest()
    ids = [manifest.chapter(c).id for c in chapters] if chapters else None
    salt = salt or os.environ.get("DLNP_GRADING_SALT") or secrets.token_hex(16)
    config = {"chapters": ids, "salt": salt}

    def add(zf: zipfile.ZipFile, name: str, data: str | bytes, mode: int = 0o644) -> None:
        info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        add(zf, "setup.sh", SETUP_SH, 0o755)
        add(zf, "run_autograder", RUN_AUTOGRADER, 0o755)
        add(zf, "requirements.txt", "\n".join(requirements(kit_root)) + "\n")
        add(zf, "grading.json", json.dumps(config, indent=2) + "\n")
        for path, name in _kit_members(kit_root):
            add(zf, name, path.read_bytes())
    tmp.replace(out)
    return out


# ----------------------------------------------------------------------------- Gradescope: run


def find_package(submission: Path, manifest: Manifest, dest: Path) -> Path | None:
    """Lay out what a student uploaded as ``dest/neural_network``; ``None`` if nothing usable.

    Accepted: the package folder anywhere up to four levels down (a whole release or
    repository), or the module files themselves (``losses.py``, ...), also in a folder.
    """
    from .sandbox import copy_package

    candidates = sorted((p for p in submission.rglob(PACKAGE) if p.is_dir() and not p.is_symlink()
                         and len(p.relative_to(submission).parts) <= 4),
                        key=lambda p: len(p.parts))
    if candidates:
        copy_package(candidates[0], dest / PACKAGE)
        return dest
    modules = set(manifest.modules.values())
    loose = [p for p in submission.rglob("*.py") if p.stem in modules and not p.is_symlink()
             and len(p.relative_to(submission).parts) <= 4]
    if not loose:
        return None
    package = dest / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for path in sorted(loose, key=lambda p: len(p.parts), reverse=True):  # shallowest wins
        shutil.copyfile(path, package / path.name)
    return dest


def run_public_checks(package_root: Path, chapters: list[Chapter], *, limits: Any = None,
                      hide: list[Path] | None = None) -> list[dict[str, Any]]:
    """The public self-checks of ``chapters`` on the student's package, run confined.

    Their outcome comes from the student's process, so it is shown (``visible``) but
    worth 0 points: it never sets a score.
    """
    import pytest

    from instructor.release import build_release

    from .sandbox import Limits, copy_package, run_confined

    limits = limits or Limits()
    work = Path(tempfile.mkdtemp(prefix="dlnp-public-"))
    try:
        release = build_release(work / "release")
        copy_package(package_root / PACKAGE, release / PACKAGE)
        targets = [f"tests/test_{c.slug}.py" for c in chapters if (release / "tests" / f"test_{c.slug}.py").exists()]
        if not targets:
            return []
        site = Path(pytest.__file__).resolve().parent.parent
        boot = ("import os, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; os.chdir(sys.argv[1]); import pytest; "
                "raise SystemExit(pytest.main(['-q', '-rA', '--no-header', '-p', 'no:cacheprovider', "
                "'--rootdir', sys.argv[1], *sys.argv[3:]]))")
        code, output = run_confined(
            lambda box, exe: [exe, "-I", "-S", "-B", "-c", boot, box.path("release"), box.path("site"), *targets],
            {"release": release, "site": site}, limits, PUBLIC_SECONDS, hide=hide or [],
            env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "COLUMNS": "1000"},
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return _public_entries(output.decode(errors="replace"), chapters, code)


def _public_entries(text: str, chapters: list[Chapter], code: int | None) -> list[dict[str, Any]]:
    by_slug = {c.slug: c.id for c in chapters}
    entries: list[dict[str, Any]] = []
    pattern = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED(?: \[\d+\])?) tests/test_(ch[0-9_]+)\.py(?:::|:\d+:? ?)(.*)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if not match or match.group(2) not in by_slug:
            continue
        word, slug, rest = match.groups()
        name, _, detail = rest.partition(" - ")
        outcome = {"PASSED": "passed", "FAILED": "failed", "ERROR": "failed"}.get(word, "skipped")
        if outcome == "failed" and "NotImplementedError" in detail:
            outcome = "not_implemented"
        entries.append({
            "name": f"{by_slug[slug]} self-check: {name.strip()[:150] if outcome != 'skipped' else 'skipped'}",
            "number": by_slug[slug],
            "score": 0.0,
            "max_score": 0.0,
            "status": "passed" if outcome in ("passed", "skipped") else "failed",
            "output": (detail.strip() if outcome != "skipped" else name.strip())[:1000],
            "visibility": "visible",
            "extra_data": {"function": "self-check", "outcome": outcome},
        })
    order = {c.id: i for i, c in enumerate(chapters)}
    entries.sort(key=lambda e: order[e["number"]])
    if not entries and code not in (0, 5):
        entries.append({"name": "self-check", "number": chapters[0].id if chapters else "", "score": 0.0,
                        "max_score": 0.0, "status": "failed", "visibility": "visible",
                        "output": "The public self-checks could not run on your code:\n" + text[-1500:],
                        "extra_data": {"function": "self-check", "outcome": "error"}})
    return entries


def run_gradescope(root: Path, source: Path | None = None) -> dict[str, Any]:
    """Grade ``root/submission`` into ``root/results/results.json`` (Gradescope's layout)."""
    from .engine import grade_submission
    from .plugin import write_json_atomic

    started = time.monotonic()
    source = source or root / "source"
    results_path = root / "results" / "results.json"
    manifest = load_manifest()
    config = json.loads((source / "grading.json").read_text())
    ids: list[str] = config.get("chapters") or [c.id for c in manifest.chapters]
    staging = Path(tempfile.mkdtemp(prefix="dlnp-gradescope-"))
    try:
        sub = find_package(root / "submission", manifest, staging / "submission")
        if sub is None:
            results: dict[str, Any] = {
                "score": 0.0, "execution_time": 0.0, "tests": [], "visibility": "visible",
                "output": f"No `{PACKAGE}` package was found in your upload. Upload your whole release folder "
                          f"(or the `{PACKAGE}` folder, or its module files such as losses.py).",
            }
        else:
            results = grade_submission(sub, chapters=ids, salt=config.get("salt"), visibility="after_due_date",
                                       hide=[root])
            chapters = [manifest.chapter(i) for i in ids]
            public = run_public_checks(sub, chapters, hide=[root])
            results["tests"] = public + results["tests"]
            results["visibility"] = "visible"
            results["stdout_visibility"] = "hidden"
            note = ("Self-checks (the same tests as `dlnp check`) are shown now and are worth no points; the "
                    "hidden tests decide your score and are shown after the due date.")
            results["output"] = "\n".join(x for x in (note, results.get("output", "")) if x)
    except Exception as exc:  # Gradescope must always get a results file
        results = {"score": 0.0, "execution_time": 0.0, "tests": [], "visibility": "visible",
                   "output": f"The autograder failed ({type(exc).__name__}: {str(exc)[:500]}). "
                             "Please tell your instructor."}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    results["execution_time"] = round(time.monotonic() - started, 3)
    write_json_atomic(results_path, results)
    return results


# ----------------------------------------------------------------------------- GitHub Classroom


def _step_id(chapter: Chapter) -> str:
    return chapter.slug.replace("_", "-")


def classroom_tests(manifest: Manifest, chapters: list[str] | None = None) -> list[dict[str, Any]]:
    """One autograding test per chapter: its public tests pass -> the chapter's points."""
    chosen = [manifest.chapter(c) for c in chapters] if chapters else list(manifest.chapters)
    return [{
        "name": f"{c.id} {c.title}",
        "setup": "",
        "run": f"python -m pytest -q -p no:cacheprovider tests/test_{c.slug}.py",
        "input": "",
        "output": "",
        "comparison": "included",
        "timeout": 10,
        "points": c.points,
    } for c in chosen if c.points > 0]


def classroom_workflow(tests: list[dict[str, Any]], manifest: Manifest) -> str:
    """GitHub Actions workflow running ``tests`` with GitHub Classroom's autograding actions."""
    by_name = {f"{c.id} {c.title}": c for c in manifest.chapters}
    lines = [
        "# Generated by `dlnp classroom`: GitHub Classroom autograding with the public self-checks.",
        "name: Autograding Tests",
        "'on':",
        "- push",
        "- workflow_dispatch",
        "- repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "    - name: Checkout code",
        "      uses: actions/checkout@v4",
        "    - name: Set up Python",
        "      uses: actions/setup-python@v5",
        "      with:",
        "        python-version: '3.11'",
        "    - name: Install the release",
        "      run: python -m pip install -e .",
    ]
    ids: list[str] = []
    for test in tests:
        step = _step_id(by_name[test["name"]])
        ids.append(step)
        lines += [
            f"    - name: {json.dumps(test['name'])}",
            f"      id: {step}",
            "      uses: classroom-resources/autograding-command-grader@v1",
            "      with:",
            f"        test-name: {json.dumps(test['name'])}",
            "        setup-command: ''",
            f"        command: {json.dumps(test['run'])}",
            f"        timeout: {test['timeout']}",
            f"        max-score: {test['points']}",
        ]
    lines += [
        "    - name: Autograding Reporter",
        "      uses: classroom-resources/autograding-grading-reporter@v1",
        "      env:",
        *[f"        {i.upper().replace('-', '_')}_RESULTS: \"${{{{steps.{i}.outputs.result}}}}\"" for i in ids],
        "      with:",
        f"        runners: {','.join(ids)}",
    ]
    return "\n".join(lines) + "\n"


def write_classroom(release: Path, chapters: list[str] | None = None) -> list[Path]:
    """Write the autograding configuration and workflow into ``release``; returns the paths."""
    manifest = load_manifest()
    tests = classroom_tests(manifest, chapters)
    config = release / ".github" / "classroom" / "autograding.json"
    workflow = release / ".github" / "workflows" / "classroom.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    workflow.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"tests": tests}, indent=2) + "\n")
    workflow.write_text(classroom_workflow(tests, manifest))
    return [config, workflow]


# ----------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.exports")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("gradescope-run", help="grade a Gradescope submission (run_autograder)")
    run.add_argument("--root", type=Path, default=Path(os.environ.get("DLNP_GRADESCOPE_ROOT", "/autograder")))
    args = parser.parse_args(argv)
    results = run_gradescope(args.root.resolve())
    print(f"score {results.get('score', 0):g} -> {args.root / 'results' / 'results.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
