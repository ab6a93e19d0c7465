"""The floor of every program: the least mean loss any coefficients reach, i.e. the smallest feasible eps.

* ``loss="squared"``: the float64 least-squares floor over the numerically significant directions of
  Phi (the one rcond rule of the exact solver: R factor + SVD in memory, TSQR when streamed).
* ``loss="hinge"`` / ``"logistic"``: the loss sees c only through ``f = Phi c (+ b)``, which ranges
  over the column space V of Phi (and the constant vector with an intercept). The floor is a
  program over an orthonormal basis Q of V (rank r by the same rcond rule, rows of weight 0 left
  out); when r equals the number of samples every f is reachable and the floor is 0.

  - hinge: the LP ``min sum w_i s_i  s.t.  s_i >= 1 - y_i (Q z)_i, s >= 0`` (HiGHS through
    ``scipy.optimize.linprog``); the floor reported is the mean hinge loss of the returned
    ``f = Q z`` measured in float64, a value some coefficients attain.
  - logistic: the infimum is not attained when some samples can be separated. The samples split
    (Ji & Telgarsky, "Risk and parameter convergence of logistic regression", 2019) into S, the
    samples some f in V puts strictly on their side while no sample is on the wrong side (one LP:
    ``max sum t  s.t.  y_i f_i >= t_i, 0 <= t <= 1``; t is 1 on S and 0 elsewhere), whose loss a
    growing multiple of that f drives to 0 without moving the others, and the rest C, on which
    the loss is coercive. The floor is the minimum over V of the loss on C, found by damped
    Newton in float64 (quadratic convergence, so exact to rounding).

Several outputs (one-vs-rest) are separate programs: their floors add up in the mean.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.optimize import linprog
from scipy.special import expit

from kernelreg.exceptions import SolverError
from kernelreg.solvers._linalg import check_rcond
from kernelreg.solvers._problem import Problem, prepare, suggest
from kernelreg.solvers.exact import SpectralSolver

__all__ = ["least_loss", "floor_of", "LOSSES"]

LOSSES = ("squared", "hinge", "logistic")


def least_loss(
    Phi: ArrayLike | torch.Tensor,
    y: ArrayLike,
    loss: Literal["squared", "hinge", "logistic"] = "squared",
    *,
    fit_intercept: bool = False,
    sample_weight: ArrayLike | None = None,
    rcond: float | None = None,
    device: str | torch.device = "cpu",
) -> float:
    """The least mean loss any coefficients reach on (Phi, y): the smallest feasible eps of :func:`solve`.

    ``solve`` raises :class:`~kernelreg.exceptions.SolverError` with status ``"infeasible"``
    below it and carries the same number as ``error.floor``; this function computes it up front
    (e.g. to choose a relative eps, or to decide before a grid search).

    Parameters
    ----------
    Phi : array-like, torch.Tensor, memory map or dask array of shape (n_samples, n_features)
        Feature matrix (the margin losses need it in memory).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets; labels in {-1, +1} for the margin losses.
    loss : {"squared", "hinge", "logistic"}, default="squared"
        - ``"squared"``: the least mean squared error (the least-squares floor).
        - ``"hinge"``: the least mean hinge loss ``mean(max(0, 1 - y f))``, an LP.
        - ``"logistic"``: the infimum of the mean logistic loss ``mean(log(1 + exp(-y f)))``;
          not attained when some samples are separable (then every eps above it is feasible).
    fit_intercept : bool, default=False
        The loss sees ``Phi c + b`` with a free intercept b.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Weights of the mean loss (normalised to mean 1, as in :func:`solve`).
    rcond : float or None, default=None
        The rank rule: singular values ``<= rcond * s_max`` of Phi are null (default
        ``max(n_samples, n_features) * eps_64``, the exact solver's).
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where the squared loss's decomposition runs.

    Returns
    -------
    float
        The floor, in the units of the loss (y**2 for the squared loss).

    Raises
    ------
    ValueError
        Bad input (as :func:`solve`), an unknown loss, labels outside {-1, +1} for a margin loss.
    kernelreg.exceptions.SolverError
        Status ``"failed"`` when the LP solver does not finish.

    Examples
    --------
    Two copies of one input with opposite labels: no f separates them, and the best is f = 0 there.

    >>> import numpy as np
    >>> Phi = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> y = np.array([1.0, -1.0, 1.0])
    >>> round(least_loss(Phi, y, "hinge"), 12), round(least_loss(Phi, y, "logistic") / np.log(2), 12)
    (0.666666666667, 0.666666666667)
    >>> round(least_loss(Phi, y), 12)  # squared: the pair's mean is 0, each misses by 1
    0.666666666667
    """
    if loss not in LOSSES:
        raise ValueError(f"least_loss: loss must be one of {LOSSES}; got loss={loss!r}.{suggest(str(loss), LOSSES)}")
    problem = prepare(Phi, y, device=device, fit_intercept=fit_intercept, sample_weight=sample_weight)
    if loss != "squared":
        _check_labels(problem, loss)
    return floor_of(problem, loss, rcond)


def floor_of(problem: Problem, loss: str, rcond: float | None = None) -> float:
    """The floor on a validated problem (caller units): the private path of the solvers and ``least_loss``."""
    if loss == "squared":
        return SpectralSolver._on(problem, "r", rcond).mse_floor
    P = problem.dense  # (scaled by 2**-phi_exp when extreme: the range of Phi does not change)
    Phi = (P if P.device.type == "cpu" else P.cpu()).double().numpy()
    Y = problem.Y.double().cpu().numpy() * math.ldexp(1.0, problem.y_exp)
    w = np.ones(problem.n_samples) if problem.weights is None else problem.weights.double().cpu().numpy()
    keep = w > 0
    Q = _range_basis(Phi[keep], problem.fit_intercept, check_rcond(rcond, *Phi.shape))
    total = 0.0
    for k in range(Y.shape[1]):
        total += _column_floor(Q, Y[keep, k], w[keep], loss)
    return total / problem.nk


def _check_labels(problem: Problem, loss: str) -> None:
    """Margin losses need labels in {-1, +1}."""
    labels = problem.Y.cpu().numpy() * math.ldexp(1.0, problem.y_exp)
    if not np.isin(labels, (-1.0, 1.0)).all():
        bad = np.unique(labels[~np.isin(labels, (-1.0, 1.0))])[:5]
        raise ValueError(
            f"loss={loss!r} needs class labels y in {{-1, +1}}; got other values such as {bad.tolist()}. Map the "
            "classes to -1/+1 (e.g. y = 2 * (y == positive) - 1)."
        )


def _range_basis(Phi: np.ndarray, fit_intercept: bool, rcond: float) -> np.ndarray:
    """Orthonormal basis (m, r) of the column space of Phi (singular values above rcond * s_max), plus 1 with an intercept."""
    m = Phi.shape[0]
    if m == 0:
        return np.zeros((0, 0))
    U, s, _ = np.linalg.svd(Phi, full_matrices=False)
    rank = int((s > rcond * s[0]).sum()) if s.size and s[0] > 0 else 0
    Q = U[:, :rank]
    if fit_intercept:
        ones = np.ones(m) / math.sqrt(m)
        for _ in range(2):  # twice is enough (Gram-Schmidt, re-orthogonalised)
            ones = ones - Q @ (Q.T @ ones)
        size = float(np.linalg.norm(ones))
        if size > rcond:
            Q = np.column_stack([Q, ones / size])
    return Q


def _column_floor(Q: np.ndarray, y: np.ndarray, w: np.ndarray, loss: str) -> float:
    """sum_i w_i loss(y_i f_i) minimised over f = Q z (one output column)."""
    m, r = Q.shape
    if m == 0 or r == m:
        return 0.0  # every f is reachable: the hinge loss is 0 at f = y, the logistic loss tends to 0
    if loss == "hinge":
        z = _hinge_lp(Q, y, w)
        return float(np.sum(w * np.maximum(0.0, 1.0 - y * (Q @ z))))
    separable = _separable(Q, y)
    rest = ~separable
    if not rest.any():
        return 0.0
    return _logistic_minimum(Q[rest], y[rest], w[rest])


def _linprog(c: np.ndarray, A: Any, b: np.ndarray, bounds: list[tuple[float | None, float | None]], what: str) -> np.ndarray:
    """HiGHS on ``min c x  s.t.  A x <= b``; a SolverError naming the LP when it does not finish."""
    res = linprog(c, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if res.status != 0 or res.x is None:
        raise SolverError(
            f"least_loss: the {what} LP did not finish (HiGHS status {res.status}: {res.message}).",
            method="least_loss",
            status="failed",
        )
    return res.x


def _hinge_lp(Q: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """z of the least weighted hinge loss over f = Q z: variables (z free, s >= 0), -y Q z - s <= -1."""
    m, r = Q.shape
    A = sparse.hstack([sparse.csr_matrix(-(y[:, None] * Q)), -sparse.identity(m, format="csr")], format="csr")
    bounds = [(None, None)] * r + [(0.0, None)] * m
    x = _linprog(np.concatenate([np.zeros(r), w]), A, -np.ones(m), bounds, "hinge")
    return x[:r]


def _separable(Q: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The samples some f = Q z puts strictly on their side with no sample on the wrong side (t = 1 on them)."""
    m, r = Q.shape
    A = sparse.hstack([sparse.csr_matrix(-(y[:, None] * Q)), sparse.identity(m, format="csr")], format="csr")
    bounds = [(None, None)] * r + [(0.0, 1.0)] * m
    x = _linprog(np.concatenate([np.zeros(r), -np.ones(m)]), A, np.zeros(m), bounds, "separability")
    return x[r:] > 0.5


def _logistic_minimum(Q: np.ndarray, y: np.ndarray, w: np.ndarray, max_iter: int = 100) -> float:
    """min over f in range(Q) of sum w_i log(1 + exp(-y_i f_i)): damped Newton in a basis of range(Q) (attained here).

    Q holds the rows of an orthonormal basis of V on the non-separable samples.
    """
    U, s, _ = np.linalg.svd(Q, full_matrices=False)
    # Q is orthonormal, so s_i is the size on these samples of a unit f in V: directions below sqrt(eps_64) vanish
    # here up to rounding (the separating f found by the LP is one): using them would exploit that rounding
    B = U[:, s > math.sqrt(np.finfo(np.float64).eps)]

    def value(u: np.ndarray) -> float:
        return float(np.sum(w * np.logaddexp(0.0, -y * (B @ u))))

    u = np.zeros(B.shape[1])
    current = value(u)
    for _ in range(max_iter):
        p = expit(-y * (B @ u))  # sigma(-margin)
        grad = B.T @ (-w * y * p)
        hess = B.T @ ((w * p * (1.0 - p))[:, None] * B)
        step = np.linalg.lstsq(hess, -grad, rcond=None)[0]
        decrement = -float(grad @ step)
        if decrement <= 4 * np.finfo(np.float64).eps * max(current, 1.0):
            break
        t = 1.0
        while t > 1e-12:
            trial = value(u + t * step)
            if trial <= current - 0.25 * t * decrement:
                break
            t *= 0.5
        else:
            break
        u, current = u + t * step, trial
    return current
