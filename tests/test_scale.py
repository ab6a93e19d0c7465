"""Scale paths without dask: memory budgets, chunked feature export, the streamed exact solve from disk, devices."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from kernelreg._memory import chunk_rows, parse_memory, read_block
from kernelreg.exceptions import DeviceError, SolverError
from kernelreg.features import RandomFeatureMap
from kernelreg.solvers import ChunkedSolver, SpectralSolver, solve


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture
def tall():
    """A tall, well-conditioned problem (N >> n) with a known least-squares solution."""
    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((600, 25))
    y = Phi @ rng.standard_normal(25) + 0.5 * rng.standard_normal(600)
    return Phi, y


@pytest.fixture
def wide():
    rng = np.random.default_rng(1)
    return rng.standard_normal((40, 300)), rng.standard_normal(40)


def _mid_eps(Phi, y):
    """An eps halfway between the least-squares floor and mean(y^2): feasible, not trivial."""
    floor = float(np.mean((Phi @ np.linalg.lstsq(Phi, y, rcond=None)[0] - y) ** 2))
    return floor + 0.5 * (float(np.mean(y**2)) - floor)


# ---------------------------------------------------------------------- memory budgets
@pytest.mark.parametrize(
    ("text", "expected"),
    [("2GB", 2 * 10**9), ("512MiB", 512 * 2**20), ("1.5 kib", 1536), (" 3e3 B ", 3000), (4096, 4096), (1e6, 10**6)],
)
def test_parse_memory_units(text, expected):
    assert parse_memory(text) == expected


def test_parse_memory_rejects_bad_values():
    with pytest.raises(ValueError, match="not a memory size.*'2GB'"):
        parse_memory("two gigs")
    with pytest.raises(ValueError, match="at least 1 byte"):
        parse_memory(0)
    with pytest.raises(TypeError, match="number of bytes or a string"):
        parse_memory(True)


def test_chunk_rows_sizes_and_names_both_numbers():
    assert chunk_rows(100, 1000, fixed_bytes=200) == 8
    assert chunk_rows(100, None) == 64 * 2**20 // 100
    with pytest.raises(ValueError, match=r"max_memory=250 \(250 bytes\) is too small.*200 bytes.*100 bytes.*300"):
        chunk_rows(100, 250, fixed_bytes=200)


def test_read_block_copies_memmap_pieces_into_a_reused_buffer(tmp_path):
    data = np.arange(6000.0).reshape(1000, 6)
    np.save(tmp_path / "a.npy", data)
    mm = np.load(tmp_path / "a.npy", mmap_mode="r")
    out = np.empty((300, 2))
    got = read_block(mm, slice(100, 400), slice(2, 4), out=out)
    assert got is out and np.array_equal(out, data[100:400, 2:4]) and out.flags.writeable
    with pytest.raises(ValueError, match=r"out has shape \(300, 2\) but the block has shape \(10, 2\)"):
        read_block(mm, slice(0, 10), slice(2, 4), out=out)


# ---------------------------------------------------------------------- features under a budget
def test_feature_chunks_follow_max_memory_and_match_unchunked():
    X = np.random.default_rng(0).uniform(-1, 1, (500, 3))
    seen = []

    def act(z):
        seen.append(z.shape[0])
        return torch.tanh(z)

    ref = RandomFeatureMap(40, activation="tanh", random_state=0).fit(X).transform(X)
    fmap = RandomFeatureMap(40, activation=act, random_state=0, max_memory="20kB").fit(X)
    row_bytes = 3 * 8 + 40 * (2 * 8 + 8)
    assert fmap._batch_rows() == 20_000 // row_bytes
    seen.clear()
    np.testing.assert_allclose(fmap.transform(X), ref, rtol=0, atol=1e-15)
    assert max(seen) == 20_000 // row_bytes and sum(seen) == 500
    both = RandomFeatureMap(40, random_state=0, max_memory="20kB", batch_size=7).fit(X)
    assert both._batch_rows() == 7


def test_feature_max_memory_too_small_for_one_row_fails_at_fit():
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"RandomFeatureMap: max_memory=100 \(100 bytes\) is too small.*24024 bytes"):
        RandomFeatureMap(1000, max_memory=100).fit(X)
    with pytest.raises(ValueError, match="not a memory size"):
        RandomFeatureMap(10, max_memory="lots").fit(X)


def test_export_float32_and_budget_match_transform(tmp_path):
    X = np.random.default_rng(0).uniform(-1, 1, (300, 2))
    fmap = RandomFeatureMap(30, random_state=0, max_memory="8kB").fit(X)
    Phi = fmap.transform(X)
    path64 = fmap.export(X, tmp_path / "phi64.npy")
    path32 = fmap.export(X, tmp_path / "phi32.npy", dtype="float32")
    got64, got32 = np.load(path64, mmap_mode="r"), np.load(path32, mmap_mode="r")
    assert got64.dtype == np.float64 and got32.dtype == np.float32 and got32.shape == (300, 30)
    # chunked export vs one-shot transform: the same values up to last-bit rounding of the chunked matmul
    np.testing.assert_allclose(got64, Phi, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(got32, Phi.astype(np.float32), rtol=2e-7, atol=1e-7)
    assert sorted(os.listdir(tmp_path)) == ["phi32.npy", "phi64.npy"]
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32'; got 'int8'"):
        fmap.export(X, tmp_path / "bad.npy", dtype="int8")


def test_export_with_overflow_leaves_no_file(tmp_path):
    X = np.random.default_rng(0).uniform(-1, 1, (50, 2)) * 100
    fmap = RandomFeatureMap(8, activation=torch.exp, random_state=0, dtype="float32", batch_size=10).fit(X)
    with pytest.raises(ValueError, match=r"produced \d+ non-finite feature values in rows"):
        fmap.export(X, tmp_path / "phi.npy")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------- streamed exact solve
@pytest.mark.parametrize("decomposition", ["auto", "gram", "qr"])
def test_memmap_solve_equals_in_memory_and_lstsq(tmp_path, tall, decomposition):
    Phi, y = tall
    np.save(tmp_path / "phi.npy", Phi)
    mm = np.load(tmp_path / "phi.npy", mmap_mode="r")
    lstsq = np.linalg.lstsq(Phi, y, rcond=None)[0]
    sol0 = solve(mm, y, decomposition=decomposition, max_memory="40kB")
    assert sol0.info["streamed"] and sol0.info["source"] == "memmap" and sol0.info["chunk"] < 600
    assert _rel(sol0.coef, lstsq) < 1e-12
    assert sol0.mse == pytest.approx(np.mean((Phi @ lstsq - y) ** 2), rel=1e-12)
    eps = _mid_eps(Phi, y)
    mem = solve(Phi, y, eps=eps)
    sol = solve(mm, y, eps=eps, decomposition=decomposition, max_memory="40kB")
    assert sol.status == "optimal" and _rel(sol.coef, mem.coef) < 1e-10
    assert sol.mse == pytest.approx(eps, rel=1e-9) and sol.lam == pytest.approx(mem.lam, rel=1e-8)
    ridge = np.linalg.solve(Phi.T @ Phi + sol.lam * np.eye(25), Phi.T @ y)  # independent closed form
    assert _rel(sol.coef, ridge) < 1e-10


def test_default_budget_memmap_is_streamed_and_multi_output(tmp_path, tall):
    Phi, _ = tall
    Y = np.random.default_rng(3).standard_normal((600, 3))
    np.save(tmp_path / "phi.npy", Phi)
    sol = solve(np.load(tmp_path / "phi.npy", mmap_mode="r"), Y, lam=2.0)
    assert sol.info["streamed"] and sol.coef.shape == (25, 3)
    np.testing.assert_allclose(sol.coef, np.linalg.solve(Phi.T @ Phi + 2.0 * np.eye(25), Phi.T @ Y), atol=1e-12)


def test_float32_features_give_the_float64_solution_of_their_values(tmp_path, tall):
    Phi, y = tall
    Phi32 = Phi.astype(np.float32)
    eps = _mid_eps(Phi32.astype(np.float64), y)
    truth = solve(Phi32.astype(np.float64), y, eps=eps)
    np.save(tmp_path / "phi32.npy", Phi32)
    for source in (np.load(tmp_path / "phi32.npy", mmap_mode="r"), torch.as_tensor(Phi32)):
        sol = solve(source, y, eps=eps, max_memory="30kB")
        assert _rel(sol.coef, truth.coef) < 1e-10 and sol.coef.dtype == np.float64


def test_wide_streamed_solve_matches_pinv_and_ridge(wide):
    Phi, y = wide
    sol0 = solve(Phi, y, max_memory="100kB")  # eps = 0: TSQR of Phi^T from column chunks, no squared condition
    assert sol0.info["orientation"] == "Phi^T = QR, svd of R" and sol0.info["chunk"] < 300
    assert sol0.info["passes"] == 3  # R factor, coef = Phi^T alpha, certificate
    assert _rel(sol0.coef, np.linalg.pinv(Phi) @ y) < 1e-10 and sol0.certificate.optimal
    eps = 0.3 * float(np.mean(y**2))
    for decomposition in ("gram", "qr"):
        sol = solve(Phi, y, eps=eps, decomposition=decomposition, max_memory="100kB")
        assert sol.mse == pytest.approx(eps, rel=1e-9) and sol.status == "optimal"
        closed = Phi.T @ np.linalg.solve(Phi @ Phi.T + sol.lam * np.eye(40), y)
        assert _rel(sol.coef, closed) < 1e-10


def test_chunked_solver_sweeps_eps_and_gd_like_spectral(tall):
    Phi, y = tall
    chunked = ChunkedSolver(Phi, y, max_memory="40kB")
    spectral = SpectralSolver(Phi, y)
    assert chunked.passes == 1
    for frac in (0.2, 0.6, 0.9):
        eps = chunked.mse_floor + frac * (chunked.mean_y2 - chunked.mse_floor)
        assert _rel(chunked.solve_eps(eps).coef, spectral.solve_eps(eps).coef) < 1e-10
    assert chunked.passes == 4  # one factorisation pass, one certificate pass per solution
    np.testing.assert_allclose(chunked.gd_coef(30), spectral.gd_coef(30), rtol=1e-10, atol=1e-13)
    assert chunked.mse_floor == pytest.approx(spectral.mse_floor, rel=1e-10)


def test_streamed_auto_falls_back_to_tsqr_on_ill_conditioned_phi():
    rng = np.random.default_rng(0)
    U, _ = np.linalg.qr(rng.standard_normal((400, 12)))
    V, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    Phi = U @ np.diag(np.logspace(0, -7, 12)) @ V.T  # condition 1e7: the Gram (1e14) loses s_min
    y = U @ np.ones(12) + 1e-3 * rng.standard_normal(400)
    svd_floor = SpectralSolver(Phi, y, decomposition="svd").mse_floor
    gram_floor = SpectralSolver(Phi, y, decomposition="gram").mse_floor
    assert gram_floor > 1000 * svd_floor
    eps = 0.5 * (svd_floor + gram_floor)  # feasible, but only with s_min resolved
    truth = solve(Phi, y, eps=eps, decomposition="svd")
    sol = solve(Phi, y, eps=eps, max_memory="20kB")
    assert sol.info["decomposition"] == "qr" and "gram: eps is below the floor" in sol.info["fallback_reason"]
    assert sol.info["passes"] >= 3 and sol.mse == pytest.approx(eps, rel=1e-8)  # Gram, TSQR, certificate(s)
    assert _rel(sol.coef, truth.coef) < 1e-8


def test_streamed_budget_too_small_names_both_numbers(tall):
    Phi, y = tall
    with pytest.raises(
        ValueError,
        match=r"max_memory='10kB' \(10000 bytes\) is too small: it needs 20400 bytes for the Gram/R statistics "
        r"of this 600 x 25 problem plus 408 bytes for one row of Phi.*20808 bytes",
    ):
        solve(Phi, y, eps=0.5, max_memory="10kB")


def test_streamed_nonfinite_and_infeasible_are_clear(tmp_path, tall):
    Phi, y = tall
    bad = Phi.copy()
    bad[333, 4] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match="Phi contains NaN or infinite values: 1 non-finite entries in rows"):
        solve(np.load(tmp_path / "bad.npy", mmap_mode="r"), y, eps=0.5, max_memory="40kB")
    floor = solve(Phi, y).mse
    with pytest.raises(SolverError, match="infeasible.*least-squares floor"):
        solve(Phi, y, eps=0.5 * floor, decomposition="gram", max_memory="40kB")
    with pytest.raises(ValueError, match="disagree on the number of samples"):
        solve(Phi, y[:-1], max_memory="40kB")


def test_streamed_solve_keeps_memory_bounded(tmp_path):
    """A 46 MiB memory-mapped Phi solved under max_memory=4MB: the peak resident set grows by a few MiB.

    The control, the same solve after loading Phi into memory, must grow by at least Phi's size,
    so the measurement (Linux VmHWM, reset through /proc/self/clear_refs) can see the difference.
    """
    X = np.random.default_rng(0).uniform(-1, 1, (30_000, 3))
    fmap = RandomFeatureMap(200, random_state=0, max_memory="4MB").fit(X)
    fmap.export(X, tmp_path / "phi.npy")
    np.save(tmp_path / "y.npy", np.sin(3 * X[:, 0]))
    code = textwrap.dedent(
        f"""
        import numpy as np
        from kernelreg.solvers import solve

        def grow(run):
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset the high-water mark to the current resident set
            base = int(open("/proc/self/statm").read().split()[1]) * {os.sysconf("SC_PAGE_SIZE")}
            sol = run()
            hwm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
            return hwm - base, sol

        Phi = np.load({str(tmp_path / 'phi.npy')!r}, mmap_mode="r"); y = np.load({str(tmp_path / 'y.npy')!r})
        solve(np.array(Phi[:500]), y[:500], eps=5e-3, max_memory="4MB")  # load library pages first
        grew, sol = grow(lambda: solve(Phi, y, eps=5e-3, max_memory="4MB"))
        control, ref = grow(lambda: solve(np.array(Phi), y, eps=5e-3))
        print(grew, control, sol.status, sol.info["passes"], sol.mse, abs(sol.coef - ref.coef).max())
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    grew, control, status, passes, mse, diff = out.stdout.split()
    assert status == "optimal" and int(passes) == 2 and float(mse) == pytest.approx(5e-3, rel=1e-8)
    assert float(diff) < 1e-8
    assert int(control) > 46 * 10**6, f"the in-memory control grew by only {int(control) / 2**20:.1f} MiB"
    assert int(grew) < 8 * 2**20, f"peak RSS grew by {int(grew) / 2**20:.1f} MiB for a 46 MiB Phi"


