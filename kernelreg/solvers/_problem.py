"""Validate once: turn (Phi, y, eps, sample_weight, fit_intercept) into the one :class:`Problem` every backend reads.

``solve()`` and the public classes call :func:`prepare`; backends take the resulting ``Problem``
and never re-check it. The problem every method solves is

    min ||c||  s.t.  sum_i w_i (phi_i . c + b - y_i)^2 / (sum_i w_i * K) <= eps,

with an unpenalised intercept ``b`` only when ``fit_intercept``. In the solvers' own units it is a
plain min-norm problem on the *effective* features and targets

    Phi_e = D (Phi - 1 mu^T),   y_e = D (y - 1 ybar^T),   D = diag(sqrt(w~)),   w~ = w N / sum(w),

(``mu``, ``ybar``: weighted means), with ``mse = ||Phi_e c - y_e||^2 / (N K)`` and
``b = ybar - mu^T c``. ``Phi_e`` is never formed: products, Gram matrices and R factors take the
weights and the centring as rank-one corrections (``Phi^T Phi - N mu mu^T``) or as an extra
Householder column. Entries of Phi or y too large or too small to square in float64 are scaled
by a power of two (exact) and the results scaled back, with an error naming the scale when a
result is not representable.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
from typing import Any

import numpy as np
import torch

from kernelreg._dask import is_dask_array
from kernelreg._torch import as_tensor, resolve_device
from kernelreg.exceptions import SolverError
from kernelreg.solvers._linalg import pow2_scale
from kernelreg.solvers._sources import ChunkedSource, DenseSource, Source, nonfinite_error
from kernelreg.solvers.distributed import DaskSource

__all__ = ["Problem", "prepare", "check_eps", "suggest", "needs_streaming"]

_INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)


def suggest(key: str, allowed: list[str] | tuple[str, ...]) -> str:
    """A ' Did you mean ...?' hint for a mistyped name, or an empty string."""
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_eps(eps: Any, name: str = "eps") -> float:
    """eps must be a finite real number >= 0 (a bound on the mean squared training error)."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(
            f"{name} must be a real number >= 0 (a bound on the mean squared training error); got "
            f"{eps!r} of type {type(eps).__name__}."
        )
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(
            f"{name} must be finite and >= 0 (a bound on the mean squared training error); got "
            f"{name}={eps!r}. Use {name}=0 for the min-norm interpolant."
        )
    return eps


def needs_streaming(Phi: Any, max_memory: Any) -> bool:
    """True when the exact solve must not pull Phi into memory: a memory map, a dask array, or a budget."""
    return max_memory is not None or isinstance(Phi, np.memmap) or is_dask_array(Phi)


