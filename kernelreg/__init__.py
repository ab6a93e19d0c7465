"""kernelreg: shallow networks in the kernel regime and the adaptive regime, side by side.

Frozen hidden layers from any activation are exported as a feature matrix Φ (torch, on a GPU when
there is one); the output layer is solved as a convex min-norm program or by gradient descent, and
the two are compared — through scikit-learn estimators.

The public names below are loaded on first use (PEP 562), so ``import kernelreg`` and the
``kernelreg`` command's ``--help`` / ``--version`` stay fast; ``kernelreg.X`` and
``from kernelreg import X`` work as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first access).
_LAZY = {
    "activations": "kernelreg.activations",
    "RandomFeatureMap": "kernelreg.features",
    "ModuleFeatureMap": "kernelreg.features",
    "freeze": "kernelreg.features",
    "solve": "kernelreg.solvers",
    "Solution": "kernelreg.solvers",
    "compare_fits": "kernelreg.compare",
    "compare_methods": "kernelreg.compare",
    "FitComparison": "kernelreg.compare",
    "KernelRegimeRegressor": "kernelreg.estimators",
    "KernelRegimeClassifier": "kernelreg.estimators",
    "KernelRegimeRegressorCV": "kernelreg.estimators",
    "KernelRegimeClassifierCV": "kernelreg.estimators",
    "AdaptiveRegressor": "kernelreg.estimators",
    "AdaptiveClassifier": "kernelreg.estimators",
    "KernelregError": "kernelreg.exceptions",
    "NotFittedError": "kernelreg.exceptions",
    "SolverError": "kernelreg.exceptions",
    "DivergenceError": "kernelreg.exceptions",
    "DeviceError": "kernelreg.exceptions",
}

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
    "KernelRegimeRegressorCV",
    "KernelRegimeClassifierCV",
    "AdaptiveRegressor",
    "AdaptiveClassifier",
    "freeze",
    "KernelregError",
    "NotFittedError",
    "SolverError",
    "DivergenceError",
    "DeviceError",
]

if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from kernelreg import activations
    from kernelreg.compare import FitComparison, compare_fits, compare_methods
    from kernelreg.estimators import (
        AdaptiveClassifier,
        AdaptiveRegressor,
        KernelRegimeClassifier,
        KernelRegimeClassifierCV,
        KernelRegimeRegressor,
        KernelRegimeRegressorCV,
    )
    from kernelreg.exceptions import DeviceError, DivergenceError, KernelregError, NotFittedError, SolverError
    from kernelreg.features import ModuleFeatureMap, RandomFeatureMap, freeze
    from kernelreg.solvers import Solution, solve


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (and any submodule, e.g. ``kernelreg.solvers``)."""
    module_name = _LAZY.get(name)
    if module_name is not None:
        module = importlib.import_module(module_name)
        value = module if module_name == f"{__name__}.{name}" else getattr(module, name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    """The module's names, the public ones included before they are loaded."""
    return sorted(set(globals()) | set(__all__))
