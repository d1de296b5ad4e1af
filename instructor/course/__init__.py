"""Course operations on a graded batch: what an instructor does after ``dlnp grade-batch``.

::

    graded.py      read a graded folder (results/<student>.json, gradebook.csv)
    report.py      ``dlnp report``: the class-wide HTML/JSON report (scores, mistakes, grading health)
    similarity.py  ``dlnp similar``: pairs of submissions with identical or near-identical code
    deadlines.py   the course file: due dates, late policy, extensions, submission times
    lms.py         ``dlnp export``: the adjusted gradebook, Canvas import CSV, long format
    history.py     regrade history: keep the previous results, report what changed and why
    synthetic.py   a synthetic class (known mistakes, copied pairs) for the kit's tests and demos
"""
