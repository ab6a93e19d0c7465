"""KernelRegime estimators: the sklearn contract, Pipeline / GridSearchCV, agreement with the solvers, bad input."""

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.datasets import make_blobs, make_moons
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from kernelreg import KernelRegimeClassifier, KernelRegimeRegressor, RandomFeatureMap, solve
from kernelreg.exceptions import DeviceError, SolverError


def test_sklearn_version_is_in_the_pinned_range():
    # the estimators use sklearn's private _param_validation; pyproject pins scikit-learn>=1.6,<1.10
    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    assert (1, 6) <= (major, minor) < (1, 10)


@parametrize_with_checks(
    [
        KernelRegimeRegressor(n_features=200),
        KernelRegimeRegressor(n_features=200, activation="tanh", fit_intercept=True),
        KernelRegimeClassifier(n_features=200),
        RandomFeatureMap(n_features=20),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(40, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    return X, y


def test_regressor_equals_solve_on_its_features(data):
    X, y = data
    model = KernelRegimeRegressor(300, eps=1e-4, random_state=0).fit(X, y)
    Phi = RandomFeatureMap(300, random_state=0).fit(X).transform(X)
    direct = solve(Phi, y, eps=1e-4)
    np.testing.assert_allclose(model.coef_, direct.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.predict(X), Phi @ direct.coef, atol=1e-10)
    assert model.solution_.mse == pytest.approx(1e-4, rel=1e-8)
    assert model.solution_.lam > 0


def test_regressor_interpolates_with_eps_zero(data):
    X, y = data
    model = KernelRegimeRegressor(400, random_state=0).fit(X, y)
    np.testing.assert_allclose(model.predict(X), y, atol=1e-7)


def test_intercept_is_unpenalised(data):
    X, y = data
    shifted = KernelRegimeRegressor(300, eps=1e-3, fit_intercept=True, random_state=0).fit(X, y + 100.0)
    plain = KernelRegimeRegressor(300, eps=1e-3, fit_intercept=True, random_state=0).fit(X, y)
    np.testing.assert_allclose(shifted.coef_, plain.coef_, atol=1e-8)
    assert shifted.intercept_ == pytest.approx(plain.intercept_ + 100.0)
    assert np.mean((shifted.predict(X) - y - 100.0) ** 2) == pytest.approx(1e-3, rel=1e-6)


def test_multi_output_regression(data):
    X, y = data
    Y = np.column_stack([y, -2 * y + 1])
    model = KernelRegimeRegressor(300, random_state=0).fit(X, Y)
    assert model.coef_.shape == (300, 2)
    np.testing.assert_allclose(model.predict(X), Y, atol=1e-7)


@pytest.mark.parametrize("solver", ["gd", "cg"])
def test_iterative_solvers_through_the_estimator(data, solver):
    X, y = data
    model = KernelRegimeRegressor(200, solver=solver, eps=1e-3, random_state=0,
                                  solver_options={"max_iter": 50_000}).fit(X, y)
    assert model.solution_.mse <= 1e-3 * (1 + 1e-9)
    assert model.n_iter_ == len(model.history_) or model.history_
    assert model.solution_.method == solver


def test_pickle_round_trip_gives_identical_predictions(data):
    X, y = data
    model = KernelRegimeRegressor(100, eps=1e-4, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.predict(X), model.predict(X))  # bitwise: the same computation twice


def test_pipeline_after_standard_scaler(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), KernelRegimeRegressor(300, eps=1e-4, random_state=0))
    pipe.fit(10 * X + 3, y)
    assert np.mean((pipe.predict(10 * X + 3) - y) ** 2) == pytest.approx(1e-4, rel=1e-6)


def test_grid_search_over_activation_width_and_solver():
    X, y = make_moons(80, noise=0.1, random_state=0)
    grid = GridSearchCV(
        KernelRegimeClassifier(random_state=0, eps=0.05),
        {"activation": ["relu", "tanh"], "n_features": [50, 200], "solver": ["exact", "cg"]},
        cv=3,
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 8
    assert grid.best_score_ > 0.8
    assert set(grid.best_params_) == {"activation", "n_features", "solver"}


def test_classifier_binary_and_multiclass():
    X, y = make_blobs(90, centers=3, random_state=0)
    clf = KernelRegimeClassifier(300, random_state=0).fit(X, y)
    assert clf.decision_function(X).shape == (90, 3)
    assert clf.score(X, y) == 1.0
    Xb, yb = make_moons(60, noise=0.1, random_state=0)
    labels = np.where(yb == 1, "yes", "no")
    clf = KernelRegimeClassifier(300, random_state=0).fit(Xb, labels)
    assert clf.decision_function(Xb).shape == (60,)
    assert set(clf.predict(Xb)) <= {"yes", "no"}
    assert not hasattr(clf, "predict_proba")


def test_classifier_hinge_is_a_hard_margin_separator():
    X, y = make_moons(40, noise=0.05, random_state=1)
    clf = KernelRegimeClassifier(200, loss="hinge", solver="cvxpy", random_state=0).fit(X, y)
    margins = np.where(y == clf.classes_[1], 1, -1) * clf.decision_function(X)
    assert margins.min() >= 1 - 1e-6
    assert clf.score(X, y) == 1.0


def test_classifier_logistic_probabilities():
    X, y = make_moons(40, noise=0.1, random_state=2)
    clf = KernelRegimeClassifier(100, loss="logistic", solver="cvxpy", eps=0.2, random_state=0).fit(X, y)
    P = clf.predict_proba(X)
    assert P.shape == (40, 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    # predict thresholds the score at 0, predict_proba compares expit(s) with 1 − expit(s): the two rules
    # agree except for |s| ≲ 1e-16, where expit(s) rounds to exactly 1/2; compare away from that tie
    clear = np.abs(clf.decision_function(X)) > 1e-12
    assert clear.sum() >= 38
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)][clear], clf.predict(X)[clear])
    # the constraint: mean logistic loss <= eps
    s = np.where(y == 1, 1, -1) * clf.decision_function(X)
    assert np.mean(np.logaddexp(0, -s)) <= 0.2 + 1e-6


def test_bad_input_messages(data):
    X, y = data
    with pytest.raises(ValueError, match="NaN"):
        KernelRegimeRegressor(10).fit(np.where(X > 0.9, np.nan, X), y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        KernelRegimeRegressor(10).fit(X, np.where(y > 0.5, np.inf, y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        KernelRegimeRegressor(10).fit(X, y[:-1])
    with pytest.raises(ValueError, match="3"):
        KernelRegimeRegressor(10).fit(np.zeros((4, 2, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="0 sample"):
        KernelRegimeRegressor(10).fit(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="'eps' parameter"):
        KernelRegimeRegressor(10, eps=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="finite"):
        KernelRegimeRegressor(10, eps=float("inf")).fit(X, y)
    with pytest.raises(ValueError, match="'eps' parameter"):
        KernelRegimeRegressor(10, eps=float("nan")).fit(X, y)
    with pytest.raises(ValueError, match="relu"):
        KernelRegimeRegressor(10, activation="rleu").fit(X, y)
    with pytest.raises(ValueError, match="'solver' parameter"):
        KernelRegimeRegressor(10, solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="CLARABEL|installed"):
        KernelRegimeRegressor(10, solver="cvxpy", solver_options={"solver": "NOPE"}).fit(X, y)
    with pytest.raises(ValueError, match="'n_features' parameter"):
        KernelRegimeRegressor(0).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        KernelRegimeClassifier(10).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="solver='cvxpy'"):
        KernelRegimeClassifier(10, loss="hinge").fit(X, y > 0)


def test_device_cuda_without_gpu(data, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = data
    with pytest.raises(DeviceError, match="cuda"):
        KernelRegimeRegressor(10, device="cuda").fit(X, y)


def test_infeasible_cvxpy_program_raises_with_status():
    # more samples than features and eps below the least-squares floor: no c satisfies the bound
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(60, 2))
    y = rng.standard_normal(60)
    with pytest.raises(SolverError) as info:
        KernelRegimeRegressor(5, solver="cvxpy", eps=1e-6, random_state=0).fit(X, y)
    assert info.value.status == "infeasible"


def test_diverging_gd_learning_rate(data):
    X, y = data
    with pytest.raises(SolverError, match="smaller"):
        KernelRegimeRegressor(50, solver="gd", random_state=0, solver_options={"lr": 100.0}).fit(X, y)
