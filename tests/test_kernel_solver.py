"""SpectralSolver.from_gram (one eigendecomposition of K, answers as alpha, certified with K) and reused factorisations."""

from __future__ import annotations

import math
import pickle
from unittest import mock

import numpy as np
import pytest
import torch
from sklearn.kernel_ridge import KernelRidge

from kernelreg import KernelRegimeRegressor
from kernelreg.kernels import LimitKernel, gram_features
from kernelreg.solvers import SpectralSolver, solve
from kernelreg.solvers._kernel import certify_kernel, prepare_kernel


def _kernel_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    y = np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(n)
    kernel = LimitKernel("relu").fit(X)
    return X, y, kernel, kernel(X)


def _old_route(K, y, eps, **kwargs):
    """The route from_gram replaces: features Φ_K = U Λ^1/2 of K, then solve on them (a second decomposition)."""
    factor = gram_features(K)
    sol = solve(factor.features, y, eps=eps, **kwargs)
    return sol, factor.dual_coef(sol.coef)


OPTIONS = [{}, {"fit_intercept": True}, {"sample_weight": "w"}, {"fit_intercept": True, "sample_weight": "w0"}]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("eps", [0.0, 1e-4, 1e-2])
def test_from_gram_agrees_with_the_feature_factor_route(options, eps):
    """Both routes solve the same program; their fits differ by rounding amplified by K's conditioning.

    K (ReLU limit kernel, 120 points) has condition ~1e9: the interpolant's coefficients amplify the
    two routes' different rounding up to ~1e-8 on fitted values of size 1, so fits are compared at
    1e-6; the mse (eps > 0, both solved to mse = eps within 1e-9) and the RKHS norm at 1e-6.
    """
    X, y, kernel, K = _kernel_data()
    rng = np.random.default_rng(1)
    kwargs = dict(options)
    if "sample_weight" in kwargs:
        w = rng.uniform(0.5, 2.0, y.size)
        if kwargs["sample_weight"] == "w0":
            w[:10] = 0.0
        kwargs["sample_weight"] = w
    old, alpha_old = _old_route(K, y, eps, **kwargs)
    new = SpectralSolver.from_gram(K, y, **kwargs).solve_eps(eps)
    assert new.status == "optimal" and new.info["coef_space"] == "dual"
    Xt = rng.uniform(-1, 1, (50, 2))
    for points in (X, Xt):
        cross = kernel(points, X)
        f_old, f_new = cross @ alpha_old + old.intercept, cross @ new.coef + new.intercept
        assert np.max(np.abs(f_new - f_old)) <= 1e-6
    assert new.norm == pytest.approx(old.norm, rel=1e-6)
    # the quadratic form of a large alpha is itself known to ~1e-10 (summation order): see _KernelMetric
    assert new.norm == pytest.approx(math.sqrt(new.coef @ K @ new.coef), rel=1e-9)
    if eps > 0:
        assert new.mse == pytest.approx(eps, rel=1e-6) and new.lam == pytest.approx(old.lam, rel=1e-6)


def test_from_gram_ridge_is_kernel_ridge():
    """lam is KernelRidge's alpha: the dual coefficients match sklearn's Cholesky solve of (K + lam I) alpha = y."""
    X, y, kernel, K = _kernel_data()
    sol = SpectralSolver.from_gram(K, y).solve_eps(1e-3)
    reference = KernelRidge(alpha=sol.lam, kernel="precomputed").fit(K, y).dual_coef_
    assert np.max(np.abs(sol.coef - reference)) <= 1e-8 * np.max(np.abs(reference))


def test_kernel_certificate_is_measured_with_K_and_rejects_perturbed_answers():
    X, y, kernel, K = _kernel_data()
    eps = 1e-3
    sol = SpectralSolver.from_gram(K, y).solve_eps(eps)
    problem = prepare_kernel(K, y, eps)

    def cert(alpha, at=eps):
        return certify_kernel(problem, torch.as_tensor(np.asarray(alpha)[:, None]), eps=at)

    good = cert(sol.coef)
    assert good.optimal and good.mse == pytest.approx(np.mean((K @ sol.coef - y) ** 2), rel=1e-12)
    assert good.norm == pytest.approx(math.sqrt(sol.coef @ K @ sol.coef), rel=1e-9)  # summation order only
    # too small a norm: infeasible; too large: feasible but the dual bound shows the excess
    assert not cert(sol.coef * 0.999).feasible
    bigger = cert(sol.coef * 1.001)
    assert bigger.feasible and bigger.norm_gap > 5e-4 and not bigger.optimal
    # a feasible mix with the interpolant (mse < eps by convexity) has a larger RKHS norm: the bound shows it
    interpolant = SpectralSolver.from_gram(K, y).min_norm().coef
    mixed = cert(0.999 * sol.coef + 0.001 * interpolant)
    assert mixed.feasible and mixed.mse < eps and not mixed.optimal and mixed.norm_gap > 1e-5


