"""Suite ``warmup-freeze``: the spectral-bias paper's Experiments 3–4 — adaptive training with zero-plane clustering, then the switch to the kernel regime.

Protocol (Sahs et al. 2025, Exps. 3–4; ``research/spectral.md`` §5), on several seeds:

* **Experiment 3**: a shallow network 64 → n → 10 on handwritten digits trained by mini-batch SGD
  with cross-entropy for 10 epochs, for each activation of the paper's Exp. 3 list, recording after
  every step the zero-planes of the hidden layer (normalised (w, b) on the sphere): the per-step
  distance between consecutive zero-plane sets, both as the paper defines it (mean distance from
  each plane to its nearest match, Fig. 9e) and as the optimal-assignment W₂ (root mean square over
  the Hungarian matching); the AUC of the normalised eigenvalue curve of their cosine-similarity
  matrix per epoch (Fig. 9f); the similarity matrices sorted into clusters (Fig. 9g); the total
  spectral magnitude M(r) of the networks (Fig. 9h, from the networks' Dirac lines,
  :func:`kernelreg.diagnostics.ridge_spectral_magnitude`); loss and accuracy curves.
* **Experiment 4, the paper's protocol**: the same network after the first 2 epochs of that very
  run, hidden layer frozen, then **only the output layer** trained by the same SGD with
  cross-entropy for the remaining 8 epochs (Fig. 10: loss and accuracy curves).
* **Beside it, clearly labelled as another protocol**: the least-squares readout — the min-norm
  least-squares fit of ±1 one-vs-rest targets on the frozen features (after the 2-epoch warm-up, and
  on the random features at initialisation), what ``AdaptiveClassifier(warmup_epochs=2,
  then_solver="exact")`` does.

Chosen here: scikit-learn's bundled 8 × 8 digits (1347 train / 450 test) instead of MNIST (no
download at run time), n = 256, SGD lr 0.1 without momentum, batch 64 (so an epoch has ~21 steps, the
paper's 25 batches of 256 on MNIST), PyTorch's default init; 3 seeds (init and batch order; the
data split is fixed).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from kernelreg import activations
from kernelreg.bench._common import activation_rows, cell_seed, quiet, stats
from kernelreg.bench._plots import new_figure, save_figure
from kernelreg.bench._runner import Cell, CellResult, RunContext, Suite, fmt, markdown_table
from kernelreg.datasets import load_digits
from kernelreg.diagnostics import (
    eigen_auc,
    eigen_curve,
    regime_delta,
    ridge_spectral_magnitude,
    similarity_matrix,
    w2_distance,
    zero_planes,
)
from kernelreg.networks import MLP
from kernelreg.solvers import solve
from kernelreg.training import Callback, train

__all__ = ["WarmupFreezeSuite", "PAPER_OUTCOMES", "PAPER_CLAIMS", "ZeroPlaneTracker"]

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

#: The paper's Exp. 4 claims as (activation, metric, expected effect of the switch at the end of training):
#: "unchanged", "better" (lower loss / higher accuracy) — Sec. V-B, Fig. 10. The text names "the ReLU
#: family, Logistic, Wavepacket" as unchanged in training loss; "Cauchy, Sinc, Half-Exp, Oberhettinger"
#: as better; training accuracy "less affected, except a dramatic improvement for Half-Exp"; test loss
#: "largely unchanged, except a dramatic improvement for ReLU3.5 and a minor one for Half-Exp".
PAPER_CLAIMS: tuple[tuple[str, str, str], ...] = (
    *((a, "train_loss", "unchanged") for a in ("relu", "relu2", "relu3p5", "logistic", "wave3")),
    *((a, "train_loss", "better") for a in ("cauchy", "sinc1", "sinc3", "halfexp", "iii10")),
    ("halfexp", "train_acc", "better"),
    *((a, "train_acc", "unchanged") for a in ("relu", "relu2", "relu3p5", "logistic", "cauchy", "sinc1", "sinc3",
                                              "wave3", "iii10")),
    ("relu3p5", "test_loss", "better"),
    ("halfexp", "test_loss", "better"),
    *((a, "test_loss", "unchanged") for a in ("relu", "relu2", "logistic", "cauchy", "sinc1", "sinc3", "wave3",
                                              "iii10")),
)
_METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")
_LOWER_IS_BETTER = {"train_loss": True, "test_loss": True, "train_acc": False, "test_acc": False}


def _evaluate(net: MLP, data) -> dict[str, float]:
    """Cross-entropy and accuracy (%) of the network on the full training and test sets."""
    param = next(net.parameters())
    out = {}
    with torch.no_grad():
        for split, X, y in (("train", data.X_train, data.y_train), ("test", data.X_test, data.y_test)):
            logits = net(torch.as_tensor(X, dtype=param.dtype, device=param.device))
            target = torch.as_tensor(y, device=param.device)
            out[f"{split}_loss"] = float(F.cross_entropy(logits, target))
            out[f"{split}_acc"] = float((logits.argmax(dim=1) == target).double().mean()) * 100.0
    return out


class ZeroPlaneTracker(Callback):
    """Training callback: zero-plane motion per step (nearest-match and W₂), clustering, δ, losses and accuracies per epoch.

    Parameters
    ----------
    data : DatasetSplit
        Train and test data for the per-epoch losses and accuracies (labels are class indices).
    snapshot_epoch : int or None, default=None
        Keep a copy of the network as it is at the end of this epoch (the warm-up of Exp. 4).
    first_epoch : int, default=0
        Epoch number of the state the run starts from (a continued run counts on).
    track_steps : bool, default=True
        Measure the zero-plane motion of every step (off for output-layer-only training, where
        the zero-planes cannot move).
    """

    def __init__(self, data, snapshot_epoch: int | None = None, first_epoch: int = 0, track_steps: bool = True) -> None:
        self.data = data
        self.snapshot_epoch = snapshot_epoch
        self.first_epoch = first_epoch
        self.track_steps = track_steps
        self.step_nearest: list[float] = []
        self.step_w2: list[float] = []
        self.epochs: list[dict[str, Any]] = []
        self.snapshot: MLP | None = None
        self._prev: np.ndarray | None = None

    def _measure(self, net: MLP, epoch: int) -> dict[str, Any]:
        """Losses, accuracies, eigen-AUC and δ statistics of the current weights."""
        planes = zero_planes(net)
        delta = regime_delta(net)
        return {"epoch": epoch, **_evaluate(net, self.data), "auc": eigen_auc(similarity_matrix(planes)),
                "delta_median": float(np.median(delta)), "delta_positive": float(np.mean(delta > 0))}

    def on_train_begin(self, trainer, **kwargs: Any) -> None:
        """The zero-planes and statistics of the starting weights."""
        self._prev = zero_planes(trainer.module)
        self.epochs.append(self._measure(trainer.module, self.first_epoch))

    def on_batch_end(self, trainer, **kwargs: Any) -> None:
        """Distance between the zero-planes before and after this step, both ways."""
        if not self.track_steps:
            return
        planes = zero_planes(trainer.module)
        self.step_nearest.append(w2_distance(self._prev, planes, matching="nearest"))
        self.step_w2.append(w2_distance(self._prev, planes, matching="optimal"))
        self._prev = planes

    def on_epoch_end(self, trainer, **kwargs: Any) -> None:
        """Per-epoch statistics (also into the training history); the snapshot at the warm-up's end."""
        epoch = self.first_epoch + int(kwargs.get("epoch", len(self.epochs)))
        snap = self._measure(trainer.module, epoch)
        self.epochs.append(snap)
        for key in ("auc", "train_acc", "test_acc"):
            trainer.record(key, snap[key])
        if self.snapshot_epoch is not None and epoch == self.snapshot_epoch:
            self.snapshot = copy.deepcopy(trainer.module)


