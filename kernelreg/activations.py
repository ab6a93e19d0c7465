"""Scalar activations σ, each defined once and seen three ways: torch, numpy and spectral penalty.

This is the leftmost stage of the kernelreg flow. Every activation is one :class:`Activation`
object built from a small registry entry (torch function, default parameters, closed-form Fourier
transform, closed-form penalty). Layers, feature maps and estimators look activations up by their
lower-case name with :func:`get`; :func:`available` lists the names and :func:`register` adds new
ones. (The module is long because it is the zoo: ~30 registry entries on one small base and
their closed-form transforms; splitting it would scatter the registry and the table below.)

Conventions (see ``research/spectral.md`` §3, Table I of Sahs et al., arXiv:2503.10587):

* Fourier transform ``σ̂(ω) = ∫ σ(x) e^{-iωx} dx``; δ-terms at ω = 0 are dropped, so the
  transform of a non-integrable σ is its distributional transform away from ω = 0.
* Activation factor of the kernel-regime penalty ``P_σ(ω) = 1/|σ̂(ω)|²`` (``np.inf`` where
  σ̂ = 0). The full penalty of Eq. (8) is ``‖k‖^{d-1} P_σ(‖k‖)``.
* ``H`` is the Heaviside step with ``H(0) = 1/2`` (the value Fourier inversion gives).
* One width for the Gaussian pair: ``erf(x/s)`` is the antiderivative of ``gaussian(s) =
  e^{-(x/s)²}`` up to the factor ``2/(s√π)`` (the paper calls Erf the Gaussian's antiderivative);
  the default ``s = 1`` keeps ``erf`` = ``torch.erf``. The G-function family of Eq. 11 has the
  penalty ``e^{c|ω|^p}``: ``gfunction(p=1, c=2)`` is Cauchy/π, ``gfunction(p=2, c=1/2)`` is
  ``gaussian()/√π``.
* Every default the paper does not give (and the bench rows' and targets' constants) is listed
  once, with its reason, in :data:`CHOSEN_CONSTANTS`.

================================  ==============================  ===================================
name (parameters)                 σ(x)                            P_σ(ω) = 1/|σ̂(ω)|²
================================  ==============================  ===================================
step                              H(x)                            ω²
relu                              max(x, 0)                       ω⁴
relu_power (p=2), p > -1          max(x, 0)^p (0 for x ≤ 0)       |ω|^{2p+2} / Γ(p+1)²
logistic (alias sigmoid)          1/(1+e^{-x})                    sinh²(πω)/π²
logistic_bump                     s(x)(1-s(x)) = ¼sech²(x/2)      sinh²(πω)/(πω)²
softplus                          log(1+e^x)                      ω² sinh²(πω)/π²
power_softplus (k=2)              -Li_k(-e^x), integer k ≥ 0      ω^{2k} sinh²(πω)/π²
atan                              arctan x                        ω² e^{2|ω|}/π²
erf (s=1.0)                       erf(x/s)                        ω² e^{s²ω²/2}/4
tanh                              tanh x                          sinh²(πω/2)/π²
gaussian (s=1.0)                  e^{-(x/s)²} = (√π/2s)·erf′      e^{s²ω²/2}/(πs²)
cauchy                            1/(1+x²)                        e^{2|ω|}/π²
gfunction (p=1.5, c=2.0)          (1/π)∫₀^∞cos(ωx)e^{-cω^p/2}dω   e^{c|ω|^p}
satrelu                           relu(x) - relu(x-1)             ω⁴/(4 sin²(ω/2))
wavepacket (s=1.0, w0=2.0)        e^{-x²/(2s²)} cos(w0 x)         1/|σ̂|², σ̂ = two Gaussians at ±w0
rectangle                         H(x+½) - H(x-½)                 (ω/2)²/sin²(ω/2)
triangle                          max(0, 1-|x|)                   (ω/2)⁴/sin⁴(ω/2)
sinc (a=1.0)                      sin(ax)/x                       1/π² for |ω| < a, inf outside
sinc2 (a=1.0)                     (sin(ax)/x)²                    [aπ(1-|ω|/2a)]^{-2}, inf outside
half_exp                          e^{-x} H(x)                     1 + ω²
oberhettinger_iii10_candidate     x e^{-x} H(x)                   (1 + ω²)²
sech                              sech x                          cosh²(πω/2)/π²
log_abs                           log max(|x|, 1e-30)             ω²/π²
dirac_approx (h=0.1)              e^{-x²/(2h²)}/(h√(2π))          e^{h²ω²}
sin, cos                          sin x, sin(x + π/2)             None (Dirac pairs)
identity (alias linear)           x                               None (pure δ′)
leaky_relu (negative_slope=0.01)  relu(x) - β relu(-x)            ω⁴/(1-β)²
elu (alpha=1.0)                   x for x>0, α(e^x-1) for x ≤ 0   ω⁴(1+ω²)/((α-1)²ω²+1)
gelu                              x Φ(x)                          ω⁴ e^{ω²}/(1+ω²)²
silu (alias swish)                x s(x)                          sinh²(πω) tanh²(πω)/π⁴
softsign                          x/(1+|x|)                       None
================================  ==============================  ===================================

Numerics. ``power_softplus`` with k ≥ 2 sums the Taylor series of -Li_k(-e^x) in η(k-m) on
|x| ≤ 1, the series Σ(-1)^{n+1}e^{nx}/n^k below and the inversion formula above (float64 error
about 1e-15). ``gfunction`` uses a fixed trapezoidal rule on a rotated contour for |x| ≤ 50 and
the asymptotic series beyond (absolute error about 1e-11 for 0.3 ≤ p ≤ 6); it costs one
elementwise pass per node (54 nodes at p = 1, 152 at p = 4), which makes it the slowest
activation here. Both are plain torch operations, hence differentiable and device-agnostic.

The penalties of ``leaky_relu``, ``elu``, ``gelu`` and ``silu`` are not in Table I; they are
derived here (``x f(x) ↔ i f̂'(ω)`` and ReLU decompositions) and checked numerically in the tests.
Oberhettinger I.84 and I.70 of Table I are unknown and deliberately absent; III.10 is only
available under a name that says it is a candidate.
"""

from __future__ import annotations

import difflib
import functools
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from scipy import special

__all__ = ["Activation", "CHOSEN_CONSTANTS", "ChosenConstant", "available", "get", "register"]

_PI = math.pi
_SQRT_2PI = math.sqrt(2.0 * math.pi)

_TorchFn = Callable[..., torch.Tensor]
_SpectralFn = Callable[..., np.ndarray]


# --------------------------------------------------------------------------------------------
# The Activation object: one definition, several views
# --------------------------------------------------------------------------------------------


