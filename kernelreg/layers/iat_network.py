"""The decoupled IAT-ReLU network: activation patterns from one set of weights, values from another.

y = F(x, W₁, D(x, W₂))  (Zhang, Bao & Zhang, seed paper 000 §4.4, eq. 26; ``research/iat_rowdy.md`` §1.5).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from kernelreg._checks import check_int
from kernelreg._torch import resolve_device, resolve_dtype, seed_generator
from kernelreg.layers import bases as _bases
from kernelreg.layers.iat import DecoupledIAT

__all__ = ["DecoupledIATNetwork"]


class DecoupledIATNetwork(nn.Module):
    """IAT-ReLU network whose activation patterns come from separate weights (pattern transfer).

    Two stacks of the same shape run side by side. The *pattern* branch is an ordinary IAT-ReLU
    network with weights W₂: z₂ⁿ = W₂ⁿu₂ⁿ⁻¹ + b₂ⁿ, u₂ⁿ = I(z₂ⁿ). The *value* branch with weights W₁
    uses, in every layer, the activation pattern of the pattern branch's pre-activation:

        z₁ⁿ = W₁ⁿu₁ⁿ⁻¹ + b₁ⁿ,   u₁ⁿ = ∫ q(s) 1[p(s)ᵀz₂ⁿ > 0] p(s)ᵀz₁ⁿ ds,   y = W₁ᴸu₁ᴸ + b₁ᴸ

    (u₁⁰ = u₂⁰ = x). W₂ decides the nonlinearity, W₁ the linear map on each piece; with W₂ fixed,
    y is affine in each (W₁ⁿ, b₁ⁿ) and linear in the last one, so the output layer is a least-squares
    fit on :meth:`features`. With a continuous input basis p the model stays continuous and, in
    analytic mode, W₂ receives gradient through the roots of f (paper §4.4); a plain ReLU network
    (or the discretised IAT) gives W₂ no gradient at all.

    Parameters
    ----------
    in_features : int
        Input dimension.
    hidden : sequence of int
        Width d of each hidden IAT layer (d_in = d_out = d).
    out_features : int, default=1
        Output dimension.
    in_basis, out_basis : str or Basis, default="fourier", "pwq"
        IAT bases (the paper's Fig. 6 pair).
    mesh_ratio : float, default=10
        As for :class:`~kernelreg.layers.IAT`.
    mode : {"analytic", "discrete"}, default="analytic"
        ``"analytic"`` (default here, unlike :class:`~kernelreg.layers.IAT`): the pattern moves
        continuously and W₂ gets gradient. ``"discrete"``: the pattern is a step function of z₂ on
        the mesh; W₂ gets no gradient.
    normalize : {"l2", "sup", "none"}, default="l2"
        Basis normalisation.
    n_gauss : int or None, default=None
        Gauss nodes per active piece (analytic mode).
    root_gradient : bool, default=True
        Let gradients reach W₂ through the roots (analytic mode).
    tie_weights : bool, default=True
        Start with W₂ = W₁ (a copy), so that the network starts as the ordinary (coupled) IAT-ReLU
        network with weights W₁; else draw W₂ independently.
    random_state : int, RandomState or None, default=None
        Seed of the weight draw (uniform on ±1/√fan_in, torch's default scale), from a local
        generator.
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
    device : str or torch.device, default="cpu"

    Attributes
    ----------
    value_layers : nn.ModuleList of nn.Linear
        W₁ⁿ, b₁ⁿ for n = 0..L (the last one is the output layer).
    pattern_layers : nn.ModuleList of nn.Linear
        W₂ⁿ, b₂ⁿ for n = 0..L-1.
    iats : nn.ModuleList of DecoupledIAT
        One per hidden layer, shared by both branches.

    Raises
    ------
    ValueError
        Empty ``hidden``, non-positive sizes, or any :class:`~kernelreg.layers.IAT` argument error.

    See Also
    --------
    kernelreg.layers.DecoupledIAT : the layer both branches share.

    Notes
    -----
    BatchNorm after the IAT (Remark 2) is not offered here: it would make the value branch
    depend on the batch and break its linearity for fixed patterns.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.layers import DecoupledIATNetwork
    >>> net = DecoupledIATNetwork(1, [6, 6], 1, random_state=0)
    >>> x = torch.linspace(-1, 1, 5, dtype=torch.float64)[:, None]
    >>> net(x).shape
    torch.Size([5, 1])
    >>> net.freeze_patterns()
    >>> sum(p.requires_grad for p in net.pattern_parameters())
    0
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int = 1,
        in_basis: str | _bases.Basis = "fourier",
        out_basis: str | _bases.Basis = "pwq",
        *,
        mesh_ratio: float = 10,
        mode: Literal["analytic", "discrete"] = "analytic",
        normalize: Literal["l2", "sup", "none"] = "l2",
        n_gauss: int | None = None,
        root_gradient: bool = True,
        tie_weights: bool = True,
        random_state: int | np.random.RandomState | None = None,
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        in_features = check_int(in_features, "in_features", owner)
        out_features = check_int(out_features, "out_features", owner)
        if isinstance(hidden, (int, np.integer)):
            hidden = [hidden]
        hidden = [check_int(w, "every hidden width", owner) for w in hidden]
        if not hidden:
            raise ValueError(f"{owner} needs at least one hidden IAT layer; got hidden=[].")
        self.in_features, self.hidden, self.out_features = in_features, hidden, out_features
        self.root_gradient = bool(root_gradient)
        torch_dtype, torch_device = resolve_dtype(dtype), resolve_device(device)
        gen = seed_generator(check_random_state(random_state))
        sizes = [in_features, *hidden, out_features]
        self.value_layers = nn.ModuleList(
            _linear(a, b, gen, torch_dtype, torch_device) for a, b in zip(sizes[:-1], sizes[1:])
        )
        if tie_weights:
            self.pattern_layers = nn.ModuleList(_copy_linear(lin) for lin in self.value_layers[:-1])
        else:
            self.pattern_layers = nn.ModuleList(
                _linear(a, b, gen, torch_dtype, torch_device) for a, b in zip(sizes[:-2], sizes[1:-1])
            )
        self.iats = nn.ModuleList(
            DecoupledIAT(in_basis, out_basis, width, mesh_ratio=mesh_ratio, mode=mode, normalize=normalize,
                         n_gauss=n_gauss, root_gradient=root_gradient, dtype=torch_dtype, device=torch_device)
            for width in hidden
        )

    def _hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Last value state u₁ᴸ and the pattern pre-activations z₂ⁿ of every layer."""
        dtype = self.value_layers[0].weight.dtype
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x), dtype=dtype, device=self.value_layers[0].weight.device)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            got = "a scalar" if x.ndim == 0 else f"last dimension {x.shape[-1]} (shape {tuple(x.shape)})"
            raise ValueError(
                f"{type(self).__name__} expects inputs with last dimension in_features={self.in_features}; got {got}."
            )
        x = x.to(dtype)
        value, pattern, patterns = x, x, []
        for lin_v, lin_p, iat in zip(self.value_layers, self.pattern_layers, self.iats):
            z_pattern = lin_p(pattern)
            patterns.append(z_pattern)
            value, pattern = iat.decoupled_pair(lin_v(value), z_pattern, root_gradient=self.root_gradient)
        return value, patterns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y of shape (..., out_features) for x of shape (..., in_features)."""
        value, _ = self._hidden(x)
        return self.value_layers[-1](value)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden value state u₁ᴸ, shape (..., hidden[-1]): y is linear in it (least-squares readout)."""
        return self._hidden(x)[0]

    def patterns(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The pattern pre-activations z₂ⁿ, one (..., hidden[n]) tensor per layer: D(z₂ⁿ) is layer n's pattern."""
        return self._hidden(x)[1]

    def pattern_parameters(self) -> Iterator[nn.Parameter]:
        """W₂ and b₂ of every hidden layer (the nonlinearity)."""
        return self.pattern_layers.parameters()

    def value_parameters(self) -> Iterator[nn.Parameter]:
        """W₁ and b₁ of every layer, output layer included (the linear path)."""
        return self.value_layers.parameters()

    def freeze_patterns(self, frozen: bool = True) -> None:
        """Stop (or resume) training W₂: a fixed pattern makes the rest multilinear (paper §4.4)."""
        for param in self.pattern_parameters():
            param.requires_grad_(not frozen)

    @torch.no_grad()
    def transfer_patterns(self, source: nn.Module | Sequence[nn.Linear] | Literal["value"]) -> None:
        """Copy pattern weights W₂ from trained layers: pattern transfer.

        Parameters
        ----------
        source : "value", nn.Module or sequence of nn.Linear
            ``"value"``: this network's own hidden value weights (W₂ ← W₁, e.g. after training it as
            a coupled network). A module: its ``nn.Linear`` submodules in order (e.g. an MLP with IAT
            activations of the same widths; its output layer is ignored). A sequence: one
            ``nn.Linear`` per hidden layer.

        Raises
        ------
        ValueError
            Too few linear layers, or a weight shape that differs from the pattern layer's.
        """
        if isinstance(source, str):
            if source != "value":
                raise ValueError(f"transfer_patterns source={source!r} is unknown; use 'value', a module or layers.")
            layers = list(self.value_layers[:-1])
        elif isinstance(source, nn.Module):
            layers = [m for m in source.modules() if isinstance(m, nn.Linear)]
        else:
            layers = list(source)
        if len(layers) < len(self.pattern_layers):
            raise ValueError(
                f"transfer_patterns needs {len(self.pattern_layers)} linear layers (one per hidden IAT layer); "
                f"got {len(layers)}."
            )
        for n, (target, lin) in enumerate(zip(self.pattern_layers, layers)):
            if not isinstance(lin, nn.Linear) or lin.weight.shape != target.weight.shape:
                got = tuple(lin.weight.shape) if isinstance(lin, nn.Linear) else type(lin).__name__
                raise ValueError(
                    f"transfer_patterns: layer {n} needs a weight of shape {tuple(target.weight.shape)}; got {got}."
                )
            target.weight.copy_(lin.weight)
            if target.bias is not None:
                target.bias.copy_(lin.bias if lin.bias is not None else torch.zeros_like(target.bias))

    def extra_repr(self) -> str:
        iat = self.iats[0]
        return (
            f"in_features={self.in_features}, hidden={self.hidden}, out_features={self.out_features}, "
            f"in_basis={iat.p.name!r}, out_basis={iat.q.name!r}, mode={iat.mode!r}"
        )


def _linear(fan_in: int, fan_out: int, gen: torch.Generator, dtype: torch.dtype, device: torch.device) -> nn.Linear:
    """nn.Linear with weights and bias uniform on ±1/√fan_in drawn on the CPU in float64 from ``gen``."""
    bound = 1.0 / np.sqrt(fan_in)
    layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out, dtype=dtype, device=device)  # no global RNG draw
    with torch.no_grad():
        weight = (torch.rand(fan_out, fan_in, generator=gen, dtype=torch.float64) * 2 - 1) * bound
        bias = (torch.rand(fan_out, generator=gen, dtype=torch.float64) * 2 - 1) * bound
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


def _copy_linear(layer: nn.Linear) -> nn.Linear:
    """An independent nn.Linear with the same weights."""
    out = nn.utils.skip_init(nn.Linear, layer.in_features, layer.out_features, dtype=layer.weight.dtype,
                             device=layer.weight.device)
    with torch.no_grad():
        out.weight.copy_(layer.weight)
        out.bias.copy_(layer.bias)
    return out
