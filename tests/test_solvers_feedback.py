"""solve(verbose=...) feedback, warnings that name the caller's line, and the hand-written Adam against torch.optim.Adam."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from kernelreg.solvers import solve

ROOT = Path(__file__).resolve().parents[1]


def _data(seed=0, n_samples=30, n_features=80):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_samples, n_features)) / np.sqrt(n_features), rng.standard_normal(n_samples)


@pytest.mark.parametrize("method", ["gd", "adam", "cg"])
def test_verbose_iterative_solve_shows_a_bar_and_one_summary_line(method, capsys, caplog):
    Phi, y = _data()
    options = {"lr": 0.05} if method == "adam" else {}
    caplog.handler.setLevel(logging.INFO)  # the logger keeps its level: verbose lowers it to INFO for the call
    sol = solve(Phi, y, method, eps=1e-2, max_iter=5000, verbose=True, **options)
    err = capsys.readouterr().err
    assert f"{method}:" in err and f"{sol.n_iter}/5000" in err and "iter/s" in err  # the bar, which stays
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{method}: optimal after")]
    assert summary == [f"{method}: optimal after {sol.n_iter} iterations, mse {sol.history[-1]['mse']:.4g} "
                       f"({sol.info['message']})."]
    caplog.clear()
    solve(Phi, y, method, eps=1e-2, max_iter=5000, **options)
    assert capsys.readouterr().err == "" and not caplog.records  # quiet by default


def test_verbose_exact_logs_each_stage_on_the_kernelreg_logger(caplog):
    Phi, y = _data()
    with caplog.at_level(logging.INFO, logger="kernelreg"):
        solve(Phi, y, eps=1e-3, verbose=True)
    lines = [r.getMessage() for r in caplog.records if r.name == "kernelreg"]
    assert any(line.startswith("exact: gram on Phi of shape 30 x 80 (factorised in") and "certificate optimal" in line
               for line in lines), lines
    # a fallback is reported with its reason
    rng = np.random.default_rng(0)
    Phi_bad = np.maximum(rng.uniform(-1, 1, (40, 2)) @ rng.standard_normal((2, 400)) - rng.uniform(-1, 1, 400), 0)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kernelreg"):
        sol = solve(Phi_bad, rng.standard_normal(40), eps=1e-9, verbose=True)
    if "fallback_reason" in sol.info:
        assert any(r.getMessage().startswith("exact: fell back (") for r in caplog.records)


def test_convergence_warnings_point_at_the_callers_line():
    Phi, y = _data()
    with pytest.warns(ConvergenceWarning, match="max_iter=3") as record:
        solve(Phi, y, "gd", eps=1e-12, max_iter=3)
    assert record[0].filename == __file__


def test_adam_stepper_follows_torch_optim_adam():
    """Same update rule as torch.optim.Adam (amsgrad=False, eps=1e-8, bias correction).

    The arithmetic is the same operation by operation, so the two runs agree to rounding while the
    iteration does not amplify it: 300 steps with the default betas stay at the 1e-16 level. With
    betas=(0.5, 0.9) Adam's late iterates are chaotic (measured: 1e-15 apart after 50 steps, 2e-8
    after 100, 1e-2 after 300, from rounding alone), so that case is compared over 50 steps.
    1e-12 (relative) leaves room for torch's foreach/fused kernels, which may order the same
    operations differently on other builds.
    """
    Phi, y = _data(seed=1)
    for betas, lr, steps in (((0.9, 0.999), 1e-2, 300), ((0.5, 0.9), 3e-2, 50)):
        with pytest.warns(ConvergenceWarning, match="max_iter"):
            sol = solve(Phi, y, "adam", eps=1e-12, max_iter=steps, lr=lr, betas=betas)
        P, Y = torch.tensor(Phi), torch.tensor(y)[:, None]
        coef = torch.zeros(Phi.shape[1], 1, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.Adam([coef], lr=lr, betas=betas)
        residual = -Y
        for _ in range(steps):
            coef.grad = (2.0 / y.size) * P.T @ residual
            optimizer.step()
            with torch.no_grad():
                residual = P @ coef - Y
        reference = coef.detach()[:, 0].numpy()
        assert sol.n_iter == steps
        assert np.max(np.abs(sol.coef - reference)) <= 1e-12 * np.max(np.abs(reference))


def test_adam_does_not_import_torch_dynamo():
    """torch.optim.Adam's first step imports torch._dynamo (2-3 s); the solver's own stepper does not."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from kernelreg.solvers import solve
        rng = np.random.default_rng(0)
        solve(rng.standard_normal((10, 20)), rng.standard_normal(10), "adam", max_iter=5)
        print("torch._dynamo" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": ""}, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
