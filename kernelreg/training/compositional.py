"""Three-stage training of compositional (triangle-wave) ReLU networks, and its baselines.

Milkert, Hyde & Laine, *Compelling ReLU networks to exhibit exponentially many linear regions at
initialization and during training* (ICML 2025; seed papers 001 + 004, ``research/compositional.md``
§4). The pipeline:

1. **reparameterised initialisation**: peaks a_i (and scales) → the width-4 network's weights,
   exactly 2^d linear pieces (:class:`~kernelreg.layers.CompositionalNetwork`);
2. **pretraining** in (a, s) space: Adam on the peaks only (kept in (0, 1) by a smooth map), with
   the scales from the differentiability rule, or on peaks and scales in the "free" variant;
3. **standard training**: the MLP weights are materialised as ordinary parameters (every 4×4 entry,
   the zero hidden biases, the input and output rows) and all of them train with Adam.

Baselines on the same data and the same number of Adam steps: PyTorch's default initialisation of
the same 4-wide, d-deep ReLU MLP, RAAI, and "no pretraining" (stage 1 then stage 3).

The runs of one method are trained *together*: the n_runs networks are stacked along a leading
axis (:class:`StackedMLP`, or the blocks of a :class:`~kernelreg.layers.CompositionalLayer`) and
trained by one full-batch Adam on the sum of their MSEs. Adam is elementwise and each run's loss
touches only its own parameters, so this is exactly n_runs independent trainings (each seeded on
its own), only faster. Every stage runs through the one training loop, :func:`kernelreg.training.train`.

The paper's protocol (targets, its numbers, the runner) is a benchmark suite:
``kernelreg.bench.compositional``. This module imports ``layers``, the training loop, ``_torch``,
``_checks`` and ``exceptions``. It is long because the three stages and the two baselines share
the stacked-run machinery (seeding, per-run weights, checkpoints) that lives here once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state
from torch import nn

from kernelreg._checks import check_int
from kernelreg._torch import seed_generator
from kernelreg.exceptions import KernelregError
from kernelreg.layers.compositional import CompositionalLayer, CompositionalNetwork
from kernelreg.training._train import train as _train
from kernelreg.training._trainer import Callback

__all__ = [
    "METHODS",
    "TrainingConfig",
    "StackedMLP",
    "CompositionalFit",
    "default_init_weights",
    "raai_init_weights",
    "pretrain",
    "finetune",
    "train_compositional",
    "train_baseline",
]

_DTYPE = torch.float64

#: Training methods (the paper's Table 1 rows): two baselines and three compositional variants.
METHODS = ("default", "raai", "no_pretraining", "free_scales", "enforced")

#: RAI's constants (Lu, Shin, Su & Karniadakis 2020, public code): N(0, 0.6007²/fan_in) and Beta(2, 1).
_RAI_SIGMA = 0.6007


# ---- configuration ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingConfig:
    """Settings every training method shares, so all get one budget (vary them with ``dataclasses.replace``).

    Parameters
    ----------
    depth : int, default=5
        Hidden layers of the 4-wide network.
    pretrain_epochs : int, default=3000
        Full-batch Adam steps of stage 2 (pretraining in (a, s) space).
    finetune_epochs : int, default=7000
        Full-batch Adam steps of stage 3. Baselines and "no pretraining" get
        ``pretrain_epochs + finetune_epochs`` steps, so every method has the same budget.
    pretrain_lr : float, default=0.02
        Adam learning rate on the peak logits (and log-scales) in stage 2.
    finetune_lr : float, default=1e-3
        Adam learning rate on the MLP weights (stage 3 and the baselines).
    lr_decay : float, default=1e-2
        The weight-space learning rate decays exponentially from ``finetune_lr`` to
        ``finetune_lr * lr_decay`` over the run (1.0: constant). Stage 2 uses a constant rate.
    warmup_fraction : float, default=0.05
        The weight-space learning rate rises linearly from 0 over this fraction of the steps (for
        every method alike). It keeps Adam's first, sign-like steps from shaking a pretrained
        network out of its 2^d-piece structure at the start of stage 3.
    a_init : {"half", "uniform"}, default="uniform"
        Initial peaks of the compositional methods (shared by all three: same seed per run).
    a_margin : float, default=0.05
        Peaks live in (a_margin, 1 − a_margin).
    width : int, default=4
        Width of the baseline MLPs (the compositional networks are 4 wide by construction).
    record_every : int, default=100
        Epochs between history records.
    num_threads : int or None, default=1
        Torch intra-op threads while a training loop runs (restored afterwards). These networks
        are tiny, so extra threads only add synchronisation (10× slower on a busy 2-core
        machine); ``None`` leaves torch's setting alone.
    on_divergence : {"raise", "restore"}, default="restore"
        When a stage's summed loss becomes non-finite or explodes (see
        :func:`kernelreg.training.train`): ``"restore"`` keeps the stage's best weights with a
        ``ConvergenceWarning`` and records ``stop_reason="diverged"`` in the history, so one bad run
        does not cost the other runs trained with it; ``"raise"`` raises
        :class:`~kernelreg.exceptions.DivergenceError`.
    """

    depth: int = 5
    pretrain_epochs: int = 3000
    finetune_epochs: int = 7000
    pretrain_lr: float = 0.02
    finetune_lr: float = 1e-3
    lr_decay: float = 1e-2
    warmup_fraction: float = 0.05
    a_init: Literal["half", "uniform"] = "uniform"
    a_margin: float = 0.05
    width: int = 4
    record_every: int = 100
    num_threads: int | None = 1
    on_divergence: Literal["raise", "restore"] = "restore"

    @property
    def total_epochs(self) -> int:
        """The budget every method gets: pretrain_epochs + finetune_epochs."""
        return self.pretrain_epochs + self.finetune_epochs

    def with_total_epochs(self, epochs: int) -> TrainingConfig:
        """Same split between the stages, scaled to ``epochs`` Adam steps in all."""
        epochs = check_int(epochs, "epochs", "TrainingConfig.with_total_epochs", minimum=2)
        pre = max(1, int(round(epochs * self.pretrain_epochs / max(self.total_epochs, 1))))
        pre = min(pre, epochs - 1)
        return replace(self, pretrain_epochs=pre, finetune_epochs=epochs - pre)


# ---- n independent MLPs trained as one ----------------------------------------------------------
class StackedMLP(nn.Module):
    """n_runs independent ReLU MLPs with the same layer sizes, evaluated and trained together.

    Parameters
    ----------
    weights : sequence of Tensor
        Per layer, shape (n_runs, out_features, in_features).
    biases : sequence of Tensor
        Per layer, shape (n_runs, out_features).

    Notes
    -----
    ``forward`` maps x of shape (n_samples,) or (n_samples, 1) to (n_samples, n_runs): every run
    sees the same inputs, and column r is run r's output.
    Each run's output depends only on its own slice of the parameters, so the gradient of the sum
    of per-run losses is each run's own gradient, and Adam (elementwise) trains every run exactly
    as it would alone.
    """

    def __init__(self, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]) -> None:
        super().__init__()
        if len(weights) != len(biases) or not weights:
            raise ValueError(
                f"StackedMLP needs one bias per weight and at least one layer; got {len(weights)} weights "
                f"and {len(biases)} biases."
            )
        self.weights = nn.ParameterList([nn.Parameter(w.detach().clone()) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(b.detach().clone()) for b in biases])

    in_features = 1

    @property
    def n_runs(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of every run, shape (n_samples, n_runs) for x of shape (n_samples,) or (n_samples, 1)."""
        h = x.reshape(1, -1, 1).expand(self.n_runs, -1, -1)
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))
            if k < last:
                h = torch.relu(h)
        return h[..., 0].T

    def to_sequential(self, run: int = 0) -> nn.Sequential:
        """Run ``run`` as a plain ``nn.Sequential`` of Linear + ReLU (detached copy)."""
        modules: list[nn.Module] = []
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            lin = nn.Linear(w.shape[2], w.shape[1], dtype=w.dtype, device=w.device)
            with torch.no_grad():
                lin.weight.copy_(w[run])
                lin.bias.copy_(b[run])
            modules.append(lin)
            if k < last:
                modules.append(nn.ReLU())
        return nn.Sequential(*modules)

    @classmethod
    def from_layer(cls, layer: CompositionalLayer) -> StackedMLP:
        """Materialise the pretrained blocks of a CompositionalLayer (one block per run): stage 3's start."""
        blocks = layer.block_weights()
        n = layer.n_features
        zeros = torch.zeros(n, 4, dtype=layer.logits.dtype, device=layer.logits.device)
        weights = [blocks["w_in"][:, :, None]] + list(blocks["hidden"]) + [blocks["w_out"][:, None, :]]
        biases = [blocks["b_in"]] + [zeros] * len(blocks["hidden"]) + [blocks["b_out"][:, None]]
        return cls(weights, biases)


