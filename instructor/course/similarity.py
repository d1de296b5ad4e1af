"""``dlnp similar``: pairs of submissions whose graded functions are identical or nearly so.

A hint for a human, never a verdict: short functions have few ways to be written, and
students who learn from the same lecture write alike. The method:

1. Every graded function or class of every submission is **normalised** from its AST:
   docstrings, comments, annotations and formatting disappear, and parameters and
   local names are renamed canonically (``v0``, ``v1``... in order of appearance), so a
   copy with renamed variables and new comments is *identical*. Attributes, globals
   and called functions (``np.mean``, ``self.W``) keep their names.
2. What every student shares is **not evidence**: a function still equal to the stub
   (its body only raises ``NotImplementedError``) never counts, and a form that many
   submissions have (the textbook one-liner, the lecture's algorithm) counts little.
3. Per function, a pair is *verbatim* (same source text), *identical* (same normalised
   form) or *near-identical* (token similarity of the normalised forms at least
   ``near``, 0.9 by default, by :class:`difflib.SequenceMatcher`).
4. Each match weighs what it would take to happen by chance: if ``k`` of the ``n``
   submissions wrote that form (for a near-identical match: that form or one
   near-identical to it), the surprisal of the match is ``-ln((k - 1) / (n - 1))``.
   A pair is flagged when the sum over its matches makes the expected number of such
   coincidences among all the pairs of the class smaller than 1 in 100, or when its
   two packages are byte-identical (and not the untouched release). The similarity
   shown is the share of the pair's own code (in tokens) that matches.

Identical forms are grouped by hashing, so only near-identical candidates are compared
pairwise, after two cheap filters (length ratio, shared token 4-grams).
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import io
import math
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from dlnp.manifest import Manifest, load_manifest

from .graded import Json

DISCLAIMER = ("This is a hint for a human, not a verdict: read the code of each flagged pair side by side. "
              "Short functions have few ways to be written, and students who learn from the same lecture write "
              "alike; identical mistakes and identical unusual choices are what weigh.")


# ----------------------------------------------------------------------------- normalisation


class _Canonical(ast.NodeTransformer):
    """Drop docstrings and annotations; rename parameters and locals to v0, v1, ..."""

    def __init__(self, local: set[str]) -> None:
        self.local = local
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        if name not in self.local:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self._name(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._name(node.arg)
        node.annotation = None
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        if node.value is None:
            return None  # a bare declaration does nothing
        return self.visit(ast.Assign([node.target], node.value, lineno=node.lineno))

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        return [s for s in body if not isinstance(s, ast.Pass)] or [ast.Pass()]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = self._name(node.name)
        node.returns = None
        node.body = self._body(node.body)
        self.generic_visit(node)
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        node.returns = None
        node.body = self._body(node.body)
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        self.generic_visit(node)
        return node


def _local_names(node: ast.AST) -> set[str]:
    """Parameters and names bound inside ``node`` (its own name excluded)."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg) and sub.arg not in ("self", "cls"):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub is not node:
            if not isinstance(node, ast.ClassDef):
                names.add(sub.name)  # nested helpers; methods of a class keep their names (the API)
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            names.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in sub.names}
    return names


def is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> bool:
    """Still the release's stub: only docstrings, ``pass``, ``...`` or ``raise NotImplementedError``."""
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        return all(is_stub(m) for m in methods)
    for stmt in node.body:
        if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            continue
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                continue
        return False
    return True


