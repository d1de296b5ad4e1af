"""Grade one submission (``grade_submission``) or a folder of them (``grade_batch``).

``grade_submission`` runs the hidden graders with pytest inside this trusted process;
the student's code runs only in the confined worker processes that the graders talk to
(:mod:`autograder.sandbox`).

``grade_batch`` keeps ``jobs`` trusted grading servers (``python -m autograder.engine
--serve``), each grading one submission after another, so that pytest, NumPy and the
graders are imported once per server rather than once per student. A server sends
each results dict back over a pipe; this process writes ``results/<student>.json``
atomically as soon as a student is done, then their feedback, and the gradebook at the
end. ``resume=True`` skips every student whose results file is complete and was made
from the same submission (sha256 of its package) by the same kit, salt and chapters,
so a batch killed midway loses nothing and gives the same gradebook when resumed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import io
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast

import pytest

from dlnp.manifest import Manifest, load_manifest

from . import plugin as plugin_module
from .feedback import feedback_markdown
from .plugin import GradingPlugin, grading_fingerprint, submission_digest, write_json_atomic
from .sandbox import Limits, die_with_parent

KIT_ROOT = Path(__file__).resolve().parent.parent
GRADERS = Path(__file__).resolve().parent / "graders"
DEFAULT_SALT = "dlnp-hidden-graders-v1"
SUBMISSION_SECONDS = 3600.0  # a trusted server that takes longer than this on one student is restarted


def grading_salt(explicit: str | None = None) -> str:
    """Secret mixed into every hidden input seed (``--salt`` or ``$DLNP_GRADING_SALT``)."""
    return explicit or os.environ.get("DLNP_GRADING_SALT") or DEFAULT_SALT


def grade_submission(
    submission: Path,
    out: Path | None = None,
    *,
    chapters: list[str] | None = None,
    salt: str | None = None,
    visibility: str = "visible",
    limits: Limits | None = None,
    quiet: bool = True,
    hide: Sequence[Path] = (),
) -> dict[str, Any]:
    """Run every hidden grader on ``submission``; return (and optionally write) the results.

    ``hide``: more host folders the student's code must not see (the submissions root
    and the folder of ``out`` are always hidden when namespaces are available).
    """
    if str(KIT_ROOT) not in sys.path:
        sys.path.insert(0, str(KIT_ROOT))
    plugin = GradingPlugin(Path(submission), out, grading_salt(salt), chapters, visibility, limits or Limits(),
                           hide=hide)
    manifest = load_manifest()
    files = [GRADERS / f"test_{manifest.chapter(c).slug}.py" for c in chapters] if chapters else [GRADERS]
    targets = [str(f) for f in files if f.exists()] or [str(GRADERS)]  # collect only what is graded
    args = [
        *targets,
        "-c", os.devnull,
        "--rootdir", str(GRADERS),
        "-p", "no:cacheprovider",
        "-p", "no:randomly",
        "-q",
        # our plugin reads the exceptions itself; pytest's own (AST-heavy) tracebacks would
        # cost more than the grading when every test fails (an untouched release: 25 s -> 3 s)
        "--tb=no" if quiet else "--tb=native",
        "-W", "ignore::pytest.PytestUnknownMarkWarning",
    ]
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        pytest.main(args, plugins=[plugin, plugin_module])
    if plugin.results is None:
        raise RuntimeError("grading did not run:\n" + sink.getvalue()[-3000:])
    return plugin.results


def list_submissions(root: Path) -> list[Path]:
    """Every folder directly under ``root`` is one submission; its name is the student id."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


# ----------------------------------------------------------------------------- batch


