"""The kernel view of an activation: where σ has kinks or jumps, whether it is piecewise polynomial, and σ′.

The limit kernel integrates σ(u − γ)σ(v − γ) over γ and then over the plane of (x, x′). Both
integrals converge spectrally (or are exact) only when the quadrature panels are split where σ
is not smooth; this table records those points for the zoo, the polynomial degree of σ between
them (so that Gauss rules of the right size are exact), and what the neural tangent kernel
needs: σ′, and whether σ jumps (its derivative then has a Dirac part).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from kernelreg import activations
from kernelreg.activations import Activation

__all__ = ["Profile", "profile_of", "derivative_profile"]


@dataclass(frozen=True)
class Profile:
    """σ as the kernel engine sees it.

    Attributes
    ----------
    fn : callable
        σ on torch tensors (elementwise; keeps dtype and device).
    name : str
        For messages.
    kinks : tuple of float
        Points where σ or one of its derivatives is not smooth (sorted; empty for smooth σ).
    degree : int or None
        σ is a polynomial of this degree between consecutive kinks (None: it is not).
    zero_left : bool
        σ vanishes left of its only kink (step, ReLU and its powers, half-exp): the γ-integral then
        has one panel instead of three.
    jumps : tuple of float
        Kinks where σ itself is discontinuous (σ′ has a Dirac part there).
    right_poly : tuple of float or None
        For ``zero_left`` piecewise polynomials: the coefficients (constant term first) of σ(s)
        right of the kink, so that the γ-integral has a closed form.
    pair_integral : callable or None
        For other ``zero_left`` σ with a closed form: (Δ, L) ↦ ∫_0^L σ(k + r) σ(k + r + Δ) dr.
    pair_product : callable or None
        For ``zero_left`` σ without one: (r, Δ) ↦ σ(k + r) σ(k + r + Δ) for r ≥ 0, when it is
        cheaper than two evaluations of σ (ReLU^p: (r(r + Δ))^p, one power instead of two).
    """

    fn: Callable[[torch.Tensor], torch.Tensor]
    name: str
    kinks: tuple[float, ...] = ()
    degree: int | None = None
    zero_left: bool = False
    jumps: tuple[float, ...] = ()
    right_poly: tuple[float, ...] | None = None
    pair_integral: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    pair_product: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    @property
    def single_kink(self) -> bool:
        """One kink only: the plane integral then splits at t₁ = 0 alone (inside the offset ball)."""
        return len(self.kinks) == 1


def _half_exp_pair(delta: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """∫_0^L e^{−r} e^{−r−Δ} dr = e^{−Δ}(1 − e^{−2L})/2 (σ = e^{−s}H(s))."""
    return torch.exp(-delta) * (-torch.expm1(-2.0 * L)) * 0.5


def _iii10_pair(delta: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    """∫_0^L r e^{−r} (r + Δ) e^{−r−Δ} dr = e^{−Δ}[1 − e^{−2L}(1 + 2L + 2L²) + Δ(1 − e^{−2L}(1 + 2L))]/4."""
    decay = torch.exp(-2.0 * L)
    first = 1.0 - decay * (1.0 + 2.0 * L)
    second = first - decay * 2.0 * L * L
    return torch.exp(-delta) * (second + delta * first) * 0.25


class _PowerPair:
    """(r, Δ) ↦ r^p (r + Δ)^p = (r(r + Δ))^p for r ≥ 0: ReLU^p's product right of its kink, one power."""

    def __init__(self, p: float) -> None:
        self.p = float(p)

    def __call__(self, r: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        return torch.pow(r * (r + delta), self.p)


def _is_int(value: float) -> bool:
    """A real that is a non-negative integer (relu_power's p = 2.0 counts)."""
    return float(value) >= 0 and float(value) == round(float(value))


def _table(act: Activation) -> dict:
    """Kinks, degree, zero_left and jumps of a zoo activation (empty dict: smooth, not polynomial)."""
    name, params = act.name, act.params
    if name == "step":
        return {"kinks": (0.0,), "degree": 0, "zero_left": True, "jumps": (0.0,), "right_poly": (1.0,)}
    if name == "relu":
        return {"kinks": (0.0,), "degree": 1, "zero_left": True, "right_poly": (0.0, 1.0)}
    if name == "relu_power":
        p = params["p"]
        if _is_int(p):
            return {"kinks": (0.0,), "degree": int(round(p)), "zero_left": True,
                    "right_poly": (0.0,) * int(round(p)) + (1.0,)}
        return {"kinks": (0.0,), "zero_left": True, "pair_product": _PowerPair(p)}
    if name == "leaky_relu":
        return {"kinks": (0.0,), "degree": 1}
    if name == "identity":
        return {"degree": 1}
    if name == "satrelu":
        return {"kinks": (0.0, 1.0), "degree": 1}
    if name == "rectangle":
        return {"kinks": (-0.5, 0.5), "degree": 0, "jumps": (-0.5, 0.5)}
    if name == "triangle":
        return {"kinks": (-1.0, 0.0, 1.0), "degree": 1}
    if name == "half_exp":
        return {"kinks": (0.0,), "zero_left": True, "jumps": (0.0,), "pair_integral": _half_exp_pair}
    if name == "oberhettinger_iii10_candidate":
        return {"kinks": (0.0,), "zero_left": True, "pair_integral": _iii10_pair}
    if name in ("log_abs", "elu", "softsign"):
        return {"kinks": (0.0,)}
    return {}


def profile_of(act: Activation, kinks: tuple[float, ...] | None = None) -> Profile:
    """The profile of a zoo activation (from the table) or of a custom one (``kinks`` as given, else smooth)."""
    spec = activations._REGISTRY.get(act.name)
    zoo = spec is not None and spec.fn is act._fn
    info = _table(act) if zoo else {}
    if kinks is not None:
        info = {**info, "kinks": tuple(sorted(float(k) for k in kinks))}
        if not zoo:
            info.update(degree=None, zero_left=False, right_poly=None, pair_integral=None, pair_product=None)
    return Profile(fn=act, name=repr(act), **info)


class _Scaled:
    """x ↦ scale · fn(x): a constant multiple of an activation, as a picklable callable."""

    def __init__(self, fn: Callable, scale: float) -> None:
        self.fn = fn
        self.scale = float(scale)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.fn(x)


class _AutogradDerivative:
    """σ′ by autograd, elementwise: what gradient descent on the hidden layer sees (almost everywhere)."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            t = x.detach().clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.fn(t).sum(), t)
        return grad.detach()


def derivative_profile(prof: Profile, act: Activation) -> Profile:
    """The profile of σ′ (pointwise derivative; Dirac parts of jumps are handled by the caller).

    Closed forms where the zoo has them (ReLU → step, ReLU^p → p·ReLU^{p−1}), autograd otherwise,
    with the kinks of σ (σ′ is at most as smooth).
    """
    name, params = act.name, act.params
    zoo = activations._REGISTRY.get(name) is not None and activations._REGISTRY[name].fn is act._fn
    if zoo and name == "relu":
        return profile_of(activations.get("step"))
    if zoo and name == "relu_power":
        p = float(params["p"])
        if p == 1.0:
            return profile_of(activations.get("step"))
        lower = profile_of(activations.get("relu_power", p=p - 1.0))
        poly = None if lower.right_poly is None else tuple(p * c for c in lower.right_poly)
        return Profile(_Scaled(lower.fn, p), f"{p:g}·relu_power(p={p - 1:g})", (0.0,), lower.degree, True, (), poly)
    if zoo and name == "half_exp":  # σ′ = −e^{−s} right of 0: the same products as σ
        base = profile_of(act)
        return Profile(_Scaled(act, -1.0), "half_exp′ (a.e.)", (0.0,), None, True, (), None, base.pair_integral)
    degree = None if prof.degree is None else max(prof.degree - 1, 0)
    return Profile(_AutogradDerivative(prof.fn), f"{prof.name}′", prof.kinks, degree, prof.zero_left, ())
