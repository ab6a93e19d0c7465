"""Compare two fits of one output layer (GD vs convex): the paper's function-space metric beside coefficient distances and times."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Literal, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import ConvexHull, Delaunay
from sklearn.utils import check_random_state

from kernelreg.solvers import Solution, solve

__all__ = ["FitComparison", "hull_points", "compare_fits", "compare_methods", "format_table"]


MaxMode = Literal["signed", "abs"]
_MAX_MODES = ("signed", "abs")


@dataclass(frozen=True)
class FitComparison:
    """How far fit b is from fit a, in function space over the data's convex hull and in coefficients.

    ``rel_error`` is the paper's metric, mean |f_a − f_b| / max f_a over conv(X_train) (max |f_a|
    with ``max_mode="abs"``); the fields after ``n_points`` say how it was computed.
    """

    rel_error: float          # mean |f_a − f_b| / max f_a (or max |f_a|) over points in conv(X_train)
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
    n_points: int             # points the mean is taken over
    mean_gap: float = math.nan       # mean |f_a − f_b| over those points
    max_value: float = math.nan      # the denominator: max f_a (or max |f_a|) over the hull, refined
    max_grid_value: float = math.nan  # the same maximum over the evaluation points only
    max_mode: str = "signed"
    grid_size: int | None = None     # points per axis of the hull-clipped grid (None: given or sampled points)
    max_resolution: float = math.nan  # step of the last refinement level (input units); nan when not refined

    def as_dict(self) -> dict:
        """Plain dict for tables and JSON."""
        return asdict(self)


def _check_grid_size(grid_size: object) -> int | None:
    """None or an integer >= 2 (points per axis), else a ValueError naming the value."""
    if grid_size is None:
        return None
    if isinstance(grid_size, bool) or not isinstance(grid_size, (int, np.integer)) or grid_size < 2:
        raise ValueError(
            f"grid_size must be an integer >= 2 (points per axis of the hull grid) or None for about "
            f"n_points points in total; got {grid_size!r}."
        )
    return int(grid_size)


def _check_train(X_train: ArrayLike, owner: str) -> np.ndarray:
    """Training inputs as a finite, non-empty float64 matrix."""
    X = np.asarray(X_train, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{owner} needs a non-empty 2-D X_train of shape (n_samples, d); got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{owner}: X_train contains NaN or inf.")
    return X


def _check_n_points(n_points: object) -> int:
    """An integer >= 1, else a ValueError naming the value."""
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise ValueError(f"hull_points: n_points must be an integer >= 1; got {n_points!r}.")
    return int(n_points)


def _triangulate(X: np.ndarray) -> Delaunay | None:
    """Delaunay triangulation of the training inputs (None in 1-D), with a clear error for flat sets."""
    if X.shape[1] == 1:
        return None
    try:
        return Delaunay(X)
    except Exception as exc:  # scipy raises QhullError for flat point sets
        raise ValueError(
            f"hull_points: the {X.shape[0]} training points span less than {X.shape[1]} dimensions, so "
            "their convex hull has no interior; pass explicit points instead."
        ) from exc


def _hull_grid(X: np.ndarray, grid_size: int | None, n_points: int) -> tuple[np.ndarray, int, Delaunay | None]:
    """Regular grid over the bounding box of X clipped to conv(X) (d <= 3), with its size and triangulation."""
    d = X.shape[1]
    m = grid_size or max(2, int(round(n_points ** (1.0 / d))))
    lo, hi = X.min(axis=0), X.max(axis=0)
    axes = [np.linspace(a, b, m) for a, b in zip(lo, hi)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, d)
    tri = _triangulate(X)
    return (grid if tri is None else grid[tri.find_simplex(grid, tol=1e-12) >= 0]), m, tri


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
        Points per axis (an integer >= 2); None picks about ``n_points`` grid points in total.
    n_points : int, default=4000
        Target number of points for the default grid and the number of samples for d > 3.
    random_state : int, RandomState or None, default=0

    Returns
    -------
    points : ndarray of shape (n_points_found, d)

    Raises
    ------
    ValueError
        Empty or non-finite X_train, ``grid_size`` not an integer >= 2, ``n_points`` < 1, or training
        points whose hull has no interior.
    """
    X = _check_train(X_train, "hull_points")
    grid_size = _check_grid_size(grid_size)
    n_points = _check_n_points(n_points)
    d = X.shape[1]
    if d > 3:
        rng = check_random_state(random_state)
        k = min(d + 1, X.shape[0])
        idx = np.stack([rng.choice(X.shape[0], size=k, replace=False) for _ in range(n_points)])
        weights = rng.dirichlet(np.ones(k), size=n_points)
        return np.einsum("pk,pkd->pd", weights, X[idx])
    return _hull_grid(X, grid_size, n_points)[0]


