"""Activations designed from a desired spectral penalty (Sahs et al., Eq. 10): σ = F⁻¹[e^{iφ}/√P].

The kernel regime penalises |f̂(k)|² ‖k‖^{d−1} P_σ(‖k‖) with P_σ = 1/|σ̂|² (Eq. 8), so a wanted
activation factor P fixes |σ̂| = P^{-1/2} and leaves the phase free. :func:`design_activation`
takes the phase ``φ(ω) = −m (π/2) sgn ω`` (σ̂ = (−i sgn ω)^m / √P, real σ for every real m) and
tabulates σ(x) = (1/π) ∫₀^∞ P(ω)^{-1/2} cos(ωx − mπ/2) dω by QUADPACK on Chebyshev panels, so
the result is an ordinary :class:`~kernelreg.activations.Activation` (torch and numpy, with
``spectral_penalty`` = P and ``fourier`` = e^{iφ}/√P) usable in layers, feature maps and
estimators.

What the inverse cannot recover (the kernel of the map σ ↦ P_σ):

* the phase: m = 0 gives the even σ, m = 1 the odd one of Step/Logistic/Atan/Erf/Tanh, m = 2 that
  of ReLU/Softplus/GELU/SiLU, m = p+1 that of relu_power(p); a sign (m → m + 2) and a translation
  (a linear phase) are invisible too. Activations whose phase is not of this form (half_exp and
  the Oberhettinger III.10 candidate, whose phase −arctan ω is the minimum phase; satrelu; elu;
  rectangle, whose real σ̂ changes sign) come back as a different function with the same
  penalty — e.g. P = 1 + ω² with m = 0 gives K₀(|x|)/π instead of e^{−x}H(x);
* polynomials: δ-terms at ω = 0 are dropped, so when P^{-1/2} ~ ω^{−a} at 0 the result differs
  from any σ with that penalty by a polynomial of degree < a − 1 (Step, Logistic, Atan, Erf,
  Tanh: a constant; ReLU, Softplus: an affine function; relu_power(2), power_softplus(2): a
  quadratic; relu_power(3.5): a cubic).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import torch
from scipy import fft as sp_fft
from scipy.integrate import IntegrationWarning, quad, quad_vec

from kernelreg._checks import check_positive
from kernelreg.activations import Activation

__all__ = ["design_activation"]

_NODES = 16  # Chebyshev degree per panel (17 points of the second kind)
_GRADING = 8  # panels at x_max/2, x_max/4, ..., x_max/2^8 on each side of 0
_MAX_SPLITS = 12


def _amplitude(penalty: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """ω ↦ P(ω)^{-1/2} (0 where P is infinite)."""

    def amplitude(w: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            p = np.asarray(penalty(w), dtype=np.float64)
            return 1.0 / np.sqrt(p)  # 1/sqrt(inf) = 0

    amplitude.raw = penalty  # the scalar path of _Inverse calls P directly
    return amplitude


def _raw_penalty(penalty: Callable | Activation) -> Callable[[np.ndarray], np.ndarray]:
    """The fastest callable for P: an activation's closed form itself (QUADPACK calls it point by point)."""
    if isinstance(penalty, Activation):
        raw, params = penalty._penalty, penalty.params
        if raw is not None:
            return lambda w: raw(np.asarray(w, dtype=np.float64), **params)
        return penalty.spectral_penalty
    return penalty


def _power_at(amplitude: Callable, w1: float, w2: float) -> float:
    """Exponent b of amplitude ~ ω^{−b} between two frequencies (inf when it vanishes)."""
    a1, a2 = float(amplitude(np.array([w1]))[0]), float(amplitude(np.array([w2]))[0])
    if a2 == 0.0:
        return math.inf
    return -math.log(a2 / a1) / math.log(w2 / w1)