class Problem:
    """Validated input of one solve, in the solvers' units (Phi / 2**phi_exp, y / 2**y_exp).

    Built only by :func:`prepare`. Attributes are read by every backend; the effective-problem
    helpers (:meth:`matvec`, :meth:`rmatvec`, :meth:`gram`, :meth:`r_matrix`) apply weights and
    centring without copying Phi.
    """

    def __init__(
        self,
        source: Source,
        Y: torch.Tensor,
        was_1d: bool,
        eps: float,
        weights: torch.Tensor | None,
        fit_intercept: bool,
        phi_exp: int,
        y_exp: int,
        weight_unit: float = 1.0,
    ) -> None:
        self.source = source
        self.weight_unit = weight_unit  # the caller's weights are weights * weight_unit (their mean)
        self.device = source.device
        self.Y = Y
        self.was_1d = was_1d
        self.eps_asked = eps
        self.phi_exp, self.y_exp = phi_exp, y_exp
        self.eps = math.ldexp(eps, -2 * y_exp)
        self.weights = weights
        self.fit_intercept = fit_intercept
        self.n_samples, self.n_features = source.n_samples, source.n_features
        self.n_outputs = int(Y.shape[1])
        self.scale = None if weights is None else weights.sqrt()
        if fit_intercept:
            w = torch.ones(self.n_samples, dtype=torch.float64, device=self.device) if weights is None else weights
            self._w = w
            self.y_mean = (w[:, None] * Y).sum(dim=0) / w.sum()
        else:
            self._w = None
            self.y_mean = torch.zeros(self.n_outputs, dtype=torch.float64, device=self.device)
        Yc = Y - self.y_mean if fit_intercept else Y
        self.Ye = Yc if self.scale is None else Yc * self.scale[:, None]
        self._mu: torch.Tensor | None = None

    def with_eps(self, eps: float) -> Problem:
        """The same data with another eps (caller units): re-solves share the source and the column means."""
        other = copy.copy(self)
        other.eps_asked = eps
        other.eps = math.ldexp(eps, -2 * self.y_exp)
        return other

    # ------------------------------------------------------------------ sizes and dense access
    @property
    def nk(self) -> int:
        """N * K, the normaliser of the mean squared error."""
        return self.n_samples * self.n_outputs

    @property
    def plain(self) -> bool:
        """No weights and no intercept: Phi_e is Phi itself."""
        return self.scale is None and not self.fit_intercept

    @property
    def dense(self) -> torch.Tensor:
        """Phi as one tensor on the device (in-memory problems only)."""
        if not isinstance(self.source, DenseSource):
            raise TypeError("this Phi is streamed; only method='exact' reads it chunk by chunk.")
        return self.source.P

    # ------------------------------------------------------------------ effective operator
    @property
    def mu(self) -> torch.Tensor | None:
        """Weighted column means of Phi (n,) when an intercept is fitted, else None (one pass, cached)."""
        if self.fit_intercept and self._mu is None:
            self._mu = self.source.rmatvec(self._w[:, None])[:, 0] / self._w.sum()
        return self._mu

    def ones_scale(self) -> torch.Tensor:
        """The vector D 1 (sqrt of the normalised weights, or ones)."""
        if self.scale is not None:
            return self.scale
        return torch.ones(self.n_samples, dtype=torch.float64, device=self.device)

    def matvec(self, X: torch.Tensor) -> torch.Tensor:
        """``Phi_e X = D (Phi X - 1 mu^T X)``."""
        out = self.source.matvec(X)
        if self.fit_intercept:
            out = out - self.mu @ X
        return out if self.scale is None else out * self.scale[:, None]

    def rmatvec(self, A: torch.Tensor) -> torch.Tensor:
        """``Phi_e^T A = Phi^T (D A) - mu (1^T D A)`` (the column means ride along in the same pass)."""
        SA = A if self.scale is None else A * self.scale[:, None]
        if not self.fit_intercept:
            return self.source.rmatvec(SA)
        if self._mu is None:
            both = self.source.rmatvec(torch.cat([SA, self._w[:, None]], dim=1))
            self._mu = both[:, -1] / self._w.sum()
            out = both[:, :-1]
        else:
            out = self.source.rmatvec(SA)
        return out - self._mu[:, None] * SA.sum(dim=0)

    def intercept(self, C: torch.Tensor) -> torch.Tensor:
        """``b = ybar - mu^T c`` (zeros without an intercept)."""
        if not self.fit_intercept:
            return torch.zeros(self.n_outputs, dtype=torch.float64, device=self.device)
        return self.y_mean - self.mu @ C

    def gram(self, wide: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``Phi_e Phi_e^T`` (wide; second item None) or ``(Phi_e^T Phi_e, Phi_e^T y_e)`` (tall), one pass."""
        if wide:
            G = self.source.wide_gram()
            _check_statistics(G, "rows")
            if self.fit_intercept:  # (Phi - 1 mu^T)(Phi - 1 mu^T)^T from Phi Phi^T: mu = Phi^T w / sum(w)
                w = self._w
                m = G @ w / w.sum()
                G = G - m[:, None] - m[None, :] + (w @ m) / w.sum()
            if self.scale is not None:
                G = G * self.scale[:, None] * self.scale[None, :]
            return G, None
        A = self.Y if self.scale is None else self.Y * self.weights[:, None]
        if self.fit_intercept:
            A = torch.cat([A, self._w[:, None]], dim=1)
        G, B = self.source.tall_gram(self.scale, A)
        _check_statistics(G, "columns")
        if not self.fit_intercept:
            return G, B
        total = self._w.sum()
        self._mu = B[:, -1] / total
        mu = self._mu
        G = G - total * mu[:, None] * mu[None, :]  # Phi^T W Phi - sum(w) mu mu^T
        b = B[:, :-1] - total * mu[:, None] * self.y_mean[None, :]
        return G, b

    def r_matrix(self, wide: bool) -> tuple[torch.Tensor, Any]:
        """A factor M of Phi_e from one QR pass, and a function applying Q when it is kept (in memory, wide).

        Wide: ``Phi_e = M Q^T`` (M is N x N); tall: M is R of ``[Phi_e | y_e]`` (no Q).
        """
        if wide:
            Q = None
            if isinstance(self.source, DenseSource):
                R, Q = self.source.wide_qr()
            else:
                R = self.source.wide_r()
            M = R.mT  # Phi = R^T Q^T
            _check_statistics(M, None)
            if self.scale is not None:
                M = M * self.scale[:, None]
            if self.fit_intercept:  # P D R^T with P = I - q q^T, q = D 1 / ||D 1||
                q = self.ones_scale()
                q = q / torch.linalg.vector_norm(q)
                M = M - q[:, None] * (q @ M)[None, :]
            return M, Q
        Ys = self.Y if self.scale is None else self.Y * self.scale[:, None]
        q = None
        if self.fit_intercept:  # [q | D Phi | D y] = Q R: drop q's row and column
            q = self.ones_scale()
            q = (q / torch.linalg.vector_norm(q))[:, None]
        if isinstance(self.source, DenseSource):
            R, apply_q = self.source.tall_qr(q, self.scale, Ys)
        else:
            R, apply_q = self.source.tall_r(q, self.scale, Ys), None
        _check_statistics(R, None)
        if q is None:
            return R, apply_q
        if apply_q is None:
            return R[1:, 1:], None

        def apply_q_past_q(Z: torch.Tensor) -> torch.Tensor:
            return apply_q(torch.cat([torch.zeros(1, Z.shape[1], dtype=Z.dtype, device=Z.device), Z], dim=0))

        return R[1:, 1:], apply_q_past_q

    # ------------------------------------------------------------------ back to the caller's units
    def unscale(self, coef: torch.Tensor, intercept: torch.Tensor) -> tuple[np.ndarray, np.ndarray | float]:
        """coef and intercept in the caller's units and shapes; an error naming the scale if not representable."""
        from kernelreg._torch import to_numpy64

        c = to_numpy64(coef)
        b = to_numpy64(intercept)
        shift = self.y_exp - self.phi_exp
        if shift:
            c = _ldexp_checked(c, shift, "coefficients", self)
        if self.y_exp:
            b = _ldexp_checked(b, self.y_exp, "intercept", self)
        if self.was_1d:
            return c[:, 0], float(b[0])
        return c, b

    def scale_note(self) -> str:
        """How Phi and y were rescaled (for messages)."""
        parts = []
        if self.phi_exp:
            parts.append(f"|Phi| up to ~2**{self.phi_exp} (~1e{self.phi_exp * math.log10(2):.0f})")
        if self.y_exp:
            parts.append(f"|y| up to ~2**{self.y_exp} (~1e{self.y_exp * math.log10(2):.0f})")
        return " and ".join(parts)


def _check_statistics(G: torch.Tensor, what: str | None) -> None:
    """NaN/inf in a streamed Phi (or entries beyond ~1e154) show up in its Gram diagonal or R factor: say so."""
    if what is None:
        if bool(torch.isfinite(G).all()):
            return
        raise nonfinite_error("the QR factor of Phi is not finite (NaN/inf entries, or values beyond 1e154 "
                              "that overflow when squared)")
    diag = torch.diagonal(G)
    finite = torch.isfinite(diag)
    if not bool(finite.all()):
        raise nonfinite_error(
            f"{int((~finite).sum())} of its {diag.numel()} {what} have non-finite sums of squares "
            "(NaN/inf entries, or values beyond 1e154 that overflow when squared)"
        )


def _ldexp_checked(values: np.ndarray, exponent: int, what: str, problem: Problem) -> np.ndarray:
    """values * 2**exponent, refusing results that overflow or flush to zero."""
    out = np.ldexp(values, exponent)
    lost = (values != 0) & ((out == 0) | ~np.isfinite(out) | (np.abs(out) < np.finfo(np.float64).tiny))
    if lost.any():
        raise SolverError(
            f"the {what} are not representable in float64 at the scale of the data "
            f"({problem.scale_note()}): {int(lost.sum())} of {values.size} would overflow or underflow. "
            "Rescale Phi and y to values near 1 (e.g. divide by their largest entries) and scale the "
            "coefficients back yourself.",
            method="exact",
            status="failed",
        )
    return out


# ---------------------------------------------------------------------- validation
def _describe_nonfinite(values: torch.Tensor | np.ndarray, name: str) -> str:
    """Say how many NaN / infinite entries an array has."""
    t = values if isinstance(values, torch.Tensor) else torch.as_tensor(values)
    n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
    parts = [f"{n_nan} NaN"] if n_nan else []
    if n_inf:
        parts.append(f"{n_inf} infinite")
    return (
        f"{name} contains {' and '.join(parts) or 'non-finite'} value(s); solvers need finite input. Remove or "
        f"impute those entries (check the features for overflow, e.g. a float32 activation)."
    )


def _as_real(values: Any, name: str) -> np.ndarray | torch.Tensor:
    """Accept a torch tensor as is and turn anything else into a numeric numpy array."""
    if isinstance(values, torch.Tensor):
        if values.is_complex() or not (values.is_floating_point() or values.dtype in _INT_DTYPES):
            raise TypeError(f"{name} must hold real numbers; got a torch tensor of dtype {values.dtype}.")
        return values.detach()
    if is_dask_array(values) or isinstance(values, np.memmap):
        array = values
    elif hasattr(values, "shape") and hasattr(values, "dtype") and hasattr(values, "__getitem__") and not isinstance(
        values, np.ndarray
    ):
        array = values  # another sliceable array type (e.g. h5py): read in chunks
    else:
        array = np.asarray(values)
    if np.dtype(array.dtype).kind not in "fiub":
        raise TypeError(
            f"{name} must hold real numbers; got an array of dtype {array.dtype}. Convert it with "
            f"np.asarray({name}, dtype=float)."
        )
    return array


def _check_shape(shape: tuple[int, ...]) -> None:
    """Phi must be a non-empty 2-D matrix."""
    if len(shape) != 2:
        raise ValueError(
            f"Phi must be a 2-D feature matrix of shape (n_samples, n_features); got shape "
            f"{tuple(shape)} ({len(shape)}-D). Reshape it, e.g. Phi.reshape(n_samples, -1)."
        )
    if any(isinstance(d, float) and math.isnan(d) for d in shape):
        raise ValueError(f"Phi is a dask array of unknown shape {shape}; call Phi.compute_chunk_sizes() first.")
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(
            f"Phi is empty: shape {tuple(shape)}; solvers need at least one sample (row) and one feature (column)."
        )


def _targets(y: Any, n_samples: int) -> tuple[np.ndarray, bool]:
    """y as a finite float64 (N, K) array and whether it was 1-D."""
    y = _as_real(y, "y")
    y = y.to("cpu", dtype=torch.float64).numpy() if isinstance(y, torch.Tensor) else np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2):
        raise ValueError(
            f"y must be 1-D of shape (n_samples,) or 2-D of shape (n_samples, n_outputs); got shape "
            f"{y.shape} ({y.ndim}-D)."
        )
    if y.shape[0] != n_samples:
        raise ValueError(
            f"Phi and y disagree on the number of samples: Phi has {n_samples} rows but y has "
            f"{y.shape[0]} entries; pass the labels of exactly the rows of Phi."
        )
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError(f"y is empty: shape {y.shape}; it needs at least one output column.")
    if not np.isfinite(y).all():
        raise ValueError(_describe_nonfinite(y, "y"))
    return (y[:, None] if y.ndim == 1 else y), y.ndim == 1


