"""Diagnostics of trained and frozen networks: linear regions, spectral magnitude, zero-plane clustering, regime δ.

These are the measurements the seed papers read their networks by:

* **linear regions** (compositional paper): the exact breakpoints of a piecewise-linear network on
  an interval, propagated layer by layer (:func:`linear_regions_1d`), and the number of distinct
  activation patterns on a 2-D grid (:func:`count_activation_patterns_2d`);
* **total spectral magnitude** M(r) = ∮_{‖k‖=r} |f̂(k)| dS of a function sampled on a 2-D grid
  (spectral-bias paper, Experiment 2 / Fig. 8; :func:`spectral_magnitude`);
* **zero-plane clustering** (spectral-bias paper, Experiment 3 / Fig. 9e–g): the W₂ distance
  between the zero-plane sets of two training steps (:func:`w2_distance`) and the AUC of the
  normalised eigenvalue curve of the zero-plane similarity matrix (:func:`eigen_auc`);
* the **regime statistic** δ_i = c_i² − ‖w_i‖² − b_i² of a shallow network (:func:`regime_delta`).

This module sits beside the flow: it needs only numpy, scipy and torch, and recognises kernelreg's
networks by duck typing (``blocks`` / ``output`` of :class:`kernelreg.networks.MLP`, ``delta`` of
:class:`kernelreg.layers.RadonSplineLayer`). It is long because the region counts and the
zero-plane measures share one piece of geometry (the zero planes of a layer); each function is
small and independent.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist
from torch import nn

__all__ = [
    "PIECEWISE_LINEAR_ACTIVATIONS",
    "PiecewiseLinear1D",
    "linear_regions_1d",
    "count_linear_regions_1d",
    "activation_patterns",
    "count_activation_patterns_2d",
    "SpectralMagnitude",
    "spectral_magnitude",
    "ridge_spectral_magnitude",
    "zero_planes",
    "w2_distance",
    "per_step_w2",
    "similarity_matrix",
    "eigen_curve",
    "eigen_auc",
    "regime_delta",
]

#: Piecewise-linear activations the region counters understand: name → (knots, slopes, offsets),
#: σ(z) = slopes[k]·z + offsets[k] between knots[k-1] and knots[k] (len(slopes) = len(knots) + 1).
PIECEWISE_LINEAR_ACTIVATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]] = {
    "relu": ((0.0,), (0.0, 1.0), (0.0, 0.0)),
    "identity": ((), (1.0,), (0.0,)),
    "satrelu": ((0.0, 1.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
    "hardtanh": ((-1.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 1.0)),
}

_PWL = tuple[np.ndarray, np.ndarray, np.ndarray]


# ---------------------------------------------------------------------------------------------
# Piecewise-linear networks as (W, b, σ) lists
# ---------------------------------------------------------------------------------------------
def _pwl_spec(name: str, params: dict | None = None) -> _PWL:
    """Knots, slopes and offsets of a named piecewise-linear activation (leaky_relu takes its slope)."""
    if name == "leaky_relu":
        beta = float((params or {}).get("negative_slope", 0.01))
        return np.array([0.0]), np.array([beta, 1.0]), np.array([0.0, 0.0])
    if name not in PIECEWISE_LINEAR_ACTIVATIONS:
        raise ValueError(
            f"activation {name!r} is not piecewise linear, so it has no exact linear regions; the region "
            f"counters know {sorted([*PIECEWISE_LINEAR_ACTIVATIONS, 'leaky_relu'])}."
        )
    knots, slopes, offsets = PIECEWISE_LINEAR_ACTIVATIONS[name]
    return np.array(knots, dtype=float), np.array(slopes, dtype=float), np.array(offsets, dtype=float)


def _module_spec(module: nn.Module) -> _PWL | None:
    """The piecewise-linear spec of an activation module (None for Identity), else a ValueError naming it."""
    if isinstance(module, nn.Identity):
        return None
    if isinstance(module, nn.ReLU):
        return _pwl_spec("relu")
    if isinstance(module, nn.LeakyReLU):
        return _pwl_spec("leaky_relu", {"negative_slope": module.negative_slope})
    if isinstance(module, nn.Hardtanh) and module.min_val == -1.0 and module.max_val == 1.0:
        return _pwl_spec("hardtanh")
    act = getattr(module, "activation", None)  # kernelreg.networks.ActivationModule
    name = getattr(act, "name", None)
    if isinstance(name, str):
        if name == "identity":
            return None
        return _pwl_spec(name, getattr(act, "params", None))
    raise ValueError(
        f"{type(module).__name__} is not a piecewise-linear activation the region counters understand; "
        "use nn.ReLU, nn.LeakyReLU, nn.Hardtanh, nn.Identity or a kernelreg activation among "
        f"{sorted([*PIECEWISE_LINEAR_ACTIVATIONS, 'leaky_relu'])}."
    )


def _linear_arrays(linear: nn.Linear) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of an nn.Linear as float64 numpy (b = 0 without bias)."""
    W = linear.weight.detach().to("cpu", torch.float64).numpy()
    b = (linear.bias.detach().to("cpu", torch.float64).numpy() if linear.bias is not None
         else np.zeros(W.shape[0]))
    return W, b


