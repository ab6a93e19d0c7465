"""Integral Activation Transform (IAT) layers: vector activations built from a scalar σ and two bases.

u = I^σ_{p,q}(z) = ∫_{-1}^{1} q(s) σ(zᵀp(s)) ds  (Zhang, Bao & Zhang, seed paper 000, eq. 4).

One module serves the three views the rest of the library needs, all from the same buffers:
``forward`` (trainable, discretised or analytic), ``state_features`` (the activated state function
on the mesh: the wide frozen readout of ``research/iat_rowdy.md`` §3) and ``activation_matrix``
(the linear form I(z) = S(D(z)) z of IAT-ReLU). :class:`DecoupledIAT` takes the activation pattern
from a separate input (§1.5 of the note).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Callable, Literal

import numpy as np
import torch
from torch import nn

from kernelreg._checks import check_int
from kernelreg import activations
from kernelreg._torch import resolve_device, resolve_dtype
from kernelreg.exceptions import KernelregError
from kernelreg.layers import bases as _bases

__all__ = ["IAT", "DecoupledIAT", "ANALYTIC_INPUT_BASES"]

#: Input bases whose state function is piecewise linear (or constant): the analytic mode's scope.
ANALYTIC_INPUT_BASES = ("rect", "pwl", "pwl_w", "rect_w")

_MODES = ("discrete", "analytic")
_KNOT_TOL = 1e-12


def _merge_knots(*knot_sets: np.ndarray) -> np.ndarray:
    """Sorted union of breakpoints with near-duplicates (closer than 1e-12) merged."""
    knots = np.sort(np.concatenate([np.asarray(k, dtype=np.float64) for k in knot_sets]))
    keep = np.concatenate([[True], np.diff(knots) > _KNOT_TOL])
    knots = knots[keep]
    knots[0], knots[-1] = -1.0, 1.0
    return knots


class IAT(nn.Module):
    """Integral Activation Transform: a vector activation ℝ^{d_in} → ℝ^{d_out} from a scalar σ and two bases.

    The input z is lifted to the state function f(s; z) = zᵀp(s) on [-1, 1], activated pointwise
    and projected onto the output basis q. With rectangular bases (L²-normalised) and ReLU it is
    exactly the elementwise ReLU; smoother or global bases give activation patterns that vary
    continuously with z.

    Parameters
    ----------
    in_basis : {"rect", "pwl", "pwq", "fourier", "pwl_w", "rect_w"} or Basis
        Input basis p (see :mod:`kernelreg.layers.bases`).
    out_basis : {"rect", "pwl", "pwq", "fourier", "pwl_w", "rect_w"} or Basis
        Output basis q.
    d_in : int
        Size of z (number of input basis functions).
    d_out : int or None, default=None
        Size of u (number of output basis functions); ``None`` means ``d_in``.
    activation : str or callable, default="relu"
        Scalar σ: a name of :func:`kernelreg.activations.available` or a callable on tensors.
        Any σ works in discrete mode; the analytic mode needs ReLU.
    activation_params : dict or None, default=None
        Parameters of the activation.
    mesh_ratio : float, default=10
        Mesh points per basis function: M = round(mesh_ratio · max(d_in, d_out)) >= d. For the
        piecewise bases it is the number of points per cell; keep it an integer so that M is a
        multiple of d (then Rect/Rect reproduces ReLU exactly). The IAT paper found ratio 2 best
        for memorisation and larger ratios smoother and better for regression.
    mode : {"discrete", "analytic"}, default="discrete"
        - ``"discrete"``: midpoint rule on the M-cell mesh, u = (2/M)·σ(zᵀP)Qᵀ (paper eqs. 12–13).
        - ``"analytic"``: exact roots of f per linear piece (off the autograd graph) and
          Gauss–Legendre quadrature on the active pieces, with f recomputed on the graph at the
          nodes; autograd then returns exactly ∂u/∂z = S(D(z)). ReLU with an input basis in
          ``ANALYTIC_INPUT_BASES`` only.
    normalize : {"l2", "sup", "none"}, default="l2"
        Normalisation of both bases.
    n_gauss : int or None, default=None
        Gauss–Legendre nodes per active piece in analytic mode. ``None``: 2 for piecewise output
        bases (exact, since q·f has degree <= 3) and 8 for Fourier output (pieces are then also cut
        at half periods of the highest frequency, error ~1e-13).
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
        Dtype of the basis buffers (inputs of another dtype use a cast copy).
    device : str or torch.device, default="cpu"
        Device of the buffers.

    Attributes
    ----------
    p, q : Basis
        The input and output bases.
    activation : kernelreg.activations.Activation
        The scalar σ.
    n_mesh : int
        Number of mesh cells M.
    mesh : Tensor of shape (n_mesh,)
        Midpoints s_m = -1 + (2m - 1)/M (buffer).
    P : Tensor of shape (d_in, n_mesh)
        p_i(s_m) (buffer).
    Q : Tensor of shape (d_out, n_mesh)
        q_j(s_m) (buffer).
    knots : Tensor of shape (n_pieces + 1,) or None
        Breakpoints of the analytic quadrature (buffer), ``None`` outside its scope.

    Raises
    ------
    ValueError
        Unknown basis, non-positive sizes, ``mesh_ratio < 1``, unknown mode.
    KernelregError
        ``mode="analytic"`` with a non-ReLU σ or an input basis outside ``ANALYTIC_INPUT_BASES``.

    See Also
    --------
    DecoupledIAT : pattern from a separate input.
    kernelreg.layers.bases.get : the six bases.

    Notes
    -----
    IAT-ReLU is I(z) = S(D(z))z with D(z) = {s : p(s)ᵀz > 0} and S(D) = ∫_D q pᵀ ds; its gradient is
    S(D(z)) (paper eqs. 17–21). A network of discretised IATs is an M-wide ReLU network whose
    weights (2/M)·PᵀWQ have rank <= d. Neither mode gives correct second derivatives (Remark 1 of
    the paper): the analytic mode detaches the roots.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.layers import IAT
    >>> layer = IAT("rect", "rect", 4, mesh_ratio=3)
    >>> z = torch.tensor([[1.0, -2.0, 0.5, 0.0]], dtype=torch.float64)
    >>> torch.allclose(layer(z), torch.relu(z))
    True
    """

    def __init__(
        self,
        in_basis: str | _bases.Basis,
        out_basis: str | _bases.Basis,
        d_in: int,
        d_out: int | None = None,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        *,
        mesh_ratio: float = 10,
        mode: Literal["discrete", "analytic"] = "discrete",
        normalize: Literal["l2", "sup", "none"] = "l2",
        n_gauss: int | None = None,
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        d_in = check_int(d_in, "d_in", owner)
        d_out = d_in if d_out is None else check_int(d_out, "d_out", owner)
        if mode not in _MODES:
            raise ValueError(f"{owner} mode={mode!r} is unknown; use one of {list(_MODES)}.")
        if isinstance(mesh_ratio, bool) or not isinstance(mesh_ratio, Real) or not mesh_ratio >= 1:
            raise ValueError(
                f"{owner} needs mesh_ratio >= 1 (mesh points per basis function, M = mesh_ratio·d); "
                f"got mesh_ratio={mesh_ratio!r}."
            )
        if n_gauss is not None:
            n_gauss = check_int(n_gauss, "n_gauss", owner)
        self.p = _bases.get(in_basis, d_in, normalize)
        self.q = _bases.get(out_basis, d_out, normalize)
        self.d_in, self.d_out = d_in, d_out
        self.normalize = normalize
        self.mode = mode
        self.mesh_ratio = mesh_ratio
        self.activation = activations.get(activation, **(activation_params or {}))
        self.n_mesh = max(int(round(mesh_ratio * max(d_in, d_out))), max(d_in, d_out))
        torch_dtype, torch_device = resolve_dtype(dtype), resolve_device(device)
        mesh = _bases.midpoint_mesh(self.n_mesh, torch.empty(0, dtype=torch_dtype, device=torch_device))
        self.register_buffer("mesh", mesh)
        self.register_buffer("P", self.p(mesh))
        self.register_buffer("Q", self.q(mesh))

        if mode == "analytic" and self._analytic_scope_problem() is not None:
            raise KernelregError(self._analytic_scope_problem())
        if self.p.piecewise_linear:
            knots = [self.p.knots]
            if self.q.knots is not None:
                knots.append(self.q.knots)
            else:  # Fourier output: cut pieces at half periods of the highest frequency
                k_max = (d_out - 1) // 2 + 1
                knots.append(np.linspace(-1.0, 1.0, 2 * k_max + 1))
            knots = _merge_knots(*knots)
            self.n_gauss = n_gauss if n_gauss is not None else (2 if self.q.knots is not None else 8)
            gx, gw = np.polynomial.legendre.leggauss(self.n_gauss)
            a, b = knots[:-1], knots[1:]
            as_t = lambda x: torch.tensor(x, dtype=torch_dtype, device=torch_device)  # noqa: E731
            self.register_buffer("knots", as_t(knots))
            self.register_buffer("gauss_nodes", as_t(gx))
            self.register_buffer("gauss_weights", as_t(gw))
            # p at the quarter points of each piece: f is linear there, so its one-sided limits at the
            # piece ends follow by extrapolation, even where p jumps at a knot (rect, rect_w).
            self.register_buffer("P_quarter", torch.stack([self.p(as_t(a + 0.25 * (b - a))),
                                                           self.p(as_t(a + 0.75 * (b - a)))]))
        else:
            self.n_gauss = n_gauss
            self.register_buffer("knots", None)
            self.register_buffer("gauss_nodes", None)
            self.register_buffer("gauss_weights", None)
            self.register_buffer("P_quarter", None)

    # ---- validation helpers -------------------------------------------------------------------
    def _is_relu(self) -> bool:
        """Whether σ is ReLU (the analytic mode, the activation matrix and the decoupled view need it)."""
        return getattr(self.activation, "name", None) == "relu"

    def _analytic_scope_problem(self, what: str = "use mode='analytic'") -> str | None:
        """Why the analytic quadrature cannot serve this layer, or None when it can."""
        problems = []
        if not self._is_relu():
            problems.append(f"activation {getattr(self.activation, 'name', self.activation)!r} is not 'relu'")
        if not self.p.piecewise_linear:
            problems.append(f"input basis {self.p.name!r} is not piecewise linear")
        if not problems:
            return None
        return (
            f"{type(self).__name__} cannot {what}: {' and '.join(problems)}. The analytic "
            f"IAT supports activation='relu' with an input basis in {list(ANALYTIC_INPUT_BASES)} and any "
            "output basis; use mode='discrete' for other combinations (any σ, any basis)."
        )

    def _require_relu(self, view: str) -> None:
        """Raise a KernelregError naming the view when σ is not ReLU."""
        if not self._is_relu():
            raise KernelregError(
                f"{type(self).__name__}.{view} is defined for IAT-ReLU only (the activation pattern "
                f"D(z) = {{s : p(s)ᵀz > 0}}); this layer uses activation "
                f"{getattr(self.activation, 'name', self.activation)!r}."
            )

    def _check_input(self, z: torch.Tensor, name: str = "z") -> torch.Tensor:
        """A floating tensor whose last dimension is d_in, else a ValueError naming both numbers."""
        if not isinstance(z, torch.Tensor):
            z = torch.as_tensor(np.asarray(z), dtype=self.P.dtype, device=self.P.device)
        if not z.is_floating_point():
            z = z.to(self.P.dtype)
        if z.ndim == 0 or z.shape[-1] != self.d_in:
            got = "a scalar" if z.ndim == 0 else f"last dimension {z.shape[-1]} (shape {tuple(z.shape)})"
            raise ValueError(
                f"{type(self).__name__} expects {name} with last dimension d_in={self.d_in}; got {got}."
            )
        return z

    # ---- views --------------------------------------------------------------------------------
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """u = I^σ_{p,q}(z) of shape (..., d_out) for z of shape (..., d_in), in the layer's mode."""
        if self.mode == "analytic":
            return self.analytic_forward(z)
        return self.discrete_forward(z)

    def pre_state(self, z: torch.Tensor) -> torch.Tensor:
        """The state function f(s_m; z) = zᵀp(s_m) on the mesh, shape (..., n_mesh)."""
        z = self._check_input(z)
        return z @ self.P.to(z.dtype)

    def state_features(self, z: torch.Tensor, scaled: bool = False) -> torch.Tensor:
        """The activated state function σ(zᵀp(s_m)) on the mesh: the width-M frozen readout.

        Parameters
        ----------
        z : Tensor of shape (..., d_in)
        scaled : bool, default=False
            Multiply by √(2/M), so that the Gram matrix of the features approximates the
            continuous-width kernel ∫ σ(p(s)ᵀz)σ(p(s)ᵀz') ds.

        Returns
        -------
        Tensor of shape (..., n_mesh)
            The discretised forward is ``(2/M) * state_features(z) @ Q.T``.
        """
        out = self.activation(self.pre_state(z))
        return out * math.sqrt(2.0 / self.n_mesh) if scaled else out

    def discrete_forward(self, z: torch.Tensor) -> torch.Tensor:
        """Midpoint-rule IAT u = (2/M)·σ(zᵀP)Qᵀ (any σ, any bases), shape (..., d_out)."""
        feats = self.state_features(z)
        return (2.0 / self.n_mesh) * (feats @ self.Q.to(feats.dtype).T)

    def analytic_forward(self, z: torch.Tensor) -> torch.Tensor:
        """Root-finding IAT-ReLU, exact up to quadrature (exact for piecewise output bases), shape (..., d_out)."""
        self._require_analytic("analytic_forward")
        z = self._check_input(z)
        return self._analytic(z, z, root_gradient=False)

    def activation_matrix(self, z: torch.Tensor, mode: Literal["discrete", "analytic"] | None = None) -> torch.Tensor:
        """S(D(z)) = ∫_{D(z)} q(s) p(s)ᵀ ds, the matrix with I(z) = S(D(z)) z and ∂I/∂z = S(D(z)).

        Parameters
        ----------
        z : Tensor of shape (..., d_in)
        mode : {"discrete", "analytic"} or None, default=None
            Quadrature to use; ``None`` uses the layer's mode.

        Returns
        -------
        Tensor of shape (..., d_out, d_in)
        """
        self._require_relu("activation_matrix")
        mode = self.mode if mode is None else mode
        if mode not in _MODES:
            raise ValueError(f"{type(self).__name__}.activation_matrix mode={mode!r} is unknown; use {list(_MODES)}.")
        z = self._check_input(z)
        if mode == "analytic":
            self._require_analytic("activation_matrix(mode='analytic')")
            lead = z.shape[:-1]
            zf = z.reshape(-1, self.d_in)
            with torch.no_grad():
                wts, p_nodes, q_nodes = self._quadrature(zf.detach(), root_gradient=False)
            S = torch.einsum("bn,jbn,ibn->bji", wts, q_nodes, p_nodes)
            return S.reshape(*lead, self.d_out, self.d_in)
        P, Q = self.P.to(z.dtype), self.Q.to(z.dtype)
        mask = ((z @ P) > 0).to(z.dtype)
        return (2.0 / self.n_mesh) * torch.einsum("...m,jm,im->...ji", mask, Q, P)

    def decoupled(self, z: torch.Tensor, z_pattern: torch.Tensor, root_gradient: bool = True) -> torch.Tensor:
        """Decoupled IAT-ReLU: u = ∫ q(s) 1[p(s)ᵀz_pattern > 0] p(s)ᵀz ds (note §1.5, paper eq. 26).

        The activation pattern comes from ``z_pattern`` and the linear path from ``z``; with the
        pattern fixed, u is linear in z. ``decoupled(z, z)`` equals the IAT-ReLU forward.

        Parameters
        ----------
        z : Tensor of shape (..., d_in)
            Input of the linear path.
        z_pattern : Tensor of shape (..., d_in)
            Input that sets the activation pattern D(z_pattern).
        root_gradient : bool, default=True
            Analytic mode only: let gradients reach ``z_pattern`` through the moving roots (exact
            for continuous p, zero for rect-type p). The discrete mode's pattern is a step
            function of z_pattern and never receives gradient.

        Returns
        -------
        Tensor of shape (..., d_out)
        """
        self._require_relu("decoupled")
        z = self._check_input(z)
        z_pattern = self._check_input(z_pattern, "z_pattern")
        if z.shape != z_pattern.shape:
            raise ValueError(
                f"{type(self).__name__}.decoupled needs z and z_pattern of one shape; got "
                f"{tuple(z.shape)} and {tuple(z_pattern.shape)}."
            )
        if self.mode == "analytic":
            return self._analytic(z, z_pattern.to(z.dtype), root_gradient=root_gradient)
        P, Q = self.P.to(z.dtype), self.Q.to(z.dtype)
        mask = ((z_pattern.to(z.dtype) @ P) > 0).to(z.dtype)
        return (2.0 / self.n_mesh) * ((mask * (z @ P)) @ Q.T)

    # ---- analytic quadrature ------------------------------------------------------------------
    def _require_analytic(self, view: str) -> None:
        """Raise the analytic-scope KernelregError when this layer's σ/basis combination is outside it."""
        problem = self._analytic_scope_problem(f"compute {view}")
        if problem is not None:
            raise KernelregError(problem)

    def _active_pieces(self, z_pattern: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per sample and piece, the active sub-interval [lo, hi] where zᵀp(s) > 0 (empty: lo = hi)."""
        knots = self.knots.to(z_pattern.dtype)
        a, b = knots[:-1], knots[1:]
        length = b - a
        pq = self.P_quarter.to(z_pattern.dtype)
        f1, f2 = z_pattern @ pq[0], z_pattern @ pq[1]          # f at a + L/4 and a + 3L/4
        fa, fb = 1.5 * f1 - 0.5 * f2, 1.5 * f2 - 0.5 * f1        # one-sided limits at a+ and b-
        pos_a, pos_b = fa > 0, fb > 0
        cross = pos_a ^ pos_b
        denom = torch.where(cross, fa - fb, torch.ones_like(fa))
        ratio = torch.where(cross, fa / denom, torch.zeros_like(fa)).clamp(0.0, 1.0)
        root = a + length * ratio
        a_full, b_full = a.expand_as(root), b.expand_as(root)
        lo = torch.where(pos_a, a_full, torch.where(pos_b, root, a_full))
        hi = torch.where(pos_a, torch.where(pos_b, b_full, root), torch.where(pos_b, b_full, a_full))
        return lo, hi

    def _quadrature(self, z_pattern: torch.Tensor, root_gradient: bool):
        """Gauss weights (B, n) and the bases at the nodes, (d_in, B, n) and (d_out, B, n), on the active set."""
        if root_gradient:
            lo, hi = self._active_pieces(z_pattern)
        else:
            with torch.no_grad():
                lo, hi = self._active_pieces(z_pattern.detach())
        n_batch = z_pattern.shape[0]
        gx = self.gauss_nodes.to(z_pattern.dtype)
        gw = self.gauss_weights.to(z_pattern.dtype)
        half, mid = 0.5 * (hi - lo), 0.5 * (hi + lo)
        nodes = (mid[..., None] + half[..., None] * gx).reshape(-1)
        wts = (half[..., None] * gw).reshape(n_batch, -1)
        p_nodes = self.p(nodes).reshape(self.d_in, n_batch, -1)
        q_nodes = self.q(nodes).reshape(self.d_out, n_batch, -1)
        return wts, p_nodes, q_nodes

    def _analytic(self, z: torch.Tensor, z_pattern: torch.Tensor, root_gradient: bool) -> torch.Tensor:
        """∫_{D(z_pattern)} q(s) zᵀp(s) ds by Gauss–Legendre on the active pieces, f on the graph."""
        lead = z.shape[:-1]
        zf = z.reshape(-1, self.d_in)
        wts, p_nodes, q_nodes = self._quadrature(z_pattern.reshape(-1, self.d_in), root_gradient)
        f = torch.einsum("bi,ibn->bn", zf, p_nodes)  # state function at the nodes, on the graph
        u = torch.einsum("bn,jbn->bj", wts * f, q_nodes)
        return u.reshape(*lead, self.d_out)

    def extra_repr(self) -> str:
        return (
            f"in_basis={self.p.name!r}, out_basis={self.q.name!r}, d_in={self.d_in}, d_out={self.d_out}, "
            f"activation={getattr(self.activation, 'name', self.activation)!r}, mode={self.mode!r}, "
            f"n_mesh={self.n_mesh}, normalize={self.normalize!r}"
        )


class DecoupledIAT(IAT):
    """IAT-ReLU whose activation pattern comes from a separate input (the decoupled network piece).

    forward(z, z_pattern) = ∫ q(s) 1[p(s)ᵀz_pattern > 0] p(s)ᵀz ds (seed paper 000 §4.4, eq. 26):
    a pattern generator (e.g. a frozen or separately trained branch W₂) decides the active set and
    the linear path (W₁) carries the values. With the pattern fixed the output is linear in z, so
    the remaining fit is a least-squares problem.

    Parameters
    ----------
    in_basis, out_basis, d_in, d_out, mesh_ratio, mode, normalize, n_gauss, dtype, device
        As for :class:`IAT` (σ is ReLU).
    root_gradient : bool, default=True
        Analytic mode: let gradients reach ``z_pattern`` through the roots (continuous p gives
        the paper's continuous decoupled model). The discrete mode never does.

    See Also
    --------
    IAT.decoupled : the same view on an ordinary IAT-ReLU layer.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.layers import DecoupledIAT
    >>> layer = DecoupledIAT("pwl", "pwq", 3, mesh_ratio=4)
    >>> z = torch.ones(2, 3, dtype=torch.float64)
    >>> layer(z, z).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        in_basis: str | _bases.Basis,
        out_basis: str | _bases.Basis,
        d_in: int,
        d_out: int | None = None,
        *,
        mesh_ratio: float = 10,
        mode: Literal["discrete", "analytic"] = "discrete",
        normalize: Literal["l2", "sup", "none"] = "l2",
        n_gauss: int | None = None,
        root_gradient: bool = True,
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(in_basis, out_basis, d_in, d_out, "relu", mesh_ratio=mesh_ratio, mode=mode,
                         normalize=normalize, n_gauss=n_gauss, dtype=dtype, device=device)
        self.root_gradient = root_gradient

    def forward(self, z: torch.Tensor, z_pattern: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """u of shape (..., d_out); ``z_pattern=None`` uses z itself (plain IAT-ReLU values)."""
        return self.decoupled(z, z if z_pattern is None else z_pattern, root_gradient=self.root_gradient)
