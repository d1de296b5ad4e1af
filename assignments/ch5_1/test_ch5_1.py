"""Public self-check for chapter 5.1: layers and losses as objects.

Small, hand-checkable cases (the worked example of the chapter), the rules every layer
follows (the LATEST forward's cache, backward callable twice, inputs never modified,
float32), and finite-difference checks that use YOUR ``numerical_gradient`` from
chapter 2.4. Expected values come from the formulas of the docstrings applied to the
test's own constants (read-only arrays), never from your objects. The hidden grader
uses other, random inputs.
"""

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dlnp.testing import (
    Mistake,
    check_all,
    check_array,
    check_not_silenced,
    check_scalar,
    expect_raises,
    read_only,
)
from neural_network.layers import BCELoss, CrossEntropyLoss, Linear, MSELoss, ReLU, Sigmoid, Softmax, Tanh

pytestmark = pytest.mark.chapter("5.1")

Array = np.ndarray[Any, Any]

# the worked example of the chapter
X = np.array([[1.0, 2.0], [0.0, -1.0]])
W = np.array([[1.0, 0.0, -1.0], [0.5, 1.0, 0.0]])
B = np.array([[0.0, 0.0, 1.0]])
LABELS = np.array([0, 2])

# a batch of four for the rules every layer follows: n = 4 samples, 3 inputs, 2 outputs
X4 = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0], [2.0, 1.0, 0.0], [-1.0, 3.0, 1.0]])
X4B = np.array([[0.5, -1.0, 1.0], [1.0, 2.0, 0.0], [-2.0, 0.5, 1.5], [0.0, -1.0, 2.0]])
W4 = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]])
B4 = np.array([[0.5, -0.5]])
G4 = np.array([[1.0, -2.0], [0.5, 0.0], [-1.0, 1.0], [2.0, 0.5]])
G4B = np.array([[0.5, 1.0], [-1.0, 2.0], [0.0, -0.5], [1.5, 1.0]])

# inputs of the activations: moderate values, exact zeros for ReLU, a second batch for the cache rule
Z1 = np.array([[-1.5, 0.0, 2.0, 0.5], [1.0, -0.25, 0.0, -2.0], [0.75, 1.5, -1.0, 0.25]])
Z2 = np.array([[0.5, -1.0, 1.25, -0.5], [-2.0, 0.0, 1.0, 2.5], [0.0, -0.75, 0.5, 1.0]])
GA = np.array([[1.0, -0.5, 2.0, 0.25], [-1.0, 1.5, 0.5, -2.0], [0.5, 1.0, -1.5, 1.0]])
HUGE = np.array([[1000.0, -1000.0, 0.0], [-800.0, 750.0, 1000.0]])

read_only(X, W, B, LABELS, X4, X4B, W4, B4, G4, G4B, Z1, Z2, GA, HUGE)  # a method writing into its inputs fails


def _example_linear() -> Linear:
    layer = Linear(2, 3, rng=np.random.default_rng(0))
    layer.W, layer.b = W.copy(), B.copy()
    return layer


def _linear4() -> Linear:
    layer = Linear(3, 2, rng=np.random.default_rng(0))
    layer.W, layer.b = W4.copy(), B4.copy()
    return layer


def _kept(value: Any) -> Any:
    """A copy of what a method returned, so that a later call that changes the layer's cache (the same
    array) cannot change what this test saw."""
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def numerical(f: Callable[[Array], float], at: Array) -> Array:
    """Central differences of f at `at`, with your numerical_gradient (chapter 2.4)."""
    try:
        from neural_network.gradcheck import numerical_gradient

        grads = numerical_gradient(at, at, {"p": at.astype(np.float64)}, lambda out, _y: out,
                                   lambda _x, params: f(params["p"]), h=1e-5)
    except NotImplementedError:
        pytest.skip("this check uses your numerical_gradient from chapter 2.4: implement it first")
    return grads["p"]


# ------------------------------------------------------------------ the formulas of the docstrings


def _sigma(Z: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-Z))  # moderate inputs only


