"""A synthetic class: generated submissions with known mistakes and two copied pairs.

The kit's tests of the course tools (report, similarity, deadlines, exports, regrade
history) and their demos need a class whose truth is known. :func:`generate_class`
fills copies of the release the way students do: inside the stubs (signature and
docstring kept), some functions left as stubs, some with a classic mistake (the
mistakes the graders diagnose by name), the rest correct but written in each
student's own way. Honest students differ in structure (several correct algorithms,
plus semantics-preserving rewrites: ``np.mean(X)`` or ``X.mean()``, ``e ** 2`` or
``np.square(e)``, ``a + b`` or ``b + a``, a temporary before ``return``...) and in style (names, comments,
blank lines). Two students copy: one byte for byte, one disguised (renamed locals,
other comments and layout, one redundant line added).

Each submission also carries a submission time in one platform's format (Gradescope's
``submission_metadata.json``, a git commit, nbgrader's ``timestamp.txt``), some of
them late, so that deadlines and penalties can be tested. Only cheap chapters are
used (:data:`CHAPTERS`): grading 30 such submissions takes well under a minute.
"""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dlnp.manifest import load_manifest

from ..submissions import definition_source, make_submission

CHAPTERS = ("0", "1.1", "1.2", "1.3", "2.1", "3.2")
DUE = datetime(2027, 3, 1, 23, 59, tzinfo=UTC)


@dataclass(frozen=True)
class Mistake:
    """A wrong version of one function; ``diagnosis`` is the name the graders give it."""

    function: str
    diagnosis: str
    source: str
    weight: int = 1


#: Correct implementations, several per function (each student picks one, then rewrites it).
CORRECT: dict[str, tuple[str, ...]] = {
    "layer_output": (
        "def layer_output(X, W):\n    return X @ W\n",
        "def layer_output(X, W):\n    return np.dot(X, W)\n",
        "def layer_output(X, W):\n    return np.matmul(X, W)\n",
        "def layer_output(X, W):\n    return np.einsum('nd,dm->nm', X, W)\n",
    ),
    "normalize": (
        """def normalize(X):
    mean = np.mean(X, axis=0)
    std = np.std(X, axis=0)
    safe = np.where(std == 0, 1.0, std)
    return (X - mean) / safe
""",
        """def normalize(X):
    centred = X - X.mean(axis=0)
    std = np.sqrt((centred ** 2).mean(axis=0))
    return centred / np.where(std == 0, 1.0, std)
""",
        """def normalize(X):
    n = X.shape[0]
    mean = X.sum(axis=0) / n
    std = np.sqrt(((X - mean) ** 2).sum(axis=0) / n)
    return (X - mean) / np.where(std > 0, std, 1)
""",
    ),
    "matrix_multiply": (
        """def matrix_multiply(X, W):
    if X.shape[1] != W.shape[0]:
        raise ValueError(f"cannot multiply {X.shape} by {W.shape}")
    return X @ W
""",
        """def matrix_multiply(X, W):
    if X.ndim != 2 or W.ndim != 2 or X.shape[1] != W.shape[0]:
        raise ValueError("shapes " + str(X.shape) + " and " + str(W.shape) + " do not align")
    return np.dot(X, W)
""",
        """def matrix_multiply(X, W):
    rows, inner = X.shape
    inner_w, cols = W.shape
    if inner != inner_w:
        raise ValueError(f"X has shape {X.shape} but W has shape {W.shape}")
    return np.matmul(X, W)
""",
    ),
    "sigmoid": (
        """def sigmoid(Z):
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))
""",
        """def sigmoid(Z):
    out = np.empty_like(Z, dtype=np.float64)
    pos = Z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-Z[pos]))
    E = np.exp(Z[~pos])
    out[~pos] = E / (1.0 + E)
    return out
""",
        "def sigmoid(Z):\n    return np.exp(-np.logaddexp(0.0, -Z))\n",
        "def sigmoid(Z):\n    return 0.5 * (1.0 + np.tanh(0.5 * Z))\n",
    ),
    "mse_loss": (
        "def mse_loss(y_pred, y):\n    return float(np.mean((y_pred - y) ** 2))\n",
        """def mse_loss(y_pred, y):
    diff = y_pred - y
    return float(np.sum(diff * diff) / diff.size)
""",
        """def mse_loss(y_pred, y):
    errors = (y_pred - y).ravel()
    return float(errors @ errors) / len(errors)
""",
    ),
    "binary_cross_entropy": (
        """def binary_cross_entropy(A, y):
    P = np.clip(A, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(P) + (1 - y) * np.log(1 - P)))
""",
        """def binary_cross_entropy(A, y):
    eps = 1e-7
    return float(np.mean(-(y * np.log(A + eps) + (1 - y) * np.log(1 - A + eps))))
""",
        """def binary_cross_entropy(A, y):
    P = np.clip(A, 1e-15, 1.0 - 1e-15)
    losses = y * np.log(P) + (1.0 - y) * np.log(1.0 - P)
    return float(-losses.sum() / y.shape[0])
""",
    ),
    "relu": (
        "def relu(Z):\n    return np.maximum(Z, 0)\n",
        "def relu(Z):\n    return np.where(Z > 0, Z, 0.0)\n",
        "def relu(Z):\n    return np.clip(Z, 0, None)\n",
    ),
    "relu_derivative": (
        "def relu_derivative(Z):\n    return (Z > 0).astype(Z.dtype)\n",
        "def relu_derivative(Z):\n    return np.where(Z > 0, 1, 0).astype(Z.dtype)\n",
        "def relu_derivative(Z):\n    return np.heaviside(Z, 0).astype(Z.dtype)\n",
    ),
    "softmax": (
        """def softmax(Z):
    shifted = Z - np.max(Z, axis=-1, keepdims=True)
    E = np.exp(shifted)
    return E / np.sum(E, axis=-1, keepdims=True)
""",
        """def softmax(Z):
    m = np.max(Z, axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(Z - m), axis=-1, keepdims=True))
    return np.exp(Z - lse)
""",
        """def softmax(Z):
    E = Z.copy()
    E -= E.max(axis=-1, keepdims=True)
    np.exp(E, out=E)
    E /= E.sum(axis=-1, keepdims=True)
    return E
""",
    ),
}

