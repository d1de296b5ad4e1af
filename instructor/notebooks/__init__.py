"""Every chapter as an nbgrader notebook, generated from the kit's text sources.

The notebooks are build outputs, never edited by hand. Their sources are the chapter
text (``assignments/<slug>/README.md``), the chapter's notebook-only content
(``assignments/<slug>/notebook.toml``: worked examples, the task in the notebook's
words, the earlier functions its hidden graders call), the reference package
(``solutions/``: signatures, docstrings and bodies) and the manifest. One module per
step:

=================  ================================================================
``cells``          a cell and its nbgrader role; notebook JSON and percent writers
``chapter_data``   ``notebook.toml``, read and checked
``sources``        the reference modules, README and chapter data, each read once
``builder``        chapter -> cells (the layout is in its docstring)
``lint``           checks of a generated notebook (nbgrader metadata, points, twin)
``course``         the nbgrader course folder, the release step, collected submissions
``execute``        running a notebook top to bottom in a clean kernel
=================  ================================================================

Outputs:

* ``dlnp notebooks --out course/`` writes ``course/source/<slug>/<slug>.ipynb`` (for
  ``nbgrader generate_assignment``), ``course/percent/<slug>.py`` (the same notebook as a
  jupytext percent file, to review and diff) and ``course/nbgrader_config.py``;
* the release step :func:`write_notebooks` writes ``notebooks/<slug>.ipynb`` into the
  student release: what ``nbgrader generate_assignment`` makes of the same notebook.

Grading is the engine's: :mod:`autograder.notebook_source` turns a notebook's answer
cells into a dlnp submission, and :mod:`autograder.nb_bridge` grades it.
"""

from autograder.notebook_source import ANSWER, SETUP, answer_cells, module_code, notebook_submission, source_of

from .builder import carried_functions, chapter_cells, example_cells, split_sections
from .cells import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    STUB,
    Cell,
    clear_hidden_tests,
    clear_solutions,
    dumps,
    to_notebook,
    to_percent,
)
from .chapter_data import ChapterData, load_chapter_data
from .course import build_course, collect, write_notebooks
from .execute import execute, execution_problems, grading_problems
from .lint import lint
from .sources import ReferenceModule, Sources

__all__ = [
    "ANSWER",
    "BEGIN_HIDDEN",
    "BEGIN_SOLUTION",
    "END_HIDDEN",
    "END_SOLUTION",
    "SETUP",
    "STUB",
    "Cell",
    "ChapterData",
    "ReferenceModule",
    "Sources",
    "answer_cells",
    "build_course",
    "carried_functions",
    "chapter_cells",
    "clear_hidden_tests",
    "clear_solutions",
    "collect",
    "dumps",
    "example_cells",
    "execute",
    "execution_problems",
    "grading_problems",
    "lint",
    "load_chapter_data",
    "module_code",
    "notebook_submission",
    "source_of",
    "split_sections",
    "to_notebook",
    "to_percent",
    "write_notebooks",
]