def _softmax_rows(Z: Array) -> Array:
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _forward(name: str, Z: Array) -> Array:
    """What ``name``.forward returns for the moderate inputs of these tests."""
    return {"ReLU": lambda: np.maximum(Z, 0.0), "Sigmoid": lambda: _sigma(Z), "Tanh": lambda: np.tanh(Z),
            "Softmax": lambda: _softmax_rows(Z)}[name]()


def _backward(name: str, Z: Array, G: Array) -> Array:
    """What ``name``.backward(G) returns after forward(Z)."""
    A = _forward(name, Z)
    if name == "ReLU":
        return G * (Z > 0)
    if name == "Sigmoid":
        return G * A * (1 - A)
    if name == "Tanh":
        return G * (1 - A**2)
    return A * (G - np.sum(G * A, axis=1, keepdims=True))


def _backward_mistakes(name: str, Z: Array, G: Array) -> list[Mistake]:
    """Known wrong backward passes (the graders name the same ones)."""
    A = _forward(name, Z)
    if name == "ReLU":
        return [
            Mistake("mask Z >= 0", G * (Z >= 0),
                    "You let the gradient through where Z == 0; the kit takes the derivative at 0 as 0 (Z > 0)."),
            Mistake("mask only", (Z > 0).astype(float),
                    "You returned the derivative mask itself: multiply it by the upstream gradient dA."),
            Mistake("upstream only", G, "You returned dA unchanged: multiply by the mask (Z > 0)."),
        ]
    if name == "Sigmoid":
        sA = _sigma(A)
        return [
            Mistake("sigmoid of the output", G * sA * (1 - sA),
                    "You applied the sigmoid again to the cached OUTPUT: the derivative is A * (1 - A) "
                    "with A the cached sigmoid output itself."),
            Mistake("derivative of the input", G * Z * (1 - Z),
                    "You used Z * (1 - Z) with the INPUT Z; the formula A * (1 - A) needs the OUTPUT A."),
            Mistake("upstream gradient missing", A * (1 - A),
                    "You returned the derivative A * (1 - A) alone: multiply by the upstream gradient dA."),
        ]
    if name == "Tanh":
        return [
            Mistake("derivative of the input", G * (1 - Z**2),
                    "You used 1 - Z**2 with the INPUT Z; the derivative is 1 - A**2 with the cached OUTPUT A."),
            Mistake("tanh of the output", G * (1 - np.tanh(A) ** 2),
                    "You applied tanh again to the cached OUTPUT: the derivative is 1 - A**2."),
            Mistake("upstream gradient missing", 1 - A**2, "Multiply the derivative 1 - A**2 by the upstream dA."),
        ]
    return [
        Mistake("identity backward", G,
                "You returned dS unchanged (the shortcut of tutorials that always pair softmax with "
                "cross-entropy). Softmax.backward applies the softmax Jacobian: "
                "S * (dS - sum(dS * S, axis=1, keepdims=True))."),
        Mistake("diagonal of the Jacobian only", G * A * (1 - A),
                "You used only the diagonal S * (1 - S) of the Jacobian, as for a sigmoid; each output of "
                "a softmax depends on every logit of its row: S * (dS - rowsum(dS * S))."),
        Mistake("sum over axis 0", A * (G - np.sum(G * A, axis=0, keepdims=True)),
                "You summed dS * S over axis 0 (the samples); the sum runs over each ROW (axis=1)."),
    ]


# ------------------------------------------------------------------ Linear


def test_linear_forward_example() -> None:
    Z = _example_linear().forward(X)
    check_array(Z, [[2.0, 2.0, 0.0], [-0.5, -1.0, 1.0]], name="Linear.forward(X)", mistakes=[
        Mistake("bias missing", X @ W, "Add the bias b to X @ W."),
    ])


