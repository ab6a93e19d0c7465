"""``solve(method="exact")``: the one fallback policy, for Phi in memory, on disk or in dask.

``decomposition="auto"`` tries, in order, until the certificate says ``optimal``:

* eps = 0: the thin QR (in memory, plain problems; no squared condition number), then the R factor
  + SVD (rank-deficient Phi);
* eps > 0 or lam: the Gram eigendecomposition (fastest); a rejected Gram answer is first polished
  by iterative refinement against Phi (:meth:`SpectralSolver._polish`, a few passes), and only then
  replaced by the R factor + SVD (also when eps lies below the floor the Gram can see).

The streamed and dask paths run the same policy: only the source of Phi differs.
"""

from __future__ import annotations

import math
from time import perf_counter
from typing import Literal

import torch

from kernelreg.solvers._certificate import certify
from kernelreg.solvers._linalg import check_lam, check_rcond
from kernelreg.solvers._problem import Problem
from kernelreg.solvers._solution import Solution, build_solution, finish
from kernelreg.solvers._sources import DenseSource
from kernelreg.solvers.exact import SpectralSolver, Unresolved, _saturate, _unresolved_error

__all__ = ["solve_exact"]

_EXACT_DECOMPOSITIONS = ("auto", "gram", "qr", "svd")


def _chain(problem: Problem, decomposition: str, plain_min_norm: bool, precise: str) -> list[str]:
    """The decompositions to try, in order: the one fallback policy of decomposition='auto'."""
    dense = isinstance(problem.source, DenseSource)
    if decomposition == "auto":
        if plain_min_norm:
            return ["qr", precise] if (dense and problem.plain) else [precise]
        return ["gram", precise]
    if decomposition == "qr":
        if dense and not plain_min_norm:
            raise ValueError(
                f"decomposition='qr' only serves eps=0 (the min-norm interpolant); got eps={problem.eps_asked!r}. "
                "Use decomposition='gram' or 'svd' for eps > 0 or a ridge lam."
            )
        return ["qr", precise] if (dense and problem.plain) else [precise]
    return [precise if decomposition in ("svd", "qr") else decomposition]


