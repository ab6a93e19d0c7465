"""RandomFeatureMap / ModuleFeatureMap against hand computations, seeds, chunking and atomic export."""

import math
import os
import pickle
import re
import select
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import erf, expit
from sklearn.utils.estimator_checks import parametrize_with_checks

import kernelreg
from kernelreg import _io
from kernelreg.exceptions import DeviceError
from kernelreg.features import ModuleFeatureMap, RandomFeatureMap, save_features


@pytest.fixture
def X():
    return np.random.default_rng(0).uniform(-1, 1, size=(37, 3))


def test_random_feature_map_matches_hand_formula(X, feature_bound):
    fmap = RandomFeatureMap(50, activation="relu", random_state=1).fit(X)
    expected = np.maximum(X @ fmap.directions_.T - fmap.offsets_, 0.0)
    # numpy's matmul against torch's addmm: two rounding paths; relu is 1-Lipschitz
    np.testing.assert_allclose(fmap.transform(X), expected, rtol=0, atol=feature_bound(fmap, X, 1.0))


def test_directions_are_unit_and_offsets_in_range(X):
    fmap = RandomFeatureMap(4000, random_state=0).fit(X)
    np.testing.assert_allclose(np.linalg.norm(fmap.directions_, axis=1), 1.0, atol=1e-12)
    B = np.linalg.norm(X, axis=1).max()
    assert fmap.offset_scale_ == pytest.approx(B)
    assert np.all(np.abs(fmap.offsets_) <= B)
    # uniform on [-B, B]: mean ~ 0, variance ~ B^2/3 (4000 draws: a few standard errors)
    assert abs(fmap.offsets_.mean()) < 4 * B / np.sqrt(3 * 4000)
    assert fmap.offsets_.var() == pytest.approx(B**2 / 3, rel=0.1)
    # uniform on the sphere: the mean direction is ~ 0 and the second moment is I/d
    assert np.linalg.norm(fmap.directions_.mean(axis=0)) < 0.06
    np.testing.assert_allclose(fmap.directions_.T @ fmap.directions_ / 4000, np.eye(3) / 3, atol=0.03)


def test_offset_scale_parameter(X):
    fmap = RandomFeatureMap(200, offset_scale=0.25, random_state=0).fit(X)
    assert fmap.offset_scale_ == 0.25 and np.all(np.abs(fmap.offsets_) <= 0.25)


def test_grid_directions_are_evenly_spaced_on_the_circle():
    # Experiment 1's reading of "deterministically ... uniform on the unit circle": θ_i = 2πi/n.
    X2 = np.random.default_rng(0).uniform(-1, 1, size=(30, 2))
    n = 12
    a = RandomFeatureMap(n, directions="grid", random_state=0).fit(X2)
    b = RandomFeatureMap(n, directions="grid", random_state=1).fit(X2)
    theta = 2 * np.pi * np.arange(n) / n
    np.testing.assert_allclose(a.directions_, np.column_stack([np.cos(theta), np.sin(theta)]), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(a.directions_, b.directions_)  # deterministic: same computation twice
    assert not np.array_equal(a.offsets_, b.offsets_)  # offsets are still drawn
    assert np.all(np.abs(a.offsets_) <= a.offset_scale_)
    Phi = a.transform(X2)
    np.testing.assert_allclose(Phi, np.maximum(X2 @ a.directions_.T - a.offsets_, 0), rtol=1e-13, atol=1e-15)
    # the evenly spaced directions sum to zero (a check that no angle is repeated or missing)
    np.testing.assert_allclose(a.directions_.sum(axis=0), 0, atol=1e-13)
    one_d = RandomFeatureMap(5, directions="grid", random_state=0).fit(X2[:, :1])
    np.testing.assert_array_equal(one_d.directions_.ravel(), [1, -1, 1, -1, 1])


def test_grid_directions_need_two_dimensional_inputs():
    with pytest.raises(ValueError, match=r"directions='grid'.*dimension 2 .*got X with 3 features"):
        RandomFeatureMap(8, directions="grid").fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="directions"):
        RandomFeatureMap(8, directions="even").fit(np.zeros((4, 2)))


