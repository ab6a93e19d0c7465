"""The min-norm output-layer program posed in CVXPY: the reference solver and the home of non-ridge variants.

``min ||w * c||  s.t.  mean loss(Phi c + b, y) <= eps`` with ``||.||`` the l2 (Frobenius) or l1 norm and
the loss squared (``||Phi c - y||^2 / (N K) <= eps``; ``Phi c = y`` at eps = 0), hinge (eps = 0:
hard-margin separator ``y * (Phi c) >= 1``) or logistic; sample weights make the loss a weighted
mean. The program is built once per (eps = 0 | eps > 0) structure with eps as a ``cp.Parameter``
and re-solved for new eps values. cvxpy is imported only when a program is built, so
``import kernelreg.solvers`` does not pay for it.

Every answer is certified (:mod:`kernelreg.solvers._certificate`). A squared-loss l2 answer
that CVXPY calls optimal but the certificate rejects (tiny-scale y, an ill-conditioned Phi, an
SCS fallback) is *polished*: replaced by the exact solver's certified answer at the same eps
(``info["polished"]``, the rejected certificate in ``info["cvxpy_certificate"]``). An infeasible
squared-loss program is confirmed by the float64 least-squares floor, a margin program by the
least mean loss any coefficients reach; both numbers are in the message.
"""

from __future__ import annotations

import math
import warnings
from time import perf_counter
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike

from kernelreg.exceptions import SolverError
from kernelreg.solvers._certificate import Certificate, certify
from kernelreg.solvers._problem import Problem, check_eps, prepare, suggest
from kernelreg.solvers._solution import Solution, build_solution, finish

if TYPE_CHECKING:
    import cvxpy as cp

__all__ = ["MinNormProgram", "solve_cvxpy"]

_NORMS = ("l2", "l1")
_LOSSES = ("squared", "hinge", "logistic")
_DEFAULT_SOLVER, _FALLBACK_SOLVER = "CLARABEL", "SCS"
#: Mean loss of coef = 0 beyond the squared case (where it is mean(y^2)): any eps at or above it gives coef = 0.
_LOSS_AT_ZERO = {"hinge": 1.0, "logistic": math.log(2.0)}


