"""``dlnp release --out DIR``: write the student release."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("release", help="generate the student release (stubs, public tests, texts)")
    p.add_argument("--out", type=Path, default=Path("release"), help="output folder (default: release/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..release import build_release

    out = build_release(args.out)
    print(f"student release written to {out}")
    return 0
