"""Figure helpers: matplotlib's object-oriented API on the Agg canvas (no pyplot, no global backend), saved atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from kernelreg.bench._runner import PlottingUnavailable, atomic_write_bytes

__all__ = ["require_matplotlib", "new_figure", "save_figure"]

_MISSING = (
    "Figures skipped: matplotlib is not installed. Install it with `pip install 'kernelreg[plots]'` "
    "(or the dev extra) and rerun the same command: finished cells are reused and only the figures "
    "are drawn."
)


def require_matplotlib() -> Any:
    """The matplotlib Figure class, or PlottingUnavailable with the install command."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlottingUnavailable(_MISSING) from exc
    return Figure


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 5.0, height: float = 3.6, **kwargs: Any):
    """A Figure with an (nrows, ncols) grid of axes (always a 2-D array), on the Agg canvas."""
    Figure = require_matplotlib()
    import numpy as np

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, np.asarray(axes)


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Render to PNG in memory, then write the file atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())
