"""Seconds per training epoch of the reference models (a script, not a test).

    python benchmarks/bench_training.py                 # 60,000 samples, 1 and 2 threads
    python benchmarks/bench_training.py --samples 6000 --repeats 1 --threads 1

One epoch = one pass of mini-batch SGD with momentum over ``--samples``
MNIST-shaped synthetic samples (random pixels and labels: the speed does not
depend on the values) for

* ``mlp``:  784 -> 256 -> 10           (chapter 3.4)
* ``mlp3``: 784 -> 256 -> 128 -> 10    (chapter 4.1)
* ``cnn``:  conv 8 x 3x3 -> ReLU -> 2x2 max-pool -> dense 10  (chapters 4.2/4.3)

in float32 and float64. Every figure is the median of ``--repeats`` epochs after
one warm-up. BLAS threads are pinned per run: each thread count runs in a fresh
worker process whose ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS``
are set before NumPy is imported (and threadpoolctl also limits them when it is
installed). If PyTorch happens to be importable (it is never a dependency), the
same architectures are timed with ``torch.nn`` and the NumPy/PyTorch ratio is
printed (below 1.0 means NumPy is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
MODELS = ("mlp", "mlp3", "cnn")
DTYPES = ("float32", "float64")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=60_000, help="samples per epoch (default 60000)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3, help="timed epochs per figure (median)")
    p.add_argument("--threads", default="1,2", help="comma-separated BLAS thread counts")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--dtypes", default=",".join(DTYPES))
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)  # internal: thread count
    return p.parse_args(argv)


# --------------------------------------------------------------------------- worker side


def numpy_epoch_seconds(model: str, dtype: str, args: argparse.Namespace) -> list[float]:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from dlnp import training

    rng = np.random.default_rng(0)
    n = args.samples
    shape = (n, 1, 28, 28) if model == "cnn" else (n, 784)
    X = rng.random(shape, dtype=np.float64).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    if model == "cnn":
        net: Any = training.CNN((1, 28, 28), 10, rng, dtype=dtype)
    elif model == "mlp3":
        net = training.MLP3(784, 256, 128, 10, rng, dtype=dtype)
    else:
        net = training.MLP2(784, 256, 10, rng, dtype=dtype)
    optimizer = training.MomentumSGD(net.params, lr=1e-3, mu=0.9)
    warm = min(n, 20 * args.batch_size)
    training.train_epoch(net, optimizer, X[:warm], Y[:warm], args.batch_size, rng)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        training.train_epoch(net, optimizer, X, Y, args.batch_size, rng)
        times.append(time.perf_counter() - start)
    return times


def torch_epoch_seconds(model: str, dtype: str, args: argparse.Namespace, threads: int) -> list[float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tdtype = torch.float32 if dtype == "float32" else torch.float64
    nn = torch.nn
    if model == "cnn":
        net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 13 * 13, 10))
        X = torch.rand(args.samples, 1, 28, 28, dtype=tdtype)
    elif model == "mlp3":
        net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        X = torch.rand(args.samples, 784, dtype=tdtype)
    else:
        net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        X = torch.rand(args.samples, 784, dtype=tdtype)
    net = net.to(tdtype)
    y = torch.randint(0, 10, (args.samples,))
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def epoch(n: int) -> None:
        perm = torch.randperm(n)
        Xs, ys = X[:n][perm], y[:n][perm]
        for start in range(0, n, args.batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xs[start : start + args.batch_size]), ys[start : start + args.batch_size])
            loss.backward()
            optimizer.step()

    epoch(min(args.samples, 20 * args.batch_size))
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        epoch(args.samples)
        times.append(time.perf_counter() - start)
    return times


def worker(args: argparse.Namespace) -> int:
    threads = int(args.worker)
    try:  # the environment variables already pin BLAS; threadpoolctl makes sure
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass
    for model in args.models.split(","):
        for dtype in args.dtypes.split(","):
            row: dict[str, Any] = {"model": model, "dtype": dtype, "threads": threads}
            row["numpy"] = statistics.median(numpy_epoch_seconds(model, dtype, args))
            if not args.no_torch:
                times = torch_epoch_seconds(model, dtype, args, threads)
                row["torch"] = statistics.median(times) if times else None
            print(json.dumps(row), flush=True)
    return 0


# --------------------------------------------------------------------------- driver side


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args)
    print(f"seconds per epoch, {args.samples} samples, batch {args.batch_size}, median of {args.repeats}")
    print(f"{'model':6} {'dtype':8} {'threads':>7} {'numpy s':>9} {'torch s':>9} {'numpy/torch':>12}")
    forward = _strip_threads(argv if argv is not None else sys.argv[1:])
    for threads in [int(t) for t in args.threads.split(",")]:
        env = dict(os.environ)
        env.update({var: str(threads) for var in THREAD_VARS})  # before NumPy is imported
        cmd = [sys.executable, str(Path(__file__).resolve()), *forward, "--worker", str(threads)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            row = json.loads(line)
            torch_s = row.get("torch")
            ratio = f"{row['numpy'] / torch_s:12.2f}" if torch_s else f"{'-':>12}"
            torch_txt = f"{torch_s:9.2f}" if torch_s else f"{'-':>9}"
            print(
                f"{row['model']:6} {row['dtype']:8} {row['threads']:>7} {row['numpy']:9.2f} {torch_txt} {ratio}",
                flush=True,
            )
        if proc.wait() != 0:
            return proc.returncode
    return 0


def _strip_threads(argv: list[str]) -> list[str]:
    """Drop a ``--threads VALUE`` pair (the worker gets its own count)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--threads":
            skip = True
            continue
        if arg.startswith("--threads="):
            continue
        out.append(arg)
    return out


if __name__ == "__main__":
    sys.exit(main())
