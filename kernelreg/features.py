"""Frozen hidden layers exported as a feature matrix Φ, computed by torch on a device in bounded-memory row chunks.

The base :class:`FeatureMap` owns everything the maps share (chunking under ``max_memory``, the
NaN/inf check, dask in → dask out, atomic ``export``) so each concrete map writes two hooks; the
module is long because that machinery is written here once, beside its two maps and ``freeze``.
"""

from __future__ import annotations

import math
import os
import time
from abc import ABC, abstractmethod
from numbers import Integral, Real
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from kernelreg import activations
from kernelreg._dask import dask_array, is_dask_array
from kernelreg._io import atomic_open
from kernelreg._log import logger, progress, run_scope
from kernelreg._memory import CHUNK_BYTES, chunk_rows, parse_memory
from kernelreg._torch import loadable_device, module_to_cpu, resolve_device, resolve_dtype, seed_generator

__all__ = [
    "FeatureMap",
    "RandomFeatureMap",
    "ModuleFeatureMap",
    "freeze",
    "save_features",
    "auto_batch_size",
    "CHUNK_BYTES",
]

_OUT_DTYPES = {"float64": np.float64, "float32": np.float32}


def _transform_block(block: np.ndarray, fmap: FeatureMap) -> np.ndarray:
    """One dask block of Φ: the map's own chunked transform (empty blocks stay empty)."""
    if block.shape[0] == 0:
        return np.empty((0, fmap.n_output_features_), dtype=np.float64)
    return fmap.transform(block)


def _count_nonfinite(values: torch.Tensor) -> int:
    """NaN/inf entries of a chunk; a finite sum proves there are none at a fraction of ``isfinite``'s cost."""
    if math.isfinite(float(values.sum())):
        return 0
    return int((~torch.isfinite(values)).sum())  # the sum may also overflow on large finite values