class GradingServer:
    """One trusted ``python -m autograder.engine --serve`` process, reused across students."""

    def __init__(self, limits: Limits, hide: Sequence[Path]) -> None:
        self.limits = limits
        self.hide = [str(p) for p in hide]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(KIT_ROOT), env.get("PYTHONPATH", "")] if p)
        self.log = tempfile.TemporaryFile()
        return subprocess.Popen(
            [sys.executable, "-m", "autograder.engine", "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env, cwd=KIT_ROOT,
            preexec_fn=die_with_parent,
        )

    def grade(self, submission: Path, salt: str, chapters: list[str] | None) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {"submission": str(submission), "salt": salt, "chapters": chapters,
                   "limits": dataclasses.asdict(self.limits), "hide": self.hide}
        timer = threading.Timer(SUBMISSION_SECONDS, self.proc.kill)
        timer.start()
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except OSError:
            line = b""
        finally:
            timer.cancel()
        if not line:
            why = self._log_tail()
            self.close()
            raise RuntimeError(f"the grading process stopped while grading {submission.name}: {why}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(str(reply["error"]))
        return reply["results"]

    def _log_tail(self) -> str:
        if self.log is None:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-1500:]

    def close(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None


def serve(protocol: IO[bytes]) -> None:
    """The server side: one JSON request per line on stdin, one JSON reply per line on ``protocol``."""
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            limits = Limits(**request["limits"])
            results = grade_submission(Path(request["submission"]), chapters=request["chapters"],
                                       salt=request["salt"], limits=limits,
                                       hide=[Path(p) for p in request.get("hide", [])])
            reply: dict[str, Any] = {"results": results}
        except Exception as exc:  # reported for this student; the server goes on
            reply = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
        protocol.write((json.dumps(reply, default=str) + "\n").encode())
        protocol.flush()


def is_current(results_path: Path, submission: Path, fingerprint: str) -> dict[str, Any] | None:
    """The results in ``results_path`` if they are complete and were made from this very
    submission with the same kit, salt and chapters (so regrading would change nothing)."""
    try:
        loaded: Any = json.loads(results_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(loaded, dict):
        return None
    results = cast("dict[str, Any]", loaded)
    grading: Any = results.get("grading")
    if not isinstance(grading, dict):
        return None
    info = cast("dict[str, Any]", grading)
    if info.get("fingerprint") != fingerprint or not info.get("complete"):
        return None
    if results.get("submission_sha256") != submission_digest(submission):
        return None
    return results


def grade_batch(
    root: Path,
    out_dir: Path,
    *,
    jobs: int = 1,
    salt: str | None = None,
    chapters: list[str] | None = None,
    progress: bool = True,
    resume: bool = False,
    limits: Limits | None = None,
) -> list[dict[str, Any]]:
    """Grade every submission under ``root`` into ``out_dir`` (gradebook, results, feedback)."""
    manifest = load_manifest()
    limits = limits or Limits()
    salt = grading_salt(salt)
    out_dir = Path(out_dir).resolve()
    (out_dir / "results").mkdir(parents=True, exist_ok=True)
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    submissions = list_submissions(Path(root))
    fingerprint = grading_fingerprint(salt, sorted(chapters) if chapters else None)
    rows: dict[str, dict[str, Any]] = {}
    todo: queue.Queue[Path] = queue.Queue()
    for sub in submissions:
        done = is_current(out_dir / "results" / f"{sub.name}.json", sub, fingerprint) if resume else None
        if done is not None:
            rows[sub.name] = done
            _write_feedback(out_dir, sub.name, done, manifest)
        else:
            todo.put(sub)
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(submissions), initial=len(rows), desc="grading", unit="submission", file=sys.stderr)
    lock = threading.Lock()

    def work() -> None:
        server = GradingServer(limits, [out_dir])
        try:
            while True:
                try:
                    sub = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results = server.grade(sub.resolve(), salt, chapters)
                except Exception as exc:  # a broken grading run is reported, never silently scored
                    results = _failed_results(manifest, str(exc))
                write_json_atomic(out_dir / "results" / f"{sub.name}.json", results)
                _write_feedback(out_dir, sub.name, results, manifest)
                with lock:
                    rows[sub.name] = results
                    if bar is not None:
                        bar.update(1)
        finally:
            server.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(max(1, min(jobs, todo.qsize())))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if bar is not None:
        bar.close()
    write_gradebook(out_dir / "gradebook.csv", rows, manifest)
    return [rows[s.name] for s in submissions]


def _write_feedback(out_dir: Path, student: str, results: dict[str, Any], manifest: Manifest) -> None:
    path = out_dir / "feedback" / f"{student}.md"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(feedback_markdown(student, results, manifest))
    tmp.replace(path)


def _failed_results(manifest: Manifest, message: str) -> dict[str, Any]:
    return {
        "score": 0.0, "max_score": 0.0, "execution_time": 0.0,
        "output": f"Grading could not run: {message[:2000]}", "tests": [],
        "chapters": {c.id: {"score": 0.0, "max_score": 0.0} for c in manifest.chapters},
        "grading": {"complete": False, "problems": [message[:500]]},
    }


def write_gradebook(path: Path, rows: dict[str, dict[str, Any]], manifest: Manifest) -> None:
    """``student,score,max_score`` then one column per chapter id (score in that chapter)."""
    ids = [c.id for c in manifest.chapters]
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "score", "max_score", *ids])
        for student in sorted(rows):
            res = rows[student]
            chapters = res.get("chapters", {})
            writer.writerow([student, _num(res.get("score", 0)), _num(res.get("max_score", 0)),
                             *[_num(chapters.get(i, {}).get("score", 0)) for i in ids]])
    tmp.replace(path)


def _num(x: float) -> str:
    return f"{x:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.engine")
    parser.add_argument("submission", type=Path, nargs="?")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--salt")
    parser.add_argument("--chapter", action="append")
    parser.add_argument("--serve", action="store_true", help="grade requests read from stdin (grade_batch)")
    args = parser.parse_args(argv)
    if args.serve:
        # replies go to the original stdout; anything else printed goes to stderr
        protocol = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
        serve(protocol)
        return 0
    if args.submission is None or args.out is None:
        parser.error("SUBMISSION and --out are required (or --serve)")
    grade_submission(args.submission, args.out, chapters=args.chapter, salt=args.salt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
