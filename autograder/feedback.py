"""Per-student feedback in Markdown, written from the results (never from student output)."""

from __future__ import annotations

import textwrap

from dlnp.manifest import Manifest

from .results import GradingResults, Outcome, TestResult, isolation_warning

SYMBOL: dict[Outcome, str] = {
    "passed": "PASS", "failed": "FAIL", "not_implemented": "TODO", "timeout": "TIME", "crash": "CRASH",
    "error": "ERROR", "grader_error": "ERROR", "not_run": "NOT RUN", "skipped": "SKIP",
}


def feedback_markdown(student: str, results: GradingResults, manifest: Manifest) -> str:
    """The feedback file of ``student``: score, per-chapter table, every failed check with its message."""
    lines = [f"# Feedback for {student}", ""]
    warning = isolation_warning(results)
    if warning:
        lines += [f"**{warning}**", ""]
    lines.append(f"**Score: {results['score']:g} / {results['max_score']:g}**")
    problems = [p for p in results["grading"]["problems"] if p not in results["output"]]
    if not results["grading"]["complete"] and problems:
        lines += ["", "**Not graded completely:** " + "; ".join(problems)]
    if results["output"]:
        lines += ["", results["output"]]
    lines += ["", "| chapter | title | score |", "|---|---|---|"]
    chapters = results["chapters"]
    for chapter in manifest.chapters:
        entry = chapters.get(chapter.id, {"score": 0.0, "max_score": 0.0})
        if entry["max_score"]:
            lines.append(f"| {chapter.id} | {chapter.title} | {entry['score']:g} / {entry['max_score']:g} |")
    by_chapter: dict[str, list[TestResult]] = {}
    for test in results["tests"]:
        by_chapter.setdefault(test["number"], []).append(test)
    for chapter in manifest.chapters:
        tests = by_chapter.get(chapter.id, [])
        failing = [t for t in tests if t["status"] != "passed"]
        if not tests:
            continue
        lines += ["", f"## {chapter.id} {chapter.title}", ""]
        if not failing:
            lines.append("All hidden checks passed.")
            continue
        todo = [t for t in failing if t["extra_data"]["outcome"] == "not_implemented"]
        if len(todo) == len(tests):
            lines.append("Not started yet: every function still raises NotImplementedError.")
            continue
        for test in tests:
            outcome = test["extra_data"]["outcome"]
            lines.append(f"- **{SYMBOL.get(outcome, outcome)}** {test['name']} "
                         f"({test['score']:g}/{test['max_score']:g})")
            if test["status"] != "passed" and test["output"]:
                body = textwrap.indent(test["output"], "      ")
                lines += ["", body, ""]
    return "\n".join(lines) + "\n"
