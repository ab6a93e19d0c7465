"""design_activation (Eq. 10): penalty → σ → penalty round trips on the zoo, σ against the zoo's σ up to the invariances."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from sklearn.base import clone

from kernelreg.activation_design import design_activation
from kernelreg.activations import get
from kernelreg.features import RandomFeatureMap

# (zoo name, params, phase m, degree of the polynomial the inverse cannot recover: -1 = none).
# The degree is the largest j < a0 − 1 for P^{-1/2} ~ ω^{-a0} at 0 (δ-terms at ω = 0 are dropped):
# a0 = 0 → none; a0 = 1 (Step, Logistic) → a constant; a0 = 2 (ReLU, Softplus, GELU) → affine;
# a0 = 3 (relu_power(2)) → quadratic; a0 = 4.5 (relu_power(3.5)) → cubic.
ROUND_TRIPS = [
    ("gaussian", {}, 0, -1),
    ("cauchy", {}, 0, -1),
    ("sech", {}, 0, -1),
    ("logistic_bump", {}, 0, -1),
    ("sinc", {"a": 2.0}, 0, -1),
    ("sinc2", {}, 0, -1),
    ("gfunction", {"p": 3.0}, 0, -1),
    ("erf", {}, 1, 0),
    ("atan", {}, 1, 0),
    ("tanh", {}, 1, 0),
    ("logistic", {}, 1, 0),
    ("step", {}, 1, 0),
    ("softplus", {}, 2, 1),
    ("gelu", {}, 2, 1),
    ("relu", {}, 2, 1),
    ("relu_power", {"p": 2}, 3, 2),
    pytest.param("relu_power", {"p": 3.5}, 4.5, 3, marks=pytest.mark.slow),
]
X = np.concatenate([np.linspace(-6.0, -0.013, 50), np.linspace(0.011, 6.0, 50)])


def _polynomial_residual(diff: np.ndarray, degree: int) -> float:
    """Max residual of diff after removing the best polynomial of the given degree (-1: nothing)."""
    if degree < 0:
        return float(np.abs(diff).max())
    V = np.vander(X, degree + 1)
    return float(np.abs(diff - V @ np.linalg.lstsq(V, diff, rcond=None)[0]).max())


@pytest.mark.parametrize(("name", "params", "m", "degree"), ROUND_TRIPS)
def test_design_recovers_the_zoo_activation_up_to_its_invariances(name, params, m, degree):
    zoo = get(name, **params)
    designed = design_activation(zoo, phase=m)
    diff = designed(X) - zoo(X)
    scale = max(1.0, float(np.abs(zoo(X)).max()))
    assert _polynomial_residual(diff, degree) < 1e-9 * scale
    if degree >= 0:  # and the polynomial is really needed (the invariance is not vacuous), except
        # where symmetry makes it vanish (erf, atan, tanh are odd: their constant is 0)
        assert _polynomial_residual(diff, degree - 1) > 1e-3 or name in {"erf", "atan", "tanh"}
    # penalty → σ → penalty: the designed activation carries P exactly and σ̂ = (−i sgn ω)^m/√P
    w = np.array([-2.5, -0.7, 0.4, 1.3, 3.0])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(designed.spectral_penalty(w), zoo.spectral_penalty(w), rtol=1e-15)
        np.testing.assert_allclose(np.abs(designed.fourier(w)), np.abs(zoo.fourier(w)), rtol=1e-12)


def _fourier(f, w, half_width):
    """∫ f(x) e^{-iwx} dx on [-half_width, half_width] by QUADPACK's cosine/sine rules."""
    c = quad(lambda x: f(x) + f(-x), 0, half_width, weight="cos", wvar=w, limit=400)[0]
    s = quad(lambda x: f(x) - f(-x), 0, half_width, weight="sin", wvar=w, limit=400)[0]
    return c - 1j * s


