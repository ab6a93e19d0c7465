"""The training loop's settings: one frozen dataclass, checked when built, derived with ``dataclasses.replace``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

import torch.nn.functional as F

from kernelreg._checks import check_int, check_positive, unknown_name

__all__ = ["LOSSES", "ON_DIVERGENCE", "OPTIMIZERS", "SCHEDULES", "STOP_REASONS", "TrainOptions"]

#: Loss names of :func:`~kernelreg.training.train` (besides a callable).
LOSSES = ("mse", "cross_entropy", "bce")

#: Optimizer names of :func:`~kernelreg.training.train` (besides a callable such as a ``torch.optim`` class).
OPTIMIZERS = ("adam", "adamw", "sgd", "lbfgs")

#: Schedule names of :func:`~kernelreg.training.train` (besides a callable ``factory(optimizer) -> scheduler``).
SCHEDULES = ("step", "cosine", "exponential", "plateau")

#: What a diverging loss does: raise :class:`~kernelreg.exceptions.DivergenceError`, or restore and warn.
ON_DIVERGENCE = ("raise", "restore")

#: Why a run stopped (:attr:`TrainResult.stop_reason`, the last history entry's ``stop_reason``).
STOP_REASONS = ("max_epochs", "early_stopping", "target", "diverged", "interrupted", "callback")

_LOSS_FUNCTIONS: dict[str, Callable] = {
    "mse": F.mse_loss,
    "cross_entropy": F.cross_entropy,
    "bce": F.binary_cross_entropy_with_logits,
}
_OWNER = "train"


@dataclass(frozen=True)
class TrainOptions:
    """Every setting of a training run except the data, checked once when built.

    The fields are the keyword arguments of :func:`kernelreg.training.train` of the same names
    (documented there). Build variants with ``dataclasses.replace(options, lr=...)``: the copy is
    checked again, the original never changes.

    Raises
    ------
    ValueError
        A value out of range or an unknown name (the message lists the known ones).
    TypeError
        A callback-like field that is not callable, or unknown early-stopping keys.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from kernelreg.training import TrainOptions
    >>> base = TrainOptions(lr=1e-2, max_epochs=500)
    >>> replace(base, optimizer="sgd").optimizer, base.optimizer
    ('sgd', 'adam')
    """

    loss: Literal["mse", "cross_entropy", "bce"] | Callable = "mse"
    optimizer: Literal["adam", "adamw", "sgd", "lbfgs"] | Callable = "adam"
    lr: float = 1e-3
    optimizer_params: Mapping[str, Any] | None = None
    adaptive_lr: float | None = None
    max_epochs: int = 100
    batch_size: int | None = None
    shuffle: bool = True
    schedule: Any = None
    early_stopping: int | bool | Mapping[str, Any] | None = None
    restore_best: bool = True
    target_loss: float | None = None
    extra_loss: Callable | None = None
    clip_grad_norm: float | None = None
    on_divergence: Literal["raise", "restore"] = "raise"
    divergence_factor: float | None = 1e6
    verbose: bool = False

    def __post_init__(self) -> None:
        """Check every field and store its normalised value (frozen: through object.__setattr__)."""
        put = object.__setattr__
        put(self, "lr", check_positive(self.lr, "lr", _OWNER))
        if self.adaptive_lr is not None:
            put(self, "adaptive_lr", check_positive(self.adaptive_lr, "adaptive_lr", _OWNER))
        put(self, "max_epochs", check_int(self.max_epochs, "max_epochs", _OWNER))
        if self.batch_size is not None:
            put(self, "batch_size", check_int(self.batch_size, "batch_size", _OWNER))
        if self.clip_grad_norm is not None:
            put(self, "clip_grad_norm", check_positive(self.clip_grad_norm, "clip_grad_norm", _OWNER))
        target = self.target_loss
        if target is not None and (isinstance(target, bool) or not isinstance(target, Real) or math.isnan(target)):
            raise ValueError(f"train needs target_loss to be a number or None; got {target!r}.")
        if isinstance(self.loss, str):
            if self.loss not in LOSSES:
                raise unknown_name("loss", self.loss, LOSSES, " (or a callable loss(pred, target))")
        elif not callable(self.loss):
            raise unknown_name("loss", self.loss, LOSSES, " (or a callable loss(pred, target))")
        if isinstance(self.optimizer, str):
            if self.optimizer.lower() not in OPTIMIZERS:
                raise unknown_name("optimizer", self.optimizer, OPTIMIZERS,
                                   " (or a torch.optim class / factory(params, lr=...))")
            put(self, "optimizer", self.optimizer.lower())
        elif not callable(self.optimizer):
            raise unknown_name("optimizer", self.optimizer, OPTIMIZERS,
                               " (or a torch.optim class / factory(params, lr=...))")
        if self.optimizer == "lbfgs" and self.adaptive_lr is not None:
            raise ValueError("optimizer='lbfgs' supports one parameter group only; drop adaptive_lr.")
        put(self, "optimizer_params", dict(self.optimizer_params or {}))
        if self.extra_loss is not None and not callable(self.extra_loss):
            raise TypeError(
                f"train needs extra_loss to be None or callable(module) -> tensor; got {self.extra_loss!r}."
            )
        if self.on_divergence not in ON_DIVERGENCE:
            raise ValueError(
                f"train needs on_divergence to be one of {list(ON_DIVERGENCE)}; "
                f"got on_divergence={self.on_divergence!r}."
            )
        if self.divergence_factor is not None:
            factor = check_positive(self.divergence_factor, "divergence_factor", _OWNER)
            if factor <= 1.0:
                raise ValueError(
                    "train needs divergence_factor > 1 (the loss may grow to this multiple of its reference "
                    f"before training counts as diverged) or None; got divergence_factor={factor!r}."
                )
            put(self, "divergence_factor", factor)
        self.early_stopping_rule(has_validation=True)  # checks the spec; the monitor is decided per fit
        for name in ("shuffle", "restore_best", "verbose"):
            put(self, name, bool(getattr(self, name)))

    def loss_function(self) -> Callable:
        """The loss as a callable ``loss(pred, target) -> scalar tensor``."""
        return _LOSS_FUNCTIONS[self.loss] if isinstance(self.loss, str) else self.loss

    def early_stopping_rule(self, has_validation: bool) -> tuple[int | None, float, str]:
        """(patience or None, min_delta, monitor) of ``early_stopping`` for data with or without validation."""
        spec = self.early_stopping
        monitor = "valid_loss" if has_validation else "train_loss"
        if spec is None or spec is False:
            return None, 0.0, monitor
        if spec is True:
            return 10, 0.0, monitor
        if isinstance(spec, Integral):
            return check_int(spec, "early_stopping (patience)", _OWNER), 0.0, monitor
        if isinstance(spec, Mapping):
            opts = dict(spec)
            patience = check_int(opts.pop("patience", 10), "early_stopping['patience']", _OWNER)
            min_delta = float(opts.pop("min_delta", 0.0))
            if not min_delta >= 0:
                raise ValueError(f"train needs early_stopping['min_delta'] >= 0; got {min_delta!r}.")
            mon = opts.pop("monitor", monitor)
            if mon not in ("train_loss", "valid_loss") or (mon == "valid_loss" and not has_validation):
                raise ValueError(
                    f"train: early_stopping['monitor']={mon!r} is not available; use 'train_loss'"
                    + (" or 'valid_loss'." if has_validation else " (or give validation data for 'valid_loss').")
                )
            if opts:
                raise TypeError(
                    f"train: early_stopping got unknown key(s) {sorted(opts)}; allowed: patience, min_delta, monitor."
                )
            return patience, min_delta, mon
        raise ValueError(
            "train: early_stopping must be None, True, a patience (int >= 1) or a dict with patience, "
            f"min_delta, monitor; got {spec!r}."
        )
