"""Many small MLPs of the same shape trained as one: stacked weights, batched matrix products, one Adam.

The IAT paper's tables train dozens of 10-layer, width-10 networks (36 basis pairs, scalar baselines,
mesh ratios, several runs each) on the same 2500 points. :class:`StackedNetwork` holds R such
networks with their weights stacked along a leading axis and evaluates all of them with ``bmm``;
training the sum of their per-network losses with Adam (elementwise) trains each exactly as it
would alone (each loss touches only its own slice), so one process trains many cells at once —
on a GPU that is what makes the paper's setting affordable.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from kernelreg.layers import IAT
from kernelreg.networks import MLP, ActivationModule

__all__ = ["StackedNetwork", "sum_of_column_mses"]


def sum_of_column_mses(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Σ_r MSE_r over the columns (networks): each network's gradient is exactly its own MSE's gradient."""
    return ((pred - target) ** 2).mean(dim=0).sum()


class StackedNetwork(nn.Module):
    """R MLPs of one architecture, evaluated together: (n_samples, in_features) → (n_samples, R).

    Built from :class:`~kernelreg.networks.MLP` s by :meth:`from_mlps` (their weights are copied).
    Every hidden layer of every network must use the same kind of activation: a discretised
    :class:`~kernelreg.layers.IAT` (IAT-ReLU; the bases may differ between the networks, the mesh
    size may not) or one zoo activation.

    Parameters
    ----------
    weights, biases : sequence of Tensor
        Per layer, shapes (R, out, in) and (R, out).
    activations : sequence of dict
        Per hidden layer: ``{"kind": "iat", "P": (R, d, M), "Q": (R, d, M)}`` or
        ``{"kind": "scalar", "fn": callable}``.
    """

    def __init__(self, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor],
                 activations: Sequence[dict]) -> None:
        super().__init__()
        if len(weights) != len(biases) or len(activations) != len(weights) - 1:
            raise ValueError(
                f"StackedNetwork needs one bias per weight and one activation per hidden layer; got "
                f"{len(weights)} weights, {len(biases)} biases and {len(activations)} activations."
            )
        self.weights = nn.ParameterList([nn.Parameter(w.detach().clone()) for w in weights])
        self.biases = nn.ParameterList([nn.Parameter(b.detach().clone()) for b in biases])
        self.kinds = [a["kind"] for a in activations]
        self._fns = [a.get("fn") for a in activations]
        for i, act in enumerate(activations):
            if act["kind"] == "iat":
                self.register_buffer(f"P{i}", act["P"].detach().clone())
                self.register_buffer(f"Q{i}", act["Q"].detach().clone())

    @property
    def n_nets(self) -> int:
        return self.weights[0].shape[0]

    @classmethod
    def from_mlps(cls, mlps: Sequence[MLP]) -> StackedNetwork:
        """Stack networks of one architecture (weights copied; IAT bases taken from each network's layers)."""
        if not mlps:
            raise ValueError("StackedNetwork.from_mlps needs at least one network.")
        shape = [(b.linear.in_features, b.linear.out_features) for b in mlps[0].blocks]
        for net in mlps:
            if [(b.linear.in_features, b.linear.out_features) for b in net.blocks] != shape:
                raise ValueError("StackedNetwork.from_mlps needs networks of one architecture; the layer sizes differ.")
        linears = [[b.linear for b in net.blocks] + [net.output] for net in mlps]
        weights = [torch.stack([lin[k].weight for lin in linears]) for k in range(len(linears[0]))]
        biases = [torch.stack([lin[k].bias for lin in linears]) for k in range(len(linears[0]))]
        activations = []
        for k in range(len(shape)):
            acts = [net.blocks[k].activation for net in mlps]
            if all(isinstance(a, IAT) for a in acts):
                if any(a.mode != "discrete" or not a._is_relu() or a.batchnorm is not None for a in acts):
                    raise ValueError("StackedNetwork stacks discretised IAT-ReLU layers without BatchNorm only.")
                if len({a.n_mesh for a in acts}) != 1:
                    raise ValueError(f"StackedNetwork needs one mesh size per layer; got {sorted({a.n_mesh for a in acts})}.")
                activations.append({"kind": "iat", "P": torch.stack([a.P for a in acts]),
                                    "Q": torch.stack([a.Q for a in acts])})
            elif all(isinstance(a, ActivationModule) for a in acts) and len({a.activation.name for a in acts}) == 1:
                activations.append({"kind": "scalar", "fn": acts[0].activation})
            else:
                raise ValueError(
                    f"StackedNetwork needs one kind of activation per layer (all discretised IATs or one zoo "
                    f"activation); layer {k} has {sorted({type(a).__name__ for a in acts})}."
                )
        return cls(weights, biases, activations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs of every network, shape (n_samples, R) for x of shape (n_samples, in_features)."""
        h = x.to(self.weights[0].dtype).unsqueeze(0).expand(self.n_nets, -1, -1)
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if k == last:
                break
            if self.kinds[k] == "iat":
                P, Q = getattr(self, f"P{k}"), getattr(self, f"Q{k}")
                h = torch.bmm(torch.relu(torch.bmm(h, P)), Q.transpose(1, 2)) * (2.0 / P.shape[-1])
            else:
                h = self._fns[k](h)
        return h[..., 0].T

    @torch.no_grad()
    def copy_into(self, mlp: MLP, net: int) -> MLP:
        """Write network ``net``'s weights into an MLP of the same architecture (e.g. to read its patterns)."""
        linears = [b.linear for b in mlp.blocks] + [mlp.output]
        for lin, w, b in zip(linears, self.weights, self.biases):
            lin.weight.copy_(w[net])
            lin.bias.copy_(b[net])
        return mlp
