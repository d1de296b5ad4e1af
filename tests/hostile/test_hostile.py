"""Adversarial submissions: the grader stays in charge whatever the student's code does.

Every case is pasted into an otherwise perfect submission (chapters 1.3 and 2.1) and
graded with small limits. A case names what the student's code does and what the
trusted side must observe: the outcome of the functions it touches, a phrase of the
feedback, and that everything else is still graded. Cases are run in pairs (one in
``mse_loss``, one in ``binary_cross_entropy``, whose tests run after ``mse_loss``'s)
to keep the suite fast; chapter 1.3 (another module) must always keep full marks.

Safety: memory is capped at 1 GiB per worker, time at about a second per call, network
tests use loopback only, and the module checks at the end that no worker process (or
anything it started) is left.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autograder.engine import grade_submission
from autograder.sandbox import (
    FIRST_UID,
    ISSUED_TOKENS,
    TOKEN_VAR,
    Limits,
    choose_isolation,
    grader_is_root,
    readable_by,
)
from dlnp.manifest import load_manifest
from instructor.submissions import make_submission, replace_definition

KIT = Path(__file__).resolve().parents[2]
MODULES = load_manifest().modules
# CPU is what stops an infinite loop (0.5 s); wall-clock limits leave room for a busy machine
FAST = Limits(call_seconds=2.0, cpu_seconds=0.5, test_seconds=4.0, memory_bytes=1 << 30, reply_bytes=4 << 20)
ISOLATION, NOTE = choose_isolation(FAST.isolation)  # $DLNP_ISOLATION, else the best available
ISOLATED = ISOLATION != "none"
ARGS = {"mse_loss": "y_pred, y", "binary_cross_entropy": "A, y"}
CORRECT = {
    "mse_loss": "float(np.mean((y_pred - y) ** 2))",
    "binary_cross_entropy": "float(-np.mean(y * np.log(np.clip(A, 1e-12, 1.0)) "
                            "+ (1 - y) * np.log(np.clip(1 - A, 1e-12, 1.0))))",
}


@dataclass
class Case:
    """Student code ``body`` (a function body; ``{correct}`` is a right answer) and what must happen."""

    name: str
    body: str
    outcomes: set[str]
    phrase: str = ""
    prelude: str = ""  # code run inside the function before the body (imports)

    def source(self, function: str, **values: str) -> str:
        body = textwrap.indent(textwrap.dedent(self.body).strip("\n").format(correct=CORRECT[function], **values),
                               "    ")
        return f"def {function}({ARGS[function]}):\n    import numpy as np\n{body}\n"


@dataclass
class Graded:
    results: dict[str, Any]
    seconds: float
    submission: Path
    out: Path | None = None
    extra: dict[str, Any] = field(default_factory=lambda: {})

    def tests(self, function: str) -> list[dict[str, Any]]:
        return [t for t in self.results["tests"] if t["extra_data"]["function"] == function]

    def outcomes(self, function: str) -> set[str]:
        return {t["extra_data"]["outcome"] for t in self.tests(function)}

    def output(self, function: str) -> str:
        return "\n".join(t["output"] for t in self.tests(function))

    def chapter_full(self, chapter: str) -> bool:
        entry = self.results["chapters"][chapter]
        return entry["max_score"] > 0 and entry["score"] == entry["max_score"]


HostileFn = Callable[..., Graded]


@pytest.fixture(scope="module", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """After the whole module: no worker, and nothing a worker started, is still running."""
    yield
    needles = {f"{TOKEN_VAR}={token}".encode() for token in ISSUED_TOKENS}
    deadline = time.monotonic() + 5
    left: list[int] = []
    while time.monotonic() < deadline:
        left = [pid for pid in _live_pids() if needles & set(_read(f"/proc/{pid}/environ").split(b"\0"))]
        if not left:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes left behind by student workers: {left}")


def _live_pids() -> list[int]:
    pids: list[int] = []
    for name in os.listdir("/proc"):
        stat = _read(f"/proc/{name}/stat") if name.isdigit() else b""
        if stat and stat[stat.rindex(b")") + 2 :][:1] != b"Z":
            pids.append(int(name))
    return pids


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


@pytest.fixture(scope="module")
def perfect(release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference package, built once; each case copies and patches it."""
    return make_submission(release, tmp_path_factory.mktemp("hostile") / "perfect") / "neural_network"


