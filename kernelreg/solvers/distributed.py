"""dask arrays as the feature matrix: the exact solve from blockwise Gram / TSQR reductions on a dask cluster.

kernelreg does not run its own cluster. A dask Phi (e.g. ``RandomFeatureMap.transform`` of a dask
X) is reduced where its chunks live, by whatever scheduler is active (a ``dask.distributed.Client``
if one is connected, the threaded scheduler otherwise); only the n x n (or N x N) statistics reach
this process, where the factorisation runs in torch on ``device``. dask is imported lazily: this
module loads without it.

Reductions, each one ``dask.compute`` (one pass over Phi):

* tall:  ``Phi^T Phi`` and ``Phi^T y`` together (``da.dot`` with a tree sum over row chunks);
* tall, ``decomposition="qr"``: R of ``da.linalg.tsqr([Phi | y])`` (rows chunked, one column block);
* wide:  ``Phi Phi^T``; wide, ``"qr"``: R of ``da.linalg.tsqr(Phi^T)``;
* the certificate's pass: the residual ``Phi c + b - y``, ``Phi^T r`` and ``Phi^T alpha`` in one graph;
  ``Phi^T alpha`` alone for the coefficients of a wide solve.

A task that raises inside a worker re-raises in the caller from ``compute``: failures surface as
exceptions, never as a hang.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kernelreg._dask import dask_array
from kernelreg._torch import to_numpy64
from kernelreg.solvers._sources import Source

__all__ = ["DaskSource"]


class DaskSource(Source):
    """A dask Phi behind the exact solver's reductions; results come back as float64 tensors on ``device``.

    Parameters
    ----------
    Phi : dask.array.Array of shape (n_samples, n_features)
        Real-valued, of known shape; blocks are converted to float64 where they are computed.
    device : torch.device
        Where the returned statistics go (the factorisation device).
    """

    kind = "dask"

    def __init__(self, Phi: Any, device: torch.device) -> None:
        super().__init__()
        self.da = dask_array()
        self.P = Phi.astype(np.float64)
        self.device = device
        self.n_samples, self.n_features = int(Phi.shape[0]), int(Phi.shape[1])

    def _rows(self, values: torch.Tensor) -> Any:
        """A (N, m) tensor as a dask array whose row chunks line up with Phi's."""
        array = to_numpy64(values)
        if array.ndim == 1:
            return self.da.from_array(array, chunks=(self.P.chunks[0],))
        return self.da.from_array(array, chunks=(self.P.chunks[0], (array.shape[1],)))

    def _scaled(self, scale: torch.Tensor | None) -> Any:
        """diag(scale) Phi as a dask expression (Phi itself without scales)."""
        return self.P if scale is None else self.P * self._rows(scale)[:, None]

    def _compute(self, *arrays: Any) -> tuple[Any, ...]:
        """One pass: compute the given dask collections together (shared reads of Phi's chunks)."""
        import dask

        self.passes += 1
        return dask.compute(*arrays)

    def _tensor(self, array: Any) -> torch.Tensor:
        """A computed numpy result as a float64 tensor on the device."""
        return torch.as_tensor(np.asarray(array, dtype=np.float64), dtype=torch.float64, device=self.device)

    def wide_gram(self) -> torch.Tensor:
        """``Phi Phi^T`` (wide Phi: the N x N Gram must fit in this process)."""
        (G,) = self._compute(self.P @ self.P.T)
        return self._tensor(G)

    def tall_gram(self, scale: torch.Tensor | None, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(S Phi)^T (S Phi)`` and ``Phi^T A`` in one graph."""
        SP = self._scaled(scale)
        G, b = self._compute(SP.T @ SP, self.P.T @ self._rows(A))
        return self._tensor(G), self._tensor(b)

    def wide_r(self) -> torch.Tensor:
        """R of the TSQR of ``Phi^T`` (Phi's column chunks become row blocks)."""
        _, R = self.da.linalg.tsqr(self.P.T.rechunk({1: -1}))
        (R,) = self._compute(R)
        return self._tensor(R)

    def tall_r(self, left: torch.Tensor | None, scale: torch.Tensor | None, right: torch.Tensor) -> torch.Tensor:
        """R of the TSQR of ``[left | S Phi | right]`` (dask's tall-and-skinny QR on one column of blocks)."""
        parts = ([] if left is None else [self._rows(left)]) + [self._scaled(scale), self._rows(right)]
        stacked = self.da.concatenate(parts, axis=1).rechunk({1: -1})
        _, R = self.da.linalg.tsqr(stacked)
        (R,) = self._compute(R)
        return self._tensor(R)

    def matvec(self, X: torch.Tensor) -> torch.Tensor:
        """``Phi X``."""
        (out,) = self._compute(self.P @ to_numpy64(X))
        return self._tensor(out)

    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``Phi^T A`` (e.g. coef = Phi^T alpha of a wide solve)."""
        (out,) = self._compute(self.P.T @ self._rows(A))
        return self._tensor(out)

    def residual(
        self,
        C: torch.Tensor,
        shift: torch.Tensor,
        Y: torch.Tensor,
        scale: torch.Tensor | None,
        extra: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Residual, ``Phi^T [S R | extra]`` and ``||Phi||_F^2``: one graph, only n x m numbers come back."""
        R = self.P @ to_numpy64(C) + to_numpy64(shift) - self._rows(Y)
        if scale is not None:
            s = self._rows(scale)[:, None]
            R = R * s
            SR = R * s
        else:
            SR = R
        stacked = SR if extra is None else self.da.concatenate([SR, self._rows(extra)], axis=1)
        R_np, T, fro2 = self._compute(R, self.P.T @ stacked, (self.P**2).sum())
        return self._tensor(R_np), self._tensor(T), float(fro2)

    def describe(self) -> dict[str, Any]:
        """Chunk structure of the dask Phi for ``Solution.info``."""
        info = super().describe()
        info.update(streamed=True, n_row_chunks=len(self.P.chunks[0]), n_col_chunks=len(self.P.chunks[1]))
        return info