def _layer_sizes(depth: int, width: int) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of the 1 → width^depth → 1 MLP."""
    dims = [1] + [width] * depth + [1]
    return list(zip(dims[:-1], dims[1:]))


def default_init_weights(
    depth: int, width: int = 4, *, random_state: int | np.random.RandomState | None = None
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """PyTorch's default ``nn.Linear`` initialisation of the 1 → width^depth → 1 MLP, from a local generator.

    A re-implementation of ``nn.Linear.reset_parameters`` (``kaiming_uniform_(a=√5)``): weights and
    biases ~ U(−1/√fan_in, 1/√fan_in), drawn in float64 from a ``torch.Generator`` seeded by
    ``random_state``, so no global seed is touched.

    Returns
    -------
    weights : list of Tensor, shapes (fan_out, fan_in)
    biases : list of Tensor, shapes (fan_out,)
    """
    gen = seed_generator(check_random_state(random_state))
    weights, biases = [], []
    for fan_in, fan_out in _layer_sizes(check_int(depth, "depth", "default_init_weights"), width):
        bound = 1.0 / math.sqrt(fan_in)
        weights.append((2 * torch.rand(fan_out, fan_in, generator=gen, dtype=_DTYPE) - 1) * bound)
        biases.append((2 * torch.rand(fan_out, generator=gen, dtype=_DTYPE) - 1) * bound)
    return weights, biases


def raai_init_weights(
    depth: int, width: int = 4, *, random_state: int | np.random.RandomState | None = None
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Randomized asymmetric anti-correlated initialisation (our reading of RAAI), from a local generator.

    For every layer that feeds a ReLU (the hidden layers), each neuron's incoming vector
    v = (w_1 … w_n, b) is drawn as:

    1. v ~ N(0, σ²/n) entrywise with σ = 0.6007 (n = fan_in), as in RAI;
    2. *anti-correlation* (n >= 2): the weight part is projected onto the zero-sum subspace and
       rescaled by √(n/(n − 1)), so every weight keeps variance σ²/n and any two incoming weights
       of a neuron have correlation −1/(n − 1) (the maximally anti-correlated Gaussian);
    3. *asymmetry* (RAI): one entry of v, chosen uniformly among the n + 1, is replaced by a
       Beta(2, 1) draw (sampled as √U), which makes the neuron likely to be active.

    The output layer keeps PyTorch's default initialisation.

    Notes
    -----
    Singh & Sreejith (2021, arXiv 2103.12499) combine anti-correlated weights with Lu et al.'s
    RAI; their exact covariance (and whether the bias takes part) is not recoverable from the
    sources here (research note §4.1, open item 5). Step 2 is our choice of the maximal
    anti-correlation; the original may use a weaker, tuned correlation.
    """
    depth = check_int(depth, "depth", "raai_init_weights")
    gen = seed_generator(check_random_state(random_state))
    sizes = _layer_sizes(depth, width)
    weights, biases = [], []
    for k, (fan_in, fan_out) in enumerate(sizes):
        if k == len(sizes) - 1:
            bound = 1.0 / math.sqrt(fan_in)
            weights.append((2 * torch.rand(fan_out, fan_in, generator=gen, dtype=_DTYPE) - 1) * bound)
            biases.append((2 * torch.rand(fan_out, generator=gen, dtype=_DTYPE) - 1) * bound)
            continue
        std = _RAI_SIGMA / math.sqrt(fan_in)
        v = torch.randn(fan_out, fan_in + 1, generator=gen, dtype=_DTYPE)
        if fan_in >= 2:
            w = v[:, :fan_in]
            v[:, :fan_in] = (w - w.mean(dim=1, keepdim=True)) * math.sqrt(fan_in / (fan_in - 1))
        v = v * std
        pick = torch.randint(0, fan_in + 1, (fan_out,), generator=gen)
        v[torch.arange(fan_out), pick] = torch.sqrt(torch.rand(fan_out, generator=gen, dtype=_DTYPE))
        weights.append(v[:, :fan_in].clone())
        biases.append(v[:, fan_in].clone())
    return weights, biases


