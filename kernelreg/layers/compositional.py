"""Compositional (triangle-wave) ReLU networks: 2^d linear pieces from a 4-wide, d-deep ReLU network.

F_d(x) = x + σ Σ_{i=1}^{d} |s_i| W_i(x),   W_i = t_{a_i} ∘ … ∘ t_{a_1},   x ∈ [0, 1]

with the asymmetric triangle t_a(y) = y/a on [0, a] and (1 − y)/(1 − a) on [a, 1]
(Milkert, Hyde & Laine, *Compelling ReLU networks to exhibit exponentially many linear regions at
initialization and during training*, ICML 2025, seed papers 001 + 004; ``research/compositional.md``).

One set of parameters (the peaks a_1 … a_{d+1}, and in the free variant the scales |s_i|) serves
several exact views:

- ``forward``: the closed form above (used for pretraining, stage 2 of the paper's pipeline);
- ``mlp_weights`` / ``to_mlp``: the width-4 ReLU network with neurons (sum, t1, t2, bias) whose
  hidden layers carry no ordinary bias (stage 3 trains these weights);
- ``features``: the frozen columns [x, W_1(x), …, W_d(x)] with ``forward = features @ coef``;
- ``linear_pieces``: the exact breakpoints and slopes of F_d, composed analytically.

:class:`CompositionalLayer` applies one such network per feature (a learned 1-d activation per
unit, block-diagonal 4×4 blocks when materialised).

This module belongs to the layers stage: it imports only ``_torch`` and ``exceptions``. It is
long because the views above are one parametrisation: splitting them would pass the private
peak/scale state between modules and let the views drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from numbers import Integral, Real
from typing import Literal, Union

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state
from torch import nn

from kernelreg._torch import resolve_device, resolve_dtype, seed_generator
from kernelreg.exceptions import KernelregError

__all__ = ["CompositionalNetwork", "CompositionalLayer", "triangle", "MODES", "FIRST_FACTORS"]

#: Shapes of the output: "convex" subtracts the waves (σ = −1), "concave" adds them (σ = +1).
MODES = ("convex", "concave")
#: Rules for the first scale's first factor, s_1 = σ·f·a_2 (see CompositionalNetwork, Notes).
FIRST_FACTORS = ("auto", "mirrored", "recurrence")
_A_INITS = ("half", "uniform")
_S_INITS = ("recurrence", "yarotsky")
_INPUT_MAPS = ("sigmoid", "clamp", "none")
#: a_init="uniform" draws every peak from U(0.5 − w, 0.5 + w) with this w (research note §5).
UNIFORM_HALF_WIDTH = 0.2
#: Depth above which the exact (rational) piece count is refused as too slow; use exact=False.
_EXACT_MAX_DEPTH = 16

PeakInit = Union[Literal["half", "uniform"], ArrayLike]


# ---- shared validation ------------------------------------------------------------------------------
def _depth(value: object, owner: str) -> int:
    """depth as an int >= 1, else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(
            f"{owner} needs depth to be an integer >= 1 (the number of hidden layers = triangles); "
            f"got depth={value!r}."
        )
    return int(value)


def _margin(value: object, owner: str) -> float:
    """a_margin as a float in [0, 0.5), else a ValueError naming it."""
    ok = isinstance(value, Real) and not isinstance(value, bool) and 0 <= float(value) < 0.5
    if not ok:
        raise ValueError(
            f"{owner} needs a_margin in [0, 0.5): the peaks are kept in (a_margin, 1 − a_margin); "
            f"got a_margin={value!r}."
        )
    return float(value)


def _mode(value: object, owner: str) -> str:
    """A mode name, else a ValueError listing the known ones."""
    if not isinstance(value, str) or value not in MODES:
        raise ValueError(
            f"{owner} mode={value!r} is unknown; use one of {list(MODES)} ('convex' subtracts the "
            "waves from the line y = x, 'concave' adds them)."
        )
    return value


def _first_factor(value: object, mode: str, owner: str) -> str:
    """Resolve first_factor ('auto' → 'mirrored' for convex, 'recurrence' for concave)."""
    if not isinstance(value, str) or value not in FIRST_FACTORS:
        raise ValueError(f"{owner} first_factor={value!r} is unknown; use one of {list(FIRST_FACTORS)}.")
    if value == "auto":
        return "mirrored" if mode == "convex" else "recurrence"
    return value


def _check_peaks(a: np.ndarray, margin: float, owner: str) -> None:
    """Peaks must be finite and inside (0, 1), and inside (margin, 1 − margin) for the smooth map."""
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{owner} peaks must be finite numbers in (0, 1); got {a.tolist()}.")
    bad = (a <= 0) | (a >= 1)
    if bad.any():
        raise ValueError(
            f"{owner} peaks must lie strictly inside (0, 1) (t_a needs a ∈ (0, 1)); got "
            f"{a[bad].tolist()} at positions {np.flatnonzero(bad).tolist()}."
        )
    bad = (a <= margin) | (a >= 1 - margin)
    if bad.any():
        raise ValueError(
            f"{owner} keeps its peaks in (a_margin, 1 − a_margin) = ({margin}, {1 - margin}) by a smooth "
            f"map; the peaks {a[bad].tolist()} at positions {np.flatnonzero(bad).tolist()} lie outside. "
            "Move them inside or lower a_margin."
        )


