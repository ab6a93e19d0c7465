"""The training loop: bare-loop equivalence, mini-batches, schedules, stops that lose nothing, divergence, errors."""

from __future__ import annotations

import copy
import math
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest
import torch
from _nets import mse as _mse
from _nets import regression_data as _data
from _nets import same_state as _same_state
from _nets import state as _state
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from kernelreg.exceptions import DivergenceError, SolverError
from kernelreg.layers import slope_recovery_loss
from kernelreg.networks import MLP
from kernelreg.training import Callback, Trainer, TrainOptions, train


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
    # a step far too large on purpose (the loss rises; no divergence check): the plateau rule halves lr
    result = train(MLP(2, [8], 1, random_state=0), X, y, optimizer="sgd", lr=5.0, max_epochs=12,
                   schedule=("plateau", {"patience": 1, "factor": 0.5}), divergence_factor=None)
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


# ---- divergence ---------------------------------------------------------------------------------------
def test_non_finite_loss_with_restore_warns_and_restores_best_finite_weights():
    X, y = _data()
    snaps = Snapshots()
    net = MLP(2, [16], 1, random_state=0)
    expected = r"became (nan|inf).*Restored the weights after epoch.*smaller lr"
    with pytest.warns(ConvergenceWarning, match=expected) as info:
        result = train(net, X, y, optimizer="sgd", max_epochs=200, callbacks=[snaps], on_divergence="restore",
                       divergence_factor=None, schedule=("step", {"milestones": [10], "lrs": [1e-2, 1e4]}))
    assert info[0].filename == __file__  # the warning names the caller's line, not kernelreg's internals
    assert result.stop_reason == "diverged" and snaps.ended == "diverged"
    assert result.history[-1]["stop_reason"] == "diverged"
    assert not math.isfinite(result.history[-1]["train_loss"])
    assert all(bool(torch.isfinite(p).all()) for p in net.parameters())
    assert result.best_epoch >= 9
    assert _same_state(_state(net), snaps.begin[result.best_epoch + 1])
    assert _mse(net, X, y) == pytest.approx(result.best_loss, rel=1e-12)


def test_exploding_loss_raises_divergence_error_with_the_history():
    # a linear model under SGD with a step far above 2/L: the loss grows geometrically and stays finite
    # for many epochs, so only the growth bound (1e6 x the reference loss) can catch it
    X, y = _data(30)
    snaps = Snapshots()
    net = MLP(2, [], 1, random_state=0)
    initial = _mse(net, X, y)
    reference = max(initial, float(np.mean(y**2)))  # the larger of the first loss and the all-zero output's
    with pytest.raises(DivergenceError, match=r"diverged at epoch \d+: the training loss rose to .* lr=5.*"
                                              r"Use a smaller lr \(e.g. lr=0.5\).*on_divergence='restore'") as info:
        train(net, X, y, optimizer="sgd", lr=5.0, max_epochs=500, callbacks=[snaps])
    err = info.value
    assert isinstance(err, SolverError) and err.status == "failed" and err.method == "sgd"
    losses = [h["train_loss"] for h in err.history]
    assert err.history[-1]["stop_reason"] == "diverged" and snaps.ended == "diverged"
    assert math.isfinite(losses[-1]) and losses[-1] > 1e6 * reference
    assert all(v <= 1e6 * reference for v in losses[:-1]) and len(losses) > 3
    assert losses[0] == pytest.approx(initial, rel=1e-12)
    # the module is left on the best weights seen (here the initial ones), never on the exploded ones
    assert _same_state(_state(net), snaps.after[0])


def test_divergence_bound_is_relative_to_the_zero_output_loss_when_the_start_is_perfect():
    # y is the network's own output up to 1e-7: the first loss is ~1e-14 and Adam's first, sign-like steps
    # of size lr raise it by orders of magnitude more than 1e6 x; the all-zero output's loss mean(y^2) is
    # the reference instead, so this is not a divergence
    X, _ = _data()
    net = MLP(2, [16], 1, activation="tanh", random_state=0)
    with torch.no_grad():
        y = net(torch.as_tensor(X))[:, 0].numpy() + 1e-7 * np.random.RandomState(1).standard_normal(len(X))
    result = train(net, X, y, lr=5e-2, max_epochs=20, restore_best=False)
    losses = [h["train_loss"] for h in result.history]
    assert losses[0] < 1e-13 and max(losses) > 1e7 * losses[0]
    assert max(losses) < 1e6 * float(np.mean(y**2)) and result.stop_reason == "max_epochs"


