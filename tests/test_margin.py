"""Hinge / logistic certificates against independent truth: a regularised-Newton + root-finding logistic
reference, a slack-variable CVXPY hinge reference, and answers perturbed on purpose (never certified)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from kernelreg.solvers import MinNormProgram, solve
from kernelreg.solvers._margin import dual_bound

CLARABEL_TIGHT = {"tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}


def _labels_problem(n_samples, n_features, seed, separable=False):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((n_samples, n_features))
    noise = 0.0 if separable else 0.5 * rng.standard_normal(n_samples)
    y = np.sign(Phi @ rng.standard_normal(n_features) + noise + 0.2)
    return Phi, y


def _logistic_truth(Phi, y, eps, fit_intercept, w=None):
    """min ||c|| s.t. mean w logistic <= eps: regularised logistic by Newton for each lam, lam by brentq."""
    N, n = Phi.shape
    w = np.ones(N) if w is None else w / w.mean()
    A = np.hstack([Phi, np.ones((N, 1))]) if fit_intercept else Phi
    reg = np.ones(A.shape[1])
    if fit_intercept:
        reg[-1] = 0.0

    def fit(lam):
        x = np.zeros(A.shape[1])
        for _ in range(100):
            p = 0.5 * (1.0 - np.tanh(0.5 * y * (A @ x)))  # sigma(-m)
            grad = -(A.T @ (w * y * p)) / N + lam * reg * x
            hess = (A.T * (w * p * (1 - p))) @ A / N + lam * np.diag(reg)
            step = np.linalg.solve(hess, grad)
            x -= step
            if np.linalg.norm(step) <= 1e-15 * max(1.0, np.linalg.norm(x)):
                break
        return x

    def log_excess(log_lam):
        x = fit(math.exp(log_lam))
        return math.log(np.mean(w * np.logaddexp(0.0, -y * (A @ x)))) - math.log(eps)

    x = fit(math.exp(brentq(log_excess, -30.0, 5.0, xtol=1e-14)))
    return x[:n], (x[n] if fit_intercept else 0.0)


def _hinge_truth(Phi, y, eps, fit_intercept):
    """A second formulation: min ||c||^2 with explicit slacks (soft) or margins >= 1 (hard), Clarabel tight."""
    import cvxpy as cp

    N, n = Phi.shape
    c, xi = cp.Variable(n), cp.Variable(N)
    b = cp.Variable() if fit_intercept else 0.0
    if eps > 0:
        cons = [xi >= 0, cp.multiply(y, Phi @ c + b) >= 1 - xi, cp.sum(xi) <= eps * N]
    else:
        cons = [cp.multiply(y, Phi @ c + b) >= 1]
    cp.Problem(cp.Minimize(cp.sum_squares(c)), cons).solve(solver="CLARABEL", **CLARABEL_TIGHT)
    return c.value, (float(b.value) if fit_intercept else 0.0)


CASES = [("logistic", 0.3), ("hinge", 0.35), ("hinge", 0.0)]


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("loss,eps", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_certified_margin_answers_match_a_second_method(loss, eps, fit_intercept, seed):
    Phi, y = _labels_problem(30, 8, seed, separable=eps == 0.0)
    sol = solve(Phi, y, "cvxpy", loss=loss, eps=eps, fit_intercept=fit_intercept)
    truth, _ = (_logistic_truth if loss == "logistic" else _hinge_truth)(Phi, y, eps, fit_intercept)
    true_norm = np.linalg.norm(truth)
    cert = sol.certificate
    # the dual bound is a lower bound on the true minimum (a false certificate is the worst bug)
    assert cert.norm_lower_bound <= true_norm * (1 + 1e-8)
    assert sol.status == "optimal", sol.info.get("message")
    assert cert.judged == ("feasibility", "norm_gap", "stationarity")
    assert sol.norm == pytest.approx(true_norm, rel=1e-7)
    assert np.linalg.norm(sol.coef - truth) <= 1e-5 * true_norm
    assert cert.norm_gap <= 1e-6 and cert.stationarity <= 1e-3


def test_weighted_samples_logistic_against_the_reference():
    Phi, y = _labels_problem(25, 6, 3)
    w = np.random.default_rng(4).uniform(0.2, 3.0, 25)
    sol = solve(Phi, y, "cvxpy", loss="logistic", eps=0.25, sample_weight=w)
    truth, _ = _logistic_truth(Phi, y, 0.25, False, w)
    assert sol.certificate.norm_lower_bound <= np.linalg.norm(truth) * (1 + 1e-8)
    assert sol.status == "optimal" and sol.norm == pytest.approx(np.linalg.norm(truth), rel=1e-7)


def _certify(program, coef, b, eps):
    """The program's certificate of an arbitrary answer (user units in, as solve() would judge it)."""
    problem = program._problem.with_eps(eps)
    C = torch.as_tensor(np.ldexp(coef.reshape(coef.shape[0], -1), problem.phi_exp - problem.y_exp))
    B = torch.as_tensor(np.atleast_1d(np.ldexp(np.float64(b), -problem.y_exp)))
    return program._package(problem, C, B, 0.0, {"solver": None}).certificate


