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

from kernelreg._log import logger
from kernelreg._torch import resolve_device
from kernelreg.solvers._certificate import certify
from kernelreg.solvers._linalg import check_lam, check_rcond, triangular_singular_ratio
from kernelreg.solvers._kernel import KernelProblem, KernelSource, prepare_kernel
from kernelreg.solvers._problem import Problem, check_eps, prepare
from kernelreg.solvers._solution import Solution, build_solution, finish
from kernelreg.solvers._sources import DenseSource
from kernelreg.solvers.exact import SpectralSolver, Unresolved, _saturate, _unresolved_error

__all__ = ["solve_exact", "problem_for"]

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
    verbose: bool | int = False,
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
    if factored is not None:  # the given factorisation first, then (squared condition number) the precise one
        chain = _chain_from(factored, precise)
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
        _log_step(kind, problem, None if (kind == "qr" and dense and problem.plain) else spec, sol)
        if sol.certificate.optimal:
            break
        reasons.append(f"{kind}: {sol.info.get('message', 'not certified')}")
        if kind in ("gram", "kernel") and sol.lam is not None and 0.0 < sol.lam < math.inf:
            polished = spec._polish(None if lam is not None else eps, sol.lam / math.ldexp(1.0, spec._lam_exp))
            if polished is not None and polished.certificate.optimal:
                sol = polished
                break
            reasons.append(f"{kind} + refinement: " + ("did not converge" if polished is None else
                                                       polished.info.get("message", "not certified")))
        if last:
            break
    if reasons:
        sol.info["fallback_reason"] = "; ".join(reasons)
        logger.info("exact: fell back (%s).", sol.info["fallback_reason"])
    sol.info["passes"] = problem.source.passes
    sol.eps = problem.eps_asked  # a reused factorisation's problem carries the eps it was built with
    sol.time_s = perf_counter() - start
    advice = (
        "Use a larger eps: the remaining directions of Phi are below float64 resolution."
        if decomposition == "auto" or chain[-1] != "gram"
        else "Use decomposition='auto' or 'svd' (no squared condition number), or a larger eps."
    )
    return finish(sol, advice)


def problem_for(factored: SpectralSolver, Phi: object, y: object, eps: object, *, fit_intercept: bool,
                sample_weight: object, device: object) -> Problem:
    """The factorisation's own problem at a new eps, once (Phi, y, weights, intercept) are checked to be its data.

    Phi is compared value by value with what the factorisation was built on (one pass; no copy for
    an array or tensor already in float64 on the device); streamed Phi must be the same object (a
    memory map or source) or, for dask, the same graph.
    """
    if not isinstance(factored, SpectralSolver):
        raise TypeError(
            f"factorization must be a SpectralSolver (or ChunkedSolver) built on the same data; got "
            f"{type(factored).__name__}."
        )
    old = factored._problem
    eps = check_eps(eps)
    if device is not None:
        if resolve_device(device) != old.device:
            raise ValueError(f"device={device!r} differs from the factorization's device {old.device}; omit device.")
    kernel = isinstance(old, KernelProblem)
    make = prepare_kernel if kernel else prepare
    new = make(Phi, y, eps, device=old.device, fit_intercept=fit_intercept, sample_weight=sample_weight,
               **({} if kernel or isinstance(old.source, DenseSource) else {"stream": True}))
    differences = _differences(old, new)
    if differences:
        raise ValueError(
            "factorization= was built for other data than this solve: " + "; ".join(differences) + ". Build "
            f"it on exactly these inputs ({'SpectralSolver.from_gram(K, y, ...)' if kernel else 'SpectralSolver(Phi, y, ...)'}"
            " with the same fit_intercept and sample_weight), or drop factorization=."
        )
    return old.with_eps(eps)


