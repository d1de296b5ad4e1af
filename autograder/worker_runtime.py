"""The student side of the grading boundary: the only kit file a worker process sees.

A worker is started by the trusted grader (``autograder.sandbox``) with
``python -I -S -B`` and the arguments ``FD_IN FD_OUT WORK RUNTIME DEPS``, usually
inside a sandbox whose working folder ``WORK`` holds a read-only copy of the
submission's package. It says hello, then imports the student's package
``neural_network`` module by module, runs the calls it is sent, and answers with the
results. It knows nothing of the reference solutions or the hidden tests: it is only
told "call ``neural_network.losses.mse_loss`` with these arrays". Whatever it answers
is data for the trusted side to judge: it never decides a score.

Wire format (both directions): ``8-byte length`` + ``4-byte header length`` +
``JSON header`` + raw ``.npy`` blobs. Arrays travel as ``.npy`` bytes and are read
back with ``allow_pickle=False``; nothing is ever pickled. This file depends only on
the standard library and NumPy, and the trusted side imports the same
:func:`encode`/:func:`decode` so there is one definition of the format.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import io
import json
import os
import struct
import sys
import traceback
import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

PACKAGE = "neural_network"
MAX_FRAME = 256 * 1024 * 1024


# --------------------------------------------------------------------------- fixtures
# Kit test helpers that graders pass as callables (loss_fn=..., forward_fn=...). They
# are generic test functions, not solutions of any chapter.


def _fx_identity(Z: Any) -> Any:
    return Z


def _fx_tanh(Z: Any) -> Any:
    return np.tanh(Z)


def _fx_logistic(Z: Any) -> Any:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(Z)))


def _fx_logcosh_loss(pred: Any, y: Any) -> float:
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    d: np.ndarray[Any, np.dtype[np.float64]] = np.abs(diff)
    soft: np.ndarray[Any, np.dtype[np.float64]] = np.log1p(np.exp(-2.0 * d))
    return float(np.mean(d + soft) - np.log(2.0))


def _fx_quartic_loss(pred: Any, y: Any) -> float:
    d = np.asarray(pred) - np.asarray(y)
    return float(np.mean(d**2 + 0.25 * d**4))


def _fx_mean_abs_loss(pred: Any, y: Any) -> float:
    return float(np.mean(np.abs(np.asarray(pred) - np.asarray(y))))


def _fx_affine(X: Any, params: Any) -> Any:
    return X @ params["W"] + params["b"]


def _fx_tanh_layer(X: Any, params: Any) -> Any:
    return np.tanh(X @ params["W"] + params["b"])


def _fx_two_layer(X: Any, params: Any) -> Any:
    return np.tanh(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


FIXTURES: dict[str, Callable[..., Any]] = {
    "identity": _fx_identity,
    "tanh": _fx_tanh,
    "logistic": _fx_logistic,
    "logcosh_loss": _fx_logcosh_loss,
    "quartic_loss": _fx_quartic_loss,
    "mean_abs_loss": _fx_mean_abs_loss,
    "affine": _fx_affine,
    "tanh_layer": _fx_tanh_layer,
    "two_layer": _fx_two_layer,
}


# --------------------------------------------------------------------------- wire format


class Opaque:
    """A value that could not be sent as data (shown in feedback by its description)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"<{self.text}>"


def _npy_bytes(a: np.ndarray[Any, Any]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def encode(
    obj: Any,
    blobs: list[bytes],
    special: Callable[[Any], Any] | None = None,
    depth: int = 0,
) -> Any:
    """Turn ``obj`` into JSON-able data, appending array bytes to ``blobs``.

    ``special`` may encode values this function does not know (seeds, function
    references, object handles); it returns ``NotImplemented`` to decline.
    """
    if depth > 20:
        return {"__opaque__": "structure nested too deeply"}
    if special is not None:
        out = special(obj)
        if out is not NotImplemented:
            return out
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.ndarray):
        array = cast("np.ndarray[Any, np.dtype[Any]]", obj)
        if array.dtype.kind not in "biufc":
            return {"__opaque__": f"array of dtype {array.dtype}, shape {array.shape}"}
        blobs.append(_npy_bytes(np.ascontiguousarray(array)))
        return {"__nd__": len(blobs) - 1}
    if isinstance(obj, np.generic):
        scalar = cast("np.generic[Any]", obj)
        if isinstance(scalar, (np.bool_, np.number)):
            blobs.append(_npy_bytes(np.asarray(cast(Any, scalar))))
            return {"__npscalar__": len(blobs) - 1}
        return {"__opaque__": f"NumPy {type(scalar).__name__}"}
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, blobs, special, depth + 1) for v in obj]}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(obj, list):
        return [encode(v, blobs, special, depth + 1) for v in obj]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(obj, dict):
        return {
            "__dict__": [
                [encode(k, blobs, special, depth + 1), encode(v, blobs, special, depth + 1)]
                for k, v in obj.items()  # pyright: ignore[reportUnknownVariableType]
            ]
        }
    if isinstance(obj, Opaque):
        return {"__opaque__": obj.text}
    text = f"{type(obj).__name__} object"
    return {"__opaque__": text}


