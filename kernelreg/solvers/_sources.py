"""Where Phi lives, behind one small protocol: in memory (a tensor on the solve device), chunked arrays and memory maps.

The exact solver, the certificate and the streamed path never touch Phi directly; they ask a
:class:`Source` for the few reductions they need, each one pass over Phi, returned as float64
tensors on the solve device:

* ``wide_gram()``  ``Phi Phi^T``;        ``tall_gram(s, A)``  ``(S Phi)^T (S Phi)`` and ``Phi^T A``;
* ``wide_r()``     R of ``Phi^T = Q R``;  ``tall_r(left, s, right)``  R of ``[left | S Phi | right]``;
* ``matvec(X)``    ``Phi X``;            ``rmatvec(A)``  ``Phi^T A``;
* ``residual(C, shift, Y, s, extra)``  ``R = S (Phi C + shift - Y)`` with ``Phi^T [S R | extra]``

(``S = diag(s)`` are row scales: square roots of sample weights). :class:`DenseSource` holds Phi as
one tensor on the device (a float64 tensor already there is used as it is: no copy, no host round
trip); :class:`ChunkedSource` reads any sliceable array (numpy, memory map, tensor) in chunks sized
by ``max_memory``; ``kernelreg.solvers.distributed.DaskSource`` reduces a dask array where its
chunks live.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
import torch

from kernelreg._memory import CHUNK_BYTES, chunk_rows, read_block
from kernelreg.solvers._linalg import gram_matrix, r_factor

__all__ = ["Source", "DenseSource", "ChunkedSource", "nonfinite_error"]

_F64 = 8


def nonfinite_error(detail: str) -> ValueError:
    """The error for NaN/inf found in Phi (in memory or while streaming)."""
    return ValueError(
        f"Phi contains NaN or infinite values: {detail}; solvers need finite input. Remove or impute "
        "those entries (check the features for overflow, e.g. a float32 activation)."
    )


def _scaled_rows(block: torch.Tensor, rows: slice, scale: torch.Tensor | None) -> torch.Tensor:
    """``diag(scale[rows]) @ block`` (a new tensor), or the block itself without row scales."""
    return block if scale is None else block * scale[rows, None]


class Source(ABC):
    """Phi behind the reductions of the exact solver and the certificate (each method is one pass)."""

    kind: str
    n_samples: int
    n_features: int
    device: torch.device

    def __init__(self) -> None:
        self.passes = 0

    @abstractmethod
    def wide_gram(self) -> torch.Tensor:
        """``Phi Phi^T`` (n_samples x n_samples)."""

    @abstractmethod
    def tall_gram(self, scale: torch.Tensor | None, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``((S Phi)^T (S Phi), Phi^T A)`` for row scales ``scale`` (None: ones) and A of shape (N, m)."""

    @abstractmethod
    def wide_r(self) -> torch.Tensor:
        """Upper-triangular R (N x N) of ``Phi^T = Q R`` (needs n_features >= n_samples)."""

    @abstractmethod
    def tall_r(self, left: torch.Tensor | None, scale: torch.Tensor | None, right: torch.Tensor) -> torch.Tensor:
        """Upper-triangular R of ``[left | S Phi | right] = Q R`` (tall: N >= columns)."""

    @abstractmethod
    def matvec(self, X: torch.Tensor) -> torch.Tensor:
        """``Phi X`` for X of shape (n_features, m)."""

    @abstractmethod
    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``Phi^T A`` for A of shape (n_samples, m)."""

    @abstractmethod
    def residual(
        self,
        C: torch.Tensor,
        shift: torch.Tensor,
        Y: torch.Tensor,
        scale: torch.Tensor | None,
        extra: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """One pass: ``R = S (Phi C + shift - Y)``, ``Phi^T [S R | extra]`` and ``||Phi||_F^2``."""

    def describe(self) -> dict[str, Any]:
        """Facts about the source for ``Solution.info``."""
        return {"source": self.kind, "passes": self.passes}


class DenseSource(Source):
    """Phi held as one tensor on the solve device: every reduction is one product, no chunking.

    A float64 Phi is used as it is. A lower-precision Phi (float32 features for GD in float32)
    is converted to float64 block by block (at most ``CHUNK_BYTES`` at a time) for the exact
    reductions and the certificate, never as a whole.

    Parameters
    ----------
    Phi : torch.Tensor of shape (n_samples, n_features)
        On ``Phi.device`` (the solve device); validated by the caller.
    kind : str
        ``"array"`` or ``"tensor"``: what the caller passed (for ``info``).
    fro2 : float or None
        ``||Phi||_F^2`` if known (the certificate's rounding charge needs it).
    """

    def __init__(self, Phi: torch.Tensor, kind: str = "tensor", fro2: float | None = None) -> None:
        super().__init__()
        self.P = Phi
        self.kind = kind
        self.device = Phi.device
        self.n_samples, self.n_features = int(Phi.shape[0]), int(Phi.shape[1])
        self._fro2 = fro2  # ||Phi||_F^2 when the validation pass already measured it

    @property
    def _f64(self) -> bool:
        """Phi is float64: products use it directly."""
        return self.P.dtype == torch.float64

    def _blocks(self, scale: torch.Tensor | None = None) -> Iterator[tuple[slice, torch.Tensor]]:
        """Row blocks of (row-scaled) Phi in float64, at most CHUNK_BYTES each."""
        step = max(1, CHUNK_BYTES // (_F64 * self.n_features))
        for start in range(0, self.n_samples, step):
            rows = slice(start, min(start + step, self.n_samples))
            yield rows, _scaled_rows(self.P[rows].to(torch.float64), rows, scale)

    def wide_gram(self) -> torch.Tensor:
        """``Phi Phi^T`` (a symmetric rank-k update on the CPU)."""
        self.passes += 1
        if self._f64:
            return gram_matrix(self.P, wide=True)
        P = self.P.to(torch.float64)  # wide: N x N output, the float64 copy is needed by the product
        return gram_matrix(P, wide=True)

    def tall_gram(self, scale: torch.Tensor | None, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(S Phi)^T (S Phi)`` and ``Phi^T A``; with row scales or a lower precision, accumulated over
        row blocks of at most ``CHUNK_BYTES`` (never a scaled or converted copy of the whole Phi)."""
        self.passes += 1
        if scale is None and self._f64:
            return gram_matrix(self.P, wide=False), self.P.mT @ A
        n = self.n_features
        G = torch.zeros(n, n, dtype=torch.float64, device=self.device)
        b = torch.zeros(n, A.shape[1], dtype=torch.float64, device=self.device)
        for rows, B in self._blocks():
            gram_matrix(_scaled_rows(B, rows, scale), wide=False, out=G)
            b.addmm_(B.mT, A[rows])
        return G, b

    def wide_r(self) -> torch.Tensor:
        """R of the thin QR of ``Phi^T`` (the QR works on its own copy)."""
        self.passes += 1
        return r_factor(self.P.mT.to(torch.float64))

    def wide_qr(self) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        """R of the thin QR of ``Phi^T`` and a function applying Q (n x N) to N x K blocks.

        Q stays as LAPACK's Householder reflectors (``geqrf``; never formed by ``orgqr``, which
        would double the cost): ``Q z`` is one ``ormqr``. In memory, coef = Q z is backward stable
        where ``Phi^T alpha`` is not (it squares the condition number).
        """
        self.passes += 1
        a, tau = torch.geqrf(self.P.mT.to(torch.float64))
        N = self.n_samples
        R = torch.triu(a[:N])

        def apply_q(Z: torch.Tensor) -> torch.Tensor:
            padded = torch.zeros(a.shape[0], Z.shape[1], dtype=Z.dtype, device=Z.device)
            padded[:N] = Z
            return torch.ormqr(a, tau, padded)

        return R, apply_q

    def tall_r(self, left: torch.Tensor | None, scale: torch.Tensor | None, right: torch.Tensor) -> torch.Tensor:
        """R of ``[left | S Phi | right]`` (the stacked matrix is the QR's workspace)."""
        return self.tall_qr(left, scale, right)[0]

    def tall_qr(
        self, left: torch.Tensor | None, scale: torch.Tensor | None, right: torch.Tensor
    ) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        """R of ``[left | S Phi | right] = Q R`` and a function applying Q to blocks of R's rows.

        Q stays as Householder reflectors (``geqrf``; applying it is one ``ormqr``): in memory the
        exact solver builds its dual witness as ``Q [W g z; t / lam]`` without a product with Phi.
        """
        self.passes += 1
        P = _scaled_rows(self.P.to(torch.float64), slice(None), scale)
        parts = ([] if left is None else [left]) + [P, right]
        a, tau = torch.geqrf(torch.cat(parts, dim=1))
        rows = min(a.shape)
        R = torch.triu(a[:rows])

        def apply_q(Z: torch.Tensor) -> torch.Tensor:
            padded = torch.zeros(a.shape[0], Z.shape[1], dtype=Z.dtype, device=Z.device)
            padded[: Z.shape[0]] = Z
            return torch.ormqr(a, tau, padded)

        return R, apply_q

    def matvec(self, X: torch.Tensor) -> torch.Tensor:
        """``Phi X``."""
        self.passes += 1
        if self._f64:
            return self.P @ X
        return torch.cat([B @ X for _, B in self._blocks()], dim=0)

    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``Phi^T A``."""
        self.passes += 1
        if self._f64:
            return self.P.mT @ A
        out = torch.zeros(self.n_features, A.shape[1], dtype=torch.float64, device=self.device)
        for rows, B in self._blocks():
            out.addmm_(B.mT, A[rows])
        return out

    def residual(
        self,
        C: torch.Tensor,
        shift: torch.Tensor,
        Y: torch.Tensor,
        scale: torch.Tensor | None,
        extra: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Residual, ``Phi^T [S R | extra]`` and ``||Phi||_F^2`` (the last computed once and kept)."""
        if not self._f64:
            return _residual_by_rows(self, self._blocks(), C, shift, Y, scale, extra)
        self.passes += 1
        R = self.P @ C + shift - Y
        if scale is not None:
            R = R * scale[:, None]
        SR = R if scale is None else R * scale[:, None]
        stacked = SR if extra is None else torch.cat([SR, extra], dim=1)
        if self._fro2 is None:
            self._fro2 = float(torch.linalg.vector_norm(self.P)) ** 2
        return R, self.P.mT @ stacked, self._fro2


def _residual_by_rows(
    source: Source,
    blocks: Iterator[tuple[slice, torch.Tensor]],
    C: torch.Tensor,
    shift: torch.Tensor,
    Y: torch.Tensor,
    scale: torch.Tensor | None,
    extra: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The residual pass over float64 row blocks (shared by the chunked and the low-precision dense sources)."""
    if isinstance(source, DenseSource):
        source.passes += 1
    K = C.shape[1]
    width = K + (0 if extra is None else extra.shape[1])
    R = torch.empty(source.n_samples, K, dtype=torch.float64, device=source.device)
    out = torch.zeros(source.n_features, width, dtype=torch.float64, device=source.device)
    fro2 = 0.0
    for rows, B in blocks:
        r = B @ C + shift - Y[rows]
        if scale is not None:
            r = r * scale[rows, None]
        R[rows] = r
        sr = r if scale is None else r * scale[rows, None]
        out[:, :K].addmm_(B.mT, sr)
        if extra is not None:
            out[:, K:].addmm_(B.mT, extra[rows])
        fro2 += float(torch.linalg.vector_norm(B)) ** 2
    return R, out, fro2


class ChunkedSource(Source):
    """Any 2-D array with slicing (numpy, memory map, torch tensor) read in chunks sized by ``max_memory``.

    Each chunk is converted to float64 on the device and checked for NaN/inf; a float64 array in
    RAM (not a memory map) or a float64 tensor already on the device is viewed, not copied.
    """

    def __init__(self, Phi: Any, device: torch.device, max_memory: Any, n_outputs: int) -> None:
        super().__init__()
        self.Phi = Phi
        self.device = device
        self.max_memory = max_memory
        self.is_tensor = isinstance(Phi, torch.Tensor)
        self.kind = "memmap" if isinstance(Phi, np.memmap) else ("tensor" if self.is_tensor else "array")
        self.n_samples, self.n_features = int(Phi.shape[0]), int(Phi.shape[1])
        self.itemsize = Phi.element_size() if self.is_tensor else int(np.dtype(Phi.dtype).itemsize)
        self.n_outputs = n_outputs
        self.chunk = 0

    # ---------------------------------------------------------------- chunk planning
    def plan(self, mode: Literal["col_gram", "tsqr", "rows", "row_gram", "wide_r"], width: int | None = None) -> int:
        """Chunk length (rows, or columns for the wide modes) so the whole working set fits max_memory.

        ``width`` is the number of y-like columns carried along (default: the outputs).
        """
        N, n, K = self.n_samples, self.n_features, width or self.n_outputs
        if mode == "col_gram":  # G, its chunk product, eigenvectors, eigh workspace + b; per row: two copies + y
            fixed, per, what = 4 * n * n * _F64 + 2 * n * K * _F64, n * (self.itemsize + _F64) + K * _F64, "one row"
        elif mode == "tsqr":  # stacked [R; chunk], its QR copy, SVD of R
            m = n + K
            fixed, per, what = 4 * m * m * _F64, n * self.itemsize + 2 * m * _F64, "one row"
        elif mode == "rows":  # residual / products: coef and Phi^T A, one row of Phi and its outputs
            fixed, per, what = 2 * n * K * _F64, n * (self.itemsize + _F64) + 3 * K * _F64, "one row"
        elif mode == "wide_r":  # stacked [R; chunk^T] and its QR copy
            fixed, per, what = 4 * N * N * _F64, N * (self.itemsize + 3 * _F64), "one column"
        else:  # row_gram: G (N x N), chunk product, eigenvectors, workspace; per column: two copies
            fixed, per, what = 4 * N * N * _F64 + 2 * N * K * _F64, N * (self.itemsize + _F64), "one column"
        count = n if what == "one row" else N
        detail = f"{what} of Phi ({count} values of {self.itemsize} bytes, plus its float64 copy)"
        held = f"for the {'Gram/R statistics' if mode != 'rows' else 'coefficients'} of this {N} x {n} problem"
        return chunk_rows(
            per, self.max_memory, fixed_bytes=fixed, owner="solve(method='exact')", what=detail, fixed_what=held
        )

    def _pass(
        self, mode: Literal["col_gram", "tsqr", "rows", "row_gram", "wide_r"], width: int | None = None
    ) -> Iterator[tuple[slice, torch.Tensor]]:
        """One pass over Phi: yield (slice, float64 chunk on the device), reusing one buffer per pass.

        Row modes slice rows, the wide modes slice columns. Each chunk is checked for NaN/inf.
        """
        by_rows = mode in ("col_gram", "tsqr", "rows")
        self.chunk = length = self.plan(mode, width)
        self.passes += 1
        total = self.n_samples if by_rows else self.n_features
        shape = (min(length, total), self.n_features) if by_rows else (self.n_samples, min(length, total))
        in_ram = (  # a float64 array in RAM (not a memory map) is viewed chunk by chunk, not copied
            isinstance(self.Phi, np.ndarray)
            and not isinstance(self.Phi, np.memmap)
            and self.Phi.dtype == np.float64
            and self.device.type == "cpu"
        )
        if self.is_tensor:  # a float64 tensor already on the device is sliced, not copied
            host, direct = None, self.Phi.dtype == torch.float64 and self.Phi.device == self.device
        elif in_ram:
            host, direct = None, True
        else:
            host = np.empty(shape, dtype=self.Phi.dtype)
            direct = host.dtype == np.float64 and self.device.type == "cpu"
        device_buf = None if direct else torch.empty(shape, dtype=torch.float64, device=self.device)
        for start in range(0, total, length):
            stop = min(start + length, total)
            index = (slice(start, stop), slice(None)) if by_rows else (slice(None), slice(start, stop))
            part = (slice(0, stop - start), slice(None)) if by_rows else (slice(None), slice(0, stop - start))
            if in_ram:
                with warnings.catch_warnings():  # read-only arrays: the view is only read
                    warnings.simplefilter("ignore", UserWarning)
                    block = torch.from_numpy(self.Phi[index])
            elif self.is_tensor and direct:
                block = self.Phi[index]
            elif self.is_tensor:
                block = device_buf[part]
                block.copy_(self.Phi[index])
            else:
                read_block(self.Phi, *index, out=host[part])
                if direct:
                    block = torch.from_numpy(host[part])
                else:
                    block = device_buf[part]
                    block.copy_(torch.from_numpy(host[part]))
            self._check_finite(block, index)
            yield index[0] if by_rows else index[1], block

    def _check_finite(self, block: torch.Tensor, index: tuple[slice, slice]) -> None:
        """NaN/inf make the chunk's sum non-finite; only then count them (no full-size mask per chunk)."""
        if math.isfinite(float(block.sum())):
            return
        bad = int((~torch.isfinite(block)).sum())
        if bad:
            rows, cols = index
            where = (
                f"rows {rows.start}..{rows.stop - 1}"
                if rows.start is not None
                else f"columns {cols.start}..{cols.stop - 1}"
            )
            raise nonfinite_error(f"{bad} non-finite entries in {where}")

    # ---------------------------------------------------------------- reductions
    def wide_gram(self) -> torch.Tensor:
        """Accumulate ``Phi Phi^T`` over column chunks."""
        N = self.n_samples
        G = torch.zeros(N, N, dtype=torch.float64, device=self.device)
        for _, B in self._pass("row_gram"):
            gram_matrix(B, wide=True, out=G)
        return G

    def tall_gram(self, scale: torch.Tensor | None, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Accumulate ``(S Phi)^T (S Phi)`` and ``Phi^T A`` over row chunks."""
        n = self.n_features
        G = torch.zeros(n, n, dtype=torch.float64, device=self.device)
        b = torch.zeros(n, A.shape[1], dtype=torch.float64, device=self.device)
        for rows, B in self._pass("col_gram", A.shape[1]):
            gram_matrix(_scaled_rows(B, rows, scale), wide=False, out=G)
            b.addmm_(B.mT, A[rows])
        return G, b

    def wide_r(self) -> torch.Tensor:
        """Streamed TSQR of ``Phi^T`` over column chunks: R <- qr_r([R; chunk^T])."""
        R = None
        for _, B in self._pass("wide_r"):
            R = r_factor(B.mT if R is None else torch.cat([R, B.mT], dim=0))
        return R

    def tall_r(self, left: torch.Tensor | None, scale: torch.Tensor | None, right: torch.Tensor) -> torch.Tensor:
        """Streamed TSQR of ``[left | S Phi | right]``: R <- qr_r([R; chunk rows])."""
        R = None
        for rows, B in self._pass("tsqr", right.shape[1] + (0 if left is None else left.shape[1])):
            parts = ([] if left is None else [left[rows]]) + [_scaled_rows(B, rows, scale), right[rows]]
            stacked = torch.cat(parts, dim=1)
            R = r_factor(stacked if R is None else torch.cat([R, stacked], dim=0))
            del stacked
        return R

    def matvec(self, X: torch.Tensor) -> torch.Tensor:
        """``Phi X`` row chunk by row chunk."""
        out = torch.empty(self.n_samples, X.shape[1], dtype=torch.float64, device=self.device)
        for rows, B in self._pass("rows", X.shape[1]):
            out[rows] = B @ X
        return out

    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``Phi^T A`` accumulated over row chunks."""
        out = torch.zeros(self.n_features, A.shape[1], dtype=torch.float64, device=self.device)
        for rows, B in self._pass("rows", A.shape[1]):
            out.addmm_(B.mT, A[rows])
        return out

    def residual(
        self,
        C: torch.Tensor,
        shift: torch.Tensor,
        Y: torch.Tensor,
        scale: torch.Tensor | None,
        extra: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Residual rows, ``Phi^T [S R | extra]`` and ``||Phi||_F^2`` in one pass over row chunks."""
        width = C.shape[1] + (0 if extra is None else extra.shape[1])
        return _residual_by_rows(self, self._pass("rows", width), C, shift, Y, scale, extra)

    def describe(self) -> dict[str, Any]:
        """Chunk length of the last pass and the budget."""
        info = super().describe()
        info.update(streamed=True, chunk=self.chunk, max_memory=self.max_memory)
        return info