def _differences(old: Problem, new: Problem) -> list[str]:
    """What differs between the data a factorisation was built on and a new solve's data."""
    out = []
    if (old.n_samples, old.n_features, old.n_outputs) != (new.n_samples, new.n_features, new.n_outputs):
        return [f"shapes (n_samples, n_features, n_outputs) {(old.n_samples, old.n_features, old.n_outputs)} "
                f"vs {(new.n_samples, new.n_features, new.n_outputs)}"]
    if old.fit_intercept != new.fit_intercept:
        out.append(f"fit_intercept={old.fit_intercept} vs {new.fit_intercept}")
    if (old.weights is None) != (new.weights is None) or (
        old.weights is not None and not torch.equal(old.weights, new.weights)
    ):
        out.append("sample_weight differs")
    if old.y_exp != new.y_exp or not torch.equal(old.Y, new.Y):
        out.append("y differs")
    if not _same_phi(old.source, new.source, old.phi_exp, new.phi_exp):
        out.append("K differs" if isinstance(old.source, KernelSource) else "Phi differs")
    return out


def _same_phi(old: object, new: object, old_exp: int, new_exp: int) -> bool:
    """The same feature (or kernel) matrix: equal values in memory, the same object or dask graph when streamed."""
    if type(old) is not type(new) or old_exp != new_exp:
        return False
    if isinstance(old, KernelSource):
        return old.K is new.K or torch.equal(old.K, new.K)
    if isinstance(old, DenseSource):
        same_storage = old.P.data_ptr() == new.P.data_ptr() and old.P.stride() == new.P.stride()
        return (same_storage and old.P.shape == new.P.shape) or torch.equal(old.P, new.P)
    if hasattr(old, "Phi"):  # chunked: the same array object
        return old.Phi is new.Phi
    return getattr(old.P, "name", None) == getattr(new.P, "name", None)  # dask: the same graph


def _chain_from(factored: SpectralSolver, precise: str) -> list[str]:
    """The chain that starts from a given factorisation: a Gram one may still need the precise decomposition."""
    kind = factored.decomposition
    return [kind, precise] if kind == "gram" else [kind]


def _log_step(kind: str, problem: Problem, spec: SpectralSolver | None, sol: Solution) -> None:
    """One INFO line per decomposition tried: its time and what the certificate said."""
    cert = sol.certificate
    verdict = "optimal" if cert.optimal else "not certified (" + "; ".join(cert.failures()) + ")"
    factor = "" if spec is None else f" (factorised in {spec.factor_time_s:.3g} s)"
    logger.info("exact: %s on Phi of shape %d x %d%s: mse %.4g, norm %.4g, certificate %s.", kind,
                problem.n_samples, problem.n_features, factor, sol.mse, sol.norm, verdict)


def _min_norm_qr(problem: Problem, rcond: float | None) -> Solution | None:
    """Min-norm solution by thin QR of the tall orientation; None when R is numerically singular.

    Singular is decided by the rule of the SVD route (and of the floor): ``s_min <= rcond s_max`` on
    the singular values of R (those of Phi; estimated by Lanczos for a large R, where a ratio within a
    factor of 2 of rcond goes to the SVD). ``|diag R|`` alone does not reveal the rank (a Kahan R
    has diagonal ratios ~1e-3 and s_min / s_max ~1e-16); it is only a cheap screen: ``s_min <=
    min |r_ii|`` and ``s_max >= max |r_ii|``, so a small diagonal ratio is already singular.
    """
    start = perf_counter()
    P, Yt = problem.dense, problem.Y
    n_samples, n_features = P.shape
    rcond = check_rcond(rcond, n_samples, n_features)
    wide = n_samples <= n_features
    Q, R = torch.linalg.qr(P.mT if wide else P, mode="reduced")
    diag = R.diagonal().abs()
    if float(diag.min()) <= rcond * float(diag.max()):
        return None
    ratio, spread = triangular_singular_ratio(R)
    if not ratio > rcond * spread:  # NaN, below or (estimated) near the cut-off: the SVD decides
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
        "singular_value_ratio": ratio,
    }
    info.update(problem.source.describe())
    sol = build_solution(problem, coef, b, cert, "exact", info=info)
    sol.objective = sol.norm
    sol.time_s = perf_counter() - start
    return sol
