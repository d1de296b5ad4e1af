"""Where the kit's folders are, computed once for the instructor's tooling."""

from __future__ import annotations

from pathlib import Path

#: The root of the kit's checkout (the folder that holds ``assignments/`` and ``solutions/``).
KIT_ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = KIT_ROOT / "solutions"
ASSIGNMENTS = KIT_ROOT / "assignments"
EXAMPLES = KIT_ROOT / "examples"
MUTANTS = KIT_ROOT / "tests" / "mutants"
README = KIT_ROOT / "README.md"
#: The student runtime: shipped whole into every release (the folder is the boundary).
STUDENT_RUNTIME = KIT_ROOT / "dlnp"
