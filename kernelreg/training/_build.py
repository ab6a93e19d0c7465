"""Optimizer, parameter groups and learning-rate schedule of a training run, built from names or factories."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

import torch
from torch import nn

from kernelreg._checks import check_positive, unknown_name
from kernelreg.training._options import OPTIMIZERS, SCHEDULES, TrainOptions

__all__ = ["make_optimizer", "make_schedule"]


def make_optimizer(module: nn.Module, options: TrainOptions) -> tuple[torch.optim.Optimizer, list[nn.Parameter]]:
    """The optimizer over the module's trainable parameters (adaptive ones in their own group) and those parameters."""
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError("train: the module has no trainable parameters (all requires_grad=False).")
    if options.adaptive_lr is not None:
        adaptive_fn = getattr(module, "adaptive_parameters", None)
        if not callable(adaptive_fn):
            raise ValueError(
                f"train: adaptive_lr needs a module with adaptive_parameters() (e.g. MLP); "
                f"{type(module).__name__} has none."
            )
        adaptive_ids = {id(p) for p in adaptive_fn() if p.requires_grad}
        groups = [{"params": [p for p in params if id(p) not in adaptive_ids]},
                  {"params": [p for p in params if id(p) in adaptive_ids], "lr": options.adaptive_lr}]
        groups = [g for g in groups if g["params"]]
    else:
        groups = [{"params": params}]
    lr, extra, name = options.lr, dict(options.optimizer_params), options.optimizer
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, **extra), params
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, **extra), params
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, **extra), params
    if name == "lbfgs":
        return torch.optim.LBFGS(groups[0]["params"], lr=lr, **{"line_search_fn": "strong_wolfe", **extra}), params
    if callable(name):
        return name(groups, lr=lr, **extra), params
    raise unknown_name("optimizer", name, OPTIMIZERS, " (or a torch.optim class / factory(params, lr=...))")


class _PiecewiseLR:
    """Piecewise-constant learning rate per epoch with exact values (the Rowdy paper's step annealing)."""

    def __init__(self, optimizer: torch.optim.Optimizer, milestones: Sequence[int],
                 lrs: Sequence[float] | None = None, gamma: float | None = None) -> None:
        groups = optimizer.param_groups
        base = float(groups[0]["lr"])
        self.ratios = [float(g["lr"]) / base for g in groups]
        self.milestones = list(milestones)
        if lrs is not None:
            self.values = [float(v) for v in lrs]
        else:
            self.values = [base * gamma**j for j in range(len(self.milestones) + 1)]
        self.optimizer = optimizer
        self.completed = 0
        self._apply()

    def _apply(self) -> None:
        """Set each group's lr for the next epoch (other groups keep their ratio to the first)."""
        value = self.values[bisect.bisect_right(self.milestones, self.completed)]
        for group, ratio in zip(self.optimizer.param_groups, self.ratios):
            group["lr"] = value if ratio == 1.0 else value * ratio

    def step(self) -> None:
        """Count one finished epoch and update the learning rates."""
        self.completed += 1
        self._apply()


def _step_schedule(optimizer: torch.optim.Optimizer, params: dict) -> _PiecewiseLR:
    """The ``("step", {...})`` schedule: milestones with the lr of each stage or a factor per milestone."""
    milestones = list(params.pop("milestones", []))
    lrs, gamma = params.pop("lrs", None), params.pop("gamma", None)
    if params:
        raise TypeError(f"schedule 'step' got unknown parameter(s) {sorted(params)}; allowed: milestones, lrs, gamma.")
    if not milestones or any(isinstance(m, bool) or not isinstance(m, Integral) or m < 1 for m in milestones) \
            or any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ValueError(f"schedule 'step' needs milestones: increasing epoch counts >= 1; got {milestones!r}.")
    if (lrs is None) == (gamma is None):
        raise ValueError("schedule 'step' needs exactly one of lrs (the lr of each stage) or gamma (the factor per milestone).")
    if lrs is not None:
        lrs = [check_positive(v, "every lr in lrs", "schedule 'step'") for v in lrs]
        if len(lrs) != len(milestones) + 1:
            raise ValueError(
                f"schedule 'step' needs len(lrs) = len(milestones) + 1 (one lr per stage); got "
                f"{len(lrs)} lrs for {len(milestones)} milestones."
            )
    else:
        gamma = check_positive(gamma, "gamma", "schedule 'step'")
    return _PiecewiseLR(optimizer, milestones, lrs=lrs, gamma=gamma)


def make_schedule(schedule: Any, optimizer: torch.optim.Optimizer, max_epochs: int):
    """The per-epoch lr scheduler from None, a name, a (name, params) pair or a factory(optimizer)."""
    if schedule is None:
        return None
    if callable(schedule) and not isinstance(schedule, str):
        sched = schedule(optimizer)
        if not callable(getattr(sched, "step", None)):
            raise TypeError(
                f"schedule factory {schedule!r} returned {type(sched).__name__}, which has no step(); "
                "return a torch.optim.lr_scheduler object."
            )
        return sched
    if isinstance(schedule, str):
        name, params = schedule, {}
    elif isinstance(schedule, tuple) and len(schedule) == 2 and isinstance(schedule[1], Mapping):
        name, params = schedule[0], dict(schedule[1])
    else:
        raise ValueError(
            "schedule must be None, a name, a (name, params) pair such as "
            "('step', {'milestones': [500], 'lrs': [4e-3, 1e-4]}), or a factory(optimizer) -> "
            f"lr_scheduler; got {schedule!r}."
        )
    if name == "step":
        return _step_schedule(optimizer, params)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, **{"T_max": max_epochs, **params})
    if name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, **params)
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **params)
    raise unknown_name("schedule", name, SCHEDULES, " (or a factory(optimizer) -> lr_scheduler)")
