"""Comparisons that explain themselves: the assertions of public tests and hidden graders.

Every check raises :class:`Feedback` (an ``AssertionError``) whose message is written
for a learner: what was expected, what came back (type, shape, dtype, a few values),
and, when the answer matches a known wrong answer, the likely mistake by name.

Known wrong answers come in two kinds:

* generic ones detected here for every array (transposed, ``(m,)`` instead of
  ``(1, m)``, off by a factor 2 or 1/2, wrong sign, NaN/inf, ``None`` returned);
* :class:`Mistake` candidates computed by the caller (a hidden grader computes what a
  known buggy implementation would return on the same inputs, e.g. softmax along
  axis 0) and passed to the check, which reports the first one that matches.

This module contains no reference solution and is shipped in the student release.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

__all__ = [
    "Feedback",
    "Mistake",
    "check_all",
    "check_array",
    "check_restored",
    "check_scalar",
    "check_tuple",
    "describe",
    "diagnose_warnings",
    "expect_raises",
    "gradient_check_mistakes",
    "read_only",
    "require_number",
    "silencing_call",
    "tolerances",
]


class Feedback(AssertionError):
    """A failed check, with a message meant for the student."""


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``value`` is what the buggy version returns here.

    ``name`` is a short label (``"ddof=1"``, ``"factor 2"``); ``message`` explains
    the mistake in the chapter's vocabulary.
    """

    name: str
    value: Any
    message: str


def tolerances(*inputs: Any) -> tuple[float, float]:
    """(rtol, atol) for comparing results computed from ``inputs``.

    float64 results are compared tightly (rtol 1e-6, atol 1e-9: loop and vectorized
    versions differ only by rounding); as soon as an input is float32 the pinned
    float32 tolerance applies (rtol 1e-4, atol 1e-5).
    """
    for x in inputs:
        if getattr(x, "dtype", None) == np.float32:
            return 1e-4, 1e-5
    return 1e-6, 1e-9


_WARNING_HINTS = (
    ("overflow encountered in exp",
     "(overflow in exp) np.exp of a large number overflows to inf. For sigmoid use the stable form "
     "(e^{-|z|} for both signs); for softmax subtract each row's max before np.exp."),
    ("divide by zero encountered in log",
     "(log(0)) np.log(0) is -inf: clip probabilities to [eps, 1 - eps] or add eps (at most 1e-7) inside the log."),
    ("invalid value encountered in log",
     "(log of a negative number) a probability went below 0 or above 1: check your clipping."),
    ("divide by zero encountered",
     "(division by zero) something you divide by can be 0: guard it (for normalize, leave zero-std columns "
     "only centred)."),
    ("invalid value encountered in divide",
     "(0/0) a 0/0 division produced NaN: guard the denominator."),
    ("overflow encountered",
     "(overflow) a value grew beyond the float range: look for exp or powers of large numbers."),
)


def diagnose_warnings(warnings: Sequence[str]) -> str | None:
    """Name the likely mistake behind RuntimeWarnings such as 'overflow encountered in exp'."""
    text = "\n".join(warnings)
    for needle, hint in _WARNING_HINTS:
        if needle in text:
            return hint
    return None


def _preview(a: np.ndarray[Any, Any], limit: int = 6) -> str:
    flat = a.ravel()
    with np.printoptions(precision=4, suppress=True, linewidth=200):
        shown = np.array2string(flat[:limit], separator=", ")
    return shown[:-1] + ", ...]" if flat.size > limit else shown


