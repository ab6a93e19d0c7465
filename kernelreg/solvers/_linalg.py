"""Linear-algebra rules every exact path shares: the rcond rule, Gram products, R factors, overflow-safe norms.

A leaf of the solvers package (imports only numpy, scipy, torch and kernelreg.exceptions), so the
in-memory, streamed and dask paths decide rank, floor and resolution by the same numbers.

**One rank rule.** A direction of Phi is numerically significant when its singular value
``s > rcond * s_max`` (default ``rcond = max(N, n) * eps_64``), in every decomposition, for the
min-norm solution, for ridge and for the least-squares floor. A Gram matrix cannot see singular
values below about ``sqrt(gram_resolution) * s_max`` (its eigenvalues carry absolute rounding
errors of that size): directions it cannot resolve are *unresolved*, never declared null, and a
decision that depends on them (an eps below the floor the Gram sees, a certificate that fails)
goes to a decomposition that resolves them (the R factor and its SVD).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = [
    "F64_EPS",
    "default_rcond",
    "check_rcond",
    "check_lam",
    "gram_resolution",
    "gram_matrix",
    "r_factor",
    "svd_small",
    "triangular_singular_ratio",
    "sum_squares",
    "safe_norm",
    "pow2_scale",
    "saturate_ldexp",
]

F64_EPS = float(np.finfo(np.float64).eps)
#: Largest power-of-two exponent kept for |Phi| or |y| before products of two entries (Gram
#: entries, residuals) could overflow or lose everything to underflow; beyond it the solve runs on
#: Phi / 2**k (exact: only the exponent changes).
_SAFE_EXPONENT = 400


def default_rcond(n_samples: int, n_features: int) -> float:
    """The rcond rule's default: ``max(N, n) * eps_64`` relative to ``s_max`` (numpy's ``lstsq`` rule)."""
    return max(n_samples, n_features) * F64_EPS


def check_rcond(rcond: float | None, n_samples: int, n_features: int) -> float:
    """Default relative cut-off on singular values, or a user value in [0, 1)."""
    if rcond is None:
        return default_rcond(n_samples, n_features)
    if isinstance(rcond, bool) or not isinstance(rcond, numbers.Real) or not 0 <= rcond < 1:
        raise ValueError(
            f"rcond must be a relative cut-off on singular values in [0, 1) or None (default "
            f"max(n_samples, n_features) * 2.2e-16); got rcond={rcond!r}."
        )
    return float(rcond)


def check_lam(lam: object) -> float:
    """lam must be a real number >= 0 (inf allowed: coef = 0)."""
    is_number = isinstance(lam, numbers.Real) and not isinstance(lam, bool)
    if not is_number or math.isnan(lam) or lam < 0:
        raise ValueError(
            f"lam must be a ridge parameter >= 0 (Phi Phi^T + lam I convention; inf gives coef = 0); "
            f"got lam={lam!r}."
        )
    return float(lam)


def gram_resolution(n_samples: int, n_features: int) -> float:
    """Relative size of the rounding errors in the eigenvalues of a float64 Gram matrix.

    ``eigh(fl(Phi^T Phi))`` is backward stable with errors of a few ``eps_64 * ||G||``; the
    formation of G adds about ``sqrt(N) * eps_64 * ||G||`` (random-walk rounding of length-N sums).
    Eigenvalues under this fraction of the largest one are unresolved. (The old cut-off,
    ``max(N, n) * eps_64``, was pessimistic for large N and dropped resolvable directions.)
    """
    return 8.0 * math.sqrt(max(n_samples, n_features)) * F64_EPS


def gram_matrix(P: torch.Tensor, wide: bool, out: torch.Tensor | None = None) -> torch.Tensor:
    """``P P^T`` (wide) or ``P^T P`` in P's dtype; on the CPU via numpy's BLAS, whose ``A^T A`` is a
    symmetric rank-k update (half the flops of torch's general matrix product).

    With ``out`` the product is added to it in place (chunked accumulation) and ``out`` is returned.
    """
    if P.device.type == "cpu" and P.dtype == torch.float64 and not P.requires_grad:
        A = P.numpy()
        product = A @ A.T if wide else A.T @ A
        if out is None:
            return torch.from_numpy(product)
        out.add_(torch.from_numpy(product))
        return out
    if out is None:
        return P @ P.mT if wide else P.mT @ P
    return out.addmm_(P, P.mT) if wide else out.addmm_(P.mT, P)


def r_factor(A: torch.Tensor) -> torch.Tensor:
    """Upper-triangular R of the thin QR of a tall matrix A (Q never formed; A itself is not changed)."""
    return torch.linalg.qr(A, mode="r")[1]


def svd_small(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Thin SVD ``M = U diag(s) V^T`` of a small square factor (LAPACK divide and conquer on the CPU)."""
    if M.device.type == "cpu" and M.dtype == torch.float64:
        import scipy.linalg

        U, s, Vh = scipy.linalg.svd(M.numpy(), full_matrices=False, lapack_driver="gesdd", check_finite=False)
        return torch.from_numpy(U), torch.from_numpy(s), torch.from_numpy(Vh)
    return torch.linalg.svd(M, full_matrices=False)


#: Up to this order the singular values of a triangular R are computed outright (a few milliseconds).
_EXACT_SVD_ORDER = 256


def triangular_singular_ratio(R: torch.Tensor) -> tuple[float, float]:
    """``s_min / s_max`` of an upper-triangular R and the factor it may be off by (NaN when it cannot be measured).

    Small R: ``svdvals``. Large R: Lanczos (ARPACK ``eigsh``, relative tolerance 1e-3) on ``R^T R``
    and on ``R^-1 R^-T`` by triangular solves, so a full SVD (cubic, ~4x the QR itself on a square
    Phi) is not paid on the QR fast path: the returned factor is then 2 (callers treat a ratio within
    it of their cut-off as undecided), else 1.
    """
    m = R.shape[0]
    if m <= _EXACT_SVD_ORDER:
        singular = torch.linalg.svdvals(R)
        return (float(singular[-1] / singular[0]) if float(singular[0]) > 0 else math.nan), 1.0
    from scipy.linalg import solve_triangular
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

    A = R.detach().cpu().numpy()
    start = np.random.default_rng(0).standard_normal(m)  # fixed: the same decision on every run

    def top(matvec) -> float:
        op = LinearOperator((m, m), matvec=matvec, dtype=np.float64)
        return float(eigsh(op, k=1, which="LA", tol=1e-3, v0=start, return_eigenvectors=False)[0])

    try:
        with np.errstate(all="ignore"):
            s_max2 = top(lambda x: A.T @ (A @ x))
            inv2 = top(lambda x: solve_triangular(A, solve_triangular(A, x, trans="T"), check_finite=False))
    except (ArpackError, ArpackNoConvergence, ValueError, np.linalg.LinAlgError):
        return math.nan, 2.0
    if not (math.isfinite(s_max2) and math.isfinite(inv2)) or s_max2 <= 0 or inv2 <= 0:
        return math.nan, 2.0
    return 1.0 / math.sqrt(s_max2 * inv2), 2.0


def _scaled_sum(x: torch.Tensor) -> tuple[float, float]:
    """(top, sum((x / top)**2)) with top = max |x|: the pieces of an overflow-safe norm."""
    top = float(x.abs().max()) if x.numel() else 0.0
    if top == 0.0 or not math.isfinite(top):
        return top, 1.0
    return top, float(((x / top) ** 2).sum())


def sum_squares(x: torch.Tensor) -> float:
    """``sum(x**2)`` as a float without underflow (scaled by the largest entry); inf if it overflows."""
    top, scaled = _scaled_sum(x)
    return scaled * top * top if top else 0.0


def safe_norm(x: torch.Tensor) -> float:
    """Euclidean / Frobenius norm without overflow or underflow (scaled by the largest entry)."""
    top, scaled = _scaled_sum(x)
    return top * math.sqrt(scaled)


def pow2_scale(top: float) -> int:
    """Exponent k with ``top / 2**k`` near 1 when ``top`` is too large or small to square safely, else 0."""
    if top == 0.0 or not math.isfinite(top):
        return 0
    exponent = math.frexp(top)[1]
    return exponent if abs(exponent) > _SAFE_EXPONENT else 0


def saturate_ldexp(value: float, exponent: int) -> float:
    """value * 2**exponent, inf when it overflows (for reported properties; results raise instead)."""
    try:
        return math.ldexp(value, exponent)
    except OverflowError:
        return math.inf
