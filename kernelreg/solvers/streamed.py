"""The exact min-norm solve for Phi that is not held in memory: on disk (memory map), in dask, or under a byte budget.

Only small sufficient statistics are ever in memory, accumulated chunk by chunk in float64 by a
:class:`~kernelreg.solvers._sources.ChunkedSource` (or a dask source):

* ``decomposition="gram"``: ``G = Phi^T Phi`` and ``b = Phi^T y`` (tall, n x n) or ``Phi Phi^T``
  (wide, N x N, from column chunks); ``eigh(G)`` gives every eps / lam solution;
* ``decomposition="qr"``: a streamed TSQR of ``[Phi | y]`` (tall) or of ``Phi^T`` (wide, column
  chunks) keeps only the square factor R; the SVD of R is the SVD of Phi, so no squared condition
  number (what the in-memory ``"svd"`` gives).

Wide solutions are kept as ``alpha`` with ``c = Phi^T alpha`` and materialised by one more pass;
every returned solution is certified by one more pass (the residual ``Phi c - y`` and ``Phi^T r``
measured from the data). The factorisation and the fallback policy are those of the in-memory
solver (:class:`~kernelreg.solvers.exact.SpectralSolver`, :func:`~kernelreg.solvers.exact.solve_exact`):
only the source of Phi differs.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from numpy.typing import ArrayLike

from kernelreg._memory import parse_memory
from kernelreg.solvers._problem import needs_streaming, prepare
from kernelreg.solvers.exact import SpectralSolver

__all__ = ["ChunkedSolver", "needs_streaming"]


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
        - ``"qr"``: streamed TSQR of ``[Phi | y]`` (tall) or ``Phi^T`` (wide) and an SVD of the
          square factor R; resolves singular values down to ``rcond * s_max`` (the in-memory
          ``"svd"`` accuracy). ``"svd"`` is accepted as a synonym.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
        Where chunks are reduced and the factorisation runs.
    rcond : float or None, default=None
        As in :class:`SpectralSolver`.
    max_memory : int, str or None, default=None
        Budget for the statistics plus one chunk (bytes or ``"2GB"``); None means the statistics
        plus chunks of about 64 MiB. Ignored for dask arrays, whose chunks are their own.
        Too small for the statistics and one row raises ``ValueError`` naming both numbers.
    fit_intercept : bool, default=False
    sample_weight : array-like of shape (n_samples,) or None, default=None

    Attributes
    ----------
    passes : int
        Passes over Phi so far (the factorisation is one; each returned solution adds one for its
        certificate, and one more for wide Phi, where ``coef = Phi^T alpha`` is formed).

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
    >>> sol = spec.solve_eps(eps)  # one more pass certifies the answer
    >>> bool(np.allclose(sol.coef, SpectralSolver(Phi, y).solve_eps(eps).coef)), spec.passes
    (True, 2)
    """

    _PRECISE = "qr"
    _NAMES = ("gram", "qr", "svd")

    def __init__(
        self,
        Phi: Any,
        y: ArrayLike,
        *,
        decomposition: Literal["gram", "qr"] = "gram",
        device: str | torch.device = "cpu",
        rcond: float | None = None,
        max_memory: int | str | None = None,
        fit_intercept: bool = False,
        sample_weight: ArrayLike | None = None,
    ) -> None:
        if max_memory is not None:
            parse_memory(max_memory)
        self._check_name(decomposition)
        problem = prepare(
            Phi, y, device=device, fit_intercept=fit_intercept, sample_weight=sample_weight,
            max_memory=max_memory, stream=True,
        )
        self._setup(problem, "gram" if decomposition == "gram" else "r", rcond)
        self.decomposition = "gram" if decomposition == "gram" else "qr"

    @property
    def passes(self) -> int:
        """Passes over Phi so far."""
        return self._problem.source.passes
