"""What the student reads when their code fails: every sentence the sandbox writes for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlnp.testing import diagnose_warnings

from .errors import StudentCrashed, StudentError, StudentNotImplemented, StudentRaised


def describe_error(error: Mapping[str, Any], label: str, memory_bytes: int) -> StudentError:
    """The exception for a worker's ``error`` reply (its fields are cut to a readable size)."""
    kind = str(error.get("type", "Error"))[:100]
    message = str(error.get("message", ""))[:1000]
    where = str(error.get("where", ""))[:2000]
    if kind == "NotImplementedError" and error.get("phase") != "import":
        return StudentNotImplemented(f"{label} is not implemented yet (it raises NotImplementedError).", label)
    if error.get("phase") == "missing":
        return StudentRaised(f"{message}: was it renamed or deleted?", label)
    if error.get("phase") == "import":
        return StudentRaised(f"{message}\n{where}".rstrip(), label)
    if kind == "MemoryError":
        return StudentCrashed(f"{label} ran out of memory (limit {memory_bytes // 2**20} MiB).", label)
    text = f"{label} raised {kind}: {message}"
    if where:
        text += f"\n{where}"
    return StudentRaised(text, label)


def crashed(label: str, memory_bytes: int, cause: str, tree_out_of_memory: bool = False) -> str:
    if tree_out_of_memory:
        return (f"{label} ran out of memory: its processes together used more than "
                f"{memory_bytes // 2**20} MiB and the system stopped them ({cause}).")
    return (f"{label} crashed the Python process running your code (sys.exit/os._exit, a segfault, "
            f"or out of memory; limit {memory_bytes // 2**20} MiB): {cause}")


def unreadable_reply(label: str, cause: str) -> str:
    return f"{label} sent back something that is not a reply ({cause})."


def unreadable_data(label: str, cause: str) -> str:
    return f"{label} sent back data the grader cannot read ({cause})."


def reply_too_large(label: str, reply_bytes: int) -> str:
    return f"{label} returned more than {reply_bytes // 2**20} MiB of data."


def lost_object() -> str:
    return "this object was lost when an earlier call crashed the worker"


def test_time_used(label: str, test_seconds: float) -> str:
    return f"{label} was not run: this test already used its {test_seconds:g} s (an earlier call was far too slow)."


def test_cpu_used(label: str, cpu_seconds: float) -> str:
    return f"{label} was not run: this test already used its {cpu_seconds:g} s of CPU time."


def over_test_time(label: str, test_seconds: float) -> str:
    return f"{label} did not finish: this test may take at most {test_seconds:g} s (infinite loop? far too slow?)"


def skipped_files(package: str, skipped: list[str]) -> str:
    """One line saying which files of the student's package their code did not get, and why."""
    return (f"Some files of your {package}/ package were not given to your code (only regular files are, "
            "within size limits): " + "; ".join(skipped) + ".")


def module_skipped(package: str, why: str) -> str:
    return f"Note: {package}/{why} (so your code could not import this module)."


def over_scratch(label: str, why: str) -> str:
    return (f"{label} was stopped: your code {why}, more than the grader allows (write less, or reuse one "
            "file). Its files were deleted and its processes killed.")


def budget_used(label: str) -> str:
    return (f"{label} was not run: the time budget of this submission ran out during this test (earlier "
            "code was far too slow or looped).")


def over_budget(label: str) -> str:
    return (f"{label} did not finish before the time budget of this submission ran out (infinite loop? far "
            "too slow?)")


def over_call_time(label: str, wall: float) -> str:
    return f"{label} did not finish within {wall:g} s (infinite loop? far too slow?)"


def over_cpu(label: str, cpu: float) -> str:
    return f"{label} used more than {cpu:g} s of CPU time (infinite loop? far too slow?)"


def stopped_reading(label: str) -> str:
    return f"{label}: the worker stopped reading its requests."


def mutated_input(label: str, arg: str) -> str:
    return (f"{label} modified its input `{arg}` in place. Functions must be pure: "
            "work on a copy (e.g. X = X.copy(), or build new arrays with X - mean "
            "instead of X -= mean).")


def mutated_keyword(label: str, key: str) -> str:
    return f"{label} modified its input `{key}` in place: functions must be pure."


def rng_touched(label: str, arg: str) -> str:
    """Chapter 2.3's full-batch rule: with ``batch_size=None`` the generator is never drawn from."""
    return (f"{label} drew random numbers from `{arg}` where the docstring says it must not "
            "(full batch never touches rng).\nLikely mistake (rng touched) shuffle only when "
            "batch_size is given; with batch_size=None use all samples in their order.")


def unstable(label: str, warnings: list[str]) -> str:
    hint = diagnose_warnings(warnings)
    return (f"{label} emitted a warning where the docstring promises numerical stability:\n  "
            + "\n  ".join(warnings[:3])
            + (f"\nLikely mistake {hint}" if hint else ""))


def not_an_object(name: str) -> str:
    return f"{name}(...) did not create an object"
