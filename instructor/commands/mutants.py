"""``dlnp mutants [--report]``: grade the mutant corpus; fail if any mutant survives."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("mutants", help="mutation-test the hidden graders with tests/mutants (kill rate per chapter)")
    p.add_argument("--report", action="store_true", help="also list every surviving or undiagnosed mutant")
    p.add_argument("--function", action="append", help="only mutants/variants of this function (repeatable)")
    p.add_argument("--chapter", action="append",
                   help="only mutants/variants of the functions of this chapter, e.g. 5.1 (repeatable)")
    p.add_argument("--readme", action="store_true", help="write the table into README.md's mutants section")
    p.add_argument("--jobs", type=int, default=2, help="grading processes in parallel (default 2)")
    p.add_argument("--public", action="store_true",
                   help="run the PUBLIC self-check tests on the corpus instead: how many mistakes they catch "
                        "before hand-in (with --readme: README's public-catch table)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..mutation import load_corpus, report_table, run_corpus

    mutants, variants = load_corpus()
    if args.function:
        mutants = [m for m in mutants if m.function in args.function]
        variants = [v for v in variants if v.function in args.function]
    if args.chapter:
        from dlnp.manifest import load_manifest

        names = {f.name for c in load_manifest().chapters if c.id in args.chapter for f in c.functions}
        mutants = [m for m in mutants if m.function in names]
        variants = [v for v in variants if v.function in names]
    if args.public:
        return run_public_catch(args, mutants, variants)
    bar = tqdm(total=len(mutants) + len(variants), desc="mutants", unit="grade", file=sys.stderr)
    def step(_: str) -> None:
        bar.update(1)

    m_results, v_results = run_corpus(mutants, variants, progress=step, jobs=args.jobs)
    bar.close()
    table = report_table(m_results, v_results)
    print(table)
    if args.readme:
        write_readme_block("mutants", table)
    survivors = [r for r in m_results if not r.killed]
    undiagnosed = [r for r in m_results if r.killed and not r.diagnosed]
    leaking = [r for r in m_results if not r.contained]
    rejected = [r for r in v_results if not r.accepted]
    if args.report:
        for title, items in (("survived", survivors), ("not diagnosed by name", undiagnosed),
                             ("cost points to another function", leaking)):
            for r in items:
                print(f"- {title}: {r.chapter} {r.function} / {r.name}")
        for r in rejected:
            print(f"- variant rejected: {r.chapter} {r.function} / {r.name}\n    {r.output[:300]}")
    return 1 if (survivors or rejected or leaking) else 0


def write_readme_block(name: str, table: str) -> None:
    """Replace README.md's ``<!-- name:start -->`` ... ``<!-- name:end -->`` block with ``table``."""
    import re

    from ..paths import README

    block = f"<!-- {name}:start -->\n{table}\n<!-- {name}:end -->"
    README.write_text(re.sub(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", lambda _: block,
                             README.read_text(), flags=re.S))


def run_public_catch(args: argparse.Namespace, mutants: list[Any], variants: list[Any]) -> int:
    """``dlnp mutants --public``: the share of the corpus the public tests catch; 1 if they reject a variant."""
    from tqdm import tqdm

    from ..public_catch import public_table, run_public

    bar = tqdm(total=len(mutants) + len(variants), desc="public tests", unit="run", file=sys.stderr)
    def step(_: str) -> None:
        bar.update(1)

    results = run_public(mutants, variants, step, jobs=args.jobs)
    bar.close()
    table = public_table(results)
    print(table)
    if args.readme and (args.function or args.chapter):
        print("not writing README.md: its table covers the whole corpus (run --readme without --function/--chapter)",
              file=sys.stderr)
    elif args.readme:
        write_readme_block("public-catch", table)
    if args.report:
        for r in results:
            if r.kind == "mutant" and not r.caught:
                print(f"- not caught by the public tests: {r.chapter} {r.function} / {r.name}")
    rejected = [r for r in results if r.kind == "variant" and not r.accepted]
    for r in rejected:
        print(f"- CORRECT variant fails the public tests: {r.chapter} {r.function} / {r.name}\n    {r.output[:300]}")
    return 1 if rejected else 0
