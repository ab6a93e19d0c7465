"""The spectral-bias paper's suites: the stacked Adam trainer behind Table II, and the suites' own checks."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest
import torch

from kernelreg import activations
from kernelreg.bench._stacked_adam import StackedAdam, record_steps
from kernelreg.solvers import solve


def _problems(R: int = 4, N: int = 12, n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """R small ReLU-feature least-squares problems (different data and features per run)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (R, N, 2))
    theta = rng.uniform(0, 2 * np.pi, (R, n))
    xi = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    gamma = rng.uniform(-1.4, 1.4, (R, n))
    Phi = np.maximum(np.einsum("rnd,rkd->rnk", X, xi) - gamma[:, None, :], 0.0)
    y = rng.uniform(-1, 1, (R, N))
    return Phi, y


def _alone(Phi: np.ndarray, y: np.ndarray, lr: float, target: float, budget: int):
    """One run solved alone by ``solve(method="adam")`` (torch.optim.Adam, the library's own loop)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return solve(Phi, y, "adam", eps=target, lr=lr, max_iter=budget)


def test_stacked_adam_equals_independent_runs_with_their_own_lr_and_stop():
    Phi, y = _problems()
    lrs = np.array([1e-3, 4e-3, 1e-2, 3e-2])
    target, budget = 2e-2, 1200
    stacked = StackedAdam(Phi, y, lrs, target_mse=target, check_every=50).run(budget).result()
    alone = [_alone(Phi[r], y[r], lrs[r], target, budget) for r in range(len(lrs))]
    # two runs stop at the target, at different steps; two run into the budget: stopping is per run
    reached = stacked.n_iter[stacked.reached]
    assert len(reached) == 2 and len(set(reached.tolist())) == 2 and reached.max() < budget
    assert np.all(stacked.n_iter[~stacked.reached] == budget)
    for r, sol in enumerate(alone):
        assert stacked.n_iter[r] == sol.n_iter
        assert bool(stacked.reached[r]) == (sol.mse <= target)
        # The two paths differ only by rounding: c = lr * u (one rounding per step) and bmm vs mm
        # summation order, ~1e-15 relative over these 1200 steps. The horizon is kept short on
        # purpose: once Adam has converged at a large lr it oscillates, and its oscillations amplify
        # rounding chaotically (1e-4 after 3000 steps at lr 4e-3 here), for the stacked and the
        # single run alike. 1e-11 leaves four orders of magnitude over what is observed.
        np.testing.assert_allclose(stacked.coef[r], sol.coef, rtol=1e-11, atol=1e-11 * np.abs(sol.coef).max())
        assert stacked.mse[r] == pytest.approx(sol.mse, rel=1e-10)


def test_stacked_adam_freezes_a_run_at_the_step_it_reaches_the_target():
    Phi, y = _problems(R=3, seed=1)
    target = 2e-2
    st = StackedAdam(Phi, y, 1e-2, target_mse=target, check_every=7, record=np.arange(0, 2001))
    st.run(2000)
    res = st.result()
    for r in range(3):
        curve = res.history[:, r]
        if res.reached[r]:
            k = int(res.n_iter[r])
            assert curve[k] <= target and np.all(curve[:k] > target)  # the first step at or below the target
            assert np.all(np.isnan(curve[k + 1:]))  # not trained (nor recorded) after it stopped
            # the recorded coefficients are those of step k: their MSE is the recorded one
            mse = np.mean((Phi[r] @ res.coef[r] - y[r]) ** 2)
            assert mse == pytest.approx(res.mse[r], rel=1e-12) and mse == pytest.approx(curve[k], rel=1e-12)
    assert res.reached.sum() >= 2
    assert len(st.idx) == int((~res.reached).sum())  # stopped runs were dropped from the stack
    assert res.run_steps < 3 * 2000


def test_stacked_adam_resumes_bitwise_from_its_state():
    Phi, y = _problems(R=3, seed=2)
    kwargs = dict(target_mse=1e-3, check_every=25)
    whole = StackedAdam(Phi, y, [1e-2, 2e-2, 5e-3], **kwargs).run(900).result()
    first = StackedAdam(Phi, y, [1e-2, 2e-2, 5e-3], **kwargs).run(400)
    state = first.state_dict()
    resumed = StackedAdam(Phi, y, [1e-2, 2e-2, 5e-3], **kwargs).load_state_dict(state).run(900).result()
    # the same computations in the same order: equal bit for bit
    np.testing.assert_array_equal(resumed.coef, whole.coef)
    np.testing.assert_array_equal(resumed.n_iter, whole.n_iter)
    np.testing.assert_array_equal(resumed.history, whole.history)


def test_stacked_adam_rejects_bad_input():
    Phi, y = _problems(R=2)
    with pytest.raises(ValueError, match=r"Phi of shape \(R, n_samples, n_features\)"):
        StackedAdam(Phi[0], y, 1e-3, target_mse=0.0)
    with pytest.raises(ValueError, match="every lr must be a finite number > 0"):
        StackedAdam(Phi, y, [1e-3, -1.0], target_mse=0.0)
    bad = Phi.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        StackedAdam(bad, y, 1e-3, target_mse=0.0)
    with pytest.raises(ValueError, match="target_mse"):
        StackedAdam(Phi, y, 1e-3, target_mse=-1.0)


def test_record_steps_are_log_spaced_and_keep_both_ends():
    steps = record_steps(400_000, 50)
    assert steps[0] == 0 and steps[-1] == 400_000 and np.all(np.diff(steps) > 0) and len(steps) <= 51


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_stacked_adam_on_cuda_matches_the_cpu():
    Phi, y = _problems()
    cpu = StackedAdam(Phi, y, 1e-2, target_mse=1e-3).run(500).result()
    gpu = StackedAdam(Phi, y, 1e-2, target_mse=1e-3, device="cuda").run(500).result()
    np.testing.assert_array_equal(cpu.n_iter, gpu.n_iter)
    np.testing.assert_allclose(gpu.coef, cpu.coef, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# gd-vs-convex: the stacked run is cut into resumable segments
# ---------------------------------------------------------------------------------------------
def _adam_numbers(summary) -> list:
    """Adam's per-run end points of a gd-vs-convex run (steps, MSE, target flag, relative error)."""
    return [(c.key, c.result["methods"]["adam"]["n_iter"], c.result["methods"]["adam"]["mse"],
             c.result["methods"]["adam"]["reached_target"], c.result["methods"]["adam"]["rel_error"])
            for c in summary.cells if c.params.get("kind") == "run"]


