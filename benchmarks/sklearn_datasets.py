"""The kernel-regime estimators against scikit-learn's peers on the five datasets that ship with scikit-learn.

Protocol (issue 14): every estimator is ``Pipeline(StandardScaler(), est)``, tuned by the same kind
of small grid with ``GridSearchCV`` over 5 shuffled folds (the same folds for every estimator);
the score is the best grid point's mean 5-fold test score (R² for regression, accuracy for
classification). Peers: ``KernelRidge`` (RBF; a one-vs-rest ±1 ``KernelRidge`` for classification,
the fit-time baseline), ``SVR``/``SVC`` (RBF), ``RBFSampler`` + ``RidgeCV``/``RidgeClassifierCV``,
and ``MLPRegressor``/``MLPClassifier``. Regression peers whose loss depends on the target's scale
(SVR, MLP) see a standardised target (``TransformedTargetRegressor``).

Sections:

* ``scores``   the table: tuned score of every estimator, the default kernel-regime estimator's
               score, and fit times of the tuned configurations relative to KernelRidge's tuned
               configuration, measured interleaved on the whole dataset in this process.
* ``offsets``  digits: the hidden layer's offsets (``offset_scale`` None = max‖x‖, 1.0, "data",
               "quantile"): numerical rank of the centred Φ, fraction of units whose zero-plane
               misses the training inputs, and 5-fold accuracy of the leave-one-out-tuned ridge on Φ.
* ``path``     the CV estimator's fit (the whole eps path by closed-form leave-one-out / GCV from one
               factorisation, then the solve) against one fit of the plain estimator at the chosen
               eps; the bare path against one exact solve on the same Φ; and the floor of any exact
               fit (forming the smaller Gram matrix of Φ and its eigendecomposition) against
               KernelRidge's whole fit.

Usage::

    python benchmarks/sklearn_datasets.py [--sections scores,offsets,path] [--datasets diabetes,...]
                                          [--repeats 5] [--out sklearn_datasets.json]

Run with ``OMP_NUM_THREADS=1 MKL_NUM_THREADS=1``; on a shared machine read the ratios.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import sklearn
import torch
from sklearn import datasets
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import RBFSampler
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.svm import SVC, SVR

import kernelreg
from certificate import interleaved  # the same timing rule as the other benchmarks (run from benchmarks/)
from kernelreg.features import RandomFeatureMap
from kernelreg.solvers import SpectralSolver, solve

SECTIONS = ("scores", "offsets", "path")
DATASETS = ("diabetes", "friedman1", "breast_cancer", "wine", "digits")
N_FEATURES = 1000


def load(name: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(X, y, task) of one dataset; friedman1 is make_friedman1(500 samples, noise=1, seed 0)."""
    if name == "friedman1":
        X, y = datasets.make_friedman1(n_samples=500, noise=1.0, random_state=0)
        return X, y, "regression"
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return X, y, "regression" if name == "diabetes" else "classification"


