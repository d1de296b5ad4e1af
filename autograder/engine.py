"""Grade one submission (``grade_submission``) or a folder of them (``grade_batch``).

``grade_submission`` runs the hidden graders with pytest inside this trusted process;
the student's code runs only in the confined worker processes that the graders talk to
(:mod:`autograder.sandbox`). The results are a :class:`~autograder.results.GradingResults`.

``grade_batch`` grades every entry directly under ROOT; each ends as one row of the
gradebook, graded or with the reason it could not be:

- the entry's name, whatever its bytes, is the student id (a name that is not UTF-8 is
  shown with ``\\xNN`` escapes; names starting with ``.`` are graded like any other);
- a folder with a ``neural_network/`` package is graded; anything else (a file, a
  symbolic link, a folder without the package) gets a row with 0 points and the reason;
- one submission that breaks its grading (or this process's handling of it) is reported
  in its own row and never stops the others.

It keeps ``jobs`` trusted grading servers (``python -m autograder.engine --serve``),
each grading one submission after another, so that pytest, NumPy and the graders are
imported once per server rather than once per student. A server writes the student's
``results/<student>.json`` atomically while grading (partial results after each
chapter) and sends the final results back over a pipe; this process then writes the
final results and the feedback, and the gradebook at the end. A server that takes far
longer than the submission's time budget is killed: the student keeps the partial
results, marked incomplete. ``resume=True`` skips every student whose results file is
complete and was made from the same submission (its digest) by the same kit, salt and
chapters, so a batch killed midway loses nothing and gives the same gradebook when resumed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import queue
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pytest

from dlnp.manifest import Manifest, load_manifest

from . import plugin as plugin_module
from .feedback import feedback_markdown
from .paths import GRADERS, KIT_ROOT
from .plugin import (
    DEFAULT_BUDGET_SECONDS,
    GradingPlugin,
    grading_fingerprint,
    grading_info,
    submission_digest,
)
from .results import (
    GradingResults,
    Visibility,
    load_results,
    parse_results,
    ungraded_results,
    write_gradebook,
    write_json_atomic,
)
from .sandbox import Limits, die_with_parent

DEFAULT_SALT = "dlnp-hidden-graders-v1"
PACKAGE = "neural_network"
#: Longest file name stem (bytes) of a student's files; file names hold 255 bytes.
MAX_STEM_BYTES = 200
#: Beyond the submission's budget, a grading server gets this long (s) before it is killed.
SERVER_GRACE_SECONDS = 120.0


def grading_salt(explicit: str | None = None) -> str:
    """Secret mixed into every hidden input seed (``--salt`` or ``$DLNP_GRADING_SALT``)."""
    return explicit or os.environ.get("DLNP_GRADING_SALT") or DEFAULT_SALT


def grade_submission(
    submission: Path,
    out: Path | None = None,
    *,
    chapters: list[str] | None = None,
    salt: str | None = None,
    visibility: Visibility = "visible",
    limits: Limits | None = None,
    quiet: bool = True,
    hide: Sequence[Path] = (),
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
) -> GradingResults:
    """Run every hidden grader on ``submission``; return (and optionally write) the results.

    ``out``: the results file, rewritten atomically while grading runs (partial results)
    and at the end. ``hide``: more host folders the student's code must not see (the
    submissions root and the folder of ``out`` are always hidden when namespaces are
    available). ``budget_seconds``: the time budget of the whole submission.
    """
    plugin = GradingPlugin(Path(submission), out, grading_salt(salt), chapters, visibility, limits or Limits(),
                           hide=hide, budget_seconds=budget_seconds)
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


# ----------------------------------------------------------------------------- batch entries


@dataclasses.dataclass(frozen=True)
class Entry:
    """One entry directly under the batch's ROOT: a student, and why it cannot be graded (if so)."""

    student: str  # the entry's name, made printable (``\\xNN`` for bytes that are not UTF-8)
    path: Path
    problem: str = ""


def student_id(name: bytes) -> str:
    """The student id of an entry named ``name``: its UTF-8 text, or ``\\xNN`` escapes for other bytes."""
    return name.decode("utf-8", errors="backslashreplace")


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "of an unknown kind"