def _load_blob(blobs: list[bytes], index: int) -> Any:
    return np.load(io.BytesIO(blobs[index]), allow_pickle=False)


def decode(
    data: Any,
    blobs: list[bytes],
    special: Callable[[str, Any], Any] | None = None,
    load: Callable[[int], Any] | None = None,
) -> Any:
    """Inverse of :func:`encode`. Arrays are loaded with ``allow_pickle=False``.

    ``load(i)`` returns the array of blob ``i``; the trusted side passes one that decodes
    each blob once and bounds the total (``autograder.sandbox.codec.BlobDecoder``).
    """
    if load is None:
        load = functools.partial(_load_blob, blobs)
    if isinstance(data, list):
        return [decode(v, blobs, special, load) for v in data]  # pyright: ignore[reportUnknownVariableType]
    if not isinstance(data, dict):
        return data
    ((key, value),) = cast("dict[str, Any]", data).items()
    if key == "__nd__":
        return load(int(value))
    if key == "__npscalar__":
        return load(int(value))[()]
    if key == "__float__":
        return float(value)
    if key == "__tuple__":
        return tuple(decode(v, blobs, special, load) for v in value)  # pyright: ignore[reportUnknownVariableType]
    if key == "__dict__":
        return {decode(k, blobs, special, load): decode(v, blobs, special, load) for k, v in value}  # pyright: ignore[reportUnknownVariableType]
    if key == "__opaque__":
        return Opaque(str(value)[:200])
    if special is not None:
        return special(str(key), value)
    raise ValueError(f"unknown tag {key!r}")


def pack(header: dict[str, Any], blobs: list[bytes]) -> bytes:
    header = dict(header, __blobs__=[len(b) for b in blobs])
    head = json.dumps(header, allow_nan=True).encode()
    body = struct.pack("<I", len(head)) + head + b"".join(blobs)
    return struct.pack("<Q", len(body)) + body


def unpack(body: bytes) -> tuple[dict[str, Any], list[bytes]]:
    (head_len,) = struct.unpack_from("<I", body, 0)
    loaded: Any = json.loads(body[4 : 4 + head_len])
    if not isinstance(loaded, dict):
        raise ValueError("bad frame")
    header = cast("dict[str, Any]", loaded)
    sizes: Any = header.pop("__blobs__")
    if not isinstance(sizes, list):
        raise ValueError("bad frame")
    blobs: list[bytes] = []
    pos = 4 + head_len
    for size in cast("list[Any]", sizes):
        blobs.append(body[pos : pos + int(size)])
        pos += int(size)
    return header, blobs


def read_exact(fd: int, n: int) -> bytes:
    chunks: list[bytes] = []
    while n > 0:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> bytes:
    (size,) = struct.unpack("<Q", read_exact(fd, 8))
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is over the limit")
    return read_exact(fd, size)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# --------------------------------------------------------------------------- broken modules
# Score once for an import failure (issue 14): when a student module fails to import (a
# syntax error in losses.py), the modules that import it (``from .losses import mse_loss``
# in optimization.py) must still import, so the chapters that grade them with kit
# fixtures grade normally. The failed module is replaced by a placeholder whose every
# attribute raises an ImportError naming the module, the line and the original error;
# asking for the module itself (to grade its own functions) still fails with that error.


def _failure_line(path: str, exc: BaseException) -> int | None:
    """The line of ``path`` where its import failed (the syntax error's, or the last frame in it)."""
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        return exc.lineno
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    return lines[-1] if lines else None


def unavailable_message(module: str, path: str, exc: BaseException, attribute: str) -> str:
    """What a placeholder says when ``attribute`` of the failed ``module`` is used."""
    line = _failure_line(path, exc)
    where = f"{PACKAGE}/{module}.py" + (f" line {line}" if line is not None else "")
    detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return (f"{attribute} is unavailable: importing {PACKAGE}/{module}.py failed "
            f"({type(exc).__name__} at {where}: {detail[:500]})")