def _initial_peaks(a_init: object, shape: tuple[int, ...], margin: float, rng, owner: str) -> np.ndarray:
    """Initial peaks of the given shape (..., depth + 1) from 'half', 'uniform' or an array."""
    if isinstance(a_init, str):
        if a_init == "half":
            return np.full(shape, 0.5)
        if a_init == "uniform":
            gen = seed_generator(check_random_state(rng))
            u = torch.rand(shape, generator=gen, dtype=torch.float64).numpy()
            return 0.5 + UNIFORM_HALF_WIDTH * (2 * u - 1)
        raise ValueError(
            f"{owner} a_init={a_init!r} is unknown; use one of {list(_A_INITS)} or an array of peaks."
        )
    a = np.asarray(a_init, dtype=np.float64)
    d = shape[-1] - 1
    if a.shape[-1:] == (d,) and a.shape[:-1] == shape[:-1]:
        a = np.concatenate([a, np.full(shape[:-1] + (1,), 0.5)], axis=-1)  # a_{d+1} = 1/2 by default
    if a.shape != shape:
        raise ValueError(
            f"{owner} a_init as an array must have shape {shape} (a_1 … a_{{d+1}}) or {shape[:-1] + (d,)} "
            f"(a_{{d+1}} = 1/2 is then appended); got shape {a.shape}."
        )
    _check_peaks(a, margin, owner)
    return a


# ---- the one definition, shared by the network and the layer ----------------------------------------
def triangle(y: torch.Tensor, a: torch.Tensor | float) -> torch.Tensor:
    """The asymmetric triangle t_a(y) = y/a on [0, a], (1 − y)/(1 − a) on [a, 1] (peak 1 at y = a).

    Parameters
    ----------
    y : Tensor
        Inputs in [0, 1] (not checked here).
    a : Tensor or float
        Peak location(s) in (0, 1), broadcast against ``y``.

    Returns
    -------
    Tensor
        t_a(y), same shape as the broadcast of ``y`` and ``a``.

    Examples
    --------
    >>> import torch
    >>> triangle(torch.tensor([0.0, 0.25, 0.5, 1.0], dtype=torch.float64), 0.25).tolist()
    [0.0, 1.0, 0.6666666666666666, 0.0]
    """
    return torch.where(y <= a, y / a, (1 - y) / (1 - a))


def _peaks_from_logits(theta: torch.Tensor, margin: float) -> torch.Tensor:
    """Smooth map ℝ → (margin, 1 − margin): a = ½ + (½ − margin)·tanh(θ/2) (θ = 0 gives exactly ½)."""
    return 0.5 + (0.5 - margin) * torch.tanh(0.5 * theta)


def _logits_from_peaks(a: np.ndarray, margin: float) -> np.ndarray:
    """Inverse of _peaks_from_logits."""
    return 2.0 * np.arctanh((a - 0.5) / (0.5 - margin))


def _enforced_magnitudes(a: torch.Tensor, mirrored: torch.Tensor) -> torch.Tensor:
    """|s_1| … |s_d| from peaks (n, d + 1): |s_1| = f·a_2, |s_{i+1}| = |s_i|(1 − a_{i+1})a_{i+2} (eq. 5)."""
    first = torch.where(mirrored, a[:, 0], 1 - a[:, 0]) * a[:, 1]
    ratios = (1 - a[:, 1:-1]) * a[:, 2:]
    ones = torch.ones_like(first)[:, None]
    return first[:, None] * torch.cat([ones, torch.cumprod(ratios, dim=1)], dim=1)


def _waves(u: torch.Tensor, a: torch.Tensor, depth: int) -> torch.Tensor:
    """W_1 … W_d of u: shape (..., n) with peaks (n, d + 1) → (..., n, d)."""
    out, w = [], u
    for i in range(depth):
        w = triangle(w, a[:, i])
        out.append(w)
    return torch.stack(out, dim=-1)


def _block_weights(a: torch.Tensor, mags: torch.Tensor, sigma: torch.Tensor, offset: torch.Tensor) -> dict:
    """Weights of n width-4 blocks (sum, t1, t2, bias), differentiable in a and |s| (research note §2.1)."""
    n, depth = mags.shape
    one, zero = torch.ones_like(a[:, 0]), torch.zeros_like(a[:, 0])
    w_in = torch.stack([one, one, one, zero], dim=1)
    b_in = torch.stack([offset, zero, -a[:, 0], one], dim=1)
    hidden, prev = [], one
    for layer in range(1, depth + 1):
        ratio = mags[:, layer - 1] / prev  # S_l = |s_l| / |s_{l-1}|
        al = a[:, layer - 1]
        p, q = ratio / al, -ratio / (al * (1 - al))
        if layer < depth:
            rows = [
                torch.stack([one, sigma * p, sigma * q, zero], dim=1),
                torch.stack([zero, p, q, zero], dim=1),
                torch.stack([zero, p, q, -ratio * a[:, layer]], dim=1),
                torch.stack([zero, zero, zero, ratio], dim=1),
            ]
            hidden.append(torch.stack(rows, dim=1))
        else:
            w_out = torch.stack([one, sigma * p, sigma * q, zero], dim=1)
        prev = mags[:, layer - 1]
    return {"w_in": w_in, "b_in": b_in, "hidden": hidden, "w_out": w_out, "b_out": -offset}