#: Classic mistakes, each with the name the graders' feedback gives it (``Likely mistake (<name>)``).
MISTAKES: tuple[Mistake, ...] = (
    Mistake("layer_output", "element-wise product", "def layer_output(X, W):\n    return X * W\n"),
    Mistake("normalize", "ddof=1", """def normalize(X):
    std = np.std(X, axis=0, ddof=1)
    return (X - np.mean(X, axis=0)) / np.where(std == 0, 1.0, std)
""", 3),
    Mistake("normalize", "division by zero", """def normalize(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)
""", 2),
    Mistake("normalize", "global statistics", """def normalize(X):
    std = np.std(X)
    return (X - np.mean(X)) / (std if std != 0 else 1.0)
"""),
    Mistake("matrix_multiply", "numpy's own error", "def matrix_multiply(X, W):\n    return X @ W\n", 2),
    Mistake("sigmoid", "overflow in exp", "def sigmoid(Z):\n    return 1 / (1 + np.exp(-Z))\n", 3),
    Mistake("sigmoid", "sign in the exponent", """def sigmoid(Z):
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, E / (1 + E), 1 / (1 + E))
"""),
    Mistake("mse_loss", "sum instead of mean",
            "def mse_loss(y_pred, y):\n    return float(np.sum((y_pred - y) ** 2))\n", 2),
    Mistake("binary_cross_entropy", "log(0)", """def binary_cross_entropy(A, y):
    return float(-np.mean(y * np.log(A) + (1 - y) * np.log(1 - A)))
""", 3),
    Mistake("relu_derivative", "ReLU derivative at 0", "def relu_derivative(Z):\n    return (Z >= 0).astype(Z.dtype)\n",
            2),
    Mistake("softmax", "missing max subtraction", """def softmax(Z):
    E = np.exp(Z)
    return E / np.sum(E, axis=-1, keepdims=True)
""", 3),
    Mistake("softmax", "wrong softmax axis", """def softmax(Z):
    E = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    return E / np.sum(E, axis=0, keepdims=True)
""", 2),
)