def _flatten_sequential(module: nn.Module) -> list[nn.Module]:
    """Leaf modules of nested nn.Sequential containers, in order."""
    if isinstance(module, nn.Sequential):
        out: list[nn.Module] = []
        for child in module:
            out.extend(_flatten_sequential(child))
        return out
    return [module]


def _layers_of(network: Any) -> list[tuple[np.ndarray, np.ndarray, _PWL | None]]:
    """The network as a list of (W, b, activation spec or None) with exact float64 weights."""
    if hasattr(network, "blocks") and hasattr(network, "output"):  # kernelreg.networks.MLP
        layers = []
        for block in network.blocks:
            W, b = _linear_arrays(block.linear)
            layers.append((W, b, _module_spec(block.activation)))
        W, b = _linear_arrays(network.output)
        layers.append((W, b, None))
        return layers
    if isinstance(network, nn.Module):
        mods = _flatten_sequential(network)
        layers = []
        for m in mods:
            if hasattr(m, "linear") and hasattr(m, "activation") and isinstance(m.linear, nn.Linear):
                W, b = _linear_arrays(m.linear)  # kernelreg.networks.HiddenBlock
                layers.append((W, b, _module_spec(m.activation)))
            elif isinstance(m, nn.Linear):
                W, b = _linear_arrays(m)
                layers.append((W, b, None))
            else:
                if not layers:
                    raise ValueError(
                        f"the network starts with {type(m).__name__}; the region counters need it to start "
                        "with an nn.Linear layer."
                    )
                W, b, spec = layers[-1]
                if spec is not None:
                    raise ValueError(
                        f"two activations in a row ({type(m).__name__} after another) are not supported; "
                        "put an nn.Linear between them."
                    )
                layers[-1] = (W, b, _module_spec(m))
        if not layers:
            raise ValueError(f"{type(network).__name__} has no nn.Linear layer to count regions of.")
        return layers
    if isinstance(network, (list, tuple)):
        pairs = list(network)
        if not pairs:
            raise ValueError("the list of (W, b) layers is empty; give at least one (W, b) pair.")
        relu = _pwl_spec("relu")
        layers = []
        for k, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(f"layer {k} of the list is not a (W, b) pair; got {len(pair)} items.")
            W = np.atleast_2d(np.asarray(pair[0], dtype=np.float64))
            b = np.asarray(pair[1], dtype=np.float64).reshape(-1)
            if b.shape[0] != W.shape[0]:
                raise ValueError(f"layer {k}: W has {W.shape[0]} rows but b has {b.shape[0]} entries.")
            layers.append((W, b, relu if k < len(pairs) - 1 else None))
        return layers
    raise TypeError(
        "the region counters take a kernelreg MLP, a torch nn.Module of nn.Linear and piecewise-linear "
        f"activations (e.g. nn.Sequential), or a list of (W, b) pairs (ReLU between them); got "
        f"{type(network).__name__}."
    )


def _check_widths(layers: list, n_in: int) -> None:
    """Consecutive layers must fit together and the first must take n_in inputs."""
    width = n_in
    for k, (W, _, _) in enumerate(layers):
        if W.shape[1] != width:
            raise ValueError(
                f"layer {k} expects {W.shape[1]} inputs but receives {width}; "
                + ("the counter needs a network with exactly that many inputs." if k == 0 else "check the network.")
            )
        width = W.shape[0]


