"""Leave-one-out and GCV errors along the whole ridge (eps) path from one factorisation: RidgeCV's trick for Phi_e.

A leaf of the solvers package: it knows nothing of how Phi was factored. The spectral solver hands
it the *usable* spectrum of the effective features (``Phi_e = U_u S V^T`` over the directions the
rcond rule keeps, see :mod:`kernelreg.solvers._problem`) and this module evaluates the filters.

With the ridge shrinkage ``rho_j(lam) = lam / (s_j^2 + lam)`` the residual of the ridge fit and
the diagonal of ``I - H`` (H: the hat matrix of the weighted problem, the unpenalised intercept
included) are

    r(lam)          = U_u (rho * U_u^T y_e) + rest,         rest = y_e - U_u U_u^T y_e,
    1 - H_ii(lam)   = sum_j U_ij^2 rho_j + outside_i,       outside_i = 1 - q_i^2 - sum_j U_ij^2,
    1 - tr(H) / N   = (n_null + sum_j rho_j) / N,           n_null = N - [intercept] - rank,

where ``q = D 1 / ||D 1||`` is the intercept's direction (orthogonal to every column of Phi_e, so
the augmented hat matrix is ``q q^T + U_u diag(1 - rho) U_u^T``). The leave-one-out residual of
sample i is ``e_i = r_i / (1 - H_ii)`` (Sherman-Morrison on the weighted normal equations) and GCV
is ``mean(r^2) / (1 - tr(H)/N)^2`` (Golub, Heath & Wahba 1979). When ``n_null = 0`` (Phi_e has
full row rank besides q) the numerator and the denominator are both divided by lam, which keeps
the lam -> 0 limit (the min-norm interpolant) exact: ``e = U (A U^T y_e) / (U^2 A)`` with
``A = 1 / (s^2 + lam)``, the form of sklearn's ``_RidgeGCV``. At lam = 0 with null directions
the leave-one-out residual is ``rest_i / outside_i``, except on rows the null space misses (outside
at rounding level, ``<= 16 N eps_64``), which take the same ``lam -> 0`` limit. Each lam costs ``O(N r K)`` for
leave-one-out and ``O(r)`` for GCV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["CVPath", "CRITERIA", "gcv_path", "loo_path"]

#: Criteria of :meth:`kernelreg.solvers.SpectralSolver.cv_path`.
CRITERIA: tuple[str, ...] = ("gcv", "loo")
#: Bytes of leave-one-out residuals held at once (lam values are processed in chunks of this size).
_CHUNK_BYTES = 64 * 2**20
_F64_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class CVPath:
    """Cross-validation errors of the ridge path of one factorisation, one entry per lam.

    Attributes
    ----------
    criterion : {"gcv", "loo"}
        ``"loo"``: the exact mean squared leave-one-out error; ``"gcv"``: generalised
        cross-validation, ``mean(r**2) / (1 - tr(H)/N)**2``.
    lam : ndarray of shape (n_lams,)
        Ridge parameters in the ``Phi Phi^T + lam I`` convention (``inf``: coef = 0).
    eps : ndarray of shape (n_lams,)
        Training mse of the ridge solution at each lam: the eps whose min-norm program it solves.
    scores : ndarray of shape (n_lams,)
        The criterion at each lam (lower is better), in the units of ``eps``: weighted by the
        normalised sample weights (mean 1) and averaged over samples and outputs.
    dof : ndarray of shape (n_lams,)
        Effective degrees of freedom ``tr(H)`` (the intercept counts one).
    best_index : int
        Index of the smallest score (the first one on ties, as ``RidgeCV``).
    baseline : float
        Training mse of ``coef = 0`` (with an intercept: the constant model, the weighted
        variance of y): ``eps / baseline`` is eps on a scale-free axis, ``1 -`` the training R².
    residuals : ndarray of shape (n_lams, n_samples) or (n_lams, n_samples, n_outputs), or None
        Leave-one-out residuals ``y_i - f_{-i}(x_i)`` in the units of y (``criterion="loo"`` and
        ``return_residuals=True`` only). Samples of weight 0 take no part in any fit; their entry
        is NaN.
    """

    criterion: str
    lam: np.ndarray
    eps: np.ndarray
    scores: np.ndarray
    dof: np.ndarray
    best_index: int
    baseline: float
    residuals: np.ndarray | None = None

    @property
    def eps_relative(self) -> np.ndarray:
        """eps / baseline: 0 at the interpolant (or the least-squares floor), 1 at the constant model."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.eps / self.baseline

    @property
    def best_lam(self) -> float:
        """lam with the smallest score."""
        return float(self.lam[self.best_index])

    @property
    def best_eps(self) -> float:
        """Training mse (the eps of the min-norm program) at the best lam."""
        return float(self.eps[self.best_index])

    @property
    def best_score(self) -> float:
        """The smallest score."""
        return float(self.scores[self.best_index])