def test_kernel_certificate_matches_the_feature_certificate_on_an_exact_factor():
    """With K = Phi Phi^T exactly, alpha and c = Phi^T alpha are the same answer: the same mse, norm and verdict."""
    rng = np.random.default_rng(2)
    Phi = rng.standard_normal((40, 90)) / 10
    y = rng.standard_normal(40)
    K = Phi @ Phi.T
    eps = 0.05
    sol = SpectralSolver.from_gram(K, y, fit_intercept=True).solve_eps(eps)
    primal = solve(Phi, y, eps=eps, fit_intercept=True)
    assert np.allclose(Phi.T @ sol.coef, primal.coef, atol=1e-10 * np.abs(primal.coef).max())
    assert sol.intercept == pytest.approx(primal.intercept, abs=1e-10)
    for field in ("mse", "norm"):
        assert getattr(sol.certificate, field) == pytest.approx(getattr(primal.certificate, field), rel=1e-9)
    assert sol.certificate.optimal and primal.certificate.optimal


def test_from_gram_given_eigh_and_bad_input():
    X, y, kernel, K = _kernel_data(n=60)
    Y = np.column_stack([y, np.cos(2 * X[:, 1])])
    decomposition = np.linalg.eigh(K)  # another LAPACK driver than torch's: compared at rounding level
    for j in range(2):
        a = SpectralSolver.from_gram(K, Y[:, j], eigh=decomposition).solve_eps(1e-3)
        b = SpectralSolver.from_gram(K, Y[:, j]).solve_eps(1e-3)
        assert a.status == "optimal" and np.max(np.abs(K @ (a.coef - b.coef))) <= 1e-8
    with pytest.raises(ValueError, match="eigh= is a decomposition of K itself"):
        SpectralSolver.from_gram(K, y, eigh=decomposition, fit_intercept=True)
    with pytest.raises(ValueError, match=r"eigenvectors of shape \(60, 60\)"):
        SpectralSolver.from_gram(K, y, eigh=(decomposition[0][:5], decomposition[1]))
    with pytest.raises(ValueError, match="not positive semi-definite"):
        SpectralSolver.from_gram(-K, y)
    with pytest.raises(ValueError, match="square kernel matrix"):
        SpectralSolver.from_gram(K[:, :10], y)
    with pytest.raises(ValueError, match="NaN"):
        SpectralSolver.from_gram(np.where(np.eye(60) > 0, np.nan, K), y)


def test_from_gram_infeasible_eps_names_the_floor():
    """A kernel of rank < n (inputs repeated) has a floor; eps below it raises with .floor set."""
    from kernelreg.exceptions import SolverError

    X, y, kernel, K = _kernel_data(n=30)
    Xd = np.vstack([X, X])
    yd = np.r_[y, y + 0.3]
    Kd = kernel(Xd)
    spec = SpectralSolver.from_gram(Kd, yd)
    assert spec.mse_floor == pytest.approx(0.3**2 / 4, rel=1e-6)  # each pair fitted at its mean
    with pytest.raises(SolverError, match="infeasible") as info:
        spec.solve_eps(0.01)
    assert info.value.floor == pytest.approx(spec.mse_floor)
    assert spec.min_norm().mse == pytest.approx(spec.mse_floor, rel=1e-6)


# ------------------------------------------------------------------------------------- reused factorisations
def test_solve_with_a_factorization_skips_the_decomposition_and_checks_its_data():
    rng = np.random.default_rng(3)
    Phi, y = rng.standard_normal((40, 150)), rng.standard_normal(40)
    spec = SpectralSolver(Phi, y, fit_intercept=True)
    cold = {eps: solve(Phi, y, eps=eps, fit_intercept=True) for eps in (1e-3, 0.1)}
    with mock.patch("torch.linalg.eigh", side_effect=AssertionError("decomposed again")):
        for eps, reference in cold.items():
            warm = solve(Phi, y, eps=eps, fit_intercept=True, factorization=spec)
            assert warm.status == "optimal" and warm.eps == eps
            assert np.allclose(warm.coef, reference.coef, rtol=0, atol=1e-10 * np.abs(reference.coef).max())
    with pytest.raises(ValueError, match="Phi differs"):
        solve(Phi + 1e-12, y, eps=0.1, fit_intercept=True, factorization=spec)
    with pytest.raises(ValueError, match="y differs"):
        solve(Phi, y[::-1], eps=0.1, fit_intercept=True, factorization=spec)
    with pytest.raises(ValueError, match="fit_intercept=True vs False"):
        solve(Phi, y, eps=0.1, factorization=spec)
    with pytest.raises(ValueError, match="drop decomposition"):
        solve(Phi, y, eps=0.1, fit_intercept=True, factorization=spec, decomposition="svd")
    with pytest.raises(TypeError, match="factorization must be a SpectralSolver"):
        solve(Phi, y, eps=0.1, factorization="gram")


