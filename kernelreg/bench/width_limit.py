"""Suite ``width-limit``: how wide the kernel regime must be to sit at its infinite-width limit, and that limit's spectrum.

For each activation (ReLU, ReLU², Step, Logistic, Gaussian, Sinc, Half-Exp) on the spectral-bias
paper's 2-D targets (Sahs et al. 2025, Exp. 2; ``kernelreg.datasets``):

* the width n at which the width-n min-norm fit is within 1 % (the paper's metric: mean
  |f∞ − f_n| / max f∞ over the convex hull of the data) of the limit fit, i.e. the min-norm fit
  in the RKHS of K∞ (:func:`kernelreg.convergence.width_convergence`, streamed up to 10⁶ units);
* ‖K_n − K∞‖/‖K∞‖ against n (the 1/√n Monte-Carlo rate);
* the eigenvalue decay of K∞ (Nyström on a grid of [−1, 1]²) beside the activation's spectral
  penalty: with constant offset density K∞ is, up to a constant, the kernel whose Fourier transform
  is 1/(‖k‖^{d−1} P_σ(‖k‖)) = |σ̂(‖k‖)|²/‖k‖^{d−1} (the paper's Eq. 8 read as an RKHS norm), so by
  Weyl's law (ω_j ≈ √(4πj/|Ω|) in d = 2) λ_j should fall like |σ̂(ω_j)|²/ω_j.

Chosen here (the paper has no such experiment): N = 200 training points uniform on [−1, 1]²,
B = √2 (the spectral-targets suite's choice: every plane that meets the square), eps = 1e-4 (mean squared error; the paper's 5e-8 makes the smooth activations'
limit fits infeasible in float64), widths 10² … 10⁶, 1000 comparison points.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kernelreg.activations import get as get_activation
from kernelreg.bench._common import cell_seed, quiet
from kernelreg.bench._plots import new_figure, save_figure
from kernelreg.bench._runner import Cell, CellResult, RunContext, Suite, fmt, markdown_table
from kernelreg.convergence import width_convergence
from kernelreg.datasets import SPECTRAL_TARGETS, grid_2d, spectral_target
from kernelreg.kernels import LimitKernel

__all__ = ["WidthLimitSuite", "WIDTH_ACTIVATIONS"]

#: (key, label, activation name, parameters) of the suite's rows.
WIDTH_ACTIVATIONS: tuple[tuple[str, str, str, dict], ...] = (
    ("relu", "ReLU", "relu", {}),
    ("relu2", "ReLU²", "relu_power", {"p": 2}),
    ("step", "Step", "step", {}),
    ("logistic", "Logistic", "logistic", {}),
    ("gaussian", "Gaussian", "gaussian", {}),
    ("sinc", "Sinc (a=8)", "sinc", {"a": 8.0}),
    ("halfexp", "Half-Exp", "half_exp", {}),
)
_ROWS = {row[0]: row for row in WIDTH_ACTIVATIONS}
_LABELS = {"sparse_fourier": "Sparse Fourier", "ring_fourier": "Ring Fourier", "hole": "2D hole",
           "doppler": "Doppler 2D", "bumps": "Bumps 2D"}


def _decay(values: np.ndarray, index: np.ndarray, lo: int, hi: int) -> float:
    """Least-squares slope of log λ_j against log j over lo ≤ j ≤ hi (finite, positive values only)."""
    keep = (index >= lo) & (index <= hi) & np.isfinite(values) & (values > 0)
    if keep.sum() < 3:
        return math.nan
    return float(np.polyfit(np.log(index[keep]), np.log(values[keep]), 1)[0])


def _slope_range(lam: np.ndarray, floor: float = 1e-12) -> tuple[int, int]:
    """Indices j from 10 up to a quarter of the spectrum, cut where λ_j drops below floor·λ₁ (rounding level)."""
    above = np.flatnonzero(lam > floor * lam[0])
    top = int(above[-1]) + 1 if above.size else 1
    hi = max(min(lam.size // 4, top), 4)
    return min(10, hi - 2), hi


class WidthLimitSuite(Suite):
    """Width at which the min-norm fit reaches its infinite-width limit; K∞'s spectrum against the penalty."""

    name = "width-limit"
    title = "Finite width against the infinite-width limit kernel (spectral-bias activations and targets)"
    summary = "width where the min-norm fit is within 1% of the K∞ fit; K∞ eigen-decay vs 1/|σ̂|²"
    paper = "Sahs, Pyle, Anselmi & Patel 2025 (kernel regime, Eq. 8 and Exp. 2 targets); the limit is ours"
    version = 1

    def settings(self, quick: bool) -> dict:
        """Sizes; quick keeps two activations, one target and widths up to 10⁴."""
        if quick:
            return {"activations": ["relu", "logistic"], "targets": ["sparse_fourier"], "n_train": 40,
                    "widths": [100, 1000, 10000], "eps": 1e-4, "n_points": 300, "chunk_size": 4096,
                    "eigen_grid": 14, "kernel_tol": 1e-10, "threshold": 0.01, "offset_scale": math.sqrt(2.0)}
        return {"activations": [row[0] for row in WIDTH_ACTIVATIONS], "targets": list(SPECTRAL_TARGETS),
                "n_train": 200, "widths": [100, 300, 1000, 3000, 10000, 30000, 100000, 300000, 1000000],
                "eps": 1e-4, "n_points": 1000, "chunk_size": 4096, "eigen_grid": 40, "kernel_tol": 1e-10,
                "threshold": 0.01, "offset_scale": math.sqrt(2.0)}

    def cells(self, ctx: RunContext) -> list[Cell]:
        """One cell per activation (the feature stream is shared by all targets)."""
        out = []
        for key in ctx.settings["activations"]:
            _, label, name, params = _ROWS[key]
            out.append(Cell(key, {"activation": key, "label": label, "name": name, "activation_params": params}))
        return out

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict:
        """Width convergence on every target, and K∞'s eigenvalues on a grid beside the predicted decay."""
        s = ctx.settings
        rng = np.random.RandomState(cell_seed(ctx.seed, 1))
        X = rng.uniform(-1.0, 1.0, size=(s["n_train"], 2))  # the same inputs for every activation
        Y = np.stack([spectral_target(t, random_state=cell_seed(ctx.seed, 100 + i))(X)
                      for i, t in enumerate(s["targets"])], axis=1)
        name, params = cell.params["name"], cell.params["activation_params"]
        with quiet() as caught:
            report = width_convergence(X, name, s["widths"], y=Y, target_names=s["targets"], activation_params=params,
                                       offset_scale=s["offset_scale"], eps=s["eps"], n_points=s["n_points"], chunk_size=s["chunk_size"],
                                       kernel_tol=s["kernel_tol"], random_state=cell_seed(ctx.seed, 2),
                                       device=ctx.device)
        kernel = LimitKernel(name, params, s["offset_scale"], tol=s["kernel_tol"], device=ctx.device).fit(X)
        grid = grid_2d(s["eigen_grid"])
        area = 4.0
        lam = np.linalg.eigvalsh(kernel(grid))[::-1] * area / grid.shape[0]
        j = np.arange(1, lam.size + 1, dtype=np.float64)
        omega = np.sqrt(4.0 * math.pi * j / area)
        penalty = get_activation(name, **params).spectral_penalty(omega)
        with np.errstate(divide="ignore", over="ignore"):
            predicted = 1.0 / (omega * penalty)  # |σ̂(ω)|² / ω^{d−1}, d = 2
        ref = min(4, lam.size - 1)
        scale = lam[ref] / predicted[ref] if np.isfinite(predicted[ref]) and predicted[ref] > 0 else math.nan
        lo, hi = _slope_range(lam)
        return {
            "rows": report.rows,
            "limit": report.limit,
            "width_within": {t: report.width_within(s["threshold"], t) for t in s["targets"]},
            "kernel_quadrature": report.settings["kernel_quadrature"],
            "kernel_error_estimate": report.settings["kernel_error_estimate"],
            "offset_scale": report.settings["offset_scale"],
            "eigenvalues": lam.tolist(),
            "predicted": (predicted * scale).tolist(),
            "omega": omega.tolist(),
            "slope_measured": _decay(lam, j, lo, hi),
            "slope_predicted": _decay(predicted, j, lo, hi),
            "slope_range": [lo, hi],
            "warnings": sorted({str(w.message)[:200] for w in caught}),
        }

    def rows(self, cells: list[CellResult], ctx: RunContext) -> list[dict]:
        """One 'convergence' row per (activation, target, width) and one 'spectrum' row per activation."""
        out = []
        for c in cells:
            r = c.result
            for row in r["rows"]:
                out.append({"table": "convergence", "activation": c.params["label"], "key": c.params["activation"],
                            "target": row["target"], "n": row["n"],
                            "kernel_rel_error": row["kernel_rel_error_fro"],
                            "kernel_rel_error_2": row["kernel_rel_error_2"], "rel_error": row["rel_error"],
                            "norm": row["norm"], "mse": row["mse"], "status": row["status"]})
            for t, width in r["width_within"].items():
                lim = next(x for x in r["limit"] if x["target"] == t)
                out.append({"table": "width", "activation": c.params["label"], "key": c.params["activation"],
                            "target": t, "width_1pct": width, "limit_norm": lim["norm"], "limit_mse": lim["mse"],
                            "limit_status": lim["status"]})
            out.append({"table": "spectrum", "activation": c.params["label"], "key": c.params["activation"],
                        "slope_measured": r["slope_measured"], "slope_predicted": r["slope_predicted"],
                        "kernel_error_estimate": r["kernel_error_estimate"]})
        return out

    def report(self, rows: list[dict], cells: list[CellResult], ctx: RunContext) -> str:
        """Width at 1 % per (activation, target), the kernel errors at the largest width, and the spectra."""
        s = ctx.settings
        widths = [r for r in rows if r["table"] == "width"]
        targets = s["targets"]
        acts = list(dict.fromkeys(r["activation"] for r in widths))
        by = {(r["activation"], r["target"]): r for r in widths}
        head = "| activation | " + " | ".join(_LABELS[t] for t in targets) + " |"
        lines = [head, "|" + "---|" * (len(targets) + 1)]
        for a in acts:
            cells_ = []
            for t in targets:
                r = by.get((a, t))
                w = None if r is None else r["width_1pct"]
                mark = "" if r is None or r["limit_status"] == "optimal" else "*"
                cells_.append((f"> {s['widths'][-1]:.0e}" if w is None else f"{w:.0e}") + mark)
            lines.append(f"| {a} | " + " | ".join(cells_) + " |")
        conv = [r for r in rows if r["table"] == "convergence"]
        last = [r for r in conv if r["n"] == max(x["n"] for x in conv) and r["target"] == targets[0]]
        first = {r["activation"]: r for r in conv if r["n"] == min(x["n"] for x in conv) and r["target"] == targets[0]}
        kern = [{"activation": r["activation"], "n0": first[r["activation"]]["n"],
                 "e0": first[r["activation"]]["kernel_rel_error"], "n1": r["n"], "e1": r["kernel_rel_error"],
                 "rate": (math.log(r["kernel_rel_error"] / first[r["activation"]]["kernel_rel_error"])
                          / math.log(r["n"] / first[r["activation"]]["n"]))} for r in last]
        spec = [r for r in rows if r["table"] == "spectrum"]
        return "\n".join([
            f"## Width at which the min-norm fit is within {s['threshold']:.0%} of the limit fit",
            "",
            f"N = {s['n_train']} points uniform on [-1, 1]², B = {s['offset_scale']:.4g}, eps = {s['eps']:g} (mean squared training "
            f"error, both fits), widths {s['widths'][0]} … {s['widths'][-1]}, metric = the paper's mean |f∞ − f_n| / "
            f"max f∞ over {s['n_points']} points in the convex hull of the data. The width is the smallest tested "
            "one from which on every larger width stays within the threshold. `*`: eps is infeasible for the "
            "limit kernel in float64 (its eigenvalues fall below the rounding level — the paper's 'unable to "
            "fit' for strongly penalised activations); both fits are then min-norm least-squares fits.",
            "",
            "\n".join(lines),
            "",
            "## Gram matrix: ‖K_n − K∞‖_F / ‖K∞‖_F",
            "",
            markdown_table(kern, [("activation", "activation"), ("n0", "n"), ("e0", "error"), ("n1", "n"),
                                  ("e1", "error"), ("rate", "log-log slope (Monte Carlo: −0.5)")]),
            "",
            "## Spectrum of K∞ beside the spectral penalty",
            "",
            f"Eigenvalues λ_j of the integral operator of K∞ on [-1, 1]² (Nyström on a {s['eigen_grid']}² grid) "
            "against the prediction |σ̂(ω_j)|²/ω_j = 1/(ω_j P_σ(ω_j)) with Weyl's ω_j = √(πj) (scaled to meet λ₅). "
            "Slopes are least-squares fits of log λ_j on log j over the range shown (from j = 10 to a quarter of the "
            "spectrum, cut where λ_j falls below 1e-12 λ₁, the float64 floor). Algebraic penalties (Step, Half-Exp: "
            "−3/2; ReLU: −5/2; ReLU²: −7/2) should match as the grid is refined; for the exponential and "
            "band-limited ones (Logistic, Gaussian, Sinc) the spectrum hits the floor within a few dozen "
            "eigenvalues and only the figure is meaningful.",
            "",
            markdown_table([{**r, "range": f"{r['slope_range'][0]}–{r['slope_range'][1]}" if "slope_range" in r else ""}
                            for r in [{**x, **{"slope_range": next(c.result["slope_range"] for c in cells
                                                                     if c.params["label"] == x["activation"])}}
                                      for x in spec]],
                           [("activation", "activation"), ("slope_measured", "measured slope"),
                            ("slope_predicted", "predicted slope"), ("range", "j range"),
                            ("kernel_error_estimate", "K∞ quadrature error")]),
            "",
            f"Quadrature of K∞: tol = {s['kernel_tol']:g} relative to max K∞(x, x); see the cells for the node counts. "
            f"{fmt(len(cells))} activations.",
        ])

    def figures(self, cells: list[CellResult], ctx: RunContext) -> list[Path]:
        """Fit distance and kernel error against width, and the eigenvalue decay against the prediction."""
        s = ctx.settings
        paths = []
        fig, axes = new_figure(1, 2, width=6.0, height=4.4)
        ax1, ax2 = axes[0]
        for c in cells:
            rows = [r for r in c.result["rows"] if r["target"] == s["targets"][0]]
            n = [r["n"] for r in rows]
            ax1.loglog(n, [r["kernel_rel_error_fro"] for r in rows], "o-", label=c.params["label"])
            ax2.loglog(n, [r["rel_error"] if r["rel_error"] and r["rel_error"] > 0 else np.nan for r in rows], "o-",
                       label=c.params["label"])
        if cells:
            n = np.array(s["widths"], dtype=float)
            start = np.mean([c.result["rows"][0]["kernel_rel_error_fro"] for c in cells])
            ax1.loglog(n, start * np.sqrt(n[0] / n), "k--", lw=1, label="∝ 1/√n")
        ax2.axhline(s["threshold"], color="k", ls=":", lw=1, label=f"{s['threshold']:.0%}")
        ax1.set(xlabel="width n", ylabel="‖K_n − K∞‖_F / ‖K∞‖_F")
        ax1.set_title("Gram matrix error", fontsize=12)
        ax2.set(xlabel="width n", ylabel="mean |f∞ − f_n| / max f∞")
        ax2.set_title(f"Fit distance ({_LABELS[s['targets'][0]]})", fontsize=12)
        for ax in (ax1, ax2):
            ax.legend(fontsize=10)
            ax.tick_params(labelsize=10)
            ax.xaxis.label.set_size(11)
            ax.yaxis.label.set_size(11)
        paths.append(save_figure(fig, ctx.fig_dir / "width_convergence.png"))

        fig, axes = new_figure(1, 1, width=7.0, height=4.8)
        ax = axes[0, 0]
        for i, c in enumerate(cells):
            lam = np.asarray(c.result["eigenvalues"])
            pred = np.asarray(c.result["predicted"], dtype=float)
            j = np.arange(1, lam.size + 1)
            line = ax.loglog(j, np.where(lam > 0, lam, np.nan), "-", lw=1.6, label=f"{c.params['label']} λ_j")[0]
            ax.loglog(j, np.where(pred > 0, pred, np.nan), "--", lw=1.0, color=line.get_color())
        top = max((c.result["eigenvalues"][0] for c in cells), default=1.0)
        ax.set_ylim(1e-18, 100 * top)
        ax.set_xlabel("index j (ω_j = √(πj))", fontsize=11)
        ax.set_ylabel("eigenvalue of K∞ (solid) / |σ̂(ω_j)|²/ω_j (dashed)", fontsize=11)
        ax.set_title("Spectrum of the limit kernel against the spectral penalty", fontsize=12)
        ax.legend(fontsize=10, ncol=2)
        ax.tick_params(labelsize=10)
        paths.append(save_figure(fig, ctx.fig_dir / "eigen_decay.png"))
        return paths
