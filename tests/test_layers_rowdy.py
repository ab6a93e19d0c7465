"""Kronecker, Rowdy and LAAF activations: exact start at the base, trainable parameters, readouts."""

from __future__ import annotations

import pytest
import torch

from kernelreg.exceptions import KernelregError
from kernelreg.layers import LAAF, KroneckerActivation, RowdyActivation, slope_recovery_loss
from kernelreg.layers.rowdy import _SinusoidBranches, _sinusoid_sum

BASES = {"relu": torch.relu, "tanh": torch.tanh, "sin": torch.sin}


def _z(*shape, seed=0, scale=3.0):
    gen = torch.Generator().manual_seed(seed)
    return scale * torch.randn(*shape, generator=gen, dtype=torch.float64)


# ---- Rowdy ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("base", sorted(BASES))
@pytest.mark.parametrize("kind", ["sin", "cos"])
@pytest.mark.parametrize("n", [1.0, 7.0, 10.0])
def test_rowdy_equals_base_exactly_at_init(base, kind, n):
    # Bitwise on purpose: at init the forward is base(z·1) + Σ_k 0·wave, and multiplying by an exact 1
    # and adding exact zeros are exact in IEEE arithmetic, so this is the base kernel on equal input.
    z = _z(50, 4)
    act = RowdyActivation(base, K=6, n=n, kind=kind)
    assert torch.equal(act(z), BASES[base](z))
    assert bool((act.effective_omega() == 1).all())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rowdy_per_neuron_exact_at_init(dtype):
    z = _z(20, 5).to(torch.float32 if dtype == "float32" else torch.float64)
    act = RowdyActivation("tanh", K=4, n=10.0, per_neuron=5, dtype=dtype)
    assert act.alpha.shape == (5, 3) and act.omega.shape == (5, 4)
    assert torch.equal(act(z), torch.tanh(z))  # bitwise: tanh(z·1) + exact zeros, as at layer-wise init


def test_rowdy_differs_after_one_optimizer_step():
    z = _z(64, 3)
    target = torch.sin(4 * z)
    act = RowdyActivation("relu", K=4, n=10.0)
    opt = torch.optim.Adam(act.parameters(), lr=1e-3)
    loss = ((act(z) - target) ** 2).mean()
    loss.backward()
    opt.step()
    assert not torch.equal(act(z), torch.relu(z))
    assert bool((act.alpha != 0).all())


def test_rowdy_parameters_registered_and_receive_gradients():
    act = RowdyActivation("tanh", K=5, n=10.0)
    names = dict(act.named_parameters())
    assert set(names) == {"alpha", "omega"}
    assert names["alpha"].shape == (4,) and names["omega"].shape == (5,)
    act(_z(30)).pow(2).sum().backward()
    assert all(p.grad is not None for p in act.parameters())
    assert bool((act.alpha.grad != 0).all()) and act.omega.grad[0] != 0
    # ω_k (k >= 2) start with zero gradient because α_k = 0 multiplies their branch
    assert bool((act.omega.grad[1:] == 0).all())
    frozen = RowdyActivation("tanh", K=5, trainable=False)
    assert list(frozen.parameters()) == [] and set(dict(frozen.named_buffers())) == {"alpha", "omega"}


