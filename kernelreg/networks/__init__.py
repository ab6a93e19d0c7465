"""Networks stage: MLPs from any activation, layer building from names, and the hidden part as a feature module.

This stage sits between ``layers`` and ``training`` in the kernelreg flow. It builds multilayer
perceptrons whose hidden layers use any scalar activation of the zoo
(:func:`kernelreg.activations.get`), one of the adaptive layer families of :mod:`kernelreg.layers`
(``"rowdy"``, ``"laaf"``, ``"kronecker"``, ``"iat"``) or any module factory
(:func:`build_activation`), and gives the hidden part as a standalone torch module
(:meth:`MLP.feature_module`) with the readouts of ``research/iat_rowdy.md`` §3, which
``kernelreg.features`` freezes into a feature map. The training loop is in :mod:`kernelreg.training`.

Imports only ``activations``, ``layers``, ``exceptions`` and the leaf helpers ``_torch`` / ``_checks``.
"""

from kernelreg.networks._activation import ADAPTIVE_FAMILIES, ActivationModule, build_activation
from kernelreg.networks._mlp import INITS, MLP, READOUTS, HiddenBlock, HiddenFeatures

__all__ = [
    "ADAPTIVE_FAMILIES",
    "INITS",
    "READOUTS",
    "ActivationModule",
    "HiddenBlock",
    "HiddenFeatures",
    "MLP",
    "build_activation",
]
