"""RandomFeatureMap / ModuleFeatureMap against hand computations, seeds, chunking and atomic export."""

import os
import pickle

import numpy as np
import pytest
import torch

from kernelreg.exceptions import DeviceError
from kernelreg.features import ModuleFeatureMap, RandomFeatureMap, save_features


@pytest.fixture
def X():
    return np.random.default_rng(0).uniform(-1, 1, size=(37, 3))


def test_random_feature_map_matches_hand_formula(X):
    fmap = RandomFeatureMap(50, activation="relu", random_state=1).fit(X)
    expected = np.maximum(X @ fmap.directions_.T - fmap.offsets_, 0.0)
    np.testing.assert_allclose(fmap.transform(X), expected, rtol=0, atol=1e-14)


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
    a = RandomFeatureMap(64, activation="tanh", random_state=7).fit_transform(X)
    b = RandomFeatureMap(64, activation="tanh", random_state=7).fit_transform(X)
    c = RandomFeatureMap(64, activation="tanh", random_state=8).fit_transform(X)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_chunking_does_not_change_phi(X):
    full = RandomFeatureMap(30, activation="logistic", random_state=3).fit(X)
    chunked = RandomFeatureMap(30, activation="logistic", random_state=3, batch_size=4).fit(X)
    np.testing.assert_allclose(full.transform(X), chunked.transform(X), rtol=0, atol=1e-15)


def test_float32_features_close_to_float64(X):
    f64 = RandomFeatureMap(40, activation="erf", random_state=2).fit(X).transform(X)
    f32 = RandomFeatureMap(40, activation="erf", random_state=2, dtype="float32").fit(X).transform(X)
    assert f32.dtype == np.float64
    np.testing.assert_allclose(f32, f64, atol=1e-6)


def test_activation_params_and_callable(X):
    p2 = RandomFeatureMap(20, activation="relu_power", activation_params={"p": 2}, random_state=0).fit(X)
    z = X @ p2.directions_.T - p2.offsets_
    np.testing.assert_allclose(p2.transform(X), np.maximum(z, 0) ** 2, atol=1e-14)
    own = RandomFeatureMap(20, activation=torch.sin, random_state=0).fit(X)
    np.testing.assert_allclose(own.transform(X), np.sin(z), atol=1e-14)


def test_pre_activations(X):
    fmap = RandomFeatureMap(10, random_state=0).fit(X)
    np.testing.assert_allclose(fmap.pre_activations(X), X @ fmap.directions_.T - fmap.offsets_)


def test_pickle_round_trip(X):
    fmap = RandomFeatureMap(16, random_state=0).fit(X)
    fmap.transform(X)  # populates the device cache, which must not break pickling
    again = pickle.loads(pickle.dumps(fmap))
    assert np.array_equal(again.transform(X), fmap.transform(X))


def test_save_features_is_atomic(tmp_path, X):
    Phi = RandomFeatureMap(12, random_state=0).fit_transform(X)
    path = save_features(tmp_path / "phi.npy", Phi)
    assert np.array_equal(np.load(path), Phi)
    assert os.listdir(tmp_path) == ["phi.npy"]


def test_export_streams_chunks_and_matches_transform(tmp_path, X):
    fmap = RandomFeatureMap(25, random_state=0, batch_size=5).fit(X)
    path = fmap.export(X, tmp_path / "phi.npy")
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