def test_rowdy_frequency_conventions():
    code = RowdyActivation("relu", K=5, n=10.0)
    torch.testing.assert_close(code.frequencies(), torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    paper = RowdyActivation("relu", K=5, n=10.0, freq_init="paper")
    torch.testing.assert_close(paper.frequencies(), torch.tensor([10.0, 20.0, 30.0, 40.0], dtype=torch.float64))
    assert torch.equal(paper(_z(9)), torch.relu(_z(9)))


def test_rowdy_formula_and_branch_features():
    z = _z(11, 3)
    n = 10.0
    act = RowdyActivation("tanh", K=4, n=n, kind="cos")
    with torch.no_grad():
        act.alpha.copy_(torch.tensor([0.1, -0.2, 0.05], dtype=torch.float64))
        act.omega.copy_(torch.tensor([0.12, 0.09, 0.11, 0.1], dtype=torch.float64))
    expected = torch.tanh(n * 0.12 * z) + sum(
        n * a * torch.cos(k * n * w * z) for k, (a, w) in enumerate(zip([0.1, -0.2, 0.05], [0.09, 0.11, 0.1]), start=1)
    )
    torch.testing.assert_close(act(z), expected)
    feats = act.branch_features(z)
    assert feats.shape == (11, 3, 4)
    torch.testing.assert_close(feats[..., 0], torch.tanh(n * 0.12 * z))
    torch.testing.assert_close(feats[..., 2], n * torch.cos(2 * n * 0.11 * z))
    torch.testing.assert_close((feats * act.effective_alpha()).sum(-1), act(z))
    flat = act.branch_features(z, flatten=True)
    assert flat.shape == (11, 12)
    torch.testing.assert_close(flat[:, 4:8], feats[:, 1, :])


def test_rowdy_k1_is_laaf():
    z = _z(10, 2)
    act = RowdyActivation("tanh", K=1, n=10.0)
    assert act.alpha.shape == (0,) and act.branch_features(z).shape == (10, 2, 1)
    with torch.no_grad():
        act.omega.fill_(0.2)
    laaf = LAAF("tanh", n=10.0, a_init=0.2)
    torch.testing.assert_close(act(z), laaf(z))


def test_rowdy_errors():
    with pytest.raises(ValueError, match="K >= 1"):
        RowdyActivation("relu", K=0)
    with pytest.raises(ValueError, match="kind='tan' is unknown"):
        RowdyActivation("relu", kind="tan")
    with pytest.raises(ValueError, match="freq_init"):
        RowdyActivation("relu", freq_init="random")
    with pytest.raises(ValueError, match="n to be a finite number > 0"):
        RowdyActivation("relu", n=0.0)
    with pytest.raises(ValueError, match="per-neuron parameters for 4 neurons.*got last dimension 3"):
        RowdyActivation("relu", K=3, per_neuron=4)(_z(5, 3))
    with pytest.raises((ValueError, KeyError, KernelregError), match="no_such_activation"):
        RowdyActivation("no_such_activation")


def _plain_rowdy(act, z):
    """The Rowdy formula written out with ordinary autograd ops (independent of the fused branch function)."""
    omega = act.n * act.omega
    out = act.base(z * omega[..., 0])
    wave = torch.sin if act.kind == "sin" else torch.cos
    for k in range(1, act.K):
        out = out + act.n * act.alpha[..., k - 1] * wave(k * omega[..., k] * z)
    return out


@pytest.mark.parametrize("fuse_min", [0, None])
@pytest.mark.parametrize("kind", ["sin", "cos"])
@pytest.mark.parametrize("per_neuron", [None, 3])
def test_fused_branches_match_the_plain_formula_with_gradients(kind, per_neuron, fuse_min, monkeypatch):
    import kernelreg.layers.rowdy as rowdy

    if fuse_min is not None:  # 0: the fused function even for this small input; None: the small-input path
        monkeypatch.setattr(rowdy, "_FUSE_MIN_SIZE", fuse_min)
    act = RowdyActivation("tanh", K=5, n=10.0, kind=kind, per_neuron=per_neuron)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        act.alpha.copy_(0.05 * torch.randn(act.alpha.shape, generator=gen, dtype=torch.float64))
        act.omega.mul_(1 + 0.1 * torch.randn(act.omega.shape, generator=gen, dtype=torch.float64))
    z = _z(7, 3, seed=2).requires_grad_(True)
    out, ref = act(z), _plain_rowdy(act, z)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    weights = _z(7, 3, seed=3)
    params = [z, act.alpha, act.omega]
    fused = torch.autograd.grad((out * weights).sum(), params)
    plain = torch.autograd.grad((ref * weights).sum(), params)
    for a, b in zip(fused, plain):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["sin", "cos"])