class _Inverse:
    """σ(x) = (1/π) ∫₀^∞ A(ω) cos(ωx − mπ/2) dω, the Taylor terms of degree <= K removed on [0, 1].

    The removed terms integrate to a polynomial of degree <= K in x (finite-part regularisation of
    the divergent low-frequency integral); K is the smallest integer with K > a0 − 2 for
    A ~ ω^{−a0} at 0. The head [0, 1] is one vector-valued adaptive integral over all points (the
    subtracted bracket is summed as its Taylor tail where ωx is small, so it does not cancel); the
    tail [1, ∞) uses QUADPACK's Fourier integrators point by point.
    """

    def __init__(self, amplitude: Callable, m: float, a0: float, cut: float) -> None:
        self.A, self.m, self.cut = amplitude, m, cut
        self.raw = getattr(amplitude, "raw", None)
        self.K = int(math.floor(round(a0, 6) - 2.0)) + 1  # smallest K with K > a0 − 2
        self.power = self.K + 1 - a0  # the head integrand behaves like ω^power at 0
        self.cos_m, self.sin_m = math.cos(0.5 * math.pi * m), math.sin(0.5 * math.pi * m)
        self.noise = 0.0  # the largest quadrature error estimate so far (absolute, before the 1/π)

    def _scalar(self, w: float) -> float:
        """A(ω) at one frequency, without array overhead (QUADPACK calls it ~10⁵ times per table)."""
        p = float(self.raw(np.float64(w)))
        return 0.0 if p == math.inf else 1.0 / math.sqrt(max(p, 5e-324))  # P underflows before A overflows

    def _bracket(self, z: np.ndarray) -> np.ndarray:
        """cos(z − mπ/2) − Σ_{j<=K} cos((j − m)π/2) z^j/j!, accurate for small z too."""
        K, m = self.K, self.m
        direct = np.cos(z - 0.5 * math.pi * m)
        for j in range(K + 1):
            direct = direct - math.cos(0.5 * math.pi * (j - m)) * z**j / math.factorial(j)
        small = np.abs(z) < 0.5
        if not small.any():
            return direct
        series = np.zeros_like(z)
        for j in range(K + 1, K + 22):  # |z| < 1/2: 21 terms leave < 1e-25 relative to the first
            series = series + math.cos(0.5 * math.pi * (j - m)) * z**j / math.factorial(j)
        return np.where(small, series, direct)

    def _head(self, xs: np.ndarray) -> np.ndarray:
        """∫₀¹ A(ω) bracket(ωx) dω for all x at once (ω = u² when the integrand is singular at 0)."""
        square = self.power < 0

        def integrand(u: float) -> np.ndarray:
            w = u * u if square else u
            jac = 2.0 * u if square else 1.0
            if w == 0.0:
                return np.zeros_like(xs)
            return self._scalar(w) * jac * self._bracket(w * xs)

        value, error = quad_vec(integrand, 0.0, 1.0, epsabs=1e-15, epsrel=1e-13, limit=2000)
        self.noise = max(self.noise, float(error))
        return value

    def _finite_tail(self, xs: np.ndarray) -> np.ndarray:
        """∫₁^cut A(ω) cos(ωx − mπ/2) dω for all x at once (A negligible beyond cut)."""
        def integrand(w: float) -> np.ndarray:
            return self._scalar(w) * np.cos(w * xs - 0.5 * math.pi * self.m)

        value, error = quad_vec(integrand, 1.0, self.cut, epsabs=1e-15, epsrel=1e-13, limit=20000)
        self.noise = max(self.noise, float(error))
        return value

    def _infinite_tail(self, x: float) -> float:
        """∫₁^∞ A(ω) cos(ωx − mπ/2) dω for a slowly decaying A: QUADPACK's Fourier integrator QAWF."""
        A = self._scalar
        if x == 0.0:
            return 0.0 if abs(self.cos_m) < 1e-15 else self.cos_m * quad(A, 1.0, np.inf, epsabs=1e-15, limit=400)[0]
        # ω = u/|x|: unit frequency for every x (QAWF's cycles are then well sized even for tiny |x|)
        sign, ax = (1.0 if x > 0 else -1.0), abs(x)
        scaled = lambda u: A(u / ax) / ax  # noqa: E731
        split = ax + 10.0 * math.pi  # five periods by QAWO, the rest by QAWF (weak at its first cycle)
        opts = {"wvar": 1.0, "epsabs": 1e-15, "epsrel": 1e-13}

        def part(weight: str) -> float:
            head = quad(scaled, ax, split, weight=weight, limit=400, **opts)[0]
            return head + quad(scaled, split, np.inf, weight=weight, limlst=200, **opts)[0]

        c = part("cos") if abs(self.cos_m) >= 1e-15 else 0.0
        s = part("sin") if abs(self.sin_m) >= 1e-15 else 0.0
        return self.cos_m * c + self.sin_m * sign * s

    def __call__(self, xs: np.ndarray) -> np.ndarray:
        """σ at each point (float64)."""
        xs = np.ravel(np.asarray(xs, dtype=np.float64))
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", IntegrationWarning)  # accuracy is checked on the table
            if self.cut <= 1.0:
                tail = np.zeros_like(xs)
            elif math.isfinite(self.cut):
                tail = self._finite_tail(xs)
            else:
                tail = np.array([self._infinite_tail(float(x)) for x in xs])
            return (self._head(xs) + tail) / math.pi