def _piece_structure(a: Sequence, s: Sequence, exact: bool) -> tuple[list | np.ndarray, list | np.ndarray]:
    """Breakpoints (2^d + 1) and slopes (2^d) of x + Σ s_i W_i, composed analytically.

    Every linear piece of W_{i-1} is monotone from 0 to 1 (or 1 to 0); t_{a_i} splits it at the
    point where W_{i-1} = a_i into an increasing piece and a decreasing piece, with the chain-rule
    slopes g/a_i and −g/(1 − a_i). Exact rational arithmetic when ``exact``, else numpy float64.
    """
    if exact:
        a = [Fraction(float(v)) for v in a]
        s = [Fraction(float(v)) for v in s]
        xs, inc, g, f = [Fraction(0), Fraction(1)], [True], [Fraction(1)], [Fraction(1)]
        for ai, si in zip(a, s):
            nx, ninc, ng, nf = [xs[0]], [], [], []
            for k in range(len(inc)):
                left, right = xs[k], xs[k + 1]
                if inc[k]:
                    mid, gl, gr = left + ai * (right - left), g[k] / ai, -g[k] / (1 - ai)
                else:
                    mid, gl, gr = left + (1 - ai) * (right - left), -g[k] / (1 - ai), g[k] / ai
                nx += [mid, right]
                ninc += [True, False]
                ng += [gl, gr]
                nf += [f[k] + si * gl, f[k] + si * gr]
            xs, inc, g, f = nx, ninc, ng, nf
        return xs, f
    xs, inc = np.array([0.0, 1.0]), np.array([True])
    g, f = np.array([1.0]), np.array([1.0])
    for ai, si in zip(np.asarray(a, float), np.asarray(s, float)):
        left, right = xs[:-1], xs[1:]
        mid = np.where(inc, left + ai * (right - left), left + (1 - ai) * (right - left))
        gl = np.where(inc, g / ai, -g / (1 - ai))
        gr = np.where(inc, -g / (1 - ai), g / ai)
        new_x = np.empty(2 * len(mid) + 1)
        new_x[0], new_x[1::2], new_x[2::2] = xs[0], mid, right
        g = np.stack([gl, gr], axis=1).ravel()
        f = np.stack([f + si * gl, f + si * gr], axis=1).ravel()
        inc = np.tile([True, False], len(mid))
        xs = new_x
    return xs, f



def _relu_sequential(pairs: list, hidden_bias: bool) -> nn.Sequential:
    """Linear layers with the given exact (weight, bias) pairs and ReLU between them, detached copies.

    Hidden layers get a bias only when ``hidden_bias`` (the exact hidden biases are zero).
    """
    modules: list[nn.Module] = []
    for k, (w, b) in enumerate(pairs):
        hidden = 0 < k < len(pairs) - 1
        lin = nn.Linear(w.shape[1], w.shape[0], bias=hidden_bias or not hidden, dtype=w.dtype, device=w.device)
        with torch.no_grad():
            lin.weight.copy_(w)
            if lin.bias is not None:
                lin.bias.copy_(b)
        modules.append(lin)
        if k < len(pairs) - 1:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)

