"""The min-norm output-layer program posed in CVXPY: the reference solver and the home of non-ridge variants.

``min ||w * c||  s.t.  mean loss(Phi c, y) <= eps`` with ``||.||`` the l2 (Frobenius) or l1 norm and
the loss squared (``||Phi c - y||^2 / (N K) <= eps``; ``Phi c = y`` at eps = 0), hinge (eps = 0:
hard-margin separator ``y * (Phi c) >= 1``) or logistic. The program is built once per
(eps = 0 | eps > 0) structure with eps as a ``cp.Parameter`` and re-solved for new eps values.
"""

from __future__ import annotations

import math
import warnings
from time import perf_counter
from typing import Any, Literal

import cvxpy as cp
import numpy as np
import torch
from numpy.typing import ArrayLike

from kernelreg._torch import to_numpy64
from kernelreg.solvers._solution import Solution, check_eps, check_problem, finish, output_shape, suggest

__all__ = ["MinNormProgram", "solve_cvxpy"]

_NORMS = ("l2", "l1")
_LOSSES = ("squared", "hinge", "logistic")
_DEFAULT_SOLVER, _FALLBACK_SOLVER = "CLARABEL", "SCS"
#: Mean loss of coef = 0 beyond the squared case (where it is mean(y^2)): any eps at or above it gives coef = 0.
_LOSS_AT_ZERO = {"hinge": 1.0, "logistic": math.log(2.0)}


