"""Chapter 2.3 mutants: gradient_descent with mini-batches and an activation (also graded in 2.2)."""

from . import Mutant
from .ch2_2 import mutate

MUTANTS = [
    Mutant("gradient_descent", "global generator (np.random.permutation)",
           mutate("perm = rng.permutation(n)", "perm = np.random.permutation(n)"), "(shuffle not from rng)"),
    Mutant("gradient_descent", "np.random.shuffle on the indices",
           mutate("perm = rng.permutation(n)", "perm = np.arange(n)\n            np.random.shuffle(perm)"),
           "(shuffle not from rng)"),
    Mutant("gradient_descent", "divided by batch_size",
           mutate("W = W - lr * (Xb.T @ E) / len(idx)", "W = W - lr * (Xb.T @ E) / batch_size if batch_size "
                  "else W - lr * (Xb.T @ E) / n"), "(divided by batch_size)"),
    Mutant("gradient_descent", "last partial batch dropped",
           mutate("for i in range(0, n, batch_size)]", "for i in range(0, n - batch_size + 1, batch_size)]"),
           "(last partial batch dropped)"),
    Mutant("gradient_descent", "shuffled once before the loop",
           mutate("    for _ in range(num_epochs):",
                  "    once = rng.permutation(n) if batch_size is not None else None\n"
                  "    for _ in range(num_epochs):").replace("perm = rng.permutation(n)", "perm = once"),
           "(shuffled once)"),
    Mutant("gradient_descent", "a new permutation for every batch",
           mutate("            perm = rng.permutation(n)\n"
                  "            batches = [perm[i:i + batch_size] for i in range(0, n, batch_size)]",
                  "            batches = [rng.permutation(n)[i:i + batch_size] for i in range(0, n, batch_size)]"),
           "(permutation per batch)"),
    Mutant("gradient_descent", "X and y shuffled with different permutations",
           mutate("            batches = [perm[i:i + batch_size] for i in range(0, n, batch_size)]",
                  "            perm_y = rng.permutation(n)\n"
                  "            batches = [(perm[i:i + batch_size], perm_y[i:i + batch_size]) for i in range(0, n, batch_size)]")
           .replace("            batches = [np.arange(n)]", "            batches = [(np.arange(n), np.arange(n))]")
           .replace("        for idx in batches:\n            Xb, yb = X[idx], y[idx]",
                    "        for idx, idy in batches:\n            Xb, yb = X[idx], y[idy]"),
           "(X and y shuffled differently)"),
    Mutant("gradient_descent", "loss of the last batch",
           mutate("            E = f(Xb @ W + b) - yb\n",
                  "            A = f(Xb @ W + b)\n"
                  "            last = float(loss_fn(A, yb))\n"
                  "            E = A - yb\n").replace(
               "history.append(float(loss_fn(f(X @ W + b), y)))", "history.append(last)"),
           "(loss of the last batch)"),
    Mutant("gradient_descent", "one loss per batch",
           mutate("            b = b - lr * np.mean(E, axis=0, keepdims=True)\n"
                  "        history.append(float(loss_fn(f(X @ W + b), y)))\n",
                  "            b = b - lr * np.mean(E, axis=0, keepdims=True)\n"
                  "            history.append(float(loss_fn(f(X @ W + b), y)))\n"),
           "(one loss per batch)"),
    Mutant("gradient_descent", "activation ignored",
           mutate("f = (lambda Z: Z) if activation_fn is None else activation_fn", "f = lambda Z: Z"),
           "(activation ignored)"),
    Mutant("gradient_descent", "activation missing in the loss",
           mutate("history.append(float(loss_fn(f(X @ W + b), y)))", "history.append(float(loss_fn(X @ W + b, y)))"),
           "(activation missing in the loss)"),
    Mutant("gradient_descent", "sigmoid derivative in the gradient",
           mutate("            E = f(Xb @ W + b) - yb\n",
                  "            A = f(Xb @ W + b)\n"
                  "            E = A - yb\n"
                  "            if activation_fn is not None:\n"
                  "                E = E * A * (1 - A)\n"),
           "(sigmoid derivative)"),
]

VARIANTS: list[object] = []