def _transform_of(features: object) -> Callable[[np.ndarray], np.ndarray]:
    """The map points -> Φ: a feature map's ``transform`` or the callable itself, else a TypeError."""
    transform = getattr(features, "transform", None)
    if transform is None and callable(features):
        transform = features
    if transform is None:
        raise TypeError(
            "compare_fits: features must be a fitted feature map (an object with .transform, e.g. "
            "kernelreg.features.RandomFeatureMap) or a callable mapping points of shape (m, d) to "
            f"features of shape (m, n_features); got {type(features).__name__} {features!r}."
        )
    return transform


class _Fits:
    """Both fits as functions of the input: Φ(points) @ [c_a, c_b] in row chunks, with the width checked once."""

    def __init__(self, features: object, coefs: list[np.ndarray], chunk_rows: int = 4096) -> None:
        self.transform = _transform_of(features)
        self.coefs = [c.reshape(c.shape[0], -1) for c in coefs]
        self.chunk_rows = chunk_rows

    def __call__(self, points: np.ndarray) -> list[np.ndarray]:
        """Values (m, n_outputs) of each fit at the points."""
        out = [np.empty((points.shape[0], c.shape[1])) for c in self.coefs]
        for start in range(0, points.shape[0], self.chunk_rows):
            rows = slice(start, start + self.chunk_rows)
            Phi = np.asarray(self.transform(points[rows]), dtype=np.float64)
            n = self.coefs[0].shape[0]
            if Phi.ndim != 2 or Phi.shape[0] != points[rows].shape[0] or Phi.shape[1] != n:
                raise ValueError(
                    f"compare_fits: the feature map returned shape {Phi.shape} for {points[rows].shape[0]} "
                    f"points, but the solutions have {n} coefficients; pass the feature map the solutions "
                    "were fitted on (its number of features must equal the coefficient length)."
                )
            for values, c in zip(out, self.coefs):
                values[rows] = Phi @ c
        return out


def _objective(values: np.ndarray, max_mode: str) -> np.ndarray:
    """Per point: the largest output value (signed) or the largest |value|."""
    return np.max(values if max_mode == "signed" else np.abs(values), axis=1)


def _seeds(points: np.ndarray, score: np.ndarray, spacing: np.ndarray, n_seeds: int) -> np.ndarray:
    """The best points, at most ``n_seeds``, no two within two grid steps (so separate peaks get a start each)."""
    chosen: list[int] = []
    for i in np.argsort(-score, kind="stable"):
        if all(np.any(np.abs(points[i] - points[j]) > 2 * spacing) for j in chosen):
            chosen.append(int(i))
        if len(chosen) == n_seeds:
            break
    return points[chosen]