def _cvxpy() -> Any:
    """Import cvxpy on first use (it takes about a second)."""
    import cvxpy

    return cvxpy


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
        is ``solution.intercept`` (and ``solution.info["intercept"]``).
    sample_weight : array-like of shape (n_samples,) or None, default=None
        Weights of the mean loss.

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
        sample_weight: ArrayLike | None = None,
    ) -> None:
        problem = prepare(Phi, y, fit_intercept=fit_intercept, sample_weight=sample_weight)
        self._setup(problem, norm, weights, loss, reduce)

    @classmethod
    def _on(cls, problem: Problem, norm: str, weights: Any, loss: str, reduce: Any) -> MinNormProgram:
        """Build on an already validated problem (the private path of ``solve``)."""
        self = cls.__new__(cls)
        self._setup(problem, norm, weights, loss, reduce)
        return self

    def _setup(self, problem: Problem, norm: str, weights: Any, loss: str, reduce: Any) -> None:
        """Read the validated problem into numpy and decide the reduction."""
        self._problem = problem
        self.fit_intercept = problem.fit_intercept
        self._was_1d = problem.was_1d
        P = problem.dense
        self._Phi = (P if P.device.type == "cpu" else P.cpu()).numpy()
        self._Y = problem.Y.cpu().numpy()
        self._d = None if problem.scale is None else problem.scale.cpu().numpy()
        n_samples, n_features = self._Phi.shape
        self.norm = _choose("norm", norm, _NORMS)
        self.loss = _choose("loss", loss, _LOSSES)
        self.weights = _check_weights(weights, n_features)
        if self.loss != "squared":
            labels = problem.Y.cpu().numpy() * math.ldexp(1.0, problem.y_exp)
            if not np.isin(labels, (-1.0, 1.0)).all():
                bad = np.unique(labels[~np.isin(labels, (-1.0, 1.0))])[:5]
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
        self._programs: dict[bool, tuple[Any, Any, Any, Any]] = {}

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
        """Mean loss of coef = 0 (and the best intercept): eps at or above it makes coef = 0 optimal."""
        if self.loss == "squared":
            return float((self._problem.Ye**2).sum()) / self._problem.nk
        return _LOSS_AT_ZERO[self.loss] if not self.fit_intercept else math.inf

    def _row_weights(self, like: Any) -> Any:
        """Per-row weights w~ broadcast to like's shape (None when unweighted)."""
        if self._d is None:
            return None
        w = self._d**2
        return w if self._was_1d else np.repeat(w[:, None], self._Y.shape[1], axis=1)

    def _program(self, exact: bool) -> tuple[Any, Any, Any, Any]:
        """Build (once) the eps = 0 or the eps > 0 program; eps > 0 carries eps as a Parameter."""
        if exact in self._programs:
            return self._programs[exact]
        cp = _cvxpy()
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
        w = self._row_weights(y)
        if self.loss == "squared":
            residual = pred - y
            if self._d is not None:
                d = self._d if self._was_1d else self._d[:, None]
                residual = cp.multiply(d, residual)
            if exact:
                constraints = [residual == 0]
            else:  # ||D (Phi c + b - y)|| <= sqrt(eps N K): the bound is the parameter
                constraints = [(cp.norm(residual, 2) if self._was_1d else cp.norm(residual, "fro")) <= param]
        else:
            margin = cp.multiply(y, pred)
            if self.loss == "hinge" and exact:  # hard margin on every row that carries weight
                rows = np.ones_like(y) if w is None else (w > 0).astype(float)
                constraints = [cp.multiply(rows, 1 - margin) <= 0]
            else:
                losses = cp.pos(1 - margin) if self.loss == "hinge" else cp.logistic(-margin)
                total = cp.sum(losses) if w is None else cp.sum(cp.multiply(w, losses))
                constraints = [total / size <= param]
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
            solver, cvxpy status, solver statistics and, for hinge/logistic, the mean ``loss``;
            status from the certificate (``max_iter`` when CVXPY hit its limit).

        Raises
        ------
        SolverError
            Status ``"infeasible"`` (confirmed: the message names the least reachable loss, i.e.
            the smallest feasible eps) or ``"failed"`` (solver error).
        """
        eps = check_eps(eps)
        problem = self._problem if eps == self._problem.eps_asked else self._problem.with_eps(eps)
        return self._solve(problem, solver, solver_options, solve_kwargs)

    def _solve(
        self, problem: Problem, solver: str | None, solver_options: dict[str, Any] | None, solve_kwargs: dict[str, Any]
    ) -> Solution:
        """solve() on a validated problem (its eps included): the private path of ``solve(method="cvxpy")``."""
        eps = problem.eps_asked
        if self.loss == "logistic" and eps == 0.0:
            raise ValueError(
                "loss='logistic' needs eps > 0: the mean logistic loss is positive for every coef, "
                f"so eps=0 is infeasible; got eps={eps!r}. Try eps=1e-3 or loss='hinge' for a hard margin."
            )
        start = perf_counter()
        if problem.eps >= self._loss_at_zero:
            C = torch.zeros(self._Phi.shape[1], self._Y.shape[1], dtype=torch.float64)
            sol = self._package(problem, C, None, start, {"trivial": True, "solver": None})
            return finish(sol)
        cp = _cvxpy()
        plan = _solver_plan(solver, solver_options)
        program, var, intercept, param = self._program(eps == 0.0)
        if param is not None:
            param.value = math.sqrt(problem.eps * self._Y.size) if self.loss == "squared" else problem.eps
        attempts: list[dict[str, Any]] = []
        for index, (name, options) in enumerate(plan):
            kwargs = {**(solve_kwargs if index == 0 else _generic(solve_kwargs)), **options}
            try:
                with warnings.catch_warnings():  # our ConvergenceWarning replaces cvxpy's generic one
                    warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                    program.solve(solver=name, **kwargs)
                cvx_status, error = program.status, None
            except cp.error.SolverError as exc:
                cvx_status, error = None, (str(exc).strip().splitlines() or [""])[0][:300]
            attempts.append({"solver": name, "status": cvx_status, "error": error})
            answered = cvx_status in cp.settings.INF_OR_UNB or (
                cvx_status in cp.settings.SOLUTION_PRESENT and var.value is not None
            )
            if answered:  # a definite answer (even "infeasible") is not retried
                break
        stats = program.solver_stats
        info = {
            "solver": attempts[-1]["solver"],
            "cvxpy_status": attempts[-1]["status"],
            "attempts": attempts,
            "reduced": self.reduce,
            "norm": self.norm,
            "loss": self.loss,
            "solve_time_s": getattr(stats, "solve_time", None),
            "setup_time_s": getattr(stats, "setup_time", None),
            "compilation_time_s": getattr(program, "compilation_time", None),
        }
        cvx_status = attempts[-1]["status"]
        if cvx_status in cp.settings.INF_OR_UNB:
            raise self._infeasible(problem, cvx_status, attempts[-1]["solver"])
        if var.value is None:
            tried = ", ".join(f"{a['solver']} -> {a['status'] or 'error: ' + str(a['error'])}" for a in attempts)
            raise SolverError(
                f"method='cvxpy' ended with status 'failed': no solver produced a solution (tried {tried}). "
                f"Try another solver from {cp.installed_solvers()} (solver=...), or method='exact' for the "
                "squared l2 case.",
                method="cvxpy",
                status="failed",
            )
        value = np.asarray(var.value, dtype=np.float64).reshape(var.shape)
        coef = self._Q @ value if self.reduce else value
        C = torch.as_tensor(coef.reshape(coef.shape[0], -1), dtype=torch.float64)
        b = None
        if intercept is not None:
            b = torch.as_tensor(np.asarray(intercept.value, dtype=np.float64).reshape(-1), dtype=torch.float64)
        info["n_iter"] = getattr(stats, "num_iters", None) or 0
        limited = cvx_status == cp.USER_LIMIT
        sol = self._package(problem, C, b, start, info, objective=float(program.value), limited=limited)
        if sol.status == "inaccurate" and not limited and self._polishable:
            sol = self._polish(problem, sol, start)
        return finish(sol, self._advice(sol.status))

    @property
    def _polishable(self) -> bool:
        """The exact solver solves the same program: squared loss, plain l2 norm."""
        return self.loss == "squared" and self.norm == "l2" and self.weights is None

    def _polish(self, problem: Problem, rejected: Solution, start: float) -> Solution:
        """Replace a rejected squared-loss l2 answer by the exact solver's certified answer at the same eps."""
        from kernelreg.solvers._fallback import solve_exact

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exact = solve_exact(problem)
        info = dict(rejected.info)
        info.update(
            polished="exact",
            cvxpy_certificate=rejected.certificate,
            exact_info=exact.info,
            message=(
                f"CVXPY's answer was not certified ({rejected.info.get('message', '')}); replaced by the exact "
                "solver's answer at the same eps" + ("" if exact.status == "optimal" else f": {exact.info.get('message')}")
            ),
        )
        if exact.status == "optimal":
            info.pop("message")
        exact_fields = {k: getattr(exact, k) for k in ("coef", "mse", "norm", "lam", "certificate", "intercept", "status")}
        if self.fit_intercept:
            info["intercept"] = exact.intercept
        return Solution(
            method="cvxpy", n_iter=rejected.n_iter, time_s=perf_counter() - start, objective=exact.norm,
            eps=rejected.eps, info=info, **exact_fields,
        )

    def _package(
        self,
        problem: Problem,
        C: torch.Tensor,
        b: torch.Tensor | None,
        start: float,
        info: dict[str, Any],
        objective: float | None = None,
        limited: bool = False,
    ) -> Solution:
        """Certify (C, b) and package it; margin losses are judged on their measured mean loss."""
        b = problem.intercept(C) if b is None else b  # no answer from CVXPY (trivial eps): the best b for c
        fw = None if self.weights is None else torch.as_tensor(self.weights, dtype=torch.float64)
        if self.loss == "squared":
            cert = certify(problem, C, b, eps=problem.eps, norm=self.norm, feature_weights=fw)
        else:
            cert = self._margin_certificate(problem, C, b, info)
        if self.fit_intercept:
            info["intercept"] = problem.unscale(C, b)[1]
        sol = build_solution(
            problem, C, b, cert, "cvxpy", status="max_iter" if limited else None,
            message=(f"{info['solver']} stopped at its iteration or time limit (cvxpy status user_limit)"
                     if limited else ""),
            n_iter=int(info.pop("n_iter", 0)), info=info,
        )
        sol.objective = objective if objective is not None else cert.norm
        sol.time_s = perf_counter() - start
        return sol

    def _margin_certificate(self, problem: Problem, C: torch.Tensor, b: torch.Tensor, info: dict) -> Certificate:
        """Feasibility of a hinge / logistic answer from its measured mean loss (the norm gap is not certified)."""
        from dataclasses import replace

        cert = certify(problem, C, b, eps=None)
        pred = self._Phi @ C.numpy() + b.numpy()[None, :]
        margin = self._Y * pred
        losses = np.maximum(0.0, 1.0 - margin) if self.loss == "hinge" else np.logaddexp(0.0, -margin)
        w = np.ones_like(margin) if self._d is None else (self._d**2)[:, None] * np.ones_like(margin)
        mean_loss = float(np.sum(w * losses) / margin.size)
        active = w > 0
        min_margin = float(margin[active].min())
        info.update(mean_loss=mean_loss, min_margin=min_margin)
        return replace(
            cert, eps=problem.eps, loss=self.loss, mean_loss=mean_loss, min_margin=min_margin,
            feasibility=mean_loss / problem.eps if problem.eps > 0 else math.nan,
            judged=("feasibility",),
            problem=f"min {'||c||_1' if self.norm == 'l1' else '||c||_2'} s.t. mean {self.loss} loss <= eps",
            notes=f"the norm gap of loss={self.loss!r} is not certified: status 'optimal' means the measured "
            "mean loss meets eps and CVXPY reports optimal",
        )

    def _infeasible(self, problem: Problem, cvx_status: str, name: str) -> SolverError:
        """CVXPY says infeasible: confirm it with the least reachable loss and name it (the smallest feasible eps)."""
        floor = self._least_loss(problem)
        what = "mse" if self.loss == "squared" else f"mean {self.loss} loss"
        asked = problem.eps_asked
        if floor is not None and asked >= floor * (1.0 + 1e-9) and floor > 0:
            return SolverError(
                f"method='cvxpy' ended with status 'failed': {name} reports the program {cvx_status}, but "
                f"eps={asked:.6g} is above the least {what} {floor:.6g} these features reach, so it is feasible. "
                "Try another solver (solver=...) or tighter solver_options.",
                method="cvxpy",
                status="failed",
            )
        floor_name = "the least-squares floor (the least mse any coefficients reach)" if self.loss == "squared" else (
            f"the least {what} any coefficients reach"
        )
        least = "" if floor is None else f"; {floor_name} is {floor:.6g}, the smallest feasible eps"
        advice = (
            f" Use eps >= {floor:.6g}" + (" (or method='exact' with eps=0 for the least-squares min-norm solution)"
                                          if self.loss == "squared" else " or more features")
            if floor is not None
            else ""
        )
        return SolverError(
            f"method='cvxpy' ended with status 'infeasible': {name} reports the program {cvx_status}: no coef has "
            f"{what} <= eps={asked:.6g} on these {self._Y.shape[0]} samples{least}.{advice}",
            method="cvxpy",
            status="infeasible",
        )

    def _least_loss(self, problem: Problem) -> float | None:
        """The smallest mean loss any coef reaches: the float64 least-squares floor, or an LP / conic minimum."""
        if self.loss == "squared":
            from kernelreg.solvers.exact import SpectralSolver

            return SpectralSolver._on(problem, "r", None).mse_floor
        cp = _cvxpy()
        n_outputs = self._Y.shape[1]
        var = cp.Variable((self._Phi.shape[1], n_outputs))
        pred = self._Phi @ var
        if self.fit_intercept:
            pred = pred + np.ones((self._Phi.shape[0], 1)) @ cp.Variable((1, n_outputs))
        margin = cp.multiply(self._Y, pred)
        losses = cp.pos(1 - margin) if self.loss == "hinge" else cp.logistic(-margin)
        w = self._row_weights(self._Y)
        w = None if w is None else (w if w.ndim == 2 else w[:, None])
        total = cp.sum(losses) if w is None else cp.sum(cp.multiply(w, losses))
        least = cp.Problem(cp.Minimize(total / self._Y.size))
        try:
            least.solve()
        except cp.error.SolverError:
            return None
        return float(least.value) if least.value is not None else None

    def _advice(self, status: str) -> str:
        """What to change for each non-optimal status."""
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
    installed = _cvxpy().installed_solvers()
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
    problem: Problem,
    *,
    norm: Literal["l2", "l1"] = "l2",
    weights: ArrayLike | None = None,
    loss: Literal["squared", "hinge", "logistic"] = "squared",
    reduce: Literal["auto", "qr"] | bool = "auto",
    solver: str | None = None,
    solver_options: dict[str, Any] | None = None,
    **solve_kwargs: Any,
) -> Solution:
    """Backend of ``solve(method="cvxpy")``: build a :class:`MinNormProgram` on the validated problem and solve it once."""
    start = perf_counter()
    program = MinNormProgram._on(problem, norm, weights, loss, reduce)
    sol = program._solve(problem, solver, solver_options, solve_kwargs)
    sol.time_s = perf_counter() - start
    return sol
