"""Similarity: AST normalisation, what is never evidence, and how pairs are scored."""

from __future__ import annotations

import ast
from pathlib import Path

from instructor.course.similarity import Code, compare, extract, is_stub, normalise, tokens
from instructor.submissions import make_submission

ORIGINAL = '''
def normalize(X):
    """Standardize columns."""
    mean = np.mean(X, axis=0)  # column means
    std = np.std(X, axis=0)
    safe = np.where(std == 0, 1.0, std)
    return (X - mean) / safe
'''

DISGUISED = '''
def normalize(data: FloatArray) -> FloatArray:
    # my own version!
    mu = np.mean(data,
                 axis=0)
    sigma: FloatArray = np.std(data, axis=0)

    denominator = np.where(sigma == 0, 1.0, sigma)
    return (data - mu) / denominator
'''

OTHER = '''
def normalize(X):
    centred = X - X.mean(axis=0)
    std = np.sqrt((centred ** 2).mean(axis=0))
    return centred / np.where(std == 0, 1.0, std)
'''


def node(source: str) -> ast.FunctionDef:
    tree = ast.parse(source)
    assert isinstance(tree.body[0], ast.FunctionDef)
    return tree.body[0]


def test_renamed_commented_reformatted_copy_normalises_identically() -> None:
    assert normalise(node(ORIGINAL)) == normalise(node(DISGUISED))
    assert normalise(node(ORIGINAL)) != normalise(node(OTHER))
    canonical = normalise(node(ORIGINAL))
    assert "np.mean" in canonical and "v0" in canonical and "Standardize" not in canonical and "mean =" not in canonical


def test_stubs_are_recognised() -> None:
    assert is_stub(node('def f(X):\n    """doc"""\n    raise NotImplementedError("ch1.1: implement f")\n'))
    assert is_stub(node("def f(X):\n    pass\n"))
    assert not is_stub(node(ORIGINAL))
    klass = ast.parse('class L:\n    """doc"""\n    W: int\n    def forward(self, X):\n'
                      '        raise NotImplementedError\n').body[0]
    assert isinstance(klass, ast.ClassDef) and is_stub(klass)


def code(function: str, source: str, stub: bool = False) -> Code:
    canonical = "" if stub else normalise(node(source))
    return Code(function, source, canonical, len(tokens(canonical)), stub)


def test_common_forms_and_stubs_are_never_evidence() -> None:
    one_liner = "def relu(Z):\n    return np.maximum(Z, 0)\n"
    codes = {f"s{i}": {"relu": code("relu", one_liner), "normalize": code("normalize", "", stub=True)}
             for i in range(6)}
    pairs = compare(codes)
    assert pairs == []  # six students wrote the one-liner (shared knowledge), normalize is a stub everywhere
    codes["s0"]["normalize"] = code("normalize", ORIGINAL)
    codes["s1"]["normalize"] = code("normalize", DISGUISED)
    (pair,) = compare(codes)
    assert (pair.a, pair.b) == ("s0", "s1") and [m.kind for m in pair.matches] == ["identical"]
    assert not pair.flagged  # one function is not enough


def test_near_identical_after_an_inserted_line() -> None:
    padded = ORIGINAL.replace('    mean = np.mean', '    n_rows = X.shape[0]\n    mean = np.mean')
    softmax = ("def softmax(Z):\n    E = np.exp(Z - np.max(Z, axis=-1, keepdims=True))\n"
               "    return E / np.sum(E, axis=-1, keepdims=True)\n")
    codes = {"a": {"normalize": code("normalize", ORIGINAL), "softmax": code("softmax", softmax)},
             "b": {"normalize": code("normalize", padded), "softmax": code("softmax", softmax)},
             "c": {"normalize": code("normalize", OTHER)}}
    (pair,) = compare(codes)
    assert {m.function: m.kind for m in pair.matches} == {"normalize": "near-identical", "softmax": "verbatim"}
    assert pair.similarity > 0.9
    assert not pair.flagged  # in a class of three, two alike submissions are no surprise
    assert compare(codes, alpha=1.0)[0].flagged  # ... unless less than one such pair is enough


def test_rare_matches_weigh_more_than_common_ones() -> None:
    def normalize(i: int) -> str:
        return f"def normalize(X):\n    mean = X.mean(axis=0)\n    return (X - mean) / (X.std(axis=0) + {i + 2})\n"

    def others(i: int) -> dict[str, Code]:
        return {"softmax": code("softmax", f"def softmax(Z):\n    E = np.exp(Z - {i})\n"
                                           f"    return E / E.sum(axis=-1, keepdims=True) * {i}\n"),
                "sigmoid": code("sigmoid", f"def sigmoid(Z):\n    return {i + 1} / ({i + 1} + np.exp(-Z))\n"),
                "mse_loss": code("mse_loss", f"def mse_loss(p, y):\n    return np.mean((p - y) ** 2) + {i}\n")}

    codes = {f"s{i:02d}": {"normalize": code("normalize", normalize(i)), **others(i)} for i in range(40)}
    for name in ("s00", "s01", "s02", "s03", "s04"):  # five write the same common normalize
        codes[name]["normalize"] = code("normalize", ORIGINAL)
    codes["s39"] = {f: code(f, c.raw) for f, c in codes["s38"].items()}  # s39 copies s38's unusual code
    pairs = compare(codes)
    flagged = [p for p in pairs if p.flagged]
    assert [(p.a, p.b) for p in flagged] == [("s38", "s39")]
    common = next(p for p in pairs if (p.a, p.b) == ("s00", "s01"))
    assert common.evidence < flagged[0].evidence / 2 and common.chance > 1


def test_extract_and_byte_identical_packages(release: Path, tmp_path: Path) -> None:
    from dlnp.manifest import load_manifest

    manifest = load_manifest()
    empty_a = make_submission(release, tmp_path / "a", implement=[])
    empty_b = make_submission(release, tmp_path / "b", implement=[])
    found = extract(empty_a, manifest)
    assert set(found) == set(manifest.modules) and all(c.stub for c in found.values())
    from instructor.course.similarity import package_digest

    digests = {"a": package_digest(empty_a), "b": package_digest(empty_b)}
    assert digests["a"] == digests["b"]
    assert compare({"a": found, "b": extract(empty_b, manifest)}, digests) == []  # two untouched releases
    done_a = make_submission(release, tmp_path / "c", implement=["layer_output"])
    done_b = make_submission(release, tmp_path / "d", implement=["layer_output"])
    codes = {"c": extract(done_a, manifest), "d": extract(done_b, manifest)}
    (pair,) = compare(codes, {"c": package_digest(done_a), "d": package_digest(done_b)})
    assert pair.identical_package and pair.flagged  # byte-identical copies are always flagged
