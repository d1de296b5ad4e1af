"""``dlnp report``: what the class got right and wrong, and how grading went, for a graded batch.

:func:`build_report` turns a graded folder into plain data (the ``--format json``
output); :func:`render_html` turns that data into one self-contained HTML page: plots
drawn with matplotlib (Agg) and embedded as base64 SVG, tables sortable and paged by
a few lines of inline JavaScript, no server, no network, nothing fetched.

Definitions (per chapter and per function, for every student in the gradebook):

* full marks: score == max score;
* not started: every hidden test of it reports ``not_implemented``;
* failing: started, below the pass mark (default 50% of its points);
* partial: started, at or above the pass mark but below full marks;
* not graded: no hidden test of it ran for that student (grading failed).

Diagnosed mistakes are the ``Likely mistake (<name>)`` lines that the graders write in
the tests' outputs; a student counts once per mistake, however many tests show it.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from typing import Any

from .graded import GradedBatch, HiddenTest, Json, StudentResults

#: ``Likely mistake (<name>)``: the diagnosis names the graders emit (one level of nested parentheses allowed).
MISTAKE = re.compile(r"Likely mistake \(((?:[^()]|\([^()]*\))+)\)")
STATES = ("full", "partial", "failing", "not_started", "not_graded")
STATE_LABELS = {"full": "full marks", "partial": "partial", "failing": "failing", "not_started": "not started",
                "not_graded": "not graded"}
STATE_COLORS = {"full": "#2e7d32", "partial": "#9ccc65", "failing": "#e53935", "not_started": "#bdbdbd",
                "not_graded": "#6d4c41"}
FAILURE_OUTCOMES = ("timeout", "crash", "error", "grader_error")


def mistakes_in(output: str) -> list[str]:
    """The diagnosis names in one test output, in order, without repeats."""
    return list(dict.fromkeys(m.strip() for m in MISTAKE.findall(output)))


def classify(tests: Sequence[HiddenTest], pass_mark: float) -> str:
    """The state (one of :data:`STATES`) of a group of tests: one function's or one chapter's."""
    if not tests:
        return "not_graded"
    if all(t.outcome == "not_implemented" for t in tests):
        return "not_started"
    score = sum(t.score for t in tests)
    max_score = sum(t.max_score for t in tests)
    if score >= max_score:
        return "full"
    return "failing" if score < pass_mark * max_score else "partial"


def _summary(values: Sequence[float]) -> Json:
    if not values:
        return {"n": 0, "mean": 0.0, "median": 0.0, "min": 0.0, "max": 0.0}
    return {"n": len(values), "mean": round(statistics.fmean(values), 4), "median": round(statistics.median(values), 4),
            "min": round(min(values), 4), "max": round(max(values), 4)}


def _shares(states: Iterable[str]) -> Json:
    counts = Counter(states)
    total = sum(counts.values()) or 1
    return {s: {"count": counts.get(s, 0), "share": round(counts.get(s, 0) / total, 4)} for s in STATES}


def anonymise(text: str, names: Iterable[str], limit: int = 900) -> str:
    """``text`` with every student id replaced (longest first) and cut to ``limit`` characters."""
    for name in sorted(set(names), key=len, reverse=True):
        if len(name) >= 2:
            text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "<student>", text)
    text = re.sub(r"/\S*/neural_network/", "neural_network/", text)  # paths of the grading machine
    return text if len(text) <= limit else text[:limit] + " [...]"


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def build_report(batch: GradedBatch, *, pass_mark: float = 0.5, anonymous: bool = False) -> Json:
    """Every number of the report, as JSON-ready data (the ``--format json`` output)."""
    manifest = batch.manifest
    titles = {c.id: c.title for c in manifest.chapters}
    chapter_ids = batch.chapter_ids()
    students = list(batch.students.values())
    aliases = {r.student: f"student {i + 1:03d}" for i, r in enumerate(students)} if anonymous else {}

    def label(student: str) -> str:
        return aliases.get(student, student)

    tests_of = {r.student: r.tests for r in students}
    chapters: list[Json] = []
    functions: list[Json] = []
    for cid in chapter_ids:
        scores = [r.chapter(cid)[0] for r in students]
        states = [classify([t for t in tests_of[r.student] if t.chapter == cid], pass_mark) for r in students]
        max_score = batch.chapter_max(cid)
        chapters.append({"id": cid, "title": titles.get(cid, ""), "max_score": max_score, "scores": _summary(scores),
                         "states": _shares(states), "histogram": _histogram(scores, max_score)})
        chapter = manifest.chapter(cid)
        for function in chapter.functions:
            per_student = [[t for t in tests_of[r.student] if t.chapter == cid and t.function == function.name]
                           for r in students]
            f_scores = [sum(t.score for t in ts) for ts in per_student]
            f_max = max((sum(t.max_score for t in ts) for ts in per_student), default=0.0)
            functions.append({"function": function.name, "chapter": cid, "max_score": f_max,
                              "scores": _summary(f_scores),
                              "states": _shares(classify(ts, pass_mark) for ts in per_student)})

    mistakes = _mistakes(students, tests_of, batch)
    failures: Counter[tuple[str, str]] = Counter()
    undiagnosed: Counter[str] = Counter()
    for r in students:
        for t in tests_of[r.student]:
            if mistakes_in(t.output):
                continue  # counted with its diagnosis
            if t.outcome in FAILURE_OUTCOMES:
                failures[(t.function, t.outcome)] += 1
            elif t.outcome == "failed":
                undiagnosed[t.function] += 1
    health = _health(batch, students, tests_of, label)
    rows: list[Json] = [{"student": label(r.student), "score": r.score, "max_score": r.max_score,
             "percent": round(100 * r.score / r.max_score, 2) if r.max_score else 0.0,
             "chapters": {cid: r.chapter(cid)[0] for cid in chapter_ids}, "complete": r.complete,
             "seconds": r.execution_time} for r in students]
    totals = [float(row["percent"]) for row in rows]
    return {
        "title": "Class report",
        "graded_dir": str(batch.root),
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "pass_mark": pass_mark,
        "anonymous": anonymous,
        "class": {"students": len(students), "gradable": sum(r.complete for r in students),
                  "max_score": max((r.max_score for r in students), default=0.0),
                  "scores": _summary([r.score for r in students]), "percent": _summary(totals),
                  "histogram": _histogram(totals, 100.0)},
        "chapters": chapters,
        "functions": functions,
        "mistakes": mistakes,
        "other_failures": [{"function": f, "outcome": o, "tests": n}
                           for (f, o), n in sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))],
        "undiagnosed_failures": [{"function": f, "tests": n} for f, n in undiagnosed.most_common()],
        "health": health,
        "students": rows,
    }


def _histogram(values: Sequence[float], max_score: float, bins: int = 10) -> Json:
    """Counts in ``bins`` equal bins over [0, max_score]; a full score falls in the last bin."""
    counts = [0] * bins
    for value in values:
        index = int(bins * value / max_score) if max_score > 0 else 0
        counts[min(bins - 1, max(0, index))] += 1
    return {"edges": [round(max_score * i / bins, 4) for i in range(bins + 1)], "counts": counts}


def _mistakes(students: Sequence[StudentResults], tests_of: dict[str, list[HiddenTest]],
              batch: GradedBatch) -> list[Json]:
    who: dict[str, set[str]] = {}
    occurrences: Counter[str] = Counter()
    functions: dict[str, Counter[str]] = {}
    chapters: dict[str, set[str]] = {}
    example: dict[str, str] = {}
    for r in students:
        for t in tests_of[r.student]:
            for name in mistakes_in(t.output):
                who.setdefault(name, set()).add(r.student)
                occurrences[name] += 1
                functions.setdefault(name, Counter())[t.function] += 1
                chapters.setdefault(name, set()).add(t.chapter)
                shortest = example.get(name)
                if shortest is None or len(t.output) < len(shortest):  # the shortest feedback reads best
                    example[name] = t.output
    order = {c.id: i for i, c in enumerate(batch.manifest.chapters)}
    ranked = sorted(who, key=lambda n: (-len(who[n]), -occurrences[n], n))
    return [{"name": name, "students": len(who[name]), "tests": occurrences[name],
             "functions": dict(functions[name].most_common()),
             "chapters": sorted(chapters[name], key=lambda c: order.get(c, 99)),
             "example": anonymise(example[name], batch.students)} for name in ranked]


def _health(batch: GradedBatch, students: Sequence[StudentResults], tests_of: dict[str, list[HiddenTest]],
            label: Any) -> Json:
    times = [r.execution_time for r in students if r.complete]
    timeouts = [{"student": label(r.student), "function": t.function, "test": t.name}
                for r in students for t in tests_of[r.student] if t.outcome == "timeout"]
    crashes = [{"student": label(r.student), "function": t.function, "test": t.name, "outcome": t.outcome}
               for r in students for t in tests_of[r.student] if t.outcome in ("crash", "grader_error")]
    notes = sorted({r.sandbox_note for r in students if r.sandbox_note})
    versions = Counter(str(r.grading.get("kit_version", "unknown")) for r in students)
    fingerprints = Counter(str(r.grading.get("fingerprint", "unknown")) for r in students)
    slowest = sorted(students, key=lambda r: -r.execution_time)[:10]
    return {
        "not_gradable": [{"student": label(r.student), "why": "; ".join(r.problems) or "grading incomplete"}
                         for r in students if not r.complete],
        "timeouts": timeouts,
        "crashes": crashes,
        "isolation": dict(Counter(r.isolation for r in students).most_common()),
        "sandbox_notes": notes,
        "seconds": {"total": round(sum(times), 2), "median": round(statistics.median(times), 3) if times else 0.0,
                    "p90": round(_percentile(times, 0.9), 3), "max": round(max(times, default=0.0), 3)},
        "time_histogram": _histogram(times, max(times, default=0.0) or 1.0),
        "slowest": [{"student": label(r.student), "seconds": r.execution_time} for r in slowest],
        "kit_versions": dict(versions.most_common()),
        "fingerprints": len(fingerprints),
        "gradebook": check_gradebook(batch),
    }


def check_gradebook(batch: GradedBatch) -> Json:
    """Does ``gradebook.csv`` say what the results files say? (A stale gradebook is a grading problem.)"""
    if batch.gradebook is None:
        return {"present": False, "agrees": False, "differences": ["gradebook.csv is missing"]}
    differences: list[str] = []
    rows = {row.get("student", ""): row for row in batch.gradebook}
    chapter_ids = batch.chapter_ids()
    if set(rows) != set(batch.students):
        extra = sorted(set(rows) ^ set(batch.students))
        differences.append(f"students in only one of gradebook.csv and results/: {', '.join(extra[:10])}")
    for student, results in batch.students.items():
        row = rows.get(student)
        if row is None:
            continue
        columns = {"score": results.score, "max_score": results.max_score}
        columns |= {cid: results.chapter(cid)[0] for cid in chapter_ids}
        for column, value in columns.items():
            try:
                agrees = abs(float(row.get(column, "nan")) - value) < 1e-6
            except ValueError:
                agrees = False
            if not agrees:
                differences.append(f"{student} {column}: gradebook {row.get(column)!r}, results {value:g}")
    return {"present": True, "agrees": not differences, "differences": differences[:20]}


# ----------------------------------------------------------------------------- plots


def _figure_uri(fig: Any) -> str:
    """A matplotlib figure as a ``data:`` URI (SVG with real text, so it stays small)."""
    plt = _pyplot()
    buffer = io.BytesIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dlnp"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only, never a window); untyped, so Any."""
    import_module("matplotlib").use("Agg")
    plt: Any = import_module("matplotlib.pyplot")
    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def plot_histogram(hist: Json, xlabel: str, title: str) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 2.4))
    edges: list[float] = hist["edges"]
    ax.bar(edges[:-1], hist["counts"], width=[b - a for a, b in itertools.pairwise(edges)],
           align="edge", color="#1565c0", edgecolor="white")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("students")
    ax.set_title(title)
    return _figure_uri(fig)


