"""Where the trusted engine's files are, computed once for every module of :mod:`autograder`."""

from __future__ import annotations

from pathlib import Path

#: The root of the kit's checkout (the folder that holds ``autograder/`` and ``solutions/``).
KIT_ROOT = Path(__file__).resolve().parent.parent
#: The trusted engine's package.
ENGINE = KIT_ROOT / "autograder"
#: The hidden graders: one pytest module per chapter, ``test_<slug>.py``.
GRADERS = ENGINE / "graders"
