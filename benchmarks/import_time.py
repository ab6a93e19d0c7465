"""What does importing kernelreg cost on top of torch + numpy + scikit-learn, and which modules does it load?

Each case runs in a fresh interpreter (``python -c``), interleaved case by case so machine load hits
all of them alike, ``--repeats`` times; the import itself is timed inside the interpreter with
``time.perf_counter`` (interpreter start-up excluded) and the median is reported:

* ``baseline``  ``import torch, numpy, sklearn`` (what any kernelreg user pays anyway);
* ``import``    ``import kernelreg`` (public names load on first use, PEP 562);
* ``estimator`` ``from kernelreg import KernelRegimeRegressor, solve`` (the first real use: estimators,
                features, solvers, training, layers);
* ``increment`` ``import torch, numpy, sklearn`` first, then ``from kernelreg import
                KernelRegimeRegressor, solve`` timed alone: kernelreg's own cost, measured in one process
                (the most robust number on a loaded machine; its process CPU time, which waiting for a
                core does not inflate, is reported beside the wall time).

Costs over the baseline are medians of paired differences (each repeat runs the cases back to
back), and the difference of the fastest runs.

Target (issue 14): kernelreg costs at most 0.5 s over the baseline. The script also lists which heavy
optional packages (cvxpy, matplotlib, dask, mpmath, the bench package) are loaded after the first
real use (they should load only when a feature needs them), and the slowest kernelreg-added modules
of ``python -X importtime``.

Usage::

    python benchmarks/import_time.py [--repeats 7] [--out import_time.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "import torch, numpy, sklearn"
FIRST_USE = "from kernelreg import KernelRegimeRegressor, solve"
HEAVY = ("cvxpy", "matplotlib", "dask", "mpmath", "pandas", "kernelreg.bench")

_TIMED = """
import json, sys, time
{pre}
t0, c0 = time.perf_counter(), time.process_time()
{stmt}
t1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({{"s": t1 - t0, "cpu_s": c1 - c0, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""

CASES = {
    "baseline": ("", BASELINE),
    "import": ("", "import kernelreg"),
    "estimator": ("", FIRST_USE),
    "increment": (BASELINE, FIRST_USE),
}


def _env() -> dict:
    """The environment of every child: this checkout first on the path, one thread (as the tests run)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _run(pre: str, stmt: str) -> dict:
    """One fresh interpreter: the seconds ``stmt`` took after ``pre``, and the heavy modules loaded then."""
    code = _TIMED.format(pre=pre, stmt=stmt, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd="/",
                          check=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _importtime_top(n: int = 12) -> list[dict]:
    """The slowest modules (self time) that the first use of kernelreg adds to the baseline, by ``-X importtime``."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"{BASELINE}\n{FIRST_USE}"], capture_output=True,
                          text=True, env=_env(), cwd="/", check=True, timeout=600)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line.split(":", 1)[1].split("|")
        rows.append({"module": name.strip(), "depth": (len(name) - len(name.lstrip())) // 2,
                     "self_ms": int(self_us) / 1e3, "cumulative_ms": int(cumulative_us) / 1e3})
    # the baseline's modules come first; the first use's start after the last top-level baseline import
    last_baseline = max(i for i, r in enumerate(rows)
                        if r["module"] in ("torch", "numpy", "sklearn") and r["depth"] == 0)
    added = rows[last_baseline + 1:]
    return sorted(added, key=lambda r: -r["self_ms"])[:n] + [
        {"module": "(all added)", "self_ms": sum(r["self_ms"] for r in added)}]


def main(argv: list[str] | None = None) -> dict:
    """Measure, print a summary and write the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", default="import_time.json")
    args = parser.parse_args(argv)

    times: dict[str, list[float]] = {name: [] for name in CASES}
    cpu: dict[str, list[float]] = {name: [] for name in CASES}
    heavy: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for name, (pre, stmt) in CASES.items():
            result = _run(pre, stmt)
            times[name].append(result["s"])
            cpu[name].append(result["cpu_s"])
            heavy[name] = result["heavy"]
    median = {name: statistics.median(values) for name, values in times.items()}

    def paired(name: str) -> float:
        """Median over repeats of (case - baseline), each pair run back to back: robust to slow drifts in load."""
        return statistics.median(a - b for a, b in zip(times[name], times["baseline"]))

    summary = {
        "import_over_baseline_s": paired("import"),
        "first_use_over_baseline_s": paired("estimator"),
        "first_use_over_baseline_min_s": min(times["estimator"]) - min(times["baseline"]),
        "first_use_increment_s": median["increment"],
        "first_use_increment_cpu_s": statistics.median(cpu["increment"]),
        "target_s": 0.5,
    }
    top = _importtime_top()
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    payload = {
        "median_s": median,
        "times_s": times,
        "cpu_s": cpu,
        "summary": summary,
        "heavy_modules_loaded": heavy,
        "importtime_top": top,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": list(load) if load else None,
    }
    Path(args.out).write_text(json.dumps(payload, indent=1) + "\n")

    print(f"median of {args.repeats} fresh interpreters (import only, start-up excluded), load {load}:")
    for name, (pre, stmt) in CASES.items():
        shown = f"{pre}; then timed: {stmt}" if pre else stmt
        print(f"  {name:<10} {median[name]:7.3f} s   {shown}   heavy loaded: {heavy[name] or 'none'}")
    print(f"over the baseline (median of paired differences): import kernelreg "
          f"{summary['import_over_baseline_s']:+.3f} s; first use (estimators + solvers) "
          f"{summary['first_use_over_baseline_s']:+.3f} s (fastest runs: "
          f"{summary['first_use_over_baseline_min_s']:+.3f} s; timed inside one process: "
          f"{summary['first_use_increment_s']:.3f} s wall, {summary['first_use_increment_cpu_s']:.3f} s process CPU "
          "time); target <= 0.5 s")
    print("slowest modules the first use adds (self time, -X importtime, one run):")
    for row in top:
        print(f"  {row['self_ms']:8.1f} ms  {row['module']}")
    return payload


if __name__ == "__main__":
    main()
