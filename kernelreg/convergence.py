"""Finite width against its limit: how K_n = ΦΦᵀ/n and the min-norm fits approach K∞ and the RKHS fit as n grows.

This module sits at the compare stage: it streams random features (``features``), evaluates the
limit kernel (``kernels``), solves both min-norm programs with the public ``solvers.solve`` (so
both carry its certificates) and measures the fits with the spectral-bias paper's metric
(``compare.compare_fits``). Φ is never stored: ΦΦᵀ is accumulated over chunks of features, and
the finite-width fit is solved through its Gram factor, which is the same program (the fit of
min ‖c‖ s.t. (1/N)‖Φc − y‖² ≤ eps depends on Φ only through ΦΦᵀ).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state

from kernelreg.compare import compare_fits, hull_points
from kernelreg.exceptions import SolverError
from kernelreg.features import RandomFeatureMap
from kernelreg.kernels import GramFactor, LimitKernel, gram_features
from kernelreg.solvers import Solution, solve

__all__ = ["WidthConvergence", "width_convergence", "kernel_fit"]


def kernel_fit(factor: GramFactor, y: ArrayLike, eps: float) -> tuple[Solution, str]:
    """The min-norm fit on a kernel's Gram factor at eps, or the min-norm least-squares fit when eps is infeasible.

    Returns the solution and its status ("infeasible" when eps had to be dropped to 0: the
    least-squares floor of this kernel on these points is above eps).
    """
    try:
        sol = solve(factor.features, y, method="exact", eps=eps)
        return sol, sol.status
    except SolverError as exc:
        if exc.status != "infeasible":
            raise
        sol = solve(factor.features, y, method="exact", eps=0.0)
        return sol, "infeasible"


class _Stacked:
    """Features of two fits side by side at fixed points, so that ``compare_fits`` sees one feature map.

    The width-n features exist only at the comparison points (Φ is not stored), so any row asked
    for must be one of them (``compare_fits`` asks in chunks of rows, with ``refine_max=False``).
    """

    def __init__(self, points: np.ndarray, left: np.ndarray, right: np.ndarray) -> None:
        self.index = {row.tobytes(): i for i, row in enumerate(np.ascontiguousarray(points, dtype=np.float64))}
        self.matrix = np.hstack([left, right])

    def __call__(self, points: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(points, dtype=np.float64)
        try:
            return self.matrix[[self.index[row.tobytes()] for row in rows]]
        except KeyError as exc:
            raise ValueError("the stacked features exist only at the comparison points they were built for.") from exc


def _padded(sol: Solution, before: int, after: int) -> Solution:
    """The solution with zero coefficients for the other fit's columns (its function is unchanged)."""
    return replace(sol, coef=np.concatenate([np.zeros(before), sol.coef, np.zeros(after)]))


@dataclass
class WidthConvergence:
    """How the width-n kernel and min-norm fits approach their infinite-width limits.

    Attributes
    ----------
    activation : str
        repr of σ.
    widths : list of int
    rows : list of dict
        One per (width, target): ``n``, ``target``, ``kernel_rel_error_fro`` (‖K_n − K∞‖_F/‖K∞‖_F),
        ``kernel_rel_error_2`` (spectral norms), ``rel_error`` (the paper's metric: mean |f_∞ − f_n|
        / max f_∞ over the comparison points in the data's convex hull; None without y),
        ``norm`` (‖c‖ = the fit's norm in the RKHS of K_n), ``mse``, ``status``, ``time_s``.
    limit : list of dict
        Per target: ``norm`` (the RKHS norm of the limit fit), ``mse``, ``status``.
    settings : dict
        n_samples, eps, B, the limit kernel's quadrature and error estimate, the number of points.
    """

    activation: str
    widths: list[int]
    rows: list[dict]
    limit: list[dict]
    settings: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain dict (JSON-friendly)."""
        return asdict(self)

    def width_within(self, threshold: float = 0.01, target: str | int | None = None) -> int | None:
        """The smallest width from which on every tested width has rel_error ≤ threshold (None: none does)."""
        names = list(dict.fromkeys(r["target"] for r in self.rows))
        name = names[0] if target is None else (names[target] if isinstance(target, int) else target)
        rows = sorted((r for r in self.rows if r["target"] == name), key=lambda r: r["n"])
        best = None
        for r in reversed(rows):
            if r["rel_error"] is None or not r["rel_error"] <= threshold:
                break
            best = r["n"]
        return best

    def plot(self, path: str | Path, *, title: str | None = None) -> Path:
        """Two panels: kernel error against n (with the 1/√n slope) and the fits' distance (with the 1 % line)."""
        try:
            from matplotlib.figure import Figure
        except ImportError as exc:  # pragma: no cover - matplotlib is in the plots/dev extras
            raise ImportError("WidthConvergence.plot needs matplotlib: pip install 'kernelreg[plots]'.") from exc
        fig = Figure(figsize=(11, 4.2), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        names = list(dict.fromkeys(r["target"] for r in self.rows))
        first = sorted((r for r in self.rows if r["target"] == names[0]), key=lambda r: r["n"])
        n = np.array([r["n"] for r in first], dtype=float)
        fro = np.array([r["kernel_rel_error_fro"] for r in first])
        ax1.loglog(n, fro, "o-", label="‖K_n − K∞‖_F / ‖K∞‖_F")
        ax1.loglog(n, [r["kernel_rel_error_2"] for r in first], "s-", label="spectral norm")
        ax1.loglog(n, fro[0] * np.sqrt(n[0] / n), "k--", lw=1, label="∝ 1/√n")
        ax1.set_xlabel("width n (random features)", fontsize=11)
        ax1.set_ylabel("relative kernel error", fontsize=11)
        ax1.set_title("Gram matrix K_n = ΦΦᵀ/n against K∞", fontsize=12)
        ax1.legend(fontsize=10)
        for name in names:
            rows = sorted((r for r in self.rows if r["target"] == name), key=lambda r: r["n"])
            errs = [r["rel_error"] for r in rows]
            if all(e is None for e in errs):
                continue
            ax2.loglog([r["n"] for r in rows], [e if e and e > 0 else np.nan for e in errs], "o-", label=str(name))
        ax2.axhline(0.01, color="k", ls=":", lw=1, label="1 %")
        ax2.set_xlabel("width n (random features)", fontsize=11)
        ax2.set_ylabel("mean |f∞ − f_n| / max f∞", fontsize=11)
        ax2.set_title("min-norm fit at width n against the limit fit", fontsize=12)
        ax2.legend(fontsize=10)
        for ax in (ax1, ax2):
            ax.tick_params(labelsize=10)
            ax.grid(True, which="major", alpha=0.3)
        fig.suptitle(title or f"Width convergence: {self.activation}", fontsize=13)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=110)
        return path


