"""Networks: the MLP of any activation per layer, its hidden blocks, and the hidden part as a feature module.

:class:`MLP` stacks :class:`HiddenBlock` s (linear then an activation from
:func:`~kernelreg.networks.build_activation`); :meth:`MLP.feature_module` gives the hidden part as a
standalone :class:`HiddenFeatures` module with the readouts of ``research/iat_rowdy.md`` §3, which
``kernelreg.features`` freezes into a feature map.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from numbers import Integral
from typing import Any, Literal

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from kernelreg import activations
from kernelreg._checks import check_int, unknown_name
from kernelreg._torch import resolve_device, resolve_dtype, seed_generator
from kernelreg.exceptions import KernelregError
from kernelreg.networks._activation import ActivationSpec, build_activation

__all__ = ["INITS", "READOUTS", "HiddenBlock", "HiddenFeatures", "MLP"]

#: Readouts of :meth:`MLP.feature_module` (research note §3).
READOUTS = ("last", "kronecker", "function")

#: Weight initialisations of :class:`MLP` (besides a callable).
INITS = ("default", "xavier_uniform", "xavier_normal", "kaiming_normal", "lecun_normal")

#: Normalisation layers: their running statistics are used by every readout, and their weights are not adaptive.
_NORM_LAYERS = (nn.modules.batchnorm._BatchNorm,)


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
                raise unknown_name("readout", readout, READOUTS)
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
        """Φ rows of shape (n_rows, n_features_out) for x of shape (n_rows, in_features).

        BatchNorm layers (an IAT's, Remark 2 of the IAT paper) always use their running
        statistics here, whatever the network's mode, and their statistics are not updated: a
        row's features never depend on the other rows of its batch.
        """
        if self.in_features is not None and (x.ndim == 0 or x.shape[-1] != self.in_features):
            got = "a scalar" if x.ndim == 0 else f"{x.shape[-1]} (shape {tuple(x.shape)})"
            raise ValueError(f"HiddenFeatures expects inputs with in_features={self.in_features}; got {got}.")
        with _norms_in_eval(self.blocks):
            return self._readout(x)

    def _readout(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden blocks, then the readout of the last one."""
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


@contextmanager
def _norms_in_eval(module: nn.Module) -> Iterator[None]:
    """Put the normalisation layers under ``module`` in eval mode for the block, then restore each one's mode."""
    norms = [m for m in module.modules() if isinstance(m, _NORM_LAYERS)]
    modes = [m.training for m in norms]
    for m in norms:
        m.train(False)
    try:
        yield
    finally:
        for m, mode in zip(norms, modes):
            m.train(mode)


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
    kernelreg.training.train : the training loop.
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
            raise unknown_name("init", init, INITS, " (or a callable init(weight, bias, generator))")
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
        """(name, parameter) of the activation modules (Rowdy α/ω, LAAF a, ...), for logging and lr groups.

        Normalisation layers inside an activation (an IAT's BatchNorm) are left out: their affine
        parameters are ordinary weights and train with the network's learning rate.
        """
        out = []
        for i, block in enumerate(self.blocks):
            norm_ids = {id(p) for m in block.activation.modules() if isinstance(m, _NORM_LAYERS)
                        for p in m.parameters()}
            out += [(f"blocks.{i}.activation.{name}", p) for name, p in block.activation.named_parameters()
                    if id(p) not in norm_ids]
        return out

    def adaptive_parameters(self) -> list[nn.Parameter]:
        """The activation modules' trainable parameters, for a separate learning-rate group.

        Returns
        -------
        list of Parameter
            Empty for fixed activations and IAT layers (whose bases are buffers and whose
            BatchNorm weights are ordinary weights).
        """
        return [p for _, p in self.named_adaptive_parameters()]

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, hidden_layer_sizes={self.hidden_layer_sizes}, out_features={self.out_features}"

