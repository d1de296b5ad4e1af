"""The capstone of chapter 4.5: train a network with YOUR functions and report its accuracy.

Everything that computes something the chapters teach is the student's own
code, looked up by name in their package (``neural_network`` in a release):
the forward and backward passes (``forward_mlp``/``backward_mlp``, the 3-layer
versions, or ``conv_forward``/``relu``/``max_pool``/``softmax`` and their
backward functions), the loss (``cross_entropy``), the update
(``momentum_update``, then ``W += v``), the optional L2 term (``l2_gradient``)
and the metric (``accuracy``). The models and the training loop are
:mod:`dlnp.trainer`'s, which only loads the digits, initializes the weights,
shuffles mini-batches and checks what comes back; this module adds the
capstone's own checks: a function that is still a stub, or a loss that turns
into NaN, stops the run with a message that names the function to look at.

It runs in the student's own process, on their own machine: nothing here is
graded, and no reference code is involved (``--package solutions`` runs the
kit's reference instead, which is how the kit tests this module).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from dlnp import datasets
from dlnp.manifest import parse_stub_label
from dlnp.trainer import (
    MODELS,
    Functions,
    MomentumSGD,
    TrainConfig,
    TrainingError,
    build_model,
    chapter_of,
    predict_proba,
    prepare_data,
    train_epoch,
)

#: The modules of the student's package where the trainer's functions are looked up.
MODULES = ("activations", "losses", "mlp", "deep", "conv", "pooling", "regularization", "momentum", "metrics")


@dataclass
class CapstoneConfig(TrainConfig):
    """Hyper-parameters of a capstone run (the defaults reach about 97% on digits)."""

    split_seed: int = 0


@dataclass
class CapstoneReport:
    """What a run produced: the figures to hand in."""

    config: CapstoneConfig
    package: str
    train_samples: int
    test_samples: int
    train_loss: list[float] = field(default_factory=list[float])
    test_accuracy: list[float] = field(default_factory=list[float])
    seconds: float = 0.0

    @property
    def final_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    def to_json(self) -> str:
        data = asdict(self)
        data["final_test_accuracy"] = self.final_accuracy
        return json.dumps(data, indent=2) + "\n"


def _package_modules(package: str, folder: Path | None) -> list[ModuleType]:
    """The modules of ``package`` that hold chapter functions (those that exist).

    With ``folder``, the package is loaded from ``folder/package`` (a release)
    when it is there, without touching ``sys.path``; otherwise it is imported
    by name (``ModuleNotFoundError`` if there is no such package at all).
    """
    init = folder / package / "__init__.py" if folder is not None else None
    if init is not None and init.is_file() and package not in sys.modules:
        spec = importlib.util.spec_from_file_location(package, init, submodule_search_locations=[str(init.parent)])
        assert spec is not None and spec.loader is not None
        root = importlib.util.module_from_spec(spec)
        sys.modules[package] = root  # before running it, so that its submodules find it
        try:
            spec.loader.exec_module(root)
        except BaseException:
            del sys.modules[package]
            raise
    else:
        import_module(package)
    modules: list[ModuleType] = []
    for name in MODULES:
        try:
            modules.append(import_module(f"{package}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{package}.{name}":
                raise
    return modules


def student_functions(package: str = "neural_network", folder: Path | None = None) -> Functions:
    """The trainer's :class:`~dlnp.trainer.Functions`, looked up by name in ``package``'s modules.

    A function that is a stub, or missing, raises :class:`TrainingError` naming
    its chapter when the trainer calls it (not before: the MLP does not need
    the CNN's functions).
    """
    modules = _package_modules(package, folder)
    found: dict[str, Callable[..., Any]] = {}
    for name in Functions.names():
        fn = next((getattr(m, name) for m in modules if hasattr(m, name)), None)
        found[name] = _named(fn, name) if fn is not None else _missing(package, name)
    return Functions(**found)


def _missing(package: str, name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise TrainingError(f"{package} has no function {name} (chapter {chapter_of(name)})")

    return call


def _named(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``fn``, with a stub's NotImplementedError turned into a clear TrainingError."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NotImplementedError as exc:
            # A stub says "ch3.2: implement relu"; it may be a function that ``name`` calls.
            label = parse_stub_label(str(exc))
            chapter, stub = label if label else (chapter_of(name), name)
            via = "" if stub == name else f" (called by {name})"
            raise TrainingError(
                f"the capstone needs {stub} from chapter {chapter}{via}, which is still a stub. "
                f"Implement it, then run `dlnp check {chapter}`."
            ) from None

    return call


def run_capstone(
    config: CapstoneConfig,
    package: str = "neural_network",
    on_epoch: Callable[[int, CapstoneReport], None] | None = None,
    limit: int | None = None,
    folder: Path | None = None,
) -> CapstoneReport:
    """Train ``config.model`` on the embedded digits with ``package``'s functions.

    ``folder`` is where the package is (a release; default: import it by
    name). ``limit`` keeps only the first ``limit`` digits (quick runs).
    Raises :class:`TrainingError` when a needed function is a stub or misbehaves.
    """
    if config.model not in MODELS:
        raise TrainingError(f"unknown model {config.model!r}; choose one of {MODELS}")
    fns = student_functions(package, folder)
    data = prepare_data(config.model, "digits", config.split_seed, limit)
    Y_train = datasets.one_hot(data.y_train, 10)
    rng = np.random.default_rng(config.seed)
    model = build_model(fns, config, data.X_train, 10, rng)
    optimizer = MomentumSGD(fns, model.params, config.lr, config.mu, config.l2)
    report = CapstoneReport(config, package, len(data.X_train), len(data.X_test))
    start = time.perf_counter()
    for epoch in range(config.epochs):
        train_epoch(model, optimizer, data.X_train, Y_train, config.batch_size, rng)
        loss = float(fns.cross_entropy(predict_proba(model, data.X_train), Y_train))
        if not math.isfinite(loss):
            raise TrainingError(
                f"the training loss became {loss} in epoch {epoch + 1}: check that softmax subtracts the row "
                f"maximum and cross_entropy clips its input, or lower the learning rate (--lr)"
            )
        report.train_loss.append(loss)
        report.test_accuracy.append(float(fns.accuracy(predict_proba(model, data.X_test), data.y_test)))
        if on_epoch is not None:
            on_epoch(epoch, report)
    report.seconds = time.perf_counter() - start
    return report


def save_report(report: CapstoneReport, out: Path) -> list[Path]:
    """``report.json`` and ``curves.png`` (training loss and test accuracy per epoch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(report.to_json())
    epochs = np.arange(1, len(report.train_loss) + 1)
    fig: Any
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, report.train_loss)
    left.set(xlabel="epoch", ylabel="cross-entropy", title="training loss")
    right.plot(epochs, report.test_accuracy)
    right.set(xlabel="epoch", ylabel="accuracy", title=f"test accuracy (final {report.final_accuracy:.3f})")
    fig.suptitle(f"capstone: {report.config.model} trained with the functions of {report.package}")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=100)
    plt.close(fig)
    return [out / "report.json", out / "curves.png"]