@pytest.mark.parametrize("on_divergence", ["raise", "restore"])
def test_divergence_in_the_first_minibatch_epoch_restores_the_initial_weights(on_divergence):
    X, y = _data()
    net = MLP(2, [16], 1, random_state=0)
    initial = _state(net)
    kwargs = dict(optimizer="sgd", lr=1e8, batch_size=4, max_epochs=5, random_state=0, restore_best=False,
                  on_divergence=on_divergence)
    if on_divergence == "raise":
        with pytest.raises(DivergenceError) as info:
            train(net, X, y, **kwargs)
        history = info.value.history
    else:
        with pytest.warns(ConvergenceWarning, match="diverged at epoch 1"):
            result = train(net, X, y, **kwargs)
        assert result.stop_reason == "diverged" and result.best_epoch == 0 and result.n_epochs == 1
        history = result.history
    assert len(history) == 1 and history[0]["stop_reason"] == "diverged"
    assert _same_state(_state(net), initial)


# ---- interrupts reach the caller ------------------------------------------------------------------------
class _Bar:
    """Stand-in for the tqdm bar: records whether it was closed."""

    def __init__(self, total):
        self.closed = False

    def update(self, n):
        pass

    def set_postfix(self, values, refresh=True):
        pass

    def close(self):
        self.closed = True


class _Interrupt(Callback):
    """Raise KeyboardInterrupt after step ``batch`` of epoch ``epoch``; keep what the loop showed."""

    def __init__(self, epoch, batch):
        self.at = (epoch, batch)
        self.trainer = None
        self.ended = None
        self.last_step_state = None

    def on_batch_end(self, trainer, **kwargs):
        if (trainer.epoch, kwargs["batch"]) == self.at:
            self.trainer = trainer
            self.last_step_state = _state(trainer.module)
            raise KeyboardInterrupt

    def on_train_end(self, trainer, **kwargs):
        self.ended = kwargs["stop_reason"]


@pytest.mark.parametrize("batch_size, batch", [(None, 0), (8, 1)], ids=["full_batch", "mini_batch"])
def test_keyboard_interrupt_mid_epoch_propagates_after_cleanup(monkeypatch, batch_size, batch):
    import kernelreg.training._trainer as trainer_module

    bars = []
    monkeypatch.setattr(trainer_module, "progress", lambda **kw: bars.append(_Bar(kw["total"])) or bars[-1])
    X, y = _data()
    cb, snaps = _Interrupt(3, batch), Snapshots()
    net = MLP(2, [8], 1, activation="tanh", random_state=0)
    net.eval()
    with pytest.raises(KeyboardInterrupt):
        train(net, X, y, lr=1e-2, batch_size=batch_size, max_epochs=50, callbacks=[snaps, cb], verbose=True,
              random_state=0)
    trainer = cb.trainer
    assert cb.ended == "interrupted" and trainer.stop_reason == "interrupted"
    assert bars[0].closed and not net.training  # progress bar closed, the module's mode given back
    # epoch 3 never finished: two entries, the last one says why the run stopped
    assert [h["epoch"] for h in trainer.history] == [1, 2]
    assert trainer.history[-1]["stop_reason"] == "interrupted"
    steps_per_epoch = 1 if batch_size is None else 5
    assert trainer.n_iter == 2 * steps_per_epoch + batch + 1
    # restore_best: the module holds exactly the best weights, which the history names
    losses = [h["train_loss"] for h in trainer.history]
    if batch_size is None:  # full batch scores each epoch's starting weights; epoch 3's step scored epoch 2's
        assert trainer.best_epoch == 2 and _same_state(_state(net), snaps.begin[3])
    else:
        assert trainer.best_epoch == 1 + int(np.argmin(losses))
        assert _same_state(_state(net), snaps.after[trainer.best_epoch])
    assert not _same_state(_state(net), cb.last_step_state)


def test_keyboard_interrupt_without_restore_best_keeps_the_last_completed_step():
    X, y = _data()
    cb = _Interrupt(2, 3)
    net = MLP(2, [8], 1, activation="tanh", random_state=0)
    with pytest.raises(KeyboardInterrupt):
        train(net, X, y, lr=1e-2, batch_size=8, max_epochs=50, callbacks=[cb], restore_best=False, random_state=0)
    assert cb.ended == "interrupted" and _same_state(_state(net), cb.last_step_state)


def test_system_exit_from_a_callback_also_reaches_the_caller_after_cleanup():
    class Exit(Callback):
        def on_epoch_end(self, trainer, **kwargs):
            self.trainer = trainer
            if kwargs["epoch"] == 2:
                raise SystemExit(3)

    X, y = _data()
    cb = Exit()
    with pytest.raises(SystemExit) as info:
        train(MLP(2, [8], 1, random_state=0), X, y, max_epochs=10, callbacks=[cb])
    assert info.value.code == 3 and cb.trainer.stop_reason == "interrupted"
    assert [h.get("stop_reason") for h in cb.trainer.history] == [None, "interrupted"]


