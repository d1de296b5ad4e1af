"""nbgrader configuration of the kit: course layout, execution limits, feedback.

`dlnp notebooks --out course/` writes one nbgrader assignment per chapter of the
manifest, ``course/source/<slug>/<slug>.ipynb``, and ``course/nbgrader_config.py``
(this file plus that folder as the course root). Then, from the course folder::

    nbgrader generate_assignment ch2_1     # -> release/ch2_1/ch2_1.ipynb
    nbgrader autograde ch2_1               # submitted/<student>/ch2_1/ -> autograded/
    nbgrader generate_feedback ch2_1       # -> feedback/ (no hidden test shown)
    nbgrader export                        # -> grades.csv

Each autograded cell calls ``autograder.nb_bridge.grade_cell``, which grades the
notebook's answer cells with the same hidden graders as ``dlnp grade``, so the kit
must be importable from the notebook kernel: it is put on the kernel's PYTHONPATH
below (or install it with ``pip install -e <kit>``).
"""

import os
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent
sys.path.insert(0, str(KIT))

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import ClearHiddenTests, GetGrades  # noqa: E402

from instructor.notebooks import STUB  # noqa: E402

c = get_config()  # noqa: F821  (provided by nbgrader's config loader)

# Layout: the course folder `dlnp notebooks --out` writes (default: <kit>/course).
c.CourseDirectory.root = os.environ.get("DLNP_COURSE", str(KIT / "course"))
c.CourseDirectory.course_id = "dlnp"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# figures/ holds the plots of an executed notebook: never part of a release
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "figures"]

# Solutions become nbgrader's stub (the kit's own release notebooks use the same one).
c.ClearSolutions.code_stub = {"python": STUB}

# Execution: a per-cell limit suited to training cells. A cell that runs over it is
# interrupted and scores 0. A kernel that ignores the interrupt (a loop in C code, or
# SIGINT ignored) sends no more output: with raise_on_iopub_timeout off, nbgrader
# records the timeout for every remaining cell (so they score 0) instead of aborting
# the whole autograde run.
c.ExecutePreprocessor.timeout = 120
c.ExecutePreprocessor.interrupt_on_timeout = True
c.ExecutePreprocessor.raise_on_iopub_timeout = False
c.ExecutePreprocessor.iopub_timeout = 4

# The kernel, and the grading process its autograded cells start, import the kit from here.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(KIT), os.environ.get("PYTHONPATH", "")) if p)

# Feedback shows each autograded cell's visible part and its output (the score and the
# hidden graders' messages, as in `dlnp grade`), never the hidden part of the cell.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