def _stack(draws: Sequence[tuple[list[torch.Tensor], list[torch.Tensor]]]) -> StackedMLP:
    """Stack per-run (weights, biases) into one StackedMLP."""
    weights = [torch.stack([d[0][k] for d in draws]) for k in range(len(draws[0][0]))]
    biases = [torch.stack([d[1][k] for d in draws]) for k in range(len(draws[0][1]))]
    return StackedMLP(weights, biases)


# ---- every stage through the training loop (kernelreg.training.train) ------------------------------
@contextmanager
def _torch_threads(num_threads: int | None):
    """Run the block with ``num_threads`` torch threads and restore the previous setting after it."""
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(check_int(num_threads, "num_threads", "the training loop"))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _sum_of_run_mses(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Σ_r MSE_r over the columns (runs): each run's gradient is exactly its own MSE's gradient."""
    return ((pred - target) ** 2).mean(dim=0).sum()


def _weighted_run_mses(weight: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Σ_r (Σ_i w_ir (pred_ir − y_ir)² / Σ_i w_ir): each run's own weighted MSE (e.g. its own training rows)."""
    norm = weight / weight.sum(dim=0)

    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (norm.to(pred.dtype) * (pred - target) ** 2).sum()

    return loss


def _run_mses(module: nn.Module, X: torch.Tensor, Y: torch.Tensor, weight: torch.Tensor | None = None) -> np.ndarray:
    """Per-run (per-column) MSE of the module's current weights (weighted by ``weight`` when given)."""
    with torch.no_grad():
        sq = (module(X) - Y) ** 2
        mse = sq.mean(dim=0) if weight is None else (weight.to(sq.dtype) * sq).sum(dim=0) / weight.sum(dim=0)
        return mse.cpu().numpy().astype(np.float64)


def _check_weight(sample_weight: ArrayLike | torch.Tensor | None, n_samples: int, n_runs: int,
                  owner: str) -> torch.Tensor | None:
    """Per-run sample weights as a float64 (n_samples, n_runs) tensor: finite, >= 0, each run with weight > 0."""
    if sample_weight is None:
        return None
    w = sample_weight.detach().to("cpu", _DTYPE) if isinstance(sample_weight, torch.Tensor) else torch.as_tensor(
        np.asarray(sample_weight, dtype=np.float64))
    if w.ndim == 1:
        w = w[:, None].expand(-1, n_runs)
    if tuple(w.shape) != (n_samples, n_runs):
        raise ValueError(
            f"{owner} needs sample_weight of shape (n_samples, n_runs) = ({n_samples}, {n_runs}) or ({n_samples},); "
            f"got shape {tuple(w.shape)}."
        )
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or bool((w.sum(dim=0) <= 0).any()):
        raise ValueError(
            f"{owner} needs finite, non-negative sample weights with a positive sum for every run; got min "
            f"{float(w.min()):.3g} and column sums down to {float(w.sum(dim=0).min()):.3g}."
        )
    return w.contiguous()


def _full_batch_adam(
    module: nn.Module,
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    lr_decay: float = 1.0,
    warmup_fraction: float = 0.0,
    record_every: int = 100,
    num_threads: int | None = 1,
    on_divergence: Literal["raise", "restore"] = "raise",
    stage: str = "",
    weight: torch.Tensor | None = None,
    callbacks: Sequence[Callback] = (),
) -> list[dict]:
    """Full-batch Adam on the sum of per-column (weighted) MSEs through :func:`kernelreg.training.train`.

    X has shape (n_samples, n_in) and Y (n_samples, n_runs); the module maps X to (n_samples,
    n_runs). The learning rate rises linearly over the first ``warmup_fraction`` of the epochs and
    decays exponentially to ``lr * lr_decay``. The final weights are kept (no best-state restore)
    unless the loss diverges (then ``on_divergence`` decides, as in ``train``). A
    ``KeyboardInterrupt`` reaches the caller after the thread setting is restored. Returns the
    history thinned to every ``record_every`` epochs (``train_loss`` = Σ_r MSE_r), then one final
    entry with the per-run ``mse`` list and the ``stop_reason``.
    """
    if epochs > 0:
        warm = int(round(warmup_fraction * epochs))

        def factor(e: int) -> float:
            """Linear warm-up over ``warm`` steps, exponential decay to lr·lr_decay over the run."""
            return min(1.0, (e + 1) / warm if warm else 1.0) * lr_decay ** (e / epochs)

        with _torch_threads(num_threads):
            result = _train(
                module, X, Y, loss=_sum_of_run_mses if weight is None else _weighted_run_mses(weight),
                optimizer="adam", lr=lr, max_epochs=epochs,
                schedule=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, factor), restore_best=False,
                on_divergence=on_divergence, callbacks=callbacks,
            )
        entries, stop_reason, n_epochs = result.history, result.stop_reason, result.n_epochs
    else:
        entries, stop_reason, n_epochs = [], "max_epochs", 0
    history = [
        {"stage": stage, **entry}
        for entry in entries
        if record_every and (entry["epoch"] == 1 or entry["epoch"] % record_every == 0)
    ]
    history.append({"stage": stage, "epoch": n_epochs, "mse": _run_mses(module, X, Y, weight).tolist(),
                    "stop_reason": stop_reason, "final": True})
    return history


