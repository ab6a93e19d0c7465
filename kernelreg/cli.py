"""The ``kernelreg`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kernelreg`` console script."""
    parser = argparse.ArgumentParser(prog="kernelreg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the built-in demo on synthetic data")
    demo.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    demo.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from kernelreg.demo import run

        run(device=args.device, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
