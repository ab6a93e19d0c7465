"""The exact min-norm solve for Phi that is not held in memory: on disk (memory map), in dask, or under a byte budget.

Only small sufficient statistics are ever in memory, accumulated chunk by chunk in float64:

* tall Phi (N > n), ``decomposition="gram"``: ``G = Phi^T Phi`` (n x n), ``b = Phi^T y`` and
  ``||y||^2``; ``eigh(G) = V diag(s^2) V^T`` gives every eps / lam solution
  ``c = V diag(1/(s^2 + lam)) V^T b`` and the secular equation uses ``a_i = (v_i^T b)^2 / s_i^2``.
* tall Phi, ``decomposition="qr"``: a streamed TSQR of ``[Phi | y]`` keeps ``R`` (n x n),
  ``z = Q^T y`` and ``||y - Q Q^T y||^2``; the SVD of R is the SVD of Phi, so no squared
  condition number (what the in-memory ``"svd"`` gives).
* wide Phi (N <= n): ``G = Phi Phi^T`` (N x N) from column chunks; solutions are kept as
  ``alpha`` with ``c = Phi^T alpha`` and materialised by one more pass.

Every returned ``Solution.mse`` is measured from the residual ``Phi c - y`` (one extra pass for
tall Phi; for wide Phi ``Phi c = G alpha`` exactly), as for the in-memory solver.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from time import perf_counter
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike

from kernelreg._dask import is_dask_array
from kernelreg._memory import chunk_rows, parse_memory, read_block
from kernelreg._torch import resolve_device
from kernelreg.exceptions import SolverError
from kernelreg.solvers._solution import Solution, check_eps, check_targets, finish
from kernelreg.solvers.exact import _AUTO_GAP, SpectralSolver, _check_lam, _check_rcond, gram_matrix

__all__ = ["ChunkedSolver", "solve_streamed", "needs_streaming"]

_STREAM_DECOMPOSITIONS = ("auto", "gram", "qr", "svd")
_F64 = 8
_INT_TORCH = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)


def needs_streaming(Phi: Any, max_memory: Any) -> bool:
    """True when the exact solve must not pull Phi into memory: a memory map, a dask array, or a budget."""
    return max_memory is not None or isinstance(Phi, np.memmap) or is_dask_array(Phi)


class _Source(ABC):
    """Chunked access to Phi: the reductions the streamed solver needs, each one pass over the data."""

    kind: str
    n_samples: int
    n_features: int

    def __init__(self) -> None:
        self.passes = 0

    @abstractmethod
    def col_gram(self, Y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Phi^T Phi, Phi^T Y)`` in float64 on the device (tall Phi)."""

    @abstractmethod
    def row_gram(self) -> torch.Tensor:
        """``Phi Phi^T`` in float64 on the device (wide Phi)."""

    @abstractmethod
    def tsqr(self, Y: np.ndarray) -> torch.Tensor:
        """Upper-triangular R of ``[Phi | Y] = Q R`` in float64 on the device (tall Phi)."""

    @abstractmethod
    def residual_ss(self, coef: torch.Tensor, Y: np.ndarray) -> float:
        """``||Phi coef - Y||_F^2`` measured directly."""

    @abstractmethod
    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``Phi^T A`` for A of shape (n_samples, n_outputs), on the device."""

    def describe(self) -> dict[str, Any]:
        """Chunking facts for ``Solution.info``."""
        return {"source": self.kind, "passes": self.passes}


def _nonfinite_error(detail: str) -> ValueError:
    """The error for NaN/inf found while streaming (the data are checked chunk by chunk, never as a whole)."""
    return ValueError(
        f"Phi contains NaN or infinite values: {detail}; solvers need finite input. Re-export the "
        "features (check the activation for overflow, e.g. in float32)."
    )


class _ArraySource(_Source):
    """Any 2-D array with slicing (numpy, memory map, torch tensor) read in chunks sized by ``max_memory``."""

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
    def plan(self, mode: Literal["col_gram", "tsqr", "row_gram", "rows", "cols"]) -> int:
        """Chunk length (rows, or columns for the wide modes) so the whole working set fits max_memory."""
        N, n, K = self.n_samples, self.n_features, self.n_outputs
        owner = "solve(method='exact')"
        if mode == "col_gram":  # G, its chunk product, eigenvectors, eigh workspace + b; per row: two copies + y
            fixed, per, what = 4 * n * n * _F64 + 2 * n * K * _F64, n * (self.itemsize + _F64) + K * _F64, "one row"
        elif mode == "tsqr":  # stacked [R; chunk], its QR copy, SVD of R
            m = n + K
            fixed, per, what = 4 * m * m * _F64, n * self.itemsize + 2 * m * _F64, "one row"
        elif mode == "rows":  # residual pass: coef, one row of Phi and y
            fixed, per, what = n * K * _F64, n * (self.itemsize + _F64) + 2 * K * _F64, "one row"
        elif mode == "row_gram":  # G (N x N), chunk product, eigenvectors, workspace; per column: two copies
            fixed, per, what = 4 * N * N * _F64 + 2 * N * K * _F64, N * (self.itemsize + _F64), "one column"
        else:  # cols: coef = Phi^T alpha column chunk by column chunk
            fixed, per, what = 2 * N * K * _F64 + n * K * _F64, N * (self.itemsize + _F64), "one column"
        count = n if what == "one row" else N
        detail = f"{what} of Phi ({count} values of {self.itemsize} bytes, plus its float64 copy)"
        held = f"for the {'Gram/R statistics' if mode != 'rows' else 'coefficients'} of this {N} x {n} problem"
        return chunk_rows(per, self.max_memory, fixed_bytes=fixed, owner=owner, what=detail, fixed_what=held)

    def _pass(self, mode: Literal["col_gram", "tsqr", "rows", "row_gram", "cols"]):
        """One pass over Phi: yield (slice, float64 chunk on the device), reusing one buffer per pass.

        Row modes slice rows, the wide modes slice columns. Each chunk is checked for NaN/inf.
        """
        by_rows = mode in ("col_gram", "tsqr", "rows")
        self.chunk = length = self.plan(mode)
        self.passes += 1
        total = self.n_samples if by_rows else self.n_features
        shape = (min(length, total), self.n_features) if by_rows else (self.n_samples, min(length, total))
        in_ram = (  # a float64 array in RAM (not a memory map) is viewed chunk by chunk, not copied
            isinstance(self.Phi, np.ndarray)
            and not isinstance(self.Phi, np.memmap)
            and self.Phi.dtype == np.float64
            and self.Phi.flags.writeable
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
            raise _nonfinite_error(f"{bad} non-finite entries in {where}")

    def _y(self, Y: np.ndarray, rows: slice) -> torch.Tensor:
        """Rows of y on the device."""
        return torch.as_tensor(Y[rows], dtype=torch.float64, device=self.device)

    # ---------------------------------------------------------------- reductions
    def col_gram(self, Y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Accumulate ``Phi^T Phi`` and ``Phi^T y`` over row chunks (float64 addmm on the device)."""
        n, K = self.n_features, Y.shape[1]
        G = torch.zeros(n, n, dtype=torch.float64, device=self.device)
        b = torch.zeros(n, K, dtype=torch.float64, device=self.device)
        for rows, B in self._pass("col_gram"):
            gram_matrix(B, wide=False, out=G)
            b.addmm_(B.mT, self._y(Y, rows))
        return G, b

    def row_gram(self) -> torch.Tensor:
        """Accumulate ``Phi Phi^T`` over column chunks."""
        N = self.n_samples
        G = torch.zeros(N, N, dtype=torch.float64, device=self.device)
        for _, B in self._pass("row_gram"):
            gram_matrix(B, wide=True, out=G)
        return G

    def tsqr(self, Y: np.ndarray) -> torch.Tensor:
        """Streamed TSQR: R <- qr_r([R; chunk | y_chunk]) over row chunks."""
        R = None
        for rows, B in self._pass("tsqr"):
            stacked = torch.cat([B, self._y(Y, rows)], dim=1)
            R_in = stacked if R is None else torch.cat([R, stacked], dim=0)
            del stacked
            R = torch.linalg.qr(R_in, mode="r")[1]
            del R_in
        return R

    def residual_ss(self, coef: torch.Tensor, Y: np.ndarray) -> float:
        """Sum of squared residuals over row chunks."""
        total = 0.0
        for rows, B in self._pass("rows"):
            total += float(((B @ coef - self._y(Y, rows)) ** 2).sum())
        return total

    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``Phi^T alpha`` column chunk by column chunk."""
        out = torch.empty(self.n_features, A.shape[1], dtype=torch.float64, device=self.device)
        for cols, B in self._pass("cols"):
            out[cols] = B.mT @ A
        return out

    def describe(self) -> dict[str, Any]:
        """Chunk length of the last pass and the budget."""
        info = super().describe()
        info.update(chunk=self.chunk, max_memory=self.max_memory)
        return info


def _make_source(Phi: Any, device: torch.device, max_memory: Any, n_outputs: int) -> _Source:
    """Wrap Phi for chunked reductions, checking what can be checked without reading it."""
    if is_dask_array(Phi):
        from kernelreg.solvers.distributed import DaskSource

        return DaskSource(Phi, device)
    if isinstance(Phi, torch.Tensor):
        if Phi.is_complex() or not (Phi.is_floating_point() or Phi.dtype in _INT_TORCH):
            raise TypeError(f"Phi must hold real numbers; got a torch tensor of dtype {Phi.dtype}.")
        Phi = Phi.detach()
    elif not isinstance(Phi, np.ndarray):
        if not (hasattr(Phi, "shape") and hasattr(Phi, "dtype") and hasattr(Phi, "__getitem__")):
            Phi = np.asarray(Phi)
    if not isinstance(Phi, torch.Tensor) and np.dtype(Phi.dtype).kind not in "fiub":
        raise TypeError(
            f"Phi must hold real numbers; got an array of dtype {Phi.dtype}. Convert it with "
            "np.asarray(Phi, dtype=float)."
        )
    if len(Phi.shape) != 2:
        raise ValueError(
            f"Phi must be a 2-D feature matrix of shape (n_samples, n_features); got shape "
            f"{tuple(Phi.shape)} ({len(Phi.shape)}-D). Reshape it, e.g. Phi.reshape(n_samples, -1)."
        )
    return _ArraySource(Phi, device, max_memory, n_outputs)


class ChunkedSolver(SpectralSolver):
    """The spectral solver for Phi too big for memory: factor once from chunked float64 reductions, then sweep eps.

    Phi is read in row (tall) or column (wide) chunks, each moved to ``device`` and converted to
    float64 there, so float32 features on disk or on a GPU give the float64 solution of their
    values. Memory in use is the Gram or R statistics plus one chunk; ``max_memory`` bounds both.

    Parameters
    ----------
    Phi : array-like, numpy memory map, torch.Tensor or dask.array.Array of shape (n_samples, n_features)
        Anything with 2-D slicing; ``np.load(path, mmap_mode="r")`` is read chunk by chunk and its
        pages are released after each chunk, so the resident set stays at one chunk.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    decomposition : {"gram", "qr"}, default="gram"
        - ``"gram"``: eigh of ``Phi^T Phi`` (tall) or ``Phi Phi^T`` (wide); one pass, squared
          condition number.
        - ``"qr"``: streamed TSQR of ``[Phi | y]`` and an SVD of the n x n factor R; tall Phi only,
          resolves singular values down to ``rcond * s_max`` (the in-memory ``"svd"`` accuracy).
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where chunks are reduced and the factorisation runs.
    rcond : float or None, default=None
        As in :class:`SpectralSolver`.
    max_memory : int, str or None, default=None
        Budget for the statistics plus one chunk (bytes or ``"2GB"``); None means the statistics
        plus chunks of about 64 MiB. Ignored for dask arrays, whose chunks are their own.
        Too small for the statistics and one row raises ``ValueError`` naming both numbers.

    Attributes
    ----------
    passes : int
        Passes over Phi so far (the factorisation is one; each returned solution adds one for
        tall Phi, where the mse is measured from the residual, or for wide Phi, where
        ``coef = Phi^T alpha`` is formed).

    See Also
    --------
    SpectralSolver : the same solves on an in-memory Phi.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Phi, y = rng.standard_normal((500, 20)), rng.standard_normal(500)
    >>> spec = ChunkedSolver(Phi, y, max_memory="64KiB")  # 194-row chunks, one pass
    >>> eps = spec.mse_floor + 0.5 * (spec.mean_y2 - spec.mse_floor)
    >>> sol = spec.solve_eps(eps)  # one more pass measures the mse
    >>> bool(np.allclose(sol.coef, SpectralSolver(Phi, y).solve_eps(eps).coef)), spec.passes
    (True, 2)
    """

    _PRECISE = "qr"

    def __init__(
        self,
        Phi: Any,
        y: ArrayLike,
        *,
        decomposition: Literal["gram", "qr"] = "gram",
        device: str | torch.device = "cpu",
        rcond: float | None = None,
        max_memory: int | str | None = None,
    ) -> None:
        if max_memory is not None:
            parse_memory(max_memory)
        if decomposition not in ("gram", "qr", "svd"):
            raise ValueError(f"ChunkedSolver decomposition must be 'gram' or 'qr'; got {decomposition!r}.")
        asked, decomposition = decomposition, ("qr" if decomposition == "svd" else decomposition)
        self.device = resolve_device(device)
        source = _make_source(Phi, self.device, max_memory, 1 if np.ndim(y) < 2 else int(np.shape(y)[1]))
        Y, self._was_1d = check_targets(y, (source.n_samples, source.n_features))
        n_samples, n_features = source.n_samples, source.n_features
        if decomposition == "qr" and n_samples <= n_features:
            raise ValueError(
                f"decomposition={asked!r} streams a TSQR of tall Phi only (n_samples > n_features); this Phi is "
                f"{n_samples} x {n_features}. Use decomposition='gram' (the {n_samples} x {n_samples} "
                "Gram matrix) for wide Phi."
            )
        self.decomposition = decomposition
        self.n_samples, self.n_features, self.n_outputs = n_samples, n_features, Y.shape[1]
        self.rcond = _check_rcond(rcond, n_samples, n_features)
        self._source = source
        self._Y_np = Y
        self._Yt = torch.as_tensor(Y, dtype=torch.float64, device=self.device)
        start = perf_counter()
        self._factor()
        self.factor_time_s = perf_counter() - start
        self._floor = None

    @property
    def passes(self) -> int:
        """Passes over Phi so far."""
        return self._source.passes

    def _factor(self) -> None:
        """Reduce Phi to its statistics in one pass, then decompose them on the device."""
        Y, sum_y2 = self._Yt, float((self._Yt**2).sum())
        N, n = self.n_samples, self.n_features
        self._wide = N <= n
        if self.decomposition == "gram":
            if self._wide:  # G = Phi Phi^T; internal coef is alpha (coef = Phi^T alpha)
                G = self._source.row_gram()
                _check_diagonal(G, "rows")
                s2, basis = torch.linalg.eigh(G)
                s2 = s2.clamp_min(0.0)
                keep = s2 > self.rcond * s2.max()
                proj = basis.mT @ Y
                sq_coords = proj**2
                self._G, self._b = G, None
            else:  # G = Phi^T Phi, b = Phi^T y: coef = V diag(g) V^T b
                G, b = self._source.col_gram(self._Y_np)
                _check_diagonal(G, "columns")
                s2, basis = torch.linalg.eigh(G)
                s2 = s2.clamp_min(0.0)
                keep = s2 > self.rcond * s2.max()
                proj = basis.mT @ b
                safe = torch.where(keep, s2, torch.ones_like(s2))
                sq_coords = torch.where(keep[:, None], proj**2 / safe[:, None], torch.zeros_like(proj))
                self._G, self._b, self._sum_y2 = G, b, sum_y2
            self._store(s2, keep, keep, basis, proj, sq_coords, None, sum_y2)
            return
        Rt = self._source.tsqr(self._Y_np)  # [Phi | y] = Q Rt
        if not bool(torch.isfinite(Rt).all()):
            raise _nonfinite_error("the streamed QR factor of [Phi | y] is not finite")
        R, z = Rt[:n, :n], Rt[:n, n:]
        tail = float((Rt[n:, n:] ** 2).sum())  # ||y - Q Q^T y||^2: y outside the range of Phi
        U, s, Vh = torch.linalg.svd(R)
        uty = U.mT @ z
        keep = s > self.rcond * s.max()
        self._R, self._z, self._tail = R, z, tail
        self._store(s**2, keep, s > 0, Vh.mT, s[:, None] * uty, uty**2, tail, sum_y2)

    # ---------------------------------------------------------------- overrides of the in-memory hooks
    def _coef_tensor(self, weights: torch.Tensor) -> torch.Tensor:
        """Tall: coef = V (g * p). Wide: alpha = U (g * p), with coef = Phi^T alpha formed later."""
        return self._basis @ (weights[:, None] * self._proj)

    def _zero_coef(self) -> torch.Tensor:
        """Zero coef, or zero alpha for wide Phi."""
        rows = self.n_samples if (self._wide and self.decomposition == "gram") else self.n_features
        return torch.zeros(rows, self.n_outputs, dtype=torch.float64, device=self.device)

    def _materialise(self, coef: torch.Tensor) -> torch.Tensor:
        """Wide: one pass for coef = Phi^T alpha; tall: coef is already explicit."""
        if self._wide and self.decomposition == "gram":
            return self._source.rmatvec(coef)
        return coef

    def _direct_mse(self, coef: torch.Tensor) -> float:
        """mse from the statistics, no pass: |G alpha - y|^2 (wide), c^T G c - 2 c^T b + |y|^2, |Rc - z|^2 + tail."""
        if self.decomposition == "gram" and self._wide:
            ss = float(((self._G @ coef - self._Yt) ** 2).sum())
        elif self.decomposition == "gram":
            ss = float((coef * (self._G @ coef)).sum() - 2.0 * (coef * self._b).sum()) + self._sum_y2
        else:
            ss = float(((self._R @ coef - self._z) ** 2).sum()) + self._tail
        return max(ss, 0.0) / self._nk

    def _solution(self, coef: torch.Tensor, start: float, **fields: Any) -> Solution:
        """Materialise coef, measure the mse from the residual (tall: one pass), and re-judge the constraint."""
        explicit = self._materialise(coef)
        statistics_mse = fields.pop("mse", None)
        if statistics_mse is None:
            statistics_mse = self._direct_mse(coef)
        if self._wide and self.decomposition == "gram":
            measured = statistics_mse  # Phi c = Phi Phi^T alpha = G alpha: no cancellation, no pass
        else:
            measured = self._source.residual_ss(explicit, self._Y_np) / self._nk
        info = dict(fields.pop("info", {}))
        info.update(self._source.describe())
        info.update(
            streamed=True,
            statistics_mse=statistics_mse,
            orientation=(
                ("Phi Phi^T" if self._wide else "Phi^T Phi")
                if self.decomposition == "gram"
                else "[Phi | y] = QR (streamed TSQR), svd of R"
            ),
        )
        eps = fields.get("eps")
        status = fields.get("status", "optimal")
        if eps and fields.get("lam") not in (None, 0.0, math.inf) and status == "optimal":
            gap = abs(measured - eps) / eps
            info["constraint_rel_gap"] = gap
            if gap > 1e-6:
                status = "inaccurate"
                info["message"] = (
                    f"the mse measured from the residual, {measured:.6g}, misses eps={eps:.6g} by "
                    f"{gap:.2g} relative (the {self.decomposition!r} statistics predicted "
                    f"{statistics_mse:.6g})"
                )
        fields["status"] = status
        return super()._solution(explicit, start, mse=measured, info=info, **fields)


def _check_diagonal(G: torch.Tensor, what: str) -> None:
    """NaN or inf anywhere in Phi shows up on the Gram diagonal (sums of squares): check it there."""
    diag = torch.diagonal(G)
    finite = torch.isfinite(diag)
    if not bool(finite.all()):
        raise _nonfinite_error(
            f"{int((~finite).sum())} of its {diag.numel()} {what} have non-finite sums of squares "
            "(NaN/inf entries, or values beyond 1e154 that overflow when squared)"
        )


def solve_streamed(
    Phi: Any,
    y: ArrayLike,
    eps: float,
    *,
    decomposition: Literal["auto", "gram", "qr", "svd"] = "auto",
    device: str | torch.device = "cpu",
    lam: float | None = None,
    rcond: float | None = None,
    max_memory: int | str | None = None,
) -> Solution:
    """``solve(method="exact")`` for a memory-mapped, dask or budgeted Phi, from chunked float64 reductions.

    ``decomposition="auto"``: eps = 0 on tall Phi uses the streamed TSQR (``"qr"``, no squared
    condition number); otherwise ``"gram"``, and for tall Phi a second pass with ``"qr"`` when the
    Gram eigenvalues cannot resolve eps (infeasible under the Gram floor, or the measured mse
    misses eps by more than 1e-9 relative). ``"svd"`` means ``"qr"`` here (the SVD of R is the SVD
    of Phi).
    """
    eps = check_eps(eps)
    if decomposition not in _STREAM_DECOMPOSITIONS:
        raise ValueError(
            f"method='exact' decomposition must be one of {_STREAM_DECOMPOSITIONS}; got {decomposition!r}."
        )
    if lam is not None:
        lam = _check_lam(lam)
        if eps != 0.0:
            raise ValueError(
                f"method='exact' takes either eps (a bound on the mse) or lam (a ridge parameter), not "
                f"both; got eps={eps!r} and lam={lam!r}."
            )
    start = perf_counter()
    shape = tuple(Phi.shape) if hasattr(Phi, "shape") else np.shape(Phi)
    tall = len(shape) == 2 and shape[0] > shape[1]
    plain_min_norm = eps == 0.0 and lam is None
    if decomposition == "auto":
        first = "qr" if (plain_min_norm and tall) else "gram"
    else:
        first = "qr" if decomposition == "svd" else decomposition
    options = {"device": device, "rcond": rcond, "max_memory": max_memory}
    spec = ChunkedSolver(Phi, y, decomposition=first, **options)

    def run(solver: ChunkedSolver) -> Solution:
        """One solve on a factored solver (status contract not yet applied)."""
        return solver.ridge(lam) if lam is not None else solver._solve_eps(eps)

    fallback_reason = None
    try:
        sol = run(spec)
    except SolverError as exc:
        if not (decomposition == "auto" and first == "gram" and tall):
            raise
        sol, fallback_reason = None, f"gram: {exc}"
    if sol is not None and decomposition == "auto" and first == "gram" and tall:
        gap = sol.info.get("constraint_rel_gap", 0.0)
        if gap > _AUTO_GAP:
            fallback_reason = (
                f"gram: the measured mse missed eps by {gap:.2g} relative (> {_AUTO_GAP:g}); "
                f"lam={sol.lam:.3g} is too close to the Gram rounding level"
            )
    passes = spec.passes
    if fallback_reason is not None:
        spec = ChunkedSolver(Phi, y, decomposition="qr", **options)
        sol = run(spec)
        sol.info["fallback_reason"] = fallback_reason
        passes += spec.passes
    sol.info["passes"] = passes
    sol.time_s = perf_counter() - start
    return finish(sol, "Use a larger eps: the remaining directions of Phi are below float64 resolution.")
