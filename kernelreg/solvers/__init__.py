"""Solve the output layer of a frozen network: exact linear algebra, CVXPY, or GD/Adam/CG from zero.

Every method answers the same question — the coefficients ``c`` of the features ``Phi`` with mean
squared training error ``||Phi c - y||^2 / (N K) <= eps`` — and returns a :class:`Solution`, so
the implicit bias of each method can be compared on equal terms.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

import torch
from numpy.typing import ArrayLike

from kernelreg._dask import is_dask_array
from kernelreg.solvers._solution import STATUSES, Solution, check_eps, check_problem, suggest
from kernelreg.solvers.convex import MinNormProgram, solve_cvxpy
from kernelreg.solvers.exact import SpectralSolver, gd_trajectory, solve_exact
from kernelreg.solvers.gd import solve_adam, solve_cg, solve_gd
from kernelreg.solvers.streamed import ChunkedSolver, needs_streaming, solve_streamed

__all__ = [
    "solve",
    "Solution",
    "STATUSES",
    "METHODS",
    "SpectralSolver",
    "ChunkedSolver",
    "gd_trajectory",
    "MinNormProgram",
]

_BACKENDS: dict[str, Callable[..., Solution]] = {
    "exact": solve_exact,
    "cvxpy": solve_cvxpy,
    "gd": solve_gd,
    "adam": solve_adam,
    "cg": solve_cg,
}

#: Method names accepted by :func:`solve`.
METHODS: tuple[str, ...] = tuple(_BACKENDS)


def _options_of(backend: Callable[..., Solution]) -> tuple[list[str], bool]:
    """The keyword options a backend accepts, and whether it passes unknown ones on (``**kwargs``)."""
    params = inspect.signature(backend).parameters.values()
    names = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def solve(
    Phi: ArrayLike | torch.Tensor,
    y: ArrayLike,
    method: Literal["exact", "cvxpy", "gd", "adam", "cg"] = "exact",
    eps: float = 0.0,
    **options: Any,
) -> Solution:
    """Find output-layer coefficients with mean squared training error at most eps, by the chosen method.

    Parameters
    ----------
    Phi : array-like, torch.Tensor, numpy memory map or dask array of shape (n_samples, n_features)
        Feature matrix (any torch device; float32 is converted, every solve runs in float64 by default).
        With ``method="exact"``, a memory map (``np.load(path, mmap_mode="r")``), a dask array, or
        any Phi together with ``max_memory`` is *streamed*: Phi is read in chunks, each converted
        to float64 on ``device``, and only the Gram matrix (``Phi^T Phi`` for tall Phi, ``Phi Phi^T``
        for wide Phi) or the TSQR factor R is held (see :class:`ChunkedSolver`).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets; several outputs form one joint program (Frobenius norms, one lam).
    method : {"exact", "cvxpy", "gd", "adam", "cg"}, default="exact"
        - ``"exact"``: min-norm solution by linear algebra. ``decomposition="auto"`` uses a thin QR
          for eps = 0 and, for eps > 0, the eigendecomposition of the smaller Gram matrix plus a
          root-find for lam; either falls back to the thin SVD when rounding makes it unreliable
          (``info["fallback_reason"]``). Options: ``decomposition="auto"|"gram"|"qr"|"svd"``,
          ``device``, ``lam`` (plain ridge instead of eps), ``rcond`` (pseudo-inverse cut-off),
          ``max_memory`` (bytes or ``"2GB"``: stream Phi in chunks so that the statistics plus
          one chunk fit; a budget too small for one row raises ``ValueError``). Streamed solves
          use a TSQR for eps = 0 on tall Phi and fall back from the Gram to the TSQR like the
          in-memory solver; ``info["passes"]`` counts the passes over Phi.
        - ``"cvxpy"``: the same program in CVXPY (Clarabel, SCS fallback), plus ``norm="l1"``,
          ``weights``, ``loss="hinge"|"logistic"``, ``reduce``, ``solver``, ``solver_options``;
          other keywords go to ``Problem.solve`` unchanged.
        - ``"gd"``: full-batch gradient descent from zero (default step 1/L).
        - ``"adam"``: full-batch ``torch.optim.Adam`` from zero (``lr=1e-3``, ``betas``).
        - ``"cg"``: conjugate gradients on the normal equations (CGLS) from zero.
        Iterative options: ``max_iter=10_000``, ``lr``, ``target_mse`` (default eps), ``tol``,
        ``history_every=1``, ``device``, ``dtype``, ``callback(iter, coef, mse)``.
    eps : float, default=0.0
        Bound on the mean squared training error ``||Phi c - y||^2 / (N K)``. 0 means the min-norm
        interpolant (least-squares min-norm solution when interpolation is impossible); any
        ``eps >= mean(y**2)`` gives ``coef = 0``. For iterative methods it is the default stopping
        target.
    **options
        Method options listed above. Unknown options raise ``TypeError`` except for ``"cvxpy"``,
        which passes them to ``Problem.solve``.

    Returns
    -------
    Solution
        ``coef`` (float64 numpy, shape (n_features,) or (n_features, n_outputs)), ``mse``, ``norm``,
        ``status``, ``n_iter``, ``time_s``, ``history``, ``lam``, ``objective``, ``info``.

    Raises
    ------
    ValueError
        Malformed input (shape, NaN/inf, negative eps), an unknown method or a bad option value.
    TypeError
        An option the method does not have, or a dask Phi with a method other than ``"exact"``.
    kernelreg.exceptions.SolverError
        Status ``"infeasible"`` (e.g. eps below the least-squares floor) or ``"failed"``;
        ``DivergenceError`` (a ``SolverError``) when GD/Adam blow up.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        Status ``"inaccurate"`` or ``"max_iter"``: the message names the setting to change.

    See Also
    --------
    SpectralSolver : factor once, then sweep eps, lam or GD step counts.
    MinNormProgram : a CVXPY program built once and re-solved for several eps.
    gd_trajectory : closed-form GD coefficients at given iteration counts.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Phi, y = rng.standard_normal((20, 100)), rng.standard_normal(20)
    >>> sol = solve(Phi, y, eps=1e-3)
    >>> sol.status, round(sol.mse, 12)
    ('optimal', 0.001)
    >>> bool(np.allclose(solve(Phi, y).coef, np.linalg.pinv(Phi) @ y))
    True
    """
    if not isinstance(method, str) or method not in _BACKENDS:
        raise ValueError(
            f"unknown method {method!r}; choose one of {', '.join(repr(m) for m in METHODS)}."
            f"{suggest(str(method), METHODS)}"
        )
    backend = _BACKENDS[method]
    allowed, passes_through = _options_of(backend)
    if not passes_through:
        for key in options:
            if key not in allowed:
                raise TypeError(
                    f"solve(method={method!r}) got an unknown option {key!r}; options of "
                    f"{method!r} are: {', '.join(allowed)}.{suggest(key, allowed)}"
                )
    eps = check_eps(eps)
    if method == "exact" and needs_streaming(Phi, options.get("max_memory")):
        return solve_streamed(Phi, y, eps, **options)
    if is_dask_array(Phi):
        raise TypeError(
            f"solve(method={method!r}) needs Phi in memory, but got a dask array of shape {Phi.shape}; "
            "dask arrays are solved by method='exact' (chunked Gram / TSQR reductions). Use "
            "method='exact', or Phi.compute() if it fits in memory."
        )
    Phi, Y, was_1d = check_problem(Phi, y)
    return backend(Phi, Y, was_1d, eps, **options)
