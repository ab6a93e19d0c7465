"""Scalar argument checks shared by the torch stages, so every error reads the same way (a leaf module)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real


def check_int(value: object, name: str, owner: str, minimum: int = 1, allow_none: bool = False) -> int | None:
    """An integer >= ``minimum`` (or None when allowed), else a ValueError naming owner, parameter and value."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        allowed = f"an integer >= {minimum}"
        if allow_none:
            allowed = f"None or {allowed}"
        raise ValueError(f"{owner} needs {name} to be {allowed}; got {name}={value!r}.")
    return int(value)


def check_positive(value: object, name: str, owner: str, allow_zero: bool = False) -> float:
    """A finite real > 0 (>= 0 when allowed), else a ValueError naming owner, parameter and value."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))
    ok = ok and (float(value) >= 0 if allow_zero else float(value) > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{owner} needs {name} to be a finite number {bound}; got {name}={value!r}.")
    return float(value)


def unknown_name(kind: str, value: object, known: Iterable[str], extra: str = "") -> ValueError:
    """A ValueError for an unknown name that lists the known ones (the caller raises it)."""
    return ValueError(f"unknown {kind} {value!r}; known {kind} names: {', '.join(known)}{extra}.")
