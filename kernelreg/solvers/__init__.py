"""Solve the output layer of a frozen network: exact linear algebra, CVXPY, or GD/Adam/CG from zero.

Every method answers the same question — the coefficients ``c`` of the features ``Phi`` with mean
squared training error ``||Phi c - y||^2 / (N K) <= eps`` — and returns a :class:`Solution`, so
the implicit bias of each method can be compared on equal terms.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike

from kernelreg._dask import is_dask_array
from kernelreg._torch import resolve_dtype
from kernelreg.solvers._certificate import Certificate, Tolerances
from kernelreg.solvers._certificate import certify_answer as certify
from kernelreg.solvers._cv import CVPath
from kernelreg.solvers._problem import prepare, suggest
from kernelreg.solvers._solution import STATUSES, Solution
from kernelreg.solvers.convex import MinNormProgram, solve_cvxpy
from kernelreg.solvers._fallback import solve_exact
from kernelreg.solvers._select import solve_cv
from kernelreg.solvers.exact import SpectralSolver, gd_trajectory
from kernelreg.solvers.gd import solve_adam, solve_cg, solve_gd
from kernelreg.solvers.streamed import ChunkedSolver

__all__ = [
    "solve",
    "solve_cv",
    "Solution",
    "Certificate",
    "Tolerances",
    "certify",
    "STATUSES",
    "METHODS",
    "SpectralSolver",
    "CVPath",
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
#: Options solve() itself consumes (while validating), per method.
_SHARED: dict[str, tuple[str, ...]] = {
    "exact": ("device", "max_memory"),
    "cvxpy": (),
    "gd": ("device", "dtype"),
    "adam": ("device", "dtype"),
    "cg": ("device", "dtype"),
}

#: Method names accepted by :func:`solve`.
METHODS: tuple[str, ...] = tuple(_BACKENDS)


def _options_of(method: str) -> tuple[list[str], bool]:
    """The keyword options a method accepts, and whether it passes unknown ones on (``**kwargs``)."""
    params = inspect.signature(_BACKENDS[method]).parameters.values()
    names = list(_SHARED[method]) + [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def solve(
    Phi: ArrayLike | torch.Tensor,
    y: ArrayLike,
    method: Literal["exact", "cvxpy", "gd", "adam", "cg"] = "exact",
    eps: float = 0.0,
    *,
    fit_intercept: bool = False,
    sample_weight: ArrayLike | None = None,
    **options: Any,
) -> Solution:
    """Find output-layer coefficients with mean squared training error at most eps, by the chosen method.

    Every answer carries a :class:`Certificate`, an independent float64 check of it against the
    problem (feasibility, stationarity, a dual bound on how far its norm is above the minimum),
    and its ``status`` comes from that check, not from the backend: see :class:`Solution`.

    Parameters
    ----------
    Phi : array-like, torch.Tensor, numpy memory map or dask array of shape (n_samples, n_features)
        Feature matrix. A torch tensor stays on its device (a float64 tensor on ``device`` is used
        without any copy); float32 is converted, every solve runs in float64 by default.
        With ``method="exact"``, a memory map (``np.load(path, mmap_mode="r")``), a dask array, or
        any Phi together with ``max_memory`` is *streamed*: Phi is read in chunks, each converted
        to float64 on ``device``, and only the Gram matrix (``Phi^T Phi`` for tall Phi, ``Phi Phi^T``
        for wide Phi) or the TSQR factor R is held (see :class:`ChunkedSolver`).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets; several outputs form one joint program (Frobenius norms, one lam).
    method : {"exact", "cvxpy", "gd", "adam", "cg"}, default="exact"
        - ``"exact"``: min-norm solution by linear algebra. ``decomposition="auto"`` uses a thin QR
          for eps = 0 and, for eps > 0, the eigendecomposition of the smaller Gram matrix plus a
          root-find for lam; the certificate decides whether to go on to the R factor + SVD
          (``info["fallback_reason"]`` says why). Options: ``decomposition="auto"|"gram"|"qr"|"svd"``,
          ``device``, ``lam`` (plain ridge instead of eps), ``rcond`` (the one rank rule:
          singular values ``<= rcond * s_max`` are null), ``max_memory`` (bytes or ``"2GB"``:
          stream Phi in chunks so that the statistics plus one chunk fit; a budget too small for
          one row raises ``ValueError``). ``info["passes"]`` counts the passes over Phi.
        - ``"cvxpy"``: the same program in CVXPY (Clarabel, SCS fallback), plus ``norm="l1"``,
          ``weights``, ``loss="hinge"|"logistic"``, ``reduce``, ``solver``, ``solver_options``;
          other keywords go to ``Problem.solve`` unchanged. A squared-loss l2 answer the
          certificate rejects is polished by the exact solver (``info["polished"]``).
        - ``"gd"``: full-batch gradient descent from zero (default step 1/L).
        - ``"adam"``: full-batch ``torch.optim.Adam`` from zero (``lr=1e-3``, ``betas``).
        - ``"cg"``: conjugate gradients on the normal equations (CGLS) from zero.
        Iterative options: ``max_iter=10_000``, ``lr``, ``target_mse`` (default eps), ``tol``,
        ``history_every=1``, ``device``, ``dtype``, ``callback(iter, coef, mse)``.
    eps : float, default=0.0
        Bound on the mean squared training error ``||Phi c + b - y||^2 / (N K)``. 0 means the
        min-norm interpolant (least-squares min-norm solution when interpolation is impossible);
        any ``eps >= mean((y - ybar)**2)`` gives ``coef = 0``. For iterative methods it is the
        default stopping target.
    fit_intercept : bool, default=False
        Fit an unpenalised intercept ``b`` (one per output): the model is ``Phi c + b``. Phi is
        never copied for it: the Gram matrix, the R factor and every product take the centring as
        a rank-one correction. The value is ``Solution.intercept``.
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Non-negative weights: eps then bounds the weighted mean squared error
        ``sum_i w_i r_i^2 / sum_i w_i`` (rows scaled by ``sqrt(w)``).
    **options
        Method options listed above. Unknown options raise ``TypeError`` except for ``"cvxpy"``,
        which passes them to ``Problem.solve``.

    Returns
    -------
    Solution
        ``coef`` (float64 numpy, shape (n_features,) or (n_features, n_outputs)), ``intercept``,
        ``mse``, ``norm``, ``status``, ``certificate``, ``n_iter``, ``time_s``, ``history``,
        ``lam``, ``objective``, ``info``.

    Raises
    ------
    ValueError
        Malformed input (shape, NaN/inf, negative eps, bad weights), an unknown method or a bad option value.
    TypeError
        An option the method does not have, or a streamed Phi with a method other than ``"exact"``.
    kernelreg.exceptions.SolverError
        Status ``"infeasible"`` (eps below the least-squares floor: the message names the floor,
        the smallest feasible eps) or ``"failed"`` (e.g. results not representable in float64 at
        the data's scale); ``DivergenceError`` (a ``SolverError``) when GD/Adam blow up.
    KeyboardInterrupt
        Always reaches the caller (nothing is returned half-done).

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        Status ``"inaccurate"`` (not certified: the numbers are in the message) or ``"max_iter"``.

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
    >>> sol.status, round(sol.mse, 12), sol.certificate.optimal
    ('optimal', 0.001, True)
    >>> bool(np.allclose(solve(Phi, y).coef, np.linalg.pinv(Phi) @ y))
    True
    """
    if not isinstance(method, str) or method not in _BACKENDS:
        raise ValueError(
            f"unknown method {method!r}; choose one of {', '.join(repr(m) for m in METHODS)}."
            f"{suggest(str(method), METHODS)}"
        )
    allowed, passes_through = _options_of(method)
    if not passes_through:
        for key in options:
            if key not in allowed:
                raise TypeError(
                    f"solve(method={method!r}) got an unknown option {key!r}; options of "
                    f"{method!r} are: {', '.join(allowed)}.{suggest(key, allowed)}"
                )
    if method != "exact" and (is_dask_array(Phi) or isinstance(Phi, np.memmap)):
        kind = "a dask array" if is_dask_array(Phi) else "a memory map"
        raise TypeError(
            f"solve(method={method!r}) needs Phi in memory, but got {kind} of shape {tuple(Phi.shape)}; "
            "streamed Phi is solved by method='exact' (chunked Gram / TSQR reductions). Use "
            "method='exact', or load Phi into memory (np.asarray(Phi) / Phi.compute())."
        )
    shared = {key: options.pop(key) for key in _SHARED[method] if key in options}
    dtype = resolve_dtype(shared.get("dtype", "float64"))
    problem = prepare(
        Phi,
        y,
        eps,
        device=shared.get("device", "cpu"),
        fit_intercept=fit_intercept,
        sample_weight=sample_weight,
        max_memory=shared.get("max_memory"),
        dtype=dtype,
    )
    return _BACKENDS[method](problem, **options)