def batch_entries(root: Path) -> list[Entry]:
    """Every entry directly under ``root``, sorted by name bytes (nothing followed, nothing skipped)."""
    raw_root = os.fsencode(root)
    entries: list[Entry] = []
    used: set[str] = set()
    with os.scandir(raw_root) as listing:
        names = sorted(entry.name for entry in listing)
    for name in names:
        student = student_id(name)
        while student in used:  # two names that escape alike (b"\xe9" and the text "\\xe9")
            student += "~"
        used.add(student)
        path = Path(os.fsdecode(os.path.join(raw_root, name)))
        entries.append(Entry(student, path, _entry_problem(path)))
    return entries


def _entry_problem(path: Path) -> str:
    """Why ``path`` cannot be graded as a submission, or ``""``."""
    try:
        mode = path.lstat().st_mode
        if not stat.S_ISDIR(mode):
            return f"this entry is {_kind(mode)}, not a submission folder"
        package = (path / PACKAGE).lstat().st_mode
    except FileNotFoundError:
        return f"no {PACKAGE}/ package in this folder"
    except OSError as exc:
        return f"the folder cannot be read ({exc.strerror or type(exc).__name__})"
    if not stat.S_ISDIR(package):
        return f"{PACKAGE} is {_kind(package)}, not a package folder"
    return ""


# ----------------------------------------------------------------------------- grading servers