def _refine_max(
    fit: Callable[[np.ndarray], np.ndarray],
    starts: np.ndarray,
    step: np.ndarray,
    clip: Callable[[np.ndarray, np.ndarray], np.ndarray],
    xtol: float,
    max_levels: int = 400,
) -> tuple[float, float]:
    """Zoom search for the maximum of ``fit`` over the hull: a local grid around each start, clipped into the hull.

    Each level evaluates a (2r+1)^d grid of the current step around every start, moves each start
    to the best point, and halves its step unless the best point is on the border of the window
    (then the window moves at the same step). A local grid sees every direction at the current
    resolution, so kinks and ridges of piecewise-linear fits do not stall it the way a fixed
    stencil or a gradient method can; grid points outside the hull are pulled back along the ray
    from the start to the hull boundary, which lets the search slide along a slanted hull edge
    (where the maximum of a spiky fit often is). Returns the best value and the final step.
    """
    d = starts.shape[1]
    r = 3 if d <= 2 else 2
    offsets = np.stack(np.meshgrid(*[np.arange(-r, r + 1)] * d, indexing="ij"), axis=-1).reshape(-1, d)
    x = starts.copy()
    h = np.tile(step, (x.shape[0], 1))
    best = fit(x)
    active = np.ones(x.shape[0], dtype=bool)
    for _ in range(max_levels):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        origin = np.repeat(x[idx], offsets.shape[0], axis=0)
        cand = clip(origin, origin + np.tile(offsets, (idx.size, 1)) * np.repeat(h[idx], offsets.shape[0], axis=0))
        values = fit(cand).reshape(idx.size, -1)
        cand = cand.reshape(idx.size, -1, d)
        arg = np.argmax(values, axis=1)
        improved = values[np.arange(idx.size), arg] > best[idx]
        on_border = np.any(np.abs(offsets[arg]) == r, axis=1) & improved
        for k, i in enumerate(idx):
            if improved[k]:
                x[i], best[i] = cand[k, arg[k]], values[k, arg[k]]
            if not on_border[k]:
                h[i] *= 0.5
            if h[i].max() < xtol:
                active[i] = False
    return float(best.max()), float(h.max())