class Activation:
    """A scalar activation σ seen as torch function, numpy function and spectral penalty.

    Use :func:`get` to obtain one by name; build one directly only to wrap a custom torch
    function. The same object serves every stage: layers call it on tensors, examples call it
    on numpy arrays, and the kernel-regime analysis asks it for ``spectral_penalty``.

    Parameters
    ----------
    fn : callable
        Torch function ``fn(x, **params)`` of a tensor, applied elementwise. It must keep the
        device, dtype and autograd graph of ``x``. Use a module-level function (or any
        picklable callable) so that the activation, and estimators holding it, can be pickled.
    name : str, default=None
        Name shown in ``repr`` and used for equality; defaults to ``fn.__name__`` or the class
        name of ``fn``.
    params : mapping, default=None
        Keyword parameters passed to ``fn``, ``fourier`` and ``penalty``.
    fourier : callable, default=None
        ``fourier(omega, **params)`` returning σ̂(ω) as a complex array, or ``None`` when no
        closed form is known.
    penalty : callable, default=None
        ``penalty(omega, **params)`` returning ``1/|σ̂(ω)|²``. When ``None`` but ``fourier`` is
        given, the penalty is computed as ``1/|fourier(omega)|²``.

    Attributes
    ----------
    name : str
        Lower-case registry name (or the callable's name for custom activations).
    params : dict
        The parameter values actually used, defaults filled in (a copy).

    See Also
    --------
    get : look an activation up by name, or wrap a callable.
    register : add an activation to the registry.

    Notes
    -----
    Fourier convention ``σ̂(ω) = ∫ σ(x) e^{-iωx} dx`` with δ-terms at ω = 0 dropped; the
    activation factor of the spectral penalty is ``P_σ(ω) = 1/|σ̂(ω)|²`` (Sahs et al. 2025,
    Table I and Eq. 8).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from kernelreg.activations import get
    >>> relu2 = get("relu_power", p=2)
    >>> relu2
    relu_power(p=2)
    >>> relu2(np.array([-1.0, 3.0]))
    array([0., 9.])
    >>> relu2(torch.tensor([3.0]))
    tensor([9.])
    >>> float(relu2.spectral_penalty(2.0))  # |ω|^6 / Γ(3)^2
    16.0
    """

    def __init__(
        self,
        fn: _TorchFn,
        *,
        name: str | None = None,
        params: Mapping[str, Any] | None = None,
        fourier: _SpectralFn | None = None,
        penalty: _SpectralFn | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"Activation needs a callable torch function; got {type(fn).__name__} {fn!r}.")
        self._fn = fn
        self._name = name if name is not None else _callable_name(fn)
        self._params = dict(params or {})
        self._fourier = fourier
        self._penalty = penalty

    @property
    def name(self) -> str:
        """Registry name (lower case) or the wrapped callable's name."""
        return self._name

    @property
    def params(self) -> dict[str, Any]:
        """Parameter values used, defaults filled in; a copy, so editing it changes nothing."""
        return dict(self._params)

    def __call__(self, x: torch.Tensor | npt.ArrayLike) -> torch.Tensor | np.ndarray:
        """Apply σ elementwise: tensor in, tensor out (graph, device, dtype kept); else numpy float64.

        Parameters
        ----------
        x : torch.Tensor or array_like
            Pre-activations. Integer or boolean tensors are cast to torch's default float dtype.

        Returns
        -------
        torch.Tensor or ndarray of float64
            σ(x) with the shape of ``x``.
        """
        if isinstance(x, torch.Tensor):
            if x.is_complex():
                raise TypeError(f"activation {self!r} takes real tensors; got dtype {x.dtype}.")
            if not x.is_floating_point():
                x = x.to(torch.get_default_dtype())
            return self._fn(x, **self._params)
        arr = np.asarray(x, dtype=np.float64)
        with torch.no_grad():
            out = self._fn(torch.tensor(arr, dtype=torch.float64), **self._params)
        return np.asarray(out.detach().to("cpu", dtype=torch.float64).numpy()).reshape(arr.shape)

    def fourier(self, omega: npt.ArrayLike) -> np.ndarray | None:
        """Closed-form Fourier transform σ̂(ω), to compare spectra; ``None`` when none is known.

        Parameters
        ----------
        omega : array_like
            Frequencies. Values at ω = 0 are not meaningful (δ-terms are dropped).

        Returns
        -------
        ndarray of complex128 or None
            σ̂(ω) with the shape of ``omega``.
        """
        if self._fourier is None:
            return None
        w = np.asarray(omega, dtype=np.float64)
        with np.errstate(all="ignore"):
            out = np.asarray(self._fourier(w, **self._params), dtype=np.complex128)
        return np.array(np.broadcast_to(out, w.shape))

    def spectral_penalty(self, omega: npt.ArrayLike) -> np.ndarray | None:
        """Activation factor ``1/|σ̂(ω)|²`` of the kernel-regime penalty; ``None`` without a closed form.

        Parameters
        ----------
        omega : array_like
            Frequencies.

        Returns
        -------
        ndarray of float64 or None
            ``P_σ(ω)`` with the shape of ``omega``; ``np.inf`` where σ̂ vanishes or where the
            value overflows float64.

        Notes
        -----
        The kernel-regime problem of Sahs et al. (Eq. 8) penalises ``|f̂(k)|² ‖k‖^{d-1} P_σ(‖k‖)``.
        Fast growth of ``P_σ`` means a strong bias towards low frequencies.
        """
        w = np.asarray(omega, dtype=np.float64)
        with np.errstate(all="ignore"):
            if self._penalty is not None:
                out = self._penalty(w, **self._params)
            elif self._fourier is not None:
                out = 1.0 / np.abs(np.asarray(self._fourier(w, **self._params))) ** 2
            else:
                return None
            out = np.broadcast_to(np.asarray(out, dtype=np.float64), w.shape)
            # nan only comes from inf/inf or 0*inf where P overflows: report it as inf.
            return np.where(np.isnan(out) & ~np.isnan(w), np.inf, out)

    def __repr__(self) -> str:
        """Name with parameters, e.g. ``relu_power(p=2)``; custom callables are marked."""
        if self._params:
            args = ", ".join(f"{key}={value!r}" for key, value in self._params.items())
            text = f"{self._name}({args})"
        else:
            text = self._name
        if _REGISTRY.get(self._name) is None or _REGISTRY[self._name].fn is not self._fn:
            text += " [custom]"
        return text

    def _key(self) -> tuple:
        """What equality compares: name, parameters and the three defining functions."""
        return (self._name, self._params, self._fn, self._fourier, self._penalty)

    def __eq__(self, other: object) -> bool:
        """Equal when name, parameters and defining functions agree (so sklearn ``clone`` round-trips)."""
        if not isinstance(other, Activation):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        """Hash of the name and parameters, consistent with ``__eq__``."""
        return hash((self._name, frozenset(self._params.items())))


def _callable_name(fn: Callable) -> str:
    """Name for a wrapped callable: its ``__name__``, else its class name."""
    return getattr(fn, "__name__", None) or type(fn).__name__


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Spec:
    """One registry row: torch function, defaults with constraints, and the closed forms."""

    name: str
    fn: _TorchFn
    defaults: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, str] = field(default_factory=dict)
    fourier: _SpectralFn | None = None
    penalty: _SpectralFn | None = None


_REGISTRY: dict[str, _Spec] = {}
_ALIASES: dict[str, str] = {}