def test_same_seed_gives_bitwise_identical_phi(X):
    # bitwise on purpose: the same computation (same draw, same chunks, same process) runs twice
    a = RandomFeatureMap(64, activation="tanh", random_state=7).fit_transform(X)
    b = RandomFeatureMap(64, activation="tanh", random_state=7).fit_transform(X)
    c = RandomFeatureMap(64, activation="tanh", random_state=8).fit_transform(X)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_chunking_does_not_change_phi(X, feature_bound):
    full = RandomFeatureMap(30, activation="logistic", random_state=3).fit(X)
    chunked = RandomFeatureMap(30, activation="logistic", random_state=3, batch_size=4).fit(X)
    # 4-row chunks against one 37-row block: BLAS tiles rows differently; the logistic is 1/4-Lipschitz
    np.testing.assert_allclose(full.transform(X), chunked.transform(X), rtol=0, atol=feature_bound(full, X, 0.25))


def _numpy_features(fmap, X):
    """Φ from the hand formula in numpy float64 (an independent path: numpy BLAS, scipy's expit)."""
    z = np.asarray(X, dtype=np.float64) @ fmap.directions_.T - fmap.offsets_
    return {"relu": lambda t: np.maximum(t, 0.0), "logistic": expit, "tanh": np.tanh}[fmap.activation](z)


@pytest.mark.parametrize(
    "batch_size, budget_rows",
    [(1, None), (5, None), (36, None), (37, None), (None, None), (None, 5), (7, 5), (3, 5), (None, "1MiB")],
)
@pytest.mark.parametrize("activation, lipschitz", [("relu", 1.0), ("logistic", 0.25)])
def test_every_chunking_matches_the_numpy_formula(X, feature_bound, batch_size, budget_rows, activation, lipschitz):
    probe = RandomFeatureMap(30, activation=activation, random_state=3).fit(X)
    in_rows = isinstance(budget_rows, int)
    max_memory = budget_rows * probe._row_bytes() if in_rows else budget_rows
    fmap = RandomFeatureMap(30, activation=activation, random_state=3, batch_size=batch_size,
                            max_memory=max_memory).fit(X)
    rows = fmap._batch_rows()
    limits = [v for v in (batch_size, budget_rows if in_rows else None) if v is not None]
    if limits:  # the smaller of batch_size and the rows max_memory holds
        assert rows == min(limits)
    assert sum(1 for _ in fmap._iter_chunks(X)) == math.ceil(X.shape[0] / rows)
    Phi = fmap.transform(X)
    # each chunking is its own rounding path against numpy's: the bound of conftest._feature_bound
    np.testing.assert_allclose(Phi, _numpy_features(fmap, X), rtol=0, atol=feature_bound(fmap, X, lipschitz))
    np.testing.assert_allclose(Phi, probe.transform(X), rtol=0, atol=feature_bound(fmap, X, lipschitz))


def test_float32_features_close_to_float64(X, feature_bound):
    f64 = RandomFeatureMap(40, activation="erf", random_state=2).fit(X).transform(X)
    f32_map = RandomFeatureMap(40, activation="erf", random_state=2, dtype="float32").fit(X)
    f32 = f32_map.transform(X)
    assert f32.dtype == np.float64
    # the float32 rounding bound (u = 2^-24) dominates the float64 path's; erf is 2/sqrt(pi)-Lipschitz
    bound = feature_bound(f32_map, X, 2 / np.sqrt(np.pi))
    assert bound < 1e-5  # still a tight check: wrong rows or columns would be off by O(1)
    np.testing.assert_allclose(f32, f64, rtol=0, atol=bound)
    np.testing.assert_allclose(f64, erf(X @ f32_map.directions_.T - f32_map.offsets_), rtol=0, atol=bound)