def test_worked_example_end_to_end() -> None:
    layer, softmax, loss = _example_linear(), Softmax(), CrossEntropyLoss()
    P = _kept(softmax.forward(layer.forward(X)))
    check_array(P, [[0.4683, 0.4683, 0.0634], [0.1643, 0.0996, 0.7361]], name="Softmax.forward(Z)", atol=1e-4)
    check_scalar(loss.forward(P, LABELS), 0.5325, name="CrossEntropyLoss.forward(P, labels)", atol=1e-4)
    dZ = loss.backward()
    check_array(dZ, [[-0.2658, 0.2342, 0.0317], [0.0821, 0.0498, -0.1319]], name="CrossEntropyLoss.backward()",
                atol=1e-4, mistakes=[Mistake("not averaged", 2 * np.array([[-0.2658, 0.2342, 0.0317],
                                                                              [0.0821, 0.0498, -0.1319]]),
                                             "Divide P - Y by the batch size n: the loss is a mean.")])
    dX = layer.backward(dZ)
    check_array(layer.dW, [[-0.2658, 0.2342, 0.0317], [-0.6138, 0.4185, 0.1953]], name="Linear.dW", atol=1e-4,
                mistakes=[Mistake("averaged twice", np.array([[-0.1329, 0.1171, 0.0159], [-0.3069, 0.2093, 0.0977]]),
                                  "dZ already holds the 1/n: Linear.backward must not divide again.")])
    check_array(layer.db, [[-0.1837, 0.2840, -0.1002]], name="Linear.db", atol=1e-4)
    check_array(dX, [[-0.2975, 0.1012], [0.2141, 0.0909]], name="Linear.backward(dZ)", atol=1e-4)


def test_linear_backward_on_a_batch_of_four() -> None:
    """n = 4 samples, 3 inputs, 2 outputs: an average or a transpose cannot hide."""
    layer = _linear4()
    check_array(layer.forward(X4), X4 @ W4 + B4, name="Linear.forward(X)", mistakes=[
        Mistake("bias missing", X4 @ W4, "Add the bias b (broadcast over the rows) to X @ W."),
    ])
    dX = layer.backward(G4)
    check_all(
        lambda: check_array(dX, G4 @ W4.T, name="dX = Linear.backward(dZ)", mistakes=[
            Mistake("dX averaged", G4 @ W4.T / 4, "dZ is already the gradient of the mean loss: divide by nothing."),
        ]),
        lambda: check_array(layer.dW, X4.T @ G4, name="Linear.dW after backward(dZ)", mistakes=[
            Mistake("averaged in Linear", X4.T @ G4 / 4,
                    "Your dW is X.T @ dZ / n. The 1/n of the batch mean lives in the loss's backward "
                    "(dZ = (P - Y) / n); dividing again in Linear averages twice."),
        ]),
        lambda: check_array(layer.db, G4.sum(axis=0, keepdims=True), name="Linear.db after backward(dZ)", mistakes=[
            Mistake("mean instead of sum", G4.mean(axis=0, keepdims=True),
                    "Your db is the MEAN of dZ over the batch; it is the sum (the 1/n is already in dZ)."),
            Mistake("summed over the wrong axis", G4.sum(axis=1, keepdims=True).T,
                    "You summed dZ over axis 1 (the outputs); sum over axis 0, the samples."),
        ]),
    )


def test_linear_gradients_are_replaced_not_accumulated() -> None:
    layer = _linear4()
    layer.forward(X4)
    layer.backward(G4)
    layer.forward(X4B)
    layer.backward(G4B)
    check_all(
        lambda: check_array(layer.dW, X4B.T @ G4B, name="Linear.dW after a second forward/backward", mistakes=[
            Mistake("gradients accumulate", X4.T @ G4 + X4B.T @ G4B,
                    "Your dW is the SUM of the gradients of both steps: backward must assign "
                    "(self.dW = X.T @ dZ), not add (self.dW += ...)."),
            Mistake("stale cache", X4.T @ G4B, "Your dW uses the X of the FIRST forward: store the new X every time."),
        ]),
        lambda: check_array(layer.db, G4B.sum(axis=0, keepdims=True), name="Linear.db after a second forward/backward",
                            mistakes=[Mistake("gradients accumulate", (G4 + G4B).sum(axis=0, keepdims=True),
                                              "Your db adds up the gradients of both steps: assign, don't add.")]),
    )


