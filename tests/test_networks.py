"""Networks: MLPs of every activation family, layer building from names, initialisation, readouts, errors."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from _nets import mse as _mse
from _nets import regression_data as _data
from _nets import same_state as _same_state
from _nets import state as _state
from torch import nn

from kernelreg.exceptions import KernelregError
from kernelreg.layers import IAT, LAAF, KroneckerActivation, RowdyActivation
from kernelreg.networks import MLP, ActivationModule, HiddenFeatures, build_activation
from kernelreg.training import train


# ---- activations, adaptive parameters --------------------------------------------------------------
CASES = [
    ("rowdy", {"base": "tanh", "K": 3, "n": 2.0}, RowdyActivation),
    ("laaf", {"base": "tanh", "n": 2.0}, LAAF),
    ("kronecker", {"base_functions": ["tanh", "sin"], "alphas": [1.0, 0.1]}, KroneckerActivation),
    ("iat", {"in_basis": "fourier", "out_basis": "pwq", "mesh_ratio": 2}, IAT),
    ("gaussian", None, ActivationModule),
]


@pytest.mark.parametrize("name, params, cls", CASES, ids=[c[0] for c in CASES])
def test_mlp_with_each_activation_trains_and_adaptive_parameters_learn(name, params, cls):
    X, y = _data(40)
    net = MLP(2, [12, 12], 1, activation=name, activation_params=params, random_state=0)
    assert all(isinstance(b.activation, cls) for b in net.blocks)
    adaptive = net.named_adaptive_parameters()
    named = dict(net.named_parameters())
    for key, p in adaptive:
        assert named[key] is p
    if name in ("rowdy", "laaf", "kronecker"):
        assert len(adaptive) >= 2  # one set per hidden layer
        net.zero_grad()
        nn.functional.mse_loss(net(torch.tensor(X)), torch.tensor(y)[:, None]).backward()
        assert all(p.grad is not None for _, p in adaptive)
        assert any(float(p.grad.abs().sum()) > 0 for _, p in adaptive)
    else:
        assert adaptive == []
    before = [p.detach().clone() for _, p in adaptive]
    initial = _mse(net, X, y)
    train(net, X, y, lr=1e-2, max_epochs=60)
    assert _mse(net, X, y) < 0.5 * initial
    for b, (_, p) in zip(before, adaptive):
        assert not torch.equal(b, p.detach())


def test_per_layer_activations_factory_and_module_instance():
    net = MLP(3, [4, 5, 6], 2, activation=["relu", nn.PReLU, "laaf"],
              activation_params=[None, None, {"mode": "neuron"}], random_state=0)
    assert isinstance(net.blocks[0].activation, ActivationModule)
    assert isinstance(net.blocks[1].activation, nn.PReLU) and net.blocks[1].activation.num_parameters == 5
    assert net.blocks[2].activation.a.shape == (6,)
    prelu = nn.PReLU()
    net = MLP(3, [4, 4], 1, activation=prelu, random_state=0)
    assert net.blocks[0].activation is not net.blocks[1].activation is not prelu
    assert len(net.adaptive_parameters()) == 2



# ---- initialisation -------------------------------------------------------------------------------
def test_init_reproducible_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a = MLP(3, [7, 5], 2, activation="tanh", random_state=11)
    b = MLP(3, [7, 5], 2, activation="tanh", random_state=11)
    c = MLP(3, [7, 5], 2, activation="tanh", random_state=12)
    assert torch.equal(torch.get_rng_state(), state)
    assert _same_state(_state(a), _state(b)) and not _same_state(_state(a), _state(c))
    # the default rule is torch's: weight and bias uniform on ±1/sqrt(fan_in)
    for block in a.blocks:
        bound = 1 / math.sqrt(block.linear.in_features)
        w, bias = block.linear.weight.detach(), block.linear.bias.detach()
        assert float(w.abs().max()) <= bound and float(bias.abs().max()) <= bound
    X, y = _data(20, 3)
    Y = np.stack([y, -y], axis=1)
    ra = train(a, X, Y, max_epochs=5)
    rb = train(b, X, Y, max_epochs=5)
    assert [h["train_loss"] for h in ra.history] == [h["train_loss"] for h in rb.history]


@pytest.mark.parametrize("init, std", [("xavier_normal", math.sqrt(2 / 600)), ("kaiming_normal", math.sqrt(2 / 300)),
                                       ("lecun_normal", math.sqrt(1 / 300))])
def test_normal_inits_have_their_variance(init, std):
    net = MLP(300, [300], 1, init=init, random_state=0)
    w = net.blocks[0].linear.weight.detach()
    assert float(w.std()) == pytest.approx(std, rel=0.02)
    assert float(net.blocks[0].linear.bias.detach().abs().max()) == 0.0


def test_callable_init():
    def ones(weight, bias, generator):
        weight.fill_(1.0)
        bias.fill_(-0.5)

    net = MLP(2, [3], 1, init=ones)
    assert torch.equal(net.blocks[0].linear.weight, torch.ones(3, 2, dtype=torch.float64))
    assert torch.equal(net.output.bias, torch.full((1,), -0.5, dtype=torch.float64))


# ---- readouts -------------------------------------------------------------------------------------
def test_last_readout_equals_hidden_vector_and_shares_parameters():
    X, _ = _data()
    Xt = torch.tensor(X)
    net = MLP(2, [6, 5], 1, activation="tanh", random_state=0)
    fm = net.feature_module("last")
    assert isinstance(fm, HiddenFeatures) and fm.n_features_out == 5
    manual = torch.tanh(net.blocks[1].linear(torch.tanh(net.blocks[0].linear(Xt))))
    assert torch.equal(fm(Xt), net.hidden(Xt)) and torch.allclose(fm(Xt), manual, atol=0, rtol=1e-15)
    with torch.no_grad():
        net.blocks[0].linear.weight.mul_(2.0)
    assert torch.equal(fm(Xt), net.hidden(Xt))  # references the network: no stale copy
    frozen = copy.deepcopy(fm)
    with torch.no_grad():
        net.blocks[0].linear.weight.mul_(2.0)
    assert not torch.equal(frozen(Xt), net.hidden(Xt))


def test_kronecker_readout_width_and_tied_sum_is_the_hidden_vector():
    X, y = _data()
    Xt = torch.tensor(X)
    n, K = 10.0, 4
    net = MLP(2, [6, 7], 1, activation="rowdy", activation_params={"base": "tanh", "K": K, "n": n},
              random_state=0)
    train(net, X, y, lr=1e-3, max_epochs=10)  # make α, ω non-trivial
    act = net.blocks[-1].activation
    assert float(act.alpha.detach().abs().min()) > 0
    fm = net.feature_module("kronecker")
    Phi = fm(Xt)
    assert Phi.shape == (40, 7 * K) and fm.n_features_out == 7 * K
    # independent truth: the branches written out by hand
    z = net.blocks[-1].linear(net.blocks[0](Xt))
    w = n * act.omega
    by_hand = torch.stack([torch.tanh(w[0] * z)] + [n * torch.sin(k * w[k] * z) for k in range(1, K)], dim=-1)
    torch.testing.assert_close(Phi, by_hand.reshape(40, 7 * K), rtol=1e-13, atol=1e-13)
    alpha = torch.cat([torch.ones(1, dtype=torch.float64), act.alpha])
    tied = (Phi.reshape(40, 7, K) * alpha).sum(-1)
    torch.testing.assert_close(tied, net.hidden(Xt), rtol=1e-12, atol=1e-12)


def test_kronecker_readout_of_kronecker_activation_per_neuron():
    Xt = torch.tensor(_data()[0])
    net = MLP(2, [5], 1, activation="kronecker", random_state=0,
              activation_params={"base_functions": ["relu", "tanh", "sin"], "alphas": [1.0, 0.5, -0.3],
                                 "per_neuron": True})
    Phi = net.feature_module("kronecker")(Xt)
    assert Phi.shape == (40, 15)
    tied = (Phi.reshape(40, 5, 3) * net.blocks[0].activation.alpha).sum(-1)
    torch.testing.assert_close(tied, net.hidden(Xt), rtol=1e-13, atol=1e-13)


def test_function_readout_of_iat_has_width_m_and_projects_to_the_hidden_vector():
    Xt = torch.tensor(_data()[0])
    net = MLP(2, [6], 1, activation="iat", random_state=0,
              activation_params={"in_basis": "pwl", "out_basis": "rect", "mesh_ratio": 5})
    layer = net.blocks[0].activation
    M = layer.n_mesh
    assert M == 30
    fm = net.feature_module("function")
    Phi = fm(Xt)
    assert Phi.shape == (40, M) and fm.n_features_out == M
    z = net.blocks[0].linear(Xt)
    torch.testing.assert_close(Phi, math.sqrt(2 / M) * torch.relu(z @ layer.P), rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(math.sqrt(2 / M) * Phi @ layer.Q.T, net.hidden(Xt), rtol=1e-12, atol=1e-12)
    unscaled = net.feature_module("function", scaled=False)(Xt)
    torch.testing.assert_close(unscaled, torch.relu(z @ layer.P), rtol=1e-14, atol=1e-14)


def _iat_bn_net() -> MLP:
    """A 2-layer IAT-ReLU network with BatchNorm after each IAT and non-trivial running statistics."""
    net = MLP(2, [5, 5], 1, activation="iat", random_state=0,
              activation_params={"in_basis": "fourier", "out_basis": "pwq", "mesh_ratio": 4, "batchnorm": True})
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for block in net.blocks:
            bn = block.activation.batchnorm
            bn.running_mean.copy_(torch.randn(5, generator=gen, dtype=torch.float64))
            bn.running_var.copy_(0.5 + torch.rand(5, generator=gen, dtype=torch.float64))
            bn.weight.copy_(1 + 0.3 * torch.randn(5, generator=gen, dtype=torch.float64))
            bn.bias.copy_(0.2 * torch.randn(5, generator=gen, dtype=torch.float64))
    return net.train()


def _bn_eval(bn: nn.BatchNorm1d, u: torch.Tensor) -> torch.Tensor:
    """BatchNorm with running statistics, written out."""
    return (u - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias


def test_iat_batchnorm_weights_are_ordinary_weights_not_adaptive_ones():
    from kernelreg.training._build import make_optimizer
    from kernelreg.training._options import TrainOptions

    net = _iat_bn_net()
    assert net.adaptive_parameters() == [] and net.named_adaptive_parameters() == []
    assert {f"blocks.{i}.activation.batchnorm.{w}" for i in (0, 1) for w in ("weight", "bias")} <= set(
        dict(net.named_parameters()))
    opt, _ = make_optimizer(net, TrainOptions(lr=1e-3, adaptive_lr=1e-5))
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["lr"] == 1e-3  # BatchNorm trains at lr
    rowdy = MLP(2, [4], 1, activation="rowdy", random_state=0)
    assert len(rowdy.adaptive_parameters()) == 2  # Rowdy's α, ω stay adaptive


@pytest.mark.parametrize("readout", ["last", "function"])
def test_readouts_use_batchnorm_running_statistics_whatever_the_mode(readout):
    from kernelreg.features import freeze

    net = _iat_bn_net()
    X = torch.tensor(_data()[0])
    iat1, iat2 = net.blocks[0].activation, net.blocks[1].activation
    with torch.no_grad():  # by hand: IAT, then BatchNorm with the running statistics
        u1 = _bn_eval(iat1.batchnorm, iat1.transform(net.blocks[0].linear(X)))
        z2 = net.blocks[1].linear(u1)
        want = (_bn_eval(iat2.batchnorm, iat2.transform(z2)) if readout == "last"
                else math.sqrt(2 / iat2.n_mesh) * torch.relu(z2 @ iat2.P))  # "function": before BatchNorm
    stats = [b.activation.batchnorm.running_mean.clone() for b in net.blocks]
    fm = net.feature_module(readout)
    with torch.no_grad():
        Phi = fm(X)
        torch.testing.assert_close(Phi, want, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(fm(X[:3]), Phi[:3], rtol=1e-12, atol=1e-12)  # rows do not see their batch
    assert net.training and all(b.activation.batchnorm.training for b in net.blocks)  # the net's mode is kept
    assert all(torch.equal(s, b.activation.batchnorm.running_mean) for s, b in zip(stats, net.blocks))
    frozen = freeze(net, readout).fit(X.numpy())
    np.testing.assert_allclose(frozen.transform(X.numpy()), want.numpy(), rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        train_mode = net.hidden(X)  # the network itself in training mode normalises by the batch
    assert not torch.allclose(train_mode, _bn_eval(iat2.batchnorm, iat2.transform(z2)), atol=1e-3)


def test_unavailable_readouts_raise_naming_the_valid_ones():
    net = MLP(2, [4], 1, activation="relu", random_state=0)
    assert net.valid_readouts() == ("last",)
    with pytest.raises(KernelregError, match=r"readout='kronecker'.*ActivationModule.*Valid readouts here: last"):
        net.feature_module("kronecker")
    with pytest.raises(KernelregError, match="Valid readouts here: last, kronecker"):
        MLP(2, [4], 1, activation="rowdy", random_state=0).feature_module("function")
    with pytest.raises(ValueError, match="unknown readout 'wide'"):
        net.feature_module("wide")


def test_feature_module_freezes_through_module_feature_map():
    from kernelreg.features import ModuleFeatureMap

    X, _ = _data()
    net = MLP(2, [5], 1, activation="rowdy", activation_params={"K": 3}, random_state=0)
    Phi = ModuleFeatureMap(net.feature_module("kronecker")).fit_transform(X)
    assert Phi.shape == (40, 15)
    np.testing.assert_allclose(Phi, net.feature_module("kronecker")(torch.tensor(X)).detach().numpy(), rtol=1e-15)

def test_bad_activation_specs_raise():
    with pytest.raises(ValueError, match=r"unknown activation 'relux'.*Known activations:.*Adaptive layer families: rowdy, laaf, kronecker, iat"):
        MLP(2, [4], 1, activation="relux")
    with pytest.raises(ValueError, match="'kronecker' needs its branch functions"):
        MLP(2, [4], 1, activation="kronecker")
    with pytest.raises(TypeError, match=r"'rowdy' \(RowdyActivation\) got unknown parameter\(s\) 'k'; allowed: base, K"):
        MLP(2, [4], 1, activation="rowdy", activation_params={"k": 3})
    with pytest.raises(ValueError, match="maps each hidden layer's width to itself"):
        build_activation("iat", 4, {"d_out": 3})
    with pytest.raises(TypeError, match=r"module factory.*kernelreg.activations.get\(torch.sin\)"):
        MLP(2, [4], 1, activation=torch.sin)
    with pytest.raises(TypeError, match="returned float, not an nn.Module"):
        build_activation(lambda width: 1.0, 4)
    with pytest.raises(ValueError, match="MLP got 1 activations for 2 hidden layers"):
        MLP(2, [4, 4], 1, activation=["relu"])
    with pytest.raises(ValueError, match="unknown init 'orthogonal'; known init names: default"):
        MLP(2, [4], 1, init="orthogonal")
    with pytest.raises(ValueError, match="every hidden layer size to be an integer >= 1"):
        MLP(2, [4, 0], 1)


def test_forward_checks_the_input_width():
    net = MLP(2, [4], 1, random_state=0)
    with pytest.raises(ValueError, match="built for in_features=2 inputs; got 3 features"):
        net(torch.ones(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="in_features=2; got 3"):
        net.feature_module()(torch.ones(4, 3, dtype=torch.float64))
