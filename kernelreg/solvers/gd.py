"""Iterative solvers started from coef = 0 — plain GD, Adam and CGLS — with per-iteration history.

All three minimise ``mse(c) = ||Phi c - y||_F**2 / (N K)`` in torch on ``device``. From zero, GD
and CGLS stay in the row space of Phi and tend to the min-norm solution; Adam does not (its
coordinate-wise scaling leaves the row space), which is the comparison kernelreg exists to show.
With sample weights or an intercept they run on the effective problem (rows scaled by sqrt(w),
Phi and y centred) through :class:`_Operator`, which never copies Phi. ``KeyboardInterrupt``
is never caught: it reaches the caller.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any

import numpy as np
import torch

from kernelreg.exceptions import DivergenceError
from kernelreg.solvers._certificate import certify
from kernelreg.solvers._problem import Problem, check_eps
from kernelreg.solvers._solution import Solution, build_solution, finish

__all__ = ["solve_gd", "solve_adam", "solve_cg", "power_lipschitz"]

#: Divergence: the mse exceeds this multiple of the starting mse (mean(y^2)) ...
_BLOWUP_FACTOR = 1e3
#: ... or has risen this many iterations in a row and is above the starting mse.
_RISING_PATIENCE = 200
#: Power-iteration estimates of lambda_max(Phi^T Phi) are lower bounds: inflate by this factor.
_POWER_SAFETY = 1.01


@dataclass(frozen=True)
class _LoopOptions:
    """Settings shared by the three iterative methods (derive variants with dataclasses.replace)."""

    method: str
    max_iter: int
    target_mse: float
    tol: float | None
    history_every: int
    callback: Callable[[int, torch.Tensor, float], Any] | None
    lr: float | None = None
    advice: str = ""
    stability: str = ""


class _Operator:
    """``Phi_e = D (Phi - 1 mu^T)`` in the working dtype, applied without forming it (Phi itself when plain)."""

    def __init__(self, problem: Problem) -> None:
        P = problem.dense
        self.P, self.dtype, self.device = P, P.dtype, P.device
        self.shape = (int(P.shape[0]), int(P.shape[1]))
        self.scale = None if problem.scale is None else problem.scale.to(P.dtype)
        self.mu = None
        if problem.fit_intercept:
            w = problem.ones_scale() ** 2
            self.mu = ((P.mT @ w.to(P.dtype)) / float(w.sum()))[:, None]

    def mv(self, X: torch.Tensor) -> torch.Tensor:
        """``Phi_e X``."""
        out = self.P @ X
        if self.mu is not None:
            out = out - self.mu.mT @ X
        return out if self.scale is None else out * self.scale[:, None]

    def rmv(self, A: torch.Tensor) -> torch.Tensor:
        """``Phi_e^T A``."""
        SA = A if self.scale is None else A * self.scale[:, None]
        out = self.P.mT @ SA
        return out if self.mu is None else out - self.mu * SA.sum(dim=0)


class _Stepper(ABC):
    """One iterative method's state: coef, residual and a step(); the shared loop drives it.

    ``alpha`` (GD, CGLS) is the sample-space vector with ``coef = Phi_e^T alpha`` that the updates
    build along the way: the certificate's dual witness (None for Adam, which leaves the row space).
    """

    coef: torch.Tensor
    residual: torch.Tensor
    alpha: torch.Tensor | None = None

    @abstractmethod
    def step(self) -> None:
        """Advance one iteration, updating coef and residual."""

    def stalled(self, prev_mse: float, mse: float, tol: float) -> bool:
        """Default tol test: relative change of the mse between two iterations."""
        return abs(prev_mse - mse) <= tol * max(prev_mse, np.finfo(np.float64).tiny)


class _GDStepper(_Stepper):
    """Full-batch GD: c <- c - lr * 2 Phi^T (Phi c - y) / (N K)."""

    def __init__(self, op: _Operator, Y: torch.Tensor, lr: float) -> None:
        self.op, self.Y = op, Y
        self.scale = lr * 2.0 / Y.numel()
        self.coef = torch.zeros(op.shape[1], Y.shape[1], dtype=op.dtype, device=op.device)
        self.alpha = torch.zeros_like(Y)
        self.residual = -Y

    def step(self) -> None:
        """One gradient step; the new residual is computed directly (no drift)."""
        self.coef = self.coef - self.scale * self.op.rmv(self.residual)
        self.alpha = self.alpha - self.scale * self.residual
        self.residual = self.op.mv(self.coef) - self.Y


class _AdamStepper(_Stepper):
    """torch.optim.Adam on c with the exact mse gradient supplied by hand (no autograd graph)."""

    def __init__(self, op: _Operator, Y: torch.Tensor, lr: float, betas: tuple[float, float]) -> None:
        self.op, self.Y = op, Y
        self.coef = torch.zeros(op.shape[1], Y.shape[1], dtype=op.dtype, device=op.device, requires_grad=True)
        self.optimizer = torch.optim.Adam([self.coef], lr=lr, betas=betas)
        self.residual = -Y

    def step(self) -> None:
        """One Adam step on grad mse = 2 Phi^T r / (N K)."""
        self.coef.grad = (2.0 / self.Y.numel()) * self.op.rmv(self.residual)
        self.optimizer.step()
        with torch.no_grad():
            self.residual = self.op.mv(self.coef) - self.Y


class _CGLSStepper(_Stepper):
    """CGLS: conjugate gradients on Phi^T Phi c = Phi^T y from zero, one recursion per output column."""

    def __init__(self, op: _Operator, Y: torch.Tensor) -> None:
        self.op = op
        self.coef = torch.zeros(op.shape[1], Y.shape[1], dtype=op.dtype, device=op.device)
        self.residual = Y.clone()  # r = y - Phi c (sign is irrelevant for the mse)
        s = op.rmv(self.residual)
        self.direction = s
        self.alpha = torch.zeros_like(Y)
        self.sample_direction = self.residual.clone()  # direction = Phi_e^T sample_direction
        self.gamma = (s * s).sum(dim=0)
        self.gamma0 = self.gamma.clone()

    def step(self) -> None:
        """One CGLS iteration (Hestenes-Stiefel form), guarded against converged columns."""
        q = self.op.mv(self.direction)
        qq = (q * q).sum(dim=0)
        alpha = _safe_divide(self.gamma, qq)
        self.coef = self.coef + alpha * self.direction
        self.alpha = self.alpha + alpha * self.sample_direction
        self.residual = self.residual - alpha * q
        s = self.op.rmv(self.residual)
        gamma_new = (s * s).sum(dim=0)
        beta = _safe_divide(gamma_new, self.gamma)
        self.direction = s + beta * self.direction
        self.sample_direction = self.residual + beta * self.sample_direction
        self.gamma = gamma_new

    def stalled(self, prev_mse: float, mse: float, tol: float) -> bool:
        """CGLS test: normal-equation residual ||Phi^T r|| <= tol * ||Phi^T y|| in every column."""
        return bool((self.gamma <= (tol**2) * self.gamma0).all())


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator where the denominator is positive, 0 elsewhere (converged CG columns)."""
    positive = denominator > 0
    return torch.where(positive, numerator / torch.where(positive, denominator, torch.ones_like(denominator)), 0.0)


