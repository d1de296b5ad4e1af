"""Chapter 4.3 mutants: max_pool, max_pool_backward."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("max_pool", "stride 1", """
def max_pool(X, size=2, stride=None):
    w = np.lib.stride_tricks.sliding_window_view(X, (size, size), axis=(-2, -1))
    return w.max(axis=(-2, -1))
""", "stride 1"),
    Mutant("max_pool", "stride ignored", """
def max_pool(X, size=2, stride=None):
    w = np.lib.stride_tricks.sliding_window_view(X, (size, size), axis=(-2, -1))
    return w[..., ::size, ::size, :, :].max(axis=(-2, -1))
""", "stride ignored"),
    Mutant("max_pool", "wrong window", """
def max_pool(X, size=2, stride=None):
    s = size if stride is None else stride
    H, W = X.shape[-2:]
    Ho, Wo = (H - size) // s + 1, (W - size) // s + 1
    out = np.zeros(X.shape[:-2] + (Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[..., i, j] = X[..., i:i + size, j:j + size].max(axis=(-2, -1))
    return out
""", "wrong window"),
    Mutant("max_pool_backward", "gradient to all ties", """
def max_pool_backward(dout, X, size=2, stride=None):
    s = size if stride is None else stride
    dX = np.zeros(X.shape)
    for i in range(dout.shape[-2]):
        for j in range(dout.shape[-1]):
            win = X[..., i * s:i * s + size, j * s:j * s + size]
            mask = win == win.max(axis=(-2, -1), keepdims=True)
            dX[..., i * s:i * s + size, j * s:j * s + size] += mask * dout[..., i, j][..., None, None]
    return dX
""", "gradient to all ties"),
    Mutant("max_pool_backward", "last maximum", """
def max_pool_backward(dout, X, size=2, stride=None):
    s = size if stride is None else stride
    dX = np.zeros(X.shape)
    for idx in np.ndindex(dout.shape):
        *lead, i, j = idx
        win = X[tuple(lead)][i * s:i * s + size, j * s:j * s + size]
        flat = win.ravel()
        k = flat.size - 1 - int(np.argmax(flat[::-1]))
        m, n = divmod(k, size)
        dX[tuple(lead) + (i * s + m, j * s + n)] += dout[idx]
    return dX
""", "last maximum"),
    Mutant("max_pool_backward", "= instead of +=", """
def max_pool_backward(dout, X, size=2, stride=None):
    s = size if stride is None else stride
    dX = np.zeros(X.shape)
    for idx in np.ndindex(dout.shape):
        *lead, i, j = idx
        win = X[tuple(lead)][i * s:i * s + size, j * s:j * s + size]
        m, n = divmod(int(np.argmax(win)), size)
        dX[tuple(lead) + (i * s + m, j * s + n)] = dout[idx]
    return dX
""", "= instead of +="),
    Mutant("max_pool_backward", "reshape trick with an equality mask", """
def max_pool_backward(dout, X, size=2, stride=None):
    pooled = np.repeat(np.repeat(dout * 0 + 1, size, axis=-2), size, axis=-1)
    dX = np.zeros(X.shape)
    H, W = dout.shape[-2] * size, dout.shape[-1] * size
    w = np.lib.stride_tricks.sliding_window_view(X, (size, size), axis=(-2, -1))[..., ::size, ::size, :, :]
    big = np.repeat(np.repeat(w.max(axis=(-2, -1)), size, axis=-2), size, axis=-1)
    g = np.repeat(np.repeat(dout, size, axis=-2), size, axis=-1)
    dX[..., :H, :W] = (X[..., :H, :W] == big) * g * pooled
    return dX
""", "gradient to all ties"),
]

VARIANTS = [
    Variant("max_pool", "loops", """
def max_pool(X, size=2, stride=None):
    s = size if stride is None else stride
    H, W = X.shape[-2:]
    Ho, Wo = (H - size) // s + 1, (W - size) // s + 1
    out = np.zeros(X.shape[:-2] + (Ho, Wo), dtype=X.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[..., i, j] = X[..., i * s:i * s + size, j * s:j * s + size].max(axis=(-2, -1))
    return out
"""),
    Variant("max_pool_backward", "argmax per window", """
def max_pool_backward(dout, X, size=2, stride=None):
    s = size if stride is None else stride
    dX = np.zeros(X.shape)
    for idx in np.ndindex(dout.shape):
        *lead, i, j = idx
        win = X[tuple(lead)][i * s:i * s + size, j * s:j * s + size]
        m, n = divmod(int(np.argmax(win)), size)
        dX[tuple(lead) + (i * s + m, j * s + n)] += dout[idx]
    return dX
"""),
]

# Mistakes and correct styles seen in public code (CS231n-style max_pool_forward/backward), written anew.
MUTANTS += [
    Mutant("max_pool", "2 x 2 windows hard-coded", """
def max_pool(X, size=2, stride=None):
    s = 2 if stride is None else stride
    w = np.lib.stride_tricks.sliding_window_view(X, (2, 2), axis=(-2, -1))
    return w[..., ::s, ::s, :, :].max(axis=(-2, -1))
""", "size ignored"),
    Mutant("max_pool", "average pooling", """
def max_pool(X, size=2, stride=None):
    s = size if stride is None else stride
    w = np.lib.stride_tricks.sliding_window_view(X, (size, size), axis=(-2, -1))
    return w[..., ::s, ::s, :, :].mean(axis=(-2, -1))
""", "average pooling"),
    Mutant("max_pool_backward", "ties share the gradient", """
def max_pool_backward(dout, X, size=2, stride=None):
    s = size if stride is None else stride
    dX = np.zeros(X.shape)
    Ho, Wo = dout.shape[-2:]
    for i in range(Ho):
        for j in range(Wo):
            win = X[..., i * s:i * s + size, j * s:j * s + size]
            mask = win == win.max(axis=(-2, -1), keepdims=True)
            share = mask / mask.sum(axis=(-2, -1), keepdims=True)
            dX[..., i * s:i * s + size, j * s:j * s + size] += share * dout[..., i, j][..., None, None]
    return dX
""", "ties split"),
]

VARIANTS += [
    Variant("max_pool_backward", "unravel_index of each window's argmax", """
def max_pool_backward(dout, X, size=2, stride=None):
    s = size if stride is None else stride
    dX = np.zeros(X.shape)
    Ho, Wo = dout.shape[-2:]
    for idx in np.ndindex(*X.shape[:-2]):
        for i in range(Ho):
            for j in range(Wo):
                win = X[idx + (slice(i * s, i * s + size), slice(j * s, j * s + size))]
                m, k = np.unravel_index(np.argmax(win), win.shape)
                dX[idx + (i * s + m, j * s + k)] += dout[idx + (i, j)]
    return dX
"""),
]
