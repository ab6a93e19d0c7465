"""Memory budgets for chunked work: parse ``max_memory``, size row chunks, and read arrays on disk without holding them.

A leaf module: it imports nothing from kernelreg, so features and solvers can share it.
"""

from __future__ import annotations

import mmap
import numbers
import re
from typing import Any

import numpy as np

__all__ = ["parse_memory", "format_bytes", "chunk_rows", "read_block", "release_pages", "CHUNK_BYTES", "MAP_SPAN"]

#: Default budget of one chunk (bytes) when no ``max_memory`` is given.
CHUNK_BYTES = 64 * 2**20
#: Bytes of a memory-mapped file touched between two releases of its pages in :func:`read_block`.
MAP_SPAN = 4 * 2**20

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_memory(value: int | float | str, name: str = "max_memory") -> int:
    """Turn a memory budget (bytes, or a string such as ``"2GB"`` / ``"512MiB"``) into a byte count.

    Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB, TiB) powers of
    1024, as in dask.

    Parameters
    ----------
    value : int, float or str
        A positive number of bytes or a string ``"<number><unit>"``.
    name : str, default="max_memory"
        Name used in error messages.

    Returns
    -------
    int
        The budget in bytes (at least 1).

    Raises
    ------
    ValueError
        The value is not positive or the unit is unknown.
    TypeError
        The value is neither a number nor a string.

    Examples
    --------
    >>> parse_memory("2GB"), parse_memory("1.5 KiB"), parse_memory(4096)
    (2000000000, 1536, 4096)
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise TypeError(
            f"{name} must be a number of bytes or a string like '2GB' or '512MiB'; got {value!r} of "
            f"type {type(value).__name__}."
        )
    if isinstance(value, str):
        match = _PATTERN.match(value)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(
                f"{name}={value!r} is not a memory size; write a number with an optional unit, e.g. "
                f"'2GB', '512MB', '1.5GiB' (units: {', '.join(u for u in _UNITS if u)})."
            )
        nbytes = float(match.group(1)) * _UNITS[unit]
    else:
        nbytes = float(value)
    if not np.isfinite(nbytes) or nbytes < 1:
        raise ValueError(f"{name} must be at least 1 byte; got {name}={value!r}.")
    return int(nbytes)


def format_bytes(nbytes: float) -> str:
    """Human-readable size for messages (binary units, three significant digits)."""
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1024
    return f"{size:.3g} TiB"


def chunk_rows(
    row_bytes: int,
    max_memory: int | float | str | None,
    *,
    fixed_bytes: int = 0,
    owner: str = "kernelreg",
    what: str = "one row",
    fixed_what: str = "held for the whole run",
) -> int:
    """Rows per chunk so that ``fixed_bytes + rows * row_bytes`` stays within ``max_memory``.

    Parameters
    ----------
    row_bytes : int
        Working memory one row of a chunk needs (all temporaries included).
    max_memory : int, float, str or None
        Budget (see :func:`parse_memory`); None means ``fixed_bytes`` plus :data:`CHUNK_BYTES`.
    fixed_bytes : int, default=0
        Memory held for the whole run whatever the chunk size (e.g. a Gram matrix).
    owner, what, fixed_what : str
        Who asks, what one row is and what the fixed memory holds, for the error message.

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    ValueError
        ``max_memory`` cannot hold ``fixed_bytes`` plus one row; the message names both numbers.
    """
    row_bytes = max(1, int(row_bytes))
    if max_memory is None:
        return max(1, CHUNK_BYTES // row_bytes)
    budget = parse_memory(max_memory)
    if budget < fixed_bytes + row_bytes:
        total = fixed_bytes + row_bytes
        fixed = f"{fixed_bytes} bytes {fixed_what} plus " if fixed_bytes else ""
        raise ValueError(
            f"{owner}: max_memory={max_memory!r} ({budget} bytes) is too small: it needs {fixed}"
            f"{row_bytes} bytes for {what}, {total} bytes in all ({format_bytes(total)}). Raise "
            f"max_memory to at least {total} bytes; a few hundred rows per chunk is much faster."
        )
    return max(1, (budget - fixed_bytes) // row_bytes)


def release_pages(array: Any) -> None:
    """Drop the pages of a read-only memory-mapped array from this process's resident set.

    Reading a memory map keeps every touched page mapped (and counted in RSS) until the kernel
    needs the memory; after a chunk is consumed this hands them back at once, so the resident set
    stays at one chunk. Copy-on-write maps (``mode="c"``) are left alone: dropping their pages would
    lose private edits. Anything that is not a memory map is ignored.
    """
    mm = getattr(array, "_mmap", None)
    if not isinstance(mm, mmap.mmap) or getattr(array, "mode", "c") not in ("r", "r+"):
        return
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None or not hasattr(mm, "madvise"):
        return
    try:
        mm.madvise(advice)
    except (OSError, ValueError):  # closed map or a platform without the call: memory is only less tight
        return


def read_block(array: Any, rows: slice, cols: slice = slice(None), out: np.ndarray | None = None) -> np.ndarray:
    """Copy ``array[rows, cols]`` into ``out`` (or a new array), keeping at most a few MiB of a memory map resident.

    A memory map is copied in row pieces spanning at most :data:`MAP_SPAN` bytes of the file,
    releasing the mapped pages after each piece, so the resident set is the copy plus one piece.
    Passing the same ``out`` for every chunk of a pass avoids allocator churn (a fresh buffer per
    chunk fragments the heap and the resident set creeps up chunk after chunk).
    """
    view = array[rows, cols]
    if out is None:
        out = np.empty(view.shape, dtype=view.dtype)
    elif out.shape != view.shape:
        raise ValueError(f"read_block: out has shape {out.shape} but the block has shape {view.shape}.")
    if getattr(array, "_mmap", None) is None or view.ndim != 2:
        out[...] = view
        return out
    stride = max(1, abs(int(array.strides[0])))
    step = max(1, MAP_SPAN // stride)
    for start in range(0, view.shape[0], step):
        out[start : start + step] = view[start : start + step]
        release_pages(array)
    return out
