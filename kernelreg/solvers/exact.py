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

Two factorisations give ``s`` and the singular vectors, from any :class:`~kernelreg.solvers._sources.Source`
(in memory, chunked, dask): ``"gram"`` (``eigh`` of the smaller Gram matrix; fastest, resolves
``s`` down to about ``sqrt(gram_resolution) * s_max``) and the R factor (``"svd"``, ``"qr"`` when
streamed: a QR of ``Phi^T`` (wide) or ``[Phi | y]`` (tall) and the SVD of the small square factor;
resolves ``s`` down to ``rcond * s_max``). ``solve(method="exact", decomposition="auto")`` tries
them in that order and lets the :mod:`certificate <kernelreg.solvers._certificate>` decide
(:func:`kernelreg.solvers._fallback.solve_exact`, the one fallback policy).

(This module is long because it is one class: every solve, polish and trajectory reads the same
spectral state; the cross-validation path is a mixin in ``_spectral_cv`` and the stateless filters
live in ``_cv``, ``_fallback``, ``_kernel`` and ``_linalg``.)
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

from kernelreg._torch import as_tensor
from kernelreg.exceptions import SolverError
from kernelreg.solvers._certificate import certify
from kernelreg.solvers._cv import CVPath
from kernelreg.solvers._linalg import (
    F64_EPS,
    check_lam,
    check_rcond,
    gram_resolution,
    saturate_ldexp,
    sum_squares,
    svd_small,
)
from kernelreg.solvers._problem import Problem, check_eps, prepare
from kernelreg.solvers._solution import Solution, build_solution, finish
from kernelreg.solvers._sources import DenseSource
from kernelreg.solvers._spectral_cv import CrossValidationPath
from kernelreg.solvers._kernel import prepare_kernel

__all__ = ["SpectralSolver", "gd_trajectory", "Unresolved", "CVPath"]



class Unresolved(Exception):
    """eps lies below the floor a Gram matrix can see, and it cannot resolve some directions: it cannot decide."""