def _as_vector(values: ArrayLike | torch.Tensor) -> torch.Tensor:
    """A float64 CPU vector (flattened) from an array-like or a tensor."""
    if isinstance(values, torch.Tensor):
        return values.detach().to("cpu", _DTYPE).reshape(-1)
    return torch.as_tensor(np.asarray(values, dtype=np.float64)).reshape(-1)


def _xy(X: ArrayLike, y: ArrayLike, owner: str) -> tuple[torch.Tensor, torch.Tensor]:
    """1-d inputs in [0, 1] and targets as float64 tensors of equal length, else a ValueError."""
    x, t = _as_vector(X), _as_vector(y)
    if x.numel() != t.numel() or x.numel() == 0:
        raise ValueError(
            f"{owner} needs as many targets as inputs (> 0); got {x.numel()} inputs and {t.numel()} targets."
        )
    if not (torch.isfinite(x).all() and torch.isfinite(t).all()):
        raise ValueError(f"{owner} got NaN or infinite inputs or targets.")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"{owner} trains compositional networks on inputs in [0, 1]; got inputs in "
            f"[{float(x.min()):.6g}, {float(x.max()):.6g}]. Rescale them first."
        )
    return x, t


def pretrain(
    model: CompositionalNetwork | CompositionalLayer,
    X: ArrayLike,
    y: ArrayLike,
    *,
    epochs: int = 3000,
    lr: float = 0.02,
    record_every: int = 100,
    num_threads: int | None = 1,
    on_divergence: Literal["raise", "restore"] = "raise",
    sample_weight: ArrayLike | torch.Tensor | None = None,
    callbacks: Sequence[Callback] = (),
) -> list[dict]:
    """Stage 2: Adam on the peak logits (and log-scales in the free variant) through the closed form.

    Parameters
    ----------
    model : CompositionalNetwork or CompositionalLayer
        A network, or a layer with ``input_map="none"`` whose n_features blocks are independent
        runs that all see the same 1-d inputs.
    X : array-like of shape (n_samples,) or (n_samples, 1)
        Inputs in [0, 1].
    y : array-like of shape (n_samples,)
        Targets.
    epochs : int, default=3000
    lr : float, default=0.02
    record_every : int, default=100
    num_threads : int or None, default=1
        Torch threads during the loop (restored afterwards); ``None`` leaves them alone.
    on_divergence : {"raise", "restore"}, default="raise"
        A non-finite or exploding loss raises :class:`~kernelreg.exceptions.DivergenceError`, or
        restores the best weights with a warning (see :func:`kernelreg.training.train`).
    sample_weight : array-like of shape (n_samples, n_runs) or (n_samples,), or None, default=None
        Per-run weights of the samples (0 leaves a sample out of a run's loss, e.g. a
        cross-validation fold); each run's loss is its weighted mean squared error. ``None``:
        every sample counts once.
    callbacks : sequence of Callback, default=()
        Passed to the training loop (:class:`kernelreg.training.Callback`).

    Returns
    -------
    list of dict
        History of :func:`kernelreg.training.train` every ``record_every`` epochs (``stage``,
        ``epoch``, ``train_loss`` = the sum of the runs' MSEs, ``lr``, ``time_s``), then a final
        entry (``final=True``) with ``mse``, the list of per-run MSEs after the last step, and
        ``stop_reason``.

    Notes
    -----
    The closed form equals the MLP of the same parameters exactly (the tests check it), so its
    gradient is the paper's "backpropagation to the weights, chained to the a_i". The peaks stay
    in (a_margin, 1 − a_margin) because Adam moves the logits θ, never a itself. The loop is
    :func:`kernelreg.training.train` (full batch, final weights kept) on the sum of the runs'
    MSEs, so every run gets exactly its own gradient.
    """
    x, t = _xy(X, y, "pretrain")
    epochs = check_int(epochs, "epochs", "pretrain", 0)
    if isinstance(model, CompositionalNetwork):
        X2, Y2 = x[:, None], t[:, None]
    elif isinstance(model, CompositionalLayer):
        if model.input_map != "none":
            raise ValueError(
                f"pretrain needs a CompositionalLayer with input_map='none' (independent runs on the same "
                f"inputs in [0, 1]); got input_map={model.input_map!r}."
            )
        X2, Y2 = x[:, None].expand(-1, model.n_features), t[:, None].expand(-1, model.n_features)
    else:
        raise TypeError(f"pretrain trains a CompositionalNetwork or CompositionalLayer; got {type(model).__name__}.")
    dtype = model.logits.dtype
    weight = _check_weight(sample_weight, x.numel(), Y2.shape[1], "pretrain")
    return _full_batch_adam(model, X2.to(dtype), Y2.to(dtype), epochs=epochs, lr=lr, record_every=record_every,
                            num_threads=num_threads, on_divergence=on_divergence, stage="pretrain", weight=weight,
                            callbacks=callbacks)


