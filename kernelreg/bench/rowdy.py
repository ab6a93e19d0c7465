"""Suite ``rowdy``: the Kronecker / Rowdy paper — fixed vs L-LAAF vs Rowdy activations, regression and classification.

Protocol (Jagtap, Shin, Kawaguchi & Karniadakis, Deep Kronecker neural networks; ``research/iat_rowdy.md`` §2.4):

1. **discontinuous function** 0.2 sin(6x) (x < 0), 1 + 0.1 x cos(14x) (x ≥ 0) on [-3, 3] from 5 fixed
   training points, one hidden layer of 40 neurons, cos base, n = 10: fixed, L-LAAF and Rowdy with
   K = 3, 6, 9; training-loss curves and the time per step normalised by the fixed network's
   (the paper's Table 1: 1, 1.12, 1.26, 1.58, 1.75);
2. **sin(mπx)** on 100 points of [0, 2π], 3 × 50, cos base, Rowdy-Net9 (Table 2 times: 1, 1.11, 1.73);
3. **two-moons / two-circles** classifiers, 1000 train / 1000 test, 3 × 400 ReLU base, W ~ N(0, 1/400),
   SGD (batch 64, momentum 0.8, lr 1e-3, weight decay 1e-4), binary cross-entropy, fixed vs
   Rowdy-Net4 and Rowdy-Net8, 3 trials: train and test loss and accuracy curves.

Chosen here (the paper's lr 8e-6 / 4e-6 needs ~10⁵–10⁶ steps): full-batch Adam with lr 1e-4 for the
discontinuous function (3000 steps), the paper's own annealing 4e-3 → 1e-4 after 500 steps for sin(mπx), m ∈
{1, 100} in full mode, n = 10 everywhere (the paper: behaviour the same across n for the
classifiers), Xavier-normal init for the regression networks, noise 0.1 (moons) and 0.05 (circles), and
the number of epochs. Time per step is the median of the per-epoch wall times after the first 10 epochs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from kernelreg.bench._common import cell_seed, stats
from kernelreg.bench._plots import new_figure, save_figure
from kernelreg.bench._runner import Cell, CellResult, RunContext, Suite, markdown_table
from kernelreg.datasets import load_rowdy_discontinuous, load_rowdy_sine, load_two_circles, load_two_moons
from kernelreg.diagnostics import count_activation_patterns_2d
from kernelreg.networks import MLP
from kernelreg.training import train

__all__ = ["RowdySuite", "PAPER_TIMES"]

#: Normalised training time per step from the paper: Table 1 (discontinuous) and Table 2 (sin(mπx)).
PAPER_TIMES: dict[str, dict[str, float]] = {
    "discontinuous": {"fixed": 1.0, "laaf": 1.12, "rowdy3": 1.26, "rowdy6": 1.58, "rowdy9": 1.75},
    "sine": {"fixed": 1.0, "laaf": 1.11, "rowdy9": 1.73},
}
_LABELS = {"fixed": "fixed", "laaf": "L-LAAF", "rowdy3": "Rowdy-Net3", "rowdy4": "Rowdy-Net4",
           "rowdy6": "Rowdy-Net6", "rowdy8": "Rowdy-Net8", "rowdy9": "Rowdy-Net9"}


def _activation(method: str, base: str, n: float) -> tuple[str, dict | None]:
    """(activation, params) of MLP for a method name: fixed base, L-LAAF, or Rowdy-NetK."""
    if method == "fixed":
        return base, None
    if method == "laaf":
        return "laaf", {"base": base, "n": n}
    if method.startswith("rowdy"):
        return "rowdy", {"base": base, "K": int(method[5:]), "n": n}
    raise ValueError(f"unknown method {method!r}; use 'fixed', 'laaf' or 'rowdyK'.")


class RowdySuite(Suite):
    """Fixed vs L-LAAF vs Rowdy: loss curves, normalised time, and the two-moons / two-circles classifiers."""

    name = "rowdy"
    title = "Rowdy / Kronecker activations (Jagtap et al.: discontinuous function, sin(mπx), classifiers)"
    summary = "Kronecker paper: fixed vs L-LAAF vs Rowdy on a discontinuous fn and sin(m pi x); moons/circles"
    paper = "Jagtap, Shin, Kawaguchi & Karniadakis, Deep Kronecker neural networks (Rowdy activations), §5"
    version = 1

    def settings(self, quick: bool) -> dict:
        """Budgets and task lists (quick: few epochs, one m, one trial)."""
        if quick:
            return {"n": 10.0,
                    "discontinuous": {"methods": ["fixed", "laaf", "rowdy3"], "width": 40, "epochs": 150, "lr": 1e-4},
                    "sine": {"m": [1.0], "methods": ["fixed", "laaf", "rowdy9"], "layers": [20, 20], "epochs": 100,
                             "schedule": [50, 4e-3, 1e-4]},
                    "classifiers": {"datasets": ["two_moons"], "methods": ["fixed", "rowdy4"], "trials": 1,
                                    "n_train": 200, "n_test": 200, "layers": [64, 64, 64], "epochs": 3,
                                    "batch_size": 64, "lr": 1e-3, "momentum": 0.8, "weight_decay": 1e-4},
                    "pattern_resolution": 60}
        return {"n": 10.0,
                "discontinuous": {"methods": ["fixed", "laaf", "rowdy3", "rowdy6", "rowdy9"], "width": 40,
                                  "epochs": 3000, "lr": 1e-4},
                "sine": {"m": [1.0, 100.0], "methods": ["fixed", "laaf", "rowdy9"], "layers": [50, 50, 50],
                         "epochs": 2000, "schedule": [500, 4e-3, 1e-4]},
                "classifiers": {"datasets": ["two_moons", "two_circles"], "methods": ["fixed", "rowdy4", "rowdy8"],
                                "trials": 3, "n_train": 1000, "n_test": 1000, "layers": [400, 400, 400], "epochs": 60,
                                "batch_size": 64, "lr": 1e-3, "momentum": 0.8, "weight_decay": 1e-4},
                "pattern_resolution": 200}

    def cells(self, ctx: RunContext) -> list[Cell]:
        """One cell per (task, method[, m / dataset, trial])."""
        s = ctx.settings
        out = [Cell(f"disc_{m}", {"task": "discontinuous", "method": m}) for m in s["discontinuous"]["methods"]]
        for m_val in s["sine"]["m"]:
            for m in s["sine"]["methods"]:
                out.append(Cell(f"sine_m{m_val:g}_{m}", {"task": "sine", "m": m_val, "method": m}))
        c = s["classifiers"]
        for ds in c["datasets"]:
            for m in c["methods"]:
                for t in range(c["trials"]):
                    out.append(Cell(f"{ds}_{m}_t{t}", {"task": "classifier", "dataset": ds, "method": m, "trial": t}))
        return out

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict:
        """Train one network; its loss curve, final losses, time per step (and accuracies, regions)."""
        task = cell.params["task"]
        if task == "discontinuous":
            return self._regression(cell, ctx, load_rowdy_discontinuous(), [ctx.settings["discontinuous"]["width"]],
                                    lr=ctx.settings["discontinuous"]["lr"], schedule=None,
                                    epochs=ctx.settings["discontinuous"]["epochs"])
        if task == "sine":
            s = ctx.settings["sine"]
            milestone, lr0, lr1 = s["schedule"]
            return self._regression(cell, ctx, load_rowdy_sine(cell.params["m"]), s["layers"], lr=lr0,
                                    schedule=("step", {"milestones": [int(milestone)], "lrs": [lr0, lr1]}),
                                    epochs=s["epochs"])
        return self._classifier(cell, ctx)

    def _regression(self, cell: Cell, ctx: RunContext, data, layers: list[int], *, lr: float, schedule,
                    epochs: int) -> dict:
        """Full-batch Adam on MSE, restore nothing (curves as trained)."""
        act, params = _activation(cell.params["method"], "cos", ctx.settings["n"])
        seed = cell_seed(ctx.seed, 21)
        net = MLP(1, layers, 1, activation=act, activation_params=params, init="xavier_normal", random_state=seed,
                  device=ctx.device)
        res = train(net, data.X_train, data.y_train, lr=lr, max_epochs=epochs, schedule=schedule,
                    restore_best=False, random_state=seed, device=ctx.device)
        param = next(net.parameters())
        with torch.no_grad():
            pred = net(torch.as_tensor(data.X_test, dtype=param.dtype, device=param.device))[:, 0].cpu().numpy()
        losses = np.array([h["train_loss"] for h in res.history], dtype=float)
        idx = np.unique(np.geomspace(1, len(losses), min(150, len(losses))).astype(int) - 1)
        reach = {f"steps_to_{t:g}": (int(np.argmax(losses <= t)) + 1 if np.any(losses <= t) else None)
                 for t in (1e-4, 1e-8)}
        return {**reach, "final_loss": float(losses[-1]) if losses.size else math.nan,
                "best_loss": float(np.nanmin(losses)) if losses.size else math.nan,
                "test_mse": float(np.mean((pred - data.y_test) ** 2)), "stop_reason": res.stop_reason,
                "epochs": res.n_epochs, "time_s": res.time_s, "time_per_step_ms": _step_ms(res),
                "curve_epoch": (idx + 1).tolist(), "curve_loss": losses[idx].tolist(),
                "x_test": data.X_test[:, 0].tolist()[:: max(1, len(pred) // 200)],
                "pred": pred.tolist()[:: max(1, len(pred) // 200)],
                "y_test": data.y_test.tolist()[:: max(1, len(pred) // 200)],
                "x_train": data.X_train[:, 0].tolist(), "y_train": data.y_train.tolist()}

    def _classifier(self, cell: Cell, ctx: RunContext) -> dict:
        """Mini-batch SGD on binary cross-entropy with the test loss tracked every epoch."""
        c = ctx.settings["classifiers"]
        seed = cell_seed(ctx.seed, 31, cell.params["trial"])
        loader = load_two_moons if cell.params["dataset"] == "two_moons" else load_two_circles
        data = loader(c["n_train"], c["n_test"], random_state=cell_seed(ctx.seed, 32))
        act, params = _activation(cell.params["method"], "relu", ctx.settings["n"])
        net = MLP(2, c["layers"], 1, activation=act, activation_params=params, init="lecun_normal",
                  random_state=seed, device=ctx.device)
        res = train(net, data.X_train, data.y_train.astype(np.float64), loss="bce", optimizer="sgd", lr=c["lr"],
                    optimizer_params={"momentum": c["momentum"], "weight_decay": c["weight_decay"]},
                    max_epochs=c["epochs"], batch_size=c["batch_size"],
                    validation=(data.X_test, data.y_test.astype(np.float64)), restore_best=False,
                    random_state=seed, device=ctx.device)
        param = next(net.parameters())

        def accuracy(X: np.ndarray, y: np.ndarray) -> float:
            with torch.no_grad():
                logit = net(torch.as_tensor(X, dtype=param.dtype, device=param.device))[:, 0].cpu().numpy()
            return float(np.mean((logit > 0).astype(int) == y) * 100.0)

        out = {"train_loss": [h["train_loss"] for h in res.history],
               "test_loss": [h.get("valid_loss") for h in res.history],
               "train_accuracy": accuracy(data.X_train, data.y_train),
               "test_accuracy": accuracy(data.X_test, data.y_test),
               "time_s": res.time_s, "time_per_step_ms": _step_ms(res),
               "stop_reason": res.stop_reason}
        if cell.params["method"] == "fixed" and cell.params["trial"] == 0:
            lo, hi = data.X_train.min(axis=0) - 0.2, data.X_train.max(axis=0) + 0.2
            out["n_patterns"] = count_activation_patterns_2d(net, ((lo[0], hi[0]), (lo[1], hi[1])),
                                                             ctx.settings["pattern_resolution"])
        return out

    def rows(self, cells: list[CellResult], ctx: RunContext) -> list[dict]:
        """Regression rows (one per run) and classifier rows (statistics over trials)."""
        out = []
        base: dict[str, float] = {}
        for c in cells:
            if c.params["task"] != "classifier" and c.params["method"] == "fixed":
                base[_group(c)] = c.result["time_per_step_ms"]
        for c in cells:
            p, r = c.params, c.result
            if p["task"] == "classifier":
                continue
            group = _group(c)
            ref = base.get(group, math.nan)
            paper_key = "discontinuous" if p["task"] == "discontinuous" else "sine"
            out.append({"table": "regression", "task": group, "method": _LABELS[p["method"]],
                        "final_loss": r["final_loss"], "best_loss": r["best_loss"], "test_mse": r["test_mse"],
                        "steps_to_1e-4": r.get("steps_to_0.0001"), "steps_to_1e-8": r.get("steps_to_1e-08"),
                        "time_per_step_ms": r["time_per_step_ms"],
                        "normalised_time": r["time_per_step_ms"] / ref if ref > 0 else math.nan,
                        "paper_normalised_time": PAPER_TIMES[paper_key].get(p["method"], math.nan),
                        "stop_reason": r["stop_reason"]})
        groups: dict[tuple[str, str], list[dict]] = {}
        for c in cells:
            if c.params["task"] == "classifier":
                groups.setdefault((c.params["dataset"], c.params["method"]), []).append(c.result)
        for (ds, method), recs in groups.items():
            row = {"table": "classifier", "task": ds, "method": _LABELS[method], "trials": len(recs)}
            for key in ("train_accuracy", "test_accuracy"):
                st = stats(r[key] for r in recs)
                row[f"{key}_mean"], row[f"{key}_std"] = st["mean"], st["std"]
            row["final_train_loss_mean"] = stats(r["train_loss"][-1] for r in recs)["mean"]
            row["final_test_loss_mean"] = stats(r["test_loss"][-1] for r in recs)["mean"]
            row["time_per_step_ms"] = stats(r["time_per_step_ms"] for r in recs)["median"]
            patterns = [r["n_patterns"] for r in recs if "n_patterns" in r]
            row["n_patterns"] = patterns[0] if patterns else None
            out.append(row)
        return out

    def report(self, rows: list[dict], cells: list[CellResult], ctx: RunContext) -> str:
        """Regression losses and normalised times beside the paper's, then the classifiers."""
        s = ctx.settings
        reg = [r for r in rows if r["table"] == "regression"]
        cls = [r for r in rows if r["table"] == "classifier"]
        return "\n".join([
            "## Regression: final training loss and time per step normalised by the fixed activation",
            "",
            f"Discontinuous function: 1 × {s['discontinuous']['width']}, cos base, n = {s['n']:g}, full-batch Adam "
            f"lr {s['discontinuous']['lr']:g}, {s['discontinuous']['epochs']} steps. sin(mπx): "
            f"{' × '.join(map(str, s['sine']['layers']))}, cos base, Adam with lr {s['sine']['schedule'][1]:g} → "
            f"{s['sine']['schedule'][2]:g} after {s['sine']['schedule'][0]} steps, {s['sine']['epochs']} steps.",
            "",
            markdown_table(reg, [("task", "task"), ("method", "method"), ("final_loss", "final train MSE"),
                                 ("steps_to_1e-4", "steps to MSE 1e-4"), ("steps_to_1e-8", "steps to 1e-8"),
                                 ("test_mse", "test MSE"),
                                 ("normalised_time", "time / fixed (ours)"),
                                 ("paper_normalised_time", "time / fixed (paper)"), ("stop_reason", "stop")]),
            "",
            "The paper: Rowdy reaches machine-zero loss on the discontinuous function and converges fastest on "
            "sin(mπx); its extra cost is 1.26–1.75× (TF1, their hardware). Our time per step is the median "
            "per-epoch wall time after 10 warm-up epochs of one run per method (kernelreg's training loop, "
            "one torch thread, a shared machine): read the ratios as rough.",
            "",
            "## Classifiers (two moons / two circles): accuracy and final losses, mean over trials",
            "",
            f"{' × '.join(map(str, s['classifiers']['layers']))} ReLU base, SGD batch {s['classifiers']['batch_size']}, "
            f"momentum {s['classifiers']['momentum']}, lr {s['classifiers']['lr']:g}, weight decay "
            f"{s['classifiers']['weight_decay']:g}, {s['classifiers']['epochs']} epochs, BCE, "
            f"{s['classifiers']['n_train']} train / {s['classifiers']['n_test']} test.",
            "",
            markdown_table(cls, [("task", "data"), ("method", "method"), ("trials", "trials"),
                                 ("train_accuracy_mean", "train acc. (%)"), ("test_accuracy_mean", "test acc. (%)"),
                                 ("test_accuracy_std", "± std"), ("final_train_loss_mean", "final train BCE"),
                                 ("final_test_loss_mean", "final test BCE"), ("time_per_step_ms", "ms / step"),
                                 ("n_patterns", "ReLU patterns on a grid")]),
            "",
            "The paper reports curves only for the classifiers (Rowdy: lower train and test loss).",
        ])

    def figures(self, cells: list[CellResult], ctx: RunContext) -> list[Path]:
        """Loss curves per regression task, fits, and classifier loss curves."""
        paths = []
        groups: dict[str, list[CellResult]] = {}
        for c in cells:
            if c.params["task"] != "classifier":
                groups.setdefault(_group(c), []).append(c)
        if groups:
            fig, axes = new_figure(2, len(groups), width=3.8, height=3.0)
            for j, (name, group) in enumerate(groups.items()):
                for c in group:
                    axes[0, j].loglog(c.result["curve_epoch"], np.maximum(c.result["curve_loss"], 1e-300),
                                      label=_LABELS[c.params["method"]])
                    axes[1, j].plot(c.result["x_test"], c.result["pred"], lw=0.8, label=_LABELS[c.params["method"]])
                first = group[0].result
                axes[1, j].plot(first["x_test"], first["y_test"], "k--", lw=0.8, label="target")
                axes[1, j].plot(first["x_train"], first["y_train"], "ko", ms=3)
                axes[0, j].set_title(f"{name}: training MSE", fontsize=8)
                axes[1, j].set_title(f"{name}: fits", fontsize=8)
                axes[0, j].legend(fontsize=6)
            paths.append(save_figure(fig, ctx.fig_dir / "regression.png"))
        cls: dict[str, list[CellResult]] = {}
        for c in cells:
            if c.params["task"] == "classifier":
                cls.setdefault(c.params["dataset"], []).append(c)
        if cls:
            fig, axes = new_figure(1, len(cls), width=4.0, height=3.0)
            for ax, (ds, group) in zip(axes[0], cls.items()):
                for c in group:
                    colour = {"fixed": "C0", "rowdy4": "C1", "rowdy8": "C2"}.get(c.params["method"], "C3")
                    lab = _LABELS[c.params["method"]] if c.params["trial"] == 0 else None
                    ax.plot(c.result["train_loss"], color=colour, lw=0.8, label=lab)
                    ax.plot(c.result["test_loss"], color=colour, lw=0.8, ls="--")
                ax.set_yscale("log")
                ax.set_xlabel("epoch")
                ax.set_title(f"{ds}: BCE (solid train, dashed test)", fontsize=8)
                ax.legend(fontsize=6)
            paths.append(save_figure(fig, ctx.fig_dir / "classifiers.png"))
        return paths


def _step_ms(res) -> float:
    """Milliseconds per optimizer step: median per-epoch wall time after a 10-epoch warm-up, per step."""
    times = np.array([0.0] + [h["time_s"] for h in res.history], dtype=float)
    per_epoch = np.diff(times)
    steps = max(1, res.n_iter // max(1, res.n_epochs))
    tail = per_epoch[10:] if per_epoch.size > 20 else per_epoch
    return float(np.median(tail) * 1000.0 / steps) if tail.size else math.nan


def _group(c: CellResult) -> str:
    """The regression task a cell belongs to."""
    return "discontinuous" if c.params["task"] == "discontinuous" else f"sin({c.params['m']:g}πx)"
