"""The student release: deterministic, complete, stubs only, and no leak of reference or hidden tests."""

from __future__ import annotations

import ast
import hashlib
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dlnp.manifest import load_manifest
from instructor.release import build_release
from instructor.submissions import make_submission

KIT = Path(__file__).resolve().parent.parent
MANIFEST = load_manifest()


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _functions(tree: ast.AST) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def _body_without_doc(fn: ast.FunctionDef) -> list[ast.stmt]:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    return body


def _reference_bodies() -> dict[str, str]:
    """Unparsed body of every reference function and method (graded or private helper)."""
    out: dict[str, str] = {}
    for path in sorted((KIT / "solutions").glob("[!_]*.py")):
        for fn in _functions(ast.parse(path.read_text())):
            body = _body_without_doc(fn)
            text = "\n".join(ast.unparse(s) for s in body)
            if "NotImplementedError" not in text and len(text) > 0:
                out[f"{path.stem}.{fn.name}"] = text
    return out


def _reference_lines() -> set[str]:
    """Distinctive code lines of the reference bodies (long enough not to occur by chance)."""
    lines: set[str] = set()
    for body in _reference_bodies().values():
        for line in body.splitlines():
            line = line.strip()
            if len(line) >= 28 and not line.startswith(("return ", "raise ", "if ", "for ")):
                lines.add(line)
    return lines


def test_release_is_deterministic(tmp_path: Path) -> None:
    # Two fresh builds: the session-wide ``release`` fixture is not used, since other
    # tests run pytest and ``dlnp check`` inside it and leave caches behind.
    first = build_release(tmp_path / "first")
    again = build_release(tmp_path / "again")
    assert _digest(first) == _digest(again)


def test_release_layout(release: Path) -> None:
    for rel in ("pyproject.toml", "README.md", "chapters.toml", "neural_network/__init__.py",
                "dlnp/cli.py", "dlnp/testing.py", "tests/conftest.py"):
        assert (release / rel).is_file(), rel
    for chapter in MANIFEST.chapters:
        assert (release / "chapters" / f"{chapter.slug}.md").is_file()
        assert (release / "tests" / f"test_{chapter.slug}.py").is_file()


def test_every_graded_definition_is_a_typed_stub(release: Path) -> None:
    for name, module in MANIFEST.modules.items():
        stub_tree = ast.parse((release / "neural_network" / f"{module}.py").read_text())
        ref_tree = ast.parse((KIT / "solutions" / f"{module}.py").read_text())
        stub = next(n for n in stub_tree.body if getattr(n, "name", None) == name)
        ref = next(n for n in ref_tree.body if getattr(n, "name", None) == name)
        pairs = [(stub, ref)] if isinstance(stub, ast.FunctionDef) else list(
            zip(_functions(stub), _functions(ref), strict=True))
        for s, r in pairs:
            assert isinstance(s, ast.FunctionDef) and isinstance(r, ast.FunctionDef)
            assert ast.dump(s.args) == ast.dump(r.args), f"{name}.{s.name}: signature differs from the reference"
            assert ast.dump(s.returns) if s.returns else True
            assert ast.get_docstring(s) == ast.get_docstring(r), f"{name}.{s.name}: docstring not kept"
            body = _body_without_doc(s)
            assert len(body) == 1 and isinstance(body[0], ast.Raise), f"{name}.{s.name} is not a stub"
            assert "NotImplementedError" in ast.unparse(body[0])


def test_no_reference_code_in_release(release: Path) -> None:
    bodies = set(_reference_bodies().values())
    lines = _reference_lines()
    for path in sorted(release.rglob("*.py")):
        source = path.read_text()
        for fn in _functions(ast.parse(source)):
            text = "\n".join(ast.unparse(s) for s in _body_without_doc(fn))
            assert text not in bodies, f"{path.relative_to(release)}::{fn.name} contains a reference body"
        normalized = {ast.unparse(s).strip() for s in ast.walk(ast.parse(source)) if isinstance(s, ast.stmt)
                      and not isinstance(s, (ast.FunctionDef, ast.ClassDef, ast.If, ast.For, ast.With))}
        leaked = sorted(normalized & lines)
        assert not leaked, f"{path.relative_to(release)} contains reference lines: {leaked[:3]}"


