"""Layer building from names: any zoo activation or adaptive layer family as a module for one hidden layer.

:func:`build_activation` turns an activation spec (a zoo name, one of the adaptive layer families of
:mod:`kernelreg.layers`, an ``nn.Module`` or a module factory) into a fresh module for one hidden layer,
so :class:`~kernelreg.networks.MLP` can put any of them in any block.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Union

import torch
from torch import nn

from kernelreg import activations
from kernelreg._checks import check_int
from kernelreg._torch import resolve_device, resolve_dtype
from kernelreg.layers import IAT, LAAF, KroneckerActivation, RowdyActivation

__all__ = ["ADAPTIVE_FAMILIES", "ActivationModule", "ActivationSpec", "build_activation"]

#: Layer families built by :func:`build_activation` from their name, and the layer class of each.
ADAPTIVE_FAMILIES: dict[str, type[nn.Module]] = {
    "rowdy": RowdyActivation,
    "laaf": LAAF,
    "kronecker": KroneckerActivation,
    "iat": IAT,
}

ActivationSpec = Union[str, activations.Activation, nn.Module, Callable[[int], nn.Module]]


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