@pytest.mark.parametrize("z_shape,p_shape", [((4, 3), (2,)), ((5,), (3,)), ((2, 2, 3), (3, 2)), ((), (2,))])
def test_fused_branch_function_passes_gradcheck_and_gradgradcheck(kind, z_shape, p_shape):
    gen = torch.Generator().manual_seed(4)
    z = torch.randn(z_shape, generator=gen, dtype=torch.float64).requires_grad_(True)
    freq = torch.rand(p_shape, generator=gen, dtype=torch.float64).requires_grad_(True)
    amp = torch.randn(p_shape, generator=gen, dtype=torch.float64).requires_grad_(True)
    fn = lambda z, f, a: _SinusoidBranches.apply(z, f, a, kind)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (z, freq, amp))
    assert torch.autograd.gradgradcheck(fn, (z, freq, amp))
    torch.testing.assert_close(fn(z, freq, amp), _sinusoid_sum(z, freq, amp, kind), rtol=0, atol=1e-14)


@pytest.mark.parametrize("kind", ["sin", "cos"])
@pytest.mark.parametrize("z_shape,p_shape", [((6, 3), (2,)), ((2, 4, 3), (3, 2))])
def test_unrolled_kernels_of_the_compiled_path_match_the_plain_formula(kind, z_shape, p_shape):
    from kernelreg.layers.rowdy import _unrolled_backward, _unrolled_forward

    gen = torch.Generator().manual_seed(6)
    z = torch.randn(z_shape, generator=gen, dtype=torch.float64).requires_grad_(True)
    freq = torch.rand(p_shape, generator=gen, dtype=torch.float64).requires_grad_(True)
    amp = torch.randn(p_shape, generator=gen, dtype=torch.float64).requires_grad_(True)
    g = torch.randn(z_shape, generator=gen, dtype=torch.float64)
    ref = _sinusoid_sum(z, freq, amp, kind)
    torch.testing.assert_close(_unrolled_forward(z, freq, amp, kind), ref, rtol=1e-14, atol=1e-14)
    want = torch.autograd.grad(ref, (z, freq, amp), g)
    with torch.no_grad():
        got = _unrolled_backward(z, g, freq, amp, kind)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_compile_option_without_a_working_compiler_fails_clearly(monkeypatch):
    import kernelreg.layers.rowdy as rowdy

    def broken(fn, **kwargs):
        def call(*args):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
        return call

    monkeypatch.setattr(rowdy, "_COMPILED", {})
    monkeypatch.setattr(torch, "compile", broken)
    act = RowdyActivation("tanh", K=3, n=10.0, compile=True)
    assert "compile=True" in repr(act)
    with pytest.raises(KernelregError, match=r"compile=True\) could not compile.*No working C\+\+ compiler.*compile=False"):
        act(_z(4, 3))
    assert RowdyActivation("tanh", K=3, n=10.0)(_z(4, 3)).shape == (4, 3)  # the default never compiles


@pytest.mark.slow
def test_compiled_rowdy_equals_the_eager_one_with_gradients():
    """torch.compile'd branch kernels (opt-in; needs a C++ compiler, ~10-60 s to compile)."""
    eager = RowdyActivation("tanh", K=3, n=10.0)
    compiled = RowdyActivation("tanh", K=3, n=10.0, compile=True)
    with torch.no_grad():
        for act in (eager, compiled):
            act.alpha.copy_(torch.tensor([0.03, -0.02], dtype=torch.float64))
    z = _z(64, 200, seed=7).requires_grad_(True)
    w = _z(64, 200, seed=8)
    outs = [act(z) for act in (eager, compiled)]
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-13, atol=1e-13)
    grads = [torch.autograd.grad((o * w).sum(), (z, act.alpha, act.omega)) for o, act in zip(outs, (eager, compiled))]
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-11, atol=1e-11)


