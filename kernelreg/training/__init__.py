"""Training stage: the one training loop of the library, and the compositional networks' staged training.

This stage sits between ``networks`` and ``features`` in the kernelreg flow. :func:`train` (or a
:class:`Trainer` built from a frozen :class:`TrainOptions`) trains any torch module in place with a
full-batch fast path, mini-batches, Adam / AdamW / SGD / L-BFGS, learning-rate schedules (including
the Rowdy paper's step annealing), early stopping, best-state restore, divergence detection and
skorch-style callbacks and per-epoch history. A ``KeyboardInterrupt`` always reaches the caller,
after the loop has cleaned up. :mod:`kernelreg.training.compositional` trains the compositional
triangle-wave networks of the seed papers 001 + 004 in three stages, with their baselines.

Imports only ``layers``, ``exceptions`` and the leaf helpers ``_torch`` / ``_checks`` from kernelreg
(the training loop works on any ``nn.Module``; it needs nothing from ``networks``).
"""

from kernelreg.training._options import LOSSES, ON_DIVERGENCE, OPTIMIZERS, SCHEDULES, STOP_REASONS, TrainOptions
from kernelreg.training._result import TrainResult
from kernelreg.training._train import train
from kernelreg.training._trainer import Callback, Trainer

__all__ = [
    "LOSSES",
    "ON_DIVERGENCE",
    "OPTIMIZERS",
    "SCHEDULES",
    "STOP_REASONS",
    "Callback",
    "TrainOptions",
    "TrainResult",
    "Trainer",
    "train",
]
