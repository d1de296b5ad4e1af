"""GitHub Classroom autograding for a release (``dlnp classroom --release DIR``).

Writes into the release (the assignment's template repository):

``.github/workflows/classroom.yml``
    the workflow GitHub Classroom runs on every push: one step per graded function
    with ``classroom-resources/autograding-command-grader@v1`` (exit code 0 gives the
    function's points from the manifest), then
    ``classroom-resources/autograding-grading-reporter@v1``, which reads each step's
    result from the environment variable ``<STEP ID IN UPPER CASE>_RESULTS`` (base64
    JSON) for every id of its ``runners`` input and sends the total to Classroom.
``.github/classroom/public_points.py`` and ``public_tests.json``
    the command of each step (:mod:`instructor.classroom_points`) and, for each
    function, the public tests that exercise it, found by reading the tests
    (:func:`public_tests`). Points are per function, not per chapter, and a test that
    also uses another function is not counted while that function fails its own
    tests, so the Classroom total is close to the hidden graders' score.
``.github/classroom/autograding.json``
    the same tests in Classroom's test-list format (for the web editor).

These points come from the public tests, run in the student's own repository: a
convenience, not a secure grade (use Gradescope or ``dlnp grade-batch`` for that).

The actions' contract, checked against their code (v1): the reporter splits
``runners`` on commas and reads ``process.env[runner.trim().toUpperCase() + "_RESULTS"]``;
when anything fails it checks the input against ``^([a-zA-Z0-9]+,)*[a-zA-Z0-9]+$``, so
step ids here are letters and digits only (:func:`step_id`). The command grader
``parseInt``s ``max-score`` (points are integers) and takes ``timeout`` in minutes.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlnp.manifest import Chapter, Function, Manifest, load_manifest

#: The actions the workflow uses (GitHub Classroom's current ones).
COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
#: The runner ids the reporter accepts (its own check of its ``runners`` input, item by item).
RUNNER_ID = re.compile(r"^[a-zA-Z0-9]+$")
#: Minutes a step may take (the command grader's unit).
STEP_MINUTES = 5
SCRIPT = Path(__file__).resolve().parent / "classroom_points.py"


@dataclass(frozen=True)
class PublicTests:
    """The public tests of one graded function of one chapter (pytest node ids)."""

    chapter: Chapter
    function: Function
    tests: list[str]
    needs: dict[str, list[str]] = field(default_factory=lambda: {})  # test -> other chapters' functions

    @property
    def key(self) -> str:
        return f"{self.chapter.id} {self.function.name}"


def step_id(chapter: Chapter, function: Function) -> str:
    """The workflow step id of a function: letters and digits only (``2.1 mse_loss`` -> ``ch2x1mseloss``)."""
    ident = "ch" + chapter.id.replace(".", "x") + re.sub(r"[^a-z0-9]", "", function.name.lower())
    if not RUNNER_ID.match(ident):
        raise ValueError(f"cannot make a runner id for {chapter.id} {function.name}: {ident!r}")
    return ident


def results_variable(step: str) -> str:
    """The environment variable the reporter reads for ``step`` (its own rule: upper case + ``_RESULTS``)."""
    return f"{step.strip().upper()}_RESULTS"


# ----------------------------------------------------------------------------- which tests test what


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _test_references(source: str) -> dict[str, set[str]]:
    """For each ``test_*`` function of a test module, the names it uses, through the module's own helpers."""
    tree = ast.parse(source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    used = {name: _names_used(node) for name, node in functions.items()}
    out: dict[str, set[str]] = {}
    for name in functions:
        if not name.startswith("test"):
            continue
        seen, todo = {name}, [name]
        names: set[str] = set()
        while todo:
            current = used[todo.pop()]
            names |= current
            for helper in current & functions.keys():
                if helper not in seen:
                    seen.add(helper)
                    todo.append(helper)
        out[name] = names
    return out


def public_tests(release: Path, manifest: Manifest) -> list[PublicTests]:
    """Every graded (chapter, function) with the public tests that use it, in manifest order.

    A test of ``tests/test_<slug>.py`` belongs to each function of that chapter it
    uses (directly or through the file's helpers); for each of them, the other graded
    functions it uses (of this chapter or an earlier one) are its ``needs``. A function
    that no test names gets all of its chapter's tests.
    """
    owner = {f.name: c for c in manifest.chapters for f in c.functions}  # a function's last chapter
    table: list[PublicTests] = []
    for chapter in manifest.chapters:
        path = release / "tests" / f"test_{chapter.slug}.py"
        refs = _test_references(path.read_text()) if path.exists() else {}
        mine = {f.name for f in chapter.functions}
        for function in chapter.functions:
            if function.points <= 0:
                continue
            named = [t for t, names in refs.items() if function.name in names] or list(refs)
            needs: dict[str, list[str]] = {}
            for test in named:
                others = sorted(n for n in refs[test] if n in owner and n != function.name)
                if others:
                    node = f"tests/{path.name}::{test}"
                    needs[node] = [f"{chapter.id if n in mine else _first_chapter(n, manifest, chapter)} {n}"
                                   for n in others]
            table.append(PublicTests(chapter, function, [f"tests/{path.name}::{t}" for t in named], needs))
    return table


def _first_chapter(name: str, manifest: Manifest, before: Chapter) -> str:
    """The chapter that teaches ``name``: the latest one before ``before`` (else the first one)."""
    chapters = [c for c in manifest.chapters if any(f.name == name for f in c.functions)]
    order = [c.id for c in manifest.chapters]
    earlier = [c for c in chapters if order.index(c.id) < order.index(before.id)]
    return (earlier[-1] if earlier else chapters[0]).id


# ----------------------------------------------------------------------------- the files


def command(entry: PublicTests) -> str:
    """The shell command of one function's step (exit code 0: full points)."""
    return f"python .github/classroom/public_points.py {entry.chapter.id} {entry.function.name}"


def autograding_tests(entries: list[PublicTests]) -> list[dict[str, Any]]:
    """The tests in GitHub Classroom's ``autograding.json`` format, one per function."""
    return [{
        "name": entry.key,
        "setup": "",
        "run": command(entry),
        "input": "",
        "output": "",
        "comparison": "included",
        "timeout": STEP_MINUTES,
        "points": entry.function.points,
    } for entry in entries]


def classroom_workflow(entries: list[PublicTests]) -> str:
    """The GitHub Actions workflow: one command-grader step per function, then the reporter."""
    lines = [
        "# Generated by `dlnp classroom`: GitHub Classroom autograding with the public self-checks,",
        "# one step per graded function (its points from the manifest).",
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
    ids = [step_id(e.chapter, e.function) for e in entries]
    if len(set(ids)) != len(ids):
        raise ValueError("two graded functions have the same step id")
    for entry, ident in zip(entries, ids, strict=True):
        lines += [
            f"    - name: {json.dumps(entry.key)}",
            f"      id: {ident}",
            f"      uses: {COMMAND_GRADER}",
            "      with:",
            f"        test-name: {json.dumps(entry.key)}",
            "        setup-command: ''",
            f"        command: {json.dumps(command(entry))}",
            f"        timeout: {STEP_MINUTES}",
            f"        max-score: {entry.function.points}",
        ]
    lines += [
        "    - name: Autograding Reporter",
        f"      uses: {REPORTER}",
        "      env:",
        *[f'        {results_variable(i)}: "${{{{steps.{i}.outputs.result}}}}"' for i in ids],
        "      with:",
        f"        runners: {','.join(ids)}",
    ]
    return "\n".join(lines) + "\n"


def write_classroom(release: Path, chapters: list[str] | None = None, manifest: Manifest | None = None) -> list[Path]:
    """Write the workflow, the points script and its test table into ``release``; returns the paths."""
    manifest = manifest or load_manifest()
    wanted = {manifest.chapter(c).id for c in chapters} if chapters else {c.id for c in manifest.chapters}
    entries = [e for e in public_tests(release, manifest) if e.chapter.id in wanted]
    folder = release / ".github" / "classroom"
    workflow = release / ".github" / "workflows" / "classroom.yml"
    folder.mkdir(parents=True, exist_ok=True)
    workflow.parent.mkdir(parents=True, exist_ok=True)
    table = {e.key: {"tests": e.tests, "needs": e.needs, "points": e.function.points}
             for e in public_tests(release, manifest)}  # needs may point at unselected chapters
    (folder / "public_tests.json").write_text(json.dumps({"functions": table}, indent=2) + "\n")
    shutil.copyfile(SCRIPT, folder / "public_points.py")
    (folder / "autograding.json").write_text(json.dumps({"tests": autograding_tests(entries)}, indent=2) + "\n")
    workflow.write_text(classroom_workflow(entries))
    return [folder / "autograding.json", folder / "public_tests.json", folder / "public_points.py", workflow]
