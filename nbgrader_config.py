"""nbgrader configuration of the kit: course layout, trusted autograding, feedback.

`dlnp notebooks --out course/` writes one nbgrader assignment per chapter of the
manifest, ``course/source/<slug>/`` (the notebook and the chapter's public tests), and
``course/nbgrader_config.py`` (this file plus that folder as the course root). Then,
from the course folder::

    nbgrader generate_assignment ch2_1     # -> release/ch2_1/ (notebook + public tests)
    nbgrader autograde ch2_1               # submitted/<student>/ch2_1/ -> autograded/
    nbgrader generate_feedback ch2_1       # -> feedback/ (the graders' messages)
    nbgrader export                        # -> grades.csv

Scores never come from the student's kernel: ``nbgrader autograde`` does not run the
notebook. Its ``Execute`` step is replaced by :class:`autograder.nb_bridge.TrustedGrades`,
which grades the answer cells with the hidden graders of ``dlnp grade`` (same sandbox,
same limits) and writes each autograded cell's score and feedback.
"""

import os
import sys
from pathlib import Path

KIT = Path(__file__).resolve().parent
sys.path.insert(0, str(KIT))

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from autograder.nb_bridge import TrustedGrades  # noqa: E402
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

# Autograde: nbgrader's own pipeline with its kernel run (Execute) replaced by the trusted
# grader. One notebook is graded in one process: the engine's limits per call and per
# submission, and TrustedGrades.timeout for the whole, bound its time.
c.Autograde.autograde_preprocessors = [TrustedGrades, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.TrustedGrades.timeout = 600.0

# Feedback shows each autograded cell's visible part and its output (the score and the
# hidden graders' messages, as in `dlnp grade`), never a hidden test.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
