"""kernelreg: shallow networks in the kernel regime and the adaptive regime, side by side.

Frozen hidden layers from any activation are exported as a feature matrix Φ (torch, on a GPU when
there is one); the output layer is solved as a convex min-norm program or by gradient descent, and
the two are compared — through scikit-learn estimators.
"""

from kernelreg import activations
from kernelreg.compare import FitComparison, compare_fits, compare_methods
from kernelreg.estimators import (
    AdaptiveClassifier,
    AdaptiveRegressor,
    KernelRegimeClassifier,
    KernelRegimeRegressor,
)
from kernelreg.exceptions import DeviceError, DivergenceError, KernelregError, NotFittedError, SolverError
from kernelreg.features import ModuleFeatureMap, RandomFeatureMap, freeze
from kernelreg.solvers import Solution, solve

__version__ = "0.1.0"

__all__ = [
    "activations",
    "RandomFeatureMap",
    "ModuleFeatureMap",
    "solve",
    "Solution",
    "compare_fits",
    "compare_methods",
    "FitComparison",
    "KernelRegimeRegressor",
    "KernelRegimeClassifier",
    "AdaptiveRegressor",
    "AdaptiveClassifier",
    "freeze",
    "KernelregError",
    "NotFittedError",
    "SolverError",
    "DivergenceError",
    "DeviceError",
]
