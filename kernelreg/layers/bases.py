"""The six basis families of the Integral Activation Transform (IAT), one definition for numpy and torch.

An IAT lifts a vector z ∈ R^d to the state function f(s; z) = zᵀp(s) on [-1, 1], activates it
pointwise and projects the result onto a second basis q. This module defines the bases p and q:
``rect, pwl, pwq, fourier, pwl_w, rect_w`` (Zhang, Bao & Zhang, *Integral Activation Transform*,
seed paper 000, Table 1). The paper shows them only as pictures; the formulas below are the
reconstruction of ``research/iat_rowdy.md`` §1.4, with boundary-adapted wavelets so that every
family is linearly independent (see :class:`Basis`, Notes).

The piecewise families are B-splines (or derivatives of B-splines) built by
:class:`scipy.interpolate.BSpline` once, stored as Taylor coefficients per piece and evaluated by a
piece lookup and Horner's rule, so numpy and torch (any dtype or device, differentiable in s) share
one definition, and the analytic IAT reads the state function's polynomial pieces directly.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.interpolate import BSpline

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
    "pwl_w": dict(continuous=True, smooth=False, global_support=False, zero_integral=True, degree=1, periodic=False),
    "rect_w": dict(continuous=False, smooth=False, global_support=False, zero_integral=True, degree=0, periodic=False),
}


def _is_torch(x: object) -> bool:
    """Whether ``x`` is a torch tensor (then every helper answers in torch)."""
    return isinstance(x, torch.Tensor)


def _const(values: np.ndarray, like):
    """A float64 numpy constant moved to the library, dtype and device of ``like``."""
    if _is_torch(like):
        return torch.tensor(np.asarray(values), dtype=like.dtype, device=like.device)
    return np.asarray(values, dtype=like.dtype)


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


def _spline_definition(name: str, d: int) -> tuple[np.ndarray, int, bool]:
    """Knot vector, B-spline degree and whether to differentiate, for the d functions of a piecewise family."""
    h = 2.0 / d
    edges = np.linspace(-1.0, 1.0, d + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    if name == "rect":  # indicators of the d cells
        return edges, 0, False
    if name == "pwl":  # hats at the centres, half-width one cell
        return np.concatenate([[-1.0 - 0.5 * h], centres, [1.0 + 0.5 * h]]), 1, False
    if name == "pwq":  # uniform quadratic B-splines centred at the cell centres
        return -1.0 + h * np.arange(-1, d + 2), 2, False
    if name == "rect_w":  # derivatives of the hats on {-1, c_1, ..., c_d, 1} that vanish at ±1
        return np.concatenate([[-1.0], centres, [1.0]]), 1, True
    # pwl_w: derivatives of the quadratic B-splines on the open knots that vanish at ±1
    return np.concatenate([[-1.0, -1.0], edges[1:-1], [1.0, 1.0]]), 2, True


def _taylor_table(name: str, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Breakpoints, piece midpoints and Taylor coefficients (d, pieces, degree + 1) of a piecewise family."""
    t, k, differentiate = _spline_definition(name, d)
    h = 2.0 / d
    # pad the knots so that scipy's base interval covers [-1, 1] and every wanted B-spline is whole
    pad = h * np.arange(1, k + 1)
    t_pad = np.concatenate([t[0] - pad[::-1], t, t[-1] + pad])
    n_pad = t_pad.size - k - 1
    coef = np.zeros((n_pad, d))
    coef[k + np.arange(d), np.arange(d)] = 1.0
    spline = BSpline(t_pad, coef, k)
    if differentiate:  # scaled by h so that interior wavelets are ±1 (rect_w) or peak at ±1 (pwl_w)
        spline = spline.derivative()
        spline = BSpline(spline.t, spline.c * h, spline.k)
    breaks = np.unique(np.clip(np.concatenate([t, [-1.0, 1.0]]), -1.0, 1.0))
    mids = 0.5 * (breaks[:-1] + breaks[1:])
    degree = spline.k
    table = np.stack([spline(mids, nu=j) / math.factorial(j) for j in range(degree + 1)], axis=-1)
    table = np.transpose(table, (1, 0, 2))  # (d, pieces, degree + 1)
    table[np.abs(table) < 1e-14 * max(1.0, np.abs(table).max())] = 0.0
    return breaks, mids, table, degree


