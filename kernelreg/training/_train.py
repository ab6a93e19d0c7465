"""The training loop as one function: :func:`train` builds the frozen options and runs a :class:`Trainer`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn

from kernelreg.training._options import TrainOptions
from kernelreg.training._result import TrainResult
from kernelreg.training._trainer import Callback, Trainer, Validation

__all__ = ["train"]


def train(
    module: nn.Module,
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    loss: Literal["mse", "cross_entropy", "bce"] | Callable = "mse",
    optimizer: Literal["adam", "adamw", "sgd", "lbfgs"] | Callable = "adam",
    lr: float = 1e-3,
    optimizer_params: Mapping[str, Any] | None = None,
    adaptive_lr: float | None = None,
    max_epochs: int = 100,
    batch_size: int | None = None,
    shuffle: bool = True,
    schedule: Any = None,
    early_stopping: int | bool | Mapping[str, Any] | None = None,
    validation: Validation = None,
    restore_best: bool = True,
    target_loss: float | None = None,
    extra_loss: Callable[[nn.Module], torch.Tensor] | None = None,
    clip_grad_norm: float | None = None,
    on_divergence: Literal["raise", "restore"] = "raise",
    divergence_factor: float | None = 1e6,
    callbacks: Sequence[Callback] = (),
    verbose: bool = False,
    random_state: int | np.random.RandomState | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train a torch module in place with one loop for every network of the library, losing nothing on stops.

    Full-batch training (``batch_size=None``) keeps the data on the device as two tensors and
    takes one optimizer step per epoch, with no DataLoader: the same arithmetic as a bare
    ``zero_grad / loss / backward / step`` loop. Mini-batches are drawn by a permutation from a
    local ``torch.Generator`` seeded from ``random_state``, each sample once per epoch.

    Parameters
    ----------
    module : nn.Module
        The network (e.g. :class:`kernelreg.networks.MLP`); trained in place, moved to ``device``
        when one is given.
    X : array_like or Tensor of shape (n_samples, n_features)
        Inputs, finite; converted to the module's dtype.
    y : array_like or Tensor of shape (n_samples,) or (n_samples, n_outputs)
        Targets (integer class labels for ``loss="cross_entropy"``). A 1-D ``y`` for a one-output
        network is used as a column.
    loss : {"mse", "cross_entropy", "bce"} or callable, default="mse"
        - ``"mse"``: mean squared error over all entries;
        - ``"cross_entropy"``: softmax cross-entropy on logits with class labels;
        - ``"bce"``: binary cross-entropy with logits, targets in [0, 1];
        - callable ``loss(pred, target) -> scalar tensor``.
    optimizer : {"adam", "adamw", "sgd", "lbfgs"} or callable, default="adam"
        ``"sgd"`` is torch's SGD (pass ``optimizer_params={"momentum": 0.9}`` for momentum);
        ``"lbfgs"`` uses a strong-Wolfe line search by default (``lr=1`` is the usual choice) and
        one step (up to ``max_iter`` inner iterations) per batch. A callable is called as
        ``optimizer(param_groups, lr=lr, **optimizer_params)`` (any ``torch.optim`` class).
    lr : float, default=1e-3
        Learning rate (> 0) of the network's weights (and of everything when ``adaptive_lr`` is
        None). A ``("step", {"lrs": ...})`` schedule overrides it from the first epoch.
    optimizer_params : dict or None, default=None
        Extra keyword arguments of the optimizer.
    adaptive_lr : float or None, default=None
        Learning rate of ``module.adaptive_parameters()`` (Rowdy α/ω, LAAF a) in their own
        parameter group; schedules keep the ratio to ``lr``. The Rowdy paper's blow-ups at large
        lr (research note §2.4) suggest a smaller value here.
    max_epochs : int, default=100
        Epochs (= optimizer steps in full batch).
    batch_size : int or None, default=None
        ``None`` (or >= n_samples): full batch. Otherwise mini-batches of this size (the last
        one smaller).
    shuffle : bool, default=True
        Mini-batches only: draw a new permutation every epoch.
    schedule : None, str, (str, dict) or callable, default=None
        Per-epoch learning-rate schedule:

        - ``("step", {"milestones": [500], "lrs": [4e-3, 1e-4]})``: lr 4e-3 for the first 500
          epochs, then 1e-4 (the Rowdy paper's annealing); or ``{"milestones": [...], "gamma": g}``
          to multiply lr by g at each milestone;
        - ``"cosine"`` (``T_max=max_epochs`` unless given), ``"exponential"`` (``gamma``),
          ``"plateau"`` (``ReduceLROnPlateau`` on the monitored loss), each with its torch
          parameters as the dict;
        - ``factory(optimizer) -> scheduler``: any ``torch.optim.lr_scheduler`` (stepped once
          per epoch; ``ReduceLROnPlateau`` gets the monitored loss).
    early_stopping : None, True, int or dict, default=None
        Stop after ``patience`` epochs without the monitored loss improving by more than
        ``min_delta``: an int is the patience, ``True`` means 10, a dict may hold ``patience``,
        ``min_delta`` and ``monitor`` (``"valid_loss"`` when validation data is given, else
        ``"train_loss"``).
    validation : None, float or (X_val, y_val), default=None
        Validation data, or the fraction of (X, y) to hold out (split with ``random_state``).
        Its loss (data loss only, eval mode, no gradients) is evaluated after every epoch and is
        then the monitored loss.
    restore_best : bool, default=True
        End with the weights of the best monitored loss (else the last weights). A diverging run
        always restores the best weights.
    target_loss : float or None, default=None
        Stop (``stop_reason="target"``) once the training loss is <= this value.
    extra_loss : callable or None, default=None
        ``extra_loss(module) -> scalar tensor`` added to the training loss (e.g.
        ``kernelreg.layers.slope_recovery_loss`` for LAAF).
    clip_grad_norm : float or None, default=None
        Clip the global gradient norm to this value before each step.
    on_divergence : {"raise", "restore"}, default="raise"
        What happens when the training loss becomes NaN/inf or exceeds ``divergence_factor``
        times its reference (or the validation loss becomes NaN/inf): the best weights are
        restored in both cases, then

        - ``"raise"``: :class:`~kernelreg.exceptions.DivergenceError` with the loss history;
        - ``"restore"``: a ``ConvergenceWarning`` and ``stop_reason="diverged"``.
    divergence_factor : float or None, default=1e6
        The loss has diverged once it exceeds this multiple (> 1) of its reference, the larger of
        the first loss measured and the loss of an all-zero output (mean(y²) for ``"mse"``);
        ``None`` detects only non-finite losses.
    callbacks : sequence of Callback, default=()
    verbose : bool, default=False
        Show a tqdm progress bar over epochs.
    random_state : int, RandomState or None, default=None
        Seeds the shuffling and the validation split (a local generator; no global seed).
    device : {"cpu", "cuda", "auto"}, torch.device or None, default=None
        Move the module here first; ``None`` keeps the module's device.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        Non-positive lr, unknown loss/optimizer/schedule names (listing the known ones), input
        with NaN/inf, a width mismatch between X and the first layer (both numbers named),
        mismatched sample counts or output widths.
    DivergenceError
        The loss diverged and ``on_divergence="raise"``; ``.history`` holds the per-epoch history.
    KeyboardInterrupt, SystemExit
        Re-raised after cleanup (see Notes).

    Warns
    -----
    ConvergenceWarning
        The loss diverged and ``on_divergence="restore"``.

    See Also
    --------
    Trainer : the class behind this function (options as a frozen :class:`TrainOptions`).

    Notes
    -----
    Which weights a loss belongs to: in full batch the training loss of epoch e is measured
    during its step, i.e. on the weights the epoch started from (what a hand-written loop logs),
    so the best state is snapshot *before* that step and one extra forward pass scores the final
    weights at the end. With mini-batches the epoch's training loss is the mean over its batches
    and is credited to the weights at the end of the epoch (as in skorch); a validation loss is
    measured at the end of the epoch. ``best_epoch`` counts the epochs of the kept weights.

    A ``KeyboardInterrupt`` (Ctrl-C) or ``SystemExit`` stops training, restores the best weights
    (with ``restore_best``; else the weights after the last completed step stay), closes the
    progress bar, records ``stop_reason="interrupted"`` in the last history entry, runs
    ``on_train_end`` and is re-raised to the caller. A callback that wants to stop early calls
    ``trainer.stop(reason)``.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.networks import MLP
    >>> from kernelreg.training import train
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> net = MLP(1, [20], 1, activation="tanh", random_state=0)
    >>> result = train(net, X, np.sin(3 * X[:, 0]), lr=1e-2, max_epochs=200)
    >>> result.stop_reason, result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    ('max_epochs', True)
    """
    options = TrainOptions(
        loss=loss, optimizer=optimizer, lr=lr, optimizer_params=optimizer_params, adaptive_lr=adaptive_lr,
        max_epochs=max_epochs, batch_size=batch_size, shuffle=shuffle, schedule=schedule,
        early_stopping=early_stopping, restore_best=restore_best, target_loss=target_loss,
        extra_loss=extra_loss, clip_grad_norm=clip_grad_norm, on_divergence=on_divergence,
        divergence_factor=divergence_factor, verbose=verbose,
    )
    trainer = Trainer(module, options, callbacks=callbacks, random_state=random_state, device=device)
    return trainer.fit(X, y, validation=validation)