def auto_batch_size(n_features: int, itemsize: int = 8, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Rows per chunk so that one chunk of Φ (and its pre-activation) stays within ``chunk_bytes``."""
    return max(1, int(chunk_bytes // (2 * max(1, n_features) * itemsize)))


def save_features(path: str | os.PathLike, Phi: ArrayLike) -> Path:
    """Write Φ to ``path`` as .npy atomically: a temporary file in the same folder, then ``os.replace``.

    A crash midway leaves no file at ``path`` that looks complete. The temporary file is named
    ``.<name>.kernelreg-tmp-<pid>-<random>``; it is removed on an exception, on SIGTERM, and (after
    SIGKILL) by the next write to ``path``. The file's permissions follow the umask.

    Raises
    ------
    FileExistsError
        ``path`` exists and is not a regular file (symlink, directory, FIFO, device node, socket).
    """
    path = Path(path)
    Phi = np.asarray(Phi)
    with atomic_open(path) as fh:
        np.save(fh, Phi, allow_pickle=False)
    return path


class FeatureMap(TransformerMixin, BaseEstimator, ABC):
    """A frozen map x ↦ φ(x) ∈ R^n whose rows are computed by torch in chunks; subclasses give the torch view.

    Subclasses implement :meth:`_fit_map` (draw or freeze parameters) and :meth:`_forward`
    (a chunk of inputs, as a tensor on ``device_``, to its chunk of features). Chunks hold
    ``batch_size`` rows, or as many as fit in ``max_memory`` (both set: the smaller), or about
    64 MiB of features by default. ``transform`` also accepts a dask array and returns one.
    """

    _parameter_constraints: dict = {
        "device": [str, torch.device],
        "dtype": [StrOptions({"float32", "float64"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "max_memory": [Interval(Real, 1, None, closed="left"), str, None],
        "verbose": ["verbose"],
    }

    @abstractmethod
    def _fit_map(self, X: np.ndarray, rng: np.random.RandomState, sample_weight: np.ndarray | None = None) -> None:
        """Draw or freeze the map's parameters from the training inputs (weighted, when a law reads the data)."""

    @abstractmethod
    def _forward(self, X_chunk: torch.Tensor) -> torch.Tensor:
        """Features of one chunk of rows (tensor on ``device_`` in ``dtype_``)."""

    @property
    @abstractmethod
    def n_output_features_(self) -> int:
        """Number of columns of Φ."""

    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> "FeatureMap":
        """Validate X, resolve device and dtype, and draw or freeze the map's parameters."""
        self._validate_params()
        if getattr(self, "max_memory", None) is not None:
            parse_memory(self.max_memory)  # a malformed budget fails before any work
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite=True)
        return self._fit_validated(X)

    def _fit_validated(self, X: np.ndarray, sample_weight: np.ndarray | None = None) -> "FeatureMap":
        """fit on inputs an owner (an estimator's ``fit``) has already validated: no second pass over X.

        ``sample_weight`` (validated, non-negative): the weights of the training inputs for maps
        whose law reads the data (a zero weight is the same as leaving the input out, an integer
        weight the same as repeating it).
        """
        self.n_features_in_ = int(X.shape[1])
        self.device_ = resolve_device(self.device)
        self.dtype_ = resolve_dtype(self.dtype)
        rng = check_random_state(getattr(self, "random_state", None))
        self._fit_map(X, rng, sample_weight)
        self._check_scale(X)
        self._batch_rows()  # a max_memory too small for one row fails at fit, not midway through an export
        return self

    def _check_scale(self, X: np.ndarray) -> None:
        """Fail at fit when the training inputs are too large for the fitted map (default: nothing to check)."""

    def _nonfinite_message(self, rows: np.ndarray, xb: torch.Tensor, start: int, stop: int, bad: int) -> str:
        """Why a chunk's features are not finite; run only after a chunk failed, so it costs nothing otherwise."""
        x_max = float(np.abs(rows).max()) if rows.size else 0.0
        return (
            f"{type(self).__name__} produced {bad} non-finite feature values in rows {start}..{stop - 1} "
            f"(inputs there up to |x| = {x_max:.3g}); the map overflows on these inputs (try dtype='float64', "
            "scaled inputs or another activation)."
        )

    def _row_bytes(self) -> int:
        """Working memory of one row of a chunk: input, pre-activation, features, float64 host copy."""
        itemsize = torch.finfo(self.dtype_).bits // 8
        n_in = int(getattr(self, "n_features_in_", 1))
        return n_in * itemsize + self.n_output_features_ * (2 * itemsize + 8)

    def _batch_rows(self) -> int:
        """Rows per chunk: ``batch_size``, the rows fitting ``max_memory`` (the smaller of the two), or the default."""
        max_memory = getattr(self, "max_memory", None)
        if max_memory is None:
            if self.batch_size is not None:
                return int(self.batch_size)
            return auto_batch_size(self.n_output_features_, torch.finfo(self.dtype_).bits // 8)
        rows = chunk_rows(
            self._row_bytes(),
            max_memory,
            owner=type(self).__name__,
            what=(
                f"one row of features (n_features_in_={getattr(self, 'n_features_in_', '?')}, "
                f"{self.n_output_features_} features in {self.dtype}, plus the float64 copy)"
            ),
        )
        return rows if self.batch_size is None else min(rows, int(self.batch_size))

    def _iter_chunks(self, X: np.ndarray, out_dtype: torch.dtype = torch.float64, *, verbose: bool = False,
                     desc: str = "transform"):
        """Yield (start, stop, Φ chunk as numpy in ``out_dtype``) over row chunks of X, under inference mode.

        Each chunk is checked for NaN/inf on the device before it is copied to the host. With
        ``verbose`` a progress bar over the rows is shown when there is more than one chunk.
        """
        rows = self._batch_rows()
        show = bool(verbose) and X.shape[0] > rows
        with torch.inference_mode(), progress(total=X.shape[0], desc=desc, unit="row",
                                              unit_scale=X.shape[0] >= 10_000, verbose=show) as bar:
            for start, stop, out in self._tensor_chunks(X):
                yield start, stop, out.to("cpu", dtype=out_dtype).numpy()
                bar.update(stop - start)

    def _tensor_chunks(self, X: np.ndarray):
        """Yield (start, stop, Φ chunk as a tensor on ``device_`` in ``dtype_``), each computed and NaN-checked once."""
        rows = self._batch_rows()
        for start in range(0, X.shape[0], rows):
            stop = min(start + rows, X.shape[0])
            rows_np = X[start:stop]
            if not rows_np.flags.writeable:  # torch refuses to wrap read-only memory (e.g. memmaps)
                rows_np = rows_np.copy()
            xb = torch.as_tensor(rows_np, dtype=self.dtype_, device=self.device_)
            out = self._forward(xb)
            if out.ndim != 2 or out.shape[0] != stop - start:
                raise ValueError(
                    f"{type(self).__name__}: the feature map returned shape {tuple(out.shape)} "
                    f"for a chunk of {stop - start} rows; expected ({stop - start}, n_features)."
                )
            bad = _count_nonfinite(out)
            if bad:
                raise ValueError(self._nonfinite_message(rows_np, xb, start, stop, bad))
            yield start, stop, out

    def _transform_tensor(self, X: np.ndarray) -> torch.Tensor:
        """Φ(X) as one tensor on ``device_`` in ``dtype_`` for an owner that validated X: Φ never visits the host.

        The estimators' path from the feature map to :func:`kernelreg.solvers.solve` (which uses a
        float64 tensor on its device as it is). A single chunk is returned as computed; several
        are gathered into one tensor on the device.
        """
        shape = (X.shape[0], self.n_output_features_)
        with torch.no_grad():  # plain tensors, not inference tensors: later torch code may use them freely
            chunks = list(self._tensor_chunks(X)) if X.shape[0] <= self._batch_rows() else None
            if chunks is not None:
                return chunks[0][2] if chunks else torch.empty(shape, dtype=self.dtype_, device=self.device_)
            Phi = torch.empty(shape, dtype=self.dtype_, device=self.device_)
            for start, stop, out in self._tensor_chunks(X):
                Phi[start:stop].copy_(out)
            return Phi

    def _check_input(self, X: ArrayLike) -> np.ndarray:
        """Fitted check and input validation shared by transform and export."""
        check_is_fitted(self)
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False, ensure_all_finite=True)

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Compute Φ(X) chunk by chunk, so memory beyond the output stays bounded; dask in, dask out.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features_in_)
            A dask array gives a lazy dask array: rows keep X's row chunks, all feature columns
            form one block, and each block is computed by this map (``map_blocks``) on whatever
            workers run the graph.

        Returns
        -------
        Phi : ndarray (or dask array) of shape (n_samples, n_output_features_), float64

        Raises
        ------
        ValueError
            X has the wrong number of columns or NaN/inf entries, or the activation overflows.
        """
        if is_dask_array(X):
            return self._transform_dask(X)
        X = self._check_input(X)
        Phi = np.empty((X.shape[0], self.n_output_features_), dtype=np.float64)
        target = torch.from_numpy(Phi)  # torch's copy_ is multi-threaded, numpy's assignment is not
        for start, stop, chunk in self._iter_chunks(X, verbose=getattr(self, "verbose", False)):
            target[start:stop].copy_(torch.from_numpy(chunk))
        return Phi

    def _transform_dask(self, X):
        """Lazy blockwise Φ of a dask array: row chunks kept, columns merged, one feature block per row chunk."""
        check_is_fitted(self)
        dask_array()  # the import error, if any, names the extra to install
        name = type(self).__name__
        if X.ndim != 2:
            raise ValueError(
                f"{name}.transform expects a 2-D array of shape (n_samples, {self.n_features_in_}); got a "
                f"{X.ndim}-D dask array of shape {X.shape}."
            )
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {name} is expecting {self.n_features_in_} features "
                "as input."
            )
        if X.dtype.kind not in "fiub":
            raise TypeError(f"{name}.transform needs real numbers; got a dask array of dtype {X.dtype}.")
        X = X.rechunk({1: -1})
        return X.map_blocks(
            _transform_block,
            fmap=self,
            dtype=np.float64,
            chunks=(X.chunks[0], (self.n_output_features_,)),
            meta=np.empty((0, 0), dtype=np.float64),
        )

    def export(
        self,
        X: ArrayLike,
        path: str | os.PathLike,
        *,
        dtype: Literal["float64", "float32"] = "float64",
        verbose: bool | int | None = None,
    ) -> Path:
        """Stream Φ(X) into a .npy file chunk by chunk, so Φ larger than memory can be built and solved from disk.

        The file is built under a temporary name in the same folder
        (``.<name>.kernelreg-tmp-<pid>-<random>``) and renamed into place only when every chunk is
        written and synced, so an interrupted export leaves nothing that looks complete: the
        temporary file is removed on an exception (Ctrl-C included) and on SIGTERM, and one left by
        a killed process is removed by the next export to the same path. The file's permissions
        follow the umask. Chunks are written with plain file writes (not a writable memory map), so the
        process holds one chunk at a time. Reopen the file with ``np.load(path, mmap_mode="r")``
        and pass that to :func:`kernelreg.solvers.solve`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            May itself be a memory map (``np.load(..., mmap_mode="r")``).
        path : str or os.PathLike
            Target ``.npy`` file.
        dtype : {"float64", "float32"}, default="float64"
            Storage type of Φ on disk; float32 halves the file, and solves still run in float64.
        verbose : bool, int or None, default=None
            A progress bar over the rows (it stays when done) and an INFO log line with the file's
            size and the time taken (see :mod:`kernelreg._log`); None uses the map's ``verbose``.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        FileExistsError
            ``path`` exists and is not a regular file (symlink, directory, FIFO, device node,
            socket); nothing is computed.
        ValueError
            X is malformed, or its features are not finite (the message tells an input scale
            too large for the map from an activation that overflows).
        """
        if dtype not in _OUT_DTYPES:
            raise ValueError(f"{type(self).__name__}.export: dtype must be 'float64' or 'float32'; got {dtype!r}.")
        out_dtype = np.dtype(_OUT_DTYPES[dtype])
        verbose = getattr(self, "verbose", False) if verbose is None else verbose
        X = self._check_input(X)
        path = Path(path)
        shape = (X.shape[0], self.n_output_features_)
        start = time.perf_counter()
        with run_scope(verbose=verbose):
            with atomic_open(path) as fh:
                header = {"descr": np.lib.format.dtype_to_descr(out_dtype), "fortran_order": False, "shape": shape}
                np.lib.format.write_array_header_1_0(fh, header)
                torch_out = torch.float64 if out_dtype == np.float64 else torch.float32
                for _, _, chunk in self._iter_chunks(X, torch_out, verbose=verbose, desc="export"):
                    fh.write(memoryview(np.ascontiguousarray(chunk)).cast("B"))
            logger.info("export: wrote Φ of shape %s in %s (%.3g MiB) to %s in %.2f s.", shape, dtype,
                        shape[0] * shape[1] * out_dtype.itemsize / 2**20, path, time.perf_counter() - start)
        return path

    def __setstate__(self, state: dict) -> None:
        """Load on the fitted device when this machine has it, else on the CPU with a ``DeviceWarning``."""
        super().__setstate__(state)
        if getattr(self, "device_", None) is not None:
            self.device_ = loadable_device(self.device_, type(self).__name__)

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> np.ndarray:
        """Names phi0, phi1, … for the columns of Φ (sklearn set_output / Pipeline support).

        Every column mixes all inputs, so the names do not derive from the input names; as in
        scikit-learn's own such transformers (``PCA``, ``RBFSampler``), ``input_features`` is only
        checked against what ``fit`` saw.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Must have ``n_features_in_`` entries and, when ``fit`` saw a DataFrame, equal
            ``feature_names_in_``.

        Returns
        -------
        ndarray of str objects of shape (n_output_features_,)

        Raises
        ------
        ValueError
            ``input_features`` has the wrong length or differs from ``feature_names_in_``.
        """
        check_is_fitted(self)
        try:
            _check_feature_names_in(self, input_features, generate_names=False)
        except ValueError as exc:
            seen = getattr(self, "feature_names_in_", None)
            seen_text = f"the names {list(seen)}" if seen is not None else f"{self.n_features_in_} unnamed columns"
            raise ValueError(
                f"{type(self).__name__}.get_feature_names_out: {exc}; fit saw {seen_text}, got input_features="
                f"{list(np.asarray(input_features, dtype=object))}."
            ) from exc
        return np.asarray([f"phi{i}" for i in range(self.n_output_features_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags


class RandomFeatureMap(FeatureMap):
    """Random hidden layer of the kernel regime: φ_i(x) = σ(ξ_i·x − γ_i) with frozen (ξ_i, γ_i).

    The spectral-bias paper's initialisation: unit directions ξ_i uniform on the sphere S^{d−1},
    offsets γ_i uniform on [−B, B], with B = ``offset_scale`` or, by default, the largest ‖x‖ of the
    training inputs so that every zero-plane can cut the data. In many dimensions most of those
    zero-planes miss the data (ξ·x concentrates far inside [−max‖x‖, max‖x‖]); the data-aware
    offsets ``offset_scale="data"`` or ``"quantile"`` place each unit's zero-plane where the
    training inputs are, and ``inactive_fraction_`` measures how many units miss them.

    Parameters
    ----------
    n_features : int, default=1000
        Number of hidden units (columns of Φ).
    activation : str or callable, default="relu"
        A name from :func:`kernelreg.activations.available` or any callable on torch tensors.
    activation_params : dict or None, default=None
        Parameters of the activation, e.g. ``{"p": 2}`` for ``relu_power``.
    offset_scale : float, {"data", "quantile"} or None, default=None
        How the offsets γ_i are drawn:

        - a float B: γ_i ~ U[−B, B] (the paper's law, independent of ξ_i).
        - None: the same with B = max‖x‖ over the training inputs.
        - ``"data"``: γ_i ~ U[m_i − √3 s_i, m_i + √3 s_i], where m_i and s_i are the mean and the
          standard deviation of ξ_i·x over the training inputs: a uniform law with the mean and
          variance of the data's projections, so the zero-planes cut through the data.
        - ``"quantile"``: γ_i = ξ_i·x_j for a training input x_j drawn at random: each zero-plane
          passes through a data point, and unit i is active on a uniformly random fraction of the
          training inputs.

        The data-aware laws depend on ξ_i through the data, so they have no closed-form limit
        kernel or seminorm density (see ``offset_law_``).
    directions : {"random", "grid"}, default="random"
        How the unit directions ξ_i are chosen:

        - ``"random"``: drawn uniform on the sphere S^{d−1}.
        - ``"grid"``: deterministic and evenly spaced, for inputs of dimension 2 (angles
          θ_i = 2πi/n_features on the unit circle, the paper's Experiment 1 reading of
          "deterministically … uniform on the unit circle") or 1 (ξ_i = +1, −1 alternating).
          Offsets are still drawn at random.
    random_state : int, RandomState or None, default=None
        Seeds the draw; the same seed gives bitwise-identical Φ on the CPU.
    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where Φ is computed. Parameters are drawn on the CPU in float64 either way.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the feature computation; the returned Φ is float64.
    batch_size : int or None, default=None
        Rows per chunk; None sizes chunks to about 64 MiB (or to ``max_memory``).
    max_memory : int, str or None, default=None
        Working-memory budget of one chunk, in bytes or as a string like ``"2GB"`` / ``"512MiB"``;
        chunk rows are sized from it (with ``batch_size`` too, the smaller wins). A budget too
        small for one row raises ``ValueError`` at ``fit``, naming both numbers.
    verbose : bool or int, default=False
        A progress bar over the rows when ``transform`` (or ``export``) needs more than one chunk.

    Attributes
    ----------
    directions_ : ndarray of shape (n_features, n_features_in_)
    offsets_ : ndarray of shape (n_features,)
    offset_scale_ : float
        B of the uniform law U[−B, B]; for data-aware offsets the largest |γ_i|.
    offset_law_ : {"uniform", "data", "quantile"}
        Which law drew the offsets (only ``"uniform"`` is the paper's, with a limit kernel).
    inactive_fraction_ : float
        Fraction of units whose zero-plane ξ_i·x = γ_i misses the training inputs: ξ_i·x − γ_i has
        one sign on every training row (values within 1e-12 of the scale of ξ_i·x and γ_i count as
        0, so a plane through the extreme training point counts as missing them). For ReLU-like activations such a unit is constant (zero)
        or affine on the data, so it adds no kink where the data are.
    inactive_sides_ : dict
        ``{"negative": f, "positive": f}``: the fractions of units with ξ_i·x − γ_i <= 0 (ReLU:
        always zero) and >= 0 (ReLU: always on, i.e. linear) on every training row.
    activation_ : kernelreg.activations.Activation
    device_ : torch.device
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.features import RandomFeatureMap
    >>> X = np.random.default_rng(0).uniform(-1, 1, size=(5, 2))
    >>> RandomFeatureMap(8, random_state=0).fit_transform(X).shape
    (5, 8)
    """

    _parameter_constraints: dict = {
        **FeatureMap._parameter_constraints,
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "activation": [str, callable],
        "activation_params": [dict, None],
        "offset_scale": [Interval(Real, 0, None, closed="left"), StrOptions({"data", "quantile"}), None],
        "directions": [StrOptions({"random", "grid"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_features: int = 1000,
        *,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        offset_scale: float | Literal["data", "quantile"] | None = None,
        directions: Literal["random", "grid"] = "random",
        random_state: int | np.random.RandomState | None = None,
        device: str = "cpu",
        dtype: Literal["float64", "float32"] = "float64",
        batch_size: int | None = None,
        max_memory: int | str | None = None,
        verbose: bool | int = False,
    ) -> None:
        self.n_features = n_features
        self.activation = activation
        self.activation_params = activation_params
        self.offset_scale = offset_scale
        self.directions = directions
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.max_memory = max_memory
        self.verbose = verbose

    def _fit_map(self, X: np.ndarray, rng: np.random.RandomState, sample_weight: np.ndarray | None = None) -> None:
        """Draw ξ uniform on the sphere (or lay it on the even grid) and γ by ``offset_scale``'s law, on the CPU in float64.

        With ``sample_weight`` the data-aware laws and ``inactive_fraction_`` read the weighted
        inputs (weight 0: left out; integer weights: repeated), as the default B = max‖x‖ does.
        """
        if sample_weight is not None:
            if not (sample_weight > 0).any():
                raise ValueError(
                    f"{type(self).__name__}: sample_weight is zero for all {X.shape[0]} training inputs; "
                    "at least one input needs a positive weight."
                )
            X, sample_weight = X[sample_weight > 0], sample_weight[sample_weight > 0]
        self.activation_ = activations.get(self.activation, **(self.activation_params or {}))
        gen = seed_generator(rng)
        if self.directions == "grid":
            xi = _grid_directions(self.n_features, X.shape[1])
        else:
            xi = torch.randn(self.n_features, X.shape[1], generator=gen, dtype=torch.float64)
            xi = xi / xi.norm(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
        u = torch.rand(self.n_features, generator=gen, dtype=torch.float64).numpy()
        self.directions_ = xi.numpy()
        law = self.offset_scale if isinstance(self.offset_scale, str) else "uniform"
        if law != "uniform":  # the data as a weighted set: the same offsets, bit for bit, whatever the order or repeats
            X, sample_weight = _unique_rows(X, sample_weight)
        stats = _projection_stats(X, self.directions_, sample_weight)
        if law == "data":
            half_width = math.sqrt(3.0) * stats["std"]
            offsets = stats["mean"] + (2.0 * u - 1.0) * half_width
        elif law == "quantile":  # a training row with probability proportional to its weight
            cumulative = np.cumsum(sample_weight, dtype=np.float64)
            rows = np.minimum(np.searchsorted(cumulative, u * cumulative[-1], side="right"), X.shape[0] - 1)
            offsets = np.einsum("ij,ij->i", X[rows].astype(np.float64), self.directions_)
        else:
            if self.offset_scale is None:
                scale = float(np.sqrt((X.astype(np.float64) ** 2).sum(axis=1)).max()) if X.size else 0.0
            else:
                scale = float(self.offset_scale)
            offsets = (2.0 * u - 1.0) * scale
        self.offset_law_ = law
        self.offsets_ = offsets
        self.offset_scale_ = scale if law == "uniform" else float(np.abs(offsets).max(initial=0.0))
        # ξ·x − γ <= 0 (>= 0) on every training row, up to rounding (a "quantile" plane contains its point)
        tol = _TIE_RTOL * (np.maximum(np.abs(stats["min"]), np.abs(stats["max"])) + np.abs(offsets))
        negative = stats["max"] - offsets <= tol
        positive = stats["min"] - offsets >= -tol
        self.inactive_sides_ = {"negative": float(negative.mean()), "positive": float(positive.mean())}
        self.inactive_fraction_ = float((negative | positive).mean())
        self._weights = None
        self._weights = self._device_params()

    @property
    def n_output_features_(self) -> int:
        return int(self.directions_.shape[0])

    def _device_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(ξᵀ, γ) on ``device_`` in ``dtype_``: made once at fit (and after unpickling), reused by every chunk."""
        cached = getattr(self, "_weights", None)
        if cached is not None:
            return cached
        w = torch.as_tensor(self.directions_.T, dtype=self.dtype_, device=self.device_).contiguous()
        b = torch.as_tensor(self.offsets_, dtype=self.dtype_, device=self.device_)
        return w, b

    def _forward(self, X_chunk: torch.Tensor) -> torch.Tensor:
        w, b = self._device_params()
        return self.activation_(torch.addmm(-b, X_chunk, w))

    def pre_activations(self, X: ArrayLike) -> np.ndarray:
        """The frozen affine part ξ_i·x − γ_i (before σ), for diagnostics and zero-plane plots."""
        X = self._check_input(X)
        return X @ self.directions_.T - self.offsets_

    def _check_scale(self, X: np.ndarray) -> None:
        """Refuse inputs whose scale makes the offsets or a bound on |ξ·x − γ| overflow the compute dtype."""
        if X.size == 0:
            return
        index = np.unravel_index(int(np.argmax(np.abs(X))), X.shape)
        x_max = float(abs(X[index]))
        limit = float(torch.finfo(self.dtype_).max)
        offsets_ok = math.isfinite(self.offset_scale_) and bool(np.isfinite(self.offsets_).all())
        with np.errstate(over="ignore"):  # an overflowing bound is what is being tested
            xi_norm = float(np.sqrt((self.directions_**2).sum(axis=1)).max())
            z_bound = xi_norm * math.sqrt(X.shape[1]) * x_max + float(np.abs(self.offsets_).max())
        if offsets_ok and z_bound <= limit:
            return
        cause = (
            f"the offset scale B = max‖x‖ overflows float64 (offset_scale_={self.offset_scale_:.3g})"
            if not offsets_ok
            else f"the pre-activations ξ·x − γ can reach {z_bound:.3g}, beyond the largest {self.dtype} "
            f"({limit:.3g})"
        )
        hint = " or use dtype='float64'" if self.dtype_ != torch.float64 else ""
        raise ValueError(
            f"RandomFeatureMap.fit: the inputs are too large: |x| reaches {x_max:.3g} (row {index[0]}, column "
            f"{index[1]}), and {cause}. Scale the inputs down (e.g. sklearn's StandardScaler){hint}."
        )

    def _nonfinite_message(self, rows: np.ndarray, xb: torch.Tensor, start: int, stop: int, bad: int) -> str:
        """Blame the input scale when the pre-activation ξ·x − γ itself overflows, else the activation."""
        x_max = float(np.abs(rows).max()) if rows.size else 0.0
        w, b = self._device_params()
        z = torch.addmm(-b, xb, w)
        head = f"RandomFeatureMap produced {bad} non-finite feature values in rows {start}..{stop - 1}"
        if not bool(torch.isfinite(z).all()):
            hint = " or use dtype='float64'" if self.dtype_ != torch.float64 else ""
            limit = torch.finfo(self.dtype_).max
            gamma_max = float(np.abs(self.offsets_).max())
            return (
                f"{head}: inputs of magnitude up to |x| = {x_max:.3g} overflow the pre-activation ξ·x − γ in "
                f"{self.dtype} (largest finite value {limit:.3g}; offsets up to |γ| = {gamma_max:.3g}). Scale the "
                f"inputs down (e.g. sklearn's StandardScaler){hint}."
            )
        name = getattr(self.activation_, "name", self.activation)
        z_max = float(z.abs().max())
        return (
            f"{head}: the activation {name!r} overflows where the pre-activations ξ·x − γ reach |z| = {z_max:.3g} "
            f"(inputs up to |x| = {x_max:.3g}). Scale the inputs down, use dtype='float64' or another activation."
        )

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_weights", None)  # device tensors are rebuilt on load, not pickled
        return state

    def __setstate__(self, state):
        super().__setstate__(state)  # settles device_ first
        if hasattr(self, "directions_"):
            self._weights = None
            self._weights = self._device_params()


def _unique_rows(X: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of X in lexicographic order, each with its total weight (its count without weights)."""
    rows, inverse = np.unique(X, axis=0, return_inverse=True)
    total = np.bincount(inverse.ravel(), weights=weights, minlength=rows.shape[0]).astype(np.float64)
    return rows, total


#: Relative tolerance under which ξ·x − γ counts as 0 when deciding on which side of a zero-plane the data lie.
_TIE_RTOL = 1e-12


def _projection_stats(X: np.ndarray, directions: np.ndarray, weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-unit min, max, (weighted) mean and standard deviation of ξ_i·x over the rows of X, in row chunks.

    The projections are taken of ``x − mean(x)`` (then shifted by ξ_i·mean(x)), so the variance
    does not cancel for inputs far from the origin.
    """
    n = directions.shape[0]
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    center = (w @ X.astype(np.float64)) / w.sum()
    shift = directions @ center
    low, high, squares = np.full(n, np.inf), np.full(n, -np.inf), np.zeros(n)
    rows = auto_batch_size(n)
    for start in range(0, X.shape[0], rows):
        P = (X[start:start + rows].astype(np.float64) - center) @ directions.T
        np.minimum(low, P.min(axis=0), out=low)
        np.maximum(high, P.max(axis=0), out=high)
        squares += w[start:start + rows] @ (P * P)
    return {"min": low + shift, "max": high + shift, "mean": shift, "std": np.sqrt(squares / w.sum())}


def _grid_directions(n: int, d: int) -> torch.Tensor:
    """Evenly spaced unit directions: angles 2πi/n on the circle (d = 2), or +1, −1 alternating (d = 1)."""
    if d == 2:
        theta = torch.arange(n, dtype=torch.float64) * (2.0 * math.pi / n)
        return torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)
    if d == 1:
        return torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0).to(torch.float64).reshape(n, 1)
    raise ValueError(
        f"RandomFeatureMap(directions='grid') lays evenly spaced directions on the unit circle, so it "
        f"needs inputs of dimension 2 (or 1); got X with {d} features. Use directions='random' for "
        f"d = {d}."
    )


class ModuleFeatureMap(FeatureMap):
    """Any frozen torch module used as a feature map: Φ = module(X), computed in chunks without gradients.

    Later stages freeze trained networks (their hidden part) into this wrapper so the output layer
    can be solved convexly. ``fit`` deep-copies the module, initialises its lazy parameters
    (``torch.nn.LazyLinear`` & co.) by a dry forward pass on the first training row, moves it to
    ``device`` in ``dtype``, switches it to eval mode and turns off ``requires_grad``; the caller's
    module is untouched.

    Parameters
    ----------
    module : torch.nn.Module or callable
        Maps a (n_rows, n_features_in) tensor to a (n_rows, n_features) tensor.
    device, dtype, batch_size, max_memory, verbose
        As in :class:`RandomFeatureMap` (the per-row memory estimate counts the output width only,
        not the module's hidden activations).
    random_state : int, RandomState or None, default=None
        Seeds the initialisation of lazy parameters (drawn on the CPU in float64 from a forked torch
        generator, so the global torch seed is neither used nor changed). Modules without lazy
        parameters draw nothing.

    Attributes
    ----------
    module_ : torch.nn.Module
    n_features_out_ : int
    n_features_in_ : int

    Raises
    ------
    ValueError
        At ``fit``: the module cannot take inputs of the training width (the message names the
        width of X and the width the module's first layer expects), or it does not return a 2-D
        tensor.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from kernelreg.features import ModuleFeatureMap
    >>> net = torch.nn.Sequential(torch.nn.LazyLinear(16), torch.nn.Tanh())
    >>> ModuleFeatureMap(net, random_state=0).fit_transform(np.zeros((5, 3))).shape
    (5, 16)
    """

    _parameter_constraints: dict = {
        **FeatureMap._parameter_constraints,
        "module": [HasMethods(["__call__"])],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        module: torch.nn.Module | Callable,
        *,
        device: str = "cpu",
        dtype: Literal["float64", "float32"] = "float64",
        batch_size: int | None = None,
        max_memory: int | str | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: bool | int = False,
    ) -> None:
        self.module = module
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.max_memory = max_memory
        self.random_state = random_state
        self.verbose = verbose

    def _fit_map(self, X: np.ndarray, rng: np.random.RandomState, sample_weight: np.ndarray | None = None) -> None:
        """Freeze a private copy of the module on the device (lazy parameters initialised first) and probe its width."""
        import copy

        module = copy.deepcopy(self.module)
        # a writable copy of one row: torch warns on read-only memory
        probe = np.array(X[:1]) if X.shape[0] else np.zeros((1, X.shape[1]))
        if isinstance(module, torch.nn.Module):
            module.eval()
            if any(torch.nn.parameter.is_lazy(t) for t in (*module.parameters(), *module.buffers())):
                self._initialise_lazy(module, probe, rng)
            module = module.to(device=self.device_, dtype=self.dtype_)
            for p in module.parameters():
                p.requires_grad_(False)
        self.module_ = module
        out = self._probe(module, torch.as_tensor(probe, dtype=self.dtype_, device=self.device_))
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"ModuleFeatureMap: the module must map (n_rows, {X.shape[1]}) inputs to a 2-D tensor "
                f"(n_rows, n_features); it returned {shape}. Add torch.nn.Flatten() if needed."
            )
        self.n_features_out_ = int(out.shape[1])

    def _initialise_lazy(self, module: torch.nn.Module, probe: np.ndarray, rng: np.random.RandomState) -> None:
        """Materialise lazy parameters by a dry forward pass on the CPU in float64, seeded without global state."""
        module.to(device="cpu", dtype=torch.float64)
        seed = int(rng.randint(2**31 - 1))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # inside fork_rng: the caller's global generator is restored afterwards
            self._probe(module, torch.as_tensor(probe, dtype=torch.float64))

    def _probe(self, module, x: torch.Tensor):
        """One forward pass without gradients; a width mismatch becomes a ValueError naming both widths."""
        try:
            with torch.no_grad():
                return module(x)
        except RuntimeError as exc:
            layer = _first_layer_width(module)
            if layer is not None and layer[1] != x.shape[1]:
                name, width = layer
                raise ValueError(
                    f"ModuleFeatureMap: X has {x.shape[1]} features but the module's first layer ({name}) "
                    f"expects inputs of width {width}; pass X with {width} columns or build the module for "
                    f"{x.shape[1]} inputs (torch.nn.LazyLinear adapts to any width)."
                ) from exc
            raise ValueError(
                f"ModuleFeatureMap: the module failed on a ({x.shape[0]}, {x.shape[1]}) input of the training "
                f"width {x.shape[1]}: {exc}"
            ) from exc

    @property
    def n_output_features_(self) -> int:
        return self.n_features_out_

    def __getstate__(self):
        state = dict(super().__getstate__())
        if isinstance(state.get("module_"), torch.nn.Module):  # pickles hold CPU tensors: loadable anywhere
            state["module_"] = module_to_cpu(state["module_"])
        return state

    def __setstate__(self, state):
        super().__setstate__(state)  # settles device_ first
        if isinstance(getattr(self, "module_", None), torch.nn.Module):
            self.module_ = self.module_.to(self.device_)

    def _forward(self, X_chunk: torch.Tensor) -> torch.Tensor:
        return self.module_(X_chunk)


