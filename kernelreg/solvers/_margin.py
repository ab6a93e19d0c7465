"""The margin programs (hinge, logistic) in float64: a dual bound on the norm, and a polish of CVXPY's answers.

The program of ``method="cvxpy"`` with ``loss="hinge" | "logistic"`` is

    min ||c||  s.t.  L(c, b) = s sum_ik w_i loss(m_ik) <= eps,   m = Y o (Phi c + 1 b^T),  s = 1 / (N K)

(w: sample weights normalised to mean 1; hinge ``loss(m) = max(0, 1 - m)``, eps = 0 the hard margin
``m >= 1``; logistic ``loss(m) = log(1 + exp(-m))``).

**Dual bound** (Lagrange + Fenchel). For any multiplier mu >= 0 and any ``t`` with
``0 <= t_ik <= s w_i`` (no upper bound for the hard margin) and, with a free intercept,
``sum_i y_ik t_ik = 0`` for every output k, weak duality for ``min ||c||^2 / 2`` gives
``||c*||^2 / 2 >= mu (G(t) - eps) - mu^2 ||Phi^T (Y o t)||_*^2 / 2``, so (best mu)

    ||c*|| >= (G(t) - eps) / ||Phi^T (Y o t)||_*,    G(t) = sum t_ik                    (hinge)
                                                     G(t) = sum s w_i H(t_ik / (s w_i))   (logistic)

with H the binary entropy in nats and ``||.||_*`` the dual norm (l2, ``||. / w_f||`` for feature
weights, l-inf for l1). It is tight at the optimal t: ``s w_i sigma(-m_ik)`` (logistic) and the SVM
dual variables (hinge: ``s w_i`` where m < 1, 0 where m > 1, a least-squares fit of
``c = mu Phi^T (Y o t)`` on the margin, with the intercept's balance rows). Any t gives a valid
bound, so t is read off the answer. Rounding in G, in ``Phi^T (Y o t)`` and in the balance (a left
over ``b_k sum_i y_ik t_ik``) is charged to the bound. The l1 bound uses the middle of the box on
the margin (no KKT fit), so it is valid but loose.

**Polish** (norm l2, plain or with feature weights, through ``c = W^-1 Q z`` with Q an orthonormal
basis of the row space of ``Phi W^-1``):

* logistic: Newton on the KKT system of ``min ||z||^2 / 2 s.t. L = eps`` (constraint active),
  unknowns (z, b, mu), from CVXPY's answer; a few steps reach float64 accuracy (quadratic
  convergence), with backtracking on the residual norm;
* hinge: the active set read off CVXPY's margins (m < 1, m = 1, m > 1 within 1e-6) turns the
  program into ``min ||z||^2 / 2`` under linear equalities (margins 1 on the set, and the loss
  constraint), solved exactly; the result is kept only if its active set is consistent (margins on
  the right sides, multipliers within their bounds).

A polished answer replaces CVXPY's only when its certificate is at least as good.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import expit, xlogy

from kernelreg.solvers._linalg import F64_EPS

__all__ = ["dual_bound", "polish_margin", "MARGIN_BAND"]

#: Margins within this distance of 1 count as on the margin (CVXPY's answers are accurate to ~1e-8).
MARGIN_BAND = 1e-6


def _entropy(p: np.ndarray) -> np.ndarray:
    """Binary entropy in nats, 0 at p = 0 and 1."""
    return -(xlogy(p, p) + xlogy(1.0 - p, 1.0 - p))


def _dual_norm(T: np.ndarray, norm: str, fw: np.ndarray | None) -> float:
    scaled = T if fw is None else T / fw[:, None]
    return float(np.abs(scaled).max()) if norm == "l1" else float(np.linalg.norm(scaled))


def _balance(t: np.ndarray, Y: np.ndarray) -> np.ndarray | None:
    """t with sum_i y_ik t_ik = 0 per output, by shrinking the heavier side (stays in [0, cap]); None if impossible."""
    t = t.copy()
    for k in range(t.shape[1]):
        excess = float(np.sum(Y[:, k] * t[:, k]))
        if excess == 0.0:
            continue
        side = Y[:, k] == (1.0 if excess > 0 else -1.0)
        total = float(t[side, k].sum())
        if total <= abs(excess):
            return None
        t[side, k] *= 1.0 - abs(excess) / total
    return t


def _multipliers(Phi: np.ndarray, Y: np.ndarray, w: np.ndarray, C: np.ndarray, margins: np.ndarray, eps: float,
                 loss: str, norm: str, fw: np.ndarray | None, fit_intercept: bool) -> np.ndarray:
    """The t read off an answer: sigma(-m) for the logistic loss; the SVM dual variables for the hinge."""
    s = 1.0 / margins.size
    cap = s * w[:, None] * np.ones_like(margins)
    if loss == "logistic":
        return cap * expit(-margins)
    t = np.where(margins < 1.0 - MARGIN_BAND, cap, 0.0)
    if eps == 0.0:
        t = np.zeros_like(margins)
    on = (np.abs(margins - 1.0) <= MARGIN_BAND) & (w[:, None] > 0)
    if not on.any() or norm != "l2":
        if on.any():  # l1: no linear KKT to fit; the middle of the box is a valid (looser) choice
            t[on] = 0.5 * cap[on] if eps > 0 else s
        return t
    # c = mu Phi^T (Y o t_fixed) + sum_on rho_ik y_ik phi_i e_k (W^-2 in front for feature weights): linear in (mu, rho)
    scale = np.ones(Phi.shape[1]) if fw is None else 1.0 / fw**2
    rows, cols = np.nonzero(on)
    n, K = C.shape
    balance = K if fit_intercept else 0  # sum_i y_ik t_ik = 0 per output: the intercept's KKT row
    design = np.zeros((C.size + balance, 1 + rows.size))
    design[: C.size, 0] = (scale[:, None] * (Phi.T @ (Y * t))).ravel()
    weight = float(np.linalg.norm(Phi)) / math.sqrt(Phi.shape[0])  # balance rows on the scale of the c rows
    for j, (i, k) in enumerate(zip(rows, cols)):
        design[k : C.size : K, 1 + j] = scale * Phi[i] * Y[i, k]
        if fit_intercept:
            design[C.size + k, 1 + j] = weight * Y[i, k]
    if fit_intercept:
        design[C.size :, 0] = weight * np.sum(Y * t, axis=0)
    solution = np.linalg.lstsq(design, np.concatenate([C.ravel(), np.zeros(balance)]), rcond=None)[0]
    mu = solution[0] if (eps > 0 and solution[0] > 0) else 1.0
    t[rows, cols] = np.clip(solution[1:] / mu, 0.0, cap[rows, cols] if eps > 0 else np.inf)
    return t


def dual_bound(Phi: np.ndarray, Y: np.ndarray, w: np.ndarray, C: np.ndarray, b: np.ndarray, eps: float, loss: str,
               fit_intercept: bool, norm: str = "l2", fw: np.ndarray | None = None) -> dict[str, Any]:
    """Lower bound on the minimum norm from the answer's multipliers (see the module docstring), with its rounding charge.

    Returns ``bound`` (0 when no bound), ``exact`` (the bound before the rounding charge), ``direction``
    (``Phi^T (Y o t)``, for the stationarity check) and ``t``.
    """
    margins = Y * (Phi @ C + b[None, :])
    t = _multipliers(Phi, Y, w, C, margins, eps, loss, norm, fw, fit_intercept)
    if fit_intercept:
        t = _balance(t, Y)
    empty = {"bound": 0.0, "exact": 0.0, "direction": None, "t": t}
    if t is None:
        return empty
    s = 1.0 / margins.size
    if loss == "hinge":
        terms = t
    else:
        cap = s * w[:, None] * np.ones_like(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(cap > 0, t / cap, 0.0)
        terms = cap * _entropy(np.clip(ratio, 0.0, 1.0))
    gain = float(terms.sum())
    direction = Phi.T @ (Y * t)
    den = _dual_norm(direction, norm, fw)
    err = math.sqrt(margins.size) * F64_EPS
    fro = float(np.linalg.norm(Phi)) / (1.0 if fw is None else float(fw.min()))
    num = gain - eps
    slack = err * (float(np.abs(terms).sum()) + eps)
    if fit_intercept:  # balance holds to rounding: the term b_k sum_i y_ik t_ik left in the Lagrangian
        imbalance = np.abs([math.fsum(Y[:, k] * t[:, k]) for k in range(t.shape[1])])
        slack += 2.0 * float(imbalance @ (np.abs(b) + 1.0))
    den_err = err * fro * float(np.linalg.norm(t))
    if num - slack <= 0 or den + den_err <= 0:
        return {**empty, "direction": direction}
    return {"bound": (num - slack) / (den + den_err), "exact": num / den if den > 0 else math.inf,
            "direction": direction, "t": t}


# ---------------------------------------------------------------------------------------------- polish
def _basis(Phi: np.ndarray, fw: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, Q, scale): ``Phi c = A z`` for ``c = scale * (Q z)``, Q orthonormal over the row space of Phi W^-1."""
    scale = np.ones(Phi.shape[1]) if fw is None else 1.0 / fw
    P = Phi * scale[None, :]
    Q, R = np.linalg.qr(P.T, mode="reduced")  # P = R^T Q^T
    return R.T, Q, scale


