"""``dlnp train {mlp,mlp3,cnn}``: train a reference model and plot what happened.

Trains the kit's reference 2-layer MLP, 3-layer MLP or small CNN (the models of
:mod:`dlnp.trainer`, given the reference solutions) on the embedded digits or on MNIST, with a progress bar,
and writes PNGs to ``--out``: ``loss.png``, ``accuracy.png``,
``confusion_matrix.png`` and, for the CNN, ``filters.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

MODELS = ("mlp", "mlp3", "cnn")


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="train a reference model (mlp, mlp3, cnn) and save plots")
    p.add_argument("model", choices=MODELS, help="mlp: 2 layers, mlp3: 3 layers, cnn: conv-pool-dense")
    p.add_argument(
        "--dataset",
        choices=("digits", "mnist"),
        default="digits",
        help="digits: embedded 8x8 digits (offline; 28x28 for the CNN); mnist: downloads once",
    )
    p.add_argument("--epochs", type=int, default=None, help="number of epochs (default: per model)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: per model)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: per model)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialization and the shuffling")
    p.add_argument(
        "--split-seed",
        type=int,
        default=0,
        help="seed of the stratified 80/20 train/test split of the digits (default 0)",
    )
    p.add_argument("--limit", type=int, default=None, help="use only the first N samples (quick runs)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (default 1: faster for these small matrices; 0 = library default)",
    )
    p.add_argument("--cache-dir", type=Path, default=None, help="MNIST cache folder (default ~/.cache/dlnp)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: dlnp-train-<model>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from contextlib import nullcontext
    from importlib import import_module

    import numpy as np

    from dlnp import datasets, trainer

    from .. import training

    out: Path = args.out or Path(f"dlnp-train-{args.model}")
    image = args.model == "cnn"
    try:
        data = trainer.prepare_data(args.model, args.dataset, args.split_seed, args.limit, args.cache_dir)
    except datasets.DatasetUnavailableError as exc:
        print(exc)
        return 1
    X_train, X_test = data.X_train, data.X_test

    config = training.default_config(args.model, args.dataset)
    config.seed = args.seed
    for name in ("epochs", "batch_size", "lr"):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, value)

    limits: Any = nullcontext()
    if args.threads > 0:
        try:
            threadpoolctl: Any = import_module("threadpoolctl")
            limits = threadpoolctl.threadpool_limits(args.threads)
        except ImportError:  # threadpoolctl comes with scikit-learn; without it, no pinning
            pass
    print(
        f"{args.model} on {args.dataset}: {len(X_train)} training and {len(X_test)} test samples, "
        f"{config.epochs} epochs"
    )
    with limits:
        model, history = training.fit(
            config, X_train, data.y_train, X_test, data.y_test, progress=not args.no_progress
        )
    y_pred = np.argmax(trainer.predict_proba(model, X_test), axis=1)
    filters = model.params["K"] if image else None
    files = training.save_plots(
        out, history, data.y_test, y_pred, filters=filters, title=f"({args.model}, {args.dataset})"
    )
    summary = {
        "model": args.model,
        "dataset": args.dataset,
        "epochs": config.epochs,
        "train_samples": len(X_train),
        "test_samples": len(X_test),
        "split_seed": args.split_seed if args.dataset == "digits" else None,
        "test_accuracy": history.test_acc[-1],
        "train_accuracy": history.train_acc[-1],
        "seconds": round(history.seconds, 2),
    }
    (out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"test accuracy {history.test_acc[-1]:.4f} (train {history.train_acc[-1]:.4f}) in {history.seconds:.1f} s")
    for path in [*files, str(out / "metrics.json")]:
        print(f"  wrote {path}")
    return 0
