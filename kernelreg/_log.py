"""The one logger and the one progress bar of kernelreg, so every stage reports the same way and each message once.

A leaf module (standard library only; tqdm is imported when a bar is made). How a stage uses it:

* **Messages** go to :data:`logger` (``logging.getLogger("kernelreg")``), which has a
  ``NullHandler``: the library prints nothing unless the user configures logging or asks for
  ``verbose``. Log through this object itself (not a child logger such as
  ``getLogger("kernelreg.solvers")``): the once-per-run filter sits on it.
* **One run, each message once**: a public entry point that calls other entry points (an
  estimator's ``fit`` calls the feature map's ``fit`` and ``solve``, each of which may resolve
  ``device="auto"`` and log about it) wraps its body in :func:`run_scope` (or decorates the method
  with :func:`logged_run`). Inside the outermost scope an identical message (same level, same text)
  is emitted once; nested scopes share the outer scope's memory. Outside any scope every message
  is emitted.
* **verbose**: ``run_scope(verbose=True)`` shows the run's INFO messages on stderr when the user
  has configured no logging handler of their own (with one, the messages go there, at INFO). Bars
  and messages do not tear each other apart: messages are written through ``tqdm.write``.
* **Progress**: :func:`progress` is tqdm with kernelreg's defaults: silent unless ``verbose``, and
  when shown the bar stays on screen after the run (``leave=True``), so a finished fit shows what
  it did. Use it as an iterable or with ``update``/``set_postfix`` and close it (``with`` does).

Example (an iterative solver)::

    from kernelreg._log import logger, progress, run_scope

    def _iterate(..., verbose=False):
        with run_scope(verbose=verbose), progress(total=max_iter, desc="gd", unit="iter",
                                                  verbose=verbose) as bar:
            for k in range(max_iter):
                ...
                bar.update()
                if k % 100 == 0:
                    bar.set_postfix(mse=f"{mse:.3g}", refresh=False)
            logger.info("gd: stopped after %d iterations (mse=%.3g)", k + 1, mse)
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = ["logger", "run_scope", "logged_run", "progress", "outside_stacklevel"]

#: The library's logger: every kernelreg message goes through it.
logger = logging.getLogger("kernelreg")
logger.addHandler(logging.NullHandler())

#: Messages already emitted in the current run (None outside any run).
_SEEN: ContextVar[set[tuple[int, str]] | None] = ContextVar("kernelreg_log_seen", default=None)


class _OncePerRun(logging.Filter):
    """Drop a record whose level and text were already emitted in the current run."""

    def filter(self, record: logging.LogRecord) -> bool:
        seen = _SEEN.get()
        if seen is None:
            return True
        key = (record.levelno, record.getMessage())
        if key in seen:
            return False
        seen.add(key)
        return True


logger.addFilter(_OncePerRun())


class _ConsoleHandler(logging.StreamHandler):
    """stderr lines ``kernelreg: message`` written through tqdm so an open bar is redrawn below them."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("kernelreg: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # logging's contract: a broken handler reports, never raises into the caller
            self.handleError(record)


def _user_handlers() -> bool:
    """True when a handler other than ours (and the NullHandler) would receive kernelreg's records."""
    current: logging.Logger | None = logger
    while current is not None:
        if any(not isinstance(h, (logging.NullHandler, _ConsoleHandler)) for h in current.handlers):
            return True
        current = current.parent if current.propagate else None
    return False


@contextmanager
def _verbose_output() -> Iterator[None]:
    """Let INFO records through for the scope and, when the user has no handler, print them to stderr."""
    previous_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    handler = None
    if not _user_handlers() and not any(isinstance(h, _ConsoleHandler) for h in logger.handlers):
        handler = _ConsoleHandler()
        logger.addHandler(handler)
    try:
        yield
    finally:
        if handler is not None:
            logger.removeHandler(handler)
        logger.setLevel(previous_level)


@contextmanager
def run_scope(verbose: bool | int = False) -> Iterator[None]:
    """One run of a public entry point: identical messages are emitted once; ``verbose`` shows INFO messages.

    Parameters
    ----------
    verbose : bool or int, default=False
        Truthy: INFO messages of the run reach the user's handlers, or stderr when there are none.

    Notes
    -----
    Scopes nest: an inner scope (``solve`` called from an estimator's ``fit``) shares the outer
    scope's memory of emitted messages, so a message both would log appears once per outer run.
    The memory lives in a :class:`contextvars.ContextVar`, so threads and asyncio tasks do not share it.
    ``verbose`` changes the ``kernelreg`` logger's level (and adds the stderr handler) for the
    whole process while the scope lasts; both are restored when it ends.
    """
    token = _SEEN.set(set()) if _SEEN.get() is None else None
    try:
        if verbose:
            with _verbose_output():
                yield
        else:
            yield
    finally:
        if token is not None:
            _SEEN.reset(token)


_F = TypeVar("_F", bound=Callable[..., Any])


def logged_run(method: _F) -> _F:
    """Decorate a method (``fit``, ``export``, ...) so that it runs in :func:`run_scope` with ``self.verbose``."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with run_scope(verbose=getattr(self, "verbose", False)):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def progress(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    desc: str | None = None,
    unit: str = "it",
    verbose: bool | int = False,
    **kwargs: Any,
):
    """A tqdm progress bar that is silent unless ``verbose`` and stays on screen when shown.

    Parameters
    ----------
    iterable : iterable or None, default=None
        What to iterate over; None for a bar driven by ``update``.
    total : int or None, default=None
        Number of steps (taken from ``len(iterable)`` when possible).
    desc : str or None, default=None
        Label in front of the bar (e.g. ``"train"``, ``"gd"``, ``"export"``).
    unit : str, default="it"
        Name of one step (``"epoch"``, ``"iter"``, ``"row"``).
    verbose : bool or int, default=False
        Falsy: a disabled bar (nothing printed, near-zero cost per ``update``).
    **kwargs
        Passed to ``tqdm`` unchanged (e.g. ``unit_scale=True``, ``leave=False`` for an inner bar).

    Returns
    -------
    tqdm.tqdm
        Use it as an iterable, or call ``update``/``set_postfix``; close it (or use ``with``).
    """
    from tqdm.auto import tqdm

    kwargs.setdefault("leave", True)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not verbose, **kwargs)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def outside_stacklevel() -> int:
    """``warnings.warn`` stacklevel of the first frame outside kernelreg, so a warning names the user's line.

    Call it in the function that calls ``warnings.warn`` (``skip_file_prefixes`` needs Python 3.12).
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
