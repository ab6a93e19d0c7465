"""What does a Rowdy (or L-LAAF) activation cost over the fixed activation, per training step?

Measured by **interleaved CPU time** in one process: every round runs one block of full-batch Adam
steps of each variant (the order rotates from round to round), each block timed with
``time.process_time`` (CPU seconds of this process, so other processes on a shared machine do
not count), torch on one thread. Each block starts with one untimed step: the first step after
another variant ran pays for fresh memory pages (page faults, counted as system CPU time), which
a training run pays once. The ratio is median(variant) / median(fixed) over the rounds.

Variants, all on the same data and the same initial linear weights:

* ``fixed``            the base activation;
* ``l-laaf``           :class:`kernelreg.layers.LAAF` (one trainable slope per layer, n = 10);
* ``rowdy3/6/9``       :class:`kernelreg.layers.RowdyActivation` with K = 3, 6, 9 terms (n = 10);
* ``rowdy9-unfused``   the same Rowdy9 formula written as plain autograd on the stacked branches
                       (the implementation before the fused branch function), for the speed-up;
* ``rowdy3/9-compiled`` ``RowdyActivation(compile=True)``: the branches as two ``torch.compile``
                       kernels (opt-in; skipped with ``--no-compile``). Their compile time is
                       measured separately (the first step of each) and is not in the ratio.

Setups:

* ``paper``  the Rowdy paper's discontinuous-function network: 1 hidden layer of 40, cos base,
             5 training points on [-3, 3] (Table 1: fixed 1, L-LAAF 1.12, Rowdy3 1.26,
             Rowdy6 1.58, Rowdy9 1.75; TF1 on their hardware);
* ``large``  3 hidden layers of 200, tanh base, 2000 points on [-1, 1] (target: Rowdy <= 2x);
* ``large-f32`` the same network in float32 (the usual training precision; every variant in float32).

The training loop's own wall-clock cost over a bare loop is ``benchmarks/training_overhead.py``;
Rowdy's cost is measured only here.

Usage::

    python benchmarks/rowdy_overhead.py [--quick] [--rounds 9] [--threads 1] [--no-compile] [--setup NAME ...]
                                        [--out rowdy_overhead.json]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from kernelreg import activations
from kernelreg.bench import atomic_write_json
from kernelreg.layers import LAAF, RowdyActivation

PAPER = {"fixed": 1.0, "l-laaf": 1.12, "rowdy3": 1.26, "rowdy6": 1.58, "rowdy9": 1.75}
SETUPS = {
    "paper": dict(width=40, depth=1, n_points=5, low=-3.0, high=3.0, base="cos", steps=200),
    "large": dict(width=200, depth=3, n_points=2000, low=-1.0, high=1.0, base="tanh", steps=5),
    "large-f32": dict(width=200, depth=3, n_points=2000, low=-1.0, high=1.0, base="tanh", steps=5, dtype="float32"),
}


class Fixed(nn.Module):
    """The base activation as a module."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.act = activations.get(base)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.act(z)


class UnfusedRowdy(RowdyActivation):
    """Rowdy with the branches as plain autograd ops on the stacked (..., K-1) tensor (the old forward)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        omega = self.effective_omega().to(z.dtype)
        out = self.base(z * omega[..., 0])
        return out + self.n * (self._waves(z, omega) * self.alpha.to(z.dtype)).sum(dim=-1)


def target(x: torch.Tensor) -> torch.Tensor:
    """The Rowdy paper's discontinuous function: 0.2 sin(6x) for x < 0, 1 + 0.1 x cos(14x) otherwise."""
    return torch.where(x < 0, 0.2 * torch.sin(6 * x), 1 + 0.1 * x * torch.cos(14 * x))


def build(setup: dict, make_act, seed: int = 0) -> nn.Sequential:
    """depth x width MLP with the given activation factory; linear weights from a fixed local seed."""
    gen = torch.Generator().manual_seed(seed)
    layers, fan_in = [], 1
    for _ in range(setup["depth"]):
        layers += [_linear(fan_in, setup["width"], gen), make_act()]
        fan_in = setup["width"]
    layers.append(_linear(fan_in, 1, gen))
    return nn.Sequential(*layers).to(getattr(torch, setup.get("dtype", "float64")))