def test_rowdy_network_second_derivative_in_the_input_is_exact():
    """A PINN needs u_xx through the activation: the fused backward is itself differentiable."""
    gen = torch.Generator().manual_seed(5)
    lin1 = torch.nn.Linear(1, 6, dtype=torch.float64)
    lin2 = torch.nn.Linear(6, 1, dtype=torch.float64)
    with torch.no_grad():
        for p in (*lin1.parameters(), *lin2.parameters()):
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    act = RowdyActivation("tanh", K=4, n=10.0)
    with torch.no_grad():
        act.alpha.copy_(torch.tensor([0.02, -0.01, 0.03], dtype=torch.float64))
    x = torch.linspace(-1, 1, 9, dtype=torch.float64)[:, None].requires_grad_(True)

    def second(fn):
        u = lin2(fn(lin1(x))).sum()
        (ux,) = torch.autograd.grad(u, x, create_graph=True)
        (uxx,) = torch.autograd.grad(ux.sum(), x, create_graph=True)
        return uxx

    uxx = second(act)
    torch.testing.assert_close(uxx, second(lambda z: _plain_rowdy(act, z)), rtol=1e-10, atol=1e-10)
    (grad_alpha,) = torch.autograd.grad(uxx.pow(2).sum(), act.alpha)  # third order through α: still exact
    (ref_alpha,) = torch.autograd.grad(second(lambda z: _plain_rowdy(act, z)).pow(2).sum(), act.alpha)
    torch.testing.assert_close(grad_alpha, ref_alpha, rtol=1e-10, atol=1e-10)


def test_rowdy_inference_without_gradients():
    act = RowdyActivation("relu", K=3, n=10.0, trainable=False)
    with torch.no_grad():
        act.alpha.fill_(0.1)
    z = _z(5, 2)
    with torch.no_grad():
        torch.testing.assert_close(act(z), _plain_rowdy(act, z), rtol=0, atol=1e-13)


def test_rowdy_slope_recovery_option():
    act = RowdyActivation("tanh", K=3, n=10.0, slope_recovery=True)
    off = RowdyActivation("tanh", K=3, n=10.0)
    laaf = LAAF("tanh", n=10.0, a_init=0.3)
    net = torch.nn.Sequential(act, off, laaf)
    with torch.no_grad():
        act.omega[0] = 0.2
    expected = 1.0 / ((torch.exp(torch.tensor(0.2)) + torch.exp(torch.tensor(0.3))) / 2)
    torch.testing.assert_close(slope_recovery_loss(net), expected.double())
    slope_recovery_loss(net).backward()
    assert act.omega.grad[0] < 0 and bool((act.omega.grad[1:] == 0).all()) and off.omega.grad is None


# ---- Kronecker --------------------------------------------------------------------------------------
def test_kronecker_explicit_equals_hand_sum():
    z = _z(40)
    act = KroneckerActivation(["relu", "tanh", "sin"], alphas=[0.5, -1.0, 2.0], omegas=[1.5, 0.3, 4.0])
    expected = 0.5 * torch.relu(1.5 * z) - torch.tanh(0.3 * z) + 2.0 * torch.sin(4.0 * z)
    torch.testing.assert_close(act(z), expected)
    assert act.branch_features(z).shape == (40, 3)


def test_kronecker_default_init_is_first_base_and_trains():
    z = _z(30, 2)
    act = KroneckerActivation(["tanh", "relu", lambda x: x**2])
    assert torch.equal(act(z), torch.tanh(z))  # bitwise: 1·tanh(1·z) + 0·relu + 0·z², exact in IEEE arithmetic
    assert set(dict(act.named_parameters())) == {"alpha", "omega"}
    act(z).sum().backward()
    assert act.alpha.grad is not None and bool((act.alpha.grad != 0).all())