class Basis:
    """A collection of d linearly independent functions on [-1, 1]: the input basis p or output basis q of an IAT.

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
    knots : ndarray of shape (n_pieces + 1,) or None
        Sorted breakpoints in [-1, 1], endpoints included, between which every function is one
        polynomial; ``None`` for ``fourier``.
    degree : int or None
        Polynomial degree of each piece (0 for rect/rect_w, 1 for pwl/pwl_w, 2 for pwq).
    piece_midpoints : ndarray of shape (n_pieces,) or None
        Midpoints m_k of the pieces.
    piece_coefficients : ndarray of shape (d, n_pieces, degree + 1) or None
        Normalised Taylor coefficients: p_i(s) = Σ_j C[i, k, j]·(s - m_k)^j on piece k.
    frequencies : ndarray of shape (d,) or None
        ``fourier`` only: the angular frequency kπ of each function.
    is_sine : ndarray of shape (d,) or None
        ``fourier`` only: whether each function is a sine (else a cosine).
    piecewise_linear : bool
        True for rect, rect_w, pwl and pwl_w (piecewise constant counts).
    continuous, smooth, global_support, zero_integral : bool
        The four columns of the IAT paper's Table 1.
    periodic : bool
        Whether the family is periodic on [-1, 1) (only ``fourier``).
    scales : ndarray of shape (d,)
        The normalisation constants applied to the raw functions.
    centres : ndarray of shape (d,)
        Cell centres c_i = -1 + (i - 1/2)·h, h = 2/d.

    Notes
    -----
    With h = 2/d, cells I_i = [-1 + (i-1)h, -1 + ih], edges e_j = -1 + jh, centres c_i and
    τ_i(s) = (s - c_i)/h (research note §1.4), every piecewise family is a set of B-splines
    (:class:`scipy.interpolate.BSpline`) restricted to [-1, 1]:

    - ``rect``: p_i = 1 on cell I_i (β0(τ_i)); the last cell includes s = 1.
    - ``pwl``: p_i = β1(τ_i), hats peaking at the centres, truncated at ±1.
    - ``pwq``: p_i = β2(τ_i), the C¹ quadratic B-spline ("Rect smoothed" = β0∗β0∗β0).
    - ``fourier``: [sin πs, cos πs, sin 2πs, cos 2πs, ...], the first d (odd d drops the last cosine).
    - ``rect_w``: p_i = h·φ_i', φ_i the hat on the knots {-1, c_1, ..., c_d, 1} peaking at c_i.
      Inside, +1 on [c_i - h, c_i) and -1 on [c_i, c_i + h), i.e. β1'(τ_i); at the ends the first
      function is +2 on [-1, c_1) and the last -2 on [c_d, 1].
    - ``pwl_w``: p_i = h·B_i', B_i the quadratic B-splines on the open knots
      {-1, -1, e_1, ..., e_{d-1}, 1, 1} (all vanish at ±1). Inside, β2'(τ_i); the first and last
      functions are adapted to the boundary (B_1 has the double knot at -1).

    **Why the wavelets differ from a literal reading of the paper.** The paper draws Rect-w and
    PWL-w as d translates of one zero-integral wavelet (β1' and β2'), periodic on [-1, 1]. Such a
    family can never be independent: the Gram matrix of d periodic translates is circulant with
    eigenvalues |ψ̂(k)|², and ψ̂(0) = ∫ψ = 0, so it is singular (concretely Σ_i p_i ≡ 0 and
    I(z + c·1) = I(z)). Adding the constant (the scaling function) would restore rank d but break
    two columns of Table 1 for that function (zero integral, local support). Instead the wavelets
    are the derivatives of the d B-splines of one degree higher that vanish at ±1 — wavelets on
    the interval with boundary-adapted end functions, in the spirit of Cohen–Daubechies–Vial.
    Every function keeps all four Table 1 properties (zero integral exactly, support <= 3 cells,
    rect_w discontinuous, pwl_w continuous and the continuous version of rect_w); interior
    functions coincide with the paper's translates; the first and last differ (the family is no
    longer cyclic) and the state function of rect_w is the discrete derivative of z with zero
    boundary values: 2z_1, z_2 - z_1, ..., z_d - z_{d-1}, -2z_d. Being differences, the wavelet
    families are conditioned like a discrete Laplacian: their Gram matrix's condition number grows
    like d² (the smooth directions of z change f least), while the other four stay bounded.
    Independence also makes d = 1 valid for the wavelets.

    With ``normalize="l2"`` Rect/Rect IAT-ReLU is exactly ReLU (analytic, and discretised
    whenever the mesh size is a multiple of d); Fourier functions already have unit norm.
    """

    def __init__(self, name: str, d: int, normalize: Literal["l2", "sup", "none"] = "l2") -> None:
        if name not in _NAMES:
            raise ValueError(f"unknown IAT basis {name!r}; the six bases are {list(_NAMES)}.")
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"basis {name!r} needs an integer number of functions d >= 1; got d={d!r}.")
        d = int(d)
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
        if name == "fourier":
            j = np.arange(d)
            self.frequencies = (j // 2 + 1) * math.pi
            self.is_sine = j % 2 == 0
            self.knots = self.piece_midpoints = self.piece_coefficients = None
            self.scales = np.ones(d)  # unit L² norm and unit maximum already
        else:
            self.frequencies = self.is_sine = None
            knots, mids, table, _ = _taylor_table(name, d)
            self.knots, self.piece_midpoints = knots, mids
            self._raw_table = table
            self.scales = self._normalisation_constants()
            self.piece_coefficients = table * self.scales[:, None, None]
        for array in (self.knots, self.piece_midpoints, self.piece_coefficients, self.scales,
                      self.frequencies, self.is_sine):
            if array is not None:
                array.setflags(write=False)

    # ---- evaluation -------------------------------------------------------------------------
    @staticmethod
    def _points(s):
        """Points as a flat float array of their own library (integer tensors become float64)."""
        if _is_torch(s):
            return (s if s.is_floating_point() else s.to(torch.float64)).reshape(-1)
        return np.asarray(s, dtype=np.float64).reshape(-1)

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
        return self._evaluate(self._points(s), derivative=False)

    def derivative(self, s: ArrayLike | torch.Tensor):
        """The derivatives p_i'(s), shape (d, n_points) (right derivative at a breakpoint; 0 outside [-1, 1])."""
        return self._evaluate(self._points(s), derivative=True)

    def on_mesh(self, n_mesh: int, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        """The matrix [p_i(s_m)] on the midpoint mesh of ``n_mesh`` cells, as a tensor of shape (d, n_mesh)."""
        return self(midpoint_mesh(n_mesh, torch.empty(0, dtype=dtype, device=device)))

    def _evaluate(self, s, derivative: bool):
        """Values (or derivatives) at flat points s, zero outside [-1, 1]."""
        inside = (s >= -1.0) & (s <= 1.0)
        inside = inside.to(s.dtype) if _is_torch(s) else inside.astype(s.dtype)
        if self.name == "fourier":
            values = self._fourier(s, derivative)
        else:
            values = self._piecewise(s, self.piece_coefficients, derivative)
        return values * inside[None, :]

    def _fourier(self, s, derivative: bool):
        """sin(kπs + φ) rows, φ = π/2 for the cosines (one sine call), or their derivatives."""
        sin = torch.sin if _is_torch(s) else np.sin
        omega = _const(self.frequencies, s)[:, None]
        phase = _const(np.where(self.is_sine, 0.0, 0.5 * math.pi) + (0.5 * math.pi if derivative else 0.0), s)
        values = sin(omega * s[None, :] + phase[:, None])
        return omega * values if derivative else values

    def _piecewise(self, s, table: np.ndarray, derivative: bool):
        """Horner's rule on the Taylor table of each point's piece (right-continuous; s = 1 in the last piece)."""
        degree = table.shape[-1] - 1
        if derivative:  # the derivative's Taylor table, one degree lower
            if degree == 0:
                table = np.zeros_like(table)
            else:
                table = table[..., 1:] * np.arange(1, degree + 1)
                degree -= 1
        inner, mids = self.knots[1:-1], self.piece_midpoints
        # one contiguous (pieces, d) table per power, gathered by piece: Horner on contiguous rows
        powers = [np.ascontiguousarray(table[..., j].T) for j in range(degree + 1)]
        if _is_torch(s):
            idx = torch.searchsorted(_const(inner, s), s.contiguous(), right=True)
            x = (s - _const(mids, s)[idx])[:, None]
            gather = lambda j: _const(powers[j], s).index_select(0, idx)  # noqa: E731
        else:
            idx = np.searchsorted(inner, s, side="right")
            x = (s - mids[idx])[:, None]
            gather = lambda j: powers[j][idx]  # noqa: E731
        value = gather(degree)
        for j in range(degree - 1, -1, -1):
            value = value * x + gather(j)
        return value.T

    # ---- normalisation ----------------------------------------------------------------------
    def _normalisation_constants(self) -> np.ndarray:
        """Scale factors that give each function unit L² norm or unit maximum (exact per polynomial piece)."""
        if self.normalize == "none":
            return np.ones(self.d)
        a, b = self.knots[:-1], self.knots[1:]
        table = self._raw_table
        if self.normalize == "sup":
            # a polynomial of degree <= 2 peaks at a piece end or at its vertex
            half = 0.5 * (b - a)
            xs = [-half, half]
            if table.shape[-1] == 3:
                c1, c2 = table[..., 1], table[..., 2]
                with np.errstate(divide="ignore", invalid="ignore"):
                    vertex = np.where(c2 != 0, -c1 / (2 * c2), 0.0)
                xs.append(np.clip(vertex, -half, half))
            peaks = [np.abs(sum(table[..., j] * np.broadcast_to(x, table.shape[:2]) ** j
                                for j in range(table.shape[-1]))) for x in xs]
            return 1.0 / np.max(np.stack(peaks), axis=(0, 2))
        nodes, weights = np.polynomial.legendre.leggauss(3)  # exact for p² of degree <= 4
        x = 0.5 * (b - a)[:, None] * nodes[None, :]
        w = 0.5 * (b - a)[:, None] * weights[None, :]
        values = sum(table[..., j][..., None] * x[None] ** j for j in range(table.shape[-1]))
        return 1.0 / np.sqrt(np.einsum("ikg,kg->i", values**2, w))

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
        Unknown name (the message lists the six), d < 1, an unknown normalisation, or a Basis
        whose d differs from ``d``.

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