def test_linear_backward_uses_the_latest_forward_and_can_be_called_twice() -> None:
    layer = _linear4()
    layer.forward(X4)
    layer.forward(X4B)
    first = layer.backward(G4)
    dW1 = _kept(layer.dW)
    second = layer.backward(G4)
    check_all(
        lambda: check_array(dW1, X4B.T @ G4, name="Linear.dW after forward(X1), forward(X2), backward(dZ)",
                            mistakes=[Mistake("stale cache", X4.T @ G4,
                                              "backward used the X of an OLDER forward: cache the latest input.")]),
        lambda: check_array(first, G4 @ W4.T, name="Linear.backward(dZ)"),
        lambda: check_array(second, G4 @ W4.T, name="Linear.backward(dZ) called a second time",
                            hint="backward must not change the cache or anything it reads"),
        lambda: check_array(layer.dW, X4B.T @ G4, name="Linear.dW after calling backward(dZ) twice", mistakes=[
            Mistake("gradients accumulate", 2 * X4B.T @ G4, "dW doubled: backward must assign dW, not add to it."),
            Mistake("stale cache", X4.T @ G4, "backward used the X of an OLDER forward: cache the latest input."),
        ]),
    )


def test_linear_forward_float32() -> None:
    X32 = X4.astype(np.float32)
    check_array(_linear4().forward(X32), X32 @ W4 + B4, name="Linear.forward(X float32)", inputs=[X32])


def _init_hint(std: float, candidates: dict[str, float]) -> str:
    for label, value in candidates.items():
        if abs(std / value - 1) < 0.05:
            return f"\nLikely mistake ({label})"
    return ""


def test_linear_init_scale() -> None:
    he = Linear(400, 200, rng=np.random.default_rng(1))
    xavier = Linear(400, 200, init="xavier", rng=np.random.default_rng(1))
    shape = np.shape(he.W)
    assert shape == (400, 200) and np.shape(he.b) == (1, 200), (
        f"W is (in, out) and b is (1, out); got W {shape}, b {np.shape(he.b)}"
        + ("\nLikely mistake (transposed) this kit is row-major: Z = X @ W with W of shape (in_features, "
           "out_features)." if shape == (200, 400) else ""))
    assert np.all(he.b == 0), "biases start at 0"
    assert abs(float(he.W.mean())) < 0.01, f"weights have mean 0, got {float(he.W.mean()):.4f}"
    std = float(he.W.std())
    assert abs(std / np.sqrt(2 / 400) - 1) < 0.05, (
        f"He std should be sqrt(2 / 400) = {np.sqrt(2 / 400):.4f}, got {std:.4f}"
        + _init_hint(std, {"fan_out instead of fan_in: sqrt(2 / out_features)": np.sqrt(2 / 200),
                           "1/fan_in instead of 2/fan_in": np.sqrt(1 / 400),
                           "Xavier instead of He": np.sqrt(2 / 600),
                           "variance used as std": 2 / 400, "unscaled, std 1": 1.0}))
    std = float(xavier.W.std())
    assert abs(std / np.sqrt(2 / 600) - 1) < 0.05, (
        f"Xavier std should be sqrt(2 / (400 + 200)) = {np.sqrt(2 / 600):.4f}, got {std:.4f}"
        + _init_hint(std, {"1/fan_in Xavier: this kit's Xavier is sqrt(2 / (in + out))": np.sqrt(1 / 400),
                           "He instead of Xavier": np.sqrt(2 / 400),
                           "uniform limit sqrt(6 / (in + out)) used as std": np.sqrt(6 / 600),
                           "unscaled, std 1": 1.0}))
    again = Linear(400, 200, rng=np.random.default_rng(1))
    assert np.array_equal(again.W, he.W), (
        "two Linear(400, 200, rng=default_rng(1)) have different weights.\nLikely mistake (rng ignored) draw the "
        "weights from the rng argument (rng.standard_normal), not from np.random")


# ------------------------------------------------------------------ activations


def test_linear_rejects_an_unknown_init() -> None:
    expect_raises(lambda: Linear(4, 3, init="uniform", rng=np.random.default_rng(0)), ValueError,
                  name="Linear(4, 3, init='uniform')", why="only 'he' and 'xavier' are known")


