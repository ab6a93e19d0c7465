"""The infinite-width views of the kernel regime: the limit kernel K∞ and the neural tangent kernel.

This stage sits between ``features`` (the finite width: Φ from n random units) and ``solvers``:
:class:`LimitKernel` is the n → ∞ limit of ΦΦᵀ/n for :class:`kernelreg.features.RandomFeatureMap`'s
law (ξ uniform on the sphere, γ uniform on [−B, B]), :class:`NeuralTangentKernel` the kernel of
the same two-layer network when every layer trains, and :func:`gram_features` turns any kernel
matrix into features Φ_K with Φ_KΦ_Kᵀ = K, so that ``kernelreg.solvers.solve`` solves the RKHS
min-norm program restricted to the training points exactly as it solves the finite-width one.
"""

from kernelreg.kernels._gram import GramFactor, gram_features
from kernelreg.kernels._limit import LimitKernel
from kernelreg.kernels._ntk import NeuralTangentKernel

__all__ = ["LimitKernel", "NeuralTangentKernel", "GramFactor", "gram_features"]
