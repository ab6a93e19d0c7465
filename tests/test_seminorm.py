"""spectral_seminorm / model_seminorm against hand-derived closed forms, two independent routes and real fits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.polynomial import polynomial as P
from scipy.special import spherical_jn

from kernelreg.features import RandomFeatureMap
from kernelreg.seminorm import model_seminorm, radon_constant, radon_representation, spectral_seminorm, sphere_area
from kernelreg.solvers import solve

SQRT_PI = math.sqrt(math.pi)


def gauss_1d(k):
    """f = e^{-x²/2}: f̂ = √(2π) e^{-k²/2}."""
    return math.sqrt(2 * math.pi) * np.exp(-k[:, 0] ** 2 / 2)


def gauss_2d(k):
    """f = e^{-‖x‖²/2} in 2-D: f̂ = 2π e^{-‖k‖²/2}."""
    return 2 * math.pi * np.exp(-(k**2).sum(axis=1) / 2)


def gauss_radial(r):
    return 2 * math.pi * np.exp(-(r**2) / 2)


def test_constants():
    assert radon_constant(1) == 0.5 and radon_constant(2) == pytest.approx(1 / (4 * math.pi))
    assert sphere_area(1) == pytest.approx(2) and sphere_area(2) == pytest.approx(2 * math.pi)
    assert sphere_area(3) == pytest.approx(4 * math.pi)


# ---- closed forms to 1e-9 (the issue asks 1e-6) ---------------------------------------------------
# f = e^{-x²/2}, constant density p₀: h = ½ K_σ^{-1} f along both directions ±1 (c_1 = ½), so
#   ReLU (K^{-1} = ∂²): J = (1/2p₀)∫f''² = (1/2p₀)∫(x²−1)²e^{-x²} = 3√π/(8p₀)
#   Step (K^{-1} = ∂):  J = (1/2p₀)∫f'²  = (1/2p₀)∫x²e^{-x²}      = √π/(4p₀)
#   Gaussian σ = e^{-x²} (P = e^{ω²/2}/π): J = c_1²/(πp₀)∫|f̂|²P = (1/4π)∫2e^{-k²/2} = 1/√(2π)
CLOSED_1D = [
    ("relu", 1.0, 3 * SQRT_PI / 8),
    ("relu", 3.0, SQRT_PI / 8),
    ("step", 1.0, SQRT_PI / 4),
    ("gaussian", 1.0, 1 / math.sqrt(2 * math.pi)),
]


@pytest.mark.parametrize("method", ["fourier", "radon"])
@pytest.mark.parametrize(("activation", "p0", "value"), CLOSED_1D)
def test_one_dimensional_closed_forms_by_both_routes(activation, p0, value, method):
    got = spectral_seminorm(gauss_1d, activation, d=1, density=p0, method=method)
    assert got == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize("method", ["fourier", "radon"])
def test_two_dimensional_relu_closed_form(method):
    # J = c_2²/(πp₀) ∫ |f̂|² ‖k‖ ‖k‖⁴ dk = (1/16π³)·2π·4π²·∫r⁶e^{-r²}dr = 15√π/32
    for f_hat, radial in ((gauss_radial, True), (gauss_2d, False)):
        got = spectral_seminorm(f_hat, "relu", d=2, radial=radial, method=method)
        assert got == pytest.approx(15 * SQRT_PI / 32, rel=1e-9)


def test_radial_formula_in_higher_dimension_matches_the_gamma_integral():
    # d = 5, σ = step, f = e^{-‖x‖²/2}: J = c_5²/π |S⁴| (2π)^5 ∫ e^{-r²} r^{8} r² dr
    d = 5
    f_hat = lambda r: (2 * math.pi) ** (d / 2) * np.exp(-(r**2) / 2)  # noqa: E731
    expected = radon_constant(d) ** 2 / math.pi * sphere_area(d) * (2 * math.pi) ** d * math.gamma(5.5) / 2
    assert spectral_seminorm(f_hat, "step", d=d, radial=True) == pytest.approx(expected, rel=1e-9)


def test_q1_is_the_radon_total_variation_relu_and_step():
    # ReLU: ∫∫|h| = ∫|f''| = 4e^{-1/2} for f = e^{-x²/2}; Step: ∫|f'| = total variation = 2
    assert spectral_seminorm(gauss_1d, "relu", d=1, q=1, rtol=1e-7) == pytest.approx(4 * math.exp(-0.5), rel=1e-7)
    assert spectral_seminorm(gauss_1d, "step", d=1, q=1, rtol=1e-7) == pytest.approx(2.0, rel=1e-7)


def test_density_weighting_closed_form():
    # p(ξ, γ) = e^{-γ²/2}: J = Σ_ξ ∫ (f''/2)² e^{γ²/2} dγ = ½∫(x²−1)² e^{-x²/2} dx = √(2π)
    dens = lambda xi, g: np.exp(-(g**2) / 2)  # noqa: E731
    assert spectral_seminorm(gauss_1d, "relu", d=1, density=dens) == pytest.approx(math.sqrt(2 * math.pi), rel=1e-9)
    # a density that differs between the two directions: each side weighted by its own 1/p
    # (the even split of h, an upper bound of the true minimum for such densities)
    lopsided = lambda xi, g: np.full_like(g, 1.0 if xi[0] > 0 else 2.0)  # noqa: E731
    expected = (1 + 0.5) * 0.25 * (3 * SQRT_PI / 4)
    assert spectral_seminorm(gauss_1d, "relu", d=1, density=lopsided) == pytest.approx(expected, rel=1e-9)


def _bump4_hat(k):
    """f = (1 − x²)⁴ on [−1, 1]: f̂(k) = 768 j₄(k)/k⁴ (series near 0)."""
    k = np.abs(k[:, 0] if np.ndim(k) == 2 else k)
    out = np.empty_like(k)
    small = k < 1e-3
    out[~small] = 768 * spherical_jn(4, k[~small]) / k[~small] ** 4
    out[small] = 256 / 315 - k[small] ** 2 * 768 / 10395
    return out


def _bump4_J(B_prob_density):
    """2∫(f''/2)²/p over [−1, 1] for ReLU, exact by polynomial arithmetic."""
    d2 = P.polyder(P.polypow([1, 0, -1], 4), 2)
    antider = P.polyint(P.polymul(d2, d2))
    return 2 * 0.25 * (P.polyval(1, antider) - P.polyval(-1, antider)) / B_prob_density


@pytest.fixture(scope="module")
def line_data():
    X = np.linspace(-1, 1, 41)[:, None]
    return X, P.polyval(X[:, 0], P.polypow([1, 0, -1], 4))


def test_feature_map_law_as_density(line_data):
    # RandomFeatureMap on [-1, 1]: B = 1, p = 1/(|S⁰|·2B) = 1/4 on |γ| <= 1. h = f''/2 lives in
    # [-1, 1], so J is finite and equals 2∫f''² exactly.
    X, _ = line_data
    fmap = RandomFeatureMap(10, random_state=0).fit(X)
    J = spectral_seminorm(_bump4_hat, density=fmap, d=1, rtol=1e-7)  # activation from the map
    assert J == pytest.approx(_bump4_J(0.25), rel=1e-6)


def test_infinite_when_h_lives_outside_the_offsets():
    # 2-D ReLU: (−∂²)^{1/2} is non-local, so h of a compact bump reaches |γ| > B where the map's
    # law has no zero-planes: J = ∞ (the bump is not in the RKHS of this kernel). Likewise the
    # Gaussian activation's K^{-1} (backward heat flow) is non-local even in 1-D.
    X2 = np.random.default_rng(0).uniform(-1, 1, size=(20, 2))
    assert spectral_seminorm(gauss_2d, "relu", d=2, density=RandomFeatureMap(5, random_state=0).fit(X2)) == math.inf
    X1 = np.linspace(-1, 1, 9)[:, None]
    fmap = RandomFeatureMap(5, activation="gaussian", random_state=0).fit(X1)
    assert spectral_seminorm(_bump4_hat, density=fmap, d=1, rtol=1e-6) == math.inf
    # and a band-limited activation cannot pay for frequencies outside its band
    assert spectral_seminorm(gauss_1d, "sinc", d=1) == math.inf


def test_min_norm_fits_converge_to_the_seminorm(line_data):
    # Eq. 4 ↔ Eq. 6 end to end: n‖c‖² of the min-norm interpolant with n random ReLU features
    # tends to J_p of the target (here (1 − x²)⁴, whose affine residual vanishes) as n grows.
    # Measured: -0.9 % at n = 5000, +0.4 % at n = 20 000 (seed 1); 1-D (1−x²)³: 5e-4 at 64 000.
    X, y = line_data
    fmap = RandomFeatureMap(20_000, random_state=1).fit(X)
    sol = solve(fmap.transform(X), y, eps=0.0)
    J = _bump4_J(0.25)
    assert model_seminorm(sol, fmap) == pytest.approx(J, rel=0.02)
    assert model_seminorm(sol.coef, fmap) == pytest.approx(20_000 * np.sum(sol.coef**2), rel=1e-15)
    # GD from zero ends near the min-norm value; a fit that is not min-norm costs more
    noisy = sol.coef + 1e-3 * np.random.default_rng(0).standard_normal(sol.coef.shape)
    assert model_seminorm(noisy, fmap) > model_seminorm(sol, fmap)
    assert model_seminorm(sol, fmap, q=1) == pytest.approx(np.abs(sol.coef).sum(), rel=1e-15)


def test_radon_representation_is_half_the_second_derivative_for_relu():
    g, h = radon_representation(gauss_1d, "relu", [1.0])
    np.testing.assert_allclose(h, 0.5 * (g**2 - 1) * np.exp(-(g**2) / 2), atol=1e-12)
    # Step at ξ = −1: h(−1, γ) = ½ ∂_γ f(−γ) = −½ γ e^{−γ²/2}; with h(+1, γ) = ½ f'(γ) the two
    # directions rebuild f: ∫ h(1,γ)H(x−γ) + h(−1,γ)H(−x−γ) dγ = f(x)/2 + f(x)/2.
    g, h = radon_representation(gauss_1d, "step", [-1.0])
    np.testing.assert_allclose(h, -0.5 * g * np.exp(-(g**2) / 2), atol=1e-12)


def test_model_seminorm_multi_output_and_errors():
    X = np.random.default_rng(0).uniform(-1, 1, size=(10, 2))
    fmap = RandomFeatureMap(7, random_state=0).fit(X)
    C = np.arange(14.0).reshape(7, 2)
    np.testing.assert_allclose(model_seminorm(C, fmap), 7 * (C**2).sum(axis=0), rtol=1e-15)
    with pytest.raises(ValueError, match=r"coef has shape \(5,\) but the feature map has 7 features"):
        model_seminorm(np.ones(5), fmap)
    with pytest.raises(TypeError, match="fitted kernelreg.features.RandomFeatureMap"):
        model_seminorm(np.ones(7), RandomFeatureMap(7))
    with pytest.raises(ValueError, match="q must be 2 or 1; got 3"):
        model_seminorm(np.ones(7), fmap, q=3)


def test_spectral_seminorm_errors():
    with pytest.raises(ValueError, match="q must be 2 .* or 1 .*got 3"):
        spectral_seminorm(gauss_1d, "relu", d=1, q=3)
    with pytest.raises(ValueError, match="method must be 'auto', 'fourier' or 'radon'; got 'fft'"):
        spectral_seminorm(gauss_1d, "relu", d=1, method="fft")
    with pytest.raises(ValueError, match=r"implemented for d <= 3; got d=4.*radial=True"):
        spectral_seminorm(gauss_1d, "relu", d=4)
    with pytest.raises(ValueError, match="method='fourier' .* needs a constant density"):
        spectral_seminorm(gauss_1d, "relu", d=1, density=lambda xi, g: 1 + g**2, method="fourier")
    with pytest.raises(ValueError, match="no closed-form Fourier transform"):
        spectral_seminorm(gauss_1d, "softsign", d=1, q=1)
    with pytest.raises(ValueError, match="no closed-form spectral penalty"):
        spectral_seminorm(gauss_1d, "softsign", d=1)
    with pytest.raises(ValueError, match="density to be a finite number > 0"):
        spectral_seminorm(gauss_1d, "relu", d=1, density=-1.0)
    with pytest.raises(TypeError, match="density must be a positive number"):
        spectral_seminorm(gauss_1d, "relu", d=1, density="uniform")
    X = np.zeros((3, 2)) + np.arange(3)[:, None]
    with pytest.raises(ValueError, match="2-dimensional inputs but d=1"):
        spectral_seminorm(gauss_1d, "relu", d=1, density=RandomFeatureMap(3, random_state=0).fit(X))
    with pytest.raises(ValueError, match="pass an activation"):
        spectral_seminorm(gauss_1d, d=1)
