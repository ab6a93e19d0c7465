"""The seed papers' synthetic targets and one real small dataset, generated locally (nothing is downloaded).

Every loader takes sizes and ``random_state`` and returns a :class:`DatasetSplit` (train and test
arrays plus the settings used); :func:`load` finds a loader by name and :func:`available` lists
them. Where a paper's constants are lost (``research/*.md``), the values here are our documented
choice, recorded in ``DatasetSplit.params`` — they are *not* the papers' functions.

=====================  ============================================================  ==========================
name                   what                                                          paper
=====================  ============================================================  ==========================
sparse_fourier         Σ_{m=1}^{6} a_m cos(ω_m u_m·x + φ_m) on [-1, 1]²                spectral, Exp 2
ring_fourier           J₀(r₀‖x‖) (a Dirac ring in frequency)                          spectral, Exp 2
hole                   1[‖x‖ ≥ ρ] (radial step)                                       spectral, Exp 2
doppler                D(t₁)D(t₂), Donoho–Johnstone Doppler, t = (x + 1)/2            spectral, Exp 2
bumps                  Σ_j h_j (1 + ‖x − x_j‖/w_j)^{-4}                              spectral, Exp 2
random_labels_cube     x ~ U[-1, 1]³, predict x₃ from (x₁, x₂)                        spectral, Exp 1
compositional          x³, x¹¹, sin(πx/2), tanh(3x) on [0, 1] (dense or sparse)       compositional
iat_highfreq           sin(kπx₁)sin(kπx₂) on the 50 × 50 mesh of [-1, 1]²             IAT, Table 3
iat_memorization       random ±1 labels on the 50 × 50 mesh of [-1, 1]²               IAT, Table 2
rowdy_discontinuous    0.2 sin(6x) (x < 0), 1 + 0.1 x cos(14x) (x ≥ 0) on [-3, 3]     Rowdy, §5.1
rowdy_sine             sin(mπx) on [0, 2π], 100 points                                 Rowdy, §5.2
two_moons              sklearn make_moons, 1000 train / 1000 test                      Rowdy, §5.4
two_circles            sklearn make_circles, 1000 train / 1000 test                    Rowdy, §5.4
digits                 sklearn's bundled 8×8 digits (1797 images, 10 classes)           spectral, Exp 3–4 stand-in
=====================  ============================================================  ==========================
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import j0
from sklearn.utils import check_random_state

__all__ = [
    "DatasetSplit",
    "Target",
    "SPECTRAL_TARGETS",
    "COMPOSITIONAL_CURVES",
    "available",
    "load",
    "spectral_target",
    "load_spectral",
    "load_random_labels_cube",
    "load_compositional",
    "load_iat_highfreq",
    "load_iat_memorization",
    "load_rowdy_discontinuous",
    "load_rowdy_sine",
    "load_two_moons",
    "load_two_circles",
    "load_digits",
    "grid_2d",
]

#: The five targets of the spectral-bias paper's Experiment 2 (Table III), in the paper's order.
SPECTRAL_TARGETS: tuple[str, ...] = ("sparse_fourier", "ring_fourier", "hole", "doppler", "bumps")

#: The compositional paper's four curves on [0, 1]: name → (label, numpy function).
COMPOSITIONAL_CURVES: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "x3": ("x^3", lambda x: x**3),
    "x11": ("x^11", lambda x: x**11),
    "sin": ("sin(pi x/2)", lambda x: np.sin(0.5 * np.pi * x)),
    "tanh": ("tanh(3x)", lambda x: np.tanh(3.0 * x)),
}


@dataclass(frozen=True)
class DatasetSplit:
    """Training and test data of one benchmark task, with the settings that made them.

    Attributes
    ----------
    X_train : ndarray of shape (n_train, n_features)
    y_train : ndarray of shape (n_train,)
    X_test : ndarray of shape (n_test, n_features)
    y_test : ndarray of shape (n_test,)
    name : str
    params : dict
        Every constant used (sizes, seeds, the target's drawn parameters), JSON-friendly.
    target : Target or None
        The noiseless target function, when there is one (to evaluate it on a grid).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    params: dict = field(default_factory=dict)
    target: Target | None = None

    def __iter__(self):
        """Unpack as ``X_train, y_train, X_test, y_test``."""
        return iter((self.X_train, self.y_train, self.X_test, self.y_test))


@dataclass(frozen=True)
class Target:
    """A noiseless target function with its (drawn) parameters: ``target(X)`` evaluates it.

    Attributes
    ----------
    name : str
    fn : callable
        ``fn(X)`` with X of shape (n, d) → y of shape (n,).
    params : dict
        The constants of the function, JSON-friendly.
    """

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    params: dict = field(default_factory=dict)

    def __call__(self, X: ArrayLike) -> np.ndarray:
        """Evaluate the target at X of shape (n, d)."""
        return self.fn(np.atleast_2d(np.asarray(X, dtype=np.float64)))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _count(value: Any, name: str, owner: str, minimum: int = 1) -> int:
    """An integer >= minimum, else a ValueError naming the loader and the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner} needs {name} to be an integer >= {minimum}; got {name}={value!r}.")
    return int(value)


def _interval(low: Any, high: Any, owner: str) -> tuple[float, float]:
    """Finite real end points with low < high, else a ValueError naming the loader and both values."""
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{owner} needs {name} to be a real number; got {name}={value!r}.")
        if not np.isfinite(value):
            raise ValueError(f"{owner} needs finite end points; got {name}={value!r}.")
    if not low < high:
        raise ValueError(f"{owner} needs low < high for the interval [low, high]; got low={low!r}, high={high!r}.")
    return float(low), float(high)


def grid_2d(resolution: int = 50, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """The points of a resolution × resolution uniform mesh of [low, high]² (end points included), axis 0 = x₁.

    Parameters
    ----------
    resolution : int, default=50
        Points per axis, at least 2.
    low, high : float, default=-1.0, 1.0
        Finite end points with low < high.

    Returns
    -------
    ndarray of shape (resolution**2, 2)

    Raises
    ------
    ValueError
        ``resolution`` is not an integer >= 2, or the end points are not finite reals with low < high.
    """
    resolution = _count(resolution, "resolution", "grid_2d", 2)
    low, high = _interval(low, high, "grid_2d")
    g = np.linspace(low, high, resolution)
    return np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)


def _uniform_square(rng: np.random.RandomState, n: int) -> np.ndarray:
    """n points uniform on [-1, 1]²."""
    return rng.uniform(-1.0, 1.0, size=(n, 2))


# ---------------------------------------------------------------------------------------------
# spectral-bias paper: Experiment 2 targets and Experiment 1 data
# ---------------------------------------------------------------------------------------------
def _doppler_1d(t: np.ndarray, e: float = 0.05) -> np.ndarray:
    """Donoho–Johnstone Doppler on [0, 1]: sqrt(t(1−t)) sin(2π(1+e)/(t+e))."""
    return np.sqrt(np.clip(t * (1.0 - t), 0.0, None)) * np.sin(2.0 * np.pi * (1.0 + e) / (t + e))


def spectral_target(
    name: Literal["sparse_fourier", "ring_fourier", "hole", "doppler", "bumps"],
    random_state: int | np.random.RandomState | None = 0,
) -> Target:
    """One of the spectral-bias paper's five 2-D targets on [-1, 1]², with its random parameters drawn.

    Parameters
    ----------
    name : {"sparse_fourier", "ring_fourier", "hole", "doppler", "bumps"}
        - ``"sparse_fourier"``: Σ_{m=1}^{6} a_m cos(ω_m u_m·x + φ_m), a_m ~ U[0.5, 1],
          ω_m ~ U[π/2, 3π], u_m uniform on the circle, φ_m ~ U[0, 2π) (6 Dirac pairs in frequency).
        - ``"ring_fourier"``: J₀(r₀‖x‖) with r₀ = 3π (a Dirac ring at ‖k‖ = r₀).
        - ``"hole"``: 1[‖x‖ ≥ ρ] with ρ = 0.5 (0 inside the disc, 1 outside).
        - ``"doppler"``: D(t₁)D(t₂), t = (x + 1)/2, D the Donoho–Johnstone Doppler with e = 0.05
          (the classic 1-D definition, range about [-0.25, 0.25]).
        - ``"bumps"``: Σ_{j=1}^{8} h_j (1 + ‖x − x_j‖/w_j)^{-4}, x_j ~ U[-0.8, 0.8]²,
          w_j ~ U[0.05, 0.15], h_j = ±U[0.5, 1] (Donoho's sharply pointed kernel, randomised).
    random_state : int, RandomState or None, default=0
        Draws the random parameters (sparse_fourier, bumps); the others are deterministic.

    Returns
    -------
    Target

    Notes
    -----
    Sahs et al. (2025) give only the families; every constant above is our choice
    (``research/spectral.md`` §4), so Table III's numbers are comparable in trend, not in value.
    """
    rng = check_random_state(random_state)
    if name == "sparse_fourier":
        n_waves = 6
        amp = rng.uniform(0.5, 1.0, n_waves)
        freq = rng.uniform(0.5 * np.pi, 3.0 * np.pi, n_waves)
        angle = rng.uniform(0.0, 2.0 * np.pi, n_waves)
        phase = rng.uniform(0.0, 2.0 * np.pi, n_waves)
        K = freq[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)

        def fn(X: np.ndarray) -> np.ndarray:
            return np.cos(X @ K.T + phase) @ amp

        params = {"amplitudes": amp.tolist(), "frequencies": freq.tolist(), "angles": angle.tolist(),
                  "phases": phase.tolist()}
    elif name == "ring_fourier":
        r0 = 3.0 * np.pi

        def fn(X: np.ndarray) -> np.ndarray:
            return j0(r0 * np.linalg.norm(X, axis=1))

        params = {"r0": r0}
    elif name == "hole":
        rho = 0.5

        def fn(X: np.ndarray) -> np.ndarray:
            return (np.linalg.norm(X, axis=1) >= rho).astype(np.float64)

        params = {"rho": rho}
    elif name == "doppler":
        scale, e = 1.0, 0.05

        def fn(X: np.ndarray) -> np.ndarray:
            t = 0.5 * (X + 1.0)
            return scale * _doppler_1d(t[:, 0], e) * _doppler_1d(t[:, 1], e)

        params = {"scale": scale, "e": e}
    elif name == "bumps":
        n_bumps = 8
        centres = rng.uniform(-0.8, 0.8, (n_bumps, 2))
        widths = rng.uniform(0.05, 0.15, n_bumps)
        heights = rng.uniform(0.5, 1.0, n_bumps) * rng.choice([-1.0, 1.0], n_bumps)

        def fn(X: np.ndarray) -> np.ndarray:
            dist = np.linalg.norm(X[:, None, :] - centres[None, :, :], axis=2)
            return ((1.0 + dist / widths) ** -4) @ heights

        params = {"centres": centres.tolist(), "widths": widths.tolist(), "heights": heights.tolist()}
    else:
        raise ValueError(f"unknown spectral target {name!r}; choose one of {list(SPECTRAL_TARGETS)}.{_hint(name, SPECTRAL_TARGETS)}")
    return Target(name=name, fn=fn, params=params)


def load_spectral(
    name: Literal["sparse_fourier", "ring_fourier", "hole", "doppler", "bumps"],
    n_train: int = 200,
    n_test: int = 1000,
    random_state: int | np.random.RandomState | None = 0,
) -> DatasetSplit:
    """Samples of a spectral-bias target: inputs uniform on [-1, 1]², noiseless labels.

    Parameters
    ----------
    name : {"sparse_fourier", "ring_fourier", "hole", "doppler", "bumps"}
        See :func:`spectral_target`.
    n_train, n_test : int, default=200, 1000
    random_state : int, RandomState or None, default=0
        Draws the target's parameters first, then the training and the test inputs.

    Returns
    -------
    DatasetSplit
        ``target`` is the function, for evaluating it on a grid.
    """
    n_train = _count(n_train, "n_train", "load_spectral")
    n_test = _count(n_test, "n_test", "load_spectral")
    rng = check_random_state(random_state)
    target = spectral_target(name, rng)
    X_train, X_test = _uniform_square(rng, n_train), _uniform_square(rng, n_test)
    return DatasetSplit(X_train, target(X_train), X_test, target(X_test), name,
                        {"n_train": n_train, "n_test": n_test, "domain": "U[-1,1]^2", **target.params}, target)


def load_random_labels_cube(
    n_train: int = 40,
    n_test: int = 0,
    random_state: int | np.random.RandomState | None = 0,
) -> DatasetSplit:
    """The spectral-bias paper's Experiment 1 data: x uniform on [-1, 1]³, predict x₃ from (x₁, x₂) (random labels).

    Parameters
    ----------
    n_train : int, default=40
    n_test : int, default=0
        Test points (may be 0: Experiment 1 compares two fits, not generalisation).
    random_state : int, RandomState or None, default=0

    Returns
    -------
    DatasetSplit
    """
    n_train = _count(n_train, "n_train", "load_random_labels_cube")
    n_test = _count(n_test, "n_test", "load_random_labels_cube", 0)
    rng = check_random_state(random_state)
    cube = rng.uniform(-1.0, 1.0, (n_train + n_test, 3))
    X, y = cube[:, :2], cube[:, 2]
    return DatasetSplit(X[:n_train], y[:n_train], X[n_train:], y[n_train:], "random_labels_cube",
                        {"n_train": n_train, "n_test": n_test, "domain": "U[-1,1]^3"})


# ---------------------------------------------------------------------------------------------
# compositional paper
# ---------------------------------------------------------------------------------------------
def load_compositional(
    curve: Literal["x3", "x11", "sin", "tanh"],
    n_samples: int = 500,
    *,
    sparse: bool = False,
    random_state: int | np.random.RandomState | None = None,
) -> DatasetSplit:
    """One of the compositional paper's curves on [0, 1]: dense (train = test) or the sparse 10 + 10 split.

    Parameters
    ----------
    curve : {"x3", "x11", "sin", "tanh"}
        x³, x¹¹, sin(πx/2), tanh(3x).
    n_samples : int, default=500
        Evenly spaced points on [0, 1] (dense; the paper's 500). Ignored when ``sparse``.
    sparse : bool, default=False
        10 training points ``linspace(0, 1, 10)`` and 10 test points ``linspace(0.05, 0.95, 10)``
        (the paper's placement is unknown; this is our choice, the data of the ``compositional``
        bench suite).
    random_state : None
        Unused (the data are deterministic); accepted for a uniform loader signature.

    Returns
    -------
    DatasetSplit
        X of shape (n, 1).
    """
    if curve not in COMPOSITIONAL_CURVES:
        raise ValueError(f"unknown curve {curve!r}; choose one of {list(COMPOSITIONAL_CURVES)}.{_hint(curve, COMPOSITIONAL_CURVES)}")
    label, fn = COMPOSITIONAL_CURVES[curve]
    if sparse:
        x_train, x_test = np.linspace(0.0, 1.0, 10), np.linspace(0.05, 0.95, 10)
    else:
        n_samples = _count(n_samples, "n_samples", "load_compositional", 2)
        x_train = x_test = np.linspace(0.0, 1.0, n_samples)
    target = Target(curve, lambda X: fn(X[:, 0]), {"label": label})
    return DatasetSplit(x_train[:, None], fn(x_train), x_test[:, None], fn(x_test), f"compositional_{curve}",
                        {"curve": label, "sparse": bool(sparse), "n_train": int(x_train.size)}, target)


# ---------------------------------------------------------------------------------------------
# IAT paper
# ---------------------------------------------------------------------------------------------
def load_iat_highfreq(
    resolution: int = 50,
    k: float = 2.0,
    random_state: int | np.random.RandomState | None = None,
) -> DatasetSplit:
    """The IAT paper's 2-D fitting task on its 50 × 50 mesh, with a stand-in target sin(kπx₁)sin(kπx₂).

    Parameters
    ----------
    resolution : int, default=50
        Mesh points per axis on [-1, 1] (the paper's 50 × 50 = 2500 points).
    k : float, default=2.0
        Frequency of the stand-in. The paper's function is shown only as an image (research note
        §1.6); this separable product is *not* it.
    random_state : None
        Unused (deterministic); accepted for a uniform loader signature.

    Returns
    -------
    DatasetSplit
        Training = test = the mesh (the paper reports training MSE).
    """
    resolution = _count(resolution, "resolution", "load_iat_highfreq", 2)
    if isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)) or not np.isfinite(k):
        raise ValueError(f"load_iat_highfreq needs a finite real frequency k; got k={k!r}.")
    X = grid_2d(resolution)
    target = Target("iat_highfreq", lambda Z: np.sin(k * np.pi * Z[:, 0]) * np.sin(k * np.pi * Z[:, 1]), {"k": k})
    y = target(X)
    return DatasetSplit(X, y, X, y, "iat_highfreq", {"resolution": resolution, "k": float(k)}, target)


def load_iat_memorization(
    resolution: int = 50,
    random_state: int | np.random.RandomState | None = 0,
) -> DatasetSplit:
    """The IAT paper's memorisation task: random ±1 labels on the 50 × 50 mesh of [-1, 1]².

    Parameters
    ----------
    resolution : int, default=50
    random_state : int, RandomState or None, default=0
        Draws the labels.

    Returns
    -------
    DatasetSplit
        Training = test = the mesh (accuracy is measured on the training points).
    """
    resolution = _count(resolution, "resolution", "load_iat_memorization", 2)
    rng = check_random_state(random_state)
    X = grid_2d(resolution)
    y = rng.choice([-1.0, 1.0], size=X.shape[0])
    return DatasetSplit(X, y, X, y, "iat_memorization", {"resolution": resolution, "labels": "+-1 uniform"})


# ---------------------------------------------------------------------------------------------
# Rowdy / Kronecker paper
# ---------------------------------------------------------------------------------------------
def _discontinuous(x: np.ndarray) -> np.ndarray:
    """0.2 sin(6x) for x < 0 and 1 + 0.1 x cos(14x) for x >= 0."""
    return np.where(x < 0.0, 0.2 * np.sin(6.0 * x), 1.0 + 0.1 * x * np.cos(14.0 * x))


def load_rowdy_discontinuous(
    n_train: int = 5,
    n_test: int = 300,
    random_state: int | np.random.RandomState | None = None,
) -> DatasetSplit:
    """The Rowdy paper's discontinuous function on [-3, 3]: few fixed training points, a dense test grid.

    Parameters
    ----------
    n_train : int, default=5
        Evenly spaced training points (the paper: "5 fixed training points").
    n_test : int, default=300
        Evenly spaced test points for plots and test error.
    random_state : None
        Unused (deterministic).

    Returns
    -------
    DatasetSplit
        X of shape (n, 1).
    """
    n_train = _count(n_train, "n_train", "load_rowdy_discontinuous", 2)
    n_test = _count(n_test, "n_test", "load_rowdy_discontinuous", 2)
    x_train, x_test = np.linspace(-3.0, 3.0, n_train), np.linspace(-3.0, 3.0, n_test)
    target = Target("rowdy_discontinuous", lambda X: _discontinuous(X[:, 0]))
    return DatasetSplit(x_train[:, None], _discontinuous(x_train), x_test[:, None], _discontinuous(x_test),
                        "rowdy_discontinuous", {"n_train": n_train, "n_test": n_test, "domain": "[-3, 3]"}, target)


def load_rowdy_sine(
    m: float = 1.0,
    n_train: int = 100,
    n_test: int = 1000,
    random_state: int | np.random.RandomState | None = None,
) -> DatasetSplit:
    """The Rowdy paper's high-frequency task: sin(mπx) at evenly spaced points of [0, 2π].

    Parameters
    ----------
    m : float, default=1.0
        The paper uses m = 1, 100, 200 (for m ≥ 32 the 100 points alias: the task is then
        memorising the samples).
    n_train : int, default=100
    n_test : int, default=1000
    random_state : None
        Unused (deterministic).

    Returns
    -------
    DatasetSplit
    """
    n_train = _count(n_train, "n_train", "load_rowdy_sine", 2)
    n_test = _count(n_test, "n_test", "load_rowdy_sine", 2)
    x_train, x_test = np.linspace(0.0, 2 * np.pi, n_train), np.linspace(0.0, 2 * np.pi, n_test)
    fn = lambda x: np.sin(m * np.pi * x)  # noqa: E731
    target = Target("rowdy_sine", lambda X: fn(X[:, 0]), {"m": float(m)})
    return DatasetSplit(x_train[:, None], fn(x_train), x_test[:, None], fn(x_test), "rowdy_sine",
                        {"m": float(m), "n_train": n_train, "n_test": n_test, "domain": "[0, 2pi]"}, target)


def load_two_moons(
    n_train: int = 1000,
    n_test: int = 1000,
    noise: float = 0.1,
    random_state: int | np.random.RandomState | None = 0,
) -> DatasetSplit:
    """Two interleaving half circles (``sklearn.datasets.make_moons``), labels 0/1.

    Parameters
    ----------
    n_train, n_test : int, default=1000
        The Rowdy paper's 1000 / 1000.
    noise : float, default=0.1
        Gaussian noise (the paper's value is not stated).
    random_state : int, RandomState or None, default=0

    Returns
    -------
    DatasetSplit
    """
    from sklearn.datasets import make_moons

    n_train = _count(n_train, "n_train", "load_two_moons")
    n_test = _count(n_test, "n_test", "load_two_moons")
    rng = check_random_state(random_state)
    X, y = make_moons(n_samples=n_train + n_test, noise=noise, random_state=rng)
    perm = rng.permutation(X.shape[0])
    X, y = X[perm], y[perm].astype(np.int64)
    return DatasetSplit(X[:n_train], y[:n_train], X[n_train:], y[n_train:], "two_moons",
                        {"n_train": n_train, "n_test": n_test, "noise": noise})


def load_two_circles(
    n_train: int = 1000,
    n_test: int = 1000,
    noise: float = 0.05,
    factor: float = 0.5,
    random_state: int | np.random.RandomState | None = 0,
) -> DatasetSplit:
    """A small circle inside a large one (``sklearn.datasets.make_circles``), labels 0/1.

    Parameters
    ----------
    n_train, n_test : int, default=1000
    noise : float, default=0.05
    factor : float, default=0.5
        Ratio of the radii.
    random_state : int, RandomState or None, default=0

    Returns
    -------
    DatasetSplit
    """
    from sklearn.datasets import make_circles

    n_train = _count(n_train, "n_train", "load_two_circles")
    n_test = _count(n_test, "n_test", "load_two_circles")
    rng = check_random_state(random_state)
    X, y = make_circles(n_samples=n_train + n_test, noise=noise, factor=factor, random_state=rng)
    perm = rng.permutation(X.shape[0])
    X, y = X[perm], y[perm].astype(np.int64)
    return DatasetSplit(X[:n_train], y[:n_train], X[n_train:], y[n_train:], "two_circles",
                        {"n_train": n_train, "n_test": n_test, "noise": noise, "factor": factor})


# ---------------------------------------------------------------------------------------------
# a real small dataset
# ---------------------------------------------------------------------------------------------
def load_digits(
    n_train: int | None = None,
    test_size: float = 0.25,
    random_state: int | np.random.RandomState | None = 0,
) -> DatasetSplit:
    """scikit-learn's bundled 8 × 8 handwritten digits (no download), scaled to [0, 1], stratified split.

    The adaptive-regime experiments of the spectral-bias paper (3–4) use MNIST, which needs a
    download; these 1797 digits are the stand-in that ships with scikit-learn.

    Parameters
    ----------
    n_train : int or None, default=None
        Keep only this many training images (after the split), e.g. for quick runs.
    test_size : float, default=0.25
        Fraction held out for testing.
    random_state : int, RandomState or None, default=0

    Returns
    -------
    DatasetSplit
        X of shape (n, 64) in [0, 1], integer labels 0–9.
    """
    from sklearn.datasets import load_digits as _sk_load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"load_digits needs test_size in (0, 1); got test_size={test_size!r}.")
    data = _sk_load_digits()
    X = data.data.astype(np.float64) / 16.0
    y = data.target.astype(np.int64)
    rng = check_random_state(random_state)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, stratify=y, random_state=rng)
    if n_train is not None:
        n_train = _count(n_train, "n_train", "load_digits", 10)
        X_train, y_train = X_train[:n_train], y_train[:n_train]
    return DatasetSplit(X_train, y_train, X_test, y_test, "digits",
                        {"n_train": int(X_train.shape[0]), "n_test": int(X_test.shape[0]), "scale": "x/16"})


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
def _spectral_loader(name: str) -> Callable[..., DatasetSplit]:
    """A loader bound to one spectral target name."""

    def loader(n_train: int = 200, n_test: int = 1000, random_state: Any = 0) -> DatasetSplit:
        return load_spectral(name, n_train, n_test, random_state)  # type: ignore[arg-type]

    loader.__doc__ = f"Samples of the {name!r} target (see :func:`load_spectral`)."
    return loader


_LOADERS: dict[str, Callable[..., DatasetSplit]] = {
    **{name: _spectral_loader(name) for name in SPECTRAL_TARGETS},
    "random_labels_cube": load_random_labels_cube,
    "compositional": load_compositional,
    "iat_highfreq": load_iat_highfreq,
    "iat_memorization": load_iat_memorization,
    "rowdy_discontinuous": load_rowdy_discontinuous,
    "rowdy_sine": load_rowdy_sine,
    "two_moons": load_two_moons,
    "two_circles": load_two_circles,
    "digits": load_digits,
}


def _hint(name: object, known) -> str:
    """' Did you mean ...?' for a mistyped name."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def available() -> list[str]:
    """Names accepted by :func:`load`."""
    return sorted(_LOADERS)


def load(name: str, **kwargs: Any) -> DatasetSplit:
    """Load a dataset by name; keyword arguments go to its loader.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    **kwargs
        Sizes, ``random_state`` and the loader's own options.

    Returns
    -------
    DatasetSplit

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).

    Examples
    --------
    >>> from kernelreg import datasets
    >>> data = datasets.load("hole", n_train=50, n_test=20, random_state=0)
    >>> data.X_train.shape, data.y_test.shape
    ((50, 2), (20,))
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {available()}.{_hint(name, _LOADERS)}")
    return _LOADERS[name](**kwargs)