def test_gd_vs_convex_resumes_an_interrupted_stacked_run_from_its_last_segment(tmp_path, monkeypatch):
    from kernelreg import bench
    from kernelreg.bench import _stacked_adam

    overrides = {"budget": 600, "segment": 200}
    clean = bench.run_suite("gd-vs-convex", tmp_path / "clean", quick=True, progress=False, overrides=overrides)
    original = _stacked_adam.StackedAdam.run
    calls = []

    def interrupted(self, max_steps):
        calls.append(max_steps)
        if max_steps == 400:  # Ctrl-C in the second segment
            raise KeyboardInterrupt
        return original(self, max_steps)

    monkeypatch.setattr(_stacked_adam.StackedAdam, "run", interrupted)
    with pytest.raises(KeyboardInterrupt, match="during cell 'adam_segment001'"):
        bench.run_suite("gd-vs-convex", tmp_path / "resumed", quick=True, progress=False, overrides=overrides,
                        log=lambda m: None)
    out = tmp_path / "resumed" / "gd-vs-convex"
    assert sorted(p.name for p in (out / "cells").iterdir()) == ["adam_segment000.json"]
    assert len(list((out / "state").glob("adam-*-000.pt"))) == 1 and not list((out / "state").glob("*-001.pt"))
    monkeypatch.setattr(_stacked_adam.StackedAdam, "run", original)
    resumed = bench.run_suite("gd-vs-convex", tmp_path / "resumed", quick=True, progress=False, overrides=overrides)
    assert resumed.reused == ["adam_segment000"]
    # the same computations (segment 0 from its checkpoint, then the rest): the same end points
    assert _adam_numbers(resumed) == _adam_numbers(clean)