def _check_value(spec_name: str, key: str, value: Any, constraint: str) -> Any:
    """Validate one parameter value against its constraint and return it as a plain Python number."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(
            f"activation {spec_name!r}: parameter {key} must be a finite real number; got {value!r}."
        )
    if constraint == "positive" and not value > 0:
        raise ValueError(f"activation {spec_name!r}: parameter {key} must be > 0; got {value!r}.")
    if constraint == "above_minus_one" and not value > -1:
        raise ValueError(
            f"activation {spec_name!r}: parameter {key} must be > -1 (x₊^{key} is not locally "
            f"integrable at or below -1, so it has no Fourier transform); got {value!r}."
        )
    if constraint == "nonnegative_int":
        if value < 0 or value != int(value):
            raise ValueError(
                f"activation {spec_name!r}: parameter {key} must be an integer >= 0; got {value!r}."
            )
        value = int(value)
    return value


def _make(spec: _Spec, params: Mapping[str, Any]) -> Activation:
    """Build the Activation of a registry row, checking parameter names and values."""
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        allowed = ", ".join(sorted(spec.defaults)) or "none"
        raise TypeError(
            f"activation {spec.name!r} got unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"allowed parameters: {allowed}."
        )
    values = {**spec.defaults, **params}
    checked = {
        key: _check_value(spec.name, key, value, spec.constraints.get(key, "real"))
        for key, value in values.items()
    }
    return Activation(spec.fn, name=spec.name, params=checked, fourier=spec.fourier, penalty=spec.penalty)


def available() -> list[str]:
    """List the registered activation names, so users and error messages can show the choices.

    Returns
    -------
    list of str
        Sorted canonical names (aliases such as ``"linear"`` or ``"swish"`` are not listed but
        are accepted by :func:`get`).

    Examples
    --------
    >>> from kernelreg.activations import available
    >>> "relu" in available() and "gfunction" in available()
    True
    """
    return sorted(_REGISTRY)


def get(name_or_callable: str | Activation | Callable, **params: Any) -> Activation:
    """Return the activation for a name, an Activation or a callable: the one entry point for σ.

    Parameters
    ----------
    name_or_callable : str, Activation or callable
        * a registry name (see :func:`available`) or alias (``linear``, ``sigmoid``, ``swish``),
          in any case (``"ReLU"`` is ``"relu"``; the registry itself is lower case);
        * an :class:`Activation`, returned as is, or rebuilt with ``params`` when some are given;
        * any callable taking a torch tensor (``torch.sin``, ``torch.nn.functional.silu``, an
          ``nn.Module``, a function), wrapped as an Activation named after it, with no closed
          forms unless given.
    **params
        Parameters of the named activation (e.g. ``p`` for ``relu_power``). For a callable the
        accepted keywords are ``name``, ``fourier`` and ``penalty`` (see :class:`Activation`).

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        Unknown name (the message lists the known names and suggests the closest), an adaptive
        layer family name (``"rowdy"``, ``"laaf"``, ``"kronecker"``, ``"iat"``: the message says
        where to use it instead), or a parameter value outside its range.
    TypeError
        Unknown parameter for a known activation (the message names the allowed ones), or an
        argument that is neither a string nor callable.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.activations import get
    >>> get("sinc")
    sinc(a=1.0)
    >>> get("swish").name
    'silu'
    >>> get(torch.sin).spectral_penalty(1.0) is None
    True
    """
    if isinstance(name_or_callable, Activation):
        act = name_or_callable
        if not params:
            return act
        spec = _REGISTRY.get(act.name)
        if spec is None or spec.fn is not act._fn:
            raise TypeError(
                f"cannot re-parameterise the custom activation {act!r} with {sorted(params)}; "
                "wrap the callable again instead."
            )
        return _make(spec, {**act.params, **params})
    if isinstance(name_or_callable, str):
        lower = name_or_callable.lower()
        key = _ALIASES.get(lower, lower)
        spec = _REGISTRY.get(key)
        if spec is None:
            if lower in _ADAPTIVE_FAMILY_NAMES:
                raise ValueError(_adaptive_family_message(name_or_callable))
            raise ValueError(_unknown_name_message(name_or_callable))
        return _make(spec, params)
    if callable(name_or_callable):
        unknown = sorted(set(params) - {"name", "fourier", "penalty"})
        if unknown:
            raise TypeError(
                f"custom activation {_callable_name(name_or_callable)!r} got unknown keyword(s) "
                f"{', '.join(map(repr, unknown))}; allowed: fourier, name, penalty."
            )
        return Activation(name_or_callable, **params)
    raise TypeError(
        "activation must be a name (str), an Activation or a callable taking a torch tensor; "
        f"got {type(name_or_callable).__name__} {name_or_callable!r}."
    )


#: Names of the adaptive layer families (trainable activations, built by ``kernelreg.networks``): not scalar σ's.
_ADAPTIVE_FAMILY_NAMES = ("rowdy", "laaf", "kronecker", "iat")


def _adaptive_family_message(name: str) -> str:
    """Error text for an adaptive family asked for as a fixed scalar activation: say where it does work."""
    return (
        f"activation {name!r} is an adaptive layer family (trainable activation parameters), not a fixed scalar "
        "activation, so it cannot be drawn in a frozen random layer (RandomFeatureMap, KernelRegimeRegressor, "
        "KernelRegimeClassifier) or used where one σ is expected. Train it in the adaptive regime: "
        f"AdaptiveRegressor(activation={name.lower()!r}) (or AdaptiveClassifier); or warm it up, freeze it and "
        f"solve the output layer convexly: AdaptiveRegressor(activation={name.lower()!r}, warmup_epochs=20, "
        "then_solver='exact', eps=...). In your own networks use kernelreg.networks.build_activation or the "
        "layer classes of kernelreg.layers. For a kernel-regime fit pick a scalar activation, e.g. its base: "
        "'tanh', 'sin' or 'relu'."
    )


def _unknown_name_message(name: str) -> str:
    """Error text for an unknown name: closest match first, then every known name and alias."""
    candidates = list(_REGISTRY) + list(_ALIASES)
    close = difflib.get_close_matches(str(name).lower(), candidates, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    aliases = ", ".join(f"{a}->{c}" for a, c in sorted(_ALIASES.items()))
    return (
        f"unknown activation {name!r}.{hint} Known activations: {', '.join(available())} "
        f"(aliases: {aliases}). For a custom one pass a callable, or use "
        "kernelreg.activations.register()."
    )


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def register(
    name: str,
    fn: _TorchFn,
    *,
    defaults: Mapping[str, Any] | None = None,
    fourier: _SpectralFn | None = None,
    penalty: _SpectralFn | None = None,
    overwrite: bool = False,
) -> None:
    """Add an activation to the registry so that it can be selected by name everywhere.

    Parameters
    ----------
    name : str
        Lower-case name (letters, digits, underscores, starting with a letter).
    fn : callable
        Torch function ``fn(x, **params)``; module-level so that it pickles.
    defaults : mapping, default=None
        Parameter names and default values; only these names are accepted by :func:`get`.
        Values must be finite real numbers.
    fourier : callable, default=None
        ``fourier(omega, **params)`` → complex ndarray, the closed-form σ̂.
    penalty : callable, default=None
        ``penalty(omega, **params)`` → float ndarray, ``1/|σ̂|²``.
    overwrite : bool, default=False
        Replace an existing user entry of the same name. Built-in names cannot be replaced.

    Raises
    ------
    ValueError
        Badly formed name, or a name already taken (unless ``overwrite=True`` for a user entry).

    Examples
    --------
    >>> import torch
    >>> from kernelreg.activations import get, register
    >>> register("relu6_example", torch.nn.functional.relu6)
    >>> get("relu6_example")([-1.0, 7.0])
    array([0., 6.])
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"activation name must be lower case letters, digits and '_' starting with a letter; "
            f"got {name!r}."
        )
    if name in _ALIASES or name in _BUILTIN_NAMES:
        raise ValueError(f"{name!r} is a built-in activation name or alias and cannot be re-registered.")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"activation {name!r} is already registered; pass overwrite=True to replace it.")
    if not callable(fn):
        raise TypeError(f"register({name!r}, fn): fn must be callable; got {type(fn).__name__}.")
    spec = _Spec(name, fn, dict(defaults or {}), {}, fourier, penalty)
    _make(spec, {})  # validates the defaults now, not at first use
    _REGISTRY[name] = spec


# --------------------------------------------------------------------------------------------
# Torch definitions (one per activation; variants call the base definition)
# --------------------------------------------------------------------------------------------


def _identity(x: torch.Tensor) -> torch.Tensor:
    """σ(x) = x."""
    return x


def _step(x: torch.Tensor) -> torch.Tensor:
    """Heaviside H(x) with H(0) = 1/2, built from sign so autograd sees a (zero) gradient."""
    return 0.5 * torch.sign(x) + 0.5