def _first_layer_width(module) -> tuple[str, int] | None:
    """(name, input width) of the first submodule with ``in_features`` (Linear and the like), or None."""
    if not isinstance(module, torch.nn.Module):
        return None
    for name, sub in module.named_modules():
        width = getattr(sub, "in_features", None)
        if isinstance(width, int) and width > 0:
            return f"{name or 'module'}: {sub}", width
    return None


def freeze(
    network: torch.nn.Module,
    readout: str = "last",
    *,
    device: str = "cpu",
    dtype: Literal["float64", "float32"] = "float64",
    batch_size: int | None = None,
    max_memory: int | str | None = None,
    verbose: bool | int = False,
) -> ModuleFeatureMap:
    """Freeze a (trained) network's hidden part into a feature map for a convex output-layer solve.

    The network must offer ``feature_module(readout)`` (as :class:`kernelreg.networks.MLP` does):
    ``"last"`` is the last hidden vector, ``"kronecker"`` the N·K branch features of a Rowdy /
    Kronecker last layer, ``"function"`` the activated state function of an IAT last layer at its
    M mesh points. The returned map holds a deep copy, so later training of ``network`` does not
    change it. Call ``fit(X)`` on it before ``transform``.

    Parameters
    ----------
    network : torch.nn.Module
        A network with a ``feature_module(readout)`` method, or any module mapping x to features.
    readout : str, default="last"
    device, dtype, batch_size, max_memory, verbose
        As in :class:`ModuleFeatureMap`.

    Returns
    -------
    ModuleFeatureMap
    """
    module = network.feature_module(readout) if hasattr(network, "feature_module") else network
    return ModuleFeatureMap(module, device=device, dtype=dtype, batch_size=batch_size, max_memory=max_memory,
                            verbose=verbose)