@pytest.fixture
def hostile(perfect: Path, tmp_path: Path) -> HostileFn:
    """``hostile(patches, chapters=..., limits=..., out=..., append={module: text})`` -> Graded."""

    def run(patches: dict[str, str] | None = None, chapters: tuple[str, ...] = ("1.3", "2.1"),
            limits: Limits = FAST, out: Path | None = None, append: dict[str, str] | None = None) -> Graded:
        sub = tmp_path / "submissions" / "mallory"
        shutil.copytree(perfect, sub / "neural_network")
        for name, source in (patches or {}).items():
            path = sub / "neural_network" / f"{MODULES[name]}.py"
            path.write_text(replace_definition(path.read_text(), name, source))
        for module, text in (append or {}).items():
            path = sub / "neural_network" / f"{module}.py"
            path.write_text(path.read_text() + "\n" + textwrap.dedent(text))
        started = time.monotonic()
        results = grade_submission(sub, out, chapters=list(chapters), limits=limits)
        graded = Graded(results, time.monotonic() - started, sub, out)
        assert len(json.dumps(results)) < 1_000_000, "results must stay under 1 MB"
        assert results["sandbox"]["isolation"] == choose_isolation(limits.isolation)[0]
        return graded

    return run


# ------------------------------------------------------------------ cases in one function

INFINITE_LOOP = Case("infinite loop", "while True:\n    pass", {"timeout"}, "(infinite loop? far too slow?)")
LONG_SLEEP = Case("long sleep (float32 input)", "import time\nif A.dtype == np.float32:\n    time.sleep(3600)\n"
                  "return {correct}", {"timeout", "passed"}, "did not finish within 2 s")
MEMORY_AT_ONCE = Case("3 GB at once", "big = np.ones(3 * 2**30 // 8)\nreturn float(big[0])", {"crash"},
                      "ran out of memory")
MEMORY_GROWING = Case("growing to 3 GB", "chunks = []\nfor _ in range(24):\n    chunks.append(np.empty(2**24))\n"
                      "return {correct}", {"crash"}, "ran out of memory")
SYS_EXIT = Case("sys.exit at call", "import sys\nsys.exit(0)", {"error"}, "raised SystemExit")
OS_EXIT = Case("os._exit at call", "import os\nos._exit(0)", {"crash"}, "crashed the Python process")
KEYBOARD_INTERRUPT = Case("SIGINT / KeyboardInterrupt", "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\n"
                          "time.sleep(0.5)\nraise KeyboardInterrupt", {"error"}, "raised KeyboardInterrupt")
PYTEST_SKIP = Case("pytest.skip", "import pytest\npytest.skip('not today')", {"error"}, "ModuleNotFoundError")
SKIP_TEST = Case("unittest.SkipTest", "import unittest\nraise unittest.SkipTest('not today')", {"error"},
                 "raised SkipTest")
MONKEYPATCH = Case("monkeypatched comparisons, wrong answer", """
    np.allclose = lambda *a, **k: True
    np.isclose = lambda *a, **k: True
    np.array_equal = lambda *a, **k: True
    np.testing.assert_allclose = lambda *a, **k: None
    return 42.0
""", {"failed"}, "returned wrong values")
BUILTINS = Case("monkeypatched builtins, wrong answer", """
    import builtins
    builtins.isinstance = lambda *a, **k: True
    builtins.float = lambda *a, **k: 1.0
    builtins.abs = lambda *a, **k: 0.0
    return 1.0
""", {"failed", "error", "crash"})
SEGFAULT = Case("segfault", "import ctypes\nctypes.string_at(0)", {"crash"}, "crashed the Python process")
OUTPUT_FLOOD = Case("200 MB of output, right answer", """
    import os, sys
    line = "x" * 1_000_000
    for _ in range(100):
        print(line)
        sys.stderr.write(line)
    os.write(1, b"y" * 1_000_000)
    return {correct}
""", {"passed"})
HUGE_MESSAGE = Case("50 MB exception message", "raise ValueError('x' * 50_000_000)", {"error"}, "raised ValueError")
HUGE_RETURN = Case("8 MB return value (4 MiB cap)", "return np.zeros(1_000_000)", {"error"}, "returned more than 4 MiB")
FORK = Case("child process that outlives the call", """
    import os, sys
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", "{marker}"])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return {correct}
""", {"passed"})