def _linear(fan_in: int, fan_out: int, gen: torch.Generator) -> nn.Linear:
    """nn.Linear with N(0, 1/fan_in) weights and zero bias, drawn from ``gen``."""
    layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(fan_out, fan_in, generator=gen, dtype=torch.float64) / fan_in**0.5)
        layer.bias.zero_()
    return layer


def variants(base: str, compiled: bool) -> dict:
    """Activation factories by variant name."""
    out = {
        "fixed": lambda: Fixed(base),
        "l-laaf": lambda: LAAF(base, n=10.0),
        "rowdy3": lambda: RowdyActivation(base, K=3, n=10.0),
        "rowdy6": lambda: RowdyActivation(base, K=6, n=10.0),
        "rowdy9": lambda: RowdyActivation(base, K=9, n=10.0),
        "rowdy9-unfused": lambda: UnfusedRowdy(base, K=9, n=10.0),
    }
    if compiled:
        out["rowdy3-compiled"] = lambda: RowdyActivation(base, K=3, n=10.0, compile=True)
        out["rowdy9-compiled"] = lambda: RowdyActivation(base, K=9, n=10.0, compile=True)
    return out


def measure(setup: dict, rounds: int, compiled: bool = True) -> tuple[dict, dict]:
    """Median CPU seconds per step of each variant (blocks interleaved, rotating order), and the compile times."""
    dtype = getattr(torch, setup.get("dtype", "float64"))
    x = torch.linspace(setup["low"], setup["high"], setup["n_points"], dtype=dtype)[:, None]
    y = target(x)
    runs = {}
    compile_s = {}
    for name, make in variants(setup["base"], compiled).items():
        net = build(setup, make)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        if name.endswith("-compiled"):  # the first step compiles: wall time, outside the ratio
            start = time.perf_counter()
            loss = torch.mean((net(x) - y) ** 2)
            loss.backward()
            compile_s[name] = time.perf_counter() - start
            opt.zero_grad(set_to_none=True)
        runs[name] = (net, opt)

    def step(net: nn.Module, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((net(x) - y) ** 2)
        loss.backward()
        opt.step()

    def block(name: str) -> float:
        net, opt = runs[name]
        step(net, opt)  # untimed: the first step after another variant pays for fresh memory pages
        start = time.process_time()
        for _ in range(setup["steps"]):
            step(net, opt)
        return (time.process_time() - start) / setup["steps"]

    names = list(runs)
    for name in names:  # warm-up
        block(name)
    times = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            times[name].append(block(name))
    return {name: statistics.median(values) for name, values in times.items()}, compile_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds and a tenth of the steps")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    parser.add_argument("--setup", action="append", choices=list(SETUPS), help="only these setups (repeatable)")
    parser.add_argument("--out", type=Path, default=None, help="write the records as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rounds = 3 if args.quick else args.rounds
    records = []
    for setup_name, setup in SETUPS.items():
        if args.setup and setup_name not in args.setup:
            continue
        setup = dict(setup)
        if args.quick:
            setup["steps"] = max(1, setup["steps"] // 10)
        medians, compile_s = measure(setup, rounds, compiled=not args.no_compile and setup_name != "paper")
        fixed = medians["fixed"]
        print(f"\n{setup_name}: {setup['depth']}x{setup['width']} {setup['base']}, {setup['n_points']} points, "
              f"{setup.get('dtype', 'float64')}, {setup['steps']} steps per block, {rounds} rounds, "
              f"fixed step {1e3 * fixed:.3f} ms CPU")
        for name, seconds in compile_s.items():
            print(f"{name}: first step (compiles) {seconds:.1f} s wall")
        print(f"{'variant':>16} {'ms/step':>9} {'ratio':>7} {'paper':>7}")
        for name, seconds in medians.items():
            paper = PAPER.get(name) if setup_name == "paper" else None
            print(f"{name:>16} {1e3 * seconds:9.3f} {seconds / fixed:7.2f} {'' if paper is None else f'{paper:7.2f}'}")
            records.append({"setup": setup_name, "variant": name, "cpu_s_per_step": seconds,
                            "ratio_to_fixed": seconds / fixed, "paper_ratio": paper,
                            "compile_s": compile_s.get(name), **setup})
    meta = {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": args.threads,
            "dtype": "float64 (large-f32: float32)", "device": "cpu", "rounds": rounds, "clock": "time.process_time"}
    if args.out is not None:
        atomic_write_json(args.out, {"meta": meta, "records": records})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