def _check_widths(widths: Sequence[int]) -> list[int]:
    """Sorted distinct positive integer widths."""
    try:
        out = sorted({int(w) for w in widths})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"width_convergence: widths must be positive integers; got {widths!r}.") from exc
    if not out or out[0] < 1 or any(float(w) != int(w) for w in widths):
        raise ValueError(f"width_convergence: widths must be positive integers; got {widths!r}.")
    return out


def width_convergence(
    X: ArrayLike,
    activation: str | Callable = "relu",
    widths: Sequence[int] = (100, 1_000, 10_000, 100_000, 1_000_000),
    *,
    y: ArrayLike | None = None,
    target_names: Sequence[str] | None = None,
    activation_params: dict | None = None,
    offset_scale: float | None = None,
    eps: float = 0.0,
    points: ArrayLike | None = None,
    n_points: int = 2000,
    chunk_size: int = 4096,
    rcond: float | None = None,
    kernel_tol: float = 1e-10,
    random_state: int | np.random.RandomState | None = 0,
    device: str = "cpu",
    max_mode: str = "signed",
    plot: str | Path | None = None,
) -> WidthConvergence:
    """Measure K_n = ΦΦᵀ/n and the width-n min-norm fit against K∞ and the limit (RKHS) fit, for n up to 10⁶.

    One stream of random features (``RandomFeatureMap`` chunks with independent seeds, so the
    first n features are a width-n draw for every n) accumulates ΦΦᵀ on the training points and
    Φ(P)Φᵀ on the comparison points P; Φ itself is never stored. At each width the fit is
    ``solve(Φ_{K_n}, y, eps=eps)`` on the Gram factor of K_n (:func:`kernelreg.kernels.gram_features`),
    the limit fit the same on K∞, and the two are compared with :func:`kernelreg.compare.compare_fits`.

    Parameters
    ----------
    X : array-like of shape (n_samples, d)
    activation, activation_params, offset_scale
        As in :class:`kernelreg.features.RandomFeatureMap` (B defaults to max‖x‖ over X).
    widths : sequence of int, default=(10², …, 10⁶)
    y : array-like of shape (n_samples,) or (n_samples, n_targets), optional
        Targets; each column is fitted separately. Without y only the kernel errors are reported.
    target_names : sequence of str, optional
    eps : float, default=0.0
        Bound on the mean squared training error of both fits (0: min-norm interpolation). Where
        it is infeasible (a width below the number of points, an ill-conditioned kernel) the
        min-norm least-squares fit is used and its status reads ``"infeasible"``.
    points : array-like of shape (m, d), optional
        Comparison points; default ``hull_points(X, n_points=n_points)``.
    chunk_size : int, default=4096
        Features per streamed chunk.
    rcond : float or None, default=None
        Eigenvalue cut-off of the Gram factors (:func:`kernelreg.kernels.gram_features`).
    kernel_tol : float, default=1e-10
        Quadrature tolerance of :class:`kernelreg.kernels.LimitKernel`.
    random_state : int, RandomState or None, default=0
    device : str, default="cpu"
    max_mode : {"signed", "abs"}, default="signed"
        Denominator of the paper's metric (see :func:`kernelreg.compare.compare_fits`): max f∞ or
        max |f∞|, taken over the comparison points (the width-n features exist only there, so the
        maximum is not refined between them).
    plot : path, optional
        Write the two-panel PNG there.

    Returns
    -------
    WidthConvergence
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1 or not np.all(np.isfinite(X)):
        raise ValueError(f"width_convergence needs a finite 2-D X of shape (n_samples, d); got shape {X.shape}.")
    widths = _check_widths(widths)
    if int(chunk_size) < 1:
        raise ValueError(f"width_convergence: chunk_size must be >= 1; got {chunk_size!r}.")
    N = X.shape[0]
    Y = None
    if y is not None:
        Y = np.asarray(y, dtype=np.float64)
        Y = Y[:, None] if Y.ndim == 1 else Y
        if Y.shape[0] != N or Y.ndim != 2:
            raise ValueError(f"width_convergence: y must have {N} rows (one per sample); got shape {np.shape(y)}.")
    names = list(target_names) if target_names is not None else (
        [f"y{j}" for j in range(Y.shape[1])] if Y is not None else ["-"])

    kernel = LimitKernel(activation, activation_params, offset_scale, tol=kernel_tol, device=device).fit(X)
    B = kernel.offset_scale_
    K_inf = kernel(X)
    P = None
    limit_fits: list[tuple[Solution, str, np.ndarray]] = []
    if Y is not None:
        P = hull_points(X, n_points=n_points) if points is None else np.asarray(points, dtype=np.float64)
        factor = gram_features(K_inf, rcond=rcond)
        F_limit = factor.transform(kernel(P, X))
        for j in range(Y.shape[1]):
            sol, status = kernel_fit(factor, Y[:, j], eps)
            limit_fits.append((sol, status, F_limit))

    rng = check_random_state(random_state)
    G = np.zeros((N, N))
    G_P = np.zeros((P.shape[0], N)) if P is not None else None
    Z = X if P is None else np.vstack([X, P])
    rows: list[dict] = []
    done = 0
    norm_inf_fro = np.linalg.norm(K_inf)
    norm_inf_2 = np.linalg.norm(K_inf, 2)
    start = time.perf_counter()
    for target_width in widths:
        while done < target_width:
            size = min(int(chunk_size), target_width - done)
            fmap = RandomFeatureMap(size, activation=activation, activation_params=activation_params,
                                    offset_scale=B, random_state=int(rng.randint(2**31 - 1)), device=device)
            Phi = fmap.fit(X).transform(Z)
            G += Phi[:N] @ Phi[:N].T
            if G_P is not None:
                G_P += Phi[N:] @ Phi[:N].T
            done += size
        K_n = G / done
        diff = K_n - K_inf
        common = {
            "n": done,
            "kernel_rel_error_fro": float(np.linalg.norm(diff) / norm_inf_fro),
            "kernel_rel_error_2": float(np.linalg.norm(diff, 2) / norm_inf_2),
            "time_s": time.perf_counter() - start,
        }
        if Y is None:
            rows.append({**common, "target": names[0], "rel_error": None, "norm": None, "mse": None, "status": None})
            continue
        factor_n = gram_features(K_n, rcond=rcond)
        F_n = factor_n.transform(G_P / done)
        for j, (lim, _, F_limit) in enumerate(limit_fits):
            sol, status = kernel_fit(factor_n, Y[:, j], eps)
            r_inf, r_n = F_limit.shape[1], F_n.shape[1]
            features = _Stacked(P, F_limit, F_n)
            cmp = compare_fits(_padded(lim, 0, r_n), _padded(sol, r_inf, 0), X, features, points=P,
                               max_mode=max_mode, refine_max=False)
            rows.append({**common, "target": names[j], "rel_error": float(cmp.rel_error), "norm": float(sol.norm),
                         "mse": float(sol.mse), "status": status})
    limit = [{"target": names[j], "norm": float(s.norm), "mse": float(s.mse), "status": st}
             for j, (s, st, _) in enumerate(limit_fits)]
    settings: dict[str, Any] = {
        "n_samples": N, "d": X.shape[1], "eps": float(eps), "offset_scale": B, "chunk_size": int(chunk_size),
        "n_points": None if P is None else int(P.shape[0]), "kernel_quadrature": kernel.quadrature_,
        "kernel_error_estimate": kernel.error_estimate_, "activation_params": activation_params or {},
        "max_mode": max_mode,
    }
    report = WidthConvergence(repr(kernel.activation_), widths, rows, limit, settings)
    if plot is not None:
        report.plot(plot)
    return report
