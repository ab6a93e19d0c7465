"""Shallow layer in Radon-spline coordinates: orientation ξ, offset γ, scale μ and horizontal scale α.

f(x) = Σ_i (μ_i/α_i) σ(α_i(ξ_i·x − γ_i))  ≡  Σ_i c_i σ(w_i·x − b_i)  with  w = αξ, b = αγ, c = μ/α

(Sahs, Pyle, Anselmi & Patel, *The spectral bias of shallow neural network learning is shaped by
the choice of non-linearity*, seed paper 003, eqs. 1–2; ``research/spectral.md`` §1). The same
parameters serve the trainable forward, the frozen feature view Φ = σ(α(ξ·x − γ))/α (so that
forward = Φ μ), the standard (w, b, c) view and the per-neuron statistic δ that tells the kernel
regime from the adaptive one.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Callable, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state
from torch import nn

from kernelreg._checks import check_int, check_positive
from kernelreg import activations
from kernelreg._torch import resolve_device, resolve_dtype, seed_generator

__all__ = ["RadonSplineLayer"]

_PARAMETERIZATIONS = ("radon", "standard")


class RadonSplineLayer(nn.Module):
    """Shallow network layer parameterised by its zero-planes, for placing training between kernel and adaptive regimes.

    Parameters
    ----------
    in_features : int
        Input dimension d.
    n_neurons : int
        Number of hidden units (= columns of the feature matrix Φ).
    activation : str or callable, default="relu"
        σ: a name of :func:`kernelreg.activations.available` or a callable on tensors.
    activation_params : dict or None, default=None
        Parameters of the activation, e.g. ``{"p": 2}`` for ``relu_power``.
    init_scale : float, default=1.0
        Initial α for every neuron (> 0). Under gradient descent on the standard parameters a large
        α is the kernel regime (zero-planes barely move, only μ learns; δ → −∞), a small α the
        adaptive regime (δ > 0, zero-planes move and cluster). For ReLU the function at
        initialisation does not depend on α.
    offset_scale : float, default=1.0
        Offsets γ are drawn uniformly on [−offset_scale, offset_scale] (use max‖x‖ of the data,
        as :class:`kernelreg.features.RandomFeatureMap` does).
    output_scale : float, default=1.0
        Scales μ ~ N(0, output_scale²/n_neurons); 0 starts from the zero function.
    n_outputs : int or None, default=None
        ``None``: μ has shape (n_neurons,) and the forward returns shape (n_samples,); an integer:
        μ has shape (n_neurons, n_outputs).
    parameterization : {"radon", "standard"}, default="radon"
        Which coordinates are the trainable ``nn.Parameter`` s (the function is the same):

        - ``"radon"``: ``direction`` (unconstrained; ξ = direction/‖direction‖, always unit),
          ``offset`` γ, ``scale`` μ and ``log_alpha`` (α = exp(log_alpha) > 0). Gradient descent
          then moves the zero-planes directly; for a 1-homogeneous σ, α has no effect.
        - ``"standard"``: ``weight`` w, ``bias`` b and ``coef`` c of f = Σ c σ(w·x − b). Gradient
          descent on these conserves δ for ReLU, and ``init_scale`` / :meth:`param_groups` select
          the regime.
    random_state : int, RandomState or None, default=None
        Seeds the draw of ξ, γ, μ (a local torch.Generator; no global seed is touched).
    dtype : {"float64", "float32"} or torch.dtype, default="float64"
    device : str or torch.device, default="cpu"
        The draw happens on the CPU in float64 and is then moved, so CPU and GPU share one draw.

    Attributes
    ----------
    xi, gamma, mu, alpha : Tensor
        The Radon-spline view (on the autograd graph): shapes (n_neurons, in_features),
        (n_neurons,), (n_neurons,) or (n_neurons, n_outputs), (n_neurons,).
    activation : kernelreg.activations.Activation

    Raises
    ------
    ValueError
        Non-positive sizes or scales, an unknown parameterisation; in the views, inputs whose last
        dimension is not ``in_features``.

    See Also
    --------
    kernelreg.features.RandomFeatureMap : the frozen random-feature version (α = 1, μ solved).

    Notes
    -----
    Conventions: the standard network is f(x) = Σ c_i σ(w_i·x − b_i) (minus b, as in the
    spectral-bias paper and DESIGN.md), so w = αξ, b = αγ, c = μ/α and back α = ‖w‖, ξ = w/‖w‖,
    γ = b/‖w‖, μ = c‖w‖.

    δ_i = c_i² − ‖w_i‖² − b_i² = μ_i²/α_i² − α_i²(1 + γ_i²) is conserved by gradient flow on
    (w, b, c) for 1-homogeneous σ (σ'(z)z = σ(z)); discrete gradient descent conserves it up to
    O(lr²) per step. With separate learning rates η_h for (w, b) and η_o for c (Kunin et al.
    2024) the conserved quantity is η_h c² − η_o(‖w‖² + b²): :meth:`delta` with both rates, and
    :meth:`param_groups` to build the optimizer.

    Examples
    --------
    >>> import torch
    >>> from kernelreg.layers import RadonSplineLayer
    >>> layer = RadonSplineLayer(2, 8, random_state=0)
    >>> x = torch.zeros(5, 2, dtype=torch.float64)
    >>> torch.allclose(layer(x), layer.features(x) @ layer.mu)
    True
    >>> w, b, c = layer.to_standard()
    >>> clone = RadonSplineLayer.from_standard(w, b, c)
    >>> torch.allclose(clone(x), layer(x))
    True
    """

    def __init__(
        self,
        in_features: int,
        n_neurons: int,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        *,
        init_scale: float = 1.0,
        offset_scale: float = 1.0,
        output_scale: float = 1.0,
        n_outputs: int | None = None,
        parameterization: Literal["radon", "standard"] = "radon",
        random_state: int | np.random.RandomState | None = None,
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_features = check_int(in_features, "in_features", owner)
        self.n_neurons = check_int(n_neurons, "n_neurons", owner)
        self.n_outputs = check_int(n_outputs, "n_outputs", owner, allow_none=True)
        self.init_scale = check_positive(init_scale, "init_scale", owner)
        self.offset_scale = check_positive(offset_scale, "offset_scale", owner, allow_zero=True)
        self.output_scale = check_positive(output_scale, "output_scale", owner, allow_zero=True)
        if parameterization not in _PARAMETERIZATIONS:
            raise ValueError(
                f"{owner} parameterization={parameterization!r} is unknown; use one of {list(_PARAMETERIZATIONS)}."
            )
        self.parameterization = parameterization
        self.activation = activations.get(activation, **(activation_params or {}))
        self._dtype = resolve_dtype(dtype)
        self._device = resolve_device(device)

        rng = check_random_state(random_state)
        gen = seed_generator(rng)
        n, d = self.n_neurons, self.in_features
        f64 = torch.float64
        xi = torch.randn(n, d, generator=gen, dtype=f64)
        xi = xi / xi.norm(dim=1, keepdim=True)
        gamma = (2.0 * torch.rand(n, generator=gen, dtype=f64) - 1.0) * self.offset_scale
        mu_shape = (n,) if self.n_outputs is None else (n, self.n_outputs)
        mu = torch.randn(*mu_shape, generator=gen, dtype=f64) * (self.output_scale / math.sqrt(n))
        alpha = torch.full((n,), self.init_scale, dtype=f64)
        self._assign_radon(xi, gamma, mu, alpha)

    # ---- assignment -------------------------------------------------------------------------------
    def _tensor(self, value: ArrayLike | torch.Tensor) -> torch.Tensor:
        """A detached copy with the layer's dtype and device."""
        if isinstance(value, torch.Tensor):
            return value.detach().to(device=self._device, dtype=self._dtype).clone()
        return torch.as_tensor(np.array(value, dtype=np.float64), dtype=self._dtype, device=self._device)

    def _clear(self) -> None:
        """Remove the parameters of either parameterisation before assigning new ones."""
        for name in ("direction", "offset", "scale", "log_alpha", "weight", "bias", "coef"):
            if name in self._parameters:
                del self._parameters[name]

    def _assign_radon(self, xi, gamma, mu, alpha) -> None:
        """Set the parameters from (ξ, γ, μ, α) in the layer's parameterisation."""
        xi, gamma, mu, alpha = (torch.as_tensor(t, dtype=torch.float64) for t in (xi, gamma, mu, alpha))
        self._clear()
        if self.parameterization == "radon":
            self.direction = nn.Parameter(self._tensor(xi))
            self.offset = nn.Parameter(self._tensor(gamma))
            self.scale = nn.Parameter(self._tensor(mu))
            self.log_alpha = nn.Parameter(self._tensor(torch.log(alpha)))
        else:
            col = alpha if mu.ndim == 1 else alpha[:, None]
            self._assign_standard(alpha[:, None] * xi, alpha * gamma, mu / col)

    def _assign_standard(self, w, b, c) -> None:
        """Set the parameters from (w, b, c) in the layer's parameterisation (stored as given in standard mode)."""
        if self.parameterization == "standard":
            self._clear()
            self.weight = nn.Parameter(self._tensor(w))
            self.bias = nn.Parameter(self._tensor(b))
            self.coef = nn.Parameter(self._tensor(c))
            return
        w, b, c = (torch.as_tensor(t, dtype=torch.float64) for t in (w, b, c))
        alpha = w.norm(dim=1)
        col = alpha if c.ndim == 1 else alpha[:, None]
        self._assign_radon(w / alpha[:, None], b / alpha, c * col, alpha)

    @staticmethod
    def _validate_shapes(owner: str, first: torch.Tensor, offsets: torch.Tensor, outs: torch.Tensor, names) -> None:
        """Shapes (n, d), (n,), (n,) or (n, k) with one n, else a ValueError quoting them."""
        if first.ndim != 2 or offsets.ndim != 1 or outs.ndim not in (1, 2) or not (
            first.shape[0] == offsets.shape[0] == outs.shape[0]
        ):
            raise ValueError(
                f"{owner} needs {names[0]} of shape (n_neurons, in_features), {names[1]} of shape "
                f"(n_neurons,) and {names[2]} of shape (n_neurons,) or (n_neurons, n_outputs); got "
                f"{tuple(first.shape)}, {tuple(offsets.shape)} and {tuple(outs.shape)}."
            )

    @classmethod
    def from_standard(
        cls,
        w: ArrayLike | torch.Tensor,
        b: ArrayLike | torch.Tensor,
        c: ArrayLike | torch.Tensor,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        *,
        parameterization: Literal["radon", "standard"] = "radon",
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> RadonSplineLayer:
        """Build the layer of f(x) = Σ c_i σ(w_i·x − b_i): α = ‖w‖, ξ = w/α, γ = b/α, μ = cα.

        Parameters
        ----------
        w : array-like of shape (n_neurons, in_features)
        b : array-like of shape (n_neurons,)
        c : array-like of shape (n_neurons,) or (n_neurons, n_outputs)
        activation, activation_params, parameterization, dtype, device
            As for the constructor.

        Returns
        -------
        RadonSplineLayer
            ``to_standard()`` returns (w, b, c) again: bitwise with ``parameterization="standard"``,
            to rounding error (~1e-16 relative in float64) with ``"radon"``.

        Raises
        ------
        ValueError
            Inconsistent shapes, non-finite values, or a zero row of w (α = 0 has no orientation).
        """
        w64, b64, c64 = (torch.as_tensor(np.asarray(t.detach().cpu() if isinstance(t, torch.Tensor) else t,
                                                    dtype=np.float64)) for t in (w, b, c))
        cls._validate_shapes(cls.__name__, w64, b64, c64, ("w", "b", "c"))
        if not all(bool(torch.isfinite(t).all()) for t in (w64, b64, c64)):
            raise ValueError(f"{cls.__name__}.from_standard got non-finite values in w, b or c.")
        zero = torch.nonzero(w64.norm(dim=1) == 0).reshape(-1)
        if zero.numel():
            raise ValueError(
                f"{cls.__name__}.from_standard: rows {zero.tolist()} of w are zero, so α = ‖w‖ = 0 and the "
                "zero-plane has no orientation; drop those neurons or perturb their weights."
            )
        layer = cls(w64.shape[1], w64.shape[0], activation, activation_params,
                    n_outputs=None if c64.ndim == 1 else c64.shape[1], parameterization=parameterization,
                    output_scale=0.0, random_state=0, dtype=dtype, device=device)
        layer._assign_standard(w if isinstance(w, torch.Tensor) else w64,
                               b if isinstance(b, torch.Tensor) else b64,
                               c if isinstance(c, torch.Tensor) else c64)
        return layer

    @classmethod
    def from_radon(
        cls,
        xi: ArrayLike | torch.Tensor,
        gamma: ArrayLike | torch.Tensor,
        mu: ArrayLike | torch.Tensor,
        alpha: ArrayLike | torch.Tensor | None = None,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        *,
        parameterization: Literal["radon", "standard"] = "radon",
        dtype: str | torch.dtype = "float64",
        device: str | torch.device = "cpu",
    ) -> RadonSplineLayer:
        """Build the layer from zero-planes (ξ, γ), scales μ and α (default 1); ξ rows are normalised.

        Parameters
        ----------
        xi : array-like of shape (n_neurons, in_features)
            Orientations (non-zero rows; normalised to unit length).
        gamma : array-like of shape (n_neurons,)
        mu : array-like of shape (n_neurons,) or (n_neurons, n_outputs)
        alpha : array-like of shape (n_neurons,) or None, default=None
            Positive horizontal scales; ``None`` means 1.

        Returns
        -------
        RadonSplineLayer

        Raises
        ------
        ValueError
            Inconsistent shapes, zero rows of ξ, or α <= 0.
        """
        to64 = lambda t: torch.as_tensor(  # noqa: E731
            np.asarray(t.detach().cpu() if isinstance(t, torch.Tensor) else t, dtype=np.float64))
        xi64, g64, m64 = to64(xi), to64(gamma), to64(mu)
        cls._validate_shapes(cls.__name__, xi64, g64, m64, ("xi", "gamma", "mu"))
        a64 = torch.ones(xi64.shape[0], dtype=torch.float64) if alpha is None else to64(alpha).reshape(-1)
        if a64.shape[0] != xi64.shape[0] or not bool((a64 > 0).all()) or not bool(torch.isfinite(a64).all()):
            raise ValueError(
                f"{cls.__name__}.from_radon needs alpha of shape ({xi64.shape[0]},) with finite entries > 0; "
                f"got shape {tuple(a64.shape)} with minimum {float(a64.min()) if a64.numel() else float('nan'):.3g}."
            )
        norms = xi64.norm(dim=1)
        if bool((norms == 0).any()):
            raise ValueError(f"{cls.__name__}.from_radon: rows {torch.nonzero(norms == 0).reshape(-1).tolist()} of xi are zero.")
        layer = cls(xi64.shape[1], xi64.shape[0], activation, activation_params,
                    n_outputs=None if m64.ndim == 1 else m64.shape[1], parameterization=parameterization,
                    output_scale=0.0, random_state=0, dtype=dtype, device=device)
        layer._assign_radon(xi64 / norms[:, None], g64, m64, a64)
        return layer

    # ---- parameter views ----------------------------------------------------------------------------
    def radon_parameters(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ξ, γ, μ, α) on the autograd graph; ξ has unit rows and α > 0."""
        if self.parameterization == "radon":
            xi = self.direction / self.direction.norm(dim=1, keepdim=True)
            return xi, self.offset, self.scale, torch.exp(self.log_alpha)
        alpha = self.weight.norm(dim=1)
        col = alpha if self.coef.ndim == 1 else alpha[:, None]
        return self.weight / alpha[:, None], self.bias / alpha, self.coef * col, alpha

    def standard_parameters(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(w, b, c) of f = Σ c σ(w·x − b) on the autograd graph (the Parameters themselves in standard mode)."""
        if self.parameterization == "standard":
            return self.weight, self.bias, self.coef
        xi, gamma, mu, alpha = self.radon_parameters()
        col = alpha if mu.ndim == 1 else alpha[:, None]
        return alpha[:, None] * xi, alpha * gamma, mu / col

    def to_standard(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Detached copies of (w, b, c), with w = αξ, b = αγ, c = μ/α."""
        return tuple(t.detach().clone() for t in self.standard_parameters())

    def to_radon(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Detached copies of (ξ, γ, μ, α)."""
        return tuple(t.detach().clone() for t in self.radon_parameters())

    @property
    def xi(self) -> torch.Tensor:
        """Unit orientations ξ, shape (n_neurons, in_features)."""
        return self.radon_parameters()[0]

    @property
    def gamma(self) -> torch.Tensor:
        """Signed distances γ of the zero-planes from the origin, shape (n_neurons,)."""
        return self.radon_parameters()[1]

    @property
    def mu(self) -> torch.Tensor:
        """Scales μ (delta-slopes for ReLU), shape (n_neurons,) or (n_neurons, n_outputs)."""
        return self.radon_parameters()[2]

    @property
    def alpha(self) -> torch.Tensor:
        """Horizontal scales α > 0, shape (n_neurons,)."""
        return self.radon_parameters()[3]

    def hidden_parameters(self) -> list[nn.Parameter]:
        """The parameters that place the zero-planes: (direction, offset, log_alpha) or (weight, bias)."""
        if self.parameterization == "radon":
            return [self.direction, self.offset, self.log_alpha]
        return [self.weight, self.bias]

    def output_parameters(self) -> list[nn.Parameter]:
        """The output-layer parameters: [scale] (μ) or [coef] (c)."""
        return [self.scale] if self.parameterization == "radon" else [self.coef]

    def param_groups(self, lr_hidden: float, lr_output: float) -> list[dict]:
        """Optimizer parameter groups with separate learning rates for the hidden and output parameters.

        With ``parameterization="standard"`` this is Kunin et al.'s knob: η_h c² − η_o(‖w‖² + b²)
        is conserved (ReLU), so lr_hidden >> lr_output pushes training to the adaptive regime and
        lr_hidden << lr_output towards the kernel regime, independently of the initial scale.

        Parameters
        ----------
        lr_hidden : float
            Learning rate of (w, b) or (direction, offset, log_alpha).
        lr_output : float
            Learning rate of c or μ.

        Returns
        -------
        list of dict
            ``[{"params": [...], "lr": lr_hidden, "name": "hidden"}, {"params": [...], "lr": lr_output,
            "name": "output"}]``, ready for ``torch.optim.SGD(layer.param_groups(...))``.
        """
        owner = f"{type(self).__name__}.param_groups"
        lr_hidden = check_positive(lr_hidden, "lr_hidden", owner, allow_zero=True)
        lr_output = check_positive(lr_output, "lr_output", owner, allow_zero=True)
        return [
            {"params": self.hidden_parameters(), "lr": lr_hidden, "name": "hidden"},
            {"params": self.output_parameters(), "lr": lr_output, "name": "output"},
        ]

    def delta(self, lr_hidden: float | None = None, lr_output: float | None = None) -> torch.Tensor:
        """The per-neuron balance δ_i = c_i² − ‖w_i‖² − b_i² (detached), shape (n_neurons,).

        Parameters
        ----------
        lr_hidden, lr_output : float or None, default=None
            Give both for Kunin et al.'s learning-rate-weighted version
            η_h c_i² − η_o(‖w_i‖² + b_i²), conserved under gradient flow with those per-group rates.

        Returns
        -------
        Tensor of shape (n_neurons,)
            Very negative: kernel regime (planes frozen); positive: adaptive regime. For several
            outputs c_i² is ‖c_i‖².

        Raises
        ------
        ValueError
            Only one of the two learning rates given.
        """
        with torch.no_grad():
            w, b, c = self.standard_parameters()
            c2 = c**2 if c.ndim == 1 else (c**2).sum(dim=1)
            wb2 = (w**2).sum(dim=1) + b**2
            if lr_hidden is None and lr_output is None:
                return (c2 - wb2).clone()
            if lr_hidden is None or lr_output is None:
                raise ValueError(
                    f"{type(self).__name__}.delta needs both lr_hidden and lr_output (or neither); got "
                    f"lr_hidden={lr_hidden!r}, lr_output={lr_output!r}."
                )
            return lr_hidden * c2 - lr_output * wb2

    # ---- function views ----------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        """x as a tensor of the layer's dtype whose last dimension is in_features."""
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x, dtype=np.float64), device=self._param_device())
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            got = "a scalar" if x.ndim == 0 else f"last dimension {x.shape[-1]} (shape {tuple(x.shape)})"
            raise ValueError(f"{type(self).__name__} expects inputs with in_features={self.in_features} columns; got {got}.")
        return x.to(self._param_dtype())

    def _param_dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def _param_device(self) -> torch.device:
        return next(self.parameters()).device

    def _pre_and_alpha(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pre-activations α(ξ·x − γ) and α from one evaluation of the parameter views."""
        x = self._check_input(x)
        if self.parameterization == "standard":
            return x @ self.weight.T - self.bias, self.weight.norm(dim=1)
        xi, gamma, _, alpha = self.radon_parameters()
        return alpha * (x @ xi.T - gamma), alpha

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """α(ξ·x − γ) = w·x − b, shape (..., n_neurons)."""
        return self._pre_and_alpha(x)[0]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden outputs Φ = σ(α(ξ·x − γ))/α, shape (..., n_neurons); ``forward(x) == features(x) @ mu``.

        Computed on the autograd graph; wrap in ``torch.no_grad()`` (or ``inference_mode``) to export
        a frozen Φ.
        """
        pre, alpha = self._pre_and_alpha(x)
        return self.activation(pre) / alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) = Σ_i (μ_i/α_i) σ(α_i(ξ_i·x − γ_i)), shape (...,) or (..., n_outputs)."""
        if self.parameterization == "standard":
            return self.activation(self.pre_activations(x)) @ self.coef
        return self.features(x) @ self.scale

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, n_neurons={self.n_neurons}, "
            f"activation={getattr(self.activation, 'name', self.activation)!r}, "
            f"parameterization={self.parameterization!r}, n_outputs={self.n_outputs}"
        )
