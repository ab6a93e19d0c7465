"""Suite ``warmup-freeze``: the spectral-bias paper's Experiments 3–4 — adaptive training with zero-plane clustering, then the switch to the kernel regime.

Protocol (Sahs et al. 2025, Exps. 3–4; ``research/spectral.md`` §5): a shallow network 64 → n → 10
on handwritten digits trained by mini-batch SGD for 10 epochs, for each activation of
the paper's Exp. 3 list, while recording after every step the zero-planes of the hidden layer
(normalised (w, b) on the sphere): the per-step W₂ distance between consecutive zero-plane sets
(optimal assignment; Fig. 9e), the AUC of the normalised eigenvalue curve of their cosine
similarity matrix per epoch (Fig. 9f), and the regime statistic δ_i = ‖c_i‖² − ‖w_i‖² − b_i²;
loss and accuracy curves on train and test. Experiment 4: the same network trained adaptively for
2 epochs, then frozen and its output layer solved in the kernel regime —
``AdaptiveClassifier(warmup_epochs=2, then_solver="exact")`` — beside the pure kernel regime
(``warmup_epochs=0``: random features, exact solve).

Chosen here: scikit-learn's bundled 8 × 8 digits (1347 train / 450 test) instead of MNIST (no
download at run time), n = 256, SGD lr 0.1 without momentum, batch 64 (so an epoch has ~21 steps, the
paper's 25 batches of 256 on MNIST), PyTorch's default init, cross-entropy;
the Exp. 4 readout is the min-norm least-squares fit of ±1 one-vs-rest targets (the estimator's
kernel-regime classifier) rather than 8 more epochs of SGD on the output layer.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state

from kernelreg.bench._common import activation_rows, cell_seed, quiet
from kernelreg.bench._plots import new_figure, save_figure
from kernelreg.bench._runner import Cell, CellResult, RunContext, Suite, markdown_table
from kernelreg.datasets import load_digits
from kernelreg.diagnostics import eigen_auc, regime_delta, similarity_matrix, w2_distance, zero_planes
from kernelreg.estimators import AdaptiveClassifier
from kernelreg.networks import MLP
from kernelreg.training import Callback, train

__all__ = ["WarmupFreezeSuite", "PAPER_OUTCOMES", "ZeroPlaneTracker"]

#: The paper's Exp. 3 activation list, as rows of the shared activation table.
EXP3_ACTIVATIONS = ("step", "relu", "relu2", "relu3p5", "logistic", "cauchy", "sinc1", "sinc3", "wave3", "halfexp",
                    "iii10")

#: What the paper says per activation (Exp. 3 adaptive outcome; Exp. 4 effect of the 2-epoch switch).
PAPER_OUTCOMES: dict[str, str] = {
    "step": "Exp 4: losses unchanged",
    "relu": "Exp 4: losses unchanged",
    "relu2": "Exp 4: losses unchanged",
    "relu3p5": "Exp 3: largely fails to train; Exp 4: test loss improves dramatically",
    "logistic": "Exp 4: losses unchanged",
    "cauchy": "Exp 4: training loss improves",
    "sinc1": "Exp 3: trains, generalises very poorly; Exp 4: training loss improves",
    "sinc3": "Exp 3: trains, generalises very poorly; Exp 4: training loss improves",
    "wave3": "Exp 3: trains, generalises very poorly; Exp 4: losses unchanged",
    "halfexp": "Exp 3: largely fails to train; Exp 4: train accuracy gains dramatically",
    "iii10": "Exp 3: reasonable train, low test accuracy; Exp 4: training loss improves",
}


class ZeroPlaneTracker(Callback):
    """Training callback recording zero-plane motion (W₂ per step), clustering (eigen AUC), δ and accuracies.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        Data for the per-epoch accuracies (labels are class indices).
    """

    def __init__(self, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> None:
        self.data = (X_train, y_train, X_test, y_test)
        self.step_w2: list[float] = []
        self.epochs: list[dict[str, Any]] = []
        self._prev: np.ndarray | None = None

    def _snapshot(self, net: MLP) -> dict[str, Any]:
        """AUC, δ statistics and accuracies of the current weights."""
        planes = zero_planes(net)
        delta = regime_delta(net)
        X_train, y_train, X_test, y_test = self.data
        param = next(net.parameters())
        with torch.no_grad():
            acc = []
            for X, y in ((X_train, y_train), (X_test, y_test)):
                logits = net(torch.as_tensor(X, dtype=param.dtype, device=param.device)).cpu().numpy()
                acc.append(float(np.mean(logits.argmax(axis=1) == y) * 100.0))
        return {"auc": eigen_auc(similarity_matrix(planes)), "delta_median": float(np.median(delta)),
                "delta_mean": float(np.mean(delta)), "delta_positive": float(np.mean(delta > 0)),
                "train_accuracy": acc[0], "test_accuracy": acc[1]}

    def on_train_begin(self, trainer, **kwargs: Any) -> None:
        """The zero-planes and statistics at initialisation (epoch 0)."""
        self._prev = zero_planes(trainer.module)
        self.epochs.append({"epoch": 0, **self._snapshot(trainer.module)})

    def on_batch_end(self, trainer, **kwargs: Any) -> None:
        """W₂ distance between the zero-planes before and after this step."""
        planes = zero_planes(trainer.module)
        self.step_w2.append(w2_distance(self._prev, planes))
        self._prev = planes

    def on_epoch_end(self, trainer, **kwargs: Any) -> None:
        """Per-epoch clustering, δ and accuracies (also written into the training history)."""
        snap = {"epoch": int(kwargs.get("epoch", len(self.epochs))), **self._snapshot(trainer.module)}
        self.epochs.append(snap)
        for key in ("auc", "train_accuracy", "test_accuracy"):
            trainer.record(key, snap[key])


def _estimator_seeds(random_state: int) -> tuple[int, int]:
    """The (init, training) seeds AdaptiveClassifier derives from its random_state, so both runs share a start."""
    rng = check_random_state(random_state)
    init_seed, train_seed = (int(v) for v in rng.randint(2**31 - 1, size=2))
    return init_seed, train_seed


class WarmupFreezeSuite(Suite):
    """Adaptive training with zero-plane clustering metrics, then the 2-epoch warm-up → kernel-regime switch."""

    name = "warmup-freeze"
    title = "Adaptive regime and the switch to the kernel regime (spectral-bias paper, Experiments 3–4, on digits)"
    summary = "Exps 3-4 on digits: adaptive SGD with zero-plane W2/AUC/delta, then 2-epoch warm-up -> exact solve"
    paper = "Sahs, Pyle, Anselmi & Patel 2025, Exps. 3–4 (Figs. 9–10), MNIST replaced by sklearn's digits"
    version = 1

    def settings(self, quick: bool) -> dict:
        """Network and budget (quick: three activations, a small net, 3 epochs on 400 images)."""
        if quick:
            return {"activations": ["relu", "logistic", "halfexp"], "hidden": 32, "epochs": 3, "warmup_epochs": 2,
                    "batch_size": 128, "lr": 0.1, "n_train": 400}
        return {"activations": list(EXP3_ACTIVATIONS), "hidden": 256, "epochs": 10, "warmup_epochs": 2,
                "batch_size": 64, "lr": 0.1, "n_train": None}

    def cells(self, ctx: RunContext) -> list[Cell]:
        """One cell per activation (all three regimes of it)."""
        return [Cell(key, {"activation": key, "label": label, "name": act, "activation_params": params})
                for key, label, act, params in activation_rows(ctx.settings["activations"])]

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict:
        """Adaptive run with the tracker; warm-up → freeze → exact; kernel regime from the start."""
        s = ctx.settings
        data = load_digits(n_train=s["n_train"], random_state=cell_seed(ctx.seed, 41))
        seed = cell_seed(ctx.seed, 42)
        init_seed, train_seed = _estimator_seeds(seed)
        act, params = cell.params["name"], cell.params["activation_params"] or None
        net = MLP(64, [s["hidden"]], 10, activation=act, activation_params=params, random_state=init_seed,
                  device=ctx.device)
        tracker = ZeroPlaneTracker(data.X_train, data.y_train, data.X_test, data.y_test)
        with quiet():
            res = train(net, data.X_train, data.y_train, loss="cross_entropy", optimizer="sgd", lr=s["lr"],
                        max_epochs=s["epochs"], batch_size=s["batch_size"], validation=(data.X_test, data.y_test),
                        restore_best=False, callbacks=[tracker], random_state=train_seed, device=ctx.device)
        out: dict = {
            "adaptive": {
                "train_loss": [h["train_loss"] for h in res.history],
                "test_loss": [h.get("valid_loss") for h in res.history],
                "epochs": tracker.epochs,
                "step_w2": tracker.step_w2,
                "stop_reason": res.stop_reason,
                "time_s": res.time_s,
            }
        }
        for regime, warm in (("warmup", s["warmup_epochs"]), ("kernel", 0)):
            est = AdaptiveClassifier((s["hidden"],), activation=act, activation_params=params, optimizer="sgd",
                                     lr=s["lr"], batch_size=s["batch_size"], warmup_epochs=warm, then_solver="exact",
                                     random_state=seed, device=ctx.device)
            with quiet():
                est.fit(data.X_train, data.y_train)
            out[regime] = {
                "train_accuracy": float(np.mean(est.predict(data.X_train) == data.y_train) * 100.0),
                "test_accuracy": float(np.mean(est.predict(data.X_test) == data.y_test) * 100.0),
                "warmup_train_loss": [h["train_loss"] for h in est.history_],
                "solution_mse": float(est.solution_.mse),
                "solution_status": est.solution_.status,
            }
        return out

    def rows(self, cells: list[CellResult], ctx: RunContext) -> list[dict]:
        """One row per activation: the three regimes' accuracies and the clustering metrics."""
        out = []
        for c in cells:
            a = c.result["adaptive"]
            ep = a["epochs"]
            steps = np.asarray(a["step_w2"], dtype=float)
            n_steps = max(1, len(steps) // max(1, len(ep) - 1))
            out.append({
                "activation": c.params["label"], "key": c.params["activation"],
                "adaptive_train_acc": ep[-1]["train_accuracy"], "adaptive_test_acc": ep[-1]["test_accuracy"],
                "adaptive_final_train_loss": a["train_loss"][-1] if a["train_loss"] else math.nan,
                "adaptive_final_test_loss": a["test_loss"][-1] if a["test_loss"] else math.nan,
                "warmup_train_acc": c.result["warmup"]["train_accuracy"],
                "warmup_test_acc": c.result["warmup"]["test_accuracy"],
                "kernel_train_acc": c.result["kernel"]["train_accuracy"],
                "kernel_test_acc": c.result["kernel"]["test_accuracy"],
                "w2_first_epoch": float(steps[:n_steps].mean()) if steps.size else math.nan,
                "w2_last_epoch": float(steps[-n_steps:].mean()) if steps.size else math.nan,
                "auc_init": ep[0]["auc"], "auc_final": ep[-1]["auc"],
                "delta_median_init": ep[0]["delta_median"], "delta_median_final": ep[-1]["delta_median"],
                "paper": PAPER_OUTCOMES.get(c.params["activation"], ""),
            })
        return out

    def report(self, rows: list[dict], cells: list[CellResult], ctx: RunContext) -> str:
        """Accuracies of the three regimes beside the paper's statements, then the clustering metrics."""
        s = ctx.settings
        return "\n".join([
            "## Accuracy (%): adaptive (Exp. 3), warm-up 2 epochs → kernel regime (Exp. 4), kernel regime only",
            "",
            f"Digits 64 → {s['hidden']} → 10, SGD lr {s['lr']:g}, batch {s['batch_size']}, {s['epochs']} epochs "
            f"(warm-up {s['warmup_epochs']}). The paper gives curves only; its statements are in the last column.",
            "",
            markdown_table(rows, [("activation", "activation"), ("adaptive_train_acc", "adaptive train"),
                                  ("adaptive_test_acc", "adaptive test"), ("warmup_train_acc", "warm-up→kernel train"),
                                  ("warmup_test_acc", "warm-up→kernel test"), ("kernel_train_acc", "kernel train"),
                                  ("kernel_test_acc", "kernel test"), ("paper", "paper (MNIST)")]),
            "",
            "## Zero-plane motion and clustering during adaptive training",
            "",
            "W₂ = optimal-assignment distance between the zero-plane sets (unit (w, b)) of consecutive SGD steps, "
            "averaged over the first and the last epoch (the paper: most motion happens early). AUC of the "
            "normalised cumulative eigenvalue curve of the cosine similarity matrix (1 = one cluster, 0.5 = "
            "none). δ = ‖c_i‖² − ‖w_i‖² − b_i² (negative: kernel-like; conserved by gradient flow for ReLU).",
            "",
            markdown_table(rows, [("activation", "activation"), ("w2_first_epoch", "W₂/step, first epoch"),
                                  ("w2_last_epoch", "W₂/step, last epoch"), ("auc_init", "AUC init"),
                                  ("auc_final", "AUC final"), ("delta_median_init", "median δ init"),
                                  ("delta_median_final", "median δ final")]),
        ])

    def figures(self, cells: list[CellResult], ctx: RunContext) -> list[Path]:
        """Loss/accuracy curves with the Exp. 4 results marked, and the clustering metrics over training."""
        if not cells:
            return []
        paths = []
        fig, axes = new_figure(1, 3, width=4.0, height=3.2)
        for i, c in enumerate(cells):
            colour = f"C{i % 10}"
            a = c.result["adaptive"]
            ep = [e["epoch"] for e in a["epochs"]]
            axes[0, 0].plot(range(1, len(a["train_loss"]) + 1), a["train_loss"], color=colour, label=c.params["label"])
            axes[0, 0].plot(range(1, len(a["test_loss"]) + 1), a["test_loss"], color=colour, ls="--")
            axes[0, 1].plot(ep, [e["train_accuracy"] for e in a["epochs"]], color=colour)
            axes[0, 2].plot(ep, [e["test_accuracy"] for e in a["epochs"]], color=colour)
            last = ep[-1]
            axes[0, 1].plot([last + 0.3], [c.result["warmup"]["train_accuracy"]], "*", color=colour, ms=8)
            axes[0, 2].plot([last + 0.3], [c.result["warmup"]["test_accuracy"]], "*", color=colour, ms=8)
        axes[0, 0].set_yscale("log")
        axes[0, 0].set_title("cross-entropy (solid train, dashed test)", fontsize=8)
        axes[0, 1].set_title("train accuracy (%); ★ = warm-up 2 ep → kernel", fontsize=8)
        axes[0, 2].set_title("test accuracy (%); ★ = warm-up 2 ep → kernel", fontsize=8)
        axes[0, 0].legend(fontsize=5)
        for ax in axes[0]:
            ax.set_xlabel("epoch")
        paths.append(save_figure(fig, ctx.fig_dir / "curves.png"))
        fig, axes = new_figure(1, 3, width=4.0, height=3.2)
        for i, c in enumerate(cells):
            colour = f"C{i % 10}"
            a = c.result["adaptive"]
            w2 = np.asarray(a["step_w2"], float)
            axes[0, 0].semilogy(np.where(w2 > 0, w2, np.nan), color=colour, lw=0.8,  # zero motion (Step) not drawn
                                label=c.params["label"])
            axes[0, 1].plot([e["epoch"] for e in a["epochs"]], [e["auc"] for e in a["epochs"]], color=colour)
            axes[0, 2].plot([e["epoch"] for e in a["epochs"]], [e["delta_median"] for e in a["epochs"]], color=colour)
        axes[0, 0].set_title("W₂ between zero-planes of consecutive steps", fontsize=8)
        axes[0, 0].set_xlabel("SGD step")
        axes[0, 1].set_title("eigenvalue-curve AUC of the similarity matrix", fontsize=8)
        axes[0, 2].set_title("median δ = ‖c‖² − ‖w‖² − b²", fontsize=8)
        axes[0, 0].legend(fontsize=5)
        paths.append(save_figure(fig, ctx.fig_dir / "clustering.png"))
        return paths