def test_kernel_factorization_through_solve_runs_the_fallback_policy():
    X, y, kernel, K = _kernel_data(n=80)
    spec = SpectralSolver.from_gram(K, y)
    with mock.patch("torch.linalg.eigh", side_effect=AssertionError("decomposed again")):
        sol = solve(K, y, eps=1e-3, factorization=spec)
        floor = solve(K, y, factorization=spec)
    assert sol.status == "optimal" and sol.info["decomposition"] == "kernel"
    assert floor.status == "optimal" and floor.mse < 1e-12
    with pytest.raises(ValueError, match="K differs"):
        solve(K * 2, y, eps=1e-3, factorization=spec)


def _count_eigh():
    return mock.patch("torch.linalg.eigh", wraps=torch.linalg.eigh)


@pytest.mark.parametrize("width", ["inf", 300])
def test_warm_start_refit_at_another_eps_reuses_the_factorisation(width):
    X, y, kernel, K = _kernel_data(n=100)
    model = KernelRegimeRegressor(width, eps=1e-3, warm_start=True, fit_intercept=True, random_state=0,
                                  offset_scale=None)  # the limit kernel's law (B = max ||x||)
    with _count_eigh() as eigh:
        model.fit(X, y)
    assert eigh.call_count == 1  # "inf": K∞ once (no Φ_K factor decomposed again); finite: the Gram once
    model.set_params(eps=1e-2)
    with _count_eigh() as eigh:
        model.fit(X, y)
    assert eigh.call_count == 0
    cold = KernelRegimeRegressor(width, eps=1e-2, fit_intercept=True, random_state=0, offset_scale=None).fit(X, y)
    # the same program from the same decomposition kind: equal to rounding (the cold fit may take another route)
    assert np.max(np.abs(model.predict(X) - cold.predict(X))) <= 1e-8
    assert model.solution_.status == "optimal" and model.solution_.mse == pytest.approx(1e-2, rel=1e-9)
    # new targets: decomposed again; the pickle does not carry the factorisation (it holds Φ)
    with _count_eigh() as eigh:
        model.fit(X, y + 1.0)
    assert eigh.call_count == 1
    assert "_factorization_" not in pickle.loads(pickle.dumps(model)).__dict__


def test_infinite_width_estimator_agrees_with_the_feature_factor_route():
    X, y, kernel, K = _kernel_data(n=100)
    model = KernelRegimeRegressor("inf", eps=1e-3, fit_intercept=True, offset_scale=None).fit(X, y)
    old, alpha_old = _old_route(K, y, 1e-3, fit_intercept=True)
    Xt = np.random.default_rng(5).uniform(-1, 1, (40, 2))
    expected = kernel(Xt, X) @ alpha_old + old.intercept
    assert np.max(np.abs(model.predict(Xt) - expected)) <= 1e-6  # tolerance as in the solver-level comparison
    # the intercept centres K (P K P^T has rank N - 1)
    assert model.solution_.info["kernel_rank"] == 99 and model.solution_.norm == pytest.approx(old.norm, rel=1e-6)


def test_width_convergence_decomposes_each_kernel_once_for_all_targets():
    from kernelreg import convergence

    rng = np.random.default_rng(6)
    X = rng.uniform(-1, 1, (25, 2))
    Y = np.column_stack([np.sin(2 * X[:, 0]), X[:, 1] ** 2, np.cos(X[:, 0])])
    with mock.patch.object(convergence.linalg, "eigh", wraps=convergence.linalg.eigh) as eigh:
        report = convergence.width_convergence(X, "relu", (100, 1000), y=Y, eps=1e-3, n_points=100)
    assert eigh.call_count == 3  # K∞, K_100, K_1000: not once per target
    # each row's fit against the old route on the same K_n is checked at the solver level above; here the
    # limit fit's norm equals the RKHS norm of the Φ_K route
    K = LimitKernel("relu").fit(X)(X)
    for j, row in enumerate(report.limit):
        old, _ = _old_route(K, Y[:, j], 1e-3)
        assert row["norm"] == pytest.approx(old.norm, rel=1e-6) and row["status"] == "optimal"


@pytest.mark.parametrize("eps", [1e-3, "gcv"])
def test_infinite_width_weights_equal_repeated_rows(eps):
    # integer weights (zeros included) = rows removed / repeated; eps="gcv" goes through the feature-factor path
    X, y, _, _ = _kernel_data(n=40)
    w = np.random.default_rng(3).integers(0, 3, 40).astype(float)
    keep = np.repeat(np.arange(40), w.astype(int))
    kw = dict(eps=eps, fit_intercept=True, offset_scale=50.0)
    weighted = KernelRegimeRegressor("inf", **kw).fit(X, y, sample_weight=w)
    repeated = KernelRegimeRegressor("inf", **kw).fit(X[keep], y[keep])
    Xt = np.random.default_rng(4).uniform(-1, 1, (30, 2))
    assert np.max(np.abs(weighted.predict(Xt) - repeated.predict(Xt))) <= 1e-6