def _hull_clipper(X: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """clip(origin, target): target if it is in conv(X), else a nearby point of the hull boundary.

    Outside points are projected onto the facet they violate most (the exact nearest point when
    that lands in the hull, as it does along an edge), else pulled back along the segment from
    ``origin`` (which must lie in the hull) to where it leaves the hull. The projection lets a
    search slide along a slanted edge; the pull-back handles corners. The hull is an interval in
    1-D and scipy's ConvexHull facets (A x + b <= 0, unit normals A) in 2-D and 3-D.
    """
    if X.shape[1] == 1:
        lo, hi = X.min(), X.max()
        return lambda origin, target: np.clip(target, lo, hi)
    try:
        eq = ConvexHull(X).equations
    except Exception as exc:  # scipy raises QhullError for flat point sets
        raise ValueError(
            f"compare_fits: the {X.shape[0]} training points span less than {X.shape[1]} dimensions, so "
            "their convex hull has no interior."
        ) from exc
    A, b = eq[:, :-1], eq[:, -1]
    tol = 1e-12 * float(np.abs(X).max() + 1.0)

    def clip(origin: np.ndarray, target: np.ndarray) -> np.ndarray:
        excess = target @ A.T + b  # (K, F): > 0 outside facet F
        worst = np.argmax(excess, axis=1)
        depth = excess[np.arange(target.shape[0]), worst]
        projected = target - np.maximum(depth, 0.0)[:, None] * A[worst]
        direction = target - origin
        speed = direction @ A.T
        slack = np.maximum(-(origin @ A.T + b), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(speed > 0, slack / speed, np.inf).min(axis=1)
        pulled = origin + np.minimum(1.0, t)[:, None] * direction
        use_projection = np.max(projected @ A.T + b, axis=1) <= tol
        return np.where(use_projection[:, None], projected, pulled)

    return clip


def compare_fits(
    a: Solution,
    b: Solution,
    X_train: ArrayLike,
    features: Callable | object,
    *,
    points: ArrayLike | None = None,
    grid_size: int | None = None,
    random_state: int | np.random.RandomState | None = 0,
    max_mode: MaxMode = "signed",
    refine_max: bool = True,
    n_points: int = 4000,
    max_xtol: float = 1e-10,
) -> FitComparison:
    """The spectral-bias paper's GD-vs-convex comparison of two output layers on one feature map.

    rel_error = mean |f_a − f_b| / max f_a over the convex hull of the training inputs (``a`` is the
    reference: put GD first as the paper's text reads, or the convex solution to normalise by it),
    beside ‖c_a − c_b‖, both norms, both training MSEs and both wall times.

    The mean is taken over a hull-clipped grid (or the given ``points``). The maximum is taken over
    the hull itself: the best grid points start a zoom search (local grids, halved step, kept
    inside the hull) that stops when the step is below ``max_xtol`` times the hull's extent. On
    spiky Adam fits of Experiment 1's random labels (40 points, 1000 ReLU features, 3 seeds) the
    63×63 grid's max |f| was 0.5–4 % below the refined maximum and the 501×501 grid's still up
    to 0.3 % below; refined from either grid the maxima agree to 1e-9, and the grid means of
    63×63 and 501×501 to 0.3 %.

    Parameters
    ----------
    a, b : Solution
        Two solutions for the same Φ (same columns); ``a`` is the reference.
    X_train : array-like of shape (n_samples, d)
        The training inputs whose convex hull is the comparison domain.
    features : fitted feature map or callable
        Maps points of shape (m, d) to features of shape (m, n_features), e.g. a fitted
        :class:`kernelreg.features.RandomFeatureMap`; n_features must equal the coefficient length.
    points : array-like of shape (m, d), optional
        Evaluation points of the mean; default :func:`hull_points` of X_train.
    grid_size : int or None, default=None
        Points per axis (>= 2) of the default grid; None means about ``n_points`` in total.
    random_state : int, RandomState or None, default=0
        Passed to :func:`hull_points` (used for d > 3).
    max_mode : {"signed", "abs"}, default="signed"
        - ``"signed"``: max f_a, the paper's words ("divided by the maximum value attained by the
          GD fit in the same area"). Must be positive.
        - ``"abs"``: max |f_a|, a scale that is positive for any non-zero fit.
    refine_max : bool, default=True
        Refine the maximum over the hull (d <= 3; for d > 3 the sampled maximum is used).
    n_points : int, default=4000
        Size of the default evaluation set (about 63 × 63 in 2-D).
    max_xtol : float, default=1e-10
        Relative resolution (to the hull's extent) at which the refinement stops; the maximum of
        a ReLU fit then agrees with the exact one (from its breakline arrangement) to about 1e-10.

    Returns
    -------
    FitComparison
        With the resolution used: ``n_points``, ``grid_size``, ``max_grid_value``, ``max_value``
        and ``max_resolution``.

    Raises
    ------
    TypeError
        ``features`` is neither a feature map nor a callable, or a or b is not a Solution.
    ValueError
        Coefficient shapes differ; the feature map's width is not the coefficient length;
        ``grid_size``, ``n_points`` or ``max_mode`` out of range; the reference fit is zero (or, for
        ``max_mode="signed"``, nowhere positive) over the hull, so the relative error is undefined.
    """
    for name, sol in (("a", a), ("b", b)):
        if not hasattr(sol, "coef"):
            raise TypeError(f"compare_fits: {name} must be a kernelreg.solvers.Solution; got {type(sol).__name__}.")
    if np.shape(a.coef) != np.shape(b.coef):
        raise ValueError(
            f"compare_fits: the two solutions have coefficient shapes {np.shape(a.coef)} and "
            f"{np.shape(b.coef)}; they must come from the same Φ."
        )
    if max_mode not in _MAX_MODES:
        raise ValueError(f"compare_fits: max_mode must be 'signed' or 'abs'; got {max_mode!r}.")
    X = _check_train(X_train, "compare_fits")
    grid_size = _check_grid_size(grid_size)
    fits = _Fits(features, [np.asarray(a.coef, dtype=np.float64), np.asarray(b.coef, dtype=np.float64)])
    d = X.shape[1]
    m = None
    if points is not None:
        P = np.asarray(points, dtype=np.float64)
        if P.ndim != 2 or P.shape[1] != d or P.shape[0] == 0 or not np.all(np.isfinite(P)):
            raise ValueError(
                f"compare_fits: points must be a finite, non-empty array of shape (m, {d}); got shape {P.shape}."
            )
    elif d <= 3:
        P, m, _ = _hull_grid(X, grid_size, _check_n_points(n_points))
    else:
        P = hull_points(X, grid_size=grid_size, n_points=n_points, random_state=random_state)
    f_a, f_b = fits(P)
    mean_gap = float(np.mean(np.abs(f_a - f_b)))
    score = _objective(f_a, max_mode)
    grid_max = float(score.max())
    top, resolution = grid_max, math.nan
    if refine_max and d <= 3:
        extent = X.max(axis=0) - X.min(axis=0)
        spacing = extent / ((m or max(2, int(round(P.shape[0] ** (1.0 / d))))) - 1)
        pool = np.vstack([P, X])  # training points too: spiky fits peak at or near the data
        pool_score = np.concatenate([score, _objective(fits(X)[0], max_mode)])
        starts = _seeds(pool, pool_score, spacing, n_seeds=8)
        top, resolution = _refine_max(
            lambda Q: _objective(fits(Q)[0], max_mode), starts, spacing, _hull_clipper(X),
            xtol=max_xtol * float(extent.max()),
        )
        top = max(top, grid_max)
    if not math.isfinite(top) or not math.isfinite(mean_gap):
        raise ValueError(f"compare_fits: the fits are not finite on the hull (max {top}, mean gap {mean_gap}).")
    if top <= 0:
        what = "zero" if max_mode == "abs" or not np.any(f_a) else "nowhere positive"
        raise ValueError(
            f"compare_fits: the reference fit a ({a.method}) is {what} over the hull of the training inputs "
            f"(max {'|f_a|' if max_mode == 'abs' else 'f_a'} = {top:.3g} on {P.shape[0]} points), so the "
            "relative error mean|f_a - f_b| / max is undefined. Put the other fit first, use "
            "max_mode='abs'" + (" " if max_mode == "signed" else " (already) ") + "or compare coefficients "
            "(coef_distance)."
        )
    return _summary(a, b, mean_gap / top, P.shape[0], mean_gap=mean_gap, max_value=top, max_grid_value=grid_max,
                    max_mode=max_mode, grid_size=m, max_resolution=resolution)


def _summary(a: Solution, b: Solution, rel: float, n_points: int, **extra) -> FitComparison:
    """The FitComparison of a and b given the function-space numbers."""
    dist = float(np.linalg.norm(np.asarray(a.coef) - np.asarray(b.coef)))
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
        n_points=int(n_points),
        **extra,
    )


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
    max_mode: MaxMode = "signed",
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
    max_mode : {"signed", "abs"}, default="signed"
        Denominator of rel_error, see :func:`compare_fits`.

    Returns
    -------
    rows : list of dict
        One row per method: method, status, n_iter, mse, norm, time_s, reference_eps,
        reference_norm, reference_time_s, rel_coef_distance, rel_error (None without features).
    """
    options = options or {}
    Phi = np.asarray(Phi, dtype=np.float64)
    with_function = X_train is not None and features is not None
    points = hull_points(X_train) if with_function else None
    rows = []
    iterative = {"gd", "adam", "cg"}
    for method in methods:
        sol = solve(Phi, y, method=method, eps=eps, **options.get(method, {}))
        ref_eps = float(sol.mse) if method in iterative else eps
        ref = solve(Phi, y, method=reference, eps=ref_eps, **(reference_options or {}))
        if with_function:
            cmp = compare_fits(ref, sol, X_train, features, points=points, max_mode=max_mode)
        else:
            cmp = _summary(ref, sol, math.nan, 0)
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
                "rel_error": cmp.rel_error if with_function else None,
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