def polish_margin(Phi: np.ndarray, Y: np.ndarray, w: np.ndarray, C: np.ndarray, b: np.ndarray, eps: float,
                  loss: str, fit_intercept: bool, fw: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """A refined (C, b) for the l2 (or weighted l2) margin program, or the input with the reason it was kept."""
    A, Q, scale = _basis(Phi, fw)
    Z = Q.T @ (C / scale[:, None])
    if loss == "logistic":
        out = _newton_logistic(A, Y, w, Z, b.copy(), eps, fit_intercept)
    else:
        out = _active_set_hinge(A, Y, w, Z, b.copy(), eps, fit_intercept)
    if out is None:
        return C, b, {"polish": "kept: the refinement did not converge or its active set was inconsistent"}
    Z, b, info = out
    return scale[:, None] * (Q @ Z), b, info


def _logistic_parts(A: np.ndarray, Y: np.ndarray, w: np.ndarray, Z: np.ndarray, b: np.ndarray) -> tuple:
    """Loss, its gradient u = dL/df and curvature h = d2L/df2 per entry (s = 1/(N K))."""
    s = 1.0 / Y.size
    m = Y * (A @ Z + b[None, :])
    sig = expit(-m)
    value = s * float(np.sum(w[:, None] * np.logaddexp(0.0, -m)))
    u = -s * w[:, None] * Y * sig
    h = s * w[:, None] * sig * (1.0 - sig)
    return value, u, h


def _newton_logistic(A: np.ndarray, Y: np.ndarray, w: np.ndarray, Z: np.ndarray, b: np.ndarray, eps: float,
                     fit_intercept: bool, max_iter: int = 30) -> tuple | None:
    """Newton on z + mu A^T u = 0, 1^T u = 0 (intercept), L = eps; block elimination over the outputs."""
    r, K = Z.shape
    value, u, h = _logistic_parts(A, Y, w, Z, b)
    g = A.T @ u
    mu = max(-float(np.vdot(Z, g)) / max(float(np.vdot(g, g)), 1e-300), 0.0)

    def residual(Z, b, mu):
        value, u, h = _logistic_parts(A, Y, w, Z, b)
        parts = [Z + mu * (A.T @ u), np.atleast_1d(u.sum(axis=0)) if fit_intercept else np.zeros(0),
                 np.array([value - eps])]
        return np.concatenate([p.ravel() for p in parts]), (value, u, h)

    F, parts = residual(Z, b, mu)
    scale = max(float(np.linalg.norm(Z)), 1.0)
    steps = 0
    for steps in range(1, max_iter + 1):
        value, u, h = parts
        if float(np.linalg.norm(F)) <= 1e-14 * scale:
            steps -= 1
            break
        dZ, db, dmu = _newton_step(A, Y, u, h, Z, b, mu, value - eps, fit_intercept)
        size = float(np.linalg.norm(F))
        t = 1.0
        while t > 1e-8:
            trial = (Z + t * dZ, b + t * db, mu + t * dmu)
            F_trial, parts_trial = residual(*trial)
            if float(np.linalg.norm(F_trial)) < (1.0 - 1e-4 * t) * size:
                break
            t *= 0.5
        else:
            break
        Z, b, mu = trial
        F, parts = F_trial, parts_trial
    if not (mu > 0 and float(np.linalg.norm(F)) <= 1e-9 * scale):
        return None
    return Z, b, {"polish": "newton", "newton_steps": steps, "multiplier": mu,
                  "kkt_residual": float(np.linalg.norm(F)) / scale}


def _newton_step(A, Y, u, h, Z, b, mu, gap, fit_intercept):
    """Solve the Newton system by eliminating each output's (z_k, b_k) block, then mu."""
    r, K = Z.shape
    solves_r, solves_v, gs = [], [], []
    for k in range(K):
        Ah = A * h[:, k][:, None]
        top = np.eye(r) + mu * (A.T @ Ah)
        if fit_intercept:
            M = np.block([[top, mu * Ah.sum(axis=0)[:, None]], [Ah.sum(axis=0)[None, :], np.array([[h[:, k].sum()]])]])
            rk = np.concatenate([Z[:, k] + mu * (A.T @ u[:, k]), [u[:, k].sum()]])
            vk = np.concatenate([A.T @ u[:, k], [0.0]])
            gk = np.concatenate([A.T @ u[:, k], [u[:, k].sum()]])
        else:
            M, rk = top, Z[:, k] + mu * (A.T @ u[:, k])
            vk = gk = A.T @ u[:, k]
        sol = np.linalg.solve(M, np.column_stack([rk, vk]))
        solves_r.append(sol[:, 0])
        solves_v.append(sol[:, 1])
        gs.append(gk)
    denominator = sum(float(g @ sv) for g, sv in zip(gs, solves_v))
    dmu = (gap - sum(float(g @ sr) for g, sr in zip(gs, solves_r))) / denominator if denominator else 0.0
    dx = [-(sr + sv * dmu) for sr, sv in zip(solves_r, solves_v)]
    dZ = np.column_stack([d[:r] for d in dx])
    db = np.array([d[r] for d in dx]) if fit_intercept else np.zeros(K)
    return dZ, db, dmu


def _active_set_hinge(A: np.ndarray, Y: np.ndarray, w: np.ndarray, Z: np.ndarray, b: np.ndarray, eps: float,
                      fit_intercept: bool, max_iter: int = 20) -> tuple | None:
    """Primal active-set refinement: equality-constrained least norm on the active set, corrected until consistent.

    The sets start from CVXPY's margins (within :data:`MARGIN_BAND` of 1: on the margin); each
    round solves ``min ||z||^2 / 2`` with margins 1 on the margin set and (eps > 0) the loss
    constraint as an equality with the inside set fixed, then moves samples whose new margin is on
    the wrong side onto the margin, and margin samples whose multiplier leaves its interval
    ``[0, s w_i mu]`` off it (to outside / inside). None when it does not settle.
    """
    s = 1.0 / Y.size
    m = Y * (A @ Z + b[None, :])
    live = (w[:, None] > 0) & np.ones_like(m, dtype=bool)
    on = (np.abs(m - 1.0) <= MARGIN_BAND) & live
    inside = (m < 1.0 - MARGIN_BAND) & live
    if eps == 0.0:
        inside[:] = False
    tol = 1e-9
    for rounds in range(1, max_iter + 1):
        out = _equality_qp(A, Y, w, s, on, inside, eps, fit_intercept)
        if out is None:
            return None
        Zn, bn, lam_on, lam_loss = out
        mn = Y * (A @ Zn + bn[None, :])
        outside = live & ~on & ~inside
        low_out = outside & (mn < 1.0 - tol)  # should be >= 1
        high_in = inside & (mn > 1.0 + tol)  # should be <= 1
        cap = np.inf if eps == 0.0 else -lam_loss * s  # on-margin multiplier bound per unit weight
        lam = np.zeros_like(m)
        lam[on] = lam_on
        neg = on & (lam < -tol * max(1.0, float(np.abs(lam_on).max()) if lam_on.size else 1.0))
        over = on & (lam > (w[:, None] * cap) * (1.0 + 1e-9) + tol) if eps > 0 else np.zeros_like(on)
        if not (low_out.any() or high_in.any() or neg.any() or over.any()):
            return Zn, bn, {"polish": "active set", "on_margin": int(on.sum()), "inside_margin": int(inside.sum()),
                            "active_set_rounds": rounds, "multiplier": -lam_loss if eps > 0 else None}
        on = (on & ~neg & ~over) | low_out | high_in
        inside = (inside & ~high_in) | over
    return None


def _equality_qp(A: np.ndarray, Y: np.ndarray, w: np.ndarray, s: float, on: np.ndarray, inside: np.ndarray,
                 eps: float, fit_intercept: bool) -> tuple | None:
    """min ||z||^2 / 2 s.t. y_ik (a_i z_k + b_k) = 1 on ``on`` and (eps > 0) the loss equality; (Z, b, lam_on, lam_loss)."""
    r, K = A.shape[1], Y.shape[1]
    n_z, n_b = r * K, (K if fit_intercept else 0)
    rows, rhs = [], []
    for i, k in zip(*np.nonzero(on)):  # y_ik (a_i z_k + b_k) = 1
        row = np.zeros(n_z + n_b)
        row[k * r:(k + 1) * r] = Y[i, k] * A[i]
        if fit_intercept:
            row[n_z + k] = Y[i, k]
        rows.append(row)
        rhs.append(1.0)
    if eps > 0:  # s sum_inside w_i (1 - y_ik (a_i z_k + b_k)) = eps
        row = np.zeros(n_z + n_b)
        for i, k in zip(*np.nonzero(inside)):
            row[k * r:(k + 1) * r] -= s * w[i] * Y[i, k] * A[i]
            if fit_intercept:
                row[n_z + k] -= s * w[i] * Y[i, k]
        rows.append(row)
        rhs.append(eps - s * float(np.sum(w[:, None] * inside)))
    if not rows:
        return None
    E, h = np.array(rows), np.array(rhs)
    Ez, Eb = E[:, :n_z], E[:, n_z:]
    # KKT:  z = Ez^T lam,  Eb^T lam = 0,  Ez Ez^T lam + Eb b = h
    G = Ez @ Ez.T
    n_c = G.shape[0]
    kkt = np.block([[G, Eb], [Eb.T, np.zeros((n_b, n_b))]]) if n_b else G
    solution = np.linalg.lstsq(kkt, np.concatenate([h, np.zeros(n_b)]), rcond=None)[0]
    lam = solution[:n_c]
    Zn = (Ez.T @ lam).reshape(K, r).T
    bn = solution[n_c:] if n_b else np.zeros(K)
    lam_on = lam[: int(on.sum())]
    lam_loss = float(lam[-1]) if eps > 0 else 0.0
    return Zn, bn, lam_on, lam_loss