class GradingServer:
    """One trusted ``python -m autograder.engine --serve`` process, reused across students."""

    def __init__(self, limits: Limits, hide: Sequence[Path], budget_seconds: float) -> None:
        self.limits = limits
        self.hide = [str(p) for p in hide]
        self.budget_seconds = budget_seconds
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

    def grade(self, submission: Path, out: Path, salt: str, chapters: list[str] | None) -> GradingResults:
        """Grade ``submission`` in the server (which writes ``out`` as it goes); the final results."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {"submission": str(submission), "out": str(out), "salt": salt, "chapters": chapters,
                   "limits": dataclasses.asdict(self.limits), "hide": self.hide,
                   "budget_seconds": self.budget_seconds}
        allowed = self.budget_seconds + self.limits.test_seconds + self.limits.start_seconds + SERVER_GRACE_SECONDS
        timer = threading.Timer(allowed, self.proc.kill)
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
            raise RuntimeError(f"the grading process stopped while grading this submission: {why}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(str(reply["error"]))
        return parse_results(reply["results"])

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
            results = grade_submission(Path(request["submission"]), Path(request["out"]),
                                       chapters=request["chapters"], salt=request["salt"], limits=limits,
                                       hide=[Path(p) for p in request.get("hide", [])],
                                       budget_seconds=float(request["budget_seconds"]))
            reply: dict[str, Any] = {"results": results}
        except Exception as exc:  # reported for this student; the server goes on
            reply = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
        protocol.write((json.dumps(reply, default=str) + "\n").encode())
        protocol.flush()


# ----------------------------------------------------------------------------- batch


def is_current(results_path: Path, submission: Path, fingerprint: str) -> GradingResults | None:
    """The results in ``results_path`` if they are complete and were made from this very
    submission with the same kit, salt and chapters (so regrading would change nothing)."""
    results = load_results(results_path)
    if results is None:
        return None
    grading = results["grading"]
    if grading["fingerprint"] != fingerprint or not grading["complete"]:
        return None
    if results["submission_sha256"] != submission_digest(submission):
        return None
    return results


def interrupted_results(partial: GradingResults | None, message: str, *, chapter_ids: Sequence[str],
                        salt: str, chapters: list[str] | None, budget_seconds: float) -> GradingResults:
    """The results of a grading that stopped with ``message``: the partial results it wrote, if
    any (marked incomplete), or a row of 0 points with the reason."""
    if partial is None:
        return ungraded_results(message, chapter_ids=chapter_ids,
                                grading=grading_info(salt, chapters, budget_seconds))
    grading = partial["grading"]
    grading["complete"] = False
    grading["problems"] = [*grading["problems"], message[:500]][:6]
    partial["output"] = "\n".join(x for x in (f"Grading stopped early: {message[:2000]}", partial["output"]) if x)
    return partial


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
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
) -> list[GradingResults]:
    """Grade every entry under ``root`` into ``out_dir`` (gradebook, results, feedback).

    Returns one results per entry, in the order of :func:`batch_entries`.
    """
    manifest = load_manifest()
    ids = [c.id for c in manifest.chapters]
    limits = limits or Limits()
    salt = grading_salt(salt)
    out_dir = Path(out_dir).resolve()
    (out_dir / "results").mkdir(parents=True, exist_ok=True)
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    entries = batch_entries(Path(root))
    fingerprint = grading_fingerprint(salt, sorted(chapters) if chapters else None)
    rows: dict[str, GradingResults] = {}
    lock = threading.Lock()
    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(entries), desc="grading", unit="submission", file=sys.stderr)

    def finish(entry: Entry, results: GradingResults, write_results: bool = True) -> None:
        try:
            if write_results:
                write_json_atomic(_results_path(out_dir, entry), results)
            _write_feedback(out_dir, entry, results, manifest)
        except Exception as exc:  # never lose the row, whatever happened to the files
            results["grading"]["complete"] = False
            results["grading"]["problems"].append(f"its files could not be written: {type(exc).__name__}")
        with lock:
            rows[entry.student] = results
            if bar is not None:
                bar.update(1)

    todo: queue.Queue[Entry] = queue.Queue()
    for entry in entries:
        if entry.problem:
            finish(entry, ungraded_results(entry.problem, chapter_ids=ids,
                                           grading=grading_info(salt, chapters, budget_seconds)))
        elif resume and (done := is_current(_results_path(out_dir, entry), entry.path, fingerprint)) is not None:
            finish(entry, done, write_results=False)
        else:
            todo.put(entry)

    def grade_one(server: GradingServer, entry: Entry) -> None:
        out = _results_path(out_dir, entry)
        try:
            results = server.grade(entry.path.resolve(), out, salt, chapters)
        except Exception as exc:  # a broken grading run is reported, never silently scored
            finish(entry, interrupted_results(load_results(out), str(exc), chapter_ids=ids, salt=salt,
                                              chapters=chapters, budget_seconds=budget_seconds))
            return
        finish(entry, results, write_results=False)  # the server wrote them

    def work() -> None:
        server = GradingServer(limits, [out_dir], budget_seconds)
        try:
            while True:
                try:
                    entry = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    grade_one(server, entry)
                except Exception as exc:  # whatever breaks, this student still gets a row
                    finish(entry, ungraded_results(f"internal error: {type(exc).__name__}: {exc}", chapter_ids=ids,
                                                   grading=grading_info(salt, chapters, budget_seconds)))
        finally:
            server.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(max(1, min(jobs, todo.qsize())))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if bar is not None:
        bar.close()
    for entry in entries:  # a row for everyone, even if a grading thread died
        if entry.student not in rows:
            rows[entry.student] = ungraded_results("its grading thread stopped", chapter_ids=ids,
                                                   grading=grading_info(salt, chapters, budget_seconds))
    write_gradebook(out_dir / "gradebook.csv", rows, ids)
    return [rows[e.student] for e in entries]


def file_stem(student: str) -> str:
    """The name of a student's files (``results/<stem>.json``, ``feedback/<stem>.md``): the student
    id, shortened (with a hash, so it stays unique) when it would not fit in a file name."""
    raw = student.encode("utf-8", errors="surrogateescape")
    if len(raw) <= MAX_STEM_BYTES:
        return student
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return raw[: MAX_STEM_BYTES - 20].decode("utf-8", errors="ignore") + "~" + digest


def _results_path(out_dir: Path, entry: Entry) -> Path:
    return out_dir / "results" / f"{file_stem(entry.student)}.json"


def _write_feedback(out_dir: Path, entry: Entry, results: GradingResults, manifest: Manifest) -> None:
    path = out_dir / "feedback" / f"{file_stem(entry.student)}.md"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(feedback_markdown(entry.student, results, manifest), encoding="utf-8")
    tmp.replace(path)


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
