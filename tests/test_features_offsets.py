"""Data-aware offsets of RandomFeatureMap and the measured fraction of units whose zero-plane misses the data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from kernelreg.features import RandomFeatureMap
from kernelreg.seminorm import spectral_seminorm


@pytest.fixture
def Xhd():
    """Standardised-looking inputs in 30 dimensions: ξ·x concentrates well inside [−max‖x‖, max‖x‖]."""
    return np.random.default_rng(0).standard_normal((200, 30))


def _uniforms(X, seed, n):
    """The U[0, 1) draws behind the offsets: with offset_scale=1 the map's offsets are 2u − 1."""
    return (RandomFeatureMap(n, offset_scale=1.0, random_state=seed).fit(X).offsets_ + 1.0) / 2.0


def test_data_offsets_are_uniform_with_the_projections_mean_and_variance(Xhd):
    fmap = RandomFeatureMap(300, offset_scale="data", random_state=3).fit(Xhd)
    P = Xhd @ fmap.directions_.T
    u = _uniforms(Xhd, 3, 300)
    expected = P.mean(axis=0) + np.sqrt(3.0) * P.std(axis=0) * (2 * u - 1)
    np.testing.assert_allclose(fmap.offsets_, expected, rtol=1e-12, atol=1e-12)
    assert fmap.offset_law_ == "data" and fmap.offset_scale_ == pytest.approx(np.abs(expected).max(), rel=1e-12)
    # same directions as the paper's law under the same seed: only the offsets change
    np.testing.assert_array_equal(fmap.directions_, RandomFeatureMap(300, random_state=3).fit(Xhd).directions_)


def test_quantile_offsets_pass_through_training_points(Xhd):
    fmap = RandomFeatureMap(100, offset_scale="quantile", random_state=4).fit(Xhd)
    rows = np.minimum((_uniforms(Xhd, 4, 100) * Xhd.shape[0]).astype(int), Xhd.shape[0] - 1)
    ordered = np.unique(Xhd, axis=0)  # the training set in a canonical order (distinct rows here)
    np.testing.assert_allclose(fmap.offsets_, np.einsum("ij,ij->i", ordered[rows], fmap.directions_), rtol=1e-13)
    Z = fmap.pre_activations(Xhd)
    assert np.abs(Z).min(axis=0).max() < 1e-12  # every zero-plane contains a training input


@pytest.mark.parametrize("offset_scale", [None, 0.5, "data", "quantile"])
def test_inactive_fraction_counts_zero_planes_that_miss_the_data(Xhd, offset_scale):
    fmap = RandomFeatureMap(400, offset_scale=offset_scale, random_state=5).fit(Xhd)
    Z = fmap.pre_activations(Xhd)  # an independent computation of ξ·x − γ
    P = Xhd @ fmap.directions_.T
    tol = 1e-12 * (np.abs(P).max(axis=0) + np.abs(fmap.offsets_))  # the documented tie rule
    negative, positive = (Z <= tol).all(axis=0), (Z >= -tol).all(axis=0)
    assert fmap.inactive_sides_ == {"negative": negative.mean(), "positive": positive.mean()}
    assert fmap.inactive_fraction_ == (negative | positive).mean()
    relu_dead = (fmap.transform(Xhd) <= tol).all(axis=0)  # for ReLU the negative side is a zero column
    np.testing.assert_array_equal(relu_dead, negative)


def test_data_aware_offsets_cut_through_the_data(Xhd):
    default = RandomFeatureMap(120, random_state=6).fit(Xhd)
    data = RandomFeatureMap(120, offset_scale="data", random_state=6).fit(Xhd)
    quantile = RandomFeatureMap(120, offset_scale="quantile", random_state=6).fit(Xhd)
    assert default.inactive_fraction_ > 0.5  # max‖x‖ ~ 8 while ξ·x has standard deviation ~ 1
    assert data.inactive_fraction_ < 0.02 and quantile.inactive_fraction_ < 0.02

    def rank(fmap):
        Phi = fmap.transform(Xhd)
        s = np.linalg.svd(Phi - Phi.mean(axis=0), compute_uv=False)
        return int((s > 1e-10 * s[0]).sum())

    # units on the positive side are affine on the data: together they span at most d + 1 = 31 columns
    n_active = round(120 * (1 - default.inactive_fraction_))
    assert rank(default) <= n_active + 31 < 100
    assert rank(data) == 120 and rank(quantile) >= 115  # a plane through the extreme point is dead


def test_data_offsets_do_not_cancel_far_from_the_origin(Xhd):
    near = RandomFeatureMap(200, offset_scale="data", random_state=7).fit(Xhd)
    far = RandomFeatureMap(200, offset_scale="data", random_state=7).fit(Xhd + 1e7)
    shift = far.directions_ @ np.full(Xhd.shape[1], 1e7)
    np.testing.assert_allclose(far.offsets_ - shift, near.offsets_, rtol=0, atol=1e-6)
    assert far.inactive_fraction_ == near.inactive_fraction_


def test_data_aware_map_has_no_seminorm_density(Xhd):
    fmap = RandomFeatureMap(50, offset_scale="data", random_state=0).fit(Xhd[:, :2])
    with pytest.raises(ValueError, match="no closed-form density"):
        spectral_seminorm(lambda k: np.exp(-0.5 * (k**2).sum(axis=1)), d=2, density=fmap)


def test_unknown_offset_law_is_rejected(Xhd):
    with pytest.raises(InvalidParameterError, match="'offset_scale' parameter of RandomFeatureMap"):
        RandomFeatureMap(10, offset_scale="median").fit(Xhd)


@pytest.mark.parametrize("offset_scale", ["data", "quantile"])
def test_data_aware_offsets_see_the_data_as_a_weighted_set(Xhd, offset_scale):
    # bit for bit: another order, repeats instead of integer weights, zero weights instead of removal
    w = np.arange(Xhd.shape[0]) % 3
    order = np.random.default_rng(0).permutation(Xhd.shape[0])
    repeated = RandomFeatureMap(60, offset_scale=offset_scale, random_state=1).fit(np.repeat(Xhd, w, axis=0))
    weighted = RandomFeatureMap(60, offset_scale=offset_scale, random_state=1)._fit_validated(Xhd[order], w[order])
    np.testing.assert_array_equal(weighted.offsets_, repeated.offsets_)
    assert weighted.inactive_fraction_ == repeated.inactive_fraction_
    with pytest.raises(ValueError, match="sample_weight is zero for all 200 training inputs"):
        RandomFeatureMap(5, offset_scale=offset_scale)._fit_validated(Xhd, np.zeros(200))
