"""dask arrays as the feature matrix: the exact solve from blockwise Gram / TSQR reductions on a dask cluster.

kernelreg does not run its own cluster. A dask Phi (e.g. ``RandomFeatureMap.transform`` of a dask
X) is reduced where its chunks live, by whatever scheduler is active (a ``dask.distributed.Client``
if one is connected, the threaded scheduler otherwise); only the n x n (or N x N) statistics reach
this process, where the factorisation runs in torch on ``device``. dask is imported lazily: this
module loads without it.

Reductions, each one ``dask.compute`` (one pass over Phi):

* tall:  ``Phi^T Phi`` and ``Phi^T y`` together (``da.dot`` with a tree sum over row chunks);
* tall, ``decomposition="qr"``: R of ``da.linalg.tsqr([Phi | y])`` (rows chunked, one column block);
* wide:  ``Phi Phi^T``;
* residual ``||Phi c - y||^2`` and ``Phi^T alpha`` for the final solution.

A task that raises inside a worker re-raises in the caller from ``compute``: failures surface as
exceptions, never as a hang.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kernelreg._dask import dask_array
from kernelreg._torch import to_numpy64
from kernelreg.solvers.streamed import _Source

__all__ = ["DaskSource"]


class DaskSource(_Source):
    """A dask Phi behind the streamed solver's reductions; results come back as float64 tensors on ``device``.

    Parameters
    ----------
    Phi : dask.array.Array of shape (n_samples, n_features)
        Real-valued; blocks are converted to float64 where they are computed.
    device : torch.device
        Where the returned statistics go (the factorisation device).
    """

    kind = "dask"

    def __init__(self, Phi: Any, device: torch.device) -> None:
        super().__init__()
        da = dask_array()
        if Phi.ndim != 2:
            raise ValueError(
                f"Phi must be a 2-D feature matrix of shape (n_samples, n_features); got a {Phi.ndim}-D "
                f"dask array of shape {Phi.shape}."
            )
        if any(np.isnan(d) for d in Phi.shape):
            raise ValueError(
                f"Phi is a dask array of unknown shape {Phi.shape}; call Phi.compute_chunk_sizes() first."
            )
        if np.dtype(Phi.dtype).kind not in "fiub":
            raise TypeError(f"Phi must hold real numbers; got a dask array of dtype {Phi.dtype}.")
        self.da = da
        self.P = Phi.astype(np.float64)
        self.device = device
        self.n_samples, self.n_features = int(Phi.shape[0]), int(Phi.shape[1])

    def _y(self, Y: np.ndarray) -> Any:
        """y as a dask array whose row chunks line up with Phi's."""
        return self.da.from_array(Y, chunks=(self.P.chunks[0], (Y.shape[1],)))

    def _compute(self, *arrays: Any) -> tuple[Any, ...]:
        """One pass: compute the given dask collections together (shared reads of Phi's chunks)."""
        import dask

        self.passes += 1
        return dask.compute(*arrays)

    def _tensor(self, array: Any) -> torch.Tensor:
        """A computed numpy result as a float64 tensor on the device."""
        return torch.as_tensor(np.asarray(array, dtype=np.float64), dtype=torch.float64, device=self.device)

    def col_gram(self, Y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``Phi^T Phi`` and ``Phi^T y`` in one graph."""
        P = self.P
        G, b = self._compute(P.T @ P, P.T @ self._y(Y))
        return self._tensor(G), self._tensor(b)

    def row_gram(self) -> torch.Tensor:
        """``Phi Phi^T`` (wide Phi: the N x N Gram must fit in this process)."""
        (G,) = self._compute(self.P @ self.P.T)
        return self._tensor(G)

    def tsqr(self, Y: np.ndarray) -> torch.Tensor:
        """R of the TSQR of ``[Phi | y]`` (dask's tall-and-skinny QR on one column of blocks)."""
        stacked = self.da.concatenate([self.P, self._y(Y)], axis=1).rechunk({1: -1})
        _, R = self.da.linalg.tsqr(stacked)
        (R,) = self._compute(R)
        return self._tensor(R)

    def residual_ss(self, coef: torch.Tensor, Y: np.ndarray) -> float:
        """``||Phi c - y||^2`` summed blockwise; only a scalar comes back."""
        (ss,) = self._compute(((self.P @ to_numpy64(coef) - self._y(Y)) ** 2).sum())
        return float(ss)

    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``Phi^T alpha`` (coef of a wide solve)."""
        (out,) = self._compute(self.P.T @ self._y(to_numpy64(A)))
        return self._tensor(out)

    def describe(self) -> dict[str, Any]:
        """Chunk structure of the dask Phi for ``Solution.info``."""
        info = super().describe()
        info.update(n_row_chunks=len(self.P.chunks[0]), n_col_chunks=len(self.P.chunks[1]))
        return info
