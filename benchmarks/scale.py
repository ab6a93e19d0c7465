"""How kernelreg scales: feature export, the exact solve vs CVXPY, GD/CG vs exact, a Phi larger than RAM, growth laws.

Sections (all in one run, each reported as a ratio against a baseline measured in the same process):

* ``export``  RandomFeatureMap.transform (chunked, validated, float64 numpy out) vs a bare
              ``torch.relu(torch.addmm(-b, X, W))`` of the same shape; and ``export()`` to a .npy
              on disk vs the bare matmul followed by ``np.save``.
* ``cvxpy``   the exact eps-solve vs CVXPY (Clarabel) on the same ReLU Phi: raw SOCP and the
              QR-reduced one (kernelreg's default), at the largest sizes that finish in minutes.
* ``iterative`` GD and CG from zero until mse <= eps: iterations and time vs the exact eps-solve.
* ``ooc``     an eps-solve of a Phi stored on disk (memory map) under ``max_memory``, run in a
              child process whose peak resident set (VmHWM, reset before each phase) is reported
              beside the size of Phi; the file is deleted afterwards.
* ``growth``  the exact solve's two phases (Gram product, eigh) as N and n grow, with the flop
              counts 2 N^2 n (Gram, wide) and N^3 / 3 (the factorisation's scale) and the rate
              each phase reached.
* ``dask``    the streamed solve through dask (threaded scheduler) vs the streamed solve on
              the same in-memory array.

Timings are medians of ``--repeats`` runs after one warm-up (slow baselines run once); torch
uses ``--threads`` threads. The machine may be shared: read ratios, not absolute times.

Usage::

    python benchmarks/scale.py [--quick] [--sections export,cvxpy,...] [--ooc-rows 2000000]
                               [--ooc-features 2000] [--ooc-dir /tmp] [--out RESULTS-scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

import torch

from kernelreg.bench import atomic_write_json
from kernelreg.features import RandomFeatureMap
from kernelreg.solvers import ChunkedSolver, solve

SECTIONS = ("export", "cvxpy", "iterative", "growth", "dask", "ooc")


# ---------------------------------------------------------------------- measurement helpers
def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls after ``warmup`` calls, and the last result."""
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def once(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one call (for baselines too slow to repeat)."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def reset_peak() -> bool:
    """Reset this process's high-water mark (Linux /proc/self/clear_refs); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss() -> int:
    """Peak resident set in bytes: VmHWM (resettable) on Linux, ru_maxrss otherwise."""
    import resource

    scale = 1 if sys.platform == "darwin" else 1024
    fallback = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    try:
        with open("/proc/self/status") as fh:
            hwm = [line for line in fh if line.startswith("VmHWM")]
    except OSError:  # no /proc (macOS, some sandboxes): getrusage's peak is all there is
        return fallback
    return int(hwm[0].split()[1]) * 1024 if hwm else fallback


def gib(nbytes: float) -> str:
    """Bytes as GiB with two decimals (or MiB below 1 GiB)."""
    return f"{nbytes / 2**30:.2f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"


def relu_data(n_samples: int, n_features: int, seed: int, dim: int = 3):
    """Inputs uniform in [-1, 1]^dim, labels a smooth target plus noise, and a fitted ReLU feature map."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n_samples, dim))
    y = np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) + 0.1 * rng.standard_normal(n_samples)
    fmap = RandomFeatureMap(n_features, activation="relu", random_state=seed).fit(X)
    return X, y, fmap


def environment(args: argparse.Namespace) -> dict[str, Any]:
    """Versions, machine and settings saved with every record."""
    versions = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__}
    for name in ("scipy", "cvxpy", "clarabel", "dask", "distributed", "sklearn", "psutil"):
        try:
            versions[name] = __import__(name).__version__
        except (ImportError, AttributeError):
            versions[name] = None
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    return {
        "versions": versions,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "ram_bytes": ram,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        },
        "torch_threads": torch.get_num_threads(),
        "blas_threads": args.threads,
        "device": "cpu",
        "dtype": "float64",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "args": vars(args),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def table(rows: list[dict], columns: list[str]) -> str:
    """A markdown table of the given columns."""
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(str(r.get(c, "")) for c in columns) + " |\n" for r in rows)