def _sample_weight(sample_weight: Any, n_samples: int, device: torch.device) -> tuple[torch.Tensor | None, float]:
    """Normalised weights w N / sum(w) (mean 1) as a tensor (None for no weights), and the raw mean weight sum(w) / N."""
    if sample_weight is None:
        return None, 1.0
    w = _as_real(sample_weight, "sample_weight")
    w = w.to("cpu", dtype=torch.float64).numpy() if isinstance(w, torch.Tensor) else np.asarray(w, dtype=np.float64)
    if w.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape (n_samples,) = ({n_samples},); got shape {w.shape}. Pass one "
            "non-negative weight per row of Phi."
        )
    if not np.isfinite(w).all() or (w < 0).any() or not (w > 0).any():
        raise ValueError(
            f"sample_weight must be finite, >= 0 and not all zero; got min={np.min(w)!r}, max={np.max(w)!r}, "
            f"sum={np.sum(w)!r}."
        )
    top = float(w.max())
    w = w / top  # no overflow in the sum below
    total = float(w.sum())
    return torch.as_tensor(w * (n_samples / total), dtype=torch.float64, device=device), top * (total / n_samples)


def _dense_phi(
    Phi: np.ndarray | torch.Tensor, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, int, float | None]:
    """Phi as a tensor of ``dtype`` on ``device`` (no copy when it already is one), checked finite.

    Returns the tensor, its power-of-two scale exponent and ``||Phi||_F^2`` (kept for the
    certificate). One pass: the Frobenius norm is NaN/inf for NaN/inf entries and lies far from 1
    only for extreme scales; only then does a second pass (min/max) tell which.
    """
    P = as_tensor(Phi, device, dtype)
    fro = float(torch.linalg.vector_norm(P))
    if math.isfinite(fro) and 2.0**-300 < fro < 2.0**300:
        return P, 0, fro * fro
    low, high = torch.aminmax(P)  # NaN propagates, and it gives the scale
    top = max(abs(float(low)), abs(float(high)))
    if not math.isfinite(top):
        raise ValueError(_describe_nonfinite(P, "Phi"))
    exponent = pow2_scale(top)
    if exponent:
        P = torch.ldexp(P, torch.tensor(-exponent, dtype=P.dtype, device=P.device))
    return P, exponent, None