# ---------------------------------------------------------------------------------------------
# Exact 1-D linear regions
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PiecewiseLinear1D:
    """The exact piecewise-linear function of a network on an interval: its pieces and where they meet.

    Attributes
    ----------
    knots : ndarray of shape (n_regions + 1,)
        Ends of the activation regions, from the interval's start to its end.
    slopes, intercepts : ndarray of shape (n_regions, n_outputs)
        The network is ``slopes[k] * x + intercepts[k]`` on ``[knots[k], knots[k + 1]]``.
    breakpoints : ndarray of shape (n_pieces - 1,)
        Interior knots where the function's slope actually changes (adjacent regions with the same
        affine map are merged; relative tolerance ``rtol`` of :func:`linear_regions_1d`).
    """

    knots: np.ndarray
    slopes: np.ndarray
    intercepts: np.ndarray
    breakpoints: np.ndarray

    @property
    def n_regions(self) -> int:
        """Number of activation regions (pieces of the input partition by activation pattern)."""
        return int(self.slopes.shape[0])

    @property
    def n_pieces(self) -> int:
        """Number of linear pieces of the function (regions with equal affine maps merged)."""
        return int(self.breakpoints.shape[0]) + 1

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """Evaluate the piecewise-linear function at x (inside the interval), shape (n, n_outputs)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        idx = np.clip(np.searchsorted(self.knots, x, side="right") - 1, 0, self.n_regions - 1)
        return self.slopes[idx] * x[:, None] + self.intercepts[idx]


def linear_regions_1d(
    network: Any,
    interval: tuple[float, float] = (0.0, 1.0),
    *,
    rtol: float = 1e-9,
) -> PiecewiseLinear1D:
    """Exact linear regions of a piecewise-linear network of one input on an interval, layer by layer.

    Each layer's pre-activations are affine on every current piece, so their crossings of the
    activation's knots are found in closed form and split the piece; the activation then maps each
    sub-piece affinely. No grid is involved: the breakpoints are exact up to float64 rounding.

    Parameters
    ----------
    network : kernelreg MLP, nn.Module or list of (W, b)
        A kernelreg :class:`~kernelreg.networks.MLP`, an ``nn.Sequential`` (possibly nested) of
        ``nn.Linear`` and piecewise-linear activations (``nn.ReLU``, ``nn.LeakyReLU``,
        ``nn.Hardtanh``, ``nn.Identity``, kernelreg's ``relu``/``leaky_relu``/``satrelu``), or a
        list of ``(W, b)`` pairs computing ``W h + b`` with ReLU between consecutive pairs. The
        first layer must take one input.
    interval : (float, float), default=(0.0, 1.0)
        The input interval [lo, hi], lo < hi.
    rtol : float, default=1e-9
        Relative tolerance for merging adjacent regions with the same affine map and for ignoring
        knot crossings at a piece's ends.

    Returns
    -------
    PiecewiseLinear1D

    Raises
    ------
    ValueError
        A non-piecewise-linear activation, mismatched layer widths, a network with more than one
        input, or an empty interval.
    TypeError
        An object that is not a network.

    See Also
    --------
    count_linear_regions_1d : just the number.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.diagnostics import linear_regions_1d
    >>> hat = [(np.array([[1.0], [1.0]]), np.array([0.0, -0.5])), (np.array([[2.0, -4.0]]), np.array([0.0]))]
    >>> linear_regions_1d(hat, (0.0, 1.0)).breakpoints
    array([0.5])
    """
    lo, hi = (float(v) for v in interval)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"interval must be (lo, hi) with finite lo < hi; got {interval!r}.")
    layers = _layers_of(network)
    _check_widths(layers, 1)
    scale = max(abs(lo), abs(hi), hi - lo)
    knots = [lo, hi]
    # per piece: h(x) = A x + C, A and C of shape (n_pieces, width)
    A = np.ones((1, 1))
    C = np.zeros((1, 1))
    for W, b, spec in layers:
        Az = A @ W.T
        Cz = C @ W.T + b
        if spec is None:
            A, C = Az, Cz
            continue
        act_knots, act_slopes, act_offsets = spec
        new_knots: list[float] = [knots[0]]
        new_A, new_C = [], []
        for p in range(Az.shape[0]):
            t0, t1 = knots[p], knots[p + 1]
            cuts = []
            a, c = Az[p], Cz[p]
            nz = np.abs(a) > 0
            for kappa in act_knots:
                roots = (kappa - c[nz]) / a[nz]
                cuts.append(roots)
            roots = np.concatenate(cuts) if cuts else np.empty(0)
            tol = rtol * scale
            roots = np.unique(roots[(roots > t0 + tol) & (roots < t1 - tol)])
            ends = np.concatenate([[t0], roots, [t1]])
            mids = 0.5 * (ends[:-1] + ends[1:])
            z = mids[:, None] * a[None, :] + c[None, :]
            seg = np.searchsorted(act_knots, z, side="right") if act_knots.size else np.zeros(z.shape, int)
            new_A.append(act_slopes[seg] * a[None, :])
            new_C.append(act_slopes[seg] * c[None, :] + act_offsets[seg])
            new_knots.extend(ends[1:].tolist())
        knots = new_knots
        A = np.concatenate(new_A, axis=0)
        C = np.concatenate(new_C, axis=0)
    knots_arr = np.asarray(knots, dtype=np.float64)
    # merge adjacent regions whose affine maps agree
    breaks = []
    for k in range(1, A.shape[0]):
        ref = max(np.max(np.abs(A[k - 1])), np.max(np.abs(C[k - 1])), np.max(np.abs(A[k])), 1e-300)
        same = np.max(np.abs(A[k] - A[k - 1])) <= rtol * ref and np.max(np.abs(C[k] - C[k - 1])) <= rtol * ref * scale
        if not same:
            breaks.append(knots_arr[k])
    return PiecewiseLinear1D(knots=knots_arr, slopes=A, intercepts=C, breakpoints=np.asarray(breaks, dtype=np.float64))


def count_linear_regions_1d(
    network: Any,
    interval: tuple[float, float] = (0.0, 1.0),
    *,
    merge: bool = True,
    rtol: float = 1e-9,
) -> int:
    """Number of linear pieces (or activation regions) of a 1-input piecewise-linear network, counted exactly.

    Parameters
    ----------
    network, interval, rtol
        As in :func:`linear_regions_1d`.
    merge : bool, default=True
        True: pieces of the function (adjacent regions with the same affine map count once);
        False: activation regions of the input partition.

    Returns
    -------
    int

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.diagnostics import count_linear_regions_1d
    >>> hat = [(np.array([[1.0], [1.0]]), np.array([0.0, -0.5])), (np.array([[2.0, -4.0]]), np.array([0.0]))]
    >>> count_linear_regions_1d(hat)
    2
    """
    result = linear_regions_1d(network, interval, rtol=rtol)
    return result.n_pieces if merge else result.n_regions


# ---------------------------------------------------------------------------------------------
# Activation patterns on points / a 2-D grid
# ---------------------------------------------------------------------------------------------
def activation_patterns(network: Any, X: ArrayLike) -> tuple[np.ndarray, int]:
    """Label every input point by its activation pattern (which segment each hidden unit is on).

    Parameters
    ----------
    network : kernelreg MLP, nn.Module or list of (W, b)
        As in :func:`linear_regions_1d`, with any number of inputs.
    X : array-like of shape (n_points, n_inputs)

    Returns
    -------
    labels : ndarray of shape (n_points,)
        Integer label of each point's pattern (0 .. n_patterns − 1, in order of first appearance
        after sorting the patterns).
    n_patterns : int
        Number of distinct activation patterns among the points.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array of shape (n_points, n_inputs); got shape {X.shape}.")
    layers = _layers_of(network)
    _check_widths(layers, X.shape[1])
    h = X
    codes = []
    for W, b, spec in layers:
        z = h @ W.T + b
        if spec is None:
            h = z
            continue
        knots, slopes, offsets = spec
        seg = np.searchsorted(knots, z, side="right") if knots.size else np.zeros(z.shape, dtype=np.int64)
        codes.append(seg.astype(np.uint8))
        h = slopes[seg] * z + offsets[seg]
    if not codes:
        return np.zeros(X.shape[0], dtype=np.int64), 1
    bits = np.ascontiguousarray(np.concatenate(codes, axis=1))
    keys = bits.view(np.dtype((np.void, bits.dtype.itemsize * bits.shape[1]))).ravel()
    _, labels = np.unique(keys, return_inverse=True)
    labels = labels.reshape(-1)
    return labels, int(labels.max()) + 1


