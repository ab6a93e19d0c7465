"""eps chosen from the data: KernelRegimeRegressorCV / KernelRegimeClassifierCV and eps="loo"|"gcv", against independent truth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_blobs, make_moons
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import kernelreg
from kernelreg import KernelRegimeClassifierCV, KernelRegimeRegressor, KernelRegimeRegressorCV, solve
from kernelreg.exceptions import InfeasibleEpsWarning, SolverError


@parametrize_with_checks(
    [
        KernelRegimeRegressorCV(n_features=30),
        KernelRegimeRegressorCV(n_features=30, eps=[0.0, 0.01, 0.1, 0.5], criterion="gcv", fit_intercept=True),
        KernelRegimeClassifierCV(n_features=30),
        KernelRegimeClassifierCV(n_features=30, criterion="gcv", fit_intercept=True, offset_scale="quantile"),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture
def noisy():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(60, 2))
    y = np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) + 0.3 * rng.standard_normal(60)
    return X, y


def test_exported_from_the_package_and_the_estimators_stage():
    from kernelreg import estimators

    for name in ("KernelRegimeRegressorCV", "KernelRegimeClassifierCV"):
        assert name in kernelreg.__all__ and name in estimators.__all__
        assert getattr(kernelreg, name) is getattr(estimators, name)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_leave_one_out_path_agrees_with_ridgecv_on_the_fitted_features(noisy, fit_intercept):
    # RidgeCV's efficient leave-one-out on the same Φ, at the same lam grid (alpha = lam without weights)
    X, y = noisy
    model = KernelRegimeRegressorCV(80, fit_intercept=fit_intercept, random_state=0).fit(X, y)
    Phi = model.feature_map_.transform(X)
    lams = model.cv_results_["lam"]
    finite = np.isfinite(lams) & (lams > 0)
    ridge = RidgeCV(alphas=lams[finite], fit_intercept=fit_intercept, store_cv_results=True).fit(Phi, y)
    np.testing.assert_allclose(-model.cv_results_["mean_test_score"][finite], ridge.cv_results_.mean(axis=0),
                               rtol=1e-6)
    assert model.lam_ == pytest.approx(ridge.alpha_, rel=1e-12)
    np.testing.assert_allclose(model.coef_, ridge.coef_, rtol=1e-6, atol=1e-9 * np.abs(ridge.coef_).max())
    assert model.best_score_ == pytest.approx(ridge.best_score_, rel=1e-6)
    assert model.solution_.status == "optimal" and model.eps_ == pytest.approx(model.solution_.mse, rel=1e-8)


def test_default_regressor_chooses_eps_as_the_cv_estimator_does(noisy):
    X, y = noisy
    default = KernelRegimeRegressor(100, random_state=0).fit(X, y)
    cv = KernelRegimeRegressorCV(100, random_state=0).fit(X, y)
    assert default.eps == "loo" and default.offset_scale == "data"
    assert default.eps_ == cv.eps_ and default.best_index_ == cv.best_index_
    np.testing.assert_array_equal(default.coef_, cv.coef_)  # one computation, run twice
    # the chosen eps, given as a number, is the same program: the same coefficients (to the root-find)
    again = KernelRegimeRegressor(100, eps=default.eps_, random_state=0).fit(X, y)
    np.testing.assert_allclose(again.coef_, default.coef_, rtol=1e-6, atol=1e-9)
    # the paper's regime is one argument away
    interpolant = KernelRegimeRegressor(100, eps=0, random_state=0).fit(X, y)
    assert interpolant.eps_ == 0.0 and interpolant.solution_.mse < 1e-20


def test_relative_candidates_and_the_floor(noisy):
    X, y = noisy
    var = np.var(y)
    model = KernelRegimeRegressorCV(30, eps=[0.3, 0.5, 0.8], criterion="gcv", fit_intercept=True,
                                    random_state=0).fit(X, y)
    np.testing.assert_allclose(model.cv_results_["eps_relative"], [0.3, 0.5, 0.8], rtol=1e-9)
    np.testing.assert_allclose(model.cv_results_["eps"], np.array([0.3, 0.5, 0.8]) * var, rtol=1e-9)
    assert model.eps_ == pytest.approx(model.cv_results_["eps"][model.best_index_], rel=1e-12)
    assert model.cv_results_["rank_test_score"][model.best_index_] == 1
    # 30 units on 60 samples: a floor (about 0.2); 0 asks for it quietly, a positive candidate below it warns (or raises)
    floor = KernelRegimeRegressor(30, eps=0, fit_intercept=True, random_state=0).fit(X, y).solution_.mse / var
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KernelRegimeRegressorCV(30, eps=[0.0, 0.5], fit_intercept=True, random_state=0).fit(X, y)
    with pytest.warns(InfeasibleEpsWarning, match=rf"1 of the 3 relative eps candidates.*floor, relative eps "
                                                  rf"{floor:.6g}"):
        model = KernelRegimeRegressorCV(30, eps=[floor / 2, 0.5, 0.8], fit_intercept=True, random_state=0).fit(X, y)
    assert model.cv_results_["eps_relative"][0] == pytest.approx(floor, rel=1e-8)
    with pytest.raises(SolverError, match="infeasible"):
        KernelRegimeRegressorCV(30, eps=[floor / 2], fit_intercept=True, on_infeasible="raise",
                                random_state=0).fit(X, y)


@pytest.mark.parametrize("solver", ["cg", "cvxpy"])
def test_other_solvers_run_at_the_chosen_eps(noisy, solver):
    X, y = noisy
    exact = KernelRegimeRegressorCV(40, eps=[0.2, 0.3, 0.6], fit_intercept=True, random_state=0).fit(X, y)
    other = KernelRegimeRegressorCV(40, eps=[0.2, 0.3, 0.6], fit_intercept=True, solver=solver,
                                    random_state=0).fit(X, y)
    assert other.eps_ == exact.eps_ and other.solution_.method == solver
    assert other.solution_.mse <= other.eps_ * (1 + 1e-4)
    if solver == "cvxpy":  # the same convex program
        np.testing.assert_allclose(other.coef_, exact.coef_, rtol=1e-3, atol=1e-4 * np.abs(exact.coef_).max())


def test_classifier_cv_scores_the_pm1_codes(noisy):
    X, y = make_blobs(90, centers=3, cluster_std=3.0, random_state=0)
    clf = KernelRegimeClassifierCV(100, fit_intercept=True, random_state=0).fit(X, y)
    assert clf.loss == "squared" and "loss" not in clf.get_params()
    Phi = clf.feature_map_.transform(X)
    codes = np.where(y[:, None] == np.arange(3)[None, :], 1.0, -1.0)
    sol = solve(Phi, codes, lam=clf.lam_, fit_intercept=True)
    np.testing.assert_allclose(clf.coef_, sol.coef, rtol=1e-7, atol=1e-10)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    # moons: leave-one-out does not take the interpolant that GCV's vanishing denominator favours
    Xm, ym = make_moons(100, noise=0.2, random_state=0)
    loo = KernelRegimeClassifierCV(300, random_state=0).fit(Xm, ym)
    assert loo.lam_ > 0 and loo.cv_results_["eps_relative"][loo.best_index_] > 0.01


def test_inactive_fraction_is_the_maps_and_drops_with_data_aware_offsets():
    X = np.random.default_rng(0).standard_normal((120, 20))
    y = X[:, 0] + np.abs(X[:, 1])
    data = KernelRegimeRegressor(200, random_state=0).fit(X, y)
    paper = KernelRegimeRegressor(200, offset_scale=None, random_state=0).fit(X, y)
    assert data.inactive_fraction_ == data.feature_map_.inactive_fraction_
    assert data.inactive_fraction_ < 0.05 < 0.3 < paper.inactive_fraction_


def test_default_regressor_is_predictive_on_diabetes():
    # issue 14's Done-when: the default estimator's 5-fold R^2 on diabetes >= 0.45 (eps = 0 gave -1494)
    X, y = load_diabetes(return_X_y=True)
    folds = KFold(5, shuffle=True, random_state=0)
    scores = cross_val_score(make_pipeline(StandardScaler(), KernelRegimeRegressor(random_state=0)), X, y, cv=folds)
    assert scores.mean() >= 0.45


def test_cv_parameter_errors(noisy):
    X, y = noisy
    with pytest.raises(ValueError, match=r"'eps' parameter of KernelRegimeRegressorCV must be None or a non-empty "
                                         r"array of finite relative eps candidates >= 0.*got \[-0.1, 0.2\]"):
        KernelRegimeRegressorCV(10, eps=[-0.1, 0.2]).fit(X, y)
    with pytest.raises(ValueError, match="non-empty"):
        KernelRegimeRegressorCV(10, eps=[]).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'criterion' parameter of KernelRegimeRegressorCV"):
        KernelRegimeRegressorCV(10, criterion="kfold").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'n_eps' parameter of KernelRegimeClassifierCV"):
        KernelRegimeClassifierCV(10, n_eps=1).fit(X, y > 0)
