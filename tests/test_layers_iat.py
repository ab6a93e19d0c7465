"""IAT bases (Table 1 of the IAT paper) and IAT layers: discretised, analytic, decoupled."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate

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
    with pytest.raises(ValueError, match="d >= 1; got d=2.5"):
        bases.get("rect_w", 2.5)
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


def test_only_fourier_is_periodic():
    values = bases.get("fourier", 6)(np.array([-1.0, 1.0]))
    np.testing.assert_allclose(values[:, 0], values[:, 1], atol=1e-12)
    assert [name for name in SIX if bases.get(name, 4).periodic] == ["fourier"]


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


def test_wavelet_state_function_is_discrete_derivative():
    """rect_w: f = 2z_1 on [-1, c_1), z_{i+1} - z_i between consecutive centres, -2z_d on [c_d, 1]."""
    basis = bases.get("rect_w", 5, normalize="none")
    z = np.array([0.3, -1.0, 2.0, 0.5, 1.5])
    points = 0.5 * (basis.knots[:-1] + basis.knots[1:])
    np.testing.assert_allclose(z @ basis(points), np.concatenate([[2 * z[0]], np.diff(z), [-2 * z[-1]]]))


def _gram(basis, n_nodes=12):
    """∫ p_i p_j ds by Gauss–Legendre between the cell edges and centres (every family's breakpoints lie there)."""
    breaks = np.unique(np.concatenate([basis.edges, basis.centres]))
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    a, b = breaks[:-1], breaks[1:]
    s = (0.5 * (a + b)[:, None] + 0.5 * (b - a)[:, None] * x).ravel()
    weights = (0.5 * (b - a)[:, None] * w).ravel()
    P = basis(s)
    return (P * weights) @ P.T


# condition-number bounds: the mass matrices of the B-spline families tend to 1 (rect), 3 (hats) and 7.5
# (quadratic B-splines); Fourier is orthonormal; the wavelets are derivatives, conditioned like a discrete
# Laplacian, (4/π²)(d+1)² for rect_w.
_COND_BOUND = {"rect": lambda d: 1 + 1e-9, "fourier": lambda d: 1 + 1e-9, "pwl": lambda d: 3.0,
               "pwq": lambda d: 7.5, "rect_w": lambda d: 0.45 * (d + 1) ** 2, "pwl_w": lambda d: 0.45 * (d + 1) ** 2}


@pytest.mark.parametrize("name", SIX)
@pytest.mark.parametrize("d", [1, 2, 3, 5, 8, 17, 32])
def test_bases_are_linearly_independent(name, d):
    gram = _gram(bases.get(name, d))
    eig = np.linalg.eigvalsh(gram)
    assert eig.min() > 0
    assert eig.max() / eig.min() <= _COND_BOUND[name](d), (name, d, eig.max() / eig.min())


@pytest.mark.parametrize("name", ["rect_w", "pwl_w"])
def test_wavelets_see_a_constant_shift(name):
    """Σ p_i ≢ 0, so I(z + c·1) != I(z): the rank-(d-1) defect of periodic wavelets is gone."""
    basis = bases.get(name, 6)
    s = _fine_mesh(6_000)
    assert np.abs(basis(s).sum(axis=0)).max() > 0.5
    layer = IAT(name, "pwq", 6, mode="analytic")
    z = _z(4, 6)
    assert (layer(z + 0.7) - layer(z)).abs().max() > 1e-2


@pytest.mark.parametrize("name,beta_prime", [("rect_w", "hat"), ("pwl_w", "quadratic")])
def test_interior_wavelets_are_the_papers_translates(name, beta_prime):
    """Away from the ends the wavelets are β1'(τ_i) and β2'(τ_i), the derivatives of the centred B-splines."""
    d = 7
    basis = bases.get(name, d, normalize="none")
    s = np.linspace(-1, 1, 4001)
    tau = (s[None, :] - basis.centres[:, None]) / basis.h
    if beta_prime == "hat":
        expected = ((tau >= -1) & (tau < 0)).astype(float) - ((tau >= 0) & (tau < 1)).astype(float)
    else:
        expected = np.where(np.abs(tau) < 0.5, -2 * tau, -np.sign(tau) * np.maximum(1.5 - np.abs(tau), 0))
    interior = slice(1, d - 1)
    np.testing.assert_allclose(basis(s)[interior], expected[interior], atol=1e-12)
    # the end functions integrate to zero too (Table 1), checked by the exact piecewise rule
    x, w = np.polynomial.legendre.leggauss(3)
    a, b = basis.knots[:-1], basis.knots[1:]
    nodes = (0.5 * (a + b)[:, None] + 0.5 * (b - a)[:, None] * x).ravel()
    weights = (0.5 * (b - a)[:, None] * w).ravel()
    np.testing.assert_allclose(basis(nodes) @ weights, 0.0, atol=1e-14)


def test_spline_identities():
    """Hats and quadratic B-splines sum to 1 where no function is truncated; pwl_w integrates back to pwq-like bumps."""
    d = 6
    s = np.linspace(-1, 1, 3001)
    pwl = bases.get("pwl", d, normalize="none")
    inside = (s >= pwl.centres[0]) & (s <= pwl.centres[-1])
    np.testing.assert_allclose(pwl(s)[:, inside].sum(axis=0), 1.0, atol=1e-14)
    pwq = bases.get("pwq", d, normalize="none")
    inside = (s >= pwq.edges[1]) & (s <= pwq.edges[-2])
    np.testing.assert_allclose(pwq(s)[:, inside].sum(axis=0), 1.0, atol=1e-14)


@pytest.mark.parametrize("name", SIX)
def test_derivative_matches_finite_differences(name):
    basis = bases.get(name, 5)
    s = np.linspace(-0.97, 0.97, 389)
    step = 1e-6
    numeric = (basis(s + step) - basis(s - step)) / (2 * step)
    exact = basis.derivative(s)
    near_knot = np.zeros_like(s, dtype=bool) if basis.knots is None else (
        np.abs(s[:, None] - basis.knots[None, :]).min(axis=1) < 2 * step)
    np.testing.assert_allclose(exact[:, ~near_knot], numeric[:, ~near_knot], atol=1e-6)
    tensor = basis.derivative(torch.tensor(s, dtype=F64))
    np.testing.assert_allclose(tensor.numpy(), exact, atol=1e-14)
    if basis.piece_coefficients is not None:  # Taylor table reproduces the values at the piece midpoints
        np.testing.assert_allclose(basis(basis.piece_midpoints), basis.piece_coefficients[..., 0], atol=1e-15)


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
@pytest.mark.parametrize("in_basis", ["pwl", "pwl_w", "pwq", "fourier"])
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


@pytest.mark.parametrize("pair", [("pwl", "pwq"), ("pwl", "fourier"), ("pwl_w", "pwl"), ("rect_w", "pwq"),
                                  ("pwq", "pwl"), ("fourier", "pwq"), ("fourier", "fourier")])
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
    with pytest.raises(KernelregError, match="activation 'tanh' is not 'relu'.*use mode='discrete'"):
        IAT("pwl", "pwl", 4, activation="tanh", mode="analytic")
    with pytest.raises(KernelregError, match="activation 'tanh' is not 'relu'"):
        IAT("fourier", "pwl", 4, activation="tanh").analytic_forward(_z(2, 4))
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


# ---- analytic IAT for smooth input bases: truth by adaptive quadrature, rate of the discrete form ----
def _adaptive_quadrature(layer, z):
    """u = ∫ q(s) relu(zᵀp(s)) ds by scipy's adaptive Gauss–Kronrod (no roots given), for all samples at once."""
    p, q = layer.p, layer.q
    Z = z.numpy()

    def integrand(s):
        ps, qs = p(np.array([s]))[:, 0], q(np.array([s]))[:, 0]
        return (np.maximum(Z @ ps, 0.0)[:, None] * qs[None, :]).ravel()

    hints = np.unique(np.concatenate([p.edges, p.centres, q.edges, q.centres]))[1:-1]
    value, error, info = integrate.quad_vec(integrand, -1, 1, epsabs=1e-12, epsrel=0, norm="max", limit=5000,
                                            points=hints, full_output=True)
    assert info.success and error < 1e-11
    return value.reshape(Z.shape[0], -1)


@pytest.mark.parametrize("pair", [("pwq", "pwq"), ("pwq", "fourier"), ("fourier", "pwq"), ("fourier", "fourier"),
                                  ("pwl_w", "rect")])
def test_analytic_matches_adaptive_quadrature(pair):
    layer = IAT(*pair, 5, 4, mode="analytic", mesh_ratio=8)
    z = _z(3, 5, seed=11)
    np.testing.assert_allclose(layer(z).numpy(), _adaptive_quadrature(layer, z), rtol=0, atol=1e-10)


@pytest.mark.parametrize("d", [1, 2, 7, 10])
def test_analytic_fourier_and_pwq_survive_degenerate_inputs(d):
    """z = 0, a single harmonic (roots at ±1), tiny top coefficients: finite values equal to a fine mesh."""
    z = _z(6, d, seed=d)
    z[0] = 0.0
    z[1] = 0.0
    z[1, 0] = 1.0
    z[2, -1] = 1e-14
    for p in ("fourier", "pwq"):
        exact = IAT(p, "pwl", d, mode="analytic")(z)
        fine = IAT(p, "pwl", d, mesh_ratio=4000)(z)
        assert torch.isfinite(exact).all()
        torch.testing.assert_close(exact, fine, rtol=0, atol=1e-6)
        assert float(exact[0].abs().max()) == 0.0


@pytest.mark.parametrize("in_basis", ["pwq", "fourier", "pwl_w"])
def test_discrete_error_decays_like_mesh_squared(in_basis):
    """Midpoint rule with kinks at the roots: mean error ~ M⁻² (fitted log-log slope within 0.15 of -2)."""
    z = _z(64, 6, seed=3)
    exact = IAT(in_basis, "pwq", 6, mode="analytic")(z)
    ratios = np.array([4, 8, 16, 32, 64, 128])
    errors = [float((IAT(in_basis, "pwq", 6, mesh_ratio=int(r))(z) - exact).abs().mean()) for r in ratios]
    slope = np.polyfit(np.log(6 * ratios), np.log(errors), 1)[0]
    assert abs(slope + 2.0) < 0.15, (slope, errors)


# ---- second derivatives ------------------------------------------------------------------------------
_HESSIAN_PAIRS = [("pwl", "pwq"), ("pwq", "fourier"), ("fourier", "pwq"), ("pwl_w", "pwl"), ("pwq", "rect")]


@pytest.mark.parametrize("pair", _HESSIAN_PAIRS)
def test_hessian_matches_autograd_through_moving_roots(pair):
    """Closed form Σ_r q p pᵀ/|f'| == autograd-of-autograd of the root_gradient forward (eq. 22)."""
    layer = IAT(*pair, 5, 4, mode="analytic", mesh_ratio=8, root_gradient=True)
    z = _z(2, 5, seed=4)
    H = layer.hessian(z)
    assert H.shape == (2, 4, 5, 5) and H.abs().max() > 0.05
    for b in range(2):
        for j in range(4):
            auto = torch.autograd.functional.hessian(lambda x: layer(x)[j], z[b])
            torch.testing.assert_close(H[b, j], auto, rtol=0, atol=1e-12)
    torch.testing.assert_close(H, H.transpose(-1, -2), rtol=0, atol=1e-15)  # symmetric


@pytest.mark.parametrize("pair", _HESSIAN_PAIRS)
def test_hessian_vector_product_matches_finite_differences_of_the_gradient(pair):
    layer = IAT(*pair, 5, 4, mode="analytic", mesh_ratio=8)
    z, v = _z(3, 5, seed=5), _z(3, 5, seed=6)
    hvp = layer.hessian_vector_product(z, v)
    eps = 1e-6
    fd = (layer.activation_matrix(z + eps * v) - layer.activation_matrix(z - eps * v)) / (2 * eps)
    torch.testing.assert_close(hvp, fd, rtol=0, atol=1e-8)
    torch.testing.assert_close(hvp, torch.einsum("bjik,bk->bji", layer.hessian(z), v), rtol=0, atol=1e-14)


def test_hessian_zero_where_the_paper_says():
    """Rect-type p (patterns change only at jumps) and discretised IAT-ReLU have zero second derivative."""
    z, v = _z(3, 5, seed=7), _z(3, 5, seed=8)
    for p in ("rect", "rect_w"):
        assert float(IAT(p, "pwq", 5, mode="analytic").hessian_vector_product(z, v).abs().max()) == 0.0
    assert float(IAT("fourier", "pwq", 5).hessian(z).abs().max()) == 0.0
    # without root_gradient autograd's Hessian of the analytic forward misses the root terms
    detached = IAT("fourier", "pwq", 5, mode="analytic")
    auto = torch.autograd.functional.hessian(lambda x: detached(x)[0], z[0])
    assert float(auto.abs().max()) == 0.0 and float(detached.hessian(z[0])[0].abs().max()) > 0.05


def test_discrete_hessian_of_smooth_sigma_matches_autograd():
    layer = IAT("pwq", "fourier", 4, 3, "tanh", mesh_ratio=6)
    z, v = _z(4, seed=9), _z(4, seed=10)
    auto = torch.stack([torch.autograd.functional.hessian(lambda x: layer(x)[j], z) for j in range(3)])
    torch.testing.assert_close(layer.hessian(z), auto, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer.hessian_vector_product(z, v), auto @ v, rtol=0, atol=1e-12)


def test_root_gradient_forward_has_the_same_values_and_first_derivative():
    z = _z(8, 5, seed=12)
    plain = IAT("fourier", "pwq", 5, mode="analytic")
    moving = IAT("fourier", "pwq", 5, mode="analytic", root_gradient=True)
    torch.testing.assert_close(moving(z), plain(z), rtol=0, atol=1e-14)
    zg = z[0].clone().requires_grad_(True)
    jac = torch.autograd.functional.jacobian(moving, zg)
    torch.testing.assert_close(jac, plain.activation_matrix(z[0]), rtol=0, atol=1e-12)


def test_hessian_errors():
    layer = IAT("pwl", "pwq", 4, mode="analytic")
    with pytest.raises(ValueError, match="needs z and v of one shape; got \\(2, 4\\) and \\(3, 4\\)"):
        layer.hessian_vector_product(_z(2, 4), _z(3, 4))
    with pytest.raises(ValueError, match="hessian mode='exact' is unknown"):
        layer.hessian(_z(2, 4), mode="exact")
    with pytest.raises(KernelregError, match="activation 'tanh' is not 'relu'"):
        IAT("pwl", "pwq", 4, activation="tanh").hessian(_z(2, 4), mode="analytic")


# ---- BatchNorm after the IAT (Remark 2) -------------------------------------------------------------
def test_batchnorm_option_standardises_and_removes_the_basis_scale():
    z = _z(256, 5, seed=13)
    layer = IAT("fourier", "pwq", 5, mesh_ratio=4, batchnorm=True)
    assert isinstance(layer.batchnorm, torch.nn.BatchNorm1d) and {"batchnorm.weight", "batchnorm.bias"} <= set(
        dict(layer.named_parameters()))
    out = layer(z)
    torch.testing.assert_close(out.mean(0), torch.zeros(5, dtype=F64), rtol=0, atol=1e-12)
    torch.testing.assert_close(out.var(0, unbiased=False), torch.ones(5, dtype=F64), rtol=0, atol=1e-3)
    # homogeneity (eq. 23): scaling z scales the IAT, and BatchNorm undoes it
    torch.testing.assert_close(layer(7.0 * z), out, rtol=0, atol=1e-4)
    plain = layer.transform(z)
    torch.testing.assert_close(IAT("fourier", "pwq", 5, mesh_ratio=4)(z), plain, rtol=0, atol=0)  # same computation
    layer.eval()
    bn = layer.batchnorm
    expected = (plain - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    torch.testing.assert_close(layer(z), expected, rtol=0, atol=1e-12)
    assert layer(z[:3].reshape(3, 1, 5)).shape == (3, 1, 5)


# ---- mesh alignment with discontinuous bases (issue 9 item 6) ----------------------------------------
def test_mesh_that_splits_rect_cells_is_refused():
    with pytest.raises(ValueError, match=r"mesh_ratio=2\.5 gives M=12.*'rect' \(d=5\) jumps at the cell edges.*"
                                         r"multiple of 5.*mesh_ratio=3 \(M=15\)"):
        IAT("rect", "rect", 5, mesh_ratio=2.5)
    with pytest.raises(ValueError, match=r"output basis 'rect' \(d=4\).*multiple of 4.*mesh_ratio=10\.4 \(M=52\)"):
        IAT("pwl", "rect", 5, 4)
    with pytest.raises(ValueError, match=r"'rect_w' \(d=4\) jumps at the cell centres.*multiple of 8"):
        IAT("rect_w", "pwq", 4, mesh_ratio=3)
    # the suggested ratio works, and is what makes Rect/Rect ReLU
    z = _z(32, 5)
    torch.testing.assert_close(IAT("rect", "rect", 5, mesh_ratio=3)(z), torch.relu(z), rtol=0, atol=1e-13)
    assert IAT("pwl", "rect", 5, 4, mesh_ratio=10.4).n_mesh == 52
    # what the check prevents: a misaligned mesh gives a visibly wrong Rect/Rect
    P = bases.get("rect", 5).on_mesh(12)
    misaligned = (2.0 / 12) * torch.relu(z @ P) @ P.T
    assert float((misaligned - torch.relu(z)).abs().max()) > 0.1