def normalise(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """The canonical text of a definition: no docstrings, comments or annotations; locals renamed."""
    node = copy.deepcopy(node)
    if isinstance(node, ast.ClassDef):
        node.name = "C"
        node.decorator_list = []
        methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for method in methods:  # each method is its own scope
            _Canonical(_local_names(method)).visit(method)
        node.body = _Canonical(set())._body(node.body)  # pyright: ignore[reportPrivateUsage]
        node.body = [s for s in node.body if not isinstance(s, ast.AnnAssign) or s.value is not None]
    else:
        node.name = "f"
        node.decorator_list = []
        node = _Canonical(_local_names(node)).visit(node)
    return ast.unparse(ast.fix_missing_locations(node))


def tokens(text: str) -> list[str]:
    """Python tokens of a canonical text (layout tokens dropped)."""
    skip = {tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER, tokenize.COMMENT}
    try:
        return [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in skip]
    except (tokenize.TokenError, SyntaxError):
        return text.split()


@dataclass(frozen=True)
class Code:
    """One graded function (or class) of one submission."""

    function: str
    raw: str  # the source as written
    canonical: str
    size: int  # tokens of the canonical form
    stub: bool


def package_digest(submission: Path) -> str:
    """sha256 of the package's sources (the engine's ``submission_sha256``)."""
    h = hashlib.sha256()
    package = submission / "neural_network"
    if package.is_dir():
        for path in sorted(package.rglob("*.py")):
            h.update(str(path.relative_to(package)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def extract(submission: Path, manifest: Manifest, functions: Iterable[str] | None = None) -> dict[str, Code]:
    """The graded definitions of one submission (a module that does not parse contributes nothing)."""
    wanted = set(functions) if functions is not None else set(manifest.modules)
    found: dict[str, Code] = {}
    for module in sorted({m for f, m in manifest.modules.items() if f in wanted}):
        path = submission / "neural_network" / f"{module}.py"
        try:
            source = path.read_text()
            tree = ast.parse(source)
        except (OSError, SyntaxError, ValueError):
            continue
        lines = source.splitlines()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in wanted:
                raw = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                if is_stub(node):  # never evidence: no need to normalise it
                    found[node.name] = Code(node.name, raw, "", 0, True)
                    continue
                canonical = normalise(node)
                found[node.name] = Code(node.name, raw, canonical, len(tokens(canonical)), False)
    return found


# ----------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class Match:
    function: str
    kind: str  # verbatim, identical, near-identical
    similarity: float
    shared_by: int  # submissions that wrote this form or one near-identical to it
    size: int
    surprisal: float  # -ln(chance that another student writes it so), discounted for tiny functions


@dataclass
class Pair:
    a: str
    b: str
    similarity: float  # share of the pair's own code (tokens, stubs excluded) that matches
    identical_package: bool
    matches: list[Match] = field(default_factory=lambda: [])
    compared: int = 0  # tokens of the pair's own code
    evidence: float = 0.0  # sum of the matches' surprisal
    chance: float = 1.0  # expected number of pairs this alike in a class of honest students
    flagged: bool = False

    def as_json(self) -> Json:
        return {"a": self.a, "b": self.b, "similarity": round(self.similarity, 3), "flagged": self.flagged,
                "identical_package": self.identical_package, "compared_tokens": self.compared,
                "evidence": round(self.evidence, 2), "expected_by_chance": float(f"{self.chance:.3g}"),
                "functions": [{"function": m.function, "kind": m.kind, "similarity": round(m.similarity, 3),
                               "shared_by": m.shared_by} for m in self.matches]}


def _grams(seq: Sequence[str], n: int = 4) -> set[tuple[str, ...]]:
    return {tuple(seq[i:i + n]) for i in range(max(1, len(seq) - n + 1))}


def compare(codes: dict[str, dict[str, Code]], digests: dict[str, str] | None = None, *, near: float = 0.9,
            alpha: float = 0.01, small: int = 25) -> list[Pair]:
    """Every pair with some matching code or an identical package, most suspicious first.

    ``codes``: student -> function -> code; ``digests``: student -> package sha256.

    Each matching function is weighed by how unlikely the match is by chance: if ``k``
    of the ``n`` submissions wrote that form (or one near-identical to it), another
    student writes it with probability ``(k - 1) / (n - 1)``; its surprisal
    ``-ln p`` is scaled down for functions under ``small`` tokens. A pair is flagged when
    the sum over its matches makes the expected number of such coincidences among all
    pairs of the class fall below ``alpha`` (the functions taken as independent), or
    when the two packages are byte-identical and not the untouched release.
    """
    students = sorted(codes)
    n = len(students)
    n_pairs = max(1, n * (n - 1) // 2)
    crowd = max(5, n // 5)  # forms written by more students carry almost no evidence: not paired up
    matches: dict[tuple[str, str], list[Match]] = {}
    for function in sorted({f for c in codes.values() for f in c}):
        holders: dict[str, list[str]] = {}  # canonical form -> students
        for s in students:
            code = codes[s].get(function)
            if code is not None and not code.stub:
                holders.setdefault(code.canonical, []).append(s)
        near_pairs: list[tuple[str, str, float]] = []
        for (form_a, _), (form_b, _) in _near_candidates(holders, near):
            ratio = difflib.SequenceMatcher(None, fuzzy_tokens(form_a), fuzzy_tokens(form_b), autojunk=False).ratio()
            if ratio >= near:
                near_pairs.append((form_a, form_b, ratio))
        alike = {form: len(who) for form, who in holders.items()}  # wrote this form or one near-identical to it
        for form_a, form_b, _ in near_pairs:
            alike[form_a] += len(holders[form_b])
            alike[form_b] += len(holders[form_a])

        def match(a: str, b: str, kind: str, ratio: float, k: int, function: str = function) -> None:
            size = max(codes[a][function].size, codes[b][function].size)
            surprisal = -math.log(max(1, k - 1) / max(1, n - 1)) * min(1.0, size / small) * ratio
            x, y = sorted((a, b))
            matches.setdefault((x, y), []).append(Match(function, kind, ratio, k, size, surprisal))

        for who in holders.values():  # an identical form: as likely as its own count says
            if len(who) <= crowd:
                for a, b in combinations(who, 2):
                    match(a, b, "verbatim" if codes[a][function].raw == codes[b][function].raw else "identical",
                          1.0, len(who))
        for form_a, form_b, ratio in near_pairs:
            k = max(alike[form_a], alike[form_b])
            if k <= crowd:
                for a in holders[form_a]:
                    for b in holders[form_b]:
                        match(a, b, "near-identical", ratio, k)
    same_package: set[tuple[str, str]] = set()
    by_digest: dict[str, list[str]] = {}
    for s in students:
        if digests and s in digests and any(not c.stub for c in codes[s].values()):
            by_digest.setdefault(digests[s], []).append(s)
    for who in by_digest.values():
        same_package |= set(combinations(sorted(who), 2))
    pairs: list[Pair] = []
    for a, b in sorted(set(matches) | same_package):
        found = sorted(matches.get((a, b), []), key=lambda m: (-m.surprisal, m.function))
        compared = sum(max((c.size for c in (codes[a].get(f), codes[b].get(f)) if c is not None and not c.stub),
                           default=0) for f in set(codes[a]) | set(codes[b]))
        matched = sum(m.size * m.similarity for m in found)
        evidence = sum(m.surprisal for m in found)
        chance = n_pairs * math.exp(-evidence)
        identical = (a, b) in same_package
        pairs.append(Pair(a, b, min(1.0, matched / compared) if compared else 0.0, identical, found, compared,
                          evidence, chance, identical or chance < alpha))
    return sorted(pairs, key=lambda p: (not p.flagged, -p.evidence, p.a, p.b))


Forms = tuple[str, list[str]]  # a normalised form and the students who wrote it


def fuzzy_tokens(canonical: str) -> list[str]:
    """Tokens with every local name made the same: one inserted variable must not renumber the rest."""
    return ["v" if t[:1] == "v" and t[1:].isdigit() else t for t in tokens(canonical)]


def _near_candidates(forms: dict[str, list[str]], near: float) -> list[tuple[Forms, Forms]]:
    """Pairs of distinct forms that may be near-identical: lengths and shared token 4-grams allow it.

    A token similarity of ``near`` (matching tokens over the mean length) bounds both the
    length ratio and the overlap of the 4-gram sets, so most pairs are dismissed by two
    cheap tests before :class:`difflib.SequenceMatcher` runs.
    """
    items = list(forms.items())
    seqs = [fuzzy_tokens(form) for form, _ in items]
    grams = [_grams(seq) for seq in seqs]
    out: list[tuple[Forms, Forms]] = []
    for i, j in combinations(range(len(items)), 2):
        short, long = sorted((len(seqs[i]), len(seqs[j])))
        if 2 * short < near * (short + long):  # even a perfect match of the shorter one would be too little
            continue
        overlap = len(grams[i] & grams[j]) / max(1, min(len(grams[i]), len(grams[j])))
        if overlap >= 2 * near - 1.2:  # e.g. 0.6 for near = 0.9: generous, SequenceMatcher decides
            out.append((items[i], items[j]))
    return out


def list_submissions(root: Path) -> list[Path]:
    """Every folder directly under ``root`` is one submission (as for ``grade-batch``)."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


def similar_submissions(root: Path, *, functions: Iterable[str] | None = None, near: float = 0.9,
                        alpha: float = 0.01, manifest: Manifest | None = None) -> list[Pair]:
    """Compare every submission folder under ``root``."""
    manifest = manifest or load_manifest()
    wanted = list(functions) if functions is not None else None
    codes: dict[str, dict[str, Code]] = {}
    digests: dict[str, str] = {}
    for sub in list_submissions(root):
        codes[sub.name] = extract(sub, manifest, wanted)
        digests[sub.name] = package_digest(sub)
    return compare(codes, digests, near=near, alpha=alpha)


def identical_from_results(digests: dict[str, str], started: dict[str, bool]) -> list[Pair]:
    """Byte-identical packages from a graded folder alone (the results record each package's sha256)."""
    by_digest: dict[str, list[str]] = {}
    for student, digest in digests.items():
        if digest and started.get(student, False):
            by_digest.setdefault(digest, []).append(student)
    pairs = [Pair(a, b, 1.0, True, flagged=True) for who in by_digest.values() for a, b in combinations(sorted(who), 2)]
    return sorted(pairs, key=lambda p: (p.a, p.b))


def format_pairs(pairs: Sequence[Pair], *, show_all: bool = False) -> str:
    """A plain-text listing: flagged pairs first, each with its matching functions."""
    shown = [p for p in pairs if p.flagged or show_all]
    lines = [DISCLAIMER, ""]
    flagged = sum(p.flagged for p in pairs)
    lines.append(f"{flagged} flagged pair(s)" + (f", {len(shown) - flagged} more with some matching code"
                                                  if show_all else ""))
    for p in shown:
        mark = "FLAG" if p.flagged else "    "
        what = "byte-identical packages" if p.identical_package else f"{100 * p.similarity:.0f}% of their code alike"
        odds = f", expected by chance in {p.chance:.2g} pairs of this class" if p.matches else ""
        lines.append(f"{mark} {p.a} ~ {p.b}: {what}{odds}")
        for m in p.matches:
            ratio = f" ({100 * m.similarity:.0f}%)" if m.kind == "near-identical" else ""
            lines.append(f"       {m.function}: {m.kind}{ratio}, {m.shared_by} submission(s) wrote it so")
    return "\n".join(lines)