def describe(x: Any) -> str:
    """One line saying what ``x`` is: type, shape, dtype and a few values."""
    if x is None:
        return "None"
    if isinstance(x, np.ndarray):
        arr = cast("np.ndarray[Any, Any]", x)
        if arr.ndim == 0:
            return f"the number {arr.item():.6g} (0-d array, dtype {arr.dtype})"
        return f"array of shape {arr.shape}, dtype {arr.dtype}: {_preview(arr)}"
    if isinstance(x, np.generic):
        return f"NumPy scalar {x!r}"
    if isinstance(x, float):
        return f"the number {x:.6g}"
    if isinstance(x, (bool, int)):
        return f"{type(x).__name__} {x!r}"
    if isinstance(x, (list, tuple)):
        seq = cast("Sequence[Any]", x)
        items = ", ".join(describe(v) if isinstance(v, np.ndarray) else repr(v) for v in seq[:3])
        more = ", ..." if len(seq) > 3 else ""
        return f"{type(cast('object', x)).__name__} of length {len(seq)} [{items}{more}]"
    text = repr(x)
    return f"{type(x).__name__} {text[:80]}"


def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    try:
        a_arr = np.asarray(a, dtype=np.float64)
        b_arr = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if a_arr.shape != b_arr.shape:
        return False
    return bool(np.allclose(a_arr, b_arr, rtol=rtol, atol=atol, equal_nan=False))


def _first_match(actual: Any, mistakes: Sequence[Mistake], rtol: float, atol: float) -> Mistake | None:
    for mistake in mistakes:
        if _close(actual, mistake.value, max(rtol, 1e-6), max(atol, 1e-8)):
            return mistake
    return None


def _generic_value_mistake(
    actual: np.ndarray[Any, Any], expected: np.ndarray[Any, Any], rtol: float, atol: float
) -> str | None:
    if not np.all(np.isfinite(actual)) and np.all(np.isfinite(expected)):
        return (
            "(NaN or inf) Your result contains NaN or inf where every expected value is "
            "finite: look for an overflow in exp, a log of 0, or a division by zero."
        )
    if np.any(expected != 0):
        for factor, label in ((2.0, "twice"), (0.5, "half")):
            if _close(actual, factor * expected, rtol, atol):
                return (
                    f"(factor {factor:g}) Your values are {label} the expected ones: check "
                    "constant factors (a 2 from differentiating a square, a 1/2 convention, "
                    "a mean vs a sum over 2 items)."
                )
        if _close(actual, -expected, rtol, atol):
            return "(sign) Your values have the wrong sign: check the direction of the update or of a difference."
    return None


def _generic_shape_mistake(got: tuple[int, ...], want: tuple[int, ...]) -> str | None:
    if len(want) == 2 and got == want[::-1] and want[0] != want[1]:
        return ("(transposed) Your result is the transpose of the expected one: check the order of a "
                "matrix product or a missing/extra .T.")
    if len(want) == 2 and want[0] == 1 and got == (want[1],):
        return (
            "(row vector) Expected a row vector of shape (1, m) but got (m,): "
            "use keepdims=True in the sum/mean, or reshape(1, -1)."
        )
    if len(want) == 2 and want[1] == 1 and got == (want[0],):
        return ("(column vector) Expected a column vector of shape (n, 1) but got (n,): keep the second "
                "axis (reshape(-1, 1) or keepdims=True).")
    if got == () and want != ():
        return ("(reduced too far) You returned a single number where an array was expected: a "
                "sum/mean/max without axis= reduces over everything.")
    return None


def _fail(name: str, what: str, expected: Any, actual: Any, diagnosis: str | None, extra: str = "") -> Feedback:
    lines = [f"{name} {what}.", f"  expected: {describe(expected)}", f"  got:      {describe(actual)}"]
    if extra:
        lines.append(f"  {extra}")
    if diagnosis:
        lines.append(f"Likely mistake {diagnosis}")
    return Feedback("\n".join(lines))


def _format_mistake(m: Mistake) -> str:
    return f"({m.name}) {m.message}"


