"""IAT bases (Table 1 of the IAT paper) and IAT layers: discretised, analytic, decoupled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernelreg.exceptions import KernelregError
from kernelreg.layers import IAT, DecoupledIAT, bases

SIX = ["rect", "pwl", "pwq", "fourier", "pwl_w", "rect_w"]
F64 = torch.float64


def _z(*shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64)


def _fine_mesh(n=120_000):
    return -1.0 + (2.0 * np.arange(1, n + 1) - 1.0) / n


# ---- bases -------------------------------------------------------------------------------------------
def test_available_and_unknown_basis():
    assert bases.available() == SIX
    with pytest.raises(ValueError, match=r"unknown IAT basis 'haar'.*'rect', 'pwl', 'pwq', 'fourier', 'pwl_w', 'rect_w'"):
        bases.get("haar", 4)
    assert bases.get("PWL-W", 4).name == "pwl_w"


def test_basis_argument_errors():
    with pytest.raises(ValueError, match="d >= 1"):
        bases.get("pwl", 0)
    with pytest.raises(ValueError, match="'rect_w' needs d >= 2"):
        bases.get("rect_w", 1)
    with pytest.raises(ValueError, match="normalize='max' is not a basis normalisation"):
        bases.get("pwl", 3, normalize="max")
    with pytest.raises(ValueError, match="d=3 functions but d=4"):
        bases.get(bases.get("pwl", 3), 4)


@pytest.mark.parametrize("name", SIX)
def test_numpy_and_torch_views_agree(name):
    basis = bases.get(name, 5)
    s = np.linspace(-1, 1, 301)
    values = basis(s)
    assert isinstance(values, np.ndarray) and values.shape == (5, 301)
    tensor = basis(torch.tensor(s, dtype=F64))
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == F64
    np.testing.assert_allclose(tensor.numpy(), values, atol=1e-15)
    assert basis(torch.tensor(s, dtype=torch.float32)).dtype == torch.float32
    assert np.all(basis(np.array([-1.5, 1.5])) == 0)


@pytest.mark.parametrize("name", SIX)
@pytest.mark.parametrize("d", [2, 5, 6])
def test_unit_l2_norms(name, d):
    s = _fine_mesh()
    P = bases.get(name, d)(s)
    norms = (P**2).sum(axis=1) * 2.0 / s.size
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)


@pytest.mark.parametrize("name", SIX)
def test_table1_zero_integral(name):
    basis = bases.get(name, 6)
    s = _fine_mesh()
    integrals = basis(s).sum(axis=1) * 2.0 / s.size
    if basis.zero_integral:
        assert name in ("fourier", "pwl_w", "rect_w")
        assert np.abs(integrals).max() < 1e-8
    else:
        assert name in ("rect", "pwl", "pwq")
        assert integrals.min() > 0.1


@pytest.mark.parametrize("name", SIX)
def test_table1_continuity_and_smoothness(name):
    basis = bases.get(name, 6)
    s = np.linspace(-1, 1, 60_001)
    P = basis(s)
    jump = np.abs(np.diff(P, axis=1)).max()
    if basis.continuous:
        assert name not in ("rect", "rect_w")
        assert jump < 1e-2
    else:
        assert name in ("rect", "rect_w")
        assert jump > 0.5
    if basis.continuous:
        slope = np.diff(P, axis=1) / np.diff(s)
        slope_jump = np.abs(np.diff(slope, axis=1)).max() / np.abs(slope).max()
        if basis.smooth:  # C¹: pwq and fourier
            assert name in ("pwq", "fourier")
            assert slope_jump < 1e-2
        else:
            assert name in ("pwl", "pwl_w")
            assert slope_jump > 0.3


@pytest.mark.parametrize("name", SIX)
def test_table1_locality(name):
    d = 8
    basis = bases.get(name, d)
    s = _fine_mesh(16_000)
    support = (np.abs(basis(s)) > 1e-12).mean(axis=1)
    if basis.global_support:
        assert name == "fourier" and support.min() > 0.99
    else:
        assert support.max() <= 3.0 / d + 1e-9  # at most 3 cells of width 2/d


@pytest.mark.parametrize("name", ["fourier", "pwl_w"])
def test_periodic_continuous_bases_match_at_the_ends(name):
    values = bases.get(name, 6)(np.array([-1.0, 1.0]))
    np.testing.assert_allclose(values[:, 0], values[:, 1], atol=1e-12)


def test_knots_and_flags():
    assert bases.get("fourier", 4).knots is None
    np.testing.assert_allclose(bases.get("rect", 4).knots, [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_allclose(bases.get("pwl", 4).knots, [-1, -0.75, -0.25, 0.25, 0.75, 1])
    np.testing.assert_allclose(bases.get("rect_w", 4).knots, [-1, -0.75, -0.25, 0.25, 0.75, 1])
    np.testing.assert_allclose(bases.get("pwl_w", 4).knots, [-1, -0.5, 0, 0.5, 1])
    flags = {name: bases.get(name, 4).piecewise_linear for name in SIX}
    assert flags == {"rect": True, "pwl": True, "pwq": False, "fourier": False, "pwl_w": True, "rect_w": True}


def test_normalisation_options():
    s = _fine_mesh(6_000)
    for name in SIX:
        sup = bases.get(name, 6, normalize="sup")(s)
        np.testing.assert_allclose(np.abs(sup).max(axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(bases.get("pwl", 4, normalize="none")(bases.get("pwl", 4).centres), np.eye(4))
    np.testing.assert_allclose(bases.get("pwq", 4, normalize="none")(np.array([-0.75])).max(), 0.75)


def test_wavelet_state_function_is_cyclic_difference():
    """rect_w: f(s; z) = z_{i+1} - z_i between consecutive centres (up to the common scale)."""
    basis = bases.get("rect_w", 5, normalize="none")
    z = np.array([0.3, -1.0, 2.0, 0.5, 1.5])
    between = 0.5 * (basis.centres[:-1] + basis.centres[1:])
    np.testing.assert_allclose(z @ basis(between), np.diff(z))


# ---- IAT: discretised and analytic ------------------------------------------------------------------
@pytest.mark.parametrize("mesh_ratio", [1, 2, 7])
@pytest.mark.parametrize("d", [1, 4, 5])
def test_rect_rect_is_relu_discrete(mesh_ratio, d):
    z = _z(64, d)
    layer = IAT("rect", "rect", d, mesh_ratio=mesh_ratio)
    assert layer.n_mesh == mesh_ratio * d
    torch.testing.assert_close(layer(z), torch.relu(z), rtol=0, atol=1e-13)


@pytest.mark.parametrize("d", [1, 4, 5])
def test_rect_rect_is_relu_analytic(d):
    z = _z(64, d)
    layer = IAT("rect", "rect", d, mode="analytic")
    torch.testing.assert_close(layer(z), torch.relu(z), rtol=0, atol=1e-13)


def test_discrete_forward_any_sigma_matches_formula():
    z = _z(10, 4)
    for activation, sigma in (("tanh", torch.tanh), (torch.sin, torch.sin)):
        layer = IAT("pwl", "fourier", 4, 3, activation, mesh_ratio=5)
        P, Q = layer.p.on_mesh(20), layer.q.on_mesh(20)
        expected = (2.0 / 20) * sigma(z @ P) @ Q.T
        torch.testing.assert_close(layer(z), expected)
        feats = layer.state_features(z)
        assert feats.shape == (10, 20)
        torch.testing.assert_close((2.0 / 20) * feats @ layer.Q.T, layer(z))
        torch.testing.assert_close(layer.state_features(z, scaled=True), feats * (2.0 / 20) ** 0.5)


@pytest.mark.parametrize("out_basis", ["pwl", "pwq", "fourier"])
@pytest.mark.parametrize("in_basis", ["pwl", "pwl_w"])
def test_analytic_and_discrete_agree_as_mesh_grows(in_basis, out_basis):
    z = _z(16, 6, seed=3)
    exact = IAT(in_basis, out_basis, 6, mode="analytic")(z)
    errors = [float((IAT(in_basis, out_basis, 6, mesh_ratio=r)(z) - exact).abs().max()) for r in (2, 8, 32, 128)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-4 and errors[0] > 10 * errors[-1]


def _fine_activation_matrix(layer, z, n=400_000):
    """S(D(z)) = ∫_{p(s)ᵀz > 0} q(s) p(s)ᵀ ds by a fine midpoint rule, from the bases alone (numpy)."""
    s = _fine_mesh(n)
    P, Q = layer.p(s), layer.q(s)
    active = z.detach().numpy() @ P > 0
    return np.stack([(2.0 / n) * (Q[:, row] @ P[:, row].T) for row in active])


@pytest.mark.parametrize("pair", [("pwl", "pwq"), ("pwl", "fourier"), ("pwl_w", "pwl"), ("rect_w", "pwq")])
def test_analytic_gradient_is_activation_matrix(pair):
    layer = IAT(*pair, 5, 4, mode="analytic")
    z = _z(3, 5, seed=7).requires_grad_(True)
    jac = torch.stack([torch.autograd.functional.jacobian(layer, z[i]) for i in range(3)])
    S_fine = _fine_activation_matrix(layer, z)
    np.testing.assert_allclose(jac.numpy(), S_fine, atol=2e-4)
    S = layer.activation_matrix(z)
    torch.testing.assert_close(jac, S.detach(), rtol=0, atol=1e-12)
    # the linear form I(z) = S(D(z)) z
    torch.testing.assert_close(layer(z), (S @ z.unsqueeze(-1)).squeeze(-1), rtol=0, atol=1e-12)


def test_discrete_gradient_is_discrete_activation_matrix():
    layer = IAT("pwq", "fourier", 4, mesh_ratio=6)
    z = _z(4, seed=2)
    jac = torch.autograd.functional.jacobian(layer, z)
    torch.testing.assert_close(jac, layer.activation_matrix(z), rtol=0, atol=1e-13)


def test_leading_dimensions_and_float32():
    z = _z(2, 3, 4)
    for mode in ("discrete", "analytic"):
        layer = IAT("pwl", "pwq", 4, 5, mode=mode)
        out = layer(z)
        assert out.shape == (2, 3, 5)
        torch.testing.assert_close(out[1, 2], layer(z[1, 2]))
        assert layer(z.float()).dtype == torch.float32


def test_analytic_scope_errors():
    with pytest.raises(KernelregError, match="activation 'tanh' is not 'relu'.*'rect', 'pwl', 'pwl_w', 'rect_w'"):
        IAT("pwl", "pwl", 4, activation="tanh", mode="analytic")
    with pytest.raises(KernelregError, match="input basis 'pwq' is not piecewise linear"):
        IAT("pwq", "pwl", 4, mode="analytic")
    with pytest.raises(KernelregError, match="input basis 'fourier'"):
        IAT("fourier", "pwl", 4).analytic_forward(_z(2, 4))
    with pytest.raises(KernelregError, match="activation_matrix is defined for IAT-ReLU only"):
        IAT("pwl", "pwl", 4, activation="tanh").activation_matrix(_z(2, 4))


def test_iat_input_errors():
    with pytest.raises(ValueError, match="mesh_ratio >= 1.*got mesh_ratio=0.5"):
        IAT("pwl", "pwl", 4, mesh_ratio=0.5)
    with pytest.raises(ValueError, match="last dimension d_in=4; got last dimension 3"):
        IAT("pwl", "pwl", 4)(_z(5, 3))
    with pytest.raises(ValueError, match="unknown IAT basis 'wavelet'.*'rect_w'"):
        IAT("wavelet", "pwl", 4)
    with pytest.raises(ValueError, match="mode='exact' is unknown"):
        IAT("pwl", "pwl", 4, mode="exact")
    with pytest.raises(ValueError, match="d_out"):
        IAT("pwl", "pwl", 4, 0)
    with pytest.raises((ValueError, KeyError, KernelregError), match="no_such_activation"):
        IAT("pwl", "pwl", 4, activation="no_such_activation")


def test_buffers_follow_the_module():
    layer = IAT("pwl", "pwq", 3, mesh_ratio=4, mode="analytic")
    names = dict(layer.named_buffers())
    assert {"mesh", "P", "Q", "knots"} <= set(names)
    assert names["P"].shape == (3, 12) and list(layer.parameters()) == []
    layer32 = layer.float()
    assert layer32.P.dtype == torch.float32
    torch.testing.assert_close(layer32(_z(2, 3).float()), layer(_z(2, 3)).float(), rtol=1e-5, atol=1e-6)


# ---- decoupled ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["discrete", "analytic"])
def test_decoupled_with_own_pattern_is_iat_relu(mode):
    z = _z(12, 5)
    layer = DecoupledIAT("pwl", "pwq", 5, mode=mode, mesh_ratio=6)
    plain = IAT("pwl", "pwq", 5, mode=mode, mesh_ratio=6)
    torch.testing.assert_close(layer(z, z), plain(z), rtol=0, atol=1e-13)
    torch.testing.assert_close(layer(z), plain(z), rtol=0, atol=1e-13)


@pytest.mark.parametrize("mode", ["discrete", "analytic"])
def test_decoupled_is_linear_in_z_for_a_fixed_pattern(mode):
    z1, z2, zp = _z(6, 4, seed=1), _z(6, 4, seed=2), _z(6, 4, seed=3)
    layer = DecoupledIAT("pwl_w", "fourier", 4, mode=mode)
    torch.testing.assert_close(layer(2.0 * z1 - 3.0 * z2, zp), 2.0 * layer(z1, zp) - 3.0 * layer(z2, zp))
    S = layer.activation_matrix(zp)
    torch.testing.assert_close(layer(z1, zp), (S @ z1.unsqueeze(-1)).squeeze(-1), atol=1e-12, rtol=0)


def test_decoupled_pattern_gradients():
    z, zp = _z(4, 5, seed=1), _z(4, 5, seed=2)
    discrete = DecoupledIAT("pwl", "pwq", 5)
    z_d, zp_d = z.clone().requires_grad_(True), zp.clone().requires_grad_(True)
    discrete(z_d, zp_d).sum().backward()
    assert z_d.grad is not None and (zp_d.grad is None or bool((zp_d.grad == 0).all()))

    analytic = DecoupledIAT("pwl", "pwq", 5, mode="analytic")
    zp_a = zp.clone().requires_grad_(True)
    analytic(z, zp_a).sum().backward()
    grad = zp_a.grad
    assert grad is not None and grad.abs().max() > 1e-3
    eps = 1e-6
    numeric = torch.zeros_like(zp)
    for j in range(5):
        step = torch.zeros_like(zp)
        step[:, j] = eps
        numeric[:, j] = (analytic(z, zp + step).sum(-1) - analytic(z, zp - step).sum(-1)) / (2 * eps)
    torch.testing.assert_close(grad, numeric, atol=1e-6, rtol=1e-5)

    frozen = DecoupledIAT("pwl", "pwq", 5, mode="analytic", root_gradient=False)
    zp_f = zp.clone().requires_grad_(True)
    frozen(z.clone().requires_grad_(True), zp_f).sum().backward()
    assert zp_f.grad is None or bool((zp_f.grad == 0).all())


def test_decoupled_shape_mismatch():
    layer = DecoupledIAT("pwl", "pwl", 3)
    with pytest.raises(ValueError, match="one shape; got \\(2, 3\\) and \\(4, 3\\)"):
        layer(_z(2, 3), _z(4, 3))
    with pytest.raises(ValueError, match="z_pattern with last dimension d_in=3; got last dimension 2"):
        layer(_z(2, 3), _z(2, 2))
