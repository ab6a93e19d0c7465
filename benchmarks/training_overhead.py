"""How much does kernelreg's training loop cost over a bare torch loop?

The same MLP (same initial weights, same data, Adam) is trained by

* ``ours``        ``kernelreg.training.train`` (validation of the data, best-state tracking,
                  history, NaN checks, callbacks machinery, all included), and
* ``bare``        a hand-written loop: ``zero_grad / mse / backward / step`` plus ``loss.item()``
                  per step (every real loop logs its loss); mini-batches by ``randperm`` and
                  ``index_select`` (no DataLoader);
* ``bare-nosync`` the same without ``loss.item()`` (the absolute floor; on a GPU it never syncs).

Cases: 200 full-batch steps on 100 points (the Rowdy paper's high-frequency setup, 3x50 tanh),
200 full-batch steps on 10,000 points, and one mini-batch epoch (20,000 points, batch 128). The
ratio is median(ours) / median(bare) over --repeats runs after one warm-up; target <= 1.5.

What a Rowdy or L-LAAF activation costs over a fixed one is measured in one place only:
``benchmarks/rowdy_overhead.py`` (interleaved CPU time in one process).

Usage::

    python benchmarks/training_overhead.py [--quick] [--device cpu|cuda|auto] [--dtype float64]
                                           [--repeats 7] [--threads 1] [--out training_overhead.json]
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import torch
from torch import nn

import kernelreg
from kernelreg.bench import atomic_write_json
from kernelreg._torch import resolve_device, resolve_dtype
from kernelreg.networks import MLP
from kernelreg.training import train



def _sync(device: torch.device) -> None:
    """Wait for queued GPU work so the timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fns: dict, repeats: int, device: torch.device, warmup: int = 1) -> dict:
    """Median wall time of each fn over `repeats` rounds after `warmup` untimed rounds.

    The functions run interleaved (one of each per round), so drift in machine load hits all of
    them alike instead of biasing whichever ran last.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def bare_loop(model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int, lr: float,
              batch_size: int | None, gen: torch.Generator, sync: bool) -> list[float]:
    """The hand-written baseline: Adam, MSE, full batch or randperm mini-batches, optional loss.item()."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    n = X.shape[0]
    if batch_size is None:
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(X), y)
            loss.backward()
            opt.step()
            if sync:
                losses.append(loss.item())
        return losses
    for _ in range(steps):  # steps = epochs here
        total = 0.0
        for idx in torch.randperm(n, generator=gen).to(X.device).split(batch_size):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(X.index_select(0, idx)), y.index_select(0, idx))
            loss.backward()
            opt.step()
            if sync:
                total += loss.item() * idx.shape[0]
        losses.append(total / n)
    return losses


def overhead_case(name: str, n: int, steps: int, batch_size: int | None, args, device, dtype) -> dict:
    """Time ours vs bare vs bare-nosync on one (data size, steps, batch) case."""
    rs = np.random.RandomState(args.seed)
    X = torch.as_tensor(rs.uniform(-1.0, 1.0, (n, 1)), dtype=dtype, device=device)
    y = torch.sin(3.0 * math.pi * X)
    net = MLP(1, [50, 50, 50], 1, activation="tanh", random_state=args.seed, dtype=dtype, device=device)
    lr = 1e-3

    def ours():
        model = copy.deepcopy(net)
        if batch_size is None:
            train(model, X, y, lr=lr, max_epochs=steps)
        else:
            train(model, X, y, lr=lr, max_epochs=steps, batch_size=batch_size, random_state=0)

    def bare(sync: bool):
        def run():
            model = copy.deepcopy(net)
            bare_loop(model, X, y, steps, lr, batch_size, torch.Generator().manual_seed(0), sync)
        return run

    t = timed({"ours": ours, "bare": bare(True), "nosync": bare(False)}, args.repeats, device)
    t_ours, t_bare, t_nosync = t["ours"], t["bare"], t["nosync"]
    n_steps = steps if batch_size is None else steps * math.ceil(n / batch_size)
    return {
        "case": name, "n_samples": n, "batch_size": batch_size, "epochs": steps if batch_size else None,
        "optimizer_steps": n_steps, "ours_s": t_ours, "bare_s": t_bare, "bare_nosync_s": t_nosync,
        "ratio_vs_bare": t_ours / t_bare, "ratio_vs_bare_nosync": t_ours / t_nosync,
        "us_per_step_ours": 1e6 * t_ours / n_steps, "us_per_step_bare": 1e6 * t_bare / n_steps,
    }


def machine_info(device: torch.device) -> dict:
    """Versions and hardware saved with every record."""
    info = {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "kernelreg": getattr(kernelreg, "__version__", "?"), "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def main(argv: list[str] | None = None) -> dict:
    """Parse arguments, time the cases, print a markdown table and save the JSON record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (~20 s on a CPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200, help="full-batch steps of the full-batch cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: stable timings on a shared machine; 0: torch's default)")
    parser.add_argument("--out", default="training_overhead.json", help="JSON output path")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.steps = 3, 100
    device, dtype = resolve_device(args.device), resolve_dtype(args.dtype)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    cases = [("full batch, 100 pts", 100, args.steps, None),
             ("full batch, 10k pts", 10_000, args.steps, None),
             ("mini-batch epoch, 20k pts / 128", 20_000, 1, 128)]
    if args.quick:
        cases[1] = ("full batch, 2k pts", 2_000, args.steps, None)
        cases[2] = ("mini-batch epoch, 5k pts / 128", 5_000, 1, 128)
    overhead = [overhead_case(name, n, steps, bs, args, device, dtype) for name, n, steps, bs in cases]

    print(f"\n## Loop overhead ({device}, {args.dtype}, 3x50 tanh MLP, Adam; median of {args.repeats} after warm-up)\n")
    print("| case | steps | ours (s) | bare (s) | bare no .item() (s) | ours/bare | ours/bare-nosync | µs/step ours | µs/step bare |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in overhead:
        print(f"| {r['case']} | {r['optimizer_steps']} | {r['ours_s']:.4f} | {r['bare_s']:.4f} | "
              f"{r['bare_nosync_s']:.4f} | **{r['ratio_vs_bare']:.2f}** | {r['ratio_vs_bare_nosync']:.2f} | "
              f"{r['us_per_step_ours']:.0f} | {r['us_per_step_bare']:.0f} |")

    payload = {
        "benchmark": "training_overhead",
        "machine": machine_info(device),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "dtype": args.dtype,
        "loop_overhead": overhead,
        "target_ratio": 1.5,
    }
    atomic_write_json(Path(args.out), payload)
    print(f"\nwrote {args.out}")
    return payload


if __name__ == "__main__":
    main()