def plot_chapter_histograms(chapters: Sequence[Json]) -> str:
    """Small multiples: one score histogram per chapter."""
    plt = _pyplot()
    n = len(chapters)
    cols = min(4, max(1, n))
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 1.9 * rows), squeeze=False)
    for ax, chapter in zip(axes.flat, chapters, strict=False):
        hist = chapter["histogram"]
        edges: list[float] = hist["edges"]
        ax.bar(edges[:-1], hist["counts"], width=[b - a for a, b in itertools.pairwise(edges)],
               align="edge", color="#1565c0", edgecolor="white")
        ax.set_title(f"{chapter['id']} (max {chapter['max_score']:g})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.supxlabel("points")
    fig.supylabel("students")
    fig.tight_layout()
    return _figure_uri(fig)


def plot_states(items: Sequence[Json], labels: Sequence[str], title: str) -> str:
    """One stacked horizontal bar per item: the shares of full / partial / failing / not started / not graded."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 0.5 + 0.28 * len(items)))
    left = [0.0] * len(items)
    positions = list(range(len(items)))[::-1]
    for state in STATES:
        shares = [100 * item["states"][state]["share"] for item in items]
        if not any(shares):
            continue
        ax.barh(positions, shares, left=left, color=STATE_COLORS[state], label=STATE_LABELS[state], height=0.75)
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.set_yticks(positions, labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of students")
    ax.legend(ncol=5, fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, title=title,
              title_fontsize=9, alignment="left")
    return _figure_uri(fig)


def plot_mistakes(mistakes: Sequence[Json], top: int = 15) -> str:
    plt = _pyplot()
    shown = list(mistakes[:top])
    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.3 * len(shown)))
    positions = list(range(len(shown)))[::-1]
    ax.barh(positions, [m["students"] for m in shown], color="#e53935", height=0.7)
    ax.set_yticks(positions, [f"{m['name']} ({', '.join(m['functions'])})"[:60] for m in shown])
    ax.set_xlabel("students")
    ax.set_title(f"The {len(shown)} most frequent diagnosed mistakes")
    return _figure_uri(fig)


# ----------------------------------------------------------------------------- HTML

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:0 1.2em 3em;
color:#212121}
h1{margin-bottom:.1em}h2{border-bottom:2px solid #1565c0;padding-bottom:.2em;margin-top:2em}
.muted{color:#666}.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.5em .9em;min-width:9em}
.card b{display:block;font-size:1.5em}.warn{color:#b71c1c}.ok{color:#2e7d32}
table{border-collapse:collapse;width:100%;margin:.6em 0;font-size:13px}
th,td{border-bottom:1px solid #e0e0e0;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f5f5f5;cursor:pointer;user-select:none;white-space:nowrap}
th.sorted-asc::after{content:" \\25B2"}th.sorted-desc::after{content:" \\25BC"}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#fafafa;border:1px solid #eee;padding:.5em;white-space:pre-wrap;font-size:12px;margin:.2em 0}
.tools{display:flex;gap:1em;align-items:center;margin-top:.8em}.pager button{margin:0 .2em}
img{max-width:100%}details summary{cursor:pointer;color:#1565c0}
nav a{margin-right:1em}
"""

SCRIPT = """
document.querySelectorAll("table.data").forEach(function (table) {
  var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows), shown = rows;
  var size = parseInt(table.dataset.page || "25", 10), page = 0;
  var tools = document.createElement("div"); tools.className = "tools";
  var filter = document.createElement("input"); filter.placeholder = "filter rows..."; filter.type = "search";
  var pager = document.createElement("span"); pager.className = "pager";
  tools.appendChild(filter); tools.appendChild(pager); table.parentNode.insertBefore(tools, table);
  function render() {
    var pages = Math.max(1, Math.ceil(shown.length / size)); page = Math.min(page, pages - 1);
    rows.forEach(function (r) { r.style.display = "none"; });
    shown.forEach(function (r, i) { body.appendChild(r); if (Math.floor(i / size) === page) r.style.display = ""; });
    pager.innerHTML = shown.length + " rows";
    if (pages > 1) {
      pager.innerHTML += " - page " + (page + 1) + " of " + pages + " ";
      [["<", page - 1], [">", page + 1]].forEach(function (b) {
        var button = document.createElement("button"); button.textContent = b[0];
        button.disabled = b[1] < 0 || b[1] >= pages;
        button.onclick = function () { page = b[1]; render(); }; pager.appendChild(button);
      });
    }
  }
  filter.oninput = function () {
    var q = filter.value.toLowerCase();
    shown = rows.filter(function (r) { return r.textContent.toLowerCase().indexOf(q) >= 0; }); page = 0; render();
  };
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.onclick = function () {
      var asc = !th.classList.contains("sorted-asc");
      Array.prototype.forEach.call(th.parentNode.cells, function (c) {
        c.classList.remove("sorted-asc", "sorted-desc"); });
      th.classList.add(asc ? "sorted-asc" : "sorted-desc");
      function key(r) { var t = r.cells[col].dataset.v || r.cells[col].textContent; var x = parseFloat(t);
        return isNaN(x) ? t.toLowerCase() : x; }
      var sorted = rows.slice().sort(function (a, b) { var x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
      rows = sorted; filter.oninput();
    };
  });
  render();
});
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(x: float) -> str:
    """A number for a table: at most two decimals, no trailing zeros."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _pct(share: float) -> str:
    return f"{100 * share:.0f}%"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = (), page: int = 25) -> str:
    """A sortable, filterable, paged table (``numeric``: column indexes aligned right)."""
    head = "".join(f'<th class="num">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
                   for i, h in enumerate(headers))
    body: list[str] = []
    for row in rows:
        cells: list[str] = []
        for i, cell in enumerate(row):
            if isinstance(cell, tuple):  # (html, sort value)
                text, value = cell  # pyright: ignore[reportUnknownVariableType]
                cells.append(f'<td data-v="{_e(value)}">{text}</td>')
            elif i in numeric:
                cells.append(f'<td class="num">{_e(_num(cell) if isinstance(cell, float) else cell)}</td>')
            else:
                cells.append(f"<td>{_e(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="data" data-page="{page}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def _states_cells(states: Json) -> list[str]:
    return [_pct(states[s]["share"]) for s in ("full", "partial", "failing", "not_started")]


def render_html(report: Json) -> str:
    """The report as one self-contained HTML page."""
    klass, health = report["class"], report["health"]
    chapters: list[Json] = report["chapters"]
    parts: list[str] = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(report['title'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(report['title'])}</h1>",
        f"<p class='muted'>{_e(report['graded_dir'])} - generated {_e(report['generated'])} - pass mark "
        f"{_pct(report['pass_mark'])} of a chapter's or function's points</p>",
        "<nav><a href='#chapters'>Chapters</a><a href='#mistakes'>Mistakes</a><a href='#functions'>Functions</a>"
        "<a href='#health'>Grading health</a><a href='#students'>Students</a></nav>",
        "<div class='cards'>",
        f"<div class='card'>students<b>{klass['students']}</b></div>",
        f"<div class='card'>graded completely<b>{klass['gradable']}</b></div>",
        f"<div class='card'>mean score<b>{_num(klass['scores']['mean'])} / {_num(klass['max_score'])}</b></div>",
        f"<div class='card'>median<b>{klass['percent']['median']:.0f}%</b></div>",
        f"<div class='card'>diagnosed mistakes<b>{len(report['mistakes'])}</b></div>",
        "</div>",
    ]
    if klass["students"]:
        uri = plot_histogram(klass["histogram"], "% of the points", "Total scores")
        parts.append(f"<img alt='total scores' src='{uri}'>")

    parts.append("<h2 id='chapters'>Chapters</h2>")
    if chapters:
        uri = plot_states(chapters, [c["id"] for c in chapters], "Per chapter")
        parts.append(f"<img alt='chapter states' src='{uri}'>")
        parts.append(f"<img alt='chapter histograms' src='{plot_chapter_histograms(chapters)}'>")
    parts.append(_table(
        ["chapter", "title", "max", "mean", "median", "full marks", "partial", "failing", "not started"],
        ([c["id"], c["title"], c["max_score"], c["scores"]["mean"], c["scores"]["median"], *_states_cells(c["states"])]
         for c in chapters), numeric=(2, 3, 4, 5, 6, 7, 8), page=50))

    parts.append("<h2 id='mistakes'>Most frequent diagnosed mistakes</h2>")
    parts.append("<p class='muted'>The names come from the graders' <code>Likely mistake (...)</code> feedback; "
                 "a student counts once per mistake. The example is one student's feedback, anonymised.</p>")
    mistakes: list[Json] = report["mistakes"]
    if mistakes:
        parts.append(f"<img alt='mistakes' src='{plot_mistakes(mistakes)}'>")
        parts.append(_table(
            ["mistake", "students", "tests", "functions", "chapters", "example feedback"],
            ([m["name"], m["students"], m["tests"], ", ".join(f"{k} ({v})" for k, v in m["functions"].items()),
              ", ".join(m["chapters"]),
              (f"<details><summary>show</summary><pre>{_e(m['example'])}</pre></details>", m["name"])]
             for m in mistakes), numeric=(1, 2), page=20))
    else:
        parts.append("<p>No diagnosed mistake in this batch.</p>")
    if report["other_failures"]:
        parts.append("<h3>Timeouts, crashes and errors without a named diagnosis</h3>")
        parts.append(_table(["function", "outcome", "tests"],
                            ([f["function"], f["outcome"], f["tests"]] for f in report["other_failures"]),
                            numeric=(2,)))
    if report["undiagnosed_failures"]:
        parts.append("<h3>Wrong results without a named diagnosis</h3>")
        parts.append(_table(["function", "tests"],
                            ([f["function"], f["tests"]] for f in report["undiagnosed_failures"]), numeric=(1,)))

    parts.append("<h2 id='functions'>Functions</h2>")
    by_chapter: dict[str, list[Json]] = {}
    for f in report["functions"]:
        by_chapter.setdefault(f["chapter"], []).append(f)
    figures = [plot_states(fs, [f["function"] for f in fs], f"Chapter {cid}") for cid, fs in by_chapter.items()
               if len(fs) > 1 or len(by_chapter) <= 6]
    if figures:
        parts.append("<details><summary>per-function bars, one plot per chapter</summary>")
        parts += [f"<img alt='functions' src='{uri}'>" for uri in figures]
        parts.append("</details>")
    parts.append(_table(
        ["function", "chapter", "max", "mean", "full marks", "partial", "failing", "not started"],
        ([f["function"], f["chapter"], f["max_score"], f["scores"]["mean"], *_states_cells(f["states"])]
         for f in report["functions"]), numeric=(2, 3, 4, 5, 6, 7), page=25))

    parts += _health_html(health)

    parts.append("<h2 id='students'>Students</h2>")
    ids = [c["id"] for c in chapters]
    parts.append(_table(
        ["student", "score", "%", *ids, "graded", "seconds"],
        ([s["student"], s["score"], s["percent"], *[s["chapters"].get(i, 0.0) for i in ids],
          "yes" if s["complete"] else "NO", s["seconds"]] for s in report["students"]),
        numeric=(*range(1, 3 + len(ids)), 4 + len(ids)), page=50))
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _health_html(health: Json) -> list[str]:
    seconds = health["seconds"]
    gradebook = health["gradebook"]
    isolation = ", ".join(f"{k}: {v}" for k, v in health["isolation"].items())
    parts = [
        "<h2 id='health'>Grading health</h2><ul>",
        f"<li>Students not gradable: <b class='{'warn' if health['not_gradable'] else 'ok'}'>"
        f"{len(health['not_gradable'])}</b></li>",
        f"<li>Tests that timed out: <b>{len(health['timeouts'])}</b>; crashed or machine errors: "
        f"<b>{len(health['crashes'])}</b></li>",
        f"<li>Sandbox (isolation of student code): {_e(isolation)}</li>",
        f"<li>Time per submission: median {seconds['median']:g} s, 90th percentile {seconds['p90']:g} s, "
        f"max {seconds['max']:g} s (total {seconds['total']:g} s)</li>",
        f"<li>Kit versions: {_e(', '.join(f'{k} ({v})' for k, v in health['kit_versions'].items()))}"
        + (" <b class='warn'>(graded with different settings: regrade the batch)</b>" if health["fingerprints"] > 1
           else "") + "</li>",
        f"<li>gradebook.csv agrees with results/: <b class='{'ok' if gradebook['agrees'] else 'warn'}'>"
        f"{'yes' if gradebook['agrees'] else 'NO'}</b></li>",
    ]
    parts += [f"<li class='warn'>{_e(note)}</li>" for note in health["sandbox_notes"]]
    parts += [f"<li class='warn'>{_e(d)}</li>" for d in gradebook["differences"]]
    parts.append("</ul>")
    if health["not_gradable"]:
        parts.append("<h3>Not gradable</h3>")
        parts.append(_table(["student", "why"], ([s["student"], s["why"]] for s in health["not_gradable"])))
    if health["timeouts"] or health["crashes"]:
        parts.append("<h3>Timeouts and crashes</h3>")
        parts.append(_table(["student", "function", "test", "outcome"],
                            [*([t["student"], t["function"], t["test"], "timeout"] for t in health["timeouts"]),
                             *([t["student"], t["function"], t["test"], t["outcome"]] for t in health["crashes"])]))
    if seconds["max"] > 0:
        parts.append(f"<img alt='time per submission' src='"
                     f"{plot_histogram(health['time_histogram'], 'seconds', 'Time per submission')}'>")
    return parts


def write_report(batch: GradedBatch, out_dir: Path, *, fmt: str = "html", pass_mark: float = 0.5,
                 anonymous: bool = False) -> Path:
    """Write ``index.html`` (or ``report.json``) into ``out_dir``; return the file written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(batch, pass_mark=pass_mark, anonymous=anonymous)
    if fmt == "json":
        path = out / "report.json"
        path.write_text(json.dumps(report, indent=2) + "\n")
    else:
        path = out / "index.html"
        path.write_text(render_html(report))
    return path
