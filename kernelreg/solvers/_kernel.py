"""A kernel matrix as the problem: answers in sample-space coefficients alpha, certified against K itself.

For a symmetric positive semi-definite K (n_samples x n_samples) every candidate of the RKHS
min-norm program on the training points is ``f = K alpha`` with ``||f||_H^2 = alpha^T K alpha``.
For any factor ``Phi Phi^T = K`` and ``c = Phi^T alpha`` this is the finite-width program
``min ||c|| s.t. mse(Phi c + b) <= eps``, so :class:`~kernelreg.solvers.exact.SpectralSolver`
solves it from one eigendecomposition (:meth:`SpectralSolver.from_gram`): the effective kernel
``K_e = D P K P^T D`` (weights ``D``, centring ``P = I - 1 w^T / sum(w)`` for an intercept) is
the Gram matrix ``Phi_e Phi_e^T`` of the wide route. Coefficients stay in alpha space: the
solver's sample-space vector alpha_e becomes ``alpha = P^T D alpha_e`` and ``b = ybar - w^T K alpha
/ sum(w)``, which is what ``f(x) = K(x, X) alpha + b`` needs.

The certificate (:func:`certify_kernel`) reads K, y and (alpha, b) only: the residual
``K alpha + b - y`` and the norm ``sqrt(alpha^T K alpha)`` are measured with K directly (not with
the eigendecomposition, whose factor ``U Lambda^1/2`` times ``Lambda^-1/2 U^T alpha`` amplifies
eigh's rounding), and the dual bound of :mod:`kernelreg.solvers._certificate` uses the K-norms
``sqrt(g^T K g)`` of its witnesses, their rounding charged (``|fl(g^T K g) - g^T K g| <= err
||K||_F ||g||^2``, so the true norm is at most ``sqrt(x) + min(sqrt(D), D / (2 sqrt(x)))``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from kernelreg._torch import as_tensor, resolve_device
from kernelreg.solvers._certificate import (
    DEFAULT_TOLERANCES,
    Certificate,
    Tolerances,
    _best_bound,
    _Metric,
    _scaled,
    gap_from_bound,
)
from kernelreg.solvers._linalg import F64_EPS, pow2_scale, sum_squares
from kernelreg.solvers._problem import Problem, _as_real, _describe_nonfinite, _sample_weight, _targets, check_eps
from kernelreg.solvers._sources import Source

__all__ = ["KernelProblem", "KernelSource", "prepare_kernel", "certify_kernel"]

_ONLY_EIGH = "a kernel matrix is solved from its eigendecomposition only (SpectralSolver.from_gram)"


class KernelSource(Source):
    """K behind the Source protocol in alpha space: ``matvec(alpha) = K alpha``, ``rmatvec(a) = a``."""

    kind = "kernel"

    def __init__(self, K: torch.Tensor) -> None:
        super().__init__()
        self.K = K
        self.device = K.device
        self.n_samples = self.n_features = int(K.shape[0])

    def wide_gram(self) -> torch.Tensor:
        """K itself (the Gram matrix of any factor)."""
        self.passes += 1
        return self.K

    def matvec(self, X: torch.Tensor) -> torch.Tensor:
        """``K X``: the values at the samples of ``f = K(., X) X``."""
        return self.K @ X

    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``A``: in alpha space, ``Phi^T a`` is represented by a itself."""
        return A

    def tall_gram(self, scale: Any, A: Any) -> Any:
        raise TypeError(_ONLY_EIGH)

    def wide_r(self) -> Any:
        raise TypeError(_ONLY_EIGH)

    def tall_r(self, left: Any, scale: Any, right: Any) -> Any:
        raise TypeError(_ONLY_EIGH)

    def residual(self, C: Any, shift: Any, Y: Any, scale: Any, extra: Any) -> Any:
        raise TypeError("a kernel problem is certified by certify_kernel")


