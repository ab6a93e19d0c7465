"""Numerical robustness of the exact solvers: overflow-safe Newton polish at tiny eps, one rank rule for eps = 0
and eps > 0, overflow-free seminorms."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from kernelreg.solvers import SpectralSolver, solve


def _decaying_wide(seed, decades=8):
    """20 x 60 with columns scaled down over `decades` decades: lam ~ 1e-20 makes the secular slope tiny."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((20, 60)) * np.logspace(0, -decades, 60), rng.standard_normal(20)


@pytest.mark.parametrize("seed", [7, 9])
def test_tiny_eps_polish_does_not_overflow(seed):
    # before the fix: OverflowError (math range error) from lam * math.exp(-(mse - eps) / slope) in _polish
    Phi, y = _decaying_wide(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve(Phi, y, "exact", eps=1e-20)
    least = solve(Phi, y, "exact", eps=0.0)  # the eps = 0 answer: the norm eps = 1e-20 can barely undercut
    assert sol.status in ("optimal", "inaccurate") and np.isfinite(sol.coef).all()
    assert sol.norm <= least.norm * (1 + 1e-6)
    if sol.status == "optimal":
        assert sol.mse <= 1e-20 * (1 + 1e-6)


def test_newton_polish_with_a_vanishing_slope_stays_finite(monkeypatch):
    # a slope lost in rounding (here 1e-300) asks for a step of ~1e290 in log lam: the step is clipped
    Phi, y = _decaying_wide(7)
    spec = SpectralSolver(Phi, y)
    monkeypatch.setattr(SpectralSolver, "_secular_slope", lambda self, lam: 1e-300)
    lam = 1e-6
    polished = spec._polish(1e-8, lam)  # eps and lam in the solvers' units
    if polished is not None:
        assert np.isfinite(polished.coef).all()
        assert lam * 10.0 ** -4.01 <= polished.lam / math.ldexp(1.0, spec._lam_exp) <= lam * 10.0**4.01
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = spec.solve_eps(1e-8)
    assert np.isfinite(sol.coef).all() and sol.status in ("optimal", "inaccurate")


def _kahan_phi(n_samples=400, n_features=90, c=0.32, seed=0):
    """Q K with K the Kahan matrix: |diag R| ratios ~1e-2 but s_min / s_max ~3.3e-14, below rcond = 400 eps.

    Before the rank rule on R's singular values the tall QR answer was certified at eps = 0 with mse
    0.6815 and norm 2.3e12, while the floor (SVD, same rcond) said 0.6826.
    """
    s = math.sqrt(1.0 - c * c)
    K = np.diag(s ** np.arange(n_features)) @ (np.eye(n_features) - c * np.triu(np.ones((n_features, n_features)), 1))
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((n_samples, n_features)))[0]
    return Q @ K


@pytest.mark.parametrize("wide", [False, True])
def test_eps0_and_the_floor_use_one_rank_rule(wide):
    from kernelreg.exceptions import SolverError

    Phi = _kahan_phi()
    Phi = Phi.T if wide else Phi
    y = np.random.default_rng(1).standard_normal(Phi.shape[0])
    singular = np.linalg.svd(Phi, compute_uv=False)
    rcond = max(Phi.shape) * np.finfo(float).eps
    assert singular[-1] < rcond * singular[0] < singular[-2]  # one direction below the cut-off
    # the reference: least squares on the 79 significant directions (numpy SVD)
    U, S, Vt = np.linalg.svd(Phi, full_matrices=False)
    keep = S > rcond * S[0]
    ref = Vt[keep].T @ ((U[:, keep].T @ y) / S[keep])
    ref_mse = np.mean((Phi @ ref - y) ** 2)
    sol = solve(Phi, y, "exact", eps=0.0)
    assert sol.status == "optimal" and sol.info["decomposition"] == "svd"
    assert sol.norm == pytest.approx(np.linalg.norm(ref), rel=1e-6)
    assert np.linalg.norm(sol.coef - ref) <= 1e-6 * np.linalg.norm(ref)
    if not wide:  # tall: a positive floor, the same from the eps = 0 answer and from an infeasible eps
        assert sol.mse == pytest.approx(ref_mse, rel=1e-8)
        with pytest.raises(SolverError) as err:
            solve(Phi, y, "exact", eps=0.5 * ref_mse)
        assert err.value.floor == pytest.approx(sol.mse, rel=1e-8)


def test_well_conditioned_eps0_still_takes_the_qr():
    rng = np.random.default_rng(2)
    Phi, y = rng.standard_normal((40, 15)), rng.standard_normal(40)
    sol = solve(Phi, y, "exact", eps=0.0)
    assert sol.info["decomposition"] == "qr" and sol.info["singular_value_ratio"] > 1e-3
    assert np.allclose(sol.coef, np.linalg.lstsq(Phi, y, rcond=None)[0], rtol=1e-10, atol=1e-12)


def _with_singular_values(n_samples, values, seed):
    """U diag(values) V^T with random orthonormal U, V: singular values known to rounding."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((n_samples, values.size)))[0]
    V = np.linalg.qr(rng.standard_normal((values.size, values.size)))[0]
    return (U * values) @ V.T


def test_large_r_singular_ratio_is_estimated_within_its_stated_factor():
    import torch

    from kernelreg.solvers._linalg import triangular_singular_ratio

    values = np.logspace(0, -10, 300)
    R = np.linalg.qr(_with_singular_values(400, values, 3))[1]
    ratio, spread = triangular_singular_ratio(torch.as_tensor(R))
    assert spread == 2.0 and ratio == pytest.approx(1e-10, rel=1e-2)
    small = np.linalg.qr(_with_singular_values(100, np.logspace(0, -6, 50), 4))[1]
    assert triangular_singular_ratio(torch.as_tensor(small)) == (pytest.approx(1e-6, rel=1e-6), 1.0)


@pytest.mark.parametrize("times_rcond,route", [(0.3, "svd"), (8.0, "qr")])
def test_large_eps0_qr_follows_the_rank_rule(times_rcond, route):
    n_samples, n_features = 600, 300
    rcond = n_samples * np.finfo(float).eps
    values = np.logspace(0, -6, n_features)
    values[-1] = times_rcond * rcond
    Phi = _with_singular_values(n_samples, values, 5)
    y = np.random.default_rng(6).standard_normal(n_samples)
    sol = solve(Phi, y, "exact", eps=0.0)
    assert sol.info["decomposition"] == route and sol.status == "optimal"
    U, S, Vt = np.linalg.svd(Phi, full_matrices=False)
    keep = S > rcond * S[0]
    assert keep.sum() == n_features - (route == "svd")
    ref = Vt[keep].T @ ((U[:, keep].T @ y) / S[keep])
    # kept: condition 1e12 (qr) or 1e6 (svd): both answers carry ~kappa * eps_64 relative rounding
    kappa = S[0] / S[keep][-1]
    assert np.linalg.norm(sol.coef - ref) <= 100 * kappa * np.finfo(float).eps * np.linalg.norm(ref)
    assert sol.mse == pytest.approx(np.mean((Phi @ ref - y) ** 2), rel=1e-5)  # |c| ~ 5e11: residual rounding