class MinNormProgram:
    """A CVXPY min-norm program on fixed (Phi, y), built once and re-solved for any eps.

    Parameters
    ----------
    Phi : array-like or torch.Tensor of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets; labels in {-1, +1} for ``loss="hinge"`` and ``loss="logistic"``.
    norm : {"l2", "l1"}, default="l2"
        - ``"l2"``: minimise ``||w * c||_2`` (Frobenius for several outputs), a second-order cone.
        - ``"l1"``: minimise ``sum |w * c|``; sparser coefficients.
    weights : array-like of shape (n_features,) or None, default=None
        Positive per-feature weights ``w`` (e.g. the spectral penalty of an activation).
    loss : {"squared", "hinge", "logistic"}, default="squared"
        - ``"squared"``: ``||Phi c - y||^2 / (N K) <= eps`` (``Phi c = y`` at eps = 0).
        - ``"hinge"``: ``mean(max(0, 1 - y * Phi c)) <= eps``; eps = 0 is the hard-margin
          separator ``y * Phi c >= 1``.
        - ``"logistic"``: ``mean(log(1 + exp(-y * Phi c))) <= eps``; needs eps > 0.
    reduce : {"auto", "qr"} or bool, default="auto"
        Solve in ``z`` with ``Phi^T = Q R``, ``c = Q z`` (the constraint sees only ``R^T z``), so
        the conic problem has n_samples instead of n_features variables. Valid only for
        ``norm="l2"`` without weights; ``"auto"`` uses it then when n_samples < n_features.
    fit_intercept : bool, default=False
        Add an unpenalised intercept ``b`` (one per output): the loss sees ``Phi c + b``. Its value
        is returned in ``solution.info["intercept"]``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Phi, y = rng.standard_normal((10, 40)), rng.standard_normal(10)
    >>> sol = MinNormProgram(Phi, y).solve(0.01)
    >>> sol.status, bool(abs(sol.mse - 0.01) < 1e-5)
    ('optimal', True)
    """

    def __init__(
        self,
        Phi: ArrayLike | torch.Tensor,
        y: ArrayLike,
        *,
        norm: Literal["l2", "l1"] = "l2",
        weights: ArrayLike | None = None,
        loss: Literal["squared", "hinge", "logistic"] = "squared",
        reduce: Literal["auto", "qr"] | bool = "auto",
        fit_intercept: bool = False,
    ) -> None:
        Phi, Y, self._was_1d = check_problem(Phi, y)
        if not isinstance(fit_intercept, (bool, np.bool_)):
            raise TypeError(f"method='cvxpy': fit_intercept must be True or False; got {fit_intercept!r}.")
        self.fit_intercept = bool(fit_intercept)
        self._Phi = to_numpy64(Phi) if isinstance(Phi, torch.Tensor) else np.asarray(Phi, dtype=np.float64)
        self._Y = Y
        n_samples, n_features = self._Phi.shape
        self.norm = _choose("norm", norm, _NORMS)
        self.loss = _choose("loss", loss, _LOSSES)
        self.weights = _check_weights(weights, n_features)
        if self.loss != "squared" and not np.isin(Y, (-1.0, 1.0)).all():
            bad = np.unique(Y[~np.isin(Y, (-1.0, 1.0))])[:5]
            raise ValueError(
                f"loss={self.loss!r} needs class labels y in {{-1, +1}}; got other values such as "
                f"{bad.tolist()}. Map the classes to -1/+1 (e.g. y = 2 * (y == positive) - 1)."
            )
        self.reduce = self._check_reduce(reduce, n_samples, n_features)
        if self.reduce:  # Phi = R^T Q^T: the constraints see Phi c only through R^T z
            self._Q, R = np.linalg.qr(self._Phi.T, mode="reduced")
            self._A = np.ascontiguousarray(R.T)
        else:
            self._Q, self._A = None, self._Phi
        self._programs: dict[bool, tuple[cp.Problem, cp.Variable, cp.Variable | None, cp.Parameter | None]] = {}

    def _check_reduce(self, reduce: Any, n_samples: int, n_features: int) -> bool:
        """Resolve reduce='auto'|'qr'|True|False and refuse the reduction where it changes the answer."""
        allowed = self.norm == "l2" and self.weights is None
        if reduce == "auto":
            return allowed and n_samples < n_features
        if reduce is True or reduce == "qr":
            if not allowed:
                raise ValueError(
                    f"reduce={reduce!r} needs norm='l2' without weights: c = Q z keeps only "
                    f"||c||_2 unchanged; got norm={self.norm!r}, weights="
                    f"{'given' if self.weights is not None else None}. Use reduce=False."
                )
            return True
        if reduce is False:
            return False
        raise ValueError(f"reduce must be 'auto', 'qr', True or False; got reduce={reduce!r}.")

    @property
    def _loss_at_zero(self) -> float:
        """Mean loss of coef = 0: eps at or above it makes coef = 0 optimal."""
        if self.loss == "squared":
            return float(np.sum(self._Y**2) / self._Y.size)
        return _LOSS_AT_ZERO[self.loss]

    def _program(self, exact: bool) -> tuple[cp.Problem, cp.Variable, cp.Variable | None, cp.Parameter | None]:
        """Build (once) the eps = 0 or the eps > 0 program; eps > 0 carries eps as a Parameter."""
        if exact in self._programs:
            return self._programs[exact]
        n_outputs = self._Y.shape[1]
        shape = (self._A.shape[1],) if self._was_1d else (self._A.shape[1], n_outputs)
        var = cp.Variable(shape, name="z" if self.reduce else "coef")
        y = self._Y[:, 0] if self._was_1d else self._Y
        pred = self._A @ var
        intercept = None
        if self.fit_intercept:  # unpenalised offset, one per output column
            intercept = cp.Variable(() if self._was_1d else (n_outputs,), name="intercept")
            n_rows = self._A.shape[0]
            if self._was_1d:
                pred = pred + intercept
            else:
                pred = pred + np.ones((n_rows, 1)) @ cp.reshape(intercept, (1, n_outputs), order="C")
        scaled = var if self.weights is None else cp.multiply(self._weight_array(shape), var)
        if self.norm == "l1":
            objective = cp.sum(cp.abs(scaled))
        else:
            objective = cp.norm(scaled, 2) if self._was_1d else cp.norm(scaled, "fro")
        param = None if exact else cp.Parameter(nonneg=True, name="bound")
        size = y.size
        if self.loss == "squared":
            if exact:
                constraints = [pred == y]
            else:  # ||Phi c - y|| <= sqrt(eps N K): the bound is the parameter
                residual = pred - y
                constraints = [(cp.norm(residual, 2) if self._was_1d else cp.norm(residual, "fro")) <= param]
        elif self.loss == "hinge":
            margin = cp.multiply(y, pred)
            constraints = [margin >= 1] if exact else [cp.sum(cp.pos(1 - margin)) / size <= param]
        else:
            constraints = [cp.sum(cp.logistic(-cp.multiply(y, pred))) / size <= param]
        program = (cp.Problem(cp.Minimize(objective), constraints), var, intercept, param)
        self._programs[exact] = program
        return program

    def _weight_array(self, shape: tuple[int, ...]) -> np.ndarray:
        """Weights broadcast to the variable's shape."""
        return self.weights if len(shape) == 1 else np.repeat(self.weights[:, None], shape[1], axis=1)

    def solve(
        self,
        eps: float = 0.0,
        *,
        solver: str | None = None,
        solver_options: dict[str, Any] | None = None,
        **solve_kwargs: Any,
    ) -> Solution:
        """Solve the program for one eps with a conic solver, falling back to SCS if Clarabel fails.

        Parameters
        ----------
        eps : float, default=0.0
            Bound on the mean loss (mean squared error for ``loss="squared"``).
        solver : str or None, default=None
            A name from ``cvxpy.installed_solvers()``; default ``"CLARABEL"``, retried with ``"SCS"``
            (without ``solver_options``) when it errors or is missing. An explicit solver gets no fallback.
        solver_options : dict or None, default=None
            Solver settings passed to ``Problem.solve``, e.g. ``{"tol_gap_rel": 1e-10}`` for Clarabel.
        **solve_kwargs
            Passed to ``Problem.solve`` unchanged (``verbose=True``, ``warm_start=True``, ...).

        Returns
        -------
        Solution
            ``objective`` is the minimised norm; ``norm`` is always ``||coef||_2``; ``info`` has the
            solver, cvxpy status, solver statistics and, for hinge/logistic, the mean ``loss``.

        Raises
        ------
        SolverError
            Status ``"infeasible"`` (cvxpy infeasible/unbounded) or ``"failed"`` (solver error).
        """
        eps = check_eps(eps)
        if self.loss == "logistic" and eps == 0.0:
            raise ValueError(
                "loss='logistic' needs eps > 0: the mean logistic loss is positive for every coef, "
                f"so eps=0 is infeasible; got eps={eps!r}. Try eps=1e-3 or loss='hinge' for a hard margin."
            )
        start = perf_counter()
        if eps >= self._loss_at_zero:
            info = {"message": "", "trivial": True, "solver": None}
            if self.fit_intercept:
                info["intercept"] = 0.0 if self._was_1d else np.zeros(self._Y.shape[1])
            return self._package(np.zeros(self._coef_shape), start, eps, "optimal", info)
        plan = _solver_plan(solver, solver_options)
        problem, var, intercept, param = self._program(eps == 0.0)
        if param is not None:
            param.value = math.sqrt(eps * self._Y.size) if self.loss == "squared" else eps
        attempts: list[dict[str, Any]] = []
        for index, (name, options) in enumerate(plan):
            kwargs = {**(solve_kwargs if index == 0 else _generic(solve_kwargs)), **options}
            try:
                with warnings.catch_warnings():  # our ConvergenceWarning replaces cvxpy's generic one
                    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                    problem.solve(solver=name, **kwargs)
                cvx_status, error = problem.status, None
            except cp.error.SolverError as exc:
                cvx_status, error = None, (str(exc).strip().splitlines() or [""])[0][:300]
            attempts.append({"solver": name, "status": cvx_status, "error": error})
            answered = cvx_status in cp.settings.INF_OR_UNB or (
                cvx_status in cp.settings.SOLUTION_PRESENT and var.value is not None
            )
            if answered:  # a definite answer (even "infeasible") is not retried
                break
        status, message = self._map_status(attempts, eps)
        stats = problem.solver_stats
        info = {
            "solver": attempts[-1]["solver"],
            "cvxpy_status": attempts[-1]["status"],
            "attempts": attempts,
            "reduced": self.reduce,
            "norm": self.norm,
            "loss": self.loss,
            "solve_time_s": getattr(stats, "solve_time", None),
            "setup_time_s": getattr(stats, "setup_time", None),
            "compilation_time_s": getattr(problem, "compilation_time", None),
            "message": message,
        }
        if status in ("infeasible", "failed") or var.value is None:
            status = status if status in ("infeasible", "failed") else "failed"
            info["message"] = message or "the solver returned no coefficients"
            sol = Solution(
                coef=np.full(self._coef_shape, np.nan),
                mse=math.nan,
                norm=math.nan,
                method="cvxpy",
                status=status,
                time_s=perf_counter() - start,
                eps=eps,
                info=info,
            )
            return finish(sol, self._advice(status))
        value = np.asarray(var.value, dtype=np.float64).reshape(var.shape)
        coef = self._Q @ value if self.reduce else value
        if intercept is not None:
            value_b = np.asarray(intercept.value, dtype=np.float64)
            info["intercept"] = float(value_b) if self._was_1d else value_b
        n_iter = getattr(stats, "num_iters", None) or 0
        sol = self._package(coef, start, eps, status, info, n_iter=n_iter, objective=float(problem.value))
        return finish(sol, self._advice(status))

    @property
    def _coef_shape(self) -> tuple[int, ...]:
        """Shape of the returned coef."""
        n_features = self._Phi.shape[1]
        return (n_features,) if self._was_1d else (n_features, self._Y.shape[1])

    def _package(
        self,
        coef: np.ndarray,
        start: float,
        eps: float,
        status: str,
        info: dict[str, Any],
        n_iter: int = 0,
        objective: float | None = None,
    ) -> Solution:
        """Solution with mse, norm and mean loss measured directly from coef."""
        coef2d = coef[:, None] if coef.ndim == 1 else coef
        pred = self._Phi @ coef2d + np.reshape(info.get("intercept", 0.0), (1, -1))
        mse = float(np.sum((pred - self._Y) ** 2) / self._Y.size)
        if self.loss != "squared":
            margin = self._Y * pred
            if self.loss == "hinge":
                mean_loss = np.mean(np.maximum(0.0, 1.0 - margin))
            else:
                mean_loss = np.mean(np.logaddexp(0.0, -margin))
            info.update(mean_loss=float(mean_loss), min_margin=float(margin.min()))
        if objective is None:
            scaled = coef2d if self.weights is None else self.weights[:, None] * coef2d
            objective = float(np.abs(scaled).sum() if self.norm == "l1" else np.linalg.norm(scaled))
        return Solution(
            coef=output_shape(coef2d, self._was_1d),
            mse=mse,
            norm=float(np.linalg.norm(coef2d)),
            method="cvxpy",
            status=status,
            n_iter=int(n_iter),
            time_s=perf_counter() - start,
            objective=objective,
            eps=eps,
            info=info,
        )

    def _map_status(self, attempts: list[dict[str, Any]], eps: float) -> tuple[str, str]:
        """Map the last cvxpy status onto kernelreg's vocabulary, with a message for the non-optimal ones."""
        last = attempts[-1]
        cvx_status, name = last["status"], last["solver"]
        if cvx_status == cp.OPTIMAL:
            return "optimal", ""
        if cvx_status == cp.OPTIMAL_INACCURATE:
            return "inaccurate", f"{name} reports optimal_inaccurate (tolerances not met)"
        if cvx_status == cp.USER_LIMIT:
            return "max_iter", f"{name} stopped at its iteration or time limit (cvxpy status user_limit)"
        if cvx_status in cp.settings.INF_OR_UNB:
            return "infeasible", (
                f"{name} reports the program {cvx_status}: no coef has mean {self.loss} loss <= "
                f"eps={eps:.6g} on these {self._Y.shape[0]} samples"
            )
        tried = ", ".join(f"{a['solver']} -> {a['status'] or 'error: ' + str(a['error'])}" for a in attempts)
        return "failed", f"no solver produced a solution (cvxpy status {cvx_status!r}; tried {tried})"

    def _advice(self, status: str) -> str:
        """What to change for each non-optimal status."""
        if status == "infeasible":
            if self.loss == "squared":
                return (
                    "Use eps >= the least-squares floor (SpectralSolver(Phi, y).mse_floor), or "
                    "method='exact' with eps=0 for the least-squares min-norm solution."
                )
            return "The labels are not separable at this eps by Phi c: raise eps (e.g. eps=0.05) or use more features."
        if status == "failed":
            return (
                f"Try another solver from {cp.installed_solvers()} (solver=...), or method='exact' "
                "for the squared l2 case."
            )
        if status == "max_iter":
            return (
                "Raise the solver's limit, e.g. solver_options={'max_iter': ...} (Clarabel) or "
                "{'max_iters': ...} (SCS), or its time_limit."
            )
        return (
            "Adjust solver_options: tolerances (Clarabel tol_gap_rel=..., tol_feas=...; SCS eps_abs=..., "
            "eps_rel=...) or the iteration limit (Clarabel max_iter=..., SCS max_iters=...), or try another solver=."
        )