def test_relu_example() -> None:
    relu = ReLU()
    Z = np.array([[-1.0, 0.0, 2.0]])
    check_array(relu.forward(Z), [[0.0, 0.0, 2.0]], name="ReLU.forward")
    check_array(relu.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 0.0, 5.0]], name="ReLU.backward",
                hint="the derivative at exactly 0 is 0 (mask Z > 0)")


@pytest.mark.parametrize("cls", [ReLU, Sigmoid, Tanh, Softmax], ids=lambda c: c.__name__)
def test_activation_values(cls: type) -> None:
    name = cls.__name__
    layer = cls()
    got_A = _kept(layer.forward(Z1))
    got_dZ = layer.backward(GA)
    check_all(lambda: check_array(got_A, _forward(name, Z1), name=f"{name}.forward(Z)"),
              lambda: check_array(got_dZ, _backward(name, Z1, GA), name=f"{name}.backward(dA) after forward(Z)",
                                  mistakes=_backward_mistakes(name, Z1, GA)))


@pytest.mark.parametrize("cls", [ReLU, Sigmoid, Tanh, Softmax], ids=lambda c: c.__name__)
def test_activation_cache_rules(cls: type) -> None:
    """backward uses the LATEST forward, can be called twice, and float32 works."""
    name = cls.__name__
    layer = cls()
    layer.forward(Z1)
    layer.forward(Z2)
    first = _kept(layer.backward(GA))
    second = layer.backward(GA)
    Z32 = Z1.astype(np.float32)
    got32 = cls().forward(Z32)
    check_all(
        lambda: check_array(first, _backward(name, Z2, GA), name=f"{name}.backward(dA) after forward(Z1), forward(Z2)",
                            mistakes=[Mistake("stale cache", _backward(name, Z1, GA),
                                              "backward used the cache of an OLDER forward: store the latest "
                                              "input/output every time.")]),
        lambda: check_array(second, _backward(name, Z2, GA), name=f"{name}.backward(dA) called a second time",
                            hint="backward must not modify its cache (no in-place *=, -= on cached arrays)"),
        lambda: check_array(got32, _forward(name, Z32.astype(np.float64)), name=f"{name}.forward(float32 Z)",
                            inputs=[Z32]),
    )


@pytest.mark.parametrize("cls", [ReLU, Sigmoid, Tanh, Softmax], ids=lambda c: c.__name__)
def test_activation_backward_matches_finite_differences(cls: type) -> None:
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(3, 4)) + 0.1
    G = rng.normal(size=(3, 4))
    read_only(Z, G)
    layer = cls()
    layer.forward(Z)
    got = layer.backward(G)
    want = numerical(lambda z: float(np.sum(G * cls().forward(z))), Z)
    check_array(got, want, name=f"{cls.__name__}.backward(dA)", rtol=1e-5, atol=1e-7,
                hint="compared with central differences of sum(dA * forward(Z))")


@pytest.mark.parametrize("cls", [Sigmoid, Softmax], ids=lambda c: c.__name__)
def test_stable_for_huge_logits(cls: type) -> None:
    name = cls.__name__
    Z = HUGE
    layer = cls()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning fails the test
        out = _kept(layer.forward(Z))
        grad = layer.backward(np.ones_like(Z))
    if cls is Sigmoid:
        want = np.where(Z > 0, 1.0, np.where(Z < 0, 0.0, 0.5))
        want_grad = np.where(Z == 0, 0.25, 0.0)
    else:
        want = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        want_grad = np.zeros_like(Z)  # dS of ones: S * (1 - rowsum(S)) = 0
    check_array(out, want, name=f"{name}.forward(Z with |z| up to 1000)", atol=1e-8)
    check_array(grad, want_grad, name=f"{name}.backward after forward(|z| up to 1000)", atol=1e-8)


# ------------------------------------------------------------------ losses

