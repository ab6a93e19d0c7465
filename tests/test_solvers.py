"""Tests of kernelreg.solvers against independent truth: pinv, CVXPY, sklearn Ridge, closed forms."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge

import kernelreg.solvers as solvers
from kernelreg.exceptions import DivergenceError, KernelregError, SolverError
from kernelreg.solvers import STATUSES, MinNormProgram, Solution, SpectralSolver, gd_trajectory, solve

TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}  # Clarabel: ~1e-5 on coef
SCS_TIGHT = {"eps_abs": 1e-12, "eps_rel": 1e-12, "max_iters": 200_000}  # SCS: ~1e-12 on coef here


def _problem(n_samples, n_features, n_outputs=None, seed=0):
    """Well-conditioned Gaussian features and Gaussian targets."""
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((n_samples, n_features)) / math.sqrt(n_features)
    y = rng.standard_normal(n_samples if n_outputs is None else (n_samples, n_outputs))
    return Phi, y


def _relu_problem(n_samples, n_features, seed=0):
    """ReLU features of 2-D inputs (the spectral-bias paper's setting): badly conditioned."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n_samples, 2))
    theta = rng.uniform(0, 2 * np.pi, n_features)
    xi = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    gamma = rng.uniform(-math.sqrt(2), math.sqrt(2), n_features)
    return np.maximum(X @ xi.T - gamma, 0.0), rng.standard_normal(n_samples)


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def _mid_eps(Phi, y, frac=0.1):
    """An eps strictly between the least-squares floor and mean(y^2)."""
    spec = SpectralSolver(Phi, y)
    return spec.mse_floor + frac * (spec.mean_y2 - spec.mse_floor)


SHAPES = {"wide": (15, 40, None), "tall": (40, 15, None), "wide-multi": (15, 40, 3), "tall-multi": (40, 15, 2)}


# ----------------------------------------------------------------------------- package surface
def test_all_names_exist_and_status_vocabulary():
    for name in solvers.__all__:
        assert hasattr(solvers, name), name
    assert STATUSES == ("optimal", "inaccurate", "max_iter", "infeasible", "failed")
    assert solvers.METHODS == ("exact", "cvxpy", "gd", "adam", "cg")
    with pytest.raises(ValueError, match="status must be one of"):
        Solution(coef=np.zeros(2), mse=0.0, norm=0.0, method="exact", status="done")


# ----------------------------------------------------------------------------- exact, eps = 0
@pytest.mark.parametrize("decomposition", ["auto", "gram", "qr", "svd"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_exact_min_norm_equals_pinv(shape, decomposition):
    Phi, y = _problem(*SHAPES[shape])
    sol = solve(Phi, y, decomposition=decomposition)
    expected = np.linalg.pinv(Phi) @ y
    assert sol.coef.shape == expected.shape and sol.coef.dtype == np.float64
    assert _rel(sol.coef, expected) < 1e-10
    assert sol.status == "optimal" and sol.lam is None and sol.history == []
    assert sol.info["decomposition"] == ("qr" if decomposition == "auto" else decomposition)
    assert sol.mse == pytest.approx(np.mean((Phi @ sol.coef - y) ** 2), rel=1e-12, abs=1e-28)
    assert sol.norm == pytest.approx(np.linalg.norm(expected), rel=1e-10)


def test_exact_qr_falls_back_to_svd_when_rank_deficient():
    rng = np.random.default_rng(1)
    Phi = rng.standard_normal((12, 4)) @ rng.standard_normal((4, 30))  # rank 4 < 12 rows
    y = rng.standard_normal(12)
    sol = solve(Phi, y, decomposition="qr")
    assert sol.info["decomposition"] == "svd" and "numerically singular" in sol.info["fallback_reason"]
    assert _rel(sol.coef, np.linalg.pinv(Phi) @ y) < 1e-9
    assert sol.mse == pytest.approx(SpectralSolver(Phi, y, decomposition="svd").mse_floor, rel=1e-8)
    assert sol.mse > 0.01  # interpolation is impossible; the least-squares residual remains


def test_exact_accepts_float32_torch_tensor():
    Phi, y = _problem(15, 40)
    Phi32 = torch.as_tensor(Phi, dtype=torch.float32)
    sol = solve(Phi32, torch.as_tensor(y), eps=0.0)
    assert isinstance(sol.coef, np.ndarray) and sol.coef.dtype == np.float64
    assert _rel(sol.coef, np.linalg.pinv(Phi32.double().numpy()) @ y) < 1e-10


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_exact_on_cuda_matches_cpu():
    Phi, y = _problem(15, 40)
    eps = _mid_eps(Phi, y)
    cpu = solve(Phi, y, eps=eps)
    gpu = solve(torch.as_tensor(Phi, device="cuda"), y, eps=eps, device="cuda")
    assert _rel(gpu.coef, cpu.coef) < 1e-10 and gpu.info["device"].startswith("cuda")


# ----------------------------------------------------------------------------- exact, eps > 0
@pytest.mark.parametrize("shape", ["wide", "tall", "wide-multi"])
def test_exact_eps_matches_cvxpy_and_hits_eps(shape):
    Phi, y = _problem(*SHAPES[shape])
    eps = _mid_eps(Phi, y, 0.2)
    exact = solve(Phi, y, eps=eps)
    assert exact.status == "optimal" and 0 < exact.lam < np.inf
    assert abs(exact.mse / eps - 1) < 1e-9
    assert abs(np.mean((Phi @ exact.coef - y) ** 2) / eps - 1) < 1e-9  # measured here, independently
    ref = solve(Phi, y, "cvxpy", eps=eps, reduce=False, solver_options=TIGHT)
    assert ref.status == "optimal" and ref.info["solver"] == "CLARABEL"
    assert _rel(exact.coef, ref.coef) < 1e-5
    sharp = solve(Phi, y, "cvxpy", eps=eps, reduce=False, solver="SCS", solver_options=SCS_TIGHT)
    assert _rel(exact.coef, sharp.coef) < 1e-9


@pytest.mark.parametrize("decomposition", ["gram", "svd"])
def test_exact_eps_kkt_and_ridge_convention(decomposition):
    Phi, y = _problem(15, 40, seed=3)
    eps = _mid_eps(Phi, y, 0.05)
    sol = solve(Phi, y, eps=eps, decomposition=decomposition)
    lam = sol.lam
    kkt = Phi.T @ np.linalg.solve(Phi @ Phi.T + lam * np.eye(len(y)), y)
    assert _rel(sol.coef, kkt) < 1e-10
    ridge = Ridge(alpha=lam, fit_intercept=False, solver="svd").fit(Phi, y)
    assert _rel(sol.coef, ridge.coef_) < 1e-9


@pytest.mark.parametrize("eps_frac", [1e-3, 1e-6])
def test_exact_eps_on_ill_conditioned_relu_features(eps_frac):
    Phi, y = _relu_problem(40, 400)
    eps = eps_frac * float(np.mean(y**2))
    sol = solve(Phi, y, eps=eps)
    # the root-find alone leaves ~1e-8 here; the Newton polish on the measured mse makes it tight
    assert abs(np.mean((Phi @ sol.coef - y) ** 2) / eps - 1) < 1e-9
    svd = solve(Phi, y, eps=eps, decomposition="svd")
    assert _rel(sol.coef, svd.coef) < 1e-6 and sol.lam == pytest.approx(svd.lam, rel=1e-6)


def _ridge_truth(U, s, V, y, eps):
    """The true eps-solution from known factors: lam solves the secular equation, c = V s/(s^2+lam) U^T y."""
    from scipy.optimize import brentq

    p = U.T @ y
    mse = lambda lam: np.mean((lam / (s**2 + lam) * p) ** 2) + (y @ y - p @ p) / len(y)  # noqa: E731
    lam = math.exp(brentq(lambda t: mse(math.exp(t)) - eps, -120, 60, xtol=1e-14))
    return V @ (s / (s**2 + lam) * p), lam


def test_exact_auto_falls_back_from_gram_to_svd_for_tiny_singular_values():
    rng = np.random.default_rng(4)
    U, _ = np.linalg.qr(rng.standard_normal((15, 15)))
    V, _ = np.linalg.qr(rng.standard_normal((40, 15)))
    s = np.logspace(0, -9, 15)  # the Gram matrix cannot see s < ~1e-7
    Phi, y = (U * s) @ V.T, U @ np.ones(15)
    eps = 0.1  # below the floor the Gram sees (4 lost directions: 4/15), but reachable with the SVD
    with pytest.raises(SolverError, match="cannot resolve singular values below .* needs decomposition='svd' or 'auto'") as err:
        solve(Phi, y, eps=eps, decomposition="gram")
    assert err.value.status == "failed"  # the Gram cannot decide feasibility: it does not claim "infeasible"
    sol = solve(Phi, y, eps=eps)
    assert sol.info["decomposition"] == "svd" and sol.info["fallback_reason"].startswith("gram:")
    assert sol.status == "optimal" and abs(np.mean((Phi @ sol.coef - y) ** 2) / eps - 1) < 1e-9
    truth, lam = _ridge_truth(U, s, V, y, eps)
    assert _rel(sol.coef, truth) < 1e-6 and sol.lam == pytest.approx(lam, rel=1e-6)


def test_gram_answer_is_kept_when_certified_and_the_certificate_is_honest():
    rng = np.random.default_rng(4)
    U, _ = np.linalg.qr(rng.standard_normal((15, 15)))
    V, _ = np.linalg.qr(rng.standard_normal((40, 15)))
    s = np.logspace(0, -6.5, 15)  # lam ~ 6e-14 s_max^2 is at the Gram's rounding level
    Phi, y = (U * s) @ V.T, U @ np.ones(15)
    eps = 0.01
    sol = solve(Phi, y, eps=eps)
    truth, _ = _ridge_truth(U, s, V, y, eps)
    cert = sol.certificate
    # no fallback was needed: the Gram answer is certified ...
    assert sol.info["decomposition"] == "gram" and "fallback_reason" not in sol.info and cert.optimal
    # ... and what the certificate claims holds against the truth from the known factors
    true_gap = sol.norm / np.linalg.norm(truth) - 1
    assert true_gap <= cert.norm_gap + 1e-12 and abs(true_gap) < 1e-4
    assert _rel(sol.coef, truth) <= cert.coef_distance * sol.norm / np.linalg.norm(truth) + 1e-12
    assert sol.mse <= eps * (1 + 1e-6)


def test_rcond_is_one_rule_for_min_norm_ridge_and_floor():
    rng = np.random.default_rng(4)
    U, _ = np.linalg.qr(rng.standard_normal((15, 15)))
    V, _ = np.linalg.qr(rng.standard_normal((40, 15)))
    s = np.logspace(0, -8, 15)
    Phi, y = (U * s) @ V.T, U @ np.ones(15)
    spec = SpectralSolver(Phi, y, decomposition="svd", rcond=1e-5)  # s < 1e-5 s_max is null space
    assert spec.rank == 9 and spec.mse_floor == pytest.approx(6 / 15)
    # ridge honours the same cut (the SVD used to keep every s > 0 here, rounding noise included)
    with pytest.raises(SolverError, match=r"infeasible.*floor is mse=0.4 .*smallest feasible eps is 0.4") as err:
        spec.solve_eps(0.1)
    assert err.value.status == "infeasible"
    # the rule's answer is not the min-norm answer of Phi itself (s down to 1e-8 is resolvable in float64):
    # the certificate checks against Phi, not against the cut, and says so
    with pytest.warns(ConvergenceWarning, match="not certified: stationarity .* norm gap"):
        sol = spec.solve_eps(0.5)
    keep = s > 1e-5
    truth = V[:, keep] @ (s[keep] / (s[keep] ** 2 + sol.lam) * (U[:, keep].T @ y))
    assert abs(sol.mse / 0.5 - 1) < 1e-6 and _rel(sol.coef, truth) < 1e-9 and sol.status == "inaccurate"
    assert sol.certificate.norm_gap > 1e-3 and solve(Phi, y, eps=0.5).certificate.optimal  # default rcond: certified
    with pytest.warns(ConvergenceWarning, match="not certified"):
        min_norm = spec.min_norm()
    assert _rel(min_norm.coef, V[:, keep] @ (U[:, keep].T @ y / s[keep])) < 1e-9
    gram = SpectralSolver(Phi, y, decomposition="gram", rcond=1e-5)  # the same cut in the Gram (on sqrt(eig))
    assert gram.rank == 9 and gram.mse_floor == pytest.approx(6 / 15)


@pytest.mark.parametrize("factor", [1.0, 3.0])
def test_exact_eps_at_or_above_mean_y2_gives_zero(factor):
    Phi, y = _problem(15, 40, n_outputs=2)
    eps = factor * float(np.mean(y**2))
    sol = solve(Phi, y, eps=eps)
    assert sol.status == "optimal" and sol.lam == math.inf
    assert sol.coef.shape == (40, 2) and not sol.coef.any()
    assert sol.mse == pytest.approx(np.mean(y**2))


@pytest.mark.parametrize("decomposition", ["auto", "gram", "svd"])
def test_exact_infeasible_eps_below_floor_raises(decomposition):
    Phi, y = _problem(40, 10)
    floor = SpectralSolver(Phi, y).mse_floor
    assert floor == pytest.approx(np.mean((Phi @ np.linalg.lstsq(Phi, y, rcond=None)[0] - y) ** 2), rel=1e-10)
    with pytest.raises(SolverError, match=rf"least-squares floor is mse={floor:.6g} .*use eps >= {floor:.6g}") as err:
        solve(Phi, y, eps=0.5 * floor, decomposition=decomposition)
    assert err.value.status == "infeasible" and err.value.method == "exact"
    at_floor = solve(Phi, y, eps=floor)  # exactly the floor: the least-squares solution
    assert _rel(at_floor.coef, np.linalg.pinv(Phi) @ y) < 1e-8


def test_spectral_solver_sweeps_eps_from_one_decomposition():
    Phi, y = _problem(15, 40)
    spec = SpectralSolver(Phi, y)
    eps_values = np.geomspace(1e-4, 0.5, 6) * spec.mean_y2
    sols = [spec.solve_eps(e) for e in eps_values]
    lams = [s.lam for s in sols]
    norms = [s.norm for s in sols]
    assert all(np.diff(lams) > 0) and all(np.diff(norms) < 0)
    for e, s in zip(eps_values, sols):
        assert abs(s.mse / e - 1) < 1e-9
        assert spec.lam_for_eps(e) == pytest.approx(s.lam, rel=1e-9)
    assert spec.rank == 15 and spec.mse_floor == pytest.approx(0.0, abs=1e-12)
    truth = np.sort(np.linalg.svd(Phi, compute_uv=False))
    assert np.allclose(spec.singular_values, truth, rtol=1e-10)
    assert np.allclose(SpectralSolver(Phi, y, decomposition="svd").singular_values, truth, rtol=1e-12)
    ridge = spec.ridge(0.3)
    assert _rel(ridge.coef, Ridge(alpha=0.3, fit_intercept=False).fit(Phi, y).coef_) < 1e-10


def test_exact_lam_option_is_plain_ridge():
    Phi, y = _problem(40, 15, n_outputs=2)
    sol = solve(Phi, y, lam=0.7)
    assert sol.lam == 0.7
    assert _rel(sol.coef, Ridge(alpha=0.7, fit_intercept=False).fit(Phi, y).coef_.T) < 1e-10
    with pytest.raises(ValueError, match="either eps .* or lam"):
        solve(Phi, y, eps=0.1, lam=0.7)
    with pytest.raises(ValueError, match="decomposition='qr' only serves eps=0"):
        solve(Phi, y, eps=0.1, decomposition="qr")


# ----------------------------------------------------------------------------- GD closed form
@pytest.mark.parametrize("n_outputs", [None, 2])
def test_closed_form_gd_matches_an_actual_run(n_outputs):
    Phi, y = _problem(15, 40, n_outputs=n_outputs)
    spec = SpectralSolver(Phi, y)
    lr = 0.9 / spec.lipschitz
    steps = [1, 7, 60, 300]
    seen = {}
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        run = solve(Phi, y, "gd", lr=lr, max_iter=max(steps), callback=lambda k, c, m: seen.__setitem__(k, c.numpy()))
    assert run.n_iter == max(steps) and run.status == "max_iter"
    traj = gd_trajectory(Phi, y, steps, lr)
    for k, coef in zip(steps, traj):
        assert _rel(coef, seen[k].reshape(coef.shape)) < 1e-10
        assert _rel(spec.gd_coef(k, lr), seen[k].reshape(coef.shape)) < 1e-10
    assert _rel(spec.gd_coef(max(steps), lr), run.coef) < 1e-10


def test_closed_form_gd_with_the_gd_methods_default_lr():
    Phi, y = _problem(40, 15)
    with pytest.warns(ConvergenceWarning):
        run = solve(Phi, y, "gd", max_iter=50)
    assert run.info["lr"] == pytest.approx(1 / run.info["lipschitz"])
    assert run.info["lipschitz"] >= SpectralSolver(Phi, y).lipschitz  # power iteration + safety >= truth
    assert _rel(SpectralSolver(Phi, y).gd_coef(50, run.info["lr"]), run.coef) < 1e-10


def test_gradient_flow_tends_to_min_norm():
    Phi, y = _problem(15, 40)
    spec = SpectralSolver(Phi, y)
    target = np.linalg.pinv(Phi) @ y
    dists = [_rel(spec.flow_coef(t), target) for t in (0.0, 1.0, 10.0, 100.0, 1e4)]
    assert dists[0] == pytest.approx(1.0) and all(np.diff(dists) < 0) and dists[-1] < 1e-10
    assert _rel(spec.flow_coef(math.inf), target) < 1e-12
    # small-step GD follows the flow at t = k * lr
    lr = 0.01 / spec.lipschitz
    assert _rel(spec.gd_coef(1000, lr), spec.flow_coef(1000 * lr)) < 1e-2


# ----------------------------------------------------------------------------- iterative methods
def test_gd_from_zero_approaches_min_norm_in_the_row_space():
    Phi, y = _problem(15, 40)
    target = np.linalg.pinv(Phi) @ y
    coefs = {}
    with pytest.warns(ConvergenceWarning, match="max_iter=400"):
        sol = solve(Phi, y, "gd", max_iter=400, callback=lambda k, c, m: coefs.__setitem__(k, c[:, 0].numpy()))
    dists = np.array([_rel(coefs[k], target) for k in sorted(coefs)])
    assert np.all(np.diff(dists) <= 1e-15) and dists[-1] < 1e-6
    row_projector = np.linalg.pinv(Phi) @ Phi
    assert np.linalg.norm(sol.coef - row_projector @ sol.coef) < 1e-12 * np.linalg.norm(sol.coef)
    assert [h["iter"] for h in sol.history] == list(range(401))
    assert set(sol.history[0]) == {"iter", "mse", "norm", "time_s"}
    assert sol.history[0]["mse"] == pytest.approx(np.mean(y**2)) and sol.history[0]["norm"] == 0.0


def test_cg_converges_to_min_norm():
    Phi, y = _problem(15, 40, n_outputs=2)
    target = np.linalg.pinv(Phi) @ y
    coefs = []
    sol = solve(Phi, y, "cg", callback=lambda k, c, m: coefs.append(c.numpy()))
    assert sol.status == "optimal" and sol.n_iter <= 40
    assert _rel(sol.coef, target) < 1e-8
    dists = [_rel(c, target) for c in coefs]
    assert all(np.diff(dists) < 1e-12)  # CG's error decreases monotonically
    mses = [h["mse"] for h in sol.history]
    assert all(np.diff(mses) <= 1e-15)


def test_cg_on_tall_problem_gives_least_squares():
    Phi, y = _problem(40, 15)
    sol = solve(Phi, y, "cg")
    assert _rel(sol.coef, np.linalg.lstsq(Phi, y, rcond=None)[0]) < 1e-8


def test_adam_reaches_low_mse_but_not_the_min_norm_solution():
    Phi, y = _problem(15, 40)
    target = np.linalg.pinv(Phi) @ y
    sol = solve(Phi, y, "adam", lr=1e-2, target_mse=1e-10, max_iter=5000)
    assert sol.status == "optimal" and sol.mse <= 1e-10
    # measured: ||c_adam|| ~ 1.4x the min norm, ~100% relative distance, mostly outside the row space
    assert sol.norm > 1.2 * np.linalg.norm(target)
    assert _rel(sol.coef, target) > 0.3
    null_part = sol.coef - np.linalg.pinv(Phi) @ (Phi @ sol.coef)
    assert np.linalg.norm(null_part) > 0.3 * np.linalg.norm(sol.coef)


def test_iterative_stop_on_target_mse_and_thinned_history():
    Phi, y = _problem(15, 40)
    eps = 0.01 * float(np.mean(y**2))
    sol = solve(Phi, y, "gd", eps=eps, history_every=10)
    assert sol.status == "optimal" and sol.mse <= eps and 0 < sol.n_iter < 10_000
    assert [h["iter"] for h in sol.history] == sorted(set(range(0, sol.n_iter + 1, 10)) | {sol.n_iter})
    # the last iteration before stopping was still above eps: GD stopped at the first hit
    with pytest.warns(ConvergenceWarning):
        before = solve(Phi, y, "gd", eps=eps, max_iter=sol.n_iter - 1, lr=sol.info["lr"])
    assert before.mse > eps
    zero = solve(Phi, y, "cg", eps=2 * float(np.mean(y**2)))
    assert zero.n_iter == 0 and not zero.coef.any()


def test_tol_stops_on_a_plateau():
    Phi, y = _problem(40, 15)
    sol = solve(Phi, y, "gd", tol=1e-10)
    assert sol.status == "optimal" and sol.n_iter < 10_000 and "tol" in sol.info["message"]
    eps_below_floor = 0.5 * SpectralSolver(Phi, y).mse_floor
    with pytest.warns(ConvergenceWarning, match="stalled"):
        stalled = solve(Phi, y, "adam", eps=eps_below_floor, lr=1e-2, tol=1e-9)
    assert stalled.status == "inaccurate"


def test_gd_diverging_lr_raises_divergence_error():
    Phi, y = _problem(15, 40)
    bound = 2 / SpectralSolver(Phi, y).lipschitz
    with pytest.raises(DivergenceError, match=r"diverged at iteration \d+.*lr=.*2/L = .*smaller lr") as err:
        solve(Phi, y, "gd", lr=5 * bound)
    assert err.value.method == "gd" and err.value.status == "failed"
    assert isinstance(err.value, SolverError) and isinstance(err.value, KernelregError)
    with pytest.raises(DivergenceError, match="adam.*smaller lr"):
        solve(Phi * 1e3, y, "adam", lr=1e6, max_iter=500)


def test_max_iter_warning_names_the_setting():
    Phi, y = _problem(15, 40)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=5 .*Raise max_iter"):
        sol = solve(Phi, y, "adam", eps=1e-6, max_iter=5)
    assert sol.status == "max_iter" and sol.n_iter == 5 and len(sol.history) == 6


# ----------------------------------------------------------------------------- cvxpy
def test_cvxpy_l1_is_sparser_and_feasible():
    Phi, y = _problem(15, 40)
    eps = _mid_eps(Phi, y, 0.1)
    l1 = solve(Phi, y, "cvxpy", eps=eps, norm="l1", solver_options=TIGHT)
    l2 = solve(Phi, y, "cvxpy", eps=eps, norm="l2", solver_options=TIGHT)
    assert l1.mse <= eps * (1 + 1e-6)
    assert l1.objective == pytest.approx(np.abs(l1.coef).sum(), rel=1e-6)
    assert l1.norm == pytest.approx(np.linalg.norm(l1.coef)) and l1.norm > l2.norm
    big = lambda c: int((np.abs(c) > 1e-6 * np.abs(c).max()).sum())  # noqa: E731
    assert big(l1.coef) <= 15 < big(l2.coef)
    assert np.abs(l1.coef).sum() < np.abs(l2.coef).sum()


def test_cvxpy_weights_equal_exact_on_rescaled_features():
    Phi, y = _problem(15, 40)
    w = np.random.default_rng(5).uniform(0.5, 3.0, 40)
    eps = _mid_eps(Phi, y, 0.1)
    weighted = solve(Phi, y, "cvxpy", eps=eps, weights=w, solver_options=TIGHT)
    # min ||w*c|| s.t. ... is min ||d|| on Phi / w with c = d / w
    truth = solve(Phi / w, y, eps=eps).coef / w
    assert _rel(weighted.coef, truth) < 1e-5
    assert weighted.objective == pytest.approx(np.linalg.norm(w * weighted.coef), rel=1e-6)


def test_cvxpy_hinge_hard_margin_separates():
    Phi, _ = _problem(20, 60)
    labels = np.sign(Phi @ np.random.default_rng(2).standard_normal(60))
    sol = solve(Phi, labels, "cvxpy", loss="hinge", solver_options=TIGHT)
    assert sol.status == "optimal"
    assert np.min(labels * (Phi @ sol.coef)) >= 1 - 1e-6
    assert sol.info["min_margin"] == pytest.approx(1.0, abs=1e-6)  # min-norm: the margin is tight
    shifted = np.sign(Phi @ np.random.default_rng(2).standard_normal(60) + 0.5)
    with_b = solve(Phi, shifted, "cvxpy", loss="hinge", fit_intercept=True, solver_options=TIGHT)
    assert np.min(shifted * (Phi @ with_b.coef + with_b.info["intercept"])) >= 1 - 1e-6
    assert with_b.norm <= solve(Phi, shifted, "cvxpy", loss="hinge", solver_options=TIGHT).norm + 1e-9


def test_cvxpy_hinge_on_non_separable_labels_is_infeasible():
    Phi, _ = _problem(20, 60)
    labels = np.sign(Phi @ np.random.default_rng(2).standard_normal(60))
    Phi2, labels2 = np.vstack([Phi, Phi[:1]]), np.append(labels, -labels[0])  # same point, both classes
    with pytest.raises(SolverError, match=r"least mean hinge loss any coefficients reach is (\S+), the smallest feasible eps") as err:
        solve(Phi2, labels2, "cvxpy", loss="hinge")
    assert err.value.status == "infeasible" and err.value.method == "cvxpy"
    least = float(re.search(r"reach is (\S+),", str(err.value)).group(1))
    # one point carries both labels: the best any coef can do is a hinge loss of 1 on it (2 / 21 over both copies)
    assert least == pytest.approx(2 / 21, rel=1e-5)
    soft = solve(Phi2, labels2, "cvxpy", loss="hinge", eps=1.01 * least)
    assert soft.info["mean_loss"] <= 1.01 * least * (1 + 1e-6) and soft.certificate.feasible
    with pytest.raises(SolverError, match="infeasible"):
        solve(Phi2, labels2, "cvxpy", loss="hinge", eps=0.9 * least)


@pytest.mark.parametrize("n_outputs", [None, 2])
def test_cvxpy_unpenalised_intercept(n_outputs):
    Phi, y = _problem(15, 40, n_outputs=n_outputs)
    eps = _mid_eps(Phi, y, 0.1)
    sol = solve(Phi, y + 5.0, "cvxpy", eps=eps, fit_intercept=True, solver="SCS", solver_options=SCS_TIGHT)
    # truth: with a free intercept the problem is the centred one (exact solver on centred data)
    Phi_c, y_c = Phi - Phi.mean(axis=0), y - y.mean(axis=0)
    truth = solve(Phi_c, y_c, eps=eps)
    assert _rel(sol.coef, truth.coef) < 1e-8
    expected_b = (y + 5.0).mean(axis=0) - Phi.mean(axis=0) @ truth.coef
    assert np.allclose(sol.info["intercept"], expected_b, atol=1e-8)
    assert sol.mse == pytest.approx(eps, rel=1e-8)


def test_cvxpy_logistic_needs_positive_eps_and_meets_it():
    Phi, _ = _problem(20, 60)
    labels = np.sign(Phi @ np.random.default_rng(2).standard_normal(60))
    sol = solve(Phi, labels, "cvxpy", loss="logistic", eps=0.05)
    mean_loss = np.mean(np.logaddexp(0.0, -labels * (Phi @ sol.coef)))
    assert mean_loss == pytest.approx(0.05, rel=1e-4)
    with pytest.raises(ValueError, match="logistic.*needs eps > 0"):
        solve(Phi, labels, "cvxpy", loss="logistic", eps=0.0)
    with pytest.raises(ValueError, match=r"labels y in \{-1, \+1\}"):
        solve(Phi, labels * 2, "cvxpy", loss="hinge")


@pytest.mark.parametrize("eps_frac", [0.0, 0.2])
def test_cvxpy_qr_reduction_equals_raw(eps_frac):
    Phi, y = _problem(15, 40, n_outputs=2)
    eps = _mid_eps(Phi, y, eps_frac) if eps_frac else 0.0
    raw = solve(Phi, y, "cvxpy", eps=eps, reduce=False, solver="SCS", solver_options=SCS_TIGHT)
    reduced = solve(Phi, y, "cvxpy", eps=eps, reduce="qr", solver="SCS", solver_options=SCS_TIGHT)
    assert reduced.info["reduced"] and not raw.info["reduced"]
    assert _rel(reduced.coef, raw.coef) < 1e-9
    assert _rel(reduced.coef, solve(Phi, y, eps=eps).coef) < 1e-9
    auto = solve(Phi, y, "cvxpy", eps=eps, solver_options=TIGHT)  # auto reduces when N < n
    assert auto.info["reduced"] and _rel(auto.coef, raw.coef) < 1e-5
    with pytest.raises(ValueError, match="reduce=True needs norm='l2' without weights"):
        solve(Phi, y, "cvxpy", eps=eps, norm="l1", reduce=True)


def test_min_norm_program_is_built_once_and_resolved():
    Phi, y = _problem(15, 40)
    program = MinNormProgram(Phi, y)
    first, second = _mid_eps(Phi, y, 0.1), _mid_eps(Phi, y, 0.3)
    a, b = program.solve(first, solver_options=TIGHT), program.solve(second, solver_options=TIGHT)
    assert len(program._programs) == 1  # one compiled eps > 0 program, re-solved with a new parameter
    assert a.mse == pytest.approx(first, rel=1e-6) and b.mse == pytest.approx(second, rel=1e-6)
    assert _rel(b.coef, solve(Phi, y, eps=second).coef) < 1e-5


def test_cvxpy_unknown_solver_lists_installed_ones():
    Phi, y = _problem(10, 20)
    with pytest.raises(ValueError, match=r"solver='nope' is not installed; installed solvers are .*CLARABEL"):
        solve(Phi, y, "cvxpy", solver="nope")


def test_cvxpy_infeasible_squared_loss_raises_with_status():
    Phi, y = _problem(40, 10)
    floor = SpectralSolver(Phi, y).mse_floor
    with pytest.raises(SolverError, match="infeasible.*least-squares floor") as err:
        solve(Phi, y, "cvxpy", eps=0.5 * floor)
    assert err.value.status == "infeasible" and err.value.method == "cvxpy"


def test_cvxpy_iteration_limit_and_inaccurate_warn():
    Phi, y = _problem(15, 40)
    eps = _mid_eps(Phi, y)
    with pytest.warns(ConvergenceWarning, match="user_limit.*max_iter"):
        limited = solve(Phi, y, "cvxpy", eps=eps, solver="CLARABEL", solver_options={"max_iter": 2})
    assert limited.status == "max_iter"
    # SCS stopped after 5 iterations: CVXPY says optimal_inaccurate, the certificate rejects the answer,
    # and the exact solver polishes it (same program, same eps)
    rough = solve(Phi, y, "cvxpy", eps=eps, solver="SCS", solver_options={"max_iters": 5})
    assert rough.info["cvxpy_status"] == "optimal_inaccurate" and rough.info["polished"] == "exact"
    assert not rough.info["cvxpy_certificate"].optimal and rough.certificate.optimal and rough.status == "optimal"
    assert _rel(rough.coef, solve(Phi, y, eps=eps).coef) < 1e-12


def test_cvxpy_trivial_eps_returns_zero():
    Phi, y = _problem(15, 40)
    sol = solve(Phi, y, "cvxpy", eps=float(np.mean(y**2)))
    assert sol.status == "optimal" and not sol.coef.any()


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("Phi", "y", "error", "match"),
    [
        (np.ones(5), np.ones(5), ValueError, r"Phi must be a 2-D .* got shape \(5,\) \(1-D\)"),
        (np.ones((2, 3, 4)), np.ones(2), ValueError, r"got shape \(2, 3, 4\) \(3-D\)"),
        (np.ones((4, 3)), np.ones((4, 1, 1)), ValueError, r"y must be 1-D .* got shape \(4, 1, 1\)"),
        (np.ones((4, 3)), np.ones(5), ValueError, "Phi has 4 rows but y has 5 entries"),
        (np.zeros((0, 3)), np.zeros(0), ValueError, r"Phi is empty: shape \(0, 3\)"),
        (np.zeros((4, 0)), np.zeros(4), ValueError, r"Phi is empty: shape \(4, 0\)"),
        (np.ones((4, 3)), np.ones((4, 0)), ValueError, "y is empty"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2), ValueError, "Phi contains 1 NaN"),
        (np.eye(2), np.array([np.inf, 1.0]), ValueError, "y contains 1 infinite"),
        (np.array([["a", "b"]]), np.ones(1), TypeError, "Phi must hold real numbers"),
    ],
)
def test_input_validation_messages(Phi, y, error, match):
    with pytest.raises(error, match=match):
        solve(Phi, y)


def test_nan_in_torch_tensor_is_reported():
    Phi = torch.ones(3, 2)
    Phi[1, 1] = float("nan")
    with pytest.raises(ValueError, match="Phi contains 1 NaN"):
        solve(Phi, np.ones(3))


@pytest.mark.parametrize(
    ("eps", "match"), [(-1.0, "got eps=-1.0"), (float("nan"), "got eps=nan"), (float("inf"), "got eps=inf")]
)
def test_eps_validation(eps, match):
    with pytest.raises(ValueError, match=rf"eps must be finite and >= 0 .*{match}"):
        solve(np.eye(3), np.ones(3), eps=eps)
    with pytest.raises(TypeError, match="eps must be a real number"):
        solve(np.eye(3), np.ones(3), eps="small")


def test_unknown_method_and_option_messages():
    methods = "'exact', 'cvxpy', 'gd', 'adam', 'cg'"
    with pytest.raises(ValueError, match=rf"unknown method 'ecxat'.*{methods}.*Did you mean 'exact'"):
        solve(np.eye(3), np.ones(3), method="ecxat")
    with pytest.raises(TypeError, match=r"solve\(method='gd'\) got an unknown option 'lrr'.*Did you mean 'lr'"):
        solve(np.eye(3), np.ones(3), method="gd", lrr=0.1)
    with pytest.raises(TypeError, match=r"solve\(method='exact'\) got an unknown option 'max_iter'"):
        solve(np.eye(3), np.ones(3), max_iter=3)
    with pytest.raises(TypeError, match=r"method='cg'.*unknown option 'lr'"):
        solve(np.eye(3), np.ones(3), method="cg", lr=0.1)


def test_option_value_messages():
    Phi, y = _problem(5, 8)
    with pytest.raises(ValueError, match="decomposition must be one of .*got 'lu'"):
        solve(Phi, y, decomposition="lu")
    with pytest.raises(ValueError, match="lr must be a finite number > 0; got lr=-1"):
        solve(Phi, y, "gd", lr=-1)
    with pytest.raises(ValueError, match="max_iter must be an integer >= 0; got max_iter=2.5"):
        solve(Phi, y, "cg", max_iter=2.5)
    with pytest.raises(ValueError, match=r"weights must have shape \(n_features,\) = \(8,\); got shape \(3,\)"):
        solve(Phi, y, "cvxpy", weights=np.ones(3))
    with pytest.raises(ValueError, match="weights must be finite and > 0"):
        solve(Phi, y, "cvxpy", weights=np.zeros(8))
    with pytest.raises(ValueError, match="norm must be one of .*got norm='l3'"):
        solve(Phi, y, "cvxpy", norm="l3")
    with pytest.raises(ValueError, match="lam must be a ridge parameter >= 0"):
        SpectralSolver(Phi, y).ridge(-1.0)
    with pytest.raises(KernelregError, match="device='cuda:7'|device='tpu'"):
        solve(Phi, y, device="tpu")


def test_solution_repr_is_short():
    Phi, y = _problem(15, 40)
    text = repr(solve(Phi, y, eps=0.1))
    assert text.startswith("Solution(method='exact', status='optimal'") and "coef.shape=(40,)" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solve(Phi, y, eps=0.1)  # optimal returns quietly
