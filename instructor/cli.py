"""The kit's ``dlnp`` console script: the student's subcommands plus the instructor's."""

from __future__ import annotations

import sys

import dlnp.commands
from dlnp.cli import main as _main

from . import commands


def main(argv: list[str] | None = None) -> int:
    return _main(argv, packages=(dlnp.commands, commands))


if __name__ == "__main__":
    sys.exit(main())