P3 = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.25, 0.5, 0.25], [0.3, 0.3, 0.4]])
L3 = np.array([0, 2, 1, 0])
Y3 = np.eye(3)[L3]
P5 = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.4, 0.4, 0.2], [0.5, 0.25, 0.25]])
Y5 = np.eye(3)[[2, 0, 1, 1, 0]]
read_only(P3, L3, Y3, P5, Y5)


def _ce_mistakes(P: Array, Y: Array) -> list[Mistake]:
    n = P.shape[0]
    logs = Y * np.log(P)
    return [
        Mistake("sum instead of mean", float(-np.sum(logs)),
                "You summed over the samples; the loss is the MEAN over the n samples."),
        Mistake("missing minus sign", float(np.sum(logs) / n), "Cross-entropy is MINUS the mean log-probability."),
        Mistake("mean over classes too", float(-np.mean(logs)),
                "You averaged over all n*k entries; sum over the classes, average over the samples."),
        Mistake("log base 10", float(-np.sum(logs) / n / np.log(10)), "Use the natural logarithm np.log."),
    ]


def _ce_grad_mistakes(P: Array, Y: Array) -> list[Mistake]:
    n = P.shape[0]
    return [
        Mistake("CE backward not averaged", P - Y,
                "You returned P - Y. The loss is the mean over the batch, so its gradient is (P - Y) / n; "
                "in this kit this is the ONE place where 1/n appears (Linear.backward does not divide)."),
        Mistake("averaged twice", (P - Y) / n**2, "You divided by n twice: the gradient is (P - Y) / n."),
        Mistake("gradient with respect to the probabilities", -Y / (n * P),
                "You returned dL/dP = -Y / (n P). backward() returns the gradient with respect to the "
                "LOGITS (the softmax input), which simplifies to (P - Y) / n."),
    ]


def test_cross_entropy_labels_and_one_hot() -> None:
    want = float(-np.sum(Y3 * np.log(P3)) / 4)
    a, b = CrossEntropyLoss(), CrossEntropyLoss()
    check_all(
        lambda: check_scalar(a.forward(P3, L3), want, name="CrossEntropyLoss.forward(P, labels)", atol=2e-5,
                             mistakes=_ce_mistakes(P3, Y3)),
        lambda: check_scalar(b.forward(P3, Y3), want, name="CrossEntropyLoss.forward(P, one_hot)", atol=2e-5,
                             mistakes=_ce_mistakes(P3, Y3)),
    )
    check_all(
        lambda: check_array(a.backward(), (P3 - Y3) / 4, name="CrossEntropyLoss.backward() after forward(P, labels)",
                            mistakes=_ce_grad_mistakes(P3, Y3)),
        lambda: check_array(b.backward(), (P3 - Y3) / 4, name="CrossEntropyLoss.backward() after forward(P, one_hot)",
                            mistakes=_ce_grad_mistakes(P3, Y3)),
    )


def test_cross_entropy_backward_follows_the_latest_forward() -> None:
    loss = CrossEntropyLoss()
    loss.forward(P3, L3)
    loss.forward(P5, Y5)
    check_array(loss.backward(), (P5 - Y5) / 5, name="CrossEntropyLoss.backward() after a new forward(P, one_hot)",
                mistakes=[*_ce_grad_mistakes(P5, Y5),
                          Mistake("stale cache", (P3 - Y3) / 4, "backward used an OLDER forward's P and Y.")])


def test_cross_entropy_float32() -> None:
    P32 = P3.astype(np.float32)
    loss = CrossEntropyLoss()
    got = loss.forward(P32, L3)
    check_all(
        lambda: check_scalar(got, float(-np.sum(Y3 * np.log(P3)) / 4), name="CrossEntropyLoss.forward(float32 P)",
                             inputs=[P32], mistakes=_ce_mistakes(P3, Y3)),
        lambda: check_array(loss.backward(), (P32 - Y3) / 4, name="CrossEntropyLoss.backward() (float32)",
                            inputs=[P32], mistakes=_ce_grad_mistakes(P3, Y3)),
    )


