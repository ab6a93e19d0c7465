"""The result type every solver returns, its status vocabulary, and the input checks all methods share."""

from __future__ import annotations

import difflib
import math
import numbers
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from kernelreg.exceptions import SolverError

__all__ = ["Solution", "STATUSES", "check_problem", "check_targets", "check_eps", "finish"]

#: The only values ``Solution.status`` takes. ``optimal`` returns quietly; ``inaccurate`` and
#: ``max_iter`` return with a ``ConvergenceWarning``; ``infeasible`` and ``failed`` raise ``SolverError``.
STATUSES: tuple[str, ...] = ("optimal", "inaccurate", "max_iter", "infeasible", "failed")

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Solution:
    """One solve of the output layer: the coefficients plus everything needed to judge them.

    Attributes
    ----------
    coef : ndarray of shape (n_features,) or (n_features, n_outputs)
        Output-layer coefficients, float64 on the CPU; 1-D when ``y`` was 1-D.
    mse : float
        Mean squared training error ``||Phi @ coef - y||**2 / (n_samples * n_outputs)``, computed
        directly from the residual.
    norm : float
        Euclidean norm of ``coef`` (Frobenius norm for several outputs), whatever norm was minimised.
    method : str
        ``"exact"``, ``"cvxpy"``, ``"gd"``, ``"adam"`` or ``"cg"``.
    status : str
        One of :data:`STATUSES`.
    n_iter : int, default=0
        Iterations taken (solver iterations for CVXPY, 0 for direct linear algebra).
    time_s : float, default=0.0
        Wall time of the solve in seconds.
    history : list of dict, default=[]
        Iterative methods: one dict per recorded iteration with keys ``iter``, ``mse``, ``norm``,
        ``time_s`` (``iter=0`` is the starting point ``coef = 0``). Empty for direct methods.
    lam : float or None, default=None
        Ridge parameter of the exact solution, in the convention ``coef = Phi.T @ inv(Phi @ Phi.T +
        lam * I) @ y`` (``Ridge(alpha=lam, fit_intercept=False)``); ``inf`` when ``coef = 0``.
    objective : float or None, default=None
        Optimal value of the minimised objective (``||c||_2``, ``||c||_1`` or ``||w * c||``).
    eps : float or None, default=None
        The requested bound on the mean squared training error.
    info : dict, default={}
        Method-specific extras: decomposition used, step size, CVXPY solver name and statistics, ...
    """

    coef: np.ndarray
    mse: float
    norm: float
    method: str
    status: str
    n_iter: int = 0
    time_s: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    lam: float | None = None
    objective: float | None = None
    eps: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Keep the status inside the shared vocabulary."""
        if self.status not in STATUSES:
            raise ValueError(f"Solution.status must be one of {STATUSES}; got {self.status!r}.")

    def __repr__(self) -> str:
        """Short summary: the coefficient array itself is usually too long to print."""
        lam = "" if self.lam is None else f", lam={self.lam:.4g}"
        return (
            f"Solution(method={self.method!r}, status={self.status!r}, mse={self.mse:.4g}, "
            f"norm={self.norm:.4g}{lam}, n_iter={self.n_iter}, time_s={self.time_s:.3g}, "
            f"coef.shape={tuple(self.coef.shape)})"
        )


def finish(solution: Solution, advice: str = "") -> Solution:
    """Apply the status contract: return quietly, return with a warning, or raise ``SolverError``."""
    status = solution.status
    if status == "optimal":
        return solution
    reason = solution.info.get("message", "")
    text = f"method={solution.method!r} ended with status {status!r}"
    text += f": {reason.rstrip('.')}." if reason else "."
    if advice:
        text += f" {advice}"
    if status in ("inaccurate", "max_iter"):
        # Point the warning at the caller's line, not at kernelreg's internals.
        warnings.warn(text, ConvergenceWarning, stacklevel=_outside_stacklevel())
        return solution
    raise SolverError(text, method=solution.method, status=status)


def _outside_stacklevel() -> int:
    """warnings stacklevel of the first frame outside kernelreg (skip_file_prefixes needs Python 3.12)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def _describe_nonfinite(values: np.ndarray | torch.Tensor, name: str) -> str | None:
    """Say how many NaN / infinite entries an array has, or None when it is clean."""
    if isinstance(values, torch.Tensor):
        if bool(torch.isfinite(values).all()):
            return None
        n_nan = int(torch.isnan(values).sum())
        n_inf = int(torch.isinf(values).sum())
    else:
        if np.isfinite(values).all():
            return None
        n_nan = int(np.isnan(values).sum())
        n_inf = int(np.isinf(values).sum())
    parts = []
    if n_nan:
        parts.append(f"{n_nan} NaN")
    if n_inf:
        parts.append(f"{n_inf} infinite")
    return (
        f"{name} contains {' and '.join(parts)} value(s); solvers need finite input. Remove or "
        f"impute those entries (check the features for overflow, e.g. a float32 activation)."
    )


