"""Suite ``solver-speed``: the exact ε-relaxed min-norm solver against CVXPY and GD / Adam / CG on one Φ.

Problem: ReLU features of 2-D inputs (inputs uniform in [-1, 1]², unit directions uniform on the
circle, offsets uniform on [-√2, √2], Φ_ji = max(ξ_i·x_j − γ_i, 0)) with random labels
y ~ N(0, 1), eps = eps_frac · mean(y²). Methods, all in one process:

* ``exact``            ``solve(method="exact", eps)`` (Gram eigendecomposition + root-find for λ)
* ``exact re-solve``   ``SpectralSolver.solve_eps(eps)`` (the decomposition reused: the cost of an ε/λ sweep)
* ``cvxpy raw``        Clarabel on the n_features-dimensional SOCP (tightened tolerances)
* ``cvxpy qr``         Clarabel on the QR-reduced n_samples-dimensional SOCP
* ``gd / adam / cg``   from zero with target_mse = eps and an iteration budget (the mse they reach is reported)

Speed is the median wall time of ``repeats`` runs after a warm-up for the fast methods (exact,
cg); the slow ones run once. Ratios are against ``exact``. Agreement is ‖c − c_exact‖ / ‖c_exact‖.
``kernelreg bench run solver-speed`` runs it (the one place these solvers are timed against each other).
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kernelreg.bench._plots import add_legend, converged, draw_bars, new_figure, save_figure
from kernelreg.bench._runner import Cell, CellResult, RunContext, Suite
from kernelreg.exceptions import SolverError
from kernelreg.solvers import SpectralSolver, solve

__all__ = ["SolverSpeedSuite", "CLARABEL_TIGHT", "relu_features", "timed", "warm_up", "run_size", "markdown",
           "times_figure"]

#: Clarabel tolerances tight enough for eps ~ 1e-3 · mean(y²).
CLARABEL_TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def relu_features(n_samples: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The spectral-bias paper's kernel-regime ReLU features of 2-D inputs, with random N(0, 1) labels."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n_samples, 2))
    theta = rng.uniform(0.0, 2.0 * np.pi, n_features)
    xi = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    gamma = rng.uniform(-math.sqrt(2.0), math.sqrt(2.0), n_features)
    Phi = np.maximum(X @ xi.T - gamma, 0.0)
    return Phi, rng.standard_normal(n_samples)


def timed(fn: Callable[[], Any], repeats: int, warmup: bool) -> tuple[Any, float]:
    """Run fn (after an optional warm-up) ``repeats`` times; return the last result and the median seconds."""
    if warmup:
        fn()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def warm_up(device: str = "cpu") -> None:
    """Pay one-off import and first-call costs (torch.optim, CVXPY, Clarabel) before anything is timed."""
    Phi, y = relu_features(20, 60, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("exact", "gd", "adam", "cg"):
            solve(Phi, y, method, eps=0.1, **({} if method == "exact" else {"max_iter": 5}), device=device)
        solve(Phi, y, "cvxpy", eps=0.1)


def run_size(
    n_samples: int,
    n_features: int,
    *,
    eps_frac: float = 1e-3,
    repeats: int = 5,
    max_iter: int = 2000,
    adam_lr: float = 1e-3,
    device: str = "cpu",
    seed: int = 0,
    skip_raw: bool = False,
    log: Callable[[str], None] | None = print,
) -> list[dict]:
    """Every method on one (N, n) problem; one record per method (errors are recorded, not raised).

    Parameters
    ----------
    n_samples, n_features : int
        Rows and columns of Φ.
    eps_frac : float, default=1e-3
        eps = eps_frac · mean(y²).
    repeats : int, default=5
        Timed repeats (median) of the fast methods.
    max_iter : int, default=2000
        Iteration budget of GD, Adam and CG.
    adam_lr : float, default=1e-3
    device : str, default="cpu"
    seed : int, default=0
    skip_raw : bool, default=False
        Skip CVXPY on the raw n_features-dimensional program (slow for large n).
    log : callable or None, default=print

    Returns
    -------
    list of dict
        method, sizes, eps, lam, cond_phi, time_s, ratio_to_exact, status, n_iter, mse,
        mse_over_eps, rel_coef_diff, norm, warnings (or error).
    """
    Phi, y = relu_features(n_samples, n_features, seed)
    eps = eps_frac * float(np.mean(y**2))
    rows: list[dict] = []
    exact, t_exact = timed(lambda: solve(Phi, y, eps=eps, device=device), repeats, True)
    spec = SpectralSolver(Phi, y, device=device)
    _, t_resolve = timed(lambda: spec.solve_eps(eps), repeats, True)
    s = spec.singular_values
    context = {
        "n_samples": n_samples,
        "n_features": n_features,
        "eps": eps,
        "lam": exact.lam,
        "cond_phi": float(s.max() / s[s > 0].min()),
        "rank_gram": spec.rank,
    }

    def record(name: str, fn: Callable[[], Any], reps: int, warmup: bool) -> None:
        """Time one method and store its row."""
        row: dict[str, Any] = {"method": name, **context, "repeats": reps}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sol, seconds = timed(fn, reps, warmup)
            row.update(
                time_s=seconds,
                status=sol.status,
                n_iter=sol.n_iter,
                mse=sol.mse,
                mse_over_eps=sol.mse / eps,
                rel_coef_diff=float(np.linalg.norm(sol.coef - exact.coef) / np.linalg.norm(exact.coef)),
                norm=sol.norm,
                warnings=[str(w.message)[:160] for w in caught],
            )
        except SolverError as exc:
            row.update(time_s=math.nan, status=exc.status, error=str(exc)[:300])
        rows.append(row)
        if log is not None:
            log(f"  {name:<22} {row.get('time_s', math.nan):9.3f} s  status={row['status']}")

    if log is not None:
        log(f"N={n_samples}, n={n_features}, eps={eps:.3g}, lam={exact.lam:.3g}")
    record("exact", lambda: exact, 1, False)
    rows[-1]["time_s"], rows[-1]["repeats"] = t_exact, repeats
    record("exact re-solve", lambda: spec.solve_eps(eps), 1, False)
    rows[-1]["time_s"], rows[-1]["repeats"] = t_resolve, repeats
    clarabel = {"solver": "CLARABEL", "solver_options": CLARABEL_TIGHT}
    if not skip_raw:
        record("cvxpy clarabel raw", lambda: solve(Phi, y, "cvxpy", eps=eps, reduce=False, **clarabel), 1, False)
    record("cvxpy clarabel qr", lambda: solve(Phi, y, "cvxpy", eps=eps, reduce="qr", **clarabel), 1, False)
    loop = {"eps": eps, "max_iter": max_iter, "history_every": max_iter, "device": device}
    record("gd", lambda: solve(Phi, y, "gd", **loop), 1, False)
    record("adam", lambda: solve(Phi, y, "adam", lr=adam_lr, **loop), 1, False)
    record("cg", lambda: solve(Phi, y, "cg", **loop), repeats, True)
    for row in rows:
        row["ratio_to_exact"] = row["time_s"] / t_exact if math.isfinite(row["time_s"]) else math.nan
    return rows


def markdown(rows: list[dict]) -> str:
    """The results as a markdown table."""
    lines = [
        "| N × n | method | time (s) | × exact | status | iters | mse / eps | rel. diff to exact |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        size = f"{r['n_samples']} × {r['n_features']}"
        if "error" in r:
            lines.append(f"| {size} | {r['method']} | – | – | {r['status']} | – | – | – |")
            continue
        lines.append(
            f"| {size} | {r['method']} | {r['time_s']:.3g} | {r['ratio_to_exact']:.3g} | {r['status']} | "
            f"{r['n_iter']} | {r['mse_over_eps']:.4g} | {r['rel_coef_diff']:.2e} |"
        )
    return "\n".join(lines)


class SolverSpeedSuite(Suite):
    """Exact vs CVXPY vs GD / Adam / CG on one ReLU Φ per size: times, ratios to exact, agreement."""

    name = "solver-speed"
    title = "Solver speed: exact ε-relaxed min-norm vs CVXPY vs GD / Adam / CG"
    summary = "exact vs CVXPY vs GD/Adam/CG on one ReLU Φ: times, ratios, agreement"
    paper = ("Spectral-bias paper (Sahs et al. 2025) §6: the ε-relaxed program min ‖c‖ s.t. (1/N)‖Φc − y‖² ≤ ε "
             "that its Table II solves with CVXPY; baseline = our exact solver")

    def settings(self, quick: bool) -> dict:
        """Sizes and budgets (quick: one small problem)."""
        if quick:
            return {"sizes": [[150, 800]], "repeats": 3, "max_iter": 300, "adam_lr": 1e-3, "eps_frac": 1e-3,
                    "skip_raw": False}
        return {"sizes": [[500, 4000], [1000, 5000]], "repeats": 5, "max_iter": 2000, "adam_lr": 1e-3,
                "eps_frac": 1e-3, "skip_raw": False}

    def cells(self, ctx: RunContext) -> list[Cell]:
        """One cell per size (every method of a size runs in the same cell, beside its baseline)."""
        return [Cell(f"N{n}_n{p}", {"n_samples": n, "n_features": p}) for n, p in ctx.settings["sizes"]]

    def prepare(self, ctx: RunContext) -> None:
        """Warm up torch, CVXPY and Clarabel so no timed call pays first-call costs."""
        warm_up(ctx.device)

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict:
        """All methods on one size."""
        s = ctx.settings
        rows = run_size(cell.params["n_samples"], cell.params["n_features"], eps_frac=s["eps_frac"],
                        repeats=s["repeats"], max_iter=s["max_iter"], adam_lr=s["adam_lr"], device=ctx.device,
                        seed=ctx.seed, skip_raw=s["skip_raw"], log=None)
        return {"rows": rows}

    def rows(self, cells: list[CellResult], ctx: RunContext) -> list[dict]:
        """One row per (size, method)."""
        out = []
        for c in cells:
            for r in c.result["rows"]:
                out.append({k: v for k, v in r.items() if k != "warnings"})
        return out

    def report(self, rows: list[dict], cells: list[CellResult], ctx: RunContext) -> str:
        """The timing table and what it shows."""
        parts = ["## Times (median after warm-up for exact, exact re-solve and cg) and agreement", "",
                 markdown(rows), ""]
        for n, p in dict.fromkeys((r["n_samples"], r["n_features"]) for r in rows):
            cvx = [r for r in rows if (r["n_samples"], r["n_features"]) == (n, p) and r["method"].startswith("cvxpy")
                   and math.isfinite(r.get("ratio_to_exact", math.nan))]
            if cvx:
                best = min(cvx, key=lambda r: r["ratio_to_exact"])
                parts.append(f"- N = {n}, n = {p}: the fastest CVXPY variant ({best['method']}, status "
                             f"{best['status']}) took {best['ratio_to_exact']:.3g}× the exact solver's time.")
        parts.append("")
        parts += [
            "GD / Adam / CG stop at `max_iter` when they cannot reach eps; `mse / eps` says how far they got, "
            "and `rel. diff to exact` how far their coefficients are from the min-norm ones (GD and CG from "
            "zero head for them; Adam does not).",
            "",
            "The paper reports no absolute solver times; it says only that CVXPY was up to ~2000× faster than "
            "Adam (ReLU³·⁵) and up to ~1600× slower (Step, Sinc, Wavepacket) — see the `gd-vs-convex` suite.",
        ]
        return "\n".join(parts)

    def figures(self, cells: list[CellResult], ctx: RunContext) -> list[Path]:
        """``times.png``: wall time of every method per size (log scale); runs that did not converge are hollow."""
        return [save_figure(times_figure(self.rows(cells, ctx)), ctx.fig_dir / "times.png")]


def times_figure(rows: list[dict]):
    """Bars of wall time per method and problem size (log scale); a run whose status is not ``optimal`` is hollow.

    GD / Adam / CG stop at their iteration budget (status ``max_iter``) when they cannot reach eps,
    so their bar is the time of a run that did not finish; the hollow hatched bars and the legend say so.
    """
    sizes = list(dict.fromkeys((r["n_samples"], r["n_features"]) for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, axes = new_figure(1, 1, width=3.5 + 1.1 * max(4, len(methods)), height=4.4)
    ax = axes[0, 0]
    width = 0.8 / max(1, len(sizes))
    any_hollow = False
    for j, size in enumerate(sizes):
        by_method = {r["method"]: r for r in rows if (r["n_samples"], r["n_features"]) == size}
        present = [i for i, m in enumerate(methods)
                   if m in by_method and math.isfinite(by_method[m].get("time_s", math.nan))]
        ok = [converged(by_method[methods[i]].get("status")) for i in present]
        any_hollow |= not all(ok)
        draw_bars(ax, [i + (j - (len(sizes) - 1) / 2) * width for i in present],
                  [by_method[methods[i]]["time_s"] for i in present], width, ok, color=f"C{j}",
                  label=f"N = {size[0]} samples, n = {size[1]} features")
    ax.set_yscale("log")
    ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_axisbelow(True)
    ax.set(title="Output-layer solvers on one ReLU Φ: wall time per method", xlabel="solver method",
           ylabel="wall time (s, log scale)")
    add_legend(ax, not_converged=any_hollow, kind="bar", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