def _choose(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """A string option must be one of the allowed names."""
    if value not in allowed:
        raise ValueError(
            f"method='cvxpy': {name} must be one of {allowed}; got {name}={value!r}.{suggest(str(value), allowed)}"
        )
    return value


def _check_weights(weights: ArrayLike | None, n_features: int) -> np.ndarray | None:
    """Weights must be a finite positive vector with one entry per feature."""
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_features,):
        raise ValueError(f"weights must have shape (n_features,) = ({n_features},); got shape {w.shape}.")
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise ValueError(
            f"weights must be finite and > 0 (a zero weight leaves a coefficient unpenalised); got "
            f"min={w.min():.3g}, max={w.max():.3g}."
        )
    return w


def _solver_plan(solver: str | None, solver_options: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """Ordered (solver, options) attempts: the requested solver, or Clarabel then SCS by default."""
    installed = cp.installed_solvers()
    options = dict(solver_options or {})
    if solver is not None:
        name = str(solver).upper()
        if name not in installed:
            raise ValueError(
                f"method='cvxpy': solver={solver!r} is not installed; installed solvers are "
                f"{installed}.{suggest(name, installed)}"
            )
        return [(name, options)]
    plan = [(name, opts) for name, opts in ((_DEFAULT_SOLVER, options), (_FALLBACK_SOLVER, {})) if name in installed]
    if not plan:
        raise ValueError(f"method='cvxpy' needs CLARABEL or SCS (pip install clarabel scs); installed: {installed}.")
    return plan


def _generic(solve_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The solver-independent keywords of Problem.solve that are safe to keep for the fallback solver."""
    return {k: v for k, v in solve_kwargs.items() if k in ("verbose", "ignore_dpp", "canon_backend")}


def solve_cvxpy(
    Phi: np.ndarray | torch.Tensor,
    Y: np.ndarray,
    was_1d: bool,
    eps: float,
    *,
    norm: Literal["l2", "l1"] = "l2",
    weights: ArrayLike | None = None,
    loss: Literal["squared", "hinge", "logistic"] = "squared",
    reduce: Literal["auto", "qr"] | bool = "auto",
    fit_intercept: bool = False,
    solver: str | None = None,
    solver_options: dict[str, Any] | None = None,
    **solve_kwargs: Any,
) -> Solution:
    """Backend of ``solve(method="cvxpy")``: build a :class:`MinNormProgram` and solve it once."""
    start = perf_counter()
    program = MinNormProgram(
        Phi, Y[:, 0] if was_1d else Y, norm=norm, weights=weights, loss=loss, reduce=reduce, fit_intercept=fit_intercept
    )
    sol = program.solve(eps, solver=solver, solver_options=solver_options, **solve_kwargs)
    sol.time_s = perf_counter() - start
    return sol