_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)


def _as_array(values: Any, name: str) -> np.ndarray | torch.Tensor:
    """Accept a torch tensor as is and turn anything else into a numeric numpy array."""
    if isinstance(values, torch.Tensor):
        if values.is_complex() or not (values.is_floating_point() or values.dtype in _INT_DTYPES):
            raise TypeError(f"{name} must hold real numbers; got a torch tensor of dtype {values.dtype}.")
        return values.detach()
    array = np.asarray(values)
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} must hold real numbers; got an array of dtype {array.dtype}. Convert it with "
            f"np.asarray({name}, dtype=float)."
        )
    return array


def check_problem(Phi: Any, y: Any) -> tuple[np.ndarray | torch.Tensor, np.ndarray, bool]:
    """Validate (Phi, y) once for every method: Phi (array or tensor), y as 2-D float64, was y 1-D."""
    Phi = _as_array(Phi, "Phi")
    if Phi.ndim != 2:
        raise ValueError(
            f"Phi must be a 2-D feature matrix of shape (n_samples, n_features); got shape "
            f"{tuple(Phi.shape)} ({Phi.ndim}-D). Reshape it, e.g. Phi.reshape(n_samples, -1)."
        )
    Y, was_1d = check_targets(y, tuple(Phi.shape))
    problem = _describe_nonfinite(Phi, "Phi")
    if problem:
        raise ValueError(problem)
    return Phi, Y, was_1d


def check_targets(y: Any, phi_shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    """Validate y against the shape of Phi without touching Phi's values (so Phi may live on disk or in dask)."""
    y = _as_array(y, "y")
    if isinstance(y, torch.Tensor):
        y = y.detach().to("cpu", dtype=torch.float64).numpy()
    y = np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2):
        raise ValueError(
            f"y must be 1-D of shape (n_samples,) or 2-D of shape (n_samples, n_outputs); got shape "
            f"{y.shape} ({y.ndim}-D)."
        )
    if phi_shape[0] == 0 or phi_shape[1] == 0:
        raise ValueError(
            f"Phi is empty: shape {tuple(phi_shape)}; solvers need at least one sample (row) and one "
            f"feature (column)."
        )
    if y.shape[0] != phi_shape[0]:
        raise ValueError(
            f"Phi and y disagree on the number of samples: Phi has {phi_shape[0]} rows but y has "
            f"{y.shape[0]} entries; pass the labels of exactly the rows of Phi."
        )
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError(f"y is empty: shape {y.shape}; it needs at least one output column.")
    problem = _describe_nonfinite(y, "y")
    if problem:
        raise ValueError(problem)
    was_1d = y.ndim == 1
    return (y[:, None] if was_1d else y), was_1d


def check_eps(eps: Any) -> float:
    """eps must be a finite real number >= 0 (a bound on the mean squared training error)."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(
            f"eps must be a real number >= 0 (a bound on the mean squared training error); got "
            f"{eps!r} of type {type(eps).__name__}."
        )
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(
            f"eps must be finite and >= 0 (a bound on the mean squared training error); got "
            f"eps={eps!r}. Use eps=0 for the min-norm interpolant."
        )
    return eps


def suggest(key: str, allowed: list[str] | tuple[str, ...]) -> str:
    """A ' Did you mean ...?' hint for a mistyped name, or an empty string."""
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def output_shape(coef: np.ndarray, was_1d: bool) -> np.ndarray:
    """Give coef the shape of y: (n_features,) for 1-D y, (n_features, n_outputs) otherwise."""
    return coef[:, 0] if was_1d else coef
