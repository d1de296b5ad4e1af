"""Where the kit's folders are, for the instructor's tooling (the root is the engine's :data:`KIT_ROOT`)."""

from __future__ import annotations

from autograder.paths import KIT_ROOT

SOLUTIONS = KIT_ROOT / "solutions"
ASSIGNMENTS = KIT_ROOT / "assignments"
EXAMPLES = KIT_ROOT / "examples"
MUTANTS = KIT_ROOT / "tests" / "mutants"
README = KIT_ROOT / "README.md"
#: The student runtime: shipped whole into every release (the folder is the boundary).
STUDENT_RUNTIME = KIT_ROOT / "dlnp"

__all__ = ["ASSIGNMENTS", "EXAMPLES", "KIT_ROOT", "MUTANTS", "README", "SOLUTIONS", "STUDENT_RUNTIME"]
