"""Tests of kernelreg.activations against independent truth: scipy/numpy formulas, quadrature, identities."""

from __future__ import annotations

import copy
import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from scipy import special
from scipy.integrate import quad

import kernelreg.activations as act
from kernelreg.activations import Activation, available, get, register

# Names promised by DESIGN.md ("Public names") and by the activation brief.
DESIGN_NAMES = (
    "step relu relu_power logistic logistic_bump softplus power_softplus atan erf tanh gaussian "
    "cauchy gfunction satrelu wavepacket rectangle triangle sinc sinc2 half_exp sech log_abs "
    "dirac_approx sin cos"
).split()
EXTRA_NAMES = (
    "identity leaky_relu elu gelu silu softsign oberhettinger_iii10_candidate"
).split()

ALL_NAMES = available()


def _grid(n: int = 101) -> np.ndarray:
    """The brief's test range: linspace(-5, 5), which contains 0 and the kinks at ±1, ±1/2."""
    return np.linspace(-5.0, 5.0, n)


# ---------------------------------------------------------------------------------------------
# Module surface
# ---------------------------------------------------------------------------------------------


def test_all_exports_exist():
    assert sorted(act.__all__) == ["Activation", "CHOSEN_CONSTANTS", "ChosenConstant", "available", "get", "register"]
    for name in act.__all__:
        assert hasattr(act, name)


def test_available_contains_design_names_sorted_lower_case():
    names = available()
    assert names == sorted(names)
    assert all(name == name.lower() for name in names)
    missing = set(DESIGN_NAMES + EXTRA_NAMES) - set(names)
    assert not missing
    # Oberhettinger I.84 / I.70 are unknown and must not be invented.
    assert not [n for n in names if "oberhettinger" in n and "candidate" not in n]


# ---------------------------------------------------------------------------------------------
# Views: torch and numpy agree, shapes, dtypes, devices, gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
def test_numpy_and_torch_views_agree_and_are_finite(name):
    a = get(name)
    x = _grid()
    y_np = a(x)
    y_t = a(torch.tensor(x, dtype=torch.float64))
    assert isinstance(y_np, np.ndarray) and y_np.dtype == np.float64 and y_np.shape == x.shape
    assert isinstance(y_t, torch.Tensor) and y_t.dtype == torch.float64
    # Same torch function on the same values, but through two entry points (a numpy copy and a
    # tensor): a few ulp allowed, since vectorised kernels may round a tail element differently.
    assert_allclose(y_np, y_t.numpy(), rtol=4 * np.finfo(np.float64).eps, atol=1e-300)
    assert np.all(np.isfinite(y_np)), name
    # Shape is kept for 2-D input, python scalars give 0-d arrays, lists are accepted.
    assert a(x[:12].reshape(3, 4)).shape == (3, 4)
    assert a(0.3).shape == ()
    assert_allclose(a([0.3, -0.7]), a(np.array([0.3, -0.7])))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_float32_dtype_is_kept(name):
    x = torch.linspace(-3.0, 3.0, 13, dtype=torch.float32)
    y = get(name)(x)
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert torch.isfinite(y).all()
    assert_allclose(y.numpy(), get(name)(x.double().numpy()), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_backprop_is_finite_and_matches_finite_differences(name):
    a = get(name)
    x = torch.tensor(_grid(), dtype=torch.float64, requires_grad=True)
    a(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all(), name
    # Away from the kinks and jumps (0, ±1/2, ±1) the gradient is the derivative.
    xs = np.linspace(-4.9, 4.9, 37) + 0.0123
    h = 1e-6
    fd = (a(xs + h) - a(xs - h)) / (2 * h)
    xt = torch.tensor(xs, requires_grad=True)
    (grad,) = torch.autograd.grad(a(xt).sum(), xt)
    assert_allclose(grad.numpy(), fd, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd).max()))


def test_integer_tensor_is_cast_and_complex_rejected():
    y = get("relu")(torch.tensor([-2, 3]))
    assert y.dtype == torch.get_default_dtype()
    assert y.tolist() == [0.0, 3.0]
    with pytest.raises(TypeError, match="real tensors"):
        get("relu")(torch.tensor([1 + 1j]))