def power_lipschitz(P: torch.Tensor | _Operator, n_outputs: int, max_iter: int = 100, rtol: float = 1e-9) -> tuple[float, int]:
    """Lipschitz constant L = 2 lambda_max(Phi^T Phi) / (N K) by power iteration (with a small safety factor).

    Parameters
    ----------
    P : torch.Tensor of shape (n_samples, n_features), or the effective operator
    n_outputs : int
    max_iter : int, default=100
    rtol : float, default=1e-9
        Stop when the Rayleigh quotient changes by less than this relative amount.

    Returns
    -------
    lipschitz : float
    n_iter : int
        Power iterations used.
    """
    op = P if isinstance(P, _Operator) else None
    mv = op.mv if op is not None else (lambda x: P @ x)
    rmv = op.rmv if op is not None else (lambda a: P.mT @ a)
    shape, device, dtype = (op.shape, op.device, op.dtype) if op is not None else (P.shape, P.device, P.dtype)
    gen = torch.Generator().manual_seed(0)  # local generator: fixed start vector, no global state
    v = torch.randn(shape[1], 1, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)
    v = v / v.norm()
    estimate, it = 0.0, 0
    for it in range(1, max_iter + 1):
        w = mv(v)
        new = float((w * w).sum())  # Rayleigh quotient v^T Phi^T Phi v
        v = rmv(w)
        norm = float(v.norm())
        if norm == 0.0:
            break
        v = v / norm
        if abs(new - estimate) <= rtol * new:
            estimate = new
            break
        estimate = new
    return 2.0 * _POWER_SAFETY * estimate / (shape[0] * n_outputs), it


