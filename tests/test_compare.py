"""compare_fits / compare_methods against hand-computed cases and the solvers' known behaviour."""

import numpy as np
import pytest
from scipy.spatial import Delaunay

from kernelreg.compare import compare_fits, compare_methods, format_table, hull_points
from kernelreg.features import RandomFeatureMap
from kernelreg.solvers import Solution, solve


def _sol(coef, method="x", mse=0.0, time_s=0.0):
    coef = np.asarray(coef, float)
    return Solution(coef=coef, mse=mse, norm=float(np.linalg.norm(coef)), method=method, status="optimal",
                    n_iter=0, time_s=time_s, history=[], lam=None)


def test_hull_points_2d_lie_in_the_hull_and_cover_it():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    P = hull_points(X, grid_size=41)
    assert np.all(P.sum(axis=1) <= 1 + 1e-12) and np.all(P >= -1e-12)
    # a 41x41 grid on the unit square has 41*42/2 points on or under the diagonal
    assert P.shape[0] == 41 * 42 // 2


def test_hull_points_1d_and_high_dimension():
    X1 = np.array([[2.0], [-1.0], [0.5]])
    P1 = hull_points(X1, grid_size=7)
    np.testing.assert_allclose(P1.ravel(), np.linspace(-1, 2, 7))
    X5 = np.random.default_rng(0).standard_normal((30, 5))
    P5 = hull_points(X5, n_points=500, random_state=0)
    assert P5.shape == (500, 5)
    assert np.all(Delaunay(X5).find_simplex(P5) >= 0)


def test_hull_points_rejects_flat_sets():
    with pytest.raises(ValueError, match="span less than"):
        hull_points(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))


def test_compare_fits_hand_case():
    # Φ(x) = [x, 1]; f_a = x, f_b = x + 0.1 on [0, 1]: mean gap 0.1, max |f_a| = 1
    X = np.array([[0.0], [1.0]])
    features = lambda P: np.column_stack([P[:, 0], np.ones(len(P))])
    a, b = _sol([1.0, 0.0], "exact", time_s=0.5), _sol([1.0, 0.1], "gd", time_s=2.0)
    cmp = compare_fits(a, b, X, features, grid_size=101)
    assert cmp.rel_error == pytest.approx(0.1)
    assert cmp.coef_distance == pytest.approx(0.1)
    assert cmp.rel_coef_distance == pytest.approx(0.1)
    assert (cmp.time_a, cmp.time_b, cmp.method_a, cmp.method_b) == (0.5, 2.0, "exact", "gd")
    assert cmp.n_points == 101


def test_compare_fits_shape_mismatch():
    with pytest.raises(ValueError, match="same"):
        compare_fits(_sol([1.0]), _sol([1.0, 2.0]), np.zeros((2, 1)), lambda P: P)


def test_compare_methods_gd_is_close_to_min_norm_adam_is_not():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(20, 2))
    y = rng.standard_normal(20)
    fmap = RandomFeatureMap(300, activation="relu", random_state=0).fit(X)
    Phi = fmap.transform(X)
    rows = compare_methods(
        Phi, y, ("gd", "cg", "adam"), eps=5e-2, X_train=X, features=fmap,
        options={"gd": {"max_iter": 100_000}, "cg": {"max_iter": 500}, "adam": {"max_iter": 50_000, "lr": 1e-2}},
    )
    by = {r["method"]: r for r in rows}
    assert set(by) == {"gd", "cg", "adam"}
    for r in rows:
        assert r["mse"] <= 5e-2 * (1 + 1e-6) and r["status"] == "optimal"
        assert r["reference_eps"] == pytest.approx(r["mse"])
        assert r["rel_error"] is not None and np.isfinite(r["rel_error"])
    # GD and CG from zero end near the min-norm solution at their own error; Adam ends farther away
    assert by["gd"]["rel_coef_distance"] < by["adam"]["rel_coef_distance"]
    assert by["cg"]["rel_coef_distance"] < by["adam"]["rel_coef_distance"]
    assert by["adam"]["norm"] > by["adam"]["reference_norm"]
    table = format_table(rows, ["method", "mse", "rel_error"])
    assert table.count("\n") == 4 and "| gd |" in table