def finetune(
    mlp: nn.Module,
    X: ArrayLike,
    y: ArrayLike,
    *,
    epochs: int = 7000,
    lr: float = 1e-3,
    lr_decay: float = 1e-2,
    warmup_fraction: float = 0.05,
    record_every: int = 100,
    num_threads: int | None = 1,
    on_divergence: Literal["raise", "restore"] = "raise",
    sample_weight: ArrayLike | torch.Tensor | None = None,
    callbacks: Sequence[Callback] = (),
) -> list[dict]:
    """Stage 3 (and the baselines): Adam on every weight and bias of an MLP, full batch, MSE.

    Parameters
    ----------
    mlp : nn.Module
        A ``StackedMLP`` ((n, 1) → (n, n_runs)) or a module mapping (n, 1) → (n, 1), such as
        ``CompositionalNetwork.to_mlp()``.
    X, y : array-like of shape (n_samples,)
        Inputs in [0, 1] and targets.
    epochs : int, default=7000
    lr : float, default=1e-3
    lr_decay : float, default=1e-2
        Exponential decay of the learning rate to ``lr * lr_decay`` at the last epoch.
    warmup_fraction : float, default=0.05
        Linear warm-up of the learning rate over this fraction of the epochs.
    record_every : int, default=100
    num_threads : int or None, default=1
        Torch threads during the loop (restored afterwards); ``None`` leaves them alone.
    on_divergence : {"raise", "restore"}, default="raise"
        As in :func:`pretrain`.
    sample_weight : array-like of shape (n_samples, n_runs) or (n_samples,), or None, default=None
        As in :func:`pretrain`.
    callbacks : sequence of Callback, default=()
        As in :func:`pretrain`.

    Returns
    -------
    list of dict
        As :func:`pretrain`.
    """
    x, t = _xy(X, y, "finetune")
    epochs = check_int(epochs, "epochs", "finetune", 0)
    dtype = next(mlp.parameters()).dtype
    X2 = x[:, None].to(dtype)
    n_out = mlp.n_runs if isinstance(mlp, StackedMLP) else 1
    Y2 = t[:, None].expand(-1, n_out).to(dtype)
    weight = _check_weight(sample_weight, x.numel(), n_out, "finetune")
    return _full_batch_adam(mlp, X2, Y2, epochs=epochs, lr=lr, lr_decay=lr_decay, warmup_fraction=warmup_fraction,
                            record_every=record_every, num_threads=num_threads, on_divergence=on_divergence,
                            stage="finetune", weight=weight, callbacks=callbacks)