def _relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0)."""
    return torch.relu(x)


def _relu_power(x: torch.Tensor, p: float) -> torch.Tensor:
    """max(x, 0)**p for p > -1 (0 for x <= 0, also at x = 0 when p <= 0); gradient 0 at x = 0 even for p < 1."""
    positive = x > 0
    return torch.where(positive, torch.where(positive, x, 1.0) ** p, 0.0)


def _logistic(x: torch.Tensor) -> torch.Tensor:
    """1/(1 + e^{-x})."""
    return torch.sigmoid(x)


def _logistic_bump(x: torch.Tensor) -> torch.Tensor:
    """Derivative of the logistic, s(x)(1 - s(x)) = s(x)s(-x), without cancellation."""
    return _logistic(x) * _logistic(-x)


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x); the threshold 36 keeps full float64 accuracy (torch's default 20 does not)."""
    return F.softplus(x, beta=1.0, threshold=36.0)


def _power_softplus(x: torch.Tensor, k: int) -> torch.Tensor:
    """-Li_k(-e^x): logistic for k = 0, softplus for k = 1, Fermi–Dirac F_{k-1} above."""
    if k == 0:
        return _logistic(x)
    if k == 1:
        return _softplus(x)
    return _neg_polylog_neg_exp(x, k)


def _atan(x: torch.Tensor) -> torch.Tensor:
    """arctan x."""
    return torch.atan(x)


def _erf(x: torch.Tensor, s: float) -> torch.Tensor:
    """erf(x/s): the antiderivative of gaussian(s) up to the factor 2/(s√π) (one width s for both)."""
    return torch.erf(x / s)