class SpectralSolver(CrossValidationPath):
    """Factor Phi once, then get min-norm, eps-relaxed, ridge and GD-trajectory coefficients cheaply.

    The decomposition costs ``O(N n min(N, n))`` once; every later :meth:`solve_eps` costs a 1-D
    root-find over ``O(min(N, n))`` numbers, one product with Phi and the one-pass certificate.

    Parameters
    ----------
    Phi : array-like or torch.Tensor of shape (n_samples, n_features)
        Feature matrix (float32 is converted: everything runs in float64). A float64 tensor on
        ``device`` is used as it is (no copy).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets; several outputs share one program and one lam (Frobenius norms).
    decomposition : {"gram", "svd"}, default="gram"
        - ``"gram"``: ``torch.linalg.eigh`` of the smaller Gram matrix (``Phi Phi^T`` when
          n_samples <= n_features, else ``Phi^T Phi``); fastest, but singular values below about
          ``sqrt(8 sqrt(max(N, n)) eps_64) * s_max`` are lost to rounding (squared condition number).
        - ``"svd"``: thin QR of ``Phi^T`` (wide) or ``[Phi | y]`` (tall), then the SVD of the
          square factor (LAPACK gesdd); about 2-3x slower, resolves singular values down to
          ``rcond * s_max``.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where the decomposition runs.
    rcond : float or None, default=None
        The one rank rule: directions with ``s_i <= rcond * s_max`` are the null space, for the
        min-norm solution, ridge and the least-squares floor alike. Default
        ``max(n_samples, n_features) * finfo(float64).eps``.
    fit_intercept : bool, default=False
        Solve with an unpenalised intercept (Phi and y centred implicitly; see :func:`kernelreg.solvers.solve`).
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Weights of the mean squared error.

    Attributes
    ----------
    singular_values : ndarray of shape (min(n_samples, n_features),)
        ``s_i`` in ascending order (clamped at 0 for "gram").
    rank : int
        Number of directions above the cut-off (and, for "gram", above its resolution).
    mse_floor : float
        Least mse reachable on these samples (0 when Phi has full row rank).
    mean_y2 : float
        ``mse(0) = ||y||**2 / (N K)`` (y centred with an intercept); any ``eps >= mean_y2`` gives ``coef = 0``.
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
    >>> sol.status, bool(abs(sol.mse - 0.01) < 1e-12)
    ('optimal', True)
    >>> bool(np.allclose(spec.min_norm().coef, np.linalg.pinv(Phi) @ y))
    True
    """

    #: The decomposition without a squared condition number, named in advice when "gram" falls short.
    _PRECISE = "svd"
    _NAMES: tuple[str, ...] = ("gram", "svd")

    def __init__(
        self,
        Phi: ArrayLike | torch.Tensor,
        y: ArrayLike,
        *,
        decomposition: Literal["gram", "svd"] = "gram",
        device: str | torch.device = "cpu",
        rcond: float | None = None,
        fit_intercept: bool = False,
        sample_weight: ArrayLike | None = None,
    ) -> None:
        self._check_name(decomposition)
        problem = prepare(Phi, y, device=device, fit_intercept=fit_intercept, sample_weight=sample_weight)
        self._setup(problem, decomposition, rcond)

    @classmethod
    def _check_name(cls, decomposition: str) -> None:
        """The decompositions this class knows."""
        if decomposition not in cls._NAMES:
            raise ValueError(
                f"{cls.__name__} decomposition must be one of {cls._NAMES}; got {decomposition!r}. "
                "(The eps=0 QR route is solve(..., method='exact', decomposition='qr').)"
            )

    @classmethod
    def _on(cls, problem: Problem, decomposition: str, rcond: float | None) -> SpectralSolver:
        """Factor an already validated problem (the private path of ``solve``)."""
        self = cls.__new__(cls)
        self._setup(problem, decomposition, rcond)
        return self

    @classmethod
    def from_gram(
        cls,
        K: ArrayLike | torch.Tensor,
        y: ArrayLike,
        *,
        eigh: tuple[ArrayLike, ArrayLike] | None = None,
        rcond: float | None = None,
        fit_intercept: bool = False,
        sample_weight: ArrayLike | None = None,
        device: str | torch.device = "cpu",
    ) -> SpectralSolver:
        """Factor a kernel matrix once: the RKHS min-norm program on the training points, answers as ``f = K alpha + b``.

        For a symmetric positive semi-definite K, ``min ||f||_H s.t. mse(f + b) <= eps`` over
        ``f = K(., X) alpha`` is the finite-width program for any ``Phi`` with ``Phi Phi^T = K``,
        and one ``eigh`` of (the effective) K gives its whole spectral solution: no feature factor
        ``U Lambda^1/2`` is formed and nothing is decomposed twice. Every solve works as for a
        feature matrix, except that ``Solution.coef`` holds the dual coefficients alpha (shape
        (n_samples,) or (n_samples, n_outputs); ``info["coef_space"] = "dual"``), ``norm`` is
        the RKHS norm ``sqrt(alpha^T K alpha)``, ``lam`` is ``KernelRidge(alpha=lam)``'s and
        :meth:`gd_coef` / :meth:`flow_coef` return alpha too. Certificates are measured with K
        itself (residual ``K alpha + b - y``).

        Parameters
        ----------
        K : array-like or torch.Tensor of shape (n_samples, n_samples)
            Symmetric PSD kernel matrix, e.g. ``LimitKernel(...).fit(X)(X)``; symmetrised as
            ``(K + K^T) / 2`` unless exactly symmetric. A float64 tensor on ``device`` is used in place.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        eigh : tuple (eigenvalues, eigenvectors) or None, default=None
            A precomputed eigendecomposition of K (``numpy.linalg.eigh(K)``, any order), used
            instead of computing one, e.g. to fit several targets from one decomposition. Only
            without intercept and weights (those change the matrix that is decomposed).
        rcond : float or None, default=None
            Eigenvalues ``<= rcond * lambda_max`` of K are the null space (the rank rule on
            ``s^2``, as :func:`kernelreg.kernels.gram_features`); default ``n_samples * eps_64``.
        fit_intercept : bool, default=False
        sample_weight : array-like of shape (n_samples,) or None, default=None
        device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"

        Returns
        -------
        SpectralSolver
            With ``decomposition == "kernel"``; ``solve(K, y, eps, factorization=spec)`` runs the
            exact fallback policy on it (refinement when the eigh answer is not certified).

        Raises
        ------
        ValueError
            K not square, not finite, not PSD (an eigenvalue below ``-1e-6 lambda_max``), of an
            extreme scale, or ``eigh`` of the wrong shape or with an intercept / weights.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(-1, 1, (30, 2)); y = np.sin(3 * X[:, 0])
        >>> K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1))
        >>> sol = SpectralSolver.from_gram(K, y).solve_eps(1e-4)
        >>> sol.status, bool(abs(np.mean((K @ sol.coef - y) ** 2) - 1e-4) < 1e-12)
        ('optimal', True)
        """
        problem = prepare_kernel(K, y, device=device, fit_intercept=fit_intercept, sample_weight=sample_weight)
        if eigh is not None and not problem.plain:
            raise ValueError(
                "from_gram: eigh= is a decomposition of K itself, but fit_intercept=True or sample_weight change the "
                "matrix that is decomposed (D P K P^T D); leave eigh=None with an intercept or weights."
            )
        self = cls.__new__(cls)
        self._given = eigh
        self._setup(problem, "kernel", rcond)
        return self

    def _setup(self, problem: Problem, decomposition: str, rcond: float | None) -> None:
        """Factor the problem and keep the spectral state every solve reads."""
        self._problem = problem
        self.decomposition = decomposition
        self.device = problem.device
        self.n_samples, self.n_features, self.n_outputs = problem.n_samples, problem.n_features, problem.n_outputs
        self.rcond = check_rcond(rcond, self.n_samples, self.n_features)
        self._lam_exp = 2 * problem.phi_exp  # lam (caller) = lam (solver units) * 2**_lam_exp
        self._mse_exp = 2 * problem.y_exp
        self._floor: float | None = None
        start = perf_counter()
        if decomposition == "gram":
            self._factor_gram()
        elif decomposition == "kernel":
            self._factor_kernel()
        else:
            self._factor_r()
        self.factor_time_s = perf_counter() - start
        self._mean_y2_u = sum_squares(problem.Ye) / self._nk

    # ------------------------------------------------------------------ factorisations
    def _factor_gram(self) -> None:
        """eigh of Phi_e Phi_e^T (wide) or Phi_e^T Phi_e (tall): directions under its resolution stay unresolved."""
        P = self._problem
        self._wide = self.n_samples <= self.n_features
        self._qw = None
        G, b = P.gram(self._wide)
        s2, basis = torch.linalg.eigh(G)
        s2 = s2.clamp_min(0.0)
        top = float(s2.max())
        resolution = gram_resolution(self.n_samples, self.n_features)
        resolved = s2 > resolution * top
        significant = s2 > (self.rcond**2) * top
        # below the resolution the rcond rule cannot be applied: such directions exist and the rule is finer
        self._undecided = bool((~resolved).any()) and self.rcond**2 < resolution
        if self._wide:
            self._stat = ("gram", G)
            coords = basis.mT @ P.Ye
            known = torch.ones_like(resolved)
            self._store(s2, resolved & significant, known, basis, coords, outside=0.0)
        else:
            self._stat = ("normal", G, b)
            proj = basis.mT @ b  # = s * (u^T y_e)
            safe = torch.where(resolved, s2, torch.ones_like(s2))
            coords = torch.where(resolved[:, None], proj / safe[:, None].sqrt(), torch.zeros_like(proj))
            self._store(s2, resolved & significant, resolved, basis, coords, outside=None, proj=proj)

    def _factor_r(self) -> None:
        """R factor of Phi_e (wide: of Phi_e^T; tall: of [Phi_e | y_e]) and the SVD of the square factor."""
        P = self._problem
        n = self.n_features
        self._wide = self.n_samples <= n
        self._undecided = False
        self._qw = None
        M, Q = P.r_matrix(self._wide)
        if self._wide:  # Phi_e = M Q^T = U S (Q W)^T: Phi_e's left singular vectors are M's
            U, s, Wh = svd_small(M)
            U, s, Wh = U.to(self.device), s.to(self.device), Wh.to(self.device)
            self._stat = ("factor", M)
            self._qw = None if Q is None else (Q, Wh.mT)
            coords = U.mT @ P.Ye
            basis = U
            outside, proj = 0.0, None
        else:  # [Phi_e | y_e] = Q [[R, z], [0, t]]: Phi_e = (Q W) S V^T with R = W S V^T
            R, z = M[:n, :n], M[:n, n:]
            tail = sum_squares(M[n:, n:])
            W, s, Vh = svd_small(R)
            W, s, Vh = W.to(self.device), s.to(self.device), Vh.to(self.device)
            self._stat = ("r", R, z, tail)
            if Q is not None:  # U = Q_n W and y_e's part outside range(Phi_e) is Q [0; t]: the exact witness
                self._qw = (Q, W, M[n:, n:])
            coords = W.mT @ z
            basis, outside, proj = Vh.mT, tail, s[:, None] * coords
        s2 = s**2
        significant = s > self.rcond * s.max()
        self._store(s2, significant, torch.ones_like(significant), basis, coords, outside=outside, proj=proj)

    def _factor_kernel(self) -> None:
        """eigh of the effective kernel K_e (or the given one of K): the wide Gram route, every direction resolved."""
        P = self._problem
        self._wide, self._undecided, self._qw = True, False, None
        G, _ = P.gram(True)
        given, self._given = getattr(self, "_given", None), None
        if given is None:
            s2, basis = torch.linalg.eigh(G)
        else:
            s2, basis = _checked_eigh(given, self.n_samples, self.device)
        top, low = float(s2.max()), float(s2.min())
        if low < -1e-6 * max(abs(top), abs(low)):
            raise ValueError(
                f"from_gram: K is not positive semi-definite: its smallest eigenvalue is {low:.3g} against the "
                f"largest {top:.3g} (ratio below -1e-6)."
            )
        usable = s2 > self.rcond * max(top, 0.0)
        self._stat = ("gram", G)
        coords = basis.mT @ P.Ye
        self._store(s2.clamp_min(0.0), usable, torch.ones_like(usable), basis, coords, outside=0.0)

    def _store(
        self,
        s2: torch.Tensor,
        usable: torch.Tensor,
        known: torch.Tensor,
        basis: torch.Tensor,
        coords: torch.Tensor,
        outside: float | None,
        proj: torch.Tensor | None = None,
    ) -> None:
        """Keep the spectral state: s^2, which directions the min-norm uses, which coordinates are known."""
        self._s2, self._usable, self._basis = s2, usable, basis
        self._s2_ridge = torch.where(usable, s2, torch.zeros_like(s2))  # the rcond rule: s <= cut counts as 0
        self._coords, self._proj = coords, proj
        self._outside = outside  # squared mass of y_e outside the known directions (None: measure it)
        self._s2_np = s2.double().cpu().numpy()
        self._s2r_np = self._s2_ridge.double().cpu().numpy()
        self._usable_np = usable.cpu().numpy().astype(bool)
        self._known_np = known.cpu().numpy().astype(bool)
        a = (coords**2).sum(dim=1).double().cpu().numpy()
        self._a = np.where(self._known_np, a, 0.0)

    # ------------------------------------------------------------------ properties
    @property
    def _nk(self) -> int:
        """N * K, the normaliser of the mean squared error."""
        return self.n_samples * self.n_outputs

    @property
    def singular_values(self) -> np.ndarray:
        """Singular values of Phi, ascending (from the Gram eigenvalues or the SVD)."""
        return np.sqrt(np.ldexp(np.sort(self._s2_np), self._lam_exp))

    @property
    def rank(self) -> int:
        """Numerical rank: directions above the rcond cut-off (and the Gram's resolution)."""
        return int(self._usable_np.sum())

    @property
    def lipschitz(self) -> float:
        """Lipschitz constant of grad mse: 2 s_max^2 / (N K)."""
        return _saturate(2.0 * float(self._s2_np.max()) / self._nk, self._lam_exp)

    @property
    def mse_floor(self) -> float:
        """Least-squares floor over the significant directions: the smallest mse any coef reaches."""
        return _saturate(self._floor_units(), self._mse_exp)

    @property
    def mean_y2(self) -> float:
        """mse of coef = 0 (inf when it overflows float64 at the data's scale)."""
        return _saturate(self._mean_y2_u, self._mse_exp)

    def _lam_out(self, lam: float) -> float:
        """lam in the caller's units; an error naming the scale when float64 cannot hold it."""
        if lam == 0.0 or math.isinf(lam) or not self._lam_exp:
            return lam
        try:
            return math.ldexp(lam, self._lam_exp)
        except OverflowError:
            raise SolverError(
                f"method='exact': the ridge parameter lam = {lam:.3g} * 2**{self._lam_exp} overflows float64 at the "
                f"scale of the data ({self._problem.scale_note()}); rescale Phi to values near 1.",
                method="exact",
                status="failed",
            ) from None

    def _floor_units(self) -> float:
        """The floor in the solvers' units (measured once for the tall Gram, where y_e's outside part is unknown)."""
        if self._floor is None:
            dropped = float(self._a[self._known_np & ~self._usable_np].sum())
            if self._outside is None:
                rss = self._rss(self._internal(self._min_norm_weights()))
                self._outside = max(rss - dropped, 0.0)
            self._floor = (self._outside + dropped) / self._nk
        return self._floor

    # ------------------------------------------------------------------ building blocks
    def _internal(self, weights: torch.Tensor, rule: bool = True) -> torch.Tensor:
        """Coefficients for per-direction weights g: alpha = U (g * U^T y_e) (wide) or c = V (g * proj) (tall).

        With ``rule`` the directions the rcond rule calls null contribute nothing to coef (tall); the
        wide alpha keeps them (it is also the dual witness) and :meth:`_explicit` drops them.
        """
        if rule:
            weights = torch.where(self._usable, weights, torch.zeros_like(weights))
        return self._basis @ (weights[:, None] * (self._coords if self._wide else self._proj))

    def _explicit(self, internal: torch.Tensor, weights: torch.Tensor | None = None, rule: bool = True) -> torch.Tensor:
        """coef from the internal form (wide: over the usable directions only when ``rule``).

        Wide Phi with Q kept (in memory): ``c = Q W (g s U^T y_e)``, backward stable; otherwise
        ``c = Phi_e^T alpha`` (one pass; squares the condition number for the smallest directions).
        """
        if not self._wide:
            return internal
        if weights is not None and rule:
            weights = torch.where(self._usable, weights, torch.zeros_like(weights))
        if self._qw is not None and weights is not None:
            apply_q, W = self._qw
            return apply_q(W @ ((weights * self._s2.sqrt())[:, None] * self._coords))
        return self._problem.rmatvec(internal)

    def _rss(self, internal: torch.Tensor) -> float:
        """||Phi_e c - y_e||^2 from the factorisation's statistics (a pass only for an in-memory tall Gram)."""
        P, stat = self._problem, self._stat
        if stat[0] == "gram":
            return sum_squares(stat[1] @ internal - P.Ye)
        if stat[0] == "factor":
            M = stat[1]
            return sum_squares(M @ (M.mT @ internal) - P.Ye)
        if stat[0] == "r":
            _, R, z, tail = stat
            return sum_squares(R @ internal - z) + tail
        _, G, b = stat
        if isinstance(P.source, DenseSource):
            return sum_squares(P.matvec(internal) - P.Ye)
        value = float((internal * (G @ internal)).sum() - 2.0 * (internal * b).sum()) + sum_squares(P.Ye)
        return max(value, 0.0)

    def _min_norm_weights(self) -> torch.Tensor:
        """g = 1/s^2 on usable directions, 0 on the numerical null space."""
        safe = torch.where(self._usable, self._s2, torch.ones_like(self._s2))
        return torch.where(self._usable, 1.0 / safe, torch.zeros_like(self._s2))

    def _ridge_weights(self, lam: float) -> torch.Tensor:
        """g = 1/(s^2 + lam), with s = 0 below the rcond cut (and below the Gram's resolution)."""
        return 1.0 / (self._s2_ridge + lam)

    def _secular_mse(self, lam: float) -> float:
        """mse(c(lam)) from the spectrum: (outside + sum_i (lam/(s_i^2+lam))^2 a_i) / (N K)."""
        self._floor_units()
        if lam <= 0.0:  # exp(log lam) underflowed: the least-squares limit
            return self._floor
        with np.errstate(over="ignore"):  # s^2 / lam -> inf: that direction is fitted exactly
            shrink = 1.0 / (1.0 + self._s2r_np / lam)
        return (self._outside + float(np.sum(shrink**2 * self._a))) / self._nk

    def _secular_slope(self, lam: float) -> float:
        """d mse / d log(lam) from the spectrum (for the final Newton polish)."""
        with np.errstate(over="ignore"):
            shrink = 1.0 / (1.0 + self._s2r_np / lam)
        return 2.0 * float(np.sum(shrink**2 * (1.0 - shrink) * self._a)) / self._nk

    def _witness(self, internal: torch.Tensor, weights: torch.Tensor, lam: float | None = None) -> torch.Tensor | None:
        """A dual witness for the certificate: ``alpha = U g U^T y_e + y_perp / lam``.

        Wide: over every direction of the complete U (free). Tall with the Householder Q kept (in
        memory): ``Q [W g z; t / lam]``, no product with Phi. Otherwise ``Phi_e V (g proj / s^2)``
        (one pass; y_perp is then left to the certificate's ``-r``).
        """
        if self._wide:
            return self._basis @ (weights[:, None] * self._coords)
        if self._qw is not None:
            apply_q, W, t = self._qw
            outside = t / lam if (lam is not None and 0.0 < lam < math.inf) else torch.zeros_like(t)
            return apply_q(torch.cat([W @ (weights[:, None] * self._coords), outside], dim=0))
        positive = self._s2 > 0
        safe = torch.where(positive, self._s2, torch.ones_like(self._s2))
        scaled = torch.where(positive[:, None], weights[:, None] * self._proj / safe[:, None], torch.zeros_like(self._proj))
        return self._problem.matvec(self._basis @ scaled)

    def _answer(
        self,
        weights: torch.Tensor,
        start: float,
        *,
        eps: float | None,
        lam: float | None,
        info: dict[str, Any] | None = None,
        internal: torch.Tensor | None = None,
        refined: bool = False,
    ) -> Solution:
        """Form coef for the weights, certify it against the problem at eps (None: at its own mse), package.

        ``refined``: ``internal`` came from :meth:`_polish` (it is then also the wide witness).
        """
        P = self._problem
        internal = self._internal(weights) if internal is None else internal
        C = self._explicit(internal, None if refined else weights)
        b = P.intercept(C)
        # wide: alpha is the witness, free; tall: Phi_e V (g proj / s^2) costs a pass, needed at once for
        # least squares (eps = 0), else only when -r alone does not certify
        if refined and self._wide:
            witness = internal
        elif self._wide or eps == 0.0 or self._qw is not None:
            witness = self._witness(internal, weights, lam)
        else:
            witness = None
        cert = certify(P, C, b, eps=eps, witness=witness)
        if not cert.optimal and witness is None and not bool((C == 0).all()):
            retry = certify(P, C, b, eps=eps, witness=self._witness(internal, weights, lam))
            cert = retry if retry.norm_gap < cert.norm_gap else cert
        details = {
            "decomposition": self.decomposition,
            "orientation": self._orientation(),
            "device": str(self.device),
            "rank": self.rank,
            "rcond": self.rcond,
            "factor_time_s": self.factor_time_s,
        }
        details.update(P.source.describe())
        details.update(info or {})
        sol = build_solution(
            P, C, b, cert, "exact",
            lam=None if lam is None else self._lam_out(lam),
            objective=None,
            info=details,
        )
        sol.objective = sol.norm
        sol.time_s = perf_counter() - start
        return sol

    def _orientation(self) -> str:
        """Which matrix was factored (for info)."""
        if self.decomposition == "kernel":
            return "eigh of K" if self._problem.plain else "eigh of D P K P^T D"
        if self.decomposition == "gram":
            return "Phi Phi^T" if self._wide else "Phi^T Phi"
        return "Phi^T = QR, svd of R" if self._wide else "[Phi | y] = QR, svd of R"

    # ------------------------------------------------------------------ public solves
    def min_norm(self) -> Solution:
        """Min-norm interpolant (or min-norm least-squares solution): the eps = 0 program.

        Returns
        -------
        Solution
            ``lam=None``; ``mse`` equals :attr:`mse_floor` up to rounding; status from the certificate.
        """
        return finish(self._answer(self._min_norm_weights(), perf_counter(), eps=0.0, lam=None), self._advice())

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
            Certified for the eps it reaches (its own mse).
        """
        return finish(self._ridge(check_lam(lam)), self._advice())

    def _ridge(self, lam: float) -> Solution:
        """ridge() without the status contract (lam in the caller's units)."""
        start = perf_counter()
        lam_u = math.ldexp(lam, -self._lam_exp)
        if lam == 0.0:
            return self._answer(self._min_norm_weights(), start, eps=None, lam=0.0)
        if math.isinf(lam):
            return self._answer(torch.zeros_like(self._s2), start, eps=None, lam=math.inf)
        return self._answer(self._ridge_weights(lam_u), start, eps=None, lam=lam_u)

    def lam_for_eps(self, eps: float) -> float:
        """The ridge lam whose solution has mse exactly eps (0 at the floor, inf at mean(y^2)).

        Raises
        ------
        SolverError
            With status ``"infeasible"`` when ``eps`` is below :attr:`mse_floor`; the message names
            the floor, which is also the smallest feasible eps.
        """
        eps = check_eps(eps)
        return self._lam_out(self._lam_for(math.ldexp(eps, -self._mse_exp)))

    def _lam_for(self, eps: float) -> float:
        """lam_for_eps in the solvers' units."""
        floor = self._floor_units()
        if eps >= self._mean_y2_u:
            return math.inf
        if eps < floor * (1.0 - 1e-12):
            if self._undecided:
                raise Unresolved(floor)
            shown = _saturate(floor, self._mse_exp)
            asked = _saturate(eps, self._mse_exp)
            raise SolverError(
                f"eps={asked:.6g} is infeasible for method='exact': the least-squares floor is "
                f"mse={shown:.6g} on these {self.n_samples} samples (Phi has numerical rank {self.rank} "
                f"with rcond={self.rcond:.3g}, so y cannot be matched more closely); the smallest feasible "
                f"eps is {shown:.6g}: use eps >= {shown:.6g}, or eps=0 for the least-squares min-norm "
                "solution.",
                method="exact",
                status="infeasible",
                floor=shown,
            )
        target = eps - floor
        if target <= 0.0 or not self._usable_np.any():
            return 0.0
        s2 = self._s2_np[self._usable_np]

        def excess(log_lam: float) -> float:
            """Secular equation in log(lam): mse(lam) - eps, monotone increasing."""
            return self._secular_mse(_exp_lam(log_lam)) - eps

        lo, hi = math.log(s2.min()), math.log(s2.max())
        for _ in range(400):
            if excess(lo) < 0.0:
                break
            lo -= math.log(10.0)
        else:
            return 0.0
        for _ in range(400):
            if hi > 700.0:  # exp would overflow: eps is mean(y^2) to rounding, i.e. coef = 0
                return math.inf
            if excess(hi) > 0.0:
                break
            hi += math.log(10.0)
        else:
            return math.inf
        return _exp_lam(brentq(excess, lo, hi, xtol=1e-14, rtol=4 * F64_EPS, maxiter=500))

    def solve_eps(self, eps: float) -> Solution:
        """Min-norm coefficients with mean squared training error at most eps.

        Solves ``min ||c||_2 s.t. ||Phi c - y||**2 / (N K) <= eps``. For ``floor < eps < mean(y^2)``
        the answer is the ridge solution whose mse equals eps; lam comes from a safeguarded
        root-find (``brentq`` on log lam) of the secular equation, then up to three Newton steps on
        the mse from the factorisation's statistics make the constraint tight; the certificate
        measures it from Phi.

        Parameters
        ----------
        eps : float
            Bound on the mean squared training error, ``>= 0``.

        Returns
        -------
        Solution
            ``lam`` in the ``Phi Phi^T + lam I`` convention (``None`` for eps = 0, ``inf`` for
            ``coef = 0``); ``mse`` measured from the residual; status from the certificate.

        Raises
        ------
        SolverError
            Status ``"infeasible"`` when ``0 < eps < mse_floor``.
        """
        eps = check_eps(eps)
        try:
            return finish(self._solve_eps(math.ldexp(eps, -2 * self._problem.y_exp)), self._advice())
        except Unresolved as exc:
            raise _unresolved_error(self, exc, eps) from None

    def _advice(self) -> str:
        """What to change when this decomposition's answer is not certified."""
        if self.decomposition == "gram":
            return f"Use decomposition={self._PRECISE!r} or 'auto' (no squared condition number), or a larger eps."
        return "Use a larger eps: the remaining directions of Phi are below float64 resolution."

    def _solve_eps(self, eps: float) -> Solution:
        """solve_eps in the solvers' units, without the status contract (solve_exact escalates on it)."""
        start = perf_counter()
        if eps == 0.0:
            return self._answer(self._min_norm_weights(), start, eps=0.0, lam=None)
        lam = self._lam_for(eps)
        if math.isinf(lam):
            return self._answer(torch.zeros_like(self._s2), start, eps=eps, lam=math.inf)
        if lam == 0.0:
            return self._answer(self._min_norm_weights(), start, eps=eps, lam=0.0)
        internal = self._internal(self._ridge_weights(lam))
        rss_target = eps * self._nk
        # the Newton polish reads the factorisation's statistics; an in-memory tall Gram has none cheaper than
        # a pass over Phi, so there the certificate's measured mse drives the one polish step below instead
        passes = self._stat[0] == "normal" and isinstance(self._problem.source, DenseSource)
        rss = rss_target if passes else self._rss(internal)
        newton_steps = 0
        for _ in range(3):  # polish lam against the mse the statistics give (the certificate measures it)
            if abs(rss - rss_target) <= 1e-13 * rss_target:
                break
            slope = self._secular_slope(lam)
            if slope <= 0.0:
                break
            trial_lam = _newton_lam(lam, (rss - rss_target) / self._nk, slope)
            trial = self._internal(self._ridge_weights(trial_lam))
            trial_rss = self._rss(trial)
            if abs(trial_rss - rss_target) >= abs(rss - rss_target):
                break
            lam, internal, rss, newton_steps = trial_lam, trial, trial_rss, newton_steps + 1
        info = {"mse_floor": self.mse_floor, "newton_steps": newton_steps}
        sol = self._answer(self._ridge_weights(lam), start, eps=eps, lam=lam, info=info, internal=internal)
        measured = math.ldexp(sol.mse, -self._mse_exp)
        resolution = max(1e-9, sol.certificate.mse_resolution)
        if abs(measured - eps) > resolution * eps and self._secular_slope(lam) > 0.0:
            # the statistics carry the Gram's rounding: one Newton step on the mse the certificate measured
            trial_lam = _newton_lam(lam, measured - eps, self._secular_slope(lam))
            info = dict(info, newton_steps=newton_steps + 1, measured_newton=True)
            trial = self._answer(self._ridge_weights(trial_lam), start, eps=eps, lam=trial_lam, info=info)
            if abs(math.ldexp(trial.mse, -self._mse_exp) - eps) < abs(measured - eps):
                sol = trial
        return sol

    def _polish(self, eps: float | None, lam: float) -> Solution | None:
        """Repair a rejected answer cheaply: iterative refinement at lam against Phi itself, then Newton on lam.

        The ridge system (``Phi_e Phi_e^T + lam I) alpha = y_e`` (wide) or ``(Phi_e^T Phi_e + lam I) c =
        Phi_e^T y_e`` (tall) is refined with residuals from products with Phi (two passes a step) and
        the factorisation as preconditioner; it converges when the decomposition's rounding is below lam
        (contraction ~ rounding / lam) and gives up (None) otherwise, leaving the case to the SVD.
        Newton steps on lam use the mse measured from Phi.
        """
        P, start = self._problem, perf_counter()
        basis = self._basis
        rhs = P.Ye if self._wide else P.rmatvec(P.Ye)

        def apply(x: torch.Tensor, lam: float) -> torch.Tensor:
            if self._wide:
                return P.matvec(P.rmatvec(x)) + lam * x
            return P.rmatvec(P.matvec(x)) + lam * x

        def refine(x: torch.Tensor, lam: float) -> torch.Tensor | None:
            previous = math.inf
            for _ in range(12):
                dx = basis @ ((basis.mT @ (rhs - apply(x, lam))) / (self._s2_ridge + lam)[:, None])
                size, scale = float(torch.linalg.vector_norm(dx)), float(torch.linalg.vector_norm(x))
                if size > 0.5 * previous:  # stagnation at the rounding level is convergence, growth is not
                    return x if previous <= 1e-9 * scale else None
                x = x + dx
                if size <= 1e-14 * scale:
                    break
                previous = size
            return x

        x = refine(self._internal(self._ridge_weights(lam), rule=False), lam)
        steps = 0
        while x is not None and eps is not None and steps < 4:
            C = P.rmatvec(x) if self._wide else x
            rss = sum_squares(P.matvec(C) - P.Ye)
            slope = self._secular_slope(lam)
            if abs(rss - eps * self._nk) <= 1e-10 * eps * self._nk or slope <= 0.0:
                break
            lam = _newton_lam(lam, rss / self._nk - eps, slope)
            x, steps = refine(x, lam), steps + 1
        if x is None:
            return None
        info = {"polished": "refinement", "newton_steps": steps}
        return self._answer(self._ridge_weights(lam), start, eps=eps, lam=lam, info=info, internal=x, refined=True)

    # ------------------------------------------------------------------ cross-validation path
    def _lam_for_resolved(self, eps: float) -> float:
        """lam for an eps given in the caller's units; a Gram route that cannot decide raises the SolverError."""
        try:
            return self._lam_for(math.ldexp(eps, -self._mse_exp))
        except Unresolved as exc:
            raise _unresolved_error(self, exc, eps) from None

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
        lr = math.ldexp(self._check_lr(lr), self._lam_exp)  # in the solvers' units: lr * 2 s^2 is scale-free
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
            return self._coef_array(self._min_norm_weights())
        t_u = math.ldexp(float(t), self._lam_exp)
        factor = -torch.expm1(-(2.0 * t_u / self._nk) * self._s2)
        return self._filter_coef(factor, 2.0 * t_u / self._nk)

    def _filter_coef(self, factor: torch.Tensor, zero_limit: float) -> np.ndarray:
        """coef for filter factor f(s^2): weights g = f / s^2, with the limit g(0) = zero_limit."""
        positive = self._s2 > 0
        safe = torch.where(positive, self._s2, torch.ones_like(self._s2))
        return self._coef_array(torch.where(positive, factor / safe, torch.full_like(self._s2, zero_limit)))

    def _coef_array(self, weights: torch.Tensor) -> np.ndarray:
        """coef (caller units and shape) for per-direction filter weights (GD / flow: every direction counts)."""
        C = self._explicit(self._internal(weights, rule=False), weights, rule=False)
        return self._problem.unscale(C, self._problem.intercept(C))[0]

    def _check_lr(self, lr: float | None) -> float:
        """Default lr = 1/L; otherwise a finite positive number."""
        if lr is None:
            return 1.0 / self.lipschitz
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"lr must be a finite number > 0; got lr={lr!r}.")
        return float(lr)


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