def test_kronecker_per_neuron_and_callable_and_tuple():
    z = _z(8, 3)
    act = KroneckerActivation([("relu", {}), torch.sin], alphas=[1.0, 0.5], per_neuron=3)
    assert act.alpha.shape == (3, 2)
    torch.testing.assert_close(act(z), torch.relu(z) + 0.5 * torch.sin(z))
    assert act.branch_features(z, flatten=True).shape == (8, 6)


def test_kronecker_errors():
    with pytest.raises(ValueError, match="at least one base function"):
        KroneckerActivation([])
    with pytest.raises(ValueError, match="got 3 alphas for 2 base functions"):
        KroneckerActivation(["relu", "tanh"], alphas=[1.0, 0.0, 0.0])
    with pytest.raises((ValueError, KeyError, KernelregError), match="no_such_activation"):
        KroneckerActivation(["relu", "no_such_activation"])


# ---- LAAF -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1.0, 3.0, 10.0, 13.7])
def test_laaf_layer_exact_at_init(n):
    # bitwise on purpose: n·a == 1 exactly, so this is tanh(1·z) == tanh(z), the same kernel on equal input
    z = _z(25, 4)
    act = LAAF("tanh", n=n)
    assert act.a.shape == () and act.slope() == 1
    assert torch.equal(act(z), torch.tanh(z))


def test_laaf_neuron_wise_shapes_and_gradients():
    z = _z(25, 4)
    act = LAAF("tanh", n=10.0, mode="neuron", n_neurons=4)
    assert act.a.shape == (4,)
    assert torch.equal(act(z), torch.tanh(z))
    assert "a" in dict(act.named_parameters())
    act(z).pow(2).sum().backward()
    assert act.a.grad.shape == (4,) and bool((act.a.grad != 0).all())
    with torch.no_grad():
        act.a.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64))
    torch.testing.assert_close(act(z), torch.tanh(z * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)))


def test_laaf_slope_recovery():
    act = LAAF("tanh", n=10.0, mode="neuron", n_neurons=3)
    with torch.no_grad():
        act.a.copy_(torch.tensor([0.1, 0.2, 0.6], dtype=torch.float64))
    expected = 1.0 / torch.exp(torch.tensor(0.3, dtype=torch.float64))
    torch.testing.assert_close(act.slope_recovery_loss(), expected)
    act.slope_recovery_loss().backward()
    torch.testing.assert_close(act.a.grad, torch.full((3,), -float(expected) / 3, dtype=torch.float64))
    other = LAAF("relu", n=10.0, a_init=0.5)
    net = torch.nn.Sequential(torch.nn.Identity(), act, other)
    joint = 1.0 / ((torch.exp(torch.tensor(0.3, dtype=torch.float64)) + torch.exp(torch.tensor(0.5, dtype=torch.float64))) / 2)
    torch.testing.assert_close(slope_recovery_loss(net), joint)
    torch.testing.assert_close(slope_recovery_loss([act, other]), joint)
    off = LAAF("tanh", slope_recovery=False)
    assert float(off.slope_recovery_loss()) == 0.0 and float(slope_recovery_loss([off])) == 0.0


def test_laaf_errors():
    with pytest.raises(ValueError, match="mode='neuron' needs n_neurons"):
        LAAF("tanh", mode="neuron")
    with pytest.raises(ValueError, match="mode='global' is unknown"):
        LAAF("tanh", mode="global")
    with pytest.raises(ValueError, match="applies only to mode='neuron'"):
        LAAF("tanh", n_neurons=3)
    with pytest.raises(ValueError, match="for 4 neurons.*got last dimension 2"):
        LAAF("tanh", mode="neuron", n_neurons=4)(_z(3, 2))
    with pytest.raises(TypeError, match="nn.Module"):
        slope_recovery_loss(3)
    with pytest.raises((ValueError, KeyError, KernelregError), match="no_such_activation"):
        LAAF("no_such_activation")
