"""The kernel regime's implicit regulariser, evaluated: the Radon / spectral seminorm J[f] of Sahs et al. (Eqs. 6–8).

Gradient flow on the output layer from zero (and the convex min-norm solve) minimises ‖c‖₂;
Sahs et al. (2025, seeds/003) rewrite that minimum in function space. With zero-planes
(ξ, γ) ∈ S^{d−1} × R distributed with density p and a network written as
f(x) = ∫∫ h(ξ, γ) σ(ξ·x − γ) dγ dξ, the cost of f is

    J_p[f] = ∫_{S^{d−1}} ∫_R h(ξ, γ)² / p(ξ, γ) dγ dξ,                                     (Eq. 6)
    h = c_d K_σ^{-1} (−∂_γ²)^{(d−1)/2} R f,      c_d = ½ (2π)^{1−d},

(R the Radon transform, K_σ convolution with σ along γ), and for a constant density p₀

    J[f] = c_d² / (π p₀) · ∫_{R^d} |f̂(k)|² ‖k‖^{d−1} P_σ(‖k‖) dk,   P_σ = 1/|σ̂|²         (Eq. 8)

(the paper's 2∫|f̂|²‖k‖^{d−1}P_σ dk times c_d²/(2π p₀)). :func:`spectral_seminorm` evaluates
J_p[f] for a function given by its Fourier transform, with any density (a constant, a fitted
:class:`~kernelreg.features.RandomFeatureMap`'s law, or a callable), and also the Radon-domain
total variation ∫∫|h| (``q=1``). :func:`model_seminorm` gives the same quantity for a fitted
kernel-regime model (coefficients on a RandomFeatureMap), and :func:`radon_representation`
returns h itself.

What is reconstructed, and how sure we are (labels as in ``research/spectral.md``):

* [RECON, high] Eq. 6 is ∫∫ h²/p with h as above: the seed keeps the words ("the numerator is
  the representational cost along the hyperplane, the denominator a hyperplane weighting factor
  which increases the importance of low-density regions") and the appendix's steps (invert K_σ,
  Fourier in γ, central slice theorem, divide by σ̂, invert).
* [DERIVED, high] c_d = ½(2π)^{1−d} is the constant of the dual-Radon inversion in the Fourier
  convention ``f̂(k) = ∫ f e^{−ik·x} dx`` (the seed says only "a constant that depends on d").
  Checked end to end: n‖c‖² of min-norm 1-D ReLU fits with n random features converges to
  J_p of the target (to 5e-4 at n = 64 000; tests/test_seminorm.py), which also fixes the
  density normalisation below.
* [DERIVED, high] h is the *even* representation: the neurons at (ξ, γ) and (−ξ, −γ) share the
  cost. It is the minimiser of ∫∫h²/p for every density with p(ξ, γ) = p(−ξ, −γ) (the odd part
  only adds cost there); for other densities J_p is an upper bound of the true minimum.
* [RECON, high] δ-terms at ω = 0 are dropped (as in the paper's Table I), so J is a seminorm:
  functions whose transform lives at k = 0 (affine functions for ReLU, constants for Step) cost
  nothing here, although a finite network pays for them with pairs of neurons.
* [DERIVED] A finite network has J_p = +∞ under any continuous density: its h is a sum of point
  masses (Dirac lines in Fourier space). Eq. 6 holds at finite width only with p the network's
  own un-normalised empirical density, where it reads J = ‖c‖²; :func:`model_seminorm` returns
  n‖c‖², the same number in the probability normalisation of the feature map's law, which for
  min-norm fits converges to J_p of the infinite-width fit as n grows.
* [DERIVED, not in the paper] ``q=1`` gives ∫∫|h|, the Radon-domain total variation that weight
  decay (the adaptive regime) penalises (Savarese et al. 2019, Ongie et al. 2020): ∫|f''| for
  ReLU and the total variation ∫|f'| for Step in 1-D; it has no density weighting.

Densities are with respect to dξ dγ, dξ the surface measure of S^{d−1} (for d = 1 the counting
measure on {+1, −1}). A fitted RandomFeatureMap stands for its law as a probability density:
p = 1/(|S^{d−1}|·2B) for |γ| ≤ B, 0 outside (ξ uniform; the evenly spaced ``directions="grid"``
have the same continuum limit).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import fft as sp_fft
from scipy import special
from scipy.integrate import quad
from scipy.interpolate import CubicSpline
from sklearn.exceptions import ConvergenceWarning

from kernelreg import activations
from kernelreg._checks import check_int, check_positive
from kernelreg.activations import Activation

__all__ = ["spectral_seminorm", "model_seminorm", "radon_representation", "radon_constant", "sphere_area"]

FourierFn = Callable[[np.ndarray], np.ndarray]
DensityFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def radon_constant(d: int) -> float:
    """c_d = ½(2π)^{1−d}, the constant of f = c_d R*{(−∂_γ²)^{(d−1)/2} R f} (dual-Radon inversion)."""
    return 0.5 * (2.0 * math.pi) ** (1 - d)


def sphere_area(d: int) -> float:
    """|S^{d−1}| = 2π^{d/2}/Γ(d/2) (2 for d = 1: the two directions ±1)."""
    return 2.0 * math.pi ** (d / 2) / math.gamma(d / 2)


# ---------------------------------------------------------------------------------------------
# Densities of zero-planes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Density:
    """p(ξ, γ): a constant (``value``) on the γ-interval ``support`` or a callable, zero outside."""

    value: float | None
    fn: DensityFn | None
    support: tuple[float, float]
    isotropic: bool

    def __call__(self, xi: np.ndarray, gamma: np.ndarray) -> np.ndarray:
        """Density at direction xi (shape (d,)) and offsets gamma."""
        if self.fn is None:
            return np.full(gamma.shape, self.value)
        return np.asarray(self.fn(xi, gamma), dtype=np.float64).reshape(gamma.shape)


def _density(density: object, d: int) -> _Density:
    """Normalise the ``density`` argument: a positive number, a fitted RandomFeatureMap or a callable p(xi, gamma)."""
    if hasattr(density, "offset_scale_") and hasattr(density, "directions_"):
        n_in = int(density.directions_.shape[1])
        if n_in != d:
            raise ValueError(
                f"spectral_seminorm: the feature map has {n_in}-dimensional inputs but d={d}; pass the "
                "input dimension of the map."
            )
        law = getattr(density, "offset_law_", "uniform")
        if law != "uniform":
            raise ValueError(
                f"spectral_seminorm: the feature map drew its offsets with offset_scale={law!r}, a law that "
                "depends on the training data through each direction, so it has no closed-form density in γ. "
                "Use a map with a numeric offset_scale (or None), or pass the density as a callable p(xi, gamma)."
            )
        B = float(density.offset_scale_)
        if not B > 0:
            raise ValueError(
                "spectral_seminorm: the feature map's offset_scale_ is 0, so all its zero-planes pass "
                "through the origin and its law has no density in γ."
            )
        return _Density(1.0 / (sphere_area(d) * 2.0 * B), None, (-B, B), True)
    if hasattr(density, "n_features") and not hasattr(density, "offset_scale_"):
        raise TypeError(
            "spectral_seminorm: density is a feature map that is not fitted (or has no zero-plane law); "
            "fit the RandomFeatureMap first."
        )
    if isinstance(density, (int, float, np.floating, np.integer)) and not isinstance(density, bool):
        value = check_positive(float(density), "density", "spectral_seminorm")
        return _Density(value, None, (-math.inf, math.inf), True)
    if callable(density):
        return _Density(None, density, (-math.inf, math.inf), False)
    raise TypeError(
        "spectral_seminorm: density must be a positive number (a constant density of zero-planes), a "
        "fitted RandomFeatureMap (its law) or a callable p(xi, gamma); "
        f"got {type(density).__name__} {density!r}."
    )


# ---------------------------------------------------------------------------------------------
# Quadrature over directions
# ---------------------------------------------------------------------------------------------


def _directions(d: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on S^{d−1}: ±1 (d = 1), m equal angles (d = 2), Gauss–Legendre × equal angles (d = 3)."""
    if d == 1:
        return np.array([[1.0], [-1.0]]), np.ones(2)
    if d == 2:
        phi = 2.0 * math.pi * np.arange(m) / m
        return np.column_stack([np.cos(phi), np.sin(phi)]), np.full(m, 2.0 * math.pi / m)
    t, wt = np.polynomial.legendre.leggauss(m)
    phi = 2.0 * math.pi * np.arange(2 * m) / (2 * m)
    T, PHI = np.meshgrid(t, phi, indexing="ij")
    s = np.sqrt(1.0 - T**2)
    xi = np.column_stack([(s * np.cos(PHI)).ravel(), (s * np.sin(PHI)).ravel(), T.ravel()])
    return xi, (wt[:, None] * np.full(2 * m, math.pi / m)[None, :]).ravel()


