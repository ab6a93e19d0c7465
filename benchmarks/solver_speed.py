"""How much faster is the exact eps-relaxed min-norm solver than CVXPY, and what do GD/Adam/CG reach?

Problem: ReLU features of 2-D inputs (inputs uniform in [-1, 1]^2, unit directions uniform on the
circle, offsets uniform on [-sqrt(2), sqrt(2)], Phi_ji = max(xi_i . x_j - gamma_i, 0)) with random
labels y ~ N(0, 1), eps = --eps-frac * mean(y^2). Methods, all in this process:

* exact            solve(method="exact", eps)           (Gram eigendecomposition + root-find for lam)
* exact re-solve   SpectralSolver.solve_eps(eps)         (the decomposition reused: the eps/lam sweep cost)
* cvxpy raw        Clarabel on the n_features-dim SOCP   (tightened tolerances)
* cvxpy qr         Clarabel on the QR-reduced n_samples-dim SOCP
* gd / adam / cg   from zero with target_mse = eps and a max_iter budget (the mse they reach is reported)

Speed is the median wall time of --repeats runs after a warm-up for the fast methods (exact, cg);
the slow ones run once. Ratios are against "exact". Agreement is ||c - c_exact|| / ||c_exact||.

Usage::

    python benchmarks/solver_speed.py [--sizes 500x4000,1000x5000] [--quick] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

try:
    import kernelreg  # noqa: F401
except ImportError:  # running from a checkout without installing: use the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cvxpy as cp  # noqa: E402
import scipy  # noqa: E402
import torch  # noqa: E402

from kernelreg.exceptions import SolverError  # noqa: E402
from kernelreg.solvers import SpectralSolver, solve  # noqa: E402

CLARABEL_TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def relu_features(n_samples: int, n_features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The spectral-bias paper's kernel-regime features with random labels."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n_samples, 2))
    theta = rng.uniform(0.0, 2.0 * np.pi, n_features)
    xi = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    gamma = rng.uniform(-math.sqrt(2.0), math.sqrt(2.0), n_features)
    Phi = np.maximum(X @ xi.T - gamma, 0.0)
    return Phi, rng.standard_normal(n_samples)


def timed(fn, repeats: int, warmup: bool):
    """Run fn (after an optional warm-up) `repeats` times; return the last result and the median seconds."""
    if warmup:
        fn()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def warm_up(device: str) -> None:
    """Pay one-off import and first-call costs (torch.optim, CVXPY, Clarabel) before anything is timed."""
    Phi, y = relu_features(20, 60, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("exact", "gd", "adam", "cg"):
            solve(Phi, y, method, eps=0.1, **({} if method == "exact" else {"max_iter": 5}), device=device)
        solve(Phi, y, "cvxpy", eps=0.1)


def run_size(n_samples: int, n_features: int, args: argparse.Namespace) -> list[dict]:
    """All methods on one (N, n); one record per method."""
    Phi, y = relu_features(n_samples, n_features, args.seed)
    eps = args.eps_frac * float(np.mean(y**2))
    rows: list[dict] = []
    exact, t_exact = timed(lambda: solve(Phi, y, eps=eps, device=args.device), args.repeats, True)
    spec = SpectralSolver(Phi, y, device=args.device)
    _, t_resolve = timed(lambda: spec.solve_eps(eps), args.repeats, True)
    s = spec.singular_values
    context = {
        "n_samples": n_samples,
        "n_features": n_features,
        "eps": eps,
        "lam": exact.lam,
        "cond_phi": float(s.max() / s[s > 0].min()),
        "rank_gram": spec.rank,
    }

    def record(name: str, fn, repeats: int, warmup: bool) -> None:
        """Time one method and store its row (errors are recorded, not raised)."""
        row = {"method": name, **context, "repeats": repeats}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sol, seconds = timed(fn, repeats, warmup)
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
        print(f"  {name:<22} {row.get('time_s', math.nan):9.3f} s  status={row['status']}", flush=True)

    print(f"N={n_samples}, n={n_features}, eps={eps:.3g}, lam={exact.lam:.3g}", flush=True)
    record("exact", lambda: exact, 1, False)
    rows[-1]["time_s"], rows[-1]["repeats"] = t_exact, args.repeats
    record("exact re-solve", lambda: spec.solve_eps(eps), 1, False)
    rows[-1]["time_s"], rows[-1]["repeats"] = t_resolve, args.repeats
    clarabel = {"solver": "CLARABEL", "solver_options": CLARABEL_TIGHT}
    if not args.skip_raw:
        record("cvxpy clarabel raw", lambda: solve(Phi, y, "cvxpy", eps=eps, reduce=False, **clarabel), 1, False)
    record("cvxpy clarabel qr", lambda: solve(Phi, y, "cvxpy", eps=eps, reduce="qr", **clarabel), 1, False)
    loop = {"eps": eps, "max_iter": args.max_iter, "history_every": args.max_iter, "device": args.device}
    record("gd", lambda: solve(Phi, y, "gd", **loop), 1, False)
    record("adam", lambda: solve(Phi, y, "adam", lr=args.adam_lr, **loop), 1, False)
    record("cg", lambda: solve(Phi, y, "cg", **loop), args.repeats, True)
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


def environment(device: str) -> dict:
    """Versions, machine and settings saved with every record."""
    try:
        import clarabel

        clarabel_version = clarabel.__version__
    except (ImportError, AttributeError):
        clarabel_version = None
    return {
        "device": device,
        "dtype": "float64",
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "torch": torch.__version__,
            "cvxpy": cp.__version__,
            "clarabel": clarabel_version,
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
    }


def write_json(path: Path, payload: dict) -> None:
    """Write to a temporary file, then os.replace it: an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2, default=float)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, run every size, print the table and save the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="500x4000,1000x5000", help="comma-separated NxN_FEATURES")
    parser.add_argument("--quick", action="store_true", help="small sizes and budgets (~10 s)")
    parser.add_argument("--out", default="solver_speed.json", help="JSON output path")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=2000, help="iteration budget of gd/adam/cg")
    parser.add_argument("--adam-lr", type=float, default=1e-3)
    parser.add_argument("--eps-frac", type=float, default=1e-3, help="eps = eps_frac * mean(y^2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-raw", action="store_true", help="skip CVXPY on the raw (slow) problem")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.repeats, args.max_iter = "200x1000,300x1500", 3, 300
    sizes = [tuple(int(v) for v in item.lower().split("x")) for item in args.sizes.split(",")]
    warm_up(args.device)
    rows: list[dict] = []
    for n_samples, n_features in sizes:
        rows.extend(run_size(n_samples, n_features, args))
    table = markdown(rows)
    print()
    print(table)
    payload = {
        "benchmark": "solver_speed",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sizes": sizes,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "clarabel_options": CLARABEL_TIGHT,
        **environment(args.device),
        "results": rows,
        "table": table,
    }
    write_json(Path(args.out), payload)
    print(f"\nwrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
