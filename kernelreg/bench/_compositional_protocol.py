"""The compositional paper's protocol: its targets, its published numbers and the runner behind the bench suite.

Milkert, Hyde & Laine (ICML 2025; seed papers 001 + 004, ``research/compositional.md`` §4): every
training method of :mod:`kernelreg.training.compositional` on every target curve of
:data:`kernelreg.datasets.COMPOSITIONAL_CURVES` (x³, x¹¹, sin(πx/2), tanh(3x) on [0, 1]), n_runs
seeded runs each, dense (500 points) or sparse (10 + 10); min / mean / median MSE beside the paper's
Table 1 and sparse table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.utils import check_random_state

from kernelreg._checks import check_int
from kernelreg.datasets import COMPOSITIONAL_CURVES, load_compositional
from kernelreg.training.compositional import METHODS, TrainingConfig, train_baseline, train_compositional

__all__ = [
    "TARGETS",
    "PAPER_RESULTS",
    "PAPER_SPARSE_RESULTS",
    "protocol_data",
    "run_protocol",
    "summarize_protocol",
    "protocol_table",
]

#: The paper's targets (curves of ``kernelreg.datasets.COMPOSITIONAL_CURVES``) → the mode of the
#: compositional networks fitting each: waves subtracted for the convex curves, added for the concave.
TARGETS: dict[str, str] = {"x3": "convex", "x11": "convex", "sin": "concave", "tanh": "concave"}

#: Row labels of the paper's tables.
_METHOD_LABELS = {
    "default": "Default (PyTorch init)",
    "raai": "RAAI",
    "no_pretraining": "No pretraining",
    "free_scales": "Differentiability not enforced (free scales)",
    "enforced": "Differentiability enforced",
}

#: Paper Table 1 (dense data, 500 points; min and mean MSE over 30 runs). sin/tanh are lost.
PAPER_RESULTS: dict[tuple[str, str], dict[str, float]] = {
    ("default", "x3"): {"min": 2.11e-5, "mean": 7.20e-2},
    ("default", "x11"): {"min": 2.19e-5, "mean": 2.82e-2},
    ("raai", "x3"): {"min": 2.14e-5, "mean": 3.97e-2},
    ("raai", "x11"): {"min": 4.40e-5, "mean": 4.12e-2},
    ("no_pretraining", "x3"): {"min": 7.63e-7, "mean": 3.89e-5},
    ("no_pretraining", "x11"): {"min": 1.86e-5, "mean": 3.56e-4},
    ("free_scales", "x3"): {"min": 1.64e-7, "mean": 1.02e-5},
    ("free_scales", "x11"): {"min": 3.20e-6, "mean": 3.73e-5},
    ("enforced", "x3"): {"min": 7.86e-8, "mean": 5.27e-7},
    ("enforced", "x11"): {"min": 8.86e-7, "mean": 7.87e-6},
}

#: Paper's sparse-data table (10 training, 10 test points; minimum test MSE).
PAPER_SPARSE_RESULTS: dict[tuple[str, str], dict[str, float]] = {
    ("default", "x3"): {"min": 2.41e-4},
    ("default", "x11"): {"min": 2.14e-3},
    ("default", "sin"): {"min": 2.27e-5},
    ("default", "tanh"): {"min": 1.60e-4},
    ("enforced", "x3"): {"min": 5.65e-6},
    ("enforced", "x11"): {"min": 6.53e-4},
    ("enforced", "sin"): {"min": 7.92e-7},
    ("enforced", "tanh"): {"min": 5.09e-6},
}


def protocol_data(target: str, sparse: bool = False) -> dict[str, torch.Tensor]:
    """Training (and test) data of the protocol for one target.

    The data are :func:`kernelreg.datasets.load_compositional`'s: dense, 500 evenly spaced points
    on [0, 1] (training = evaluation, no split, as in the paper); sparse, 10 training points
    linspace(0, 1, 10) and 10 test points linspace(0.05, 0.95, 10) (the paper's placement is
    unknown; this is our choice: an even grid and a shifted even grid).

    Returns
    -------
    dict
        ``x_train``, ``y_train``, ``x_test``, ``y_test`` (float64 tensors; test = train when dense).
    """
    _check_targets([target])
    split = load_compositional(target, sparse=sparse)
    arrays = {"x_train": split.X_train[:, 0], "y_train": split.y_train, "x_test": split.X_test[:, 0],
              "y_test": split.y_test}
    return {k: torch.as_tensor(np.ascontiguousarray(v), dtype=torch.float64) for k, v in arrays.items()}


def _check_targets(targets: Sequence[str]) -> None:
    """Known target names, else a ValueError listing them."""
    for name in targets:
        if name not in TARGETS:
            raise ValueError(f"target={name!r} is unknown; use one of {list(TARGETS)}.")


def run_protocol(
    targets: Sequence[str] = tuple(TARGETS),
    methods: Sequence[str] = METHODS,
    n_runs: int = 30,
    epochs: int | None = None,
    quick: bool = False,
    random_state: int | np.random.RandomState | None = 0,
    sparse: bool = False,
    config: TrainingConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Run the paper's protocol: every method on every target, n_runs seeded runs each.

    Parameters
    ----------
    targets : sequence of {"x3", "x11", "sin", "tanh"}, default=all four
    methods : sequence of {"default", "raai", "no_pretraining", "free_scales", "enforced"}, default=all
    n_runs : int, default=30
    epochs : int or None, default=None
        Total Adam steps per run (every method gets the same); ``None``: the config's
        ``pretrain_epochs + finetune_epochs``. The stage split keeps the config's ratio.
    quick : bool, default=False
        At most 2 runs and 200 epochs (a smoke test).
    random_state : int, RandomState or None, default=0
        Seeds of the runs; run r uses the same seed for every method and target.
    sparse : bool, default=False
        10 training points and 10 test points instead of 500 points (see :func:`protocol_data`).
    config : TrainingConfig or None, default=None
    progress : callable or None, default=None
        Called with a one-line message after each (target, method) cell.

    Returns
    -------
    list of dict
        One row per (target, method, run): ``target``, ``method``, ``run``, ``seed``, ``mse``
        (training MSE), ``test_mse`` (test MSE; = mse when dense), ``pretrain_mse`` (closed form
        after stage 2, or at initialisation for "no_pretraining"; NaN for baselines), ``sparse``,
        ``epochs``, ``pretrain_epochs``, ``stop_reason`` (of the cell's training stages:
        ``"max_epochs"`` normally, ``"diverged"`` if a stage's loss diverged and its best weights
        were kept, see ``TrainingConfig.on_divergence``), ``time_s`` (the cell's wall time, shared
        by its runs).
    """
    cfg = config or TrainingConfig()
    n_runs = check_int(n_runs, "n_runs", "run_protocol")
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"method={m!r} is unknown; use one of {list(METHODS)}.")
    _check_targets(targets)
    if quick:
        n_runs = min(n_runs, 2)
        epochs = min(epochs or 200, 200)
    if epochs is not None:
        cfg = cfg.with_total_epochs(epochs)
    seeds = [int(s) for s in check_random_state(random_state).randint(2**31 - 1, size=n_runs)]
    rows: list[dict] = []
    for tname in targets:
        data = protocol_data(tname, sparse)
        mode = TARGETS[tname]
        for method in methods:
            start = time.perf_counter()
            if method in ("default", "raai"):
                fit = train_baseline(data["x_train"], data["y_train"], method=method, config=cfg, seeds=seeds)
            else:
                fit = train_compositional(data["x_train"], data["y_train"], mode=mode, method=method, config=cfg,
                                          seeds=seeds)
            elapsed = time.perf_counter() - start
            stages = [h["stop_reason"] for h in fit.history if h.get("final")]
            stop_reason = next((r for r in stages if r != "max_epochs"), "max_epochs")
            with torch.no_grad():
                test = ((fit.mlp(data["x_test"]) - data["y_test"][:, None]) ** 2).mean(dim=0).numpy()
            for r in range(n_runs):
                rows.append({
                    "target": tname,
                    "method": method,
                    "run": r,
                    "seed": seeds[r],
                    "mse": float(fit.mse[r]),
                    "test_mse": float(test[r]),
                    "pretrain_mse": float(fit.pretrain_mse[r]) if fit.pretrain_mse is not None else float("nan"),
                    "sparse": bool(sparse),
                    "epochs": cfg.total_epochs,
                    "stop_reason": stop_reason,
                    "pretrain_epochs": 0 if method in ("default", "raai", "no_pretraining") else cfg.pretrain_epochs,
                    "time_s": elapsed,
                })
            if progress is not None:
                key = "test_mse" if sparse else "mse"
                vals = np.array([r[key] for r in rows[-n_runs:]])
                progress(f"{tname:5s} {method:15s} min {vals.min():.3g} mean {vals.mean():.3g} ({elapsed:.1f}s)")
    return rows