class KernelProblem(Problem):
    """A validated (K, y, weights, intercept) in the solvers' units (y / 2**y_exp), coefficients in alpha space.

    The effective-problem helpers of :class:`Problem` keep their meaning with ``c = Phi^T alpha``:
    ``matvec(alpha) = Phi_e c = D P K alpha``, ``rmatvec(a) = P^T D a`` (the alpha of ``Phi_e^T a``),
    ``intercept(alpha) = ybar - w^T K alpha / sum(w)``; ``gram(wide=True)`` is ``K_e``.
    """

    coef_space = "dual"

    def __init__(self, K: torch.Tensor, Y: torch.Tensor, was_1d: bool, eps: float, weights: torch.Tensor | None,
                 fit_intercept: bool, y_exp: int, weight_unit: float = 1.0) -> None:
        super().__init__(KernelSource(K), Y, was_1d, eps, weights, fit_intercept, 0, y_exp, weight_unit)
        self.K = K

    def _row_weights(self) -> torch.Tensor:
        """w (normalised weights, or ones)."""
        return self.ones_scale() ** 2

    def matvec(self, X: torch.Tensor) -> torch.Tensor:
        """``D P K X``."""
        F = self.K @ X
        if self.fit_intercept:
            w = self._row_weights()
            F = F - (w @ F) / w.sum()
        return F if self.scale is None else F * self.scale[:, None]

    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``P^T D A = D A - w (1^T D A) / sum(w)``."""
        SA = A if self.scale is None else A * self.scale[:, None]
        if self.fit_intercept:
            w = self._row_weights()
            SA = SA - w[:, None] * (SA.sum(dim=0) / w.sum())
        return SA

    def intercept(self, C: torch.Tensor) -> torch.Tensor:
        """``b = ybar - w^T K alpha / sum(w)``."""
        if not self.fit_intercept:
            return torch.zeros(self.n_outputs, dtype=torch.float64, device=self.device)
        w = self._row_weights()
        return self.y_mean - (w @ (self.K @ C)) / w.sum()

    def r_matrix(self, wide: bool) -> Any:
        raise TypeError(_ONLY_EIGH)

    def certify_dual(self, C: torch.Tensor, b: torch.Tensor | None, **kwargs: Any) -> Certificate:
        """The certificate of (alpha, b), measured with K (``certify`` hands kernel problems here)."""
        return certify_kernel(self, C, b, **kwargs)


def prepare_kernel(
    K: Any,
    y: Any,
    eps: Any = 0.0,
    *,
    device: Any = "cpu",
    fit_intercept: bool = False,
    sample_weight: Any = None,
) -> KernelProblem:
    """Validate a kernel matrix, its targets and weights once (K symmetrised as (K + K^T) / 2 unless exactly symmetric)."""
    eps = check_eps(eps)
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be True or False; got {fit_intercept!r}.")
    dev = resolve_device(device)
    K = _as_real(K, "K")
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] == 0:
        raise ValueError(
            f"K must be a square kernel matrix of shape (n_samples, n_samples); got shape {tuple(K.shape)}."
        )
    n = int(K.shape[0])
    Y_np, was_1d = _targets(y, n)
    Kt = as_tensor(np.asarray(K) if not isinstance(K, torch.Tensor) else K, dev, torch.float64)
    top = float(Kt.abs().max())
    if not math.isfinite(top):
        raise ValueError(_describe_nonfinite(Kt, "K"))
    if pow2_scale(top) or top == 0.0:
        raise ValueError(
            f"K has entries up to {top:.3g}; kernel solves need max |K| between 1e-120 and 1e120 (and not 0). "
            "Rescale K (the fit scales inversely: alpha of K / s is s * alpha)."
        )
    if not torch.equal(Kt, Kt.mT):
        Kt = 0.5 * (Kt + Kt.mT)
    y_exp = pow2_scale(float(np.abs(Y_np).max()))
    if y_exp:
        Y_np = np.ldexp(Y_np, -y_exp)
    weights, weight_unit = _sample_weight(sample_weight, n, dev)
    Y = torch.as_tensor(Y_np, dtype=torch.float64, device=dev)
    return KernelProblem(Kt, Y, bool(was_1d), eps, weights, bool(fit_intercept), y_exp, weight_unit)


class _KernelMetric(_Metric):
    """Dual norms in alpha space: a witness image is the pair ``(g, K g)`` and its norm ``sqrt(g^T K g)``.

    Rounding of the quadratic form ``sum_ij g_i K_ij g_j``: the probabilistic level ``sqrt(N) eps_64``
    times the size of its terms, ``sqrt(sum_ij (g_i K_ij g_j)^2)`` (the Frobenius norm of
    ``diag(g) K diag(g)``; for a combination of candidates bounded by the triangle inequality from the
    pairwise ``sqrt((g_a^2)^T (K o K) (g_b^2))``). Measured on ReLU limit kernels (N = 300, 1000)
    against an 80-bit evaluation: the actual error is 1.2-30x below this level, while
    ``||K||_F ||g||^2`` overstates it by 1e3-1e6.
    """

    def __init__(self, err: float, K: torch.Tensor) -> None:
        super().__init__("l2", None, err, 0.0)
        self.K2 = K * K
        self.pieces = np.zeros((0, 0))

    def __call__(self, t: np.ndarray) -> float:
        return math.sqrt(max(float(np.vdot(t[0], t[1])), 0.0))

    def prepare(self, T: list[np.ndarray]) -> None:
        """F_ab = sum over outputs of sqrt((g_a^2)^T (K o K) (g_b^2)) for the normalised candidates."""
        squares = [torch.as_tensor(t[0] ** 2, dtype=torch.float64, device=self.K2.device) for t in T]
        images = [(self.K2 @ q).double().cpu().numpy() for q in squares]
        self.pieces = np.array(
            [[float(np.sum(np.sqrt(np.maximum(np.sum(a[0] ** 2 * im, axis=0), 0.0)))) for im in images] for a in T]
        )

    def error(self, den: Any, a_norm: Any, beta: np.ndarray) -> Any:
        """``min(sqrt(D), D / (2 den))``, D the rounding level of ``g^T K g`` (``sqrt(x + D) <= sqrt(x) + that``)."""
        b = np.abs(np.asarray(beta, dtype=np.float64))
        size = np.einsum("i...,ij,j...->...", b, self.pieces, b)
        delta = self.err * size
        den = np.asarray(den, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(den > 0, np.minimum(np.sqrt(delta), delta / (2.0 * den)), np.sqrt(delta))
        return float(out) if out.ndim == 0 else out

    def forms(self, T: list[np.ndarray]) -> np.ndarray:
        G = np.array([[np.vdot(a[0], b[1]) for b in T] for a in T])
        return 0.5 * (G + G.T)


def _knorm(g: np.ndarray, Kg: np.ndarray) -> float:
    """sqrt(g^T K g) from g and K g (0 for the rounding-negative case)."""
    return math.sqrt(max(float(np.vdot(g, Kg)), 0.0))


def certify_kernel(
    problem: KernelProblem,
    C: torch.Tensor,
    b: torch.Tensor | None = None,
    *,
    eps: float | None = None,
    witness: torch.Tensor | None = None,
    tolerances: Tolerances = DEFAULT_TOLERANCES,
    **_: Any,
) -> Certificate:
    """Certify dual coefficients alpha (C, N x K) and intercept b for the kernel program at eps (solver units).

    The same checks as :func:`kernelreg.solvers._certificate.certify`, measured with K: feasibility
    from ``K alpha + b - y``, the norm ``sqrt(alpha^T K alpha)``, the dual bound over the witnesses
    ``-r`` and ``witness`` (the solver's alpha_e) with K-norms, stationarity as the K-distance of
    alpha from the best witness direction, and at eps = 0 the distance of ``c = Phi^T alpha`` from
    the effective row space (``alpha`` must be of the form ``P^T D a``).
    """
    N, K_out = problem.n_samples, problem.n_outputs
    Kmat = problem.K
    A = C.to(dtype=torch.float64)
    if b is None:
        b = torch.zeros(K_out, dtype=torch.float64, device=A.device)
    d = problem.ones_scale()
    w = d**2
    F = Kmat @ A
    R = (F + b[None, :] - problem.Y) * d[:, None]
    rss = sum_squares(R)
    mse = rss / problem.nk
    reached = eps is None
    eps_judged = mse if reached else float(eps)
    rho = math.sqrt(max(eps_judged, mse) * problem.nk)

    def project(a: torch.Tensor) -> torch.Tensor:
        """Onto 1^T D a = 0 (free intercept): the witnesses the dual bound may use."""
        if not problem.fit_intercept:
            return a
        q = d / torch.linalg.vector_norm(d)
        return a - q[:, None] * (q @ a)[None, :]

    cands = [project(-R)]
    if witness is not None:
        cands.append(project(witness.to(torch.float64)))
    gammas = [d[:, None] * a for a in cands]  # alpha of Phi_e^T a (1^T D a = 0 after the projection)
    # the part of alpha outside {P^T D a}: rows of weight 0, and (intercept) its weighted mean
    inside = torch.where(w[:, None] > 0, A, torch.zeros_like(A))
    if problem.fit_intercept:
        inside = inside - w[:, None] * (inside.sum(dim=0) / w.sum())
    defect = A - inside
    KG = Kmat @ torch.cat(gammas + [defect], dim=1)
    A_np, F_np = A.double().cpu().numpy(), F.double().cpu().numpy()
    KG_np = KG.double().cpu().numpy()
    g_np = [g.double().cpu().numpy() for g in gammas]
    T = [np.stack([g, KG_np[:, i * K_out:(i + 1) * K_out]]) for i, g in enumerate(g_np)]
    Kd = KG_np[:, len(gammas) * K_out:]
    ye = problem.Ye.double().cpu().numpy()
    err = math.sqrt(N) * F64_EPS
    metric = _KernelMetric(err, Kmat)
    bound, beta, exact = _best_bound([a.double().cpu().numpy() for a in cands], T, ye, rho, metric, err)

    norm_value = math.sqrt(max(float(np.vdot(A_np, F_np)), 0.0))
    gap, distance, rounding = gap_from_bound(norm_value, bound, exact)

    # stationarity: alpha against its best witness direction, in the K geometry
    if norm_value == 0.0:
        stationarity = 0.0
    else:
        directions = list(T)
        if beta.size:
            scales = [float(np.linalg.norm(a.double().cpu().numpy())) or 1.0 for a in cands]
            directions.append(sum(bj * tj / sc for bj, tj, sc in zip(beta, T, scales)))
        stationarity = min(_k_misalignment(A_np, F_np, t, norm_value) for t in directions)
    if eps_judged == 0.0 and norm_value > 0.0:
        # least squares: the min-norm solution is c's projection on the effective row space; alpha's defect
        # and its distance from the witness direction both bound how far c lies outside it
        outside = min(stationarity, _knorm(defect.double().cpu().numpy(), Kd) / norm_value)
        row_bound = norm_value * math.sqrt(max(1.0 - outside**2, 0.0))
        if row_bound > bound:
            bound = row_bound
            gap = norm_value / bound - 1.0 if bound > 0 else math.inf
            distance = math.sqrt(max(norm_value**2 - bound**2, 0.0)) / norm_value
            rounding = 0.0

    # least-squares test in alpha space: ||Phi_e^T r|| against the scale of r's backward error, ||Phi_e||_F^2 ||alpha||
    # (not ||alpha||_K: eigh's backward error, and the product K alpha itself, leave ~eps ||K|| ||alpha|| in r)
    fro = math.sqrt(max(float(torch.diagonal(Kmat).sum()), 0.0)) * float(d.max()) * (2.0 if problem.fit_intercept
                                                                                     else 1.0)
    normal = _knorm(g_np[0], T[0][1])  # ||Phi_e^T r|| (the -r witness, projected)
    denom = fro * (fro * fro * float(np.linalg.norm(A_np)) + float(np.linalg.norm(ye)))
    normal_residual = normal / denom if denom > 0 else 0.0

    square, norm_scale = 2 * problem.y_exp, problem.y_exp
    labels = []
    if problem.weights is not None:
        labels.append("weighted mse")
    if problem.fit_intercept:
        labels.append("free intercept")
    text = "min ||f||_H s.t. mse <= eps, f = K alpha" + (f" ({', '.join(labels)})" if labels else "")
    normal_tol = tolerances.normal_residual
    if normal_tol is None:
        normal_tol = 10.0 * N * F64_EPS
    return Certificate(
        eps=_scaled(eps_judged, square),
        mse=_scaled(mse, square),
        feasibility=(mse / eps_judged) if eps_judged > 0 else math.nan,
        stationarity=stationarity,
        normal_residual=normal_residual,
        norm=_scaled(norm_value, norm_scale),
        norm_lower_bound=_scaled(bound, norm_scale),
        norm_gap=gap,
        coef_distance=distance,
        rounding=rounding,
        mse_resolution=(2.0 * err * fro * fro * float(np.linalg.norm(A_np)) / math.sqrt(rss)) if rss > 0 else 0.0,
        tolerances=tolerances,
        problem=text + (" [eps = the mse reached]" if reached else ""),
        normal_tolerance=normal_tol,
        notes="measured with K itself: residual K alpha + b - y, norm sqrt(alpha^T K alpha)",
    )


def _k_misalignment(A: np.ndarray, F: np.ndarray, t: np.ndarray, norm_value: float) -> float:
    """``||alpha - tau g||_K / ||alpha||_K`` for the best tau, from (alpha, K alpha) and t = (g, K g)."""
    g, Kg = t
    gg = float(np.vdot(g, Kg))
    if not gg > 0 or not math.isfinite(gg):
        return 1.0
    tau = float(np.vdot(A, Kg)) / gg
    return _knorm(A - tau * g, F - tau * Kg) / norm_value
