"""Adaptive estimators: sklearn contract, warm-up → freeze → solve, the kernel-regime start, bad input."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from kernelreg import AdaptiveClassifier, AdaptiveRegressor, solve
from kernelreg.features import freeze
from kernelreg.networks import MLP


@parametrize_with_checks(
    [
        AdaptiveRegressor(hidden_layer_sizes=(16,), max_epochs=100),
        AdaptiveRegressor(hidden_layer_sizes=(16,), warmup_epochs=5),
        AdaptiveClassifier(hidden_layer_sizes=(16,), max_epochs=100),
        AdaptiveClassifier(hidden_layer_sizes=(16,), warmup_epochs=5),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(60, 2))
    return X, np.sin(3 * X[:, 0]) + X[:, 1] ** 2


def test_warmup_freeze_solve_is_the_exact_solve_on_the_frozen_features(data):
    X, y = data
    model = AdaptiveRegressor((120,), warmup_epochs=20, eps=1e-4, random_state=0).fit(X, y)
    assert len(model.history_) == 20
    Phi = model.feature_map_.transform(X)
    direct = solve(Phi - Phi.mean(0), y - y.mean(), eps=1e-4)
    np.testing.assert_allclose(model.coef_[:, 0], direct.coef, rtol=1e-9, atol=1e-12)
    assert np.mean((model.predict(X) - y) ** 2) == pytest.approx(1e-4, rel=1e-6)
    # the solved layer was written into the network: net_ predicts the same thing
    import torch

    with torch.no_grad():
        net_pred = model.net_(torch.as_tensor(X)).numpy()[:, 0]
    np.testing.assert_allclose(net_pred, model.predict(X), atol=1e-10)


def test_frozen_features_do_not_follow_later_training(data):
    X, y = data
    model = AdaptiveRegressor((30,), warmup_epochs=3, random_state=0).fit(X, y)
    before = model.feature_map_.transform(X)
    for p in model.net_.parameters():
        p.data.add_(1.0)
    np.testing.assert_array_equal(model.feature_map_.transform(X), before)  # bitwise: the same frozen map twice


def test_rowdy_kronecker_readout(data):
    X, y = data
    model = AdaptiveRegressor(
        (20,), activation="rowdy", activation_params={"base": "tanh", "K": 3}, warmup_epochs=5,
        readout="kronecker", random_state=0,
    ).fit(X, y)
    assert model.coef_.shape == (60, 1)  # N·K = 20·3 frozen features


def test_kernel_start_is_the_kernel_regime_solution(data):
    X, y = data
    start = AdaptiveRegressor((80,), warm_start="kernel", max_epochs=0, random_state=0).fit(X, y)
    fmap = freeze(start.net_).fit(X)
    Phi = fmap.transform(X)
    expected = solve(Phi - Phi.mean(0), y - y.mean())
    np.testing.assert_allclose(start.kernel_solution_.coef[:, 0], expected.coef, atol=1e-9)
    # an eps-relaxed start (the eps=0 interpolant has a huge norm, so any step of the hidden layer
    # wrecks it) continues with full training: the first loss is the kernel fit's, later ones lower
    trained = AdaptiveRegressor((80,), warm_start="kernel", eps=1e-3, max_epochs=50, lr=1e-4,
                                random_state=0).fit(X, y)
    assert trained.history_[0]["train_loss"] == pytest.approx(1e-3, rel=1e-6)
    assert min(h["train_loss"] for h in trained.history_) < 0.9e-3
    assert np.mean((trained.predict(X) - y) ** 2) < 0.9e-3


def test_warm_start_true_continues(data):
    X, y = data
    model = AdaptiveRegressor((30,), max_epochs=50, warm_start=True, random_state=0).fit(X, y)
    first_end = model.history_[-1]["train_loss"]
    model.fit(X, y)
    assert model.history_[0]["train_loss"] <= first_end * 1.01
    fresh = AdaptiveRegressor((30,), max_epochs=50, random_state=0).fit(X, y)
    assert fresh.history_[0]["train_loss"] > first_end


def test_classifier_full_and_frozen():
    X, y = make_moons(120, noise=0.1, random_state=0)
    full = AdaptiveClassifier((32,), random_state=0).fit(X, y)
    assert full.score(X, y) > 0.95
    np.testing.assert_allclose(full.predict_proba(X).sum(1), 1.0)
    frozen = AdaptiveClassifier((64,), warmup_epochs=10, random_state=0).fit(X, y)
    assert frozen.score(X, y) == 1.0 and not hasattr(frozen, "predict_proba")


def test_grid_search_and_pickle(data):
    X, y = data
    grid = GridSearchCV(
        AdaptiveRegressor((20,), max_epochs=50, random_state=0),
        {"activation": ["relu", "tanh"], "warmup_epochs": [None, 5]}, cv=2,
    ).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    model = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(model.predict(X), grid.best_estimator_.predict(X))  # bitwise: same weights, same path


def test_same_random_state_same_network(data):
    X, y = data
    a = AdaptiveRegressor((10,), max_epochs=5, random_state=3).fit(X, y)
    b = AdaptiveRegressor((10,), max_epochs=5, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))  # bitwise: the same training run twice in one process
    assert isinstance(a.net_, MLP)


def test_bad_input(data):
    X, y = data
    with pytest.raises(ValueError, match="warmup_epochs"):
        AdaptiveRegressor(then_solver="exact").fit(X, y)
    with pytest.raises(ValueError, match="readout"):
        AdaptiveRegressor(readout="kronecker").fit(X, y)
    with pytest.raises(ValueError, match="'lr' parameter"):
        AdaptiveRegressor(lr=0.0).fit(X, y)
    with pytest.raises(ValueError, match="'lr' parameter"):
        AdaptiveRegressor(lr=-1e-3).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        AdaptiveRegressor().fit(np.where(X > 0.9, np.nan, X), y)
    with pytest.raises(ValueError, match="relu"):
        AdaptiveRegressor(activation="rleu", max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        AdaptiveClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="'then_solver' parameter"):
        AdaptiveRegressor(warmup_epochs=1, then_solver="newton").fit(X, y)


def test_diverging_training_raises_instead_of_returning_the_untrained_start(data):
    from kernelreg.exceptions import DivergenceError

    X, y = data
    with pytest.raises(DivergenceError, match=r"train diverged at epoch \d+.*lr=1e\+06.*smaller lr") as info:
        AdaptiveRegressor(lr=1e6, max_epochs=50, random_state=0).fit(X, y)
    assert info.value.history[-1]["stop_reason"] == "diverged" and len(info.value.history) < 50