def check_array(
    actual: Any,
    expected: Any,
    *,
    name: str,
    rtol: float | None = None,
    atol: float | None = None,
    mistakes: Sequence[Mistake] = (),
    inputs: Sequence[Any] = (),
    hint: str = "",
) -> None:
    """Check that ``actual`` is an array of ``expected``'s shape with close values.

    ``name`` names the call for the message (``"normalize(X)"``). Tolerances default
    to :func:`tolerances` of ``inputs`` (float32 inputs -> float32 tolerance). The
    dtype is not checked (SPEC: the output dtype is not graded).
    """
    default_rtol, default_atol = tolerances(*inputs)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    want = np.asarray(expected)
    if actual is None:
        raise _fail(name, "returned None", want, actual, "(no return) Did you forget the `return` statement?")
    if not isinstance(actual, (np.ndarray, np.generic)):
        if isinstance(actual, (list, tuple)) and want.ndim > 0:
            kind = type(cast("object", actual)).__name__
            raise _fail(name, f"returned a Python {kind}, not a NumPy array", want, actual,
                        "(not an array) Build the result with NumPy operations or wrap it in np.array(...).")
        if not isinstance(actual, (int, float)):
            raise _fail(name, "returned the wrong type", want, actual, None)
    got = np.asarray(actual)
    if got.shape != want.shape:
        diagnosis = None
        match = _first_match(got, mistakes, rtol, atol)
        if match is not None:
            diagnosis = _format_mistake(match)
        else:
            diagnosis = _generic_shape_mistake(got.shape, want.shape)
        raise _fail(name, f"returned shape {got.shape}, expected {want.shape}", want, got, diagnosis, hint)
    if not np.issubdtype(got.dtype, np.number) and got.dtype != np.bool_:
        raise _fail(name, f"returned an array of dtype {got.dtype}", want, got, None, hint)
    if _close(got, want, rtol, atol):
        return
    match = _first_match(got, mistakes, rtol, atol)
    if match is not None:
        diagnosis: str | None = _format_mistake(match)
    else:
        diagnosis = _generic_value_mistake(got.astype(np.float64), want.astype(np.float64), rtol, atol)
    extra = hint
    with np.errstate(all="ignore"):
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    if diff.size and np.any(np.isfinite(diff)):
        where = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(diff), diff, -1))), diff.shape)
        where_txt = f" at index {tuple(int(i) for i in where)}" if diff.ndim else ""
        extra = (f"largest difference {float(np.nanmax(np.where(np.isfinite(diff), diff, np.nan))):.3g}{where_txt} "
                 f"(tolerance rtol={rtol:g}, atol={atol:g})") + (f"\n  {hint}" if hint else "")
    raise _fail(name, "returned wrong values", want, got, diagnosis, extra)


def check_scalar(
    actual: Any,
    expected: float,
    *,
    name: str,
    rtol: float | None = None,
    atol: float | None = None,
    mistakes: Sequence[Mistake] = (),
    inputs: Sequence[Any] = (),
    hint: str = "",
) -> None:
    """Check that ``actual`` is a scalar (Python or NumPy number, ``np.ndim == 0``) close to ``expected``."""
    if actual is None:
        raise _fail(name, "returned None", expected, actual, "(no return) Did you forget the `return` statement?")
    shape: tuple[int, ...] = getattr(cast("object", actual), "shape", ())
    if shape:
        raise _fail(
            name, f"returned an array of shape {shape}, not a scalar", expected, actual,
            "(not a scalar) A loss is one number: reduce over every entry (np.mean/np.sum without "
            "axis=, no keepdims) or convert with float(...).",
        )
    if isinstance(actual, (bool, np.bool_)) or not isinstance(actual, (int, float, np.number, np.ndarray)):
        raise _fail(name, "did not return a number", expected, actual, None)
    try:
        check_array(np.asarray(actual), np.asarray(expected), name=name, rtol=rtol, atol=atol,
                    mistakes=mistakes, inputs=inputs, hint=hint)
    except Feedback as exc:
        text = str(exc).replace(f"  got:      {describe(np.asarray(actual))}", f"  got:      {describe(actual)}")
        text = text.replace(f"  expected: {describe(np.asarray(expected))}", f"  expected: {describe(expected)}")
        raise Feedback(text) from None