PAIRS = [
    (INFINITE_LOOP, LONG_SLEEP),
    (MEMORY_AT_ONCE, MEMORY_GROWING),
    (SYS_EXIT, OS_EXIT),
    (HUGE_MESSAGE, KEYBOARD_INTERRUPT),
    (PYTEST_SKIP, SKIP_TEST),
    (SEGFAULT, HUGE_RETURN),
    (OUTPUT_FLOOD, FORK),
    (MONKEYPATCH, BUILTINS),
]


@pytest.mark.parametrize(("first", "second"), PAIRS, ids=[f"{a.name} + {b.name}" for a, b in PAIRS])
def test_hostile_function(hostile: HostileFn, first: Case, second: Case) -> None:
    marker = f"dlnp-hostile-orphan-{os.getpid()}-{time.monotonic_ns()}"
    graded = hostile({"mse_loss": first.source("mse_loss", marker=marker),
                      "binary_cross_entropy": second.source("binary_cross_entropy", marker=marker)})
    for function, case in (("mse_loss", first), ("binary_cross_entropy", second)):
        assert graded.outcomes(function) and graded.outcomes(function) <= case.outcomes, (
            case.name, graded.output(function))
        assert case.phrase in graded.output(function), (case.name, graded.output(function))
        for test in graded.tests(function):
            assert (test["score"] == test["max_score"]) == (test["extra_data"]["outcome"] == "passed")
    assert graded.chapter_full("1.3"), "another module must not be affected"
    assert graded.seconds < 40  # generous: the machine may be busy
    deadline = time.monotonic() + 5
    while any(marker.encode() in _read(f"/proc/{pid}/cmdline") for pid in _live_pids()):
        assert time.monotonic() < deadline, "a process started by the student's code outlived the grading"
        time.sleep(0.1)


def test_monkeypatching_numpy_in_the_worker_changes_nothing_here() -> None:
    import numpy as np

    assert not np.allclose(1.0, 2.0) and not np.array_equal([1], [2]) and float("1.5") == 1.5


# ------------------------------------------------------------------ the module, at import


@pytest.mark.parametrize(("name", "text", "outcome", "phrase"), [
    ("sys.exit at import", "import sys\nsys.exit(3)\n", "error", "SystemExit"),
    ("os._exit at import", "import os\nos._exit(3)\n", "crash", "importing neural_network/losses.py crashed"),
    ("infinite loop at import", "while True:\n    pass\n", "timeout", "losses.py"),
    ("syntax error", "def broken(:\n    pass\n", "error", "SyntaxError"),
])
def test_hostile_module(hostile: HostileFn, name: str, text: str, outcome: str, phrase: str) -> None:
    graded = hostile(append={"losses": text})
    for function in ("mse_loss", "binary_cross_entropy"):
        assert graded.outcomes(function) == {outcome}, graded.output(function)
        assert phrase in graded.output(function)
    assert graded.results["chapters"]["2.1"]["score"] == 0
    assert graded.chapter_full("1.3")
    # a module that hangs or kills its worker is tried once, not once per test
    assert graded.results["workers_started"] <= 2
    assert graded.seconds < 20


# ------------------------------------------------------------------ limits per test


def test_a_test_with_many_slow_calls_hits_the_per_test_wall_limit(hostile: HostileFn) -> None:
    # one call (2.5 s) fits in a test (4 s) with room for a worker's restart on a loaded machine; two do not
    slow = Case("slow", "import time\ntime.sleep(2.5)\nreturn {correct}", set())
    limits = Limits(call_seconds=5, cpu_seconds=5, test_seconds=4.0, memory_bytes=1 << 30)
    graded = hostile({"mse_loss": slow.source("mse_loss")}, chapters=("2.1",), limits=limits)
    by_name = {t["name"]: t["extra_data"]["outcome"] for t in graded.tests("mse_loss")}
    two_calls = [n for n in by_name if "float32 and is 0" in n]
    assert two_calls and by_name[two_calls[0]] == "timeout"
    assert "this test may take at most 4 s" in graded.output("mse_loss")
    assert "passed" in by_name.values(), "one slow call per test is within the limits"
    assert graded.chapter_full("2.1") is False and graded.results["chapters"]["2.1"]["score"] > 0