# ---------------------------------------------------------------------- devices and dtypes
def test_solve_cuda_without_gpu_is_a_clear_error(monkeypatch, tall):
    Phi, y = tall
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for options in ({}, {"max_memory": "1MB"}):
        with pytest.raises(DeviceError, match="device='cuda' was requested but torch sees no CUDA GPU"):
            solve(Phi, y, eps=0.0, device="cuda", **options)
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        solve(Phi, y, method="cg", device="cuda")


def test_auto_device_falls_back_to_cpu_with_a_log_line(monkeypatch, caplog, tall):
    Phi, y = tall
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="kernelreg"):
        sol = solve(Phi, y, device="auto", max_memory="1MB")
    assert sol.info["device"] == "cpu" and "no CUDA device" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kernelreg"):
        with pytest.warns(ConvergenceWarning, match="max_iter=5"):
            gd = solve(Phi, y, method="gd", device="auto", dtype="float32", max_iter=5)
    assert gd.info["device"] == "cpu" and gd.info["dtype"] == "torch.float32" and "no CUDA device" in caplog.text


def test_iterative_methods_accept_float32_features(tall):
    Phi, y = tall
    exact = solve(Phi, y)
    cg = solve(Phi.astype(np.float32), y, method="cg", dtype="float32", tol=1e-6, max_iter=200)
    assert cg.coef.dtype == np.float64 and _rel(cg.coef, exact.coef) < 1e-4


