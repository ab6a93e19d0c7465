"""One decomposition instead of two: the kernel entry (SpectralSolver.from_gram) and reused factorisations.

Baselines, run in the same process, interleaved, one torch thread, median of ``--repeats`` rounds
after a warm-up:

* **kernel solve**: the route the n_features="inf" estimator and ``width_convergence`` used before,
  ``gram_features(K)`` (eigh of K) then ``solve(Phi_K, y, eps)`` (a second decomposition, of
  Phi_K), against ``SpectralSolver.from_gram(K, y)`` then ``solve(K, y, eps, factorization=spec)``
  (one eigh, certificate against K). Both with an intercept, on the ReLU limit kernel.
* **estimator fit**: ``KernelRegimeRegressor("inf", eps)``'s fit (K∞ included) against the same
  steps done the old way (``LimitKernel.fit`` + ``tensor`` + ``gram_features`` + ``solve``).
* **warm start**: a refit of ``KernelRegimeRegressor(n, warm_start=True)`` with only eps changed
  (fitted at 3e-2, refitted at 1e-2), against a cold fit at 1e-2.

Agreement of the answers is checked in tests/test_kernel_solver.py; here the fitted values of the
two routes are compared once more (max |f_new - f_old|) so the timings compare equal work.

Usage::

    python benchmarks/kernel_entry.py [--sizes 1000 2000] [--repeats 3] [--out kernel_entry.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import torch

import kernelreg
from kernelreg import KernelRegimeRegressor
from kernelreg.bench import atomic_write_json
from kernelreg.kernels import LimitKernel, gram_features
from kernelreg.solvers import SpectralSolver, solve


def interleaved(fns: dict, repeats: int) -> dict:
    """Median wall time of each function, the functions run in turn in every round (after one warm-up round)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(repeats + 1):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--width", type=int, default=2000, help="hidden units of the warm-start case")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="kernel_entry.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    rows = []
    for n in args.sizes:
        rng = np.random.default_rng(0)
        X = rng.uniform(-1, 1, (n, 2))
        y = np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(n)
        eps = 1e-3
        kernel = LimitKernel("relu").fit(X)
        K = kernel(X)

        def old_solve():
            factor = gram_features(K)
            sol = solve(factor.features, y, eps=eps, fit_intercept=True)
            return K @ factor.dual_coef(sol.coef) + sol.intercept, sol

        def new_solve():
            spec = SpectralSolver.from_gram(K, y, fit_intercept=True)
            sol = solve(K, y, eps=eps, fit_intercept=True, factorization=spec)
            return K @ sol.coef + sol.intercept, sol

        def old_fit():
            k = LimitKernel("relu").fit(X)
            factor = gram_features(k.tensor(X))
            return solve(factor.features, y, eps=eps, fit_intercept=True)

        def new_fit():
            return KernelRegimeRegressor("inf", eps=eps, fit_intercept=True, offset_scale=None).fit(X, y)

        (f_old, s_old), (f_new, s_new) = old_solve(), new_solve()
        t = interleaved({"old_solve": old_solve, "new_solve": new_solve, "old_fit": old_fit, "new_fit": new_fit},
                        args.repeats)
        rows.append({
            "case": "kernel", "n_samples": n, "eps": eps,
            "old_solve_s": t["old_solve"], "new_solve_s": t["new_solve"],
            "solve_speedup": t["old_solve"] / t["new_solve"],
            "old_fit_s": t["old_fit"], "new_fit_s": t["new_fit"], "fit_speedup": t["old_fit"] / t["new_fit"],
            "max_abs_fit_difference": float(np.max(np.abs(f_new - f_old))),
            "status_old": s_old.status, "status_new": s_new.status,
        })
        print(json.dumps(rows[-1]), flush=True)

        # eps above the least-squares floor of this (rank-deficient) Φ: a feasible refit, no floor fallback
        model = KernelRegimeRegressor(args.width, eps=3e-2, warm_start=True, random_state=0).fit(X, y)

        def warm_refit():
            model.set_params(eps=1e-2)
            model.fit(X, y)

        def cold_fit():
            KernelRegimeRegressor(args.width, eps=1e-2, random_state=0).fit(X, y)

        t = interleaved({"warm": warm_refit, "cold": cold_fit}, args.repeats)
        rows.append({"case": "warm_start", "n_samples": n, "n_features": args.width, "warm_refit_s": t["warm"],
                     "cold_fit_s": t["cold"], "speedup": t["cold"] / t["warm"]})
        print(json.dumps(rows[-1]), flush=True)
    payload = {
        "rows": rows,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "torch_threads": 1,
                    "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                     "scipy": scipy.__version__, "kernelreg": getattr(kernelreg, "__version__", None)},
        "repeats": args.repeats,
        "dtype": "float64",
        "device": "cpu",
    }
    atomic_write_json(Path(args.out), payload)
    return payload


if __name__ == "__main__":
    main()
