"""DecoupledIATNetwork: y = F(x, W₁, D(x, W₂)) (IAT paper §4.4), checked against a hand-built coupled network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kernelreg.layers import IAT, DecoupledIATNetwork

F64 = torch.float64


def _x(n=24, dim=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return 2 * torch.rand(n, dim, generator=gen, dtype=F64) - 1


def _coupled(net, x, weights="value"):
    """The ordinary IAT-ReLU network with one branch's hidden weights and the value output layer, by hand."""
    layers = net.value_layers if weights == "value" else net.pattern_layers
    h = x
    for lin, iat in zip(layers, net.iats):
        plain = IAT(iat.p, iat.q, iat.d_in, mode=iat.mode, mesh_ratio=iat.mesh_ratio)
        h = plain(lin(h))
    return net.value_layers[-1](h)


@pytest.mark.parametrize("mode", ["analytic", "discrete"])
def test_tied_network_is_the_coupled_iat_network(mode):
    net = DecoupledIATNetwork(2, [5, 4], 3, "pwl", "pwq", mode=mode, mesh_ratio=6, random_state=0)
    x = _x()
    torch.testing.assert_close(net(x), _coupled(net, x), rtol=0, atol=1e-13)
    assert net(x).shape == (24, 3) and net.features(x).shape == (24, 4)
    assert [z.shape for z in net.patterns(x)] == [(24, 5), (24, 4)]


def test_untied_network_uses_the_pattern_branch_for_the_patterns_only():
    net = DecoupledIATNetwork(2, [6], 1, "fourier", "pwq", tie_weights=False, random_state=1)
    x = _x(seed=1)
    assert not torch.allclose(net.pattern_layers[0].weight, net.value_layers[0].weight)
    iat, lin_v, lin_p = net.iats[0], net.value_layers[0], net.pattern_layers[0]
    expected = net.value_layers[1](iat.decoupled(lin_v(x), lin_p(x)))
    torch.testing.assert_close(net(x), expected, rtol=0, atol=1e-13)
    # the value path is linear for fixed patterns: y - b is linear in the last hidden value state
    feats = net.features(x)
    torch.testing.assert_close(net(x), feats @ net.value_layers[1].weight.T + net.value_layers[1].bias,
                               rtol=0, atol=1e-13)


def test_output_is_affine_in_each_value_layer_for_fixed_patterns():
    net = DecoupledIATNetwork(1, [5, 5], 1, "pwq", "pwl", tie_weights=False, random_state=2)
    x = _x(dim=1, seed=2)
    layer = net.value_layers[1]
    w_a, w_b = layer.weight.detach().clone(), torch.randn(5, 5, dtype=F64, generator=torch.Generator().manual_seed(3))
    outs = []
    with torch.no_grad():
        for w in (w_a, w_b, 0.3 * w_a + 0.7 * w_b):
            layer.weight.copy_(w)
            outs.append(net(x))
    torch.testing.assert_close(outs[2], 0.3 * outs[0] + 0.7 * outs[1], rtol=0, atol=1e-12)


def test_pattern_weights_get_exact_gradient_through_the_roots():
    net = DecoupledIATNetwork(1, [5], 1, "fourier", "pwq", tie_weights=False, random_state=4)
    x = _x(12, 1, seed=4)
    loss = net(x).pow(2).sum()
    loss.backward()
    grad = net.pattern_layers[0].weight.grad.clone()
    assert grad.abs().max() > 1e-3
    eps = 1e-6
    numeric = torch.zeros_like(grad)
    with torch.no_grad():
        weight = net.pattern_layers[0].weight
        for i in range(grad.shape[0]):
            weight[i, 0] += eps
            up = net(x).pow(2).sum()
            weight[i, 0] -= 2 * eps
            down = net(x).pow(2).sum()
            weight[i, 0] += eps
            numeric[i, 0] = (up - down) / (2 * eps)
    torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-7)
    # the discretised pattern is a step function: no gradient
    discrete = DecoupledIATNetwork(1, [5], 1, "fourier", "pwq", mode="discrete", tie_weights=False, random_state=4)
    discrete(x).pow(2).sum().backward()
    assert discrete.pattern_layers[0].weight.grad is None or float(discrete.pattern_layers[0].weight.grad.abs().max()) == 0


def test_freeze_and_transfer_patterns():
    net = DecoupledIATNetwork(2, [4, 3], 1, "pwl", "pwq", tie_weights=False, random_state=5)
    net.freeze_patterns()
    assert all(not p.requires_grad for p in net.pattern_parameters())
    assert all(p.requires_grad for p in net.value_parameters())
    net(_x()).sum().backward()
    assert all(p.grad is None for p in net.pattern_parameters())
    net.freeze_patterns(False)
    assert all(p.requires_grad for p in net.pattern_parameters())

    net.transfer_patterns("value")
    x = _x(seed=6)
    torch.testing.assert_close(net(x), _coupled(net, x), rtol=0, atol=1e-13)
    source = nn.Sequential(nn.Linear(2, 4, dtype=F64), nn.ReLU(), nn.Linear(4, 3, dtype=F64), nn.Linear(3, 1, dtype=F64))
    net.transfer_patterns(source)
    torch.testing.assert_close(net.pattern_layers[1].weight, source[2].weight, rtol=0, atol=0)  # a copy
    torch.testing.assert_close(net(x), net.value_layers[-1](
        net.iats[1].decoupled(net.value_layers[1](net.iats[0].decoupled(net.value_layers[0](x), source[0](x))),
                              source[2](net.iats[0](source[0](x))))), rtol=0, atol=1e-13)


def test_network_errors():
    with pytest.raises(ValueError, match="at least one hidden IAT layer"):
        DecoupledIATNetwork(2, [], 1)
    with pytest.raises(ValueError, match="every hidden width"):
        DecoupledIATNetwork(2, [4, 0], 1)
    net = DecoupledIATNetwork(2, [4], 1, random_state=0)
    with pytest.raises(ValueError, match="last dimension in_features=2; got last dimension 3"):
        net(_x(dim=3))
    with pytest.raises(ValueError, match="layer 0 needs a weight of shape \\(4, 2\\); got \\(5, 2\\)"):
        net.transfer_patterns([nn.Linear(2, 5, dtype=F64)])
    with pytest.raises(ValueError, match="needs 1 linear layers.*got 0"):
        net.transfer_patterns([])
    with pytest.raises(ValueError, match="source='values' is unknown"):
        net.transfer_patterns("values")


def test_seeded_draw_is_reproducible_and_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = DecoupledIATNetwork(2, [4], 1, random_state=7)
    b = DecoupledIATNetwork(2, [4], 1, random_state=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))  # same draw twice
