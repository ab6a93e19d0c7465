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