def test_max_memory_is_an_option_of_the_exact_method_only(tall):
    Phi, y = tall
    with pytest.raises(TypeError, match="unknown option 'max_memory'"):
        solve(Phi, y, method="gd", max_memory="1MB")


def test_kernelreg_works_without_dask_installed():
    code = textwrap.dedent(
        """
        import sys
        sys.modules["dask"] = None  # make 'import dask' fail as if it were not installed
        import numpy as np
        import kernelreg
        from kernelreg.features import RandomFeatureMap
        X = np.random.default_rng(0).uniform(-1, 1, (50, 2))
        Phi = RandomFeatureMap(20, random_state=0).fit_transform(X)
        sol = kernelreg.solve(Phi, X[:, 0], max_memory="1MB")
        from kernelreg._dask import dask_array
        try:
            dask_array()
        except ImportError as exc:
            print("ok", sol.status, "kernelreg[dask]" in str(exc))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["ok", "optimal", "True"], out.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_streamed_float32_matches_cpu(tall):
    Phi, y = tall
    eps = _mid_eps(Phi, y)
    cpu = solve(Phi.astype(np.float32), y, eps=eps, max_memory="40kB")
    gpu = solve(torch.as_tensor(Phi, dtype=torch.float32, device="cuda"), y, eps=eps, device="cuda", max_memory="40kB")
    assert gpu.info["device"].startswith("cuda") and _rel(gpu.coef, cpu.coef) < 1e-9


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_float32_export_matches_cpu(tmp_path):
    X = np.random.default_rng(0).uniform(-1, 1, (200, 3))
    cpu = RandomFeatureMap(64, random_state=0).fit(X).transform(X)
    gpu = RandomFeatureMap(64, random_state=0, device="cuda", dtype="float32").fit(X)
    path = gpu.export(X, tmp_path / "phi.npy", dtype="float32")
    np.testing.assert_allclose(np.load(path), cpu, rtol=1e-5, atol=1e-5)


def test_gpu_check_script_runs_its_checks_on_the_cpu(tmp_path):
    """The GPU script is only run where a GPU is lent: a CPU dry run keeps it working between those times."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "g.json"
    assert module.main(["--device", "cpu", "--sizes", "300", "--sections", "resident,timing", "--repeats", "1",
                        "--out", str(out)]) == 0
    import json

    record = json.loads(out.read_text())
    assert record["sections"]["resident"]["status"] == "optimal"
    assert [row["size"] for row in record["sections"]["timing"]["rows"]] == [300, 300]
    if not __import__("torch").cuda.is_available():
        assert module.main(["--out", str(tmp_path / "none.json")]) == 3
