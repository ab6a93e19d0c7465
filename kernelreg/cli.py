"""The ``kernelreg`` command: ``kernelreg demo``, ``kernelreg bench list`` and ``kernelreg bench run SUITE``.

Usage errors (a bad option, an unknown suite, an unavailable device) print one line on stderr and
exit with status 2, without a traceback; ``--help`` and ``--version`` answer without importing torch.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

__all__ = ["main"]

_DESCRIPTION = """\
Shallow networks in the kernel regime and the adaptive regime: frozen random
hidden layers, min-norm output layers, gradient descent compared with the
convex solution."""
_EPILOG = """examples:
  kernelreg demo                            fit a 1-D target and two moons, compare the solvers
  kernelreg bench list                      the benchmark suites
  kernelreg bench run gd-vs-convex --quick  a small run of one suite into bench-out/gd-vs-convex/"""

_SEED_RANGE = "an integer in [0, 4294967295] (0 to 2**32 - 1, the seeds numpy and scikit-learn accept)"
_DEVICE_RE = re.compile(r"^(cpu|auto|cuda(:\d+)?)$")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``kernelreg bench run: error: ... (see --help)``, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _seed(text: str) -> int:
    """``--seed``: an integer in [0, 2**32); anything else is a usage error (exit 2), never silently reduced."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {_SEED_RANGE}; got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be {_SEED_RANGE}; got {value}")
    return value


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer >= minimum, else a usage error saying ``must be <what>``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}; got {value}")
        return value

    return parse


#: ``--threads``: a positive integer; ``--budget``: a non-negative number of steps.
_threads = _int_at_least(1, "a positive integer")
_budget = _int_at_least(0, "a non-negative integer (steps)")


def _device(text: str) -> str:
    """``--device``: 'cpu', 'cuda', 'cuda:N' or 'auto' (whether CUDA is there is checked when the command runs)."""
    value = text.strip().lower()
    if not _DEVICE_RE.match(value):
        raise argparse.ArgumentTypeError(f"device={text!r} is not one of cpu, cuda, cuda:N, auto")
    return value


def _version() -> str:
    """The package version, read without importing the numerical stack."""
    from kernelreg import __version__

    return f"kernelreg {__version__}"


def _build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(prog="kernelreg", description=_DESCRIPTION, epilog=_EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,bench}")
    demo = sub.add_parser("demo", help="run the built-in demo on synthetic data (about 10 s on a CPU)",
                          description="Fit a 1-D target in the kernel regime with four activations, compare "
                                      "GD / Adam / CG with the exact min-norm solution, classify two moons.")
    demo.add_argument("--device", type=_device, default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    demo.add_argument("--seed", type=_seed, default=0, help="seed of every draw, in [0, 2**32) (default: 0)")

    bench = sub.add_parser("bench", help="benchmark suites that rerun the seed papers' headline experiments",
                           description="Benchmark suites that rerun the seed papers' headline experiments.")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="{list,run}")
    bench_sub.add_parser("list", help="list the suites", description="List the benchmark suites.")
    run = bench_sub.add_parser("run", help="run one suite into OUT/SUITE (finished cells are reused)",
                               description="Run one suite into OUT/SUITE; finished cells are kept, so an "
                                           "interrupted run resumes where it stopped.")
    run.add_argument("suite", help="suite name (kernelreg bench list shows them)")
    run.add_argument("--quick", action="store_true", help="small settings: well under a minute on 2 CPU cores")
    run.add_argument("--out", default="bench-out", help="output root (default: bench-out, git-ignored)")
    run.add_argument("--device", type=_device, default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    run.add_argument("--seed", type=_seed, default=0, help="base seed of every draw, in [0, 2**32) (default: 0)")
    run.add_argument("--threads", type=_threads, default=1, help="torch threads during the run (default: 1)")
    run.add_argument("--budget", type=_budget, default=None,
                     help="step budget of suites that train to a target (gd-vs-convex: Adam steps)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _fail(command: str, message: str, status: int = 2) -> int:
    """Print one line ``kernelreg <command>: <message>`` on stderr and return the exit status."""
    print(f"kernelreg {command}: {message}", file=sys.stderr)
    return status


def _demo(args: argparse.Namespace) -> int:
    """``kernelreg demo``."""
    from kernelreg._torch import resolve_device
    from kernelreg.exceptions import DeviceError

    try:
        resolve_device(args.device)
    except DeviceError as exc:
        return _fail("demo", str(exc))
    from kernelreg.demo import run

    run(device=args.device, seed=args.seed)
    return 0


def _bench(args: argparse.Namespace) -> int:
    """``kernelreg bench list`` / ``kernelreg bench run``."""
    from kernelreg import bench

    if args.bench_command == "list":
        width = max(len(name) for name in bench.available())
        for name in bench.available():
            print(f"{name:<{width}}  {bench.SUITES[name].summary}")
        return 0
    if args.suite not in bench.SUITES:
        try:
            bench.get_suite(args.suite)
        except ValueError as exc:
            return _fail("bench run", str(exc))
    from kernelreg.exceptions import DeviceError

    try:
        overrides = {"budget": args.budget} if args.budget is not None else None
        summary = bench.run_suite(args.suite, args.out, quick=args.quick, device=args.device, seed=args.seed,
                                  progress=not args.no_progress, threads=args.threads, overrides=overrides)
    except (DeviceError, ValueError) as exc:
        return _fail("bench run", str(exc))
    except OSError as exc:  # e.g. --out in a read-only place
        return _fail("bench run", f"cannot write the results under {args.out!r}: {exc}", 1)
    except KeyboardInterrupt as exc:
        detail = str(exc) or "interrupted; finished cells are saved, rerun the same command to resume."
        return _fail("bench run", detail, 130)
    print(f"{args.suite}: {len(summary.computed)} cells computed, {len(summary.reused)} reused, "
          f"{len(summary.failed)} failed, {summary.time_s:.1f} s")
    print(f"report: {summary.report_path}")
    if summary.figures_note:
        print(summary.figures_note)
    return 1 if summary.failed else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kernelreg`` console script; returns the exit status.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 when a benchmark cell failed or the output folder cannot be written, 2 for
        a usage error (bad option, unknown suite, unavailable device; one line on stderr), 130
        when interrupted (Ctrl-C: one line on stderr, no traceback).
    """
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors: argparse has printed; return its status
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.command == "demo":
            return _demo(args)
        return _bench(args)
    except KeyboardInterrupt:  # e.g. while importing torch, before a run started
        return _fail(args.command, "interrupted.", 130)


if __name__ == "__main__":
    sys.exit(main())
