"""GPU readiness in one script: the CUDA tests, Φ staying on the device, CPU reloads, and transform + solve timings.

Run it on a machine with a CUDA GPU (``python benchmarks/gpu_check.py``); it does, in order:

1. ``tests`` — the test suite's CUDA tests (``pytest -m "not slow" -k "cuda or gpu"``; they are
   skipped on machines without a GPU, so this is the only place they run);
2. ``resident`` — ``KernelRegimeRegressor(device="cuda").fit``: counts every device → host copy
   (``Tensor.cpu`` / ``.numpy`` / ``.to("cpu")``) of a tensor shaped like Φ; there must be none;
3. ``reload`` — fit a kernel-regime and an adaptive estimator on the GPU, pickle them, load and
   predict in a fresh process with ``CUDA_VISIBLE_DEVICES=""`` (a CPU-only machine);
4. ``timing`` — at N = n in ``--sizes`` (default 20 000 and 50 000; ReLU features of 3-D inputs):
   ``RandomFeatureMap.transform`` against a bare ``torch.relu(torch.addmm(...))`` copied to the
   host, and ``KernelRegimeRegressor(eps=...).fit`` (Φ on the device + the certified exact solve)
   against a bare ``torch.relu(addmm)`` + Gram + ``torch.linalg.eigh`` + one ridge filter. Each
   pair runs interleaved in this process after a warm-up, ``torch.cuda.synchronize`` around every
   timing; the ratio is ours / bare.

The numbers go to the JSON record (``--out``) and a markdown table on stdout, to be pasted into
``benchmarks/RESULTS-scale.md``. No GPU: the script says so and exits with status 3 — nothing is
measured, and no GPU figure may be quoted. ``--device cpu`` runs the same checks on the CPU at
small sizes (the test suite does, to keep this script working).

Usage::

    python benchmarks/gpu_check.py [--sizes 20000,50000] [--sections tests,resident,reload,timing]
                                   [--device cuda] [--out gpu_check.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import kernelreg
from kernelreg import AdaptiveRegressor, KernelRegimeRegressor
from kernelreg.bench import atomic_write_json
from kernelreg.features import RandomFeatureMap

SECTIONS = ("tests", "resident", "reload", "timing")
REPO = Path(__file__).resolve().parents[1]


def sync(device: torch.device) -> None:
    """Wait for queued kernels, so a wall-clock time covers the work and not only its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Wall seconds of one call, synchronised on the device."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def data(n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """3-D inputs in the unit ball's box and a smooth target with noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 3))
    y = np.sin(3.0 * X[:, 0]) * np.cos(2.0 * X[:, 1]) + 0.1 * rng.standard_normal(n_samples)
    return X, y


def check_tests(args: argparse.Namespace) -> dict:
    """The CUDA tests of the suite, run where they are not skipped."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-m", "not slow", "-k", "cuda or gpu", str(REPO / "tests")]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3000)
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    return {"ok": done.returncode == 0, "summary": tail, "command": " ".join(cmd[2:])}


def check_resident(args: argparse.Namespace) -> dict:
    """Φ of one fit never copied to the host: every device → host copy of a Φ-shaped tensor is counted."""
    device = torch.device(args.device)
    n_samples, n_features = 2000, 1500
    X, y = data(n_samples)
    copies: list[str] = []
    originals = {"cpu": torch.Tensor.cpu, "numpy": torch.Tensor.numpy, "to": torch.Tensor.to}

    def watch(name: str) -> Callable:
        original = originals[name]

        def wrapper(self: torch.Tensor, *a: Any, **k: Any) -> Any:
            out = original(self, *a, **k)
            leaves = name in ("cpu", "numpy") or (isinstance(out, torch.Tensor) and out.device != self.device)
            if leaves and self.device.type != "cpu" and tuple(self.shape) == (n_samples, n_features):
                copies.append(name)
            return out

        return wrapper

    for name in originals:
        setattr(torch.Tensor, name, watch(name))
    try:
        model = KernelRegimeRegressor(n_features, eps=0.02, device=device, random_state=0).fit(X, y)
    finally:
        for name, fn in originals.items():
            setattr(torch.Tensor, name, fn)
    r2 = model.score(X, y)
    return {"ok": not copies or device.type == "cpu", "phi_host_copies": len(copies), "device_": str(model.device_),
            "status": model.solution_.status, "train_r2": r2}


def check_reload(args: argparse.Namespace) -> dict:
    """Fit on the device, pickle, load and predict in a process that sees no GPU."""
    X, y = data(500)
    models = [KernelRegimeRegressor(300, eps=0.02, device=args.device, random_state=0).fit(X, y),
              AdaptiveRegressor((32,), max_epochs=20, device=args.device, random_state=0).fit(X, y)]
    expected = np.stack([m.predict(X) for m in models])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "models.pkl").write_bytes(pickle.dumps(models))
        np.save(tmp / "X.npy", X)
        code = (
            "import pickle, warnings, numpy as np\n"
            "with warnings.catch_warnings():\n"
            "    warnings.simplefilter('ignore')\n"
            f"    models = pickle.loads(open({str(tmp / 'models.pkl')!r}, 'rb').read())\n"
            f"X = np.load({str(tmp / 'X.npy')!r})\n"
            f"np.save({str(tmp / 'out.npy')!r}, np.stack([m.predict(X) for m in models]))\n"
        )
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return {"ok": False, "error": done.stderr[-1000:]}
        got = np.load(tmp / "out.npy")
    diff = float(np.max(np.abs(got - expected)))
    return {"ok": diff <= 1e-8 * max(1.0, float(np.max(np.abs(expected)))), "max_abs_diff": diff}


def bare_relu(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The baseline feature computation: one fused addmm and a ReLU."""
    return torch.relu(torch.addmm(-b, X, W))


