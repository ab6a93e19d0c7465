"""Pieces several suites share: the spectral-bias paper's activation rows, seeds, statistics, downsampling."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "SPECTRAL_ACTIVATIONS",
    "activation_rows",
    "cell_seed",
    "stats",
    "downsample",
    "quiet",
    "finite_or_nan",
]

#: Rows of the spectral-bias paper's Tables II and III, in Table III's order:
#: (key, label, activation name, parameters). The Sinc and Wavepacket parameters of the paper are
#: lost (research/spectral.md §3, §7); ours are chosen so that the three Sinc rows run from least to
#: most restrictive in the order the paper's fits suggest (#2 fails most, #3 fits best), and the three
#: Wavepackets are a high-, low- and mid-frequency band pass. Oberhettinger III.10 is the candidate
#: x e^{-x} H(x) of the research note, not a confirmed formula.
SPECTRAL_ACTIVATIONS: tuple[tuple[str, str, str, dict], ...] = (
    ("step", "Step", "step", {}),
    ("relu", "ReLU", "relu", {}),
    ("relu2", "ReLU2", "relu_power", {"p": 2.0}),
    ("relu3p5", "ReLU3.5", "relu_power", {"p": 3.5}),
    ("logistic", "Logistic", "logistic", {}),
    ("atan", "Atan", "atan", {}),
    ("erf", "Erf", "erf", {}),
    ("cauchy", "Cauchy", "cauchy", {}),
    ("sinc1", "Sinc #1 (a=2)", "sinc", {"a": 2.0}),
    ("sinc2", "Sinc #2 (a=0.5)", "sinc", {"a": 0.5}),
    ("sinc3", "Sinc #3 (a=8)", "sinc", {"a": 8.0}),
    ("wave1", "Wavepacket #1 (s=0.5, w0=10)", "wavepacket", {"s": 0.5, "w0": 10.0}),
    ("wave2", "Wavepacket #2 (s=2, w0=1)", "wavepacket", {"s": 2.0, "w0": 1.0}),
    ("wave3", "Wavepacket #3 (s=1, w0=5)", "wavepacket", {"s": 1.0, "w0": 5.0}),
    ("halfexp", "Half-Exp", "half_exp", {}),
    ("iii10", "Oberhettinger III.10 (candidate)", "oberhettinger_iii10_candidate", {}),
)


def activation_rows(keys: Sequence[str] | None = None) -> list[tuple[str, str, str, dict]]:
    """The activation rows with the given keys (all when None), in table order; unknown keys are an error."""
    if keys is None:
        return list(SPECTRAL_ACTIVATIONS)
    known = {row[0]: row for row in SPECTRAL_ACTIVATIONS}
    bad = [k for k in keys if k not in known]
    if bad:
        raise ValueError(f"unknown activation row(s) {bad}; known rows: {list(known)}.")
    return [row for row in SPECTRAL_ACTIVATIONS if row[0] in set(keys)]


def cell_seed(seed: int, *parts: int) -> int:
    """A reproducible 31-bit seed from the run's seed and a cell's indices (common random numbers across rows)."""
    ss = np.random.SeedSequence([int(seed), *[int(p) for p in parts]])  # run_suite checked 0 <= seed < 2**32
    return int(ss.generate_state(1)[0] & 0x7FFFFFFF)


def finite_or_nan(value: Any) -> float:
    """A float, NaN for None or anything non-numeric."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def stats(values: Iterable[Any]) -> dict[str, float]:
    """mean, std, min, max, median and count of the finite values (NaN when there are none)."""
    arr = np.array([finite_or_nan(v) for v in values], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan, "median": math.nan, "n": 0}
    return {"mean": float(arr.mean()), "std": float(arr.std()), "min": float(arr.min()), "max": float(arr.max()),
            "median": float(np.median(arr)), "n": int(arr.size)}


def downsample(history: Sequence[dict], keys: Sequence[str], max_points: int = 120) -> dict[str, list]:
    """A history (list of dicts) as short lists per key, keeping the first and last entries (log-spaced)."""
    n = len(history)
    if n == 0:
        return {k: [] for k in keys}
    if n <= max_points:
        idx = np.arange(n)
    else:
        idx = np.unique(np.concatenate([[0], np.geomspace(1, n - 1, max_points - 1).astype(int), [n - 1]]))
    return {k: [history[i].get(k) for i in idx] for k in keys}


@contextlib.contextmanager
def quiet() -> Iterator[list]:
    """Record warnings instead of printing them (suites report statuses in their tables)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