def test_run_suite_overrides_only_existing_settings(tmp_path):
    from kernelreg import bench

    with pytest.raises(ValueError, match=r"suite 'rowdy' has no setting\(s\) \['budget'\]; its settings are: n, "):
        bench.run_suite("rowdy", tmp_path, quick=True, progress=False, overrides={"budget": 10})


def test_cli_budget_reaches_the_suite_and_the_reproducing_command(tmp_path, capsys):
    from kernelreg.cli import main

    assert main(["bench", "run", "gd-vs-convex", "--quick", "--budget", "300", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    report = (tmp_path / "gd-vs-convex" / "report.md").read_text()
    assert "--budget 300" in report and "| budget | `300` |" in report
    assert main(["bench", "run", "gd-vs-convex", "--budget", "-5", "--out", str(tmp_path)]) == 2  # usage error
    assert "must be a non-negative integer" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# spectral-targets: no cell misses eps silently
# ---------------------------------------------------------------------------------------------
_ONE_CELL = {"activations": ["relu"], "targets": ["hole"]}


def test_spectral_targets_reports_an_infeasible_eps_with_the_floor_and_no_fit(tmp_path, monkeypatch):
    from kernelreg import bench
    from kernelreg.bench import spectral_targets

    real = spectral_targets.load_spectral

    def twice_with_other_labels(*args, **kwargs):
        # every training input twice, the copies' labels 0.1 apart: the least-squares fit of a pair is its
        # mean, so no coefficients get below mse = 0.05² = 0.0025 (the floor, in closed form)
        data = real(*args, **kwargs)
        X, y = data.X_train[:30], data.y_train[:30]
        return dataclasses.replace(data, X_train=np.vstack([X, X]), y_train=np.concatenate([y, y + 0.1]))

    monkeypatch.setattr(spectral_targets, "load_spectral", twice_with_other_labels)
    summary = bench.run_suite("spectral-targets", tmp_path, quick=True, progress=False, overrides=_ONE_CELL)
    (row,) = summary.rows
    (cell,) = summary.cells
    assert row["status"] == "infeasible" and not row["meets_eps"]
    assert row["floor"] == pytest.approx(0.0025, rel=1e-9)
    assert math.isnan(row["test_mse"])  # no coefficients to test
    assert "M_fit" not in cell.result and "fit_grid" not in cell.result
    assert "0.0025*" in summary.report_path.read_text().split("## Training MSE")[1]


def test_spectral_targets_flags_coefficients_that_miss_a_feasible_eps(tmp_path, monkeypatch):
    from kernelreg import bench
    from kernelreg.bench import spectral_targets

    real = spectral_targets.solve

    def off_by_a_bit(Phi, y, method="exact", eps=0.0, **options):
        sol = real(Phi, y, method, eps=eps, **options)
        if eps > 0:  # the eps-relaxed answer comes back 1 % too large: its mse misses eps
            sol = dataclasses.replace(sol, coef=1.01 * sol.coef, mse=float(np.mean((Phi @ (1.01 * sol.coef) - y) ** 2)))
        return sol

    monkeypatch.setattr(spectral_targets, "solve", off_by_a_bit)
    summary = bench.run_suite("spectral-targets", tmp_path, quick=True, progress=False,
                              overrides={**_ONE_CELL, "eps": 1e-3})
    (row,) = summary.rows
    assert row["status"] == "missed_eps" and not row["meets_eps"] and row["feasibility"] > 1.0
    assert "M_fit" not in summary.cells[0].result  # never drawn as a fit at eps
    assert "‡" in summary.report_path.read_text()


# ---------------------------------------------------------------------------------------------
# spectral-theory
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, q", [("step", 2), ("relu", 4), ("half_exp", None)])
def test_contraction_seminorm_matches_the_closed_form_for_power_penalties(name, q):
    from scipy.special import gammaln

    from kernelreg.bench.spectral_theory import contraction_seminorm
    from kernelreg.seminorm import radon_constant, sphere_area

    for d in (1, 2, 7, 20):
        for s in (1.0, 0.1, 0.01):
            got = contraction_seminorm(d, s, name)
            # J = c_d²/π |S^{d-1}| ∫ |f̂_s(k)|² k^{2d-2} P(k) dk with |f̂_s|² = s^{2d} (2π)^d e^{-s²k²}, and
            # ∫ e^{-s²k²} k^m dk = Γ((m+1)/2) / (2 s^{m+1})
            log_pref = 2 * math.log(radon_constant(d)) - math.log(math.pi) + math.log(sphere_area(d)) + \
                d * math.log(2 * math.pi) + 2 * d * math.log(s) - math.log(2)
            if q is None:  # Half-Exp, P = 1 + k²: two power terms
                expected = log_pref + np.logaddexp(gammaln(d - 0.5) - (2 * d - 1) * math.log(s),
                                                   gammaln(d + 0.5) - (2 * d + 1) * math.log(s))
            else:
                expected = log_pref + gammaln(d - 0.5 + q / 2) - (2 * d - 1 + q) * math.log(s)
            assert got == pytest.approx(expected, abs=1e-8), (name, d, s)
    arch = [contraction_seminorm(3, s) for s in (0.5, 0.25)]
    assert (arch[1] - arch[0]) / math.log(0.5) == pytest.approx(1.0, abs=1e-12)  # P ≡ 1: J ∝ s for every d


def test_contraction_seminorm_is_infinite_where_the_bump_has_no_finite_cost():
    from kernelreg.bench.spectral_theory import contraction_seminorm

    assert contraction_seminorm(2, 0.5, activations.get("sinc", a=2.0)) == math.inf  # band limit
    assert math.isfinite(contraction_seminorm(2, 0.5, "cauchy"))


def test_boundary_classification_hand_cases():
    from kernelreg.bench.spectral_theory import _classify_boundaries

    X = np.array([[0.5, 0.0]])
    # one datapoint, residual −1 (label 1): below its curve L = ½(t − 1)² < ½ = L above (no data) → plateau
    plateau = _classify_boundaries(X, np.array([-1.0]), 1.0, 36)["fractions"]
    assert plateau["plateau"] == 1.0
    # residual +1: below L = ½(1 + t)² > ½ → the no-data side is lower: a basin
    assert _classify_boundaries(X, np.array([1.0]), 1.0, 36)["fractions"]["basin"] == 1.0
    # two points on one line, the far one with a large residual of the other sign: where the near
    # point's curve lies below the far one's, the loss falls toward it from both sides (valley floor)
    two = _classify_boundaries(np.array([[0.2, 0.0], [0.8, 0.0]]), np.array([-0.5, 2.0]), 1.0, 360)["fractions"]
    assert two["valley floor"] > 0 and sum(two.values()) == pytest.approx(1.0)


def test_gd_vs_convex_checkpoints_follow_the_stack_settings_only(tmp_path):
    from pathlib import Path

    from kernelreg.bench import get_suite
    from kernelreg.bench._runner import RunContext

    suite = get_suite("gd-vs-convex")

    def digest(**changes):
        settings = {**suite.settings(True), **changes}
        return suite._digest(RunContext(suite=suite.name, settings=settings, quick=True, seed=0, device="cpu",
                                        out_dir=Path(tmp_path), fig_dir=Path(tmp_path)))

    base = digest()
    assert digest(hull_points=999, cvxpy=False, timing_steps=7) == base  # the comparisons' settings
    assert digest(budget=123) != base and digest(adam_lr={"step": 1.0, "relu": 1.0, "halfexp": 1.0}) != base
    assert digest(directions="grid") != base


def test_a_solver_defect_is_recorded_per_run_not_lost(monkeypatch):
    from kernelreg.bench import gd_vs_convex
    from kernelreg.exceptions import SolverError

    def broken(Phi, y, method, eps=0.0, **options):
        if method == "exact":
            raise OverflowError("math range error")
        raise SolverError("eps below the floor", method=method, status="infeasible")

    monkeypatch.setattr(gd_vs_convex, "solve", broken)
    rec: dict = {}
    Phi, y = np.eye(3), np.ones(3)
    assert gd_vs_convex._recorded_solve(rec, "exact", Phi, y, 1e-3) is None
    assert gd_vs_convex._recorded_solve(rec, "cvxpy", Phi, y, 1e-3) is None
    assert rec == {"exact_status": "error", "exact_error": "OverflowError: math range error",
                   "cvxpy_status": "infeasible", "cvxpy_error": "eps below the floor"}
