"""The plane reduction of K∞: per pair of points, a few coordinates, Gauss rules, and σ at the nodes.

For x, x′ ∈ R^d put z = x − x′, e₁ = z/‖z‖ and let h be the foot of the perpendicular from the
origin to the line through x and x′ (ρ = ‖h‖, e₂ = h/ρ). Then x = p e₁ + h and x′ = q e₁ + h with
q = p − ‖z‖, and for ξ on the sphere

    ξ·x = p t₁ + ρ s,   ξ·x′ = q t₁ + ρ s,   t₁ = ξ·e₁,  s = ξ·e₂ = √(1 − t₁²) w,

where t₁ has the density ∝ (1 − t₁²)^{(d−3)/2} on [−1, 1] and w, independent of t₁, has the density
∝ (1 − w²)^{(d−4)/2} (d ≥ 3; w = ±1 for d = 2; ξ = ±1 for d = 1). Their joint density in (t₁, s)
is ∝ (1 − t₁² − s²)^{(d−4)/2} on the unit disk, (1 − ‖t‖²)^{−1/2} for d = 3. So

    K∞(x, x′) = E_{t₁, w}[G(ξ·x, ξ·x′)],   G(u, v) = (1/2B) ∫_{−B}^{B} σ(u − γ) σ(v − γ) dγ,

a two-dimensional integral whatever d is. The kinks of G lie where u − v = ‖z‖ t₁ equals a
difference of kinks of σ (t₁ = 0 for one kink: aligned with the rule) and where u or v minus a
kink of σ reaches ±B (only for points outside the ball ‖x‖ ≤ B − |kink|).

Three structures evaluate it (all tensors of shape (pairs, nodes), float64 on the device):

* ``full``   σ without kinks: Gauss–Jacobi in t₁ and w, Gauss–Legendre in γ on [−B, B];
* ``halves`` σ with one kink k and both points in ‖x‖ ≤ B − |k|: the half-range Gauss rule on each
  side of t₁ = 0, and in γ the one (zero left piece) or three panels between −B, min(u,v) − k,
  max(u,v) − k and B. For piecewise-polynomial σ of degree m every rule of m + 1 nodes is exact;
* ``panels`` anything else: for each pair and each w-node, φ = arccos t₁ ∈ [0, π] is split where a
  kink line crosses the circle (explicit angles: ‖z‖cos φ = c and R cos(φ − a) = k ± B), Gauss–
  Legendre on every panel with weight sin^{d−2}φ, and in γ Gauss–Legendre on the panels between the
  sorted points u − kᵢ, v − kᵢ, ±B. For d ≥ 3 with kinks cut by the offset window the w-rule is
  split too, at the explicit w of every kink, inside graded φ-panels (:func:`_nested_panels`).
  Spectral (geometric) convergence in every case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kernelreg.kernels._profiles import Profile
from kernelreg.kernels._rules import direction_rule, gauss_jacobi, gauss_legendre, sphere_t1_norm

__all__ = ["Rule", "invariants", "plane_kernel", "grid_features", "pair_bytes"]


@dataclass(frozen=True)
class Rule:
    """Node counts of one quadrature: t₁ (per half / panel, or trapezoid directions), w, and γ (per panel)."""

    n_t: int
    n_w: int
    n_gamma: int

    def as_dict(self) -> dict[str, int]:
        """Plain dict for reports."""
        return {"t": self.n_t, "w": self.n_w, "gamma": self.n_gamma}


def invariants(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(p, q, ρ, ‖z‖) of the pairs (x, y), broadcast over the leading dimensions (last dimension: d).

    z is formed explicitly, so p = x·z/‖z‖ carries an error of order ε‖x‖ even for nearly equal
    points (a Gram-matrix formula would lose it as ε‖x‖²/‖z‖). ρ² = ‖x‖² − p² is only needed up to
    rounding: K∞ is a smooth function of ρ² (s and −s are equally likely). For z = 0, e₁ = x/‖x‖.
    Small d is unrolled over the coordinates (reductions over a short last axis are slow in torch).
    """
    d = x.shape[-1]
    if d <= 8:
        xs, ys = x.unbind(-1), y.unbind(-1)
        z = xs[0] - ys[0]
        sq_delta, xz, sq = z * z, xs[0] * z, xs[0] * xs[0]
        for k in range(1, d):
            zk = xs[k] - ys[k]
            sq_delta = torch.addcmul(sq_delta, zk, zk)
            xz = torch.addcmul(xz, xs[k], zk)
            sq = torch.addcmul(sq, xs[k], xs[k])
        delta = sq_delta.sqrt()
    else:
        z = x - y
        delta = torch.linalg.vector_norm(z, dim=-1)
        xz = (x * z).sum(-1)
        sq = (x * x).sum(-1)
    sq = sq.expand_as(delta)
    positive = delta > 0
    p = torch.where(positive, xz / torch.where(positive, delta, torch.ones_like(delta)), sq.sqrt())
    rho = torch.clamp(sq - p * p, min=0.0).sqrt()
    return p, p - delta, rho, delta


