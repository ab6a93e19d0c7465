"""The six basis families of the Integral Activation Transform (IAT), one definition for numpy and torch.

An IAT lifts a vector z ∈ R^d to the state function f(s; z) = zᵀp(s) on [-1, 1], activates it
pointwise and projects the result onto a second basis q. This module defines the bases p and q:
``rect, pwl, pwq, fourier, pwl_w, rect_w`` (Zhang, Bao & Zhang, *Integral Activation Transform*,
seed paper 000, Table 1). The paper shows them only as pictures; the formulas below are the
reconstruction of ``research/iat_rowdy.md`` §1.4, which satisfies every property of Table 1.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from numpy.typing import ArrayLike

__all__ = ["Basis", "get", "available", "midpoint_mesh", "NORMALIZATIONS"]

_NAMES = ("rect", "pwl", "pwq", "fourier", "pwl_w", "rect_w")

#: Accepted values of ``normalize``.
NORMALIZATIONS = ("l2", "sup", "none")

# Table 1 of the IAT paper, plus what the implementation needs: polynomial degree per piece
# (None: not piecewise polynomial) and whether the family wraps periodically on [-1, 1).
_PROPERTIES: dict[str, dict[str, object]] = {
    "rect": dict(continuous=False, smooth=False, global_support=False, zero_integral=False, degree=0, periodic=False),
    "pwl": dict(continuous=True, smooth=False, global_support=False, zero_integral=False, degree=1, periodic=False),
    "pwq": dict(continuous=True, smooth=True, global_support=False, zero_integral=False, degree=2, periodic=False),
    "fourier": dict(continuous=True, smooth=True, global_support=True, zero_integral=True, degree=None, periodic=True),
    "pwl_w": dict(continuous=True, smooth=False, global_support=False, zero_integral=True, degree=1, periodic=True),
    "rect_w": dict(continuous=False, smooth=False, global_support=False, zero_integral=True, degree=0, periodic=True),
}


# --------------------------------------------------------------------------------------------
# array-library neutral helpers: the same expressions run on numpy arrays and torch tensors
# --------------------------------------------------------------------------------------------
def _is_torch(x: object) -> bool:
    """Whether ``x`` is a torch tensor (then every helper answers in torch)."""
    return isinstance(x, torch.Tensor)


def _where(cond, a, b):
    """Elementwise select that works for numpy arrays and torch tensors alike."""
    return torch.where(cond, a, b) if _is_torch(cond) else np.where(cond, a, b)


def _as_float(cond, like):
    """A boolean mask as 0/1 values in the dtype of ``like``."""
    return cond.to(like.dtype) if _is_torch(cond) else cond.astype(like.dtype)


def _relu(x):
    """max(x, 0), differentiable in torch."""
    return torch.clamp_min(x, 0.0) if _is_torch(x) else np.maximum(x, 0.0)


def _abs(x):
    """|x| for either library."""
    return x.abs() if _is_torch(x) else np.abs(x)


def _sign(x):
    """sign(x) for either library."""
    return torch.sign(x) if _is_torch(x) else np.sign(x)


def _floor(x):
    """floor(x) for either library."""
    return torch.floor(x) if _is_torch(x) else np.floor(x)


def _sin(x):
    """sin(x) for either library."""
    return torch.sin(x) if _is_torch(x) else np.sin(x)


def _cos(x):
    """cos(x) for either library."""
    return torch.cos(x) if _is_torch(x) else np.cos(x)


def _const(values: np.ndarray, like):
    """A float64 numpy constant moved to the library, dtype and device of ``like``."""
    if _is_torch(like):
        return torch.tensor(np.asarray(values), dtype=like.dtype, device=like.device)
    return np.asarray(values, dtype=like.dtype)


# centred cardinal B-splines and their derivatives (research note §1.4)
def _beta1(x):
    """Hat function max(0, 1 - |x|)."""
    return _relu(1.0 - _abs(x))


def _beta2(x):
    """Quadratic B-spline: 3/4 - x² on |x| < 1/2, (3/2 - |x|)²/2 on 1/2 <= |x| < 3/2, else 0."""
    ax = _abs(x)
    return _where(ax < 0.5, 0.75 - x * x, 0.5 * _relu(1.5 - ax) ** 2)


def _dbeta1(x):
    """Derivative of the hat: +1 on [-1, 0), -1 on [0, 1), 0 elsewhere."""
    return _as_float((x >= -1.0) & (x < 0.0), x) - _as_float((x >= 0.0) & (x < 1.0), x)


def _dbeta2(x):
    """Derivative of the quadratic B-spline: piecewise linear 0 → +1 → -1 → 0 at x = -3/2, -1/2, 1/2, 3/2."""
    ax = _abs(x)
    return _where(ax < 0.5, -2.0 * x, -_sign(x) * _relu(1.5 - ax))


def midpoint_mesh(n_mesh: int, like: ArrayLike | torch.Tensor | None = None):
    """Midpoints s_m = -1 + (2m - 1)/M, m = 1..M, of M uniform cells on [-1, 1] (the discretised IAT's mesh).

    Parameters
    ----------
    n_mesh : int
        Number of cells M (>= 1).
    like : ndarray or Tensor or None, default=None
        When a tensor, the mesh is a tensor with its dtype and device; otherwise a float64 ndarray.

    Returns
    -------
    ndarray or Tensor of shape (n_mesh,)
    """
    n_mesh = int(n_mesh)
    if n_mesh < 1:
        raise ValueError(f"midpoint_mesh needs n_mesh >= 1 cells; got n_mesh={n_mesh}.")
    mesh = -1.0 + (2.0 * np.arange(1, n_mesh + 1) - 1.0) / n_mesh
    if _is_torch(like):
        return torch.as_tensor(mesh, dtype=like.dtype, device=like.device)
    return mesh


class Basis:
    """A collection of d functions on [-1, 1] used as the input basis p or output basis q of an IAT.

    Obtain instances with :func:`get`. Calling the basis on points s returns the matrix
    [p_i(s_j)] of shape (d, len(s)) in the library of s (numpy in, numpy out; torch in, torch out,
    with the dtype and device of s and differentiable in s), so one definition serves the
    discretised mesh, the Gauss nodes of the analytic IAT and plain numpy analysis.

    Parameters
    ----------
    name : {"rect", "pwl", "pwq", "fourier", "pwl_w", "rect_w"}
        Basis family.
    d : int
        Number of functions (also the number of cells of the piecewise families).
    normalize : {"l2", "sup", "none"}, default="l2"
        Scaling of each function: unit L² norm on [-1, 1], unit maximum of |p_i|, or the raw
        B-spline scaling.

    Attributes
    ----------
    name : str
    d : int
    normalize : str
    knots : ndarray of shape (n_knots,) or None
        Sorted breakpoints in [-1, 1], endpoints included, between which every function is one
        polynomial; ``None`` for ``fourier``.
    degree : int or None
        Polynomial degree of each piece (0 for rect/rect_w, 1 for pwl/pwl_w, 2 for pwq).
    piecewise_linear : bool
        True for rect, rect_w, pwl and pwl_w (piecewise constant counts): the analytic IAT-ReLU
        finds the roots of f exactly on each piece.
    continuous, smooth, global_support, zero_integral : bool
        The four columns of the IAT paper's Table 1.
    periodic : bool
        Whether the family wraps periodically on [-1, 1) (fourier, pwl_w, rect_w).
    scales : ndarray of shape (d,)
        The normalisation constants applied to the raw functions.
    centres : ndarray of shape (d,)
        Cell centres c_i = -1 + (i - 1/2)·h, h = 2/d.

    Notes
    -----
    With h = 2/d, cells I_i = [-1 + (i-1)h, -1 + ih], centres c_i and τ_i(s) = (s - c_i)/h
    (research note §1.4):

    - ``rect``: p_i = 1 on cell I_i (β0(τ_i)); the last cell includes s = 1.
    - ``pwl``: p_i = β1(τ_i), hats peaking at the centres, truncated at ±1.
    - ``pwq``: p_i = β2(τ_i), the C¹ quadratic B-spline ("Rect smoothed" = β0∗β0∗β0).
    - ``fourier``: [sin πs, cos πs, sin 2πs, cos 2πs, ...], the first d (odd d drops the last cosine).
    - ``rect_w``: p_i = β1'(τ̃_i), +1 on [c_i - h, c_i), -1 on [c_i, c_i + h), wrapped periodically.
    - ``pwl_w``: p_i = β2'(τ̃_i), periodic, piecewise linear with knots at the cell edges.

    Periodic wrapping sums the periodic images s + 2m, which for d >= 3 (pwl_w) or d >= 2
    (rect_w) is the same as wrapping s - c_i into [-1, 1). For d = 1 the periodised wavelets
    vanish identically, so the two ``_w`` families need d >= 2.

    With ``normalize="l2"`` Rect/Rect IAT-ReLU is exactly ReLU (analytic, and discretised
    whenever the mesh size is a multiple of d); Fourier functions already have unit norm.
    """

    def __init__(self, name: str, d: int, normalize: Literal["l2", "sup", "none"] = "l2") -> None:
        if name not in _NAMES:
            raise ValueError(f"unknown IAT basis {name!r}; the six bases are {list(_NAMES)}.")
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"basis {name!r} needs an integer number of functions d >= 1; got d={d!r}.")
        d = int(d)
        if name in ("pwl_w", "rect_w") and d < 2:
            raise ValueError(
                f"basis {name!r} needs d >= 2: with a single cell the periodic wavelet vanishes "
                f"identically; got d={d}."
            )
        if normalize not in NORMALIZATIONS:
            raise ValueError(
                f"normalize={normalize!r} is not a basis normalisation; use one of {list(NORMALIZATIONS)}."
            )
        self.name = name
        self.d = d
        self.normalize = normalize
        for key, value in _PROPERTIES[name].items():
            setattr(self, key, value)
        self.piecewise_linear = self.degree in (0, 1)
        self.h = 2.0 / d
        edges = np.linspace(-1.0, 1.0, d + 1)
        self.edges = edges
        self.centres = 0.5 * (edges[:-1] + edges[1:])
        if name in ("rect", "pwq", "pwl_w"):
            knots = edges.copy()
        elif name in ("pwl", "rect_w"):
            knots = np.concatenate([[-1.0], self.centres, [1.0]])
        else:
            knots = None
        if knots is not None:
            knots.setflags(write=False)
        self.knots = knots
        self.scales = np.ones(d)
        self.scales = self._normalisation_constants()
        self.scales.setflags(write=False)

    # ---- evaluation -------------------------------------------------------------------------
    def __call__(self, s: ArrayLike | torch.Tensor):
        """Evaluate all d functions at the points s.

        Parameters
        ----------
        s : array-like or Tensor of shape (n_points,)
            Points in [-1, 1]; functions are 0 outside. A tensor keeps its dtype and device
            (integer tensors become float64) and the result is differentiable in s.

        Returns
        -------
        ndarray or Tensor of shape (d, n_points)
        """
        if _is_torch(s):
            if not s.is_floating_point():
                s = s.to(torch.float64)
            s = s.reshape(-1)
        else:
            s = np.asarray(s, dtype=np.float64).reshape(-1)
        raw = self._raw(s)
        inside = _as_float((s >= -1.0) & (s <= 1.0), s)
        return raw * inside[None, :] * _const(self.scales, s)[:, None]

    def on_mesh(self, n_mesh: int, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        """The matrix [p_i(s_m)] on the midpoint mesh of ``n_mesh`` cells, as a tensor of shape (d, n_mesh)."""
        return self(midpoint_mesh(n_mesh, torch.empty(0, dtype=dtype, device=device)))

    def _raw(self, s):
        """The un-normalised functions at s, shape (d, n)."""
        name, d, h = self.name, self.d, self.h
        if name == "fourier":
            j = np.arange(d)
            k = _const((j // 2 + 1) * math.pi, s)[:, None]
            is_sin = _const((j % 2 == 0).astype(np.float64), s)[:, None]
            ks = k * s[None, :]
            return is_sin * _sin(ks) + (1.0 - is_sin) * _cos(ks)
        if name == "rect":
            # cell index with s = 1 assigned to the last cell; exact on every midpoint mesh with M % d == 0
            idx = _floor((s + 1.0) * (d / 2.0))
            idx = _where(idx > d - 1, idx * 0 + (d - 1), idx)
            rows = _const(np.arange(d, dtype=np.float64), s)[:, None]
            return _as_float(idx[None, :] == rows, s)
        centres = _const(self.centres, s)[:, None]
        offset = s[None, :] - centres
        if name == "pwl":
            return _beta1(offset / h)
        if name == "pwq":
            return _beta2(offset / h)
        # periodic wavelets: sum of the periodic images (support half-width 1 or 3/2 cells)
        func, half_width = (_dbeta1, 1.0) if name == "rect_w" else (_dbeta2, 1.5)
        n_images = int(math.ceil(half_width * h / 2.0)) + 1
        total = 0.0
        for m in range(-n_images, n_images + 1):
            total = total + func((offset + 2.0 * m) / h)
        return total

    # ---- normalisation ----------------------------------------------------------------------
    def _normalisation_constants(self) -> np.ndarray:
        """Scale factors that give each function unit L² norm or unit maximum (exact piecewise quadrature)."""
        if self.normalize == "none" or self.name == "fourier":
            # Fourier functions already have unit L² norm and unit maximum on [-1, 1].
            return np.ones(self.d)
        knots = self.knots
        if self.normalize == "sup":
            # pieces are polynomials of degree <= 2 with extrema at knots or at cell centres
            points = np.unique(np.concatenate([knots, self.centres, self.edges]))
            values = self._raw(points)
            peak = np.max(np.abs(values), axis=1)
            return 1.0 / peak
        nodes, weights = np.polynomial.legendre.leggauss(3)  # exact for p² of degree <= 4
        a, b = knots[:-1], knots[1:]
        s = (0.5 * (a + b)[:, None] + 0.5 * (b - a)[:, None] * nodes[None, :]).reshape(-1)
        w = (0.5 * (b - a)[:, None] * weights[None, :]).reshape(-1)
        raw = self._raw(s)
        norms = np.sqrt((raw**2) @ w)
        return 1.0 / norms

    def __repr__(self) -> str:
        return f"Basis(name={self.name!r}, d={self.d}, normalize={self.normalize!r})"


def get(name: str | Basis, d: int, normalize: Literal["l2", "sup", "none"] = "l2") -> Basis:
    """Look up one of the six IAT bases by name.

    Parameters
    ----------
    name : {"rect", "pwl", "pwq", "fourier", "pwl_w", "rect_w"} or Basis
        Basis family (case-insensitive). A :class:`Basis` is returned unchanged when its ``d``
        matches.
    d : int
        Number of functions.
    normalize : {"l2", "sup", "none"}, default="l2"
        ``"l2"``: unit L² norm on [-1, 1] (makes Rect/Rect IAT-ReLU exactly ReLU);
        ``"sup"``: unit maximum; ``"none"``: raw B-spline scaling.

    Returns
    -------
    Basis

    Raises
    ------
    ValueError
        Unknown name (the message lists the six), d < 1 (d < 2 for the ``_w`` wavelets), an unknown
        normalisation, or a Basis whose d differs from ``d``.

    Examples
    --------
    >>> from kernelreg.layers import bases
    >>> p = bases.get("pwl", 4)
    >>> p([-1.0, 0.0, 1.0]).shape
    (4, 3)
    """
    if isinstance(name, Basis):
        if name.d != d:
            raise ValueError(f"basis {name!r} has d={name.d} functions but d={d} was requested.")
        return name
    if not isinstance(name, str):
        raise ValueError(f"an IAT basis is a name among {list(_NAMES)} or a Basis; got {name!r}.")
    key = name.strip().lower().replace("-", "_")
    if key not in _NAMES:
        raise ValueError(f"unknown IAT basis {name!r}; the six bases are {list(_NAMES)}.")
    return Basis(key, d, normalize)


def available() -> list[str]:
    """Names of the six IAT bases, in the order of the paper's Table 1."""
    return list(_NAMES)
