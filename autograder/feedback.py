"""Per-student feedback in Markdown, written from a results dict (never from student output)."""

from __future__ import annotations

import textwrap
from typing import Any

from dlnp.manifest import Manifest

SYMBOL = {"passed": "PASS", "failed": "FAIL", "not_implemented": "TODO", "timeout": "TIME",
          "crash": "CRASH", "error": "ERROR", "grader_error": "ERROR"}


def feedback_markdown(student: str, results: dict[str, Any], manifest: Manifest) -> str:
    lines = [f"# Feedback for {student}", ""]
    lines.append(f"**Score: {results.get('score', 0):g} / {results.get('max_score', 0):g}**")
    if results.get("output"):
        lines += ["", str(results["output"])]
    lines += ["", "| chapter | title | score |", "|---|---|---|"]
    chapters = results.get("chapters", {})
    for chapter in manifest.chapters:
        entry = chapters.get(chapter.id, {"score": 0, "max_score": 0})
        if entry.get("max_score", 0):
            lines.append(f"| {chapter.id} | {chapter.title} | {entry['score']:g} / {entry['max_score']:g} |")
    by_chapter: dict[str, list[dict[str, Any]]] = {}
    for test in results.get("tests", []):
        by_chapter.setdefault(str(test.get("number")), []).append(test)
    for chapter in manifest.chapters:
        tests = by_chapter.get(chapter.id, [])
        failing = [t for t in tests if t.get("status") != "passed"]
        if not tests:
            continue
        lines += ["", f"## {chapter.id} {chapter.title}", ""]
        if not failing:
            lines.append("All hidden checks passed.")
            continue
        todo = [t for t in failing if t.get("extra_data", {}).get("outcome") == "not_implemented"]
        if len(todo) == len(tests):
            lines.append("Not started yet: every function still raises NotImplementedError.")
            continue
        for test in tests:
            outcome = test.get("extra_data", {}).get("outcome", test.get("status"))
            lines.append(f"- **{SYMBOL.get(outcome, outcome)}** {test['name']} "
                         f"({test['score']:g}/{test['max_score']:g})")
            if test.get("status") != "passed" and test.get("output"):
                body = textwrap.indent(str(test["output"]), "      ")
                lines += ["", body, ""]
    return "\n".join(lines) + "\n"