# ---------------------------------------------------------------------- sections
def bench_export(args: argparse.Namespace) -> list[dict]:
    """Feature export vs a bare torch matmul + activation of the same shape (target <= 1.3x), at 1 and --threads."""
    sizes = [(20_000, 1000)] if args.quick else [(100_000, 1000), (50_000, 4000)]
    rows = []
    for N, n in sizes:
        X, _, fmap = relu_data(N, n, seed=0)
        W = torch.as_tensor(fmap.directions_.T.copy())
        b = torch.as_tensor(fmap.offsets_)

        def bare() -> np.ndarray:
            with torch.inference_mode():
                return torch.relu(torch.addmm(-b, torch.as_tensor(X), W)).numpy()

        for threads in sorted({1, args.threads}):
            torch.set_num_threads(threads)
            t_bare, ref = median_time(bare, args.repeats)
            t_ours, Phi = median_time(lambda: fmap.transform(X), args.repeats)
            assert np.array_equal(Phi, ref), "transform and the bare computation disagree"
            del Phi, ref
            with tempfile.TemporaryDirectory(dir=args.ooc_dir) as tmp:
                path = Path(tmp) / "phi.npy"

                def bare_save() -> None:
                    np.save(path, bare())

                t_bare_save, _ = median_time(bare_save, args.repeats)
                t_export, _ = median_time(lambda: fmap.export(X, path), args.repeats)
            rows.append(
                {
                    "N x n": f"{N:,} x {n:,}",
                    "Phi": gib(N * n * 8),
                    "torch threads": threads,
                    "bare torch (s)": f"{t_bare:.3f}",
                    "transform (s)": f"{t_ours:.3f}",
                    "ratio": f"{t_ours / t_bare:.2f}",
                    "bare + np.save (s)": f"{t_bare_save:.3f}",
                    "export to .npy (s)": f"{t_export:.3f}",
                    "export ratio": f"{t_export / t_bare_save:.2f}",
                }
            )
        torch.set_num_threads(args.threads)
    return rows


