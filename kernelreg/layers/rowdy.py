"""Adaptive activations of the Kronecker-network family: Kronecker sums, Rowdy, and (L/N-)LAAF.

All three are one formula with different trainable parts (Jagtap, Shin, Kawaguchi & Karniadakis,
*Deep Kronecker neural networks*, seed paper 002, eq. 1):

    φ(z) = Σ_{k=1}^{K} α_k φ_k(ω_k z).

Each module registers its adaptive parameters as ``nn.Parameter`` (so they train and appear in
``named_parameters()``), starts exactly at its base activation where the paper says so, and serves
a ``branch_features`` view: the K branch outputs φ_k(ω_k z) that a frozen Kronecker layer exports as
N·K features (``research/iat_rowdy.md`` §3). The module is long because of the fused branch
function (forward, hand-written backward, double-backward fallback and the opt-in compiled
kernels) that keeps Rowdy's cost near a fixed activation's; it serves all three families.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Callable, Literal, Union

import torch
from torch import nn

from kernelreg import activations
from kernelreg._checks import check_int, check_positive
from kernelreg._torch import resolve_dtype
from kernelreg.exceptions import KernelregError

__all__ = ["KroneckerActivation", "RowdyActivation", "LAAF", "slope_recovery_loss"]

BaseSpec = Union[str, Callable, tuple]


def _base_activation(spec: BaseSpec, params: dict | None = None):
    """Resolve a base function: a zoo name, a callable, or a (name, params) pair, via activations.get."""
    if isinstance(spec, tuple):
        if len(spec) != 2 or not isinstance(spec[1], dict):
            raise ValueError(
                f"a base function given as a tuple must be (name_or_callable, params_dict); got {spec!r}."
            )
        spec, extra = spec
        params = {**(params or {}), **extra}
    return activations.get(spec, **(params or {}))


def _reciprocal(n: float, dtype: torch.dtype) -> torch.Tensor:
    """1/n as a 0-d tensor, moved by at most a few ulps so that n * value == 1 exactly in ``dtype``.

    This makes the adaptive activations start *exactly* at their base activation (n·ω = 1), not
    merely to rounding error, for any n.
    """
    value = torch.tensor(1.0 / n, dtype=dtype)
    for _ in range(16):
        product = value * n
        if product == 1:
            break
        toward = torch.tensor(-math.inf if product > 1 else math.inf, dtype=dtype)
        value = torch.nextafter(value, toward)
    return value


def _check_neurons(z: torch.Tensor, n_neurons: int | None, owner: str) -> None:
    """With per-neuron parameters, z's last dimension must be the number of neurons."""
    if n_neurons is not None and (z.ndim == 0 or z.shape[-1] != n_neurons):
        got = "a scalar" if z.ndim == 0 else f"last dimension {z.shape[-1]} (shape {tuple(z.shape)})"
        raise ValueError(
            f"{owner} has per-neuron parameters for {n_neurons} neurons, so its input needs last "
            f"dimension {n_neurons}; got {got}."
        )


def _name(act: object) -> str:
    """Printable name of an activation object."""
    return str(getattr(act, "name", act))


