"""``dlnp readme``: regenerate the generated parts of README.md (the chapter table)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from ..paths import README


def register(sub: Any) -> None:
    p = sub.add_parser("readme", help="regenerate README.md's chapter table from the manifest")
    p.add_argument("--check", action="store_true", help="only report whether README.md is up to date")
    p.set_defaults(func=run)


def render(text: str) -> str:
    from dlnp.manifest import load_manifest

    from ..release import chapter_table

    block = f"<!-- chapters:start -->\n{chapter_table(load_manifest())}\n<!-- chapters:end -->"
    return re.sub(r"<!-- chapters:start -->.*?<!-- chapters:end -->", lambda _: block, text, flags=re.S)


def run(args: argparse.Namespace) -> int:
    text = README.read_text()
    new = render(text)
    if args.check:
        print("README.md is up to date" if new == text else "README.md is stale: run `dlnp readme`")
        return 0 if new == text else 1
    README.write_text(new)
    print("README.md updated")
    return 0