class KernelRidgeClassifier(ClassifierMixin, BaseEstimator):
    """KernelRidge on one-vs-rest ±1 targets, predicting the largest score (the classification time baseline)."""

    def __init__(self, alpha: float = 1.0, gamma: float | None = None) -> None:
        self.alpha = alpha
        self.gamma = gamma

    def fit(self, X, y):
        self._binarizer = LabelBinarizer(neg_label=-1, pos_label=1).fit(y)
        self.classes_ = self._binarizer.classes_
        self.model_ = KernelRidge(alpha=self.alpha, kernel="rbf", gamma=self.gamma).fit(X, self._binarizer.transform(y))
        return self

    def predict(self, X):
        scores = self.model_.predict(X)
        if scores.ndim == 1 or scores.shape[1] == 1:
            return self.classes_[(scores.ravel() > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]


def _standardised_target(est):
    """Regression peers whose loss depends on the target's scale see a standardised y."""
    return TransformedTargetRegressor(est, transformer=StandardScaler())


def peers(task: str, d: int) -> dict[str, tuple[Any, dict[str, list]]]:
    """Name -> (estimator, grid) of the scikit-learn peers; the grids are 4 x 4 at most."""
    gammas = [0.1 / d, 0.3 / d, 1.0 / d, 3.0 / d]
    if task == "regression":
        return {
            "KernelRidge": (KernelRidge(kernel="rbf"), {"alpha": [0.01, 0.1, 1.0, 10.0], "gamma": gammas}),
            "SVR": (_standardised_target(SVR()), {"regressor__C": [0.1, 1.0, 10.0, 100.0], "regressor__gamma": gammas}),
            "RBFSampler+RidgeCV": (
                make_pipeline(RBFSampler(n_components=N_FEATURES, random_state=0), RidgeCV(np.logspace(-3, 3, 13))),
                {"rbfsampler__gamma": gammas},
            ),
            "MLP": (
                _standardised_target(MLPRegressor(hidden_layer_sizes=(100,), max_iter=1000, random_state=0)),
                {"regressor__alpha": [1e-4, 1e-2, 1.0]},
            ),
        }
    return {
        "KernelRidge": (KernelRidgeClassifier(), {"alpha": [0.01, 0.1, 1.0, 10.0], "gamma": gammas}),
        "SVC": (SVC(), {"C": [0.1, 1.0, 10.0, 100.0], "gamma": gammas}),
        "RBFSampler+RidgeCV": (
            make_pipeline(RBFSampler(n_components=N_FEATURES, random_state=0),
                          RidgeClassifierCV(np.logspace(-3, 3, 13))),
            {"rbfsampler__gamma": gammas},
        ),
        "MLP": (MLPClassifier(hidden_layer_sizes=(100,), max_iter=1000, random_state=0), {"alpha": [1e-4, 1e-2, 1.0]}),
    }


def kernel_regime(task: str) -> dict[str, tuple[Any, dict[str, list]]]:
    """Name -> (estimator, grid): the CV estimator (eps by leave-one-out inside each fit) over a 2 x 2 x 2 grid,
    and the default estimator with no grid."""
    regression = task == "regression"
    cv = (kernelreg.KernelRegimeRegressorCV if regression else kernelreg.KernelRegimeClassifierCV)(
        N_FEATURES, fit_intercept=True, random_state=0
    )
    grid = {"n_features": [N_FEATURES, 3 * N_FEATURES], "activation": ["relu", "softplus"],
            "offset_scale": ["data", "quantile"]}
    default = (kernelreg.KernelRegimeRegressor if regression else kernelreg.KernelRegimeClassifier)(random_state=0)
    return {"kernel regime (tuned)": (cv, grid), "kernel regime (default)": (default, {})}


def folds(task: str):
    """The same 5 shuffled folds for every estimator of a dataset."""
    return (StratifiedKFold if task == "classification" else KFold)(5, shuffle=True, random_state=0)


def tune(est, grid: dict[str, list], X, y, task: str) -> dict[str, Any]:
    """Best mean 5-fold score of Pipeline(StandardScaler, est) over the grid, with its parameters."""
    pipe = Pipeline([("scale", StandardScaler()), ("est", est)])
    scoring = "r2" if task == "regression" else "accuracy"
    search = GridSearchCV(pipe, {f"est__{k}": v for k, v in grid.items()}, cv=folds(task), scoring=scoring,
                          error_score=np.nan)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if grid:
            search.fit(X, y)
            best = {k.removeprefix("est__"): v for k, v in search.best_params_.items()}
            scores = search.cv_results_["mean_test_score"]
            result = {"score": float(search.best_score_), "params": best,
                      "n_failed": int(np.isnan(scores).sum()), "n_grid": int(scores.size)}
        else:
            cv_scores = cross_val_score(pipe, X, y, cv=folds(task), scoring=scoring)
            result = {"score": float(np.mean(cv_scores)), "params": {}, "n_failed": 0, "n_grid": 1}
    result["search_s"] = time.perf_counter() - start
    return result


def timed(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Fastest interleaved wall time of each function (``certificate.interleaved``), without convergence warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return interleaved(fns, repeats)


def scores_section(names: list[str], repeats: int) -> list[dict[str, Any]]:
    """Tuned scores of every estimator and interleaved fit times of the tuned configurations."""
    rows = []
    for name in names:
        X, y, task = load(name)
        entries = {**peers(task, X.shape[1]), **kernel_regime(task)}
        results, fitters = {}, {}
        for label, (est, grid) in entries.items():
            results[label] = tune(est, grid, X, y, task)
            configured = Pipeline([("scale", StandardScaler()), ("est", clone(est).set_params(**results[label]["params"]))])
            fitters[label] = (lambda p=configured: clone(p).fit(X, y))
            print(f"{name:14s} {label:26s} {results[label]['score']:.4f}  {results[label]['params']}", flush=True)
        times = timed(fitters, repeats)
        base = times["KernelRidge"]
        for label in results:
            results[label]["fit_s"] = times[label]
            results[label]["fit_vs_kernelridge"] = times[label] / base
        peer_best = max(results[p]["score"] for p in peers(task, X.shape[1]))
        rows.append({"dataset": name, "task": task, "shape": list(X.shape), "results": results,
                     "best_peer": peer_best})
        tuned = results["kernel regime (tuned)"]
        print(f"{name:14s} best peer {peer_best:.4f}; kernel regime tuned {tuned['score']:.4f} "
              f"(gap {100 * (peer_best - tuned['score']):+.2f} points), fit {tuned['fit_vs_kernelridge']:.2f}x "
              f"KernelRidge; default {results['kernel regime (default)']['score']:.4f}", flush=True)
    return rows


def _classes_pm1(y: np.ndarray) -> np.ndarray:
    """One-vs-rest ±1 targets."""
    return LabelBinarizer(neg_label=-1, pos_label=1).fit_transform(y).astype(np.float64)


def offsets_section(repeats: int) -> list[dict[str, Any]]:
    """Digits: rank of Φ, units whose zero-plane misses the data, and leave-one-out-tuned accuracy per offset law."""
    X, y, task = load("digits")
    rows = []
    for law in (None, 1.0, "data", "quantile"):
        Xs = StandardScaler().fit_transform(X)
        fmap = RandomFeatureMap(N_FEATURES, offset_scale=law, random_state=0).fit(Xs)
        Phi = fmap.transform(Xs)
        s = np.linalg.svd(Phi - Phi.mean(axis=0), compute_uv=False)
        rank = int((s > 1e-10 * s[0]).sum())
        accs = []
        for k, (tr, te) in enumerate(folds(task).split(X, y)):
            scaler = StandardScaler().fit(X[tr])
            fmap = RandomFeatureMap(N_FEATURES, offset_scale=law, random_state=k).fit(scaler.transform(X[tr]))
            P_tr, P_te = fmap.transform(scaler.transform(X[tr])), fmap.transform(scaler.transform(X[te]))
            Y = _classes_pm1(y[tr])
            lam = SpectralSolver(P_tr, Y, fit_intercept=True).cv_path(criterion="loo").best_lam
            sol = solve(P_tr, Y, lam=lam, fit_intercept=True)
            accs.append(float(np.mean(np.argmax(P_te @ sol.coef + sol.intercept, axis=1) == y[te])))
        row = {"offset_scale": law, "rank_1e-10": rank, "inactive_fraction": fmap.inactive_fraction_,
               "inactive_sides": fmap.inactive_sides_, "accuracy": float(np.mean(accs))}
        rows.append(row)
        print(f"digits offset_scale={law!s:9s} rank {rank:4d}/{N_FEATURES}  inactive {row['inactive_fraction']:.3f} "
              f"{row['inactive_sides']}  accuracy {row['accuracy']:.4f}", flush=True)
    return rows


def _gram_eigh(Phi: np.ndarray):
    """Eigendecomposition of the smaller Gram matrix of Φ (ΦΦᵀ or ΦᵀΦ), as the exact solver forms it."""
    G = Phi @ Phi.T if Phi.shape[0] <= Phi.shape[1] else Phi.T @ Phi
    return torch.linalg.eigh(torch.from_numpy(G))


def path_section(names: list[str], repeats: int) -> list[dict[str, Any]]:
    """The CV estimator's fit (whole eps path + the solve) against one fit at its chosen eps, and the bare path."""
    rows = []
    for name in names:
        X, y, task = load(name)
        Xs = StandardScaler().fit_transform(X)
        regression = task == "regression"
        cv_class = kernelreg.KernelRegimeRegressorCV if regression else kernelreg.KernelRegimeClassifierCV
        one_class = kernelreg.KernelRegimeRegressor if regression else kernelreg.KernelRegimeClassifier
        cv = cv_class(N_FEATURES, fit_intercept=True, random_state=0).fit(Xs, y)
        one = one_class(N_FEATURES, eps=cv.eps_, fit_intercept=True, random_state=0)
        gcv = cv_class(N_FEATURES, criterion="gcv", fit_intercept=True, random_state=0)
        Y = y.astype(np.float64) if regression else _classes_pm1(y)
        Phi = cv.feature_map_.transform(Xs)
        fns = {
            "one fit": lambda: clone(one).fit(Xs, y),
            "cv fit (loo)": lambda: clone(cv).fit(Xs, y),
            "cv fit (gcv)": lambda: clone(gcv).fit(Xs, y),
            "one solve": lambda: solve(Phi, Y, eps=cv.eps_, fit_intercept=True),
            "loo path": lambda: SpectralSolver(Phi, Y, fit_intercept=True).cv_path(criterion="loo"),
            # the floor of any exact path: form the smaller Gram matrix of Φ and eigendecompose it, against
            # KernelRidge's whole fit (an RBF kernel and a Cholesky solve) at its default parameters
            "gram + eigh": lambda: _gram_eigh(Phi),
            "KernelRidge fit": lambda: KernelRidge(kernel="rbf").fit(Xs, Y),
        }
        times = timed(fns, repeats)
        row = {"dataset": name, "shape": list(Phi.shape), "n_outputs": int(Y.shape[1]) if Y.ndim > 1 else 1,
               "times_s": times, "eps_relative": float(cv.cv_results_["eps_relative"][cv.best_index_]),
               "cv_loo_vs_one_fit": times["cv fit (loo)"] / times["one fit"],
               "cv_gcv_vs_one_fit": times["cv fit (gcv)"] / times["one fit"],
               "loo_path_vs_one_solve": times["loo path"] / times["one solve"],
               "one_fit_vs_kernelridge": times["one fit"] / times["KernelRidge fit"],
               "gram_eigh_vs_kernelridge": times["gram + eigh"] / times["KernelRidge fit"]}
        rows.append(row)
        print(f"{name:14s} Phi {Phi.shape}: one fit {times['one fit']:.3f} s; CV fit (50 eps) "
              f"{row['cv_loo_vs_one_fit']:.2f}x (loo), {row['cv_gcv_vs_one_fit']:.2f}x (gcv); bare loo path "
              f"{row['loo_path_vs_one_solve']:.2f}x one exact solve; one fit {row['one_fit_vs_kernelridge']:.2f}x and "
              f"Gram + eigh alone {row['gram_eigh_vs_kernelridge']:.2f}x KernelRidge's fit", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    sections = args.sections.split(",")
    names = args.datasets.split(",")
    for value, known in ((sections, SECTIONS), (names, DATASETS)):
        unknown = sorted(set(value) - set(known))
        if unknown:
            parser.error(f"unknown {unknown}; choose from {known}")
    record: dict[str, Any] = {
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "sklearn": sklearn.__version__,
                     "torch": torch.__version__, "kernelreg": getattr(kernelreg, "__version__", "?")},
        "device": "cpu", "dtype": "float64", "n_features": N_FEATURES, "machine": platform.machine(),
        "threads": 1,
    }
    if "scores" in sections:
        record["scores"] = scores_section(names, args.repeats)
    if "offsets" in sections:
        record["offsets"] = offsets_section(args.repeats)
    if "path" in sections:
        record["path"] = path_section(names, args.repeats)
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=2, default=str))


if __name__ == "__main__":
    main()
