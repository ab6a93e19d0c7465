"""The training loop: a :class:`Trainer` that owns one run's state and drives it through one loop.

Shaped like ``solvers/gd.py``: the settings are one frozen :class:`TrainOptions`; everything a fit
works on is fixed once in a frozen ``_Run``; one ``_iterate`` loop drives full-batch or mini-batch
epochs and keeps history, best state, early stopping and divergence detection in one place.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Union

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from torch import nn

from kernelreg._log import logger, outside_stacklevel, progress, run_scope
from kernelreg._torch import resolve_device, seed_generator
from kernelreg.exceptions import DivergenceError, KernelregError
from kernelreg.training._build import make_optimizer, make_schedule
from kernelreg.training._data import module_device_dtype, prepare_xy, split_validation
from kernelreg.training._options import TrainOptions
from kernelreg.training._result import TrainResult

__all__ = ["Callback", "Trainer", "Validation"]

Validation = Union[None, float, tuple]


class Callback:
    """Base class of training callbacks: every hook is a no-op, so subclasses override only what they need.

    Hooks receive the :class:`Trainer` (``module``, ``optimizer``, ``history``, ``epoch``,
    ``n_iter``, ...) and keyword arguments. A callback may write into the current history entry
    with ``trainer.record(key, value)`` in ``on_epoch_end`` and ask the loop to stop with
    ``trainer.stop(reason)``. It should not raise ``KeyboardInterrupt`` to stop: that is the user's
    Ctrl-C, which the loop cleans up after (``on_train_end`` runs) and then re-raises to the caller.

    Examples
    --------
    >>> from kernelreg.training import Callback
    >>> class GradNorm(Callback):
    ...     def on_epoch_end(self, trainer, **kwargs):
    ...         sq = sum(float((p.grad ** 2).sum()) for p in trainer.module.parameters() if p.grad is not None)
    ...         trainer.record("grad_norm", sq ** 0.5)
    """

    def on_train_begin(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called before each epoch with ``epoch`` (1-based)."""

    def on_batch_end(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called after each optimizer step with ``batch`` (0-based), ``indices`` (None in full batch) and ``loss``."""

    def on_epoch_end(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called after each epoch with ``epoch`` and ``entry`` (the epoch's history dict, already appended)."""

    def on_train_end(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called once at the end with ``stop_reason``: also after an interrupt or a divergence, before they raise."""


class _Diverged(Exception):
    """Raised inside a step when the loss is non-finite or past the divergence bound, before any update."""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value


class _TargetReached(Exception):
    """Raised inside a full-batch step when the loss of the current weights reaches target_loss."""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value


@dataclass(frozen=True)
class _Run:
    """What one fit works on, fixed when it starts: data on the device, the loss, batching and monitoring rules."""

    X: torch.Tensor
    y: torch.Tensor
    X_val: torch.Tensor | None
    y_val: torch.Tensor | None
    loss_fn: Callable
    params: list[nn.Parameter]  # trainable: what gradient clipping sees
    live: list[torch.Tensor]  # parameters and buffers: what the best state copies
    generator: torch.Generator
    batch_size: int  # n_samples in full batch
    full_batch: bool
    patience: int | None
    min_delta: float
    monitor: str
    pre_step_monitor: bool  # full batch on the training loss: score each epoch's weights before its step
    target: float | None
    batch_hooks: bool
    plateau: bool
    zero_loss: float  # loss of an all-zero output: the floor of the divergence reference


class Trainer:
    """One training run of a torch module: owns the settings, the optimizer, the history and the loop.

    :func:`train` is the function form (``Trainer(module, options).fit(X, y)``). Callbacks receive
    the trainer and may read its attributes, :meth:`record` into the current history entry and
    :meth:`stop` the run.

    Parameters
    ----------
    module : nn.Module
        The network; trained in place.
    options : TrainOptions or None, default=None
        The settings (``None``: ``TrainOptions()``).
    callbacks : sequence of Callback, default=()
    random_state : int, RandomState or None, default=None
        Seeds the shuffling and the validation split (a local generator; no global seed).
    device : {"cpu", "cuda", "auto"}, torch.device or None, default=None
        Move the module here at the start of :meth:`fit`; ``None`` keeps the module's device.
    **settings
        Fields of :class:`TrainOptions` that override ``options`` (``Trainer(net, lr=1e-2)``).

    Attributes
    ----------
    module : nn.Module
    options : TrainOptions
    optimizer : torch.optim.Optimizer or None
        Built by :meth:`fit`.
    scheduler : object or None
    history : list of dict
        One dict per epoch (see :class:`TrainResult`).
    epoch : int
        Current epoch (1-based; 0 before the first).
    n_iter : int
        Optimizer steps taken.
    device : torch.device or None
    dtype : torch.dtype or None
    monitor : {"train_loss", "valid_loss"}
    best_epoch, best_loss
        The best monitored loss so far and the epoch count of its weights.
    stop_reason : str or None
        Why the last fit stopped (``"interrupted"`` after a ``KeyboardInterrupt``).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.networks import MLP
    >>> from kernelreg.training import Trainer
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> trainer = Trainer(MLP(1, [20], 1, activation="tanh", random_state=0), lr=1e-2, max_epochs=50)
    >>> result = trainer.fit(X, np.sin(3 * X[:, 0]))
    >>> trainer.stop_reason, len(trainer.history)
    ('max_epochs', 50)
    """

    def __init__(
        self,
        module: nn.Module,
        options: TrainOptions | None = None,
        *,
        callbacks: Sequence[Callback] = (),
        random_state: int | np.random.RandomState | None = None,
        device: str | torch.device | None = None,
        **settings: Any,
    ) -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"train needs a torch nn.Module; got {type(module).__name__}.")
        if options is not None and not isinstance(options, TrainOptions):
            raise TypeError(f"Trainer needs options to be a TrainOptions or None; got {type(options).__name__}.")
        options = options or TrainOptions()
        if settings:
            allowed = [f.name for f in fields(TrainOptions)]
            unknown = sorted(set(settings) - set(allowed))
            if unknown:
                raise TypeError(f"Trainer got unknown setting(s) {unknown}; allowed: {', '.join(allowed)}.")
            options = replace(options, **settings)
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"train: every callback must subclass kernelreg.training.Callback; got {type(cb).__name__}."
                )
        self.module = module
        self.options = options
        self.callbacks = callbacks
        self.random_state = random_state
        self._move_to = device
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self.device: torch.device | None = None
        self.dtype: torch.dtype | None = None
        self.monitor = "train_loss"
        self.stop_reason: str | None = None
        self._reset()

    # ---- public API -------------------------------------------------------------------------------
    def fit(self, X: ArrayLike | torch.Tensor, y: ArrayLike | torch.Tensor, *,
            validation: Validation = None) -> TrainResult:
        """Train the module on (X, y) from its current weights; every fit starts a fresh history.

        Parameters
        ----------
        X, y, validation
            As in :func:`train`.

        Returns
        -------
        TrainResult

        Raises
        ------
        DivergenceError
            The loss became non-finite or grew past the divergence bound (``on_divergence="raise"``);
            the module holds the best weights seen.
        KeyboardInterrupt, SystemExit
            Re-raised after cleaning up: best weights restored (with ``restore_best``), progress bar
            closed, ``stop_reason="interrupted"`` recorded, ``on_train_end`` run.
        """
        with run_scope(verbose=self.options.verbose):
            return self._fit(X, y, validation)

    def _fit(self, X: ArrayLike | torch.Tensor, y: ArrayLike | torch.Tensor, validation: Validation) -> TrainResult:
        """The body of :meth:`fit`, inside its logging scope."""
        self._start(X, y, validation)
        o = self.options
        pbar = progress(total=o.max_epochs, desc="train", unit="epoch", verbose=True) if o.verbose else None
        was_training = self.module.training
        self.module.train()
        start = time.perf_counter()
        try:
            try:
                self._notify("on_train_begin")
                reason = self._iterate(pbar, start)
            finally:
                if pbar is not None:
                    pbar.close()
                self.module.train(was_training)
        except (KeyboardInterrupt, SystemExit):
            self._conclude("interrupted")
            raise
        reason = self._conclude(reason)
        result = TrainResult(
            history=self.history,
            best_epoch=self.best_epoch,
            best_loss=self.best_loss,
            stop_reason=reason,
            n_epochs=len(self.history),
            n_iter=self.n_iter,
            time_s=time.perf_counter() - start,
            monitor=self.monitor,
        )
        if reason == "diverged":
            self._report_divergence()
        logger.info("train: %d epochs in %.2f s, stopped by %s; best %s %.4g at epoch %d.", result.n_epochs,
                    result.time_s, reason, self.monitor, self.best_loss, self.best_epoch)
        return result

    def record(self, key: str, value: Any) -> None:
        """Write ``key: value`` into the current epoch's history entry (call from on_epoch_end)."""
        if not self.history:
            raise KernelregError("Trainer.record needs a history entry; call it from on_epoch_end.")
        self.history[-1][key] = value

    def stop(self, reason: str = "callback") -> None:
        """Ask the loop to stop after the current epoch, with ``stop_reason=reason``."""
        self._stop_request = str(reason)

    # ---- setup ------------------------------------------------------------------------------------
    def _reset(self) -> None:
        """Clear the run state (history, counters, best state, divergence reference)."""
        self.history: list[dict] = []
        self.epoch = 0
        self.n_iter = 0
        self.best_epoch = 0
        self.best_loss = math.inf
        self._stop_request: str | None = None
        self._bound: float | None = None  # divergence bound, set at the first loss
        self._reference = math.nan
        self._divergence: tuple[str, float] | None = None
        self._best_state: list[torch.Tensor] = []

    def _start(self, X: Any, y: Any, validation: Validation) -> None:
        """Check and place the data, build optimizer and schedule, fix the run, snapshot the initial weights."""
        o, module = self.options, self.module
        if self._move_to is not None:
            module.to(resolve_device(self._move_to))
        dev, dt = module_device_dtype(module)
        gen = seed_generator(check_random_state(self.random_state))
        Xt, yt, out_shape = prepare_xy(module, X, y, o.loss, dev, dt)
        Xt, yt, Xv, yv = split_validation(module, Xt, yt, validation, o.loss, gen)
        patience, min_delta, monitor = o.early_stopping_rule(Xv is not None)
        optimizer, params = make_optimizer(module, o)
        scheduler = make_schedule(o.schedule, optimizer, o.max_epochs)
        n = int(Xt.shape[0])
        full_batch = o.batch_size is None or o.batch_size >= n
        loss_fn = o.loss_function()
        with torch.no_grad():
            zero_loss = float(loss_fn(torch.zeros((n, *out_shape), dtype=dt, device=dev), yt))
        self._run = _Run(
            X=Xt, y=yt, X_val=Xv, y_val=yv, loss_fn=loss_fn, params=params,
            live=list(module.parameters()) + list(module.buffers()), generator=gen,
            batch_size=n if full_batch else o.batch_size, full_batch=full_batch, patience=patience,
            min_delta=min_delta, monitor=monitor, pre_step_monitor=full_batch and monitor == "train_loss",
            target=None if o.target_loss is None else float(o.target_loss),
            batch_hooks=any(type(cb).on_batch_end is not Callback.on_batch_end for cb in self.callbacks),
            plateau=isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau),
            zero_loss=zero_loss if math.isfinite(zero_loss) else 0.0,
        )
        self.optimizer, self.scheduler = optimizer, scheduler
        self.device, self.dtype, self.monitor = dev, dt, monitor
        self.stop_reason = None
        self._reset()
        with torch.no_grad():  # the initial weights: what a divergence in the first epoch falls back to
            self._best_state = [t.detach().clone() for t in self._run.live]

    # ---- the loop ---------------------------------------------------------------------------------
    def _iterate(self, pbar, start: float) -> str:
        """Run epochs until a stop rule fires; return the stop reason."""
        run, opt = self._run, self.optimizer
        run_epoch = self._full_batch_epoch if run.full_batch else self._mini_batch_epoch
        es_ref, es_wait = math.inf, 0
        for epoch in range(1, self.options.max_epochs + 1):
            self.epoch = epoch
            self._notify("on_epoch_begin", epoch=epoch)
            lr_now = opt.param_groups[0]["lr"]
            entry: dict[str, Any] = {"epoch": epoch}
            reason = None
            try:
                train_loss = run_epoch()
            except _Diverged as exc:
                train_loss, reason = exc.value, "diverged"
                self._divergence = ("training loss", exc.value)
            except _TargetReached as exc:
                train_loss, reason = exc.value, "target"
            entry["iter"] = self.n_iter
            entry["train_loss"] = train_loss
            if run.X_val is not None and reason is None:
                valid_loss = self._evaluate(run.X_val, run.y_val, with_extra=False)
                entry["valid_loss"] = valid_loss
                if not math.isfinite(valid_loss):
                    reason, self._divergence = "diverged", ("validation loss", valid_loss)
            entry["lr"] = lr_now
            if len(opt.param_groups) > 1:
                entry["lr_adaptive"] = opt.param_groups[1]["lr"]
            entry["time_s"] = time.perf_counter() - start
            self.history.append(entry)
            if reason is not None:
                return reason
            value = entry[run.monitor]
            if not run.pre_step_monitor:
                self._consider(value, epoch)
            if value < es_ref - run.min_delta:
                es_ref, es_wait = value, 0
            else:
                es_wait += 1
            if pbar is not None:
                pbar.update(1)
                losses = {k: f"{entry[k]:.3e}" for k in ("train_loss", "valid_loss") if k in entry}
                pbar.set_postfix(losses, refresh=False)
            self._notify("on_epoch_end", epoch=epoch, entry=entry)
            if self._stop_request is not None:
                return self._stop_request
            if run.target is not None and not run.full_batch and train_loss <= run.target:
                return "target"
            if run.patience is not None and es_wait >= run.patience:
                return "early_stopping"
            if self.scheduler is not None:
                if run.plateau:
                    self.scheduler.step(value)
                else:
                    self.scheduler.step()
        return "max_epochs"

    def _full_batch_epoch(self) -> float:
        """One step on all the data; the loss is that of the weights the epoch started from."""
        run = self._run
        value = self._step(run.X, run.y, True)
        if run.batch_hooks:
            self._notify("on_batch_end", batch=0, indices=None, loss=value)
        return value

    def _mini_batch_epoch(self) -> float:
        """One pass in mini-batches (a fresh permutation when shuffling); the size-weighted mean batch loss."""
        run = self._run
        X, y, bs = run.X, run.y, run.batch_size
        n = X.shape[0]
        if self.options.shuffle:
            chunks = torch.randperm(n, generator=run.generator).to(X.device).split(bs)
        else:
            chunks = [None] * math.ceil(n / bs)
        total = 0.0
        for i, idx in enumerate(chunks):
            if idx is None:
                xb, yb = X[i * bs:(i + 1) * bs], y[i * bs:(i + 1) * bs]
            else:
                xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            value = self._step(xb, yb, False)
            total += value * xb.shape[0]
            if run.batch_hooks:
                indices = idx if idx is not None else torch.arange(i * bs, min((i + 1) * bs, n), device=X.device)
                self._notify("on_batch_end", batch=i, indices=indices, loss=value)
        return total / n

    def _step(self, xb: torch.Tensor, yb: torch.Tensor, pre_step: bool) -> float:
        """One optimizer step through a closure; its first evaluation is checked before any update.

        ``pre_step`` (full batch): the first evaluation scores the current weights exactly, so the
        best-state snapshot and the target check happen there, before the step changes them.
        """
        first = [True, 0.0]
        optimizer, clip, run = self.optimizer, self.options.clip_grad_norm, self._run

        def closure():
            optimizer.zero_grad()
            loss = self._batch_loss(xb, yb)
            if first[0]:
                first[0] = False
                value = loss.item()
                first[1] = value
                self._check_divergence(value)
                if pre_step:
                    if run.pre_step_monitor:
                        self._consider(value, self.epoch - 1)
                    if run.target is not None and value <= run.target:
                        raise _TargetReached(value)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(run.params, clip)
            return loss

        optimizer.step(closure)
        self.n_iter += 1
        return first[1]

    def _batch_loss(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Data loss plus the extra term on one batch (on the graph)."""
        loss = self._run.loss_fn(self.module(xb), yb)
        extra = self.options.extra_loss
        if extra is not None:
            loss = loss + extra(self.module)
        return loss

    def _evaluate(self, X: torch.Tensor, y: torch.Tensor, with_extra: bool) -> float:
        """Loss of the current weights on (X, y) without gradients, in eval mode."""
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                loss = self._batch_loss(X, y) if with_extra else self._run.loss_fn(self.module(X), y)
            return float(loss)
        finally:
            self.module.train(was_training)

    # ---- divergence -------------------------------------------------------------------------------
    def _check_divergence(self, value: float) -> None:
        """Raise _Diverged for a non-finite loss or one past the bound; the first loss sets the bound."""
        if not math.isfinite(value):
            raise _Diverged(value)
        if self._bound is None:
            self._reference = max(value, self._run.zero_loss)
            factor = self.options.divergence_factor
            self._bound = factor * self._reference if factor is not None and self._reference > 0 else math.inf
        elif value > self._bound:
            raise _Diverged(value)

    def _report_divergence(self) -> None:
        """Raise DivergenceError (on_divergence="raise") or warn (on_divergence="restore"), with advice."""
        o = self.options
        what, value = self._divergence
        if math.isfinite(value):
            how = (f"the {what} rose to {value:.4g}, above divergence_factor={o.divergence_factor:g} times its "
                   f"reference {self._reference:.4g} (the larger of the initial loss and the loss of an all-zero "
                   "output)")
        else:
            how = f"the {what} became {value}"
        name = o.optimizer if isinstance(o.optimizer, str) else getattr(o.optimizer, "__name__", repr(o.optimizer))
        message = (
            f"train diverged at epoch {self.epoch}: {how} with optimizer={name!r}, lr={o.lr:g}. Restored the "
            f"weights after epoch {self.best_epoch} ({self.monitor}={self.best_loss:.4g}). Use a smaller lr "
            f"(e.g. lr={o.lr / 10:.3g}), a schedule, clip_grad_norm or a smaller adaptive_lr"
        )
        if o.on_divergence == "raise":
            raise DivergenceError(
                message + "; on_divergence='restore' keeps the restored weights with a warning instead.",
                method=name, history=self.history,
            )
        warnings.warn(message + ".", ConvergenceWarning, stacklevel=outside_stacklevel())

    # ---- the end ----------------------------------------------------------------------------------
    def _conclude(self, reason: str) -> str:
        """Settle the weights for the stop reason, record it and run on_train_end; return the final reason."""
        run, o = self._run, self.options
        if reason not in ("diverged", "interrupted", "target") and run.pre_step_monitor and self.history:
            final = self._evaluate(run.X, run.y, with_extra=True)  # the last step's weights, not yet scored
            if not math.isfinite(final) or (self._bound is not None and final > self._bound):
                reason, self._divergence = "diverged", ("training loss after the last step", final)
            else:
                self._consider(final, self.epoch)
        if reason == "diverged" or o.restore_best:
            self._restore()
        self.stop_reason = reason
        if self.history:
            self.history[-1]["stop_reason"] = reason
        self._notify("on_train_end", stop_reason=reason)
        return reason

    # ---- best state and callbacks -----------------------------------------------------------------
    def _consider(self, value: float, weights_epoch: int) -> None:
        """Track the best monitored loss; snapshot the weights it was measured on when it improves."""
        if value < self.best_loss:
            self.best_loss = value
            self.best_epoch = weights_epoch
            with torch.no_grad():
                torch._foreach_copy_(self._best_state, [t.detach() for t in self._run.live])

    def _restore(self) -> None:
        """Copy the best state back into the live parameters and buffers (one call: an interrupt cannot split it)."""
        with torch.no_grad():
            torch._foreach_copy_(self._run.live, self._best_state)

    def _notify(self, hook: str, **kwargs: Any) -> None:
        """Call one hook on every callback."""
        for cb in self.callbacks:
            getattr(cb, hook)(self, **kwargs)