def _tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh x = 2 logistic(2x) - 1 (evaluated by torch.tanh for accuracy near 0)."""
    return torch.tanh(x)


def _gaussian(x: torch.Tensor, s: float) -> torch.Tensor:
    """e^{-(x/s)²}, the derivative of erf(x/s) divided by 2/(s√π)."""
    z = x / s
    return torch.exp(-z * z)


def _normal_bump(x: torch.Tensor) -> torch.Tensor:
    """e^{-x²/2}: the envelope of wavepacket and the shape of dirac_approx (standard-normal width)."""
    return torch.exp(-0.5 * x * x)


def _cauchy(x: torch.Tensor) -> torch.Tensor:
    """1/(1 + x²)."""
    return 1.0 / (1.0 + x * x)


def _satrelu(x: torch.Tensor) -> torch.Tensor:
    """relu(x) - relu(x - 1), evaluated as clamp(x, 0, 1) so float32 does not cancel for large x."""
    return torch.clamp(x, 0.0, 1.0)


def _sin(x: torch.Tensor) -> torch.Tensor:
    """sin x."""
    return torch.sin(x)


def _cos(x: torch.Tensor) -> torch.Tensor:
    """cos x, defined as sin shifted by a quarter period."""
    return _sin(x + 0.5 * _PI)


def _wavepacket(x: torch.Tensor, s: float, w0: float) -> torch.Tensor:
    """Gaussian envelope of width s times a carrier cos(w0 x)."""
    return _normal_bump(x / s) * _cos(w0 * x)


def _rectangle(x: torch.Tensor) -> torch.Tensor:
    """Indicator of |x| < 1/2 as a difference of steps (1/2 on the edges)."""
    return _step(x + 0.5) - _step(x - 0.5)


def _triangle(x: torch.Tensor) -> torch.Tensor:
    """max(0, 1 - |x|) = relu(1 - |x|)."""
    return _relu(1.0 - torch.abs(x))


def _sinc(x: torch.Tensor, a: float) -> torch.Tensor:
    """sin(ax)/x with value a at 0; torch.sinc gives a finite gradient at 0."""
    return a * torch.sinc(x * (a / _PI))


def _sinc2(x: torch.Tensor, a: float) -> torch.Tensor:
    """Square of sinc(a)."""
    return _sinc(x, a) ** 2


def _half_exp(x: torch.Tensor) -> torch.Tensor:
    """e^{-x} H(x); the exponent is clipped at 0 so x << 0 cannot overflow the gradient."""
    return torch.exp(-_relu(x)) * _step(x)


def _oberhettinger_iii10_candidate(x: torch.Tensor) -> torch.Tensor:
    """x e^{-x} H(x): the continuous analogue of half_exp (a candidate for Oberhettinger III.10)."""
    return x * _half_exp(x)


def _sech(x: torch.Tensor) -> torch.Tensor:
    """sech x = 2e^{-|x|}/(1 + e^{-2|x|}), finite value and gradient for any |x|."""
    e = torch.exp(-torch.abs(x))
    return 2.0 * e / (1.0 + e * e)


_LOG_ABS_FLOOR = 1e-30  # log_abs(0) = log(1e-30) ≈ -69.08 in float32 and float64 alike


def _log_abs(x: torch.Tensor) -> torch.Tensor:
    """log|x| with |x| floored at 1e-30, so x = 0 gives a finite feature (same in float32 and float64)."""
    floor = max(_LOG_ABS_FLOOR, torch.finfo(x.dtype).tiny)
    return torch.log(torch.clamp(torch.abs(x), min=floor))


def _dirac_approx(x: torch.Tensor, h: float) -> torch.Tensor:
    """Normalised Gaussian of width h: a unit-mass approximation of δ."""
    return _normal_bump(x / h) / (h * _SQRT_2PI)


def _leaky_relu(x: torch.Tensor, negative_slope: float) -> torch.Tensor:
    """relu(x) - β relu(-x)."""
    return _relu(x) - negative_slope * _relu(-x)


def _elu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """x for x > 0, α(e^x - 1) otherwise."""
    return F.elu(x, alpha=alpha)


def _gelu(x: torch.Tensor) -> torch.Tensor:
    """x Φ(x) with the exact normal CDF Φ."""
    return F.gelu(x)


def _silu(x: torch.Tensor) -> torch.Tensor:
    """x logistic(x)."""
    return F.silu(x)


def _softsign(x: torch.Tensor) -> torch.Tensor:
    """x/(1 + |x|)."""
    return F.softsign(x)


# --- power_softplus for k >= 2: -Li_k(-e^x), the complete Fermi–Dirac integral F_{k-1}(x) ---

_PL_SWITCH = 1.0  # Taylor series on |x| <= 1, exponential series / reflection outside
_PL_TAYLOR_TERMS = 36  # radius of convergence pi: (1/pi)^36 ~ 1e-18
_PL_SERIES_TERMS = 40  # e^{-40} ~ 4e-18


def _dirichlet_eta(s: int) -> float:
    """Dirichlet eta η(s) = Σ (-1)^{n+1} n^{-s} for an integer s (negative s via Bernoulli numbers)."""
    if s >= 2:
        return float((1.0 - 2.0 ** (1 - s)) * special.zeta(s))
    if s == 1:
        return math.log(2.0)
    if s == 0:
        return 0.5
    j = -s
    return float((2.0 ** (j + 1) - 1.0) * special.bernoulli(j + 1)[j + 1] / (j + 1))


@functools.lru_cache(maxsize=64)
def _polylog_coefficients(k: int) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Coefficients (Taylor at 0, exponential series, reflection polynomial) of -Li_k(-e^x)."""
    taylor = tuple(_dirichlet_eta(k - m) / math.factorial(m) for m in range(_PL_TAYLOR_TERMS + 1))
    series = tuple((-1.0) ** (n + 1) / n**k for n in range(1, _PL_SERIES_TERMS + 1))
    poly = [0.0] * (k + 1)
    for m in range(k // 2 + 1):
        poly[k - 2 * m] = 2.0 * _dirichlet_eta(2 * m) / math.factorial(k - 2 * m)
    return taylor, series, tuple(poly)


def _horner(x: torch.Tensor, coefficients: tuple[float, ...]) -> torch.Tensor:
    """Σ_m c_m x^m by Horner's rule (memory of one tensor, differentiable)."""
    acc = torch.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        acc = acc * x + c
    return acc


def _neg_polylog_neg_exp(x: torch.Tensor, k: int) -> torch.Tensor:
    """-Li_k(-e^x) for integer k >= 2: Taylor near 0, Σ(-1)^{n+1}e^{nx}/n^k below, reflection above."""
    taylor, series, poly = _polylog_coefficients(k)
    near = _horner(torch.clamp(x, -_PL_SWITCH, _PL_SWITCH), taylor)
    q = torch.exp(-torch.clamp(torch.abs(x), min=_PL_SWITCH))  # e^{-|x|}, at most e^{-1}
    tail = q * _horner(q, series)  # -Li_k(-e^{-|x|})
    xpos = torch.clamp(x, min=_PL_SWITCH)
    above = (-1.0) ** (k + 1) * tail + _horner(xpos, poly)
    return torch.where(x < -_PL_SWITCH, tail, torch.where(x > _PL_SWITCH, above, near))


# --- gfunction: σ_p(x) = (1/π) ∫₀^∞ cos(ωx) e^{-ω^p} dω --------------------------------------

_G_SWITCH = 50.0  # quadrature for |x| <= 50, asymptotic series beyond
_G_CHUNK = 32  # quadrature nodes evaluated at once (bounds the memory of one call)


@functools.lru_cache(maxsize=64)
def _gfunction_rule(p: float) -> tuple[np.ndarray, ...]:
    """Fixed rule for σ_p: nodes, amplitudes, phases and θ of the quadrature, then the tail series."""
    # σ_p(x) = (1/π) Re ∫_0^∞ e^{iθ} exp(i r x e^{iθ} - r^p e^{ipθ}) dr: the ray ω = r e^{iθ}
    # (valid for 0 < θ < π/(2p)) damps the oscillation of cos(ωx). With θ = π/(4p) the integrand
    # is analytic in a strip of half-width θ about the real axis of u = log r, so the trapezoidal
    # rule in u converges geometrically (step θ/4: about 1e-11 absolute for 0.3 <= p <= 6).
    # r = exp(u - e^{-(u+3)}) compresses r -> 0 double-exponentially below r ~ e^{-4}.
    theta = _PI / (4.0 * max(p, 1.0))
    du = 0.25 * theta
    u_max = math.log(40.0 / math.cos(p * theta)) / p + 0.3
    u = np.arange(-6.4, u_max + du, du)
    r = np.exp(u - np.exp(-(u + 3.0)))
    weight = r * (1.0 + np.exp(-(u + 3.0))) * du
    rp = r**p
    amplitude = weight * np.exp(-rp * math.cos(p * theta)) / _PI
    phase = theta - rp * math.sin(p * theta)
    keep = amplitude > 1e-18 * amplitude.max()
    # |x| > 50: σ_p(x) ~ (1/π) Σ_n (-1)^{n+1} Γ(np+1) sin(nπp/2) / (n! |x|^{np+1}), stopped
    # before the terms start to grow at |x| = 50 (exact zeros for even integer p).
    n = np.arange(1, 41)
    log_ratio = special.gammaln(n * p + 1) - special.gammaln(n + 1)
    growing = np.nonzero(np.diff(log_ratio - (n * p + 1) * math.log(_G_SWITCH)) > 0)[0]
    n = n[: growing[0] + 1] if growing.size else n
    half_turns = n * p / 2.0
    sine = np.where(half_turns == np.round(half_turns), 0.0, np.sin(_PI * np.mod(half_turns, 2.0)))
    powers = -(n * p + 1.0)
    # Coefficients of (|x|/50)^power, so that float32 sees no overflow.
    coefs = (-1.0) ** (n + 1) * np.exp(log_ratio[: n.size] + powers * math.log(_G_SWITCH)) * sine / _PI
    return r[keep], amplitude[keep], phase[keep], theta, powers, coefs


def _gfunction(x: torch.Tensor, p: float, c: float) -> torch.Tensor:
    """σ_{p,c}(x) = σ_p(x/λ)/λ with λ = (c/2)^{1/p}: the scale c of the penalty e^{c|ω|^p} is a dilation of σ_p."""
    lam = (0.5 * c) ** (1.0 / p)  # exactly 1.0 for the default c = 2
    return _gfunction_unit(x / lam, p) / lam


def _gfunction_unit(x: torch.Tensor, p: float) -> torch.Tensor:
    """σ_p (c = 2) by a fixed trapezoidal rule on a rotated contour (|x| <= 50) and its asymptotic series beyond."""
    nodes, amplitude, phase, theta, powers, coefs = _gfunction_rule(float(p))
    options = {"dtype": x.dtype, "device": x.device}
    ax = torch.abs(x)
    xq = torch.clamp(ax, max=_G_SWITCH).unsqueeze(-1)
    damp, turn = math.sin(theta), math.cos(theta)
    quad = torch.zeros_like(x)
    for start in range(0, nodes.size, _G_CHUNK):
        part = slice(start, start + _G_CHUNK)
        z = xq * torch.as_tensor(nodes[part], **options)
        a = torch.as_tensor(amplitude[part], **options)
        b = torch.as_tensor(phase[part], **options)
        quad = quad + (a * torch.exp(-damp * z) * torch.cos(b + turn * z)).sum(-1)
    xa = torch.clamp(ax, min=_G_SWITCH).unsqueeze(-1) / _G_SWITCH
    tail = (torch.as_tensor(coefs, **options) * xa ** torch.as_tensor(powers, **options)).sum(-1)
    return torch.where(ax <= _G_SWITCH, quad, tail)


# --------------------------------------------------------------------------------------------
# Closed forms: σ̂(ω) (δ-terms at 0 dropped) and P(ω) = 1/|σ̂(ω)|², evaluated without overflow
# where possible (the caller silences floating-point warnings; inf is an acceptable answer).
# --------------------------------------------------------------------------------------------


def _complex(real: np.ndarray, imag: np.ndarray) -> np.ndarray:
    """Assemble a complex array from real parts without complex arithmetic (no 0·inf = nan)."""
    out = np.empty(np.broadcast(real, imag).shape, dtype=np.complex128)
    out.real = real
    out.imag = imag
    return out


def _x_over_sinh(z: np.ndarray) -> np.ndarray:
    """z/sinh z with its limit 1 at z = 0 (0 once sinh overflows)."""
    return np.where(z == 0, 1.0, z / np.sinh(np.where(z == 0, 1.0, z)))


def _step_fourier(w: np.ndarray) -> np.ndarray:
    """1/(iω) = -i/ω."""
    return _complex(0.0, -1.0 / w)


def _step_penalty(w: np.ndarray) -> np.ndarray:
    """ω²."""
    return w**2


def _relu_fourier(w: np.ndarray) -> np.ndarray:
    """-1/ω² = 1/(iω)²."""
    return -1.0 / w**2 + 0j


def _relu_penalty(w: np.ndarray) -> np.ndarray:
    """ω⁴."""
    return w**4


def _relu_power_fourier(w: np.ndarray, p: float) -> np.ndarray:
    """Γ(p+1)(iω)^{-(p+1)} = Γ(p+1)|ω|^{-(p+1)} e^{-i(p+1)(π/2)sgn ω} (principal branch)."""
    size = np.exp(special.gammaln(p + 1.0) - (p + 1.0) * np.log(np.abs(w)))
    phase = -(p + 1.0) * 0.5 * _PI * np.sign(w)
    return _complex(size * np.cos(phase), size * np.sin(phase))


def _relu_power_penalty(w: np.ndarray, p: float) -> np.ndarray:
    """|ω|^{2p+2}/Γ(p+1)², in logs for p > 100 so that Γ does not overflow."""
    if p <= 100:
        return np.abs(w) ** (2.0 * p + 2.0) / special.gamma(p + 1.0) ** 2
    return np.exp((2.0 * p + 2.0) * np.log(np.abs(w)) - 2.0 * special.gammaln(p + 1.0))


def _power_softplus_fourier(w: np.ndarray, k: int) -> np.ndarray:
    """-iπ/((iω)^k sinh πω) = (-i)^{k+1} π ω^{-k}/sinh(πω)."""
    return (-1j) ** (k + 1) * (_PI / np.sinh(_PI * w) / w**k)


def _power_softplus_penalty(w: np.ndarray, k: int) -> np.ndarray:
    """ω^{2k} sinh²(πω)/π²."""
    return w ** (2 * k) * (np.sinh(_PI * w) / _PI) ** 2


def _logistic_fourier(w: np.ndarray) -> np.ndarray:
    """power_softplus with k = 0: -iπ/sinh(πω)."""
    return _power_softplus_fourier(w, 0)


def _logistic_penalty(w: np.ndarray) -> np.ndarray:
    """power_softplus with k = 0: sinh²(πω)/π²."""
    return _power_softplus_penalty(w, 0)


def _softplus_fourier(w: np.ndarray) -> np.ndarray:
    """power_softplus with k = 1: -π/(ω sinh πω)."""
    return _power_softplus_fourier(w, 1)


def _softplus_penalty(w: np.ndarray) -> np.ndarray:
    """power_softplus with k = 1: ω² sinh²(πω)/π²."""
    return _power_softplus_penalty(w, 1)


def _tanh_fourier(w: np.ndarray) -> np.ndarray:
    """tanh x = 2 logistic(2x) - 1, hence σ̂(ω) = logistic^(ω/2) = -iπ/sinh(πω/2)."""
    return _logistic_fourier(0.5 * w)


def _tanh_penalty(w: np.ndarray) -> np.ndarray:
    """sinh²(πω/2)/π², the logistic penalty at ω/2."""
    return _logistic_penalty(0.5 * w)


def _logistic_bump_fourier(w: np.ndarray) -> np.ndarray:
    """πω/sinh(πω) (the logistic's transform times iω)."""
    return _x_over_sinh(_PI * w) + 0j


def _logistic_bump_penalty(w: np.ndarray) -> np.ndarray:
    """sinh²(πω)/(πω)², 1 at ω = 0."""
    return 1.0 / _x_over_sinh(_PI * w) ** 2


def _atan_fourier(w: np.ndarray) -> np.ndarray:
    """-iπ e^{-|ω|}/ω."""
    return _complex(0.0, -_PI * np.exp(-np.abs(w)) / w)


def _atan_penalty(w: np.ndarray) -> np.ndarray:
    """ω² e^{2|ω|}/π²."""
    return (w / _PI) ** 2 * np.exp(2.0 * np.abs(w))


def _erf_fourier(w: np.ndarray, s: float) -> np.ndarray:
    """2e^{-s²ω²/4}/(iω) (erf(x/s)′ = (2/(s√π)) gaussian(s), whose transform is 2e^{-s²ω²/4})."""
    return _complex(0.0, -2.0 * np.exp(-0.25 * (s * w) ** 2) / w)


def _erf_penalty(w: np.ndarray, s: float) -> np.ndarray:
    """ω² e^{s²ω²/2}/4."""
    return 0.25 * w**2 * np.exp(0.5 * (s * w) ** 2)


def _gaussian_fourier(w: np.ndarray, s: float) -> np.ndarray:
    """s√π e^{-s²ω²/4}."""
    return s * math.sqrt(_PI) * np.exp(-0.25 * (s * w) ** 2) + 0j


def _gaussian_penalty(w: np.ndarray, s: float) -> np.ndarray:
    """e^{s²ω²/2}/(πs²)."""
    return np.exp(0.5 * (s * w) ** 2) / (_PI * s * s)


def _cauchy_fourier(w: np.ndarray) -> np.ndarray:
    """π e^{-|ω|}."""
    return _PI * np.exp(-np.abs(w)) + 0j


def _cauchy_penalty(w: np.ndarray) -> np.ndarray:
    """e^{2|ω|}/π²."""
    return np.exp(2.0 * np.abs(w)) / _PI**2


def _gfunction_fourier(w: np.ndarray, p: float, c: float) -> np.ndarray:
    """e^{-c|ω|^p/2} (σ_{p,c} is defined as its inverse transform)."""
    return np.exp(-0.5 * c * np.abs(w) ** p) + 0j


def _gfunction_penalty(w: np.ndarray, p: float, c: float) -> np.ndarray:
    """e^{c|ω|^p}: the family of Eq. 11 (Cauchy is p = 1, a Gaussian is p = 2)."""
    return np.exp(c * np.abs(w) ** p)


def _satrelu_fourier(w: np.ndarray) -> np.ndarray:
    """(1 - e^{-iω})/(iω)² = -(2 sin²(ω/2) + i sin ω)/ω²."""
    return _complex(-2.0 * np.sin(0.5 * w) ** 2 / w**2, -np.sin(w) / w**2)


def _satrelu_penalty(w: np.ndarray) -> np.ndarray:
    """ω⁴/(4 sin²(ω/2)): 0 at ω = 0, infinite at ω = 2πm, m ≠ 0."""
    return np.where(w == 0, 0.0, w**4 / (4.0 * np.sin(0.5 * w) ** 2))


def _wavepacket_log_abs_fourier(w: np.ndarray, s: float, w0: float) -> np.ndarray:
    """log σ̂ of the wavepacket (σ̂ is real and positive), via logaddexp to avoid underflow."""
    a = -0.5 * (s * (w - w0)) ** 2
    b = -0.5 * (s * (w + w0)) ** 2
    return math.log(0.5 * s * _SQRT_2PI) + np.logaddexp(a, b)


def _wavepacket_fourier(w: np.ndarray, s: float, w0: float) -> np.ndarray:
    """(s√(2π)/2)[e^{-s²(ω-w0)²/2} + e^{-s²(ω+w0)²/2}]."""
    return np.exp(_wavepacket_log_abs_fourier(w, s, w0)) + 0j


def _wavepacket_penalty(w: np.ndarray, s: float, w0: float) -> np.ndarray:
    """1/σ̂², smallest near |ω| = w0 (band-pass)."""
    return np.exp(-2.0 * _wavepacket_log_abs_fourier(w, s, w0))


def _rectangle_fourier(w: np.ndarray) -> np.ndarray:
    """sin(ω/2)/(ω/2)."""
    return np.sinc(w / (2.0 * _PI)) + 0j


def _rectangle_penalty(w: np.ndarray) -> np.ndarray:
    """(ω/2)²/sin²(ω/2)."""
    return 1.0 / np.sinc(w / (2.0 * _PI)) ** 2


def _triangle_fourier(w: np.ndarray) -> np.ndarray:
    """[sin(ω/2)/(ω/2)]²."""
    return np.sinc(w / (2.0 * _PI)) ** 2 + 0j


def _triangle_penalty(w: np.ndarray) -> np.ndarray:
    """(ω/2)⁴/sin⁴(ω/2)."""
    return 1.0 / np.sinc(w / (2.0 * _PI)) ** 4


def _sinc_fourier(w: np.ndarray, a: float) -> np.ndarray:
    """π on |ω| < a, π/2 on the band edge, 0 outside."""
    aw = np.abs(w)
    return _PI * np.where(aw < a, 1.0, np.where(aw == a, 0.5, 0.0)) + 0j


def _sinc_penalty(w: np.ndarray, a: float) -> np.ndarray:
    """1/π² in the band |ω| < a, inf outside."""
    return 1.0 / np.abs(_sinc_fourier(w, a)) ** 2


def _sinc2_fourier(w: np.ndarray, a: float) -> np.ndarray:
    """aπ(1 - |ω|/(2a))₊ (the band of sinc convolved with itself)."""
    return a * _PI * np.maximum(1.0 - np.abs(w) / (2.0 * a), 0.0) + 0j


def _sinc2_penalty(w: np.ndarray, a: float) -> np.ndarray:
    """[aπ(1 - |ω|/2a)]^{-2} for |ω| < 2a, inf outside."""
    return 1.0 / np.abs(_sinc2_fourier(w, a)) ** 2


def _half_exp_fourier(w: np.ndarray) -> np.ndarray:
    """1/(1 + iω), in polar form |·| = 1/hypot(1, ω), arg = -arctan ω."""
    size, phase = 1.0 / np.hypot(1.0, w), -np.arctan(w)
    return _complex(size * np.cos(phase), size * np.sin(phase))


def _half_exp_penalty(w: np.ndarray) -> np.ndarray:
    """1 + ω²."""
    return 1.0 + w**2


def _oberhettinger_fourier(w: np.ndarray) -> np.ndarray:
    """1/(1 + iω)², the square of half_exp's transform (in polar form)."""
    size, phase = 1.0 / (1.0 + w**2), -2.0 * np.arctan(w)
    return _complex(size * np.cos(phase), size * np.sin(phase))


def _oberhettinger_penalty(w: np.ndarray) -> np.ndarray:
    """(1 + ω²)², the square of half_exp's penalty."""
    return _half_exp_penalty(w) ** 2


def _sech_fourier(w: np.ndarray) -> np.ndarray:
    """π sech(πω/2)."""
    return _PI / np.cosh(0.5 * _PI * w) + 0j


def _sech_penalty(w: np.ndarray) -> np.ndarray:
    """cosh²(πω/2)/π²."""
    return (np.cosh(0.5 * _PI * w) / _PI) ** 2


def _log_abs_fourier(w: np.ndarray) -> np.ndarray:
    """-π/|ω|."""
    return -_PI / np.abs(w) + 0j


def _log_abs_penalty(w: np.ndarray) -> np.ndarray:
    """ω²/π²."""
    return (w / _PI) ** 2


def _dirac_approx_fourier(w: np.ndarray, h: float) -> np.ndarray:
    """e^{-h²ω²/2}."""
    return np.exp(-0.5 * (h * w) ** 2) + 0j


def _dirac_approx_penalty(w: np.ndarray, h: float) -> np.ndarray:
    """e^{h²ω²}."""
    return np.exp((h * w) ** 2)


def _leaky_relu_fourier(w: np.ndarray, negative_slope: float) -> np.ndarray:
    """(1-β) times relu's transform (the linear part βx is a δ′ at 0)."""
    return (1.0 - negative_slope) * _relu_fourier(w)


def _leaky_relu_penalty(w: np.ndarray, negative_slope: float) -> np.ndarray:
    """ω⁴/(1-β)² (inf for β = 1, the identity)."""
    return _relu_penalty(w) / (1.0 - negative_slope) ** 2


def _elu_fourier(w: np.ndarray, alpha: float) -> np.ndarray:
    """-1/ω² + α/(ω(ω + i)) = ((α-1)ω - i)/(ω²(ω + i)), split into real and imaginary parts."""
    real = -(1.0 / (1.0 + w**2) + (1.0 - alpha) / (1.0 + w**-2)) / w**2
    return _complex(real, -alpha / (w * (1.0 + w**2)))


def _elu_penalty(w: np.ndarray, alpha: float) -> np.ndarray:
    """ω⁴(1 + ω²)/((α-1)²ω² + 1)."""
    return w**4 * (1.0 + w**2) / ((alpha - 1.0) ** 2 * w**2 + 1.0)


def _gelu_fourier(w: np.ndarray) -> np.ndarray:
    """-(1 + ω²)e^{-ω²/2}/ω², from x f(x) ↔ i f̂′(ω) with f = Φ."""
    return -(1.0 + w**-2) * np.exp(-0.5 * w**2) + 0j


def _gelu_penalty(w: np.ndarray) -> np.ndarray:
    """ω⁴ e^{ω²}/(1 + ω²)²."""
    return np.exp(w**2) / (1.0 + w**-2) ** 2


def _silu_fourier(w: np.ndarray) -> np.ndarray:
    """-π² cosh(πω)/sinh²(πω), from x f(x) ↔ i f̂′(ω) with f = logistic."""
    return -(_PI**2) / (np.sinh(_PI * w) * np.tanh(_PI * w)) + 0j


def _silu_penalty(w: np.ndarray) -> np.ndarray:
    """sinh⁴(πω)/(π⁴cosh²(πω)) = sinh²(πω) tanh²(πω)/π⁴."""
    z = _PI * w
    return (np.sinh(z) * np.tanh(z)) ** 2 / _PI**4


# --------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------

_POS = "positive"
_ABOVE_MINUS_ONE = "above_minus_one"
_BUILTINS: tuple[_Spec, ...] = (
    _Spec("step", _step, fourier=_step_fourier, penalty=_step_penalty),
    _Spec("relu", _relu, fourier=_relu_fourier, penalty=_relu_penalty),
    _Spec("relu_power", _relu_power, {"p": 2}, {"p": _ABOVE_MINUS_ONE}, _relu_power_fourier, _relu_power_penalty),
    _Spec("logistic", _logistic, fourier=_logistic_fourier, penalty=_logistic_penalty),
    _Spec("logistic_bump", _logistic_bump, fourier=_logistic_bump_fourier, penalty=_logistic_bump_penalty),
    _Spec("softplus", _softplus, fourier=_softplus_fourier, penalty=_softplus_penalty),
    _Spec(
        "power_softplus",
        _power_softplus,
        {"k": 2},
        {"k": "nonnegative_int"},
        _power_softplus_fourier,
        _power_softplus_penalty,
    ),
    _Spec("atan", _atan, fourier=_atan_fourier, penalty=_atan_penalty),
    _Spec("erf", _erf, {"s": 1.0}, {"s": _POS}, _erf_fourier, _erf_penalty),
    _Spec("tanh", _tanh, fourier=_tanh_fourier, penalty=_tanh_penalty),
    _Spec("gaussian", _gaussian, {"s": 1.0}, {"s": _POS}, _gaussian_fourier, _gaussian_penalty),
    _Spec("cauchy", _cauchy, fourier=_cauchy_fourier, penalty=_cauchy_penalty),
    _Spec(
        "gfunction",
        _gfunction,
        {"p": 1.5, "c": 2.0},
        {"p": _POS, "c": _POS},
        _gfunction_fourier,
        _gfunction_penalty,
    ),
    _Spec("satrelu", _satrelu, fourier=_satrelu_fourier, penalty=_satrelu_penalty),
    _Spec(
        "wavepacket",
        _wavepacket,
        {"s": 1.0, "w0": 2.0},
        {"s": _POS, "w0": "real"},
        _wavepacket_fourier,
        _wavepacket_penalty,
    ),
    _Spec("rectangle", _rectangle, fourier=_rectangle_fourier, penalty=_rectangle_penalty),
    _Spec("triangle", _triangle, fourier=_triangle_fourier, penalty=_triangle_penalty),
    _Spec("sinc", _sinc, {"a": 1.0}, {"a": _POS}, _sinc_fourier, _sinc_penalty),
    _Spec("sinc2", _sinc2, {"a": 1.0}, {"a": _POS}, _sinc2_fourier, _sinc2_penalty),
    _Spec("half_exp", _half_exp, fourier=_half_exp_fourier, penalty=_half_exp_penalty),
    _Spec(
        "oberhettinger_iii10_candidate",
        _oberhettinger_iii10_candidate,
        fourier=_oberhettinger_fourier,
        penalty=_oberhettinger_penalty,
    ),
    _Spec("sech", _sech, fourier=_sech_fourier, penalty=_sech_penalty),
    _Spec("log_abs", _log_abs, fourier=_log_abs_fourier, penalty=_log_abs_penalty),
    _Spec(
        "dirac_approx",
        _dirac_approx,
        {"h": 0.1},
        {"h": _POS},
        _dirac_approx_fourier,
        _dirac_approx_penalty,
    ),
    _Spec("sin", _sin),
    _Spec("cos", _cos),
    _Spec("identity", _identity),
    _Spec(
        "leaky_relu",
        _leaky_relu,
        {"negative_slope": 0.01},
        {"negative_slope": "real"},
        _leaky_relu_fourier,
        _leaky_relu_penalty,
    ),
    _Spec("elu", _elu, {"alpha": 1.0}, {"alpha": "real"}, _elu_fourier, _elu_penalty),
    _Spec("gelu", _gelu, fourier=_gelu_fourier, penalty=_gelu_penalty),
    _Spec("silu", _silu, fourier=_silu_fourier, penalty=_silu_penalty),
    _Spec("softsign", _softsign),
)
_BUILTIN_NAMES = frozenset(spec.name for spec in _BUILTINS)
_REGISTRY.update({spec.name: spec for spec in _BUILTINS})
_ALIASES.update({"linear": "identity", "sigmoid": "logistic", "swish": "silu"})


# --------------------------------------------------------------------------------------------
# Every constant of the spectral-bias reproduction that the paper does not give: one table
# --------------------------------------------------------------------------------------------


class ChosenConstant(NamedTuple):
    """One constant we had to choose because the seed paper's value is lost, with where it lives and why.

    Attributes
    ----------
    source : str
        The code that uses it: ``"kernelreg.activations"`` (an activation's default parameter),
        ``"kernelreg.bench._common.SPECTRAL_ACTIVATIONS"`` (a row of Tables II/III),
        ``"kernelreg.datasets.spectral_target"`` (a target of Experiment 2),
        ``"kernelreg.datasets.load_random_labels_cube"`` or ``"kernelreg.features.RandomFeatureMap"``.
    item : str
        Activation name, table-row key, target name or parameter owner.
    param : str
        Parameter name (for a drawn parameter, the name of its range).
    value : object
        The value used (a ``(low, high)`` pair for a range something is drawn from).
    reason : str
        Why this value: what the paper says, and what we chose where it says nothing.
    """

    source: str
    item: str
    param: str
    value: Any
    reason: str


_A, _ROWS, _TARGET = "kernelreg.activations", "kernelreg.bench._common.SPECTRAL_ACTIVATIONS", "kernelreg.datasets.spectral_target"

#: The one list of invented constants (issue 11): every value the spectral-bias paper
#: (Sahs et al. 2025, seeds/003) leaves out and kernelreg had to choose. Tests check each entry
#: against the code that uses it, so the table cannot drift from the code.
CHOSEN_CONSTANTS: tuple[ChosenConstant, ...] = (
    ChosenConstant(_A, "step", "H(0)", 0.5, "value of Fourier inversion at the jump; the paper uses H without fixing H(0)"),
    ChosenConstant(_A, "relu_power", "p", 2, "default exponent: the paper's ReLU² row; ReLU3.5 is the other row it uses"),
    ChosenConstant(_A, "power_softplus", "k", 2, "default order: the first one that is neither logistic (0) nor softplus (1)"),
    ChosenConstant(_A, "gaussian", "s", 1.0, "e^{-x²}: the paper calls Erf the Gaussian's antiderivative; with torch.erf for Erf this fixes the width"),
    ChosenConstant(_A, "erf", "s", 1.0, "erf(x) = torch.erf, so the Table II/III rows use the common Erf; same s as gaussian by construction"),
    ChosenConstant(_A, "gfunction", "p", 1.5, "between Cauchy (p=1) and Gaussian (p=2); the p of the paper's Fig. 1 curve is lost"),
    ChosenConstant(_A, "gfunction", "c", 2.0, "penalty e^{c|ω|^p} with c = 2 makes σ̂ = e^{-|ω|^p} and p = 1 the Cauchy/π; the paper's c is lost"),
    ChosenConstant(_A, "wavepacket", "s", 1.0, "envelope width; the form e^{-x²/(2s²)}cos(w0 x) is itself assumed (research/spectral.md §3)"),
    ChosenConstant(_A, "wavepacket", "w0", 2.0, "carrier frequency of the default; the paper's three (s; w0) pairs are lost"),
    ChosenConstant(_A, "sinc", "a", 1.0, "band edge of the default sin(ax)/x; the paper's three values are lost"),
    ChosenConstant(_A, "sinc2", "a", 1.0, "same band parameter as sinc"),
    ChosenConstant(_A, "dirac_approx", "h", 0.1, "width of the unit-mass Gaussian standing in for δ (not a function); small against data scale 1"),
    ChosenConstant(_A, "log_abs", "floor", _LOG_ABS_FLOOR, "|x| floored so that log|0| is finite and equal in float32 and float64"),
    ChosenConstant(_A, "oberhettinger_iii10_candidate", "formula", "x e^{-x} H(x)", "Oberhettinger III.10 is unknown; continuous analogue of Half-Exp (research/spectral.md §3)"),
    ChosenConstant(_ROWS, "sinc1", "a", 2.0, "three Sinc rows ordered as the paper's fits suggest: #1 middle band"),
    ChosenConstant(_ROWS, "sinc2", "a", 0.5, "#2 fails most in Table III: the narrowest band"),
    ChosenConstant(_ROWS, "sinc3", "a", 8.0, "#3 fits best in Table III: the widest band"),
    ChosenConstant(_ROWS, "wave1", "(s, w0)", (0.5, 10.0), "a high-frequency band pass"),
    ChosenConstant(_ROWS, "wave2", "(s, w0)", (2.0, 1.0), "a low-frequency band pass"),
    ChosenConstant(_ROWS, "wave3", "(s, w0)", (1.0, 5.0), "a mid-frequency band pass"),
    ChosenConstant(_TARGET, "sparse_fourier", "amplitude range", (0.5, 1.0), "six waves of 'random amplitude' (paper); range ours"),
    ChosenConstant(_TARGET, "sparse_fourier", "frequency range", (0.5 * _PI, 3.0 * _PI), "'random frequency': a quarter to 1.5 periods per unit length"),
    ChosenConstant(_TARGET, "ring_fourier", "r0", 3.0 * _PI, "J₀(r₀‖x‖); r₀ lost: three half-rings inside [-1, 1]²"),
    ChosenConstant(_TARGET, "hole", "rho", 0.5, "disc radius lost: half the half-width of the square"),
    ChosenConstant(_TARGET, "doppler", "e", 0.05, "Donoho–Johnstone's classic Doppler constant; the paper's is lost"),
    ChosenConstant(_TARGET, "doppler", "scale", 1.0, "no rescaling of the product of two 1-D Dopplers"),
    ChosenConstant(_TARGET, "bumps", "count", 8, "'several' bumps in the paper"),
    ChosenConstant(_TARGET, "bumps", "width range", (0.05, 0.15), "sharp against the unit square, like Donoho's 1-D widths scaled"),
    ChosenConstant(_TARGET, "bumps", "height range", (0.5, 1.0), "positive and negative heights of this size (sign drawn)"),
    ChosenConstant(_TARGET, "bumps", "centre range", (-0.8, 0.8), "centres kept inside the square"),
    ChosenConstant("kernelreg.datasets.load_random_labels_cube", "cube", "domain", (-1.0, 1.0), "'points uniformly drawn from a cube': side [-1, 1] assumed"),
    ChosenConstant("kernelreg.features.RandomFeatureMap", "offset_scale", "default B", "max ‖x‖", "γ ~ U[-B, B]; B lost, max‖x‖ lets every zero-plane cut the data"),
)
