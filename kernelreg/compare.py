"""Compare two fits of one output layer (GD vs convex): the paper's function-space metric beside coefficient distances and times."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import Delaunay
from sklearn.utils import check_random_state

from kernelreg.solvers import Solution, solve

__all__ = ["FitComparison", "hull_points", "compare_fits", "compare_methods", "format_table"]


@dataclass(frozen=True)
class FitComparison:
    """How far fit b is from fit a, in function space over the data's convex hull and in coefficients."""

    rel_error: float          # mean |f_a − f_b| / max |f_a| over points in conv(X_train)
    coef_distance: float      # ‖c_a − c_b‖₂
    rel_coef_distance: float  # ‖c_a − c_b‖₂ / ‖c_a‖₂
    norm_a: float
    norm_b: float
    mse_a: float
    mse_b: float
    time_a: float
    time_b: float
    method_a: str
    method_b: str
    n_points: int

    def as_dict(self) -> dict:
        """Plain dict for tables and JSON."""
        return asdict(self)


def hull_points(
    X_train: ArrayLike,
    *,
    grid_size: int | None = None,
    n_points: int = 4000,
    random_state: int | np.random.RandomState | None = 0,
) -> np.ndarray:
    """Evaluation points inside the convex hull of the training inputs (the paper's comparison domain).

    For input dimension 1 a regular grid on [min, max]; for dimensions 2–3 a regular grid over the
    bounding box kept where scipy's Delaunay triangulation of the training inputs contains it; above
    3 dimensions, where grids explode, random convex combinations of training points
    (Dirichlet(1) weights over random subsets of d + 1 points), which lie in the hull by construction.

    Parameters
    ----------
    X_train : array-like of shape (n_samples, d)
    grid_size : int or None, default=None
        Points per axis; None picks about ``n_points`` grid points in total.
    n_points : int, default=4000
        Target number of points for the default grid and the number of samples for d > 3.
    random_state : int, RandomState or None, default=0

    Returns
    -------
    points : ndarray of shape (n_points_found, d)
    """
    X = np.asarray(X_train, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"hull_points needs a non-empty 2-D X_train; got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError("hull_points: X_train contains NaN or inf.")
    d = X.shape[1]
    if d > 3:
        rng = check_random_state(random_state)
        k = min(d + 1, X.shape[0])
        idx = np.stack([rng.choice(X.shape[0], size=k, replace=False) for _ in range(n_points)])
        weights = rng.dirichlet(np.ones(k), size=n_points)
        return np.einsum("pk,pkd->pd", weights, X[idx])
    m = grid_size or max(2, int(round(n_points ** (1.0 / d))))
    lo, hi = X.min(axis=0), X.max(axis=0)
    axes = [np.linspace(a, b, m) for a, b in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    if d == 1:
        return grid
    try:
        inside = Delaunay(X).find_simplex(grid, tol=1e-12) >= 0
    except Exception as exc:  # scipy raises QhullError for flat point sets
        raise ValueError(
            f"hull_points: the {X.shape[0]} training points span less than {d} dimensions, so their "
            "convex hull has no interior; pass explicit points instead."
        ) from exc
    return grid[inside]


def _evaluate(features: Callable | object, points: np.ndarray) -> np.ndarray:
    """Φ at the comparison points from a fitted feature map (``transform``) or a callable."""
    transform = getattr(features, "transform", features)
    return np.asarray(transform(points), dtype=np.float64)


def _compare_on(Phi_points: np.ndarray, a: Solution, b: Solution) -> FitComparison:
    """All metrics of b against a, given the features at the comparison points."""
    f_a, f_b = Phi_points @ a.coef, Phi_points @ b.coef
    gap = np.abs(f_a - f_b)
    if f_a.size == 0:
        rel = float("nan")
    elif np.max(np.abs(f_a)) > 0:
        rel = float(np.mean(gap) / np.max(np.abs(f_a)))
    else:
        rel = 0.0 if not np.any(gap) else float("inf")
    dist = float(np.linalg.norm(a.coef - b.coef))
    norm_a = float(np.linalg.norm(a.coef))
    return FitComparison(
        rel_error=rel,
        coef_distance=dist,
        rel_coef_distance=dist / norm_a if norm_a > 0 else float("inf") if dist > 0 else 0.0,
        norm_a=norm_a,
        norm_b=float(np.linalg.norm(b.coef)),
        mse_a=float(a.mse),
        mse_b=float(b.mse),
        time_a=float(a.time_s),
        time_b=float(b.time_s),
        method_a=a.method,
        method_b=b.method,
        n_points=int(Phi_points.shape[0]),
    )


def compare_fits(
    a: Solution,
    b: Solution,
    X_train: ArrayLike,
    features: Callable | object,
    *,
    points: ArrayLike | None = None,
    grid_size: int | None = None,
    random_state: int | np.random.RandomState | None = 0,
) -> FitComparison:
    """The spectral-bias paper's GD-vs-convex comparison of two output layers on one feature map.

    rel_error = mean |f_a − f_b| / max |f_a| over points in the convex hull of the training inputs
    (``a`` is the reference: put the convex solution first to normalise by it, or GD first as the
    paper's text reads), beside ‖c_a − c_b‖, both norms, both training MSEs and both wall times.

    Parameters
    ----------
    a, b : Solution
        Two solutions for the same Φ (same columns).
    X_train : array-like of shape (n_samples, d)
        The training inputs whose convex hull is the comparison domain.
    features : fitted feature map or callable
        Maps points of shape (m, d) to features of shape (m, n_features), e.g. a fitted
        :class:`kernelreg.features.RandomFeatureMap`.
    points : array-like of shape (m, d), optional
        Evaluation points; default :func:`hull_points` of X_train.
    grid_size, random_state
        Passed to :func:`hull_points`.

    Returns
    -------
    FitComparison
    """
    if np.shape(a.coef) != np.shape(b.coef):
        raise ValueError(
            f"compare_fits: the two solutions have coefficient shapes {np.shape(a.coef)} and "
            f"{np.shape(b.coef)}; they must come from the same Φ."
        )
    P = hull_points(X_train, grid_size=grid_size, random_state=random_state) if points is None else np.asarray(points, float)
    return _compare_on(_evaluate(features, P), a, b)


def compare_methods(
    Phi: ArrayLike,
    y: ArrayLike,
    methods: Iterable[str] = ("gd", "adam", "cg"),
    *,
    eps: float = 0.0,
    reference: str = "exact",
    X_train: ArrayLike | None = None,
    features: Callable | object | None = None,
    options: dict[str, dict] | None = None,
    reference_options: dict | None = None,
) -> list[dict]:
    """Run several methods on one Φ and compare each with the convex solution at the error it reached.

    This is the paper's protocol: an iterative method stops at ``eps`` (or its iteration budget);
    the reference (by default the exact solver) then solves the ε-relaxed min-norm program with
    ε = the MSE the method actually reached, and the two fits are compared. Direct methods are
    compared with the reference at the same ``eps``.

    Parameters
    ----------
    Phi : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    methods : iterable of str, default=("gd", "adam", "cg")
    eps : float, default=0.0
        Target MSE of the iterative methods and bound of the direct ones.
    reference : str, default="exact"
        The convex method the others are compared with.
    X_train, features : optional
        When both are given, the function-space metric over conv(X_train) is reported too.
    options : dict of {method: dict}, optional
        Extra options per method (``{"gd": {"max_iter": 10_000}}``).
    reference_options : dict, optional
        Extra options of the reference solve.

    Returns
    -------
    rows : list of dict
        One row per method: method, status, n_iter, mse, norm, time_s, reference_eps,
        reference_norm, reference_time_s, rel_coef_distance, rel_error (None without features).
    """
    options = options or {}
    Phi = np.asarray(Phi, dtype=np.float64)
    Phi_points = None
    if X_train is not None and features is not None:
        Phi_points = _evaluate(features, hull_points(X_train))
    rows = []
    iterative = {"gd", "adam", "cg"}
    for method in methods:
        sol = solve(Phi, y, method=method, eps=eps, **options.get(method, {}))
        ref_eps = float(sol.mse) if method in iterative else eps
        ref = solve(Phi, y, method=reference, eps=ref_eps, **(reference_options or {}))
        empty = np.zeros((0, Phi.shape[1]))
        cmp = _compare_on(Phi_points if Phi_points is not None else empty, ref, sol)
        rows.append(
            {
                "method": method,
                "status": sol.status,
                "n_iter": int(sol.n_iter),
                "mse": float(sol.mse),
                "norm": float(sol.norm),
                "time_s": float(sol.time_s),
                "reference": reference,
                "reference_eps": ref_eps,
                "reference_norm": float(ref.norm),
                "reference_time_s": float(ref.time_s),
                "rel_coef_distance": cmp.rel_coef_distance,
                "rel_error": cmp.rel_error if Phi_points is not None else None,
            }
        )
    return rows


def format_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Rows of dicts as a Markdown table (floats in 4 significant digits)."""
    if not rows:
        return ""
    columns = list(columns or rows[0].keys())

    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