def _placeholder(message: str, name: str) -> type:
    """A class named ``name`` that raises ImportError(``message``) when called or instantiated.

    A class (not a function) so that both ``mse_loss(...)`` and ``class Linear(Module)``
    keep working at import time; only using it raises.
    """

    def unavailable(cls: type, *args: Any, **kwargs: Any) -> Any:
        raise ImportError(message)

    return type(name, (), {"__new__": unavailable, "__doc__": message})


def make_placeholder(module: types.ModuleType, exc: BaseException) -> None:
    """Turn the half-executed ``module`` into a placeholder for its failed import (in place).

    Every name it defined before failing is removed; every attribute asked for later
    (PEP 562 module ``__getattr__``) is a class that raises an ImportError naming the
    module, its line and ``exc``. Dunder names stay real (the import system reads them).
    """
    short = module.__name__.rpartition(".")[2]
    path = str(getattr(module, "__file__", "") or "")
    for key in [k for k in module.__dict__ if not (k.startswith("__") and k.endswith("__"))]:
        del module.__dict__[key]
    made: dict[str, type] = {}

    def module_getattr(attribute: str) -> type:
        if attribute.startswith("__") and attribute.endswith("__"):
            raise AttributeError(attribute)
        if attribute not in made:
            made[attribute] = _placeholder(unavailable_message(short, path, exc, attribute), attribute)
        return made[attribute]

    module.__dict__["__getattr__"] = module_getattr


class _TolerantLoader(importlib.machinery.SourceFileLoader):
    """Loads a student module; if its code fails, records the error and leaves a placeholder."""

    def __init__(self, fullname: str, path: str, failures: dict[str, BaseException]) -> None:
        super().__init__(fullname, path)
        self.failures = failures

    def exec_module(self, module: types.ModuleType) -> None:
        try:
            super().exec_module(module)
        except BaseException as exc:  # student code may raise anything at import, even SystemExit
            self.failures[module.__name__] = exc
            make_placeholder(module, exc)


class _TolerantFinder(importlib.abc.MetaPathFinder):
    """Finds the student's plain modules (``neural_network.<name>``) with a :class:`_TolerantLoader`."""

    def __init__(self, failures: dict[str, BaseException]) -> None:
        self.failures = failures

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(f"{PACKAGE}.") or fullname.count(".") != 1:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader
                or spec.origin is None or spec.submodule_search_locations is not None):
            return spec
        loader = _TolerantLoader(fullname, spec.origin, self.failures)
        return importlib.util.spec_from_file_location(fullname, spec.origin, loader=loader)


# --------------------------------------------------------------------------- the worker


