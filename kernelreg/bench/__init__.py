"""Benchmark suites that rerun each seed paper's headline experiment, and the runner behind ``kernelreg bench``.

``available()`` lists the suites, ``get_suite(name)`` returns one, and ``run_suite(name, out,
quick=..., device=..., seed=...)`` runs it into ``out/<name>/`` (cells kept for resuming,
``results.json``, ``results.csv``, ``report.md``, PNG figures). The command line is
``kernelreg bench list`` and ``kernelreg bench run SUITE [--quick] [--out DIR] [--device D] [--seed S]
[--budget STEPS]``.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

from kernelreg.bench._runner import (
    Cell,
    CellResult,
    PlottingUnavailable,
    RunContext,
    RunSummary,
    Suite,
    atomic_write_json,
    atomic_write_text,
    environment,
)
from kernelreg.bench._runner import run_suite as _run_suite_object
from kernelreg.bench.compositional import CompositionalSuite
from kernelreg.bench.gd_vs_convex import GDvsConvexSuite
from kernelreg.bench.iat_bases import IATBasesSuite
from kernelreg.bench.rowdy import RowdySuite
from kernelreg.bench.solver_speed import SolverSpeedSuite
from kernelreg.bench.spectral_targets import SpectralTargetsSuite
from kernelreg.bench.spectral_theory import SpectralTheorySuite
from kernelreg.bench.warmup_freeze import WarmupFreezeSuite
from kernelreg.bench.width_limit import WidthLimitSuite

__all__ = [
    "SUITES",
    "available",
    "get_suite",
    "run_suite",
    "Suite",
    "Cell",
    "CellResult",
    "RunContext",
    "RunSummary",
    "PlottingUnavailable",
    "environment",
    "atomic_write_json",
    "atomic_write_text",
]

#: Suite classes by name, in the order ``kernelreg bench list`` shows them.
SUITES: dict[str, type[Suite]] = {
    cls.name: cls
    for cls in (
        SolverSpeedSuite,
        GDvsConvexSuite,
        SpectralTargetsSuite,
        SpectralTheorySuite,
        CompositionalSuite,
        IATBasesSuite,
        RowdySuite,
        WarmupFreezeSuite,
        WidthLimitSuite,
    )
}


def available() -> list[str]:
    """Names of the benchmark suites."""
    return list(SUITES)


def get_suite(name: str) -> Suite:
    """A fresh suite object by name; an unknown name raises ValueError listing the suites.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    Suite

    Examples
    --------
    >>> from kernelreg.bench import get_suite
    >>> get_suite("gd-vs-convex").title
    'GD vs convex (spectral-bias paper, Experiment 1 / Table II)'
    """
    if not isinstance(name, str) or name not in SUITES:
        close = difflib.get_close_matches(str(name), list(SUITES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown benchmark suite {name!r}; the suites are: {', '.join(SUITES)}.{hint}")
    return SUITES[name]()


def run_suite(suite: Suite | str, out: str | os.PathLike = "bench-out", **options: Any) -> RunSummary:
    """Run a suite given by object or registry name (the name lookup lives here, so the runner never imports its registry)."""
    return _run_suite_object(get_suite(suite) if isinstance(suite, str) else suite, out, **options)


run_suite.__doc__ = _run_suite_object.__doc__.replace(
    "A suite object (:func:`kernelreg.bench.run_suite` also takes a registry name).",
    "A suite object or a registry name (:func:`available`).",
)