def bare_fit(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """The baseline solve: Φ, its Gram, one eigh, one ridge filter (no validation, no certificate, no root find)."""
    Phi = bare_relu(X, W, b)
    evals, U = torch.linalg.eigh(Phi @ Phi.T)
    alpha = U @ ((U.T @ y) / (evals + lam))
    return Phi.T @ alpha


def time_size(size: int, args: argparse.Namespace) -> list[dict]:
    """Transform and fit at N = n = size, ours against bare torch, interleaved."""
    device = torch.device(args.device)
    Xn, yn = data(size, seed=size)
    fmap = RandomFeatureMap(size, device=device, random_state=0).fit(Xn)
    W = torch.as_tensor(fmap.directions_, dtype=torch.float64, device=device).T.contiguous()
    b = torch.as_tensor(fmap.offsets_, dtype=torch.float64, device=device)
    X = torch.as_tensor(Xn, device=device)
    y = torch.as_tensor(yn, device=device)
    eps = 0.02  # twice the noise variance: feasible at every size
    pairs = {
        "transform (Φ to host numpy)": (lambda: fmap.transform(Xn), lambda: bare_relu(X, W, b).cpu().numpy()),
        "fit (Φ + certified exact solve)": (
            lambda: KernelRegimeRegressor(size, eps=eps, device=device, random_state=0).fit(Xn, yn),
            lambda: bare_fit(X, W, b, y, 1e-3),
        ),
    }
    rows = []
    for label, (ours, bare) in pairs.items():
        ours(), bare()  # warm-up: kernels, allocator, lazy imports
        times: dict[str, list[float]] = {"ours": [], "bare": []}
        for r in range(args.repeats):
            order = (("ours", ours), ("bare", bare)) if r % 2 == 0 else (("bare", bare), ("ours", ours))
            for name, fn in order:
                times[name].append(timed(fn, device))
                if device.type == "cuda":
                    torch.cuda.empty_cache()
        med = {k: float(np.median(v)) for k, v in times.items()}
        rows.append({"size": size, "what": label, "ours_s": med["ours"], "bare_s": med["bare"],
                     "ratio": med["ours"] / med["bare"]})
        print(f"  N = n = {size}: {label}: ours {med['ours']:.3f} s, bare {med['bare']:.3f} s, "
              f"ratio {med['ours'] / med['bare']:.2f}", flush=True)
    return rows


def check_timing(args: argparse.Namespace) -> dict:
    """Every size of ``--sizes``; the table is printed as markdown."""
    rows = [row for size in args.sizes for row in time_size(size, args)]
    return {"ok": True, "rows": rows}


def environment(device: torch.device) -> dict:
    """What the numbers were measured on."""
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {"device": str(device), "gpu": gpu, "torch": torch.__version__, "cuda": torch.version.cuda,
            "kernelreg": kernelreg.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections; exit 0 when all pass, 1 when one fails, 3 when there is no GPU to check."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (a dry run of the script)")
    parser.add_argument("--sizes", default="20000,50000", help="comma list of N = n for the timing section")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="gpu_check.json")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    args.sizes = [int(v) for v in args.sizes.split(",") if v.strip()]
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU on this machine: nothing measured (do not quote GPU figures).", file=sys.stderr)
        return 3
    checks = {"tests": check_tests, "resident": check_resident, "reload": check_reload, "timing": check_timing}
    record: dict[str, Any] = {"environment": environment(device), "sections": {}}
    for name in chosen:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        result = checks[name](args)
        result["wall_s"] = time.perf_counter() - start
        record["sections"][name] = result
        print(json.dumps({k: v for k, v in result.items() if k != "rows"}, default=str), flush=True)
    if "timing" in record["sections"]:
        print("\n| N = n | what | ours (s) | bare torch (s) | ours / bare |\n|---|---|---|---|---|")
        for row in record["sections"]["timing"]["rows"]:
            print(f"| {row['size']} | {row['what']} | {row['ours_s']:.3f} | {row['bare_s']:.3f} | {row['ratio']:.2f} |")
    atomic_write_json(Path(args.out), record)
    return 0 if all(r.get("ok") for r in record["sections"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