def test_activation_params_and_callable(X, feature_bound):
    p2 = RandomFeatureMap(20, activation="relu_power", activation_params={"p": 2}, random_state=0).fit(X)
    z = X @ p2.directions_.T - p2.offsets_
    # numpy against torch; relu(z)^2 is 2·max|z|-Lipschitz on the range of z
    bound = feature_bound(p2, X, 2 * np.abs(z).max())
    np.testing.assert_allclose(p2.transform(X), np.maximum(z, 0) ** 2, rtol=0, atol=bound)
    own = RandomFeatureMap(20, activation=torch.sin, random_state=0).fit(X)
    np.testing.assert_allclose(own.transform(X), np.sin(z), rtol=0, atol=feature_bound(own, X, 1.0))


def test_pre_activations(X):
    fmap = RandomFeatureMap(10, random_state=0).fit(X)
    np.testing.assert_allclose(fmap.pre_activations(X), X @ fmap.directions_.T - fmap.offsets_)


def test_pickle_round_trip(X):
    fmap = RandomFeatureMap(16, random_state=0).fit(X)
    fmap.transform(X)  # populates the device cache, which must not break pickling
    again = pickle.loads(pickle.dumps(fmap))
    # bitwise on purpose: the same parameters go through the same chunked computation
    assert np.array_equal(again.transform(X), fmap.transform(X))


def test_save_features_is_atomic(tmp_path, X):
    Phi = RandomFeatureMap(12, random_state=0).fit_transform(X)
    path = save_features(tmp_path / "phi.npy", Phi)
    assert np.array_equal(np.load(path), Phi)
    assert os.listdir(tmp_path) == ["phi.npy"]


def test_export_streams_chunks_and_matches_transform(tmp_path, X):
    fmap = RandomFeatureMap(25, random_state=0, batch_size=5).fit(X)
    path = fmap.export(X, tmp_path / "phi.npy")
    # bitwise on purpose: export and transform run the same chunks through the same code
    np.testing.assert_array_equal(np.load(path, mmap_mode="r"), fmap.transform(X))
    assert os.listdir(tmp_path) == ["phi.npy"]


def test_interrupted_export_leaves_no_file(tmp_path, X):
    def boom(z):
        if z.shape[0] < 5:  # the last, short chunk fails
            raise KeyboardInterrupt
        return torch.relu(z)

    fmap = RandomFeatureMap(8, activation=boom, random_state=0, batch_size=6).fit(X)
    with pytest.raises(KeyboardInterrupt):
        fmap.export(X, tmp_path / "phi.npy")
    assert os.listdir(tmp_path) == []


def _never_called(z):
    raise AssertionError("the export computed features although it had to refuse its target")


def test_export_refuses_to_replace_anything_but_a_regular_file(tmp_path, X):
    fmap = RandomFeatureMap(8, activation=_never_called, random_state=0).fit(X)
    target = tmp_path / "real.npy"
    target.write_bytes(b"keep me")
    link = tmp_path / "link.npy"
    link.symlink_to(target)
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.npy"
    folder.mkdir()
    for path, kind in [(link, "a symbolic link"), (fifo, "a FIFO"), (folder, "a directory")]:
        with pytest.raises(FileExistsError, match=f"refusing to write {re.escape(repr(str(path)))}: it is {kind}"):
            fmap.export(X, path)
        with pytest.raises(FileExistsError, match=kind):
            save_features(path, np.zeros((2, 2)))
    assert link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode) and folder.is_dir()
    assert target.read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == ["folder.npy", "link.npy", "pipe.npy", "real.npy"]  # no temp files
    save_features(target, np.zeros((2, 2)))  # a regular file is replaced
    assert np.load(target).shape == (2, 2)


