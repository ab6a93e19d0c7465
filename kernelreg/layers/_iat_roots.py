"""Roots of the IAT state function f(s; z) = zᵀp(s) on [-1, 1], batched in torch, for the analytic IAT-ReLU.

Every function here runs off the autograd graph: the roots only decide *where* f is positive, and
the analytic IAT recomputes f on the graph at Gauss nodes (seed paper 000 §4.3, eqs. 20–22). What
matters for the integral is that every sign change of f is among the returned points; extra
points (complex roots, roots of a piece's polynomial outside the piece) only split an interval of
one sign and cost nothing but nodes. A root misplaced by δ changes the integral by about
|f'|·δ²/2, so a near-double root found to √ε is still exact to rounding.
"""

from __future__ import annotations

import numpy as np
import torch

from kernelreg.layers.bases import Basis


def _max_frequency_index(basis: Basis) -> int:
    """K of the highest harmonic sin/cos(Kπs) in a Fourier basis."""
    return (basis.d - 1) // 2 + 1


def candidate_roots(basis: Basis, z: torch.Tensor) -> torch.Tensor:
    """Points of [-1, 1] that include every sign change of f(s; z) inside a piece of p, shape (B, R).

    Jumps of a discontinuous p sit at its knots and are not returned (the knots are breakpoints
    anyway). ``z`` has shape (B, d) and must be detached.
    """
    if basis.name == "fourier":
        return trigonometric_roots(basis, z)
    if basis.degree == 0:
        return z.new_zeros(z.shape[0], 0)
    coef = torch.tensor(basis.piece_coefficients, dtype=z.dtype, device=z.device)
    poly = torch.einsum("bi,ikj->bkj", z, coef)  # f's Taylor coefficients per piece, around the midpoint
    knots = torch.tensor(basis.knots, dtype=z.dtype, device=z.device)
    mids = 0.5 * (knots[:-1] + knots[1:])
    half = 0.5 * (knots[1:] - knots[:-1])
    if basis.degree == 1:
        c0, c1 = poly[..., 0], poly[..., 1]
        x = torch.where(c1 != 0, -c0 / torch.where(c1 != 0, c1, torch.ones_like(c1)), torch.zeros_like(c1))
        roots = x.unsqueeze(-1)
    else:
        roots = torch.stack(quadratic_roots(poly[..., 0], poly[..., 1], poly[..., 2]), dim=-1)
    roots = torch.minimum(torch.maximum(roots, -half[:, None]), half[:, None]) + mids[:, None]
    return roots.reshape(z.shape[0], -1)


def quadratic_roots(c0: torch.Tensor, c1: torch.Tensor, c2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both real roots of c0 + c1·x + c2·x², without cancellation; 0 stands in where a root does not exist.

    Uses q = -(c1 + sign(c1)·√disc)/2, x₁ = q/c2, x₂ = c0/q (Numerical Recipes §5.6), so neither
    root loses digits when 4·c0·c2 ≪ c1². A linear polynomial (c2 = 0) gives its root and 0; no
    real root (disc < 0) gives 0 and 0. A stand-in only adds a harmless breakpoint.
    """
    disc = c1 * c1 - 4.0 * c0 * c2
    real = disc >= 0
    sq = torch.sqrt(torch.clamp_min(disc, 0.0))
    q = -0.5 * (c1 + torch.copysign(sq, c1))
    safe = lambda x: torch.where(x != 0, x, torch.ones_like(x))  # noqa: E731
    x1 = torch.where(real & (c2 != 0), q / safe(c2), torch.zeros_like(q))
    x2 = torch.where(real & (q != 0), c0 / safe(q), torch.zeros_like(q))
    finite = lambda x: torch.where(torch.isfinite(x), x, torch.zeros_like(x))  # noqa: E731
    return finite(x1), finite(x2)


def trigonometric_roots(basis: Basis, z: torch.Tensor) -> torch.Tensor:
    """All 2K roots' angles of the trigonometric polynomial f(s) = Σ a_k cos kπs + b_k sin kπs, as s in (-1, 1].

    With w = e^{iπs}, w^K·f(s) is a polynomial of degree 2K in w whose roots on the unit circle
    are the real roots of f; its companion matrix's eigenvalues (``torch.linalg.eigvals``, batched)
    give them all at once. Roots off the circle (complex pairs) return their angles: extra
    breakpoints inside one sign region, harmless. A near-vanishing leading coefficient is lifted
    to 1e-10 of the largest, which moves real roots by ~1e-10/|f'| and the integral by ~1e-20.
    """
    K = _max_frequency_index(basis)
    n_batch = z.shape[0]
    cdtype = torch.complex128 if z.dtype == torch.float64 else torch.complex64
    weights = z * torch.tensor(basis.scales, dtype=z.dtype, device=z.device)
    index = torch.tensor(np.rint(basis.frequencies / np.pi).astype(np.int64), device=z.device)
    is_sine = torch.tensor(basis.is_sine, device=z.device)
    a = z.new_zeros(n_batch, K + 1).index_add_(1, index[~is_sine], weights[:, ~is_sine])  # cosine coefficients
    b = z.new_zeros(n_batch, K + 1).index_add_(1, index[is_sine], weights[:, is_sine])    # sine coefficients
    coef = torch.zeros(n_batch, 2 * K + 1, dtype=cdtype, device=z.device)
    k = torch.arange(1, K + 1, device=z.device)
    upper = torch.complex(a[:, 1:], -b[:, 1:]) / 2
    lower = torch.complex(a[:, 1:], b[:, 1:]) / 2
    coef[:, K + k] = upper
    coef[:, K - k] = lower
    scale = coef.abs().amax(dim=1, keepdim=True)
    zero = scale[:, 0] == 0
    if bool(zero.any()):  # f ≡ 0: any roots will do
        coef[zero] = 0
        coef[zero, 0], coef[zero, -1] = -1, 1
        scale = coef.abs().amax(dim=1, keepdim=True)
    lead = coef[:, -1:]
    small = lead.abs() < 1e-10 * scale
    lead = torch.where(small, (1e-10 * scale).to(cdtype), lead)
    companion = torch.zeros(n_batch, 2 * K, 2 * K, dtype=cdtype, device=z.device)
    companion[:, 1:, :-1] = torch.eye(2 * K - 1, dtype=cdtype, device=z.device)
    companion[:, :, -1] = -coef[:, :-1] / lead
    roots = torch.linalg.eigvals(companion)
    return (torch.angle(roots) / torch.pi).to(z.dtype)