def _sorted_similarity(planes: np.ndarray) -> np.ndarray:
    """The cosine-similarity matrix with rows and columns in the leaf order of an average-linkage clustering (Fig. 9g)."""
    S = similarity_matrix(planes)
    dist = np.clip(1.0 - S, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    order = leaves_list(linkage(squareform(dist, checks=False), method="average"))
    return S[np.ix_(order, order)]


def _ls_readout(net: MLP, data) -> dict[str, float]:
    """Accuracy (%) of the min-norm least-squares readout of ±1 one-vs-rest targets on the network's hidden features."""
    param = next(net.parameters())
    with torch.no_grad():
        H = net.hidden(torch.as_tensor(data.X_train, dtype=param.dtype, device=param.device)).cpu().double().numpy()
        Ht = net.hidden(torch.as_tensor(data.X_test, dtype=param.dtype, device=param.device)).cpu().double().numpy()
    T = -np.ones((len(data.y_train), 10))
    T[np.arange(len(data.y_train)), data.y_train] = 1.0
    with quiet():
        sol = solve(H, T, "exact", eps=0.0)
    return {"train_acc": float(np.mean((H @ sol.coef).argmax(axis=1) == data.y_train) * 100.0),
            "test_acc": float(np.mean((Ht @ sol.coef).argmax(axis=1) == data.y_test) * 100.0),
            "status": sol.status, "mse": float(sol.mse)}


def _magnitude(net: MLP, radii: np.ndarray, penalty) -> list[float]:
    """M(r) of the network (all outputs) from its Dirac lines; NaN where the activation has no closed form."""
    if penalty is None:
        return [math.nan] * len(radii)
    W = net.blocks[0].linear.weight.detach().cpu().double().numpy()
    C = net.output.weight.detach().cpu().double().numpy().T
    return ridge_spectral_magnitude(W, C, radii, penalty).tolist()


class WarmupFreezeSuite(Suite):
    """Adaptive SGD with zero-plane clustering (Exp. 3); warm-up → output-layer-only SGD (Exp. 4); the LS readout beside it."""

    name = "warmup-freeze"
    title = "Adaptive regime and the switch to the kernel regime (spectral-bias paper, Experiments 3–4, on digits)"
    summary = ("Exps 3-4 on digits: adaptive SGD with zero-plane metrics; warm-up -> output-layer SGD (paper) and "
               "LS readout, several seeds")
    paper = "Sahs, Pyle, Anselmi & Patel 2025, Exps. 3–4 (Figs. 9–10), MNIST replaced by sklearn's digits"
    version = 2

    def settings(self, quick: bool) -> dict:
        """Network, budget, seeds and figures (quick: three activations, a small net, 3 epochs on 400 images, 2 seeds)."""
        if quick:
            return {"activations": ["relu", "logistic", "halfexp"], "hidden": 32, "epochs": 3, "warmup_epochs": 2,
                    "batch_size": 128, "lr": 0.1, "n_train": 400, "n_seeds": 2, "heatmaps": ["relu"],
                    "curve_figures": ["relu"], "radii": [0.5, 50.0, 25]}
        return {"activations": list(EXP3_ACTIVATIONS), "hidden": 256, "epochs": 10, "warmup_epochs": 2,
                "batch_size": 64, "lr": 0.1, "n_train": None, "n_seeds": 3,
                "heatmaps": ["relu", "relu3p5", "sinc3", "halfexp"], "curve_figures": list(EXP3_ACTIVATIONS),
                "radii": [0.5, 50.0, 100]}

    def cells(self, ctx: RunContext) -> list[Cell]:
        """One cell per (activation, seed)."""
        return [Cell(f"{key}_seed{k}", {"activation": key, "label": label, "name": act, "activation_params": params,
                                        "seed_index": k})
                for key, label, act, params in activation_rows(ctx.settings["activations"])
                for k in range(ctx.settings["n_seeds"])]

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict:
        """Adaptive run with the tracker; from its warm-up, output-layer-only SGD; the LS readouts; M(r); Fig. 9g."""
        s = ctx.settings
        data = load_digits(n_train=s["n_train"], random_state=cell_seed(ctx.seed, 41))
        init_seed, train_seed, readout_seed = (cell_seed(ctx.seed, 42, cell.params["seed_index"], j) for j in range(3))
        act, params = cell.params["name"], cell.params["activation_params"] or None
        penalty = activations.get(act, **(params or {})).spectral_penalty
        radii = np.linspace(*s["radii"][:2], int(s["radii"][2]))
        net = MLP(64, [s["hidden"]], 10, activation=act, activation_params=params, random_state=init_seed,
                  device=ctx.device)
        at_init = {"ls": _ls_readout(net, data), "magnitude": _magnitude(net, radii, penalty)}
        tracker = ZeroPlaneTracker(data, snapshot_epoch=s["warmup_epochs"])
        with quiet():
            res = train(net, data.X_train, data.y_train, loss="cross_entropy", optimizer="sgd", lr=s["lr"],
                        max_epochs=s["epochs"], batch_size=s["batch_size"], restore_best=False,
                        divergence_factor=None, on_divergence="restore", callbacks=[tracker],
                        random_state=train_seed, device=ctx.device)
        out: dict = {
            "adaptive": {"epochs": tracker.epochs, "step_nearest": tracker.step_nearest, "step_w2": tracker.step_w2,
                         "stop_reason": res.stop_reason, "time_s": res.time_s,
                         "magnitude": _magnitude(net, radii, penalty),
                         "auc_curve": eigen_curve(similarity_matrix(zero_planes(net)))[1][::4].tolist()},
            "init": at_init, "radii": radii.tolist(),
        }
        if cell.params["seed_index"] == 0 and cell.params["activation"] in s["heatmaps"]:
            out["adaptive"]["similarity_sorted"] = np.round(_sorted_similarity(zero_planes(net)), 3).tolist()
        warm = tracker.snapshot
        if warm is None:  # training stopped before the warm-up ended (a diverged run): no Exp. 4 for this cell
            out["kernel_sgd"] = out["warmup_ls"] = None
            return out
        out["warmup_ls"] = _ls_readout(warm, data)
        out["warmup_magnitude"] = _magnitude(warm, radii, penalty)
        for p in warm.blocks.parameters():
            p.requires_grad_(False)
        frozen = zero_planes(warm)
        follow = ZeroPlaneTracker(data, first_epoch=s["warmup_epochs"], track_steps=False)
        with quiet():
            res2 = train(warm, data.X_train, data.y_train, loss="cross_entropy", optimizer="sgd", lr=s["lr"],
                         max_epochs=s["epochs"] - s["warmup_epochs"], batch_size=s["batch_size"], restore_best=False,
                         divergence_factor=None, on_divergence="restore", callbacks=[follow],
                         random_state=readout_seed, device=ctx.device)
        out["kernel_sgd"] = {"epochs": follow.epochs, "stop_reason": res2.stop_reason, "time_s": res2.time_s,
                             "magnitude": _magnitude(warm, radii, penalty),
                             "zero_plane_motion": float(np.max(np.abs(zero_planes(warm) - frozen)))}
        return out

    # -- tables ---------------------------------------------------------------------------------
    def _final(self, rec: dict | None, metric: str) -> float:
        """A metric at the last epoch of a phase (NaN when the phase is missing)."""
        return rec["epochs"][-1][metric] if rec and rec.get("epochs") else math.nan

    def rows(self, cells: list[CellResult], ctx: RunContext) -> list[dict]:
        """One row per activation: mean and std over seeds of every phase's final numbers and the clustering metrics."""
        groups: dict[str, list[CellResult]] = {}
        for c in cells:
            groups.setdefault(c.params["activation"], []).append(c)
        out = []
        for key, label, _, _ in activation_rows(ctx.settings["activations"]):
            group = groups.get(key, [])
            if not group:
                continue
            row: dict = {"activation": label, "key": key, "n_seeds": len(group),
                         "paper": PAPER_OUTCOMES.get(key, "")}

            def put(name: str, values) -> None:
                st = stats(values)
                row[f"{name}_mean"], row[f"{name}_std"] = st["mean"], st["std"]

            for metric in _METRICS:
                put(f"adaptive_{metric}", [self._final(c.result["adaptive"], metric) for c in group])
                put(f"kernel_sgd_{metric}", [self._final(c.result["kernel_sgd"], metric) for c in group])
                put(f"warmup_{metric}", [c.result["adaptive"]["epochs"][ctx.settings["warmup_epochs"]][metric]
                                         if len(c.result["adaptive"]["epochs"]) > ctx.settings["warmup_epochs"]
                                         else math.nan for c in group])
            for split in ("train_acc", "test_acc"):
                put(f"warmup_ls_{split}", [(c.result["warmup_ls"] or {}).get(split, math.nan) for c in group])
                put(f"init_ls_{split}", [c.result["init"]["ls"][split] for c in group])
            steps_per_epoch = [max(1, len(c.result["adaptive"]["step_w2"]) // max(1, ctx.settings["epochs"]))
                               for c in group]
            for name, field in (("nearest", "step_nearest"), ("w2", "step_w2")):
                put(f"{name}_first_epoch", [float(np.mean(c.result["adaptive"][field][:k]))
                                            for c, k in zip(group, steps_per_epoch)])
                put(f"{name}_last_epoch", [float(np.mean(c.result["adaptive"][field][-k:]))
                                           for c, k in zip(group, steps_per_epoch)])
            put("auc_init", [c.result["adaptive"]["epochs"][0]["auc"] for c in group])
            put("auc_final", [c.result["adaptive"]["epochs"][-1]["auc"] for c in group])
            put("delta_median_final", [c.result["adaptive"]["epochs"][-1]["delta_median"] for c in group])
            out.append(row)
        return out

    def claims(self, rows: list[dict]) -> list[dict]:
        """Each of the paper's Exp. 4 claims checked: the switch's effect at the last epoch, mean ± std over seeds.

        Effect Δ = (warm-up → output-layer SGD) − (adaptive), both at the last epoch, signed so that
        positive is better. "unchanged" when |Δ| ≤ max(2·spread, 10 % of the adaptive value for
        losses, 2 points for accuracies), spread = the larger of the two phases' seed std; else
        "better" or "worse".
        """
        by = {r["key"]: r for r in rows}
        out = []
        for key, metric, expected in PAPER_CLAIMS:
            r = by.get(key)
            if r is None:
                continue
            a, k = r[f"adaptive_{metric}_mean"], r[f"kernel_sgd_{metric}_mean"]
            spread = max(r[f"adaptive_{metric}_std"], r[f"kernel_sgd_{metric}_std"])
            delta = (a - k) if _LOWER_IS_BETTER[metric] else (k - a)
            tol = max(2 * spread, 0.1 * abs(a) if _LOWER_IS_BETTER[metric] else 2.0)
            ours = ("unchanged" if abs(delta) <= tol else ("better" if delta > 0 else "worse")) \
                if math.isfinite(delta) else "—"
            out.append({"activation": r["activation"], "metric": metric, "paper": expected,
                        "adaptive": a, "adaptive_std": r[f"adaptive_{metric}_std"], "kernel_sgd": k,
                        "kernel_sgd_std": r[f"kernel_sgd_{metric}_std"], "ours": ours,
                        "holds": "yes" if ours == expected else ("—" if ours == "—" else "no")})
        return out

    def report(self, rows: list[dict], cells: list[CellResult], ctx: RunContext) -> str:
        """Both protocols side by side (mean ± std over seeds), the paper's claims checked, then clustering."""
        s = ctx.settings

        def pm(r: dict, name: str, digits: int = 3) -> str:
            return f"{fmt(r[name + '_mean'], digits)} ± {fmt(r[name + '_std'], 2)}"

        table = [{"activation": r["activation"],
                  "adaptive": f"{pm(r, 'adaptive_train_acc')} / {pm(r, 'adaptive_test_acc')}",
                  "kernel_sgd": f"{pm(r, 'kernel_sgd_train_acc')} / {pm(r, 'kernel_sgd_test_acc')}",
                  "adaptive_loss": f"{pm(r, 'adaptive_train_loss')} / {pm(r, 'adaptive_test_loss')}",
                  "kernel_sgd_loss": f"{pm(r, 'kernel_sgd_train_loss')} / {pm(r, 'kernel_sgd_test_loss')}",
                  "warmup_ls": f"{pm(r, 'warmup_ls_train_acc')} / {pm(r, 'warmup_ls_test_acc')}",
                  "init_ls": f"{pm(r, 'init_ls_train_acc')} / {pm(r, 'init_ls_test_acc')}",
                  "paper": r["paper"]} for r in rows]
        claims = self.claims(rows)
        held = sum(c["holds"] == "yes" for c in claims)
        claim_rows = [dict(c, adaptive_text=f"{fmt(c['adaptive'])} ± {fmt(c['adaptive_std'], 2)}",
                           kernel_text=f"{fmt(c['kernel_sgd'])} ± {fmt(c['kernel_sgd_std'], 2)}") for c in claims]
        clustering = [{"activation": r["activation"], "nearest": f"{pm(r, 'nearest_first_epoch')} → "
                       f"{pm(r, 'nearest_last_epoch')}", "w2": f"{pm(r, 'w2_first_epoch')} → {pm(r, 'w2_last_epoch')}",
                       "auc": f"{pm(r, 'auc_init')} → {pm(r, 'auc_final')}",
                       "delta": pm(r, "delta_median_final")} for r in rows]
        return "\n".join([
            "## Experiment 4: warm-up → kernel regime, the paper's protocol beside the least-squares readout",
            "",
            f"Digits 64 → {s['hidden']} → 10, SGD lr {s['lr']:g} (no momentum), batch {s['batch_size']}, "
            f"cross-entropy, {s['epochs']} epochs; mean ± std over {s['n_seeds']} seeds (init and batch order). "
            f"**Paper's protocol**: the adaptive run's own weights after {s['warmup_epochs']} epochs, hidden layer "
            f"frozen, then only the output layer trained by the same SGD with cross-entropy for "
            f"{s['epochs'] - s['warmup_epochs']} epochs. **Least-squares readout (another protocol, not the "
            "paper's)**: min-norm least-squares fit of ±1 one-vs-rest targets on the same frozen features after "
            "the warm-up, and on the random features at initialisation. Accuracy in %, train / test.",
            "",
            markdown_table(table, [("activation", "activation"), ("adaptive", "Exp 3: adaptive, 10 ep (acc)"),
                                   ("kernel_sgd", "Exp 4 paper protocol: warm-up → output-layer SGD (acc)"),
                                   ("adaptive_loss", "adaptive CE train / test"),
                                   ("kernel_sgd_loss", "paper protocol CE train / test"),
                                   ("warmup_ls", "LS readout after warm-up (acc)"),
                                   ("init_ls", "LS readout at init (acc)"), ("paper", "paper (MNIST)")]),
            "",
            f"## The paper's Experiment 4 claims, checked ({held} of {len(claims)} hold here)",
            "",
            "Effect of the switch = warm-up → output-layer SGD vs the adaptive run, both at the last epoch; "
            "'unchanged' when the difference is within max(2 × the seeds' std, 10 % of the adaptive loss or 2 "
            "accuracy points), else 'better' / 'worse'.",
            "",
            markdown_table(claim_rows, [("activation", "activation"), ("metric", "metric"),
                                        ("paper", "paper says"), ("adaptive_text", "adaptive (mean ± std)"),
                                        ("kernel_text", "warm-up → output SGD"), ("ours", "ours"),
                                        ("holds", "holds?")]),
            "",
            "## Experiment 3: zero-plane motion and clustering during adaptive training",
            "",
            "Per-step distance between the zero-plane sets (unit (w, b) on the sphere) of consecutive SGD steps, "
            "averaged over the first and the last epoch: the paper's definition (mean distance from each plane to "
            "its nearest match at the next step; Fig. 9e) and the optimal-assignment W₂ (root mean square over "
            "the Hungarian matching). AUC of the normalised cumulative eigenvalue curve of the cosine-similarity "
            "matrix (1 = one cluster; random planes in 65 dimensions give ~0.9 already). δ = ‖c_i‖² − ‖w_i‖² − b_i² "
            "(negative: kernel-like).",
            "",
            markdown_table(clustering, [("activation", "activation"), ("nearest", "nearest-match distance/step, "
                                        "first → last epoch"), ("w2", "W₂/step, first → last epoch"),
                                        ("auc", "AUC init → final"), ("delta", "median δ final")]),
        ])

    # -- figures --------------------------------------------------------------------------------
    def _curves(self, group: list[CellResult], phase: str, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Epochs, mean and std over seeds of one phase's per-epoch metric."""
        recs = [c.result[phase] for c in group if c.result.get(phase)]
        if not recs:
            return np.array([]), np.array([]), np.array([])
        n = min(len(r["epochs"]) for r in recs)
        vals = np.array([[e[metric] for e in r["epochs"][:n]] for r in recs], float)
        epochs = np.array([e["epoch"] for e in recs[0]["epochs"][:n]], float)
        return epochs, vals.mean(axis=0), vals.std(axis=0)

    def figures(self, cells: list[CellResult], ctx: RunContext) -> list[Path]:
        """Per-activation curves (both protocols), Fig. 10 (a)–(d), Fig. 9e/f clustering, 9g heatmaps, 9h M(r)."""
        if not cells:
            return []
        s = ctx.settings
        groups: dict[str, list[CellResult]] = {}
        for c in cells:
            groups.setdefault(c.params["activation"], []).append(c)
        rows = {r["key"]: r for r in self.rows(cells, ctx)}
        paths = []
        for key in s["curve_figures"]:
            if key in groups:
                paths.append(self._activation_figure(key, groups[key], rows[key], ctx))
        paths.append(self._fig10(groups, ctx))
        paths.append(self._fig9ef(groups, ctx))
        heat = [(k, c) for k in s["heatmaps"] for c in groups.get(k, [])
                if "similarity_sorted" in c.result["adaptive"]]
        if heat:
            fig, axes = new_figure(1, len(heat), width=3.8, height=3.6)
            for ax, (k, c) in zip(axes[0], heat):
                im = ax.imshow(np.asarray(c.result["adaptive"]["similarity_sorted"]), cmap="viridis", vmin=-1, vmax=1)
                ax.set_title(f"{c.params['label']}", fontsize=11)
                ax.set_xlabel("zero-plane (cluster order)", fontsize=10)
                ax.set_ylabel("zero-plane (cluster order)", fontsize=10)
            fig.colorbar(im, ax=axes[0, -1], label="cosine similarity")
            fig.suptitle("Fig. 9g-style: zero-plane similarity after adaptive training, sorted by average-linkage "
                         "clustering (seed 0)", fontsize=12)
            paths.append(save_figure(fig, ctx.fig_dir / "fig9g_similarity.png"))
        paths.append(self._fig9h(groups, ctx))
        return paths

    def _activation_figure(self, key: str, group: list[CellResult], row: dict, ctx: RunContext) -> Path:
        """Loss and accuracy vs epoch (adaptive vs the paper's Exp. 4 protocol) and, beside, the LS readout's accuracies."""
        label = group[0].params["label"]
        fig, axes = new_figure(1, 3, width=4.4, height=3.6)
        for ax, (kind, title, ylabel) in zip(axes[0], (("loss", "cross-entropy", "cross-entropy (nats)"),
                                                       ("acc", "accuracy", "accuracy (%)"))):
            for phase, style, name in (("adaptive", "-", "adaptive (Exp 3)"),
                                       ("kernel_sgd", "--", "warm-up → output-layer SGD (Exp 4)")):
                for split, colour in (("train", "C0"), ("test", "C1")):
                    ep, mean, std = self._curves(group, phase, f"{split}_{kind}")
                    if ep.size == 0:
                        continue
                    ax.plot(ep, mean, style, color=colour, label=f"{name}, {split}")
                    ax.fill_between(ep, mean - std, mean + std, color=colour, alpha=0.15)
            ax.axvline(ctx.settings["warmup_epochs"], color="gray", lw=0.8, ls=":")
            ax.set_xlabel("epoch", fontsize=10)
            ax.set_ylabel(ylabel, fontsize=10)
            ax.set_title(f"Paper's protocol: {title}", fontsize=11)
            ax.tick_params(labelsize=9)
            if kind == "loss":
                ax.set_yscale("log")
        axes[0, 0].legend(fontsize=8)
        ax = axes[0, 2]
        bars = [("adaptive\n10 ep", "adaptive_train_acc", "adaptive_test_acc"),
                ("paper Exp 4\n(output SGD)", "kernel_sgd_train_acc", "kernel_sgd_test_acc"),
                ("LS readout\nafter warm-up", "warmup_ls_train_acc", "warmup_ls_test_acc"),
                ("LS readout\nat init", "init_ls_train_acc", "init_ls_test_acc")]
        x = np.arange(len(bars))
        for j, (split, colour) in enumerate(((1, "C0"), (2, "C1"))):
            ax.bar(x + (j - 0.5) * 0.38, [row[b[split] + "_mean"] for b in bars], 0.38,
                   yerr=[row[b[split] + "_std"] for b in bars], color=colour, label=["train", "test"][j])
        ax.set_xticks(x, [b[0] for b in bars], fontsize=9)
        ax.set_ylabel("accuracy (%) at the end", fontsize=10)
        ax.set_ylim(0, 100)
        ax.set_title("Least-squares readout (another protocol)\nbeside the SGD runs", fontsize=11)
        ax.legend(fontsize=8)
        fig.suptitle(f"{label}: mean ± std over {len(group)} seeds (dotted line: end of the warm-up)", fontsize=12)
        return save_figure(fig, ctx.fig_dir / f"curves_{key}.png")

    def _fig10(self, groups: dict[str, list[CellResult]], ctx: RunContext) -> Path:
        """Fig. 10 (a)–(d): train/test loss and accuracy, warm-up → output SGD (solid) vs adaptive (dotted)."""
        fig, axes = new_figure(2, 2, width=5.2, height=3.8)
        panels = (("train_loss", "(a) training loss (CE, nats)"), ("test_loss", "(b) test loss (CE, nats)"),
                  ("train_acc", "(c) training accuracy (%)"), ("test_acc", "(d) test accuracy (%)"))
        for ax, (metric, title) in zip(axes.flat, panels):
            for i, (key, group) in enumerate(groups.items()):
                colour = f"C{i % 10}"
                ls_extra = "-" if i < 10 else "-."
                ep, mean, _ = self._curves(group, "kernel_sgd", metric)
                if ep.size:
                    ax.plot(ep, mean, ls_extra, color=colour, label=group[0].params["label"])
                ep, mean, _ = self._curves(group, "adaptive", metric)
                ax.plot(ep, mean, ":", color=colour, lw=1.0)
            ax.set_title(title, fontsize=11)
            ax.set_xlabel("epoch", fontsize=10)
            ax.tick_params(labelsize=9)
            if "loss" in metric:
                ax.set_yscale("log")
        axes[0, 0].legend(fontsize=7, ncol=2)
        fig.suptitle("Fig. 10-style: warm-up 2 epochs → output layer only (solid) vs adaptive (dotted), mean over "
                     "seeds", fontsize=12)
        return save_figure(fig, ctx.fig_dir / "fig10_curves.png")

    def _fig9ef(self, groups: dict[str, list[CellResult]], ctx: RunContext) -> Path:
        """Fig. 9e (both per-step distances), 9f (AUC per epoch) and δ, seed 0."""
        fig, axes = new_figure(1, 4, width=4.2, height=3.6)
        for i, (key, group) in enumerate(groups.items()):
            c = group[0]
            colour, ls = f"C{i % 10}", ("-" if i < 10 else "-.")
            a = c.result["adaptive"]
            for ax, field in ((axes[0, 0], "step_nearest"), (axes[0, 1], "step_w2")):
                d = np.asarray(a[field], float)
                ax.semilogy(np.arange(1, d.size + 1), np.where(d > 0, d, np.nan), ls, color=colour, lw=0.9,
                            label=c.params["label"])
            axes[0, 2].plot([e["epoch"] for e in a["epochs"]], [e["auc"] for e in a["epochs"]], ls, color=colour)
            axes[0, 3].plot([e["epoch"] for e in a["epochs"]], [e["delta_median"] for e in a["epochs"]], ls,
                            color=colour)
        axes[0, 0].set_title("(e) paper's metric: mean nearest-match\ndistance per step", fontsize=11)
        axes[0, 1].set_title("(e′) optimal-assignment W₂ (RMS)\nper step", fontsize=11)
        axes[0, 2].set_title("(f) eigen-curve AUC of the\nsimilarity matrix", fontsize=11)
        axes[0, 3].set_title("median δ = ‖c‖² − ‖w‖² − b²", fontsize=11)
        for ax, xl, yl in zip(axes[0], ("SGD step", "SGD step", "epoch", "epoch"),
                              ("distance on the sphere", "W₂ on the sphere", "AUC", "δ")):
            ax.set_xlabel(xl, fontsize=10)
            ax.set_ylabel(yl, fontsize=10)
            ax.tick_params(labelsize=9)
        axes[0, 0].legend(fontsize=7)
        fig.suptitle("Fig. 9e–f-style zero-plane motion and clustering during adaptive training (seed 0; Step: no "
                     "motion, not drawn)", fontsize=12)
        return save_figure(fig, ctx.fig_dir / "fig9ef_clustering.png")

    def _fig9h(self, groups: dict[str, list[CellResult]], ctx: RunContext) -> Path:
        """Fig. 9h: log M(r) of the networks at init, after adaptive training and after the Exp. 4 protocol (seed 0)."""
        n = len(groups)
        ncols = min(4, n)
        nrows = math.ceil(n / ncols)
        fig, axes = new_figure(nrows, ncols, width=3.6, height=3.0)
        for ax, (key, group) in zip(axes.flat, groups.items()):
            c = group[0]
            r = np.asarray(c.result["radii"])
            for name, values, style in (("init", c.result["init"]["magnitude"], ":"),
                                        ("adaptive 10 ep", c.result["adaptive"]["magnitude"], "-"),
                                        ("warm-up → output SGD",
                                         (c.result.get("kernel_sgd") or {}).get("magnitude"), "--")):
                if values is None:
                    continue
                v = np.asarray(values, float)
                ax.semilogy(r, np.where(v > 0, v, np.nan), style, label=name)
            ax.set_title(c.params["label"], fontsize=10)
            ax.set_xlabel("radius r = ‖k‖", fontsize=10)
            ax.set_ylabel("M(r) / 2(2π)^(d−1)", fontsize=10)
            ax.tick_params(labelsize=9)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=8)
        fig.suptitle("Fig. 9h-style total spectral magnitude of the networks (exact, from their Dirac lines; seed 0)",
                     fontsize=12)
        return save_figure(fig, ctx.fig_dir / "fig9h_magnitude.png")
