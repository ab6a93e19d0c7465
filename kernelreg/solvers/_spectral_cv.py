"""The cross-validation view of :class:`~kernelreg.solvers.SpectralSolver`: the whole ridge / eps path scored from its state.

A mixin, so the solver keeps one spectral state while this stage lives in its own module: it reads
the solver's singular values, vectors and scalings and hands them to the stateless filters of
:mod:`kernelreg.solvers._cv` (leave-one-out and GCV in closed form).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from numpy.typing import ArrayLike

from kernelreg.solvers._cv import CRITERIA, CVPath, gcv_path, loo_path
from kernelreg.solvers._linalg import check_lam, saturate_ldexp
from kernelreg.solvers._problem import check_eps

__all__ = ["CrossValidationPath"]


class CrossValidationPath:
    """``cv_path`` for :class:`~kernelreg.solvers.SpectralSolver` (a mixin: it uses the solver's private state)."""

    def cv_path(
        self,
        lams: ArrayLike | None = None,
        *,
        eps: ArrayLike | None = None,
        criterion: Literal["loo", "gcv"] = "loo",
        n_lams: int = 50,
        return_residuals: bool = False,
        below_floor: Literal["raise", "floor"] = "raise",
        weights: Literal["frequency", "sample"] = "frequency",
    ) -> CVPath:
        """Leave-one-out or GCV error of every ridge / eps solution on a grid, from this one factorisation.

        The exact leave-one-out residual of the ridge fit at lam is ``e_i = r_i / (1 - H_ii)``
        (H: the hat matrix of the weighted problem, the unpenalised intercept included), and GCV
        is ``mean(r**2) / (1 - tr(H)/N)**2``; both follow from the spectral state as filters
        (:mod:`kernelreg.solvers._cv`), as sklearn's ``RidgeCV`` does for its alphas. No solve and
        no pass over Phi is needed, except one product ``Phi_e V`` for leave-one-out when Phi is
        tall (the left singular vectors are not stored then).

        Parameters
        ----------
        lams : array-like of shape (n_lams,) or None, default=None
            Ridge parameters ``>= 0`` (``Phi Phi^T + lam I`` convention, as :meth:`ridge`; inf
            allowed). None (and no ``eps``) gives 0 (the min-norm solution), ``n_lams - 2``
            values spaced geometrically from the smallest usable ``s_i**2`` (at least
            ``1e-12 s_max**2``) to ``10 s_max**2``, and inf (coef = 0: the constant model with an
            intercept).
        eps : array-like of shape (n_lams,) or None, default=None
            Bounds on the training mse instead of lam; each is mapped to its lam by the same
            root-find as :meth:`solve_eps` (an eps below :attr:`mse_floor` raises).
        criterion : {"loo", "gcv"}, default="loo"
            - ``"loo"``: the exact mean squared leave-one-out error, ``O(N rank K)`` per lam.
            - ``"gcv"``: generalised cross-validation, ``O(rank)`` per lam. Near interpolation
              (lam -> 0 with rank close to N) its denominator ``(1 - tr(H)/N)**2`` vanishes with
              the residual, and it can prefer the interpolant where leave-one-out does not.
        n_lams : int, default=50
            Size of the default grid.
        return_residuals : bool, default=False
            Keep the leave-one-out residuals (``criterion="loo"`` only).
        below_floor : {"raise", "floor"}, default="raise"
            An ``eps`` below :attr:`mse_floor`: ``SolverError`` (status ``"infeasible"``), or the
            floor itself (lam = 0; the path's ``eps`` then shows the floor).
        weights : {"frequency", "sample"}, default="frequency"
            What ``sample_weight`` means to the criterion:

            - ``"frequency"`` (scikit-learn's convention: an integer weight is that many
              repeats): a sample of weight w >= 1 stands for w repeats, leave-one-out leaves out
              one of them and GCV counts sum(w) observations; a sample of weight below 1 is left
              out whole and counts as one.
            - ``"sample"``: every sample of positive weight is left out whole and counts as one
              observation (``RidgeCV``'s weighted leave-one-out).

            Without weights both are the ordinary criteria.

        Returns
        -------
        CVPath
            ``lam``, ``eps`` (training mse at each lam), ``scores``, ``dof`` (``tr(H)``),
            ``best_index`` and, on request, ``residuals``. Scores and eps are weighted means over
            samples (normalised weights) and outputs, in the units of ``y**2``.

        Raises
        ------
        SolverError
            Status ``"infeasible"`` for an ``eps`` below :attr:`mse_floor`.
        ValueError
            Both ``lams`` and ``eps``, an empty grid, a negative lam or an unknown criterion.

        Examples
        --------
        Noisy samples of sin(3x) on 60 ReLU units: the interpolant (lam = 0) is far worse than the
        best ridge solution, which fits the training data to about the noise level (0.3**2).

        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(-1, 1, (40, 1)); Phi = np.maximum(X - rng.uniform(-1, 1, 60), 0)
        >>> y = np.sin(3 * X[:, 0]) + 0.3 * rng.standard_normal(40)
        >>> path = SpectralSolver(Phi, y, fit_intercept=True).cv_path(criterion="loo")
        >>> bool(path.scores[0] > 100 * path.best_score), round(path.best_eps, 2)
        (True, 0.07)
        """
        if criterion not in CRITERIA:
            raise ValueError(f"cv_path: criterion must be one of {CRITERIA}; got {criterion!r}.")
        if return_residuals and criterion != "loo":
            raise ValueError("cv_path: return_residuals=True needs criterion='loo' (GCV has no per-sample residuals).")
        if below_floor not in ("raise", "floor"):
            raise ValueError(f"cv_path: below_floor must be 'raise' or 'floor'; got {below_floor!r}.")
        if weights not in ("frequency", "sample"):
            raise ValueError(f"cv_path: weights must be 'frequency' or 'sample'; got {weights!r}.")
        share, n_effective = self._weight_shares(weights)
        lam_u = self._path_grid(lams, eps, n_lams, below_floor)
        s2, a, rest_ss, n_null = self._usable_spectrum()
        residuals = None
        if criterion == "gcv":
            scores_u = gcv_path(s2, a, rest_ss, n_null, self.n_samples, self._nk, lam_u, n_effective)
        else:
            U, coords, rest, outside = self._left_basis()
            scores_u, residuals = loo_path(U, coords, rest, outside, s2, n_null, lam_u, return_residuals, share)
        with np.errstate(divide="ignore", invalid="ignore"):
            shrunk = np.where(np.isinf(lam_u)[None, :], 0.0, s2[:, None] / (s2[:, None] + lam_u[None, :]))
        dof = int(self._problem.fit_intercept) + shrunk.sum(axis=0)
        train = np.array([saturate_ldexp(self._secular_mse(float(lam)), self._mse_exp) for lam in lam_u])
        scores = np.array([saturate_ldexp(float(v), self._mse_exp) for v in scores_u])
        return CVPath(
            criterion=criterion,
            lam=np.array([self._lam_out(float(lam)) for lam in lam_u]),
            eps=train,
            scores=scores,
            dof=dof,
            best_index=int(np.argmin(scores)),
            baseline=self.mean_y2,
            residuals=None if residuals is None else self._caller_residuals(residuals),
        )

    def _path_grid(self, lams: ArrayLike | None, eps: ArrayLike | None, n_lams: int, below_floor: str) -> np.ndarray:
        """The lam grid of :meth:`cv_path` in the solvers' units."""
        if lams is not None and eps is not None:
            raise ValueError("cv_path takes either lams (ridge parameters) or eps (mse bounds), not both.")
        if lams is None and eps is None:
            if isinstance(n_lams, bool) or not isinstance(n_lams, (int, np.integer)) or n_lams < 2:
                raise ValueError(f"cv_path: n_lams must be an integer >= 2; got n_lams={n_lams!r}.")
            s2 = self._s2_np[self._usable_np]
            if s2.size == 0 or n_lams == 2:
                return np.array([0.0, math.inf])
            top = float(s2.max())
            inner = np.geomspace(max(float(s2.min()), 1e-12 * top), 10.0 * top, int(n_lams) - 2)
            return np.concatenate([[0.0], inner, [math.inf]])
        given = lams if lams is not None else eps
        values = np.asarray(given, dtype=object).ravel()
        if values.size == 0:
            raise ValueError(f"cv_path: the {'lams' if lams is not None else 'eps'} grid is empty.")
        if lams is not None:
            return np.array([math.ldexp(check_lam(v), -self._lam_exp) for v in values], dtype=np.float64)
        out = []
        floor = self.mse_floor
        for value in values:
            value = check_eps(value)
            if value == 0.0:  # eps = 0 is the min-norm (least-squares) solution, as in solve_eps
                out.append(0.0)
                continue
            if below_floor == "floor" and value < floor:
                value = floor
            out.append(self._lam_for_resolved(value))
        return np.array(out, dtype=np.float64)

    def _weight_shares(self, kind: str) -> tuple[torch.Tensor | None, float | None]:
        """Per sample, the fraction of its weight leave-one-out leaves out, and the number of observations GCV counts.

        (None, None) without weights (every sample whole, n = N).
        """
        P = self._problem
        if P.weights is None:
            return None, None
        raw = P.weights * P.weight_unit  # the caller's weights
        positive = raw > 0
        if kind == "sample":
            return None, float(positive.sum())
        share = torch.where(raw > 1.0, 1.0 / raw.clamp_min(1.0), torch.ones_like(raw))
        n_effective = float(torch.where(positive, raw.clamp_min(1.0), torch.zeros_like(raw)).sum())
        return share, n_effective

    def _usable_spectrum(self) -> tuple[np.ndarray, np.ndarray, float, int]:
        """(s^2, ||u^T y_e||^2 per usable direction, ||y_e's part outside them||^2, directions null besides q)."""
        usable = self._usable_np
        n_null = max(0, self.n_samples - int(self._problem.fit_intercept) - self.rank)
        return self._s2_np[usable], self._a[usable], self._floor_units() * self._nk, n_null

    def _left_basis(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Usable left singular vectors U of Phi_e, U^T y_e, y_e - U U^T y_e, and diag(I - qq^T - UU^T).

        Wide Phi keeps the complete U; tall Phi has only V, so ``U = Phi_e V / s`` costs one pass.
        """
        P, usable = self._problem, self._usable
        coords = self._coords[usable]
        if self._wide:
            U, other = self._basis[:, usable], self._basis[:, ~usable]
            rest = other @ self._coords[~usable]
            null = (other * other).sum(dim=1)
        else:
            U = P.matvec(self._basis[:, usable]) / self._s2[usable].sqrt()
            rest = P.Ye - U @ coords
            null = 1.0 - (U * U).sum(dim=1)
        if P.fit_intercept:  # q = D 1 / ||D 1|| with ||D 1||^2 = sum of the normalised weights = N
            null = null - P.ones_scale() ** 2 / self.n_samples
        return U, coords, rest, null.clamp_min(0.0)

    def _caller_residuals(self, E: np.ndarray) -> np.ndarray:
        """Leave-one-out residuals D e (solvers' units) in the units and shape of y; NaN for weight-0 samples."""
        P = self._problem
        scale = P.ones_scale().double().cpu().numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            e = np.where(scale[None, :, None] > 0, E / scale[None, :, None], np.nan)
        e = np.ldexp(e, P.y_exp)
        return e[:, :, 0] if P.was_1d else e

    # ------------------------------------------------------------------ trajectories