def test_numpy_view_does_not_touch_the_input():
    x = np.array([-1.0, 0.5, 2.0])
    before = x.copy()
    get(torch.nn.ReLU(inplace=True))(x)
    assert_array_equal(x, before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_device_and_values_are_kept():
    x = torch.linspace(-4, 4, 33, dtype=torch.float64)
    for name in ALL_NAMES:
        y = get(name)(x.cuda())
        assert y.device.type == "cuda"
        assert_allclose(y.cpu().numpy(), get(name)(x.numpy()), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Values against independent formulas
# ---------------------------------------------------------------------------------------------


def _fermi_dirac(x: float, j: int) -> float:
    """Complete Fermi–Dirac integral (1/Γ(j+1)) ∫₀^∞ t^j/(e^{t-x}+1) dt by scipy quadrature."""
    value, _ = quad(lambda t: t**j * special.expit(x - t), 0.0, max(x, 0.0) + 60.0, limit=200)
    return value / math.gamma(j + 1)


def _gfunction_reference(p: float):
    """x ↦ (1/π)∫₀^∞ cos(ωx) e^{-ω^p} dω by QUADPACK's Fourier integrator (closed form at x = 0)."""

    def value(x: float) -> float:
        if x == 0:
            return math.gamma(1.0 + 1.0 / p) / math.pi
        integrand = lambda w: np.exp(-(w**p))  # noqa: E731
        integral, _ = quad(integrand, 0.0, np.inf, weight="cos", wvar=abs(x), limlst=200)
        return integral / math.pi

    return np.vectorize(value)


X = np.array([-7.3, -2.0, -1.0, -0.4, 0.3, 0.9, 1.7, 4.2, 11.0])
XNZ = X  # contains no zero and no kink of the piecewise activations

REFERENCES = [
    ("step", {}, lambda x: np.heaviside(x, 0.5), np.append(X, 0.0)),
    ("relu", {}, lambda x: np.maximum(x, 0.0), X),
    ("relu_power", {"p": 3.5}, lambda x: np.maximum(x, 0.0) ** 3.5, X),
    ("relu_power", {"p": 0.0}, lambda x: (x > 0).astype(float), np.append(X, 0.0)),
    ("relu_power", {"p": -0.5}, lambda x: np.where(x > 0, np.abs(x) + (x <= 0), 1.0) ** -0.5 * (x > 0), np.append(X, [0.0, 1e-300])),
    ("logistic", {}, special.expit, X),
    ("logistic_bump", {}, lambda x: 0.25 / np.cosh(x / 2) ** 2, X),
    ("softplus", {}, lambda x: np.logaddexp(0.0, x), np.append(X, [25.0, 40.0, -40.0])),
    ("power_softplus", {"k": 0}, special.expit, X),
    ("power_softplus", {"k": 1}, lambda x: np.logaddexp(0.0, x), X),
    ("power_softplus", {"k": 2}, lambda x: -special.spence(1.0 + np.exp(x)), np.append(X, [-1.0001, 0.0])),
    ("power_softplus", {"k": 3}, np.vectorize(lambda x: _fermi_dirac(x, 2)), X),
    ("atan", {}, np.arctan, X),
    ("erf", {}, special.erf, X),
    ("erf", {"s": math.sqrt(2.0)}, lambda x: 2 * special.ndtr(x) - 1, X),
    ("tanh", {}, np.tanh, np.append(X, 1e-9)),
    ("gaussian", {}, lambda x: np.exp(-(x**2)), X),
    ("gaussian", {"s": math.sqrt(2.0)}, lambda x: np.exp(-(x**2) / 2), X),
    ("cauchy", {}, lambda x: 1 / (1 + x**2), X),
    ("gfunction", {"p": 1.0}, lambda x: 1 / (np.pi * (1 + x**2)), np.append(X, [0.0, 60.0, -300.0])),
    ("gfunction", {"p": 2.0}, lambda x: np.exp(-(x**2) / 4) / (2 * np.sqrt(np.pi)), np.append(X, 0.0)),
    ("gfunction", {"p": 0.5}, _gfunction_reference(0.5), np.append(X, [0.0, 80.0])),
    ("gfunction", {"p": 1.5}, _gfunction_reference(1.5), np.append(X, [0.0, 45.0, 70.0])),
    ("gfunction", {"p": 3.0}, _gfunction_reference(3.0), np.append(X, 0.0)),
    ("gfunction", {"p": 1.0, "c": 1.0}, lambda x: 0.5 / (np.pi * (0.25 + x**2)), np.append(X, [0.0, 70.0])),
    ("gfunction", {"p": 2.0, "c": 0.5}, lambda x: np.exp(-(x**2)) / np.sqrt(np.pi), np.append(X, 0.0)),
    ("satrelu", {}, lambda x: np.maximum(x, 0) - np.maximum(x - 1, 0), X),
    ("wavepacket", {"s": 0.7, "w0": 3.0}, lambda x: np.exp(-(x**2) / (2 * 0.49)) * np.cos(3 * x), X),
    ("rectangle", {}, lambda x: (np.abs(x) < 0.5).astype(float), np.append(X, [0.0, 0.49, -0.51])),
    ("triangle", {}, lambda x: np.maximum(0.0, 1 - np.abs(x)), X),
    ("sinc", {"a": 2.0}, lambda x: np.sin(2 * x) / x, X),
    ("sinc2", {"a": 2.0}, lambda x: (np.sin(2 * x) / x) ** 2, X),
    ("half_exp", {}, lambda x: np.exp(-x) * (x > 0), X),
    ("oberhettinger_iii10_candidate", {}, lambda x: x * np.exp(-x) * (x > 0), X),
    ("sech", {}, lambda x: 1 / np.cosh(np.clip(x, -700, 700)), np.append(X, [300.0, -800.0])),
    ("log_abs", {}, lambda x: np.log(np.abs(x)), X),
    ("dirac_approx", {"h": 0.3}, lambda x: np.exp(-(x**2) / 0.18) / (0.3 * np.sqrt(2 * np.pi)), X),
    ("sin", {}, np.sin, X),
    ("cos", {}, np.cos, X),
    ("identity", {}, lambda x: x, X),
    ("leaky_relu", {"negative_slope": 0.2}, lambda x: np.where(x > 0, x, 0.2 * x), X),
    ("elu", {"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), X),
    ("gelu", {}, lambda x: x * special.ndtr(x), X),
    ("silu", {}, lambda x: x * special.expit(x), X),
    ("softsign", {}, lambda x: x / (1 + np.abs(x)), X),
]


@pytest.mark.parametrize(
    ("name", "params", "reference", "x"),
    REFERENCES,
    ids=[f"{n}-{p}" for n, p, _, _ in REFERENCES],
)
def test_values_match_independent_reference(name, params, reference, x):
    assert_allclose(get(name, **params)(x), reference(x), rtol=1e-10, atol=1e-11)


def test_reference_table_covers_every_name():
    assert {name for name, *_ in REFERENCES} == set(ALL_NAMES)


def test_softplus_keeps_its_exponentially_small_part_for_large_x():
    # torch's default threshold (20) would return x itself and lose log1p(e^{-x}).
    x = np.array([21.0, 25.0, 30.0])
    assert_allclose(get("softplus")(x) - x, np.log1p(np.exp(-x)), rtol=1e-3, atol=1e-14)


def test_cos_is_sin_shifted_by_a_quarter_period():
    # cos is defined through sin(x + π/2); compared with the shifted sin and with numpy's cos at
    # rounding level (the shift x + π/2 itself rounds, by at most half an ulp of |x| + π/2 <= 11,
    # i.e. 1e-15 in the value), never bitwise across the two code paths.
    x = torch.linspace(-9.0, 9.0, 181, dtype=torch.float64)
    assert_allclose(get("cos")(x).numpy(), get("sin")(x + math.pi / 2).numpy(), rtol=0, atol=4e-16)
    assert_allclose(get("cos")(x.numpy()), np.cos(x.numpy()), rtol=0, atol=2e-15)


def test_special_points():
    assert get("step")(0.0) == 0.5
    assert get("rectangle")(0.5) == 0.5
    assert get("half_exp")(0.0) == 0.5
    assert get("sinc", a=2.5)(0.0) == 2.5
    assert get("sinc2", a=2.5)(0.0) == 6.25
    assert get("log_abs")(0.0) == pytest.approx(np.log(1e-30), rel=1e-15)  # torch.log vs numpy.log
    at_zero_f32 = get("log_abs")(torch.zeros(1, dtype=torch.float32)).item()
    assert at_zero_f32 == pytest.approx(np.log(1e-30), rel=1e-6)
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(get("sinc", a=2.0)(x).sum(), x)
    assert g.item() == 0.0
    # relu_power with p < 1: finite (zero) gradient at 0, none of 0**(p-1) = inf.
    (g,) = torch.autograd.grad(get("relu_power", p=0.5)(x).sum(), x)
    assert g.item() == 0.0


def test_power_softplus_derivative_is_the_next_lower_order():
    # d/dx [-Li_k(-e^x)] = -Li_{k-1}(-e^x); the grid crosses the branch switches at ±1.
    x = torch.linspace(-8.0, 8.0, 321, dtype=torch.float64, requires_grad=True)
    for k in (2, 3, 4, 6):
        (g,) = torch.autograd.grad(get("power_softplus", k=k)(x).sum(), x)
        lower = get("power_softplus", k=k - 1)(x.detach().numpy())
        assert_allclose(g.numpy(), lower, rtol=1e-12, atol=1e-13)


def test_power_softplus_far_out_follows_the_inversion_formula():
    # -Li_2(-e^x) = x²/2 + π²/6 + Li_2(-e^{-x}) and -Li_2(-e^{-x}) = e^{-x} + O(e^{-2x}).
    x = np.array([-500.0, 500.0])
    assert_allclose(get("power_softplus", k=2)(x), [np.exp(-500.0), 500.0**2 / 2 + np.pi**2 / 6], rtol=1e-14)


def test_gfunction_gradient_matches_closed_form_p2():
    x = torch.linspace(-60.0, 60.0, 601, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(get("gfunction", p=2.0)(x).sum(), x)
    exact = -x.detach() * torch.exp(-x.detach() ** 2 / 4) / (4 * math.sqrt(math.pi))
    assert_allclose(g.numpy(), exact.numpy(), atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Spectral penalty against a numerically computed Fourier transform
# ---------------------------------------------------------------------------------------------


def _numerical_fourier(f, w: float, support: float | None = None) -> complex:
    """∫ f(x) e^{-iwx} dx by QUADPACK's cosine/sine-weighted rules on the two half-lines."""
    even = lambda x: f(x) + f(-x)  # noqa: E731
    odd = lambda x: f(x) - f(-x)  # noqa: E731
    if support is None:
        kw = {"b": np.inf, "wvar": w, "limlst": 200}
    else:
        kw = {"b": support, "wvar": w, "limit": 200}
    cos_part, _ = quad(even, 0.0, weight="cos", **kw)
    sin_part, _ = quad(odd, 0.0, weight="sin", **kw)
    return cos_part - 1j * sin_part


def _logistic_bump(x):
    """s'(x) = ¼ sech²(x/2)."""
    return 0.25 / np.cosh(x / 2) ** 2


def _gelu_second(x):
    """(x Φ(x))'' = (2 - x²) φ(x)."""
    return (2 - x**2) * np.exp(-(x**2) / 2) / np.sqrt(2 * np.pi)


def _silu_second(x):
    """(x s(x))'' = s'(x)(2 + x(1 - 2 s(x)))."""
    s = special.expit(x)
    return s * (1 - s) * (2 + x * (1 - 2 * s))


# (name, params, m, f = σ^(m) as an independent formula, compact support or None).
# FT(σ^(m)) = (iω)^m σ̂(ω) for non-integrable σ whose m-th derivative is integrable.
FOURIER_CASES = [
    ("gaussian", {}, 0, lambda x: np.exp(-(x**2)), None),
    ("gaussian", {"s": 0.6}, 0, lambda x: np.exp(-((x / 0.6) ** 2)), None),
    ("gfunction", {"p": 1.0, "c": 1.0}, 0, lambda x: 0.5 / (np.pi * (0.25 + x**2)), None),
    ("gfunction", {"p": 2.0, "c": 0.5}, 0, lambda x: np.exp(-(x**2)) / np.sqrt(np.pi), None),
    ("gfunction", {"p": 2.0, "c": 3.0}, 0, lambda x: np.exp(-(x**2) / 6) / np.sqrt(6 * np.pi), None),
    ("cauchy", {}, 0, lambda x: 1 / (1 + x**2), None),
    ("sech", {}, 0, lambda x: 1 / np.cosh(x), None),
    ("half_exp", {}, 0, lambda x: np.exp(-x) * (x > 0), None),
    ("oberhettinger_iii10_candidate", {}, 0, lambda x: x * np.exp(-x) * (x > 0), None),
    ("logistic_bump", {}, 0, _logistic_bump, None),
    ("wavepacket", {"s": 0.8, "w0": 2.5}, 0, lambda x: np.exp(-(x**2) / 1.28) * np.cos(2.5 * x), None),
    ("dirac_approx", {"h": 0.5}, 0, lambda x: np.exp(-(x**2) / 0.5) / (0.5 * np.sqrt(2 * np.pi)), None),
    ("sinc2", {"a": 1.5}, 0, lambda x: (np.sin(1.5 * x) / x) ** 2 if x != 0 else 2.25, None),
    ("triangle", {}, 0, lambda x: max(0.0, 1 - abs(x)), 1.0),
    ("rectangle", {}, 0, lambda x: float(abs(x) < 0.5), 0.5),
    ("logistic", {}, 1, _logistic_bump, None),
    ("tanh", {}, 1, lambda x: 1 / np.cosh(x) ** 2, None),
    ("atan", {}, 1, lambda x: 1 / (1 + x**2), None),
    ("erf", {}, 1, lambda x: 2 / np.sqrt(np.pi) * np.exp(-(x**2)), None),
    ("erf", {"s": 2.0}, 1, lambda x: 1 / np.sqrt(np.pi) * np.exp(-(x**2) / 4), None),
    ("satrelu", {}, 1, lambda x: float(0 < x < 1), 1.0),
    ("softplus", {}, 2, _logistic_bump, None),
    ("power_softplus", {"k": 2}, 3, _logistic_bump, None),
    ("elu", {"alpha": 1.0}, 2, lambda x: np.exp(x) * (x < 0), None),
    ("gelu", {}, 2, _gelu_second, None),
    ("silu", {}, 2, _silu_second, None),
]
OMEGAS = (0.3, 1.0, 2.5)


@pytest.mark.parametrize(
    ("name", "params", "m", "f", "support"),
    FOURIER_CASES,
    ids=[f"{case[0]}-{case[1]}" for case in FOURIER_CASES],
)
def test_fourier_and_penalty_match_numerical_transform(name, params, m, f, support):
    a = get(name, **params)
    for w in OMEGAS:
        numeric = _numerical_fourier(f, w, support) / (1j * w) ** m
        assert_allclose(a.fourier(w), numeric, rtol=1e-6, err_msg=f"{name} at ω={w}")
        assert_allclose(a.spectral_penalty(w), 1 / abs(numeric) ** 2, rtol=1e-6, err_msg=f"{name} at ω={w}")


def test_elu_penalty_depends_on_alpha_as_derived():
    # σ'' = α e^x H(-x) + (1-α) δ(x): the δ gives the constant 1-α in FT(σ'') = -ω² σ̂.
    alpha = 0.4
    a = get("elu", alpha=alpha)
    for w in OMEGAS:
        ft_second = _numerical_fourier(lambda x: alpha * np.exp(x) * (x < 0), w) + (1 - alpha)
        assert_allclose(a.spectral_penalty(w), w**4 / abs(ft_second) ** 2, rtol=1e-6)


@pytest.mark.parametrize("p", [-0.75, -0.5, -0.2, 0.0, 0.5])
def test_relu_power_transform_for_small_exponents(p):
    # x₊^p with -1 < p <= 0 is locally integrable and tempered: σ̂(ω) = Γ(p+1)(iω)^{-(p+1)}.
    # Independent truth: ∫₀^∞ x^p e^{-iωx} dx by quadrature, [0, 1] after x = t^{1/(p+1)} (which
    # removes the singularity: x^p dx = dt/(p+1)) and [1, ∞) by QUADPACK's Fourier integrator.
    a = get("relu_power", p=p)
    for w in OMEGAS:
        if p == 0.0:  # the step: ∫₀^∞ e^{-iωx} dx = 1/(iω) with the δ at 0 dropped (Abel limit)
            numeric = 1 / (1j * w)
        else:
            q = 1 / (p + 1)
            head = [quad(lambda t: fn(w * t**q), 0, 1, limit=200)[0] * q for fn in (np.cos, np.sin)]
            tail = [quad(lambda x: x**p, 1, np.inf, weight=wt, wvar=w, limlst=200)[0] for wt in ("cos", "sin")]
            numeric = (head[0] + tail[0]) - 1j * (head[1] + tail[1])
        assert_allclose(a.fourier(w), numeric, rtol=1e-8, err_msg=f"p={p} at ω={w}")
        assert_allclose(a.spectral_penalty(w), 1 / abs(numeric) ** 2, rtol=1e-8)
    # p = 0 is the step's penalty ω², whatever the convention at x = 0
    assert_allclose(get("relu_power", p=0.0).spectral_penalty(OMEGAS), get("step").spectral_penalty(OMEGAS), rtol=1e-14)


@pytest.mark.parametrize("s", [0.5, 1.0, 2.0])
def test_erf_is_the_antiderivative_of_the_gaussian_with_one_width(s):
    # d/dx erf(x/s) = (2/(s√π)) e^{-(x/s)²}: checked by autograd, and in the penalties
    # P_erf(ω) = ω² (s²π/4) P_gauss(ω) (the factor (iω) and the constant 2/(s√π) squared).
    x = torch.linspace(-4.0, 4.0, 81, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(get("erf", s=s)(x).sum(), x)
    assert_allclose(g.numpy(), 2 / (s * np.sqrt(np.pi)) * get("gaussian", s=s)(x.detach().numpy()), rtol=1e-13)
    w = np.array([0.3, 1.1, 2.7])
    p_erf, p_gauss = get("erf", s=s).spectral_penalty(w), get("gaussian", s=s).spectral_penalty(w)
    assert_allclose(p_erf, w**2 * s**2 * np.pi / 4 * p_gauss, rtol=1e-13)


@pytest.mark.parametrize(("p", "c"), [(0.7, 0.5), (1.5, 3.0), (3.0, 1.0)])
def test_gfunction_scale_c_is_a_dilation(p, c):
    # σ̂ = e^{-c|ω|^p/2} = e^{-|λω|^p} with λ = (c/2)^{1/p}, hence σ_{p,c}(x) = σ_{p,2}(x/λ)/λ;
    # the reference for σ_{p,2} is QUADPACK's Fourier integral, independent of the contour rule.
    lam = (c / 2) ** (1 / p)
    x = np.array([-3.1, -0.4, 0.0, 0.9, 2.2, 7.5])
    assert_allclose(get("gfunction", p=p, c=c)(x), _gfunction_reference(p)(x / lam) / lam, rtol=1e-9, atol=1e-11)
    w = np.array([0.2, 1.0, 2.0])
    assert_allclose(get("gfunction", p=p, c=c).spectral_penalty(w), np.exp(c * w**p), rtol=1e-14)


def test_penalty_identities_between_activations():
    w = np.array([0.2, 0.9, 1.7, 3.3])
    penalty = lambda name, **p: get(name, **p).spectral_penalty(w)  # noqa: E731
    assert_allclose(penalty("relu_power", p=1), penalty("relu"), rtol=1e-14)
    assert_allclose(penalty("relu_power", p=2), w**6 / 4, rtol=1e-14)
    assert_allclose(penalty("relu_power", p=3.5), np.abs(w) ** 9 / special.gamma(4.5) ** 2, rtol=1e-14)
    assert_allclose(penalty("power_softplus", k=0), penalty("logistic"), rtol=1e-14)
    assert_allclose(penalty("power_softplus", k=1), penalty("softplus"), rtol=1e-14)
    assert_allclose(penalty("tanh"), np.sinh(np.pi * w / 2) ** 2 / np.pi**2, rtol=1e-14)
    assert_allclose(penalty("leaky_relu", negative_slope=0.0), penalty("relu"), rtol=1e-14)
    assert_allclose(penalty("step"), w**2, rtol=1e-14)
    assert_allclose(penalty("log_abs"), w**2 / np.pi**2, rtol=1e-14)
    assert_allclose(penalty("gfunction", p=1.0), np.exp(2 * w), rtol=1e-14)
    # the G-function with p = 1 is the Cauchy activation divided by π, with p = 2, c = 1/2 the
    # Gaussian (s = 1) divided by √π
    assert_allclose(penalty("gfunction", p=1.0), np.pi**2 * penalty("cauchy"), rtol=1e-14)
    assert_allclose(penalty("gfunction", p=2.0, c=0.5), np.pi * penalty("gaussian"), rtol=1e-14)
    assert_allclose(penalty("gaussian", s=np.sqrt(2)), np.exp(w**2) / (2 * np.pi), rtol=1e-14)
    assert_allclose(penalty("satrelu"), w**4 / (4 * np.sin(w / 2) ** 2), rtol=1e-14)


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if get(n).fourier(1.0) is not None])
def test_penalty_is_one_over_squared_fourier_modulus(name):
    a = get(name)
    w = np.array([-2.2, -0.7, 0.3, 1.3, 2.2])
    with np.errstate(divide="ignore"):  # outside the band of sinc and sinc2 both sides are inf
        expected = 1 / np.abs(a.fourier(w)) ** 2
    assert_allclose(a.spectral_penalty(w), expected, rtol=1e-12)


def test_band_limited_penalties_are_infinite_outside_the_band():
    inside_outside = get("sinc", a=2.0).spectral_penalty([0.0, 1.9, 2.1, 50.0])
    assert_allclose(inside_outside[:2], [np.pi**-2] * 2, rtol=1e-15)  # 1/|π|² vs π^-2: another rounding
    assert np.all(np.isinf(inside_outside[2:]))
    assert get("sinc2", a=1.0).spectral_penalty(2.5) == np.inf
    assert get("satrelu").spectral_penalty(2 * np.pi) > 1e30


@pytest.mark.parametrize("name", ALL_NAMES)
def test_penalty_is_quiet_and_nan_free_at_extreme_frequencies(name):
    w = np.array([0.0, 1e-8, 40.0, 1e3, 1e6, -1e6])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = get(name).spectral_penalty(w)
        f = get(name).fourier(w)
    if p is None:
        assert f is None
        return
    assert p.dtype == np.float64 and p.shape == w.shape
    assert not np.isnan(p).any()
    assert np.all(p >= 0)
    assert f is None or (f.dtype == np.complex128 and not np.isnan(f[1:]).any())


def test_no_closed_form_gives_none():
    for name in ("sin", "cos", "identity", "softsign"):
        assert get(name).spectral_penalty(1.0) is None
        assert get(name).fourier(1.0) is None


# ---------------------------------------------------------------------------------------------
# get(): names, parameters, callables, errors
# ---------------------------------------------------------------------------------------------


def test_unknown_name_lists_names_and_suggests_closest():
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'\. Did you mean 'relu'") as info:
        get("rleu")
    message = str(info.value)
    for name in DESIGN_NAMES:
        assert name in message
    with pytest.raises(ValueError, match="Known activations: atan, cauchy"):
        get("no_such_thing_at_all")


def test_names_are_case_insensitive_and_the_registry_stays_lower_case():
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    spellings = (("ReLU", "relu"), ("TANH", "tanh"), ("Sigmoid", "logistic"), ("Relu_Power", "relu_power"))
    for spelled, canonical in spellings:
        act = get(spelled)
        assert act.name == canonical
        assert torch.equal(act(x), get(canonical)(x))  # the same registry entry
    assert get("RELU_POWER", p=3).params == {"p": 3.0}
    assert all(name == name.lower() for name in available())
    with pytest.raises(ValueError, match=r"unknown activation 'RLEU'\. Did you mean 'relu'"):
        get("RLEU")


@pytest.mark.parametrize("name", ["rowdy", "LAAF", "kronecker", "iat"])
def test_adaptive_family_names_say_where_to_use_them(name):
    from kernelreg.features import RandomFeatureMap

    expected = rf"'{name}' is an adaptive layer family.*AdaptiveRegressor\(activation='{name.lower()}'\)"
    with pytest.raises(ValueError, match=expected):
        get(name)
    with pytest.raises(ValueError, match=r"warmup_epochs=20, then_solver='exact'"):
        RandomFeatureMap(5, activation=name).fit(np.zeros((3, 2)))


def test_adaptive_family_list_matches_networks():
    from kernelreg.activations import _ADAPTIVE_FAMILY_NAMES
    from kernelreg.networks import ADAPTIVE_FAMILIES

    assert set(_ADAPTIVE_FAMILY_NAMES) == set(ADAPTIVE_FAMILIES)


def test_unknown_parameter_is_a_type_error_naming_allowed_keys():
    expected = r"'relu_power' got unknown parameter\(s\) 'q'; allowed parameters: p\."
    with pytest.raises(TypeError, match=expected):
        get("relu_power", q=3)
    with pytest.raises(TypeError, match="'relu' got unknown parameter.*allowed parameters: none"):
        get("relu", p=2)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("relu_power", {"p": -1}, "p must be > -1 .*got -1"),
        ("gaussian", {"s": 0.0}, "s must be > 0"),
        ("erf", {"s": -1.0}, "s must be > 0"),
        ("gfunction", {"c": 0.0}, "c must be > 0"),
        ("sinc", {"a": 0.0}, "a must be > 0"),
        ("power_softplus", {"k": 1.5}, "k must be an integer >= 0; got 1.5"),
        ("power_softplus", {"k": -1}, "k must be an integer >= 0"),
        ("gfunction", {"p": float("nan")}, "p must be a finite real number"),
        ("wavepacket", {"s": "wide"}, "s must be a finite real number"),
        ("elu", {"alpha": True}, "alpha must be a finite real number"),
    ],
)
def test_bad_parameter_values_are_rejected(name, params, match):
    with pytest.raises(ValueError, match=match):
        get(name, **params)


def test_parameters_are_normalised():
    assert get("power_softplus", k=3.0).params == {"k": 3}
    assert get("relu_power", p=np.float64(2.5)).params == {"p": 2.5}
    assert type(get("relu_power", p=np.float64(2.5)).params["p"]) is float


def test_non_callable_argument_is_a_type_error():
    with pytest.raises(TypeError, match="name \\(str\\), an Activation or a callable.*got int 3"):
        get(3)


def test_aliases_resolve_to_canonical_names():
    assert get("swish") == get("silu")
    assert get("linear").name == "identity"
    assert get("sigmoid").name == "logistic"


def test_get_activation_returns_it_or_reparameterises():
    a = get("relu_power", p=2)
    assert get(a) is a
    b = get(a, p=3)
    assert b == get("relu_power", p=3) and a.params == {"p": 2}
    with pytest.raises(TypeError, match="re-parameterise the custom activation"):
        get(get(torch.sin), p=1)


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (torch.sin, "sin"),
        (torch.nn.functional.silu, "silu"),
        (torch.nn.SiLU(), "SiLU"),
        (lambda x: x**2, "<lambda>"),
    ],
)
def test_user_callable_is_wrapped(fn, name):
    a = get(fn)
    assert isinstance(a, Activation)
    assert a.name == name and a.params == {}
    assert a.spectral_penalty([1.0, 2.0]) is None and a.fourier(1.0) is None
    x = _grid(21)
    expected = fn(torch.tensor(x)).numpy()
    assert_allclose(a(x), expected)
    xt = torch.tensor(x, requires_grad=True)
    a(xt).sum().backward()
    assert torch.isfinite(xt.grad).all()
    assert repr(a) == f"{name} [custom]"


def test_user_callable_with_closed_forms_and_bad_keywords():
    a = get(torch.sin, name="my_sin", penalty=lambda w: np.ones_like(w), fourier=lambda w: 0j * w)
    assert a.name == "my_sin"
    assert_array_equal(a.spectral_penalty([1.0, 2.0]), [1.0, 1.0])
    b = get(torch.sin, fourier=lambda w: 2.0 / (1.0 + 1j * w))
    assert_allclose(b.spectral_penalty(1.0), 0.5)  # derived from the Fourier form: |1+i|²/4
    with pytest.raises(TypeError, match="allowed: fourier, name, penalty"):
        get(torch.sin, scale=2.0)


def test_repr_shows_parameters():
    assert repr(get("relu")) == "relu"
    assert repr(get("relu_power", p=2)) == "relu_power(p=2)"
    assert repr(get("sinc")) == "sinc(a=1.0)"
    assert repr(get("wavepacket")) == "wavepacket(s=1.0, w0=2.0)"


def test_params_is_a_copy():
    a = get("sinc", a=2.0)
    a.params["a"] = 5.0
    assert a.params == {"a": 2.0}
    assert a(0.0) == 2.0


def test_equality_and_hash():
    assert get("sinc", a=1) == get("sinc")
    assert hash(get("sinc", a=1)) == hash(get("sinc"))
    assert get("sinc", a=2.0) != get("sinc")
    assert get("relu") != get(torch.relu)
    assert get("relu") != "relu"
    assert len({get("relu"), get("relu"), get("step")}) == 2


@pytest.mark.parametrize("name", ALL_NAMES)
def test_pickle_and_deepcopy_round_trip(name):
    a = get(name)
    b = pickle.loads(pickle.dumps(a))
    assert b == a and repr(b) == repr(a)
    assert_array_equal(b(_grid(11)), a(_grid(11)))
    assert copy.deepcopy(a) == a


def test_pickle_parameterised_and_wrapped():
    for a in (get("gfunction", p=2.5), get(torch.sin), get(torch.nn.functional.silu)):
        b = pickle.loads(pickle.dumps(a))
        assert b == a
        assert_array_equal(b(_grid(7)), a(_grid(7)))


# ---------------------------------------------------------------------------------------------
# register()
# ---------------------------------------------------------------------------------------------


def _scaled_tanh(x, scale):
    """Module-level so that the registered activation pickles."""
    return torch.tanh(scale * x)


def test_register_adds_a_named_activation():
    try:
        register("scaled_tanh_test", _scaled_tanh, defaults={"scale": 2.0}, penalty=lambda w, scale: w**2)
        assert "scaled_tanh_test" in available()
        a = get("scaled_tanh_test", scale=3.0)
        assert repr(a) == "scaled_tanh_test(scale=3.0)"
        assert_allclose(a([0.1, -0.2]), np.tanh([0.3, -0.6]))
        assert_allclose(a.spectral_penalty(2.0), 4.0)
        with pytest.raises(TypeError, match="allowed parameters: scale"):
            get("scaled_tanh_test", width=1.0)
        with pytest.raises(ValueError, match="already registered"):
            register("scaled_tanh_test", _scaled_tanh, defaults={"scale": 1.0})
        register("scaled_tanh_test", _scaled_tanh, defaults={"scale": 1.0}, overwrite=True)
        assert get("scaled_tanh_test").params == {"scale": 1.0}
        assert get("scaled_tanh_test").spectral_penalty(1.0) is None
        assert pickle.loads(pickle.dumps(get("scaled_tanh_test"))) == get("scaled_tanh_test")
    finally:
        act._REGISTRY.pop("scaled_tanh_test", None)
    assert "scaled_tanh_test" not in available()


@pytest.mark.parametrize(
    ("name", "match"),
    [("relu", "built-in"), ("swish", "built-in"), ("Bad Name", "lower case"), ("1x", "lower case")],
)
def test_register_rejects_bad_or_taken_names(name, match):
    with pytest.raises(ValueError, match=match):
        register(name, torch.tanh)


def test_register_validates_defaults_immediately():
    with pytest.raises(ValueError, match="finite real number"):
        register("bad_default_test", _scaled_tanh, defaults={"scale": "big"})
    assert "bad_default_test" not in available()


# ---------------------------------------------------------------------------------------------
# The one table of chosen constants: complete for the activation defaults, equal to the code
# ---------------------------------------------------------------------------------------------

LIBRARY_DEFAULTS = {("leaky_relu", "negative_slope"), ("elu", "alpha")}  # PyTorch's, not invented


def test_chosen_constants_list_every_activation_default():
    listed = {(c.item, c.param) for c in act.CHOSEN_CONSTANTS if c.source == "kernelreg.activations"}
    for name in available():
        for param in get(name).params:
            assert (name, param) in listed or (name, param) in LIBRARY_DEFAULTS, (name, param)


@pytest.mark.parametrize("entry", act.CHOSEN_CONSTANTS, ids=lambda c: f"{c.item}.{c.param}")
def test_chosen_constant_is_the_value_the_code_uses(entry):
    from kernelreg.bench._common import SPECTRAL_ACTIVATIONS
    from kernelreg.datasets import load_random_labels_cube, spectral_target
    from kernelreg.features import RandomFeatureMap

    assert entry.reason and entry.source.startswith("kernelreg.")
    if entry.source == "kernelreg.activations":
        a = get(entry.item)
        if entry.param in a.params:
            assert a.params[entry.param] == entry.value
        elif entry.param == "H(0)":
            assert a(0.0) == entry.value
        elif entry.param == "floor":
            assert a(0.0) == pytest.approx(np.log(entry.value), rel=1e-15)
        else:  # a formula: the registered function is the one named
            assert entry.param == "formula"
            assert_allclose(a(X), X * np.exp(-X) * (X > 0), rtol=1e-14)
    elif entry.source.endswith("SPECTRAL_ACTIVATIONS"):
        row = {key: params for key, _, _, params in SPECTRAL_ACTIVATIONS}[entry.item]
        got = (row["s"], row["w0"]) if entry.param == "(s, w0)" else row[entry.param]
        assert got == entry.value
    elif entry.source.endswith("spectral_target"):
        params = spectral_target(entry.item, random_state=3).params
        drawn = {"amplitude range": "amplitudes", "frequency range": "frequencies", "width range": "widths",
                 "height range": "heights", "centre range": "centres"}
        if entry.param in drawn:
            values = np.abs(np.asarray(params[drawn[entry.param]])) if entry.param == "height range" else np.asarray(params[drawn[entry.param]])
            assert np.all((values >= entry.value[0]) & (values <= entry.value[1]))
        elif entry.param == "count":
            assert len(params["widths"]) == entry.value
        else:
            assert params[entry.param] == pytest.approx(entry.value, rel=1e-15)
    elif entry.source.endswith("load_random_labels_cube"):
        data = load_random_labels_cube(500, random_state=1)
        both = np.concatenate([data.X_train.ravel(), data.y_train])
        assert entry.value[0] <= both.min() and both.max() <= entry.value[1] and np.ptp(both) > 1.9
    else:
        Xs = np.array([[0.3, -0.4], [2.0, 1.5]])
        assert RandomFeatureMap(5, random_state=0).fit(Xs).offset_scale_ == pytest.approx(2.5)
