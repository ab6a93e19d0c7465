"""Suite ``iat-bases``: the IAT paper's Tables 2 and 3 (6 × 6 input × output bases), Figure 3 and Figure 6.

Protocol (Zhang, Bao & Zhang, Integral Activation Transforms; ``research/iat_rowdy.md`` §1.6), at
the paper's setting: networks of **10 hidden IAT-ReLU layers of width d = 10**, discretised with
**M = 500** mesh points, on the 50 × 50 mesh of [-1, 1]²: (Table 2) memorise random ±1 labels —
accuracy on the training points; (Table 3) fit a 2-D high-frequency function — training MSE. Each
of the 36 (input p, output q) basis pairs and the scalar ReLU / Tanh / Sigmoid networks of the same
shape get ``n_runs`` seeded runs. Figure 6 sweeps the mesh ratio M/d of the Fourier-input,
PWQ-output network with 10 runs per ratio. Figure 3 fits sin(2πx) on [-1, 1] with a 2-hidden-layer
IAT-ReLU network of width 10 at M = 10, 20 and 10 000, shows its activation patterns, and trains
the *decoupled* model (patterns transferred from the trained network and frozen, new value
weights, :class:`~kernelreg.layers.DecoupledIATNetwork`), which is discontinuous where a discrete
pattern jumps and continuous when the pattern is (nearly) continuous.

The networks of a cell (a table row: one task, one input basis, all output bases × runs; a
scalar activation × runs; a mesh ratio × runs) are trained together as one
:class:`~kernelreg.bench._iat_stack.StackedNetwork` (batched matrix products, one Adam on the sum
of their losses: exactly independent trainings). On a GPU a whole table is minutes. On a CPU a
network costs ~60 ms per epoch at M = 500 whether stacked or not (measured: 57 ms alone, 60 ms per
network in a stack of 6; the products are memory-bound), so there a cell holds ``cpu_stack``
networks (one in the full settings, so that a cell finishes in minutes and a run resumes cell by
cell), and a full run is many core-hours: the cells are ordered so that the memorisation row of
the Fourier input basis, the scalar baselines and Figure 3 come first, and each cell records its
time per network-epoch for costing the rest.

Not in the paper's text, chosen here: the fit target (a stand-in sin(2πx₁)sin(2πx₂), two periods
per axis: the paper's function is shown only as an image), full-batch Adam (lr 5e-3, cosine decay),
the number of epochs, the loss (MSE on the ±1 labels for memorisation, accuracy by the sign),
PyTorch's default initialisation, float32, no BatchNorm.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from kernelreg.bench import _iat_stack, _resume
from kernelreg.bench._common import cell_seed, stats
from kernelreg.bench._iat_stack import StackedNetwork, sum_of_column_mses
from kernelreg.bench._plots import new_figure, save_figure
from kernelreg.bench._resume import clear_checkpoints, train_resumable
from kernelreg.bench._runner import Cell, CellResult, RunContext, Suite, fmt, markdown_table
from kernelreg.datasets import load_iat_highfreq, load_iat_memorization
from kernelreg.layers import DecoupledIATNetwork
from kernelreg.networks import MLP

__all__ = ["IATBasesSuite", "PAPER_TABLE2", "PAPER_TABLE3", "BASES"]

#: The six bases in the paper's order.
BASES: tuple[str, ...] = ("rect", "pwl", "pwq", "fourier", "pwl_w", "rect_w")
_LABEL = {"rect": "Rect", "pwl": "PWL", "pwq": "PWQ", "fourier": "Fourier", "pwl_w": "PWL-w", "rect_w": "Rect-w"}
_SCALARS = {"relu": "ReLU", "tanh": "Tanh", "logistic": "Sigmoid"}
_TASKS = {"memorization": "Table 2: memorisation accuracy (%)", "fit": "Table 3: 2-D fit MSE"}
#: A memorisation run at or below this accuracy (%) learnt nothing (chance is 50 %).
_CHANCE = 55.0
#: Points of the x grid on which Figure 3's activation patterns are read.
_PATTERN_GRID = 1001


def _grid(rows: list[list[float]]) -> dict[tuple[str, str], float]:
    """A 6 × 6 paper table (rows = input p, columns = output q) as {(p, q): value}."""
    return {(p, q): rows[i][j] for i, p in enumerate(BASES) for j, q in enumerate(BASES)}


#: Table 2: memorisation accuracy (%), M = 500, rows = input p, columns = output q; plus scalar rows.
PAPER_TABLE2: dict = {
    **_grid([[89.7, 90.5, 92.1, 89.4, 86.5, 86.1],
             [85.8, 87.3, 85.2, 93.0, 86.2, 86.5],
             [85.5, 80.4, 80.5, 91.6, 86.7, 88.9],
             [93.2, 92.5, 94.1, 89.5, 89.5, 88.4],
             [90.5, 93.0, 92.3, 91.9, 82.8, 86.3],
             [90.1, 95.1, 98.3, 89.2, 85.7, 82.7]]),
    "relu": 90.4, "tanh": 84.7, "logistic": 83.9,
}
#: Table 3: 2-D fit MSE, M = 500, rows = input p (following the caption), columns = output q.
PAPER_TABLE3: dict = {
    **_grid([[8.8e-4, 2.6e-3, 1.8e-3, 2.0e-3, 1.5e-3, 3.0e-3],
             [1.7e-4, 2.5e-4, 7.5e-5, 3.9e-4, 2.5e-4, 1.9e-4],
             [1.6e-4, 1.0e-4, 6.7e-5, 5.2e-4, 2.2e-4, 2.4e-4],
             [7.9e-5, 7.0e-5, 9.9e-5, 1.0e-4, 7.6e-5, 1.9e-4],
             [2.7e-4, 2.0e-4, 1.3e-4, 2.8e-4, 3.9e-4, 3.3e-4],
             [1.1e-3, 3.1e-3, 3.1e-3, 2.6e-3, 3.0e-3, 2.7e-3]]),
    "relu": 1.1e-3, "tanh": 4.1e-6, "logistic": 3.2e-6,
}


class IATBasesSuite(Suite):
    """6 × 6 input × output bases (+ scalar ReLU/Tanh/Sigmoid) on memorisation and 2-D fitting; Figs. 3 and 6."""

    name = "iat-bases"
    title = "IAT-ReLU bases (Zhang, Bao & Zhang: Tables 2 and 3, Figures 3 and 6)"
    summary = "IAT paper Tables 2-3 at 10x10, M=500 (batched runs); Fig. 3 decoupled model; Fig. 6 mesh ratios"
    paper = "Zhang, Bao & Zhang, Integral Activation Transforms (IAT-ReLU / GDNN), Tables 2–3, Figs. 3 and 6"
    version = 3

    def settings(self, quick: bool) -> dict:
        """Network, data and budget (quick: two bases, a 12 × 12 mesh, tiny networks, few epochs)."""
        if quick:
            return {"tasks": list(_TASKS), "bases": ["rect", "fourier"], "first_row": "fourier",
                    "scalars": ["relu", "tanh"], "resolution": 12, "k": 2.0, "depth": 2, "width": 4, "mesh": 8,
                    "epochs": 30, "lr": 1e-2, "n_runs": 2, "dtype": "float32",
                    "mesh_ratios": [1, 2], "mesh_runs": 2, "cpu_stack": 4,
                    "fig3": {"meshes": [4, 8, 40], "width": 4, "n_points": 40, "epochs": 40, "lr": 1e-2,
                             "grid": 801}}
        return {"tasks": list(_TASKS), "bases": list(BASES), "first_row": "fourier",
                "scalars": list(_SCALARS), "resolution": 50, "k": 2.0, "depth": 10, "width": 10, "mesh": 500,
                "epochs": 1000, "lr": 5e-3, "n_runs": 3, "dtype": "float32",
                "mesh_ratios": [1, 2, 5, 10, 20, 50], "mesh_runs": 10, "cpu_stack": 1,
                "fig3": {"meshes": [10, 20, 10000], "width": 10, "n_points": 200, "epochs": 2000, "lr": 5e-3,
                         "grid": 20001}}

    def cells(self, ctx: RunContext) -> list[Cell]:
        """Table rows, scalar baselines, Figure 3 and Figure 6: the memorisation Fourier row and Fig. 3 first.

        On a GPU a cell stacks a whole group (a table row: 6 output bases × runs; a mesh ratio × 10
        runs); on a CPU, where stacking saves little and a cell must finish in minutes to be
        resumable, groups are split into cells of at most ``cpu_stack`` networks.
        """
        s = ctx.settings
        first = s["first_row"]
        order = [p for p in [first] + [b for b in s["bases"] if b != first] if p in s["bases"]]
        on_gpu = ctx.device == "cuda" or (ctx.device == "auto" and torch.cuda.is_available())
        size = None if on_gpu else s["cpu_stack"]

        def group(key: str, params: dict, members: list[dict]) -> list[Cell]:
            parts = [members] if size is None else [members[i:i + size] for i in range(0, len(members), size)]
            return [Cell(key if len(parts) == 1 else f"{key}_part{i}", {**params, "members": part})
                    for i, part in enumerate(parts)]

        def row(task: str, p: str) -> list[Cell]:
            return group(f"{task}_row_{p}", {"task": task, "kind": "row", "p": p},
                         [{"q": q, "run": r} for q in s["bases"] for r in range(s["n_runs"])])

        runs = [{"run": r} for r in range(s["n_runs"])]
        out = []
        for task in s["tasks"]:
            out += row(task, order[0])
            for a in s["scalars"]:
                out += group(f"{task}_scalar_{a}", {"task": task, "kind": "scalar", "activation": a}, runs)
            if task == s["tasks"][0]:
                out += [Cell(f"fig3_m{m}", {"kind": "fig3", "mesh": m}) for m in s["fig3"]["meshes"]]
            for ratio in s["mesh_ratios"]:
                out += group(f"{task}_mesh{ratio}", {"task": task, "kind": "mesh", "mesh_ratio": ratio},
                             [{"run": r} for r in range(s["mesh_runs"])])
        for task in s["tasks"]:
            for p in order[1:]:
                out += row(task, p)
        return out

    # ---- running ------------------------------------------------------------------------------
    def run_cell(self, cell: Cell, ctx: RunContext) -> dict:
        """Train one cell's networks together (or Figure 3's network and its decoupled model)."""
        if cell.params["kind"] == "fig3":
            return self._fig3(cell, ctx)
        s = ctx.settings
        task = cell.params["task"]
        data = _data(task, s, ctx.seed)
        members = cell.params["members"]
        nets = [self._mlp(cell, m, ctx) for m in members]
        stack = StackedNetwork.from_mlps(nets)
        X = torch.as_tensor(data.X_train, dtype=getattr(torch, s["dtype"]))
        Y = torch.as_tensor(data.y_train, dtype=X.dtype)[:, None].expand(-1, len(nets))
        res = train_resumable(stack, X, Y, path=_partial(ctx, cell.key), tag=_tag(cell, ctx), epochs=s["epochs"],
                              lr=s["lr"], factor=_cosine(s["epochs"]), loss=sum_of_column_mses,
                              on_divergence="restore", random_state=cell_seed(ctx.seed, 13), device=ctx.device)
        clear_checkpoints(ctx.out_dir / "partial", cell.key)
        with torch.no_grad():
            pred = stack(X.to(next(stack.parameters()).device)).cpu().double().numpy()
        y = data.y_train
        mse = np.mean((pred - y[:, None]) ** 2, axis=0)
        out_members = []
        for j, m in enumerate(members):
            rec = {**m, "mse": float(mse[j])}
            if task == "memorization":
                rec["accuracy"] = float(np.mean(np.sign(pred[:, j]) == y) * 100.0)
            out_members.append(rec)
        curve = res["curve"]
        every = max(1, len(curve) // 100)
        return {"members": out_members, "stop_reason": res["stop_reason"], "epochs": len(curve),
                "time_s": res["time_s"], "n_nets": len(nets), "n_mesh": _mesh(cell, s),
                "ms_per_net_epoch": 1e3 * res.get("cpu_s", res["time_s"]) / max(1, len(curve) * len(nets)),
                "curve": [v / len(nets) for v in curve[::every]]}

    def _mlp(self, cell: Cell, member: dict, ctx: RunContext) -> MLP:
        """One network of a cell, seeded by its (task, basis pair or activation, run)."""
        s = ctx.settings
        kind = cell.params["kind"]
        if kind == "scalar":
            activation, params = cell.params["activation"], None
        else:
            p, q = (cell.params["p"], member["q"]) if kind == "row" else ("fourier", "pwq")
            activation = "iat"
            params = {"in_basis": p, "out_basis": q, "mesh_ratio": _mesh(cell, s) / s["width"]}
        seed = cell_seed(ctx.seed, 12, member["run"])  # run r starts from the same linear weights in every cell
        return MLP(2, [s["width"]] * s["depth"], 1, activation=activation, activation_params=params,
                   random_state=seed, dtype=s["dtype"])

    def _fig3(self, cell: Cell, ctx: RunContext) -> dict:
        """Figure 3: a 2-layer IAT-ReLU fit of sin(2πx) at mesh M, its patterns, and the decoupled model."""
        f3 = ctx.settings["fig3"]
        M, width = cell.params["mesh"], f3["width"]
        x = np.linspace(-1.0, 1.0, f3["n_points"])[:, None]
        y = np.sin(2 * np.pi * x[:, 0])
        seed = cell_seed(ctx.seed, 30)
        params = {"in_basis": "fourier", "out_basis": "pwq", "mesh_ratio": M / width}
        net = MLP(1, [width, width], 1, activation="iat", activation_params=params, random_state=seed)
        common = dict(tag=_tag(cell, ctx), epochs=f3["epochs"], lr=f3["lr"], factor=_cosine(f3["epochs"]),
                      random_state=seed)
        res = train_resumable(net, x, y, path=_partial(ctx, f"{cell.key}_coupled"), **common)
        dec = DecoupledIATNetwork(1, [width, width], 1, "fourier", "pwq", mesh_ratio=M / width, mode="discrete",
                                  tie_weights=False, random_state=cell_seed(ctx.seed, 31))
        dec.transfer_patterns(net)
        dec.freeze_patterns()
        res_dec = train_resumable(dec, x, y, path=_partial(ctx, f"{cell.key}_decoupled"), **common)
        clear_checkpoints(ctx.out_dir / "partial", cell.key)
        grid = torch.linspace(-1.0, 1.0, f3["grid"], dtype=torch.float64)[:, None]
        with torch.no_grad():
            fit, fit_dec = net(grid)[:, 0].numpy(), dec(grid)[:, 0].numpy()
            patterns, changes = _patterns(net, torch.linspace(-1.0, 1.0, _PATTERN_GRID, dtype=torch.float64)[:, None])
        target = np.sin(2 * np.pi * grid[:, 0].numpy())
        step = max(1, f3["grid"] // 800)
        return {"mesh": M, "train_mse": res["curve"][-1], "decoupled_train_mse": res_dec["curve"][-1],
                "grid_mse": float(np.mean((fit - target) ** 2)),
                "decoupled_grid_mse": float(np.mean((fit_dec - target) ** 2)),
                "max_jump": float(np.max(np.abs(np.diff(fit)))), "decoupled_max_jump":
                float(np.max(np.abs(np.diff(fit_dec)))), "grid_spacing": 2.0 / (f3["grid"] - 1),
                "pattern_changes": changes, "x": grid[::step, 0].tolist(), "fit": fit[::step].tolist(),
                "fit_decoupled": fit_dec[::step].tolist(), "x_train": x[:, 0].tolist(), "y_train": y.tolist(),
                "patterns": [p.tolist() for p in patterns], "time_s": res["time_s"] + res_dec["time_s"]}

    # ---- tables -------------------------------------------------------------------------------
    def rows(self, cells: list[CellResult], ctx: RunContext) -> list[dict]:
        """One row per (task, network kind, basis pair / activation / mesh ratio): run statistics beside the paper."""
        out = []
        groups: dict[tuple, list[tuple[dict, CellResult]]] = {}
        for c in cells:
            kind = c.params["kind"]
            if kind == "fig3":
                r = c.result
                out.append({"task": "fig3", "kind": kind, "network": f"Fourier / PWQ, 2 × {ctx.settings['fig3']['width']}",
                            "mesh": r["mesh"], "value": r["grid_mse"], "decoupled_mse": r["decoupled_grid_mse"],
                            "max_jump": r["max_jump"], "decoupled_max_jump": r["decoupled_max_jump"],
                            "pattern_changes": r["pattern_changes"], "time_s": r["time_s"]})
                continue
            for m in c.result["members"]:
                key = (c.params["task"], kind, c.params.get("p"), m.get("q"), c.params.get("activation"),
                       c.params.get("mesh_ratio"))
                groups.setdefault(key, []).append((m, c))
        for (task, kind, p, q, activation, ratio), entries in groups.items():
            c = entries[0][1]
            members = [m for m, _ in entries]
            metric = "accuracy" if task == "memorization" else "mse"
            table = PAPER_TABLE2 if task == "memorization" else PAPER_TABLE3
            vals = [m[metric] for m in members]
            st = stats(vals)
            if kind == "row":
                key, label = (p, q), f"{_LABEL[p]} / {_LABEL[q]}"
            elif kind == "scalar":
                key, label = activation, _SCALARS[activation]
            else:
                key, label = None, f"Fourier / PWQ, mesh ratio {ratio}"
            stuck = sum(v <= _CHANCE for v in vals) if task == "memorization" else 0
            out.append({"task": task, "kind": kind, "network": label, "p": p, "q": q,
                        "activation": activation or "iat", "mesh_ratio": ratio,
                        "metric": metric, "value": st["mean"], "best": st["max"] if metric == "accuracy" else st["min"],
                        "std": st["std"], "runs": st["n"], "values": vals, "n_stuck": stuck,
                        "paper": table.get(key, math.nan) if key is not None else math.nan,
                        "ms_per_net_epoch": float(np.median([e[1].result["ms_per_net_epoch"] for e in entries])),
                        "n_mesh": c.result["n_mesh"],
                        "stop_reason": ",".join(sorted({e[1].result["stop_reason"] for e in entries}))})
        return out

    def report(self, rows: list[dict], cells: list[CellResult], ctx: RunContext) -> str:
        """Both 6 × 6 tables (ours / paper), the scalar rows, Fig. 6, Fig. 3, and the cost of what was not run."""
        s = ctx.settings
        bases = s["bases"]
        parts = [
            f"Network: {s['depth']} hidden layers of width d = {s['width']}, IAT-ReLU discretised with M = "
            f"{s['mesh']} (the paper's Tables 2–3), or a scalar activation; {s['resolution']}×{s['resolution']} "
            f"mesh of [-1, 1]²; full-batch Adam lr {s['lr']:g} with cosine decay, {s['epochs']} epochs, MSE loss "
            f"(±1 labels for memorisation, accuracy by the sign), {s['dtype']}, {s['n_runs']} runs per cell "
            f"(mean over runs shown, best in the CSV). Fit target: the stand-in sin({s['k']:g}πx₁)sin({s['k']:g}πx₂), "
            "not the paper's (image-only) function, so Table 3's values compare only in order. The paper states "
            "no optimiser, epochs or runs per cell.",
            "",
        ]
        for task, title in _TASKS.items():
            trows = [r for r in rows if r["task"] == task]
            if not trows:
                continue
            digits = 3 if task == "memorization" else 2
            grid = {(r["p"], r["q"]): r for r in trows if r["kind"] == "row"}
            parts += [f"## {title}: ours (mean of runs) / paper (rows = input basis p, columns = output basis q)", ""]
            parts.append("| p \\ q | " + " | ".join(_LABEL[q] for q in bases) + " | row mean (ours / paper) |")
            parts.append("|" + "---|" * (len(bases) + 2))
            for p in bases:
                if not any((p, q) in grid for q in bases):
                    parts.append(f"| {_LABEL[p]} | " + " | ".join("not run" for _ in bases) + " | — |")
                    continue
                vals, pvals, cells_ = [], [], []
                for q in bases:
                    r = grid.get((p, q))
                    if r is None:
                        cells_.append("—")
                        continue
                    vals.append(r["value"])
                    pvals.append(r["paper"])
                    mark = f" ({r['n_stuck']} at chance)" if r.get("n_stuck") else ""
                    cells_.append(f"{fmt(r['value'], digits)} / {fmt(r['paper'], digits)}{mark}")
                agg = _mean if task == "memorization" else _geomean
                parts.append(f"| {_LABEL[p]} | " + " | ".join(cells_)
                             + f" | {fmt(agg(vals), digits)} / {fmt(agg(pvals), digits)} |")
            parts += ["", "Scalar activations (same network shape):", "",
                      markdown_table([r for r in trows if r["kind"] == "scalar"],
                                     [("network", "activation"), ("value", "ours (mean)"), ("best", "best run"),
                                      ("runs", "runs"), ("paper", "paper")], digits), ""]
            sweep = sorted((r for r in trows if r["kind"] == "mesh"), key=lambda r: r["mesh_ratio"])
            if sweep:
                parts += [f"Figure 6 (Fourier input, PWQ output, M = d × ratio, {s['mesh_runs']} runs per ratio):", "",
                          markdown_table(sweep, [("mesh_ratio", "M / d"), ("n_mesh", "M"), ("value", "mean"),
                                                 ("std", "std"), ("best", "best run"), ("runs", "runs")], digits), ""]
        fig3 = sorted((r for r in rows if r["kind"] == "fig3"), key=lambda r: r["mesh"])
        if fig3:
            g = s["fig3"]
            parts += ["## Figure 3: sin(2πx) with M = " + ", ".join(str(r["mesh"]) for r in fig3)
                      + ", and the decoupled model", "",
                      f"2 hidden IAT-ReLU layers of width {g['width']} (Fourier input, PWQ output), {g['n_points']} "
                      f"points, Adam lr {g['lr']:g} cosine, {g['epochs']} epochs; the decoupled model takes the trained "
                      "network's weights as its (frozen) pattern weights and trains new value weights for as long. "
                      f"Jumps: the largest change between neighbours of a {g['grid']}-point grid (spacing "
                      f"{2 / (g['grid'] - 1):.2g}; a continuous fit with the target's largest slope 2π changes by "
                      f"{2 * math.pi * 2 / (g['grid'] - 1):.2g}).", "",
                      markdown_table(fig3, [("mesh", "M"), ("pattern_changes", f"pattern changes on {_PATTERN_GRID} points"),
                                            ("value", "fit MSE"), ("max_jump", "largest jump (fit)"),
                                            ("decoupled_mse", "decoupled MSE"),
                                            ("decoupled_max_jump", "largest jump (decoupled)")]), "",
                      "The paper: for discrete patterns (M = 10, 20) the decoupled model jumps where the pattern "
                      "changes; the (nearly) continuous pattern of M = 10 000 keeps it continuous.", ""]
        parts += [self._cost(rows, cells, ctx), "",
                  "What the paper claims and what to compare: zero-integral / Fourier *input* bases memorise best "
                  "(Table 2 row means: Fourier 91.2, Rect-w 90.2, PWL-w 89.5, Rect 89.1, PWL 87.3, PWQ 85.6) and "
                  "discontinuous inputs fit worst (Table 3 geometric row means: Fourier 9.6e-5 … Rect-w 2.5e-3); "
                  "Rect / Rect equals scalar ReLU; memorisation peaks at mesh ratio 2 and fitting improves with the "
                  "ratio (Fig. 6). Tanh and Sigmoid beat every IAT-ReLU cell on the smooth fit in the paper too."]
        return "\n".join(parts)

    def _cost(self, rows: list[dict], cells: list[CellResult], ctx: RunContext) -> str:
        """Measured time per network-epoch, and the CPU time the cells not in ``cells`` would take at that rate."""
        s = ctx.settings
        done = {c.key for c in cells}
        rates = [(c.result["n_mesh"], c.result["ms_per_net_epoch"]) for c in cells if "ms_per_net_epoch" in c.result]
        if not rates:
            return ""
        by_mesh: dict[int, list[float]] = {}
        for m, r in rates:
            by_mesh.setdefault(m, []).append(r)
        medians = {m: float(np.median(v)) for m, v in sorted(by_mesh.items())}
        m_ref = max(medians)
        rate_ref = medians[m_ref]
        missing = [c for c in self.cells(ctx) if c.key not in done and c.params["kind"] != "fig3"]
        listed = ", ".join(f"{'scalar' if m == 0 else f'M = {m}'}: {r:.1f}" for m, r in medians.items())
        text = (f"Measured cost per network-epoch (CPU time of the training, median over cells; {listed} ms; "
                "one thread) on this machine.")
        if not missing:
            return text
        net_epochs = sum(len(c.params["members"]) * s["epochs"] * max(_mesh(c, s), 20) / m_ref for c in missing)
        hours = net_epochs * rate_ref / 3.6e6
        groups: dict[str, int] = {}
        for c in missing:
            what = {"row": f"{c.params['task']} row {_LABEL.get(c.params.get('p'), '')}",
                    "scalar": f"{c.params['task']} scalar baselines", "mesh": f"{c.params['task']} Fig. 6"}
            name = what[c.params["kind"]]
            groups[name] = groups.get(name, 0) + len(c.params["members"])
        listed = "; ".join(f"{k} ({n} networks)" for k, n in groups.items())
        return (f"{text} **Not run here: {len(missing)} cells** — {listed}; at the measured rate (scaled with M) "
                f"they would take about {hours:.1f} CPU core-hours.")

    # ---- figures ------------------------------------------------------------------------------
    def figures(self, cells: list[CellResult], ctx: RunContext) -> list[Path]:
        """Heat maps of both grids, Figure 6 (every run and the mean), Figure 3 (fits, patterns, decoupled fits)."""
        paths = []
        rows = self.rows(cells, ctx)
        bases = ctx.settings["bases"]
        grids = [t for t in _TASKS if any(r["task"] == t and r["kind"] == "row" for r in rows)]
        if grids:
            fig, axes = new_figure(1, len(grids), width=5.0, height=4.4)
            for ax, task in zip(axes[0], grids):
                grid = {(r["p"], r["q"]): r["value"] for r in rows if r["task"] == task and r["kind"] == "row"}
                mat = np.array([[grid.get((p, q), np.nan) for q in bases] for p in bases], dtype=float)
                shown = mat if task == "memorization" else np.log10(mat)
                im = ax.imshow(shown, cmap="viridis" if task == "memorization" else "viridis_r")
                for (i, j), v in np.ndenumerate(mat):
                    if np.isfinite(v):
                        ax.text(j, i, f"{v:.0f}" if task == "memorization" else f"{v:.0e}", ha="center",
                                va="center", fontsize=8, color="w")
                ax.set_xticks(range(len(bases)), [_LABEL[b] for b in bases], rotation=45, fontsize=10)
                ax.set_yticks(range(len(bases)), [_LABEL[b] for b in bases], fontsize=10)
                ax.set_xlabel("output basis q", fontsize=10)
                ax.set_ylabel("input basis p", fontsize=10)
                ax.set_title("memorisation accuracy (%), mean of runs" if task == "memorization"
                             else "log10 fit MSE, mean of runs (blank: not run)", fontsize=11)
                fig.colorbar(im, ax=ax)
            paths.append(save_figure(fig, ctx.fig_dir / "bases_grid.png"))
        sweep = [r for r in rows if r["kind"] == "mesh"]
        if sweep:
            tasks = [t for t in _TASKS if any(r["task"] == t for r in sweep)]
            fig, axes = new_figure(1, len(tasks), width=4.4, height=3.6)
            for ax, task in zip(axes[0], tasks):
                pts = sorted((r for r in sweep if r["task"] == task), key=lambda r: r["mesh_ratio"])
                for r in pts:
                    vals = np.asarray(r["values"], float)
                    bad = vals <= _CHANCE if task == "memorization" else np.zeros(len(vals), bool)
                    ax.scatter([r["mesh_ratio"]] * int((~bad).sum()), vals[~bad], s=10, color="C3", alpha=0.7)
                    ax.scatter([r["mesh_ratio"]] * int(bad.sum()), vals[bad], s=18, marker="x", color="k")
                ax.plot([r["mesh_ratio"] for r in pts], [r["value"] for r in pts], "o-", color="C0", label="mean")
                ax.set_xscale("log")
                if task == "fit":
                    ax.set_yscale("log")
                ax.set_xlabel("mesh ratio M / d", fontsize=10)
                ax.set_ylabel("accuracy (%)" if task == "memorization" else "training MSE", fontsize=10)
                ax.set_title(f"Fig. 6: {'memorisation' if task == 'memorization' else 'fit'} (dots: runs; "
                             f"x: at chance)", fontsize=10)
                ax.tick_params(labelsize=10)
                ax.legend(fontsize=9)
            paths.append(save_figure(fig, ctx.fig_dir / "mesh_ratio.png"))
        f3 = sorted((c for c in cells if c.params["kind"] == "fig3"), key=lambda c: c.params["mesh"])
        if f3:
            fig, axes = new_figure(3, len(f3), width=3.8, height=3.0)
            for j, c in enumerate(f3):
                r = c.result
                x = np.asarray(r["x"])
                for i, (key, title) in enumerate((("fit", "IAT-ReLU fit"), (None, "patterns"),
                                                  ("fit_decoupled", "decoupled fit"))):
                    ax = axes[i, j]
                    if key is None:
                        img = np.concatenate([np.asarray(p, float).T for p in r["patterns"]], axis=0)
                        ax.imshow(img, aspect="auto", origin="lower", extent=(-1, 1, 0, img.shape[0]),
                                  cmap="Greys", interpolation="nearest")
                        ax.axhline(img.shape[0] / 2, color="r", lw=1)
                        ax.set_ylabel("mesh point s_m (layer 1 | layer 2)", fontsize=9)
                    else:
                        ax.plot(r["x_train"], r["y_train"], "k.", ms=2, label="data")
                        ax.plot(x, r[key], lw=1.2, label=title)
                        ax.set_ylabel("y", fontsize=10)
                    ax.set_xlabel("x", fontsize=10)
                    ax.set_title(f"M = {r['mesh']}: {title}", fontsize=11)
                    ax.tick_params(labelsize=9)
            paths.append(save_figure(fig, ctx.fig_dir / "fig3_patterns.png"))
        return paths


def _cosine(epochs: int):
    """Cosine decay of the learning rate to 0 over ``epochs`` (torch's CosineAnnealingLR in closed form)."""
    return lambda e: 0.5 * (1.0 + math.cos(math.pi * e / epochs))


def _partial(ctx: RunContext, name: str) -> Path:
    """Where a cell's training checkpoints go while it runs."""
    return ctx.out_dir / "partial" / f"{name}.pt"


def _tag(cell: Cell, ctx: RunContext) -> str:
    """What a cell computes (settings, parameters, seed, device and this suite's code): a checkpoint's identity."""
    code = b"".join(Path(m.__file__).read_bytes() for m in (sys.modules[__name__], _iat_stack, _resume))
    blob = json.dumps({"settings": ctx.settings, "params": cell.params, "seed": ctx.seed, "device": ctx.device},
                      sort_keys=True, default=str).encode()
    return hashlib.sha256(blob + code).hexdigest()


def _mesh(cell: Cell, s: dict) -> int:
    """M of a cell's IAT layers (the table's M, or d × ratio for the sweep; scalar cells: 0)."""
    kind = cell.params["kind"]
    if kind == "mesh":
        return int(round(s["width"] * cell.params["mesh_ratio"]))
    if kind == "fig3":
        return int(cell.params["mesh"])
    return 0 if kind == "scalar" else int(s["mesh"])


def _data(task: str, s: dict, seed: int):
    """The task's data on the resolution × resolution mesh of [-1, 1]²."""
    if task == "memorization":
        return load_iat_memorization(s["resolution"], random_state=cell_seed(seed, 11))
    return load_iat_highfreq(s["resolution"], k=s["k"])


@torch.no_grad()
def _patterns(net: MLP, grid: torch.Tensor) -> tuple[list[np.ndarray], int]:
    """Each hidden layer's discrete pattern sign(p(s_m)ᵀz(x)) on the grid (at most 100 mesh columns), and its changes."""
    h, patterns, full = grid, [], []
    for block in net.blocks:
        z = block.linear(h)
        on = block.activation.pre_state(z) > 0  # (n_grid, M)
        full.append(on)
        cols = np.unique(np.linspace(0, on.shape[1] - 1, min(100, on.shape[1])).round().astype(int))
        patterns.append(on[:, cols].numpy().astype(np.int8))
        h = block.activation(z)
    both = torch.cat(full, dim=1)
    changes = int((both[1:] != both[:-1]).any(dim=1).sum())
    return patterns, changes


def _mean(values: list[float]) -> float:
    """Arithmetic mean (NaN for none)."""
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    return float(arr.mean()) if arr.size else math.nan


def _geomean(values: list[float]) -> float:
    """Geometric mean of the positive values (NaN for none)."""
    arr = np.asarray([v for v in values if v is not None and np.isfinite(v) and v > 0], dtype=float)
    return float(np.exp(np.log(arr).mean())) if arr.size else math.nan
