"""Chapter 3.1 mutants: forward_perceptron."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("forward_perceptron", "without bias", """
def forward_perceptron(X, W, b):
    return sigmoid(X @ W)
""", "missing bias"),
    Mutant("forward_perceptron", "relu output", """
def forward_perceptron(X, W, b):
    return relu(X @ W + b)
""", "ReLU instead of sigmoid"),
    Mutant("forward_perceptron", "returns Z", """
def forward_perceptron(X, W, b):
    return X @ W + b
""", "returned Z"),
    Mutant("forward_perceptron", "thresholded labels", """
def forward_perceptron(X, W, b):
    return (sigmoid(X @ W + b) >= 0.5).astype(float)
""", "thresholded output"),
    Mutant("forward_perceptron", "naive sigmoid inline", """
def forward_perceptron(X, W, b):
    return 1.0 / (1.0 + np.exp(-(X @ W + b)))
""", "overflow in exp"),
    Mutant("forward_perceptron", "hard-coded AND example", """
def forward_perceptron(X, W, b):
    return np.array([[9.357622968839299e-14], [4.5397868702434395e-05], [4.5397868702434395e-05], [0.9999546021312976]])
""", "returned shape"),
]

VARIANTS = [
    Variant("forward_perceptron", "tanh form of the sigmoid", """
def forward_perceptron(X, W, b):
    return 0.5 * (1.0 + np.tanh(0.5 * (X @ W + b)))
"""),
    Variant("forward_perceptron", "einsum and the package sigmoid", """
def forward_perceptron(X, W, b):
    return sigmoid(np.einsum("nd,dm->nm", X, W) + b)
"""),
    Variant("forward_perceptron", "loop over samples", """
def forward_perceptron(X, W, b):
    out = np.empty((X.shape[0], W.shape[1]))
    for i in range(X.shape[0]):
        out[i] = sigmoid(X[i] @ W + b[0])
    return out
"""),
]