def test_a_device_node_is_refused_by_name(tmp_path, monkeypatch):
    # no device node is created (that needs root, and /dev is never touched): lstat reports one
    fake = tmp_path / "full"
    real_lstat = os.lstat

    def lstat(path, *args, **kwargs):
        if os.fspath(path) == os.fspath(fake):
            return os.stat_result((stat.S_IFCHR | 0o666, 0, 0, 1, 0, 0, 0, 0, 0, 0))
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(_io.os, "lstat", lstat)
    with pytest.raises(FileExistsError, match="it is a character device"):
        save_features(fake, np.zeros(3))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)], ids=["022", "077", "002"])
def test_written_files_follow_the_umask(tmp_path, X, umask, mode):
    fmap = RandomFeatureMap(4, random_state=0).fit(X)
    previous = os.umask(umask)
    try:
        paths = [fmap.export(X, tmp_path / "phi.npy"), save_features(tmp_path / "saved.npy", np.ones(3))]
        paths.append(save_features(tmp_path / "saved.npy", np.ones(3)))  # replacing keeps to the umask too
    finally:
        os.umask(previous)
    for path in paths:
        assert stat.S_IMODE(os.stat(path).st_mode) == mode, (path, oct(os.stat(path).st_mode))


_CHILD = """
import sys, time
import numpy as np, torch
from kernelreg.features import RandomFeatureMap

calls = []


def slow(z):
    calls.append(1)
    if len(calls) == 2:  # the first chunk is on disk in the temp file; wait here to be signalled
        print("writing", flush=True)
        time.sleep(120)
    return torch.relu(z)


X = np.random.default_rng(0).uniform(-1, 1, (40, 3))
RandomFeatureMap(8, activation=slow, random_state=0, batch_size=10).fit(X).export(X, sys.argv[1])
"""