def _unresolved_error(spec: SpectralSolver, exc: Unresolved, eps: float) -> SolverError:
    """decomposition='gram' asked explicitly, and eps lies below what it resolves."""
    floor = _saturate(float(exc.args[0]), spec._mse_exp)
    return SolverError(
        f"eps={eps:.6g} is below mse={floor:.6g}, the least-squares floor that decomposition='gram' can see: "
        f"its eigenvalues cannot resolve singular values below "
        f"{math.sqrt(gram_resolution(spec.n_samples, spec.n_features)):.2g} * s_max, so whether eps is "
        f"feasible (the floor of the rcond={spec.rcond:.3g} rule) needs decomposition={spec._PRECISE!r} "
        "or 'auto'.",
        method="exact",
        status="failed",
    )


def _checked_eigh(given: tuple[Any, Any], n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A user's (eigenvalues, eigenvectors) of K as float64 tensors on the device, shapes checked."""
    values, vectors = (as_tensor(np.asarray(v) if not isinstance(v, torch.Tensor) else v, device) for v in given)
    if tuple(values.shape) != (n,) or tuple(vectors.shape) != (n, n):
        raise ValueError(
            f"from_gram: eigh must be (eigenvalues of shape ({n},), eigenvectors of shape ({n}, {n})); got shapes "
            f"{tuple(values.shape)} and {tuple(vectors.shape)}."
        )
    if not (bool(torch.isfinite(values).all()) and bool(torch.isfinite(vectors).all())):
        raise ValueError("from_gram: the given eigendecomposition contains NaN or inf.")
    return values, vectors


#: Largest change of lam one Newton polish step may make (a factor of 10): the steps correct a root that
#: brentq already found, so a larger one is a model failure (a slope lost in rounding), not progress.
_NEWTON_LOG_STEP = math.log(10.0)


def _newton_lam(lam: float, excess: float, slope: float) -> float:
    """One Newton step ``lam exp(-excess / slope)`` on log lam, clipped to :data:`_NEWTON_LOG_STEP` (overflow-safe)."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        step = np.float64(-excess) / np.float64(slope)
    step = float(np.clip(np.nan_to_num(step, nan=0.0), -_NEWTON_LOG_STEP, _NEWTON_LOG_STEP))
    return lam * math.exp(step)


def _exp_lam(log_lam: float) -> float:
    """exp of a log lam from the bracket search, saturating to inf instead of raising OverflowError."""
    return math.exp(log_lam) if log_lam < 709.0 else math.inf


_saturate = saturate_ldexp  # the name the fallback policy imports


def _check_steps(n_steps: int) -> int:
    """A GD step count must be a non-negative integer."""
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0; got {n_steps!r}.")
    return int(n_steps)

