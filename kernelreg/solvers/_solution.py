"""The result type every solver returns, its status vocabulary, and the one place statuses become warnings or errors."""

from __future__ import annotations

import math
import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from kernelreg.exceptions import SolverError
from kernelreg.solvers._certificate import Certificate

if TYPE_CHECKING:
    from kernelreg.solvers._problem import Problem

__all__ = ["Solution", "STATUSES", "finish", "build_solution", "status_from", "array_norm"]

#: The only values ``Solution.status`` takes. ``optimal`` returns quietly; ``inaccurate`` and
#: ``max_iter`` return with a ``ConvergenceWarning``; ``infeasible`` and ``failed`` raise ``SolverError``.
STATUSES: tuple[str, ...] = ("optimal", "inaccurate", "max_iter", "infeasible", "failed")

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Solution:
    """One solve of the output layer: the coefficients plus everything needed to judge them.

    Attributes
    ----------
    coef : ndarray of shape (n_features,) or (n_features, n_outputs)
        Output-layer coefficients, float64 on the CPU; 1-D when ``y`` was 1-D.
    mse : float
        Mean squared training error ``||Phi @ coef + intercept - y||**2 / (n_samples * n_outputs)``
        (weighted by ``sample_weight`` when given), measured from the residual by the certificate.
    norm : float
        Euclidean norm of ``coef`` (Frobenius norm for several outputs), whatever norm was minimised.
    method : str
        ``"exact"``, ``"cvxpy"``, ``"gd"``, ``"adam"`` or ``"cg"``.
    status : str
        One of :data:`STATUSES`, derived from :attr:`certificate` (see its ``optimal``).
    n_iter : int, default=0
        Iterations taken (solver iterations for CVXPY, 0 for direct linear algebra).
    time_s : float, default=0.0
        Wall time of the solve in seconds (certificate included).
    history : list of dict, default=[]
        Iterative methods: one dict per recorded iteration with keys ``iter``, ``mse``, ``norm``,
        ``time_s`` (``iter=0`` is the starting point ``coef = 0``). Empty for direct methods.
    lam : float or None, default=None
        Ridge parameter of the exact solution, in the convention ``coef = Phi.T @ inv(Phi @ Phi.T +
        lam * I) @ y`` (``Ridge(alpha=lam, fit_intercept=False)``); ``inf`` when ``coef = 0``.
    objective : float or None, default=None
        Optimal value of the minimised objective (``||c||_2``, ``||c||_1`` or ``||w * c||``).
    eps : float or None, default=None
        The requested bound on the mean squared training error.
    info : dict, default={}
        Method-specific extras: decomposition used, fallback reasons, step size, CVXPY statistics, ...
    certificate : Certificate or None, default=None
        The independent float64 check of this answer (feasibility, stationarity, norm gap and the
        tolerances judged against). Set on every solution returned by :func:`kernelreg.solvers.solve`.
    intercept : float or ndarray of shape (n_outputs,), default=0.0
        The unpenalised intercept (0 / zeros unless ``fit_intercept=True``).
    """

    coef: np.ndarray
    mse: float
    norm: float
    method: str
    status: str
    n_iter: int = 0
    time_s: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    lam: float | None = None
    objective: float | None = None
    eps: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    certificate: Certificate | None = None
    intercept: float | np.ndarray = 0.0

    def __post_init__(self) -> None:
        """Keep the status inside the shared vocabulary."""
        if self.status not in STATUSES:
            raise ValueError(f"Solution.status must be one of {STATUSES}; got {self.status!r}.")

    def __repr__(self) -> str:
        """Short summary: the coefficient array itself is usually too long to print."""
        lam = "" if self.lam is None else f", lam={self.lam:.4g}"
        gap = "" if self.certificate is None else f", norm_gap={self.certificate.norm_gap:.2g}"
        return (
            f"Solution(method={self.method!r}, status={self.status!r}, mse={self.mse:.4g}, "
            f"norm={self.norm:.4g}{lam}{gap}, n_iter={self.n_iter}, time_s={self.time_s:.3g}, "
            f"coef.shape={tuple(self.coef.shape)})"
        )


def array_norm(values: np.ndarray) -> float:
    """Euclidean / Frobenius norm of a numpy array without overflow or underflow."""
    top = float(np.abs(values).max()) if values.size else 0.0
    if top == 0.0 or not math.isfinite(top):
        return top
    return top * float(np.linalg.norm(values / top))


def status_from(cert: Certificate, method: str) -> tuple[str, str]:
    """The status a certificate supports, and the message with its numbers when it is not ``optimal``.

    Direct methods (exact, cvxpy) claim the min-norm answer: ``optimal`` needs feasibility,
    stationarity and the norm gap. Iterative methods (gd, adam, cg) claim to have reached their
    target mse: ``optimal`` needs the measured mse at the target (or, for target 0, least-squares
    optimality); their norm gap is reported, not required (it is the implicit bias they are run to show).
    """
    if method in ("gd", "adam", "cg"):
        if cert.feasible:
            return "optimal", ""
        return "inaccurate", "the certificate does not confirm the target: " + "; ".join(cert.failures()[:1])
    if cert.optimal:
        return "optimal", ""
    return "inaccurate", "not certified: " + "; ".join(cert.failures())


def build_solution(
    problem: Problem,
    C: torch.Tensor,
    b: torch.Tensor,
    cert: Certificate,
    method: str,
    *,
    status: str | None = None,
    message: str = "",
    **fields: Any,
) -> Solution:
    """Package an answer (solver units) as a Solution in the caller's units, status from the certificate."""
    coef, intercept = problem.unscale(C, b)
    if not math.isfinite(cert.mse):
        raise SolverError(
            f"method={method!r}: the mean squared error overflows float64 at the scale of the data "
            f"({problem.scale_note() or 'y'}); rescale y to values near 1 and scale the answer back.",
            method=method,
            status="failed",
        )
    info = dict(fields.pop("info", {}))
    if status is None:
        status, message = status_from(cert, method)
    if message:
        info["message"] = message
    return Solution(
        coef=coef,
        mse=cert.mse,
        norm=array_norm(coef),
        method=method,
        status=status,
        eps=problem.eps_asked,
        info=info,
        certificate=cert,
        intercept=intercept,
        **fields,
    )


def finish(solution: Solution, advice: str = "") -> Solution:
    """Apply the status contract: return quietly, return with a warning, or raise ``SolverError``."""
    status = solution.status
    if status == "optimal":
        return solution
    reason = solution.info.get("message", "")
    text = f"method={solution.method!r} ended with status {status!r}"
    text += f": {reason.rstrip('.')}." if reason else "."
    if advice:
        text += f" {advice}"
    if status in ("inaccurate", "max_iter"):
        # Point the warning at the caller's line, not at kernelreg's internals.
        warnings.warn(text, ConvergenceWarning, stacklevel=_outside_stacklevel())
        return solution
    raise SolverError(text, method=solution.method, status=status)


def _outside_stacklevel() -> int:
    """warnings stacklevel of the first frame outside kernelreg (skip_file_prefixes needs Python 3.12)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