def _signal_mid_export(path: Path, signum: int) -> int:
    """Run an export in a child process, send it ``signum`` while the temp file is half written; its exit code."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(kernelreg.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        assert ready and proc.stdout.readline().strip() == "writing", "the child export never reached its 2nd chunk"
        temps = [n for n in os.listdir(path.parent) if n.startswith(_io.temp_prefix(path))]
        assert len(temps) == 1 and not path.exists()  # the signal lands mid-write
        proc.send_signal(signum)
        return proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_sigterm_mid_export_removes_the_temp_file(tmp_path):
    code = _signal_mid_export(tmp_path / "phi.npy", signal.SIGTERM)
    assert code == -signal.SIGTERM  # the process still dies of SIGTERM, as it would without the handler
    assert os.listdir(tmp_path) == []


def test_temp_files_of_a_killed_export_are_removed_by_the_next_export(tmp_path, X):
    path = tmp_path / "phi.npy"
    assert _signal_mid_export(path, signal.SIGKILL) == -signal.SIGKILL
    (stale,) = os.listdir(tmp_path)  # SIGKILL cannot be handled: the temp file stays ...
    assert stale.startswith(".phi.npy.kernelreg-tmp-")
    alive = tmp_path / f"{_io.temp_prefix(path)}{os.getpid()}-0000"  # ... as does a live writer's
    alive.write_bytes(b"")
    other = tmp_path / f"{_io.temp_prefix(tmp_path / 'other.npy')}{stale.split('-')[-2]}-0000"  # another target's
    other.write_bytes(b"")
    RandomFeatureMap(8, random_state=0).fit(X).export(X, path)  # ... until the next export to the same path
    assert sorted(os.listdir(tmp_path)) == sorted(["phi.npy", alive.name, other.name])


def test_sigterm_with_a_python_handler_runs_it_and_removes_the_temp_file(tmp_path, X):
    def stop(signum, frame):
        raise SystemExit(3)

    def terminated(z):
        if z.shape[0] < 10:  # the last, short chunk: the temp file holds the others
            os.kill(os.getpid(), signal.SIGTERM)
        return torch.relu(z)

    original = signal.signal(signal.SIGTERM, stop)
    try:
        fmap = RandomFeatureMap(8, activation=terminated, random_state=0, batch_size=10).fit(X)
        with pytest.raises(SystemExit):
            fmap.export(X, tmp_path / "phi.npy")
        assert signal.getsignal(signal.SIGTERM) is stop  # the caller's handler ran and is back in place
    finally:
        signal.signal(signal.SIGTERM, original)
    assert os.listdir(tmp_path) == []


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_huge_inputs_name_the_input_scale(X):
    with pytest.raises(ValueError, match=r"inputs are too large: \|x\| reaches 9\.\d+e\+299 .*offset scale B"):
        RandomFeatureMap(10, random_state=0).fit(X * 1e300)
    with pytest.raises(ValueError, match=r"\|x\| reaches \d\.\d+e\+38 .*beyond the largest float32.*float64"):
        RandomFeatureMap(10, random_state=0, dtype="float32", offset_scale=1.0).fit(X * 3e38)  # x fits, ξ·x may not
    fmap = RandomFeatureMap(10, random_state=0, dtype="float32").fit(X)
    with pytest.raises(ValueError, match=r"produced \d+ non-finite feature values in rows 0\.\.36: inputs of "
                                         r"magnitude up to \|x\| = \d\.\d+e\+3[89] overflow the pre-activation "
                                         r"ξ·x − γ in float32"):
        fmap.transform(X * 1e39)  # beyond float32: the cast alone overflows
    cubic = RandomFeatureMap(10, activation="relu_power", activation_params={"p": 3}, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"activation 'relu_power' overflows where .* reach \|z\| = .*e\+110"):
        cubic.transform(X * 1e110)  # a finite pre-activation: the activation is to blame, with the scale
    assert np.isfinite(cubic.transform(X * 1e100)).all()


def test_module_feature_map_freezes_a_copy(X):
    torch.manual_seed(0)  # only for this test's own module construction
    net = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh()).double()
    fmap = ModuleFeatureMap(net).fit(X)
    with torch.no_grad():
        expected = net(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(fmap.transform(X), expected, atol=1e-14)
    with torch.no_grad():
        net[0].weight.add_(1.0)  # the caller's module changes; the frozen copy does not
    np.testing.assert_allclose(fmap.transform(X), expected, atol=1e-14)
    assert not any(p.requires_grad for p in fmap.module_.parameters())
    assert fmap.n_features_out_ == 6


def test_module_feature_map_rejects_non_2d_output(X):
    with pytest.raises(ValueError, match="2-D tensor"):
        ModuleFeatureMap(lambda z: z.sum(dim=1)).fit(X)


def test_lazy_modules_are_initialised_at_fit_reproducibly_without_global_state(X):
    net = torch.nn.Sequential(torch.nn.LazyLinear(6), torch.nn.Tanh())
    state = torch.random.get_rng_state()
    fmap = ModuleFeatureMap(net, random_state=3).fit(X)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global torch generator is untouched
    assert torch.nn.parameter.is_lazy(net[0].weight)  # the caller's module is not materialised
    W, b = fmap.module_[0].weight.numpy(), fmap.module_[0].bias.numpy()
    assert W.shape == (6, 3) and fmap.n_features_out_ == 6
    np.testing.assert_allclose(fmap.transform(X), np.tanh(X @ W.T + b), rtol=0, atol=1e-14)
    again = ModuleFeatureMap(net, random_state=3).fit(X)
    assert np.array_equal(again.module_[0].weight.numpy(), W)  # same seed, same draw (one computation twice)
    other = ModuleFeatureMap(net, random_state=4).fit(X)
    assert not np.allclose(other.module_[0].weight.numpy(), W)
    f32 = ModuleFeatureMap(net, random_state=3, dtype="float32").fit(X)  # drawn in float64, then cast
    np.testing.assert_array_equal(f32.module_[0].weight.numpy(), W.astype(np.float32))


def test_width_mismatch_names_both_widths(X):
    net = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU())
    with pytest.raises(ValueError, match=r"X has 3 features but the module's first layer .* expects inputs of width 2"):
        ModuleFeatureMap(net).fit(X)
    with pytest.raises(ValueError, match=r"module failed on a \(1, 3\) input"):  # no Linear to blame
        ModuleFeatureMap(lambda z: z @ torch.ones(2, 4, dtype=z.dtype)).fit(X)


def test_get_feature_names_out_checks_its_input_like_sklearn(X):
    import pandas as pd

    fmap = RandomFeatureMap(4, random_state=0).fit(X)
    expected = ["phi0", "phi1", "phi2", "phi3"]
    assert list(fmap.get_feature_names_out()) == expected
    assert list(fmap.get_feature_names_out(["a", "b", "c"])) == expected
    wrong_length = r"length equal to number of features \(3\), got 2.*input_features=\['a', 'b'\]"
    with pytest.raises(ValueError, match=wrong_length):
        fmap.get_feature_names_out(["a", "b"])
    named = RandomFeatureMap(4, random_state=0).fit(pd.DataFrame(X, columns=["u", "v", "w"]))
    assert list(named.get_feature_names_out(["u", "v", "w"])) == expected
    with pytest.raises(ValueError, match=r"not equal to feature_names_in_; fit saw the names \['u', 'v', 'w'\]"):
        named.get_feature_names_out(["u", "v", "x"])


def test_verbose_export_and_transform_show_a_bar_over_rows(tmp_path, X, capsys, caplog):
    fmap = RandomFeatureMap(8, random_state=0, batch_size=10).fit(X)
    with caplog.at_level("INFO", logger="kernelreg"):
        fmap.export(X, tmp_path / "phi.npy", verbose=True)
    err = capsys.readouterr().err
    assert "export" in err and "37/37" in err  # the bar over 37 rows in 4 chunks, kept when done
    assert "wrote Φ of shape (37, 8)" in caplog.text
    np.testing.assert_array_equal(np.load(tmp_path / "phi.npy"), fmap.transform(X))  # same computation
    fmap.export(X, tmp_path / "quiet.npy")
    fmap.transform(X)
    assert capsys.readouterr().err == ""  # silent unless asked
    fmap.set_params(verbose=True).transform(X)
    assert "transform" in capsys.readouterr().err
    fmap.set_params(batch_size=None).transform(X)  # one chunk: no bar even when verbose
    assert capsys.readouterr().err == ""


def test_bad_inputs(X):
    with pytest.raises(ValueError, match="n_features"):
        RandomFeatureMap(0).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        RandomFeatureMap(5).fit(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="infinity|inf"):
        RandomFeatureMap(5).fit(np.array([[0.0, np.inf]]))
    with pytest.raises(ValueError, match="2D array|3"):
        RandomFeatureMap(5).fit(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="0 sample"):
        RandomFeatureMap(5).fit(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="Unknown activation|unknown activation"):
        RandomFeatureMap(5, activation="relux").fit(X)
    fmap = RandomFeatureMap(5).fit(X)
    with pytest.raises(ValueError, match="3 features"):
        fmap.transform(X[:, :2])


def test_cuda_without_gpu_is_a_clear_error(X, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        RandomFeatureMap(5, device="cuda").fit(X)


def test_auto_device_falls_back_to_cpu(X, monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level("INFO", logger="kernelreg"):
        fmap = RandomFeatureMap(5, device="auto").fit(X)
    assert fmap.device_.type == "cpu"
    assert "no CUDA device" in caplog.text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(X):
    cpu = RandomFeatureMap(64, random_state=0).fit(X).transform(X)
    gpu = RandomFeatureMap(64, random_state=0, device="cuda").fit(X).transform(X)
    np.testing.assert_allclose(gpu, cpu, atol=1e-12)


@parametrize_with_checks([ModuleFeatureMap(torch.nn.Sequential(torch.nn.LazyLinear(8), torch.nn.Tanh()),
                                           random_state=0)])
def test_module_feature_map_with_a_lazy_module_passes_sklearn_checks(estimator, check):
    check(estimator)