class _TriangleBlocks(nn.Module):
    """Parameters and views shared by CompositionalNetwork (one block) and CompositionalLayer (n blocks)."""

    def __init__(
        self,
        n_blocks: int,
        depth: int,
        modes: Sequence[str],
        *,
        enforce_differentiability: bool,
        a_init: PeakInit,
        a_margin: float,
        first_factor: str,
        s_init: str | ArrayLike,
        random_state,
        dtype,
        device,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.depth = _depth(depth, owner)
        self.a_margin = _margin(a_margin, owner)
        modes = [_mode(m, owner) for m in modes]
        self.modes = tuple(modes)
        self.first_factors = tuple(_first_factor(first_factor, m, owner) for m in modes)
        self.first_factor = first_factor
        if not isinstance(enforce_differentiability, (bool, np.bool_)):
            raise ValueError(
                f"{owner} needs enforce_differentiability to be True or False; got {enforce_differentiability!r}."
            )
        self.enforce_differentiability = bool(enforce_differentiability)
        torch_dtype, torch_device = resolve_dtype(dtype), resolve_device(device)
        rng = check_random_state(random_state)
        peaks = _initial_peaks(a_init, (n_blocks, self.depth + 1), self.a_margin, rng, owner)
        kw = {"dtype": torch_dtype, "device": torch_device}
        self.logits = nn.Parameter(torch.as_tensor(_logits_from_peaks(peaks, self.a_margin), **kw))
        self.register_buffer("sigma", torch.tensor([-1.0 if m == "convex" else 1.0 for m in modes], **kw))
        self.register_buffer("mirrored", torch.tensor([f == "mirrored" for f in self.first_factors], device=torch_device))
        if self.enforce_differentiability:
            self.register_parameter("log_scales", None)
        else:
            mags = self._initial_magnitudes(s_init, owner)
            self.log_scales = nn.Parameter(torch.log(mags))

    # ---- parameters -------------------------------------------------------------------------------
    def _initial_magnitudes(self, s_init: object, owner: str) -> torch.Tensor:
        """|s| for the free variant: from the rule at the initial peaks, Yarotsky's 4^-i, or given."""
        n, d = self.logits.shape[0], self.depth
        kw = {"dtype": self.logits.dtype, "device": self.logits.device}
        if isinstance(s_init, str):
            if s_init == "recurrence":
                with torch.no_grad():
                    return _enforced_magnitudes(self.peaks_matrix(), self.mirrored).clone()
            if s_init == "yarotsky":
                return (4.0 ** -torch.arange(1, d + 1, **kw)).expand(n, d).clone()
            raise ValueError(f"{owner} s_init={s_init!r} is unknown; use one of {list(_S_INITS)} or an array.")
        s = np.asarray(s_init, dtype=np.float64)
        if s.shape not in ((d,), (n, d)):
            raise ValueError(f"{owner} s_init as an array must have shape ({d},) or ({n}, {d}); got {s.shape}.")
        s = np.broadcast_to(s, (n, d))
        sig = self.sigma.cpu().numpy()[:, None]
        if not np.all(np.isfinite(s)) or np.any(s == 0):
            raise ValueError(f"{owner} s_init must be finite and nonzero; got {s.tolist()}.")
        if not (np.all(s > 0) or np.all(np.sign(s) == sig)):
            raise ValueError(
                f"{owner} s_init gives the scales' magnitudes |s_i| > 0 (the sign is the mode's: "
                f"{'-' if sig[0, 0] < 0 else '+'} for {self.modes[0]!r}); got signs that disagree: {s.tolist()}."
            )
        return torch.as_tensor(np.abs(s).copy(), **kw)

    def peaks_matrix(self) -> torch.Tensor:
        """Peaks a_1 … a_{d+1} of every block, shape (n_blocks, depth + 1), on the autograd graph."""
        return _peaks_from_logits(self.logits, self.a_margin)

    def magnitudes_matrix(self) -> torch.Tensor:
        """|s_1| … |s_d| of every block, shape (n_blocks, depth): the rule (eq. 5) or the free values."""
        if self.log_scales is None:
            return _enforced_magnitudes(self.peaks_matrix(), self.mirrored)
        return torch.exp(self.log_scales)

    def _set_peaks_matrix(self, peaks: ArrayLike) -> None:
        """Overwrite the peaks (checked) without changing the parameter object."""
        a = np.asarray(peaks, dtype=np.float64)
        shape = tuple(self.logits.shape)
        if a.shape != shape:
            raise ValueError(f"{type(self).__name__} peaks must have shape {shape}; got {a.shape}.")
        _check_peaks(a, self.a_margin, type(self).__name__)
        with torch.no_grad():
            self.logits.copy_(torch.as_tensor(_logits_from_peaks(a, self.a_margin)))

    def _offsets(self, mags: torch.Tensor) -> torch.Tensor:
        """Constant carried by each sum neuron so that its ReLU never clips (0 where provably unneeded).

        Added waves keep the running sum >= x >= 0, and subtracted waves under the rule with the
        mirrored first factor keep it >= F_∞ >= 0 (F_∞ convex with F(0) = F'(0) = 0). Otherwise
        (free scales or the 'recurrence' first factor with subtracted waves) the running sum may dip
        below 0, so the sum neuron carries c = Σ_{i<d} |s_i| >= −min(running sum) and the output
        bias removes it again.
        """
        enforced = self.log_scales is None
        safe = (self.sigma > 0) | (self.mirrored if enforced else torch.zeros_like(self.mirrored))
        bound = mags[:, :-1].sum(dim=1).detach()
        return torch.where(safe, torch.zeros_like(bound), bound)

    def block_weights(self) -> dict:
        """Per-block MLP weights, differentiable in the parameters (see ``mlp_weights``)."""
        mags = self.magnitudes_matrix()
        return _block_weights(self.peaks_matrix(), mags, self.sigma, self._offsets(mags))

    def _closed_form(self, u: torch.Tensor) -> torch.Tensor:
        """u + σ Σ |s_i| W_i(u) for u of shape (..., n_blocks) in [0, 1]."""
        w = _waves(u, self.peaks_matrix(), self.depth)
        return u + self.sigma * (w * self.magnitudes_matrix()).sum(dim=-1)

    def _as_input(self, x) -> torch.Tensor:
        """x as a floating tensor of the parameters' dtype and device."""
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        return x.to(dtype=self.logits.dtype, device=self.logits.device)


class CompositionalNetwork(_TriangleBlocks):
    """Width-4, depth-d ReLU network forced to have 2^d linear pieces on [0, 1] (triangle-wave form).

    F_d(x) = x + σ Σ_{i=1}^{d} |s_i| W_i(x) with W_i = t_{a_i} ∘ … ∘ t_{a_1} the composed asymmetric
    triangles. Every peak vector a ∈ (0, 1)^d gives exactly 2^d linear pieces, and the network
    cannot suffer dying ReLU. The trainable parameters are the peaks (through a smooth map into
    (a_margin, 1 − a_margin)) and, in the free variant, the scales.

    Parameters
    ----------
    depth : int
        d >= 1: number of hidden layers = number of triangles.
    mode : {"convex", "concave"}, default="convex"
        - ``"convex"``: the waves are subtracted from y = x (σ = −1), for targets such as x³, x¹¹.
        - ``"concave"``: the waves are added (σ = +1), for sin(πx/2), tanh(3x).
    enforce_differentiability : bool, default=True
        ``True``: the scales follow the differentiability rule s_{i+1} = s_i(1 − a_{i+1})a_{i+2}
        (paper eq. 5), so only the peaks train. ``False``: the "free" variant, the magnitudes
        |s_i| = exp(ρ_i) are trainable parameters (the sign stays the mode's).
    a_init : {"half", "uniform"} or array-like, default="half"
        Initial peaks a_1 … a_{d+1}:

        - ``"half"``: every a_i = ½ (with the rule and ``"convex"`` this is exactly Yarotsky's
          x − Σ g_i/4^i ≈ x²);
        - ``"uniform"``: i.i.d. U(0.3, 0.7) from a local generator seeded by ``random_state``;
        - an array of d + 1 peaks, or of d peaks (a_{d+1} = ½ is appended).
    a_margin : float, default=0.05
        The peaks live in (a_margin, 1 − a_margin) through a = ½ + (½ − a_margin)·tanh(θ/2).
        The weights 1/(a(1 − a)) blow up at the ends, and the limit theorem needs a ∈ [ε, 1 − ε].
    first_factor : {"auto", "mirrored", "recurrence"}, default="auto"
        The factor f in s_1 = σ·f·a_2:

        - ``"mirrored"``: f = a_1 (the mirror image x → 1 − x of the added case; F'(0) → 0);
        - ``"recurrence"``: f = 1 − a_1 (the rule applied once more with s_0 = 1; F'(1) → 0 when
          adding, F'(1) → 2 when subtracting);
        - ``"auto"``: ``"mirrored"`` for ``"convex"``, ``"recurrence"`` for ``"concave"``.
    s_init : {"recurrence", "yarotsky"} or array-like, default="recurrence"
        Initial magnitudes |s_1| … |s_d| of the free variant (ignored when the rule is enforced):
        the rule at the initial peaks, 4^-i, or given values (> 0, or all of the mode's sign).
    clamp_input : bool, default=False
        The closed form is defined on [0, 1] only. ``False``: inputs outside raise a ValueError.
        ``True``: they are clamped into [0, 1] first (``to_mlp`` does not clamp: outside [0, 1] it
        is the ReLU network's own extension).
    random_state : int, RandomState or None, default=None
        Seeds the draw of ``a_init="uniform"`` through a local torch.Generator.
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
    device : str or torch.device, default="cpu"

    Attributes
    ----------
    logits : Parameter of shape (1, depth + 1)
        θ with a = ½ + (½ − a_margin)·tanh(θ/2).
    log_scales : Parameter of shape (1, depth) or None
        ρ with |s| = exp(ρ) (free variant only).
    peaks : Tensor of shape (depth + 1,)
        a_1 … a_{d+1} (a_{d+1} forms no triangle; it sets the last scale through the rule).
    scales : Tensor of shape (depth,)
        Signed s_1 … s_d.
    n_features_out : int
        depth + 1, the number of columns of ``features``.

    Raises
    ------
    ValueError
        depth < 1, unknown mode / first_factor / a_init / s_init, peaks outside (0, 1) or outside
        (a_margin, 1 − a_margin), inputs outside [0, 1] (unless ``clamp_input``).

    See Also
    --------
    CompositionalLayer : one such network per feature, as a layer.
    kernelreg.training.compositional.train_compositional : the three-stage training.

    Notes
    -----
    The differentiability rule (paper Thm 3.4) fixes only the ratios s_{i+1}/s_i; ``first_factor``
    picks the convention for s_1. The v1 text says subtracting "requires the first scaling factor
    to be … instead of …" with the values lost; the research note (§2.3) rates the mirrored
    reading f = a_1 the likely one for subtracted waves, because with f = 1 − a_1 the limit has
    F'(1) = 2 fixed and cannot fit x¹¹, and its running sum dips below 0. Both readings stay
    reachable; with ``"recurrence"`` and ``"convex"`` the sum neuron of ``to_mlp`` carries a
    constant offset so that its ReLU never clips and the views still agree exactly.

    The last scale s_d needs one extra peak a_{d+1} that forms no triangle (research note §2.1,
    open item 2). It is a trainable parameter like the others.

    The MLP view (research note §2.1): the input layer maps x to (x, x, x − a_1, 1); hidden layer
    l → l + 1 multiplies by

        [ 1  σp_l  σq_l  0         ]
        [ 0   p_l   q_l  0         ]     S_l = |s_l|/|s_{l-1}|, p_l = S_l/a_l,
        [ 0   p_l   q_l  −S_l a_{l+1} ]   q_l = −S_l/(a_l(1 − a_l))
        [ 0   0     0    S_l       ]

    with no ordinary bias (the 4th neuron is a self-scaling constant), and the output row is
    (1, σp_d, σq_d, 0).

    Examples
    --------
    >>> import torch
    >>> net = CompositionalNetwork(3)          # Yarotsky's x − g_1/4 − g_2/16 − g_3/64
    >>> x = torch.linspace(0, 1, 17, dtype=torch.float64)
    >>> (net(x) - x**2).abs().max().item()     # 2^-(2·3+2), at the midpoints of the pieces
    0.00390625
    >>> net.n_linear_pieces()
    8
    >>> mlp = net.to_mlp()
    >>> bool(torch.allclose(mlp(x[:, None])[:, 0], net(x), atol=1e-14, rtol=0))
    True
    """

    def __init__(
        self,
        depth: int,
        mode: Literal["convex", "concave"] = "convex",
        *,
        enforce_differentiability: bool = True,
        a_init: PeakInit = "half",
        a_margin: float = 0.05,
        first_factor: Literal["auto", "mirrored", "recurrence"] = "auto",
        s_init: Literal["recurrence", "yarotsky"] | ArrayLike = "recurrence",
        clamp_input: bool = False,
        random_state: int | np.random.RandomState | None = None,
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> None:
        owner = type(self).__name__
        _mode(mode, owner)
        if not isinstance(a_init, str):
            a_init = np.asarray(a_init, dtype=np.float64)
            d = _depth(depth, owner)
            if a_init.shape not in ((d,), (d + 1,)):
                raise ValueError(
                    f"{owner} a_init as an array must hold the d + 1 = {d + 1} peaks a_1 … a_{{d+1}} (or d = {d}, "
                    f"with a_{{d+1}} = 1/2 appended); got shape {a_init.shape}."
                )
            a_init = a_init[None, :]
        if not isinstance(s_init, str):
            s_init = np.asarray(s_init, dtype=np.float64)
        super().__init__(
            1,
            depth,
            [mode],
            enforce_differentiability=enforce_differentiability,
            a_init=a_init,
            a_margin=a_margin,
            first_factor=first_factor,
            s_init=s_init,
            random_state=random_state,
            dtype=dtype,
            device=device,
        )
        self.mode = mode
        self.clamp_input = bool(clamp_input)

    # ---- parameter views -------------------------------------------------------------------------
    @property
    def peaks(self) -> torch.Tensor:
        """a_1 … a_{d+1}, shape (depth + 1,)."""
        return self.peaks_matrix()[0]

    @property
    def scales(self) -> torch.Tensor:
        """Signed scales s_1 … s_d, shape (depth,)."""
        return self.sigma[0] * self.magnitudes_matrix()[0]

    @property
    def n_features_out(self) -> int:
        return self.depth + 1

    def set_peaks(self, peaks: ArrayLike) -> CompositionalNetwork:
        """Overwrite the peaks with d + 1 values in (a_margin, 1 − a_margin); returns self."""
        a = np.asarray(peaks, dtype=np.float64)
        if a.shape == (self.depth,):
            a = np.append(a, 0.5)
        self._set_peaks_matrix(a[None, :] if a.ndim == 1 else a)
        return self

    # ---- function views --------------------------------------------------------------------------
    def _unit_interval(self, x) -> torch.Tensor:
        """x on [0, 1] (checked, or clamped when clamp_input), as a tensor of the parameters' dtype."""
        x = self._as_input(x)
        if torch.isnan(x).any():
            raise ValueError(f"{type(self).__name__} got NaN inputs; the closed form needs x in [0, 1].")
        if self.clamp_input:
            return x.clamp(0.0, 1.0)
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"{type(self).__name__} evaluates its closed form on [0, 1] only; got inputs in "
                f"[{float(x.min()):.6g}, {float(x.max()):.6g}]. Rescale them, pass clamp_input=True, or "
                "use to_mlp() for the ReLU network's extension outside [0, 1]."
            )
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """F_d(x) = x + σ Σ |s_i| W_i(x), same shape as x (any shape; values in [0, 1])."""
        u = self._unit_interval(x)
        return self._closed_form(u[..., None])[..., 0]

    def waves(self, x: torch.Tensor) -> torch.Tensor:
        """W_1(x) … W_d(x), shape x.shape + (depth,)."""
        u = self._unit_interval(x)
        return _waves(u[..., None], self.peaks_matrix(), self.depth)[..., 0, :]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Frozen-feature view Φ = [x, W_1(x), …, W_d(x)], shape x.shape + (depth + 1,).

        ``forward(x) == features(x) @ coef()``; a convex solve on Φ learns the scales directly.
        Computed on the autograd graph; wrap in ``torch.no_grad()`` to export a frozen Φ.
        """
        u = self._unit_interval(x)
        return torch.cat([u[..., None], self.waves(u)], dim=-1)

    def coef(self) -> torch.Tensor:
        """[1, s_1, …, s_d]: the readout of ``features`` that gives ``forward``."""
        return torch.cat([torch.ones_like(self.scales[:1]), self.scales])

    def mlp_weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight, bias) of every Linear layer of the MLP view, differentiable in the parameters.

        Returns
        -------
        list of (Tensor, Tensor)
            depth + 1 pairs: (4×1, 4), then depth − 1 times (4×4, zeros(4)), then (1×4, 1).
        """
        blocks = self.block_weights()
        zeros4 = torch.zeros(4, dtype=self.logits.dtype, device=self.logits.device)
        layers = [(blocks["w_in"][0][:, None], blocks["b_in"][0])]
        layers += [(m[0], zeros4) for m in blocks["hidden"]]
        layers.append((blocks["w_out"][0][None, :], blocks["b_out"]))
        return layers

    def to_mlp(self, hidden_bias: bool = True) -> nn.Sequential:
        """The width-4 ReLU network with the exact weights, as a plain ``nn.Sequential``.

        Parameters
        ----------
        hidden_bias : bool, default=True
            Give the hidden ``Linear`` layers a bias (initialised to 0, as the paper's stage 3
            trains "the zero hidden biases" too). ``False`` builds them with ``bias=False``.

        Returns
        -------
        nn.Sequential
            Linear(1, 4), ReLU, [Linear(4, 4), ReLU] × (depth − 1), Linear(4, 1), detached from
            this module (its parameters are fresh leaves), in this module's dtype and device.
            It maps (n, 1) to (n, 1).
        """
        return _relu_sequential(self.mlp_weights(), hidden_bias)

    # ---- exact structure -------------------------------------------------------------------------
    def _exact_scales(self) -> list:
        """Scales as exact rationals (from the rational peaks under the rule) or the free values."""
        sig = int(self.sigma[0].item())
        if self.log_scales is not None:
            return [Fraction(float(v)) for v in self.scales.detach().cpu()]
        a = [Fraction(float(v)) for v in self.peaks.detach().cpu()]
        s = [(a[0] if self.first_factors[0] == "mirrored" else 1 - a[0]) * a[1]]
        for i in range(1, self.depth):
            s.append(s[-1] * (1 - a[i]) * a[i + 1])
        return [sig * v for v in s]

    def linear_pieces(self, exact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Breakpoints and slopes of F_d on the 2^d pieces of W_d, composed analytically (no grid).

        Parameters
        ----------
        exact : bool, default=False
            Compose in exact rational arithmetic (the float peaks as exact fractions, the rule's
            scales computed exactly from them), then convert; else numpy float64.

        Returns
        -------
        breakpoints : ndarray of shape (2**depth + 1,)
            0 = b_0 < … < b_{2^d} = 1, every breakpoint of every W_i.
        slopes : ndarray of shape (2**depth,)
            F_d' on (b_k, b_{k+1}). Adjacent equal slopes would merge pieces; see n_linear_pieces.
        """
        self._check_exact(exact)
        a, s = self._structure_inputs(exact)
        xs, f = _piece_structure(a, s, exact)
        return np.asarray([float(v) for v in xs]), np.asarray([float(v) for v in f])

    def n_linear_pieces(self, exact: bool = True, rtol: float = 1e-12) -> int:
        """Number of maximal linear pieces of F_d on [0, 1] (adjacent equal slopes merged).

        Parameters
        ----------
        exact : bool, default=True
            Compare slopes exactly (rational arithmetic; cost O(d·2^d) big-rational operations,
            refused above depth 16). ``False``: float64 with relative tolerance ``rtol``.
        rtol : float, default=1e-12
            Slopes closer than rtol·max|slope| count as equal when ``exact=False``.

        Returns
        -------
        int
            2^d for every admissible peak vector under the rule (the tests check it).
        """
        self._check_exact(exact)
        a, s = self._structure_inputs(exact)
        _, f = _piece_structure(a, s, exact)
        if exact:
            return 1 + sum(f[k] != f[k + 1] for k in range(len(f) - 1))
        f = np.asarray(f)
        tol = rtol * np.abs(f).max()
        return 1 + int(np.count_nonzero(np.abs(np.diff(f)) > tol))

    def _check_exact(self, exact: bool) -> None:
        """Refuse the rational composition where it would take too long."""
        if exact and self.depth > _EXACT_MAX_DEPTH:
            raise KernelregError(
                f"{type(self).__name__}.linear_pieces(exact=True) is limited to depth <= {_EXACT_MAX_DEPTH} "
                f"(2^depth rational pieces); this network has depth {self.depth}. Use exact=False."
            )

    def _structure_inputs(self, exact: bool) -> tuple[list, list]:
        """(peaks a_1..a_d, signed scales) for _piece_structure."""
        a = [float(v) for v in self.peaks.detach().cpu()[: self.depth]]
        if exact:
            return a, self._exact_scales()
        return a, [float(v) for v in self.scales.detach().cpu()]

    def extra_repr(self) -> str:
        return (
            f"depth={self.depth}, mode={self.mode!r}, enforce_differentiability={self.enforce_differentiability}, "
            f"first_factor={self.first_factors[0]!r}, a_margin={self.a_margin}"
        )


class CompositionalLayer(_TriangleBlocks):
    """One trainable triangle-wave activation per feature: (..., n_features) → (..., n_features).

    Feature j maps its pre-activation z_j into [0, 1] by ``input_map`` and applies its own
    compositional network φ_j(u) = u + σ_j Σ_i |s_ij| W_ij(u) (see :class:`CompositionalNetwork`),
    a KAN-like learned 1-d activation with 2^depth linear pieces. Materialised (``to_mlp``), it is
    one ReLU network whose hidden matrices are block-diagonal with n_features 4×4 blocks.

    Parameters
    ----------
    n_features : int
        Number of features (units), each with its own peaks.
    depth : int, default=5
        Triangles per feature.
    mode : {"convex", "concave", "mixed"} or sequence of {"convex", "concave"}, default="convex"
        Shape of every feature's activation; ``"mixed"`` makes even features convex and odd
        features concave (a signed next layer then mixes them into non-convex functions).
    enforce_differentiability : bool, default=True
        As in :class:`CompositionalNetwork`.
    a_init : {"half", "uniform"} or array-like, default="uniform"
        As in :class:`CompositionalNetwork`, per feature; an array has shape
        (n_features, depth + 1) or (n_features, depth), or (depth + 1,) shared by all.
    a_margin : float, default=0.05
    first_factor : {"auto", "mirrored", "recurrence"}, default="auto"
    s_init : {"recurrence", "yarotsky"} or array-like, default="recurrence"
    input_map : {"sigmoid", "clamp", "none"}, default="sigmoid"
        How pre-activations reach [0, 1]:

        - ``"sigmoid"``: u = 1/(1 + e^{−z}) (smooth, every z has a gradient);
        - ``"clamp"``: u = min(max(z, 0), 1) (ReLU-expressible; zero gradient outside [0, 1]);
        - ``"none"``: z must already lie in [0, 1]; anything else raises a ValueError.
    random_state : int, RandomState or None, default=None
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
    device : str or torch.device, default="cpu"

    Attributes
    ----------
    logits : Parameter of shape (n_features, depth + 1)
    log_scales : Parameter of shape (n_features, depth) or None
    peaks : Tensor of shape (n_features, depth + 1)
    scales : Tensor of shape (n_features, depth)
        Signed scales.

    Raises
    ------
    ValueError
        As :class:`CompositionalNetwork`, plus n_features < 1, an unknown input_map, a mode list
        of the wrong length, inputs whose last dimension is not n_features.

    Notes
    -----
    The input map is the library's choice: the paper's VGG blocks do not say how they reach
    [0, 1] (research note §6, open item 7). ``features`` gives the frozen columns
    [u_j, W_1j(u_j), …, W_dj(u_j)] per feature (n_features·(depth + 1) columns), so a convex solve
    on them fits every feature's scales and the next layer's weights at once.

    Examples
    --------
    >>> import torch
    >>> layer = CompositionalLayer(3, depth=2, random_state=0)
    >>> z = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> layer(z).shape
    torch.Size([5, 3])
    >>> bool(torch.allclose(layer.to_mlp()(z), layer(z), atol=1e-13))
    True
    """

    def __init__(
        self,
        n_features: int,
        depth: int = 5,
        mode: Literal["convex", "concave", "mixed"] | Sequence[str] = "convex",
        *,
        enforce_differentiability: bool = True,
        a_init: PeakInit = "uniform",
        a_margin: float = 0.05,
        first_factor: Literal["auto", "mirrored", "recurrence"] = "auto",
        s_init: Literal["recurrence", "yarotsky"] | ArrayLike = "recurrence",
        input_map: Literal["sigmoid", "clamp", "none"] = "sigmoid",
        random_state: int | np.random.RandomState | None = None,
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> None:
        owner = type(self).__name__
        if isinstance(n_features, bool) or not isinstance(n_features, Integral) or n_features < 1:
            raise ValueError(f"{owner} needs n_features to be an integer >= 1; got n_features={n_features!r}.")
        n = int(n_features)
        if isinstance(mode, str):
            if mode == "mixed":
                modes = ["convex" if j % 2 == 0 else "concave" for j in range(n)]
            else:
                modes = [_mode(mode, owner)] * n
        else:
            modes = list(mode)
            if len(modes) != n:
                raise ValueError(f"{owner} got {len(modes)} modes for n_features={n}; give one per feature.")
        if not isinstance(input_map, str) or input_map not in _INPUT_MAPS:
            raise ValueError(f"{owner} input_map={input_map!r} is unknown; use one of {list(_INPUT_MAPS)}.")
        d = _depth(depth, owner)
        if not isinstance(a_init, str):
            a_init = np.asarray(a_init, dtype=np.float64)
            if a_init.ndim == 1:
                a_init = np.broadcast_to(a_init, (n,) + a_init.shape).copy()
        super().__init__(
            n,
            d,
            modes,
            enforce_differentiability=enforce_differentiability,
            a_init=a_init,
            a_margin=a_margin,
            first_factor=first_factor,
            s_init=s_init,
            random_state=random_state,
            dtype=dtype,
            device=device,
        )
        self.n_features = n
        self.mode = mode if isinstance(mode, str) else tuple(modes)
        self.input_map = input_map

    @property
    def peaks(self) -> torch.Tensor:
        """Peaks, shape (n_features, depth + 1)."""
        return self.peaks_matrix()

    @property
    def scales(self) -> torch.Tensor:
        """Signed scales, shape (n_features, depth)."""
        return self.sigma[:, None] * self.magnitudes_matrix()

    def set_peaks(self, peaks: ArrayLike) -> CompositionalLayer:
        """Overwrite the peaks, shape (n_features, depth + 1); returns self."""
        self._set_peaks_matrix(peaks)
        return self

    def unit_inputs(self, z: torch.Tensor) -> torch.Tensor:
        """u = input_map(z) in [0, 1], shape (..., n_features)."""
        z = self._as_input(z)
        if z.ndim == 0 or z.shape[-1] != self.n_features:
            got = "a scalar" if z.ndim == 0 else f"last dimension {z.shape[-1]} (shape {tuple(z.shape)})"
            raise ValueError(f"{type(self).__name__} expects inputs with n_features={self.n_features} columns; got {got}.")
        if self.input_map == "sigmoid":
            return torch.sigmoid(z)
        if self.input_map == "clamp":
            return z.clamp(0.0, 1.0)
        if torch.isnan(z).any() or (z.numel() and (z.min() < 0 or z.max() > 1)):
            raise ValueError(
                f"{type(self).__name__} with input_map='none' needs pre-activations in [0, 1]; got values in "
                f"[{float(z.min()):.6g}, {float(z.max()):.6g}]. Use input_map='sigmoid' or 'clamp'."
            )
        return z

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """φ_j(input_map(z_j)) for every feature j, shape (..., n_features)."""
        return self._closed_form(self.unit_inputs(z))

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """Frozen-feature view, shape (..., n_features·(depth + 1)).

        Columns j·(d+1) … j·(d+1)+d are [u_j, W_1j(u_j), …, W_dj(u_j)], so that
        ``forward(z) == (features(z).reshape(..., n, d+1) * coef()).sum(-1)``. Computed on the
        autograd graph; wrap in ``torch.no_grad()`` to export a frozen Φ.
        """
        u = self.unit_inputs(z)
        w = _waves(u, self.peaks_matrix(), self.depth)
        return torch.cat([u[..., None], w], dim=-1).flatten(-2)

    def coef(self) -> torch.Tensor:
        """[1, s_1j, …, s_dj] per feature, shape (n_features, depth + 1)."""
        s = self.scales
        return torch.cat([torch.ones_like(s[:, :1]), s], dim=1)

    def to_mlp(self, hidden_bias: bool = True) -> nn.Sequential:
        """The layer as one ReLU network with block-diagonal hidden matrices (n_features 4×4 blocks).

        Returns
        -------
        nn.Sequential
            input map (``nn.Sigmoid``, ``nn.Hardtanh(0, 1)`` or ``nn.Identity``), Linear(n, 4n),
            ReLU, [Linear(4n, 4n), ReLU] × (depth − 1), Linear(4n, n); exact weights, detached.
        """
        n, blocks = self.n_features, self.block_weights()
        kw = {"dtype": self.logits.dtype, "device": self.logits.device}
        eye = torch.eye(n, **kw)
        first: nn.Module = {"sigmoid": nn.Sigmoid(), "clamp": nn.Hardtanh(0.0, 1.0), "none": nn.Identity()}[self.input_map]
        pairs = [((blocks["w_in"][:, :, None] * eye[:, None, :]).reshape(4 * n, n), blocks["b_in"].reshape(-1))]
        pairs += [(torch.block_diag(*m), torch.zeros(4 * n, **kw)) for m in blocks["hidden"]]
        pairs.append(((eye[:, :, None] * blocks["w_out"][None, :, :]).reshape(n, 4 * n), blocks["b_out"]))
        return nn.Sequential(first, *_relu_sequential(pairs, hidden_bias))

    def extra_repr(self) -> str:
        return (
            f"n_features={self.n_features}, depth={self.depth}, mode={self.mode!r}, "
            f"enforce_differentiability={self.enforce_differentiability}, input_map={self.input_map!r}"
        )
