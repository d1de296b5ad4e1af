"""The ``dlnp`` command.

Subcommands live one per file in a commands package and are discovered automatically.
A student release has only the student's package, ``dlnp.commands`` (``check``,
``capstone``); the kit's console script (:mod:`instructor.cli`) adds the instructor's.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from . import __version__, commands


def build_parser(packages: Sequence[ModuleType] = (commands,)) -> argparse.ArgumentParser:
    """A parser with every subcommand found in ``packages`` (modules defining ``register``)."""
    parser = argparse.ArgumentParser(prog="dlnp", description="Learn Deep Learning with NumPy: the auto-graded kit")
    parser.add_argument("--version", action="version", version=f"dlnp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    found = [(info.name, package) for package in packages for info in pkgutil.iter_modules(package.__path__)]
    for name, package in sorted(found, key=lambda item: item[0]):
        module = importlib.import_module(f"{package.__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None, packages: Sequence[ModuleType] = (commands,)) -> int:
    parser = build_parser(packages)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