class _BranchActivation(nn.Module, ABC):
    """Shared machinery: φ(z) = Σ_k α_k g_k(ω_k z) with effective α, ω and the branches given by the subclass."""

    n_neurons: int | None
    K: int

    @abstractmethod
    def _branch_values(self, z: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        """The K branch outputs g_k(ω_k z), stacked on a new last axis."""

    @abstractmethod
    def effective_omega(self) -> torch.Tensor:
        """Frequencies ω_k as used in the forward, shape (K,) or (n_neurons, K)."""

    @abstractmethod
    def effective_alpha(self) -> torch.Tensor:
        """Amplitudes α_k as used in the forward, shape (K,) or (n_neurons, K)."""

    def branch_features(self, z: torch.Tensor, flatten: bool = False) -> torch.Tensor:
        """The K branch outputs g_k(ω_k z) before the amplitudes: the Kronecker-expanded readout.

        Parameters
        ----------
        z : Tensor of shape (...) or (..., n_neurons)
            Pre-activations (per-neuron parameters need the neuron axis last).
        flatten : bool, default=False
            Merge the last two axes (neurons, branches) into one of size N·K, neuron-major:
            the N·K feature columns of a frozen Kronecker layer.

        Returns
        -------
        Tensor of shape (..., K), or (..., N·K) when ``flatten``
            ``forward(z) == (branch_features(z) * effective_alpha()).sum(-1)``.
        """
        _check_neurons(z, self.n_neurons, type(self).__name__)
        out = self._branch_values(z, self.effective_omega().to(z.dtype))
        if flatten:
            if z.ndim == 0:
                raise ValueError(f"{type(self).__name__}.branch_features(flatten=True) needs a neuron axis; got a scalar.")
            out = out.reshape(*out.shape[:-2], out.shape[-2] * out.shape[-1])
        return out

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """φ(z) elementwise, same shape as z."""
        feats = self.branch_features(z)
        return (feats * self.effective_alpha().to(feats.dtype)).sum(dim=-1)


class KroneckerActivation(_BranchActivation):
    """Kronecker-network activation φ(z) = Σ_k α_k φ_k(ω_k z) for any list of base functions.

    Equivalent to a Kronecker neural network layer (the K-fold tiled layer of seed paper 002,
    §2.1) at the cost of 2K extra parameters; K=1 with trainable ω is L-LAAF, K=2 with
    ReLU(x), ReLU(-x) gives PReLU, φ_k = x^{k-1} with ω = 1 gives SLAF.

    Parameters
    ----------
    base_functions : sequence of str, callable or (str, dict)
        The K branch functions φ_k, each resolved through :func:`kernelreg.activations.get`.
    alphas : sequence of float or None, default=None
        Initial amplitudes α_k; ``None`` gives (1, 0, ..., 0), so the activation starts as φ_1
        (the KNN theorem's initialisation).
    omegas : sequence of float or None, default=None
        Initial frequencies ω_k; ``None`` gives all ones.
    trainable : bool, default=True
        Register α and ω as parameters (else as buffers).
    per_neuron : int or None, default=None
        ``None``: one (α, ω) per layer, as in the paper. An integer N: one pair per neuron,
        parameters of shape (N, K), inputs with last dimension N.
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
        Dtype of the parameters (inputs of another dtype use a cast copy).

    Attributes
    ----------
    alpha : Parameter of shape (K,) or (N, K)
    omega : Parameter of shape (K,) or (N, K)
    bases : list of Activation
    K : int

    Raises
    ------
    ValueError
        Empty ``base_functions``, or ``alphas``/``omegas`` whose length is not K.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.layers import KroneckerActivation
    >>> act = KroneckerActivation(["relu", "tanh"], alphas=[1.0, 0.5], omegas=[1.0, 2.0])
    >>> z = torch.linspace(-1, 1, 5, dtype=torch.float64)
    >>> torch.allclose(act(z), torch.relu(z) + 0.5 * torch.tanh(2 * z))
    True
    """

    def __init__(
        self,
        base_functions: Sequence[BaseSpec],
        alphas: Sequence[float] | None = None,
        omegas: Sequence[float] | None = None,
        trainable: bool = True,
        *,
        per_neuron: int | None = None,
        dtype: str | torch.dtype = "float64",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if isinstance(base_functions, (str, tuple)) or callable(base_functions):
            base_functions = [base_functions]
        base_functions = list(base_functions)
        if not base_functions:
            raise ValueError(f"{owner} needs at least one base function; got an empty list.")
        self.K = len(base_functions)
        self.n_neurons = check_int(per_neuron, "per_neuron", owner, allow_none=True)
        self.bases = [_base_activation(spec) for spec in base_functions]
        dt = resolve_dtype(dtype)
        alpha = torch.zeros(self.K, dtype=dt)
        alpha[0] = 1.0
        omega = torch.ones(self.K, dtype=dt)
        for name, given, target in (("alphas", alphas, alpha), ("omegas", omegas, omega)):
            if given is not None:
                values = torch.as_tensor(given, dtype=dt).reshape(-1)
                if values.numel() != self.K:
                    raise ValueError(
                        f"{owner} got {values.numel()} {name} for {self.K} base functions; give one per base function."
                    )
                target.copy_(values)
        if self.n_neurons is not None:
            alpha = alpha.expand(self.n_neurons, self.K).clone()
            omega = omega.expand(self.n_neurons, self.K).clone()
        if trainable:
            self.alpha = nn.Parameter(alpha)
            self.omega = nn.Parameter(omega)
        else:
            self.register_buffer("alpha", alpha)
            self.register_buffer("omega", omega)

    def _branch_values(self, z: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        """Each base function on its own scaled input, stacked."""
        scaled = z.unsqueeze(-1) * omega
        return torch.stack([g(scaled[..., k]) for k, g in enumerate(self.bases)], dim=-1)

    def effective_omega(self) -> torch.Tensor:
        """ω, shape (K,) or (N, K)."""
        return self.omega

    def effective_alpha(self) -> torch.Tensor:
        """α, shape (K,) or (N, K)."""
        return self.alpha

    def extra_repr(self) -> str:
        return f"bases={[_name(b) for b in self.bases]}, per_neuron={self.n_neurons}"


class RowdyActivation(_BranchActivation):
    """Rowdy activation: a base activation plus K-1 trainable sinusoidal branches, starting exactly at the base.

    φ(z) = φ_1(n·ω_1·z) + Σ_{k=2}^{K} n·α_k·sin((k-1)·n·ω_k·z)        (``kind="sin"``)

    (cos with ``kind="cos"``), seed paper 002 §4 eq. 11 in the parameterisation recommended by
    ``research/iat_rowdy.md`` §2.2. The amplitudes α_k start at 0, so at step 0 the activation is
    φ_1 *exactly*; the fixed factor n speeds up training of α and ω (the effective step is n²·lr).

    Parameters
    ----------
    base : str or callable or (str, dict), default="relu"
        φ_1, any activation of the zoo (:func:`kernelreg.activations.get`) or a callable.
    K : int, default=9
        Number of terms **including φ_1** ("Rowdy-NetK" of the paper); K=1 is L-LAAF. The default
        is the paper's regression setting (Rowdy-Net9 with n=10).
    n : float, default=10.0
        Fixed scaling factor n > 0 (the paper uses n >= 1: 10 for regression and PINNs, 1 for
        its CNNs).
    kind : {"sin", "cos"}, default="sin"
        Shape of the added branches.
    per_neuron : int or None, default=None
        ``None``: layer-wise scalars, as in the paper and the official code. An integer N: one set
        per neuron (parameters of shape (N, ...), inputs with last dimension N).
    base_params : dict or None, default=None
        Parameters of φ_1.
    freq_init : {"code", "paper"}, default="code"
        - ``"code"``: n·ω_k = 1 for every k, so the initial frequencies are 1, 2, ..., K-1 (the
          official code, and the paper's "n·ω = 1 for all n" rule).
        - ``"paper"``: ω_k = 1 for k >= 2 (the paper's init table read literally), frequencies
          (k-1)·n.
        The base frequency always starts at n·ω_1 = 1.
    trainable : bool, default=True
        Register α and ω as parameters (else as buffers: the fixed activation with frozen branches).
    slope_recovery : bool, default=False
        Take part in :func:`slope_recovery_loss` with the base slope ω_1 (the L-LAAF slope of the
        K=1 case; n·ω_1 is the effective slope). Off by default: the Rowdy paper does not use it.
    compile : bool, default=False
        Opt-in: compute the sinusoidal branches with two kernels generated by ``torch.compile``
        (one forward loop; one backward loop that recomputes the waves instead of storing them),
        so no (..., K-1) temporary is written. Needs a C++ compiler; the first call per input
        shape and dtype compiles (tens of seconds). Values equal the eager path to rounding;
        second derivatives (``create_graph=True``) use the eager formula. See
        ``benchmarks/rowdy_overhead.py`` for what it saves.
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
        Dtype of the parameters.

    Attributes
    ----------
    alpha : Parameter of shape (K-1,) or (N, K-1)
        Amplitudes α_2..α_K (α_1 = 1 is fixed); initialised to 0.
    omega : Parameter of shape (K,) or (N, K)
        Raw frequencies; the forward uses n·ω. ω_1 is stored as 1/n adjusted by at most a few ulps
        so that n·ω_1 == 1 exactly.
    base : Activation
        φ_1.

    Raises
    ------
    ValueError
        K < 1, n <= 0, unknown ``kind`` or ``freq_init``, or a bad ``per_neuron``; unknown base
        activation names raise whatever :func:`kernelreg.activations.get` raises.

    See Also
    --------
    KroneckerActivation : the general sum Σ α_k φ_k(ω_k z).
    LAAF : the K=1 case with one slope per layer or neuron.

    Notes
    -----
    ``branch_features(z)`` returns [φ_1(n ω_1 z), n·sin(1·n ω_2 z), ..., n·sin((K-1)·n ω_K z)]
    (the factor n belongs to the branch φ_k of the paper), and the forward is their sum weighted by
    (1, α_2, ..., α_K). Training is lr-sensitive (the paper's lr 4e-3 run blew up); give α, ω a
    smaller learning rate or anneal it.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.layers import RowdyActivation
    >>> act = RowdyActivation("tanh", K=4, n=10.0)
    >>> z = torch.linspace(-2, 2, 9, dtype=torch.float64)
    >>> torch.equal(act(z), torch.tanh(z))
    True
    >>> act.branch_features(z).shape
    torch.Size([9, 4])
    """

    def __init__(
        self,
        base: BaseSpec = "relu",
        K: int = 9,
        n: float = 10.0,
        kind: Literal["sin", "cos"] = "sin",
        per_neuron: int | None = None,
        *,
        base_params: dict | None = None,
        freq_init: Literal["code", "paper"] = "code",
        trainable: bool = True,
        slope_recovery: bool = False,
        compile: bool = False,
        dtype: str | torch.dtype = "float64",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.slope_recovery = bool(slope_recovery)
        self.compile = bool(compile)
        if isinstance(K, bool) or not isinstance(K, Integral) or K < 1:
            raise ValueError(
                f"{owner} needs K >= 1 terms (K counts the base activation φ_1, so K=1 is L-LAAF); got K={K!r}."
            )
        self.K = int(K)
        self.n = check_positive(n, "n", owner)
        if kind not in ("sin", "cos"):
            raise ValueError(f"{owner} kind={kind!r} is unknown; use 'sin' or 'cos'.")
        if freq_init not in ("code", "paper"):
            raise ValueError(f"{owner} freq_init={freq_init!r} is unknown; use 'code' (n·ω=1) or 'paper' (ω=1).")
        self.kind = kind
        self.freq_init = freq_init
        self.n_neurons = check_int(per_neuron, "per_neuron", owner, allow_none=True)
        self.base = _base_activation(base, base_params)
        dt = resolve_dtype(dtype)
        one_over_n = _reciprocal(self.n, dt)
        omega = torch.full((self.K,), float(one_over_n), dtype=dt)
        if freq_init == "paper":
            omega[1:] = 1.0
        alpha = torch.zeros(self.K - 1, dtype=dt)
        if self.n_neurons is not None:
            omega = omega.expand(self.n_neurons, self.K).clone()
            alpha = alpha.expand(self.n_neurons, self.K - 1).clone()
        if trainable:
            self.alpha = nn.Parameter(alpha)
            self.omega = nn.Parameter(omega)
        else:
            self.register_buffer("alpha", alpha)
            self.register_buffer("omega", omega)

    def _branch_values(self, z: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        """[φ_1(nω_1 z), n·sin(1·nω_2 z), ..., n·sin((K-1)·nω_K z)] with all sines in one batched call."""
        first = self.base(z * omega[..., 0]).unsqueeze(-1)
        if self.K == 1:
            return first
        return torch.cat([first, self.n * self._waves(z, omega)], dim=-1)

    def _waves(self, z: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
        """sin(k·nω_k z) (or cos) for k = 1..K-1 on a new last axis, without the factor n."""
        wave = torch.sin if self.kind == "sin" else torch.cos
        k = torch.arange(1, self.K, dtype=z.dtype, device=z.device)
        return wave(z.unsqueeze(-1) * (omega[..., 1:] * k))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """φ(z) elementwise: φ_1(nω_1 z) + Σ_k α_k·n·sin(k·nω_k z), same shape as z."""
        _check_neurons(z, self.n_neurons, type(self).__name__)
        omega = self.effective_omega().to(z.dtype)
        out = self.base(z * omega[..., 0])
        if self.K > 1:  # one stacked sin/cos pair and matrix-vector reductions (see _SinusoidBranches)
            k = torch.arange(1, self.K, dtype=z.dtype, device=z.device)
            amplitude = self.n * self.alpha.to(z.dtype)
            freq = omega[..., 1:] * k
            if not self.compile and z.numel() * (self.K - 1) < _FUSE_MIN_SIZE:  # tiny: per-op overhead rules
                return out + _sinusoid_sum(z, freq, amplitude, self.kind)
            out = out + _SinusoidBranches.apply(z, freq, amplitude, self.kind, self.compile)
        return out

    def effective_omega(self) -> torch.Tensor:
        """n·ω, shape (K,) or (N, K); exactly 1 at initialisation (``freq_init="code"``)."""
        return self.n * self.omega

    def effective_alpha(self) -> torch.Tensor:
        """(1, α_2, ..., α_K), shape (K,) or (N, K)."""
        ones = torch.ones(*self.alpha.shape[:-1], 1, dtype=self.alpha.dtype, device=self.alpha.device)
        return torch.cat([ones, self.alpha], dim=-1)

    def slope_recovery_term(self) -> torch.Tensor:
        """exp(mean(ω_1)), the base slope's contribution to the slope-recovery term (on the graph)."""
        return torch.exp(self.omega[..., 0].mean())

    def frequencies(self) -> torch.Tensor:
        """Current angular frequencies of the branches, (k-1)·n·ω_k for k >= 2, shape (K-1,) or (N, K-1)."""
        k = torch.arange(1, self.K, dtype=self.omega.dtype, device=self.omega.device)
        return (k * self.effective_omega()[..., 1:]).detach()

    def extra_repr(self) -> str:
        return (
            f"base={_name(self.base)!r}, K={self.K}, n={self.n}, kind={self.kind!r}, "
            f"per_neuron={self.n_neurons}, freq_init={self.freq_init!r}" + (", compile=True" if self.compile else "")
        )


#: Below this many branch values (z.numel()·(K-1)) plain autograd ops beat the fused function, whose
#: extra Python-level calls cost more than the passes it saves (the paper's 1×40 net on 5 points).
_FUSE_MIN_SIZE = 8192


def _contract(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ_k values[..., k]·weights[k] (layer-wise: one matrix-vector product) or per neuron (weights (N, K))."""
    if weights.ndim == 1:
        return values @ weights
    return (values * weights).sum(dim=-1)


def _sinusoid_sum(z: torch.Tensor, freq: torch.Tensor, amp: torch.Tensor, kind: str) -> torch.Tensor:
    """Σ_k amp_k·wave(freq_k·z) with ordinary autograd ops (the differentiable reference of the fused form)."""
    wave = torch.sin if kind == "sin" else torch.cos
    return _contract(wave(z.unsqueeze(-1) * freq), amp)


class _SinusoidBranches(torch.autograd.Function):
    """Σ_k amp_k·sin(freq_k·z) (or cos) with one stacked sin and one cos, reductions by matrix-vector products.

    Plain autograd on the stacked expression keeps the argument, the sines, their product with the
    amplitudes and, in backward, the expanded gradient, its product with the cosines and two more
    products: about eight passes over a (..., K-1) float64 tensor. Here the forward writes the
    waves W and their slopes D once, branch-major ((K-1, n) so that every reduction is a
    matrix-vector product over long rows; the slopes overwrite the argument), and the backward is
    three such products. When the backward itself is differentiated (``create_graph=True``, e.g.
    a PINN's second derivatives), it differentiates the plain formula instead, so every order of
    derivative stays exact.
    """

    @staticmethod
    def forward(ctx, z, freq, amp, kind, compiled=False):  # type: ignore[override]
        ctx.kind, ctx.compiled = kind, compiled
        if compiled:  # one generated loop; the backward recomputes the waves
            ctx.save_for_backward(z, freq, amp)
            return _compiled("forward")(z, freq, amp, kind)
        if freq.ndim == 1:  # layer-wise: rows (K-1, z.numel())
            arg = freq[:, None] * z.reshape(1, -1)
        else:  # per neuron, freq (N, K-1): rows (K-1, ..., N)
            arg = freq.T.reshape(freq.shape[1], *([1] * (z.ndim - 1)), freq.shape[0]) * z
        needs_grad = any(ctx.needs_input_grad[:3])
        if kind == "sin":
            waves = torch.sin(arg)
            slopes = torch.cos(arg, out=arg) if needs_grad else None
        else:
            waves = torch.cos(arg)
            slopes = torch.sin(arg, out=arg).neg_() if needs_grad else None
        if needs_grad:
            ctx.save_for_backward(z, freq, amp, waves, slopes)
        return _contract_rows(waves, amp).reshape(z.shape)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        z, freq, amp = ctx.saved_tensors[:3]
        wanted = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():  # create_graph: rebuild the backward from differentiable ops
            inputs = [t for t, want in zip((z, freq, amp), wanted) if want]
            with torch.enable_grad():
                out = _sinusoid_sum(z, freq, amp, ctx.kind)
                grads = iter(torch.autograd.grad(out, inputs, grad, create_graph=True))
            return (*(next(grads) if want else None for want in wanted), None, None)
        if ctx.compiled:
            grads = _compiled("backward")(z, grad, freq, amp, ctx.kind)
            return (*(g if want else None for g, want in zip(grads, wanted)), None, None)
        waves, slopes = ctx.saved_tensors[3:]
        grad_z = grad_freq = grad_amp = None
        if freq.ndim == 1:
            flat_g = grad.reshape(-1)
            if wanted[2]:
                grad_amp = waves @ flat_g
            if wanted[1]:
                grad_freq = amp * (slopes @ (flat_g * z.reshape(-1)))
        else:
            n_terms, n_neurons = freq.shape[1], freq.shape[0]
            flat_g = grad.reshape(-1, n_neurons)
            if wanted[2]:
                grad_amp = torch.einsum("kbn,bn->nk", waves.reshape(n_terms, -1, n_neurons), flat_g)
            if wanted[1]:
                grad_freq = amp * torch.einsum("kbn,bn->nk", slopes.reshape(n_terms, -1, n_neurons),
                                               flat_g * z.reshape(-1, n_neurons))
        if wanted[0]:
            grad_z = grad * _contract_rows(slopes, amp * freq).reshape(z.shape)
        return grad_z, grad_freq, grad_amp, None, None


def _contract_rows(rows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Σ_k weights_k·rows[k]: one matrix-vector product (layer-wise) or a per-neuron weighted sum (weights (N, K)).

    ``mv`` on the transposed (n, K) view is about 2× faster than ``weights @ rows`` (a 1 × K by
    K × n GEMM) for the long rows here.
    """
    if weights.ndim == 1:
        return torch.mv(rows.reshape(rows.shape[0], -1).T, weights).reshape(rows.shape[1:])
    return torch.einsum("k...n,nk->...n", rows, weights)


def _unrolled_forward(z: torch.Tensor, freq: torch.Tensor, amp: torch.Tensor, kind: str) -> torch.Tensor:
    """Σ_k amp_k·wave(freq_k·z), one term per branch (for torch.compile: one fused loop over z)."""
    wave = torch.sin if kind == "sin" else torch.cos
    out = amp[..., 0] * wave(freq[..., 0] * z)
    for k in range(1, freq.shape[-1]):
        out = out + amp[..., k] * wave(freq[..., k] * z)
    return out


def _unrolled_backward(z: torch.Tensor, grad: torch.Tensor, freq: torch.Tensor, amp: torch.Tensor, kind: str):
    """(∂/∂z, ∂/∂freq, ∂/∂amp) of Σ_k amp_k·wave(freq_k·z) against ``grad``, recomputing the waves."""
    wave, slope = (torch.sin, torch.cos) if kind == "sin" else (torch.cos, lambda x: -torch.sin(x))
    batch = tuple(range(z.ndim)) if freq.ndim == 1 else tuple(range(z.ndim - 1))
    grad_z, grad_freq, grad_amp = torch.zeros_like(z), [], []
    for k in range(freq.shape[-1]):
        arg = freq[..., k] * z
        d = slope(arg)
        grad_amp.append((grad * wave(arg)).sum(dim=batch))
        grad_freq.append(amp[..., k] * (grad * z * d).sum(dim=batch))
        grad_z = grad_z + (amp[..., k] * freq[..., k]) * d
    return grad * grad_z, torch.stack(grad_freq, dim=-1), torch.stack(grad_amp, dim=-1)


def _compiled(which: str) -> Callable:
    """The torch.compile'd forward or backward branch kernel (compiled lazily; a clear error without a compiler)."""
    fn = _COMPILED.get(which)
    if fn is None:
        raw = _unrolled_forward if which == "forward" else _unrolled_backward
        fn = _COMPILED[which] = torch.compile(raw, dynamic=False, fullgraph=True)

    def call(*args):
        try:
            return fn(*args)
        except Exception as exc:  # inductor's failures (no C++ compiler, ...); interrupts pass through
            raise KernelregError(
                f"RowdyActivation(compile=True) could not compile its branch kernel ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}). It needs torch.compile with a working C++ "
                "compiler on CPU; use compile=False (the default) otherwise."
            ) from exc

    return call


#: Compiled branch kernels by direction (torch.compile objects; they cache their own specialisations).
_COMPILED: dict[str, Callable] = {}

class LAAF(nn.Module):
    """Locally adaptive activation φ(n·a·z) with a trainable slope a per layer or per neuron.

    L-LAAF (one a per layer) and N-LAAF (one a per neuron) of Jagtap et al.; a starts so that
    n·a = 1, so the module starts exactly at the base activation.

    Parameters
    ----------
    base : str or callable or (str, dict), default="tanh"
        The activation φ (:func:`kernelreg.activations.get`).
    n : float, default=10.0
        Fixed scaling factor.
    mode : {"layer", "neuron"}, default="layer"
        One slope for the layer, or one per neuron (then ``n_neurons`` is required).
    n_neurons : int or None, default=None
        Number of neurons (inputs' last dimension) for ``mode="neuron"``.
    a_init : float or None, default=None
        Initial raw slope; ``None`` gives 1/n (adjusted by at most a few ulps so n·a == 1 exactly).
    slope_recovery : bool, default=True
        Whether :meth:`slope_recovery_loss` returns the slope-recovery term (else 0).
    base_params : dict or None, default=None
        Parameters of the base activation.
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
        Dtype of ``a``.

    Attributes
    ----------
    a : Parameter of shape () or (n_neurons,)
    base : Activation

    Raises
    ------
    ValueError
        Unknown mode, ``mode="neuron"`` without ``n_neurons``, n <= 0, or (in forward) an input
        whose last dimension is not ``n_neurons``.

    See Also
    --------
    slope_recovery_loss : the multi-layer slope-recovery term.
    RowdyActivation : adds sinusoidal branches to the same base.

    Notes
    -----
    The slope-recovery term of the LAAF paper (Jagtap, Kawaguchi & Karniadakis 2020, official
    code) is S = 1 / mean_l exp(mean(a^l)) over the adaptive layers l; for one layer it is
    1/exp(mean(a)). Adding it to the loss pushes the slopes up and speeds training early on; it
    plays no role in a frozen solve.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.layers import LAAF
    >>> act = LAAF("tanh", n=10.0, mode="neuron", n_neurons=3)
    >>> z = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> torch.equal(act(z), torch.tanh(z))
    True
    """

    def __init__(
        self,
        base: BaseSpec = "tanh",
        n: float = 10.0,
        mode: Literal["layer", "neuron"] = "layer",
        n_neurons: int | None = None,
        a_init: float | None = None,
        slope_recovery: bool = True,
        *,
        base_params: dict | None = None,
        dtype: str | torch.dtype = "float64",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.n = check_positive(n, "n", owner)
        if mode not in ("layer", "neuron"):
            raise ValueError(f"{owner} mode={mode!r} is unknown; use 'layer' (one slope) or 'neuron' (one per neuron).")
        if mode == "neuron":
            if n_neurons is None:
                raise ValueError(f"{owner} mode='neuron' needs n_neurons (the size of the layer's last dimension).")
            n_neurons = check_int(n_neurons, "n_neurons", owner)
        elif n_neurons is not None:
            raise ValueError(
                f"{owner} mode='layer' has one slope for the whole layer; n_neurons={n_neurons!r} applies "
                "only to mode='neuron'."
            )
        self.mode = mode
        self.n_neurons = n_neurons
        self.slope_recovery = bool(slope_recovery)
        self.base = _base_activation(base, base_params)
        dt = resolve_dtype(dtype)
        a0 = _reciprocal(self.n, dt) if a_init is None else torch.tensor(float(a_init), dtype=dt)
        shape = () if n_neurons is None else (n_neurons,)
        self.a = nn.Parameter(a0.expand(shape).clone())

    def slope(self) -> torch.Tensor:
        """The effective slope n·a, shape () or (n_neurons,)."""
        return self.n * self.a

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """φ(n·a·z), same shape as z."""
        _check_neurons(z, self.n_neurons, type(self).__name__)
        return self.base(self.slope().to(z.dtype) * z)

    def slope_recovery_term(self) -> torch.Tensor:
        """exp(mean(a)), this layer's contribution to the slope-recovery term (on the graph)."""
        return torch.exp(self.a.mean())

    def slope_recovery_loss(self) -> torch.Tensor:
        """1/exp(mean(a)) to add to the training loss, or 0 when ``slope_recovery=False``."""
        if not self.slope_recovery:
            return torch.zeros((), dtype=self.a.dtype, device=self.a.device)
        return 1.0 / self.slope_recovery_term()

    def extra_repr(self) -> str:
        return f"base={_name(self.base)!r}, n={self.n}, mode={self.mode!r}, n_neurons={self.n_neurons}"


def slope_recovery_loss(modules: nn.Module | Iterable[nn.Module]) -> torch.Tensor:
    """The LAAF slope-recovery term S = 1 / mean_l exp(mean(a^l)) over the adaptive layers that opt in.

    Pass it as a training loop's extra loss (``extra_loss=slope_recovery_loss``) to use slope
    recovery; each layer decides with its own ``slope_recovery`` flag.

    Parameters
    ----------
    modules : nn.Module or iterable of nn.Module
        A network (its :class:`LAAF` and :class:`RowdyActivation` submodules are collected) or
        the layers themselves. Layers with ``slope_recovery=False`` are left out (the default
        for Rowdy, whose slope is the base slope ω_1).

    Returns
    -------
    Tensor of shape ()
        The term to add to the loss (0 when no layer takes part).

    Raises
    ------
    TypeError
        When ``modules`` is neither a module nor an iterable of modules.
    """
    kinds = (LAAF, RowdyActivation)
    if isinstance(modules, nn.Module):
        layers = [m for m in modules.modules() if isinstance(m, kinds)]
    else:
        try:
            layers = [m for item in modules for m in item.modules() if isinstance(m, kinds)]
        except (TypeError, AttributeError) as exc:
            raise TypeError(
                f"slope_recovery_loss needs an nn.Module or an iterable of nn.Modules; got {type(modules).__name__}."
            ) from exc
    layers = [m for m in layers if m.slope_recovery]
    if not layers:
        return torch.zeros((), dtype=torch.float64)
    terms = [m.slope_recovery_term() for m in layers]
    terms = torch.stack([t.to(terms[0].dtype) for t in terms])
    return 1.0 / terms.mean()
