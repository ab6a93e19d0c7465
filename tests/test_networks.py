"""Networks and the training loop: bare-loop equivalence, stops that lose nothing, readouts, errors."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from kernelreg.exceptions import KernelregError
from kernelreg.layers import IAT, LAAF, KroneckerActivation, RowdyActivation, slope_recovery_loss
from kernelreg.networks import (
    MLP,
    ActivationModule,
    Callback,
    HiddenFeatures,
    TrainResult,
    build_activation,
    train,
)


def _data(n=40, d=2, seed=0):
    rs = np.random.RandomState(seed)
    X = rs.uniform(-1.0, 1.0, (n, d))
    y = np.sin(3.0 * X[:, 0]) + 0.5 * X[:, -1] ** 2
    return X, y


def _state(module):
    return [t.detach().clone() for t in module.state_dict().values()]


def _same_state(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def _mse(net, X, y):
    with torch.no_grad():
        pred = net(torch.as_tensor(X, dtype=torch.float64))
        return float(((pred[:, 0] - torch.as_tensor(y, dtype=torch.float64)) ** 2).mean())


class Snapshots(Callback):
    """Weights at train begin and after every epoch; weights at every epoch begin."""

    def __init__(self):
        self.after = {}
        self.begin = {}
        self.ended = None

    def on_train_begin(self, trainer, **kwargs):
        self.after[0] = _state(trainer.module)

    def on_epoch_begin(self, trainer, **kwargs):
        self.begin[kwargs["epoch"]] = _state(trainer.module)

    def on_epoch_end(self, trainer, **kwargs):
        self.after[kwargs["epoch"]] = _state(trainer.module)

    def on_train_end(self, trainer, **kwargs):
        self.ended = kwargs["stop_reason"]


# ---- the loop against a hand-written torch loop -----------------------------------------------
@pytest.mark.parametrize(
    "name, factory, params",
    [("adam", torch.optim.Adam, {}), ("sgd", torch.optim.SGD, {"momentum": 0.9})],
)
def test_full_batch_equals_bare_torch_loop(name, factory, params):
    X, y = _data()
    net = MLP(2, [16, 16], 1, activation="tanh", random_state=0)
    ref = copy.deepcopy(net)
    result = train(net, X, y, optimizer=name, optimizer_params=params, lr=1e-2, max_epochs=40,
                   restore_best=False)
    opt = factory(ref.parameters(), lr=1e-2, **params)
    Xt, yt = torch.tensor(X), torch.tensor(y)[:, None]
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = nn.functional.mse_loss(ref(Xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    ours = [h["train_loss"] for h in result.history]
    np.testing.assert_allclose(ours, losses, rtol=0, atol=1e-12)
    for p, q in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)
    assert losses[-1] < 0.5 * losses[0]
    assert [h["epoch"] for h in result.history] == list(range(1, 41))
    assert [h["iter"] for h in result.history] == list(range(1, 41))
    assert result.n_iter == 40 and result.stop_reason == "max_epochs"
    # the final weights, never scored by the loop itself, are scored once at the end
    assert result.best_epoch == 40 and result.best_loss == pytest.approx(_mse(net, X, y), abs=1e-14)


def test_lbfgs_decreases_loss_and_best_loss_is_true_mse():
    X, y = _data(30, 1)
    net = MLP(1, [12], 1, activation="tanh", random_state=1)
    initial = _mse(net, X, y)
    result = train(net, X, y, optimizer="lbfgs", lr=1.0, max_epochs=15)
    assert _mse(net, X, y) < 0.05 * initial
    assert result.best_loss == pytest.approx(_mse(net, X, y), rel=1e-12)


# ---- mini-batches ---------------------------------------------------------------------------------
class BatchLog(Callback):
    def __init__(self):
        self.epochs = []

    def on_epoch_begin(self, trainer, **kwargs):
        self.epochs.append([])

    def on_batch_end(self, trainer, **kwargs):
        self.epochs[-1].append(kwargs["indices"].cpu().clone())


@pytest.mark.parametrize("shuffle", [True, False])
def test_minibatch_epoch_visits_every_sample_once(shuffle):
    X, y = _data(37)
    log = BatchLog()
    net = MLP(2, [8], 1, random_state=0)
    result = train(net, X, y, batch_size=8, max_epochs=3, shuffle=shuffle, callbacks=[log], random_state=0)
    assert result.n_iter == 3 * 5 and [h["iter"] for h in result.history] == [5, 10, 15]
    for batches in log.epochs:
        assert [len(b) for b in batches] == [8, 8, 8, 8, 5]
        assert torch.equal(torch.cat(batches).sort().values, torch.arange(37))
    orders = [torch.cat(b) for b in log.epochs]
    assert torch.equal(orders[0], orders[1]) != shuffle


def test_minibatch_reproducible_with_random_state():
    X, y = _data(50)
    runs = []
    for seed in (3, 3, 4):
        net = MLP(2, [8], 1, activation="tanh", random_state=0)
        result = train(net, X, y, batch_size=7, max_epochs=4, lr=1e-2, random_state=seed)
        runs.append(([h["train_loss"] for h in result.history], _state(net)))
    assert runs[0][0] == runs[1][0] and _same_state(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]


def test_minibatch_epoch_loss_is_size_weighted_mean_of_batch_losses():
    class Losses(Callback):
        def __init__(self):
            self.items = []

        def on_batch_end(self, trainer, **kwargs):
            self.items.append((len(kwargs["indices"]), kwargs["loss"]))

    X, y = _data(23)
    cb = Losses()
    result = train(MLP(2, [4], 1, random_state=0), X, y, batch_size=10, max_epochs=1, callbacks=[cb],
                   random_state=0)
    expected = sum(n * v for n, v in cb.items) / 23
    assert result.history[0]["train_loss"] == pytest.approx(expected, rel=1e-14)


# ---- schedules ------------------------------------------------------------------------------------
def test_step_annealing_changes_lr_at_milestone_like_a_manual_loop():
    X, y = _data()
    net = MLP(2, [8], 1, activation="tanh", random_state=0)
    ref = copy.deepcopy(net)
    result = train(net, X, y, optimizer="sgd", max_epochs=8, restore_best=False,
                   schedule=("step", {"milestones": [5], "lrs": [4e-2, 1e-3]}))
    assert [h["lr"] for h in result.history] == [4e-2] * 5 + [1e-3] * 3
    opt = torch.optim.SGD(ref.parameters(), lr=4e-2)
    Xt, yt = torch.tensor(X), torch.tensor(y)[:, None]
    for epoch in range(8):
        if epoch == 5:
            opt.param_groups[0]["lr"] = 1e-3
        opt.zero_grad()
        nn.functional.mse_loss(ref(Xt), yt).backward()
        opt.step()
    for p, q in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-14)


def test_step_gamma_torch_factory_and_adaptive_group_ratio():
    X, y = _data()
    net = MLP(2, [8], 1, activation="rowdy", activation_params={"base": "tanh", "K": 3}, random_state=0)
    result = train(net, X, y, lr=1e-2, adaptive_lr=1e-3, max_epochs=5,
                   schedule=("step", {"milestones": [2, 4], "gamma": 0.5}))
    assert [h["lr"] for h in result.history] == pytest.approx([1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3])
    assert [h["lr_adaptive"] for h in result.history] == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])
    result = train(MLP(2, [8], 1, random_state=0), X, y, lr=0.1, max_epochs=5,
                   schedule=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1))
    assert [h["lr"] for h in result.history] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])


def test_plateau_schedule_reduces_lr_when_loss_stalls():
    X, y = _data()
    result = train(MLP(2, [8], 1, random_state=0), X, y, optimizer="sgd", lr=5.0, max_epochs=12,
                   schedule=("plateau", {"patience": 1, "factor": 0.5}))
    lrs = [h["lr"] for h in result.history]
    assert lrs[0] == 5.0 and min(lrs) < 5.0


# ---- early stopping, best state, target -----------------------------------------------------------
def test_early_stopping_on_validation_restores_best_epoch_weights():
    X, y = _data(40, 1)
    snaps = Snapshots()
    net = MLP(1, [16], 1, activation="tanh", random_state=0)
    result = train(net, X, y, lr=1e-2, max_epochs=300, validation=(X, 0.3 * y), early_stopping=5,
                   callbacks=[snaps])
    valid = [h["valid_loss"] for h in result.history]
    assert result.stop_reason == "early_stopping" and result.monitor == "valid_loss"
    assert result.best_epoch == int(np.argmin(valid)) + 1 and 1 < result.best_epoch < 100
    assert result.n_epochs == result.best_epoch + 5
    assert result.best_loss == min(valid)
    assert _same_state(_state(net), snaps.after[result.best_epoch])
    assert not _same_state(_state(net), snaps.after[result.n_epochs])
    assert _mse(net, X, 0.3 * y) == pytest.approx(result.best_loss, rel=1e-12)


def test_early_stopping_on_training_loss_restores_weights_the_best_loss_was_measured_on():
    X, y = _data(30)
    snaps = Snapshots()
    net = MLP(2, [], 1, random_state=0)  # a linear model: SGD with a too-large step diverges slowly
    result = train(net, X, y, optimizer="sgd", max_epochs=100, early_stopping=3, callbacks=[snaps],
                   schedule=("step", {"milestones": [6], "lrs": [0.1, 2.6]}))
    losses = [h["train_loss"] for h in result.history]
    best_index = int(np.argmin(losses))
    assert result.stop_reason == "early_stopping" and best_index >= 5
    assert result.n_epochs == best_index + 1 + 3
    # full batch: epoch e's loss is measured on the weights epoch e started from
    assert result.best_epoch == best_index and result.best_loss == losses[best_index]
    assert _same_state(_state(net), snaps.begin[best_index + 1])
    assert _mse(net, X, y) == pytest.approx(result.best_loss, rel=1e-12)


def test_restore_best_false_keeps_last_weights():
    X, y = _data(30)
    snaps = Snapshots()
    net = MLP(2, [], 1, random_state=0)
    result = train(net, X, y, optimizer="sgd", max_epochs=100, early_stopping=3, restore_best=False,
                   callbacks=[snaps], schedule=("step", {"milestones": [6], "lrs": [0.1, 2.6]}))
    assert _same_state(_state(net), snaps.after[result.n_epochs])


def test_target_loss_stops_on_the_weights_that_reach_it():
    X, y = _data()
    net = MLP(2, [16], 1, activation="tanh", random_state=0)
    result = train(net, X, y, lr=1e-2, max_epochs=2000, target_loss=0.05)
    assert result.stop_reason == "target" and result.n_epochs < 2000
    assert result.history[-1]["train_loss"] <= 0.05 < result.history[-2]["train_loss"]
    assert _mse(net, X, y) == pytest.approx(result.history[-1]["train_loss"], rel=1e-12)


def test_nan_loss_stops_warns_and_restores_best_finite_weights():
    X, y = _data()
    snaps = Snapshots()
    net = MLP(2, [16], 1, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"became (nan|inf).*Restored the weights after epoch"):
        result = train(net, X, y, optimizer="sgd", max_epochs=200, callbacks=[snaps],
                       schedule=("step", {"milestones": [10], "lrs": [1e-2, 1e4]}))
    assert result.stop_reason == "nan" and snaps.ended == "nan"
    assert not math.isfinite(result.history[-1]["train_loss"])
    assert all(bool(torch.isfinite(p).all()) for p in net.parameters())
    assert result.best_epoch >= 9
    assert _same_state(_state(net), snaps.begin[result.best_epoch + 1])
    assert _mse(net, X, y) == pytest.approx(result.best_loss, rel=1e-12)


def test_nan_in_first_minibatch_epoch_restores_initial_weights():
    X, y = _data()
    net = MLP(2, [16], 1, random_state=0)
    initial = _state(net)
    with pytest.warns(ConvergenceWarning):
        result = train(net, X, y, optimizer="sgd", lr=1e8, batch_size=4, max_epochs=5, random_state=0,
                       restore_best=False)
    assert result.stop_reason == "nan" and result.best_epoch == 0 and result.n_epochs == 1
    assert _same_state(_state(net), initial)


def test_keyboard_interrupt_from_callback_returns_normally():
    class Interrupt(Callback):
        def __init__(self):
            self.ended = None

        def on_epoch_end(self, trainer, **kwargs):
            if kwargs["epoch"] == 3:
                raise KeyboardInterrupt

        def on_train_end(self, trainer, **kwargs):
            self.ended = kwargs["stop_reason"]

    X, y = _data()
    cb, snaps = Interrupt(), Snapshots()
    net = MLP(2, [8], 1, activation="tanh", random_state=0)
    result = train(net, X, y, lr=1e-2, max_epochs=50, callbacks=[snaps, cb])
    assert isinstance(result, TrainResult)
    assert result.stop_reason == "interrupted" and cb.ended == "interrupted"
    assert result.n_epochs == 3 and len(result.history) == 3
    assert result.best_epoch == 2  # epoch 3 scored the weights after 2 epochs
    assert _same_state(_state(net), snaps.begin[3])


def test_interrupt_mid_epoch_minibatch_keeps_history_and_best_weights():
    class InterruptBatch(Callback):
        def on_batch_end(self, trainer, **kwargs):
            if trainer.epoch == 3 and kwargs["batch"] == 1:
                raise KeyboardInterrupt

    X, y = _data()
    snaps = Snapshots()
    net = MLP(2, [8], 1, activation="tanh", random_state=0)
    result = train(net, X, y, lr=1e-2, batch_size=8, max_epochs=50, callbacks=[snaps, InterruptBatch()],
                   random_state=0)
    assert result.stop_reason == "interrupted" and result.n_epochs == 2
    assert _same_state(_state(net), snaps.after[result.best_epoch])


def test_callback_record_and_stop():
    class Recorder(Callback):
        def on_epoch_end(self, trainer, **kwargs):
            trainer.record("n_params", sum(p.numel() for p in trainer.module.parameters()))
            if kwargs["epoch"] == 4:
                trainer.stop()

    X, y = _data()
    net = MLP(2, [8], 1, random_state=0)
    result = train(net, X, y, max_epochs=50, callbacks=[Recorder()])
    assert result.stop_reason == "callback" and result.n_epochs == 4
    assert all(h["n_params"] == 2 * 8 + 8 + 8 + 1 for h in result.history)
    assert {"epoch", "iter", "train_loss", "lr", "time_s"} <= set(result.history[0])
    times = [h["time_s"] for h in result.history]
    assert times == sorted(times) and times[0] >= 0


def test_validation_fraction_split_and_verbose_progress_bar(capsys):
    X, y = _data(50)
    log = BatchLog()
    result = train(MLP(2, [8], 1, random_state=0), X, y, max_epochs=3, validation=0.2, verbose=True,
                   batch_size=7, callbacks=[log], random_state=0)
    assert all("valid_loss" in h for h in result.history) and result.monitor == "valid_loss"
    assert sum(len(b) for b in log.epochs[0]) == 40  # 10 of the 50 samples held out
    assert "train" in capsys.readouterr().err  # the tqdm bar
    train(MLP(2, [8], 1, random_state=0), X, y, max_epochs=3)
    assert capsys.readouterr().err == ""  # silent by default


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


def test_laaf_slope_recovery_as_extra_loss_is_added_to_training_loss():
    X, y = _data()
    net = MLP(2, [8, 8], 1, activation="laaf", activation_params={"base": "tanh"}, random_state=0)
    data_loss = _mse(net, X, y)
    with torch.no_grad():
        extra = float(slope_recovery_loss(net))
    result = train(net, X, y, max_epochs=3, extra_loss=slope_recovery_loss)
    assert result.history[0]["train_loss"] == pytest.approx(data_loss + extra, rel=1e-13)


def test_classification_losses_train():
    rs = np.random.RandomState(0)
    X = rs.normal(size=(60, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int)
    net = MLP(2, [16], 2, activation="tanh", random_state=0)
    result = train(net, X, labels, loss="cross_entropy", lr=5e-2, max_epochs=150)
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]
    acc = float((net(torch.tensor(X)).argmax(1).numpy() == labels).mean())
    assert acc > 0.85
    net = MLP(2, [16], 1, activation="tanh", random_state=0)
    result = train(net, X, labels.astype(float), loss="bce", lr=5e-2, max_epochs=150)
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]


def test_float32_network_trains_on_float64_data():
    X, y = _data()
    net = MLP(2, [8], 1, activation="tanh", random_state=0, dtype="float32")
    result = train(net, X, y, lr=1e-2, max_epochs=20)
    assert net.output.weight.dtype == torch.float32
    assert math.isfinite(result.best_loss) and result.history[-1]["train_loss"] < result.history[0]["train_loss"]


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


# ---- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf")])
def test_non_positive_lr_raises(lr):
    X, y = _data()
    with pytest.raises(ValueError, match="lr to be a finite number > 0"):
        train(MLP(2, [4], 1), X, y, lr=lr)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": "adagrad"}, "unknown optimizer 'adagrad'; known optimizer names: adam, adamw, sgd, lbfgs"),
        ({"loss": "hinge"}, "unknown loss 'hinge'; known loss names: mse, cross_entropy, bce"),
        ({"schedule": "linear"}, "unknown schedule 'linear'; known schedule names: step, cosine"),
        ({"schedule": ("step", {"milestones": [3], "lrs": [1e-2]})}, r"len\(lrs\) = len\(milestones\) \+ 1"),
        ({"schedule": ("step", {"milestones": [5, 3], "gamma": 0.1})}, "increasing epoch counts"),
        ({"max_epochs": 0}, "max_epochs to be an integer >= 1"),
        ({"batch_size": 0}, "batch_size to be an integer >= 1"),
        ({"early_stopping": {"patience": 2, "monitor": "valid_loss"}}, "give validation data"),
        ({"validation": 1.5}, "fraction must leave at least one sample"),
        ({"optimizer": "lbfgs", "adaptive_lr": 1e-3}, "one parameter group only"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    X, y = _data()
    net = MLP(2, [4], 1, activation="laaf", random_state=0)
    with pytest.raises(ValueError, match=match):
        train(net, X, y, **kwargs)


def test_bad_data_raises():
    X, y = _data()
    net = MLP(2, [4], 1, random_state=0)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(1 of 80 entries\)"):
        train(net, Xn, y)
    yn = y.copy()
    yn[0] = np.inf
    with pytest.raises(ValueError, match="y contains NaN or inf"):
        train(net, X, yn)
    with pytest.raises(ValueError, match="X has 3 features but the network's first layer expects in_features=2"):
        train(net, np.ones((5, 3)), np.ones(5))
    with pytest.raises(ValueError, match="X has 40 samples but y has 39"):
        train(net, X, y[:-1])
    with pytest.raises(ValueError, match=r"must be 2-D.*X.reshape\(-1, 1\)"):
        train(MLP(1, [4], 1), X[:, 0], y)
    with pytest.raises(ValueError, match=r"network has \(1,\) outputs per sample but y has \(2,\)"):
        train(net, X, np.ones((40, 2)))
    with pytest.raises(ValueError, match="class label 2 but the network has only 2 outputs"):
        train(MLP(2, [4], 2), X, np.arange(40) % 3, loss="cross_entropy")
    with pytest.raises(ValueError, match="built for in_features=2 inputs; got 3 features"):
        net(torch.ones(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="in_features=2; got 3"):
        net.feature_module()(torch.ones(4, 3, dtype=torch.float64))


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