def test_no_hidden_grader_in_release(release: Path) -> None:
    graders = {p.read_bytes() for p in (KIT / "autograder").rglob("*.py")}
    for path in sorted(release.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            assert data not in graders, f"{path.relative_to(release)} is a copy of a hidden grader file"
            if path.suffix == ".py":
                text = data.decode()
                assert "autograder" not in text, f"{path.relative_to(release)} mentions the autograder"
                assert "from solutions" not in text and "import solutions" not in text
                assert "@grade(" not in text


def test_public_tests_embed_no_reference(release: Path) -> None:
    bodies = set(_reference_bodies().values())
    for path in sorted((KIT / "assignments").rglob("test_*.py")):
        for fn in _functions(ast.parse(path.read_text())):
            text = "\n".join(ast.unparse(s) for s in _body_without_doc(fn))
            assert text not in bodies, f"{path}::{fn.name} is a reference implementation"


def test_refuses_to_overwrite_a_folder_that_is_not_a_release(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="not a generated release"):
        build_release(tmp_path)


def test_student_tools_never_import_the_kit(release: Path) -> None:
    """The shipped ``dlnp`` modules run in a release where ``solutions``/``autograder`` do not exist."""
    for path in sorted((release / "dlnp").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("solutions", "autograder"), f"{path.name} imports {name}"


# --------------------------------------------------------------------------- a good student project


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is a dev dependency of the kit (pip install -e '.[dev]')"
    return str(path)


def _lint(project: Path) -> None:
    ruff = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=project, capture_output=True,
                          text=True, timeout=300, check=False)
    assert ruff.returncode == 0, ruff.stdout[-4000:]
    pyright = subprocess.run([_tool("pyright")], cwd=project, capture_output=True, text=True, timeout=900,
                             check=False)
    assert pyright.returncode == 0 and "0 errors" in pyright.stdout, pyright.stdout[-4000:]


def test_stubs_are_clean_under_the_releases_own_ruff_and_pyright(release: Path, tmp_path: Path) -> None:
    copy = tmp_path / "stubs"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("__pycache__"))
    _lint(copy)
    formatted = subprocess.run([_tool("ruff"), "format", "--check", "--no-cache", "neural_network"], cwd=copy,
                               capture_output=True, text=True, timeout=300, check=False)
    assert formatted.returncode == 0, formatted.stdout[-4000:]


def test_a_correct_solution_is_clean_under_the_releases_own_ruff_and_pyright(release: Path, tmp_path: Path) -> None:
    _lint(make_submission(release, tmp_path / "solved"))


def test_gitignore_keeps_environments_caches_and_outputs_out(release: Path, tmp_path: Path) -> None:
    project = make_submission(release, tmp_path / "repo")
    clutter = [".venv/bin/python", "venv/pyvenv.cfg", "capstone/report.json", "capstone/curves.png",
               "notebooks/.ipynb_checkpoints/ch0-checkpoint.ipynb", "neural_network/__pycache__/basics.cpython-311.pyc",
               ".pytest_cache/v/cache", ".ruff_cache/CACHEDIR.TAG", "neural_network.zip",
               "neural_network_workbook.egg-info/PKG-INFO", "build/lib/x.py", ".DS_Store"]
    for rel in clutter:
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text("x")
    git = ["git", "-c", "user.name=student", "-c", "user.email=s@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    tracked = set(subprocess.run([*git, "ls-files"], cwd=project, capture_output=True, text=True,
                                 check=True).stdout.split())
    assert not tracked & set(clutter), sorted(tracked & set(clutter))
    for rel in ("neural_network/losses.py", "tests/test_ch2_1.py", "notebooks/ch0.ipynb", "README.md",
                "pyproject.toml", ".gitignore", "chapters/ch0.md", "dlnp/selfcheck.py"):
        assert rel in tracked, f"{rel} must be committed"
    assert len(tracked) < 200


def test_readme_states_python_routes_and_reachable_capstone_targets(release: Path) -> None:
    readme = (release / "README.md").read_text()
    project = tomllib.loads((release / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.11" and "Python 3.11 or newer" in readme
    assert "jupyterlab" in " ".join(project["project"]["optional-dependencies"]["notebooks"])
    for route in ("dlnp submit", "Gradescope", "git push", "GitHub Classroom", "nbgrader"):
        assert route in readme, route
    assert "dlnp capstone cnn" in readme and "about 95%" in readme
    assert "dlnp train" not in readme
    assert "dlnp train" not in (release / "chapters" / "ch4_5.md").read_text(), "students have no `dlnp train`"


def test_release_conftest_enforces_numpy_only(release: Path) -> None:
    assert "install_numpy_only" in (release / "tests" / "conftest.py").read_text()