def solve_exact(
    problem: Problem,
    *,
    decomposition: Literal["auto", "gram", "qr", "svd"] = "auto",
    lam: float | None = None,
    rcond: float | None = None,
    factored: SpectralSolver | None = None,
) -> Solution:
    """Backend of ``solve(method="exact")`` on a validated problem (in memory, streamed or dask).

    ``decomposition="auto"`` tries, in order, until the certificate says ``optimal``:

    - eps = 0: the thin QR (in memory, plain problems; no squared condition number), then the
      R factor + SVD (rank-deficient Phi);
    - eps > 0 or lam: the Gram eigendecomposition (fastest), then the R factor + SVD (when eps
      lies below the floor the Gram can see, or its answer is not certified).

    Each step's reason is kept in ``info["fallback_reason"]``; an answer no decomposition
    certifies returns with status ``"inaccurate"`` and the certificate's numbers in the message.
    ``factored``: a :class:`SpectralSolver` already built on this ``problem`` (a cross-validation
    path's) serves the first step of the chain when it is of that kind, instead of a new factorisation.
    """
    if decomposition not in _EXACT_DECOMPOSITIONS:
        raise ValueError(
            f"method='exact' decomposition must be one of {_EXACT_DECOMPOSITIONS}; got {decomposition!r}."
        )
    eps = problem.eps
    if lam is not None:
        lam = check_lam(lam)
        if problem.eps_asked != 0.0:
            raise ValueError(
                f"method='exact' takes either eps (a bound on the mse) or lam (a ridge parameter), not "
                f"both; got eps={problem.eps_asked!r} and lam={lam!r}."
            )
    dense = isinstance(problem.source, DenseSource)
    precise = "svd" if dense else "qr"
    chain = _chain(problem, decomposition, eps == 0.0 and lam is None, precise)
    start = perf_counter()
    reasons: list[str] = []
    sol = None
    for index, kind in enumerate(chain):
        last = index == len(chain) - 1
        try:
            if kind == "qr" and dense and problem.plain:
                sol = _min_norm_qr(problem, rcond)
                if sol is None:
                    reasons.append("qr: R is numerically singular (rank-deficient Phi)")
                    continue
            else:
                if factored is not None and index == 0 and factored.decomposition == kind:
                    spec = factored
                else:
                    spec = SpectralSolver._on(problem, "gram" if kind == "gram" else "r", rcond)
                    spec.decomposition = kind
                sol = spec._ridge(lam) if lam is not None else spec._solve_eps(eps)
        except Unresolved as exc:
            if last or len(chain) == 1:
                raise _unresolved_error(spec, exc, problem.eps_asked) from None
            reasons.append(
                f"gram: eps is below the floor mse={_saturate(float(exc.args[0]), spec._mse_exp):.6g} the Gram eigenvalues "
                "can see, and they cannot resolve every direction"
            )
            continue
        if sol.certificate.optimal:
            break
        reasons.append(f"{kind}: {sol.info.get('message', 'not certified')}")
        if kind == "gram" and sol.lam is not None and 0.0 < sol.lam < math.inf:
            polished = spec._polish(None if lam is not None else eps, sol.lam / math.ldexp(1.0, spec._lam_exp))
            if polished is not None and polished.certificate.optimal:
                sol = polished
                break
            reasons.append("gram + refinement: " + ("did not converge" if polished is None else
                                                    polished.info.get("message", "not certified")))
        if last:
            break
    if reasons:
        sol.info["fallback_reason"] = "; ".join(reasons)
    sol.info["passes"] = problem.source.passes
    sol.time_s = perf_counter() - start
    advice = (
        "Use a larger eps: the remaining directions of Phi are below float64 resolution."
        if decomposition == "auto" or chain[-1] != "gram"
        else "Use decomposition='auto' or 'svd' (no squared condition number), or a larger eps."
    )
    return finish(sol, advice)


def _min_norm_qr(problem: Problem, rcond: float | None) -> Solution | None:
    """Min-norm solution by thin QR of the tall orientation; None when R is numerically singular."""
    start = perf_counter()
    P, Yt = problem.dense, problem.Y
    n_samples, n_features = P.shape
    rcond = check_rcond(rcond, n_samples, n_features)
    wide = n_samples <= n_features
    Q, R = torch.linalg.qr(P.mT if wide else P, mode="reduced")
    diag = R.diagonal().abs()
    if float(diag.min()) <= rcond * float(diag.max()):
        return None
    if wide:  # Phi = R^T Q^T: solve R^T z = y, c = Q z (in the row space); alpha = R^-1 z
        z = torch.linalg.solve_triangular(R.mT, Yt, upper=False)
        coef = Q @ z
        witness = torch.linalg.solve_triangular(R, z, upper=True)
    else:  # Phi = Q R: least squares c = R^-1 Q^T y; alpha = Q R^-T c has Phi^T alpha = c
        coef = torch.linalg.solve_triangular(R, Q.mT @ Yt, upper=True)
        witness = Q @ torch.linalg.solve_triangular(R.mT, coef, upper=False)
    b = torch.zeros(problem.n_outputs, dtype=torch.float64, device=P.device)
    cert = certify(problem, coef, b, eps=0.0, witness=witness)
    info = {
        "decomposition": "qr",
        "orientation": "Phi^T = QR" if wide else "Phi = QR",
        "device": str(problem.device),
        "rcond": rcond,
        "min_abs_diag_ratio": float(diag.min() / diag.max()),
    }
    info.update(problem.source.describe())
    sol = build_solution(problem, coef, b, cert, "exact", info=info)
    sol.objective = sol.norm
    sol.time_s = perf_counter() - start
    return sol