# ---- one method, n runs -------------------------------------------------------------------------
@dataclass
class CompositionalFit:
    """What one training (one method, one or several runs) leaves behind.

    Attributes
    ----------
    method : str
    mlp : StackedMLP
        The trained networks (run r: ``mlp.to_sequential(r)``).
    network : CompositionalLayer or None
        The pretrained (a, s) parameterisations, one block per run (``None`` for the baselines);
        ``compositional_network(r)`` gives run r's as a CompositionalNetwork.
    mse : ndarray of shape (n_runs,)
        Training MSE after the last step.
    pretrain_mse : ndarray of shape (n_runs,) or None
        MSE of the closed form after stage 2 (for "no_pretraining": at initialisation).
    history : list of dict
    """

    method: str
    mlp: StackedMLP
    network: CompositionalLayer | None
    mse: np.ndarray
    pretrain_mse: np.ndarray | None
    history: list[dict] = field(default_factory=list)

    def compositional_network(self, run: int = 0) -> CompositionalNetwork:
        """Run ``run``'s pretrained parameterisation as a CompositionalNetwork (stage-2 result)."""
        layer = self.network
        if layer is None:
            raise KernelregError(f"CompositionalFit of method {self.method!r} has no (a, s) parameterisation (a baseline).")
        free = not layer.enforce_differentiability
        return CompositionalNetwork(
            layer.depth,
            layer.modes[run],
            enforce_differentiability=not free,
            a_init=layer.peaks[run].detach().cpu().numpy(),
            a_margin=layer.a_margin,
            first_factor=layer.first_factors[run],
            s_init=layer.magnitudes_matrix()[run].detach().cpu().numpy() if free else "recurrence",
            dtype=layer.logits.dtype,
        )


