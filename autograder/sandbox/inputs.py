"""The input guard: a student's function must leave its arguments as it found them.

The worker sends the arguments back after the call; :func:`check_unchanged` compares
them with what was sent, up to floating-point rounding, and checks that a generator
passed as ``Seed(n, untouched=True)`` was not drawn from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from . import wording
from .errors import InputMutated, RngDrawn
from .values import RngState, Seed


def _fresh_rng_state(seed: int) -> str:
    return json.dumps(np.random.default_rng(seed).bit_generator.state, sort_keys=True)


def rounding_equal(before: Any, after: Any) -> bool:
    """True when ``after`` is ``before`` up to floating-point rounding."""
    if isinstance(before, Seed):
        if before.untouched and not (isinstance(after, RngState) and after.state == _fresh_rng_state(before.value)):
            raise RngDrawn
        return True
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray):
            return False
        old = cast("np.ndarray[Any, np.dtype[Any]]", before)
        new = cast("np.ndarray[Any, np.dtype[Any]]", after)
        if new.shape != old.shape:
            return False
        if np.array_equal(old, new, equal_nan=True):
            return True
        if old.dtype.kind in "fc":
            scale = float(np.max(np.abs(old))) if old.size else 0.0
            return bool(np.allclose(new, old, rtol=1e-12, atol=1e-12 * (1.0 + scale)))
        return False
    if isinstance(before, dict):
        if not isinstance(after, dict) or set(before) != set(after):  # pyright: ignore[reportUnknownArgumentType]
            return False
        return all(rounding_equal(v, after[k]) for k, v in before.items())  # pyright: ignore[reportUnknownVariableType]
    if isinstance(before, (list, tuple)):
        if not isinstance(after, (list, tuple)) or len(before) != len(after):  # pyright: ignore[reportUnknownArgumentType]
            return False
        return all(rounding_equal(b, a) for b, a in zip(before, after, strict=True))  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return True


def check_unchanged(label: str, names: Sequence[str], args: Sequence[Any], kwargs: dict[str, Any],
                    after_args: Any, after_kwargs: Any) -> None:
    """Raise :class:`InputMutated` when an argument came back changed (``names``: parameter names)."""
    for i, before in enumerate(args):
        after: Any = None
        if isinstance(after_args, (list, tuple)):
            values = cast("Sequence[Any]", after_args)
            after = values[i] if i < len(values) else None
        arg = names[i] if i < len(names) else f"argument {i + 1}"
        try:
            unchanged = rounding_equal(before, after)
        except RngDrawn:
            raise InputMutated(wording.rng_touched(label, arg), label) from None
        if not unchanged:
            raise InputMutated(wording.mutated_input(label, arg), label)
    for key, before in kwargs.items():
        after = after_kwargs.get(key) if isinstance(after_kwargs, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        try:
            unchanged = rounding_equal(before, after)
        except RngDrawn:
            raise InputMutated(wording.rng_touched(label, key), label) from None
        if not unchanged:
            raise InputMutated(wording.mutated_keyword(label, key), label)


def reference_signature(module: Any) -> Callable[[str], Sequence[str]]:
    """Parameter names of the reference functions (for messages), by function name."""
    import inspect

    def names(function: str) -> Sequence[str]:
        target = getattr(module, function, None)
        if target is None:
            return []
        try:
            return list(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            return []

    return names
