"""Training data checked and converted once: finite tensors on the module's device, the widths it expects."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from torch import nn

from kernelreg._torch import as_tensor

__all__ = ["module_device_dtype", "prepare_xy", "split_validation"]


def module_device_dtype(module: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of a module's first floating parameter or buffer (CPU float64 if none)."""
    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.float64


def _expected_in_features(module: nn.Module) -> int | None:
    """The input width a module declares (``in_features``, else its first Linear's), or None."""
    n = getattr(module, "in_features", None)
    if isinstance(n, Integral):
        return int(n)
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            return int(sub.in_features)
    return None


def _as_tensor(a: Any, name: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Numpy array or tensor -> tensor on the device, with a ValueError for non-numeric input."""
    if isinstance(a, torch.Tensor):
        return a.detach().to(device=device, dtype=dtype)
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"train: {name} must be numeric; got an array of dtype {arr.dtype}.")
    return as_tensor(arr, device, dtype)  # read-only arrays are viewed without torch's warning: training only reads them


def _check_inputs(module: nn.Module, X: Any, what: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """2-D finite inputs with the width of the module's first layer."""
    Xt = _as_tensor(X, what, device, dtype)
    if Xt.ndim != 2:
        raise ValueError(
            f"train: {what} must be 2-D (n_samples, n_features); got shape {tuple(Xt.shape)}"
            + (f". Use {what}.reshape(-1, 1) for one feature." if Xt.ndim == 1 else ".")
        )
    if Xt.shape[0] == 0:
        raise ValueError(f"train: {what} has no samples (shape {tuple(Xt.shape)}).")
    bad = int((~torch.isfinite(Xt)).sum())
    if bad:
        raise ValueError(f"train: {what} contains NaN or inf ({bad} of {Xt.numel()} entries); clean or impute it first.")
    n_in = _expected_in_features(module)
    if n_in is not None and Xt.shape[1] != n_in:
        raise ValueError(
            f"train: {what} has {Xt.shape[1]} features but the network's first layer expects in_features={n_in}."
        )
    return Xt


def _check_targets(y: Any, yname: str, loss: Any, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Finite targets (integer class labels for cross-entropy; a 1-D y becomes a column otherwise)."""
    if loss == "cross_entropy":
        yt = _as_tensor(y, yname, device, torch.float64)
        if yt.ndim != 1:
            raise ValueError(f"train: loss='cross_entropy' needs 1-D integer class labels {yname}; got shape {tuple(yt.shape)}.")
        if not bool(torch.isfinite(yt).all()) or not bool((yt == yt.round()).all()) or bool((yt < 0).any()):
            raise ValueError(f"train: loss='cross_entropy' needs integer class labels 0..C-1 in {yname}.")
        return yt.to(torch.long)
    yt = _as_tensor(y, yname, device, dtype)
    bad = int((~torch.isfinite(yt)).sum())
    if bad:
        raise ValueError(f"train: {yname} contains NaN or inf ({bad} of {yt.numel()} entries).")
    return yt[:, None] if yt.ndim == 1 else yt


def prepare_xy(module: nn.Module, X: Any, y: Any, loss: Any, device: torch.device, dtype: torch.dtype,
               what: str = "X") -> tuple[torch.Tensor, torch.Tensor, tuple[int, ...]]:
    """Validate and convert one (X, y) pair: 2-D finite X with the module's width, finite y matching the output.

    Returns X, y and the shape of one sample's output (what an all-zero prediction looks like).
    """
    Xt = _check_inputs(module, X, what, device, dtype)
    yname = "y" if what == "X" else f"y of {what}"
    yt = _check_targets(y, yname, loss, device, dtype)
    if yt.shape[0] != Xt.shape[0]:
        raise ValueError(f"train: {what} has {Xt.shape[0]} samples but {yname} has {yt.shape[0]}.")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(Xt[:1])
    finally:
        module.train(was_training)
    if loss == "cross_entropy":
        n_classes = out.shape[-1]
        if int(yt.max()) >= n_classes:
            raise ValueError(
                f"train: {yname} has class label {int(yt.max())} but the network has only "
                f"{n_classes} outputs (labels must be 0..{n_classes - 1})."
            )
    elif isinstance(loss, str) and out.shape[1:] != yt.shape[1:]:
        raise ValueError(
            f"train: the network has {tuple(out.shape[1:])} outputs per sample but {yname} has "
            f"{tuple(yt.shape[1:])} targets per sample."
        )
    return Xt, yt, tuple(out.shape[1:])


def split_validation(module: nn.Module, Xt: torch.Tensor, yt: torch.Tensor, validation: Any, loss: Any,
                     generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None,
                                                          torch.Tensor | None]:
    """(X, y, X_val, y_val) from no validation, a held-out fraction of (X, y), or given (X_val, y_val)."""
    if validation is None:
        return Xt, yt, None, None
    if isinstance(validation, Real) and not isinstance(validation, bool):
        frac = float(validation)
        n_val = int(math.ceil(frac * Xt.shape[0])) if 0.0 < frac < 1.0 else 0
        if not 0 < n_val < Xt.shape[0]:
            raise ValueError(
                f"train: validation={validation!r} as a fraction must leave at least one sample on each "
                f"side of the split of {Xt.shape[0]} samples; use a value in (0, 1) or (X_val, y_val)."
            )
        perm = torch.randperm(Xt.shape[0], generator=generator).to(Xt.device)
        return Xt[perm[n_val:]], yt[perm[n_val:]], Xt[perm[:n_val]], yt[perm[:n_val]]
    if isinstance(validation, (tuple, list)) and len(validation) == 2:
        Xv, yv, _ = prepare_xy(module, validation[0], validation[1], loss, Xt.device, Xt.dtype, what="X_val")
        return Xt, yt, Xv, yv
    raise ValueError(f"train: validation must be None, a fraction in (0, 1) or (X_val, y_val); got {validation!r}.")
