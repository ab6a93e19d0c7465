"""The record a training run leaves: per-epoch history, the kept weights' epoch and loss, and why it stopped."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["TrainResult"]


@dataclass
class TrainResult:
    """What a training run did: per-epoch history, the kept (best) weights' epoch and loss, and why it stopped.

    Attributes
    ----------
    history : list of dict
        One dict per epoch: ``epoch`` (1-based), ``iter`` (optimizer steps so far),
        ``train_loss``, ``valid_loss`` (with validation data), ``lr`` (of the first parameter
        group during the epoch), ``lr_adaptive`` (with ``adaptive_lr``), ``time_s`` (wall time
        since training began), plus what callbacks record; the last entry also has
        ``stop_reason``.
    best_epoch : int
        Number of completed epochs of the weights the monitored loss was best for (0 = the initial
        weights); with ``restore_best=True`` these are the returned weights.
    best_loss : float
        That monitored loss (``inf`` if no finite loss was seen).
    stop_reason : {"max_epochs", "early_stopping", "target", "diverged", "callback"} or str
        ``"diverged"`` only with ``on_divergence="restore"``; a callback may give its own reason to
        ``Trainer.stop``.
    n_epochs : int
        Epochs run (entries in ``history``).
    n_iter : int
        Optimizer steps taken.
    time_s : float
        Wall time of the whole run.
    monitor : {"train_loss", "valid_loss"}
        Which loss chose the best state and drove early stopping.
    """

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = math.inf
    stop_reason: str = "max_epochs"
    n_epochs: int = 0
    n_iter: int = 0
    time_s: float = 0.0
    monitor: str = "train_loss"
