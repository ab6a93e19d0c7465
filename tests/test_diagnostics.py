"""Diagnostics against independent truth: hand-built nets, sawtooth breakpoints, plane waves, Gaussians, permutations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from kernelreg.diagnostics import (
    activation_patterns,
    count_activation_patterns_2d,
    count_linear_regions_1d,
    eigen_auc,
    eigen_curve,
    linear_regions_1d,
    per_step_w2,
    regime_delta,
    similarity_matrix,
    spectral_magnitude,
    w2_distance,
    zero_planes,
)


# ---------------------------------------------------------------------------------------------
# exact 1-D regions
# ---------------------------------------------------------------------------------------------
def _hand_net():
    """f = relu(x) - 2 relu(x - 1/4) + 3 relu(x - 3/4) + 0 * relu(x - 1/2): kinks at 1/4 and 3/4 only."""
    W1 = np.array([[1.0], [1.0], [1.0], [1.0]])
    b1 = np.array([0.0, -0.25, -0.75, -0.5])
    W2 = np.array([[1.0, -2.0, 3.0, 0.0]])
    return [(W1, b1), (W2, np.array([0.0]))]


def test_hand_built_relu_net_has_its_known_breakpoints():
    result = linear_regions_1d(_hand_net(), (0.0, 1.0))
    np.testing.assert_allclose(result.breakpoints, [0.25, 0.75], atol=1e-15)
    assert result.n_pieces == 3
    assert result.n_regions == 4  # the dead-weight neuron still splits the activation pattern at 1/2
    np.testing.assert_allclose(result.slopes[:, 0], [1.0, -1.0, -1.0, 2.0])
    assert count_linear_regions_1d(_hand_net(), (0.0, 1.0)) == 3
    assert count_linear_regions_1d(_hand_net(), (0.0, 1.0), merge=False) == 4


def _sawtooth(k: int) -> nn.Sequential:
    """k compositions of the tent map g(x) = 2 relu(x) - 4 relu(x - 1/2) on [0, 1]: 2^k pieces, kinks at j / 2^k."""
    layers: list[nn.Module] = []
    for i in range(k):
        lin = nn.Linear(1 if i == 0 else 2, 2, dtype=torch.float64)
        with torch.no_grad():
            if i == 0:
                lin.weight.copy_(torch.tensor([[1.0], [1.0]]))
            else:
                lin.weight.copy_(torch.tensor([[2.0, -4.0], [2.0, -4.0]]))
            lin.bias.copy_(torch.tensor([0.0, -0.5]))
        layers += [lin, nn.ReLU()]
    out = nn.Linear(2, 1, dtype=torch.float64)
    with torch.no_grad():
        out.weight.copy_(torch.tensor([[2.0, -4.0]]))
        out.bias.zero_()
    return nn.Sequential(*layers, out)


@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_sawtooth_has_exactly_2_to_the_k_pieces_at_dyadic_points(k):
    result = linear_regions_1d(_sawtooth(k), (0.0, 1.0))
    assert result.n_pieces == 2**k
    np.testing.assert_allclose(result.breakpoints, np.arange(1, 2**k) / 2**k, atol=1e-12)


def test_piecewise_function_equals_the_network_and_bounds_grid_counts():
    gen = torch.Generator().manual_seed(3)
    net = nn.Sequential(nn.Linear(1, 12, dtype=torch.float64), nn.ReLU(), nn.Linear(12, 12, dtype=torch.float64),
                        nn.LeakyReLU(0.1), nn.Linear(12, 2, dtype=torch.float64))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    result = linear_regions_1d(net, (-2.0, 3.0))
    x = np.linspace(-2.0, 3.0, 20001)
    with torch.no_grad():
        y = net(torch.tensor(x[:, None])).numpy()
    np.testing.assert_allclose(result(x), y, rtol=1e-10, atol=1e-10)
    # a grid can only miss pieces: count slope changes of the sampled function
    slopes = np.diff(y[:, 0]) / np.diff(x)
    changes = np.sum(np.abs(np.diff(slopes)) > 1e-6 * (1 + np.abs(slopes[:-1])))
    assert result.n_pieces >= 1
    assert changes <= 2 * (result.n_pieces - 1)  # each kink shows in at most two grid differences


def test_kernelreg_mlp_and_compositional_network():
    from kernelreg.layers import CompositionalNetwork
    from kernelreg.networks import MLP

    mlp = MLP(1, [6, 6], 1, activation="relu", random_state=0)
    result = linear_regions_1d(mlp, (-1.0, 1.0))
    x = np.linspace(-1, 1, 501)
    with torch.no_grad():
        y = mlp(torch.tensor(x[:, None])).numpy()
    np.testing.assert_allclose(result(x), y, atol=1e-12)
    for depth in (3, 5):
        net = CompositionalNetwork(depth, "convex", random_state=1).to_mlp()
        assert count_linear_regions_1d(net, (0.0, 1.0)) == 2**depth  # the paper's 2^d pieces


def test_region_counter_errors_name_the_problem():
    with pytest.raises(ValueError, match="not a piecewise-linear activation"):
        linear_regions_1d(nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="expects 2 inputs but receives 1"):
        linear_regions_1d(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="finite lo < hi"):
        linear_regions_1d(_hand_net(), (1.0, 0.0))
    with pytest.raises(TypeError, match="region counters take"):
        linear_regions_1d("not a network")
    from kernelreg.networks import MLP

    with pytest.raises(ValueError, match="not piecewise linear"):
        linear_regions_1d(MLP(1, [3], 1, activation="tanh", random_state=0))


# ---------------------------------------------------------------------------------------------
# activation patterns on a grid
# ---------------------------------------------------------------------------------------------
def _lines_net(lines):
    """One ReLU unit per line a·x + b = 0 (rows of (a1, a2, b)), summed."""
    L = np.asarray(lines, dtype=float)
    return [(L[:, :2], L[:, 2]), (np.ones((1, len(L))), np.zeros(1))]


def test_three_lines_in_general_position_cut_the_square_into_seven_regions():
    net = _lines_net([[1, 0, 0], [0, 1, 0], [1, 1, -0.5]])  # x=0, y=0, x+y=0.5: all 3 crossings inside
    assert count_activation_patterns_2d(net, resolution=201) == 7
    assert count_activation_patterns_2d(_lines_net([[1, 0, 0], [0, 1, 0]]), resolution=101) == 4
    n, labels = count_activation_patterns_2d(net, resolution=51, return_labels=True)
    assert labels.shape == (51, 51) and labels.max() + 1 == n


def test_activation_patterns_of_points():
    labels, n = activation_patterns(_lines_net([[1, 0, 0]]), np.array([[-1.0, 0.0], [1.0, 0.0], [2.0, 5.0]]))
    assert n == 2 and labels[1] == labels[2] != labels[0]
    with pytest.raises(ValueError, match="shape"):
        activation_patterns(_lines_net([[1, 0, 0]]), np.zeros(3))


# ---------------------------------------------------------------------------------------------
# spectral magnitude
# ---------------------------------------------------------------------------------------------
def test_plane_wave_mass_sits_at_its_frequency():
    n = 64
    g = np.linspace(-1, 1, n, endpoint=False)
    X0, X1 = np.meshgrid(g, g, indexing="ij")
    k = np.pi * np.array([5.0, 3.0])  # fits [-1, 1) periodically
    sm = spectral_magnitude(np.cos(k[0] * X0 + k[1] * X1))
    peak = sm.radii[np.argmax(sm.magnitude)]
    assert abs(peak - np.linalg.norm(k)) <= sm.bin_width / 2
    assert sm.magnitude.max() / sm.magnitude.sum() > 0.99


def test_gaussian_matches_the_closed_form():
    L, n, s = 8.0, 128, 1.0
    g = np.linspace(-L, L, n, endpoint=False)
    X0, X1 = np.meshgrid(g, g, indexing="ij")
    sm = spectral_magnitude(np.exp(-(X0**2 + X1**2) / (2 * s * s)), (-L, L, -L, L))
    r = sm.radii[1:9]
    truth = 2 * np.pi * r * 2 * np.pi * s * s * np.exp(-s * s * r * r / 2)
    np.testing.assert_allclose(sm.magnitude[1:9], truth, rtol=0.15)


def test_spectral_magnitude_input_errors():
    with pytest.raises(ValueError, match="2-D grid"):
        spectral_magnitude(np.zeros(10))
    with pytest.raises(ValueError, match="NaN or inf"):
        spectral_magnitude(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="window"):
        spectral_magnitude(np.zeros((4, 4)), window="kaiser")


# ---------------------------------------------------------------------------------------------
# zero-plane clustering
# ---------------------------------------------------------------------------------------------
def test_w2_of_a_permutation_is_zero_and_of_a_shift_is_the_shift():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 4))
    assert w2_distance(A, A[rng.permutation(30)]) == pytest.approx(0.0, abs=1e-12)
    shift = np.array([0.3, -0.4, 1.2, 0.0])
    assert w2_distance(A, A + shift) == pytest.approx(np.linalg.norm(shift), rel=1e-12)
    assert w2_distance(A, A[::-1], matching="nearest") == pytest.approx(0.0, abs=1e-12)


def test_w2_equals_brute_force_over_permutations():
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    best = min(np.mean(np.sum((A - B[list(p)]) ** 2, axis=1)) for p in itertools.permutations(range(6)))
    assert w2_distance(A, B) == pytest.approx(np.sqrt(best), rel=1e-12)
    np.testing.assert_allclose(per_step_w2([A, B, B]), [np.sqrt(best), 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="equal-size"):
        w2_distance(A, B[:3])


def test_eigen_auc_limits_and_clustering():
    n = 40
    assert eigen_auc(np.ones((n, n))) == pytest.approx(1 - 1 / (2 * n))
    assert eigen_auc(np.eye(n)) == pytest.approx(0.5)
    _, y = eigen_curve(np.eye(4))
    np.testing.assert_allclose(y, [0, 0.25, 0.5, 0.75, 1.0])
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(2, 80))  # more dimensions than planes: random planes are nearly orthogonal
    clustered = np.repeat(centres, n // 2, axis=0) + 0.01 * rng.normal(size=(n, 80))
    spread = rng.normal(size=(n, 80))
    assert eigen_auc(similarity_matrix(clustered)) > 0.95
    assert eigen_auc(similarity_matrix(spread)) < 0.75
    with pytest.raises(ValueError, match="square"):
        eigen_auc(np.ones((2, 3)))


def test_zero_planes_coordinates():
    W = np.array([[3.0, 4.0], [0.0, 2.0]])
    b = np.array([5.0, -1.0])
    sphere = zero_planes(W, b)
    np.testing.assert_allclose(np.linalg.norm(sphere, axis=1), 1.0)
    radon = zero_planes(W, b, coordinates="radon")
    xi, gamma = radon[:, :2], radon[:, 2]
    np.testing.assert_allclose(np.linalg.norm(xi, axis=1), 1.0)
    point = -b[0] * W[0] / (W[0] @ W[0])  # lies on w·x + b = 0
    assert xi[0] @ point == pytest.approx(gamma[0])
    lin = nn.Linear(2, 2, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(W))
        lin.bias.copy_(torch.tensor(b))
    np.testing.assert_allclose(zero_planes(lin), sphere)
    with pytest.raises(ValueError, match="coordinates"):
        zero_planes(W, b, coordinates="polar")


# ---------------------------------------------------------------------------------------------
# regime statistic δ
# ---------------------------------------------------------------------------------------------
def test_regime_delta_from_arrays_mlp_and_radon_layer():
    from kernelreg.layers import RadonSplineLayer
    from kernelreg.networks import MLP

    W, b, c = np.array([[1.0, 2.0]]), np.array([0.5]), np.array([3.0])
    assert regime_delta(weight=W, bias=b, coef=c)[0] == pytest.approx(9 - 5 - 0.25)
    mlp = MLP(3, [7], 2, random_state=0)
    Wm = mlp.blocks[0].linear.weight.detach().numpy()
    bm = mlp.blocks[0].linear.bias.detach().numpy()
    cm = mlp.output.weight.detach().numpy()
    np.testing.assert_allclose(regime_delta(mlp), (cm**2).sum(axis=0) - (Wm**2).sum(axis=1) - bm**2)
    layer = RadonSplineLayer(2, 5, random_state=0)
    np.testing.assert_allclose(regime_delta(layer), layer.delta().numpy())
    with pytest.raises(ValueError, match="shallow"):
        regime_delta(MLP(2, [3, 3], 1, random_state=0))


def test_delta_is_conserved_by_small_step_gradient_descent_for_relu():
    from kernelreg.networks import MLP

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(50, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.sin(3 * X[:, :1])
    net = MLP(2, [20], 1, activation="relu", random_state=1)
    before = regime_delta(net)
    w_before = net.blocks[0].linear.weight.detach().numpy().copy()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    for _ in range(300):
        opt.zero_grad()
        loss = ((net(X) - y) ** 2).mean()
        loss.backward()
        # the output bias is not part of δ and does not break the conservation
        opt.step()
    after = regime_delta(net)
    w_after = net.blocks[0].linear.weight.detach().numpy()
    moved = np.abs((w_after**2).sum(axis=1) - (w_before**2).sum(axis=1)).max()  # ‖w_i‖² itself changes ...
    drift = np.abs(after - before).max()  # ... but δ_i does not
    assert moved > 1e-3
    assert drift < 0.02 * moved


def test_all_names_resolve():
    import kernelreg.diagnostics as mod

    assert all(hasattr(mod, name) for name in mod.__all__)


def test_ridge_spectral_magnitude_matches_a_numerical_fourier_transform_of_each_unit():
    from scipy.integrate import quad

    from kernelreg import activations
    from kernelreg.diagnostics import ridge_spectral_magnitude

    # One unit σ(w·x + b) restricted to its direction: g(z) = σ(‖w‖ z + b). Its 1-D transform
    # |ĝ(t)| = |σ̂(t/‖w‖)| / ‖w‖ is what each Dirac line carries; check it by quadrature for the
    # Gaussian and the Half-Exp (decaying, so the integral converges), with the bias (a phase) ignored.
    for name in ("gaussian", "half_exp"):
        act = activations.get(name)
        w = np.array([[0.6, 0.8 * 1.7]])  # ‖w‖ = sqrt(0.36 + 1.8496)
        alpha = float(np.linalg.norm(w))
        for t in (0.3, 1.1, 2.5):
            re = quad(lambda z: float(act(np.array([alpha * z + 0.4]))[0]) * np.cos(t * z), -60, 60, limit=400)[0]
            im = quad(lambda z: float(act(np.array([alpha * z + 0.4]))[0]) * np.sin(t * z), -60, 60, limit=400)[0]
            m = ridge_spectral_magnitude(w, np.array([1.0]), [t], act.spectral_penalty)[0]
            assert m == pytest.approx(np.hypot(re, im), rel=1e-6), (name, t)


def test_ridge_spectral_magnitude_adds_units_and_outputs_and_ignores_dead_rows():
    from kernelreg import activations
    from kernelreg.diagnostics import ridge_spectral_magnitude

    P = activations.get("relu").spectral_penalty
    W = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    C = np.array([[1.0, -2.0], [0.5, 0.5], [3.0, 3.0]])
    r = np.array([0.5, 2.0])
    # ReLU: |σ̂(ω)| = 1/ω², so unit i gives ‖c_i‖₁ α_i / r² (α_i = ‖w_i‖); the zero row contributes nothing
    expected = (3.0 * 1.0 + 1.0 * 2.0) / r**2
    np.testing.assert_allclose(ridge_spectral_magnitude(W, C, r, P), expected, rtol=1e-12)
    assert np.isinf(ridge_spectral_magnitude(W, C, [0.0], P)[0])  # the pole of σ̂ at 0
    with pytest.raises(ValueError, match="3 rows .* 2 entries"):
        ridge_spectral_magnitude(W, C[:2], r, P)