# ------------------------------------------------------------------ the trusted result channel


def test_forged_results_files_and_replies_change_nothing(hostile: HostileFn, tmp_path: Path) -> None:
    out = tmp_path / "graded" / "results.json"
    pwned = tmp_path / "unpickled-on-the-trusted-side"
    forge = Case("forged results files", """
        import atexit, json
        from pathlib import Path
        forged = json.dumps({{"score": 1000, "max_score": 10, "tests": [], "chapters": {{}}}})
        here = Path(__file__).resolve().parent
        def forge():
            for target in (Path("results.json"), here / "results.json", here.parent / "results.json",
                           Path("{out}")):
                try:
                    target.write_text(forged)
                except OSError:
                    pass
        forge()
        atexit.register(forge)
        return 0.0
    """, {"failed"})
    pickle_reply = Case("forged reply frame carrying a pickle", """
        import io, json, os, struct, sys
        class Evil:
            def __reduce__(self):
                return (os.system, ("touch {pwned}",))
        payload = np.empty(1, dtype=object)
        payload[0] = Evil()
        buf = io.BytesIO()
        np.save(buf, payload, allow_pickle=True)
        blob = buf.getvalue()
        request_id, frame = None, sys._getframe()
        while frame is not None:
            header = frame.f_locals.get("header")
            if isinstance(header, dict) and "id" in header:
                request_id = header["id"]
            frame = frame.f_back
        head = json.dumps({{"ok": True, "value": {{"__nd__": 0}}, "id": request_id,
                           "__blobs__": [len(blob)]}}).encode()
        body = struct.pack("<I", len(head)) + head + blob
        os.write(int(sys.argv[2]), struct.pack("<Q", len(body)) + body)
        return {correct}
    """, {"crash"})
    out.parent.mkdir()
    graded = hostile({"mse_loss": forge.source("mse_loss", out=str(out)),
                      "binary_cross_entropy": pickle_reply.source("binary_cross_entropy", pwned=str(pwned))},
                     chapters=("2.1",), out=out)
    assert json.loads(out.read_text()) == json.loads(json.dumps(graded.results))
    assert graded.results["score"] == 0
    assert graded.outcomes("mse_loss") == {"failed"}
    assert graded.outcomes("binary_cross_entropy") == {"crash"}
    assert "cannot read" in graded.output("binary_cross_entropy")
    assert not pwned.exists(), "nothing from the worker is ever unpickled"
    for folder in (graded.submission, graded.submission / "neural_network"):
        assert not (folder / "results.json").exists(), "the worker works on a copy"


# ------------------------------------------------------------------ what the worker can see and reach


def _isolated_or_reported(graded: Graded) -> bool:
    """True when namespaces were used; otherwise check that the results say so."""
    if ISOLATED:
        assert graded.results["sandbox"]["kit_hidden"] is True
        return True
    assert graded.results["sandbox"]["isolation"] == "none"
    assert "WITHOUT namespace isolation" in graded.results["output"] or "switched off" in graded.results["output"]
    return False


def test_the_reference_and_the_hidden_graders_are_out_of_sight(hostile: HostileFn) -> None:
    steal = Case("search the disk for the reference and import it", """
        import os, sys
        tops = ["/", "{kit}", os.getcwd(), "/work", "/home", "/root", "/tmp", "/srv", "/opt"]
        found = []
        for top in tops:
            for root, dirs, files in os.walk(top):
                dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "usr", ".git", ".venv", "venv",
                                                        ".tox", "site-packages", "lib", "node_modules")]
                if os.path.basename(root) == "solutions" and "losses.py" in files:
                    found.append(os.path.dirname(root))
            if found:
                break
        if not found:
            raise FileNotFoundError("no reference on this disk")
        sys.path.insert(0, found[0])
        from solutions.losses import mse_loss as stolen
        return stolen(y_pred, y)
    """, set())
    peek = Case("read the hidden graders", """
        text = open("{kit}/autograder/graders/test_ch2_1.py").read()
        raise RuntimeError(text[:400])
    """, set())
    graded = hostile({"mse_loss": steal.source("mse_loss", kit=str(KIT)),
                      "binary_cross_entropy": peek.source("binary_cross_entropy", kit=str(KIT))},
                     chapters=("2.1",))
    if not _isolated_or_reported(graded):
        pytest.skip(f"no namespaces on this machine: the kit is visible to student code ({NOTE[:200]})")
    assert graded.outcomes("mse_loss") == {"error"}
    assert "no reference on this disk" in graded.output("mse_loss")
    assert graded.outcomes("binary_cross_entropy") == {"error"}
    assert "FileNotFoundError" in graded.output("binary_cross_entropy")
    assert "def test_" not in graded.output("binary_cross_entropy")


