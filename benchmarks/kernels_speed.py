"""What does the infinite-width kernel K∞ cost next to the finite width, and how accurate is it?

Baseline (the finite-width alternative): ``RandomFeatureMap(n=4000).fit(X).transform(X)`` and
``Φ @ Φ.T`` for N = 4000 points in d = 2. Against it, in the same process, interleaved, one torch
thread:

* closed-form activations (``relu``, ``step``, ``relu_power(p=2)``, ``half_exp``): ``LimitKernel``
  fit + K∞(X, X) at tol 1e-10. Target: ≤ 3× the baseline. Accuracy: the full matrix against the
  hand-derived closed forms (step, ReLU; see tests/test_kernels.py) and, for all four, a few
  pairs against a mpmath double integral (θ on the circle, γ on [−B, B], split at the kinks).
* quadrature activations (``logistic``, ``gaussian``, ``sinc(a=8)``, ``tanh``, ``erf``; and
  ``relu_power(p=3.5)``, kinked and not polynomial, on fewer points): ``LimitKernel(tol=1e-8)``.
  Target: accuracy 1e-8 (relative to max K∞(x, x)) against mpmath at ≤ 20× the cost of the
  closed-form ReLU kernel on the same points.

Usage::

    python benchmarks/kernels_speed.py [--n 4000] [--repeats 3] [--pairs 6] [--quick] [--out kernels_speed.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import mpmath
import torch
from scipy import special

import kernelreg
from kernelreg.bench import atomic_write_json
from kernelreg.features import RandomFeatureMap
from kernelreg.kernels import LimitKernel

CLOSED = [("relu", {}), ("step", {}), ("relu_power", {"p": 2}), ("half_exp", {})]
QUADRATURE = [("logistic", {}), ("gaussian", {}), ("sinc", {"a": 8.0}), ("tanh", {}), ("erf", {})]
KINKED = [("relu_power", {"p": 3.5})]

_MP = {
    "relu": lambda t, p: t if t > 0 else mpmath.mpf(0),
    "step": lambda t, p: mpmath.mpf(1) if t > 0 else mpmath.mpf(0),
    "relu_power": lambda t, p: t ** mpmath.mpf(p["p"]) if t > 0 else mpmath.mpf(0),
    "half_exp": lambda t, p: mpmath.exp(-t) if t > 0 else mpmath.mpf(0),
    "logistic": lambda t, p: 1 / (1 + mpmath.exp(-t)),
    "gaussian": lambda t, p: mpmath.exp(-((t / p["s"]) ** 2)),
    "sinc": lambda t, p: mpmath.sin(p["a"] * t) / t if t != 0 else mpmath.mpf(p["a"]),
    "tanh": lambda t, p: mpmath.tanh(t),
    "erf": lambda t, p: mpmath.erf(t / p["s"]),
}
_KINKED = {"relu", "step", "relu_power", "half_exp"}


def mp_kernel(name: str, params: dict, x, y, B: float) -> float:
    """mpmath: (1/2π)∫dθ (1/2B)∫dγ σ(ξ·x − γ)σ(ξ·y − γ), split at the kinks (θ where ξ·x = ξ·y; γ = ξ·x, ξ·y)."""
    sig = _MP[name]
    B = mpmath.mpf(B)
    x = [mpmath.mpf(float(t)) for t in x]
    y = [mpmath.mpf(float(t)) for t in y]

    def inner(th):
        c, s = mpmath.cos(th), mpmath.sin(th)
        u, v = c * x[0] + s * x[1], c * y[0] + s * y[1]
        pts = [-B, B]
        if name in _KINKED:
            pts += [t for t in (u, v) if -B < t < B]
        return mpmath.quad(lambda g: sig(u - g, params) * sig(v - g, params), sorted(set(pts))) / (2 * B)

    a = mpmath.atan2(x[1] - y[1], x[0] - y[0]) + mpmath.pi / 2
    return float(mpmath.quad(inner, [a, a + mpmath.pi, a + 2 * mpmath.pi]) / (2 * mpmath.pi))


def hand_closed(name: str, X: np.ndarray, B: float) -> np.ndarray | None:
    """The hand-derived closed forms of tests/test_kernels.py (inside the ball), d = 2."""
    z = np.sqrt(np.maximum(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1), 0.0))
    if name == "step":
        return 0.5 - z / (2 * math.pi * B)
    if name == "relu":
        c = 0.5 * (X[:, None, :] + X[None, :, :])
        m3 = 4.0 / (3.0 * math.pi)
        return B**2 / 6 + (c * c).sum(-1) / 4 - z**2 / 16 + m3 * z**3 / (24 * B)
    return None


def timed(fns: dict, repeats: int) -> dict:
    """Median wall time of each function over ``repeats`` interleaved rounds (after one warm-up round)."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="points N (and baseline features n)")
    parser.add_argument("--n-kinked", type=int, default=1500, help="points for relu_power(3.5)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=6, help="pairs checked against mpmath per activation")
    parser.add_argument("--quick", action="store_true", help="N = 600, 2 repeats, 3 pairs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="kernels_speed.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats, args.pairs, args.n_kinked = 600, 2, 3, 200
    torch.set_num_threads(args.threads)
    mpmath.mp.dps = 20
    rng = np.random.default_rng(0)
    X = rng.uniform(-1.0, 1.0, size=(args.n, 2))
    pair_idx = rng.choice(args.n, size=(args.pairs, 2), replace=False)
    results = []

    def baseline():
        Phi = RandomFeatureMap(args.n, activation="relu", random_state=0).fit(X).transform(X)
        return Phi @ Phi.T

    def limit(name, params, tol, points=X):
        return LimitKernel(name, params, tol=tol).fit(points)(points)

    fns = {"baseline": baseline}
    for name, params in CLOSED:
        fns[f"{name}{params or ''}"] = lambda name=name, params=params: limit(name, params, 1e-10)
    for name, params in QUADRATURE:
        fns[f"{name}{params or ''}"] = lambda name=name, params=params: limit(name, params, 1e-8)
    times = timed(fns, args.repeats)
    relu_time = times["relu"]
    B = float(np.max(np.linalg.norm(X, axis=1)))

    def accuracy(name, params, K, B, points, idx):
        """Errors against the hand closed form (whole matrix) and mpmath (pairs); params with defaults filled."""
        scale = float(np.max(np.diag(K)))
        ref = hand_closed(name, points, B)
        full = None if ref is None else float(np.max(np.abs(K - ref)) / scale)
        mp = max(abs(K[i, j] - mp_kernel(name, params, points[i], points[j], B)) for i, j in idx) / scale
        return full, mp

    for group, items, tol in (("closed form", CLOSED, 1e-10), ("quadrature", QUADRATURE, 1e-8)):
        for name, params in items:
            kernel = LimitKernel(name, params, tol=tol).fit(X)
            K = kernel(X)
            full, mp = accuracy(name, kernel.activation_.params, K, B, X, pair_idx)
            key = f"{name}{params or ''}"
            results.append({"group": group, "activation": repr(kernel.activation_), "n_points": args.n, "tol": tol,
                            "time_s": times[key], "ratio_to_baseline": times[key] / times["baseline"],
                            "ratio_to_relu": times[key] / relu_time, "err_closed_form": full, "err_mpmath": mp,
                            "quadrature": kernel.quadrature_})
    # kinked, not polynomial: the Gauss–Legendre γ-rule, on fewer points
    Xk = X[: args.n_kinked]
    idx_k = rng.choice(args.n_kinked, size=(args.pairs, 2), replace=False)
    for name, params in KINKED:
        tk = timed({"k": lambda: limit(name, params, 1e-8, Xk), "relu": lambda: limit("relu", {}, 1e-10, Xk)},
                   args.repeats)
        kernel = LimitKernel(name, params, tol=1e-8).fit(Xk)
        K = kernel(Xk)
        _, mp = accuracy(name, kernel.activation_.params, K, float(np.max(np.linalg.norm(Xk, axis=1))), Xk, idx_k)
        results.append({"group": "quadrature (kinked)", "activation": repr(kernel.activation_), "n_points": args.n_kinked,
                        "tol": 1e-8, "time_s": tk["k"], "ratio_to_baseline": None, "ratio_to_relu": tk["k"] / tk["relu"],
                        "err_closed_form": None, "err_mpmath": mp, "quadrature": kernel.quadrature_})

    payload = {
        "benchmark": "kernels_speed",
        "baseline": {"what": f"RandomFeatureMap({args.n}).fit(X).transform(X) and Phi @ Phi.T, N={args.n}, d=2",
                     "time_s": times["baseline"]},
        "results": results,
        "environment": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                        "kernelreg": kernelreg.__version__, "threads": args.threads, "cpu_count": os.cpu_count(),
                        "load_average": list(os.getloadavg()), "platform": platform.platform(),
                        "note": "shared machine: compare the ratios, measured interleaved in one process"},
        "settings": vars(args),
    }
    atomic_write_json(args.out, payload)
    print(f"baseline (Φ and ΦΦᵀ, N = n = {args.n}, d = 2): {times['baseline']:.2f} s")
    print("| group | activation | N | time (s) | / baseline | / ReLU K∞ | error vs hand closed form | error vs mpmath |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        fmt = lambda v, f: "—" if v is None else format(v, f)  # noqa: E731
        print(f"| {r['group']} | {r['activation']} | {r['n_points']} | {r['time_s']:.3g} | "
              f"{fmt(r['ratio_to_baseline'], '.2f')} | {r['ratio_to_relu']:.2f} | {fmt(r['err_closed_form'], '.1e')} | "
              f"{r['err_mpmath']:.1e} |")
    return payload


if __name__ == "__main__":
    main()