def test_sigint_stops_train_in_a_subprocess_with_keyboard_interrupt():
    script = textwrap.dedent("""
        import numpy as np
        from kernelreg.networks import MLP
        from kernelreg.training import Callback, train

        class Report(Callback):
            def on_epoch_end(self, trainer, **kwargs):
                if kwargs["epoch"] == 1:
                    print("READY", flush=True)

            def on_train_end(self, trainer, **kwargs):
                print("END", kwargs["stop_reason"], flush=True)

        X = np.linspace(-1, 1, 50).reshape(-1, 1)
        train(MLP(1, [16], 1, random_state=0), X, np.sin(3 * X[:, 0]), max_epochs=10**9, callbacks=[Report()])
        print("RETURNED", flush=True)
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        deadline, line = time.monotonic() + 120, ""
        while line.strip() != "READY":
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, "the training subprocess did not start within 120 s"
            line = proc.stdout.readline()
            assert line, f"the training subprocess ended early: {proc.stderr.read()}"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "END interrupted" in out and "RETURNED" not in out
    assert proc.returncode == -signal.SIGINT  # Python exits by the signal when KeyboardInterrupt is not caught
    assert "KeyboardInterrupt" in err


# ---- callbacks, options, the Trainer ---------------------------------------------------------------------


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


def test_trainer_owns_its_run_and_refits_from_a_fresh_history():
    X, y = _data()
    net = MLP(2, [8], 1, activation="tanh", random_state=0)
    trainer = Trainer(net, TrainOptions(lr=1e-2, max_epochs=5), restore_best=False)
    assert trainer.options.restore_best is False and trainer.options.lr == 1e-2
    first = trainer.fit(X, y)
    after_first = _mse(net, X, y)
    second = trainer.fit(X, y)  # continues from the trained weights with a new history
    assert [h["epoch"] for h in second.history] == [1, 2, 3, 4, 5] and trainer.history is second.history
    assert second.history[0]["train_loss"] == pytest.approx(after_first, rel=1e-12)
    assert after_first < first.history[0]["train_loss"]
    assert trainer.n_iter == 5 and trainer.stop_reason == "max_epochs"
    assert second.history[-1]["stop_reason"] == "max_epochs" and "stop_reason" not in second.history[0]


def test_options_are_frozen_checked_and_derived_with_replace():
    base = TrainOptions(lr=1e-2, optimizer="SGD")
    assert base.optimizer == "sgd" and base.optimizer_params == {}
    with pytest.raises(FrozenInstanceError):
        base.lr = 1.0
    derived = replace(base, max_epochs=7)
    assert derived.max_epochs == 7 and base.max_epochs == 100 and derived.lr == 1e-2
    with pytest.raises(ValueError, match="lr to be a finite number > 0"):
        replace(base, lr=-1.0)
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['learning_rate'\]; allowed: loss, optimizer, lr"):
        Trainer(MLP(2, [4], 1), learning_rate=1e-3)
    with pytest.raises(TypeError, match="every callback must subclass kernelreg.training.Callback"):
        Trainer(MLP(2, [4], 1), callbacks=[lambda trainer: None])
    with pytest.raises(TypeError, match="options to be a TrainOptions or None; got dict"):
        Trainer(MLP(2, [4], 1), {"lr": 1e-2})
    with pytest.raises(TypeError, match="extra_loss to be None or callable"):
        TrainOptions(extra_loss=3.0)


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
        ({"on_divergence": "ignore"}, r"on_divergence to be one of \['raise', 'restore'\]; got on_divergence='ignore'"),
        ({"divergence_factor": 1.0}, "divergence_factor > 1"),
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


def test_read_only_inputs_train_without_a_torch_warning_and_are_left_unchanged():
    """sklearn hands read-only memmaps to fit: the loop views them (no copy, no torch warning) and never writes."""
    import warnings

    X, y = _data()
    Xr, yr = X.copy(), y.copy()
    Xr.setflags(write=False)
    yr.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ro = train(MLP(2, (8,), 1, activation="tanh", random_state=0), Xr, yr, lr=1e-2, max_epochs=5)
    rw = train(MLP(2, (8,), 1, activation="tanh", random_state=0), X, y, lr=1e-2, max_epochs=5)
    np.testing.assert_array_equal(Xr, X)
    assert ro.history[-1]["train_loss"] == rw.history[-1]["train_loss"]  # bitwise: the same computation run twice