def test_no_network_and_no_other_students(hostile: HostileFn, tmp_path: Path) -> None:
    other = tmp_path / "submissions" / "alice" / "neural_network"
    other.mkdir(parents=True)
    (other / "losses.py").write_text("ALICE = 'secret'\n")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    network = Case("connect to the grading machine", """
        import socket
        socket.create_connection(("127.0.0.1", {port}), timeout=0.5).sendall(b"leak")
        return {correct}
    """, set())
    neighbour = Case("read another student's submission", """
        return float(len(open("{other}/losses.py").read()))
    """, set())
    try:
        graded = hostile({"mse_loss": network.source("mse_loss", port=str(port)),
                          "binary_cross_entropy": neighbour.source("binary_cross_entropy", other=str(other))},
                         chapters=("2.1",))
        try:
            listener.accept()[0].close()
            connected = True
        except BlockingIOError:
            connected = False
    finally:
        listener.close()
    if not _isolated_or_reported(graded):
        pytest.skip(f"no namespaces on this machine: student code has the network ({NOTE[:200]})")
    assert not connected
    assert graded.outcomes("mse_loss") == {"error"}
    assert "OSError" in graded.output("mse_loss") or "Error" in graded.output("mse_loss")
    assert graded.outcomes("binary_cross_entropy") == {"error"}
    assert "FileNotFoundError" in graded.output("binary_cross_entropy")


# ------------------------------------------------------------------ every backend this machine has


@pytest.mark.parametrize("isolation", ["bwrap", "unshare", "none"])
def test_each_isolation_backend(hostile: HostileFn, isolation: str) -> None:
    if isolation != "none":
        from autograder.sandbox import _probe  # pyright: ignore[reportPrivateUsage]

        why = _probe(isolation)
        if why:
            pytest.skip(why)
    peek = Case("read the reference", """
        with open("{kit}/solutions/losses.py") as fh:
            return float(len(fh.read()))
    """, set())
    loop_on_float32 = Case("infinite loop on float32 input", """
        while y_pred.dtype == np.float32:
            pass
        return {correct}
    """, set())
    limits = dataclasses.replace(FAST, isolation=isolation)
    graded = hostile({"mse_loss": loop_on_float32.source("mse_loss"),
                      "binary_cross_entropy": peek.source("binary_cross_entropy", kit=str(KIT))},
                     chapters=("2.1",), limits=limits)
    if isolation == "none" and grader_is_root() and readable_by(KIT, FIRST_UID, FIRST_UID):
        # as root without namespaces the worker's user must not read the kit: this checkout is
        # readable by everyone, so the grader refuses to run student code at all (and says why)
        assert {t["extra_data"]["outcome"] for t in graded.results["tests"]} == {"grader_error"}
        assert graded.results["score"] == 0 and not graded.results["grading"]["complete"]
        assert "could read" in " ".join(graded.results["grading"]["problems"])
        return
    outcomes = {t["name"]: t["extra_data"]["outcome"] for t in graded.tests("mse_loss")}
    # the float32 test loops; a later test of the same function either passes or is not run again
    assert sorted(outcomes.values()) in (["passed", "passed", "timeout"], ["passed", "timeout", "timeout"]), outcomes
    assert "infinite loop" in graded.output("mse_loss")
    if isolation == "none" and not grader_is_root():  # the reference is readable, and the results say so
        assert graded.outcomes("binary_cross_entropy") == {"failed"}
        assert "NOT ISOLATED" in graded.results["output"]
        assert graded.results["sandbox"]["isolated"] is False
    elif isolation == "none":  # root, the kit out of the worker's reach
        assert graded.outcomes("binary_cross_entropy") == {"error"}
        assert "PermissionError" in graded.output("binary_cross_entropy")
    else:
        assert graded.outcomes("binary_cross_entropy") == {"error"}
        assert "FileNotFoundError" in graded.output("binary_cross_entropy")
