"""Chapter 1.3 mutants: sigmoid."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("sigmoid", "naive formula (overflow at z = -1000)", """
def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))
""", "(overflow in exp)"),
    Mutant("sigmoid", "naive formula, warnings filtered out", """
def sigmoid(Z):
    import warnings
    warnings.filterwarnings("ignore")
    return 1 / (1 + np.exp(-Z))
""", "(warnings silenced)"),
    Mutant("sigmoid", "np.where under np.errstate(over='ignore')", """
def sigmoid(Z):
    with np.errstate(over="ignore"):
        return np.where(Z >= 0, 1 / (1 + np.exp(-Z)), np.exp(Z) / (1 + np.exp(Z)))
""", "(warnings silenced)"),
    Mutant("sigmoid", "np.where evaluates both branches", """
def sigmoid(Z):
    return np.where(Z >= 0, 1 / (1 + np.exp(-Z)), np.exp(Z) / (1 + np.exp(Z)))
""", "(overflow in exp)"),
    Mutant("sigmoid", "sign in the exponent", """
def sigmoid(Z):
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, E / (1 + E), 1 / (1 + E))
""", "(sign in the exponent)"),
    Mutant("sigmoid", "tanh", """
def sigmoid(Z):
    return np.tanh(Z)
""", "(tanh)"),
    Mutant("sigmoid", "writes into Z", """
def sigmoid(Z):
    pos = Z >= 0
    E = np.exp(-np.abs(Z))
    Z[pos] = 1 / (1 + E[pos])
    Z[~pos] = E[~pos] / (1 + E[~pos])
    return Z
""", "modified its input `Z`"),
    Mutant("sigmoid", "input clipped too hard", """
def sigmoid(Z):
    return 1 / (1 + np.exp(-np.clip(Z, -10, 10)))
""", "wrong values"),
    Mutant("sigmoid", "math.exp per entry", """
def sigmoid(Z):
    import math
    return np.vectorize(lambda z: 1.0 / (1.0 + math.exp(-z)))(Z)
""", "OverflowError"),
    # From public code (issue 14): the public +-500 clip, a dropped "1 +".
    Mutant("sigmoid", "clip at +-500 in the input's dtype (overflows in float32)", """
def sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-np.clip(Z, -500, 500)))
""", "(overflow in exp)"),
    Mutant("sigmoid", "scalar if/else (one number at a time)", """
def sigmoid(Z):
    if Z >= 0:
        return 1 / (1 + np.exp(-Z))
    E = np.exp(Z)
    return E / (1 + E)
""", "(if on an array)"),
    Mutant("sigmoid", "1 + forgotten in the denominator", """
def sigmoid(Z):
    return 1.0 / np.exp(-np.clip(Z, -80, 80))
""", "(missing 1 +)"),
]

VARIANTS = [
    Variant("sigmoid", "boolean masks on a new array", """
def sigmoid(Z):
    Z = np.asarray(Z, dtype=np.float64)
    out = np.empty_like(Z)
    pos = Z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-Z[pos]))
    E = np.exp(Z[~pos])
    out[~pos] = E / (1.0 + E)
    return out
"""),
    Variant("sigmoid", "logaddexp", """
def sigmoid(Z):
    return np.exp(-np.logaddexp(0.0, -Z))
"""),
    Variant("sigmoid", "tanh identity", """
def sigmoid(Z):
    return 0.5 * (1.0 + np.tanh(0.5 * Z))
"""),
    Variant("sigmoid", "clip at +-80 (safe in float32 too) then the textbook formula", """
def sigmoid(Z):
    return 1.0 / (1.0 + np.exp(-np.clip(Z, -80, 80)))
"""),
    Variant("sigmoid", "one formula: exp(min(z, 0)) / (1 + exp(-|z|))", """
def sigmoid(Z):
    return np.exp(np.minimum(Z, 0)) / (1.0 + np.exp(-np.abs(Z)))
"""),
    Variant("sigmoid", "public +-500 clip, computed in float64", """
def sigmoid(Z):
    Z64 = np.asarray(Z, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-np.clip(Z64, -500.0, 500.0)))
"""),
]