def require_number(actual: Any, *, name: str) -> float:
    """Return ``actual`` as a float if it is a scalar number; otherwise raise :class:`Feedback`."""
    if isinstance(actual, (bool, np.bool_)) or not isinstance(actual, (int, float, np.number, np.ndarray)):
        raise _fail(name, "did not return a number", "a number", actual, None)
    if getattr(cast("object", actual), "shape", ()) != ():
        raise _fail(name, "returned an array, not a scalar", "a number", actual,
                    "(not a scalar) A loss is one number: reduce over every entry or convert with float(...).")
    return float(cast("float", actual))


def check_all(*checks: Callable[[], None], limit: int = 6) -> None:
    """Run every check and report every failure, not only the first.

    Each check is a callable that raises :class:`Feedback` when its aspect is wrong
    (``lambda: check_array(got[0], want[0], name="grad_W1")``). All of them run; if
    some failed, one :class:`Feedback` lists each failure with its own likely mistake
    (at most ``limit`` of them), so a result with two independent mistakes hears about
    both.
    """
    failures: list[str] = []
    for check in checks:
        try:
            check()
        except Feedback as exc:
            failures.append(str(exc))
    if not failures:
        return
    if len(failures) == 1:
        raise Feedback(failures[0])
    shown = failures[:limit]
    more = f"\n({len(failures) - limit} more aspects failed.)" if len(failures) > limit else ""
    raise Feedback(f"{len(failures)} aspects failed:\n\n" + "\n\n".join(
        f"[{i}] {text}" for i, text in enumerate(shown, 1)) + more)


def check_tuple(actual: Any, length: int, *, name: str, parts: str = "") -> tuple[Any, ...]:
    """Check that ``actual`` is a tuple (or list) of ``length`` items and return it as a tuple."""
    items = tuple(cast("Sequence[Any]", actual)) if isinstance(actual, (tuple, list)) else None
    if items is None or len(items) != length:
        what = parts or f"{length} values"
        raise Feedback(
            f"{name} must return a tuple of {length} items ({what}).\n  got: {describe(actual)}"
        )
    return items


def expect_raises(call: Callable[[], Any], expected: type[BaseException] = ValueError, *, name: str,
                  why: str = "") -> None:
    """Check that ``call()`` raises ``expected``, as a docstring's ``Raises`` section promises.

    The public twin of the graders' check: the exception is recognised by its class NAME
    (the grader sees the student's exception by name, so a subclass does not count), and a
    returned value or another exception fails with the likely mistake. ``name`` names the
    call (``"accuracy(labels (5,), labels (1,))"``), ``why`` what the docstring pins. A
    released stub's ``NotImplementedError`` passes through, so the test counts as not started.
    """
    try:
        got = call()
    except Exception as exc:
        kind = type(exc).__name__
        if kind == expected.__name__:
            return
        if isinstance(exc, NotImplementedError):
            raise
        text = f"{kind}: {exc}" if str(exc) else kind
        raise Feedback(
            f"{name} must raise {expected.__name__}" + (f" ({why})" if why else "") + f".\n  it raised {text}"[:400]
            + f"\nLikely mistake (wrong exception type) check the argument first and raise {expected.__name__}(...) "
            "yourself, with a message that says what is wrong."
        ) from None
    raise Feedback(
        f"{name} returned a value instead of raising {expected.__name__}" + (f" ({why})" if why else "")
        + f".\n  got: {describe(got)}\nLikely mistake (no validation) check the argument at the start of the "
        f"function and raise {expected.__name__}(...) when it is invalid; do not compute a result from it."
    )