def count_activation_patterns_2d(
    network: Any,
    bounds: tuple[tuple[float, float], tuple[float, float]] = ((-1.0, 1.0), (-1.0, 1.0)),
    resolution: int = 200,
    *,
    return_labels: bool = False,
) -> int | tuple[int, np.ndarray]:
    """Count the distinct activation patterns of a 2-input network on a regular grid (a lower bound on its regions).

    Parameters
    ----------
    network : kernelreg MLP, nn.Module or list of (W, b)
        A piecewise-linear network with two inputs (see :func:`linear_regions_1d`).
    bounds : ((float, float), (float, float)), default=((-1, 1), (-1, 1))
        The box [x0_lo, x0_hi] × [x1_lo, x1_hi].
    resolution : int, default=200
        Grid points per axis.
    return_labels : bool, default=False
        Also return the pattern label of every grid point, shape (resolution, resolution) with
        axis 0 along x0 (for region maps).

    Returns
    -------
    n_patterns : int
    labels : ndarray of shape (resolution, resolution)
        Only with ``return_labels=True``.

    Notes
    -----
    Regions smaller than the grid spacing are missed, so this is a lower bound on the number of
    linear regions in the box; it converges to the count of regions that meet the box as the
    resolution grows.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2; got {resolution!r}.")
    (a0, b0), (a1, b1) = bounds
    g0, g1 = np.linspace(a0, b0, resolution), np.linspace(a1, b1, resolution)
    grid = np.stack(np.meshgrid(g0, g1, indexing="ij"), axis=-1).reshape(-1, 2)
    labels, n = activation_patterns(network, grid)
    if return_labels:
        return n, labels.reshape(resolution, resolution)
    return n


# ---------------------------------------------------------------------------------------------
# Total spectral magnitude M(r)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpectralMagnitude:
    """M(r) of a sampled 2-D function: the modulus of its Fourier transform integrated over circles ‖k‖ = r.

    Attributes
    ----------
    radii : ndarray of shape (n_bins,)
        Centres of the annuli (angular frequency, radians per unit length).
    magnitude : ndarray of shape (n_bins,)
        M(r) ≈ ∮_{‖k‖=r} |f̂(k)| dS(k), with f̂(k) = ∫ f(x) e^{-ik·x} dx.
    counts : ndarray of shape (n_bins,)
        Number of FFT frequencies in each annulus.
    bin_width : float
        Width Δr of the annuli.
    """

    radii: np.ndarray
    magnitude: np.ndarray
    counts: np.ndarray
    bin_width: float

    def as_dict(self) -> dict[str, list[float] | float]:
        """Plain lists for JSON."""
        return {"radii": self.radii.tolist(), "magnitude": self.magnitude.tolist(),
                "counts": self.counts.tolist(), "bin_width": float(self.bin_width)}


def spectral_magnitude(
    values: ArrayLike,
    extent: tuple[float, float, float, float] = (-1.0, 1.0, -1.0, 1.0),
    *,
    bin_width: float | None = None,
    max_radius: float | None = None,
    window: Literal["none", "hann"] = "none",
    remove_mean: bool = False,
) -> SpectralMagnitude:
    """Total spectral magnitude M(r) of a function sampled on a regular 2-D grid, by FFT summed over annuli.

    Parameters
    ----------
    values : array-like of shape (n0, n1)
        f on the grid ``x0 = linspace(extent[0], extent[1], n0, endpoint=False)`` × the same for x1
        (axis 0 along x0). A grid that includes the end point works too; the spacing is then
        taken as (hi − lo)/n.
    extent : (float, float, float, float), default=(-1, 1, -1, 1)
        (x0_lo, x0_hi, x1_lo, x1_hi) of the sampled box.
    bin_width : float or None, default=None
        Δr of the annuli; None uses the coarser FFT frequency spacing 2π / max(L0, L1).
    max_radius : float or None, default=None
        Largest radius kept; None stops at the smaller Nyquist frequency π/h (beyond it the annuli
        are incomplete).
    window : {"none", "hann"}, default="none"
        Taper applied before the FFT to reduce leakage of non-periodic samples.
    remove_mean : bool, default=False
        Subtract the mean first (drops the spike at k = 0).

    Returns
    -------
    SpectralMagnitude

    Notes
    -----
    f̂ on the FFT lattice is approximated by h0·h1·FFT(f), and the circle integral by the mean of
    |f̂| over the lattice points of an annulus times the annulus area divided by Δr (≈ 2πr·mean;
    averaging rather than summing removes the jitter of the lattice-point count per annulus). For a
    plane wave cos(k·x) that fits the box periodically, all mass sits in the annulus of ‖k‖; for a
    Gaussian e^{−‖x‖²/(2s²)} M(r) = 2πr · 2πs² e^{−s²r²/2}. Sahs et al. (2025) plot log M(r) of
    their fits per target (their factor r is unknown: ours is included, as in a circle integral).
    """
    f = np.asarray(values, dtype=np.float64)
    if f.ndim != 2 or min(f.shape) < 2:
        raise ValueError(f"values must be a 2-D grid of shape (n0, n1) with n0, n1 >= 2; got shape {f.shape}.")
    if not np.all(np.isfinite(f)):
        raise ValueError("values contain NaN or inf; M(r) needs a finite function on the grid.")
    x0lo, x0hi, x1lo, x1hi = (float(v) for v in extent)
    if not (x0hi > x0lo and x1hi > x1lo):
        raise ValueError(f"extent must be (x0_lo, x0_hi, x1_lo, x1_hi) with hi > lo; got {extent!r}.")
    if window not in ("none", "hann"):
        raise ValueError(f"window={window!r} is unknown; use 'none' or 'hann'.")
    n0, n1 = f.shape
    h0, h1 = (x0hi - x0lo) / n0, (x1hi - x1lo) / n1
    if remove_mean:
        f = f - f.mean()
    if window == "hann":
        f = f * np.outer(np.hanning(n0), np.hanning(n1))
    F = np.abs(np.fft.fft2(f)) * h0 * h1
    k0 = 2 * np.pi * np.fft.fftfreq(n0, d=h0)
    k1 = 2 * np.pi * np.fft.fftfreq(n1, d=h1)
    dk0, dk1 = 2 * np.pi / (n0 * h0), 2 * np.pi / (n1 * h1)
    radius = np.hypot(k0[:, None], k1[None, :])
    width = float(bin_width) if bin_width is not None else max(dk0, dk1)
    if not width > 0:
        raise ValueError(f"bin_width must be > 0; got {bin_width!r}.")
    r_max = float(max_radius) if max_radius is not None else min(np.pi / h0, np.pi / h1)
    n_bins = max(1, int(np.floor(r_max / width + 0.5)))
    idx = np.floor(radius / width + 0.5).astype(np.int64)  # bin b covers [(b - 1/2)Δ, (b + 1/2)Δ)
    keep = idx < n_bins
    total = np.bincount(idx[keep], weights=F[keep], minlength=n_bins)
    counts = np.bincount(idx[keep], minlength=n_bins)
    radii = np.arange(n_bins) * width
    inner = np.clip(radii - 0.5 * width, 0.0, None)
    area = np.pi * ((radii + 0.5 * width) ** 2 - inner**2)  # area of each annulus
    mean = np.divide(total, counts, out=np.zeros(n_bins), where=counts > 0)
    return SpectralMagnitude(radii=radii, magnitude=mean * area / width, counts=counts, bin_width=width)


def ridge_spectral_magnitude(
    weight: ArrayLike,
    coef: ArrayLike,
    radii: ArrayLike,
    spectral_penalty: Any,
) -> np.ndarray:
    """Total spectral magnitude M(r) of a shallow network Σ_i c_i σ(w_i·x + b_i) in any dimension, from its Dirac lines.

    A grid FFT (:func:`spectral_magnitude`) is out of reach for d = 64 or 784 inputs; a shallow
    network's Fourier transform is known in closed form instead (spectral-bias paper, App. A-D):
    the unit σ(w·x + b) with w = ‖w‖ξ is supported on the line ℝξ, where at k = tξ it carries the
    weight (2π)^{d−1} σ̂(t/‖w‖) e^{itb/‖w‖} / ‖w‖. A line meets the sphere ‖k‖ = r in two points and
    units on different lines do not interfere, so

        M(r) = 2 (2π)^{d−1} Σ_i ‖c_i‖₁ |σ̂(r/‖w_i‖)| / ‖w_i‖,    |σ̂(ω)| = 1 / √P_σ(ω).

    The biases only set phases, so they do not enter. Units with exactly parallel w would add
    their complex weights first; with continuous weights that has probability 0.

    Parameters
    ----------
    weight : array-like of shape (n_neurons, d)
        Hidden-layer weights w_i (rows with ‖w_i‖ = 0 contribute nothing).
    coef : array-like of shape (n_neurons,) or (n_neurons, n_outputs)
        Output weights of each unit (column i of the output layer's weight); several outputs are
        summed (‖c_i‖₁).
    radii : array-like of shape (n_radii,)
        Radii r ≥ 0 at which to evaluate M.
    spectral_penalty : callable
        P_σ(ω) = 1/|σ̂(ω)|² of the activation (e.g. ``kernelreg.activations.get(name).spectral_penalty``);
        inf where σ̂ vanishes (band limits).

    Returns
    -------
    ndarray of shape (n_radii,)
        M(r) / (2 (2π)^{d−1}): the constant depends only on d and is left out. ``inf`` where σ̂ has a
        pole (r = 0 for Step or ReLU, whose P_σ vanishes there), 0 outside a band limit.
    """
    W = np.atleast_2d(np.asarray(weight, dtype=np.float64))
    c = np.asarray(coef, dtype=np.float64)
    c1 = np.abs(c) if c.ndim == 1 else np.abs(c).sum(axis=1)
    if c1.shape[0] != W.shape[0]:
        raise ValueError(f"weight has {W.shape[0]} rows (neurons) but coef has {c1.shape[0]} entries.")
    r = np.asarray(radii, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(r) & (r >= 0)):
        raise ValueError("radii must be finite and >= 0.")
    if not callable(spectral_penalty):
        raise TypeError(f"spectral_penalty must be callable(omega) -> P(omega); got {spectral_penalty!r}.")
    alpha = np.linalg.norm(W, axis=1)
    keep = alpha > 0
    alpha, c1 = alpha[keep], c1[keep]
    omega = r[:, None] / alpha[None, :]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        penalty = np.asarray(spectral_penalty(omega.ravel()), dtype=np.float64).reshape(omega.shape)
        sigma_hat = np.where(penalty > 0, 1.0 / np.sqrt(penalty), np.inf)
        terms = np.where(c1[None, :] > 0, sigma_hat * (c1 / alpha)[None, :], 0.0)
    return terms.sum(axis=1)


# ---------------------------------------------------------------------------------------------
# Zero-plane clustering
# ---------------------------------------------------------------------------------------------
def zero_planes(
    weight: ArrayLike | nn.Module,
    bias: ArrayLike | None = None,
    *,
    coordinates: Literal["sphere", "radon"] = "sphere",
) -> np.ndarray:
    """Zero-planes {x : w_i·x + b_i = 0} of a layer as points, for clustering metrics.

    Parameters
    ----------
    weight : array-like of shape (n_neurons, d), nn.Linear or kernelreg MLP
        First-layer weights; an ``nn.Linear`` or an MLP (its first hidden layer) gives both.
    bias : array-like of shape (n_neurons,) or None
        Biases in torch's convention z = w·x + b (None: zero, or taken from the module).
    coordinates : {"sphere", "radon"}, default="sphere"
        - ``"sphere"``: θ_i = (w_i, b_i)/‖(w_i, b_i)‖ on S^d — invariant to the α-rescaling, so
          only the plane (and its orientation) counts;
        - ``"radon"``: (ξ_i, γ_i) = (w_i/‖w_i‖, −b_i/‖w_i‖), unit normal and signed distance of the
          plane from the origin (the spectral-bias paper's coordinates).

    Returns
    -------
    ndarray of shape (n_neurons, d + 1)
    """
    if isinstance(weight, nn.Module):
        linear = weight.blocks[0].linear if hasattr(weight, "blocks") else weight
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"zero_planes takes an nn.Linear or a kernelreg MLP; got {type(weight).__name__}.")
        W, b = _linear_arrays(linear)
    else:
        W = np.atleast_2d(np.asarray(weight, dtype=np.float64))
        b = np.zeros(W.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
    if b.shape[0] != W.shape[0]:
        raise ValueError(f"weight has {W.shape[0]} rows (neurons) but bias has {b.shape[0]} entries.")
    if coordinates == "sphere":
        V = np.concatenate([W, b[:, None]], axis=1)
        norms = np.linalg.norm(V, axis=1, keepdims=True)
        return V / np.where(norms > 0, norms, 1.0)
    if coordinates == "radon":
        norms = np.linalg.norm(W, axis=1, keepdims=True)
        safe = np.where(norms > 0, norms, 1.0)
        return np.concatenate([W / safe, -b[:, None] / safe], axis=1)
    raise ValueError(f"coordinates={coordinates!r} is unknown; use 'sphere' or 'radon'.")


def w2_distance(
    A: ArrayLike,
    B: ArrayLike,
    *,
    matching: Literal["optimal", "nearest"] = "optimal",
) -> float:
    """W₂ distance between two equal-size point sets (e.g. the zero-planes at two training steps).

    Parameters
    ----------
    A, B : array-like of shape (n, m)
        The two sets as rows (equal weights 1/n each).
    matching : {"optimal", "nearest"}, default="optimal"
        - ``"optimal"``: the exact W₂ of the empirical measures, sqrt(min_σ (1/n) Σ ‖A_i − B_σ(i)‖²)
          over permutations σ (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment`` on the
          squared distances);
        - ``"nearest"``: the spectral-bias paper's per-step metric, the mean distance from each A_i
          to its nearest B_j (equal to W₂-type motion only when no two planes cross).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.diagnostics import w2_distance
    >>> A = np.random.default_rng(0).normal(size=(5, 3))
    >>> round(w2_distance(A, A[::-1]), 12), round(w2_distance(A, A + [3.0, 4.0, 0.0]), 12)
    (0.0, 5.0)
    """
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    B = np.atleast_2d(np.asarray(B, dtype=np.float64))
    if A.shape != B.shape:
        raise ValueError(f"w2_distance compares equal-size sets of equal dimension; got shapes {A.shape} and {B.shape}.")
    if A.shape[0] == 0:
        raise ValueError("w2_distance got empty sets.")
    sq = cdist(A, B, "sqeuclidean")  # no (n, n, m) intermediate: per training step this is the hot spot
    if matching == "optimal":
        rows, cols = linear_sum_assignment(sq)
        return float(np.sqrt(sq[rows, cols].mean()))
    if matching == "nearest":
        return float(np.sqrt(sq.min(axis=1)).mean())
    raise ValueError(f"matching={matching!r} is unknown; use 'optimal' or 'nearest'.")


def per_step_w2(snapshots: Sequence[ArrayLike], *, matching: Literal["optimal", "nearest"] = "optimal") -> np.ndarray:
    """W₂ distance between consecutive zero-plane sets of a training run (Fig. 9e of the spectral-bias paper).

    Parameters
    ----------
    snapshots : sequence of array-like of shape (n, m)
        Zero-plane sets in training order (e.g. :func:`zero_planes` after every step).
    matching : {"optimal", "nearest"}, default="optimal"

    Returns
    -------
    ndarray of shape (len(snapshots) - 1,)
    """
    snaps = list(snapshots)
    return np.array([w2_distance(a, b, matching=matching) for a, b in itertools.pairwise(snaps)])


def similarity_matrix(planes: ArrayLike, *, kind: Literal["cosine", "abs_cosine"] = "cosine") -> np.ndarray:
    """Pairwise similarity of zero-planes (cosine of their normalised (w, b) vectors).

    Parameters
    ----------
    planes : array-like of shape (n, m)
        Rows are normalised before the products (e.g. :func:`zero_planes` with "sphere").
    kind : {"cosine", "abs_cosine"}, default="cosine"
        ``"abs_cosine"`` treats a plane and its flipped orientation as identical.

    Returns
    -------
    ndarray of shape (n, n)
        Symmetric, ones on the diagonal (for non-zero rows).
    """
    P = np.atleast_2d(np.asarray(planes, dtype=np.float64))
    norms = np.linalg.norm(P, axis=1, keepdims=True)
    U = P / np.where(norms > 0, norms, 1.0)
    S = U @ U.T
    if kind == "cosine":
        return S
    if kind == "abs_cosine":
        return np.abs(S)
    raise ValueError(f"kind={kind!r} is unknown; use 'cosine' or 'abs_cosine'.")


def eigen_curve(S: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The normalised cumulative eigenvalue curve of a similarity matrix (Fig. 9f of the spectral-bias paper).

    Eigenvalues are sorted in descending order, negative ones (rounding) clipped to 0, normalised
    to sum 1 and accumulated; the x-axis is the normalised index i/n.

    Parameters
    ----------
    S : array-like of shape (n, n)
        Symmetric similarity matrix.

    Returns
    -------
    x, y : ndarray of shape (n + 1,)
        x = (0, 1/n, …, 1), y = (0, c_1, …, c_n = 1).
    """
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] == 0:
        raise ValueError(f"S must be a non-empty square matrix; got shape {S.shape}.")
    if not np.all(np.isfinite(S)):
        raise ValueError("S contains NaN or inf.")
    lam = np.clip(np.linalg.eigvalsh(0.5 * (S + S.T))[::-1], 0.0, None)
    total = lam.sum()
    if not total > 0:
        raise ValueError("the similarity matrix has no positive eigenvalue; its eigenvalue curve is undefined.")
    n = lam.shape[0]
    y = np.concatenate([[0.0], np.cumsum(lam) / total])
    x = np.arange(n + 1) / n
    return x, y


def eigen_auc(S: ArrayLike) -> float:
    """Area under the normalised cumulative eigenvalue curve: near 1 for strongly clustered planes, 0.5 for none.

    Parameters
    ----------
    S : array-like of shape (n, n)
        Symmetric similarity matrix (e.g. :func:`similarity_matrix`).

    Returns
    -------
    float
        Trapezoid area under :func:`eigen_curve`: 1 − 1/(2n) for a rank-1 matrix, exactly 0.5 for
        the identity (every plane its own cluster).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.diagnostics import eigen_auc
    >>> eigen_auc(np.eye(10)), eigen_auc(np.ones((10, 10)))
    (0.5, 0.95)
    """
    x, y = eigen_curve(S)
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


# ---------------------------------------------------------------------------------------------
# Regime statistic δ
# ---------------------------------------------------------------------------------------------
def regime_delta(
    model: Any = None,
    *,
    weight: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    coef: ArrayLike | None = None,
) -> np.ndarray:
    """Per-neuron regime statistic δ_i = ‖c_i‖² − ‖w_i‖² − b_i² of a shallow network.

    Very negative δ means the kernel regime (zero-planes frozen, only output weights move); δ > 0
    the adaptive regime. For 1-homogeneous σ (ReLU) gradient flow conserves δ.

    Parameters
    ----------
    model : RadonSplineLayer, kernelreg MLP with one hidden layer, or None
        A :class:`~kernelreg.layers.RadonSplineLayer` (its ``delta()``) or an MLP whose first
        (only) hidden layer gives w, b and whose output layer gives c (column i of the output
        weight).
    weight : array-like of shape (n_neurons, d), optional
    bias : array-like of shape (n_neurons,), optional
    coef : array-like of shape (n_neurons,) or (n_neurons, n_outputs), optional
        The arrays directly, when no model is given.

    Returns
    -------
    ndarray of shape (n_neurons,)

    Raises
    ------
    ValueError
        An MLP with more than one hidden layer (δ is a shallow-network statistic), missing or
        mismatched arrays.
    """
    if model is not None:
        if callable(getattr(model, "delta", None)):
            return np.asarray(model.delta().detach().cpu().numpy(), dtype=np.float64)
        if hasattr(model, "blocks") and hasattr(model, "output"):
            if len(model.blocks) != 1:
                raise ValueError(
                    f"regime_delta needs a shallow network (one hidden layer); this MLP has {len(model.blocks)} "
                    "hidden layers."
                )
            W, b = _linear_arrays(model.blocks[0].linear)
            c = model.output.weight.detach().to("cpu", torch.float64).numpy().T
            weight, bias, coef = W, b, c
        else:
            raise TypeError(
                f"regime_delta takes a RadonSplineLayer or a one-hidden-layer kernelreg MLP; got {type(model).__name__}."
            )
    if weight is None or coef is None:
        raise ValueError("regime_delta needs a model, or weight and coef (and optionally bias).")
    W = np.atleast_2d(np.asarray(weight, dtype=np.float64))
    b = np.zeros(W.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64).reshape(-1)
    c = np.asarray(coef, dtype=np.float64)
    c2 = c**2 if c.ndim == 1 else (c**2).sum(axis=1)
    if not (W.shape[0] == b.shape[0] == c2.shape[0]):
        raise ValueError(
            f"weight, bias and coef disagree on the number of neurons: {W.shape[0]}, {b.shape[0]} and {c2.shape[0]}."
        )
    return c2 - (W**2).sum(axis=1) - b**2