METHODS = ("mean", "sum", "std", "max", "min")
NAMES = ("out", "result", "res", "tmp", "val", "mu", "sd", "ex", "num", "den", "total", "safe_std", "shift",
         "mask", "pos_mask", "probs", "logits", "avg", "spread", "diff2", "acc", "buf", "value", "t")
COMMENTS = ("# vectorised, no loop", "# see the chapter text", "# shapes checked in the notebook",
            "# avoid dividing by zero", "# TODO: tidy up", "# works for float32 too", "# from the lecture",
            "# keep the input untouched", "# numerically stable version", "# first try was too slow")


@dataclass
class SyntheticStudent:
    """One generated submission and its truth."""

    student: str
    plan: dict[str, str]  # function -> "correct", "stub" or the diagnosis name of its mistake
    submitted_at: str  # ISO 8601
    time_source: str  # gradescope, git or nbgrader
    copy_of: str | None = None
    copy_kind: str | None = None  # verbatim or disguised
    bodies: dict[str, str] = field(default_factory=lambda: {}, repr=False)  # function -> body before styling


@dataclass
class SyntheticClass:
    """The generated class: where it is, who did what, and the due date used for its times."""

    root: Path
    chapters: tuple[str, ...]
    due: datetime
    students: list[SyntheticStudent]

    def copied_pairs(self) -> set[frozenset[str]]:
        return {frozenset((s.student, s.copy_of)) for s in self.students if s.copy_of}

    def student(self, name: str) -> SyntheticStudent:
        return next(s for s in self.students if s.student == name)

    def write(self, path: Path) -> Path:
        data = {"root": str(self.root), "chapters": list(self.chapters), "due": self.due.isoformat(),
                "students": [{k: v for k, v in asdict(s).items() if k != "bodies"} for s in self.students]}
        path.write_text(json.dumps(data, indent=2) + "\n")
        return path


# ----------------------------------------------------------------------------- rewriting