def _filters(s2: np.ndarray, lams: np.ndarray, scaled: bool) -> np.ndarray:
    """Per-direction weights (r, L): ``1/(s^2+lam)`` (the lam-scaled form) or the shrinkage ``lam/(s^2+lam)``."""
    if scaled:
        return 1.0 / (s2[:, None] + lams[None, :])
    with np.errstate(invalid="ignore"):
        rho = lams[None, :] / (s2[:, None] + lams[None, :])
    return np.where(np.isinf(lams)[None, :], 1.0, rho)


def gcv_path(s2: np.ndarray, a: np.ndarray, rest_ss: float, n_null: int, n_samples: int, nk: int,
             lams: np.ndarray, n_effective: float | None = None) -> np.ndarray:
    """GCV at each lam from the usable spectrum: ``s2`` (r,), ``a_j = ||u_j^T y_e||^2`` and ``||rest||^2``.

    ``n_effective``: the number of observations in ``1 - tr(H)/n`` (the total frequency weight),
    default ``n_samples``.
    """
    n_eff = float(n_samples if n_effective is None else n_effective)
    extra = n_eff - n_samples
    scores = np.empty(lams.shape[0])
    scaled = (n_null == 0) & (extra == 0.0) & np.isfinite(lams)
    for mask, is_scaled in ((scaled, True), (~scaled, False)):
        if not mask.any():
            continue
        W = _filters(s2, lams[mask], is_scaled)
        rss = (W**2 * a[:, None]).sum(axis=0)
        trace_gap = W.sum(axis=0)  # n - tr(H), divided by lam in the scaled form
        if not is_scaled:
            rss = rss + rest_ss
            trace_gap = trace_gap + n_null + extra
        with np.errstate(divide="ignore", invalid="ignore"):
            value = (rss / nk) / (trace_gap / n_eff) ** 2
        scores[mask] = np.where(trace_gap > 0, value, np.inf)
    return scores


def loo_path(
    U: torch.Tensor,
    coords: torch.Tensor,
    rest: torch.Tensor,
    outside: torch.Tensor,
    s2: np.ndarray,
    n_null: int,
    lams: np.ndarray,
    keep: bool,
    share: torch.Tensor | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean squared leave-one-out error at each lam (and the residuals ``D e`` in the effective units if ``keep``).

    ``U`` (N, r) are the usable left singular vectors of Phi_e, ``coords = U^T y_e`` (r, K),
    ``rest`` (N, K) the least-squares residual and ``outside`` (N,) the leverage left outside
    ``span(U) + q``. ``share`` (N,): the fraction f_i of sample i's weight left out (1: all of
    it; 1/w for a sample standing for w repeats, one of which is left out): Sherman-Morrison on
    a downdate of f_i times the sample gives ``e_i = r_i / (f_i (1 - H_ii) + 1 - f_i)``.
    """
    N, K = rest.shape
    nk = N * K
    U2 = U * U
    s2_t = torch.as_tensor(s2, dtype=U.dtype, device=U.device)
    per_lam = max(1, _CHUNK_BYTES // (8 * max(1, N * K)))
    scores = np.empty(lams.shape[0])
    kept = [] if keep else None
    for start in range(0, lams.shape[0], per_lam):
        chunk = lams[start:start + per_lam]
        scaled = np.isfinite(chunk) & (n_null == 0)
        W = torch.as_tensor(
            np.where(scaled[None, :], _filters(s2, chunk, True), _filters(s2, chunk, False)),
            dtype=U.dtype, device=U.device,
        )
        add = torch.as_tensor(~scaled, dtype=U.dtype, device=U.device)
        L = chunk.shape[0]
        num = (U @ (W[:, :, None] * coords[:, None, :]).reshape(-1, L * K)).reshape(N, L, K)
        num = num + rest[:, None, :] * add[None, :, None]
        den = U2 @ W + outside[:, None] * add[None, :]
        if share is not None:  # f (1 - H) + (1 - f); the lam-scaled form carries (1 - f) / lam
            kept_share = (1.0 - share)[:, None]
            lam_t = torch.as_tensor(chunk, dtype=U.dtype, device=U.device)[None, :]
            scaled_t = torch.as_tensor(scaled, device=U.device)[None, :]
            with np.errstate(divide="ignore"):
                extra = torch.where(scaled_t, torch.where(kept_share > 0, kept_share / lam_t, 0.0), kept_share)
            den = share[:, None] * den + extra
        limit = torch.as_tensor((~scaled) & (chunk == 0.0), device=U.device)
        if bool(limit.any()):  # lam = 0 with null directions: rows they miss (to rounding) take the lam -> 0 limit
            A = 1.0 / s2_t
            num_0 = U @ (A[:, None] * coords)
            den_0 = U2 @ A
            fix = limit[None, :] & (den <= 16 * N * _F64_EPS)
            num = torch.where(fix[:, :, None], num_0[:, None, :], num)
            den = torch.where(fix, den_0[:, None], den)
        E = num / den[:, :, None]
        scores[start:start + L] = (E**2).sum(dim=(0, 2)).double().cpu().numpy() / nk
        if keep:
            kept.append(E.permute(1, 0, 2).double().cpu().numpy())
    return scores, (np.concatenate(kept, axis=0) if keep else None)
