"""RadonSplineLayer: one set of parameters, several views (forward, features, (w, b, c), δ)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from kernelreg.exceptions import KernelregError
from kernelreg.layers import RadonSplineLayer


def _data(n=40, d=2, seed=1):
    gen = torch.Generator().manual_seed(seed)
    X = 2 * torch.rand(n, d, generator=gen, dtype=torch.float64) - 1
    y = torch.sin(3 * X[:, 0]) * torch.cos(2 * X[:, -1])
    return X, y


def _gd(layer, X, y, steps, lr=None, groups=None):
    opt = torch.optim.SGD(groups if groups is not None else layer.parameters(), lr=lr if lr is not None else 0.0)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((layer(X) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return float(loss.detach())


@pytest.mark.parametrize("module", ["kernelreg.layers", "kernelreg.layers.radon", "kernelreg.layers.rowdy",
                                    "kernelreg.layers.iat", "kernelreg.layers.bases"])
def test_all_names_resolve(module):
    mod = importlib.import_module(module)
    assert mod.__all__
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ lists {name!r}, which does not exist"


def test_design_public_names():
    from kernelreg import layers

    for name in ("RowdyActivation", "KroneckerActivation", "LAAF", "IAT", "RadonSplineLayer"):
        assert name in layers.__all__ and callable(getattr(layers, name))
    assert callable(layers.bases.get) and layers.bases.available()


@pytest.mark.parametrize("parameterization", ["radon", "standard"])
@pytest.mark.parametrize("n_outputs", [None, 3])
def test_standard_round_trip(parameterization, n_outputs):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(7, generator=gen, dtype=torch.float64)
    c = torch.randn(7, *(() if n_outputs is None else (n_outputs,)), generator=gen, dtype=torch.float64)
    layer = RadonSplineLayer.from_standard(w, b, c, parameterization=parameterization)
    w2, b2, c2 = layer.to_standard()
    if parameterization == "standard":  # stored as given and copied back: no arithmetic, so bitwise
        assert torch.equal(w2, w) and torch.equal(b2, b) and torch.equal(c2, c)
    else:
        for got, want in ((w2, w), (b2, b), (c2, c)):
            torch.testing.assert_close(got, want, rtol=1e-14, atol=1e-15)
    # numpy inputs work the same
    layer_np = RadonSplineLayer.from_standard(w.numpy(), b.numpy(), c.numpy(), parameterization=parameterization)
    torch.testing.assert_close(layer_np.to_standard()[0], w, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("parameterization", ["radon", "standard"])
def test_radon_round_trip_and_formulas(parameterization):
    layer = RadonSplineLayer(3, 6, init_scale=2.5, offset_scale=1.5, random_state=3, parameterization=parameterization)
    xi, gamma, mu, alpha = layer.to_radon()
    torch.testing.assert_close(xi.norm(dim=1), torch.ones(6, dtype=torch.float64))
    torch.testing.assert_close(alpha, torch.full((6,), 2.5, dtype=torch.float64))
    assert bool((gamma.abs() <= 1.5).all())
    w, b, c = layer.to_standard()
    torch.testing.assert_close(w, alpha[:, None] * xi)
    torch.testing.assert_close(b, alpha * gamma)
    torch.testing.assert_close(c, mu / alpha)
    back = RadonSplineLayer.from_radon(xi, gamma, mu, alpha, parameterization=parameterization)
    for got, want in zip(back.to_radon(), (xi, gamma, mu, alpha)):
        torch.testing.assert_close(got, want, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("parameterization", ["radon", "standard"])
def test_forward_features_and_hand_formula_agree(activation, parameterization):
    X, _ = _data()
    layer = RadonSplineLayer(2, 9, activation, init_scale=0.7, random_state=0, parameterization=parameterization)
    Phi = layer.features(X)
    assert Phi.shape == (40, 9)
    torch.testing.assert_close(layer(X), Phi @ layer.mu)
    w, b, c = layer.to_standard()
    sigma = torch.relu if activation == "relu" else torch.tanh
    torch.testing.assert_close(layer(X), sigma(X @ w.T - b) @ c)
    xi, gamma, mu, alpha = layer.to_radon()
    torch.testing.assert_close(Phi, sigma(alpha * (X @ xi.T - gamma)) / alpha)


def test_multi_output_shapes():
    X, _ = _data()
    layer = RadonSplineLayer(2, 5, n_outputs=4, random_state=0)
    assert layer(X).shape == (40, 4)
    assert layer.features(X).shape == (40, 5)
    assert layer.delta().shape == (5,)


def test_relu_function_does_not_depend_on_alpha_at_init():
    X, _ = _data()
    small = RadonSplineLayer(2, 10, init_scale=0.1, random_state=5)
    large = RadonSplineLayer(2, 10, init_scale=10.0, random_state=5)
    torch.testing.assert_close(small(X), large(X))


def test_random_state_reproducible_and_no_global_seed():
    state = torch.random.get_rng_state()
    a = RadonSplineLayer(2, 4, random_state=11)
    b = RadonSplineLayer(2, 4, random_state=11)
    c = RadonSplineLayer(2, 4, random_state=12)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.xi, c.xi)


def test_xi_stays_unit_while_training_radon_coordinates():
    X, y = _data()
    layer = RadonSplineLayer(2, 12, random_state=0)
    _gd(layer, X, y, steps=20, lr=0.1)
    torch.testing.assert_close(layer.xi.norm(dim=1), torch.ones(12, dtype=torch.float64))
    assert all(p.grad is not None for p in layer.parameters())


def test_delta_conserved_under_small_step_gd_relu():
    X, y = _data()
    layer = RadonSplineLayer(2, 20, "relu", parameterization="standard", random_state=0)
    delta0 = layer.delta()
    w0, b0, c0 = layer.to_standard()
    _gd(layer, X, y, steps=200, lr=1e-3)
    w1, b1, c1 = layer.to_standard()
    drift = (layer.delta() - delta0).abs().max() / delta0.abs().max()
    assert drift < 1e-4, float(drift)
    # ... while the parameters move clearly
    assert (c1 - c0).norm() / c0.norm() > 0.05
    assert (w1 - w0).norm() / w0.norm() > 1e-3
    assert (b1 - b0).abs().max() > 1e-3


def test_delta_not_conserved_for_tanh():
    """Conservation needs σ'(z)z = σ(z); tanh breaks it by orders of magnitude more than ReLU's O(lr²)."""
    X, y = _data()
    layer = RadonSplineLayer(2, 20, "tanh", parameterization="standard", random_state=0)
    delta0 = layer.delta()
    _gd(layer, X, y, steps=200, lr=1e-3)
    drift = (layer.delta() - delta0).abs().max() / delta0.abs().max()
    assert drift > 1e-3


def test_kunin_delta_conserved_with_param_groups():
    X, y = _data()
    layer = RadonSplineLayer(2, 20, parameterization="standard", random_state=2)
    lr_h, lr_o = 2e-3, 5e-4
    groups = layer.param_groups(lr_h, lr_o)
    assert [g["name"] for g in groups] == ["hidden", "output"]
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in layer.parameters())
    weighted0, plain0 = layer.delta(lr_h, lr_o), layer.delta()
    _gd(layer, X, y, steps=200, groups=groups)
    drift = (layer.delta(lr_h, lr_o) - weighted0).abs().max() / weighted0.abs().max()
    plain_drift = (layer.delta() - plain0).abs().max() / plain0.abs().max()
    assert drift < 1e-4 and plain_drift > 10 * drift


def test_radon_param_groups_cover_parameters():
    layer = RadonSplineLayer(2, 5, random_state=0)
    groups = layer.param_groups(1e-2, 1e-3)
    assert sorted(id(p) for g in groups for p in g["params"]) == sorted(id(p) for p in layer.parameters())
    torch.optim.SGD(groups)


def _plane_speed_per_function_change(layer, X, y, groups):
    """‖Δ(ξ, γ)‖ / ‖Δf‖ after one tiny GD step: the regime indicator (lr-independent to first order)."""
    xi0, g0, _, _ = layer.to_radon()
    f0 = layer(X).detach()
    _gd(layer, X, y, steps=1, groups=groups)
    xi1, g1, _, _ = layer.to_radon()
    return float(((xi1 - xi0).norm() + (g1 - g0).norm()) / (layer(X).detach() - f0).norm())


def test_init_scale_places_training_between_kernel_and_adaptive_regime():
    X, y = _data()
    speeds = {}
    for scale in (0.1, 1.0, 10.0):
        layer = RadonSplineLayer(2, 20, parameterization="standard", init_scale=scale, random_state=0)
        speeds[scale] = _plane_speed_per_function_change(layer, X, y, layer.param_groups(1e-7, 1e-7))
    assert speeds[10.0] < 1e-3 * speeds[1.0] < 1e-3 * speeds[0.1]
    assert RadonSplineLayer(2, 3, init_scale=10.0, random_state=0).delta().max() < -50


def test_learning_rates_place_training_between_regimes():
    X, y = _data()
    rich = RadonSplineLayer(2, 20, parameterization="standard", random_state=0)
    lazy = RadonSplineLayer(2, 20, parameterization="standard", random_state=0)
    rich_speed = _plane_speed_per_function_change(rich, X, y, rich.param_groups(1e-6, 1e-8))
    lazy_speed = _plane_speed_per_function_change(lazy, X, y, lazy.param_groups(1e-8, 1e-6))
    assert lazy_speed < 1e-2 * rich_speed


def test_float32_layer_accepts_float64_input():
    layer = RadonSplineLayer(2, 4, random_state=0, dtype="float32")
    out = layer(torch.zeros(3, 2, dtype=torch.float64))
    assert out.dtype == torch.float32 and out.shape == (3,)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"in_features=2 columns; got last dimension 3"):
        RadonSplineLayer(2, 4, random_state=0)(torch.zeros(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="init_scale"):
        RadonSplineLayer(2, 4, init_scale=0.0)
    with pytest.raises(ValueError, match="n_neurons"):
        RadonSplineLayer(2, 0)
    with pytest.raises(ValueError, match="parameterization='polar' is unknown"):
        RadonSplineLayer(2, 4, parameterization="polar")
    with pytest.raises(ValueError, match=r"rows \[1\] of w are zero"):
        RadonSplineLayer.from_standard(np.array([[1.0, 0.0], [0.0, 0.0]]), np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="shape"):
        RadonSplineLayer.from_standard(np.ones((3, 2)), np.zeros(2), np.ones(3))
    with pytest.raises(ValueError, match="alpha"):
        RadonSplineLayer.from_radon(np.eye(2), np.zeros(2), np.ones(2), alpha=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="both lr_hidden and lr_output"):
        RadonSplineLayer(2, 4, random_state=0).delta(lr_hidden=1e-3)


def test_unknown_activation_propagates():
    with pytest.raises((ValueError, KeyError, KernelregError), match="no_such_activation"):
        RadonSplineLayer(2, 4, "no_such_activation")