@pytest.mark.parametrize("loss,eps", CASES)
def test_answers_perturbed_on_purpose_are_not_certified(loss, eps):
    # wide Phi: a null-space component keeps every margin (same loss) and only adds norm
    Phi, y = _labels_problem(12, 30, 5, separable=True)
    program = MinNormProgram(Phi, y, loss=loss)
    sol = program.solve(eps=eps)
    assert sol.status == "optimal"
    c = sol.coef
    null = np.linalg.svd(Phi)[2][-1]
    for size in (3e-3, 1e-2):  # true gaps 4.5e-6 and 5e-5, above the 1e-6 tolerance
        bent = c + size * np.linalg.norm(c) * null
        cert = _certify(program, bent, 0.0, eps)
        true_gap = np.linalg.norm(bent) / sol.norm - 1.0
        assert cert.feasible and not cert.optimal
        assert cert.norm_gap >= true_gap * (1 - 1e-6) and cert.stationarity > 1e-3
    # a row-space detour: scaled up (hinge: larger margins, feasible) and rotated slightly
    for bent in (1.001 * c, c + 1e-3 * np.linalg.norm(c) * (Phi.T @ np.random.default_rng(0).standard_normal(12))):
        cert = _certify(program, bent, 0.0, eps)
        assert not cert.optimal
        if cert.feasible:
            assert cert.norm_gap >= np.linalg.norm(bent) / sol.norm - 1.0 - 1e-9
    # the certified answer itself, through the same path, stays certified
    assert _certify(program, c, 0.0, eps).optimal


def test_dual_bound_never_exceeds_the_minimum_from_arbitrary_answers():
    # any multipliers give a valid bound: random answers must never bound above the true minimum
    Phi, y = _labels_problem(20, 5, 7)
    eps = 0.3
    truth, _ = _logistic_truth(Phi, y, eps, False)
    hinge, _ = _hinge_truth(Phi, y, eps, False)
    rng = np.random.default_rng(8)
    w, Y = np.ones(20), y[:, None]
    for _ in range(30):
        C = (truth + rng.standard_normal(5) * rng.uniform(0, 2))[:, None]
        for loss, ref in (("logistic", truth), ("hinge", hinge)):
            for fit_intercept in (False, True):
                bound = dual_bound(Phi, Y, w, C, np.zeros(1), eps, loss, fit_intercept)["bound"]
                assert bound <= np.linalg.norm(ref) * (1 + 1e-8)


@pytest.mark.parametrize("loss", ["hinge", "logistic"])
def test_l1_bound_is_a_true_lower_bound_but_not_judged(loss):
    import cvxpy as cp

    Phi, y = _labels_problem(20, 10, 3)
    c = cp.Variable(10)
    m = cp.multiply(y, Phi @ c)
    mean_loss = cp.sum(cp.pos(1 - m)) / 20 if loss == "hinge" else cp.sum(cp.logistic(-m)) / 20
    truth = cp.Problem(cp.Minimize(cp.norm1(c)), [mean_loss <= 0.3])
    truth.solve(solver="CLARABEL", **CLARABEL_TIGHT)
    sol = solve(Phi, y, "cvxpy", loss=loss, eps=0.3, norm="l1")
    assert sol.certificate.norm_lower_bound <= truth.value * (1 + 1e-8)
    assert sol.certificate.judged == ("feasibility",) and "not judged" in sol.certificate.notes
    assert sol.status == "optimal" and sol.objective == pytest.approx(truth.value, rel=1e-6)
