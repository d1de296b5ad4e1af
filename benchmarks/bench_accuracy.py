"""Test accuracy of the reference models on held-out digits (a script, not a test).

    python benchmarks/bench_accuracy.py                          # mlp, mlp3, cnn on splits 0-4
    python benchmarks/bench_accuracy.py --models cnn --seeds 0,1,2,3,4 --splits 0

Every run is exactly ``dlnp train MODEL --split-seed S --seed T`` (same data
preparation, same default hyper-parameters, one BLAS thread), so the figures
are what a user of the kit sees. The digits test set has 359 images: one image
is 0.28 percentage points, which is why several splits (``--splits``) and
training seeds (``--seeds``) are reported rather than one number. Runs go to a
pool of ``--jobs`` processes; the per-run seconds are wall-clock time of the
training loop inside each process.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"mlp": 0.97, "mlp3": 0.97, "cnn": 0.98}  # the kit's accuracy targets on digits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="mlp,mlp3,cnn")
    p.add_argument("--splits", default="0,1,2,3,4", help="comma-separated split seeds")
    p.add_argument("--seeds", default="0", help="comma-separated training seeds (initialization, shuffling)")
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (each with one BLAS thread)")
    return p.parse_args(argv)


def run_one(model: str, split_seed: int, seed: int) -> tuple[str, int, int, float, float]:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    from dlnp.trainer import prepare_data
    from instructor import training

    data = prepare_data(model, "digits", split_seed)
    config = training.default_config(model)
    config.seed = seed
    with threadpool_limits(1):
        _, history = training.fit(config, *data)
    return model, split_seed, seed, history.test_acc[-1], history.seconds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    models = args.models.split(",")
    splits = [int(s) for s in args.splits.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = list(itertools.product(models, splits, seeds))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_one, *zip(*runs, strict=True)))
    print(f"test accuracy on held-out digits ({len(runs)} runs, 1 BLAS thread each, {args.jobs} in parallel)")
    print(f"{'model':6s} {'split':>5s} {'seed':>4s} {'accuracy':>9s} {'seconds':>8s}")
    for model, split_seed, seed, acc, secs in results:
        print(f"{model:6s} {split_seed:5d} {seed:4d} {acc:9.4f} {secs:8.1f}")
    print()
    print(f"{'model':6s} {'runs':>4s} {'mean':>7s} {'min':>7s} {'max':>7s} {'target':>7s} {'all >= target':>14s}")
    for model in models:
        accs = [acc for m, _, _, acc, _ in results if m == model]
        ok = all(a >= TARGETS[model] for a in accs)
        print(
            f"{model:6s} {len(accs):4d} {statistics.mean(accs):7.4f} {min(accs):7.4f} {max(accs):7.4f} "
            f"{TARGETS[model]:7.2f} {'yes' if ok else 'NO':>14s}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
