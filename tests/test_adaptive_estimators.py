"""Adaptive estimators: sklearn contract, warm-up → freeze → solve, the kernel-regime start, partial_fit, bad input."""

import pickle

import numpy as np
import pytest
import torch
from scipy.special import expit
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.estimator_checks import parametrize_with_checks

from kernelreg import AdaptiveClassifier, AdaptiveRegressor, solve
from kernelreg.exceptions import DeviceWarning, DivergenceError
from kernelreg.features import freeze
from kernelreg.networks import MLP
from kernelreg.training import train


@parametrize_with_checks(
    [  # a few epochs at a larger lr: enough for the checks' scores, fast
        AdaptiveRegressor(hidden_layer_sizes=(8,), max_epochs=20, lr=0.05),
        AdaptiveRegressor(hidden_layer_sizes=(32,), warmup_epochs=3),
        AdaptiveRegressor(hidden_layer_sizes=(8,), max_epochs=20, lr=0.05, activation="tanh",
                          optimizer__weight_decay=1e-4),
        AdaptiveClassifier(hidden_layer_sizes=(8,), max_epochs=20, lr=0.05),
        AdaptiveClassifier(hidden_layer_sizes=(8,), warmup_epochs=3),
        AdaptiveClassifier(hidden_layer_sizes=(8,), warmup_epochs=2, then_solver="cvxpy", warm_start="kernel"),
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
    assert len(model.history_) == 20 and model.frozen_
    Phi = model.feature_map_.transform(X)
    direct = solve(Phi, y, eps=1e-4, fit_intercept=True)
    np.testing.assert_allclose(model.coef_, direct.coef, rtol=1e-9, atol=1e-12)
    assert model.intercept_ == pytest.approx(direct.intercept, rel=1e-9)
    assert np.mean((model.predict(X) - y) ** 2) == pytest.approx(1e-4, rel=1e-6)
    # the solved layer was written into the network: net_ predicts the same thing
    with torch.no_grad():
        net_pred = model.net_(torch.as_tensor(X)).numpy()[:, 0]
    np.testing.assert_allclose(net_pred, model.predict(X), atol=1e-10)


def test_full_training_reads_the_trained_output_layer(data):
    X, y = data
    model = AdaptiveRegressor((20,), max_epochs=30, random_state=0).fit(X, y)
    assert not model.frozen_ and model.solution_ is None and model.coef_.shape == (20,)
    np.testing.assert_allclose(model.coef_, model.net_.output.weight.detach().numpy()[0])
    with torch.no_grad():
        np.testing.assert_allclose(model.predict(X), model.net_(torch.as_tensor(X)).numpy()[:, 0], atol=1e-12)


def test_predictions_follow_the_fitted_state_not_the_parameters(data):
    # the case: set_params(warmup_epochs=None) after a warm-up fit moved predictions by 1.23
    X, y = data
    model = AdaptiveRegressor((30,), warmup_epochs=3, random_state=0).fit(X, y)
    before = model.predict(X)
    model.set_params(warmup_epochs=None, readout="last", max_epochs=7, lr=1.0)
    np.testing.assert_array_equal(model.predict(X), before)  # bitwise: the same fitted state, computed again


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
    assert model.coef_.shape == (60,)  # N·K = 20·3 frozen features


def test_kernel_start_is_the_kernel_regime_solution(data):
    X, y = data
    start = AdaptiveRegressor((80,), warm_start="kernel", max_epochs=0, random_state=0).fit(X, y)
    Phi = freeze(start.net_).fit(X).transform(X)
    expected = solve(Phi, y, fit_intercept=True)
    np.testing.assert_allclose(start.kernel_solution_.coef, expected.coef, atol=1e-9)
    # an eps-relaxed start (the eps=0 interpolant has a huge norm, so any step of the hidden layer
    # wrecks it) continues with full training: the first loss is the kernel fit's, later ones lower
    trained = AdaptiveRegressor((80,), warm_start="kernel", eps=1e-3, max_epochs=50, lr=1e-4,
                                random_state=0).fit(X, y)
    assert trained.history_[0]["train_loss"] == pytest.approx(1e-3, rel=1e-6)
    assert trained.history_["train_loss"].min() < 0.9e-3
    assert np.mean((trained.predict(X) - y) ** 2) < 0.9e-3


def test_warm_start_true_continues(data):
    X, y = data
    model = AdaptiveRegressor((30,), max_epochs=50, warm_start=True, random_state=0).fit(X, y)
    first_end = model.history_[-1]["train_loss"]
    model.fit(X, y)
    assert model.history_[0]["train_loss"] <= first_end * 1.01
    fresh = AdaptiveRegressor((30,), max_epochs=50, random_state=0).fit(X, y)
    assert fresh.history_[0]["train_loss"] > first_end


def test_partial_fit_is_one_epoch_of_the_training_loop(data):
    # independent truth: the training loop run for k epochs on the same start (Adam's state carried across calls)
    X, y = data
    model = AdaptiveRegressor((16,), lr=1e-2, random_state=0)
    for _ in range(5):
        model.partial_fit(X, y)
    init_seed, train_seed = check_random_state(0).randint(2**31 - 1, size=2)
    net = MLP(2, (16,), 1, random_state=int(init_seed))
    train(net, X, y, lr=1e-2, max_epochs=5, restore_best=False)
    with torch.no_grad():
        expected = net(torch.as_tensor(X)).numpy()[:, 0]
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(model.history_["epoch"], np.arange(1, 6))
    assert model.n_iter_ == 5
    assert not hasattr(AdaptiveRegressor(warmup_epochs=2), "partial_fit")


def test_classifier_partial_fit_needs_the_classes_first():
    X, y = make_blobs(90, centers=3, random_state=0)
    clf = AdaptiveClassifier((16,), lr=0.05, random_state=0)
    with pytest.raises(ValueError, match="needs classes="):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y != 2], y[y != 2], classes=[0, 1, 2])  # the first batch misses class 2
    for _ in range(30):
        clf.partial_fit(X, y)
    assert clf.predict_proba(X).shape == (90, 3) and clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match=r"labels \[7\] that are not in classes"):
        clf.partial_fit(X[:3], np.array([0, 1, 7]))


