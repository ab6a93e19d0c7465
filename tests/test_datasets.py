"""Datasets: shapes, reproducibility, and the targets' values at points where they are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import j0

from kernelreg import datasets


@pytest.mark.parametrize("name", datasets.available())
def test_every_loader_returns_finite_consistent_splits(name):
    kwargs = {"curve": "x3"} if name == "compositional" else {}
    data = datasets.load(name, **kwargs)
    X_train, y_train, X_test, y_test = data
    assert X_train.ndim == 2 and X_train.shape[0] == y_train.shape[0] > 0
    assert X_test.ndim == 2 and X_test.shape[0] == y_test.shape[0]
    assert X_test.shape[1] == X_train.shape[1]
    for arr in (X_train, y_train, X_test, y_test):
        assert np.all(np.isfinite(arr))
    assert data.name and isinstance(data.params, dict)


@pytest.mark.parametrize("name", ["sparse_fourier", "bumps", "random_labels_cube", "two_moons", "iat_memorization"])
def test_random_loaders_are_reproducible_and_seed_dependent(name):
    a = datasets.load(name, random_state=3)
    b = datasets.load(name, random_state=3)
    c = datasets.load(name, random_state=4)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not (np.array_equal(a.X_train, c.X_train) and np.array_equal(a.y_train, c.y_train))


def test_spectral_targets_at_known_points():
    origin = np.zeros((1, 2))
    assert datasets.spectral_target("ring_fourier")(origin)[0] == pytest.approx(1.0)
    ring = datasets.spectral_target("ring_fourier")
    x = np.array([[0.3, 0.4]])  # ‖x‖ = 0.5
    assert ring(x)[0] == pytest.approx(j0(ring.params["r0"] * 0.5))
    hole = datasets.spectral_target("hole")
    np.testing.assert_array_equal(hole(np.array([[0.0, 0.0], [0.49, 0.0], [0.0, 0.51], [1.0, 1.0]])), [0, 0, 1, 1])
    doppler = datasets.spectral_target("doppler")
    np.testing.assert_allclose(doppler(np.array([[-1.0, 0.3], [0.2, 1.0]])), 0.0, atol=1e-12)  # D(0) = D(1) = 0


def test_sparse_fourier_is_the_sum_of_its_six_waves():
    t = datasets.spectral_target("sparse_fourier", random_state=5)
    p = t.params
    assert len(p["amplitudes"]) == 6
    X = np.random.default_rng(0).uniform(-1, 1, (10, 2))
    y = np.zeros(10)
    for a, w, ang, ph in zip(p["amplitudes"], p["frequencies"], p["angles"], p["phases"]):
        y += a * np.cos(w * (X[:, 0] * np.cos(ang) + X[:, 1] * np.sin(ang)) + ph)
    np.testing.assert_allclose(t(X), y, rtol=1e-12)


def test_bumps_peak_at_their_centres():
    t = datasets.spectral_target("bumps", random_state=1)
    centres = np.asarray(t.params["centres"])
    heights = np.asarray(t.params["heights"])
    at_centres = t(centres)
    # at its own centre a bump contributes its full height; the others add a bounded amount
    assert np.all(np.sign(at_centres[np.abs(heights) > 0.9]) == np.sign(heights[np.abs(heights) > 0.9]))


def test_iat_and_rowdy_tasks():
    fit = datasets.load_iat_highfreq()
    assert fit.X_train.shape == (2500, 2)
    np.testing.assert_allclose(fit.y_train, np.sin(2 * np.pi * fit.X_train[:, 0]) * np.sin(2 * np.pi * fit.X_train[:, 1]))
    mem = datasets.load_iat_memorization(random_state=0)
    assert set(np.unique(mem.y_train)) == {-1.0, 1.0} and abs(mem.y_train.mean()) < 0.1
    disc = datasets.load_rowdy_discontinuous()
    np.testing.assert_allclose(disc.X_train[:, 0], np.linspace(-3, 3, 5))
    np.testing.assert_allclose(disc.y_train[2], 1.0)  # x = 0 belongs to the right branch
    np.testing.assert_allclose(disc.y_train[0], 0.2 * np.sin(-18.0))
    sine = datasets.load_rowdy_sine(m=2.0)
    assert sine.X_train.shape == (100, 1) and sine.X_train[-1, 0] == pytest.approx(2 * np.pi)


def test_digits_ship_with_sklearn_and_are_stratified():
    data = datasets.load_digits(random_state=0)
    assert data.X_train.shape == (1347, 64) and data.X_test.shape == (450, 64)
    assert data.X_train.min() >= 0.0 and data.X_train.max() <= 1.0
    counts = np.bincount(data.y_test, minlength=10)
    assert counts.min() >= 40 and counts.max() <= 50
    small = datasets.load_digits(n_train=100, random_state=0)
    assert small.X_train.shape == (100, 64)


def test_classification_sets():
    moons = datasets.load_two_moons(n_train=50, n_test=30, random_state=0)
    assert moons.X_train.shape == (50, 2) and moons.X_test.shape == (30, 2)
    assert set(np.unique(moons.y_train)) <= {0, 1}
    circles = datasets.load_two_circles(n_train=200, n_test=10, random_state=0)
    r = np.linalg.norm(circles.X_train, axis=1)
    assert r[circles.y_train == 1].mean() < r[circles.y_train == 0].mean()  # label 1 is the inner circle


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown dataset 'holes'.*Did you mean 'hole'"):
        datasets.load("holes")
    with pytest.raises(ValueError, match="unknown spectral target"):
        datasets.spectral_target("ring")
    with pytest.raises(ValueError, match="n_train"):
        datasets.load_spectral("hole", n_train=0)
    with pytest.raises(ValueError, match="unknown curve"):
        datasets.load_compositional("x4")
    with pytest.raises(ValueError, match="test_size"):
        datasets.load_digits(test_size=1.5)


def test_grid_2d_is_the_product_mesh_and_rejects_malformed_intervals():
    g = datasets.grid_2d(3, 0.0, 2.0)
    np.testing.assert_array_equal(g[:, 0], np.repeat([0.0, 1.0, 2.0], 3))  # axis 0 = x1 varies slowest
    np.testing.assert_array_equal(g[:, 1], np.tile([0.0, 1.0, 2.0], 3))
    for low, high, match in [(1.0, -1.0, r"low < high.*got low=1.0, high=-1.0"), (0.5, 0.5, "low < high"),
                             (np.nan, 1.0, "finite end points; got low=nan"), (-1.0, np.inf, "high=inf"),
                             ("0", 1.0, "low to be a real number"), (0.0, None, "high to be a real number"),
                             (False, 1.0, "low to be a real number")]:
        with pytest.raises(ValueError, match=match):
            datasets.grid_2d(4, low, high)
    for resolution in (1, 2.5, True):
        with pytest.raises(ValueError, match="grid_2d needs resolution to be an integer >= 2"):
            datasets.grid_2d(resolution)
    with pytest.raises(ValueError, match="load_iat_highfreq needs resolution to be an integer >= 2; got resolution=0"):
        datasets.load_iat_highfreq(0)
    with pytest.raises(ValueError, match="load_iat_memorization needs resolution"):
        datasets.load_iat_memorization(1)
    with pytest.raises(ValueError, match="finite real frequency k; got k=nan"):
        datasets.load_iat_highfreq(10, k=float("nan"))


def test_all_names_resolve():
    assert all(hasattr(datasets, name) for name in datasets.__all__)
