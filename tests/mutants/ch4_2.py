"""Chapter 4.2 mutants: conv2d, conv_forward, conv_backward."""

from . import Mutant, Variant

MUTANTS = [
    Mutant("conv2d", "true convolution (kernel flipped, as convolve2d)", """
def conv2d(image, kernel, stride=1):
    flipped = kernel[::-1, ::-1]
    kh, kw = kernel.shape
    Ho, Wo = (image.shape[0] - kh) // stride + 1, (image.shape[1] - kw) // stride + 1
    out = np.zeros((Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[i, j] = np.sum(image[i * stride:i * stride + kh, j * stride:j * stride + kw] * flipped)
    return out
""", "kernel flipped"),
    Mutant("conv2d", "imports scipy (not available when grading)", """
def conv2d(image, kernel, stride=1):
    from scipy.signal import correlate2d
    return correlate2d(image, kernel, mode="valid")[::stride, ::stride]
""", "only NumPy"),
    Mutant("conv2d", "stride ignored", """
def conv2d(image, kernel, stride=1):
    kh, kw = kernel.shape
    H, W = image.shape
    out = np.zeros((H - kh + 1, W - kw + 1))
    for i in range(H - kh + 1):
        for j in range(W - kw + 1):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out
""", "stride ignored"),
    Mutant("conv2d", "output size without + 1", """
def conv2d(image, kernel, stride=1):
    kh, kw = kernel.shape
    Ho, Wo = (image.shape[0] - kh) // stride, (image.shape[1] - kw) // stride
    out = np.zeros((Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[i, j] = np.sum(image[i * stride:i * stride + kh, j * stride:j * stride + kw] * kernel)
    return out
""", "wrong output size"),
    Mutant("conv2d", "window not strided", """
def conv2d(image, kernel, stride=1):
    kh, kw = kernel.shape
    Ho, Wo = (image.shape[0] - kh) // stride + 1, (image.shape[1] - kw) // stride + 1
    out = np.zeros((Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out
""", "wrong window"),
    Mutant("conv_forward", "kernel flipped", """
def conv_forward(X, K, b, stride=1):
    n, C, H, W = X.shape
    F, _, kh, kw = K.shape
    Kf = K[:, :, ::-1, ::-1]
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.zeros((n, F, Ho, Wo))
    for y in range(Ho):
        for x in range(Wo):
            win = X[:, :, y * stride:y * stride + kh, x * stride:x * stride + kw]
            out[:, :, y, x] = np.einsum("icpq,fcpq->if", win, Kf) + b
    return out
""", "kernel flipped"),
    Mutant("conv_forward", "bias added per channel", """
def conv_forward(X, K, b, stride=1):
    n, C, H, W = X.shape
    F, _, kh, kw = K.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.zeros((n, F, Ho, Wo))
    for i in range(n):
        for f in range(F):
            for c in range(C):
                for y in range(Ho):
                    for x in range(Wo):
                        win = X[i, c, y * stride:y * stride + kh, x * stride:x * stride + kw]
                        out[i, f, y, x] += np.sum(win * K[f, c]) + b[f]
    return out
""", "bias added per channel"),
    Mutant("conv_forward", "stride ignored", """
def conv_forward(X, K, b, stride=1):
    cols = np.lib.stride_tricks.sliding_window_view(X, K.shape[2:], axis=(2, 3))
    return np.einsum("icyxpq,fcpq->ifyx", cols, K) + b.reshape(1, -1, 1, 1)
""", "stride ignored"),
    Mutant("conv_backward", "dK averaged over the batch", """
def conv_backward(dout, X, K, stride=1):
    dX, dK, db = _reference_conv_backward(dout, X, K, stride)
    return dX, dK / X.shape[0], db
""", "dK averaged over the batch"),
    Mutant("conv_backward", "db on the wrong axes", """
def conv_backward(dout, X, K, stride=1):
    dX, dK, db = _reference_conv_backward(dout, X, K, stride)
    return dX, dK, dout.sum(axis=(1, 2, 3))
""", "db on the wrong axes"),
    Mutant("conv_backward", "fancy-indexed += loses overlapping windows", """
def conv_backward(dout, X, K, stride=1):
    n, F, Ho, Wo = dout.shape
    _, C, kh, kw = K.shape
    cols = np.lib.stride_tricks.sliding_window_view(X, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    dK = np.einsum("ifyx,icyxpq->fcpq", dout, cols)
    db = dout.sum(axis=(0, 2, 3))
    dcols = np.einsum("ifyx,fcpq->icyxpq", dout, K)
    rows = np.arange(Ho)[:, None, None, None] * stride + np.arange(kh)[None, None, :, None]
    cols_idx = np.arange(Wo)[None, :, None, None] * stride + np.arange(kw)[None, None, None, :]
    rows, cols_idx = np.broadcast_arrays(rows, cols_idx)
    dX = np.zeros(X.shape)
    dX[:, :, rows, cols_idx] += dcols
    return dX, dK, db
""", "np.add.at"),
    Mutant("conv_backward", "kernel flipped in dX", """
def conv_backward(dout, X, K, stride=1):
    _, dK, db = _reference_conv_backward(dout, X, K, stride)
    dX, _, _ = _reference_conv_backward(dout, X, K[:, :, ::-1, ::-1].copy(), stride)
    return dX, dK, db
""", "kernel flipped"),
    Mutant("conv2d", "no validation of sizes and stride", """
def conv2d(image, kernel, stride=1):
    kh, kw = kernel.shape
    Ho = (image.shape[0] - kh) // stride + 1
    Wo = (image.shape[1] - kw) // stride + 1
    out = np.zeros((max(Ho, 0), max(Wo, 0)))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i * stride:i * stride + kh, j * stride:j * stride + kw] * kernel)
    return out
""", "(no validation)"),
]

