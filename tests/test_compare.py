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


# ---- the maximum over the hull converges; max_mode; the resolution is reported ------------------


def _exact_relu_max(fmap, coef, X):
    """Max of a 2-D ReLU network over conv(X), exactly: the fit is linear on each cell of the
    arrangement of its breaklines cut by the hull, so the maximum is at a hull vertex, where a
    breakline crosses a hull edge, or where two breaklines cross inside the hull."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(X)
    W, b = fmap.directions_, fmap.offsets_
    cands = [X[hull.vertices]]
    V = X[hull.vertices]
    for p, q in zip(V, np.roll(V, -1, axis=0)):  # hull edges p -> q: w·(p + t(q - p)) = b
        denom = W @ (q - p)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (b - W @ p) / denom
        t = t[np.isfinite(t) & (t >= 0) & (t <= 1)]
        cands.append(p + t[:, None] * (q - p))
    i, j = np.triu_indices(len(b), 1)
    det = W[i, 0] * W[j, 1] - W[i, 1] * W[j, 0]
    ok = np.abs(det) > 1e-12
    i, j, det = i[ok], j[ok], det[ok]
    pts = np.column_stack([(b[i] * W[j, 1] - b[j] * W[i, 1]) / det, (W[i, 0] * b[j] - W[j, 0] * b[i]) / det])
    cands.append(pts[np.all(pts @ hull.equations[:, :2].T + hull.equations[:, 2] <= 1e-12, axis=1)])
    P = np.vstack(cands)
    return float(np.max(np.abs(fmap.transform(P) @ coef)))


def test_refined_max_of_a_spiky_relu_fit_is_the_exact_maximum():
    # The min-norm interpolant of random labels is spiky; its max over the hull is found exactly
    # from the breakline arrangement (independent truth). The 63 x 63 grid alone falls short;
    # the refined maximum matches the exact one.
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(30, 2))
    y = rng.uniform(-1, 1, size=30)
    fmap = RandomFeatureMap(200, offset_scale=np.sqrt(2), random_state=4).fit(X)
    Phi = fmap.transform(X)
    spiky = solve(Phi, y, eps=0.0)
    smooth = solve(Phi, y, eps=0.05)
    exact = _exact_relu_max(fmap, spiky.coef, X)
    cmp = compare_fits(spiky, smooth, X, fmap, max_mode="abs")
    assert cmp.max_grid_value < exact * (1 - 1e-4)  # the grid alone underestimates
    assert cmp.max_value == pytest.approx(exact, rel=1e-8)
    assert cmp.grid_size == 63 and cmp.n_points == len(hull_points(X)) and cmp.max_resolution < 1e-9
    assert cmp.rel_error == pytest.approx(cmp.mean_gap / exact, rel=1e-9)
    assert cmp.max_mode == "abs"
    # with the refinement off, the grid value is used
    coarse = compare_fits(spiky, smooth, X, fmap, max_mode="abs", refine_max=False)
    assert coarse.max_value == coarse.max_grid_value == cmp.max_grid_value and np.isnan(coarse.max_resolution)


def test_refined_max_in_one_and_three_dimensions():
    # 1-D: f_a = 1 - |x - 0.3337| on [0, 1] peaks between the 11 grid points at 1.
    X1 = np.array([[0.0], [1.0], [0.5]])
    tent = lambda P: np.column_stack([np.abs(P[:, 0] - 0.3337), np.ones(len(P))])  # noqa: E731
    cmp = compare_fits(_sol([-1.0, 1.0]), _sol([-1.0, 0.9]), X1, tent, grid_size=11)
    assert cmp.max_grid_value < 1 - 1e-3 and cmp.max_value == pytest.approx(1.0, abs=1e-7)
    assert cmp.rel_error == pytest.approx(0.1, rel=1e-6)
    # 3-D: f_a = 2 - ‖x - x0‖₁ on a simplex; x0 inside, off the grid
    X3 = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    x0 = np.array([0.213, 0.177, 0.302])
    bump = lambda P: np.column_stack([np.abs(P - x0).sum(axis=1), np.ones(len(P))])  # noqa: E731
    cmp3 = compare_fits(_sol([-1.0, 2.0]), _sol([-1.0, 2.5]), X3, bump, grid_size=9)
    assert cmp3.max_grid_value < 2 - 1e-3 and cmp3.max_value == pytest.approx(2.0, abs=1e-6)


def test_max_mode_signed_is_the_default_and_abs_is_offered():
    # f_a = x - 0.8 on [0, 1] (max f_a = 0.2, max |f_a| = 0.8), f_b = f_a + 0.1
    X = np.array([[0.0], [1.0]])
    lin = lambda P: np.column_stack([P[:, 0], np.ones(len(P))])  # noqa: E731
    a, b = _sol([1.0, -0.8], "gd"), _sol([1.0, -0.7], "exact")
    signed = compare_fits(a, b, X, lin, grid_size=101)
    assert signed.max_mode == "signed" and signed.max_value == pytest.approx(0.2)
    assert signed.rel_error == pytest.approx(0.5)
    absolute = compare_fits(a, b, X, lin, grid_size=101, max_mode="abs")
    assert absolute.max_value == pytest.approx(0.8) and absolute.rel_error == pytest.approx(0.125)
    with pytest.raises(ValueError, match=r"reference fit a \(gd\) is nowhere positive.*max_mode='abs'"):
        compare_fits(_sol([1.0, -1.5], "gd"), b, X, lin)


# ---- bad input: clear errors naming what is wrong ------------------------------------------------


def _line_case():
    X = np.array([[0.0], [1.0]])
    return X, (lambda P: np.column_stack([P[:, 0], np.ones(len(P))]))


@pytest.mark.parametrize("grid_size", [0, 1, -3, 2.5, True])
def test_compare_fits_rejects_bad_grid_size(grid_size):
    X, lin = _line_case()
    with pytest.raises(ValueError, match=r"grid_size must be an integer >= 2 .*got " + repr(grid_size).replace(".", r"\.")):
        compare_fits(_sol([1.0, 0.0]), _sol([1.0, 0.1]), X, lin, grid_size=grid_size)
    with pytest.raises(ValueError, match="grid_size must be an integer >= 2"):
        hull_points(X, grid_size=grid_size)


def test_compare_fits_zero_reference_fit_is_an_error_not_inf():
    X, lin = _line_case()
    with pytest.raises(ValueError, match=r"reference fit a \(exact\) is zero over the hull.*undefined"):
        compare_fits(_sol([0.0, 0.0], "exact"), _sol([1.0, 0.1]), X, lin, max_mode="abs")
    with pytest.raises(ValueError, match="is zero over the hull"):
        compare_fits(_sol([0.0, 0.0], "exact"), _sol([0.0, 0.0]), X, lin)


def test_compare_fits_rejects_a_feature_map_of_the_wrong_width():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(10, 2))
    fmap = RandomFeatureMap(5, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"feature map returned shape \(\d+, 5\).*solutions have 3 coefficients"):
        compare_fits(_sol([1.0, 2.0, 3.0]), _sol([1.0, 2.0, 3.5]), X, fmap)


@pytest.mark.parametrize("features", [42, "relu", None])
def test_compare_fits_rejects_features_that_are_not_a_map(features):
    X, _ = _line_case()
    with pytest.raises(TypeError, match=rf"features must be a fitted feature map .*got {type(features).__name__}"):
        compare_fits(_sol([1.0, 0.0]), _sol([1.0, 0.1]), X, features)


def test_compare_fits_rejects_bad_mode_points_and_solutions():
    X, lin = _line_case()
    a, b = _sol([1.0, 0.0]), _sol([1.0, 0.1])
    with pytest.raises(ValueError, match="max_mode must be 'signed' or 'abs'; got 'max'"):
        compare_fits(a, b, X, lin, max_mode="max")
    with pytest.raises(ValueError, match=r"points must be a finite, non-empty array of shape \(m, 1\); got shape \(3, 2\)"):
        compare_fits(a, b, X, lin, points=np.zeros((3, 2)))
    with pytest.raises(TypeError, match="b must be a kernelreg.solvers.Solution; got ndarray"):
        compare_fits(a, np.array([1.0, 0.1]), X, lin)
    with pytest.raises(ValueError, match="n_points must be an integer >= 1; got 0"):
        compare_fits(a, b, X, lin, n_points=0)