class _Rewrite(ast.NodeTransformer):
    """Semantics-preserving rewrites, each applied at a site with probability 1/2."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr not in METHODS or self.rng.random() < 0.5:
            return node
        if isinstance(func.value, ast.Name) and func.value.id == "np" and node.args \
                and isinstance(node.args[0], ast.Name):  # np.mean(X, ...) -> X.mean(...)
            return ast.Call(ast.Attribute(node.args[0], func.attr, ast.Load()), node.args[1:], node.keywords)
        if isinstance(func.value, ast.Name) and func.value.id != "np":  # X.mean(...) -> np.mean(X, ...)
            return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), func.attr, ast.Load()),
                            [func.value, *node.args], node.keywords)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) and node.right.value == 2 \
                and self.rng.random() < 0.5:  # e ** 2 -> np.square(e)
            return ast.Call(ast.Attribute(ast.Name("np", ast.Load()), "square", ast.Load()), [node.left], [])
        if isinstance(node.op, (ast.Add, ast.Mult)) and not _is_text(node.left) and not _is_text(node.right) \
                and self.rng.random() < 0.5:  # a + b -> b + a (exact in floating point too)
            node.left, node.right = node.right, node.left
        for side in ("left", "right"):  # 1 -> 1.0 in arithmetic
            operand = getattr(node, side)
            if isinstance(operand, ast.Constant) and type(operand.value) is int and self.rng.random() < 0.5:
                setattr(node, side, ast.Constant(float(operand.value)))
        return node


def _is_text(node: ast.expr) -> bool:
    """A string operand (``+`` joins text there: the order matters)."""
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)) or (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str") or (
        isinstance(node, ast.BinOp) and (_is_text(node.left) or _is_text(node.right)))


def _function(source: str) -> ast.FunctionDef:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    return node


def rewrite(source: str, rng: random.Random) -> str:
    """A structurally different but equivalent version of a correct function (its body only)."""
    fn = _function(source)
    fn = _Rewrite(rng).visit(fn)
    first = fn.args.args[0].arg
    if rng.random() < 0.3:  # convert the first input up front
        fn.body.insert(0, ast.parse(f"{first} = np.asarray({first})").body[0])
    last = fn.body[-1]
    if isinstance(last, ast.Return) and last.value is not None and rng.random() < 0.4:  # a temporary before return
        fn.body[-1:] = [ast.Assign([ast.Name("result", ast.Store())], last.value, lineno=0),
                        ast.Return(ast.Name("result", ast.Load()))]
    ast.fix_missing_locations(fn)
    return "\n".join(ast.unparse(stmt) for stmt in fn.body)


def body_of(source: str) -> str:
    """The body of a function definition, unindented."""
    return "\n".join(ast.unparse(stmt) for stmt in _function(source).body)


def style(body: str, params: list[str], rng: random.Random) -> str:
    """Rename locals, add comments and blank lines: what normalisation must see through."""
    tree = ast.parse(body)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    local = [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    free = [n for n in NAMES if n not in used]
    rng.shuffle(free)
    mapping = {name: free.pop() for name in dict.fromkeys(local) if name not in params and free}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in mapping:
            node.id = mapping[node.id]
    lines: list[str] = []
    for stmt in tree.body:
        if rng.random() < 0.3:
            lines.append(rng.choice(COMMENTS))
        lines += ast.unparse(stmt).splitlines()
        if rng.random() < 0.15:
            lines.append("")
    return "\n".join(lines).strip("\n")


def fill_stub(stub: str, body: str, keep_docstring: bool = True) -> str:
    """The stub's signature (and docstring) with ``body`` as its body."""
    node = _function(stub)
    lines = stub.splitlines()
    first = node.body[0]
    has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    header_end = (first.end_lineno or first.lineno) if has_doc and keep_docstring else first.lineno - 1
    header = lines[:header_end]
    return "\n".join([*header, *("    " + line if line else "" for line in body.splitlines())]) + "\n"


# ----------------------------------------------------------------------------- the class


def _stubs(release: Path, functions: list[str]) -> dict[str, str]:
    modules = load_manifest().modules
    return {f: definition_source((release / "neural_network" / f"{modules[f]}.py").read_text(), f) for f in functions}


def _params(source: str) -> list[str]:
    return [a.arg for a in _function(source).args.args]


def _write_submission(release: Path, dest: Path, bodies: dict[str, str], stubs: dict[str, str],
                      rng: random.Random) -> None:
    keep_doc = rng.random() < 0.85
    patches = {f: fill_stub(stubs[f], style(body, _params(stubs[f]), rng), keep_doc) for f, body in bodies.items()}
    make_submission(release, dest, implement=[], patches=patches)


def _stamp(dest: Path, student: str, when: datetime, source: str) -> None:
    """Record the submission time the way ``source`` (the platform) does."""
    if source == "gradescope":
        meta = {"id": sum(ord(c) for c in student) * 7919, "created_at": when.astimezone(UTC).isoformat(),
                "users": [{"name": student, "sid": student, "email": f"{student}@example.edu"}],
                "assignment": {"title": "Deep learning with NumPy", "due_date": DUE.isoformat()}}
        (dest / "submission_metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    elif source == "nbgrader":
        (dest / "timestamp.txt").write_text(when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    else:
        env = {**os.environ, "GIT_AUTHOR_DATE": when.isoformat(), "GIT_COMMITTER_DATE": when.isoformat(),
               "GIT_AUTHOR_NAME": student, "GIT_AUTHOR_EMAIL": f"{student}@example.edu",
               "GIT_COMMITTER_NAME": student, "GIT_COMMITTER_EMAIL": f"{student}@example.edu"}
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "submission"]):
            subprocess.run(["git", "-c", "init.defaultBranch=main", *command], cwd=dest, env=env, check=True,
                           capture_output=True)


