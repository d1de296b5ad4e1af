"""``setup.sh`` of the Gradescope zip, run by bash in a fake root where ``apt-get`` and the
Python interpreters are stand-ins that model Gradescope's Ubuntu base images.

What is modelled (from the images' archives): Ubuntu 24.04 ships ``python3.12`` without
``ensurepip`` until ``python3.12-venv`` is installed; Ubuntu 22.04 ships ``python3.10``,
and ``python3.11`` only where the archive offers it; PyPI is reachable (``pip install uv``)
and uv downloads a standalone CPython. Every stand-in logs what it was asked to do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from instructor.gradescope import SETUP_SH

FAKE = r'''
import json, os, sys
from pathlib import Path

state = Path(os.environ["FAKE_STATE"])
me = Path(sys.argv[0])
args = sys.argv[1:]
world = json.loads((state / "world.json").read_text())
pythons = json.loads((state / "pythons.json").read_text())
with (state / "log.txt").open("a") as log:
    log.write(f"{me.name} {' '.join(args)}\n")


def make_python(path, version, venv):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((state / "fake.py").read_text())
    path.chmod(0o755)
    pythons[str(path)] = {"version": version, "venv": venv}
    (state / "pythons.json").write_text(json.dumps(pythons))


if me.name == "apt-get":
    if args[0] != "install":
        sys.exit(0)
    packages = [a for a in args[1:] if not a.startswith("-")]
    if not all(p in world["apt"] for p in packages):
        sys.exit(100)  # E: Unable to locate package
    for p in packages:
        if p.startswith("python3.") and not p.endswith("-venv"):
            make_python(me.parent / p, p.removeprefix("python"), f"{p}-venv" in packages)
    sys.exit(0)

info = pythons[str(me)]
if args[:1] == ["--version"]:
    print(f"Python {info['version']}.0")
elif args[:1] == ["-c"]:  # the supported() check
    major, minor = map(int, info["version"].split("."))
    sys.exit(0 if (major, minor) >= (3, 11) and info["venv"] else 1)
elif args[:2] == ["-m", "venv"]:
    if not info["venv"]:
        sys.exit(1)
    make_python(Path(args[2]) / "bin" / "python", info["version"], True)
elif args[:3] == ["-m", "pip", "install"]:
    if "uv" in args:
        (state / "uv").write_text("installed")
elif args[:2] == ["-m", "uv"]:
    if not (state / "uv").exists():
        sys.exit(1)  # No module named uv
    home = Path(os.environ["UV_PYTHON_INSTALL_DIR"]) / "cpython-3.11.11-linux-x86_64-gnu" / "bin" / "python3.11"
    if args[2:4] != ["python", "install"] or not world["uv_download"]:
        sys.exit(2)
    make_python(home, "3.11", True)  # uv's layout of a managed Python
'''


def run_setup(tmp_path: Path, *, pythons: dict[str, tuple[str, bool]], apt: list[str],
              uv_download: bool = True) -> tuple[subprocess.CompletedProcess[str], list[str], dict[str, Any]]:
    """Run setup.sh with only the stand-ins on PATH; (process, log lines, the fake interpreters)."""
    state, bin_dir, root = tmp_path / "state", tmp_path / "bin", tmp_path / "autograder"
    for folder in (state, bin_dir, root / "source"):
        folder.mkdir(parents=True)
    (root / "source" / "requirements.txt").write_text("numpy==2.1.0\n")
    fake = f"#!{sys.executable}\n{FAKE}"
    (state / "fake.py").write_text(fake)
    (state / "world.json").write_text(json.dumps({"apt": apt, "uv_download": uv_download}))
    table: dict[str, Any] = {}
    for name, (version, venv) in pythons.items():
        table[str(bin_dir / name)] = {"version": version, "venv": venv}
    (state / "pythons.json").write_text(json.dumps(table))
    for name in ["apt-get", *pythons]:
        (bin_dir / name).write_text(fake)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "setup.sh").write_text(SETUP_SH)
    env = {"PATH": str(bin_dir), "FAKE_STATE": str(state), "DLNP_GRADESCOPE_ROOT": str(root),
           "DLNP_PYTHON_DIR": str(tmp_path / "opt")}
    proc = subprocess.run(["/bin/bash", str(tmp_path / "setup.sh")], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    log = (state / "log.txt").read_text().splitlines() if (state / "log.txt").exists() else []
    return proc, log, json.loads((state / "pythons.json").read_text())


def venv_made_by(log: list[str]) -> str:
    return next(line.split()[0] for line in log if " -m venv " in line)


def test_ubuntu_24_04_uses_its_python312_once_venv_is_installed(tmp_path: Path) -> None:
    proc, log, _ = run_setup(tmp_path, pythons={"python3": ("3.12", False), "python3.12": ("3.12", False)},
                             apt=["bubblewrap", "python3.12", "python3.12-venv"])
    assert proc.returncode == 0, proc.stderr
    assert "apt-get install -y -q python3.12 python3.12-venv" in log
    assert venv_made_by(log) == "python3.12"
    assert any(line.startswith("python -m pip install -q -r ") for line in log)
    assert "grading with Python 3.12.0" in proc.stdout


def test_ubuntu_22_04_with_python311_in_the_archive(tmp_path: Path) -> None:
    proc, log, _ = run_setup(tmp_path, pythons={"python3": ("3.10", True)},
                             apt=["bubblewrap", "python3.11", "python3.11-venv"])
    assert proc.returncode == 0, proc.stderr
    assert venv_made_by(log) == "python3.11"
    assert not any("uv" in line for line in log)


def test_ubuntu_22_04_without_python311_gets_one_from_uv(tmp_path: Path) -> None:
    proc, log, _ = run_setup(tmp_path, pythons={"python3": ("3.10", True)}, apt=["python3-pip"])
    assert proc.returncode == 0, proc.stderr
    assert "python3 -m pip install -q uv" in log
    assert "python3 -m uv python install 3.11" in log
    assert venv_made_by(log) == "python3.11"  # the standalone CPython under DLNP_PYTHON_DIR
    assert "bubblewrap unavailable" in proc.stdout
    assert "grading with Python 3.11.0" in proc.stdout


def test_a_supported_python_already_there_is_used_as_is(tmp_path: Path) -> None:
    proc, log, _ = run_setup(tmp_path, pythons={"python3": ("3.10", True), "python3.13": ("3.13", True)},
                             apt=["bubblewrap"])
    assert proc.returncode == 0, proc.stderr
    assert venv_made_by(log) == "python3.13"
    assert not any(line.startswith("apt-get install -y -q python") for line in log)


def test_no_python_anywhere_fails_with_one_clear_sentence(tmp_path: Path) -> None:
    proc, log, _ = run_setup(tmp_path, pythons={"python3": ("3.10", True)}, apt=[], uv_download=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("setup.sh:")]
    assert len(errors) == 1 and "Ubuntu 24.04 base image" in errors[0], proc.stderr
    assert not any(" -m venv " in line for line in log)


def test_setup_in_the_zip_is_this_script(tmp_path: Path) -> None:
    from instructor.gradescope import build_gradescope

    archive = build_gradescope(tmp_path / "a.zip", chapters=["0"], salt="s")
    with zipfile.ZipFile(archive) as zf:
        assert zf.read("setup.sh").decode() == SETUP_SH


@pytest.mark.skipif(sys.platform != "linux", reason="bash syntax check")
def test_setup_is_valid_bash(tmp_path: Path) -> None:
    (tmp_path / "setup.sh").write_text(SETUP_SH)
    assert subprocess.run(["/bin/bash", "-n", str(tmp_path / "setup.sh")], check=False).returncode == 0
