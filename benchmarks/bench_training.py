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
installed).

If PyTorch happens to be importable (it is never a dependency of the kit; the
CPU wheel ``pip install torch==2.13.0`` is enough), the same architectures are
timed with ``torch.nn`` and ``torch.optim.SGD`` in the same worker, with
``torch.set_num_threads`` equal to the BLAS thread count, and the NumPy/PyTorch
ratio is printed (below 1.0 means NumPy is faster). NumPy and PyTorch epochs
alternate, so that both see the same load on a shared machine; besides the wall
clock, the process CPU time of every epoch is reported (summed over threads),
which is much less sensitive to other processes. ``--json FILE`` keeps every
single timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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
    p.add_argument("--json", type=Path, default=None, help="also write the rows (all timings) to this file")
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)  # internal: thread count
    return p.parse_args(argv)


# --------------------------------------------------------------------------- worker side

Epoch = Callable[[int], None]  # one epoch over the first n samples


def numpy_epoch(model: str, dtype: str, args: argparse.Namespace) -> Epoch:
    import numpy as np

    from dlnp.trainer import train_epoch
    from instructor import training

    rng = np.random.default_rng(0)
    n = args.samples
    shape = (n, 1, 28, 28) if model == "cnn" else (n, 784)
    X = rng.random(shape, dtype=np.float64).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, n)]
    config = training.ReferenceConfig(model=model, hidden=256, hidden2=128, dtype=dtype)  # what `dlnp train` builds
    net = training.build_model(config, X, 10, rng)
    optimizer = training.InPlaceMomentumSGD(net.params, lr=1e-3, mu=0.9)

    def epoch(n: int) -> None:
        train_epoch(net, optimizer, X[:n], Y[:n], args.batch_size, rng)

    return epoch


def torch_epoch(model: str, dtype: str, args: argparse.Namespace) -> Epoch | None:
    try:
        import torch
    except ImportError:
        return None
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
        for start in range(0, n, args.batch_size):
            rows = perm[start : start + args.batch_size]  # gathered per batch, as the NumPy loop does
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(X[rows]), y[rows])
            loss.backward()
            optimizer.step()

    return epoch


def worker(args: argparse.Namespace) -> int:
    threads = int(args.worker)
    try:  # the environment variables already pin BLAS; threadpoolctl makes sure
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass
    from instructor.training import keep_freed_memory

    keep_freed_memory()  # the whole process: NumPy and PyTorch alike
    torch_ok = False
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(threads)  # the same number of threads as BLAS
            torch_ok = True
        except ImportError:
            pass
    warm = min(args.samples, 20 * args.batch_size)
    for model in args.models.split(","):
        for dtype in args.dtypes.split(","):
            epochs: dict[str, Epoch] = {"numpy": numpy_epoch(model, dtype, args)}
            if torch_ok:
                epoch = torch_epoch(model, dtype, args)
                if epoch is not None:
                    epochs["torch"] = epoch
            wall: dict[str, list[float]] = {name: [] for name in epochs}
            cpu: dict[str, list[float]] = {name: [] for name in epochs}
            for epoch in epochs.values():
                epoch(warm)
            for _ in range(args.repeats):  # alternate, so both see the same load
                for name, epoch in epochs.items():
                    start, start_cpu = time.perf_counter(), time.process_time()
                    epoch(args.samples)
                    wall[name].append(time.perf_counter() - start)
                    cpu[name].append(time.process_time() - start_cpu)
            row: dict[str, Any] = {"model": model, "dtype": dtype, "threads": threads}
            for name in epochs:
                row[name] = statistics.median(wall[name])
                row[f"{name}_cpu"] = statistics.median(cpu[name])
                row[f"{name}_all"] = [round(t, 3) for t in wall[name]]
            print(json.dumps(row), flush=True)
    return 0


# --------------------------------------------------------------------------- driver side


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def _seconds(x: float | None) -> str:
    return f"{x:.2f}" if x else "-"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args)
    print(
        f"seconds per epoch, {args.samples} samples, batch {args.batch_size}, median of {args.repeats} "
        "(wall clock; cpu = process CPU time, all threads)"
    )
    header = ("model", "dtype", "threads", "numpy s", "torch s", "numpy/torch", "numpy cpu", "torch cpu", "cpu ratio")
    print(f"{header[0]:6} {header[1]:8} " + " ".join(f"{h:>11}" for h in header[2:]))
    forward = _strip_threads(argv if argv is not None else sys.argv[1:])
    rows: list[dict[str, Any]] = []
    for threads in [int(t) for t in args.threads.split(",")]:
        env = dict(os.environ)
        env.update({var: str(threads) for var in THREAD_VARS})  # before NumPy is imported
        cmd = [sys.executable, str(Path(__file__).resolve()), *forward, "--worker", str(threads)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            row = json.loads(line)
            rows.append(row)
            cells = (
                row["threads"],
                _seconds(row["numpy"]),
                _seconds(row.get("torch")),
                _ratio(row["numpy"], row.get("torch")),
                _seconds(row["numpy_cpu"]),
                _seconds(row.get("torch_cpu")),
                _ratio(row["numpy_cpu"], row.get("torch_cpu")),
            )
            print(f"{row['model']:6} {row['dtype']:8} " + " ".join(f"{c:>11}" for c in cells), flush=True)
        if proc.wait() != 0:
            return proc.returncode
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
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
