"""``dlnp capstone {mlp,mlp3,cnn}``: train with your own functions and report your accuracy.

The capstone of chapter 4.5. Run it inside your release once chapters 3.2 to
4.5 pass ``dlnp check``: it trains on the embedded digits with the functions
of your ``neural_network`` package, prints the test accuracy after every
epoch and writes ``report.json`` and ``curves.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

MODELS = ("mlp", "mlp3", "cnn")
#: Defaults per model: the CNN is slower per epoch (and much slower with loops).
EPOCHS = {"mlp": 30, "mlp3": 30, "cnn": 15}


def register(sub: Any) -> None:
    p = sub.add_parser("capstone", help="train a network with your own functions and report its accuracy")
    p.add_argument("model", nargs="?", choices=MODELS, default="mlp",
                   help="mlp: 64-256-10 (3.4), mlp3: 64-256-128-10 (4.1), cnn: conv-pool-dense (4.2, 4.3)")
    p.add_argument("--epochs", type=int, default=None, help="default: 30 (mlp, mlp3), 15 (cnn)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--mu", type=float, default=0.9, help="momentum (default 0.9; 0 = plain SGD)")
    p.add_argument("--l2", type=float, default=0.0, help="L2 strength lambda for l2_gradient (default 0)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0, help="seed of the initialization and the shuffling")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the 80/20 train/test split")
    p.add_argument("--limit", type=int, default=None, help="use only the first N digits (quick runs)")
    p.add_argument("--release", type=Path, default=Path("."),
                   help="your release folder, where your neural_network package is (default: here)")
    p.add_argument("--package", default="neural_network", help=argparse.SUPPRESS)  # the kit's tests: solutions
    p.add_argument("--out", type=Path, default=Path("capstone"), help="output folder (default: capstone)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..capstone import CapstoneConfig, CapstoneReport, run_capstone, save_report
    from ..trainer import TrainingError

    epochs = args.epochs if args.epochs is not None else EPOCHS[args.model]
    config = CapstoneConfig(model=args.model, epochs=epochs, batch_size=args.batch_size, lr=args.lr,
                            mu=args.mu, l2=args.l2, seed=args.seed, split_seed=args.split_seed)

    def progress(epoch: int, report: CapstoneReport) -> None:
        print(f"epoch {epoch + 1:3d}/{epochs}  training loss {report.train_loss[-1]:.4f}  "
              f"test accuracy {report.test_accuracy[-1]:.4f}", flush=True)

    print(f"capstone: {args.model} on the digits with {args.package}'s functions, {epochs} epochs")
    try:
        report = run_capstone(config, args.package, on_epoch=progress, limit=args.limit,
                              folder=args.release.resolve())
    except TrainingError as exc:
        print(f"capstone stopped: {exc}")
        return 1
    except ModuleNotFoundError as exc:
        if exc.name != args.package:
            raise
        print(f"capstone stopped: no package {args.package!r} here; run it inside your release "
              "(or pass --release PATH)")
        return 1
    files = save_report(report, args.out)
    print(f"final test accuracy {report.final_accuracy:.4f} ({report.test_samples} test digits) "
          f"in {report.seconds:.1f} s")
    for path in files:
        print(f"  wrote {path}")
    return 0