def prepare(
    Phi: Any,
    y: Any,
    eps: Any = 0.0,
    *,
    device: str | torch.device | None = "cpu",
    fit_intercept: bool = False,
    sample_weight: Any = None,
    max_memory: Any = None,
    dtype: torch.dtype = torch.float64,
    stream: bool = False,
) -> Problem:
    """Validate every input once and build the :class:`Problem` (streamed when Phi is a memmap, dask or budgeted)."""
    eps = check_eps(eps)
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise TypeError(f"fit_intercept must be True or False; got {fit_intercept!r}.")
    dev = resolve_device(device)
    Phi = _as_real(Phi, "Phi")
    shape = tuple(Phi.shape)
    _check_shape(shape)
    n_samples = int(shape[0])
    Y_np, was_1d = _targets(y, n_samples)
    y_exp = pow2_scale(float(np.abs(Y_np).max()))
    if y_exp:
        Y_np = np.ldexp(Y_np, -y_exp)
    weights, weight_unit = _sample_weight(sample_weight, n_samples, dev)
    Y = torch.as_tensor(Y_np, dtype=torch.float64, device=dev)
    if is_dask_array(Phi):
        source: Source = DaskSource(Phi, dev)
        phi_exp = 0
    elif stream or needs_streaming(Phi, max_memory) or not isinstance(Phi, (np.ndarray, torch.Tensor)):
        source = ChunkedSource(Phi, dev, max_memory, Y.shape[1])
        phi_exp = 0
    else:
        P, phi_exp, fro2 = _dense_phi(Phi, dev, dtype)
        source = DenseSource(P, "tensor" if isinstance(Phi, torch.Tensor) else "array", fro2=fro2)
    return Problem(source, Y, bool(was_1d), eps, weights, bool(fit_intercept), phi_exp, y_exp, weight_unit)
