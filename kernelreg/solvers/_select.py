"""eps chosen by cross-validation: factor once, score the whole ridge path in closed form, solve at the best lam.

The worker under the cross-validated estimators (validate at the public entry, factor once, hand
the factorisation to the exact fallback policy for the final, certified solve).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from numpy.typing import ArrayLike

from kernelreg.solvers._cv import CVPath
from kernelreg.solvers._fallback import solve_exact
from kernelreg.solvers._problem import prepare
from kernelreg.solvers._solution import Solution
from kernelreg.solvers.exact import SpectralSolver

__all__ = ["solve_cv"]


def solve_cv(
    Phi: ArrayLike | torch.Tensor,
    y: ArrayLike,
    *,
    criterion: Literal["loo", "gcv"] = "loo",
    lams: ArrayLike | None = None,
    eps: ArrayLike | None = None,
    relative: bool = False,
    n_lams: int = 50,
    below_floor: Literal["raise", "floor"] = "raise",
    weights: Literal["frequency", "sample"] = "frequency",
    fit_intercept: bool = False,
    sample_weight: ArrayLike | None = None,
    device: str | torch.device = "cpu",
    rcond: float | None = None,
) -> tuple[Solution, CVPath]:
    """Min-norm output layer at the eps (ridge lam) with the least GCV or leave-one-out error, from one factorisation.

    One eigendecomposition of the Gram matrix scores every candidate (:meth:`SpectralSolver.cv_path`);
    the answer at the best lam is then solved and certified by the exact fallback policy
    (:func:`kernelreg.solvers.solve` with ``lam``), starting from the same factorisation, so a
    whole path costs about one exact solve unless the certificate asks for the R factor.

    Parameters
    ----------
    Phi : array-like or torch.Tensor of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Several outputs share one lam (their errors are averaged).
    criterion : {"loo", "gcv"}, default="loo"
        - ``"loo"``: the exact mean squared leave-one-out error (``O(N rank K)`` per candidate).
        - ``"gcv"``: generalised cross-validation (``O(rank)`` per candidate; unreliable near
          interpolation, see :meth:`SpectralSolver.cv_path`).
    lams : array-like or None, default=None
        Candidate ridge parameters (``Phi Phi^T + lam I`` convention).
    eps : array-like or None, default=None
        Candidate bounds on the training mse instead (see ``relative``). Neither ``lams`` nor
        ``eps``: 0, ``n_lams - 2`` values spaced geometrically over the usable ``s_i**2`` and inf
        (see :meth:`SpectralSolver.cv_path`).
    relative : bool, default=False
        ``eps`` as fractions of the mse of ``coef = 0`` (``var(y)`` with an intercept, ``mean(y**2)``
        without; weighted): 0 is the interpolant (or the least-squares floor), 1 the constant model.
    n_lams : int, default=50
        Size of the default grid.
    below_floor : {"raise", "floor"}, default="raise"
        An eps candidate below the least-squares floor: ``SolverError``, or the floor itself.
    weights : {"frequency", "sample"}, default="frequency"
        What ``sample_weight`` means to the criterion (see :meth:`SpectralSolver.cv_path`):
        integer weights as repeats (scikit-learn's convention), or each sample left out whole.
    fit_intercept : bool, default=False
    sample_weight : array-like of shape (n_samples,) or None, default=None
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
    rcond : float or None, default=None
        As in :class:`SpectralSolver`.

    Returns
    -------
    solution : Solution
        The exact, certified answer at the best lam (``solution.lam``); its ``mse`` is the chosen eps.
    path : CVPath
        Every candidate's lam, eps, score and degrees of freedom, and ``best_index``.

    Raises
    ------
    SolverError
        Status ``"infeasible"`` for an eps candidate below the least-squares floor (``below_floor="raise"``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, (60, 1)); Phi = np.maximum(X - rng.uniform(-1, 1, 200), 0)
    >>> y = np.sin(3 * X[:, 0]) + 0.3 * rng.standard_normal(60)
    >>> sol, path = solve_cv(Phi, y, fit_intercept=True)
    >>> sol.status, bool(abs(sol.mse - path.best_eps) < 1e-8 * path.best_eps)
    ('optimal', True)
    """
    problem = prepare(Phi, y, device=device, fit_intercept=fit_intercept, sample_weight=sample_weight)
    spec = SpectralSolver._on(problem, "gram", rcond)
    if relative and eps is not None:
        eps = np.asarray(eps, dtype=np.float64) * spec.mean_y2
    path = spec.cv_path(lams, eps=eps, criterion=criterion, n_lams=n_lams, below_floor=below_floor, weights=weights)
    solution = solve_exact(problem, lam=path.best_lam, rcond=rcond, factored=spec)
    return solution, path
