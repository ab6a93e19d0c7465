"""Lazy access to dask: recognise dask arrays without importing dask, and import it only when one is used.

A leaf module (imports nothing from kernelreg). kernelreg imports and works without dask installed;
dask is the optional extra ``kernelreg[dask]``.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

__all__ = ["is_dask_array", "dask_array"]

_INSTALL_HINT = 'pip install "kernelreg[dask]"  (or: pip install "dask[array]" distributed)'


def is_dask_array(value: Any) -> bool:
    """True when ``value`` is a ``dask.array.Array``; never imports dask (an unloaded dask made no arrays)."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(value, module.Array)


def dask_array() -> ModuleType:
    """Import and return ``dask.array``, or fail with the command that installs it."""
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - exercised only where dask is missing
        raise ImportError(f"this kernelreg feature needs dask, which is not installed: {_INSTALL_HINT}.") from exc
    return da