def test_classifier_full_and_frozen():
    X, y = make_moons(120, noise=0.1, random_state=0)
    full = AdaptiveClassifier((32,), random_state=0).fit(X, y)
    assert full.score(X, y) > 0.95 and full.coef_.shape == (32,)  # two classes: one logit
    np.testing.assert_allclose(full.predict_proba(X)[:, 1], expit(full.decision_function(X)), rtol=1e-12)
    frozen = AdaptiveClassifier((64,), warmup_epochs=10, random_state=0).fit(X, y)
    assert frozen.score(X, y) == 1.0
    P = frozen.predict_proba(X)  # squared loss on ±1 codes: the documented rule, a finite log loss
    np.testing.assert_array_equal(frozen.classes_[P.argmax(axis=1)], frozen.predict(X))
    assert np.isfinite(log_loss(y, P)) and log_loss(y, P) < np.log(2)


def test_sample_weights_are_repetitions(data):
    X, y = data
    w = np.arange(60) % 3  # zeros too: a zero weight is the row left out
    for params in ({"max_epochs": 20}, {"warmup_epochs": 3, "eps": 1e-3}):
        repeated = AdaptiveRegressor((16,), random_state=0, **params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
        weighted = AdaptiveRegressor((16,), random_state=0, **params).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-7, atol=1e-9)
    Xc, yc = make_blobs(60, centers=3, random_state=0)
    repeated = AdaptiveClassifier((16,), max_epochs=20, random_state=0).fit(np.repeat(Xc, w, axis=0), np.repeat(yc, w))
    pipe = make_pipeline(StandardScaler(with_mean=False, with_std=False),
                         AdaptiveClassifier((16,), max_epochs=20, random_state=0))
    pipe.fit(Xc, yc, adaptiveclassifier__sample_weight=w)
    np.testing.assert_allclose(pipe.predict_proba(Xc), repeated.predict_proba(Xc), rtol=1e-7, atol=1e-9)


def test_validation_fraction_monitors_the_held_out_loss(data):
    X, y = data
    model = AdaptiveRegressor((16,), max_epochs=200, lr=0.05, validation_fraction=0.25, early_stopping=5,
                              random_state=0).fit(X, y)
    valid = model.history_["valid_loss"]
    assert np.isfinite(valid).all() and model.stop_reason_ == "early_stopping" and len(valid) < 200
    # the estimator hands the split to the training loop: the same run by hand gives the same weights
    init_seed, train_seed = check_random_state(0).randint(2**31 - 1, size=2)
    net = MLP(2, (16,), 1, random_state=int(init_seed))
    result = train(net, X, y, lr=0.05, max_epochs=200, validation=0.25, early_stopping=5,
                   random_state=int(train_seed))
    assert result.monitor == "valid_loss" and len(result.history) == len(valid)
    with torch.no_grad():
        np.testing.assert_allclose(model.predict(X), net(torch.as_tensor(X)).numpy()[:, 0], rtol=1e-10, atol=1e-12)