#: Submission time relative to the due date, with weights: mostly on time, a few late.
LATENESS = ((timedelta(days=-3), 5), (timedelta(hours=-2), 5), (timedelta(minutes=10), 1),
            (timedelta(hours=5), 1), (timedelta(hours=30), 1), (timedelta(hours=75), 1))


def generate_class(release: Path, root: Path, *, students: int = 28, seed: int = 0,
                   chapters: tuple[str, ...] = CHAPTERS, mistake_rate: float = 0.3) -> SyntheticClass:
    """Write ``students`` honest submissions plus two copies under ``root`` (one folder each).

    The honest students are ``s001``...; ``c001`` copies one of them byte for byte and
    ``c002`` copies another one in disguise.
    """
    rng = random.Random(seed)
    manifest = load_manifest()
    functions = list(dict.fromkeys(f.name for c in manifest.chapters if c.id in chapters for f in c.functions))
    stubs = _stubs(release, functions)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    sources = ("gradescope", "git", "nbgrader")
    offsets = [o for o, _ in LATENESS]
    weights = [w for _, w in LATENESS]
    generated: list[SyntheticStudent] = []
    for i in range(students):
        name = f"s{i + 1:03d}"
        stop = len(functions) if rng.random() < 0.7 else rng.randrange(3, len(functions))  # some stop early
        plan: dict[str, str] = {}
        bodies: dict[str, str] = {}
        for position, function in enumerate(functions):
            mistakes = [m for m in MISTAKES if m.function == function]
            if position >= stop:
                plan[function] = "stub"
            elif mistakes and rng.random() < mistake_rate:
                mistake = rng.choices(mistakes, weights=[m.weight for m in mistakes])[0]
                plan[function], bodies[function] = mistake.diagnosis, body_of(mistake.source)
            else:
                plan[function], bodies[function] = "correct", rewrite(rng.choice(CORRECT[function]), rng)
        when = DUE + rng.choices(offsets, weights=weights)[0] + timedelta(seconds=rng.randrange(600))
        student = SyntheticStudent(name, plan, when.isoformat(), sources[i % len(sources)], bodies=bodies)
        _write_submission(release, root / name, bodies, stubs, rng)
        _stamp(root / name, name, when, student.time_source)
        generated.append(student)
    # the copiers copy students who did the most (a copy of an empty release is not evidence)
    done = sorted(generated, key=lambda s: (-sum(v != "stub" for v in s.plan.values()), s.student))
    original, disguised_from = done[0], done[1]
    verbatim = SyntheticStudent("c001", dict(original.plan), (DUE - timedelta(hours=1)).isoformat(), "gradescope",
                                copy_of=original.student, copy_kind="verbatim")
    shutil.copytree(root / original.student, root / "c001",
                    ignore=shutil.ignore_patterns(".git", "submission_metadata.json", "timestamp.txt"))
    _stamp(root / "c001", "c001", DUE - timedelta(hours=1), "gradescope")
    bodies = dict(disguised_from.bodies)
    largest = max(bodies, key=lambda f: len(bodies[f]))
    first = _params(stubs[largest])[0]
    bodies[largest] = f"n_rows = {first}.shape[0]\n" + bodies[largest]  # the one line the copier adds
    disguised = SyntheticStudent("c002", dict(disguised_from.plan), (DUE - timedelta(days=1)).isoformat(), "git",
                                 copy_of=disguised_from.student, copy_kind="disguised", bodies=bodies)
    _write_submission(release, root / "c002", bodies, stubs, random.Random(seed + 1))
    _stamp(root / "c002", "c002", DUE - timedelta(days=1), "git")
    return SyntheticClass(root, tuple(chapters), DUE, [*generated, verbatim, disguised])