# The conv_backward mutants reuse the correct function under another name.
_REFERENCE = '''
def _reference_conv_backward(dout, X, K, stride=1):
    n, F, Ho, Wo = dout.shape
    _, C, kh, kw = K.shape
    cols = np.lib.stride_tricks.sliding_window_view(X, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    dK = np.einsum("ifyx,icyxpq->fcpq", dout, cols)
    db = dout.sum(axis=(0, 2, 3))
    dX = np.zeros(X.shape)
    for y in range(Ho):
        for x in range(Wo):
            dX[:, :, y * stride:y * stride + kh, x * stride:x * stride + kw] += np.einsum("if,fcpq->icpq",
                                                                                  dout[:, :, y, x], K)
    return dX, dK, db
'''
MUTANTS = [
    Mutant(m.function, m.name, _REFERENCE + m.source, m.diagnosis) if "_reference_conv_backward" in m.source else m
    for m in MUTANTS
]

VARIANTS = [
    Variant("conv2d", "python loops", """
def conv2d(image, kernel, stride=1):
    kh, kw = kernel.shape
    if stride < 1 or kh > image.shape[0] or kw > image.shape[1]:
        raise ValueError(f"kernel {kernel.shape} must fit in image {image.shape}, stride {stride} >= 1")
    Ho = (image.shape[0] - kh) // stride + 1
    Wo = (image.shape[1] - kw) // stride + 1
    out = np.zeros((Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            total = 0.0
            for m in range(kh):
                for n in range(kw):
                    total += image[i * stride + m, j * stride + n] * kernel[m, n]
            out[i, j] = total
    return out
"""),
    Variant("conv_forward", "loops over images, filters and positions", """
def conv_forward(X, K, b, stride=1):
    n, C, H, W = X.shape
    F, _, kh, kw = K.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.zeros((n, F, Ho, Wo))
    for i in range(n):
        for f in range(F):
            for y in range(Ho):
                for x in range(Wo):
                    window = X[i, :, y * stride:y * stride + kh, x * stride:x * stride + kw]
                    out[i, f, y, x] = np.sum(window * K[f]) + b[f]
    return out
"""),
    Variant("conv_backward", "loops with np.add.at", """
def conv_backward(dout, X, K, stride=1):
    n, F, Ho, Wo = dout.shape
    _, C, kh, kw = K.shape
    dX = np.zeros(X.shape)
    dK = np.zeros(K.shape)
    db = np.zeros(F)
    for i in range(n):
        for f in range(F):
            for y in range(Ho):
                for x in range(Wo):
                    g = dout[i, f, y, x]
                    r, c = y * stride, x * stride
                    dK[f] += g * X[i, :, r:r + kh, c:c + kw]
                    rows, cols = np.meshgrid(np.arange(r, r + kh), np.arange(c, c + kw), indexing="ij")
                    for ch in range(C):
                        np.add.at(dX[i, ch], (rows, cols), g * K[f, ch])
                    db[f] += g
    return dX, dK, db
"""),
]

