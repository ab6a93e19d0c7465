"""The built-in demo: one kernel-regime fit, the exact solver against GD / Adam / CG on the same Φ."""

from __future__ import annotations

import time

import numpy as np

from kernelreg.compare import compare_methods, format_table
from kernelreg.estimators import KernelRegimeClassifier, KernelRegimeRegressor


def run(device: str = "cpu", seed: int = 0) -> dict:
    """Fit a 1-D target in the kernel regime, compare the solvers, and classify two moons; print a summary."""
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(-1, 1, size=(40, 1)), axis=0)
    y = np.sin(4 * X[:, 0]) + 0.3 * np.cos(9 * X[:, 0])
    X_test = np.linspace(-1, 1, 400).reshape(-1, 1)
    y_test = np.sin(4 * X_test[:, 0]) + 0.3 * np.cos(9 * X_test[:, 0])

    print("kernelreg demo: 40 points of sin(4x) + 0.3 cos(9x), 2000 frozen random units\n")
    rows = []
    for activation in ("relu", "relu_power", "logistic", "half_exp"):
        params = {"p": 2} if activation == "relu_power" else None
        model = KernelRegimeRegressor(
            2000, activation=activation, activation_params=params, eps=1e-4, device=device, random_state=seed
        )
        t0 = time.perf_counter()
        model.fit(X, y)
        fit_s = time.perf_counter() - t0
        test_mse = float(np.mean((model.predict(X_test) - y_test) ** 2))
        rows.append({"activation": repr(model.feature_map_.activation_), "train_mse": model.solution_.mse,
                     "test_mse": test_mse, "norm": model.solution_.norm, "lam": model.solution_.lam, "fit_s": fit_s})
    print("Exact ε-solve (eps = 1e-4) per activation:")
    print(format_table(rows), "\n")

    relu = KernelRegimeRegressor(2000, random_state=seed, device=device).fit(X, y)
    Phi = relu.feature_map_.transform(X)
    cmp_rows = compare_methods(
        Phi, y, ("gd", "adam", "cg"), eps=1e-3, X_train=X, features=relu.feature_map_,
        options={"gd": {"max_iter": 20000, "history_every": 100}, "adam": {"max_iter": 20000, "lr": 1e-2}, "cg": {"max_iter": 2000}},
    )
    print("GD / Adam / CG to MSE 1e-3 vs the exact min-norm solution at the MSE each reached (ReLU):")
    print(format_table(cmp_rows, ["method", "status", "n_iter", "mse", "norm", "reference_norm",
                                  "rel_coef_distance", "rel_error", "time_s", "reference_time_s"]), "\n")

    Xm, ym = make_moons(400, noise=0.15, random_state=seed)
    Xtr, Xte, ytr, yte = train_test_split(Xm, ym, random_state=seed)
    clf = KernelRegimeClassifier(1000, eps=0.05, random_state=seed, device=device).fit(Xtr, ytr)
    acc = clf.score(Xte, yte)
    print(f"Two moons, KernelRegimeClassifier(1000, eps=0.05): test accuracy {acc:.3f}")
    return {"regression": rows, "comparison": cmp_rows, "moons_accuracy": acc}


if __name__ == "__main__":
    run()