# ----------------------------------------------------------------------------------------------
# γ: G(u, v) = (1/2B) ∫_{-B}^{B} σ(u − γ) σ(v − γ) dγ at tensors u, v of any shape
# ----------------------------------------------------------------------------------------------
def _gl(n: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss–Legendre nodes and weights as tensors on the device of ``like``."""
    x, w = gauss_legendre(n)
    opts = {"dtype": like.dtype, "device": like.device}
    return torch.tensor(x, **opts), torch.tensor(w, **opts)


def _panel_sum(fn, u: torch.Tensor, v: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, n: int) -> torch.Tensor:
    """Σ over n Gauss–Legendre nodes of ∫_lo^hi σ(u − γ)σ(v − γ) dγ (lo ≤ hi elementwise)."""
    x, w = _gl(n, u)
    half = 0.5 * (hi - lo)
    gamma = (0.5 * (hi + lo)).unsqueeze(-1) + half.unsqueeze(-1) * x
    prod = fn(u.unsqueeze(-1) - gamma) * fn(v.unsqueeze(-1) - gamma)
    return half * (prod @ w)


def gamma_window(fn, u: torch.Tensor, v: torch.Tensor, B: float, n: int) -> torch.Tensor:
    """G for σ without kinks: one Gauss–Legendre panel on [−B, B]."""
    lo = torch.full_like(u, -B)
    return _panel_sum(fn, u, v, lo, -lo, n) / (2.0 * B)


def _poly_pair_integral(coefs: tuple[float, ...], k: float) -> np.ndarray:
    """Matrix c with ∫_0^L P(k + r) P(k + r + Δ) dr = Σ_{α,β} c[α, β] Δ^α L^β for the polynomial P."""
    shifted = np.polynomial.Polynomial(coefs)(np.polynomial.Polynomial([k, 1.0])).coef  # Q(r) = P(k + r)
    deg = shifted.size - 1
    c = np.zeros((deg + 1, 2 * deg + 2))
    for i, bi in enumerate(shifted):
        for j, bj in enumerate(shifted):
            for a in range(i + 1):
                power = i + j - a + 1
                c[a, power] += bi * bj * math.comb(i, a) / power
    return c


def _horner(coefs, x: torch.Tensor):
    """Σ coefs[i] x^i (constant term first) by Horner's rule; zero terms cost nothing, constants stay Python floats."""
    acc = 0.0
    for coef in coefs[::-1]:
        acc = acc * x if isinstance(acc, torch.Tensor) or acc else acc
        if isinstance(coef, torch.Tensor) or coef:
            acc = acc + coef
    return acc


def _eval_poly2(c: np.ndarray, delta: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """Σ_{α,β} c[α, β] Δ^α L^β: the common power of L factored out, then Horner in L (inner) and Δ (outer)."""
    nonzero = np.flatnonzero(np.any(c != 0, axis=0))
    low, high = int(nonzero[0]), int(nonzero[-1])
    rows = [_horner(row, L) for row in c[:, low : high + 1]]
    out = _horner(rows, delta) if len(rows) > 1 else rows[0]
    for _ in range(low):
        out = out * L
    return out if isinstance(out, torch.Tensor) else torch.full_like(L, out)


def gamma_zero_left(prof: Profile, delta: torch.Tensor, L: torch.Tensor, B: float, n: int) -> torch.Tensor:
    """G for one kink k with σ ≡ 0 left of it, from Δ = |u − v| and L = min(u, v) − k + B ≥ 0.

    Only γ ∈ [−B, min(u, v) − k] contributes; with r = min(u, v) − k − γ,
    2B·G = ∫_0^L σ(k + r) σ(k + r + Δ) dr: a polynomial in (Δ, L) for piecewise-polynomial σ
    (the closed form), the profile's ``pair_integral`` where it has one (exponential pieces),
    Gauss–Legendre with n nodes on [0, L] otherwise.
    """
    k = prof.kinks[0]
    if prof.right_poly is not None:
        return _eval_poly2(_poly_pair_integral(prof.right_poly, k), delta, L) / (2.0 * B)
    if prof.pair_integral is not None:
        return prof.pair_integral(delta, L) / (2.0 * B)
    x, w = _gl(n, L)
    r = (0.5 * L).unsqueeze(-1) * (1.0 + x)
    if prof.pair_product is not None:
        prod = prof.pair_product(r, delta.unsqueeze(-1))
    else:
        prod = prof.fn(k + r) * prof.fn((k + r) + delta.unsqueeze(-1))
    return (0.5 * L) * (prod @ w) / (2.0 * B)


def gamma_single_kink(fn, u: torch.Tensor, v: torch.Tensor, B: float, k: float, n: int) -> torch.Tensor:
    """G for one kink k, valid when |u − k|, |v − k| ≤ B: panels [−B, m − k], [m − k, M − k], [M − k, B]."""
    m = torch.minimum(u, v) - k
    M = torch.maximum(u, v) - k
    lo, hi = torch.full_like(u, -B), torch.full_like(u, B)
    total = _panel_sum(fn, u, v, lo, m, n) + _panel_sum(fn, u, v, m, M, n) + _panel_sum(fn, u, v, M, hi, n)
    return total / (2.0 * B)


def gamma_sorted(fn, u: torch.Tensor, v: torch.Tensor, B: float, kinks: tuple[float, ...], n: int) -> torch.Tensor:
    """G for any kinks and any u, v: Gauss–Legendre on the panels between the sorted points u − kᵢ, v − kᵢ, ±B.

    B = 0 (no offsets) is the limit G(u, v) = σ(u)σ(v); its kinks u = k are the window cuts at level k.
    """
    if B == 0:
        return fn(u) * fn(v)
    if not kinks:
        return gamma_window(fn, u, v, B, n)
    cuts = [u - k for k in kinks] + [v - k for k in kinks]
    inner = torch.clamp(torch.stack(cuts, dim=-1), -B, B).sort(dim=-1).values
    edges = torch.cat([torch.full_like(u, -B).unsqueeze(-1), inner, torch.full_like(u, B).unsqueeze(-1)], dim=-1)
    lo, hi = edges[..., :-1], edges[..., 1:]
    total = _panel_sum(fn, u.unsqueeze(-1), v.unsqueeze(-1), lo, hi, n).sum(-1)
    return total / (2.0 * B)


# ----------------------------------------------------------------------------------------------
# ξ: the three structures
# ----------------------------------------------------------------------------------------------
def _fixed_nodes(d: int, rule: Rule, halves: bool, like: torch.Tensor):
    """The shared (t₁, s, weight) nodes of ``full`` / ``halves`` as tensors."""
    t1, s, w = direction_rule(d, rule.n_t, rule.n_w, halves=halves)
    opts = {"dtype": like.dtype, "device": like.device}
    return torch.tensor(t1, **opts), torch.tensor(s, **opts), torch.tensor(w, **opts)


def _shared_structure(prof: Profile, p, q, rho, delta, B: float, d: int, rule: Rule, halves: bool) -> torch.Tensor:
    """``full`` or ``halves``: the same ξ-nodes for every pair, so u and v are outer products.

    For ``halves`` with σ ≡ 0 left of its kink, only min(u, v) − k + B and |u − v| = ‖z‖|t₁| are
    needed: on the node t₁ > 0 the smaller of u, v is v (u − v = ‖z‖t₁), so both come from one
    small matrix product of (p, q, ρ, 1) with the node table.
    """
    t1, s, weight = _fixed_nodes(d, rule, halves, p)
    if halves and prof.zero_left:
        k = prof.kinks[0]
        table = torch.stack([torch.where(t1 < 0, t1, 0.0), torch.where(t1 > 0, t1, 0.0), s])
        coords = torch.stack([p, q, rho], dim=-1)
        L = torch.addmm(torch.full_like(t1, B - k), coords.reshape(-1, 3), table).reshape(p.shape + t1.shape)
        L = torch.clamp_(L, min=0.0)
        G = gamma_zero_left(prof, delta.unsqueeze(-1) * t1.abs(), L, B, rule.n_gamma)
        return G @ weight
    shared = rho.unsqueeze(-1) * s
    u = p.unsqueeze(-1) * t1 + shared
    v = q.unsqueeze(-1) * t1 + shared
    if halves:
        G = gamma_single_kink(prof.fn, u, v, B, prof.kinks[0], rule.n_gamma)
    else:
        G = gamma_window(prof.fn, u, v, B, rule.n_gamma)
    return G @ weight


def _angles(R: torch.Tensor, a: torch.Tensor, level: float) -> list[torch.Tensor]:
    """φ ∈ (0, π) with R cos(φ − a) = level (0 where there is no such angle: a degenerate panel)."""
    ratio = level / torch.where(R > 0, R, torch.ones_like(R))
    ok = (R > 0) & (ratio.abs() < 1)
    base = torch.arccos(torch.clamp(ratio, -1.0, 1.0))
    out = []
    for phi in (a + base, a - base):
        phi = torch.remainder(phi, 2 * math.pi)
        out.append(torch.where(ok & (phi > 0) & (phi < math.pi), phi, torch.zeros_like(phi)))
    return out


def _diagonal_cuts(prof: Profile, D: torch.Tensor) -> list[torch.Tensor]:
    """φ with ‖z‖ cos φ = c for every difference c of two kinks (0 where there is none)."""
    cuts = []
    for c in sorted({round(a - b, 15) for a in prof.kinks for b in prof.kinks}):
        ratio = c / torch.where(D > 0, D, torch.ones_like(D))
        ok = (D > 0) & (ratio.abs() < 1)
        cuts.append(torch.where(ok, torch.arccos(torch.clamp(ratio, -1.0, 1.0)), torch.zeros_like(D)))
    return cuts


def _levels(prof: Profile, B: float) -> list[float]:
    """The values of u (and v) where G has a kink from the offset window: kink ± B."""
    return sorted({k + sign * B for k in prof.kinks for sign in (-1.0, 1.0)})


def _sorted_edges(cuts: list[torch.Tensor], shape: tuple, upper: float, opts: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Panel ends [0, sorted cuts…, upper] along a new last axis: (lo, hi).

    Absent cuts are 0 and sort first; only as many cuts as some element of the block really has
    are kept, so empty panels cost no nodes.
    """
    zero = torch.zeros(shape + (1,), **opts)
    if cuts:
        ordered = torch.stack(cuts, -1).sort(-1).values
        used = int((ordered > 0).sum(-1).max()) if ordered.numel() else 0
        cuts = [ordered[..., ordered.shape[-1] - used:]] if used else []
    parts = [zero] + cuts + [zero + upper]
    edges = torch.cat(parts, dim=-1)
    return edges[..., :-1], edges[..., 1:]


def _nested_panels(prof: Profile, p, q, rho, delta, B: float, d: int, rule: Rule) -> torch.Tensor:
    """``panels`` for d ≥ 3 when the offset window cuts kinks: φ outer, w = cos ψ inner, both split at the kinks.

    For a fixed φ, u and v are affine in w, so the window kinks u = k ± B, v = k ± B sit at explicit
    w* = (level − p cos φ)/(ρ sin φ): the inner ψ-rule is split there and converges spectrally. The
    inner integral is then smooth in φ except where a w* leaves [−1, 1] (the kink line touches the
    unit circle at w = ±1: the d = 2 angles) and at the diagonal kinks; the outer panels are split
    there too, and graded towards both ends by φ = lo + (hi − lo)(3τ² − 2τ³), which turns the
    √-type behaviour at a tangency into a smooth function of τ.
    """
    opts = {"dtype": p.dtype, "device": p.device}
    levels = _levels(prof, B)
    cuts = _diagonal_cuts(prof, delta)
    for coef in (p, q):
        R = torch.sqrt(coef * coef + rho * rho)
        for w_end in (1.0, -1.0):
            a = torch.atan2(rho * w_end, coef)
            for level in levels:
                cuts.extend(_angles(R, a, level))
    lo, hi = _sorted_edges(cuts, p.shape, math.pi, opts)  # (..., Po)
    x, g = _gl(rule.n_t, p)
    tau = 0.5 * (1.0 + x)
    graded, slope = tau * tau * (3.0 - 2.0 * tau), 6.0 * tau * (1.0 - tau)
    span = (hi - lo).unsqueeze(-1)
    phi = lo.unsqueeze(-1) + span * graded  # (..., Po, n_t)
    w_phi = span * slope * (0.5 * g) * torch.sin(phi) ** (d - 2) / sphere_t1_norm(d)
    cphi, sphi = torch.cos(phi), torch.sin(phi)
    rs = rho[..., None, None] * sphi  # ρ sin φ
    inner = []
    for coef in (p, q):
        for level in levels:
            wstar = (level - coef[..., None, None] * cphi) / torch.where(rs > 0, rs, torch.ones_like(rs))
            ok = (rs > 0) & (wstar.abs() < 1)
            inner.append(torch.where(ok, torch.arccos(torch.clamp(wstar, -1.0, 1.0)), torch.zeros_like(rs)))
    ilo, ihi = _sorted_edges(inner, phi.shape, math.pi, opts)  # (..., Po, n_t, Pi)
    y, h = _gl(rule.n_w, p)
    ihalf = 0.5 * (ihi - ilo)
    psi = (0.5 * (ihi + ilo)).unsqueeze(-1) + ihalf.unsqueeze(-1) * y  # (..., Po, n_t, Pi, n_w)
    w_psi = ihalf.unsqueeze(-1) * h * torch.sin(psi) ** (d - 3) / sphere_t1_norm(d - 1)
    s = sphi[..., None, None] * torch.cos(psi)
    u = p[..., None, None, None, None] * cphi[..., None, None] + rho[..., None, None, None, None] * s
    v = q[..., None, None, None, None] * cphi[..., None, None] + rho[..., None, None, None, None] * s
    G = gamma_sorted(prof.fn, u, v, B, prof.kinks, rule.n_gamma)
    inner_sum = (G * w_psi).flatten(start_dim=-2).sum(-1)  # (..., Po, n_t)
    return (inner_sum * w_phi).flatten(start_dim=-2).sum(-1)


def _panels_structure(prof: Profile, p, q, rho, delta, B: float, d: int, rule: Rule, window: bool) -> torch.Tensor:
    """``panels``: φ-panels split at every kink angle (per pair and w-node); γ on sorted panels.

    For d ≥ 3 with window kinks the w-rule is split as well (:func:`_nested_panels`).
    """
    opts = {"dtype": p.dtype, "device": p.device}
    if d >= 3 and window and prof.kinks:
        return _nested_panels(prof, p, q, rho, delta, B, d, rule)
    if d == 1:
        t1 = torch.tensor([1.0, -1.0], **opts)
        u, v = p.unsqueeze(-1) * t1, q.unsqueeze(-1) * t1
        return gamma_sorted(prof.fn, u, v, B, prof.kinks, rule.n_gamma).mean(-1)
    if d == 2:
        w_nodes, w_weights = torch.tensor([1.0, -1.0], **opts), torch.tensor([0.5, 0.5], **opts)
    else:
        wn, ww = gauss_jacobi(rule.n_w, 0.5 * (d - 4))
        w_nodes, w_weights = torch.tensor(wn, **opts), torch.tensor(ww, **opts)
    shape = p.shape + (w_nodes.numel(),)
    P, Q, D = (x.unsqueeze(-1).expand(shape) for x in (p, q, delta))
    RW = rho.unsqueeze(-1) * w_nodes  # ρ w
    cuts = _diagonal_cuts(prof, D)
    if window and prof.kinks:  # u − k = ±B and v − k = ±B, with u = R cos(φ − a)
        for coef in (P, Q):
            R = torch.sqrt(coef * coef + RW * RW)
            a = torch.atan2(RW, coef)
            for level in _levels(prof, B):
                cuts.extend(_angles(R, a, level))
    lo, hi = _sorted_edges(cuts, shape, math.pi, opts)
    x, g = _gl(rule.n_t, p)
    half = 0.5 * (hi - lo)
    phi = (0.5 * (hi + lo)).unsqueeze(-1) + half.unsqueeze(-1) * x  # (..., n_w, panels, n_t)
    weight = half.unsqueeze(-1) * g * torch.sin(phi) ** (d - 2) / sphere_t1_norm(d)
    weight = weight * w_weights[:, None, None]
    t1, st = torch.cos(phi), torch.sin(phi)
    s = st * w_nodes[:, None, None]
    u = P[..., None, None] * t1 + rho[..., None, None, None] * s
    v = Q[..., None, None] * t1 + rho[..., None, None, None] * s
    G = gamma_sorted(prof.fn, u, v, B, prof.kinks, rule.n_gamma)
    return (G * weight).flatten(start_dim=-3).sum(-1)


def plane_kernel(prof: Profile, inv: tuple, d: int, B: float, rule: Rule, structure: str, *,
                 window: bool = True) -> torch.Tensor:
    """K∞ at pairs given by their invariants (any leading shape) with the given structure."""
    p, q, rho, delta = inv
    if structure in ("full", "halves"):
        return _shared_structure(prof, p, q, rho, delta, B, d, rule, halves=structure == "halves")
    return _panels_structure(prof, p, q, rho, delta, B, d, rule, window)


def grid_features(prof: Profile, X: torch.Tensor, B: float, rule: Rule) -> torch.Tensor:
    """A quadrature feature map Φ_q with K∞ ≈ Φ_q Φ_qᵀ for σ without kinks in d ≤ 2.

    Directions: ξ = ±1 (d = 1, exact) or n_t equally spaced angles on the circle (the trapezoid
    rule, spectrally accurate for the smooth periodic integrand); offsets: n_gamma Gauss–Legendre
    nodes on [−B, B]. Column (j, k) is √(ω_j ν_k) σ(ξ_j·x − γ_k) with the rules' probability
    weights, so the kernel is one matrix product.
    """
    opts = {"dtype": X.dtype, "device": X.device}
    d = X.shape[1]
    if d == 1:
        dirs = torch.tensor([[1.0], [-1.0]], **opts)
    else:
        angle = (torch.arange(rule.n_t, **opts) + 0.5) * (2 * math.pi / rule.n_t)
        dirs = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    x, g = _gl(rule.n_gamma, X)
    gamma = B * x
    scale = torch.sqrt((0.5 * g) / dirs.shape[0])
    pre = (X @ dirs.T).unsqueeze(-1) - gamma
    return (prof.fn(pre) * scale).flatten(start_dim=1)


def pair_bytes(structure: str, rule: Rule, d: int, n_kinks: int, zero_left: bool) -> int:
    """Working memory of one pair (bytes, float64, with the temporaries of σ(u − γ)σ(v − γ))."""
    n_w = 1 if d == 1 else (2 if d == 2 else rule.n_w)
    n_xi = 2 if d == 1 else (rule.n_t * n_w * (2 if structure == "halves" else 1))
    if structure == "full":
        per = n_xi * rule.n_gamma
    elif structure == "halves":
        per = n_xi * rule.n_gamma * (1 if zero_left else 3)
    elif d >= 3 and n_kinks:  # nested: φ panels × ψ panels
        phi_panels = 1 + n_kinks * n_kinks + 16 * n_kinks
        per = phi_panels * rule.n_t * (1 + 4 * n_kinks) * rule.n_w * (2 * n_kinks + 1) * rule.n_gamma
    else:
        phi_panels = 1 + n_kinks * n_kinks + 8 * n_kinks
        per = n_w * phi_panels * (rule.n_t if d > 1 else 1) * (2 * n_kinks + 1) * rule.n_gamma
    return 8 * (8 * per + 4 * d + 16)
