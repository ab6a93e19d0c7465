"""SpectralSolver.cv_path against independent truth: explicit leave-one-out refits, sklearn RidgeCV, the explicit hat matrix."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV

from kernelreg.exceptions import SolverError
from kernelreg.solvers import ChunkedSolver, CVPath, SpectralSolver, solve, solve_cv


def _design(Phi, intercept):
    """The augmented design [1 | Phi] of a model with an intercept."""
    return np.hstack([np.ones((Phi.shape[0], 1)), Phi]) if intercept else Phi


def _ridge_refit(Z, Y, w, alpha, intercept):
    """Weighted ridge by its normal equations, the intercept column unpenalised."""
    pen = alpha * np.eye(Z.shape[1])
    if intercept:
        pen[0, 0] = 0.0
    return np.linalg.solve(Z.T @ (w[:, None] * Z) + pen, Z.T @ (w[:, None] * Y))


def _brute_loo(Phi, Y, lam, intercept, w=None):
    """Leave each sample out, refit (same alpha = lam in the normalised-weight units), predict it."""
    N = Phi.shape[0]
    w = np.ones(N) if w is None else np.asarray(w, dtype=float)
    wn = w * N / w.sum()
    Z = _design(Phi, intercept)
    E = np.empty_like(Y)
    for i in range(N):
        keep = np.arange(N) != i
        E[i] = Y[i] - Z[i] @ _ridge_refit(Z[keep], Y[keep], wn[keep], lam, intercept)
    return E


def _brute_loo_min_norm(Phi, Y, intercept):
    """Leave-one-out of the min-norm least-squares fit (lam = 0): pinv of the centred remaining rows."""
    N = Phi.shape[0]
    E = np.empty_like(Y)
    for i in range(N):
        keep = np.arange(N) != i
        P, T = Phi[keep], Y[keep]
        mu, t = (P.mean(axis=0), T.mean(axis=0)) if intercept else (0.0, 0.0)
        coef = np.linalg.pinv(P - mu) @ (T - t)
        E[i] = Y[i] - (t + (Phi[i] - mu) @ coef)
    return E


def _explicit_gcv(Phi, Y, lam, intercept, w):
    """GCV from the explicit weighted hat matrix of the augmented design."""
    N, K = Y.shape
    wn = w * N / w.sum()
    D = np.sqrt(wn)
    Z = _design(Phi, intercept)
    pen = lam * np.eye(Z.shape[1])
    if intercept:
        pen[0, 0] = 0.0
    H = (D[:, None] * Z) @ np.linalg.solve(Z.T @ (wn[:, None] * Z) + pen, (D[:, None] * Z).T)
    r = D[:, None] * Y - H @ (D[:, None] * Y)
    return (r**2).sum() / (N * K) / (1 - np.trace(H) / N) ** 2, np.trace(H)


CASES = [(12, 30), (30, 10)]  # wide and tall


@pytest.mark.parametrize("shape", CASES, ids=["wide", "tall"])
@pytest.mark.parametrize("decomposition", ["gram", "svd"])
@pytest.mark.parametrize("intercept", [False, True])
def test_loo_residuals_match_explicit_refits(shape, decomposition, intercept):
    rng = np.random.default_rng(sum(shape) + intercept)
    Phi, Y = rng.standard_normal(shape), rng.standard_normal((shape[0], 2))
    w = rng.uniform(0.3, 3.0, shape[0])
    spec = SpectralSolver(Phi, Y, decomposition=decomposition, fit_intercept=intercept, sample_weight=w)
    lams = [0.02, 0.5, 7.0]
    path = spec.cv_path(lams, criterion="loo", return_residuals=True, weights="sample")
    wn = w * shape[0] / w.sum()
    for k, lam in enumerate(lams):
        E = _brute_loo(Phi, Y, lam, intercept, w)
        np.testing.assert_allclose(path.residuals[k], E, rtol=1e-9, atol=1e-11 * np.abs(E).max())
        assert path.scores[k] == pytest.approx((wn[:, None] * E**2).sum() / Y.size, rel=1e-9)


@pytest.mark.parametrize("intercept", [False, True])
def test_loo_at_lam_zero_is_the_min_norm_interpolants_limit(intercept):
    # wide, full row rank: the interpolant's leave-one-out error, exact (the lam-scaled form, no 0/0)
    rng = np.random.default_rng(3)
    Phi, Y = rng.standard_normal((10, 25)), rng.standard_normal((10, 1))
    path = SpectralSolver(Phi, Y, fit_intercept=intercept).cv_path([0.0], criterion="loo", return_residuals=True)
    E = _brute_loo_min_norm(Phi, Y, intercept)
    np.testing.assert_allclose(path.residuals[0], E, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("layout", ["tall-rank-deficient", "wide-duplicate-rows"])
def test_loo_at_lam_zero_with_null_directions(layout):
    rng = np.random.default_rng(4)
    if layout == "tall-rank-deficient":
        Phi = rng.standard_normal((25, 4)) @ rng.standard_normal((4, 9))  # rank 4 < n = 9 < N
    else:
        Phi = rng.standard_normal((9, 20))
        Phi[5] = Phi[2]  # two identical inputs with different targets: no interpolant exists
    y = rng.standard_normal((Phi.shape[0], 1))
    path = SpectralSolver(Phi, y, decomposition="svd").cv_path([0.0, 0.1], criterion="loo", return_residuals=True)
    np.testing.assert_allclose(path.residuals[0], _brute_loo_min_norm(Phi, y, False), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(path.residuals[1], _brute_loo(Phi, y, 0.1, False), rtol=1e-8, atol=1e-10)
    if layout == "wide-duplicate-rows":  # leaving one twin out, the fit reproduces the other: e = y_i - y_twin
        assert path.residuals[0][2, 0] == pytest.approx(y[2, 0] - y[5, 0], rel=1e-8)


@pytest.mark.parametrize("shape", [(25, 60), (60, 20)], ids=["wide", "tall"])
@pytest.mark.parametrize("gcv_mode", ["svd", "eigen"])
@pytest.mark.parametrize("intercept", [False, True])
def test_loo_agrees_with_sklearn_ridgecv(shape, gcv_mode, intercept):
    # RidgeCV minimises sum_i w_i r_i^2 + alpha ||c||^2 with the raw weights: alpha = lam * sum(w) / N,
    # and its per-sample errors are w_i e_i^2 (ours are averaged with the normalised weights w N / sum(w))
    rng = np.random.default_rng(shape[0] + 2 * intercept + (gcv_mode == "svd"))
    Phi, Y = rng.standard_normal(shape), rng.standard_normal((shape[0], 2))
    w = rng.uniform(0.5, 3.0, shape[0])
    lams = np.array([0.01, 0.3, 4.0, 60.0])
    path = SpectralSolver(Phi, Y, fit_intercept=intercept, sample_weight=w).cv_path(
        lams, criterion="loo", return_residuals=True, weights="sample"
    )
    ridge = RidgeCV(alphas=lams * w.sum() / shape[0], fit_intercept=intercept, gcv_mode=gcv_mode,
                    store_cv_results=True).fit(Phi, Y, sample_weight=w)
    ours = w[:, None, None] * np.moveaxis(path.residuals, 0, -1) ** 2  # (N, K, n_lams), as cv_results_
    np.testing.assert_allclose(ours, ridge.cv_results_, rtol=1e-8, atol=1e-12 * ridge.cv_results_.max())
    assert path.best_lam == pytest.approx(ridge.alpha_ * shape[0] / w.sum(), rel=1e-12)
    assert path.best_score * w.mean() == pytest.approx(-ridge.best_score_, rel=1e-9)


@pytest.mark.parametrize("shape", [(20, 45), (45, 15)], ids=["wide", "tall"])
@pytest.mark.parametrize("intercept", [False, True])
def test_gcv_matches_the_explicit_hat_matrix(shape, intercept):
    rng = np.random.default_rng(7 + intercept)
    Phi, Y = rng.standard_normal(shape), rng.standard_normal((shape[0], 3))
    w = rng.uniform(0.5, 3.0, shape[0])
    lams = [0.03, 1.0, 25.0]
    path = SpectralSolver(Phi, Y, fit_intercept=intercept, sample_weight=w).cv_path(
        lams, criterion="gcv", weights="sample"
    )
    for k, lam in enumerate(lams):
        gcv, trace = _explicit_gcv(Phi, Y, lam, intercept, w)
        assert path.scores[k] == pytest.approx(gcv, rel=1e-10)
        assert path.dof[k] == pytest.approx(trace, rel=1e-10)


def test_gcv_ends_of_the_path():
    rng = np.random.default_rng(8)
    Phi, y = rng.standard_normal((12, 30)), rng.standard_normal(12)
    spec = SpectralSolver(Phi, y, fit_intercept=True)
    path = spec.cv_path([0.0, 1e-9, np.inf], criterion="gcv")
    # lam -> 0 on a wide full-rank Phi: 0/0 in the plain form, a finite limit in the scaled one
    assert np.isfinite(path.scores[0]) and path.scores[0] == pytest.approx(path.scores[1], rel=1e-6)
    # lam = inf: coef = 0, the intercept alone: mean((y - ybar)^2) / (1 - 1/N)^2
    var = np.mean((y - y.mean()) ** 2)
    assert path.scores[2] == pytest.approx(var / (1 - 1 / 12) ** 2, rel=1e-12)
    assert path.eps[2] == pytest.approx(var, rel=1e-12) and path.dof[2] == 1.0
    assert path.eps[0] == pytest.approx(0.0, abs=1e-20) and path.dof[0] == pytest.approx(12.0)


def test_eps_grid_maps_through_the_secular_root_find():
    rng = np.random.default_rng(9)
    Phi, y = rng.standard_normal((30, 50)), rng.standard_normal(30)
    spec = SpectralSolver(Phi, y, fit_intercept=True)
    eps = [0.05 * spec.mean_y2, 0.4 * spec.mean_y2]
    path = spec.cv_path(eps=eps, criterion="loo")
    np.testing.assert_allclose(path.eps, eps, rtol=1e-10)
    np.testing.assert_allclose(path.lam, [spec.lam_for_eps(e) for e in eps], rtol=1e-12)
    by_lam = spec.cv_path(path.lam, criterion="loo")
    np.testing.assert_allclose(by_lam.scores, path.scores, rtol=1e-12)
    assert isinstance(path, CVPath) and path.best_eps == path.eps[path.best_index]


@pytest.mark.parametrize("criterion", ["loo", "gcv"])
@pytest.mark.parametrize("shape", [(14, 30), (30, 10)], ids=["wide", "tall"])
def test_frequency_weights_are_repeats(criterion, shape):
    # sklearn's sample_weight convention: an integer weight k is the sample repeated k times (0: left out)
    rng = np.random.default_rng(15 + shape[0])
    Phi, Y = rng.standard_normal(shape), rng.standard_normal((shape[0], 2))
    w = rng.integers(0, 4, shape[0]).astype(float)
    w[:2] = [3.0, 1.0]
    lams = np.array([0.0, 0.05, 1.0, 20.0])
    weighted = SpectralSolver(Phi, Y, fit_intercept=True, sample_weight=w).cv_path(lams, criterion=criterion)
    repeated = SpectralSolver(Phi.repeat(w.astype(int), axis=0), Y.repeat(w.astype(int), axis=0),
                              fit_intercept=True).cv_path(lams * w.sum() / shape[0], criterion=criterion)
    np.testing.assert_allclose(weighted.scores, repeated.scores, rtol=1e-8, atol=1e-14 * repeated.baseline)
    np.testing.assert_allclose(weighted.eps, repeated.eps, rtol=1e-9, atol=1e-14 * repeated.baseline)
    if criterion == "loo":  # the repeats of a sample share its residual; at lam = 0 the twins interpolate it
        e_w = SpectralSolver(Phi, Y, fit_intercept=True, sample_weight=w).cv_path(
            lams, criterion="loo", return_residuals=True).residuals
        e_r = SpectralSolver(Phi.repeat(w.astype(int), axis=0), Y.repeat(w.astype(int), axis=0),
                             fit_intercept=True).cv_path(lams * w.sum() / shape[0], criterion="loo",
                                                         return_residuals=True).residuals
        first = np.cumsum(w.astype(int)) - w.astype(int)
        positive = w > 0
        np.testing.assert_allclose(e_w[:, positive], e_r[:, first[positive]], rtol=1e-7, atol=1e-10)
        if shape[0] < shape[1]:  # weight 3, interpolated at lam = 0: a twin stays in and fixes the prediction
            assert np.abs(e_w[0, 0]).max() < 1e-12


def test_zero_weight_sample_is_left_out_of_every_fit():
    rng = np.random.default_rng(10)
    Phi, y = rng.standard_normal((20, 35)), rng.standard_normal(20)
    w = rng.uniform(0.5, 2.0, 20)
    w[4] = 0.0
    lams = np.array([0.1, 2.0])
    path = SpectralSolver(Phi, y, fit_intercept=True, sample_weight=w).cv_path(
        lams, criterion="loo", return_residuals=True
    )
    keep = np.arange(20) != 4
    # lam is in normalised-weight units: sum_i w_i r_i^2 N / sum(w) + lam ||c||^2; without the sample N is 19
    without = SpectralSolver(Phi[keep], y[keep], fit_intercept=True, sample_weight=w[keep]).cv_path(
        lams * 19 / 20, criterion="loo", return_residuals=True
    )
    np.testing.assert_allclose(path.scores, without.scores, rtol=1e-9)
    np.testing.assert_allclose(path.residuals[:, keep], without.residuals, rtol=1e-9)
    assert np.isnan(path.residuals[:, 4]).all()


def test_streamed_tall_phi_gives_the_same_path():
    rng = np.random.default_rng(11)
    Phi, y = rng.standard_normal((80, 12)), rng.standard_normal((80, 2))
    lams = [0.0, 0.5, 5.0]
    dense = SpectralSolver(Phi, y, fit_intercept=True).cv_path(lams, criterion="loo")
    streamed = ChunkedSolver(Phi, y, fit_intercept=True, max_memory="20kB").cv_path(lams, criterion="loo")
    np.testing.assert_allclose(streamed.scores, dense.scores, rtol=1e-9)


def test_default_grid_and_argument_errors():
    rng = np.random.default_rng(12)
    Phi, y = rng.standard_normal((15, 40)), rng.standard_normal(15)
    spec = SpectralSolver(Phi, y)
    path = spec.cv_path(n_lams=20, criterion="gcv")
    assert path.lam.shape == (20,) and path.lam[0] == 0.0 and path.lam[-1] == np.inf
    assert path.lam[-2] == pytest.approx(10 * spec.singular_values.max() ** 2, rel=1e-12)
    assert np.all(np.diff(path.eps) > 0)  # more shrinkage, larger training error
    assert path.eps[-1] == pytest.approx(spec.mean_y2, rel=1e-12)
    assert path.best_score == path.scores.min()
    with pytest.raises(ValueError, match="criterion must be one of"):
        spec.cv_path(criterion="kfold")
    with pytest.raises(ValueError, match="not both"):
        spec.cv_path([1.0], eps=[0.1])
    with pytest.raises(ValueError, match="grid is empty"):
        spec.cv_path([])
    with pytest.raises(ValueError, match="lam must be a ridge parameter"):
        spec.cv_path([-1.0])
    with pytest.raises(ValueError, match="needs criterion='loo'"):
        spec.cv_path([1.0], criterion="gcv", return_residuals=True)
    with pytest.raises(ValueError, match="n_lams must be an integer >= 2"):
        spec.cv_path(n_lams=1)
    with pytest.raises(ValueError, match="below_floor must be"):
        spec.cv_path(below_floor="clip")
    tall = SpectralSolver(rng.standard_normal((40, 5)), rng.standard_normal(40))
    with pytest.raises(SolverError, match="infeasible") as info:
        tall.cv_path(eps=[0.5 * tall.mse_floor])
    assert info.value.status == "infeasible"
    floored = tall.cv_path(eps=[0.5 * tall.mse_floor, 2 * tall.mse_floor], below_floor="floor")
    assert floored.lam[0] == 0.0 and floored.eps[0] == pytest.approx(tall.mse_floor, rel=1e-12)
    np.testing.assert_allclose(floored.eps_relative, floored.eps / tall.mean_y2, rtol=1e-15)
    assert floored.baseline == tall.mean_y2


# ----------------------------------------------------------------------------- solve_cv: the estimators' worker
def test_solve_cv_solves_at_the_best_lam_from_the_one_factorisation(monkeypatch):
    rng = np.random.default_rng(13)
    Phi = rng.standard_normal((60, 25))
    Y = Phi @ rng.standard_normal((25, 2)) * 0.2 + rng.standard_normal((60, 2))
    w = rng.uniform(0.5, 2.0, 60)
    calls = []
    original = SpectralSolver._factor_gram
    monkeypatch.setattr(SpectralSolver, "_factor_gram", lambda self: calls.append(1) or original(self))
    sol, path = solve_cv(Phi, Y, criterion="loo", fit_intercept=True, sample_weight=w)
    assert len(calls) == 1 and "fallback_reason" not in sol.info  # certified on the path's own Gram
    reference = solve(Phi, Y, lam=path.best_lam, fit_intercept=True, sample_weight=w)
    np.testing.assert_allclose(sol.coef, reference.coef, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sol.intercept, reference.intercept, rtol=1e-9, atol=1e-12)
    assert sol.status == "optimal" and sol.lam == path.best_lam
    assert sol.mse == pytest.approx(path.best_eps, rel=1e-9)
    assert 0 < path.best_index < path.lam.size - 1  # an interior minimum on this noisy problem


def test_solve_cv_relative_eps_is_a_fraction_of_the_constant_models_mse():
    rng = np.random.default_rng(14)
    Phi, y = rng.standard_normal((30, 60)), rng.standard_normal(30) + 3.0
    w = rng.uniform(0.5, 2.0, 30)
    mean = np.average(y, weights=w)
    var = np.average((y - mean) ** 2, weights=w)  # the mse of the intercept-only model
    sol, path = solve_cv(Phi, y, eps=[0.1, 0.5, 0.9], relative=True, fit_intercept=True, sample_weight=w)
    np.testing.assert_allclose(path.eps, [0.1 * var, 0.5 * var, 0.9 * var], rtol=1e-10)
    no_intercept = solve_cv(Phi, y, eps=[0.5], relative=True)[1]
    assert no_intercept.eps[0] == pytest.approx(0.5 * np.mean(y**2), rel=1e-10)
