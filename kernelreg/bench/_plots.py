"""Figure helpers: matplotlib's object-oriented API on the Agg canvas (no pyplot, no global backend), saved atomically.

Every figure gets the same readable defaults: text of at least :data:`MIN_FONT_PT` points (also
enforced when saving, whatever a suite asked for), light grid, constrained layout. A figure should
carry a title (per axes, or one ``suptitle``) and axis labels with units; :func:`figure_problems`
lists what is missing. Runs that did not converge (a status other than ``optimal``) are drawn
hollow — :func:`draw_bars`, :func:`draw_points` — with a ``not converged`` legend entry
(:func:`add_legend`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kernelreg._log import logger
from kernelreg.bench._runner import PlottingUnavailable, atomic_write_bytes

__all__ = [
    "MIN_FONT_PT",
    "STYLE",
    "NOT_CONVERGED",
    "require_matplotlib",
    "new_figure",
    "save_figure",
    "figure_problems",
    "converged",
    "draw_bars",
    "draw_points",
    "add_legend",
]

_MISSING = (
    "Figures skipped: matplotlib is not installed. Install it with `pip install 'kernelreg[plots]'` "
    "(or the dev extra) and rerun the same command: finished cells are reused and only the figures "
    "are drawn."
)

#: The smallest text size of a saved figure, in points.
MIN_FONT_PT = 10.0
#: matplotlib settings in force while a figure's axes are made (tick labels, titles, legends, grid).
STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "figure.titlesize": 13,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.6,
    "lines.markersize": 6,
}
#: Legend label of the hollow marks.
NOT_CONVERGED = "not converged (hollow)"
_CONVERGED_STATUSES = frozenset({"optimal"})


def require_matplotlib() -> Any:
    """The matplotlib Figure class, or PlottingUnavailable with the install command."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlottingUnavailable(_MISSING) from exc
    return Figure


@contextmanager
def _style():
    """Apply :data:`STYLE` while artists are created (matplotlib reads its settings at creation)."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 5.0, height: float = 3.6, title: str | None = None,
               **kwargs: Any):
    """A Figure with an (nrows, ncols) grid of axes (always a 2-D array), on the Agg canvas, in :data:`STYLE`.

    Parameters
    ----------
    nrows, ncols : int, default=1
    width, height : float
        Size of one panel in inches.
    title : str or None, default=None
        The figure's title (``suptitle``); give each axes its own title otherwise.
    **kwargs
        Passed to ``Figure.subplots`` (``sharex``, ``sharey``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : ndarray of Axes of shape (nrows, ncols)
    """
    Figure = require_matplotlib()
    import numpy as np

    with _style():
        fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
        if title:
            fig.suptitle(title)
    return fig, np.asarray(axes)


def _texts(fig: Any) -> list[Any]:
    """Every visible Text artist of the figure (titles, labels, tick labels, legends, annotations)."""
    from matplotlib.text import Text

    fig.draw_without_rendering()  # tick labels get their text only when drawn
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _raise_small_text(fig: Any) -> None:
    """Lift every text under :data:`MIN_FONT_PT` to it (tick labels through ``tick_params``, so new ticks follow)."""
    for text in _texts(fig):
        if text.get_fontsize() < MIN_FONT_PT:
            text.set_fontsize(MIN_FONT_PT)
    for ax in fig.axes:
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            sizes = [t.get_fontsize() for t in axis.get_ticklabels(which="both")]
            if sizes and min(sizes) < MIN_FONT_PT:
                ax.tick_params(axis=name, which="both", labelsize=MIN_FONT_PT)


def _drawn_axes(fig: Any) -> list[Any]:
    """The axes that show data (colorbars and empty, hidden panels left out)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison and (ax.lines or ax.patches or ax.collections
                                                                          or ax.images)]


