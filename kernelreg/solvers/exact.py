"""Exact linear algebra for the min-norm output layer: one decomposition serves every eps, lambda and GD step count.

Notation: ``Phi`` is (N, n), ``y`` is (N, K), ``mse(c) = ||Phi c - y||_F**2 / (N K)`` and
``Phi = U diag(s) V^T`` (thin SVD). Every solution here is a *spectral filter* of the least-squares
problem, ``c = sum_i f(s_i**2) (u_i^T y / s_i) v_i``:

* min-norm interpolant / least squares  ``f = 1``                     (``eps = 0``)
* ridge with parameter lam              ``f = s^2 / (s^2 + lam)``       (``eps > 0``: lam solves mse = eps)
* GD from zero, k steps of size lr      ``f = 1 - (1 - lr * 2 s^2 / (N K))**k``
* gradient flow at time t               ``f = 1 - exp(-2 s^2 t / (N K))``

The GD factor follows from ``grad mse(c) = 2 Phi^T (Phi c - y) / (N K)``, the gradient the ``gd``
method steps along, so :meth:`SpectralSolver.gd_coef` reproduces ``solve(method="gd")`` exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from time import perf_counter
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from kernelreg._torch import as_tensor, resolve_device, to_numpy64
from kernelreg.exceptions import SolverError
from kernelreg.solvers._solution import Solution, check_eps, check_problem, finish, output_shape

__all__ = ["SpectralSolver", "gd_trajectory", "solve_exact", "gram_matrix"]

_DECOMPOSITIONS = ("gram", "svd")
_EXACT_DECOMPOSITIONS = ("auto", "gram", "qr", "svd")
_F64_EPS = float(np.finfo(np.float64).eps)
#: decomposition="auto" re-solves with the SVD when the Gram solution misses eps by more than this.
_AUTO_GAP = 1e-9


class SpectralSolver:
    """Factor Phi once, then get min-norm, eps-relaxed, ridge and GD-trajectory coefficients cheaply.

    The decomposition costs ``O(N n min(N, n))`` once; every later :meth:`solve_eps` costs a 1-D
    root-find over ``O(min(N, n))`` numbers plus one product with the stored vectors.

    Parameters
    ----------
    Phi : array-like or torch.Tensor of shape (n_samples, n_features)
        Feature matrix (float32 is converted: everything runs in float64).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets; several outputs share one program and one lam (Frobenius norms).
    decomposition : {"gram", "svd"}, default="gram"
        - ``"gram"``: ``torch.linalg.eigh`` of the smaller Gram matrix (``Phi Phi^T`` when
          n_samples <= n_features, else ``Phi^T Phi``); fastest, but singular values below about
          ``sqrt(rcond) * s_max`` are lost to rounding (squared condition number).
        - ``"svd"``: thin ``torch.linalg.svd`` of Phi; slower, resolves singular values down to
          ``rcond * s_max``.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where the decomposition runs.
    rcond : float or None, default=None
        Relative cut-off: directions with ``s_i**2 <= rcond * s_max**2`` ("gram") or
        ``s_i <= rcond * s_max`` ("svd") count as the null space. Default
        ``max(n_samples, n_features) * finfo(float64).eps``.

    Attributes
    ----------
    singular_values : ndarray of shape (min(n_samples, n_features),)
        ``s_i`` in ascending order (clamped at 0 for "gram").
    rank : int
        Number of directions above the cut-off.
    mse_floor : float
        Least mse reachable on these samples (0 when Phi has full row rank).
    mean_y2 : float
        ``mse(0) = ||y||**2 / (N K)``; any ``eps >= mean_y2`` gives ``coef = 0``.
    lipschitz : float
        ``L = 2 s_max**2 / (N K)``, the Lipschitz constant of ``grad mse``; GD is stable for ``lr < 2 / L``.
    factor_time_s : float
        Seconds spent in the decomposition.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Phi, y = rng.standard_normal((20, 50)), rng.standard_normal(20)
    >>> spec = SpectralSolver(Phi, y)
    >>> sol = spec.solve_eps(0.01)
    >>> bool(abs(sol.mse - 0.01) < 1e-12)
    True
    >>> bool(np.allclose(spec.min_norm().coef, np.linalg.pinv(Phi) @ y))
    True
    """

    #: The decomposition without a squared condition number, named in advice when "gram" falls short.
    _PRECISE = "svd"

    def __init__(
        self,
        Phi: ArrayLike | torch.Tensor,
        y: ArrayLike,
        *,
        decomposition: Literal["gram", "svd"] = "gram",
        device: str | torch.device = "cpu",
        rcond: float | None = None,
    ) -> None:
        Phi, Y, self._was_1d = check_problem(Phi, y)
        if decomposition not in _DECOMPOSITIONS:
            raise ValueError(
                f"SpectralSolver decomposition must be one of {_DECOMPOSITIONS}; got "
                f"{decomposition!r}. (QR serves only eps=0: use solve(..., method='exact', "
                f"decomposition='qr').)"
            )
        self.decomposition = decomposition
        self.device = resolve_device(device)
        n_samples, n_features = Phi.shape
        self.n_samples, self.n_features, self.n_outputs = n_samples, n_features, Y.shape[1]
        self.rcond = _check_rcond(rcond, n_samples, n_features)
        start = perf_counter()
        self._Phi = as_tensor(Phi, self.device)
        self._Y = as_tensor(Y, self.device)
        self._factor()
        self.factor_time_s = perf_counter() - start
        self._floor: float | None = None

    def _factor(self) -> None:
        """Decompose Phi and store s^2, the vectors that map filter weights to coef, and y's coordinates."""
        P, Y = self._Phi, self._Y
        n_samples, n_features = P.shape
        if self.decomposition == "gram":
            self._wide = n_samples <= n_features
            gram = gram_matrix(P, self._wide)
            s2, basis = torch.linalg.eigh(gram)
            del gram
            s2 = s2.clamp_min(0.0)
            keep = s2 > self.rcond * s2.max()
            keep_ridge, outside = keep, None  # eigenvalues under the cut are rounding noise, even for ridge
            if self._wide:  # basis = U (N x N): p = U^T y, coef = Phi^T U w
                proj = basis.mT @ Y
                sq_coords = proj**2
            else:  # basis = V (n x n): p = V^T Phi^T y = S U^T y, coef = V w
                proj = basis.mT @ (P.mT @ Y)
                safe = torch.where(keep, s2, torch.ones_like(s2))
                sq_coords = torch.where(keep[:, None], proj**2 / safe[:, None], torch.zeros_like(proj))
        else:
            self._wide = False
            U, s, Vh = torch.linalg.svd(P, full_matrices=False)
            s2 = s**2
            keep = s > self.rcond * s.max()
            # lam > 0 damps every direction (weight s/(s^2+lam) <= 1/(2 sqrt(lam))), so ridge keeps all s > 0
            keep_ridge = s > 0
            uty = U.mT @ Y
            outside = 0.0 if n_samples <= n_features else float(((Y - U @ uty) ** 2).sum())
            proj, sq_coords, basis = s[:, None] * uty, uty**2, Vh.mT  # coef = V w
            del U
        self._store(s2, keep, keep_ridge, basis, proj, sq_coords, outside, float((Y**2).sum()))

    def _store(
        self,
        s2: torch.Tensor,
        keep: torch.Tensor,
        keep_ridge: torch.Tensor,
        basis: torch.Tensor,
        proj: torch.Tensor,
        sq_coords: torch.Tensor,
        outside: float | None,
        sum_y2: float,
    ) -> None:
        """Keep the spectral state every solve reads, however it was computed (in memory or streamed)."""
        self._s2, self._keep, self._keep_ridge, self._basis, self._proj = s2, keep, keep_ridge, basis, proj
        self._outside = outside  # ||y - U U^T y||^2 (svd only): y's part outside the range of Phi
        # y's squared coordinate along each left singular vector, summed over outputs (CPU, O(r)).
        self._a = to_numpy64(sq_coords.sum(dim=1))
        self._s2_np = to_numpy64(s2)
        self._keep_np = to_numpy64(keep).astype(bool)
        self._keep_ridge_np = to_numpy64(keep_ridge).astype(bool)
        # U spans all of R^N (so the floor is the sum over dropped directions) iff N <= n.
        self._complete = self.n_samples <= self.n_features
        self.mean_y2 = sum_y2 / self._nk

    # ------------------------------------------------------------------ properties
    @property
    def _nk(self) -> int:
        """N * K, the normaliser of the mean squared error."""
        return self.n_samples * self.n_outputs

    @property
    def singular_values(self) -> np.ndarray:
        """Singular values of Phi, ascending (from the Gram eigenvalues or the SVD)."""
        return np.sqrt(np.sort(self._s2_np))

    @property
    def rank(self) -> int:
        """Numerical rank: directions above the rcond cut-off."""
        return int(self._keep_np.sum())

    @property
    def lipschitz(self) -> float:
        """Lipschitz constant of grad mse: 2 s_max^2 / (N K)."""
        return 2.0 * float(self._s2_np.max()) / self._nk

    @property
    def mse_floor(self) -> float:
        """Least-squares floor: the smallest mse any coef reaches on these samples."""
        if self._floor is None:
            if self._outside is not None:  # svd: outside part + dropped directions
                self._floor = (self._outside + float(self._a[~self._keep_np].sum())) / self._nk
            elif self._complete:
                self._floor = float(self._a[~self._keep_np].sum()) / self._nk
            else:  # gram, N > n: y's part outside range(Phi) is measured directly (no cancellation).
                self._floor = self._direct_mse(self._coef_tensor(self._min_norm_weights()))
        return self._floor

    @property
    def _ridge_floor(self) -> float:
        """Limit of mse(c(lam)) as lam -> 0 over the directions ridge uses (svd: every s > 0)."""
        if self._outside is None:
            return self.mse_floor
        return (self._outside + float(self._a[~self._keep_ridge_np].sum())) / self._nk

    # ------------------------------------------------------------------ building blocks
    def _coef_tensor(self, weights: torch.Tensor) -> torch.Tensor:
        """Map per-direction weights g(s^2) to coefficients: coef = sum_i g_i p_i (basis vector)."""
        w = weights[:, None] * self._proj
        if self._wide:
            return self._Phi.mT @ (self._basis @ w)
        return self._basis @ w

    def _materialise(self, coef: torch.Tensor) -> torch.Tensor:
        """The (n_features, n_outputs) coefficients of an internal coef tensor (the identity here)."""
        return coef

    def _zero_coef(self) -> torch.Tensor:
        """coef = 0, the answer for eps >= mean(y^2) or lam = inf."""
        return torch.zeros(self.n_features, self.n_outputs, dtype=torch.float64, device=self.device)

    def _direct_mse(self, coef: torch.Tensor) -> float:
        """mse computed from the residual Phi c - y, not from the spectral formula."""
        return float(((self._Phi @ coef - self._Y) ** 2).sum()) / self._nk

    def _min_norm_weights(self) -> torch.Tensor:
        """g = 1/s^2 on kept directions, 0 on the numerical null space."""
        safe = torch.where(self._keep, self._s2, torch.ones_like(self._s2))
        return torch.where(self._keep, 1.0 / safe, torch.zeros_like(self._s2))

    def _ridge_weights(self, lam: float) -> torch.Tensor:
        """g = 1/(s^2 + lam) on the directions ridge uses."""
        return torch.where(self._keep_ridge, 1.0 / (self._s2 + lam), torch.zeros_like(self._s2))

    def _secular_mse(self, lam: float) -> float:
        """mse(c(lam)) from the spectrum alone: floor + sum_i (lam/(s_i^2+lam))^2 a_i / (N K)."""
        if lam <= 0.0:  # exp(log lam) underflowed: the least-squares limit
            return self._ridge_floor
        s2, a = self._s2_np[self._keep_ridge_np], self._a[self._keep_ridge_np]
        shrink = 1.0 / (1.0 + s2 / lam)
        return self._ridge_floor + float(np.sum(shrink**2 * a)) / self._nk

    def _secular_slope(self, lam: float) -> float:
        """d mse / d log(lam) from the spectrum (for the final Newton polish)."""
        s2, a = self._s2_np[self._keep_ridge_np], self._a[self._keep_ridge_np]
        shrink = 1.0 / (1.0 + s2 / lam)
        return 2.0 * float(np.sum(shrink**2 * (1.0 - shrink) * a)) / self._nk

    def _solution(self, coef: torch.Tensor, start: float, **fields: Any) -> Solution:
        """Package coefficients as a Solution with directly computed mse and norm."""
        info = {
            "decomposition": self.decomposition,
            "orientation": ("Phi Phi^T" if self._wide else "Phi^T Phi")
            if self.decomposition == "gram"
            else "thin svd",
            "device": str(self.device),
            "rank": self.rank,
            "rcond": self.rcond,
            "factor_time_s": self.factor_time_s,
        }
        info.update(fields.pop("info", {}))
        coef_np = output_shape(to_numpy64(coef), self._was_1d)
        norm = float(np.linalg.norm(coef_np))
        if "mse" not in fields:
            fields["mse"] = self._direct_mse(coef)
        fields.setdefault("objective", norm)
        return Solution(
            coef=coef_np,
            norm=norm,
            method="exact",
            status=fields.pop("status", "optimal"),
            time_s=perf_counter() - start,
            info=info,
            **fields,
        )

    # ------------------------------------------------------------------ public solves
    def min_norm(self) -> Solution:
        """Min-norm interpolant (or min-norm least-squares solution): the eps = 0 program.

        Returns
        -------
        Solution
            ``lam=None``; ``mse`` equals :attr:`mse_floor` up to rounding.
        """
        start = perf_counter()
        return self._solution(self._coef_tensor(self._min_norm_weights()), start, eps=0.0)

    def ridge(self, lam: float) -> Solution:
        """Ridge solution for a given lam: coef = Phi^T (Phi Phi^T + lam I)^-1 y.

        Parameters
        ----------
        lam : float
            ``lam >= 0`` in the sum-of-squares convention (``Ridge(alpha=lam,
            fit_intercept=False)``); 0 gives :meth:`min_norm`, ``inf`` gives ``coef = 0``.

        Returns
        -------
        Solution
        """
        lam = _check_lam(lam)
        start = perf_counter()
        if lam == 0.0:
            return self._solution(self._coef_tensor(self._min_norm_weights()), start, lam=0.0)
        if math.isinf(lam):
            return self._solution(self._zero_coef(), start, lam=lam)
        return self._solution(self._coef_tensor(self._ridge_weights(lam)), start, lam=lam)

    def lam_for_eps(self, eps: float) -> float:
        """The ridge lam whose solution has mse exactly eps (0 at the floor, inf at mean(y^2)).

        Raises
        ------
        SolverError
            With status ``"infeasible"`` when ``eps`` is below :attr:`mse_floor`.
        """
        eps = check_eps(eps)
        floor = self._ridge_floor
        if eps >= self.mean_y2:
            return math.inf
        if eps < floor * (1.0 - 1e-12):
            rank = int(self._keep_ridge_np.sum())
            hint = (
                f" (or decomposition={self._PRECISE!r} if Phi is only ill-conditioned: the Gram eigenvalues lose "
                "singular values below sqrt(rcond) * s_max)"
                if self.decomposition == "gram"
                else ""
            )
            raise SolverError(
                f"eps={eps:.6g} is infeasible for method='exact': the least-squares floor is "
                f"mse={floor:.6g} on these {self.n_samples} samples (Phi has numerical rank {rank} "
                f"< {self.n_samples} rows with decomposition={self.decomposition!r}, so y cannot be "
                f"matched more closely); use eps >= {floor:.6g}, or eps=0 for the least-squares "
                f"min-norm solution{hint}.",
                method="exact",
                status="infeasible",
            )
        target = eps - floor
        if target <= 0.0 or not self._keep_ridge_np.any():
            return 0.0
        s2 = self._s2_np[self._keep_ridge_np]

        def excess(log_lam: float) -> float:
            """Secular equation in log(lam): mse(lam) - eps, monotone increasing."""
            return self._secular_mse(math.exp(log_lam)) - eps

        lo, hi = math.log(s2.min()), math.log(s2.max())
        for _ in range(400):
            if excess(lo) < 0.0:
                break
            lo -= math.log(10.0)
        else:
            return 0.0
        for _ in range(400):
            if excess(hi) > 0.0:
                break
            hi += math.log(10.0)
        else:
            return math.inf
        log_lam = brentq(excess, lo, hi, xtol=1e-14, rtol=4 * _F64_EPS, maxiter=500)
        return math.exp(log_lam)

    def solve_eps(self, eps: float) -> Solution:
        """Min-norm coefficients with mean squared training error at most eps.

        Solves ``min ||c||_2 s.t. ||Phi c - y||**2 / (N K) <= eps``. For ``floor < eps < mean(y^2)``
        the answer is the ridge solution whose mse equals eps; lam comes from a safeguarded
        root-find (``brentq`` on log lam) of the secular equation, then up to three Newton steps on
        the directly computed mse make the constraint tight to about 1e-12 relative.

        Parameters
        ----------
        eps : float
            Bound on the mean squared training error, ``>= 0``.

        Returns
        -------
        Solution
            ``lam`` in the ``Phi Phi^T + lam I`` convention (``None`` for eps = 0, ``inf`` for
            ``coef = 0``); ``mse`` computed from the residual.

        Raises
        ------
        SolverError
            Status ``"infeasible"`` when ``0 < eps < mse_floor``.
        """
        advice = "Use a larger eps" + (
            f" or decomposition={self._PRECISE!r} (no squared condition number)."
            if self.decomposition == "gram"
            else "."
        )
        return finish(self._solve_eps(eps), advice)

    def _solve_eps(self, eps: float) -> Solution:
        """solve_eps without the status contract, so solve(decomposition='auto') can retry with the SVD."""
        eps = check_eps(eps)
        start = perf_counter()
        if eps == 0.0:
            return self.min_norm()
        lam = self.lam_for_eps(eps)
        if math.isinf(lam):
            return self._solution(self._zero_coef(), start, lam=lam, eps=eps)
        if lam == 0.0:
            return self._solution(self._coef_tensor(self._min_norm_weights()), start, lam=0.0, eps=eps)
        coef = self._coef_tensor(self._ridge_weights(lam))
        mse = self._direct_mse(coef)
        secular = self._secular_mse(lam)
        # spectrum-vs-residual disagreement at the root: a rounding-error gauge of the decomposition
        spectral_gap = abs(mse - secular) / eps
        newton_steps = 0
        for _ in range(3):  # polish against the directly measured mse
            if abs(mse - eps) <= 1e-13 * eps:
                break
            slope = self._secular_slope(lam)
            if slope <= 0.0:
                break
            trial_lam = lam * math.exp(-(mse - eps) / slope)
            trial_coef = self._coef_tensor(self._ridge_weights(trial_lam))
            trial_mse = self._direct_mse(trial_coef)
            if abs(trial_mse - eps) >= abs(mse - eps):
                break
            lam, coef, mse, newton_steps = trial_lam, trial_coef, trial_mse, newton_steps + 1
        rel_gap = abs(mse - eps) / eps
        status = "optimal" if rel_gap <= 1e-6 else "inaccurate"
        info = {
            "mse_floor": self.mse_floor,
            "secular_mse": secular,
            "spectral_gap": spectral_gap,
            "newton_steps": newton_steps,
            "constraint_rel_gap": rel_gap,
        }
        if status != "optimal":
            info["message"] = (
                f"the measured mse {mse:.6g} misses eps={eps:.6g} by {rel_gap:.2g} relative "
                f"(lam={lam:.3g} is tiny next to s_max^2={self._s2_np.max():.3g}, so rounding dominates)"
            )
        return self._solution(coef, start, lam=lam, eps=eps, mse=mse, status=status, info=info)

    # ------------------------------------------------------------------ trajectories
    def gd_coef(self, n_steps: int, lr: float | None = None) -> np.ndarray:
        """Coefficients of full-batch GD on mse after n_steps steps from zero, without running it.

        ``c_k = sum_i [1 - (1 - lr * 2 s_i^2 / (N K))**k] (u_i^T y / s_i) v_i`` — exactly what
        ``solve(Phi, y, method="gd", lr=lr, max_iter=k)`` produces (up to rounding).

        Parameters
        ----------
        n_steps : int
            Number of GD steps ``k >= 0``.
        lr : float or None, default=None
            Step size; default ``1 / L`` with the exact ``L = 2 s_max^2 / (N K)``. The ``gd``
            method's default uses a power-iteration estimate of L instead; pass its
            ``solution.info["lr"]`` to reproduce that run.

        Returns
        -------
        ndarray of shape (n_features,) or (n_features, n_outputs)
        """
        n_steps = _check_steps(n_steps)
        lr = self._check_lr(lr)
        x = lr * (2.0 / self._nk) * self._s2
        steps = float(n_steps)
        small = x < 0.5
        safe_x = torch.where(small, x, torch.zeros_like(x))
        factor = torch.where(
            small,
            -torch.expm1(steps * torch.log1p(-safe_x)),  # 1 - (1-x)^k without cancellation
            1.0 - (1.0 - x) ** steps,
        )
        return self._filter_coef(factor, lr * (2.0 / self._nk) * steps)

    def flow_coef(self, t: float) -> np.ndarray:
        """Coefficients of gradient flow dc/dt = -grad mse(c) from zero at time t.

        ``c(t) = sum_i [1 - exp(-2 s_i^2 t / (N K))] (u_i^T y / s_i) v_i``; ``t = inf`` gives the
        min-norm solution (numerical null space excluded). GD with step lr after k steps is close to
        the flow at ``t = k * lr`` when ``lr`` is small.

        Parameters
        ----------
        t : float
            Time ``>= 0`` (may be ``inf``).

        Returns
        -------
        ndarray of shape (n_features,) or (n_features, n_outputs)
        """
        if not isinstance(t, (int, float, np.floating, np.integer)) or math.isnan(t) or t < 0:
            raise ValueError(f"flow_coef needs a time t >= 0 (inf allowed); got t={t!r}.")
        if math.isinf(t):
            coef = self._materialise(self._coef_tensor(self._min_norm_weights()))
            return output_shape(to_numpy64(coef), self._was_1d)
        factor = -torch.expm1(-(2.0 * float(t) / self._nk) * self._s2)
        return self._filter_coef(factor, 2.0 * float(t) / self._nk)

    def _filter_coef(self, factor: torch.Tensor, zero_limit: float) -> np.ndarray:
        """coef for filter factor f(s^2): weights g = f / s^2, with the limit g(0) = zero_limit."""
        positive = self._s2 > 0
        safe = torch.where(positive, self._s2, torch.ones_like(self._s2))
        weights = torch.where(positive, factor / safe, torch.full_like(self._s2, zero_limit))
        return output_shape(to_numpy64(self._materialise(self._coef_tensor(weights))), self._was_1d)

    def _check_lr(self, lr: float | None) -> float:
        """Default lr = 1/L; otherwise a finite positive number."""
        if lr is None:
            return 1.0 / self.lipschitz
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a finite number > 0; got lr={lr!r}.")
        return float(lr)


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


