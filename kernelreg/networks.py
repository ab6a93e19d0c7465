"""Networks stage: MLPs from any activation, one training loop, and the hidden part as a feature module.

This stage sits between ``layers`` and ``features`` in the kernelreg flow. It builds multilayer
perceptrons whose hidden layers use any scalar activation of the zoo
(:func:`kernelreg.activations.get`), one of the adaptive layer families of
:mod:`kernelreg.layers` (``"rowdy"``, ``"laaf"``, ``"kronecker"``, ``"iat"``) or any module
factory; trains them with one loop (:func:`train`) that has a full-batch fast path, mini-batches,
Adam / SGD / L-BFGS, learning-rate schedules (including the Rowdy paper's step annealing), early
stopping, best-state restore and skorch-style callbacks and history; and gives the hidden part as a
standalone torch module (:meth:`MLP.feature_module`) with the readouts of
``research/iat_rowdy.md`` §3, which ``kernelreg.features`` freezes into a feature map.

Imports only ``activations``, ``layers``, ``exceptions`` and the leaf helpers ``_torch`` / ``_checks`` from kernelreg.
"""

from __future__ import annotations

import bisect
import copy
import inspect
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal, Union

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from torch import nn

from kernelreg import activations
from kernelreg._checks import check_int, check_positive
from kernelreg._torch import resolve_device, resolve_dtype, seed_generator
from kernelreg.exceptions import KernelregError
from kernelreg.layers import IAT, LAAF, KroneckerActivation, RowdyActivation

__all__ = [
    "ADAPTIVE_FAMILIES",
    "INITS",
    "LOSSES",
    "OPTIMIZERS",
    "READOUTS",
    "SCHEDULES",
    "STOP_REASONS",
    "ActivationModule",
    "HiddenBlock",
    "HiddenFeatures",
    "MLP",
    "build_activation",
    "Callback",
    "Trainer",
    "TrainResult",
    "train",
]

#: Layer families built by :func:`build_activation` from their name, and the layer class of each.
ADAPTIVE_FAMILIES: dict[str, type[nn.Module]] = {
    "rowdy": RowdyActivation,
    "laaf": LAAF,
    "kronecker": KroneckerActivation,
    "iat": IAT,
}

#: Readouts of :meth:`MLP.feature_module` (research note §3).
READOUTS = ("last", "kronecker", "function")

#: Weight initialisations of :class:`MLP` (besides a callable).
INITS = ("default", "xavier_uniform", "xavier_normal", "kaiming_normal", "lecun_normal")

#: Loss names of :func:`train` (besides a callable).
LOSSES = ("mse", "cross_entropy", "bce")

#: Optimizer names of :func:`train` (besides a callable such as an ``torch.optim`` class).
OPTIMIZERS = ("adam", "adamw", "sgd", "lbfgs")

#: Schedule names of :func:`train` (besides a callable ``factory(optimizer) -> scheduler``).
SCHEDULES = ("step", "cosine", "exponential", "plateau")

#: Values of :attr:`TrainResult.stop_reason`.
STOP_REASONS = ("max_epochs", "early_stopping", "target", "nan", "interrupted", "callback")

ActivationSpec = Union[str, activations.Activation, nn.Module, Callable[[int], nn.Module]]
Validation = Union[None, float, tuple]


# --------------------------------------------------------------------------------------------
# Small validation helpers
# --------------------------------------------------------------------------------------------


def _unknown(kind: str, value: object, known: Iterable[str], extra: str = "") -> ValueError:
    """A ValueError for an unknown name that lists the known ones."""
    return ValueError(f"unknown {kind} {value!r}; known {kind} names: {', '.join(known)}{extra}.")


# --------------------------------------------------------------------------------------------
# Activation modules
# --------------------------------------------------------------------------------------------


