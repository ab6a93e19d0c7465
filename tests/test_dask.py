"""dask paths against the in-memory ones: blockwise features, the exact solve from dask reductions, joblib + dask."""

from __future__ import annotations

import concurrent.futures

import dask.array as da
import distributed
import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from kernelreg import KernelRegimeRegressor
from kernelreg.exceptions import SolverError
from kernelreg.features import RandomFeatureMap
from kernelreg.solvers import solve


@pytest.fixture(scope="module")
def client():
    """One in-process cluster for the module (threads, no worker processes)."""
    with distributed.Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as dask_client:
        yield dask_client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (1200, 3))
    y = np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) + 0.05 * rng.standard_normal(1200)
    fmap = RandomFeatureMap(60, activation="tanh", random_state=0).fit(X)
    return X, y, fmap


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_transform_of_a_dask_array_is_blockwise_and_equal(client, data, feature_bound):
    X, _, fmap = data
    Xd = da.from_array(X, chunks=(250, 2))  # columns split too: transform must merge them
    Phi_d = fmap.transform(Xd)
    assert isinstance(Phi_d, da.Array) and Phi_d.dtype == np.float64
    assert Phi_d.chunks == ((250, 250, 250, 250, 200), (60,))
    # 250-row blocks against one 1200-row block: BLAS rounds rows in a partial tile differently
    # (1 ulp on some CPUs), so the two agree to the rounding bound, not bitwise; tanh is 1-Lipschitz
    np.testing.assert_allclose(Phi_d.compute(), fmap.transform(X), rtol=0, atol=feature_bound(fmap, X, 1.0))


@pytest.mark.parametrize("rows", [7, 17, 250])
def test_dask_transform_with_any_row_chunking_matches_in_memory(client, data, feature_bound, rows):
    X, _, fmap = data
    Phi_d = fmap.transform(da.from_array(X, chunks=(rows, 3)))
    assert Phi_d.chunks[0] == da.from_array(X, chunks=(rows, 3)).chunks[0]
    # blocks of 7 and 17 rows (a ragged last block each) against the in-memory transform: rounding bound
    np.testing.assert_allclose(Phi_d.compute(), fmap.transform(X), rtol=0, atol=feature_bound(fmap, X, 1.0))


def test_dask_transform_checks_columns_before_computing(client, data):
    X, _, fmap = data
    with pytest.raises(ValueError, match="X has 2 features, but RandomFeatureMap is expecting 3"):
        fmap.transform(da.from_array(X[:, :2], chunks=(300, 2)))
    with pytest.raises(ValueError, match="2-D array"):
        fmap.transform(da.from_array(X[:, 0], chunks=300))


@pytest.mark.parametrize("eps_frac", [0.0, 0.3])
def test_solve_on_dask_phi_equals_in_memory(client, data, eps_frac):
    X, y, fmap = data
    Phi = fmap.transform(X)
    floor = solve(Phi, y).mse
    eps = 0.0 if eps_frac == 0 else floor + eps_frac * (float(np.mean(y**2)) - floor)
    mem = solve(Phi, y, eps=eps)
    sol = solve(fmap.transform(da.from_array(X, chunks=(300, 3))), y, eps=eps)
    assert sol.info["source"] == "dask" and sol.info["n_row_chunks"] == 4 and sol.status == "optimal"
    # passes: the factorisation, (eps = 0: the least-squares witness Phi w,) the certificate
    assert sol.info["decomposition"] == ("qr" if eps == 0 else "gram") and sol.info["passes"] == (3 if eps == 0 else 2)
    assert _rel(sol.coef, mem.coef) < 1e-9
    assert sol.mse == pytest.approx(mem.mse, rel=1e-9)


def test_dask_ridge_multi_output_and_float32(client):
    rng = np.random.default_rng(1)
    Phi = rng.standard_normal((900, 30)).astype(np.float32)
    Y = rng.standard_normal((900, 2))
    Phi64 = Phi.astype(np.float64)
    closed = np.linalg.solve(Phi64.T @ Phi64 + 3.0 * np.eye(30), Phi64.T @ Y)
    for decomposition in ("gram", "qr"):
        sol = solve(da.from_array(Phi, chunks=(200, 15)), Y, lam=3.0, decomposition=decomposition)
        np.testing.assert_allclose(sol.coef, closed, rtol=1e-10, atol=1e-12)


def test_wide_dask_phi_matches_pinv(client):
    rng = np.random.default_rng(2)
    Phi, y = rng.standard_normal((50, 400)), rng.standard_normal(50)
    sol = solve(da.from_array(Phi, chunks=(20, 400)), y)
    assert sol.info["orientation"] == "Phi^T = QR, svd of R" and sol.info["passes"] == 3  # R, coef, certificate
    assert _rel(sol.coef, np.linalg.pinv(Phi) @ y) < 1e-10


def test_dask_phi_needs_the_exact_method(client, data):
    X, y, fmap = data
    with pytest.raises(TypeError, match="method='cg'.*dask array.*method='exact'"):
        solve(fmap.transform(da.from_array(X, chunks=(300, 3))), y, method="cg")


def test_nonfinite_dask_phi_is_a_clear_error(client):
    Phi = np.random.default_rng(3).standard_normal((400, 10))
    Phi[17, 3] = np.inf
    with pytest.raises(ValueError, match="1 of its 10 columns have non-finite sums of squares"):
        solve(da.from_array(Phi, chunks=(100, 10)), np.ones(400), eps=0.1)


def test_worker_failure_surfaces_as_an_exception(client, data):
    X, y, _ = data

    def broken(z):
        if z.shape[0] < 300:  # only the last, short block fails, inside a worker
            raise RuntimeError("activation failed on a worker")
        return torch.tanh(z)

    fmap = RandomFeatureMap(20, activation=broken, random_state=0).fit(X[:10])
    Phi_d = fmap.transform(da.from_array(X[:1100], chunks=(300, 3)))  # blocks 300, 300, 300, 200
    with pytest.raises(RuntimeError, match="activation failed on a worker"):
        client.compute(Phi_d).result(timeout=30)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the solve must raise, not hang
        future = pool.submit(solve, Phi_d, y[:1100], eps=0.1)
        with pytest.raises(RuntimeError, match="activation failed on a worker"):
            future.result(timeout=60)


def test_grid_search_under_joblib_dask_backend(client, data):
    X, y, _ = data
    X, y = X[:150], y[:150]
    grid = {"eps": [1e-3, 1e-2], "n_features": [200, 400]}  # wide Phi: every eps is feasible
    local = GridSearchCV(KernelRegimeRegressor(random_state=0), grid, cv=3).fit(X, y)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        remote = GridSearchCV(KernelRegimeRegressor(random_state=0), grid, cv=3, n_jobs=-1).fit(X, y)
    assert len(tasks.data) > 0  # the folds ran as tasks on the cluster
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-12)


def test_streamed_infeasible_eps_on_dask_raises_solver_error(client, data):
    X, y, fmap = data
    floor = solve(fmap.transform(X), y).mse
    with pytest.raises(SolverError, match="infeasible"):
        solve(fmap.transform(da.from_array(X, chunks=(300, 3))), y, eps=0.5 * floor)