def check_restored(actual: Any, original: Any, *, name: str, hint: str = "") -> None:
    """Check that ``actual`` still holds ``original``'s values, up to rounding.

    The graders' rule for inputs a function must leave as they were (and for the
    parameters ``numerical_gradient`` perturbs and restores): the same shape, and
    values equal or within rounding (rtol 1e-12, atol 1e-12 times the largest
    magnitude), so ``theta[idx] += h; theta[idx] -= 2 * h; theta[idx] += h`` is fine.
    """
    old = np.asarray(original)
    new = np.asarray(actual)
    if new.shape == old.shape and np.array_equal(new, old, equal_nan=True):
        return
    if new.shape == old.shape and old.dtype.kind in "fc" and new.dtype.kind in "fc":
        scale = float(np.max(np.abs(old))) if old.size else 0.0
        if np.allclose(new, old, rtol=1e-12, atol=1e-12 * (1.0 + scale)):
            return
    lines = [f"{name} changed: it must hold its original values after the call.",
             f"  before: {describe(old)}", f"  after:  {describe(actual)}"]
    if hint:
        lines.append(hint)
    raise Feedback("\n".join(lines))


def gradient_check_mistakes(numeric: Any, n: int) -> list[Mistake]:
    """Known wrong answers of a backward pass compared with the student's own numerical gradient.

    ``numeric`` is what ``numerical_gradient`` returned for one parameter on a batch of
    ``n`` samples. When the backward pass is off by a constant factor, the mistake may
    sit on either side of the comparison, so the messages name both.
    """
    value = np.asarray(numeric, dtype=np.float64)
    return [
        Mistake("loss summed over the samples", value / n,
                f"Your gradient is n = {n} times SMALLER than the numerical one: that happens when "
                "cross_entropy sums over the samples instead of averaging (chapter 3.3), or when the backward "
                "pass divides by n twice."),
        Mistake("factor 2 in the numerical gradient", value / 2,
                "Your gradient is HALF the numerical one: numerical_gradient divides by h instead of 2h "
                "(chapter 2.4), or the backward pass lost a factor 2."),
        Mistake("factor 2 in the backward pass", value * 2,
                "Your gradient is TWICE the numerical one: a factor 2 too many in the backward pass (or "
                "numerical_gradient divides by 4h)."),
    ]


# ----------------------------------------------------------------------------- silenced warnings

_SILENCERS = {"filterwarnings", "simplefilter", "seterr", "errstate", "catch_warnings", "resetwarnings"}


