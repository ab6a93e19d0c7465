"""Long full-batch trainings of a bench cell that survive interrupts: checkpoints every few epochs, resumed on rerun.

The runner saves finished cells; a cell whose training takes longer than one invocation (the IAT
paper's networks at M = 500 on a shared CPU, the Helmholtz PINNs) would never finish when runs are
split into short invocations. :func:`train_resumable` trains with Adam and a per-epoch learning-rate
factor through :func:`kernelreg.training.train`, writes the weights, Adam's state, the loss curve
and the elapsed time every ``save_every`` epochs (atomically, after a complete step), and on the
next call with the same ``tag`` continues from there: the result equals an uninterrupted run's
(same steps, same learning rates, same optimizer state).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from kernelreg._io import atomic_open
from kernelreg.training import Callback, train

__all__ = ["train_resumable", "clear_checkpoints"]


class _Saver(Callback):
    """Checkpoint every ``every`` epochs: weights, Adam state, epochs done, curve, time and the extra state."""

    def __init__(self, path: Path, tag: str, start: int, curve: list[float], time_s: float, cpu_s: float,
                 every: int, extra: Any) -> None:
        self.path, self.tag, self.start, self.curve, self.time_s = path, tag, start, curve, time_s
        self.cpu_s, self.cpu_start = cpu_s, time.process_time()
        self.every, self.extra = max(1, int(every)), extra

    def state(self, trainer, epoch: int) -> dict:
        """What a resumed run needs, after ``epoch`` completed steps of this call."""
        history = trainer.history[:epoch]
        return {"tag": self.tag, "epoch": self.start + epoch, "model": trainer.module.state_dict(),
                "optimizer": trainer.optimizer.state_dict(),
                "curve": self.curve + [h["train_loss"] for h in history],
                "time_s": self.time_s + (history[-1]["time_s"] if history else 0.0),
                "cpu_s": self.cpu_s + time.process_time() - self.cpu_start,
                "extra": self.extra.state() if self.extra is not None else None}

    def on_epoch_end(self, trainer, epoch: int, **kwargs) -> None:
        if epoch % self.every == 0:
            _save(self.path, self.state(trainer, epoch))


def _save(path: Path, state: dict) -> None:
    """torch.save through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path) as fh:
        torch.save(state, fh)


def train_resumable(
    module: torch.nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    path: str | os.PathLike,
    tag: str,
    epochs: int,
    lr: float,
    factor: Callable[[int], float],
    save_every: int = 50,
    extra: Any = None,
    callbacks: Sequence[Callback] = (),
    **train_kwargs: Any,
) -> dict:
    """Full-batch Adam for ``epochs`` steps with lr·factor(epoch), resuming from ``path`` when it holds this ``tag``.

    Parameters
    ----------
    module, X, y
        As for :func:`kernelreg.training.train` (trained in place).
    path : path
        The checkpoint file (kept after the run, so that a finished stage is skipped on resume;
        :func:`clear_checkpoints` removes it once the cell is saved).
    tag : str
        What the computation is (settings, seeds, code): a checkpoint with another tag is ignored.
    epochs : int
        Total steps, resumed ones included.
    lr : float
        Base learning rate.
    factor : callable
        Learning-rate factor of epoch e (0-based, over the whole run).
    save_every : int, default=50
    extra : object or None
        Something with ``state() -> dict`` and ``load(dict)`` (e.g. a recorder callback) saved and
        restored with the checkpoint.
    callbacks : sequence of Callback
    **train_kwargs
        Passed to :func:`kernelreg.training.train` (``loss``, ``on_divergence``, ``device``, ...).

    Returns
    -------
    dict
        ``curve`` (the training loss of every step), ``time_s`` (training wall time over all
        calls), ``cpu_s`` (CPU time of this process over all calls: what the training costs on a
        shared machine), ``stop_reason``, ``resumed_from`` (the epoch this call started at).
    """
    path = Path(path)
    start, opt_state, curve, time_s, cpu_s = 0, None, [], 0.0, 0.0
    if path.is_file():
        saved = torch.load(path, weights_only=True)
        if saved.get("tag") == tag:
            module.load_state_dict(saved["model"])
            start, opt_state = int(saved["epoch"]), saved["optimizer"]
            curve, time_s, cpu_s = list(saved["curve"]), float(saved["time_s"]), float(saved.get("cpu_s", 0.0))
            if extra is not None and saved.get("extra") is not None:
                extra.load(saved["extra"])
    if start >= epochs:
        return {"curve": curve, "time_s": time_s, "cpu_s": cpu_s, "stop_reason": "max_epochs", "resumed_from": start}

    def adam(groups, lr, **kwargs):
        opt = torch.optim.Adam(groups, lr=lr, **kwargs)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
        return opt

    saver = _Saver(path, tag, start, curve, time_s, cpu_s, save_every, extra)
    res = train(module, X, y, optimizer=adam, lr=lr, max_epochs=epochs - start, restore_best=False,
                schedule=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda e: factor(e + start)),
                callbacks=[saver, *callbacks], **train_kwargs)
    done = {"tag": tag, "epoch": epochs, "model": module.state_dict(), "optimizer": {},
            "curve": curve + [h["train_loss"] for h in res.history], "time_s": time_s + res.time_s,
            "cpu_s": cpu_s + time.process_time() - saver.cpu_start, "extra": extra.state() if extra is not None else None}
    if res.stop_reason == "max_epochs":
        _save(path, done)
    return {"curve": done["curve"], "time_s": done["time_s"], "cpu_s": done["cpu_s"], "stop_reason": res.stop_reason,
            "resumed_from": start}


def clear_checkpoints(folder: str | os.PathLike, prefix: str) -> None:
    """Remove a cell's checkpoints (files ``prefix*`` in ``folder``) once the cell itself is saved."""
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.glob(f"{prefix}*"):
            p.unlink(missing_ok=True)
