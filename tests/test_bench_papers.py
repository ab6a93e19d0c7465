"""The paper suites' own machinery: stacked IAT networks, the Helmholtz PINN pieces, quick-run results that make sense."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kernelreg import bench
from kernelreg.bench._iat_stack import StackedNetwork, sum_of_column_mses
from kernelreg.networks import MLP
from kernelreg.training import train


def _nets(activation: str, pairs, mesh_ratio: float = 4.0, dtype: str = "float64") -> list[MLP]:
    """Small 2 → 5 × 3 → 1 networks, one per (input, output) basis pair (or per seed for a scalar activation)."""
    out = []
    for i, (p, q) in enumerate(pairs):
        params = None if activation != "iat" else {"in_basis": p, "out_basis": q, "mesh_ratio": mesh_ratio}
        out.append(MLP(2, [5, 5, 5], 1, activation=activation, activation_params=params, random_state=i, dtype=dtype))
    return out


X = torch.as_tensor(np.random.default_rng(0).uniform(-1, 1, (30, 2)))


@pytest.mark.parametrize("activation, pairs", [
    ("iat", [("fourier", "pwq"), ("rect", "rect"), ("pwl_w", "fourier")]),
    ("tanh", [(None, None)] * 3),
])
def test_stacked_network_equals_each_network_alone(activation, pairs):
    nets = _nets(activation, pairs)
    stack = StackedNetwork.from_mlps(nets)
    assert stack.n_nets == 3
    with torch.no_grad():
        got = stack(X)
        want = torch.cat([net(X) for net in nets], dim=1)
    # bmm against separate matmuls: the same products summed in another order
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_training_a_stack_is_training_each_network_alone():
    nets = _nets("iat", [("fourier", "pwq"), ("pwl", "rect")])
    y = torch.sin(3 * X[:, 0]) * X[:, 1]
    stack = StackedNetwork.from_mlps(nets)
    train(stack, X, y[:, None].expand(-1, 2), loss=sum_of_column_mses, lr=1e-2, max_epochs=25, restore_best=False)
    for j, net in enumerate(nets):
        train(net, X, y, lr=1e-2, max_epochs=25, restore_best=False)  # Adam on its own loss only
        with torch.no_grad():
            torch.testing.assert_close(stack(X)[:, j], net(X)[:, 0], rtol=1e-9, atol=1e-10)
    copy = stack.copy_into(_nets("iat", [("fourier", "pwq")])[0], 0)
    with torch.no_grad():
        torch.testing.assert_close(copy(X)[:, 0], nets[0](X)[:, 0], rtol=1e-9, atol=1e-10)


def test_stack_refuses_mixed_architectures_and_activations():
    a = _nets("iat", [("fourier", "pwq")])[0]
    with pytest.raises(ValueError, match="one mesh size per layer"):
        StackedNetwork.from_mlps([a, _nets("iat", [("fourier", "pwq")], mesh_ratio=2.0)[0]])
    with pytest.raises(ValueError, match="one kind of activation per layer"):
        StackedNetwork.from_mlps([a, _nets("tanh", [(None, None)])[0]])
    with pytest.raises(ValueError, match="one architecture"):
        StackedNetwork.from_mlps([a, MLP(2, [5, 5], 1, activation="tanh", random_state=0)])
    with pytest.raises(ValueError, match="at least one network"):
        StackedNetwork.from_mlps([])
    bn = MLP(2, [5], 1, activation="iat", activation_params={"batchnorm": True, "mesh_ratio": 2}, random_state=0)
    with pytest.raises(ValueError, match="without BatchNorm"):
        StackedNetwork.from_mlps([bn])


def test_iat_quick_run_has_every_cell_kind_and_figure3_jumps_where_patterns_are_discrete(tmp_path):
    summary = bench.run_suite("iat-bases", tmp_path, quick=True, progress=False)
    kinds = {r["kind"] for r in summary.rows}
    assert kinds == {"row", "scalar", "mesh", "fig3"} and not summary.failed
    fig3 = sorted((r for r in summary.rows if r["kind"] == "fig3"), key=lambda r: r["mesh"])
    # the trained (coupled) network is continuous; the decoupled one jumps where a coarse pattern changes
    spacing = 2 / (bench.get_suite("iat-bases").settings(True)["fig3"]["grid"] - 1)
    assert all(r["max_jump"] < 50 * spacing for r in fig3)
    assert fig3[0]["decoupled_max_jump"] > 10 * fig3[0]["max_jump"]
    rows = [r for r in summary.rows if r["kind"] == "row"]
    assert all(r["runs"] == 2 and len(r["values"]) == 2 for r in rows)
    assert "Figure 3" in summary.report_path.read_text() and "Figure 6" in summary.report_path.read_text()


# ---- the Helmholtz PINN pieces ----------------------------------------------------------------------
class _Exact(torch.nn.Module):
    """u = sin(aπx)·sin(bπy) as a module (a dummy parameter so train-like code finds a dtype)."""

    def __init__(self, a: float, b: float) -> None:
        super().__init__()
        self.a, self.b = a, b
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, xy: torch.Tensor) -> torch.Tensor:
        return (torch.sin(self.a * math.pi * xy[:, :1]) * torch.sin(self.b * math.pi * xy[:, 1:]) + self.dummy)


@pytest.mark.parametrize("a, b", [(1.0, 4.0), (5.0, 10.0)])
def test_pinn_residual_of_the_exact_solution_is_the_forcing(a, b):
    from kernelreg.bench._helmholtz import HelmholtzProblem, PINNResidual

    prob = HelmholtzProblem(a, b, n_residual=50, n_boundary=20, random_state=3)
    assert np.allclose(np.abs(prob.boundary).max(axis=1), 1.0)  # boundary points lie on the square's edges
    assert np.all(np.abs(prob.interior) <= 1.0)
    X, y = prob.training_data()
    module = PINNResidual(_Exact(a, b), prob.k, 50, 20)
    out = module(torch.as_tensor(X))[:, 0].detach().numpy()
    # autograd's u_xx + u_yy + k²u of the exact solution is the forcing; boundary rows are u itself
    np.testing.assert_allclose(out, y, rtol=1e-9, atol=1e-9 * np.abs(y).max())
    # and the plain MSE of the scaled rows is mean(residual error²) + mean(boundary error²): errors 2 and 3
    shifted = out + np.r_[np.full(50, 2.0 * math.sqrt(70 / 50)), np.full(20, 3.0 * math.sqrt(70 / 20))]
    assert np.mean((shifted - y) ** 2) == pytest.approx(4.0 + 9.0)


def test_switch_from_rowdy_keeps_the_base_branch_and_drops_the_sinusoids():
    from kernelreg.bench._helmholtz import switch_rowdy_to_laaf

    rowdy = MLP(2, [6, 6], 1, activation="rowdy", activation_params={"base": "tanh", "K": 5, "n": 10.0},
                random_state=0)
    with torch.no_grad():
        for b in rowdy.blocks:
            b.activation.alpha.fill_(0.05)
            b.activation.omega[0] *= 1.3
    laaf = switch_rowdy_to_laaf(rowdy, MLP(2, [6, 6], 1, activation="laaf",
                                           activation_params={"base": "tanh", "n": 10.0}, random_state=1))
    with torch.no_grad():
        for b in rowdy.blocks:
            b.activation.alpha.zero_()  # Rowdy without its branches: φ₁(nω₁z)
        torch.testing.assert_close(laaf(X), rowdy(X), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="needs one n"):
        switch_rowdy_to_laaf(rowdy, MLP(2, [6, 6], 1, activation="laaf", activation_params={"n": 2.0}))


# ---- resumable trainings ----------------------------------------------------------------------------
def test_an_interrupted_resumable_training_continues_to_the_uninterrupted_result(tmp_path):
    from kernelreg.bench._resume import clear_checkpoints, train_resumable
    from kernelreg.training import Callback

    y = torch.sin(3 * X[:, 0])
    cosine = lambda e: 0.5 * (1 + math.cos(math.pi * e / 60))  # noqa: E731

    class Interrupt(Callback):
        def on_epoch_end(self, trainer, epoch, **kwargs):
            if epoch == 37:
                raise KeyboardInterrupt

    clean = MLP(2, [8, 8], 1, activation="tanh", random_state=0)
    ref = train_resumable(clean, X, y, path=tmp_path / "clean.pt", tag="t", epochs=60, lr=1e-2, factor=cosine,
                          save_every=10)
    net = MLP(2, [8, 8], 1, activation="tanh", random_state=0)
    with pytest.raises(KeyboardInterrupt):
        train_resumable(net, X, y, path=tmp_path / "cell_a.pt", tag="t", epochs=60, lr=1e-2, factor=cosine,
                        save_every=10, callbacks=[Interrupt()])
    fresh = MLP(2, [8, 8], 1, activation="tanh", random_state=0)  # a new process would start from scratch
    out = train_resumable(fresh, X, y, path=tmp_path / "cell_a.pt", tag="t", epochs=60, lr=1e-2, factor=cosine,
                          save_every=10)
    assert out["resumed_from"] == 30 and len(out["curve"]) == len(ref["curve"]) == 60
    # the same steps from the same saved state: equal to rounding (same operations)
    np.testing.assert_allclose(out["curve"], ref["curve"], rtol=1e-12)
    with torch.no_grad():
        torch.testing.assert_close(fresh(X), clean(X), rtol=1e-12, atol=1e-14)
    other = MLP(2, [8, 8], 1, activation="tanh", random_state=0)  # another tag: the checkpoint is not used
    assert train_resumable(other, X, y, path=tmp_path / "cell_a.pt", tag="u", epochs=5, lr=1e-2,
                           factor=cosine)["resumed_from"] == 0
    clear_checkpoints(tmp_path, "cell_a")
    assert not (tmp_path / "cell_a.pt").exists() and (tmp_path / "clean.pt").exists()