def test_cross_entropy_gradient_is_the_logit_gradient() -> None:
    Z = np.array([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]])
    labels = np.array([2, 0])
    read_only(Z, labels)
    loss = CrossEntropyLoss()
    loss.forward(Softmax().forward(Z), labels)
    want = numerical(lambda z: float(CrossEntropyLoss().forward(Softmax().forward(z), labels)), Z)
    check_array(loss.backward(), want, name="CrossEntropyLoss.backward()", rtol=1e-5, atol=1e-7,
                hint="the gradient of the mean loss with respect to the LOGITS Z")


EPS_HINT = ("Likely mistake (epsilon too large) clip the probabilities with an epsilon of at most 1e-7 (or add it "
            "inside the log): a confident right answer then costs ~0 and a confident wrong one at least "
            "-log(1e-7) ~ 16.")


def _quiet(call: Callable[[], Any]) -> Any:
    """``call()`` with every RuntimeWarning turned into an error (the report names the likely mistake)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return call()


def _finite_number(value: Any, what: str) -> float:
    assert np.ndim(value) == 0, f"{what} must return one number, got {value!r}"
    number = float(value)
    assert np.isfinite(number), (f"{what} returned {value!r}.\nLikely mistake (log(0)) np.log(0) is -inf: clip the "
                                 "probabilities to [eps, 1 - eps] (eps at most 1e-7) before np.log")
    return number


def test_cross_entropy_with_probabilities_0_and_1() -> None:
    labels = np.array([1, 0, 2])
    right, wrong = np.eye(3)[labels], np.eye(3)[(labels + 1) % 3]
    read_only(labels, right, wrong)
    loss = CrossEntropyLoss()
    good = _finite_number(_quiet(lambda: loss.forward(right, labels)),
                          "CrossEntropyLoss.forward with probabilities 0 and 1")
    bad = _finite_number(_quiet(lambda: loss.forward(wrong, labels)),
                         "CrossEntropyLoss.forward with probabilities 0 and 1")
    assert abs(good) < 1e-5 and bad > 10.0, (
        f"confident right answers should cost ~0 (got {good:.3g}), confident wrong ones more than 10 "
        f"(got {bad:.3g}).\n{EPS_HINT}")
    grad = _quiet(loss.backward)
    check_array(grad, (wrong - right) / 3, name="CrossEntropyLoss.backward() for probabilities 0 and 1",
                hint="(P - Y) / n is finite even for P = 0 or 1")


def test_bce_with_probabilities_0_and_1() -> None:
    y = np.array([[1.0], [0.0], [1.0], [1.0]])
    read_only(y)
    loss = BCELoss()
    good = _finite_number(_quiet(lambda: loss.forward(y.copy(), y)),
                          "BCELoss.forward with probabilities 0 and 1")
    bad = _finite_number(_quiet(lambda: loss.forward(1.0 - y, y)),
                         "BCELoss.forward with probabilities 0 and 1")
    assert abs(good) < 1e-5 and bad > 10.0, (
        f"confident right answers should cost ~0 (got {good:.3g}), confident wrong ones more than 10 "
        f"(got {bad:.3g}).\n{EPS_HINT}")
    grad = _quiet(loss.backward)
    check_array(grad, (1.0 - 2.0 * y) / 4, name="BCELoss.backward() for probabilities 0 and 1",
                hint="the gradient with respect to the logits, (P - y) / N, is finite even for P = 0 or 1")


PM = np.array([[1.0, 3.0], [2.0, -1.0], [0.5, 0.0]])
TM = np.array([[0.0, 1.0], [2.5, 0.0], [-0.5, 1.0]])
read_only(PM, TM)


def test_mse_loss() -> None:
    d = PM - TM
    loss = MSELoss()
    got = loss.forward(PM, TM)
    grad = loss.backward()
    col, flat = PM[:, :1], TM[:, 0]
    check_all(
        lambda: check_scalar(got, float(np.mean(d**2)), name="MSELoss.forward(pred (3, 2), y)", mistakes=[
            Mistake("sum instead of mean", float(np.sum(d**2)), "Average over every entry: np.mean."),
            Mistake("mean over samples only", float(np.sum(d**2) / 3),
                    "You divided by n only; the mean runs over all n*m entries."),
            Mistake("half MSE", float(np.mean(d**2) / 2), "MSELoss is the plain mean, without 1/2."),
        ]),
        lambda: check_array(grad, 2 * d / d.size, name="MSELoss.backward()", mistakes=[
            Mistake("missing factor 2", d / d.size, "The derivative of (p - y)**2 is 2 (p - y): keep the 2."),
            Mistake("not averaged", 2 * d, "The loss is a mean over N entries: divide the gradient by N."),
            Mistake("divided by n instead of N", 2 * d / 3,
                    "You divided by the number of rows n; the mean (and its gradient) runs over all N = n*m entries."),
        ]),
        lambda: check_scalar(MSELoss().forward(col, flat), float(np.mean((col[:, 0] - flat) ** 2)),
                             name="MSELoss.forward(pred (n, 1), y (n,))",
                             hint="reshape the targets to pred's shape: (n, 1) - (n,) broadcasts to (n, n)"),
    )


def test_mse_and_bce_small_examples() -> None:
    mse = MSELoss()
    check_scalar(mse.forward(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])), 2.5, name="MSELoss.forward")
    check_array(mse.backward(), [[1.0], [2.0]], name="MSELoss.backward()", hint="2 (pred - y) / N")
    bce = BCELoss()
    check_scalar(bce.forward(np.array([[0.9], [0.2]]), np.array([[1.0], [0.0]])),
                 -(np.log(0.9) + np.log(0.8)) / 2, name="BCELoss.forward", atol=2e-5)
    check_array(bce.backward(), [[-0.05], [0.1]], name="BCELoss.backward()", hint="(P - y) / N, w.r.t. the logits")


def test_bce_loss() -> None:
    P = np.array([[0.9], [0.2], [0.6], [0.35], [0.75]])
    y = np.array([[1.0], [0.0], [0.0], [1.0], [1.0]])
    read_only(P, y)
    terms = y * np.log(P) + (1 - y) * np.log(1 - P)
    loss = BCELoss()
    got = loss.forward(P, y)
    grad = loss.backward()
    flat = BCELoss().forward(P, y.ravel())
    check_all(
        lambda: check_scalar(flat, float(-np.mean(terms)), name="BCELoss.forward(probs (5, 1), targets (5,))",
                             atol=2e-5, mistakes=[
            Mistake("targets not reshaped (broadcast to n x n)",
                    float(-np.mean(y.ravel() * np.log(P) + (1 - y.ravel()) * np.log(1 - P))),
                    "Reshape the targets to probs.shape before combining them: (5, 1) against (5,) broadcasts "
                    "to a (5, 5) table of every pair."),
        ]),
        lambda: check_scalar(got, float(-np.mean(terms)), name="BCELoss.forward(probs, y)", atol=2e-5, mistakes=[
            Mistake("missing minus sign", float(np.mean(terms)), "BCE is MINUS the mean log-likelihood."),
            Mistake("sum instead of mean", float(-np.sum(terms)), "Average over the entries."),
            Mistake("only the y=1 term", float(-np.mean(y * np.log(P))), "Add the (1 - y) log(1 - p) term."),
        ]),
        lambda: check_array(grad, (P - y) / 5, name="BCELoss.backward()", mistakes=[
            Mistake("gradient with respect to the probabilities", (P - y) / (P * (1 - P)) / 5,
                    "You returned dL/dP = (P - y) / (P (1 - P) N). backward() returns the gradient with respect "
                    "to the LOGITS (the sigmoid input): (P - y) / N, which never divides by P (1 - P)."),
            Mistake("not averaged", P - y, "The loss is a mean over N entries: divide by N."),
        ]),
    )


def test_warnings_are_not_silenced() -> None:
    """The grader judges stability by the RuntimeWarnings a function raises: turning them off
    (np.errstate(over="ignore"), warnings.filterwarnings("ignore"), np.seterr) fails, here as there."""
    check_not_silenced(Sigmoid, "Sigmoid.forward(Z with |z| up to 1000)")
    check_not_silenced(Softmax, "Softmax.forward(Z with |z| up to 1000)")