def figure_problems(fig: Any) -> list[str]:
    """What keeps a figure from being read: text under :data:`MIN_FONT_PT`, a missing title or axis label.

    Returns
    -------
    list of str
        One entry per problem (empty: the figure is fine). Every panel that shows data needs an x
        and a y label; it needs a title unless the figure has a ``suptitle``.
    """
    problems = []
    small = sorted({round(t.get_fontsize(), 1) for t in _texts(fig) if t.get_fontsize() < MIN_FONT_PT})
    if small:
        problems.append(f"text smaller than {MIN_FONT_PT:g} pt: {small}")
    suptitle = getattr(fig, "_suptitle", None)
    has_suptitle = suptitle is not None and suptitle.get_text().strip()
    for i, ax in enumerate(_drawn_axes(fig)):
        name = ax.get_title() or f"axes {i}"
        if not ax.get_xlabel().strip():
            problems.append(f"{name}: no x-axis label")
        if not ax.get_ylabel().strip():
            problems.append(f"{name}: no y-axis label")
        if not has_suptitle and not ax.get_title().strip():
            problems.append(f"axes {i}: no title (and no figure title)")
    return problems


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Render to PNG in memory (text raised to at least :data:`MIN_FONT_PT`), then write the file atomically.

    Missing titles or axis labels are logged (INFO, logger ``kernelreg``) with the file name.
    """
    _raise_small_text(fig)
    problems = figure_problems(fig)
    if problems:
        logger.info("figure %s: %s", Path(path).name, "; ".join(problems))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())


def converged(status: str | None) -> bool:
    """True for a run that reached its target (status ``optimal``); ``max_iter``, ``inaccurate``, ... are not."""
    return status in _CONVERGED_STATUSES


def draw_bars(ax: Any, x: Sequence[float], heights: Sequence[float], width: float, ok: Sequence[bool], *,
              color: Any, label: str | None = None) -> None:
    """Bars at ``x``: filled where ``ok``, hollow and hatched where the run did not converge."""
    ok = list(ok)
    filled = [i for i, good in enumerate(ok) if good]
    hollow = [i for i, good in enumerate(ok) if not good]
    ax.bar([x[i] for i in filled], [heights[i] for i in filled], width, color=color, edgecolor=color, label=label)
    if hollow:
        ax.bar([x[i] for i in hollow], [heights[i] for i in hollow], width, facecolor="none", edgecolor=color,
               hatch="//", linewidth=1.2, label=None if filled else label)


def draw_points(ax: Any, x: Sequence[float], y: Sequence[float], ok: Sequence[bool], *, color: Any,
                label: str | None = None, marker: str = "o", line: bool = True) -> None:
    """Points (joined by a line when ``line``): filled markers where ``ok``, hollow where the run did not converge."""
    ok = list(ok)
    if line:
        ax.plot(x, y, color=color, label=label, zorder=2)
        label = None
    xs = [xv for xv, good in zip(x, ok) if good]
    ys = [yv for yv, good in zip(y, ok) if good]
    ax.scatter(xs, ys, color=color, marker=marker, label=label, zorder=3)
    xs = [xv for xv, good in zip(x, ok) if not good]
    ys = [yv for yv, good in zip(y, ok) if not good]
    if xs:
        ax.scatter(xs, ys, facecolors="none", edgecolors=color, marker=marker, linewidths=1.4, zorder=3)


def add_legend(ax: Any, *, not_converged: bool, kind: str = "marker", **kwargs: Any) -> Any:
    """The axes' legend, plus a grey hollow ``not converged`` entry when some run did not converge.

    Parameters
    ----------
    not_converged : bool
        Whether any hollow mark was drawn.
    kind : {"marker", "bar"}, default="marker"
        The proxy's shape: a hollow marker, or a hollow hatched patch.
    **kwargs
        Passed to ``Axes.legend``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    if not_converged:
        if kind == "bar":
            handles.append(Patch(facecolor="none", edgecolor="0.35", hatch="//"))
        else:
            handles.append(Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                                  markeredgecolor="0.35"))
        labels.append(NOT_CONVERGED)
    kwargs.setdefault("fontsize", STYLE["legend.fontsize"])
    return ax.legend(handles, labels, **kwargs)
