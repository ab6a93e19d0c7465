"""Integral Activation Transform (IAT) layers: vector activations built from a scalar σ and two bases.

u = I^σ_{p,q}(z) = ∫_{-1}^{1} q(s) σ(zᵀp(s)) ds  (Zhang, Bao & Zhang, seed paper 000, eq. 4).

One module serves the views the rest of the library needs, all from the same buffers: ``forward``
(trainable, discretised or analytic, optionally followed by BatchNorm), ``state_features`` (the
activated state function on the mesh: the wide frozen readout of ``research/iat_rowdy.md`` §3),
``activation_matrix`` (the linear form I(z) = S(D(z)) z of IAT-ReLU) and the exact second
derivatives ``hessian`` / ``hessian_vector_product``. :class:`DecoupledIAT` takes the activation
pattern from a separate input (§1.5 of the note).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Callable, Literal

import numpy as np
import torch
from torch import nn

from kernelreg import activations
from kernelreg._checks import check_int
from kernelreg._torch import resolve_device, resolve_dtype
from kernelreg.exceptions import KernelregError
from kernelreg.layers import bases as _bases
from kernelreg.layers._iat_roots import candidate_roots

__all__ = ["IAT", "DecoupledIAT", "ANALYTIC_INPUT_BASES"]

#: Input bases the analytic IAT-ReLU handles: all six (exact roots per polynomial piece; companion
#: matrix roots for Fourier).
ANALYTIC_INPUT_BASES = tuple(_bases.available())

_MODES = ("discrete", "analytic")
_KNOT_TOL = 1e-12


def _merge_knots(*knot_sets: np.ndarray) -> np.ndarray:
    """Sorted union of breakpoints with near-duplicates (closer than 1e-12) merged."""
    knots = np.sort(np.concatenate([np.asarray(k, dtype=np.float64) for k in knot_sets]))
    keep = np.concatenate([[True], np.diff(knots) > _KNOT_TOL])
    knots = knots[keep]
    knots[0], knots[-1] = -1.0, 1.0
    return knots


def _mesh_multiple(basis: _bases.Basis) -> int:
    """The M must be a multiple of this for every jump of ``basis`` to sit on a cell boundary of the mesh (1: none)."""
    if basis.continuous:
        return 1
    return basis.d if basis.name == "rect" else 2 * basis.d  # rect jumps at edges, rect_w at centres


def _static_knots(p: _bases.Basis, q: _bases.Basis) -> np.ndarray:
    """Breakpoints fixed by the bases: knots of p and q, plus cuts every half period of the fastest product wave."""
    sets = [np.array([-1.0, 1.0])] + [b.knots for b in (p, q) if b.knots is not None]
    harmonics = sum((b.d - 1) // 2 + 1 for b in (p, q) if b.name == "fourier")
    if harmonics:  # q·f oscillates at most like cos(harmonics·π·s): pieces of length 1/harmonics
        sets.append(np.linspace(-1.0, 1.0, 2 * harmonics + 1))
    return _merge_knots(*sets)


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
        piecewise bases it is the number of points per cell. With a discontinuous basis the mesh
        must put every jump on a cell boundary (M a multiple of d for ``rect``, of 2d for
        ``rect_w``), else the constructor raises: Rect/Rect would silently stop being ReLU. The
        IAT paper found ratio 2 best for memorisation and larger ratios smoother and better for
        regression.
    mode : {"discrete", "analytic"}, default="discrete"
        - ``"discrete"``: midpoint rule on the M-cell mesh, u = (2/M)·σ(zᵀP)Qᵀ (paper eqs. 12–13).
        - ``"analytic"``: IAT-ReLU from the roots of f (off the autograd graph: per polynomial
          piece in closed form, or from the companion matrix for Fourier p) and Gauss–Legendre
          quadrature on the active pieces, with f recomputed on the graph at the nodes; autograd
          then returns exactly ∂u/∂z = S(D(z)). ReLU only; any input and output basis.
    normalize : {"l2", "sup", "none"}, default="l2"
        Normalisation of both bases.
    n_gauss : int or None, default=None
        Gauss–Legendre nodes per active piece in analytic mode. ``None``: enough for exactness
        when both bases are piecewise polynomial (q·f of degree <= 2G - 1), else 8 (pieces are
        then cut every half period of the fastest wave of q·f; error ~1e-15).
    root_gradient : bool, default=False
        Analytic mode: keep the roots of f on the autograd graph with their exact gradient
        ∂r/∂z = -p(r)/f'(r) (paper eq. 22). First derivatives are the same either way; with it,
        autograd's *second* derivatives of the forward are exact too (PINN-type losses, the
        paper's Remark 1), at the cost of one extra basis evaluation at the breakpoints.
    batchnorm : bool, default=False
        Follow the transform with ``nn.BatchNorm1d(d_out)`` over the flattened leading dimensions
        (Remark 2 of the paper: IAT-ReLU is homogeneous in the scales of p, q and z, and BatchNorm
        neutralises the choice of scales). The other views (``transform``,
        ``activation_matrix``, ``hessian``, ``state_features``, ``decoupled``) describe the
        transform before normalisation.
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
    knots : Tensor of shape (n_pieces + 1,)
        Breakpoints that do not depend on z in the analytic quadrature (buffer).
    batchnorm : nn.BatchNorm1d or None
        The normalisation after the transform, when requested.

    Raises
    ------
    ValueError
        Unknown basis, non-positive sizes, ``mesh_ratio < 1``, a mesh that puts a jump of a
        discontinuous basis inside a cell, unknown mode.
    KernelregError
        ``mode="analytic"`` with a non-ReLU σ.

    See Also
    --------
    DecoupledIAT : pattern from a separate input.
    DecoupledIATNetwork : a network with separate pattern and value weights.
    kernelreg.layers.bases.get : the six bases.

    Notes
    -----
    IAT-ReLU is I(z) = S(D(z))z with D(z) = {s : p(s)ᵀz > 0} and S(D) = ∫_D q pᵀ ds; its gradient is
    S(D(z)) (paper eqs. 17–21) and its Hessian, for continuous p, is the sum over the roots r of f:

        ∂²u_j/∂z∂zᵀ = Σ_r q_j(r) p(r) p(r)ᵀ / |f'(r)|

    (the boundary terms of D(z) moving with ∂r/∂z = -p(r)/f'(r), eq. 22); it is zero for the
    discretised IAT-ReLU and for rect-type p (Remark 1). A network of discretised IATs is an
    M-wide ReLU network whose weights (2/M)·PᵀWQ have rank <= d.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.layers import IAT
    >>> layer = IAT("rect", "rect", 4, mesh_ratio=3)
    >>> z = torch.tensor([[1.0, -2.0, 0.5, 0.0]], dtype=torch.float64)
    >>> torch.allclose(layer(z), torch.relu(z))
    True
    >>> smooth = IAT("fourier", "pwq", 4, mode="analytic")
    >>> v = torch.ones(1, 4, dtype=torch.float64)
    >>> smooth.hessian_vector_product(z, v).shape
    torch.Size([1, 4, 4])
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
        root_gradient: bool = False,
        batchnorm: bool = False,
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
        self.root_gradient = bool(root_gradient)
        self.activation = activations.get(activation, **(activation_params or {}))
        self.n_mesh = max(int(round(mesh_ratio * max(d_in, d_out))), max(d_in, d_out))
        self._check_mesh()
        torch_dtype, torch_device = resolve_dtype(dtype), resolve_device(device)
        mesh = _bases.midpoint_mesh(self.n_mesh, torch.empty(0, dtype=torch_dtype, device=torch_device))
        self.register_buffer("mesh", mesh)
        self.register_buffer("P", self.p(mesh))
        self.register_buffer("Q", self.q(mesh))
        if mode == "analytic" and not self._is_relu():
            raise KernelregError(self._analytic_scope_problem())

        if n_gauss is None:
            if "fourier" in (self.p.name, self.q.name):
                n_gauss = 8
            else:
                n_gauss = (self.p.degree + self.q.degree) // 2 + 1
        self.n_gauss = n_gauss
        gx, gw = np.polynomial.legendre.leggauss(n_gauss)
        as_t = lambda x: torch.tensor(x, dtype=torch_dtype, device=torch_device)  # noqa: E731
        self.register_buffer("knots", as_t(_static_knots(self.p, self.q)))
        self.register_buffer("gauss_nodes", as_t(gx))
        self.register_buffer("gauss_weights", as_t(gw))
        self.batchnorm = nn.BatchNorm1d(d_out, dtype=torch_dtype, device=torch_device) if batchnorm else None

    # ---- validation helpers -------------------------------------------------------------------
    def _check_mesh(self) -> None:
        """Refuse a mesh whose cells straddle a jump of a discontinuous basis (Rect/Rect would not be ReLU)."""
        need = math.lcm(_mesh_multiple(self.p), _mesh_multiple(self.q))
        if self.n_mesh % need == 0:
            return
        culprits = " and ".join(
            f"{role} basis {b.name!r} (d={b.d}) jumps at "
            f"{'the cell edges' if b.name == 'rect' else 'the cell centres'}"
            for role, b in (("input", self.p), ("output", self.q)) if _mesh_multiple(b) > 1
        )
        d_max = max(self.d_in, self.d_out)
        good = need * math.ceil(self.n_mesh / need)
        raise ValueError(
            f"{type(self).__name__} mesh_ratio={self.mesh_ratio!r} gives M={self.n_mesh} mesh cells, but the "
            f"{culprits}: M must be a multiple of {need} so that every jump falls on a cell boundary "
            f"(otherwise the midpoint rule mixes neighbouring cells, and Rect/Rect is no longer ReLU). "
            f"Use e.g. mesh_ratio={good / d_max:g} (M={good})."
        )

    def _is_relu(self) -> bool:
        """Whether σ is ReLU (the analytic mode, the activation matrix and the decoupled view need it)."""
        return getattr(self.activation, "name", None) == "relu"

    def _analytic_scope_problem(self, what: str = "use mode='analytic'") -> str | None:
        """Why the analytic quadrature cannot serve this layer, or None when it can."""
        if self._is_relu():
            return None
        return (
            f"{type(self).__name__} cannot {what}: activation "
            f"{getattr(self.activation, 'name', self.activation)!r} is not 'relu'. The analytic IAT "
            "integrates ReLU of the state function between its roots (any input and output basis); "
            "use mode='discrete' for other activations."
        )

    def _require_analytic(self, view: str) -> None:
        """Raise the analytic-scope KernelregError when σ is not ReLU."""
        problem = self._analytic_scope_problem(f"compute {view}")
        if problem is not None:
            raise KernelregError(problem)

    def _require_relu(self, view: str) -> None:
        """Raise a KernelregError naming the view when σ is not ReLU."""
        if not self._is_relu():
            raise KernelregError(
                f"{type(self).__name__}.{view} is defined for IAT-ReLU only (the activation pattern "
                f"D(z) = {{s : p(s)ᵀz > 0}}); this layer uses activation "
                f"{getattr(self.activation, 'name', self.activation)!r}."
            )

    def _check_mode(self, mode: str | None, view: str) -> str:
        """The quadrature a view should use: the given one or the layer's."""
        mode = self.mode if mode is None else mode
        if mode not in _MODES:
            raise ValueError(f"{type(self).__name__}.{view} mode={mode!r} is unknown; use {list(_MODES)}.")
        return mode

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

    def _check_pair(self, z: torch.Tensor, other: torch.Tensor, name: str, view: str) -> torch.Tensor:
        """A second input of z's shape (z_pattern, v), cast to z's dtype."""
        other = self._check_input(other, name)
        if z.shape != other.shape:
            raise ValueError(
                f"{type(self).__name__}.{view} needs z and {name} of one shape; got "
                f"{tuple(z.shape)} and {tuple(other.shape)}."
            )
        return other.to(z.dtype)

    # ---- views --------------------------------------------------------------------------------
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """u = I^σ_{p,q}(z) of shape (..., d_out) for z of shape (..., d_in), then BatchNorm when enabled."""
        return self._normalise(self.transform(z))

    def transform(self, z: torch.Tensor) -> torch.Tensor:
        """The IAT itself in the layer's mode (no BatchNorm), shape (..., d_out)."""
        if self.mode == "analytic":
            z = self._check_input(z)
            return self._analytic((z,), z, self.root_gradient)[0]
        return self.discrete_forward(z)

    def _normalise(self, u: torch.Tensor) -> torch.Tensor:
        """BatchNorm1d over the flattened leading dimensions (identity without ``batchnorm``)."""
        if self.batchnorm is None:
            return u
        dtype = self.batchnorm.weight.dtype
        flat = self.batchnorm(u.reshape(-1, self.d_out).to(dtype))
        return flat.reshape(u.shape).to(u.dtype)

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
            The discretised transform is ``(2/M) * state_features(z) @ Q.T``.
        """
        out = self.activation(self.pre_state(z))
        return out * math.sqrt(2.0 / self.n_mesh) if scaled else out

    def discrete_forward(self, z: torch.Tensor) -> torch.Tensor:
        """Midpoint-rule IAT u = (2/M)·σ(zᵀP)Qᵀ (any σ, any bases), shape (..., d_out)."""
        feats = self.state_features(z)
        return (2.0 / self.n_mesh) * (feats @ self.Q.to(feats.dtype).T)

    def analytic_forward(self, z: torch.Tensor) -> torch.Tensor:
        """Root-finding IAT-ReLU, exact up to rounding (and quadrature when a basis is Fourier), shape (..., d_out)."""
        self._require_analytic("analytic_forward")
        z = self._check_input(z)
        return self._analytic((z,), z, root_gradient=False)[0]

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
        mode = self._check_mode(mode, "activation_matrix")
        z = self._check_input(z)
        if mode == "analytic":
            lead = z.shape[:-1]
            with torch.no_grad():
                zf = z.detach().reshape(-1, self.d_in)
                edges, _, active = self._subintervals(zf)
                wts, p_nodes, q_nodes = self._nodes(edges, active)
            S = torch.einsum("bn,jbn,ibn->bji", wts, q_nodes, p_nodes)
            return S.reshape(*lead, self.d_out, self.d_in)
        P, Q = self.P.to(z.dtype), self.Q.to(z.dtype)
        mask = ((z @ P) > 0).to(z.dtype)
        return (2.0 / self.n_mesh) * torch.einsum("...m,jm,im->...ji", mask, Q, P)

    def hessian(self, z: torch.Tensor, mode: Literal["discrete", "analytic"] | None = None) -> torch.Tensor:
        """The exact second derivatives ∂²u_j/∂z_i∂z_k of the transform, shape (..., d_out, d_in, d_in).

        Analytic IAT-ReLU: Σ_r q_j(r) p_i(r) p_k(r) / |f'(r)| over the roots r of f where it changes
        sign (none for rect-type p, whose sign changes sit at jumps that do not move). Discrete
        mode: (2/M)·Σ_m σ''(f(s_m)) q_j(s_m) p_i(s_m) p_k(s_m), zero almost everywhere for ReLU
        (Remark 1 of the paper). ``mode=None`` uses the layer's mode. Not differentiable itself.
        """
        z = self._check_input(z)
        return self._second_derivative(z, None, self._check_mode(mode, "hessian"))

    def hessian_vector_product(
        self, z: torch.Tensor, v: torch.Tensor, mode: Literal["discrete", "analytic"] | None = None
    ) -> torch.Tensor:
        """(∂²u_j/∂z²)·v for every output j, exact (see :meth:`hessian`), shape (..., d_out, d_in).

        Parameters
        ----------
        z : Tensor of shape (..., d_in)
            Where to take the second derivative.
        v : Tensor of shape (..., d_in)
            The direction, one per sample.
        mode : {"discrete", "analytic"} or None, default=None
            ``None`` uses the layer's mode.

        Returns
        -------
        Tensor of shape (..., d_out, d_in)
            Row j is the Hessian of u_j times v; contract with output weights w as
            ``torch.einsum("...j,...ji->...i", w, hvp)``.
        """
        z = self._check_input(z)
        v = self._check_pair(z, v, "v", "hessian_vector_product")
        return self._second_derivative(z, v, self._check_mode(mode, "hessian_vector_product"))

    def decoupled(self, z: torch.Tensor, z_pattern: torch.Tensor, root_gradient: bool = True) -> torch.Tensor:
        """Decoupled IAT-ReLU: u = ∫ q(s) 1[p(s)ᵀz_pattern > 0] p(s)ᵀz ds (note §1.5, paper eq. 26).

        The activation pattern comes from ``z_pattern`` and the linear path from ``z``; with the
        pattern fixed, u is linear in z. ``decoupled(z, z)`` equals the IAT-ReLU transform.

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
        return self.decoupled_pair(z, z_pattern, root_gradient)[0]

    def decoupled_pair(
        self, z: torch.Tensor, z_pattern: torch.Tensor, root_gradient: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(decoupled(z, z_pattern), transform(z_pattern)) from one root finding: both branches of a decoupled net."""
        self._require_relu("decoupled")
        z = self._check_input(z)
        z_pattern = self._check_pair(z, z_pattern, "z_pattern", "decoupled")
        if self.mode == "analytic":
            value, pattern = self._analytic((z, z_pattern), z_pattern, root_gradient=root_gradient)
            return value, pattern
        P, Q = self.P.to(z.dtype), self.Q.to(z.dtype)
        f_pattern = z_pattern @ P
        mask = (f_pattern > 0).to(z.dtype)
        scale = 2.0 / self.n_mesh
        return scale * ((mask * (z @ P)) @ Q.T), scale * ((mask * f_pattern) @ Q.T)

    # ---- analytic quadrature ------------------------------------------------------------------
    def _subintervals(self, zp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sorted breakpoints (B, N+1), whether each is a candidate root (B, N+1), and f > 0 on each piece (B, N).

        The breakpoints are the static knots plus every candidate root of f(·; zp), so f has
        one sign on each sub-interval; the sign is read at its midpoint. ``zp`` is detached.
        """
        n_batch, dtype = zp.shape[0], zp.dtype
        inner = self.knots.to(dtype)[1:-1].expand(n_batch, -1)
        roots = candidate_roots(self.p, zp)
        points = torch.cat([inner, roots], dim=1)
        flags = torch.cat([torch.zeros_like(inner, dtype=torch.bool), torch.ones_like(roots, dtype=torch.bool)], dim=1)
        points, order = points.sort(dim=1)
        flags = flags.gather(1, order)
        end = torch.ones(n_batch, 1, dtype=dtype, device=zp.device)
        no = torch.zeros(n_batch, 1, dtype=torch.bool, device=zp.device)
        edges = torch.cat([-end, points, end], dim=1)
        flags = torch.cat([no, flags, no], dim=1)
        mids = 0.5 * (edges[:, :-1] + edges[:, 1:])
        f_mid = torch.einsum("bi,ibn->bn", zp, self.p(mids.reshape(-1)).reshape(self.d_in, n_batch, -1))
        return edges, flags, f_mid > 0

    @staticmethod
    def _sign_changes(flags: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """Candidate roots where f changes sign (B, N+1): the roots that move with z (jumps of p do not)."""
        change = torch.zeros_like(flags)
        change[:, 1:-1] = active[:, :-1] != active[:, 1:]
        return change & flags

    def _root_slopes(self, zp: torch.Tensor, edges: torch.Tensor, roots: torch.Tensor):
        """p and f' = zpᵀp' at the breakpoints, with the moving roots' mask restricted to f' != 0."""
        n_batch = zp.shape[0]
        flat = edges.reshape(-1)
        p_edges = self.p(flat).reshape(self.d_in, n_batch, -1)
        slope = torch.einsum("bi,ibn->bn", zp.detach(), self.p.derivative(flat).reshape(self.d_in, n_batch, -1))
        return p_edges, slope, roots & (slope != 0)

    def _graph_edges(self, zp: torch.Tensor, edges: torch.Tensor, flags: torch.Tensor, active: torch.Tensor):
        """The breakpoints with the moving roots put on the graph: same values, gradient -p(r)/f'(r) (eq. 22)."""
        roots = self._sign_changes(flags, active)
        if not bool(roots.any()):
            return edges
        p_edges, slope, roots = self._root_slopes(zp, edges, roots)
        f_edges = torch.einsum("bi,ibn->bn", zp, p_edges)  # zero in value at the roots, on the graph in zp
        shift = (f_edges - f_edges.detach()) / torch.where(roots, slope, torch.ones_like(slope))
        return edges - torch.where(roots, shift, torch.zeros_like(shift))

    def _nodes(self, edges: torch.Tensor, active: torch.Tensor):
        """Gauss weights (B, n), zero on inactive pieces, and p, q at the nodes: (d_in, B, n), (d_out, B, n)."""
        n_batch, dtype = edges.shape[0], edges.dtype
        gx, gw = self.gauss_nodes.to(dtype), self.gauss_weights.to(dtype)
        lo, hi = edges[:, :-1], edges[:, 1:]
        half, mid = 0.5 * (hi - lo), 0.5 * (hi + lo)
        nodes = (mid[..., None] + half[..., None] * gx).reshape(-1)
        wts = (half[..., None] * gw * active[..., None].to(dtype)).reshape(n_batch, -1)
        p_nodes = self.p(nodes).reshape(self.d_in, n_batch, -1)
        q_nodes = self.q(nodes).reshape(self.d_out, n_batch, -1)
        return wts, p_nodes, q_nodes

    def _analytic(self, values: tuple[torch.Tensor, ...], z_pattern: torch.Tensor, root_gradient: bool):
        """∫_{D(z_pattern)} q(s) vᵀp(s) ds for each v in ``values``: Gauss–Legendre on the active pieces, f on the graph."""
        lead = z_pattern.shape[:-1]
        zp = z_pattern.reshape(-1, self.d_in)
        with torch.no_grad():
            edges, flags, active = self._subintervals(zp.detach())
        if root_gradient and zp.requires_grad:
            edges = self._graph_edges(zp, edges, flags, active)
        wts, p_nodes, q_nodes = self._nodes(edges, active)
        outs = []
        for v in values:
            f = torch.einsum("bi,ibn->bn", v.reshape(-1, self.d_in), p_nodes)  # state function at the nodes
            outs.append(torch.einsum("bn,jbn->bj", wts * f, q_nodes).reshape(*lead, self.d_out))
        return tuple(outs)

    # ---- second derivatives -------------------------------------------------------------------
    def _second_derivative(self, z: torch.Tensor, v: torch.Tensor | None, mode: str) -> torch.Tensor:
        """Hessian (v None) or Hessian-vector product of the transform, closed form per mode."""
        lead = z.shape[:-1]
        zf = z.detach().reshape(-1, self.d_in)
        vf = None if v is None else v.detach().reshape(-1, self.d_in)
        if mode == "analytic":
            self._require_analytic("hessian")
            with torch.no_grad():
                edges, flags, active = self._subintervals(zf)
                p_at, slope, roots = self._root_slopes(zf, edges, self._sign_changes(flags, active))
                weight = torch.where(roots, 1.0 / torch.where(roots, slope.abs(), torch.ones_like(slope)),
                                     torch.zeros_like(slope))
                q_at = self.q(edges.reshape(-1)).reshape(self.d_out, zf.shape[0], -1)
        else:
            P, Q = self.P.to(z.dtype), self.Q.to(z.dtype)
            n_batch = zf.shape[0]
            weight = (2.0 / self.n_mesh) * self._sigma_second(zf @ P)
            p_at, q_at = P[:, None, :].expand(-1, n_batch, -1), Q[:, None, :].expand(-1, n_batch, -1)
        if vf is None:
            out = torch.einsum("bn,jbn,ibn,kbn->bjik", weight, q_at, p_at, p_at)
            return out.reshape(*lead, self.d_out, self.d_in, self.d_in)
        pv = torch.einsum("ibn,bi->bn", p_at, vf)
        out = torch.einsum("bn,jbn,ibn->bji", weight * pv, q_at, p_at)
        return out.reshape(*lead, self.d_out, self.d_in)

    def _sigma_second(self, f: torch.Tensor) -> torch.Tensor:
        """σ''(f) elementwise by double backward (zero where σ is piecewise linear)."""
        with torch.enable_grad():
            x = f.detach().requires_grad_(True)
            (first,) = torch.autograd.grad(self.activation(x).sum(), x, create_graph=True)
            if not first.requires_grad:
                return torch.zeros_like(f)
            (second,) = torch.autograd.grad(first.sum(), x, allow_unused=True)
        return torch.zeros_like(f) if second is None else second.detach()

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
    DecoupledIATNetwork : whole networks with separate pattern and value weights.

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
                         normalize=normalize, n_gauss=n_gauss, root_gradient=root_gradient, dtype=dtype,
                         device=device)

    def forward(self, z: torch.Tensor, z_pattern: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        """u of shape (..., d_out); ``z_pattern=None`` uses z itself (plain IAT-ReLU values)."""
        return self.decoupled(z, z if z_pattern is None else z_pattern, root_gradient=self.root_gradient)