def _iterate(stepper: _Stepper, opts: _LoopOptions, nk: int) -> tuple[str, int, list[dict[str, float]], str]:
    """Drive a stepper from coef = 0: stop on target, tol or max_iter; detect divergence; record history."""
    start = perf_counter()
    mse0 = float((stepper.residual**2).sum()) / nk
    mse, prev, rises, k = mse0, mse0, 0, 0
    history = [{"iter": 0, "mse": mse0, "norm": 0.0, "time_s": 0.0}]
    status, message = "max_iter", ""
    while True:
        if mse <= opts.target_mse:
            status, message = "optimal", f"mse {mse:.6g} <= target_mse {opts.target_mse:.6g}"
            break
        if k >= opts.max_iter:
            message = f"reached max_iter={opts.max_iter} at mse={mse:.6g} > target_mse={opts.target_mse:.6g}"
            break
        stepper.step()
        k += 1
        mse = float((stepper.residual**2).sum()) / nk
        rises = rises + 1 if mse > prev else 0
        if not math.isfinite(mse) or mse > _BLOWUP_FACTOR * mse0 or (rises >= _RISING_PATIENCE and mse > mse0):
            raise DivergenceError(_divergence_message(opts, k, mse, mse0, rises), method=opts.method)
        if k % opts.history_every == 0:
            history.append(_record(k, stepper.coef, mse, start))
        if opts.callback is not None:
            opts.callback(k, stepper.coef.detach().clone(), mse)
        if opts.tol is not None and stepper.stalled(prev, mse, opts.tol):
            if opts.target_mse == 0.0 or mse <= opts.target_mse:
                status, message = "optimal", f"converged: tol={opts.tol:g} met at iteration {k}"
            else:
                status = "inaccurate"
                message = (
                    f"stalled at iteration {k}: tol={opts.tol:g} met at mse={mse:.6g}, above "
                    f"target_mse={opts.target_mse:.6g}"
                )
            break
        prev = mse
    if history[-1]["iter"] != k:
        history.append(_record(k, stepper.coef, mse, start))
    return status, k, history, message


def _record(k: int, coef: torch.Tensor, mse: float, start: float) -> dict[str, float]:
    """One history row."""
    return {"iter": k, "mse": mse, "norm": float(coef.detach().norm()), "time_s": perf_counter() - start}


def _divergence_message(opts: _LoopOptions, k: int, mse: float, mse0: float, rises: int) -> str:
    """Explain a divergence: where, how, and which smaller lr to try."""
    if not math.isfinite(mse):
        how = f"the mse became {mse}"
    elif mse > _BLOWUP_FACTOR * mse0:
        how = f"the mse {mse:.4g} exceeded {_BLOWUP_FACTOR:g}x the starting mse {mse0:.4g}"
    else:
        how = f"the mse rose for {rises} iterations in a row to {mse:.4g} (start {mse0:.4g})"
    text = f"method={opts.method!r} diverged at iteration {k}: {how}"
    if opts.lr is None:
        return text + "; Phi may be too ill-conditioned for CG in this precision: use method='exact'."
    stability = f" {opts.stability}" if opts.stability else ""
    return text + f" with lr={opts.lr:.4g}.{stability} Use a smaller lr (e.g. lr={opts.lr / 10:.3g})."


def _prepare(problem: Problem) -> tuple[_Operator, torch.Tensor]:
    """The effective operator and targets in the working dtype (chosen once by solve())."""
    op = _Operator(problem)
    return op, problem.Ye.to(dtype=op.dtype)


