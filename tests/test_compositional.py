"""Compositional triangle-wave networks: exact views, 2^d pieces, Yarotsky, the scaling rule, training, protocol."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from kernelreg.bench._compositional_protocol import (
    PAPER_SPARSE_RESULTS,
    TARGETS,
    interpolation_floor,
    protocol_data,
    protocol_table,
    run_protocol,
    sparse_table,
    summarize_protocol,
)
from kernelreg.datasets import COMPOSITIONAL_CURVES
from kernelreg.exceptions import KernelregError
from kernelreg.layers import CompositionalLayer, CompositionalNetwork
from kernelreg.layers.compositional import triangle
from kernelreg.training.compositional import (
    METHODS,
    TrainingConfig,
    default_init_weights,
    finetune,
    pretrain,
    raai_init_weights,
    train_baseline,
    train_compositional,
)

F64 = torch.float64


def _peaks(d, seed, low=0.05, high=0.95):
    return np.random.default_rng(seed).uniform(low, high, d + 1)


def _grid_with_breakpoints(net, n=2000, seed=0):
    x = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=F64)
    bp, _ = net.linear_pieces()
    return torch.cat([x, torch.tensor(bp, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64)])


def _mlp_out(mlp, x):
    return mlp(x[:, None])[:, 0]


# ---- the two views of one definition ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["convex", "concave"])
@pytest.mark.parametrize("first_factor", ["auto", "mirrored", "recurrence"])
@pytest.mark.parametrize("enforce", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_closed_form_equals_mlp(mode, first_factor, enforce, seed):
    d = 6
    s_init = "recurrence" if seed == 0 else np.random.default_rng(seed).uniform(0.01, 0.5, d)
    net = CompositionalNetwork(d, mode, a_init=_peaks(d, seed), first_factor=first_factor,
                               enforce_differentiability=enforce, s_init=s_init)
    x = _grid_with_breakpoints(net, seed=seed)
    with torch.no_grad():
        closed = net(x)
        for hidden_bias in (True, False):
            mlp = net.to_mlp(hidden_bias=hidden_bias)
            assert isinstance(mlp, nn.Sequential)
            assert all(isinstance(m, (nn.Linear, nn.ReLU)) for m in mlp)
            assert (_mlp_out(mlp, x) - closed).abs().max().item() < 1e-12
        # the functional weights give the same network
        h = x[:, None]
        layers = net.mlp_weights()
        for k, (w, b) in enumerate(layers):
            h = h @ w.T + b
            if k < len(layers) - 1:
                h = torch.relu(h)
        assert (h[:, 0] - closed).abs().max().item() < 1e-12


def test_mlp_structure_matches_the_paper():
    d = 4
    a = _peaks(d, 3)
    net = CompositionalNetwork(d, "convex", a_init=a)
    mlp = net.to_mlp()
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    assert [tuple(lin.weight.shape) for lin in linears] == [(4, 1)] + [(4, 4)] * (d - 1) + [(1, 4)]
    # input layer (1, 1, 1, 0)·x + (0, 0, -a_1, 1); hidden layers carry zero biases
    assert torch.equal(linears[0].weight[:, 0], torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=F64))
    assert torch.allclose(linears[0].bias, torch.tensor([0.0, 0.0, -a[0], 1.0], dtype=F64), atol=1e-15)
    assert all(torch.equal(lin.bias, torch.zeros(4, dtype=F64)) for lin in linears[1:-1])
    # bias neuron scales itself: row 4 is (0, 0, 0, S_l); sum neuron passes itself: column 1 = e_1
    for lin in linears[1:-1]:
        assert torch.equal(lin.weight[3, :3], torch.zeros(3, dtype=F64)) and lin.weight[3, 3] > 0
        assert torch.equal(lin.weight[:, 0], torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=F64))
    # convex + mirrored first factor: the sum neuron needs no offset
    assert linears[0].bias[0].item() == 0.0 and linears[-1].bias.item() == 0.0
    # convex + 'recurrence' first factor dips below 0: the sum neuron carries an offset
    rec = CompositionalNetwork(d, "convex", a_init=[0.2, 0.5, 0.5, 0.5, 0.5], first_factor="recurrence")
    assert rec.to_mlp()[0].bias[0].item() > 0
    assert float(rec(torch.linspace(0, 1, 1001, dtype=F64)).detach().min()) < 0


def test_features_coef_readout_and_waves():
    net = CompositionalNetwork(5, "concave", a_init=_peaks(5, 4))
    x = torch.linspace(0, 1, 333, dtype=F64)
    with torch.no_grad():
        phi = net.features(x)
        assert phi.shape == (333, 6)
        assert torch.allclose(phi @ net.coef(), net(x), atol=1e-14, rtol=0)
        w = x.clone()
        for i, a in enumerate(net.peaks[:5]):
            w = torch.where(w <= a, w / a, (1 - w) / (1 - a))
            assert torch.equal(phi[:, i + 1], w)


# ---- 2^d pieces, counted exactly --------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["convex", "concave"])
@pytest.mark.parametrize("d", [1, 2, 3, 5, 8])
def test_exactly_two_to_the_depth_pieces(mode, d):
    for seed in range(3):
        a = _peaks(d, 10 * d + seed, 0.051, 0.949)
        net = CompositionalNetwork(d, mode, a_init=a)
        assert net.n_linear_pieces(exact=True) == 2**d
        assert net.n_linear_pieces(exact=False) == 2**d
        bp, slopes = net.linear_pieces()
        assert bp.shape == (2**d + 1,) and slopes.shape == (2**d,)
        assert bp[0] == 0 and bp[-1] == 1 and np.all(np.diff(bp) > 0)
        # the analytic pieces are the closed form's: F(b_{k+1}) - F(b_k) = slope_k (b_{k+1} - b_k)
        with torch.no_grad():
            f = net(torch.tensor(bp, dtype=F64)).numpy()
            mid = net(torch.tensor((bp[:-1] + bp[1:]) / 2, dtype=F64)).numpy()
        assert np.allclose(np.diff(f), slopes * np.diff(bp), atol=1e-13, rtol=0)
        assert np.allclose(mid, (f[:-1] + f[1:]) / 2, atol=1e-13, rtol=0)


def test_extreme_peaks_still_give_two_to_the_depth_pieces():
    a = [0.002, 0.998, 0.01, 0.99, 0.3, 0.7, 0.5]
    for mode in ("convex", "concave"):
        net = CompositionalNetwork(6, mode, a_init=a, a_margin=0.001)
        assert net.n_linear_pieces(exact=True) == 64


def test_piece_count_exact_versus_float():
    # a kink of relative size 1e-300: the exact count sees it, the float count (rtol) merges it
    net = CompositionalNetwork(1, "convex", a_init=[0.5, 0.5], enforce_differentiability=False, s_init=[1e-300])
    assert net.n_linear_pieces(exact=True) == 2  # tiny but nonzero kink still counts exactly
    assert net.n_linear_pieces(exact=False, rtol=1e-12) == 1  # the float path merges it, as documented
    with pytest.raises(KernelregError, match="depth <= 16"):
        CompositionalNetwork(17).n_linear_pieces(exact=True)


# ---- Yarotsky --------------------------------------------------------------------------------------
def _sawtooth(x, i):
    g = x.clone()
    for _ in range(i):
        g = 2 * torch.minimum(g, 1 - g)
    return g


@pytest.mark.parametrize("d", [1, 2, 4, 6, 8])
def test_half_peaks_give_yarotsky(d):
    net = CompositionalNetwork(d, "convex", a_init="half")
    assert torch.equal(net.peaks.detach(), torch.full((d + 1,), 0.5, dtype=F64))
    assert torch.equal(net.scales.detach(), -(4.0 ** -torch.arange(1, d + 1, dtype=F64)))
    x = torch.linspace(0, 1, 2 ** (d + 3) + 1, dtype=F64)  # contains every k/2^d and the midpoints
    with torch.no_grad():
        f = net(x)
        yarotsky = x - sum(_sawtooth(x, i) / 4**i for i in range(1, d + 1))
        assert (f - yarotsky).abs().max().item() < 1e-15
        assert (f - x**2).abs().max().item() == 2.0 ** -(2 * d + 2)
        knots = torch.arange(2**d + 1, dtype=F64) / 2**d
        assert (net(knots) - knots**2).abs().max().item() < 1e-15  # interpolates x^2 at k/2^d
        assert (_mlp_out(net.to_mlp(), x) - x**2).abs().max().item() == pytest.approx(2.0 ** -(2 * d + 2), abs=1e-15)


# ---- the scaling rule: F' jump at x = a_1 ---------------------------------------------------------
def _jump_at_a1(net):
    bp, slopes = net.linear_pieces()
    k = 2 ** (net.depth - 1)
    assert bp[k] == pytest.approx(net.peaks[0].item(), abs=1e-14)
    return abs(slopes[k] - slopes[k - 1])


def test_scaling_rule_shrinks_the_derivative_jump():
    a = np.random.default_rng(7).uniform(0.2, 0.8, 13)
    depths = [2, 4, 8, 12]
    rule = [_jump_at_a1(CompositionalNetwork(d, a_init=a[: d + 1])) for d in depths]
    fixed = [
        _jump_at_a1(CompositionalNetwork(d, a_init=a[: d + 1], enforce_differentiability=False, s_init="yarotsky"))
        for d in depths
    ]
    assert all(later < earlier for earlier, later in zip(rule, rule[1:]))
    assert rule[-1] < 1e-2 * rule[0] and rule[-1] < 1e-3
    assert min(fixed[1:]) > 0.1  # without the rule the jump stays
    assert fixed[-1] > 100 * rule[-1]


def test_scales_follow_the_recurrence_and_first_factor():
    a = _peaks(5, 11)
    for mode, ff, first in [("convex", "auto", a[0]), ("convex", "recurrence", 1 - a[0]),
                            ("concave", "auto", 1 - a[0]), ("concave", "mirrored", a[0])]:
        s = CompositionalNetwork(5, mode, a_init=a, first_factor=ff).scales.detach().numpy()
        sign = -1 if mode == "convex" else 1
        assert s[0] == pytest.approx(sign * first * a[1], rel=1e-13)
        for i in range(4):
            assert s[i + 1] == pytest.approx(s[i] * (1 - a[i + 1]) * a[i + 2], rel=1e-13)


# ---- training stages ---------------------------------------------------------------------------------
def _x3():
    x = torch.linspace(0, 1, 200, dtype=F64)
    return x, x**3


@pytest.mark.parametrize("enforce", [True, False])
def test_pretraining_keeps_peaks_inside_and_lowers_loss(enforce):
    x, y = _x3()
    net = CompositionalNetwork(5, "convex", a_init="uniform", random_state=0, enforce_differentiability=enforce)
    before = ((net(x) - y) ** 2).mean().item()
    scales_before = net.scales.detach().clone()
    hist = pretrain(net, x, y, epochs=300, lr=0.05)
    after = ((net(x) - y) ** 2).mean().item()
    assert hist[-1]["final"] and hist[-1]["mse"][0] == pytest.approx(after, rel=1e-12)
    assert after < before / 10
    a = net.peaks.detach()
    assert bool(((a > net.a_margin) & (a < 1 - net.a_margin)).all())
    if not enforce:
        assert not torch.allclose(net.scales.detach(), scales_before)
    # a huge step size still cannot push a peak out of (0, 1): Adam moves the logits, not a
    wild = CompositionalNetwork(3, "convex", a_init="uniform", random_state=1)
    pretrain(wild, x, y, epochs=50, lr=50.0)
    a = wild.peaks.detach()
    assert bool(((a > 0) & (a < 1)).all())


def test_stage3_lowers_loss_further():
    x, y = _x3()
    net = CompositionalNetwork(5, "convex", a_init="uniform", random_state=0)
    pretrain(net, x, y, epochs=400, lr=0.05)
    mlp = net.to_mlp()
    with torch.no_grad():
        start = float(((_mlp_out(mlp, x) - y) ** 2).mean())
        assert start == pytest.approx(((net(x) - y) ** 2).mean().item(), rel=1e-9)
    hist = finetune(mlp, x, y, epochs=800, lr=3e-4)
    with torch.no_grad():
        end = float(((_mlp_out(mlp, x) - y) ** 2).mean())
    assert end < start / 2
    assert hist[-1]["mse"][0] == pytest.approx(end, rel=1e-12)


def test_stacked_runs_are_independent_trainings():
    x, y = _x3()
    cfg = TrainingConfig(pretrain_epochs=60, finetune_epochs=60, record_every=0)
    both = train_compositional(x, y, mode="convex", method="free_scales", config=cfg, seeds=[11, 22])
    alone = train_compositional(x, y, mode="convex", method="free_scales", config=cfg, seeds=[22])
    assert both.mse[1] == pytest.approx(alone.mse[0], rel=1e-8)
    assert both.pretrain_mse[1] == pytest.approx(alone.pretrain_mse[0], rel=1e-8)
    base2 = train_baseline(x, y, method="raai", config=cfg, seeds=[5, 6])
    base1 = train_baseline(x, y, method="raai", config=cfg, seeds=[6])
    assert base2.mse[1] == pytest.approx(base1.mse[0], rel=1e-8)
    # the materialised run r is the stacked run r
    seq = both.mlp.to_sequential(1)
    with torch.no_grad():
        assert torch.allclose(_mlp_out(seq, x), both.mlp(x)[:, 1], atol=1e-14, rtol=0)
    net = both.compositional_network(1)
    with torch.no_grad():
        assert ((net(x) - y) ** 2).mean().item() == pytest.approx(both.pretrain_mse[1], rel=1e-9)


def test_compositional_methods_share_their_starting_peaks():
    x, y = _x3()
    cfg = TrainingConfig(pretrain_epochs=1, finetune_epochs=1, record_every=0, lr_decay=1.0)
    fits = {m: train_compositional(x, y, mode="convex", method=m, config=cfg, seeds=[3, 4])
            for m in ("no_pretraining", "free_scales", "enforced")}
    start = fits["no_pretraining"].network.peaks.detach()
    expected = np.stack([CompositionalNetwork(5, a_init="uniform", random_state=s).peaks.detach().numpy() for s in (3, 4)])
    assert np.allclose(start.numpy(), expected, atol=1e-15)
    for m in ("free_scales", "enforced"):  # one Adam step of size <= lr moved them only slightly
        assert np.allclose(fits[m].network.peaks.detach().numpy(), expected, atol=0.05)


def test_default_init_reimplements_torch_and_touches_no_global_seed():
    state = torch.random.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    w1, b1 = default_init_weights(5, random_state=0)
    w2, b2 = default_init_weights(5, random_state=0)
    w3, _ = default_init_weights(5, random_state=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert all(torch.equal(p, q) for p, q in zip(w1 + b1, w2 + b2))
    assert not torch.equal(w1[1], w3[1])
    assert [tuple(w.shape) for w in w1] == [(4, 1), (4, 4), (4, 4), (4, 4), (4, 4), (1, 4)]
    for w, b in zip(w1, b1):
        bound = 1 / math.sqrt(w.shape[1])
        assert float(w.abs().max()) <= bound and float(b.abs().max()) <= bound
    # same distribution as nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) -> variance 1/(3 fan_in)
    draws = torch.cat([default_init_weights(1, width=64, random_state=s)[0][1].flatten() for s in range(20)])
    lin = torch.cat([nn.Linear(64, 1, dtype=F64).weight.flatten() for _ in range(80)])
    assert draws.var().item() == pytest.approx(1 / (3 * 64), rel=0.05)
    assert lin.var().item() == pytest.approx(1 / (3 * 64), rel=0.1)


def test_raai_is_anticorrelated_asymmetric_and_local():
    state = torch.random.get_rng_state()
    w, b = raai_init_weights(3, random_state=0)
    assert torch.equal(torch.random.get_rng_state(), state)
    w2, b2 = raai_init_weights(3, random_state=0)
    assert all(torch.equal(p, q) for p, q in zip(w + b, w2 + b2))
    # pairwise correlation of incoming weights of a hidden neuron: about -1/(n - 1) = -1/3 before the
    # Beta entry; with it the sample correlation stays clearly negative
    pairs = []
    for s in range(300):
        hidden = raai_init_weights(2, random_state=s)[0][1]  # (4, 4)
        pairs.append(hidden[:, :2])
    pairs = torch.cat(pairs)
    corr = torch.corrcoef(pairs.T)[0, 1].item()
    assert corr < -0.1
    # asymmetry: every hidden neuron has at least one entry in (0, 1] (the Beta(2, 1) draw)
    for s in range(20):
        ws, bs = raai_init_weights(4, random_state=s)
        for k in range(4):
            v = torch.cat([ws[k], bs[k][:, None]], dim=1)
            assert bool(((v > 0) & (v <= 1)).any(dim=1).all())


# ---- the protocol -----------------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True])
def test_quick_protocol_gives_finite_rows_for_every_cell(sparse):
    rows = run_protocol(quick=True, sparse=sparse, random_state=0)
    cells = {(r["target"], r["method"]) for r in rows}
    assert cells == {(t, m) for t in TARGETS for m in METHODS}
    assert len(rows) == len(TARGETS) * len(METHODS) * 2
    assert all(math.isfinite(r["mse"]) and math.isfinite(r["test_mse"]) for r in rows)
    assert all(r["epochs"] == 200 and r["stop_reason"] == "max_epochs" for r in rows)
    summary = summarize_protocol(rows)
    assert len(summary) == len(cells)
    table = protocol_table(summary)
    assert table.count("\n") == len(summary) + 1 and "Differentiability enforced" in table
    if sparse:
        finetune_epochs = TrainingConfig().with_total_epochs(200).finetune_epochs
        for r in rows:
            stage3 = finetune_epochs if r["pretrain_epochs"] else 200
            assert 0 <= r["early_epoch"] <= stage3 and r["early_epoch"] % 100 in (0, stage3 % 100)
            # the final and checkpoint models are candidates of the early stop: it equals one of the recorded ones
            assert math.isfinite(r["early_test_mse"]) and math.isfinite(r["checkpoint_test_mse_mid"])
            if r["early_epoch"] == 0:
                assert r["early_test_mse"] == r["checkpoint_test_mse"]
        assert "early-stopped" in sparse_table(summary)
    if not sparse:
        cell = next(c for c in summary if c["target"] == "x3" and c["method"] == "enforced")
        assert cell["paper_min"] == 7.86e-8
        # common starting peaks: pretraining lowers the closed form's MSE from the shared start
        start = {r["run"]: r["pretrain_mse"] for r in rows if r["method"] == "no_pretraining" and r["target"] == "x3"}
        enforced = [r for r in rows if r["method"] == "enforced" and r["target"] == "x3"]
        assert all(r["pretrain_epochs"] > 0 and r["pretrain_mse"] < start[r["run"]] / 3 for r in enforced)


def test_protocol_targets_are_the_dataset_curves_with_their_convexity():
    assert set(TARGETS) == set(COMPOSITIONAL_CURVES)
    for name, mode in TARGETS.items():
        data = protocol_data(name)
        x, y = data["x_train"].numpy(), data["y_train"].numpy()
        np.testing.assert_array_equal(y, COMPOSITIONAL_CURVES[name][1](x))
        assert np.allclose(x, np.linspace(0, 1, 500), rtol=0, atol=1e-15)
        # the mode is the curve's shape on [0, 1]: second differences >= 0 (convex) or <= 0 (concave)
        second = np.diff(y, 2)
        assert np.all(second >= -1e-15) if mode == "convex" else np.all(second <= 1e-15)
    sparse = protocol_data("x3", sparse=True)
    assert sparse["x_train"].shape == (10,) and float(sparse["x_test"][0]) == pytest.approx(1 / 180)
    assert float(sparse["x_test"][-1]) == pytest.approx(1 - 1 / 180) and float(sparse["x_test_mid"][0]) == 0.05


def test_interpolation_floor_is_the_linear_interpolants_test_error_and_the_near_grid_is_below_the_paper():
    x_tr = np.linspace(0, 1, 10)
    h = 1 / 9
    for target in TARGETS:
        fn = COMPOSITIONAL_CURVES[target][1]
        near = np.r_[x_tr[:-1] + h / 20, 1 - h / 20]
        # by hand: the chord between the two training points around each test point
        lo = np.minimum(np.floor(near / h).astype(int), 8)
        chord = fn(x_tr[lo]) + (near - x_tr[lo]) / h * (fn(x_tr[lo + 1]) - fn(x_tr[lo]))
        assert interpolation_floor(target, "near") == pytest.approx(np.mean((chord - fn(near)) ** 2), rel=1e-9)
        assert interpolation_floor(target, "near") < PAPER_SPARSE_RESULTS[("enforced", target)]["min"]
        assert interpolation_floor(target, "mid") > PAPER_SPARSE_RESULTS[("enforced", target)]["min"]
    with pytest.raises(ValueError, match="grid='far' is unknown"):
        interpolation_floor("x3", "far")


def test_early_stop_picks_each_runs_best_mean_fold_validation_checkpoint():
    from kernelreg.bench._compositional_protocol import _FOLDS, _early_stop

    n_runs, epochs = 2, [0, 100, 200]
    valid = np.ones((3, n_runs * (1 + _FOLDS)))
    valid[1, n_runs::n_runs] = 0.1  # run 0's folds are best at epoch 100
    valid[2, n_runs + 1::n_runs] = 0.2  # run 1's folds are best at epoch 200
    valid[0, 0] = valid[0, 1] = 0.0  # the all-data runs' own columns must not count
    near = np.arange(3 * n_runs * (1 + _FOLDS), dtype=float).reshape(3, -1)
    stop, picked = _early_stop({"valid": valid, "near": near, "mid": -near}, epochs, n_runs)
    assert stop.tolist() == [100, 200]
    assert picked["near"].tolist() == [near[1, 0], near[2, 1]] and picked["mid"].tolist() == [-near[1, 0], -near[2, 1]]


def test_interrupted_stage_reaches_the_caller_and_restores_the_thread_setting(monkeypatch):
    import kernelreg.training.compositional as comp

    calls = {"n": 0}
    real = comp._sum_of_run_mses

    def interrupting(pred, target):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(pred, target)

    monkeypatch.setattr(comp, "_sum_of_run_mses", interrupting)
    before = torch.get_num_threads()
    x, y = _x3()
    net = CompositionalNetwork(3, "convex", a_init="uniform", random_state=0)
    with pytest.raises(KeyboardInterrupt):
        pretrain(net, x, y, epochs=50, num_threads=1 if before > 1 else 2)
    assert torch.get_num_threads() == before and calls["n"] == 5


def test_diverging_stage_raises_or_keeps_the_best_weights():
    from sklearn.exceptions import ConvergenceWarning

    from kernelreg.exceptions import DivergenceError

    x, y = _x3()
    cfg = TrainingConfig(pretrain_epochs=5, finetune_epochs=20, finetune_lr=1e4, warmup_fraction=0.0, lr_decay=1.0,
                         record_every=0)
    with pytest.raises(DivergenceError, match="smaller lr"):
        train_baseline(x, y, config=replace(cfg, on_divergence="raise"), seeds=[0])
    with pytest.warns(ConvergenceWarning, match="diverged"):
        fit = train_baseline(x, y, config=cfg, seeds=[0, 1])  # the default: keep the best weights
    assert fit.history[-1]["stop_reason"] == "diverged" and np.all(np.isfinite(fit.mse))


def test_zero_sample_weights_train_each_run_on_its_own_rows():
    x, y = _x3()
    cfg = TrainingConfig(pretrain_epochs=30, finetune_epochs=40, record_every=0)
    keep = np.ones((x.numel(), 2))
    keep[::3, 1] = 0.0  # run 1 never sees every third point
    both = train_compositional(x, y, mode="convex", config=cfg, seeds=[5, 5], sample_weight=keep)
    alone = train_compositional(x[keep[:, 1] > 0], y[keep[:, 1] > 0], mode="convex", config=cfg, seeds=[5])
    full = train_compositional(x, y, mode="convex", config=cfg, seeds=[5])
    # another summation order than the subset run: equal to rounding, not bitwise
    np.testing.assert_allclose(both.mse[1], alone.mse[0], rtol=1e-9)
    np.testing.assert_allclose(both.mse[0], full.mse[0], rtol=1e-9)
    torch.testing.assert_close(both.mlp.weights[2][1], alone.mlp.weights[2][0], rtol=1e-8, atol=1e-12)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(n_samples, n_runs\) = \(200, 2\)"):
        train_compositional(x, y, mode="convex", config=cfg, seeds=[5, 5], sample_weight=np.ones((200, 3)))
    with pytest.raises(ValueError, match="non-negative sample weights with a positive sum for every run"):
        train_baseline(x, y, config=cfg, seeds=[5], sample_weight=np.zeros(200))


def test_protocol_rejects_unknown_names():
    with pytest.raises(ValueError, match="method='adamw' is unknown"):
        run_protocol(methods=["adamw"], quick=True)
    with pytest.raises(ValueError, match="target='x5' is unknown"):
        run_protocol(targets=["x5"], quick=True)


# ---- CompositionalLayer -----------------------------------------------------------------------------
@pytest.mark.parametrize("input_map", ["sigmoid", "clamp", "none"])
def test_layer_shapes_and_block_diagonal_materialisation(input_map):
    n, d = 3, 4
    layer = CompositionalLayer(n, d, "mixed", input_map=input_map, random_state=0)
    gen = torch.Generator().manual_seed(0)
    z = torch.rand(7, 5, n, generator=gen, dtype=F64) if input_map == "none" else 2 * torch.randn(7, 5, n, generator=gen, dtype=F64)
    with torch.no_grad():
        out = layer(z)
        assert out.shape == (7, 5, n)
        mlp = layer.to_mlp()
        assert torch.allclose(mlp(z), out, atol=1e-12, rtol=0)
        hidden = [m for m in mlp if isinstance(m, nn.Linear)][1:-1]
        assert len(hidden) == d - 1
        for lin in hidden:
            mask = torch.block_diag(*[torch.ones(4, 4, dtype=F64)] * n)
            assert torch.equal(lin.weight * (1 - mask), torch.zeros(4 * n, 4 * n, dtype=F64))
        # each feature is its own CompositionalNetwork on the mapped input
        u = layer.unit_inputs(z)
        for j in range(n):
            net = CompositionalNetwork(d, layer.modes[j], a_init=layer.peaks[j].numpy())
            assert torch.allclose(net(u[..., j]), out[..., j], atol=1e-13, rtol=0)
        # frozen features and their readout
        phi = layer.features(z)
        assert phi.shape == (7, 5, n * (d + 1))
        assert torch.allclose((phi.reshape(7, 5, n, d + 1) * layer.coef()).sum(-1), out, atol=1e-13, rtol=0)
    assert layer.modes == ("convex", "concave", "convex")


def test_layer_trains_inside_a_network():
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3, dtype=F64), CompositionalLayer(3, 3, "mixed", random_state=0), nn.Linear(3, 1, dtype=F64))
    x = torch.randn(64, 2, generator=gen, dtype=F64)
    y = torch.sin(x[:, :1]) * x[:, 1:]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        opt.step()
    assert model[1].logits.grad is not None and model[1].logits.grad.abs().sum() > 0
    assert losses[-1] < losses[0]
    model[1].requires_grad_(False)  # frozen: its features are fixed columns for the convex solve
    assert not any(p.requires_grad for p in model[1].parameters())


def test_triangle_values():
    y = torch.tensor([0.0, 0.1, 0.3, 0.65, 1.0], dtype=F64)
    assert torch.allclose(triangle(y, 0.3), torch.tensor([0.0, 1 / 3, 1.0, 0.5, 0.0], dtype=F64), atol=1e-15)


# ---- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [0, -1, 2.5, True, "3"])
def test_bad_depth(depth):
    with pytest.raises(ValueError, match="depth to be an integer >= 1"):
        CompositionalNetwork(depth)
    with pytest.raises(ValueError, match="depth to be an integer >= 1"):
        CompositionalLayer(2, depth)


@pytest.mark.parametrize("bad", [[1.2, 0.5, 0.5], [0.0, 0.5, 0.5], [0.5, -0.1, 0.5], [0.5, 0.5, 1.0], [0.5, np.nan, 0.5]])
def test_peaks_outside_unit_interval(bad):
    with pytest.raises(ValueError, match=r"peaks must (lie strictly inside|be finite)"):
        CompositionalNetwork(2, a_init=bad)
    with pytest.raises(ValueError, match=r"peaks must (lie strictly inside|be finite)"):
        CompositionalNetwork(2).set_peaks(bad)


def test_peaks_outside_margin_and_bad_shapes():
    with pytest.raises(ValueError, match="lower a_margin"):
        CompositionalNetwork(2, a_init=[0.02, 0.5, 0.5])
    CompositionalNetwork(2, a_init=[0.02, 0.5, 0.5], a_margin=0.01)  # fine with a smaller margin
    with pytest.raises(ValueError, match="a_margin in"):
        CompositionalNetwork(2, a_margin=0.5)
    with pytest.raises(ValueError, match="must hold the d \\+ 1 = 3 peaks"):
        CompositionalNetwork(2, a_init=[0.5, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="a_init='random' is unknown"):
        CompositionalNetwork(2, a_init="random")


def test_unknown_names():
    with pytest.raises(ValueError, match="mode='linear' is unknown"):
        CompositionalNetwork(3, mode="linear")
    with pytest.raises(ValueError, match="mode='linear' is unknown"):
        CompositionalLayer(2, 3, mode="linear")
    with pytest.raises(ValueError, match="first_factor='a1' is unknown"):
        CompositionalNetwork(3, first_factor="a1")
    with pytest.raises(ValueError, match="input_map='tanh' is unknown"):
        CompositionalLayer(2, 3, input_map="tanh")
    with pytest.raises(ValueError, match="s_init='ones' is unknown"):
        CompositionalNetwork(3, enforce_differentiability=False, s_init="ones")
    with pytest.raises(ValueError, match="signs that disagree"):
        CompositionalNetwork(2, "convex", enforce_differentiability=False, s_init=[0.1, -0.1])
    with pytest.raises(ValueError, match="2 modes for n_features=3"):
        CompositionalLayer(3, 2, mode=["convex", "concave"])
    with pytest.raises(ValueError, match="n_features to be an integer >= 1"):
        CompositionalLayer(0, 2)


def test_inputs_outside_unit_interval():
    net = CompositionalNetwork(3)
    with pytest.raises(ValueError, match=r"on \[0, 1\] only; got inputs in \[-0.5, 1\]"):
        net(torch.tensor([-0.5, 0.2, 1.0], dtype=F64))
    with pytest.raises(ValueError, match="NaN"):
        net(torch.tensor([0.5, float("nan")], dtype=F64))
    clamped = CompositionalNetwork(3, clamp_input=True)
    with torch.no_grad():
        assert torch.equal(clamped(torch.tensor([-0.5, 1.5], dtype=F64)), clamped(torch.tensor([0.0, 1.0], dtype=F64)))
    layer = CompositionalLayer(2, 3, input_map="none")
    with pytest.raises(ValueError, match="input_map='none' needs pre-activations in"):
        layer(torch.tensor([[0.5, 1.5]], dtype=F64))
    with pytest.raises(ValueError, match="n_features=2 columns; got last dimension 3"):
        layer(torch.zeros(4, 3, dtype=F64))
    x = torch.linspace(-1, 1, 10, dtype=F64)
    with pytest.raises(ValueError, match=r"inputs in \[0, 1\]"):
        train_compositional(x, x**3, mode="convex", config=TrainingConfig(pretrain_epochs=1, finetune_epochs=1))
    with pytest.raises(ValueError, match="11 targets"):
        pretrain(net, torch.linspace(0, 1, 10, dtype=F64), torch.zeros(11, dtype=F64), epochs=1)
    with pytest.raises(ValueError, match="use train_baseline"):
        train_compositional(x, x, mode="convex", method="default")