def test_sub_parameters_route_to_the_optimizer(data):
    X, y = data
    by_lr = AdaptiveRegressor((8,), max_epochs=10, lr=1e-3, optimizer_params={"weight_decay": 1e-2},
                              random_state=0).fit(X, y)
    routed = AdaptiveRegressor((8,), max_epochs=10, lr=0.5, optimizer__lr=1e-3, optimizer__weight_decay=1e-2,
                               random_state=0).fit(X, y)
    np.testing.assert_array_equal(routed.predict(X), by_lr.predict(X))  # bitwise: one run configured two ways
    rowdy = AdaptiveRegressor((8,), activation="rowdy", activation__base="tanh", activation__K=2, max_epochs=1,
                              random_state=0).fit(X, y)
    assert type(rowdy.net_.blocks[0].activation).__name__ == "RowdyActivation"
    with pytest.raises(ValueError, match=r"unknown parameter 'optimiser__lr'.*Did you mean 'optimizer__lr'"):
        AdaptiveRegressor(optimiser__lr=1e-3).fit(X, y)


def test_diverging_training_raises_and_keeps_the_previous_model(data):
    X, y = data
    model = AdaptiveRegressor((16,), max_epochs=20, random_state=0).fit(X, y)
    before = model.predict(X)
    with pytest.raises(DivergenceError, match=r"train diverged at epoch \d+.*lr=1e\+06.*smaller lr") as info:
        model.set_params(lr=1e6, max_epochs=50).fit(X, y)
    assert info.value.history[-1]["stop_reason"] == "diverged" and len(info.value.history) < 50
    np.testing.assert_array_equal(model.predict(X), before)  # bitwise: the previous fitted state, computed again


def test_interrupted_continued_fit_leaves_the_network_untouched(data, monkeypatch):
    import kernelreg.estimators._adaptive as adaptive

    X, y = data
    model = AdaptiveRegressor((16,), max_epochs=20, warm_start=True, random_state=0).fit(X, y)
    before = (model.predict(X), [p.detach().clone() for p in model.net_.parameters()])
    real_train = adaptive.train

    def interrupted(net, *args, **kwargs):
        real_train(net, *args, **{**kwargs, "max_epochs": 3})  # the continued copy moves, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(adaptive, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    np.testing.assert_array_equal(model.predict(X), before[0])
    for p, q in zip(model.net_.parameters(), before[1]):
        assert torch.equal(p, q)


def test_gpu_fitted_network_loads_on_a_cpu_only_machine(data, monkeypatch):
    # Simulated as in test_estimators: labels say "cuda", the tensors are on the CPU of this GPU-less machine.
    X, y = data
    model = AdaptiveRegressor((8,), max_epochs=5, random_state=0).fit(X, y)
    expected = model.predict(X)
    model.device_ = model.feature_map_.device_ = torch.device("cuda")
    blob = pickle.dumps(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="loaded on the CPU"):
        again = pickle.loads(blob)
    assert again.device_.type == "cpu" and next(again.net_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(again.predict(X), expected)


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
    for lr in (0.0, -1e-3):
        with pytest.raises(ValueError, match="'lr' parameter"):
            AdaptiveRegressor(lr=lr).fit(X, y)
    with pytest.raises(ValueError, match="'validation_fraction' parameter"):
        AdaptiveRegressor(validation_fraction=1.5).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        AdaptiveRegressor().fit(np.where(X > 0.9, np.nan, X), y)
    with pytest.raises(ValueError, match="relu"):
        AdaptiveRegressor(activation="rleu", max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        AdaptiveClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="'then_solver' parameter"):
        AdaptiveRegressor(warmup_epochs=1, then_solver="newton").fit(X, y)
    model = AdaptiveRegressor((4,), max_epochs=1).partial_fit(X, y)
    with pytest.raises(ValueError, match="y has 2 output"):
        model.partial_fit(X, np.column_stack([y, y]))
