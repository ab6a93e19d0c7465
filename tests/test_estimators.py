"""KernelRegime estimators: the sklearn contract, agreement with the solvers, the output-layer base, bad input."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
import torch
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import kernelreg
from kernelreg import KernelRegimeClassifier, KernelRegimeRegressor, NotFittedError, RandomFeatureMap, solve
from kernelreg.exceptions import DeviceError, DeviceWarning, InfeasibleEpsWarning, SolverError


def test_sklearn_version_is_in_the_pinned_range():
    # the estimators use sklearn's private _param_validation; pyproject pins scikit-learn>=1.6,<1.10
    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    assert (1, 6) <= (major, minor) < (1, 10)


@parametrize_with_checks(
    [
        KernelRegimeRegressor(n_features=200),
        KernelRegimeRegressor(n_features=200, activation="tanh", fit_intercept=True),
        KernelRegimeRegressor(n_features=30, eps=1e-3),  # below the floor on most check data: the floor path
        KernelRegimeRegressor(n_features=30, on_infeasible="raise"),
        KernelRegimeRegressor(n_features=30, solver="cvxpy", eps=0.0),  # Φc = y in CVXPY: infeasible, the floor
        KernelRegimeRegressor(n_features=30, solver="cvxpy"),  # eps by leave-one-out, then CVXPY at it
        KernelRegimeRegressor(n_features=30, solver="gd", eps=1e-3, solver__max_iter=2000, activation__p=2,
                              activation="relu_power"),
        KernelRegimeClassifier(n_features=200),
        KernelRegimeClassifier(n_features=200, eps=0.0, offset_scale=None),  # the paper's regime
        KernelRegimeClassifier(n_features=30, eps=0.05, fit_intercept=True, warm_start=True),
        KernelRegimeClassifier(n_features=30, loss="hinge", solver="cvxpy", eps=0.0, random_state=0),
        KernelRegimeClassifier(n_features=200, loss="logistic", solver="cvxpy", eps=0.1, fit_intercept=True,
                               random_state=0),
        # the limit kernel; B = 50 keeps the checks' points inside the ball, where K∞ of ReLU is exact and fast
        KernelRegimeRegressor(n_features="inf", offset_scale=50.0),
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
    model = KernelRegimeRegressor(300, eps=1e-4, offset_scale=None, random_state=0).fit(X, y)
    Phi = RandomFeatureMap(300, random_state=0).fit(X).transform(X)
    direct = solve(Phi, y, eps=1e-4)
    np.testing.assert_allclose(model.coef_, direct.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.predict(X), Phi @ direct.coef, atol=1e-10)
    assert model.solution_.mse == pytest.approx(1e-4, rel=1e-8)
    assert model.solution_.lam > 0 and model.solution_.status == "optimal"


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


def test_coef_shapes_follow_one_rule(data):
    # 1-D exactly for one output (1-D y, two classes), (n_features, n_outputs) otherwise, as Ridge's 1-D / 2-D rule
    X, y = data
    Y = np.column_stack([y, -2 * y + 1])
    one = KernelRegimeRegressor(50, random_state=0).fit(X, y)
    col = KernelRegimeRegressor(50, random_state=0).fit(X, y[:, None])
    two = KernelRegimeRegressor(50, random_state=0).fit(X, Y)
    assert (one.coef_.shape, one.n_outputs_, np.ndim(one.intercept_)) == ((50,), 1, 0)
    assert (col.coef_.shape, col.n_outputs_, col.predict(X).shape) == ((50, 1), 1, (40, 1))
    assert (two.coef_.shape, two.n_outputs_, two.intercept_.shape) == ((50, 2), 2, (2,))
    binary = KernelRegimeClassifier(50, random_state=0).fit(X, y > 0.5)
    multi = KernelRegimeClassifier(50, random_state=0).fit(X, np.digitize(y, [0.3, 0.9]))
    assert (binary.coef_.shape, binary.n_outputs_) == ((50,), 1)
    assert (multi.coef_.shape, multi.n_outputs_) == ((50, 3), 3)


def test_infinite_width_is_kernel_ridge_on_the_limit_kernel_at_the_same_lam(data):
    from sklearn.kernel_ridge import KernelRidge

    from kernelreg.kernels import LimitKernel

    X, y = data
    X_test = np.random.default_rng(1).uniform(-1, 1, size=(30, 2))
    model = KernelRegimeRegressor("inf", eps=1e-3, offset_scale=None).fit(X, y)
    assert model.solution_.status == "optimal" and model.solution_.mse == pytest.approx(1e-3, rel=1e-8)
    assert model.dual_coef_.shape == (40,) and not hasattr(model, "coef_")
    K = LimitKernel("relu").fit(X)
    ridge = KernelRidge(alpha=model.solution_.lam, kernel="precomputed").fit(K(X), y)
    np.testing.assert_allclose(model.predict(X_test), ridge.predict(K(X_test, X)), rtol=1e-9, atol=1e-11)
    Y = np.column_stack([y, y**2])
    both = KernelRegimeRegressor("inf", eps=1e-3, activation="tanh", offset_scale=None).fit(X, Y)
    ridge = KernelRidge(alpha=both.solution_.lam, kernel="precomputed")
    Kt = LimitKernel("tanh").fit(X)
    np.testing.assert_allclose(both.predict(X_test), ridge.fit(Kt(X), Y).predict(Kt(X_test, X)), rtol=1e-8, atol=1e-10)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X_test), model.predict(X_test))


def test_finite_widths_approach_the_infinite_width_fit(data):
    # f_n is a Monte Carlo estimate of f_inf: over 5 seeds its mean sits within the seeds' error bar of f_inf
    X, y = data
    X_test = np.random.default_rng(1).uniform(-1, 1, size=(30, 2))
    limit = KernelRegimeRegressor("inf", eps=1e-3, offset_scale=None).fit(X, y).predict(X_test)
    gaps = []
    for n in (500, 8000):
        fits = np.array([KernelRegimeRegressor(n, eps=1e-3, offset_scale=None, random_state=s).fit(X, y).predict(X_test)
                         for s in range(5)])
        z = (fits.mean(axis=0) - limit) / (fits.std(axis=0, ddof=1) / np.sqrt(5))
        assert np.mean(z**2) < 6.0  # a t(4) variable has E[t^2] = 2
        gaps.append(np.abs(fits - limit).mean())
    assert gaps[1] < gaps[0] / 2.5  # ~ 1/sqrt(n): 16x the width, 4x closer


def test_multi_output_regression(data):
    X, y = data
    Y = np.column_stack([y, -2 * y + 1])
    model = KernelRegimeRegressor(300, random_state=0).fit(X, Y)
    np.testing.assert_allclose(model.predict(X), Y, atol=1e-7)


@pytest.mark.parametrize("solver", ["gd", "cg"])
def test_iterative_solvers_through_the_estimator(data, solver):
    X, y = data
    model = KernelRegimeRegressor(200, solver=solver, eps=1e-3, random_state=0, solver__max_iter=50_000,
                                  solver__history_every=1).fit(X, y)
    assert model.solution_.mse <= 1e-3 * (1 + 1e-9)
    assert model.solution_.method == solver
    # the per-iteration record is one structured array: the start (iter 0) and every iteration after it
    assert model.history_.dtype.names[:3] == ("iter", "mse", "norm")
    np.testing.assert_array_equal(model.history_["iter"], np.arange(model.n_iter_ + 1))
    assert model.history_["mse"][0] == pytest.approx(np.mean(y**2)) and model.history_["mse"][-1] <= 1e-3
    assert model.solution_.history == []


def test_long_runs_keep_a_thinned_history_unless_asked(data):
    # the case: a GD history pickled with the model made it 450 KB instead of 30 KB
    X, y = data
    model = KernelRegimeRegressor(100, solver="gd", eps=1e-6, random_state=0, solver__max_iter=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    every = model.history_["iter"][1] - model.history_["iter"][0]
    assert every == 20 and model.history_["iter"][-1] == model.n_iter_ and len(model.history_) <= 1002
    bare = pickle.loads(pickle.dumps(model))
    bare.history_ = bare.history_[:0]
    assert len(pickle.dumps(model)) < len(pickle.dumps(bare)) + 40_000  # 32 bytes per kept row


def test_pickle_round_trip_gives_identical_predictions(data):
    X, y = data
    model = KernelRegimeRegressor(100, eps=1e-4, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.predict(X), model.predict(X))  # bitwise: the same computation twice


def test_gpu_fitted_model_loads_on_a_cpu_only_machine(data, monkeypatch):
    # Simulated: without a GPU the fitted state is labelled "cuda" by hand. What this proves: loading decides the
    # device from the machine (CPU here, with one DeviceWarning per object fitted on the GPU) and predicts the
    # same. That the pickle holds no CUDA tensor is proved on a GPU machine by the next test.
    X, y = data
    model = KernelRegimeRegressor(100, eps=1e-4, random_state=0).fit(X, y)
    expected = model.predict(X)
    model.device_ = model.feature_map_.device_ = torch.device("cuda")
    blob = pickle.dumps(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="fitted on device 'cuda'.*loaded on the CPU") as record:
        again = pickle.loads(blob)
    assert {str(w.message).split(" was")[0] for w in record} == {"KernelRegimeRegressor", "RandomFeatureMap"}
    assert again.device_ == again.feature_map_.device_ == torch.device("cpu")
    np.testing.assert_array_equal(again.predict(X), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fitted_models_load_in_a_process_without_cuda(data, tmp_path):
    import os
    import subprocess
    import sys

    X, y = data
    models = [KernelRegimeRegressor(100, eps=1e-4, device="cuda", random_state=0).fit(X, y),
              kernelreg.AdaptiveRegressor((8,), max_epochs=5, device="cuda", random_state=0).fit(X, y)]
    assert models[0].feature_map_._transform_tensor(X).device.type == "cuda"
    (tmp_path / "models.pkl").write_bytes(pickle.dumps(models))
    np.save(tmp_path / "X.npy", X)
    code = (
        "import pickle, warnings, numpy as np\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        f"    models = pickle.loads(open({str(tmp_path / 'models.pkl')!r}, 'rb').read())\n"
        "assert any(x.category.__name__ == 'DeviceWarning' for x in w), [str(x.message) for x in w]\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, np.stack([m.predict(X) for m in models]))\n"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = np.stack([m.predict(X) for m in models])
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-9, atol=1e-9)


def test_one_fit_computes_and_checks_phi_once_and_never_copies_it_to_the_host(data, monkeypatch):
    import kernelreg.features as features
    import kernelreg.solvers._problem as problem

    X, y = data
    calls = {"forward": 0, "nan_scan": 0, "solver_check": 0, "numpy": []}
    made, received = [], []
    forward, scan, dense = RandomFeatureMap._forward, features._count_nonfinite, problem._dense_phi
    transform, source_init, to_numpy = RandomFeatureMap._transform_tensor, problem.DenseSource.__init__, torch.Tensor.numpy

    def count(key, fn):
        def wrapper(*args, **kwargs):
            calls[key] += 1
            return fn(*args, **kwargs)
        return wrapper

    def keep(store, fn, pick):
        def wrapper(*args, **kwargs):
            out = fn(*args, **kwargs)
            store.append(pick(args, out))
            return out
        return wrapper

    monkeypatch.setattr(RandomFeatureMap, "_forward", count("forward", forward))
    monkeypatch.setattr(features, "_count_nonfinite", count("nan_scan", scan))
    monkeypatch.setattr(problem, "_dense_phi", count("solver_check", dense))
    monkeypatch.setattr(RandomFeatureMap, "_transform_tensor", keep(made, transform, lambda a, out: out))
    monkeypatch.setattr(problem.DenseSource, "__init__", keep(received, source_init, lambda a, out: a[1]))
    monkeypatch.setattr(torch.Tensor, "numpy", keep(calls["numpy"], to_numpy, lambda a, out: (a[0], out)))
    KernelRegimeRegressor(300, eps=1e-4, random_state=0).fit(X, y)
    assert (calls["forward"], calls["nan_scan"], calls["solver_check"]) == (1, 1, 1)
    assert len(made) == 1 and len(received) == 1
    assert received[0].data_ptr() == made[0].data_ptr()  # the solver reads the feature map's storage: no copy
    # Φ never leaves torch as a copy: numpy() of it happens only as a zero-copy view (the CPU Gram's BLAS call)
    views = [(tensor, array) for tensor, array in calls["numpy"] if tensor.shape == (40, 300)]
    assert all(array.ctypes.data == made[0].data_ptr() for _, array in views)


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
    clf = KernelRegimeClassifier(300, eps=0, random_state=0).fit(X, y)
    assert clf.decision_function(X).shape == (90, 3)
    assert clf.score(X, y) == 1.0
    Xb, yb = make_moons(60, noise=0.1, random_state=0)
    labels = np.where(yb == 1, "yes", "no")
    clf = KernelRegimeClassifier(300, random_state=0).fit(Xb, labels)
    assert clf.decision_function(Xb).shape == (60,)
    assert set(clf.predict(Xb)) <= {"yes", "no"}


def test_squared_loss_probabilities_are_the_documented_rule():
    X, y = make_blobs(90, centers=3, random_state=0)
    clf = KernelRegimeClassifier(200, eps=0.05, random_state=0).fit(X[:60], y[:60])
    S = clf.decision_function(X[60:])
    delta = 1.0 / (60 + 3 + 2)
    G = delta * np.logaddexp(0.0, (1.0 + S) / (2.0 * delta))
    P = clf.predict_proba(X[60:])
    np.testing.assert_allclose(P, G / G.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)], clf.predict(X[60:]))
    # far from the data's scores the rule is the squared loss's own estimate P(class) = (1 + s) / 2
    s = np.array([0.2, -0.6])
    two = clf._proba_floor_ * np.logaddexp(0.0, (1.0 + np.array([-s, s])) / (2 * clf._proba_floor_))
    np.testing.assert_allclose(two[1] / two.sum(axis=0), (1 + s) / 2, atol=0.02)


def test_neg_log_loss_is_finite_in_cross_validation():
    X, y = make_moons(120, noise=0.3, random_state=0)
    for clf in (KernelRegimeClassifier(300, random_state=0), KernelRegimeClassifier(300, eps=0.2, random_state=0)):
        scores = cross_val_score(clf, X, y, cv=3, scoring="neg_log_loss")
        assert np.isfinite(scores).all() and (scores < 0).all()
    P = KernelRegimeClassifier(300, eps=0.2, random_state=0).fit(X[:80], y[:80]).predict_proba(X[80:])
    assert log_loss(y[80:], P) < np.log(2)  # better than a coin


def test_classifier_hinge_is_a_hard_margin_separator():
    X, y = make_moons(40, noise=0.05, random_state=1)
    clf = KernelRegimeClassifier(200, loss="hinge", solver="cvxpy", eps=0, random_state=0).fit(X, y)
    margins = np.where(y == clf.classes_[1], 1, -1) * clf.decision_function(X)
    assert margins.min() >= 1 - 1e-6
    assert clf.score(X, y) == 1.0
    np.testing.assert_allclose(clf.predict_proba(X).sum(axis=1), 1.0)


def test_classifier_logistic_probabilities():
    X, y = make_moons(40, noise=0.1, random_state=2)
    clf = KernelRegimeClassifier(100, loss="logistic", solver="cvxpy", eps=0.2, random_state=0).fit(X, y)
    P = clf.predict_proba(X)
    assert P.shape == (40, 2)
    np.testing.assert_allclose(P[:, 1], 1.0 / (1.0 + np.exp(-clf.decision_function(X))), rtol=1e-12)
    # predict thresholds the score at 0, predict_proba compares expit(s) with 1 − expit(s): the two rules
    # agree except for |s| ≲ 1e-16, where expit(s) rounds to exactly 1/2; compare away from that tie
    clear = np.abs(clf.decision_function(X)) > 1e-12
    assert clear.sum() >= 38
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)][clear], clf.predict(X)[clear])
    # the constraint: mean logistic loss <= eps
    s = np.where(y == 1, 1, -1) * clf.decision_function(X)
    assert np.mean(np.logaddexp(0, -s)) <= 0.2 + 1e-6


def test_multiclass_margin_losses_are_one_joint_program():
    X, y = make_blobs(45, centers=3, random_state=0)
    clf = KernelRegimeClassifier(60, loss="hinge", solver="cvxpy", eps=0, random_state=0).fit(X, y)
    assert isinstance(clf.solution_, kernelreg.Solution) and clf.coef_.shape == (60, 3)
    codes = np.where(y[:, None] == clf.classes_[None, :], 1.0, -1.0)
    assert (codes * clf.decision_function(X)).min() >= 1 - 1e-6  # every one-vs-rest margin of the hard margin


def test_sample_weights_are_repetitions(data):
    # independent truth: integer weights must give the fit of the data with each row repeated that often
    X, y = data
    w = np.arange(40) % 3  # zeros too: a zero weight is the row left out
    repeated = KernelRegimeRegressor(200, eps=1e-3, fit_intercept=True, random_state=0).fit(
        np.repeat(X, w, axis=0), np.repeat(y, w))
    weighted = KernelRegimeRegressor(200, eps=1e-3, fit_intercept=True, random_state=0).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-8, atol=1e-10)
    pipe = make_pipeline(StandardScaler(), KernelRegimeRegressor(200, eps=1e-3, random_state=0))
    pipe.fit(X, y, kernelregimeregressor__sample_weight=w)
    assert pipe[-1].solution_.mse == pytest.approx(1e-3, rel=1e-6)


def test_infeasible_eps_fits_the_floor_with_a_warning_or_raises():
    # more samples than features: eps below the least-squares floor
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(60, 2))
    y = rng.standard_normal(60)
    floor = KernelRegimeRegressor(5, eps=0, random_state=0).fit(X, y)  # the least-squares min-norm solution
    for solver in ("exact", "cvxpy"):
        with pytest.warns(InfeasibleEpsWarning, match=rf"eps=1e-06 is infeasible.*floor mse of these 60 samples is "
                                                      rf"{floor.solution_.mse:.6g}.*Use eps >= "):
            model = KernelRegimeRegressor(5, solver=solver, eps=1e-6, random_state=0).fit(X, y)
        np.testing.assert_allclose(model.coef_, floor.coef_, rtol=1e-9, atol=1e-12)
        assert model.solution_.info["eps_floor"] == pytest.approx(floor.solution_.mse)
        with pytest.raises(SolverError) as info:
            KernelRegimeRegressor(5, solver=solver, eps=1e-6, on_infeasible="raise", random_state=0).fit(X, y)
        assert info.value.status == "infeasible"


@pytest.mark.parametrize("loss, floor", [("hinge", 2.0), ("logistic", 2.0 * np.log(2.0))])
def test_margin_losses_below_their_floor_fit_the_floor(loss, floor):
    # hand floor: 5 of 35 samples repeat a point with the other label; at one point f(x) serves both, and
    # l(f) + l(-f) >= 2 (hinge, |f| <= 1) or 2 log 2 (logistic, f = 0), so the least mean loss is 5 * floor / 35
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (30, 2))
    y = (X[:, 0] > 0).astype(int)
    X, y = np.vstack([X, X[:5]]), np.concatenate([y, 1 - y[:5]])
    with pytest.warns(InfeasibleEpsWarning, match=f"least mean {loss} loss of these 35 samples is {5 * floor / 35:.6g}"):
        clf = KernelRegimeClassifier(100, loss=loss, solver="cvxpy", eps=0.05, offset_scale=None,
                                     random_state=0).fit(X, y)
    assert clf.solution_.info["eps_floor"] == pytest.approx(5 * floor / 35, rel=1e-6)
    assert clf.solution_.info["mean_loss"] == pytest.approx(5 * floor / 35, rel=1e-5)
    assert clf.score(X[5:30], y[5:30]) == 1.0  # the five conflicting points aside


def test_cvxpy_programs_do_not_depend_on_sample_order_or_repetition():
    # CVXPY poses the program on the unique samples in a canonical order (repeats become weights)
    X, y = make_moons(30, noise=0.2, random_state=0)
    w = np.arange(30) % 3
    order = np.random.default_rng(0).permutation(30)
    clf = KernelRegimeClassifier(50, loss="logistic", solver="cvxpy", eps=0.2, random_state=0)
    repeated = clf.fit(np.repeat(X, w, axis=0), np.repeat(y, w)).decision_function(X)
    weighted = clf.fit(X[order], y[order], sample_weight=w[order]).decision_function(X)
    np.testing.assert_array_equal(weighted, repeated)  # bitwise: one program, solved twice


def test_grid_search_over_eps_scores_every_point():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(90, 2))
    y = np.sin(3 * X[:, 0]) + 0.3 * rng.standard_normal(90)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InfeasibleEpsWarning)
        grid = GridSearchCV(KernelRegimeRegressor(20, random_state=0), {"eps": [1e-6, 1e-2, 0.1]}, cv=3).fit(X, y)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_refits_that_fail_leave_the_previous_model_whole(data, monkeypatch):
    import kernelreg.estimators._base as base

    X, y = data
    model = KernelRegimeRegressor(100, eps=1e-3, random_state=0).fit(X, y)
    before = (model.predict(X), model.feature_map_, model.coef_, model.n_features_in_)
    X3 = np.column_stack([X, X[:, :1]])
    # infeasible eps with on_infeasible="raise"; a failing solve; Ctrl-C inside the solver
    with pytest.raises(SolverError):
        model.set_params(n_features=3, eps=1e-9, on_infeasible="raise").fit(X3, y)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    def failed(*args, **kwargs):
        raise SolverError("boom", method="exact", status="failed")

    for stop, error in ((failed, SolverError), (interrupted, KeyboardInterrupt)):
        monkeypatch.setattr(base, "solve", stop)
        with pytest.raises(error):
            model.set_params(n_features=500, eps=1e-3).fit(X3, y)
    assert (model.feature_map_, model.coef_, model.n_features_in_) == before[1:]
    np.testing.assert_array_equal(model.predict(X), before[0])  # bitwise: the same fitted state, computed again


def test_warm_start_reuses_the_hidden_layer(data):
    X, y = data
    model = KernelRegimeRegressor(200, eps=1e-2, warm_start=True).fit(X, y)  # random_state=None: a new draw each time
    first = model.feature_map_
    model.set_params(eps=1e-3).fit(X, y)
    assert model.feature_map_ is first and model.solution_.mse == pytest.approx(1e-3, rel=1e-6)
    cold = KernelRegimeRegressor(200, eps=1e-3).fit(X, y)
    assert not np.allclose(cold.feature_map_.directions_, first.directions_)
    model.set_params(n_features=100).fit(X, y)  # other hidden-layer settings: a new draw
    assert model.feature_map_ is not first and model.coef_.shape == (100,)


def test_sub_parameters_route_like_the_dict_parameters(data):
    X, y = data
    by_dict = KernelRegimeRegressor(100, activation="relu_power", activation_params={"p": 2}, random_state=0,
                                    solver="gd", eps=1e-2, solver_options={"max_iter": 300}).fit(X, y)
    routed = KernelRegimeRegressor(100, activation="relu_power", activation__p=2, random_state=0, solver="gd",
                                   eps=1e-2, solver__max_iter=300).fit(X, y)
    np.testing.assert_array_equal(routed.coef_, by_dict.coef_)  # bitwise: the same computation, configured two ways
    assert repr(routed.feature_map_.activation_) == "relu_power(p=2)"
    grid = GridSearchCV(KernelRegimeRegressor(100, activation="relu_power", random_state=0),
                        {"activation__p": [1, 2]}, cv=2).fit(X, y)
    assert sorted(p["activation__p"] for p in grid.cv_results_["params"]) == [1, 2]
    assert sklearn.base.clone(routed).get_params()["solver__max_iter"] == 300
    with pytest.raises(ValueError, match=r"'p' twice: activation__p=3 and activation_params=\{'p': 2\}"):
        KernelRegimeRegressor(10, activation="relu_power", activation_params={"p": 2}, activation__p=3).fit(X, y)
    with pytest.raises(ValueError, match=r"unknown parameter 'solvr__max_iter'.*Did you mean 'solver__max_iter'"):
        KernelRegimeRegressor(10).set_params(solvr__max_iter=3).fit(X, y)
    with pytest.raises(ValueError, match=r"unknown parameter 'epsilon'.*Did you mean 'eps'"):
        KernelRegimeRegressor(10, epsilon=0.1).fit(X, y)


def test_not_fitted_error_is_kernelregs_and_sklearns(data):
    X, _ = data
    for est in (KernelRegimeRegressor(10), KernelRegimeClassifier(10)):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            est.predict(X)
        with pytest.raises(sklearn.exceptions.NotFittedError):
            sklearn.utils.validation.check_is_fitted(est)


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
    for eps in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=r"'eps' parameter of KernelRegimeRegressor must be a float in the range "
                                             r"\[0.0, inf\) or a str among \{.*'gcv'.*\}"):
            KernelRegimeRegressor(10, eps=eps).fit(X, y)
    with pytest.raises(ValueError, match="relu"):
        KernelRegimeRegressor(10, activation="rleu").fit(X, y)
    with pytest.raises(ValueError, match="'solver' parameter"):
        KernelRegimeRegressor(10, solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="'on_infeasible' parameter"):
        KernelRegimeRegressor(10, on_infeasible="clip").fit(X, y)
    with pytest.raises(ValueError, match="CLARABEL|installed"):
        KernelRegimeRegressor(10, solver="cvxpy", solver_options={"solver": "NOPE"}).fit(X, y)
    with pytest.raises(ValueError, match="'n_features' parameter"):
        KernelRegimeRegressor(0).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        KernelRegimeClassifier(10).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="solver='cvxpy'"):
        KernelRegimeClassifier(10, loss="hinge").fit(X, y > 0)
    with pytest.raises(ValueError, match="loss='logistic'.*needs eps > 0"):
        KernelRegimeClassifier(10, loss="logistic", solver="cvxpy", eps=0).fit(X, y > 0)
    with pytest.raises(ValueError, match=r"eps='loo'\) chooses eps on the squared loss.*loss='hinge' needs a number"):
        KernelRegimeClassifier(10, loss="hinge", solver="cvxpy").fit(X, y > 0)
    with pytest.raises(ValueError, match=r"n_features='inf'\).*offset_scale='data'.*Use offset_scale=None"):
        KernelRegimeRegressor("inf").fit(X, y)
    with pytest.raises(ValueError, match="sample_weight"):
        KernelRegimeRegressor(10).fit(X, y, sample_weight=np.ones(3))


def test_device_cuda_without_gpu(data, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = data
    with pytest.raises(DeviceError, match="cuda"):
        KernelRegimeRegressor(10, device="cuda").fit(X, y)


def test_diverging_gd_learning_rate(data):
    X, y = data
    with pytest.raises(SolverError, match="smaller"):
        KernelRegimeRegressor(50, solver="gd", random_state=0, solver_options={"lr": 100.0}).fit(X, y)


@pytest.mark.parametrize("cls", [KernelRegimeRegressor, KernelRegimeClassifier, kernelreg.AdaptiveRegressor,
                                 kernelreg.AdaptiveClassifier])
def test_every_public_class_and_method_has_its_own_numpydoc(cls):
    import inspect

    doc = inspect.getdoc(cls)
    for section in ("Parameters\n----------", "Attributes\n----------", "Examples\n--------"):
        assert section in doc, (cls.__name__, section)
    assert "<<" not in doc and "as in :class:" not in doc.lower()
    params = [p for p in inspect.signature(cls).parameters if p != "kwargs"]
    assert all(f"\n{name} : " in doc for name in params), [p for p in params if f"\n{p} : " not in doc]
    for name in ("fit", "predict", "partial_fit", "decision_function", "predict_proba", "predict_log_proba"):
        method = getattr(cls, name, None)
        if method is None or (name == "partial_fit" and "Adaptive" not in cls.__name__):
            continue
        text = inspect.getdoc(method)
        assert "Parameters\n----------" in text and "Returns\n-------" in text, (cls.__name__, name)


def test_verbose_reports_the_features_and_the_solve_once(data, capsys, caplog):
    # under pytest the messages go to its logging handler (kernelreg prints to stderr only when nobody listens)
    X, y = data
    with caplog.at_level("INFO", logger="kernelreg"):
        KernelRegimeRegressor(50, eps=1e-2, solver="gd", verbose=True, random_state=0,
                              solver__max_iter=20_000).fit(X, y)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("output layer by method='gd'" in m for m in messages) == 1
    assert sum("features Φ of shape (40, 50)" in m for m in messages) == 1
    assert "gd:" in capsys.readouterr().err  # the iterations' bar, left on screen
    KernelRegimeRegressor(50, eps=1e-2, solver="gd", random_state=0, solver__max_iter=20_000).fit(X, y)
    assert capsys.readouterr().err == ""