def _silencing_call(node: ast.Call) -> str | None:
    """The name of ``node``'s function when the call turns warnings off (``"errstate"``), else None."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in _SILENCERS:
        return None
    if name in ("catch_warnings", "resetwarnings"):
        return name
    values = [*node.args] + [k.value for k in node.keywords if k.arg not in ("under", "category")]
    if name in ("filterwarnings", "simplefilter"):
        values = node.args[:1] + [k.value for k in node.keywords if k.arg == "action"]
    for value in values:
        if not (isinstance(value, ast.Constant) and value.value in ("warn", "raise", "print", "log", "always",
                                                                     "default", "error", "module", "once")):
            return name  # "ignore", or a value computed at run time
    return None


def _definitions(tree: ast.Module, function: str) -> list[ast.AST]:
    """The top-level definition of ``function`` and every top-level function it refers to, transitively."""
    top = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    todo, seen = [function], set[str]()
    found: list[ast.AST] = []
    while todo:
        name = todo.pop()
        if name in seen or name not in top:
            continue
        seen.add(name)
        found.append(top[name])
        todo += [n.id for n in ast.walk(top[name]) if isinstance(n, ast.Name)]
    return found


def silencing_call(source: str, function: str) -> str | None:
    """The call that turns warnings off inside ``function`` of the module ``source`` (e.g. ``"errstate"``).

    The numerical-stability checks judge the RuntimeWarnings a function raises; a
    function that turns them off while it runs (``warnings.filterwarnings("ignore")``,
    ``np.seterr(...)``, ``np.errstate(over="ignore")``, ``warnings.catch_warnings()``)
    would hide an overflow instead of avoiding it. The definition of ``function`` and
    the module's own functions it refers to (transitively) are read;
    ``np.errstate(under="ignore")`` is allowed (underflow to 0 is the right answer).
    Returns None when nothing is found or the source does not parse.
    """
    try:
        tree = ast.parse(source)
        for definition in _definitions(tree, function):
            for node in ast.walk(definition):
                if isinstance(node, ast.Call):
                    found = _silencing_call(node)
                    if found is not None:
                        return found
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return None


def silenced_message(function: str, found: str, call: str) -> str:
    """The feedback for a ``function`` that turns warnings off (``found``) where stability is judged.

    One wording for the hidden graders and the public self-check (SPEC §1: same policy,
    same message).
    """
    return (
        f"{call}: your {function} turns warnings off while it runs ({found}(...)); the docstring promises "
        "numerical stability without silencing warnings, so this check cannot see an overflow.\n"
        "Likely mistake (warnings silenced) avoid the overflow instead of hiding it: only exponentiate "
        "non-positive numbers (sigmoid: e^{-|z|}; softmax: subtract each row's max) and clip "
        "probabilities before the log; remove the warnings filter / np.errstate / np.seterr call."
    )


def check_not_silenced(function: Callable[..., Any], call: str) -> None:
    """Public self-check twin of the graders' check: fail when ``function`` (the student's own,
    or a class whose methods are judged) silences the RuntimeWarnings its stability is judged by."""
    module = inspect.getmodule(function)
    try:
        source = inspect.getsource(module) if module is not None else None
    except (OSError, TypeError):
        source = None
    name = getattr(function, "__name__", "")
    if _is_stub(function):  # not started: nothing to judge yet; raise what the stub itself raises
        raise NotImplementedError(*_stub_labels(function)[:1])
    if source is None or (f"def {name}" not in source and f"class {name}" not in source):
        try:  # a notebook: the function's own cell source (kept by IPython for inspect)
            source = textwrap.dedent(inspect.getsource(function))
        except (OSError, TypeError):
            pass
    found = silencing_call(source, name) if source else None
    if found is not None:
        raise Feedback(silenced_message(name, found, call))


def _stub_labels(obj: Any) -> list[str]:
    """The messages a stub raises (``"ch3.2: implement softmax"``); none for a bare ``NotImplementedError()``."""
    tops = [obj] if not inspect.isclass(obj) else [m for m in vars(obj).values() if inspect.isfunction(m)]
    found: list[str] = []
    for top in tops:
        chain: Any = top
        while chain is not None:  # the stub and every functools.wraps wrapper around it
            texts: list[Any] = list(getattr(getattr(chain, "__code__", None), "co_consts", ()))
            texts += [getattr(c, "cell_contents", None) for c in (getattr(chain, "__closure__", None) or ())]
            found += [str(t) for t in texts if isinstance(t, str) and ": implement " in t]
            chain = getattr(chain, "__wrapped__", None)
    return found


def _is_stub(obj: Any) -> bool:
    """Whether ``obj`` (a function, or a class whose every method) only raises NotImplementedError,
    as a released stub or an untouched notebook answer does: its code names nothing else
    (wrappers made with ``functools.wraps`` are looked through)."""
    functions = [inspect.unwrap(obj)] if not inspect.isclass(obj) else [
        inspect.unwrap(m) for m in vars(obj).values() if inspect.isfunction(m)]
    codes = [getattr(f, "__code__", None) for f in functions]
    return bool(codes) and all(c is not None and c.co_names == ("NotImplementedError",) for c in codes)


#: The likely mistake behind NumPy's "assignment destination is read-only" in a public test.
READ_ONLY_HINT = (
    "Likely mistake (modified its input) your function writes into an array it was given (the test's arrays "
    "are read-only to catch exactly this): functions must be pure. Work on a copy (X = X.copy()) or build "
    "a new array; the grader also fails a function that changes its inputs."
)


def read_only(*arrays: np.ndarray[Any, Any]) -> None:
    """Make a test's constant arrays read-only, so that a function writing into its inputs fails at once
    (and a later check never computes its expectation from a changed constant)."""
    for array in arrays:
        array.setflags(write=False)
