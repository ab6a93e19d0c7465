"""Helpers shared by the network and training tests: a small regression task and weight snapshots."""

from __future__ import annotations

import numpy as np
import torch


def regression_data(n=40, d=2, seed=0):
    """X uniform on [-1, 1]^d and a smooth target of the first and last inputs."""
    rs = np.random.RandomState(seed)
    X = rs.uniform(-1.0, 1.0, (n, d))
    y = np.sin(3.0 * X[:, 0]) + 0.5 * X[:, -1] ** 2
    return X, y


def state(module):
    """A detached copy of every parameter and buffer."""
    return [t.detach().clone() for t in module.state_dict().values()]


def same_state(a, b):
    """Bitwise equality of two snapshots (for copies of the same values, never across computations)."""
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def mse(net, X, y):
    """Mean squared error of a one-output network, computed independently of the training loop."""
    with torch.no_grad():
        pred = net(torch.as_tensor(X, dtype=torch.float64))
        return float(((pred[:, 0] - torch.as_tensor(y, dtype=torch.float64)) ** 2).mean())
