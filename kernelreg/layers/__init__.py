"""Torch layers of kernelreg: adaptive activations, Integral Activation Transforms and Radon-spline layers.

Each layer is an ``nn.Module`` whose one set of parameters serves a trainable ``forward`` and a
frozen feature view for the kernel-regime solve (``features``, ``state_features`` or
``branch_features``). The layers stage imports only from ``activations``, ``exceptions`` and
``_torch``.

- :class:`RadonSplineLayer`: shallow layer in zero-plane coordinates (ξ, γ, μ, α).
- :class:`KroneckerActivation`, :class:`RowdyActivation`, :class:`LAAF`: adaptive activations of
  the Kronecker-network family; :func:`slope_recovery_loss` for LAAF training.
- :class:`IAT`, :class:`DecoupledIAT`: Integral Activation Transforms on the six bases of
  :mod:`kernelreg.layers.bases`; :class:`DecoupledIATNetwork`: separate pattern and value weights.
"""

from __future__ import annotations

from kernelreg.layers import bases
from kernelreg.layers.compositional import CompositionalLayer, CompositionalNetwork
from kernelreg.layers.iat import IAT, DecoupledIAT
from kernelreg.layers.iat_network import DecoupledIATNetwork
from kernelreg.layers.radon import RadonSplineLayer
from kernelreg.layers.rowdy import LAAF, KroneckerActivation, RowdyActivation, slope_recovery_loss

__all__ = [
    "bases",
    "RadonSplineLayer",
    "KroneckerActivation",
    "RowdyActivation",
    "LAAF",
    "slope_recovery_loss",
    "IAT",
    "DecoupledIAT",
    "DecoupledIATNetwork",
    "CompositionalNetwork",
    "CompositionalLayer",
]