def bench_cvxpy(args: argparse.Namespace) -> list[dict]:
    """Exact eps-solve vs CVXPY (Clarabel) raw and QR-reduced, at sizes CVXPY finishes in minutes."""
    cases = [("raw", 200, 1000), ("qr", 400, 2000)] if args.quick else [("raw", 1000, 4000), ("qr", 2000, 10000)]
    rows = []
    for reduce, N, n in cases:
        X, y, fmap = relu_data(N, n, seed=1)
        Phi = fmap.transform(X)
        eps = 0.05 * float(np.mean(y**2))
        t_exact, exact = median_time(lambda: solve(Phi, y, eps=eps), args.repeats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_cvx, cvx = once(lambda: solve(Phi, y, method="cvxpy", eps=eps, reduce=(reduce == "qr")))
        rows.append(
            {
                "N x n": f"{N:,} x {n:,}",
                "CVXPY program": "QR-reduced SOCP" if reduce == "qr" else "raw SOCP",
                "exact (s)": f"{t_exact:.3f}",
                "CVXPY (s)": f"{t_cvx:.1f}",
                "CVXPY / exact": f"{t_cvx / t_exact:.0f}x",
                "coef rel. diff": f"{np.linalg.norm(cvx.coef - exact.coef) / np.linalg.norm(exact.coef):.1e}",
                "CVXPY status": cvx.status,
            }
        )
    return rows


def bench_iterative(args: argparse.Namespace) -> list[dict]:
    """GD and CG from zero until mse <= eps, vs the exact eps-solve on the same Phi."""
    N, n = (300, 1500) if args.quick else (1000, 4000)
    X, y, fmap = relu_data(N, n, seed=2)
    Phi = fmap.transform(X)
    rows = []
    for frac in (2e-1, 1e-1, 1e-2, 1e-3):
        eps = frac * float(np.mean(y**2))
        t_exact, exact = median_time(lambda: solve(Phi, y, eps=eps), args.repeats)
        rows.append({"target mse": f"{eps:.2e}", "method": "exact", "iterations": "-", "time (s)": f"{t_exact:.3f}",
                     "time / exact": "1", "reached mse": f"{exact.mse:.3e}"})
        for method, budget in (("cg", 5_000), ("gd", 10_000 if not args.quick else 2_000)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t, sol = once(lambda: solve(Phi, y, method=method, eps=eps, max_iter=budget, history_every=10**9))
            rows.append(
                {
                    "target mse": f"{eps:.2e}",
                    "method": method,
                    "iterations": f"{sol.n_iter:,}" + ("" if sol.status == "optimal" else f" (max_iter, {sol.status})"),
                    "time (s)": f"{t:.3f}",
                    "time / exact": f"{t / t_exact:.0f}",
                    "reached mse": f"{sol.mse:.3e}",
                }
            )
    return rows


def bench_growth(args: argparse.Namespace) -> list[dict]:
    """Gram product and eigh times as N and n grow, against 2 N^2 n and N^3 / 3 (wide Phi, N <= n)."""
    if args.quick:
        sizes = [(500, 2000), (1000, 2000), (1000, 4000)]
    else:
        sizes = [(1000, 8000), (2000, 8000), (4000, 8000), (2000, 4000), (2000, 16000)]
    rows = []
    for N, n in sizes:
        rng = np.random.default_rng(3)
        P = torch.as_tensor(rng.standard_normal((N, n)))
        y = rng.standard_normal(N)
        t_gram, G = median_time(lambda: P @ P.mT, args.repeats)
        t_eigh, _ = median_time(lambda: torch.linalg.eigh(G), args.repeats)
        t_solve, _ = median_time(lambda: solve(P, y, eps=0.1), args.repeats)
        gram_flops, fact_flops = 2.0 * N * N * n, N**3 / 3.0
        rows.append(
            {
                "N x n": f"{N:,} x {n:,}",
                "Gram 2N^2n (GFLOP)": f"{gram_flops / 1e9:.1f}",
                "Gram (s)": f"{t_gram:.3f}",
                "Gram GFLOP/s": f"{gram_flops / t_gram / 1e9:.0f}",
                "N^3/3 (GFLOP)": f"{fact_flops / 1e9:.2f}",
                "eigh (s)": f"{t_eigh:.3f}",
                "eigh / (N^3/3) (ns per flop)": f"{t_eigh / fact_flops * 1e9:.2f}",
                "exact eps-solve (s)": f"{t_solve:.3f}",
            }
        )
    return rows


def bench_dask(args: argparse.Namespace) -> list[dict]:
    """Streamed exact solve through dask (threaded scheduler) vs the streamed solve of the same array."""
    try:
        import dask
        import dask.array as da
    except ImportError:
        return [{"case": "dask not installed", "note": 'pip install "kernelreg[dask]"'}]
    from threadpoolctl import threadpool_limits

    N, n = (50_000, 500) if args.quick else (400_000, 1000)
    rng = np.random.default_rng(4)
    Phi = rng.standard_normal((N, n))
    y = Phi[:, :10].sum(axis=1) + rng.standard_normal(N)
    eps = 1.2 * ChunkedSolver(Phi, y, max_memory="256MB").mse_floor
    t_stream, ref = median_time(lambda: solve(Phi, y, eps=eps, max_memory="256MB"), args.repeats)
    Pd = da.from_array(Phi, chunks=(max(1, N // 16), n))
    # same cores: --threads dask workers with one BLAS thread each
    with threadpool_limits(1), dask.config.set(scheduler="threads", num_workers=args.threads):
        t_dask, sol = median_time(lambda: solve(Pd, y, eps=eps), args.repeats)
    return [
        {
            "N x n": f"{N:,} x {n:,}",
            "Phi": gib(N * n * 8),
            "streamed, torch (s)": f"{t_stream:.2f}",
            "dask threads, 16 row chunks (s)": f"{t_dask:.2f}",
            "dask / streamed": f"{t_dask / t_stream:.2f}",
            "passes (both)": f"{ref.info['passes']}, {sol.info['passes']}",
            "coef rel. diff": f"{np.linalg.norm(sol.coef - ref.coef) / np.linalg.norm(ref.coef):.1e}",
        }
    ]


def bench_ooc(args: argparse.Namespace) -> list[dict]:
    """Run the out-of-core case in a child process so its peak resident set is its own."""
    N, n = (200_000, 500) if args.quick else (args.ooc_rows, args.ooc_features)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--ooc-child", f"{N}x{n}", "--threads", str(args.threads),
           "--ooc-dir", args.ooc_dir, "--max-memory", args.max_memory]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return [{"case": f"{N}x{n}", "error": out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode}]
    return [json.loads(out.stdout.strip().splitlines()[-1])]


def ooc_child(shape: str, args: argparse.Namespace) -> None:
    """Export a Phi of the given shape to disk, solve it from the memory map under max_memory, report, delete."""
    N, n = (int(v) for v in shape.split("x"))
    rng = np.random.default_rng(5)
    X = rng.uniform(-1.0, 1.0, (N, 3))
    y = np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) + 0.1 * rng.standard_normal(N)
    fmap = RandomFeatureMap(n, activation="relu", random_state=5, max_memory=args.max_memory).fit(X)
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with tempfile.TemporaryDirectory(dir=args.ooc_dir) as tmp:
        path = Path(tmp) / "phi.npy"
        reset_peak()
        base = peak_rss()
        t_export, _ = once(lambda: fmap.export(X, path))
        export_peak = peak_rss() - base
        Phi = np.load(path, mmap_mode="r")
        reset_peak()
        base = peak_rss()
        start = time.perf_counter()
        spec = ChunkedSolver(Phi, y, max_memory=args.max_memory)  # one pass: Gram, then eigh
        t_factor = time.perf_counter() - start
        eps = spec.mse_floor + 0.1 * (spec.mean_y2 - spec.mse_floor)  # feasible by construction
        start = time.perf_counter()
        sol = spec.solve_eps(eps)  # root-find + one pass for the measured mse
        t_eps = time.perf_counter() - start
        spec_passes = spec.passes
        solve_peak = peak_rss() - base
        size = path.stat().st_size
        del Phi, spec
    record = {
        "N x n": f"{N:,} x {n:,}",
        "Phi on disk": gib(size),
        "RAM": gib(ram),
        "max_memory": args.max_memory,
        "export (s)": f"{t_export:.0f}",
        "export peak RSS growth": gib(export_peak),
        "Gram pass + eigh (s)": f"{t_factor:.0f}",
        "eps root-find + residual pass (s)": f"{t_eps:.0f}",
        "passes": spec_passes,
        "chunk rows": sol.info["chunk"],
        "solve peak RSS growth": gib(solve_peak),
        "Gram GFLOP/s": f"{2.0 * N * n * n / t_factor / 1e9:.0f}",
        "status": sol.status,
        "mse / eps": f"{sol.mse / eps:.12f}",
        "decomposition": sol.info["decomposition"],
    }
    print(json.dumps(record))


# ---------------------------------------------------------------------- driver
def main(argv: list[str] | None = None) -> dict:
    """Run the chosen sections, print markdown tables, save one JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median) after one warm-up")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (export also runs at 1)")
    parser.add_argument("--ooc-rows", type=int, default=2_000_000)
    parser.add_argument("--ooc-features", type=int, default=2000)
    parser.add_argument("--ooc-dir", default=tempfile.gettempdir(), help="folder for the on-disk Phi")
    parser.add_argument("--max-memory", default="2GB", help="budget of the out-of-core export and solve")
    parser.add_argument("--ooc-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS-scale.json")), help="JSON record")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    blas_limit = threadpool_limits(args.threads)  # numpy's BLAS (the CPU Gram's syrk) uses the same thread count
    if args.ooc_child:
        ooc_child(args.ooc_child, args)
        blas_limit.restore_original_limits()
        return {}
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    runners = {"export": bench_export, "cvxpy": bench_cvxpy, "iterative": bench_iterative,
               "growth": bench_growth, "dask": bench_dask, "ooc": bench_ooc}
    payload = {"environment": environment(args), "sections": {}}
    for name in chosen:
        start = time.perf_counter()
        rows = runners[name](args)
        payload["sections"][name] = {"rows": rows, "wall_s": time.perf_counter() - start}
        columns = list(rows[0]) if rows else []
        print(f"\n### {name}  ({payload['sections'][name]['wall_s']:.0f} s)\n")
        print(table(rows, columns), flush=True)
    atomic_write_json(Path(args.out), payload)
    print(f"\nJSON record: {args.out}")
    blas_limit.restore_original_limits()
    return payload


if __name__ == "__main__":
    main()