def gd_trajectory(
    Phi: ArrayLike | torch.Tensor,
    y: ArrayLike,
    steps: Iterable[int],
    lr: float | None = None,
    *,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Coefficients of full-batch GD from zero at each requested step count, from one decomposition.

    Draws "GD at iteration k" without running GD: see :meth:`SpectralSolver.gd_coef`.

    Parameters
    ----------
    Phi : array-like or torch.Tensor of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    steps : iterable of int
        Step counts ``k >= 0``.
    lr : float or None, default=None
        Step size; default ``1 / L`` with the exact Lipschitz constant ``L = 2 s_max^2 / (N K)``.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"

    Returns
    -------
    ndarray of shape (len(steps), n_features) or (len(steps), n_features, n_outputs)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Phi, y = rng.standard_normal((10, 30)), rng.standard_normal(10)
    >>> gd_trajectory(Phi, y, [0, 10, 100]).shape
    (3, 30)
    """
    spec = SpectralSolver(Phi, y, device=device)
    return np.stack([spec.gd_coef(k, lr) for k in steps])


# ---------------------------------------------------------------------- solve(method="exact")
def solve_exact(
    Phi: np.ndarray | torch.Tensor,
    Y: np.ndarray,
    was_1d: bool,
    eps: float,
    *,
    decomposition: Literal["auto", "gram", "qr", "svd"] = "auto",
    device: str | torch.device = "cpu",
    lam: float | None = None,
    rcond: float | None = None,
    max_memory: int | str | None = None,
) -> Solution:
    """Backend of ``solve(method="exact")`` on validated input (see :func:`kernelreg.solvers.solve`).

    With ``max_memory`` the solve is streamed in chunks (:func:`kernelreg.solvers.streamed.solve_streamed`).

    ``decomposition="auto"``:

    - eps = 0: ``"qr"`` (no squared condition number), falling back to ``"svd"`` when R is
      numerically singular (rank-deficient Phi);
    - eps > 0 or lam: ``"gram"`` (fastest), falling back to ``"svd"`` when the Gram eigenvalues
      cannot resolve the requested eps (eps below the Gram floor, or the measured mse misses eps
      by more than 1e-9 relative after the Newton polish).
    """
    if max_memory is not None:
        from kernelreg.solvers.streamed import solve_streamed

        y = Y[:, 0] if was_1d else Y
        return solve_streamed(
            Phi, y, eps, decomposition=decomposition, device=device, lam=lam, rcond=rcond, max_memory=max_memory
        )
    if decomposition not in _EXACT_DECOMPOSITIONS:
        raise ValueError(
            f"method='exact' decomposition must be one of {_EXACT_DECOMPOSITIONS}; got {decomposition!r}."
        )
    if lam is not None and eps != 0.0:
        raise ValueError(
            f"method='exact' takes either eps (a bound on the mse) or lam (a ridge parameter), not "
            f"both; got eps={eps!r} and lam={lam!r}."
        )
    plain_min_norm = eps == 0.0 and lam is None
    if decomposition == "qr" and not plain_min_norm:
        raise ValueError(
            f"decomposition='qr' only serves eps=0 (the min-norm interpolant); got eps={eps!r}, "
            f"lam={lam!r}. Use decomposition='gram' or 'svd' for eps > 0 or a ridge lam."
        )
    start = perf_counter()
    y = Y[:, 0] if was_1d else Y
    fallback_reason = None
    if decomposition in ("auto", "qr") and plain_min_norm:
        sol = _min_norm_qr(Phi, Y, was_1d, device, rcond, start)
        if sol is not None:
            return sol
        decomposition, fallback_reason = "svd", "R was numerically singular (rank-deficient Phi); used the thin SVD"
    elif decomposition == "auto":
        spec = SpectralSolver(Phi, y, decomposition="gram", device=device, rcond=rcond)
        if lam is not None:
            sol = spec.ridge(lam)
        else:
            try:
                sol = spec._solve_eps(eps)
            except SolverError as exc:
                sol, fallback_reason = None, f"gram: {exc}"
            else:
                gap = sol.info.get("constraint_rel_gap", 0.0)
                if gap > _AUTO_GAP:  # the Gram eigenvalues could not pin the constraint down: use the SVD
                    fallback_reason = (
                        f"gram: the measured mse missed eps by {gap:.2g} relative (> {_AUTO_GAP:g}); "
                        f"lam={sol.lam:.3g} is too close to the Gram rounding level"
                    )
        if fallback_reason is None:
            sol.time_s = perf_counter() - start
            return finish(sol)
        decomposition = "svd"
    spec = SpectralSolver(Phi, y, decomposition=decomposition, device=device, rcond=rcond)
    sol = spec.ridge(lam) if lam is not None else spec._solve_eps(eps)
    sol.time_s = perf_counter() - start
    if fallback_reason:
        sol.info["fallback_reason"] = fallback_reason
    return finish(sol, "Use a larger eps: the remaining directions of Phi are below float64 resolution.")


def _min_norm_qr(
    Phi: np.ndarray | torch.Tensor,
    Y: np.ndarray,
    was_1d: bool,
    device: str | torch.device,
    rcond: float | None,
    start: float,
) -> Solution | None:
    """Min-norm solution by thin QR of the tall orientation; None when R is numerically singular."""
    dev = resolve_device(device)
    P = as_tensor(Phi, dev)
    Yt = as_tensor(Y, dev)
    n_samples, n_features = P.shape
    rcond = _check_rcond(rcond, n_samples, n_features)
    wide = n_samples <= n_features
    Q, R = torch.linalg.qr(P.mT if wide else P, mode="reduced")
    diag = R.diagonal().abs()
    if float(diag.min()) <= rcond * float(diag.max()):
        return None
    if wide:  # Phi = R^T Q^T: solve R^T z = y, c = Q z (c lies in the row space of Phi)
        coef = Q @ torch.linalg.solve_triangular(R.mT, Yt, upper=False)
    else:  # Phi = Q R: least squares c = R^-1 Q^T y
        coef = torch.linalg.solve_triangular(R, Q.mT @ Yt, upper=True)
    mse = float(((P @ coef - Yt) ** 2).sum()) / Yt.numel()
    coef_np = output_shape(to_numpy64(coef), was_1d)
    norm = float(np.linalg.norm(coef_np))
    return Solution(
        coef=coef_np,
        mse=mse,
        norm=norm,
        method="exact",
        status="optimal",
        time_s=perf_counter() - start,
        objective=norm,
        eps=0.0,
        info={
            "decomposition": "qr",
            "orientation": "Phi^T = QR" if wide else "Phi = QR",
            "device": str(dev),
            "rcond": rcond,
            "min_abs_diag_ratio": float(diag.min() / diag.max()),
        },
    )


def _check_rcond(rcond: float | None, n_samples: int, n_features: int) -> float:
    """Default relative cut-off max(N, n) * machine epsilon; otherwise a number in [0, 1)."""
    if rcond is None:
        return max(n_samples, n_features) * _F64_EPS
    if isinstance(rcond, bool) or not isinstance(rcond, (int, float, np.floating)) or not 0 <= rcond < 1:
        raise ValueError(f"rcond must be a relative cut-off in [0, 1) or None; got rcond={rcond!r}.")
    return float(rcond)


def _check_lam(lam: float) -> float:
    """lam must be a real number >= 0 (inf allowed: coef = 0)."""
    is_number = isinstance(lam, (int, float, np.floating, np.integer)) and not isinstance(lam, bool)
    if not is_number or math.isnan(lam) or lam < 0:
        raise ValueError(
            f"lam must be a ridge parameter >= 0 (Phi Phi^T + lam I convention; inf gives coef = 0); "
            f"got lam={lam!r}."
        )
    return float(lam)


def _check_steps(n_steps: int) -> int:
    """A GD step count must be a non-negative integer."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0; got {n_steps!r}.")
    return int(n_steps)
