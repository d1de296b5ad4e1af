"""The instructor's tooling: everything that runs on the course staff's machine.

Release generation, notebooks, platform exports (Gradescope, GitHub Classroom),
mutation testing, reference training and every instructor ``dlnp`` subcommand
(``instructor/commands/<name>.py``). It sits on top of the other packages and may
import all of them; nothing imports it::

    instructor   release, notebooks, exports, training, course operations, commands
    autograder   the trusted grading engine (sandbox, graders, results)
    solutions    the reference package            dlnp   the student runtime (shipped whole)
"""