def _cheb_points(a: float, b: float) -> np.ndarray:
    """Chebyshev points of the second kind on [a, b], from b down to a."""
    return 0.5 * (a + b) + 0.5 * (b - a) * np.cos(np.pi * np.arange(_NODES + 1) / _NODES)


def _cheb_coefficients(values: np.ndarray) -> np.ndarray:
    """Chebyshev coefficients of the interpolant through values at the second-kind points (DCT-I)."""
    c = sp_fft.dct(values, type=1) / _NODES
    c[0] *= 0.5
    c[-1] *= 0.5
    return c


class _Table:
    """Piecewise Chebyshev table of σ on [−x_max, x_max]: breakpoints and coefficients, evaluated by Clenshaw in torch."""

    def __init__(self, breaks: np.ndarray, coefs: np.ndarray, at_zero: float, x_max: float) -> None:
        self.breaks, self.coefs, self.at_zero, self.x_max = breaks, coefs, at_zero, x_max
        self._cache: dict = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cache"] = {}  # device tensors are rebuilt on first use
        return state

    def __eq__(self, other: object) -> bool:
        """Same table (so copies, clones and unpickled activations compare equal)."""
        if not isinstance(other, _Table):
            return NotImplemented
        return (self.x_max == other.x_max and self.at_zero == other.at_zero
                and np.array_equal(self.breaks, other.breaks) and np.array_equal(self.coefs, other.coefs))

    def __hash__(self) -> int:
        return hash((self.x_max, self.breaks.size, float(self.coefs.sum())))

    def _tensors(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = (like.device, like.dtype)
        if key not in self._cache:
            self._cache[key] = (
                torch.as_tensor(self.breaks, device=like.device, dtype=like.dtype),
                torch.as_tensor(self.coefs, device=like.device, dtype=like.dtype),
            )
        return self._cache[key]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """σ(x) by Clenshaw's recurrence on the panel of each x (differentiable in x)."""
        if x.numel() and bool(torch.abs(x.detach()).max() > self.x_max):
            worst = float(torch.abs(x.detach()).max())
            raise ValueError(
                f"designed activation: it is tabulated on [-{self.x_max:g}, {self.x_max:g}] but got an input of "
                f"size {worst:.4g}; rebuild it with design_activation(..., x_max={2 * worst:.3g}) or scale the inputs."
            )
        breaks, coefs = self._tensors(x)
        idx = torch.clamp(torch.searchsorted(breaks, x.detach().contiguous(), right=True) - 1, 0, coefs.shape[0] - 1)
        a, b = breaks[idx], breaks[idx + 1]
        t = (2.0 * x - a - b) / (b - a)
        c = coefs[idx]
        b1 = torch.zeros_like(x)
        b2 = torch.zeros_like(x)
        for k in range(coefs.shape[1] - 1, 0, -1):
            b1, b2 = c[..., k] + 2.0 * t * b1 - b2, b1
        value = c[..., 0] + t * b1 - b2
        return torch.where(x == 0, torch.as_tensor(self.at_zero, dtype=x.dtype, device=x.device), value)


def _one_sided(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """Chebyshev nodes with an end at 0 moved a hair into the panel (1e-13 of its width)."""
    nudge = 1e-13 * (b - a)
    return np.where(x == 0.0, nudge if a == 0.0 else -nudge, x)


def _tabulate(sigma: _Inverse, x_max: float, tol: float) -> _Table:
    """Chebyshev panels graded towards 0 on each side, split until the trailing coefficients are below tol.

    All panels of one refinement level are evaluated in one call, so the vector-valued head
    integral is shared by every node.
    """
    edges = x_max * 2.0 ** -np.arange(_GRADING, -1, -1.0)
    positive = [(0.0, edges[0])] + list(zip(edges[:-1], edges[1:]))
    pending = [(-b, -a) for a, b in reversed(positive)] + positive
    done: list[tuple[float, float, np.ndarray]] = []
    scale = 1e-300
    for depth in range(_MAX_SPLITS + 1):
        if not pending:
            break
        # a panel touching 0 takes its one-sided limit there (σ may jump at 0; σ(0) itself is kept apart)
        nodes = np.concatenate([_one_sided(_cheb_points(a, b), a, b) for a, b in pending])
        values = sigma(nodes).reshape(len(pending), _NODES + 1)
        coefs = [_cheb_coefficients(v) for v in values]
        scale = max(scale, max(float(np.abs(c).sum()) for c in coefs))
        split = []
        floor = max(tol * max(scale, 1.0), 10.0 * sigma.noise / math.pi)  # what the quadrature can resolve
        for (a, b), c in zip(pending, coefs):
            if np.abs(c[-3:]).max() > floor and depth < _MAX_SPLITS:
                mid = 0.5 * (a + b)
                split += [(a, mid), (mid, b)]
            else:
                done.append((a, b, c))
        pending = split
    done.sort(key=lambda panel: panel[0])
    breaks = np.array([p[0] for p in done] + [done[-1][1]])
    return _Table(breaks, np.stack([p[2] for p in done]), float(sigma(np.array([0.0]))[0]), x_max)


class _DesignedFourier:
    """ω ↦ (−i sgn ω)^m / √P(ω), the transform of the designed σ (picklable when P is)."""

    def __init__(self, penalty: Callable, m: float) -> None:
        self.penalty, self.m = penalty, m

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _DesignedFourier) and (self.penalty, self.m) == (other.penalty, other.m)

    def __hash__(self) -> int:
        return hash(self.m)

    def __call__(self, w: np.ndarray) -> np.ndarray:
        amp = _amplitude(self.penalty)(w)
        phase = -0.5 * math.pi * self.m * np.sign(w)
        return amp * np.exp(1j * phase)


class _Penalty:
    """The wanted P, returned as float64 arrays."""

    def __init__(self, penalty: Callable) -> None:
        self.penalty = penalty

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Penalty) and self.penalty == other.penalty

    def __hash__(self) -> int:
        return 0

    def __call__(self, w: np.ndarray) -> np.ndarray:
        return np.asarray(self.penalty(np.asarray(w, dtype=np.float64)), dtype=np.float64)