def _check_positive_int(value: Any, name: str, method: str) -> int:
    """max_iter and history_every must be integers >= 1 (max_iter may be 0)."""
    low = 0 if name == "max_iter" else 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"method={method!r}: {name} must be an integer >= {low}; got {name}={value!r}.")
    return int(value)


def _check_positive_float(value: Any, name: str, method: str) -> float:
    """lr and tol must be finite numbers > 0."""
    is_number = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or value <= 0:
        raise ValueError(f"method={method!r}: {name} must be a finite number > 0; got {name}={value!r}.")
    return float(value)


def _check_target(target_mse: Any, method: str) -> float:
    """target_mse obeys the rules of eps (finite, >= 0) but the message names target_mse."""
    try:
        return check_eps(target_mse)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"method={method!r}: target_mse must be a finite number >= 0 (the mse at which to stop); "
            f"got target_mse={target_mse!r}."
        ) from None


def _loop_options(
    method: str, problem: Problem, max_iter: Any, target_mse: Any, tol: Any, history_every: Any, callback: Any
) -> _LoopOptions:
    """Validate the shared loop settings once (target_mse in the solvers' units, like the loop's mse)."""
    if callback is not None and not callable(callback):
        raise TypeError(f"method={method!r}: callback must be callable(iter, coef, mse) or None; got {callback!r}.")
    return _LoopOptions(
        method=method,
        max_iter=_check_positive_int(max_iter, "max_iter", method),
        target_mse=problem.eps if target_mse is None else math.ldexp(_check_target(target_mse, method), -2 * problem.y_exp),
        tol=None if tol is None else _check_positive_float(tol, "tol", method),
        history_every=_check_positive_int(history_every, "history_every", method),
        callback=callback,
    )


def _finish_run(
    stepper: _Stepper,
    problem: Problem,
    opts: _LoopOptions,
    run: tuple[str, int, list[dict[str, float]], str],
    start: float,
    info: dict[str, Any],
) -> Solution:
    """Certify the answer at the mse it reached, confirm the loop's claim with the measured mse, package."""
    status, n_iter, history, message = run
    C = stepper.coef.detach().to(torch.float64)
    b = problem.intercept(C)
    witness = None if stepper.alpha is None else stepper.alpha.detach().to(torch.float64)
    cert = certify(problem, C, b, eps=None, witness=witness)
    target = math.ldexp(opts.target_mse, 2 * problem.y_exp)  # back in the caller's units
    if status == "optimal" and target > 0 and cert.mse > target * (1.0 + 1e-6):
        status = "inaccurate"
        message = (
            f"the loop's running mse reached target_mse={target:.6g}, but the mse measured from "
            f"Phi c - y is {cert.mse:.6g} (the recursive residual drifted)"
        )
    if problem.y_exp:
        history = [
            dict(row, mse=math.ldexp(row["mse"], 2 * problem.y_exp),
                 norm=math.ldexp(row["norm"], problem.y_exp - problem.phi_exp))
            for row in history
        ]
    info.update(target_mse=target, tol=opts.tol, max_iter=opts.max_iter, message=message)
    sol = build_solution(problem, C, b, cert, opts.method, status=status, message=message,
                         n_iter=n_iter, history=history, info=info)
    sol.time_s = perf_counter() - start
    return finish(sol, opts.advice)