def _until_stable(values: Iterator[float], rtol: float, what: str) -> float:
    """The first of successive refinements that agrees with the one before to rtol (or is infinite); warns if none does."""
    previous = next(values)
    current = previous
    for current in values:
        if not math.isfinite(current) or abs(current - previous) <= rtol * abs(current):
            return current
        previous = current
    warnings.warn(
        f"spectral_seminorm: {what} did not converge to rtol={rtol:g}; the last two values were "
        f"{previous:.12g} and {current:.12g}.",
        ConvergenceWarning,
        stacklevel=4,
    )
    return current


def _converged_over_directions(value_for: Callable[[int], float], d: int, rtol: float) -> float:
    """Repeat a direction quadrature with doubled resolution until two results agree to rtol."""
    if d == 1:
        return value_for(2)
    start = 16 if d == 2 else 8
    return _until_stable((value_for(start * 2**j) for j in range(9)), rtol, "the quadrature over directions")


# ---------------------------------------------------------------------------------------------
# Fourier route (constant density, q = 2): Eq. 8
# ---------------------------------------------------------------------------------------------


def _abs2_times_penalty(f_abs: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """|f̂|² P with 0·∞ read as 0 (where f̂ underflows the penalty is irrelevant)."""
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        square = f_abs**2
        out = square * penalty
    return np.where(square == 0, 0.0, out)


def _fourier_route(f_hat: FourierFn, act: Activation, d: int, p0: float, radial: bool, rtol: float) -> float:
    """c_d²/(π p₀) ∫ |f̂(k)|² ‖k‖^{d−1} P_σ(‖k‖) dk in polar coordinates, r by QUADPACK."""
    scale = radon_constant(d) ** 2 / (math.pi * p0)
    penalty = act.spectral_penalty

    def radial_integral(xi_nodes: np.ndarray, weights: np.ndarray) -> float:
        def integrand(r: float) -> float:
            k = r * xi_nodes
            f_abs = np.abs(np.asarray(f_hat(np.linalg.norm(k, axis=1) if radial else k), dtype=np.complex128))
            value = float(weights @ _abs2_times_penalty(f_abs, np.broadcast_to(penalty(r), f_abs.shape)))
            return value * r ** (2 * d - 2)

        far = [integrand(r) for r in (1e1, 1e2, 1e3, 1e4, 1e5)]
        if not all(math.isfinite(v) for v in far):
            return math.inf  # |f̂|² P overflows: f is not in the space (e.g. f̂ decays slower than σ̂)
        scan = np.array([integrand(r) for r in np.geomspace(1e-2, 1e5, 300)])
        positive = np.nonzero(scan > 0)[0]
        if positive.size and positive[-1] < scan.size - 1 and positive[-1] > 0 and (
            scan[positive[-1]] > scan[positive[-1] - 1] * 1.0000001 and scan[positive[-1]] > 1e-250
        ):
            return math.inf  # still growing where f̂ underflows: the true integrand diverges
        result = quad(integrand, 0.0, np.inf, epsabs=0.0, epsrel=0.1 * rtol, limit=500, full_output=1)
        value = result[0]
        if not math.isfinite(value) or far[-1] * 1e5 > 1e-3 * value:
            return math.inf  # the integrand does not decay faster than 1/r
        if len(result) > 3:  # QUADPACK's own warning (its message is the fourth item)
            warnings.warn(f"spectral_seminorm: the radial integral may be inaccurate: {result[3]}",
                          ConvergenceWarning, stacklevel=4)
        return scale * value

    if radial:
        return radial_integral(np.eye(d)[:1], np.array([sphere_area(d)]))
    return _converged_over_directions(lambda m: radial_integral(*_directions(d, m)), d, rtol)


# ---------------------------------------------------------------------------------------------
# Radon route (any density, q = 1 or 2): h(ξ, γ) by FFT along γ
# ---------------------------------------------------------------------------------------------


def _filter(act: Activation, d: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(ω, f̂) ↦ ĥ = c_d |ω|^{d−1} f̂/σ̂(ω): 0 where f̂ = 0 or σ̂ = ∞ (δ-terms dropped), ∞ where only σ̂ vanishes."""
    c = radon_constant(d)

    def apply(w: np.ndarray, f_vals: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            s_hat = act.fourier(w)
            out = c * np.abs(w) ** (d - 1) * f_vals / s_hat
        return np.where((f_vals == 0) | np.isinf(np.abs(s_hat)), 0.0, out)

    return apply


def _omega_max(spectrum: Callable[[np.ndarray], np.ndarray], rtol: float) -> float:
    """Smallest ω_max with ∫_{|ω|>ω_max} |ĥ| below rtol/100 of ∫|ĥ| (read off a log grid up to 1e5)."""
    w = np.geomspace(1e-3, 1e5, 4001)
    with np.errstate(all="ignore"):
        a = np.abs(spectrum(w)) + np.abs(spectrum(-w))
    if not np.all(np.isfinite(a)):
        return math.inf
    tail = np.cumsum((a[:-1] * np.diff(w))[::-1])[::-1]  # ∫_{w_i}^{1e5}
    total = tail[0]
    if total == 0:
        return 1.0
    if a[-1] * w[-1] > 1e-2 * total:  # |ĥ| not integrable by 1e5: h is not a function we can resolve
        return math.inf
    above = np.nonzero(tail > 0.01 * rtol * total)[0]
    return float(max(w[above[-1] + 1] if above.size else w[0], 1.0))


def radon_representation(
    f_hat: FourierFn,
    activation: str | Activation | Callable,
    xi: npt.ArrayLike,
    *,
    d: int | None = None,
    radial: bool = False,
    omega_max: float = 200.0,
    gamma_max: float = 20.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The Radon-domain coefficient field h(ξ, ·) of f for one activation: the network f "wants" at direction ξ.

    ``h = c_d K_σ^{-1} (−∂_γ²)^{(d−1)/2} R f``, computed from ĥ(ξ, ω) = c_d |ω|^{d−1} f̂(ωξ)/σ̂(ω)
    by one FFT along γ (the trapezoidal rule for the inverse Fourier integral, spectrally accurate
    for smooth, decaying ĥ).

    Parameters
    ----------
    f_hat : callable
        ``f_hat(k)`` for k of shape (m, d) returning f̂(k) = ∫ f(x) e^{−ik·x} dx, shape (m,); with
        ``radial=True`` it receives ‖k‖ of shape (m,) instead.
    activation : str, Activation or callable
        σ; it needs a closed-form Fourier transform (``activation.fourier``).
    xi : array-like of shape (d,)
        A unit direction.
    d : int, default=None
        Input dimension; taken from ``xi`` when None.
    radial : bool, default=False
    omega_max : float, default=200.0
        Highest frequency kept (sets the γ step π/omega_max).
    gamma_max : float, default=20.0
        h is returned on [−gamma_max, gamma_max) (its period is 2·gamma_max).

    Returns
    -------
    gamma : ndarray of shape (n,)
    h : ndarray of shape (n,)
        Real for real f (the imaginary rounding residue is dropped).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.seminorm import radon_representation
    >>> f_hat = lambda k: np.sqrt(2 * np.pi) * np.exp(-k[:, 0] ** 2 / 2)   # f = e^{-x²/2}
    >>> g, h = radon_representation(f_hat, "relu", [1.0])                   # h = f''/2 in 1-D
    >>> bool(np.allclose(h, 0.5 * (g**2 - 1) * np.exp(-g**2 / 2), atol=1e-12))
    True
    """
    xi = np.asarray(xi, dtype=np.float64).ravel()
    d = xi.size if d is None else check_int(d, "d", "radon_representation")
    if xi.size != d or not math.isclose(float(np.linalg.norm(xi)), 1.0, rel_tol=1e-9):
        raise ValueError(f"radon_representation: xi must be a unit vector of length d={d}; got {xi!r}.")
    act = _activation_with_fourier(activation, "radon_representation")
    return _h_on_grid(f_hat, _filter(act, d), xi, radial, omega_max, gamma_max)


def _h_on_grid(
    f_hat: FourierFn, multiplier: Callable, xi: np.ndarray, radial: bool, omega_max: float, gamma_max: float
) -> tuple[np.ndarray, np.ndarray]:
    """h(ξ, γ) on γ = −L, −L+Δ, …, L−Δ with Δ = π/ω_max, L = gamma_max, by an inverse FFT of ĥ."""
    ratio = gamma_max * omega_max / math.pi  # half the number of points at step π/ω_max
    half = int(round(ratio)) if abs(ratio - round(ratio)) < 1e-9 * ratio else int(math.ceil(ratio))
    n = 2 * max(8, half)
    delta = 2.0 * gamma_max / n
    w = 2.0 * math.pi * sp_fft.fftfreq(n, d=delta)
    k = w[:, None] * xi[None, :]
    with np.errstate(all="ignore"):
        spec = multiplier(w, np.asarray(f_hat(np.abs(w) if radial else k), dtype=np.complex128))
        if not np.isfinite(spec[0]):  # the ω = 0 value is a limit: take the mean of ±tiny
            tiny = 1e-9 * (w[1] - w[0])
            kt = np.array([tiny, -tiny])
            both = np.asarray(f_hat(np.abs(kt) if radial else kt[:, None] * xi[None, :]), dtype=np.complex128)
            spec[0] = np.mean(multiplier(kt, both))
    gamma = -gamma_max + delta * np.arange(n)
    # h(γ_j) = (1/2π) Σ_k ĥ(ω_k) e^{iω_kγ_j} Δω, Δω = 2π/(nΔ); γ_j starts at −L: phase e^{−iω_k L}
    values = sp_fft.ifft(spec * np.exp(-1j * w * gamma_max)) / delta
    return gamma, values.real


def _activation_with_fourier(activation: object, owner: str) -> Activation:
    """The activation, which must have a closed-form Fourier transform."""
    act = activations.get(activation)
    if act.fourier(1.0) is None:
        raise ValueError(
            f"{owner}: activation {act!r} has no closed-form Fourier transform, so K_σ^-1 (division by "
            "σ̂) cannot be applied; pick an activation from kernelreg.activations.available() with one "
            "or build one with design_activation."
        )
    return act


_NOISE = 1e-13  # |h| below this fraction of max|h| is rounding noise of the FFT, not signal


def _integrate_gamma(gamma: np.ndarray, h: np.ndarray, weight: np.ndarray | None, q: int,
                     support: tuple[float, float]) -> float:
    """∫ |h|^q / p^{q−1} over the γ-support by a cubic spline of the samples.

    For q = 1 the spline's roots split the range so |h| is integrated piecewise exactly. For q = 2
    the range ends where |h| falls to rounding noise, so a growing 1/p does not amplify noise.
    """
    lo, hi = max(support[0], gamma[0]), min(support[1], gamma[-1])
    if q == 2:
        signal = np.nonzero(np.abs(h) > _NOISE * np.abs(h).max())[0]
        if signal.size == 0:
            return 0.0
        lo = max(lo, gamma[max(signal[0] - 2, 0)])
        hi = min(hi, gamma[min(signal[-1] + 2, gamma.size - 1)])
    inside = (gamma >= lo - 1e-12) & (gamma <= hi + 1e-12)
    g = gamma[inside]
    if g.size < 4:
        return 0.0
    if q == 1:
        spline = CubicSpline(g, h[inside])
        cuts = np.concatenate([[lo], spline.roots(extrapolate=False), [hi]])
        cuts = np.unique(np.clip(cuts, lo, hi))
        return float(sum(abs(spline.integrate(a, b)) for a, b in zip(cuts[:-1], cuts[1:])))
    return float(CubicSpline(g, h[inside] ** 2 / weight[inside]).integrate(lo, hi))


def _radon_route(
    f_hat: FourierFn, act: Activation, d: int, dens: _Density, q: int, radial: bool, rtol: float,
    omega_max: float | None, gamma_max: float | None,
) -> float:
    """∫_S ∫_R |h|^q/p^{q−1} with h from FFTs along γ, refined (finer step and longer period) until stable."""
    multiplier = _filter(act, d)
    support = dens.support if q == 2 else (-math.inf, math.inf)
    B = max(abs(support[0]), abs(support[1])) if math.isfinite(support[0]) else 0.0

    def spectrum_of(x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        return lambda w: multiplier(w, np.asarray(f_hat(np.abs(w) if radial else w[:, None] * x[None, :]),
                                                  dtype=np.complex128))

    def value_at(xi_nodes: np.ndarray, weights: np.ndarray, w_max: float, L: float) -> float:
        total = 0.0
        for x, wt in zip(xi_nodes, weights):
            gamma, h = _h_on_grid(f_hat, multiplier, x, radial, w_max, L)
            if not np.all(np.isfinite(h)):
                return math.inf
            weight = None
            if q == 2:
                weight = dens(x, gamma)
                outside = (gamma < support[0] - 1e-12) | (gamma > support[1] + 1e-12) | ~(weight > 0)
                if np.any(np.abs(h[outside]) > 1e-8 * max(np.abs(h).max(), 1e-300)):
                    return math.inf  # h lives where no zero-plane does: J is infinite
                weight = np.where(outside, 1.0, weight)
            total += wt * _integrate_gamma(gamma, h, weight, q, support)
        return total

    def direction_value(m: int) -> float:
        xi_nodes, weights = _directions(d, m)
        if radial and dens.isotropic:
            xi_nodes, weights = np.eye(d)[:1], np.array([sphere_area(d)])
        if omega_max is None:
            w_max = max(_omega_max(spectrum_of(x), rtol) for x in xi_nodes[: min(len(xi_nodes), 8)])
        else:
            w_max = float(omega_max)
        if not math.isfinite(w_max):
            return math.inf
        L = gamma_max if gamma_max is not None else max(8.0, 2.0 * B)
        if B > 0:  # the support edges ±B fall on grid points
            L = B * math.ceil(L / B)
        if gamma_max is not None and omega_max is not None:
            return value_at(xi_nodes, weights, _grid_omega(w_max, B), L)
        grow = 1.0 if gamma_max is not None else 2.0  # halve the step and (unless fixed) double the period
        levels = (value_at(xi_nodes, weights, _grid_omega(w_max * 2**j, B), L * grow**j) for j in range(9))
        return _until_stable(levels, rtol, "the FFT grid along γ")

    if radial and dens.isotropic:
        return direction_value(1)
    return _converged_over_directions(direction_value, d, rtol)


def _grid_omega(w_max: float, B: float) -> float:
    """ω_max rounded up so that the γ step π/ω_max divides B (support edges on grid points)."""
    if B <= 0:
        return w_max
    steps = math.ceil(B * w_max / math.pi)
    return math.pi * steps / B


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def spectral_seminorm(
    f_hat: FourierFn,
    activation: str | Activation | Callable | None = None,
    *,
    d: int,
    density: float | object | DensityFn = 1.0,
    q: Literal[1, 2] = 2,
    radial: bool = False,
    method: Literal["auto", "fourier", "radon"] = "auto",
    rtol: float = 1e-9,
    omega_max: float | None = None,
    gamma_max: float | None = None,
) -> float:
    """The kernel regime's implicit regulariser J_p[f] (Sahs et al., Eqs. 6–8): what min-norm fits pay for f.

    Parameters
    ----------
    f_hat : callable
        The Fourier transform of f, ``f_hat(k)`` for k of shape (m, d) returning shape (m,), in
        the convention f̂(k) = ∫ f(x) e^{−ik·x} dx. With ``radial=True`` it is called with ‖k‖
        of shape (m,) (for radial f, any d).
    activation : str, Activation or callable, default=None
        σ. None takes the activation of a RandomFeatureMap passed as ``density``.
    d : int
        Input dimension. Non-radial functions need d <= 3 (quadrature over S^{d−1}).
    density : float, fitted RandomFeatureMap or callable, default=1.0
        Density p(ξ, γ) of zero-planes w.r.t. dξ dγ:

        - a positive number: constant (the paper's "hypothetical uniform density"); Eq. 8.
        - a fitted :class:`~kernelreg.features.RandomFeatureMap`: its law as a probability density,
          1/(|S^{d−1}|·2B) on |γ| <= B and 0 outside (so J is infinite when h reaches |γ| > B);
          maps with data-aware offsets (``offset_scale="data"`` or ``"quantile"``) are refused.
        - a callable ``p(xi, gamma)`` (xi of shape (d,), gamma of shape (m,)), smooth and
          positive where h is not zero.

        Ignored for ``q=1``.
    q : {1, 2}, default=2
        2: the paper's J_p = ∫∫ h²/p (kernel regime). 1: ∫∫ |h| (the Radon-domain total
        variation of the adaptive regime / weight decay; not density weighted).
    radial : bool, default=False
        f̂ depends on ‖k‖ only (then ``f_hat`` receives ‖k‖).
    method : {"auto", "fourier", "radon"}, default="auto"
        - ``"fourier"``: Eq. 8, a radial QUADPACK integral per direction; only for a constant
          density and q = 2.
        - ``"radon"``: h(ξ, γ) by FFT along γ, then ∫|h|^q/p^{q−1} by cubic splines (any density).
        - ``"auto"``: Fourier when it applies, else Radon.
    rtol : float, default=1e-9
        Target relative accuracy (quadrature tolerances, grid refinement, direction doubling).
    omega_max, gamma_max : float, optional
        Fix the frequency cut-off and the γ half-period of the Radon route instead of choosing
        them adaptively.

    Returns
    -------
    float
        J_p[f] (q = 2) or ∫∫|h| (q = 1); ``inf`` when f is not representable with finite cost
        (1/σ̂ times f̂ not square-integrable, or h non-zero where p = 0).

    Raises
    ------
    ValueError
        Unknown ``q``/``method``, d < 1, non-radial f with d > 3, an activation without a
        closed-form transform, or "fourier" with a non-constant density.
    TypeError
        ``density`` of the wrong kind.

    Notes
    -----
    Closed forms (tests/test_seminorm.py), constant density p₀, f = e^{−x²/2} in 1-D:
    ReLU J = (1/2p₀)∫f''² = 3√π/(8p₀); Step J = (1/2p₀)∫f'² = √π/(4p₀); q = 1: ReLU ∫|f''| =
    4e^{−1/2}, Step TV(f) = 2. Every assumption and its confidence is listed in the module
    docstring.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.seminorm import spectral_seminorm
    >>> f_hat = lambda k: np.sqrt(2 * np.pi) * np.exp(-k[:, 0] ** 2 / 2)   # f = e^{-x²/2}
    >>> bool(np.isclose(spectral_seminorm(f_hat, "relu", d=1), 3 * np.sqrt(np.pi) / 8, rtol=1e-8))
    True
    """
    d = check_int(d, "d", "spectral_seminorm")
    if q not in (1, 2) or isinstance(q, bool):
        raise ValueError(f"spectral_seminorm: q must be 2 (the kernel-regime J) or 1 (Radon total variation); got {q!r}.")
    if method not in ("auto", "fourier", "radon"):
        raise ValueError(f"spectral_seminorm: method must be 'auto', 'fourier' or 'radon'; got {method!r}.")
    if not radial and d > 3:
        raise ValueError(
            f"spectral_seminorm: a non-radial f needs a quadrature over S^{d - 1}, implemented for d <= 3; "
            f"got d={d}. Pass radial=True (f_hat of ‖k‖) for radial functions in any dimension."
        )
    rtol = check_positive(rtol, "rtol", "spectral_seminorm")
    if activation is None:
        activation = getattr(density, "activation_", None)
        if activation is None:
            raise ValueError("spectral_seminorm: pass an activation (or a fitted RandomFeatureMap as density).")
    dens = _density(density, d)
    constant = dens.fn is None and not math.isfinite(dens.support[0])
    if method == "fourier" and not (constant and q == 2):
        raise ValueError(
            "spectral_seminorm: method='fourier' (Eq. 8) needs a constant density on all of R and q=2; "
            "use method='radon' for a density with bounded support, a callable density or q=1."
        )
    if method == "fourier" or (method == "auto" and constant and q == 2):
        act = activations.get(activation)
        if act.spectral_penalty(1.0) is None:
            raise ValueError(
                f"spectral_seminorm: activation {act!r} has no closed-form spectral penalty; pick one from "
                "kernelreg.activations.available() or build one with design_activation."
            )
        return _fourier_route(f_hat, act, d, float(dens.value), radial, rtol)
    act = _activation_with_fourier(activation, "spectral_seminorm")
    return _radon_route(f_hat, act, d, dens, int(q), radial, rtol, omega_max, gamma_max)


def model_seminorm(coef: npt.ArrayLike | object, feature_map: object, *, q: Literal[1, 2] = 2) -> float | np.ndarray:
    """J of a fitted kernel-regime model (or of the convex solution) in its feature map's law: n‖c‖² (q=2), Σ|c| (q=1).

    A finite network f = Σ_i c_i σ(ξ_i·x − γ_i) has h = Σ_i c_i δ_{(ξ_i, γ_i)}, so its J under a
    continuous density is infinite; Eq. 6 holds with p = the network's own (un-normalised)
    zero-plane distribution, where ∫∫h²/p = ‖c‖² exactly (Sahs et al., App. A-B). In the
    probability normalisation of the map's law (the one :func:`spectral_seminorm` uses with
    ``density=feature_map``) the same number is n‖c‖². For the min-norm solution of data from a
    function f*, n‖c‖² converges as n grows to J_p of the infinite-width min-norm fit, which is at
    most J_p[f*] (tests/test_seminorm.py checks 1-D ReLU to 1 %). A GD or Adam solution on the
    same map has a larger value: the excess is the part of ‖c‖ that Eq. 4 says GD from zero
    avoids.

    Parameters
    ----------
    coef : array-like of shape (n_features,) or (n_features, n_outputs), or a Solution
    feature_map : fitted RandomFeatureMap
        The map the coefficients belong to (its width must equal the coefficient length).
    q : {1, 2}, default=2
        2: n‖c‖² (kernel regime). 1: Σ|c_i|, the Radon-domain total variation ∫∫|h| of the
        network (exact when no two units share a zero-plane).

    Returns
    -------
    float, or ndarray of shape (n_outputs,) for 2-D coefficients
    """
    c = np.asarray(getattr(coef, "coef", coef), dtype=np.float64)
    if not hasattr(feature_map, "directions_") or not hasattr(feature_map, "offsets_"):
        raise TypeError(
            "model_seminorm: feature_map must be a fitted kernelreg.features.RandomFeatureMap (its zero-plane "
            f"law defines the density); got {type(feature_map).__name__}."
        )
    n = int(feature_map.directions_.shape[0])
    if c.ndim not in (1, 2) or c.shape[0] != n:
        raise ValueError(
            f"model_seminorm: coef has shape {c.shape} but the feature map has {n} features; pass the "
            "coefficients fitted on this map."
        )
    if q not in (1, 2) or isinstance(q, bool):
        raise ValueError(f"model_seminorm: q must be 2 or 1; got {q!r}.")
    value = n * np.sum(c**2, axis=0) if q == 2 else np.sum(np.abs(c), axis=0)
    return float(value) if c.ndim == 1 else np.asarray(value)