def design_activation(
    penalty: Callable[[np.ndarray], np.ndarray] | Activation,
    *,
    phase: float = 0.0,
    x_max: float = 10.0,
    name: str = "designed",
    tol: float = 1e-11,
) -> Activation:
    """An activation whose kernel-regime penalty factor is a given P (Sahs et al., Eq. 10), ready for any layer or map.

    Parameters
    ----------
    penalty : callable or Activation
        P(ω) > 0 on numpy arrays, even in ω (``inf`` allowed, e.g. outside a band); or an
        Activation whose ``spectral_penalty`` is used.
    phase : float, default=0.0
        m in σ̂ = (−i sgn ω)^m / √P: 0 even, 1 Step-like, 2 ReLU-like, p + 1 for relu_power(p).
    x_max : float, default=10.0
        σ is tabulated on [−x_max, x_max]; larger inputs raise ``ValueError``.
    name : str, default="designed"
    tol : float, default=1e-11
        Relative size of the trailing Chebyshev coefficients at which a panel is accepted.

    Returns
    -------
    Activation
        Callable on tensors (differentiable) and numpy arrays; ``spectral_penalty`` is P itself
        and ``fourier`` is (−i sgn ω)^m/√P.

    Raises
    ------
    ValueError
        P not positive or not even, 1/√P not decaying (σ would contain a δ), or σ unbounded at 0
        (for example P = ω² with m = 0, which gives −log|x|/π).

    Notes
    -----
    σ(x) = (1/π) ∫₀^∞ P(ω)^{-1/2} cos(ωx − mπ/2) dω, with the divergent low-frequency part
    regularised (a polynomial, see the module docstring) and evaluated by QUADPACK: an adaptive
    rule on [0, 1] and the Fourier integrator QAWF on [1, ∞). The table has Chebyshev panels of
    degree 16 graded towards x = 0, where singular behaviour (jumps, kinks, x^{3.5}) sits for
    these phases; building it costs a few hundred QUADPACK calls (about a second).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.activation_design import design_activation
    >>> relu_like = design_activation(lambda w: w**4, phase=2)    # |x|/2, i.e. relu(x) - x/2 up to a constant
    >>> v = relu_like(np.array([-2.0, 0.5, 3.0]))
    >>> bool(np.allclose(v - v[1], np.abs([-2.0, 0.5, 3.0]) / 2 - 0.25, atol=1e-8))
    True
    """
    if isinstance(penalty, Activation):
        if penalty.spectral_penalty(1.0) is None:
            raise ValueError(f"design_activation: {penalty!r} has no closed-form spectral penalty to design from.")
        fast = _raw_penalty(penalty)
        penalty = penalty.spectral_penalty
    else:
        fast = penalty
    if not callable(penalty):
        raise TypeError(f"design_activation: penalty must be a callable P(omega); got {type(penalty).__name__}.")
    m = float(phase)
    if not math.isfinite(m):
        raise ValueError(f"design_activation: phase must be a finite real number; got {phase!r}.")
    x_max = check_positive(x_max, "x_max", "design_activation")
    tol = check_positive(tol, "tol", "design_activation")
    amplitude = _amplitude(fast)
    probe = np.geomspace(1e-3, 1e3, 61)
    with np.errstate(all="ignore"):
        p_plus = np.asarray(penalty(probe), dtype=np.float64)
        p_minus = np.asarray(penalty(-probe), dtype=np.float64)
    if np.any(np.isnan(p_plus)) or np.any(p_plus <= 0):
        raise ValueError("design_activation: the penalty must be positive (inf allowed) at every ω != 0; "
                         f"got min {np.nanmin(p_plus):.3g} on [1e-3, 1e3].")
    if not np.allclose(p_minus, p_plus, rtol=1e-10, equal_nan=False):
        raise ValueError("design_activation: the penalty must be even, P(−ω) = P(ω), since σ is real "
                         "(|σ̂(−ω)| = |σ̂(ω)|).")
    a0 = _power_at(amplitude, 1e-7, 1e-6)  # A ~ ω^{-a0} at 0
    b_inf = _power_at(amplitude, 1e4, 1e5)  # A ~ ω^{-b} at infinity
    if not b_inf > 0:
        raise ValueError(
            "design_activation: 1/√P(ω) does not decay at large ω, so σ would contain a Dirac δ "
            "(P must grow without bound or be infinite outside a band)."
        )
    if not (b_inf > 1.0 + 1e-6 or (b_inf >= 1.0 - 1e-6 and abs(math.cos(0.5 * math.pi * m)) < 1e-12)):
        raise ValueError(
            f"design_activation: 1/√P decays like |ω|^-{b_inf:.3g}, so σ is unbounded at x = 0 with phase "
            f"m={m:g} (P = ω² with m = 0 is −log|x|/π) and cannot be tabulated; use a penalty growing faster "
            "than ω² or the odd phase m = 1."
        )
    cut = _band_edge(amplitude)
    table = _tabulate(_Inverse(amplitude, m, a0, cut), x_max, tol)
    return Activation(table, name=name, fourier=_DesignedFourier(penalty, m), penalty=_Penalty(penalty))


def _band_edge(amplitude: Callable) -> float:
    """Where 1/√P falls below 1e-18 of its peak for good (a band limit, or fast decay), else inf.

    The edge is located by bisection, so a hard band limit (sinc) ends the integration exactly there
    instead of inside a quadrature panel.
    """
    w = np.geomspace(1.0, 1e6, 4001)
    a = amplitude(w)
    level = 1e-18 * max(a.max(), 1e-300)
    significant = np.nonzero(a > level)[0]
    if significant.size == 0:
        return 1.0
    if significant[-1] == w.size - 1 or w[significant[-1]] > 1e3:
        return math.inf  # slow (power-law) decay: QUADPACK's Fourier integrator on [1, ∞) instead
    lo, hi = float(w[significant[-1]]), float(w[significant[-1] + 1])
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if float(amplitude(np.array([mid]))[0]) > level:
            lo = mid
        else:
            hi = mid
    return lo