def solve_gd(
    problem: Problem,
    *,
    max_iter: int = 10_000,
    lr: float | None = None,
    target_mse: float | None = None,
    tol: float | None = None,
    history_every: int = 1,
    callback: Callable[[int, torch.Tensor, float], Any] | None = None,
) -> Solution:
    """Backend of ``solve(method="gd")``: full-batch GD on mse from zero (see :func:`kernelreg.solvers.solve`).

    Default ``lr = 1 / L`` with ``L = 2 lambda_max(Phi^T Phi) / (N K)`` estimated by power iteration
    (times 1.01); ``info`` records ``lipschitz``, ``lr`` and the stability bound ``2 / L``.
    """
    start = perf_counter()
    opts = _loop_options("gd", problem, max_iter, target_mse, tol, history_every, callback)
    op, Yt = _prepare(problem)
    lipschitz, power_iters = power_lipschitz(op, Yt.shape[1])
    if lr is None:
        lr = 1.0 / lipschitz if lipschitz > 0 else 1.0
    lr = _check_positive_float(lr, "lr", "gd")
    bound = 2.0 / lipschitz if lipschitz > 0 else math.inf
    opts = replace(
        opts,
        lr=lr,
        stability=f"GD is stable only for lr < 2/L = {bound:.4g} (L = {lipschitz:.4g} by power iteration).",
        advice=(
            f"Raise max_iter (now {opts.max_iter}) or loosen target_mse/eps, set tol=... to stop on "
            f"a plateau, or use method='cg' / 'exact' (same limit, far fewer steps); lr={lr:.4g} is "
            f"already {lr * lipschitz / 2:.0%} of the stability bound 2/L = {bound:.4g}."
        ),
    )
    stepper = _GDStepper(op, Yt, lr)
    run = _iterate(stepper, opts, Yt.numel())
    info = {
        "lr": lr,
        "lipschitz": lipschitz,
        "stability_bound": bound,
        "power_iters": power_iters,
        "device": str(op.device),
        "dtype": str(op.dtype),
    }
    return _finish_run(stepper, problem, opts, run, start, info)


def solve_adam(
    problem: Problem,
    *,
    max_iter: int = 10_000,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    target_mse: float | None = None,
    tol: float | None = None,
    history_every: int = 1,
    callback: Callable[[int, torch.Tensor, float], Any] | None = None,
) -> Solution:
    """Backend of ``solve(method="adam")``: full-batch ``torch.optim.Adam`` on mse from zero.

    Adam reaches small mse but not the min-norm coefficients: its per-coordinate step sizes
    move c out of the row space of Phi.
    """
    start = perf_counter()
    opts = _loop_options("adam", problem, max_iter, target_mse, tol, history_every, callback)
    lr = _check_positive_float(lr, "lr", "adam")
    if len(tuple(betas)) != 2 or not all(0.0 <= float(b) < 1.0 for b in betas):
        raise ValueError(f"method='adam': betas must be two numbers in [0, 1); got betas={betas!r}.")
    opts = replace(
        opts,
        lr=lr,
        advice=f"Raise max_iter (now {opts.max_iter}) or tune lr (now {lr:.3g}); set tol=... to stop on a plateau.",
    )
    op, Yt = _prepare(problem)
    stepper = _AdamStepper(op, Yt, lr, (float(betas[0]), float(betas[1])))
    run = _iterate(stepper, opts, Yt.numel())
    info = {"lr": lr, "betas": tuple(float(b) for b in betas), "device": str(op.device), "dtype": str(op.dtype)}
    return _finish_run(stepper, problem, opts, run, start, info)


def solve_cg(
    problem: Problem,
    *,
    max_iter: int = 10_000,
    target_mse: float | None = None,
    tol: float | None = 1e-12,
    history_every: int = 1,
    callback: Callable[[int, torch.Tensor, float], Any] | None = None,
) -> Solution:
    """Backend of ``solve(method="cg")``: CGLS from zero, which tends to the min-norm least-squares solution.

    ``tol`` is relative to the normal-equation residual: stop when
    ``||Phi^T (y - Phi c)|| <= tol * ||Phi^T y||`` in every output column.
    """
    start = perf_counter()
    opts = _loop_options("cg", problem, max_iter, target_mse, tol, history_every, callback)
    opts = replace(
        opts,
        advice=f"Raise max_iter (now {opts.max_iter}) or loosen tol (now {opts.tol}); on a very "
        f"ill-conditioned Phi use method='exact'.",
    )
    op, Yt = _prepare(problem)
    stepper = _CGLSStepper(op, Yt)
    run = _iterate(stepper, opts, Yt.numel())
    normal_residual = (stepper.gamma / stepper.gamma0.clamp_min(np.finfo(np.float64).tiny)).max().sqrt()
    info = {"device": str(op.device), "dtype": str(op.dtype), "normal_residual_rel": float(normal_residual)}
    return _finish_run(stepper, problem, opts, run, start, info)