class ActivationModule(nn.Module):
    """A zoo activation as a parameter-free ``nn.Module``, so it can sit in a network block.

    Parameters
    ----------
    activation : str, Activation or callable, default="relu"
        Anything :func:`kernelreg.activations.get` accepts.
    **params
        Parameters of the named activation (e.g. ``p=2`` for ``relu_power``).

    Attributes
    ----------
    activation : kernelreg.activations.Activation

    Examples
    --------
    >>> import torch
    >>> from kernelreg.networks import ActivationModule
    >>> ActivationModule("relu_power", p=2)(torch.tensor([-1.0, 3.0]))
    tensor([0., 9.])
    """

    def __init__(self, activation: str | activations.Activation | Callable = "relu", **params: Any) -> None:
        super().__init__()
        self.activation = activations.get(activation, **params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """σ(x) elementwise, same shape as x."""
        return self.activation(x)

    def extra_repr(self) -> str:
        return repr(self.activation)


def _construct_family(name: str, params: Mapping[str, Any], **fixed: Any) -> nn.Module:
    """Build a layer family with user params plus fixed ones; unknown keys get a TypeError listing the allowed ones."""
    cls = ADAPTIVE_FAMILIES[name]
    allowed = [p for p in inspect.signature(cls).parameters if p not in fixed]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise TypeError(
            f"activation {name!r} ({cls.__name__}) got unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(allowed)}."
        )
    return cls(**{**params, **fixed})


def _build_family(name: str, width: int, params: Mapping[str, Any], dtype: torch.dtype,
                  device: torch.device) -> nn.Module:
    """One adaptive layer of the named family acting on ``width`` neurons."""
    params = dict(params)
    if name == "rowdy":
        if params.get("per_neuron") is True:
            params["per_neuron"] = width
        elif params.get("per_neuron") is False:
            params["per_neuron"] = None
        return _construct_family(name, params, dtype=dtype)
    if name == "kronecker":
        if params.get("per_neuron") is True:
            params["per_neuron"] = width
        elif params.get("per_neuron") is False:
            params["per_neuron"] = None
        if "base_functions" not in params:
            raise ValueError(
                "activation 'kronecker' needs its branch functions: pass "
                "activation_params={'base_functions': ['relu', 'tanh', ...]} (optionally 'alphas', "
                "'omegas', 'trainable', 'per_neuron')."
            )
        return _construct_family(name, params, dtype=dtype)
    if name == "laaf":
        if params.get("mode") == "neuron":
            params.setdefault("n_neurons", width)
        return _construct_family(name, params, dtype=dtype)
    # iat: a width -> width vector activation
    for key in ("d_in", "d_out"):
        if key in params:
            raise ValueError(
                f"activation 'iat' maps each hidden layer's width to itself (d_in = d_out = {width}); "
                f"remove {key}={params[key]!r} from activation_params."
            )
    params.setdefault("in_basis", "fourier")
    params.setdefault("out_basis", "pwq")
    return _construct_family(name, params, d_in=width, d_out=width, dtype=dtype, device=device)


def build_activation(
    activation: ActivationSpec,
    width: int,
    params: Mapping[str, Any] | None = None,
    *,
    dtype: str | torch.dtype = "float64",
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Turn an activation spec into a fresh module for one hidden layer, so any layer type can fill a block.

    Parameters
    ----------
    activation : str, Activation, nn.Module or callable
        - a zoo name (:func:`kernelreg.activations.available`) or an
          :class:`~kernelreg.activations.Activation`: wrapped in :class:`ActivationModule`;
        - ``"rowdy"``: :class:`~kernelreg.layers.RowdyActivation` (``params`` go to it, e.g.
          ``base``, ``K``, ``n``, ``kind``; ``per_neuron=True`` means one set per neuron);
        - ``"laaf"``: :class:`~kernelreg.layers.LAAF` (``mode="neuron"`` uses ``width`` neurons);
        - ``"kronecker"``: :class:`~kernelreg.layers.KroneckerActivation` (``base_functions``
          required);
        - ``"iat"``: an :class:`~kernelreg.layers.IAT` mapping ``width`` to ``width``
          (``in_basis`` default ``"fourier"``, ``out_basis`` default ``"pwq"``, ``mesh_ratio``,
          ``activation``, ``mode``, ...);
        - an ``nn.Module`` instance: deep-copied, so each layer gets its own parameters;
        - any other callable: a module factory called as ``activation(width)`` that must return an
          ``nn.Module`` (``nn.PReLU`` works: ``nn.PReLU(width)``). To use a plain tensor function
          such as ``torch.sin``, pass ``kernelreg.activations.get(torch.sin)``.
    width : int
        Number of neurons of the layer.
    params : dict or None, default=None
        Parameters of the activation or layer family.
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
        Dtype of the layer's parameters and buffers.
    device : str or torch.device, default="cpu"
        Device of the layer's buffers (IAT).

    Returns
    -------
    nn.Module
        Maps (..., width) to (..., width).

    Raises
    ------
    ValueError
        Unknown activation name (the message lists the zoo and the layer families), bad
        parameter values.
    TypeError
        Unknown parameter of a layer family, or a callable that does not return an ``nn.Module``.

    Examples
    --------
    >>> from kernelreg.networks import build_activation
    >>> build_activation("rowdy", 8, {"base": "tanh", "K": 3})
    RowdyActivation(base='tanh', K=3, n=10.0, kind='sin', per_neuron=None, freq_init='code')
    """
    width = check_int(width, "width", "build_activation")
    dt = resolve_dtype(dtype)
    dev = resolve_device(device)
    params = dict(params or {})
    if isinstance(activation, str) and activation.lower() in ADAPTIVE_FAMILIES:
        return _build_family(activation.lower(), width, params, dt, dev)
    if isinstance(activation, (str, activations.Activation)):
        try:
            return ActivationModule(activation, **params)
        except ValueError as exc:
            if "unknown activation" in str(exc):
                raise ValueError(
                    f"{exc} Adaptive layer families: {', '.join(ADAPTIVE_FAMILIES)}; or pass a module "
                    "factory callable(width) -> nn.Module."
                ) from None
            raise
    if isinstance(activation, nn.Module):
        if params:
            raise TypeError(
                f"an nn.Module activation ({type(activation).__name__}) takes no activation_params; "
                f"got {sorted(params)}. Configure the module before passing it."
            )
        return copy.deepcopy(activation)
    if callable(activation):
        try:
            module = activation(width, **params)
        except Exception as exc:
            raise TypeError(
                f"a callable activation is a module factory, called as factory(width={width}) and "
                f"returning an nn.Module; calling {activation!r} failed ({type(exc).__name__}: {exc}). "
                "For a tensor function such as torch.sin pass kernelreg.activations.get(torch.sin)."
            ) from exc
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"the module factory {activation!r} returned {type(module).__name__}, not an nn.Module. "
                "For a tensor function such as torch.sin pass kernelreg.activations.get(torch.sin)."
            )
        return module
    raise TypeError(
        "activation must be a zoo name, one of the layer families "
        f"{list(ADAPTIVE_FAMILIES)}, an Activation, an nn.Module or a module factory; got "
        f"{type(activation).__name__} {activation!r}."
    )


# --------------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------------


class HiddenBlock(nn.Module):
    """One hidden layer, activation(linear(x)), kept as two named parts so readouts can reach between them.

    Parameters
    ----------
    linear : nn.Linear
    activation : nn.Module

    Attributes
    ----------
    linear : nn.Linear
    activation : nn.Module
    """

    def __init__(self, linear: nn.Linear, activation: nn.Module) -> None:
        super().__init__()
        self.linear = linear
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """activation(linear(x)) of shape (..., width)."""
        return self.activation(self.linear(x))


def _readouts_of(activation: nn.Module | None) -> tuple[str, ...]:
    """The readouts the last hidden activation supports (duck-typed on its feature views)."""
    out = ["last"]
    if activation is not None and callable(getattr(activation, "branch_features", None)):
        out.append("kronecker")
    if activation is not None and callable(getattr(activation, "state_features", None)):
        out.append("function")
    return tuple(out)


class HiddenFeatures(nn.Module):
    """The hidden part of a network as its own module, x -> Φ rows, sharing the network's parameters.

    Built by :meth:`MLP.feature_module`; ``kernelreg.features`` deep-copies and freezes it. Until
    then it *references* the network's blocks: training the network changes its output.

    Parameters
    ----------
    blocks : sequence of HiddenBlock
        The hidden blocks, in order (shared, not copied).
    readout : {"last", "kronecker", "function"}, default="last"
        - ``"last"``: the last hidden vector h(x), width N.
        - ``"kronecker"``: the branch outputs φ_k(ω_k z_i(x)) of a Rowdy/Kronecker last layer,
          width N·K (neuron-major); the ``"last"`` features are their α-weighted sums over k.
        - ``"function"``: the activated state function σ(p(s_m)ᵀz(x)) of an IAT last layer on
          its M mesh points, width M.
    in_features : int or None, default=None
        Input width, checked in ``forward`` when given.
    scaled : bool, default=True
        ``"function"`` readout only: multiply by √(2/M) so the features' Gram matrix approximates
        the continuous-width kernel ∫ σ(p(s)ᵀz)σ(p(s)ᵀz') ds (research note §3 (b)).

    Attributes
    ----------
    n_features_out : int or None
        Width of the output (``None`` when a custom activation does not say).
    """

    def __init__(
        self,
        blocks: Sequence[HiddenBlock],
        readout: Literal["last", "kronecker", "function"] = "last",
        *,
        in_features: int | None = None,
        scaled: bool = True,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(list(blocks))
        last = self.blocks[-1].activation if len(self.blocks) else None
        valid = _readouts_of(last)
        if readout not in valid:
            if readout not in READOUTS:
                raise _unknown("readout", readout, READOUTS)
            kind = type(last).__name__ if last is not None else "no hidden layer"
            raise KernelregError(
                f"readout={readout!r} is not available for this network: its last hidden activation is "
                f"{kind}. Valid readouts here: {', '.join(valid)} ('kronecker' needs a Rowdy/Kronecker "
                "activation, 'function' an IAT layer)."
            )
        self.readout = readout
        self.in_features = in_features
        self.scaled = bool(scaled)
        self.n_features_out = self._width()

    def _width(self) -> int | None:
        """Output width from the last block's sizes (None when a custom layer does not expose them)."""
        if not len(self.blocks):
            return self.in_features
        last = self.blocks[-1]
        width = last.linear.out_features
        if self.readout == "last":
            return width
        if self.readout == "kronecker":
            k = getattr(last.activation, "K", None)
            return None if k is None else width * int(k)
        m = getattr(last.activation, "n_mesh", None)
        return None if m is None else int(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Φ rows of shape (n_rows, n_features_out) for x of shape (n_rows, in_features)."""
        if self.in_features is not None and (x.ndim == 0 or x.shape[-1] != self.in_features):
            got = "a scalar" if x.ndim == 0 else f"{x.shape[-1]} (shape {tuple(x.shape)})"
            raise ValueError(f"HiddenFeatures expects inputs with in_features={self.in_features}; got {got}.")
        n = len(self.blocks)
        if n == 0:
            return x
        for i in range(n - 1):
            x = self.blocks[i](x)
        last = self.blocks[n - 1]
        z = last.linear(x)
        if self.readout == "last":
            return last.activation(z)
        if self.readout == "kronecker":
            return last.activation.branch_features(z, flatten=True)
        return last.activation.state_features(z, scaled=self.scaled)

    def extra_repr(self) -> str:
        return f"readout={self.readout!r}, n_features_out={self.n_features_out}"


def _init_linear(linear: nn.Linear, init: str | Callable, gen: torch.Generator) -> None:
    """Fill a Linear layer's weight and bias from the local generator, drawn on the CPU in float64."""
    fan_out, fan_in = linear.weight.shape
    weight = torch.empty(fan_out, fan_in, dtype=torch.float64)
    bias = torch.zeros(fan_out, dtype=torch.float64) if linear.bias is not None else None
    if callable(init):
        init(weight, bias, gen)
    elif init == "default":  # torch's nn.Linear rule: U(±1/sqrt(fan_in)) for weight and bias
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        weight.uniform_(-bound, bound, generator=gen)
        if bias is not None:
            bias.uniform_(-bound, bound, generator=gen)
    elif init == "xavier_uniform":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        weight.uniform_(-bound, bound, generator=gen)
    elif init == "xavier_normal":
        weight.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)), generator=gen)
    elif init == "kaiming_normal":
        weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=gen)
    else:  # lecun_normal
        weight.normal_(0.0, math.sqrt(1.0 / fan_in), generator=gen)
    with torch.no_grad():
        linear.weight.copy_(weight)
        if bias is not None:
            linear.bias.copy_(bias)


