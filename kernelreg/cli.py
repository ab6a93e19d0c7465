"""The ``kernelreg`` command: ``kernelreg demo``, ``kernelreg bench list`` and ``kernelreg bench run SUITE``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]

_SEED_RANGE = "an integer in [0, 4294967295] (0 to 2**32 - 1, the seeds numpy and scikit-learn accept)"


def _seed(text: str) -> int:
    """``--seed``: an integer in [0, 2**32); anything else is a usage error (exit 2), never silently reduced."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {_SEED_RANGE}; got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be {_SEED_RANGE}; got {value}")
    return value


def _budget(text: str) -> int:
    """``--budget``: a non-negative integer number of steps."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer (steps); got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer (steps); got {value}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="kernelreg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the built-in demo on synthetic data")
    demo.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    demo.add_argument("--seed", type=_seed, default=0, help="seed of every draw, in [0, 2**32)")

    bench = sub.add_parser("bench", help="benchmark suites that rerun the seed papers' headline experiments")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    bench_sub.add_parser("list", help="list the suites")
    run = bench_sub.add_parser("run", help="run one suite into OUT/SUITE (finished cells are reused)")
    run.add_argument("suite", help="suite name (see `kernelreg bench list`)")
    run.add_argument("--quick", action="store_true", help="small settings: well under a minute on 2 CPU cores")
    run.add_argument("--out", default="bench-out", help="output root (default: bench-out, git-ignored)")
    run.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    run.add_argument("--seed", type=_seed, default=0, help="base seed of every draw, in [0, 2**32)")
    run.add_argument("--threads", type=int, default=1, help="torch threads during the run (default 1)")
    run.add_argument("--budget", type=_budget, default=None,
                     help="step budget of suites that train to a target (gd-vs-convex: Adam steps)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


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
            print(f"kernelreg bench run: {exc}", file=sys.stderr)
            return 2
    from kernelreg.exceptions import DeviceError

    try:
        overrides = {"budget": args.budget} if args.budget is not None else None
        summary = bench.run_suite(args.suite, args.out, quick=args.quick, device=args.device, seed=args.seed,
                                  progress=not args.no_progress, threads=args.threads, overrides=overrides)
    except (DeviceError, ValueError) as exc:
        print(f"kernelreg bench run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        detail = str(exc) or "interrupted; finished cells are saved, rerun the same command to resume."
        print(f"kernelreg bench run: {detail}", file=sys.stderr)
        return 130
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
        0 on success, 1 when a benchmark cell failed, 2 for an unknown suite, device or bad option, 130
        when interrupted (Ctrl-C: one line on stderr, no traceback).
    """
    args = _build_parser().parse_args(argv)
    try:
        if args.command == "demo":
            from kernelreg.demo import run

            run(device=args.device, seed=args.seed)
            return 0
        return _bench(args)
    except KeyboardInterrupt:  # e.g. while importing torch, before a run started
        print(f"kernelreg {args.command}: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