class Worker:
    """Runs calls into the student's package and keeps the objects it creates."""

    def __init__(self, submission: str) -> None:
        self.objects: dict[int, Any] = {}
        self.ids: dict[int, int] = {}
        #: Student modules whose import failed (full name -> the error): placeholders in sys.modules.
        self.failed_imports: dict[str, BaseException] = {}
        package = types.ModuleType(PACKAGE)
        package.__path__ = [os.path.join(submission, PACKAGE)]
        package.__package__ = PACKAGE
        sys.modules[PACKAGE] = package
        sys.meta_path.insert(0, _TolerantFinder(self.failed_imports))

    # values --------------------------------------------------------------------
    def _handle(self, obj: Any) -> int:
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = len(self.objects) + 1
            self.objects[self.ids[key]] = obj
        return self.ids[key]

    def _encode_special(self, obj: Any) -> Any:
        if isinstance(obj, np.random.Generator):
            # Its state (plain ints and strings) lets the trusted side tell whether it was drawn from.
            return {"__rngstate__": json.dumps(obj.bit_generator.state, sort_keys=True)}
        if callable(obj) and not isinstance(obj, type) and getattr(obj, "__module__", "").startswith(PACKAGE):
            return {"__opaque__": f"function {getattr(obj, '__name__', '?')}"}
        if type(obj).__module__.startswith(PACKAGE) and not isinstance(obj, (np.ndarray, np.generic)):
            return {"__obj__": [self._handle(obj), type(obj).__name__]}
        return NotImplemented

    def _decode_special(self, key: str, value: Any) -> Any:
        if key == "__seed__":
            return np.random.default_rng(int(value))
        if key == "__fn__":
            kind, name = value
            if kind == "fixture":
                return FIXTURES[name]
            module, attr = name.rsplit(".", 1)
            return getattr(self.module(module), attr)
        if key == "__handle__":
            return self.objects[int(value)]
        raise ValueError(f"unknown tag {key!r}")

    def module(self, name: str) -> Any:
        """The student's module ``name``; raises its import error if it failed (it is a placeholder)."""
        module = importlib.import_module(f"{PACKAGE}.{name}")
        failure = self.failed_imports.get(f"{PACKAGE}.{name}")
        if failure is not None:
            raise failure
        return module

    def _lookup(self, module: str, name: str) -> Any:
        try:
            mod = self.module(module)
        except BaseException as exc:
            raise _ImportFailed(f"{PACKAGE}/{module}.py", exc) from exc
        if not hasattr(mod, name):
            raise _Missing(f"{PACKAGE}/{module}.py has no {name}")
        return getattr(mod, name)

    # requests ------------------------------------------------------------------
    def run(self, header: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        op = header["op"]
        if op == "ping":
            return {"ok": True, "value": None}, []
        if op == "import":
            try:
                self.module(header["module"])
            except BaseException as exc:  # student code may raise anything, even SystemExit
                failure = _ImportFailed(f"{PACKAGE}/{header['module']}.py", exc)
                return {"ok": False, "error": _describe_error(failure)}, []
            return {"ok": True, "value": None}, []
        args = decode(header.get("args", []), blobs, self._decode_special)
        kwargs = decode(header.get("kwargs", {"__dict__": []}), blobs, self._decode_special)
        out_blobs: list[bytes] = []
        caught: list[str] = []
        try:
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                with np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"):
                    value = self._dispatch(op, header, args, kwargs)
                caught = [f"{w.category.__name__}: {w.message}" for w in record][:20]
        except BaseException as exc:  # student code may raise anything, even SystemExit
            return {"ok": False, "error": _describe_error(exc), "warnings": caught}, []
        reply: dict[str, Any] = {"ok": True, "warnings": caught}
        reply["value"] = encode(value, out_blobs, self._encode_special)
        if header.get("return_args"):
            reply["args_after"] = encode(args, out_blobs, self._encode_special)
            reply["kwargs_after"] = encode(kwargs, out_blobs, self._encode_special)
        return reply, out_blobs

    def _dispatch(self, op: str, header: dict[str, Any], args: Any, kwargs: Any) -> Any:
        if op in ("call", "new"):
            return self._lookup(header["module"], header["name"])(*args, **kwargs)
        obj = self.objects[int(header["handle"])]
        if op == "method":
            return getattr(obj, header["name"])(*args, **kwargs)
        if op == "getattr":
            return getattr(obj, header["name"])
        if op == "setattr":
            setattr(obj, header["name"], args[0])
            return None
        raise ValueError(f"unknown op {op!r}")


class _ImportFailed(Exception):
    def __init__(self, path: str, cause: BaseException) -> None:
        super().__init__(path)
        self.path = path
        self.cause = cause


class _Missing(Exception):
    pass


def _describe_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, _ImportFailed):
        inner = _describe_error(exc.cause)
        return dict(inner, phase="import", message=f"importing {exc.path} failed: {inner['type']}: {inner['message']}")
    if isinstance(exc, _Missing):
        return {"type": "Missing", "message": str(exc), "where": "", "phase": "missing"}
    frames = traceback.extract_tb(exc.__traceback__)
    student = [f for f in frames if f"{os.sep}{PACKAGE}{os.sep}" in f.filename]
    lines = [f"  {os.path.basename(f.filename)}, line {f.lineno}, in {f.name}: {f.line}" for f in student[-4:]]
    message = str(exc)
    if isinstance(exc, SyntaxError):
        message = f"{exc.msg} ({os.path.basename(exc.filename or '?')}, line {exc.lineno})"
    return {"type": type(exc).__name__, "message": message[:2000], "where": "\n".join(lines)[:2000]}


def main(argv: list[str]) -> None:
    fd_in, fd_out = int(argv[1]), int(argv[2])
    submission = argv[3]
    sys.path[:0] = [submission]
    sys.dont_write_bytecode = True
    # Student output must never reach the protocol (or fill a disk): fds 1 and 2 are discarded.
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
    worker = Worker(submission)
    write_all(fd_out, pack({"ok": True, "hello": "dlnp-worker"}, []))
    while True:
        try:
            body = read_frame(fd_in)
        except EOFError:
            os._exit(0)
        header, blobs = unpack(body)
        try:
            reply, out_blobs = worker.run(header, blobs)
            frame = pack(dict(reply, id=header.get("id")), out_blobs)
        except BaseException as exc:  # an unencodable value, or a student __repr__ that raises
            frame = pack({"ok": False, "error": _describe_error(exc), "warnings": [], "id": header.get("id")}, [])
        write_all(fd_out, frame)


if __name__ == "__main__":
    main(sys.argv)