def _check_method(method: object) -> str:
    """A known method name, else a ValueError listing them."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; use one of {list(METHODS)}.")
    return method


def _seeds(random_state, n_runs: int, seeds: Sequence[int] | None = None, owner: str = "") -> list[int]:
    """One integer seed per run: the given ``seeds``, else drawn from random_state (common to every method)."""
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise ValueError(f"{owner} got an empty list of seeds; give one seed per run.")
        return seeds
    n_runs = check_int(n_runs, "n_runs", owner)
    return [int(s) for s in check_random_state(random_state).randint(2**31 - 1, size=n_runs)]


def train_compositional(
    X: ArrayLike,
    y: ArrayLike,
    *,
    mode: Literal["convex", "concave"],
    method: Literal["enforced", "free_scales", "no_pretraining"] = "enforced",
    config: TrainingConfig | None = None,
    n_runs: int = 1,
    random_state: int | np.random.RandomState | None = None,
    seeds: Sequence[int] | None = None,
    sample_weight: ArrayLike | torch.Tensor | None = None,
    callbacks: Sequence[Callback] = (),
) -> CompositionalFit:
    """Three-stage training of compositional networks (n_runs independent runs, trained together).

    Parameters
    ----------
    X, y : array-like of shape (n_samples,)
        Inputs in [0, 1] and targets.
    mode : {"convex", "concave"}
        Subtract the waves (convex targets) or add them (concave targets).
    method : {"enforced", "free_scales", "no_pretraining"}, default="enforced"
        - ``"enforced"``: stage 2 trains the peaks only, scales from the differentiability rule;
        - ``"free_scales"``: stage 2 trains peaks and scales (initialised from the rule);
        - ``"no_pretraining"``: stage 1 then stage 3 with the whole budget.
    config : TrainingConfig or None, default=None
        ``None``: ``TrainingConfig()``.
    n_runs : int, default=1
    random_state : int, RandomState or None, default=None
        Run r draws its initial peaks from seed r of ``random_state`` (the same seeds serve every
        method, so the compositional methods share their starting locations).
    seeds : sequence of int or None, default=None
        Explicit per-run seeds (then ``n_runs = len(seeds)`` and ``random_state`` is unused).
    sample_weight : array-like of shape (n_samples, n_runs) or (n_samples,), or None, default=None
        Per-run sample weights of both stages (see :func:`pretrain`): e.g. the runs of several
        cross-validation folds trained together. ``mse`` is then each run's weighted MSE.
    callbacks : sequence of Callback, default=()
        Run by the training loop of stage 2 and of stage 3 (``trainer.module`` is the
        CompositionalLayer, then the StackedMLP).

    Returns
    -------
    CompositionalFit
        ``network`` is a :class:`~kernelreg.layers.CompositionalLayer` whose n_runs blocks are the
        runs' pretrained parameterisations (``input_map="none"``).

    Examples
    --------
    >>> import torch
    >>> x = torch.linspace(0, 1, 100, dtype=torch.float64)
    >>> cfg = TrainingConfig(pretrain_epochs=300, finetune_epochs=300)
    >>> fit = train_compositional(x, x**3, mode="convex", config=cfg, random_state=0)
    >>> bool(fit.mse[0] < fit.pretrain_mse[0] < 1e-3)
    True
    >>> fit.mlp.to_sequential(0)[0]
    Linear(in_features=1, out_features=4, bias=True)
    """
    cfg = config or TrainingConfig()
    method = _check_method(method)
    if method in ("default", "raai"):
        raise ValueError(f"train_compositional trains the compositional methods; use train_baseline for method={method!r}.")
    run_seeds = _seeds(random_state, n_runs, seeds, "train_compositional")
    n_runs = len(run_seeds)
    x, t = _xy(X, y, "train_compositional")
    weight = _check_weight(sample_weight, x.numel(), n_runs, "train_compositional")
    d = check_int(cfg.depth, "depth", "TrainingConfig")
    peaks = []
    for seed in run_seeds:
        net = CompositionalNetwork(d, mode, a_init=cfg.a_init, a_margin=cfg.a_margin, random_state=seed)
        peaks.append(net.peaks.detach().numpy())
    layer = CompositionalLayer(
        n_runs, d, mode, enforce_differentiability=(method != "free_scales"), a_init=np.stack(peaks),
        a_margin=cfg.a_margin, input_map="none",
    )
    history: list[dict] = []
    finetune_epochs = cfg.finetune_epochs
    if method == "no_pretraining":
        finetune_epochs = cfg.total_epochs
        pretrain_mse = _run_mses(layer, x[:, None].expand(-1, n_runs), t[:, None].expand(-1, n_runs), weight)
    else:
        history += pretrain(layer, x, t, epochs=cfg.pretrain_epochs, lr=cfg.pretrain_lr, record_every=cfg.record_every,
                            num_threads=cfg.num_threads, on_divergence=cfg.on_divergence, sample_weight=weight,
                            callbacks=callbacks)
        pretrain_mse = np.asarray(history[-1]["mse"])
    mlp = StackedMLP.from_layer(layer)
    history += finetune(mlp, x, t, epochs=finetune_epochs, lr=cfg.finetune_lr, lr_decay=cfg.lr_decay,
                        warmup_fraction=cfg.warmup_fraction, record_every=cfg.record_every,
                        num_threads=cfg.num_threads, on_divergence=cfg.on_divergence, sample_weight=weight,
                        callbacks=callbacks)
    return CompositionalFit(method, mlp, layer, np.asarray(history[-1]["mse"]), pretrain_mse, history)


def train_baseline(
    X: ArrayLike,
    y: ArrayLike,
    *,
    method: Literal["default", "raai"] = "default",
    config: TrainingConfig | None = None,
    n_runs: int = 1,
    random_state: int | np.random.RandomState | None = None,
    seeds: Sequence[int] | None = None,
    sample_weight: ArrayLike | torch.Tensor | None = None,
    callbacks: Sequence[Callback] = (),
) -> CompositionalFit:
    """Baselines: the plain width × depth ReLU MLP from PyTorch's default init or RAAI, then Adam.

    Same data and the same number of Adam steps (``config.total_epochs``) and the same optimizer
    settings as stage 3 of the compositional methods. Parameters as :func:`train_compositional`
    (without ``mode``; ``sample_weight`` and ``callbacks`` serve the one training loop); see :func:`default_init_weights` and :func:`raai_init_weights`.
    """
    cfg = config or TrainingConfig()
    method = _check_method(method)
    if method not in ("default", "raai"):
        raise ValueError(f"train_baseline trains 'default' or 'raai'; use train_compositional for method={method!r}.")
    run_seeds = _seeds(random_state, n_runs, seeds, "train_baseline")
    x, t = _xy(X, y, "train_baseline")
    draw = default_init_weights if method == "default" else raai_init_weights
    mlp = _stack([draw(cfg.depth, cfg.width, random_state=seed) for seed in run_seeds])
    history = finetune(mlp, x, t, epochs=cfg.total_epochs, lr=cfg.finetune_lr, lr_decay=cfg.lr_decay,
                       warmup_fraction=cfg.warmup_fraction, record_every=cfg.record_every,
                       num_threads=cfg.num_threads, on_divergence=cfg.on_divergence, sample_weight=sample_weight,
                       callbacks=callbacks)
    return CompositionalFit(method, mlp, None, np.asarray(history[-1]["mse"]), None, history)