def summarize_protocol(rows: Sequence[dict]) -> list[dict]:
    """Min, mean and median MSE per (sparse, target, method), beside the paper's numbers.

    Dense rows are summarised by their training MSE (the paper's metric), sparse rows by their test
    MSE. Returns one dict per cell: ``sparse``, ``target``, ``method``, ``metric``, ``n_runs``,
    ``min``, ``mean``, ``median``, ``max``, ``paper_min``, ``paper_mean`` (NaN where the paper's
    value is lost or was never reported), ``time_s``.
    """
    cells: dict[tuple, list[dict]] = {}
    for row in rows:
        cells.setdefault((row["sparse"], row["target"], row["method"]), []).append(row)
    out = []
    for (sparse, target, method), cell in cells.items():
        metric = "test_mse" if sparse else "mse"
        vals = np.array([r[metric] for r in cell], dtype=np.float64)
        paper = (PAPER_SPARSE_RESULTS if sparse else PAPER_RESULTS).get((method, target), {})
        out.append({
            "sparse": sparse,
            "target": target,
            "method": method,
            "metric": metric,
            "n_runs": len(cell),
            "min": float(np.min(vals)),
            "mean": float(np.mean(vals)),
            "median": float(np.median(vals)),
            "max": float(np.max(vals)),
            "paper_min": paper.get("min", float("nan")),
            "paper_mean": paper.get("mean", float("nan")),
            "time_s": float(cell[0]["time_s"]),
        })
    return out


def _fmt(value: float) -> str:
    """A number for the markdown table ('—' for NaN)."""
    return "—" if value is None or not np.isfinite(value) else f"{value:.3g}"


def protocol_table(summary: Sequence[dict]) -> str:
    """A markdown table of :func:`summarize_protocol`'s cells, ours beside the paper's."""
    lines = [
        "| data | target | method | runs | min MSE (ours) | min MSE (paper) | mean MSE (ours) | mean MSE (paper) | median (ours) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in summary:
        data = "sparse (test)" if c["sparse"] else "dense (train)"
        lines.append(
            f"| {data} | {COMPOSITIONAL_CURVES[c['target']][0]} | {_METHOD_LABELS[c['method']]} | {c['n_runs']} | "
            f"{_fmt(c['min'])} | {_fmt(c['paper_min'])} | {_fmt(c['mean'])} | {_fmt(c['paper_mean'])} | "
            f"{_fmt(c['median'])} |"
        )
    return "\n".join(lines)
