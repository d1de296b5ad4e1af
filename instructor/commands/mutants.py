"""``dlnp mutants [--report]``: grade the mutant corpus; fail if any mutant survives."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("mutants", help="mutation-test the hidden graders with tests/mutants (kill rate per chapter)")
    p.add_argument("--report", action="store_true", help="also list every surviving or undiagnosed mutant")
    p.add_argument("--function", action="append", help="only mutants/variants of this function (repeatable)")
    p.add_argument("--readme", action="store_true", help="write the table into README.md's mutants section")
    p.add_argument("--jobs", type=int, default=2, help="grading processes in parallel (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..mutation import load_corpus, report_table, run_corpus
    from ..paths import README

    mutants, variants = load_corpus()
    if args.function:
        mutants = [m for m in mutants if m.function in args.function]
        variants = [v for v in variants if v.function in args.function]
    bar = tqdm(total=len(mutants) + len(variants), desc="mutants", unit="grade", file=sys.stderr)
    def step(_: str) -> None:
        bar.update(1)

    m_results, v_results = run_corpus(mutants, variants, progress=step, jobs=args.jobs)
    bar.close()
    table = report_table(m_results, v_results)
    print(table)
    if args.readme:
        import re

        readme = README
        block = f"<!-- mutants:start -->\n{table}\n<!-- mutants:end -->"
        readme.write_text(re.sub(r"<!-- mutants:start -->.*?<!-- mutants:end -->", lambda _: block,
                                 readme.read_text(), flags=re.S))
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
