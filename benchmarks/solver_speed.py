"""How much faster is the exact eps-relaxed min-norm solver than CVXPY, and what do GD/Adam/CG reach?

A command-line front end to ``kernelreg.bench.solver_speed`` (the same code as the
``kernelreg bench run solver-speed`` suite; see that module for the problem and the methods):
ReLU features of 2-D inputs with random labels, eps = --eps-frac * mean(y^2); exact, exact
re-solve, CVXPY (Clarabel, raw and QR-reduced) and GD / Adam / CG from zero, timed in one process
(median of --repeats after a warm-up for the fast methods), ratios against "exact", agreement
||c - c_exact|| / ||c_exact||.

Usage::

    python benchmarks/solver_speed.py [--sizes 500x4000,1000x5000] [--quick] [--out results.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    import kernelreg  # noqa: F401
except ImportError:  # running from a checkout without installing: use the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernelreg.bench._runner import atomic_write_json, environment  # noqa: E402
from kernelreg.bench.solver_speed import CLARABEL_TIGHT, markdown, run_size, warm_up  # noqa: E402


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
        rows.extend(run_size(n_samples, n_features, eps_frac=args.eps_frac, repeats=args.repeats,
                             max_iter=args.max_iter, adam_lr=args.adam_lr, device=args.device, seed=args.seed,
                             skip_raw=args.skip_raw, log=lambda msg: print(msg, flush=True)))
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
    atomic_write_json(Path(args.out), payload)
    print(f"\nwrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
