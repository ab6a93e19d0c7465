"""Quickstart: the kernel regime in a few lines — random frozen layer, exact solve, GD on the same Φ."""

import numpy as np

from kernelreg import KernelRegimeRegressor, RandomFeatureMap, compare_fits, solve

rng = np.random.default_rng(0)
X = rng.uniform(-1, 1, size=(60, 2))
y = np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1])

# 1. The estimator: fit/predict like any scikit-learn regressor.
model = KernelRegimeRegressor(n_features=2000, activation="relu", eps=1e-6, random_state=0).fit(X, y)
print(f"train MSE {model.solution_.mse:.2e} (bound 1e-6), ‖c‖ = {model.solution_.norm:.3f}, λ = {model.solution_.lam:.3g}")

# 2. The same thing by hand: Φ from torch, then two solvers on one Φ.
fmap = RandomFeatureMap(2000, activation="relu", random_state=0).fit(X)
Phi = fmap.transform(X)
gd = solve(Phi, y, method="gd", eps=1e-2, max_iter=50_000)
convex = solve(Phi, y, method="exact", eps=gd.mse)      # the convex program at the error GD reached
cmp = compare_fits(convex, gd, X, fmap)
print(f"GD: {gd.n_iter} steps to MSE {gd.mse:.2e} in {gd.time_s:.2f}s; exact in {convex.time_s:.4f}s")
print(f"relative function-space gap over the data's convex hull: {cmp.rel_error:.2%}; "
      f"‖c_gd − c*‖/‖c*‖ = {cmp.rel_coef_distance:.3f}")
