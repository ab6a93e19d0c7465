"""Exception and warning tree of kernelreg: one base each, so callers can catch or filter everything the library raises."""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "KernelregError",
    "NotFittedError",
    "SolverError",
    "DivergenceError",
    "DeviceError",
    "KernelregWarning",
    "DeviceWarning",
    "InfeasibleEpsWarning",
]


class KernelregError(Exception):
    """Base class of every error kernelreg raises on purpose."""


class NotFittedError(KernelregError, _SklearnNotFittedError):
    """Raised when a fitted attribute is used before ``fit``; also an sklearn ``NotFittedError``."""


class SolverError(KernelregError, RuntimeError):
    """A solver ended without a usable answer; ``method`` and ``status`` say which and why."""

    def __init__(self, message: str, *, method: str, status: str) -> None:
        super().__init__(message)
        self.method = method
        self.status = status


class DivergenceError(SolverError):
    """An iterative solver's or training loop's loss became non-finite or kept growing: the step size is too large.

    ``history`` holds the run's per-iteration (or per-epoch) records up to the divergence, when
    the raiser has them (``kernelreg.training.train`` does), else ``None``.
    """

    def __init__(self, message: str, *, method: str, history: list[dict] | None = None) -> None:
        super().__init__(message, method=method, status="failed")
        self.history = history


class DeviceError(KernelregError, ValueError):
    """A requested torch device is unknown or not available on this machine."""


class KernelregWarning(UserWarning):
    """Base class of every warning kernelreg emits on purpose (besides sklearn's ``ConvergenceWarning``)."""


class DeviceWarning(KernelregWarning):
    """A fitted object was loaded on another device than it was fitted on (e.g. a GPU fit unpickled on a CPU-only machine)."""


class InfeasibleEpsWarning(KernelregWarning):
    """An estimator's eps lies below the least-squares floor and it fitted the floor instead (``on_infeasible="floor"``)."""