def _per_layer(value: Any, n_layers: int, name: str, is_single: Callable[[Any], bool]) -> list:
    """Broadcast one spec to every hidden layer, or check a per-layer list has one entry per layer."""
    if is_single(value):
        return [value] * n_layers
    values = list(value)
    if len(values) != n_layers:
        raise ValueError(
            f"MLP got {len(values)} {name} for {n_layers} hidden layers; give one, or one per hidden layer."
        )
    return values


class MLP(nn.Module):
    """A multilayer perceptron whose hidden layers use any activation, to train adaptively and then freeze.

    f(x) = W_out h_L(x) + b_out with h_l = σ_l(W_l h_{l-1} + b_l), h_0 = x. Each σ_l is a module
    from :func:`build_activation`: a zoo activation, a Rowdy/LAAF/Kronecker adaptive activation,
    an IAT layer, or any module factory.

    Parameters
    ----------
    in_features : int
        Number of inputs.
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Widths of the hidden layers (may be empty: a linear model).
    out_features : int, default=1
        Number of outputs.
    activation : activation spec or list of them, default="relu"
        One spec for every hidden layer or a list with one per layer; see
        :func:`build_activation`.
    activation_params : dict, list of dict or None, default=None
        Parameters of the activation (one dict for all layers or one per layer).
    bias : bool, default=True
        Biases in every Linear layer.
    init : {"default", "xavier_uniform", "xavier_normal", "kaiming_normal", "lecun_normal"} or callable, default="default"
        - ``"default"``: torch's ``nn.Linear`` rule, weight and bias ~ U(±1/√fan_in).
        - ``"xavier_uniform"`` / ``"xavier_normal"``: Glorot, biases 0.
        - ``"kaiming_normal"``: N(0, 2/fan_in), biases 0.
        - ``"lecun_normal"``: N(0, 1/fan_in), biases 0 (the Rowdy paper's classifier init).
        - callable ``init(weight, bias, generator)`` filling CPU float64 tensors in place
          (``bias`` is ``None`` without biases).
    random_state : int, RandomState or None, default=None
        Seeds the local ``torch.Generator`` of the weight draw (never the global torch seed).
        Weights are drawn on the CPU in float64 and then moved, so CPU and GPU networks built with
        the same seed start from the same weights.
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"

    Attributes
    ----------
    blocks : nn.ModuleList of HiddenBlock
        The hidden layers; ``blocks[l].linear`` and ``blocks[l].activation``.
    output : nn.Linear
        The output layer.
    in_features, out_features : int
    hidden_layer_sizes : tuple of int
    n_features : int
        Width of the last hidden layer (the ``"last"`` readout; ``in_features`` with no hidden
        layer).

    Raises
    ------
    ValueError
        Non-positive sizes, unknown init or activation name, per-layer lists of the wrong length.

    See Also
    --------
    train : the training loop.
    MLP.feature_module : the hidden part as a feature module for freezing.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.networks import MLP
    >>> net = MLP(2, [16, 16], 1, activation="rowdy", activation_params={"base": "tanh", "K": 3},
    ...           random_state=0)
    >>> net(torch.zeros(5, 2, dtype=torch.float64)).shape
    torch.Size([5, 1])
    >>> net.feature_module("kronecker").n_features_out
    48
    """

    def __init__(
        self,
        in_features: int,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        out_features: int = 1,
        activation: ActivationSpec | Sequence[ActivationSpec] = "relu",
        activation_params: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        *,
        bias: bool = True,
        init: str | Callable = "default",
        random_state: int | np.random.RandomState | None = None,
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_features = check_int(in_features, "in_features", owner)
        self.out_features = check_int(out_features, "out_features", owner)
        sizes = [hidden_layer_sizes] if isinstance(hidden_layer_sizes, Integral) else list(hidden_layer_sizes)
        self.hidden_layer_sizes = tuple(check_int(s, "every hidden layer size", owner) for s in sizes)
        if not callable(init) and init not in INITS:
            raise _unknown("init", init, INITS, " (or a callable init(weight, bias, generator))")
        n_hidden = len(self.hidden_layer_sizes)
        acts = _per_layer(activation, n_hidden, "activations",
                          lambda v: isinstance(v, (str, activations.Activation, nn.Module)) or callable(v))
        params = _per_layer(activation_params, n_hidden, "activation_params dicts",
                            lambda v: v is None or isinstance(v, Mapping))
        dt, dev = resolve_dtype(dtype), resolve_device(device)
        blocks = []
        width_in = self.in_features
        for width, act, par in zip(self.hidden_layer_sizes, acts, params):
            linear = nn.utils.skip_init(nn.Linear, width_in, width, bias=bias, dtype=torch.float64)
            blocks.append(HiddenBlock(linear, build_activation(act, width, par, dtype=dt, device=dev)))
            width_in = width
        self.blocks = nn.ModuleList(blocks)
        self.output = nn.utils.skip_init(nn.Linear, width_in, self.out_features, bias=bias, dtype=torch.float64)
        gen = seed_generator(check_random_state(random_state))
        for linear in [b.linear for b in self.blocks] + [self.output]:
            _init_linear(linear, init, gen)
        self.to(device=dev, dtype=dt)

    @property
    def n_features(self) -> int:
        """Width of the last hidden layer: the number of ``"last"`` features."""
        return self.hidden_layer_sizes[-1] if self.hidden_layer_sizes else self.in_features

    def _check_input(self, x: torch.Tensor) -> None:
        """Inputs need last dimension in_features; say both numbers otherwise."""
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            got = "a scalar" if x.ndim == 0 else f"{x.shape[-1]} features (shape {tuple(x.shape)})"
            raise ValueError(
                f"{type(self).__name__} was built for in_features={self.in_features} inputs; got {got}."
            )

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden vector h_L(x), shape (..., n_features): what the output layer sees.

        Parameters
        ----------
        x : Tensor of shape (..., in_features)

        Returns
        -------
        Tensor of shape (..., n_features)
        """
        self._check_input(x)
        for block in self.blocks:
            x = block(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network output of shape (..., out_features)."""
        return self.output(self.hidden(x))

    def valid_readouts(self) -> tuple[str, ...]:
        """The readouts :meth:`feature_module` accepts for this network's last hidden activation."""
        return _readouts_of(self.blocks[-1].activation if len(self.blocks) else None)

    def feature_module(self, readout: Literal["last", "kronecker", "function"] = "last", *,
                       scaled: bool = True) -> HiddenFeatures:
        """The hidden part as a standalone module x -> Φ rows, to freeze for a kernel-regime solve.

        Parameters
        ----------
        readout : {"last", "kronecker", "function"}, default="last"
            - ``"last"``: the last hidden vector (width ``n_features``);
            - ``"kronecker"``: Rowdy/Kronecker last layer only, the N·K branch features; the
              ``"last"`` features are the tied case Σ_k α_k φ_k;
            - ``"function"``: IAT last layer only, the activated state function at the M mesh
              points; the IAT output is the tied case (√(2/M)·Φ) Qᵀ with ``scaled=True``.
        scaled : bool, default=True
            ``"function"`` only: multiply by √(2/M) (see :class:`HiddenFeatures`).

        Returns
        -------
        HiddenFeatures
            Shares this network's parameters (no copy): freeze a deep copy
            (``kernelreg.features.ModuleFeatureMap`` does).

        Raises
        ------
        KernelregError
            A readout this network's last activation does not have; the message names the valid
            ones.
        ValueError
            An unknown readout name.
        """
        return HiddenFeatures(list(self.blocks), readout, in_features=self.in_features, scaled=scaled)

    def named_adaptive_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """(name, parameter) of the activation modules (Rowdy α/ω, LAAF a, ...), for logging and lr groups."""
        return [(f"blocks.{i}.activation.{name}", p)
                for i, block in enumerate(self.blocks)
                for name, p in block.activation.named_parameters()]

    def adaptive_parameters(self) -> list[nn.Parameter]:
        """The activation modules' trainable parameters, for a separate learning-rate group.

        Returns
        -------
        list of Parameter
            Empty for fixed activations and IAT layers (whose bases are buffers).
        """
        return [p for _, p in self.named_adaptive_parameters()]

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, hidden_layer_sizes={self.hidden_layer_sizes}, out_features={self.out_features}"


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


class Callback:
    """Base class of training callbacks: every hook is a no-op, so subclasses override only what they need.

    Hooks receive the :class:`Trainer` (``module``, ``optimizer``, ``history``, ``epoch``,
    ``n_iter``, ...) and keyword arguments. A callback may write into the current history entry
    with ``trainer.record(key, value)`` in ``on_epoch_end``, ask to stop with
    ``trainer.stop()``, or raise ``KeyboardInterrupt`` (the loop then stops as on Ctrl-C,
    restores the best state and still runs ``on_train_end``).

    Examples
    --------
    >>> from kernelreg.networks import Callback
    >>> class GradNorm(Callback):
    ...     def on_epoch_end(self, trainer, **kwargs):
    ...         sq = sum(float((p.grad ** 2).sum()) for p in trainer.module.parameters() if p.grad is not None)
    ...         trainer.record("grad_norm", sq ** 0.5)
    """

    def on_train_begin(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called before each epoch with ``epoch`` (1-based)."""

    def on_batch_end(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called after each optimizer step with ``batch`` (0-based), ``indices`` (None in full batch) and ``loss``."""

    def on_epoch_end(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called after each epoch with ``epoch`` and ``entry`` (the epoch's history dict, already appended)."""

    def on_train_end(self, trainer: Trainer, **kwargs: Any) -> None:
        """Called once at the end, also after an interrupt or a non-finite loss, with ``stop_reason``."""


@dataclass
class TrainResult:
    """What a training run did: per-epoch history, the kept (best) weights' epoch and loss, and why it stopped.

    Attributes
    ----------
    history : list of dict
        One dict per epoch: ``epoch`` (1-based), ``iter`` (optimizer steps so far),
        ``train_loss``, ``valid_loss`` (with validation data), ``lr`` (of the first parameter
        group during the epoch), ``lr_adaptive`` (with ``adaptive_lr``), ``time_s`` (wall time
        since training began), plus what callbacks record.
    best_epoch : int
        Number of completed epochs of the weights the monitored loss was best for (0 = the initial
        weights); with ``restore_best=True`` these are the returned weights.
    best_loss : float
        That monitored loss (``inf`` if no finite loss was seen).
    stop_reason : {"max_epochs", "early_stopping", "target", "nan", "interrupted", "callback"}
    n_epochs : int
        Epochs run (entries in ``history``).
    n_iter : int
        Optimizer steps taken.
    time_s : float
        Wall time of the whole run.
    monitor : {"train_loss", "valid_loss"}
        Which loss chose the best state and drove early stopping.
    """

    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_loss: float = math.inf
    stop_reason: str = "max_epochs"
    n_epochs: int = 0
    n_iter: int = 0
    time_s: float = 0.0
    monitor: str = "train_loss"


class _NonFinite(Exception):
    """Raised inside a step when the loss is NaN/inf, before any gradient is applied."""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value


class _TargetReached(Exception):
    """Raised inside a full-batch step when the loss of the current weights reaches target_loss."""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value


class _PiecewiseLR:
    """Piecewise-constant learning rate per epoch with exact values (the Rowdy paper's step annealing)."""

    def __init__(self, optimizer: torch.optim.Optimizer, milestones: Sequence[int],
                 lrs: Sequence[float] | None = None, gamma: float | None = None) -> None:
        groups = optimizer.param_groups
        base = float(groups[0]["lr"])
        self.ratios = [float(g["lr"]) / base for g in groups]
        self.milestones = list(milestones)
        if lrs is not None:
            self.values = [float(v) for v in lrs]
        else:
            self.values = [base * gamma**j for j in range(len(self.milestones) + 1)]
        self.optimizer = optimizer
        self.completed = 0
        self._apply()

    def _apply(self) -> None:
        """Set each group's lr for the next epoch (other groups keep their ratio to the first)."""
        value = self.values[bisect.bisect_right(self.milestones, self.completed)]
        for group, ratio in zip(self.optimizer.param_groups, self.ratios):
            group["lr"] = value if ratio == 1.0 else value * ratio

    def step(self) -> None:
        """Count one finished epoch and update the learning rates."""
        self.completed += 1
        self._apply()


def _make_schedule(schedule: Any, optimizer: torch.optim.Optimizer, max_epochs: int):
    """Build the per-epoch lr scheduler from a name, (name, params) pair or factory(optimizer)."""
    if schedule is None:
        return None
    if callable(schedule) and not isinstance(schedule, str):
        sched = schedule(optimizer)
        if not callable(getattr(sched, "step", None)):
            raise TypeError(
                f"schedule factory {schedule!r} returned {type(sched).__name__}, which has no step(); "
                "return a torch.optim.lr_scheduler object."
            )
        return sched
    if isinstance(schedule, str):
        name, params = schedule, {}
    elif isinstance(schedule, tuple) and len(schedule) == 2 and isinstance(schedule[1], Mapping):
        name, params = schedule[0], dict(schedule[1])
    else:
        raise ValueError(
            "schedule must be None, a name, a (name, params) pair such as "
            "('step', {'milestones': [500], 'lrs': [4e-3, 1e-4]}), or a factory(optimizer) -> "
            f"lr_scheduler; got {schedule!r}."
        )
    if name == "step":
        milestones = list(params.pop("milestones", []))
        lrs, gamma = params.pop("lrs", None), params.pop("gamma", None)
        if params:
            raise TypeError(f"schedule 'step' got unknown parameter(s) {sorted(params)}; allowed: milestones, lrs, gamma.")
        if not milestones or any(isinstance(m, bool) or not isinstance(m, Integral) or m < 1 for m in milestones) \
                or any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(
                f"schedule 'step' needs milestones: increasing epoch counts >= 1; got {milestones!r}."
            )
        if (lrs is None) == (gamma is None):
            raise ValueError("schedule 'step' needs exactly one of lrs (the lr of each stage) or gamma (the factor per milestone).")
        if lrs is not None:
            lrs = [check_positive(v, "every lr in lrs", "schedule 'step'") for v in lrs]
            if len(lrs) != len(milestones) + 1:
                raise ValueError(
                    f"schedule 'step' needs len(lrs) = len(milestones) + 1 (one lr per stage); got "
                    f"{len(lrs)} lrs for {len(milestones)} milestones."
                )
        else:
            gamma = check_positive(gamma, "gamma", "schedule 'step'")
        return _PiecewiseLR(optimizer, milestones, lrs=lrs, gamma=gamma)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, **{"T_max": max_epochs, **params})
    if name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, **params)
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **params)
    raise _unknown("schedule", name, SCHEDULES, " (or a factory(optimizer) -> lr_scheduler)")


def _make_optimizer(optimizer: Any, groups: list[dict], lr: float, params: dict) -> torch.optim.Optimizer:
    """Build the optimizer from a name or a class/factory called as factory(param_groups, lr=lr, **params)."""
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name == "adam":
            return torch.optim.Adam(groups, lr=lr, **params)
        if name == "adamw":
            return torch.optim.AdamW(groups, lr=lr, **params)
        if name == "sgd":
            return torch.optim.SGD(groups, lr=lr, **params)
        if name == "lbfgs":
            if len(groups) > 1:
                raise ValueError("optimizer='lbfgs' supports one parameter group only; drop adaptive_lr.")
            return torch.optim.LBFGS(groups[0]["params"], lr=lr, **{"line_search_fn": "strong_wolfe", **params})
        raise _unknown("optimizer", optimizer, OPTIMIZERS, " (or a torch.optim class / factory(params, lr=...))")
    if callable(optimizer):
        return optimizer(groups, lr=lr, **params)
    raise _unknown("optimizer", optimizer, OPTIMIZERS, " (or a torch.optim class / factory(params, lr=...))")


def _module_device_dtype(module: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Device and floating dtype of a module's first floating parameter or buffer (CPU float64 if none)."""
    for t in list(module.parameters()) + list(module.buffers()):
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.float64


def _expected_in_features(module: nn.Module) -> int | None:
    """The input width a module declares (``in_features``, else its first Linear's), or None."""
    n = getattr(module, "in_features", None)
    if isinstance(n, Integral):
        return int(n)
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            return int(sub.in_features)
    return None


def _as_tensor(a: Any, name: str, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Numpy array or tensor -> tensor on the device, with a ValueError for non-numeric input."""
    if isinstance(a, torch.Tensor):
        return a.detach().to(device=device, dtype=dtype)
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"train: {name} must be numeric; got an array of dtype {arr.dtype}.")
    return torch.as_tensor(arr, device=device).to(dtype)


class Trainer:
    """One training run's state, handed to callbacks: the module, optimizer, history and position.

    Built and run by :func:`train` (its parameters are documented there); use ``train`` rather
    than this class directly.

    Attributes
    ----------
    module : nn.Module
    optimizer : torch.optim.Optimizer
    scheduler : object or None
    history : list of dict
    epoch : int
        Current epoch (1-based; 0 before the first).
    n_iter : int
        Optimizer steps taken.
    device : torch.device
    dtype : torch.dtype
    monitor : {"train_loss", "valid_loss"}
    best_epoch, best_loss
        The best monitored loss so far and the epoch count of its weights.
    """

    def __init__(self, module: nn.Module, **settings: Any) -> None:
        self.module = module
        self.settings = settings
        self.history: list[dict] = []
        self.epoch = 0
        self.n_iter = 0
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self.best_epoch = 0
        self.best_loss = math.inf
        self.monitor = "train_loss"
        self._stop_reason: str | None = None

    # ---- API for callbacks ----------------------------------------------------------------
    def record(self, key: str, value: Any) -> None:
        """Write ``key: value`` into the current epoch's history entry (call from on_epoch_end)."""
        if not self.history:
            raise KernelregError("Trainer.record needs a history entry; call it from on_epoch_end.")
        self.history[-1][key] = value

    def stop(self, reason: str = "callback") -> None:
        """Ask the loop to stop after the current epoch (stop_reason ``reason``)."""
        self._stop_reason = reason

    # ---- internals ----------------------------------------------------------------------------
    def _notify(self, hook: str, **kwargs: Any) -> None:
        """Call one hook on every callback."""
        for cb in self._callbacks:
            getattr(cb, hook)(self, **kwargs)

    def _snapshot(self) -> None:
        """Copy the live parameters and buffers into the best-state store."""
        with torch.no_grad():
            if self._best_state is None:
                self._best_state = [t.detach().clone() for t in self._live]
            else:
                torch._foreach_copy_(self._best_state, [t.detach() for t in self._live])

    def _restore(self) -> None:
        """Copy the best-state store back into the live parameters and buffers."""
        if self._best_state is None:
            return
        with torch.no_grad():
            for live, best in zip(self._live, self._best_state):
                live.copy_(best)

    def _consider(self, value: float, weights_epoch: int) -> None:
        """Track the best monitored loss; snapshot the weights it was measured on when it improves."""
        if value < self.best_loss:
            self.best_loss = value
            self.best_epoch = weights_epoch
            if self._keep_state:
                self._snapshot()

    def _batch_loss(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Data loss plus the extra term on one batch (on the graph)."""
        loss = self._loss_fn(self.module(xb), yb)
        if self._extra_loss is not None:
            loss = loss + self._extra_loss(self.module)
        return loss

    def _step(self, xb: torch.Tensor, yb: torch.Tensor, pre_step: bool) -> float:
        """One optimizer step through a closure; the first evaluation is checked before any update.

        ``pre_step`` (full batch): the first evaluation scores the current weights exactly, so the
        best-state snapshot and the target check happen there, before the step changes them.
        """
        first = [True, 0.0]
        optimizer, clip = self.optimizer, self._clip

        def closure():
            optimizer.zero_grad()
            loss = self._batch_loss(xb, yb)
            if first[0]:
                first[0] = False
                value = loss.item()
                first[1] = value
                if not math.isfinite(value):
                    raise _NonFinite(value)
                if pre_step:
                    if self._pre_step_monitor:
                        self._consider(value, self.epoch - 1)
                    if self._target is not None and value <= self._target:
                        raise _TargetReached(value)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(self._params, clip)
            return loss

        optimizer.step(closure)
        self.n_iter += 1
        return first[1]

    def _run_epoch(self) -> float:
        """One pass over the training data; returns the epoch's training loss."""
        X, y, n = self._X, self._y, self._n
        if self._full_batch:
            value = self._step(X, y, True)
            if self._batch_hooks:
                self._notify("on_batch_end", batch=0, indices=None, loss=value)
            return value
        bs = self._batch_size
        if self._shuffle:
            order = torch.randperm(n, generator=self._gen).to(self._device)
            chunks = order.split(bs)
        else:
            chunks = [None] * math.ceil(n / bs)
        total = 0.0
        for i, idx in enumerate(chunks):
            if idx is None:
                xb, yb = X[i * bs:(i + 1) * bs], y[i * bs:(i + 1) * bs]
            else:
                xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            value = self._step(xb, yb, False)
            total += value * xb.shape[0]
            if self._batch_hooks:
                self._notify("on_batch_end", batch=i, indices=idx if idx is not None
                             else torch.arange(i * bs, min((i + 1) * bs, n), device=self._device), loss=value)
        return total / n

    def _evaluate(self, X: torch.Tensor, y: torch.Tensor, with_extra: bool) -> float:
        """Loss of the current weights on (X, y) without gradients, in eval mode."""
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                loss = self._batch_loss(X, y) if with_extra else self._loss_fn(self.module(X), y)
            return float(loss)
        finally:
            self.module.train(was_training)


def _prepare_xy(module: nn.Module, X: Any, y: Any, loss: Any, device: torch.device, dtype: torch.dtype,
                what: str = "X") -> tuple[torch.Tensor, torch.Tensor]:
    """Validate and convert one (X, y) pair: 2-D finite X with the module's width, finite y matching the output."""
    Xt = _as_tensor(X, what, device, dtype)
    if Xt.ndim != 2:
        raise ValueError(
            f"train: {what} must be 2-D (n_samples, n_features); got shape {tuple(Xt.shape)}"
            + (f". Use {what}.reshape(-1, 1) for one feature." if Xt.ndim == 1 else ".")
        )
    if Xt.shape[0] == 0:
        raise ValueError(f"train: {what} has no samples (shape {tuple(Xt.shape)}).")
    bad = int((~torch.isfinite(Xt)).sum())
    if bad:
        raise ValueError(f"train: {what} contains NaN or inf ({bad} of {Xt.numel()} entries); clean or impute it first.")
    n_in = _expected_in_features(module)
    if n_in is not None and Xt.shape[1] != n_in:
        raise ValueError(
            f"train: {what} has {Xt.shape[1]} features but the network's first layer expects "
            f"in_features={n_in}."
        )
    yname = "y" if what == "X" else f"y of {what}"
    if loss == "cross_entropy":
        yt = _as_tensor(y, yname, device, torch.float64)
        if yt.ndim != 1:
            raise ValueError(f"train: loss='cross_entropy' needs 1-D integer class labels {yname}; got shape {tuple(yt.shape)}.")
        if not bool(torch.isfinite(yt).all()) or not bool((yt == yt.round()).all()) or bool((yt < 0).any()):
            raise ValueError(f"train: loss='cross_entropy' needs integer class labels 0..C-1 in {yname}.")
        yt = yt.to(torch.long)
    else:
        yt = _as_tensor(y, yname, device, dtype)
        bad = int((~torch.isfinite(yt)).sum())
        if bad:
            raise ValueError(f"train: {yname} contains NaN or inf ({bad} of {yt.numel()} entries).")
        if yt.ndim == 1:
            yt = yt[:, None]
    if yt.shape[0] != Xt.shape[0]:
        raise ValueError(f"train: {what} has {Xt.shape[0]} samples but {yname} has {yt.shape[0]}.")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(Xt[:1])
    finally:
        module.train(was_training)
    if loss == "cross_entropy":
        n_classes = out.shape[-1]
        if int(yt.max()) >= n_classes:
            raise ValueError(
                f"train: {yname} has class label {int(yt.max())} but the network has only "
                f"{n_classes} outputs (labels must be 0..{n_classes - 1})."
            )
    elif isinstance(loss, str) and out.shape[1:] != yt.shape[1:]:
        raise ValueError(
            f"train: the network has {tuple(out.shape[1:])} outputs per sample but {yname} has "
            f"{tuple(yt.shape[1:])} targets per sample."
        )
    return Xt, yt


def _parse_early_stopping(early_stopping: Any, has_validation: bool) -> tuple[int | None, float, str]:
    """(patience or None, min_delta, monitor) from None, an int, True or a dict."""
    monitor = "valid_loss" if has_validation else "train_loss"
    if early_stopping is None or early_stopping is False:
        return None, 0.0, monitor
    if early_stopping is True:
        return 10, 0.0, monitor
    if isinstance(early_stopping, Integral):
        return check_int(early_stopping, "early_stopping (patience)", "train"), 0.0, monitor
    if isinstance(early_stopping, Mapping):
        opts = dict(early_stopping)
        patience = check_int(opts.pop("patience", 10), "early_stopping['patience']", "train")
        min_delta = float(opts.pop("min_delta", 0.0))
        if not min_delta >= 0:
            raise ValueError(f"train needs early_stopping['min_delta'] >= 0; got {min_delta!r}.")
        mon = opts.pop("monitor", monitor)
        if mon not in ("train_loss", "valid_loss") or (mon == "valid_loss" and not has_validation):
            raise ValueError(
                f"train: early_stopping['monitor']={mon!r} is not available; use 'train_loss'"
                + (" or 'valid_loss'." if has_validation else " (or give validation data for 'valid_loss').")
            )
        if opts:
            raise TypeError(f"train: early_stopping got unknown key(s) {sorted(opts)}; allowed: patience, min_delta, monitor.")
        return patience, min_delta, mon
    raise ValueError(
        "train: early_stopping must be None, True, a patience (int >= 1) or a dict with patience, "
        f"min_delta, monitor; got {early_stopping!r}."
    )


def train(
    module: nn.Module,
    X: ArrayLike | torch.Tensor,
    y: ArrayLike | torch.Tensor,
    *,
    loss: Literal["mse", "cross_entropy", "bce"] | Callable = "mse",
    optimizer: Literal["adam", "adamw", "sgd", "lbfgs"] | Callable = "adam",
    lr: float = 1e-3,
    optimizer_params: Mapping[str, Any] | None = None,
    adaptive_lr: float | None = None,
    max_epochs: int = 100,
    batch_size: int | None = None,
    shuffle: bool = True,
    schedule: Any = None,
    early_stopping: int | bool | Mapping[str, Any] | None = None,
    validation: Validation = None,
    restore_best: bool = True,
    target_loss: float | None = None,
    extra_loss: Callable[[nn.Module], torch.Tensor] | None = None,
    clip_grad_norm: float | None = None,
    callbacks: Sequence[Callback] = (),
    verbose: bool = False,
    random_state: int | np.random.RandomState | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    """Train a torch module in place with one loop for every network of the library, losing nothing on stops.

    Full-batch training (``batch_size=None``) keeps the data on the device as two tensors and
    takes one optimizer step per epoch, with no DataLoader: the same arithmetic as a bare
    ``zero_grad / loss / backward / step`` loop. Mini-batches are drawn by a permutation from a
    local ``torch.Generator`` seeded from ``random_state``, each sample once per epoch.

    Parameters
    ----------
    module : nn.Module
        The network (e.g. :class:`MLP`); trained in place, moved to ``device`` when one is given.
    X : array_like or Tensor of shape (n_samples, n_features)
        Inputs, finite; converted to the module's dtype.
    y : array_like or Tensor of shape (n_samples,) or (n_samples, n_outputs)
        Targets (integer class labels for ``loss="cross_entropy"``). A 1-D ``y`` for a one-output
        network is used as a column.
    loss : {"mse", "cross_entropy", "bce"} or callable, default="mse"
        - ``"mse"``: mean squared error over all entries;
        - ``"cross_entropy"``: softmax cross-entropy on logits with class labels;
        - ``"bce"``: binary cross-entropy with logits, targets in [0, 1];
        - callable ``loss(pred, target) -> scalar tensor``.
    optimizer : {"adam", "adamw", "sgd", "lbfgs"} or callable, default="adam"
        ``"sgd"`` is torch's SGD (pass ``optimizer_params={"momentum": 0.9}`` for momentum);
        ``"lbfgs"`` uses a strong-Wolfe line search by default (``lr=1`` is the usual choice) and
        one step (up to ``max_iter`` inner iterations) per batch. A callable is called as
        ``optimizer(param_groups, lr=lr, **optimizer_params)`` (any ``torch.optim`` class).
    lr : float, default=1e-3
        Learning rate (> 0) of the network's weights (and of everything when ``adaptive_lr`` is
        None). A ``("step", {"lrs": ...})`` schedule overrides it from the first epoch.
    optimizer_params : dict or None, default=None
        Extra keyword arguments of the optimizer.
    adaptive_lr : float or None, default=None
        Learning rate of ``module.adaptive_parameters()`` (Rowdy α/ω, LAAF a) in their own
        parameter group; schedules keep the ratio to ``lr``. The Rowdy paper's blow-ups at large
        lr (research note §2.4) suggest a smaller value here.
    max_epochs : int, default=100
        Epochs (= optimizer steps in full batch).
    batch_size : int or None, default=None
        ``None`` (or >= n_samples): full batch. Otherwise mini-batches of this size (the last
        one smaller).
    shuffle : bool, default=True
        Mini-batches only: draw a new permutation every epoch.
    schedule : None, str, (str, dict) or callable, default=None
        Per-epoch learning-rate schedule:

        - ``("step", {"milestones": [500], "lrs": [4e-3, 1e-4]})``: lr 4e-3 for the first 500
          epochs, then 1e-4 (the Rowdy paper's annealing); or ``{"milestones": [...], "gamma": g}``
          to multiply lr by g at each milestone;
        - ``"cosine"`` (``T_max=max_epochs`` unless given), ``"exponential"`` (``gamma``),
          ``"plateau"`` (``ReduceLROnPlateau`` on the monitored loss), each with its torch
          parameters as the dict;
        - ``factory(optimizer) -> scheduler``: any ``torch.optim.lr_scheduler`` (stepped once
          per epoch; ``ReduceLROnPlateau`` gets the monitored loss).
    early_stopping : None, True, int or dict, default=None
        Stop after ``patience`` epochs without the monitored loss improving by more than
        ``min_delta``: an int is the patience, ``True`` means 10, a dict may hold ``patience``,
        ``min_delta`` and ``monitor`` (``"valid_loss"`` when validation data is given, else
        ``"train_loss"``).
    validation : None, float or (X_val, y_val), default=None
        Validation data, or the fraction of (X, y) to hold out (split with ``random_state``).
        Its loss (data loss only, eval mode, no gradients) is evaluated after every epoch and is
        then the monitored loss.
    restore_best : bool, default=True
        End with the weights of the best monitored loss (else the last weights). A non-finite
        loss always restores the best weights.
    target_loss : float or None, default=None
        Stop (``stop_reason="target"``) once the training loss is <= this value.
    extra_loss : callable or None, default=None
        ``extra_loss(module) -> scalar tensor`` added to the training loss (e.g.
        ``kernelreg.layers.slope_recovery_loss`` for LAAF).
    clip_grad_norm : float or None, default=None
        Clip the global gradient norm to this value before each step.
    callbacks : sequence of Callback, default=()
    verbose : bool, default=False
        Show a tqdm progress bar over epochs.
    random_state : int, RandomState or None, default=None
        Seeds the shuffling and the validation split (a local generator; no global seed).
    device : {"cpu", "cuda", "auto"}, torch.device or None, default=None
        Move the module here first; ``None`` keeps the module's device.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        Non-positive lr, unknown loss/optimizer/schedule names (listing the known ones), input
        with NaN/inf, a width mismatch between X and the first layer (both numbers named),
        mismatched sample counts or output widths.

    Warns
    -----
    ConvergenceWarning
        When the loss becomes NaN/inf: training stops, the best weights are restored and
        ``stop_reason="nan"``.

    Notes
    -----
    Which weights a loss belongs to: in full batch the training loss of epoch e is measured
    during its step, i.e. on the weights the epoch started from (what a hand-written loop logs),
    so the best state is snapshot *before* that step and one extra forward pass scores the final
    weights at the end. With mini-batches the epoch's training loss is the mean over its batches
    and is credited to the weights at the end of the epoch (as in skorch); a validation loss is
    measured at the end of the epoch. ``best_epoch`` counts the epochs of the kept weights.

    A ``KeyboardInterrupt`` (Ctrl-C or raised by a callback) stops training, restores the best
    weights (with ``restore_best``), records ``stop_reason="interrupted"``, runs ``on_train_end``
    and returns normally.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.networks import MLP, train
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> net = MLP(1, [20], 1, activation="tanh", random_state=0)
    >>> result = train(net, X, np.sin(3 * X[:, 0]), lr=1e-2, max_epochs=200)
    >>> result.stop_reason, result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    ('max_epochs', True)
    """
    owner = "train"
    if not isinstance(module, nn.Module):
        raise TypeError(f"train needs a torch nn.Module; got {type(module).__name__}.")
    lr = check_positive(lr, "lr", owner)
    if adaptive_lr is not None:
        adaptive_lr = check_positive(adaptive_lr, "adaptive_lr", owner)
    max_epochs = check_int(max_epochs, "max_epochs", owner)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", owner)
    if clip_grad_norm is not None:
        clip_grad_norm = check_positive(clip_grad_norm, "clip_grad_norm", owner)
    if target_loss is not None and (isinstance(target_loss, bool) or not isinstance(target_loss, Real)
                                    or math.isnan(target_loss)):
        raise ValueError(f"train needs target_loss to be a number or None; got {target_loss!r}.")
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise _unknown("loss", loss, LOSSES, " (or a callable loss(pred, target))")
        loss_fn = {"mse": F.mse_loss, "cross_entropy": F.cross_entropy,
                   "bce": F.binary_cross_entropy_with_logits}[loss]
    elif callable(loss):
        loss_fn = loss
    else:
        raise _unknown("loss", loss, LOSSES, " (or a callable loss(pred, target))")
    if isinstance(optimizer, str) and optimizer.lower() not in OPTIMIZERS:
        raise _unknown("optimizer", optimizer, OPTIMIZERS, " (or a torch.optim class / factory(params, lr=...))")
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"train: every callback must subclass kernelreg.networks.Callback; got {type(cb).__name__}.")

    if device is not None:
        module.to(resolve_device(device))
    dev, dt = _module_device_dtype(module)
    rng = check_random_state(random_state)
    gen = seed_generator(rng)

    Xt, yt = _prepare_xy(module, X, y, loss, dev, dt)
    Xv = yv = None
    if validation is not None:
        if isinstance(validation, Real) and not isinstance(validation, bool):
            frac = float(validation)
            n_val = int(math.ceil(frac * Xt.shape[0])) if 0.0 < frac < 1.0 else 0
            if not 0 < n_val < Xt.shape[0]:
                raise ValueError(
                    f"train: validation={validation!r} as a fraction must leave at least one sample on each "
                    f"side of the split of {Xt.shape[0]} samples; use a value in (0, 1) or (X_val, y_val)."
                )
            perm = torch.randperm(Xt.shape[0], generator=gen).to(dev)
            Xv, yv = Xt[perm[:n_val]], yt[perm[:n_val]]
            Xt, yt = Xt[perm[n_val:]], yt[perm[n_val:]]
        elif isinstance(validation, (tuple, list)) and len(validation) == 2:
            Xv, yv = _prepare_xy(module, validation[0], validation[1], loss, dev, dt, what="X_val")
        else:
            raise ValueError(f"train: validation must be None, a fraction in (0, 1) or (X_val, y_val); got {validation!r}.")
    patience, min_delta, monitor = _parse_early_stopping(early_stopping, Xv is not None)

    # parameter groups and optimizer
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError("train: the module has no trainable parameters (all requires_grad=False).")
    if adaptive_lr is not None:
        adaptive_fn = getattr(module, "adaptive_parameters", None)
        if not callable(adaptive_fn):
            raise ValueError(
                f"train: adaptive_lr needs a module with adaptive_parameters() (e.g. MLP); "
                f"{type(module).__name__} has none."
            )
        adaptive_ids = {id(p) for p in adaptive_fn() if p.requires_grad}
        groups = [{"params": [p for p in params if id(p) not in adaptive_ids]},
                  {"params": [p for p in params if id(p) in adaptive_ids], "lr": adaptive_lr}]
        groups = [g for g in groups if g["params"]]
    else:
        groups = [{"params": params}]
    opt = _make_optimizer(optimizer, groups, lr, dict(optimizer_params or {}))

    n = int(Xt.shape[0])
    trainer = Trainer(module, loss=loss, optimizer=optimizer, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
                      restore_best=restore_best, target_loss=target_loss)
    trainer.optimizer = opt
    trainer.scheduler = _make_schedule(schedule, opt, max_epochs)
    trainer.device, trainer.dtype, trainer.monitor = dev, dt, monitor
    trainer._callbacks = callbacks
    trainer._batch_hooks = any(type(cb).on_batch_end is not Callback.on_batch_end for cb in callbacks)
    trainer._loss_fn, trainer._extra_loss, trainer._clip = loss_fn, extra_loss, clip_grad_norm
    trainer._params = params
    trainer._X, trainer._y, trainer._n = Xt, yt, n
    trainer._gen, trainer._device, trainer._shuffle = gen, dev, bool(shuffle)
    trainer._full_batch = batch_size is None or batch_size >= n
    trainer._batch_size = n if trainer._full_batch else batch_size
    trainer._pre_step_monitor = trainer._full_batch and monitor == "train_loss"
    trainer._target = None if target_loss is None else float(target_loss)
    trainer._live = list(module.parameters()) + list(module.buffers())
    trainer._best_state = None
    trainer._keep_state = True  # needed also without restore_best: a non-finite loss restores
    trainer._snapshot()  # the initial weights: what a non-finite first epoch falls back to
    plateau = isinstance(trainer.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    pbar = None
    if verbose:
        from tqdm.auto import tqdm

        pbar = tqdm(total=max_epochs, desc="train", unit="epoch", leave=False)
    stop_reason = "max_epochs"
    es_ref, es_wait = math.inf, 0
    nonfinite: tuple[int, str, float] | None = None
    was_training = module.training
    module.train()
    start = time.perf_counter()
    try:
        trainer._notify("on_train_begin")
        for epoch in range(1, max_epochs + 1):
            trainer.epoch = epoch
            trainer._notify("on_epoch_begin", epoch=epoch)
            lr_now = opt.param_groups[0]["lr"]
            entry: dict[str, Any] = {"epoch": epoch}
            reached = False
            try:
                train_loss = trainer._run_epoch()
            except _NonFinite as exc:
                train_loss = exc.value
                nonfinite = (epoch, "train_loss", exc.value)
            except _TargetReached as exc:
                train_loss, reached = exc.value, True
            entry["iter"] = trainer.n_iter
            entry["train_loss"] = train_loss
            if Xv is not None and nonfinite is None and not reached:
                valid_loss = trainer._evaluate(Xv, yv, with_extra=False)
                entry["valid_loss"] = valid_loss
                if not math.isfinite(valid_loss):
                    nonfinite = (epoch, "valid_loss", valid_loss)
            entry["lr"] = lr_now
            if len(opt.param_groups) > 1:
                entry["lr_adaptive"] = opt.param_groups[1]["lr"]
            entry["time_s"] = time.perf_counter() - start
            trainer.history.append(entry)
            if nonfinite is not None:
                stop_reason = "nan"
                break
            if reached:
                stop_reason = "target"
                break
            value = entry[monitor]
            if not trainer._pre_step_monitor:
                trainer._consider(value, epoch)
            if value < es_ref - min_delta:
                es_ref, es_wait = value, 0
            else:
                es_wait += 1
            if pbar is not None:
                pbar.update(1)
                pbar.set_postfix({k: f"{entry[k]:.3e}" for k in ("train_loss", "valid_loss") if k in entry})
            trainer._notify("on_epoch_end", epoch=epoch, entry=entry)
            if trainer._stop_reason is not None:
                stop_reason = trainer._stop_reason
                break
            if trainer._target is not None and not trainer._full_batch and train_loss <= trainer._target:
                stop_reason = "target"
                break
            if patience is not None and es_wait >= patience:
                stop_reason = "early_stopping"
                break
            if trainer.scheduler is not None:
                if plateau:
                    trainer.scheduler.step(value)
                else:
                    trainer.scheduler.step()
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    finally:
        if pbar is not None:
            pbar.close()

    if stop_reason == "nan":
        where, what, bad = nonfinite
        trainer._restore()
        warnings.warn(
            f"train stopped at epoch {where}: the {what} became {bad} (optimizer={optimizer!r}, "
            f"lr={lr:g}). Restored the weights after epoch {trainer.best_epoch} (monitored "
            f"{monitor}={trainer.best_loss:.4g}). Lower lr, add a schedule, clip_grad_norm or a smaller "
            "adaptive_lr.",
            ConvergenceWarning,
            stacklevel=2,
        )
    else:
        if trainer._pre_step_monitor and stop_reason not in ("target", "interrupted") and trainer.history:
            final = trainer._evaluate(Xt, yt, with_extra=True)  # the last step's weights, not yet scored
            if math.isfinite(final):
                trainer._consider(final, trainer.epoch)
        if restore_best:
            trainer._restore()
    module.train(was_training)
    elapsed = time.perf_counter() - start
    trainer._stop_reason = stop_reason
    trainer._notify("on_train_end", stop_reason=stop_reason)
    return TrainResult(
        history=trainer.history,
        best_epoch=trainer.best_epoch,
        best_loss=trainer.best_loss,
        stop_reason=stop_reason,
        n_epochs=len(trainer.history),
        n_iter=trainer.n_iter,
        time_s=elapsed,
        monitor=monitor,
    )