@pytest.mark.parametrize(("penalty", "m", "derivative", "x_max"), [
    (lambda w: np.exp(w**2 / 2) / np.pi, 0, False, 12.0),          # a Gaussian
    (lambda w: np.cosh(np.pi * w / 2) ** 2, 0, False, 45.0),        # a sech (decays like e^{-|x|})
    (lambda w: (w / 2) ** 2 * np.exp(w**2 / 2), 1, True, 12.0),    # an erf: its derivative is a Gaussian
])
def test_penalty_round_trip_through_a_numerical_transform_of_the_table(penalty, m, derivative, x_max):
    # Independent of the design code: transform the tabulated σ (or σ' by autograd) numerically
    # and compare with (−i sgn ω)^m / √P (times iω for the derivative).
    designed = design_activation(penalty, phase=m, x_max=x_max)

    def values(x):
        if not derivative:
            return float(designed(np.array([x]))[0])
        xt = torch.tensor([x], dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(designed(xt).sum(), xt)
        return float(g[0])

    for w in (0.3, 1.0, 2.2):
        numeric = _fourier(values, w, x_max)
        expected = (-1j) ** m / np.sqrt(penalty(w)) * ((1j * w) if derivative else 1)
        assert abs(numeric - expected) < 1e-8 * max(1.0, abs(expected))


def _square_plus_one(w):
    """P = (1 + ω²)²: a module-level penalty, so the designed activation pickles."""
    return (1.0 + w**2) ** 2


def test_designed_activation_is_usable_everywhere():
    act = design_activation(_square_plus_one, phase=0, x_max=8.0, name="matern")
    # zero phase of 1/(1 + ω²): σ = e^{-|x|}/2
    x = np.linspace(-7.5, 7.5, 31)
    np.testing.assert_allclose(act(x), np.exp(-np.abs(x)) / 2, rtol=1e-10, atol=1e-12)
    assert act.name == "matern" and repr(act) == "matern [custom]"
    # torch: dtype and device kept, gradients finite and equal to the derivative (away from the kink)
    xt = torch.linspace(0.2, 7.0, 12, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(act(xt).sum(), xt)
    np.testing.assert_allclose(g.numpy(), -np.exp(-xt.detach().numpy()) / 2, rtol=1e-8)
    y32 = act(torch.linspace(-3, 3, 7, dtype=torch.float32))
    assert y32.dtype == torch.float32
    np.testing.assert_allclose(y32.numpy(), np.exp(-np.abs(np.linspace(-3, 3, 7))) / 2, rtol=1e-6)
    # in a feature map, cloned, pickled
    X = np.random.default_rng(0).uniform(-1, 1, size=(6, 2))
    fmap = RandomFeatureMap(5, activation=act, random_state=0).fit(X)
    np.testing.assert_allclose(fmap.transform(X), np.exp(-np.abs(fmap.pre_activations(X))) / 2, rtol=1e-10)
    assert clone(fmap).get_params()["activation"] == act  # a deep copy of the same table
    again = pickle.loads(pickle.dumps(act))
    assert again == act
    np.testing.assert_array_equal(again(x), act(x))  # the same table evaluated twice
    np.testing.assert_allclose(again.spectral_penalty([0.5]), _square_plus_one(0.5))


def test_inputs_outside_the_table_are_an_error():
    act = design_activation(lambda w: np.exp(w**2), x_max=3.0)
    with pytest.raises(ValueError, match=r"tabulated on \[-3, 3\] but got an input of size 4.*x_max="):
        act(np.array([0.0, 4.0]))


@pytest.mark.parametrize(("penalty", "kwargs", "error", "match"), [
    (lambda w: -np.ones_like(w), {}, ValueError, "must be positive"),
    (lambda w: np.exp(w), {}, ValueError, r"must be even, P\(−ω\) = P\(ω\)"),
    (lambda w: np.ones_like(w), {}, ValueError, "does not decay .*Dirac"),
    (lambda w: w**2, {"phase": 0}, ValueError, r"unbounded at x = 0 .*log\|x\|"),
    (3.0, {}, TypeError, "penalty must be a callable"),
    (lambda w: np.exp(w**2), {"x_max": 0.0}, ValueError, "x_max to be a finite number > 0"),
    (lambda w: np.exp(w**2), {"phase": float("nan")}, ValueError, "phase must be a finite real number"),
])
def test_design_errors(penalty, kwargs, error, match):
    with pytest.raises(error, match=match):
        design_activation(penalty, **kwargs)
    with pytest.raises(ValueError, match="no closed-form spectral penalty"):
        design_activation(get("softsign"))