# Mistakes and correct styles seen in public code (CS231n-style naive and im2col layers), written anew.
MUTANTS += [
    Mutant("conv_forward", "channels-last output (the TensorFlow layout)", """
def conv_forward(X, K, b, stride=1):
    n, C, H, W = X.shape
    F, _, kh, kw = K.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    out = np.zeros((n, Ho, Wo, F))
    for y in range(Ho):
        for x in range(Wo):
            patch = X[:, :, y * stride:y * stride + kh, x * stride:x * stride + kw]
            out[:, y, x, :] = np.tensordot(patch, K, axes=([1, 2, 3], [1, 2, 3])) + b
    return out
""", "channels last"),
    Mutant("conv_backward", "dK from the first image only", _REFERENCE + """
def conv_backward(dout, X, K, stride=1):
    dX, _, db = _reference_conv_backward(dout, X, K, stride)
    _, dK, _ = _reference_conv_backward(dout[:1], X[:1], K, stride)
    return dX, dK, db
""", "dK not summed over the batch"),
    Mutant("conv_backward", "window gradients assigned with = (naive loop)", """
def conv_backward(dout, X, K, stride=1):
    n, F, Ho, Wo = dout.shape
    _, C, kh, kw = K.shape
    dX, dK = np.zeros(X.shape), np.zeros(K.shape)
    db = dout.sum(axis=(0, 2, 3))
    for i in range(n):
        for y in range(Ho):
            for x in range(Wo):
                rows, cols = slice(y * stride, y * stride + kh), slice(x * stride, x * stride + kw)
                window = np.zeros((C, kh, kw))
                for f in range(F):
                    dK[f] += dout[i, f, y, x] * X[i, :, rows, cols]
                    window += dout[i, f, y, x] * K[f]
                dX[i, :, rows, cols] = window
    return dX, dK, db
""", "= instead of +="),
]

VARIANTS += [
    Variant("conv_forward", "im2col: windows as rows, one matrix product", """
def conv_forward(X, K, b, stride=1):
    n, C, H, W = X.shape
    F, _, kh, kw = K.shape
    Ho, Wo = (H - kh) // stride + 1, (W - kw) // stride + 1
    rows = np.empty((n, Ho, Wo, C * kh * kw))
    for y in range(Ho):
        for x in range(Wo):
            rows[:, y, x, :] = X[:, :, y * stride:y * stride + kh, x * stride:x * stride + kw].reshape(n, -1)
    out = rows.reshape(-1, C * kh * kw) @ K.reshape(F, -1).T + b
    return out.reshape(n, Ho, Wo, F).transpose(0, 3, 1, 2)
"""),
    Variant("conv2d", "validation first, then sliding_window_view and einsum", """
def conv2d(image, kernel, stride=1):
    if stride < 1:
        raise ValueError("stride must be at least 1")
    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:
        raise ValueError("the kernel does not fit in the image")
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)[::stride, ::stride]
    return np.einsum("ijmn,mn->ij", windows, kernel)
"""),
]
