"""The Rowdy paper's Helmholtz PINN (§4.3, Figs. 7–11): problem data, the residual as a module, the error.

u_xx + u_yy + k²u = g on [-1, 1]² with Dirichlet data from the exact solution u = sin(aπx)·sin(bπy)
(a, b = 1, 4 for Figs. 7–9 and 5, 10 for the high-frequency Figs. 10–11), k = 1, so
g = (k² − (aπ)² − (bπ)²)·u. The loss is mean(residual²) over random interior points plus
mean((u − u_exact)²) over random boundary points; second derivatives by autograd.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from kernelreg.training import Callback

__all__ = ["HelmholtzProblem", "PINNResidual", "ErrorRecorder", "switch_rowdy_to_laaf"]


class HelmholtzProblem:
    """The exact solution, the forcing and the training points of one Helmholtz problem.

    Parameters
    ----------
    a, b : float
        Frequencies of u = sin(aπx)·sin(bπy).
    k : float, default=1.0
    n_residual, n_boundary : int
        Random interior points (uniform on [-1, 1]²) and random boundary points (uniform on the
        perimeter).
    random_state : int
    """

    def __init__(self, a: float, b: float, *, k: float = 1.0, n_residual: int = 6000, n_boundary: int = 300,
                 random_state: int = 0) -> None:
        self.a, self.b, self.k = float(a), float(b), float(k)
        rng = np.random.default_rng(random_state)
        self.interior = rng.uniform(-1.0, 1.0, (n_residual, 2))
        t = rng.uniform(0.0, 4.0, n_boundary)  # position along the perimeter, one unit per side
        side, s = np.floor(t).astype(int), 2.0 * (t % 1.0) - 1.0
        xs = np.where(side == 0, s, np.where(side == 1, 1.0, np.where(side == 2, -s, -1.0)))
        ys = np.where(side == 0, -1.0, np.where(side == 1, s, np.where(side == 2, 1.0, -s)))
        self.boundary = np.stack([xs, ys], axis=1)

    def exact(self, xy: np.ndarray) -> np.ndarray:
        """u(x, y) = sin(aπx)·sin(bπy)."""
        return np.sin(self.a * math.pi * xy[:, 0]) * np.sin(self.b * math.pi * xy[:, 1])

    def forcing(self, xy: np.ndarray) -> np.ndarray:
        """g = Δu + k²u = (k² − (aπ)² − (bπ)²)·u."""
        return (self.k**2 - (self.a * math.pi) ** 2 - (self.b * math.pi) ** 2) * self.exact(xy)

    def training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) for :class:`PINNResidual`: rows (x, y, flag) with flag 0 interior / 1 boundary, and their targets.

        Targets are scaled like the module's outputs, so that the plain MSE over all rows is
        mean(residual²) + mean(boundary error²).
        """
        n_r, n_b = len(self.interior), len(self.boundary)
        n = n_r + n_b
        w_r, w_b = math.sqrt(n / n_r), math.sqrt(n / n_b)
        X = np.concatenate([np.c_[self.interior, np.zeros(n_r)], np.c_[self.boundary, np.ones(n_b)]])
        y = np.concatenate([w_r * self.forcing(self.interior), w_b * self.exact(self.boundary)])
        return X, y

    def test_grid(self, resolution: int = 101) -> tuple[np.ndarray, np.ndarray]:
        """A resolution² grid of [-1, 1]² and the exact solution on it."""
        g = np.linspace(-1.0, 1.0, resolution)
        xy = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
        return xy, self.exact(xy)


class PINNResidual(nn.Module):
    """Rows (x, y, flag) → the scaled PDE residual Δu + k²u (flag 0) or the scaled boundary value u (flag 1).

    With :meth:`HelmholtzProblem.training_data` as targets, a plain MSE is the PINN loss; the
    network ``net`` (2 → 1) is trained through this module. Second derivatives come from autograd
    (``create_graph=True``), so the activations' own second derivatives must be exact (they are for
    tanh, LAAF and Rowdy).
    """

    in_features = 3

    def __init__(self, net: nn.Module, k: float, n_residual: int, n_boundary: int) -> None:
        super().__init__()
        self.net, self.k = net, float(k)
        n = n_residual + n_boundary
        self.w_r, self.w_b = math.sqrt(n / n_residual), math.sqrt(n / n_boundary)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """Scaled residual or boundary value per row, shape (n_rows, 1)."""
        with torch.enable_grad():
            xy = rows[:, :2].detach().requires_grad_(True)
            u = self.net(xy)
            (du,) = torch.autograd.grad(u.sum(), xy, create_graph=True)
            (u_xx,) = torch.autograd.grad(du[:, 0].sum(), xy, create_graph=True)
            (u_yy,) = torch.autograd.grad(du[:, 1].sum(), xy, create_graph=True)
        residual = u_xx[:, :1] + u_yy[:, 1:] + self.k**2 * u
        boundary = rows[:, 2:] > 0.5
        return torch.where(boundary, self.w_b * u, self.w_r * residual)


class ErrorRecorder(Callback):
    """Relative L2 error ‖u − u_exact‖ / ‖u_exact‖ on a test grid every ``every`` iterations (and at the start).

    It counts the iterations it has seen itself (over several trainings, e.g. before and after the
    Rowdy → L-LAAF switch, and across resumed ones: ``state`` / ``load``).
    """

    def __init__(self, net: nn.Module, xy: np.ndarray, exact: np.ndarray, every: int) -> None:
        self.net, self.every = net, max(1, int(every))
        self.xy, self.exact = xy, exact
        self.count = 0
        self.epochs: list[int] = []
        self.errors: list[float] = []

    def state(self) -> dict:
        """What a resumed training needs to continue the record."""
        return {"count": self.count, "epochs": list(self.epochs), "errors": list(self.errors)}

    def load(self, state: dict) -> None:
        """Continue from :meth:`state`."""
        self.count, self.epochs, self.errors = int(state["count"]), list(state["epochs"]), list(state["errors"])

    def error(self) -> float:
        """The current relative L2 error."""
        p = next(self.net.parameters())
        with torch.no_grad():
            u = self.net(torch.as_tensor(self.xy, dtype=p.dtype, device=p.device))[:, 0].cpu().double().numpy()
        return float(np.linalg.norm(u - self.exact) / np.linalg.norm(self.exact))

    def on_train_begin(self, trainer, **kwargs) -> None:
        if not self.epochs:
            self.epochs.append(0)
            self.errors.append(self.error())

    def on_epoch_end(self, trainer, epoch: int, **kwargs) -> None:
        self.count += 1
        if self.count % self.every == 0:
            self.epochs.append(self.count)
            self.errors.append(self.error())


@torch.no_grad()
def switch_rowdy_to_laaf(rowdy_net: nn.Module, laaf_net: nn.Module) -> nn.Module:
    """Continue a Rowdy network as L-LAAF (the paper's Fig. 9): same weights, slope n·a = n·ω_1, branches dropped.

    Both are :class:`~kernelreg.networks.MLP` s of one shape with the same n; returns ``laaf_net``.
    """
    for src, dst in zip(rowdy_net.blocks, laaf_net.blocks):
        dst.linear.load_state_dict(src.linear.state_dict())
        if src.activation.n != dst.activation.n:
            raise ValueError(f"switch_rowdy_to_laaf needs one n; got {src.activation.n} and {dst.activation.n}.")
        dst.activation.a.copy_(src.activation.omega[..., 0].mean())
    laaf_net.output.load_state_dict(rowdy_net.output.state_dict())
    return laaf_net
