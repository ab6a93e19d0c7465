"""Gauss rules for the two weights of the plane reduction: (1 − t²)^λ on [−1, 1] and on its half [0, 1].

The limit kernel reduces the expectation over ξ ∈ S^{d−1} to two coordinates of the plane of x and x′:
t₁ = ξ·e₁ with density ∝ (1 − t₁²)^{(d−3)/2} and w (the unit-sphere coordinate of the rest) with
density ∝ (1 − w²)^{(d−4)/2}. Both are Jacobi (Gegenbauer) weights, so Gauss–Jacobi rules integrate
polynomials times the weight exactly. When the integrand has a kink at t₁ = 0 each half needs a
Gauss rule for the *half-range* weight (1 − t²)^λ on [0, 1], which scipy does not offer: it is built
here by the Lanczos process on a discretisation of that measure (Gautschi's discretised Stieltjes
procedure) followed by Golub–Welsch. Every rule is a pure function of its arguments, cached.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import special

__all__ = ["gauss_legendre", "gauss_jacobi", "half_range_rule", "direction_rule", "t1_weight_total", "sphere_t1_norm"]


@functools.lru_cache(maxsize=None)
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n-point Gauss–Legendre nodes and weights on [−1, 1] (weights sum to 2)."""
    x, w = np.polynomial.legendre.leggauss(int(n))
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


@functools.lru_cache(maxsize=None)
def gauss_jacobi(n: int, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """n-point Gauss rule of the probability density ∝ (1 − t²)^λ on [−1, 1] (weights sum to 1).

    λ = −1/2 is Gauss–Chebyshev, λ = 0 Gauss–Legendre; scipy's ``roots_jacobi(n, λ, λ)`` does the work.
    """
    x, w = special.roots_jacobi(int(n), float(lam), float(lam))
    w = w / w.sum()
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def t1_weight_total(lam: float) -> float:
    """∫_{−1}^{1} (1 − t²)^λ dt = B(1/2, λ + 1), the normalisation of the t₁ density."""
    return float(special.beta(0.5, lam + 1.0))


@functools.lru_cache(maxsize=None)
def half_range_rule(n: int, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """n-point Gauss rule for ∫_0^1 f(t) (1 − t²)^λ dt with 2λ + 1 = d − 2 ≥ 0 an integer (weights sum to ½ B(1/2, λ + 1)).

    With t = cos φ the measure becomes sin^{2λ+1}φ dφ on [0, π/2], an analytic weight for the
    integer exponents that occur (2λ + 1 = d − 2), so an M-point Gauss–Legendre rule in φ
    discretises it to rounding accuracy (M = max(64, 4n)). The Lanczos process with full
    re-orthogonalisation turns the discrete measure into its Jacobi matrix, whose
    eigen-decomposition gives the Gauss nodes and weights (Golub–Welsch; Gautschi's discretised
    Stieltjes procedure).
    """
    n = int(n)
    lam = float(lam)
    power = 2.0 * lam + 1.0
    if power < 0 or power != round(power):
        raise ValueError(f"half_range_rule needs 2λ + 1 to be an integer >= 0 (λ = (d − 3)/2); got λ={lam!r}.")
    m = max(64, 4 * n)
    x, g = gauss_legendre(m)
    phi = 0.25 * math.pi * (1.0 + x)
    t = np.cos(phi)
    weights = 0.25 * math.pi * g * np.sin(phi) ** int(round(power))
    total = weights.sum()
    q = np.sqrt(weights / total)
    basis = np.zeros((m, n))
    alpha = np.zeros(n)
    beta = np.zeros(n)
    prev = np.zeros(m)
    for k in range(n):
        basis[:, k] = q
        r = t * q
        alpha[k] = q @ r
        r = r - alpha[k] * q - (beta[k - 1] * prev if k else 0.0)
        r -= basis[:, : k + 1] @ (basis[:, : k + 1].T @ r)  # full re-orthogonalisation
        beta[k] = np.linalg.norm(r)
        prev, q = q, r / beta[k] if beta[k] > 0 else r
    jacobi = np.diag(alpha) + np.diag(beta[: n - 1], 1) + np.diag(beta[: n - 1], -1)
    nodes, vectors = np.linalg.eigh(jacobi)
    out_w = total * vectors[0, :] ** 2
    nodes.setflags(write=False)
    out_w.setflags(write=False)
    return nodes, out_w


def direction_rule(d: int, n_t: int, n_w: int, *, halves: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes (t₁, s) and probability weights of E_ξ over the plane: ξ·e₁ = t₁, ξ·e₂ = s = √(1 − t₁²)·w.

    For d = 1 the law is ξ = ±1 (two nodes, exact). For d = 2, w = ±1. For d ≥ 3, w follows the
    Gauss–Jacobi rule of (1 − w²)^{(d−4)/2} (n_w nodes). t₁ follows the Gauss–Jacobi rule of
    (1 − t₁²)^{(d−3)/2} on [−1, 1] (n_t nodes), or with ``halves`` the half-range rule mirrored on
    both halves (n_t nodes each), which stays exact when the integrand is a different polynomial on
    each side of t₁ = 0.

    Returns
    -------
    t1, s, weight : ndarray of shape (n_nodes,)
        The weights sum to 1.
    """
    if d == 1:
        return np.array([1.0, -1.0]), np.zeros(2), np.array([0.5, 0.5])
    lam = 0.5 * (d - 3)
    if halves:
        h_t, h_w = half_range_rule(n_t, lam)
        t1 = np.concatenate([h_t, -h_t])
        wt = np.concatenate([h_w, h_w]) / t1_weight_total(lam)
    else:
        t1, wt = gauss_jacobi(n_t, lam)
    if d == 2:
        w, ww = np.array([1.0, -1.0]), np.array([0.5, 0.5])
    else:
        w, ww = gauss_jacobi(n_w, 0.5 * (d - 4))
    root = np.sqrt(np.clip(1.0 - t1**2, 0.0, None))
    T1 = np.repeat(t1, w.size)
    S = np.outer(root, w).ravel()
    W = np.outer(wt, ww).ravel()
    return T1, S, W


def sphere_t1_norm(d: int) -> float:
    """∫_0^π sin^{d−2}φ dφ = B(1/2, (d − 1)/2): the normalisation of φ = arccos(ξ·e₁)."""
    return float(special.beta(0.5, 0.5 * (d - 1)))
