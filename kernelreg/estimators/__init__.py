"""Estimators stage: scikit-learn estimators of the kernel regime and the adaptive regime on one output-layer base.

The last stage before ``bench`` / ``cli`` in the kernelreg flow. Every estimator is features → one
linear output layer: :class:`KernelRegimeRegressor` / :class:`KernelRegimeClassifier` draw a frozen
random hidden layer (:class:`kernelreg.features.RandomFeatureMap`) and solve the output layer with
:func:`kernelreg.solvers.solve` (by default at the eps GCV chooses; :class:`KernelRegimeRegressorCV` /
:class:`KernelRegimeClassifierCV` score a grid of eps by GCV or leave-one-out from one factorisation); :class:`AdaptiveRegressor` / :class:`AdaptiveClassifier` train an
:class:`kernelreg.networks.MLP` (:func:`kernelreg.training.train`) and either read its trained output
layer or freeze its hidden part and solve. The shared base (``_base.OutputLayerEstimator``) owns the
output-layer solve, target coding, the device, atomic fits, predictions from fitted state only,
device-safe pickling and ``prefix__name`` sub-parameter routing (``_routing``).
"""

from kernelreg.estimators._adaptive import AdaptiveClassifier, AdaptiveRegressor
from kernelreg.estimators._kernel_regime import (
    KernelRegimeClassifier,
    KernelRegimeClassifierCV,
    KernelRegimeRegressor,
    KernelRegimeRegressorCV,
)

__all__ = [
    "KernelRegimeRegressor",
    "KernelRegimeClassifier",
    "KernelRegimeRegressorCV",
    "KernelRegimeClassifierCV",
    "AdaptiveRegressor",
    "AdaptiveClassifier",
]
