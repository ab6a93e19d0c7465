"""Check a returned answer against the problem itself: feasibility, stationarity and a dual bound on the norm gap.

The check reads only Phi, y and the answer (``coef``, ``intercept``), in float64, in one pass over
Phi, whatever backend produced it. Its norm gap rests on weak duality, which any vector ``alpha``
in sample space turns into a bound (Cauchy-Schwarz on ``alpha^T y = alpha^T Phi c + alpha^T (y - Phi c)``):

    for every c with ||Phi c - y|| <= rho:   ||c|| >= (alpha^T y - rho ||alpha||) / ||Phi^T alpha||

(with an intercept: for every alpha with ``1^T D alpha = 0``; for a weighted norm ``||w c||`` the
denominator is ``||Phi^T alpha / w||``, for ``l1`` it is ``||Phi^T alpha||_inf``). The bound is
tight at the optimal ``alpha = (y - Phi c*) / lam``. A backend may hand over its own ``alpha``
(the exact solver's sample-space coefficients, computed in its spectral basis): it is only a
*witness* — a poor one gives a loose bound, never a false certificate — and the certificate
combines it with ``-r`` (the measured residual) to maximise the bound. This stays meaningful
when lam is tiny, where the naive residual ``||c + Phi^T r / lam||`` is pure rounding.
Rounding in the bound's own products is charged to it (``rounding``), so a certified gap is an
upper bound in float64 too (with the probabilistic rounding level ``sqrt(N) eps_64``). For feasible
``c`` the gap also bounds the distance to the minimiser: ``||c - c*||^2 <= ||c||^2 - ||c*||^2``.

eps = 0 (least squares, the dual supremum is not attained when the floor is positive): feasibility
is the normal-equations test ``||Phi^T r||``, and the gap is that of c's part outside the row space
of Phi (every least-squares solution has the same fit; the minimum-norm one lies in the row space).

Known limit: on tall Phi with eps within ~1e-6 of the floor, lam is tiny and the witness's
``y_perp / lam`` part dominates ``||alpha||``; the rounding charge then reaches ~1e-5 and a correct
answer is reported ``inaccurate`` with that bound (measured: 10 000 x 1000 ReLU, true excess 5e-10,
certified 4e-5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from kernelreg.solvers._linalg import F64_EPS, safe_norm, sum_squares

if TYPE_CHECKING:
    from kernelreg.solvers._problem import Problem

__all__ = ["Certificate", "Tolerances", "certify", "DEFAULT_TOLERANCES"]


@dataclass(frozen=True)
class Tolerances:
    """What ``optimal`` means: the thresholds a :class:`Certificate` is judged against.

    Attributes
    ----------
    feasibility : float, default=1e-6
        ``mse <= eps * (1 + feasibility)``.
    stationarity : float, default=1e-3
        ``||c - t Phi^T alpha|| / ||c||`` for the best dual witness alpha and scale t (a
        coefficient-level residual: ``norm_gap`` 1e-6 allows ``||c - c*|| / ||c||`` up to ~1.4e-3).
    norm_gap : float, default=1e-6
        ``||c|| <= (1 + norm_gap) * min ||c'||`` over all feasible ``c'``.
    normal_residual : float or None, default=None
        eps = 0 only (least squares): ``||Phi^T r|| / (||Phi||_F (||Phi||_F ||c|| + ||y||))``, the
        backward error of the normal equations, must stay below it. Default
        ``10 * max(N, n) * eps_64``: ten times the default rcond, since directions under the rcond
        cut leave at most ``rcond`` there. (The Gram's min-norm answer, blind to singular values
        below ~1e-7 s_max, fails it whenever y has mass in them.)
    """

    feasibility: float = 1e-6
    stationarity: float = 1e-3
    norm_gap: float = 1e-6
    normal_residual: float | None = None


DEFAULT_TOLERANCES = Tolerances()


@dataclass(frozen=True)
class Certificate:
    """An independent float64 check of one answer of the min-norm program (``Solution.certificate``).

    Attributes
    ----------
    eps : float
        The bound on the mean squared error the answer is judged against (the requested eps; for
        gd/adam/cg the mse they reached; 0 for the min-norm least-squares solution).
    mse : float
        Mean squared training error measured from the residual ``Phi c + b - y`` (weighted when
        ``sample_weight`` was given).
    feasibility : float
        ``mse / eps`` (NaN when eps = 0: then ``normal_residual`` decides).
    stationarity : float
        Relative KKT residual ``||c - t Phi^T alpha|| / ||c||`` for the best dual witness alpha.
    normal_residual : float
        ``||Phi^T r|| / (||Phi||_F (||Phi||_F ||c|| + ||y||))`` (the least-squares optimality test
        of eps = 0; for eps > 0 it is about ``lam / ||Phi||_F^2``).
    norm : float
        The minimised norm of the answer (``||c||_2``, ``||w c||_2`` or ``||c||_1``).
    norm_lower_bound : float
        A lower bound on the minimum norm over every coefficient vector with mse <= eps.
    norm_gap : float
        ``norm / norm_lower_bound - 1``: how far the answer can be above the true minimum (for
        eps = 0: the excess of c's part outside the row space of Phi).
    coef_distance : float
        ``sqrt(norm^2 - bound^2) / norm``: a bound on ``||c - c*|| / ||c||`` when c is feasible.
    rounding : float
        The part of ``norm_gap`` charged to rounding in the bound's own products.
    mse_resolution : float
        Relative precision of the measured mse (rounding of ``Phi c`` against the residual's size).
    tolerances : Tolerances
        The thresholds judged against.
    problem : str
        The program that was checked, e.g. ``"min ||c||_2 s.t. mse <= eps"``.
    notes : str
        What could not be checked (e.g. the norm gap of a margin loss).
    loss : str
        ``"squared"``; ``"hinge"`` / ``"logistic"`` for the margin programs of method="cvxpy",
        whose feasibility is the measured mean loss (``mean_loss``; ``min_margin`` for the hard
        margin at eps = 0) and whose norm gap is not certified (``judged`` lists what is).
    judged : tuple of str
        The checks ``optimal`` requires: ``("feasibility", "stationarity", "norm_gap")`` for the
        squared loss.
    """

    eps: float
    mse: float
    feasibility: float
    stationarity: float
    normal_residual: float
    norm: float
    norm_lower_bound: float
    norm_gap: float
    coef_distance: float
    rounding: float
    mse_resolution: float = 0.0
    tolerances: Tolerances = field(default=DEFAULT_TOLERANCES)
    problem: str = "min ||c||_2 s.t. mse <= eps"
    notes: str = ""
    normal_tolerance: float = 1e-10
    loss: str = "squared"
    mean_loss: float = math.nan
    min_margin: float = math.nan
    judged: tuple[str, ...] = ("feasibility", "stationarity", "norm_gap")

    @property
    def feasible(self) -> bool:
        """mse <= eps (1 + tol), or for eps = 0 the least-squares optimality test (margin losses: mean loss)."""
        tol = self.tolerances.feasibility
        if self.loss != "squared":
            if self.eps > 0:
                return self.mean_loss <= self.eps * (1.0 + tol)
            return self.min_margin >= 1.0 - tol
        if self.eps > 0:
            return self.mse <= self.eps * (1.0 + tol)
        return self.normal_residual <= self.normal_tolerance

    @property
    def stationary(self) -> bool:
        """The KKT residual is within tolerance (NaN, i.e. not measured, counts as not stationary)."""
        return self.stationarity <= self.tolerances.stationarity

    @property
    def near_minimum(self) -> bool:
        """The norm is within ``norm_gap`` tolerance of the minimum."""
        return self.norm_gap <= self.tolerances.norm_gap

    @property
    def optimal(self) -> bool:
        """Every judged check holds: what status ``"optimal"`` claims."""
        checks = {"feasibility": self.feasible, "stationarity": self.stationary, "norm_gap": self.near_minimum}
        return all(checks[name] for name in self.judged)

    def failures(self) -> list[str]:
        """The checks that fail, each with its number and tolerance."""
        tol, out = self.tolerances, []
        if not self.feasible:
            if self.loss != "squared":
                out.append(
                    f"mean {self.loss} loss {self.mean_loss:.6g} > eps = {self.eps:.6g}"
                    if self.eps > 0
                    else f"min margin {self.min_margin:.6g} < 1"
                )
            elif self.eps > 0:
                out.append(f"mse / eps = {self.feasibility:.10g} > 1 + {tol.feasibility:g}")
            else:
                out.append(
                    f"least-squares residual ||Phi^T r|| (relative) = {self.normal_residual:.3g} > "
                    f"{self.normal_tolerance:.3g}"
                )
        if "stationarity" in self.judged and not self.stationary:
            out.append(f"stationarity {self.stationarity:.3g} > {tol.stationarity:g}")
        if "norm_gap" in self.judged and not self.near_minimum:
            out.append(f"norm gap {self.norm_gap:.3g} > {tol.norm_gap:g}")
        return out

    def __str__(self) -> str:
        """A table of the checks, their numbers and tolerances."""
        tol = self.tolerances

        def mark(ok: bool) -> str:
            return "ok" if ok else "FAILED"

        if self.loss != "squared":
            feas = (
                f"mean {self.loss} loss / eps = {self.mean_loss / self.eps:.10g}   (<= 1 + {tol.feasibility:g})"
                if self.eps > 0
                else f"min margin = {self.min_margin:.10g}   (>= 1 - {tol.feasibility:g})"
            )
        elif self.eps > 0:
            feas = f"mse / eps = {self.feasibility:.10g}   (<= 1 + {tol.feasibility:g})"
        else:
            feas = f"||Phi^T r|| rel. = {self.normal_residual:.3g}   (<= {self.normal_tolerance:.3g}; eps = 0)"
        lines = [
            f"Certificate of {self.problem}   [{'optimal' if self.optimal else 'not certified'}]",
            f"  feasibility   {feas}  {mark(self.feasible)}",
            f"  stationarity  {self.stationarity:.3g}   (<= {tol.stationarity:g})  {mark(self.stationary)}",
            f"  norm gap      ||c|| <= (1 + {self.norm_gap:.3g}) * min ||c||   (<= {tol.norm_gap:g})  "
            f"{mark(self.near_minimum)}",
            f"  mse = {self.mse:.6g}, eps = {self.eps:.6g}, ||c|| = {self.norm:.6g} >= "
            f"{self.norm_lower_bound:.6g}; ||c - c*|| / ||c|| <= {self.coef_distance:.2g}",
        ]
        if self.notes:
            lines.append(f"  note: {self.notes}")
        return "\n".join(lines)


def _objective(C: torch.Tensor, norm: str, feature_weights: torch.Tensor | None) -> float:
    """The minimised norm of C: l2 (Frobenius), weighted l2, or l1."""
    if norm == "l1":
        scaled = C if feature_weights is None else C * feature_weights[:, None]
        return float(scaled.abs().sum())
    return safe_norm(C if feature_weights is None else C * feature_weights[:, None])


def _dual_norm(T: np.ndarray, norm: str, feature_weights: np.ndarray | None) -> float:
    """The dual norm of Phi^T alpha: l2 (weighted: ||T / w||) or l-infinity."""
    scaled = T if feature_weights is None else T / feature_weights[:, None]
    return float(np.abs(scaled).max()) if norm == "l1" else float(np.linalg.norm(scaled))


def _best_bound(
    A: list[np.ndarray],
    T: list[np.ndarray],
    ye: np.ndarray,
    rho: float,
    norm: str,
    fw: np.ndarray | None,
    err: float,
    fro: float,
) -> tuple[float, np.ndarray, float]:
    """Maximise the dual bound over the span of the candidate witnesses; (bound, beta, rounding share)."""
    # normalise each candidate: the bound is scale-invariant, the 2x2 forms are better conditioned
    scales = [float(np.linalg.norm(a)) for a in A]
    keep = [i for i, s in enumerate(scales) if s > 0 and math.isfinite(s)]
    A = [A[i] / scales[i] for i in keep]
    T = [T[i] / scales[i] for i in keep]
    if not A:
        return 0.0, np.zeros(0), 0.0
    y_norm = float(np.linalg.norm(ye))

    def bound(beta: np.ndarray) -> tuple[float, float]:
        alpha = sum(b * a for b, a in zip(beta, A))
        t = sum(b * x for b, x in zip(beta, T))
        a_norm = float(np.linalg.norm(alpha))
        num = float(np.vdot(alpha, ye)) - rho * a_norm
        slack = err * a_norm * (y_norm + rho)
        den = _dual_norm(t, norm, fw)
        den_err = err * fro * a_norm
        if num - slack <= 0 or den + den_err <= 0:
            return 0.0, 0.0
        value = (num - slack) / (den + den_err)
        exact = num / den if den > 0 else math.inf
        return value, exact

    if len(A) == 1 or norm == "l1":
        best, best_beta = 0.0, np.zeros(len(A))
        for i in range(len(A)):
            for sign in (1.0, -1.0):
                beta = np.zeros(len(A))
                beta[i] = sign
                value = bound(beta)[0]
                if value > best:
                    best, best_beta = value, beta
        exact = bound(best_beta)[1] if best > 0 else 0.0
        return best, best_beta, exact

    # grid search on the 2 x 2 quadratic forms (cheap), then a bounded refinement and a final exact
    # evaluation with the vectors themselves (no cancellation from the forms in the reported value)
    Aa = np.array([[np.vdot(a, b) for b in A] for a in A])
    Tt = None if fw is not None else np.array([[np.vdot(a, b) for b in T] for a in T])
    p = np.array([np.vdot(a, ye) for a in A])

    def form_value(theta: np.ndarray) -> np.ndarray:
        beta = np.stack([np.cos(theta), np.sin(theta)])
        a_norm = np.sqrt(np.maximum(np.einsum("ik,ij,jk->k", beta, Aa, beta), 0.0))
        num = beta.T @ p - rho * a_norm - err * a_norm * (y_norm + rho)
        if Tt is None:
            den = np.array([_dual_norm(beta[0, k] * T[0] + beta[1, k] * T[1], norm, fw) for k in range(theta.size)])
        else:
            den = np.sqrt(np.maximum(np.einsum("ik,ij,jk->k", beta, Tt, beta), 0.0))
        den = den + err * fro * a_norm
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((num > 0) & (den > 0), num / den, 0.0)

    grid = np.linspace(0.0, 2.0 * math.pi, 721, endpoint=False)
    values = form_value(grid)
    i = int(np.argmax(values))
    step = grid[1] - grid[0]
    res = minimize_scalar(
        lambda t: -float(form_value(np.array([t]))[0]), bounds=(grid[i] - step, grid[i] + step), method="bounded",
        options={"xatol": 1e-12},
    )
    theta = float(res.x) if -res.fun > values[i] else float(grid[i])
    beta = np.array([math.cos(theta), math.sin(theta)])
    value, exact = bound(beta)
    return value, beta, exact


def _misalignment(C: np.ndarray, t: np.ndarray, fw: np.ndarray | None) -> float:
    """||C - tau t|| / ||C|| for the best scale tau: how far c is from the witness direction (KKT residual)."""
    if fw is not None:
        t = t / fw[:, None] ** 2  # weighted norm: the KKT reads W^2 c = Phi^T alpha / lam
    tt = float(np.vdot(t, t))
    if not tt > 0 or not math.isfinite(tt):
        return 1.0
    tau = float(np.vdot(C, t)) / tt
    return float(np.linalg.norm(C - tau * t)) / float(np.linalg.norm(C))


def certify(
    problem: Problem,
    C: torch.Tensor,
    b: torch.Tensor | None = None,
    *,
    eps: float | None = None,
    witness: torch.Tensor | None = None,
    norm: str = "l2",
    feature_weights: torch.Tensor | None = None,
    tolerances: Tolerances = DEFAULT_TOLERANCES,
) -> Certificate:
    """Certify coefficients C (n, K) and intercept b (K,) for the problem at eps (solver units) in one pass.

    Parameters
    ----------
    problem : Problem
        The validated problem (Phi source, targets, weights, intercept flag).
    C, b : torch.Tensor
        The answer in the solvers' units (Phi / 2**phi_exp, y / 2**y_exp).
    eps : float or None
        The bound judged against, in the solvers' units; None: the mse the answer reached.
    witness : torch.Tensor of shape (n_samples, n_outputs) or None
        A dual vector from the backend (its sample-space coefficients); combined with ``-r``.
    norm : {"l2", "l1"}
    feature_weights : torch.Tensor or None
        Per-feature weights w of a weighted norm ``||w c||``.
    tolerances : Tolerances

    Returns
    -------
    Certificate
        In the caller's units (mse, eps and norms scaled back).
    """
    N, K = problem.n_samples, problem.n_outputs
    C = C.to(dtype=torch.float64)
    if b is None:
        b = torch.zeros(K, dtype=torch.float64, device=C.device)
    columns = []
    if witness is not None:
        columns.append(witness if problem.scale is None else witness * problem.scale[:, None])
    if problem.fit_intercept:
        w = problem.weights if problem.weights is not None else torch.ones(N, dtype=torch.float64, device=C.device)
        columns.append(w[:, None])
    extra = torch.cat(columns, dim=1) if columns else None
    R, T_all, fro2 = problem.source.residual(C, b[None, :].to(C), problem.Y, problem.scale, extra)
    rss = sum_squares(R)
    mse = rss / problem.nk
    reached = eps is None
    eps_judged = mse if reached else float(eps)
    rho = math.sqrt(max(eps_judged, mse) * problem.nk)

    # effective operator pieces: Phi_e^T a = Phi^T (D a) - mu (1^T D a)
    R_np = R.double().cpu().numpy()
    T_np = T_all.double().cpu().numpy()
    ye = problem.Ye.double().cpu().numpy()
    TR = T_np[:, :K]
    d = None if problem.scale is None else problem.scale.double().cpu().numpy()
    ones_d = np.ones(N) if d is None else d
    cands_A = [-R_np]
    cands_T = [-TR]
    if witness is not None:
        cands_A.append(witness.double().cpu().numpy())
        cands_T.append(T_np[:, K : 2 * K])
    fro = math.sqrt(fro2) * (1.0 if d is None else float(d.max()))
    mu = None
    if problem.fit_intercept:
        Tw = T_np[:, -1]
        total = float(np.sum(ones_d**2))
        mu = Tw / total
        fro *= 2.0  # ||Phi - 1 mu^T||_F <= ||Phi||_F + ||1 mu^T||_F <= 2 ||D Phi||_F / min(d) (loose)
        q = ones_d / math.sqrt(total)
        for i, (a, t) in enumerate(zip(cands_A, cands_T)):  # project onto 1^T D alpha = 0
            coef_q = q @ a  # (K,)
            cands_A[i] = a - np.outer(q, coef_q)
            cands_T[i] = t - np.outer(Tw / math.sqrt(total), coef_q)
    fw = None if feature_weights is None else feature_weights.double().cpu().numpy()
    err = math.sqrt(N) * F64_EPS  # probabilistic rounding level of length-N float64 sums (sqrt(N) u)
    bound, beta, exact = _best_bound(cands_A, cands_T, ye, rho, norm, fw, err, fro)

    norm_value = _objective(C, norm, feature_weights)
    if norm_value == 0.0:
        gap, distance, rounding = 0.0, 0.0, 0.0
    elif bound <= 0.0:
        gap, distance, rounding = math.inf, 1.0, math.nan
    else:
        gap = norm_value / bound - 1.0
        distance = math.sqrt(max(norm_value**2 - bound**2, 0.0)) / norm_value
        rounding = max(gap - (norm_value / exact - 1.0), 0.0) if math.isfinite(exact) and exact > 0 else 0.0

    # stationarity: c against its best witness direction Phi_e^T alpha (l2 norms only)
    C_np = C.double().cpu().numpy()
    if norm_value == 0.0:
        stationarity = 0.0
    elif norm != "l2" or beta.size == 0:
        stationarity = math.nan
    else:
        scales = [float(np.linalg.norm(a)) or 1.0 for a in cands_A]
        directions = [t / sc for t, sc in zip(cands_T, scales)]
        directions.append(sum(bj * tj for bj, tj in zip(beta, directions)))
        stationarity = min(_misalignment(C_np, t, fw) for t in directions)
    if eps_judged == 0.0 and norm == "l2" and math.isfinite(stationarity) and norm_value > 0.0:
        # least squares: every solution shares the fit; the min-norm one lies in the row space of Phi, and
        # c is at distance <= stationarity * ||c|| from it, so ||c*|| >= ||c|| sqrt(1 - stationarity^2)
        row_bound = norm_value * math.sqrt(max(1.0 - stationarity**2, 0.0))
        if row_bound > bound:
            bound, exact = row_bound, row_bound
            gap = norm_value / bound - 1.0 if bound > 0 else math.inf
            distance = math.sqrt(max(norm_value**2 - bound**2, 0.0)) / norm_value
            rounding = 0.0

    # least-squares test: relative ||Phi_e^T r||
    normal = TR if mu is None else TR - np.outer(mu, ones_d @ R_np)
    denom = fro * (fro * float(np.linalg.norm(C_np)) + float(np.linalg.norm(ye)))
    normal_residual = float(np.linalg.norm(normal)) / denom if denom > 0 else 0.0

    square, norm_scale = 2 * problem.y_exp, problem.y_exp - problem.phi_exp
    labels = []
    if problem.weights is not None:
        labels.append("weighted mse")
    if problem.fit_intercept:
        labels.append("free intercept")
    norm_label = {"l1": "||c||_1"}.get(norm, "||w c||_2" if feature_weights is not None else "||c||_2")
    text = f"min {norm_label} s.t. mse <= eps" + (f" ({', '.join(labels)})" if labels else "")
    normal_tol = tolerances.normal_residual
    if normal_tol is None:
        normal_tol = 10.0 * max(N, problem.n_features) * F64_EPS
    return Certificate(
        eps=_scaled(eps_judged, square),
        mse=_scaled(mse, square),
        feasibility=(mse / eps_judged) if eps_judged > 0 else math.nan,
        stationarity=stationarity,
        normal_residual=normal_residual,
        norm=_scaled(norm_value, norm_scale),
        norm_lower_bound=_scaled(bound, norm_scale),
        norm_gap=gap,
        coef_distance=distance,
        rounding=rounding,
        mse_resolution=(2.0 * err * fro * float(np.linalg.norm(C_np)) / math.sqrt(rss)) if rss > 0 else 0.0,
        tolerances=tolerances,
        problem=text + (" [eps = the mse reached]" if reached else ""),
        normal_tolerance=normal_tol,
        judged=("feasibility", "norm_gap") if norm == "l1" else ("feasibility", "stationarity", "norm_gap"),
        notes="stationarity is not measured for the l1 norm (its KKT conditions are a subgradient inclusion)"
        if norm == "l1"
        else "",
    )


def _scaled(value: float, exponent: int) -> float:
    """value * 2**exponent, inf on overflow (the caller turns a non-finite mse into an error)."""
    try:
        return math.ldexp(value, exponent)
    except OverflowError:
        return math.inf


def with_notes(cert: Certificate, notes: str) -> Certificate:
    """The same certificate with a note on what it could not check."""
    return replace(cert, notes=notes)


def certify_answer(
    Phi: object,
    y: object,
    coef: object,
    eps: float | None = None,
    *,
    intercept: object = 0.0,
    fit_intercept: bool = False,
    sample_weight: object = None,
    device: object = "cpu",
    tolerances: Tolerances = DEFAULT_TOLERANCES,
) -> Certificate:
    """Certify any coefficients (from any solver) for ``min ||c|| s.t. mse <= eps`` on (Phi, y).

    Parameters
    ----------
    Phi : array-like, torch.Tensor, memory map or dask array of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    coef : array-like of shape (n_features,) or (n_features, n_outputs)
    eps : float or None, default=None
        The bound judged against; None judges the answer at the mse it reaches.
    intercept : float or array-like of shape (n_outputs,), default=0.0
    fit_intercept : bool, default=False
        Judge against the program with a free intercept (the dual bound then allows any intercept).
    sample_weight : array-like of shape (n_samples,) or None, default=None
    device : str or torch.device, default="cpu"
    tolerances : Tolerances

    Returns
    -------
    Certificate
    """
    from kernelreg.solvers._problem import check_eps, prepare

    problem = prepare(Phi, y, 0.0 if eps is None else check_eps(eps), device=device,
                      fit_intercept=fit_intercept, sample_weight=sample_weight)
    C = torch.as_tensor(np.asarray(coef, dtype=np.float64), device=problem.device)
    C = C.reshape(problem.n_features, -1)
    if C.shape[1] != problem.n_outputs:
        raise ValueError(
            f"coef has shape {tuple(np.shape(coef))} but y has {problem.n_outputs} output(s) and Phi "
            f"{problem.n_features} features; pass coef of shape (n_features,) or (n_features, n_outputs)."
        )
    b = torch.as_tensor(np.broadcast_to(np.asarray(intercept, dtype=np.float64), (problem.n_outputs,)).copy(),
                        device=problem.device)
    C = torch.ldexp(C, torch.tensor(problem.phi_exp - problem.y_exp, device=C.device, dtype=torch.float64))
    b = torch.ldexp(b, torch.tensor(-problem.y_exp, device=b.device, dtype=torch.float64))
    return certify(problem, C, b, eps=None if eps is None else problem.eps, tolerances=tolerances)
