"""LimitKernel: the infinite-width kernel of RandomFeatureMap, K∞(x, x′) = E_{ξ,γ}[σ(ξ·x − γ) σ(ξ·x′ − γ)]."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from numbers import Real
from typing import Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from kernelreg import activations
from kernelreg._memory import CHUNK_BYTES, parse_memory
from kernelreg._torch import resolve_device, to_numpy64
from kernelreg.exceptions import NotFittedError
from kernelreg.kernels._plane import Rule, grid_features, invariants, pair_bytes, plane_kernel
from kernelreg.kernels._profiles import Profile, profile_of

__all__ = ["LimitKernel"]

#: Node-count caps of the calibration (per axis), beyond which it stops refining and warns.
_CAPS = {"t": 1024, "w": 256, "gamma": 1024}
#: Starting node counts of the calibration.
_START = {"t": 4, "w": 4, "gamma": 4}
#: Angles (radians) between the two points of a calibration probe pair.
_PROBE_ANGLES = (0.0, 0.03, 0.5, 1.4, 2.2, 2.9, math.pi)


@dataclass(frozen=True)
class _Plan:
    """What one input dimension needs: the profile, B, the structures and their calibrated rules.

    ``rules`` and ``info`` fill in lazily: the rule for pairs outside the ball is calibrated the
    first time such a pair is evaluated (most uses never need it, and for d ≥ 3 it converges only
    algebraically).
    """

    prof: Profile
    B: float
    d: int
    engine: str
    structures: tuple  # the first one serves pairs inside the ball
    rules: dict  # structure -> Rule
    info: dict  # structure -> {"t", "w", "gamma", "exact", "error_estimate"}


def _probe_pairs(d: int, radii: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Canonical pairs (x, y) with ‖x‖, ‖y‖ in ``radii`` at the probe angles (K∞ is rotation invariant)."""
    xs, ys = [], []
    for i, r1 in enumerate(radii):
        for r2 in radii[i:]:
            if d == 1:
                for sign in (1.0, -1.0):
                    xs.append([r1])
                    ys.append([sign * r2])
                continue
            for angle in _PROBE_ANGLES:
                x = np.zeros(d)
                y = np.zeros(d)
                x[0] = r1
                y[0], y[1] = r2 * math.cos(angle), r2 * math.sin(angle)
                xs.append(x)
                ys.append(y)
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)


class LimitKernel(BaseEstimator):
    """The infinite-width kernel of the kernel regime, K∞ = lim ΦΦᵀ/n for RandomFeatureMap's law.

    ``RandomFeatureMap(n, activation, offset_scale=B)`` draws ξ uniform on the sphere S^{d−1} and γ
    uniform on [−B, B] and returns Φ with entries σ(ξᵢ·x − γᵢ); as n → ∞, ΦΦᵀ/n converges to

        K∞(x, x′) = E_{ξ,γ}[σ(ξ·x − γ) σ(ξ·x′ − γ)],

    the kernel whose min-norm (RKHS) fits the finite-width min-norm fits converge to. This object
    computes it for every activation of :mod:`kernelreg.activations` and any torch callable, in
    torch on ``device``, in bounded-memory blocks, to a stated quadrature accuracy.

    Parameters
    ----------
    activation : str, Activation or callable, default="relu"
        As in :class:`kernelreg.features.RandomFeatureMap`.
    activation_params : dict or None, default=None
        Parameters of a named activation, e.g. ``{"p": 2}`` for ``relu_power``.
    offset_scale : float or None, default=None
        B. None means B = max‖x‖ over the inputs given to :meth:`fit`, exactly as
        ``RandomFeatureMap.fit`` sets it, so that ``LimitKernel(σ).fit(X_train)`` is the limit of
        ``RandomFeatureMap(n, σ).fit(X_train)``. With a number the kernel can be used without
        ``fit`` (and survives ``sklearn.base.clone``, e.g. inside a grid search). B = 0 means no
        offsets (K∞ = E_ξ[σ(ξ·x)σ(ξ·x′)]; the arc-cosine kernel for ReLU).
    kinks : sequence of float or None, default=None
        Points where a *custom* σ (or a derivative) is not smooth; the quadrature is split there.
        Zoo activations know theirs. A custom σ with unannounced kinks is treated as smooth: the
        calibration then needs many nodes and warns when it cannot reach ``tol``.
    tol : float, default=1e-10
        Target quadrature error, relative to the kernel's scale max K∞(x, x) over ‖x‖ ≤ B. The node
        counts grow until doubling them changes K∞ by less than ``tol`` (see Notes).
    n_nodes : dict or None, default=None
        Fix node counts instead of calibrating them: keys ``"t"`` (nodes per half / panel of
        t₁ = ξ·e₁, or directions on the circle for the grid engine), ``"w"`` (d ≥ 3) and
        ``"gamma"`` (per offset panel). Missing keys are calibrated.
    engine : {"auto", "plane", "grid"}, default="auto"
        - ``"plane"``: the plane reduction, pair by pair (any d, any σ);
        - ``"grid"``: a quadrature feature map Φ_q with K∞ ≈ Φ_qΦ_qᵀ (one matrix product; d ≤ 2 and
          σ without kinks only);
        - ``"auto"``: grid where it applies, plane otherwise.
    device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
    max_memory : int, str or None, default=None
        Working-memory budget of one block of pairs (bytes or ``"512MB"``); default about 64 MiB.

    Attributes
    ----------
    offset_scale_ : float
        B used.
    n_features_in_ : int
    activation_ : Activation
    device_ : torch.device
    quadrature_ : dict
        Per structure calibrated (``"halves"``, ``"full"``, ``"panels"``, ``"grid"``): node counts,
        whether the rule is exact, and its error estimate. The rule for pairs outside the ball
        (``"panels"`` for one-kink σ) is calibrated, and added here, the first time such a pair is
        evaluated.
    error_estimate_ : float
        The largest calibrated error estimate, relative to max K∞(x, x) over ‖x‖ ≤ B (0 when every
        rule in use is exact).

    Notes
    -----
    **Reduction.** For d ≥ 3 the pair (ξ·x, ξ·x′) lives in the plane of x and x′ with density
    ∝ (1 − ‖t‖²)^{(d−4)/2} on the unit disk (d = 3: the integrable (1 − ‖t‖²)^{−1/2}; d = 2: the
    circle; d = 1: ξ = ±1). In the frame e₁ = (x − x′)/‖x − x′‖, e₂ ⟂ e₁ in the plane it factorises:
    t₁ = ξ·e₁ ∝ (1 − t₁²)^{(d−3)/2} and ξ·e₂ = √(1 − t₁²) w with w ∝ (1 − w²)^{(d−4)/2}, both Jacobi
    weights. So K∞ is a two-dimensional integral of G(u, v) = (1/2B)∫σ(u − γ)σ(v − γ)dγ whatever d
    is (see ``kernelreg/kernels/_plane.py``).

    **Accuracy.** Exact to rounding (≈1e-15 relative) for piecewise-polynomial σ with one kink
    (step, ReLU, ReLU^p with integer p, leaky ReLU) at pairs inside the ball ‖x‖ ≤ B: Gauss rules
    of degree + 1 nodes on each side of t₁ = 0 (half-range Jacobi weight), in w, and γ in closed
    form. Spectral (geometric in the node count) for every other σ whose kinks are known: every
    kink line in the plane is split at explicit angles (and, for d ≥ 3 when the offset window
    cuts a kink — points outside the ball, σ with several kinks, B = 0 — at explicit w inside
    graded φ-panels). The node counts are calibrated on canonical probe pairs (radii up to 1.5 B, seven
    angles; K∞ is rotation invariant): each axis grows by half until doubling it changes the probe
    values by less than ``tol``; ``error_estimate_`` is that change (an estimate of the error of
    the rule in use) and :meth:`estimate_error` checks any given points the same way.

    **Cost.** Per pair a handful of polynomial evaluations on the exact path (8 for ReLU in
    d = 2: N = 4000 points cost about the same as Φ and ΦΦᵀ for 4000 random features), tens to
    hundreds of σ-evaluations on the other in-ball paths, and up to 10⁵ for pairs outside the ball
    in d ≥ 3 (nested panels: tens of milliseconds per pair). The grid engine is one matrix product
    with n_t·n_gamma columns.

    **scikit-learn.** ``KernelRidge(kernel=LimitKernel(...))`` works but sklearn then calls the
    kernel once per pair of rows in Python: for more than a few hundred points compute
    ``K = kernel(X)`` once and use ``KernelRidge(kernel="precomputed")`` with ``kernel(X_test, X)``
    to predict.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.kernels import LimitKernel
    >>> X = np.random.default_rng(0).uniform(-1, 1, size=(5, 2))
    >>> K = LimitKernel("relu").fit(X)
    >>> K(X).shape
    (5, 5)
    >>> bool(np.allclose(K.diag(X), np.diag(K(X))))
    True
    """

    _parameter_constraints: dict = {
        "activation": [str, callable],
        "activation_params": [dict, None],
        "offset_scale": [Interval(Real, 0, None, closed="left"), None],
        "kinks": ["array-like", None],
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "n_nodes": [dict, None],
        "engine": [StrOptions({"auto", "plane", "grid"})],
        "device": [str, torch.device],
        "max_memory": [Interval(Real, 1, None, closed="left"), str, None],
    }

    def __init__(
        self,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        offset_scale: float | None = None,
        *,
        kinks: Sequence[float] | None = None,
        tol: float = 1e-10,
        n_nodes: dict | None = None,
        engine: Literal["auto", "plane", "grid"] = "auto",
        device: str | torch.device = "cpu",
        max_memory: int | str | None = None,
    ) -> None:
        self.activation = activation
        self.activation_params = activation_params
        self.offset_scale = offset_scale
        self.kinks = kinks
        self.tol = tol
        self.n_nodes = n_nodes
        self.engine = engine
        self.device = device
        self.max_memory = max_memory

    # ------------------------------------------------------------------------------------------
    # fitting: B, the profile, the calibrated rules
    # ------------------------------------------------------------------------------------------
    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> "LimitKernel":
        """Fix B (``offset_scale`` or max‖x‖ over X) and calibrate the quadrature for X's dimension.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs (only their norms and dimension are used).
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite=True, ensure_min_samples=1)
        B = float(self.offset_scale) if self.offset_scale is not None else float(np.max(np.linalg.norm(X, axis=1)))
        device = resolve_device(self.device)
        plan = self._make_plan(X.shape[1], B, device)
        self.offset_scale_ = B
        self.activation_ = self._activation()
        self.device_ = device
        self.quadrature_ = plan.info
        self._plans = {self._cache_key(X.shape[1]): plan}
        return self

    def _cache_key(self, d: int) -> tuple:
        """Plans are cached per input dimension and parameter values (``set_params`` invalidates them)."""
        return (d, repr(sorted(self.get_params(deep=False).items(), key=lambda kv: kv[0])))

    @property
    def error_estimate_(self) -> float:
        """The largest calibrated error estimate so far, relative to max K∞(x, x) over ‖x‖ ≤ B (0: exact)."""
        if not hasattr(self, "quadrature_"):
            raise AttributeError("error_estimate_ is set by fit")
        return float(max((v["error_estimate"] for v in self.quadrature_.values()), default=0.0))

    def _activation(self) -> activations.Activation:
        """The Activation object of the parameters."""
        return activations.get(self.activation, **(self.activation_params or {}))

    def _profile(self) -> Profile:
        """The kernel view of σ (kinks, degree)."""
        kinks = None if self.kinks is None else tuple(float(k) for k in np.atleast_1d(self.kinks))
        return profile_of(self._activation(), kinks)

    def _budget(self, device: torch.device | None = None) -> int:
        """Bytes one block of pairs may use: ``max_memory``, else 64 MiB (smaller blocks lose to per-call overhead)."""
        if self.max_memory is not None:
            return parse_memory(self.max_memory)
        return CHUNK_BYTES

    def _structures(self, prof: Profile, d: int, B: float) -> list[str]:
        """The structures this σ can need in dimension d (the first one for pairs inside the ball)."""
        if B == 0:
            return ["panels"]
        if not prof.kinks:
            use_grid = self.engine == "grid" or (self.engine == "auto" and d <= 2)
            if self.engine == "grid" and d > 2:
                raise ValueError(
                    f"LimitKernel(engine='grid') needs inputs of dimension 1 or 2 (a quadrature of the circle); "
                    f"got n_features={d}. Use engine='plane' or 'auto'."
                )
            return ["grid"] if use_grid else ["full"]
        if self.engine == "grid":
            raise ValueError(
                f"LimitKernel(engine='grid') needs an activation without kinks; {prof.name} has kinks at "
                f"{list(prof.kinks)}. Use engine='plane' or 'auto'."
            )
        return ["halves", "panels"] if prof.single_kink else ["panels"]

    def _make_plan(self, d: int, B: float, device: torch.device) -> _Plan:
        """Profile and calibrated rules for dimension d (the work of ``fit``)."""
        prof = self._profile()
        if self.n_nodes is not None:
            bad = sorted(set(self.n_nodes) - set(_CAPS))
            if bad or not all(isinstance(v, (int, np.integer)) and v >= 1 for v in self.n_nodes.values()):
                raise ValueError(
                    f"LimitKernel: n_nodes must map keys among {sorted(_CAPS)} to integers >= 1; got {self.n_nodes!r}."
                )
        structures = tuple(self._structures(prof, d, B))
        engine = "grid" if "grid" in structures else "plane"
        plan = _Plan(prof, B, d, engine, structures, {}, {})
        self._rule(plan, structures[0], device)
        return plan

    def _rule(self, plan: _Plan, structure: str, device: torch.device | None = None) -> Rule:
        """The calibrated rule of one structure, calibrated on first use."""
        if structure not in plan.rules:
            rule, exact, error = self._calibrate(plan.prof, structure, plan.d, plan.B, device or self._device())
            plan.rules[structure] = rule
            plan.info[structure] = {**rule.as_dict(), "exact": exact, "error_estimate": error}
        return plan.rules[structure]

    def _plan(self, d: int) -> _Plan:
        """The plan for inputs of dimension d: from ``fit``, or built from ``offset_scale`` when unfitted."""
        plans = self.__dict__.setdefault("_plans", {})
        key = self._cache_key(d)
        if key in plans:
            return plans[key]
        if hasattr(self, "offset_scale_"):
            if d != self.n_features_in_:
                raise ValueError(
                    f"X has {d} features, but LimitKernel is expecting {self.n_features_in_} features as input."
                )
            B = self.offset_scale_
        elif self.offset_scale is None:
            raise NotFittedError(
                "This LimitKernel has offset_scale=None, so B = max‖x‖ is taken from the training inputs: "
                "call fit(X_train) first, or pass offset_scale explicitly."
            )
        else:
            self._validate_params()
            B = float(self.offset_scale)
        plans[key] = self._make_plan(d, B, resolve_device(self.device))
        return plans[key]

    def _axes(self, prof: Profile, structure: str, d: int) -> tuple[dict, list[str]]:
        """The starting node counts and the axes still to calibrate for one structure."""
        poly = prof.degree is not None
        exact_n = (prof.degree or 0) + 1
        fixed = dict(self.n_nodes or {})
        start = {**_START}
        axes = []
        relevant = {"t": d >= 2 or structure == "grid", "w": d >= 3 and structure != "grid", "gamma": True}
        if structure == "grid" and d == 1:
            relevant["t"] = False
        exact_axes = set()
        if poly and structure in ("halves", "full"):
            exact_axes = {"t", "w", "gamma"}
        elif poly and structure == "panels":
            exact_axes = {"gamma"}
        elif structure == "halves" and prof.zero_left and prof.pair_integral is not None:
            exact_axes = {"gamma"}  # closed form in γ: the γ count is not used
        for ax in ("t", "w", "gamma"):
            if ax in fixed:
                start[ax] = int(fixed[ax])
            elif not relevant[ax]:
                start[ax] = 1 if not (ax == "t" and structure == "grid") else 2
            elif ax in exact_axes:
                start[ax] = exact_n
            else:
                axes.append(ax)
        return start, axes

    def _probe(self, prof: Profile, structure: str, d: int, B: float) -> tuple[np.ndarray, np.ndarray]:
        """Probe pairs for one structure: inside the ball for ``halves``, up to 1.5 B otherwise."""
        if structure == "halves":
            inner = max(B - abs(prof.kinks[0]), 0.0)
            radii = [inner, 0.6 * inner, 0.15 * inner]
        elif structure == "panels" and prof.single_kink:
            radii = [1.5 * B, 1.15 * B, 0.6 * B]
        else:
            radii = [1.5 * B, B, 0.55 * B, 0.1 * B]
        if B == 0:
            radii = [1.0, 0.5]
        return _probe_pairs(d, radii)

    def _calibrate(self, prof: Profile, structure: str, d: int, B: float, device: torch.device):
        """Grow each inexact axis by half until doubling it changes the probe values by less than tol (relative)."""
        start, axes = self._axes(prof, structure, d)
        rule = Rule(start["t"], start["w"], start["gamma"])
        if not axes:
            return rule, True, 0.0
        Xp, Yp = self._probe(prof, structure, d, B)
        Xt = torch.as_tensor(Xp, dtype=torch.float64, device=device)
        Yt = torch.as_tensor(Yp, dtype=torch.float64, device=device)

        def evaluate(r: Rule) -> torch.Tensor:
            return self._paired(prof, Xt, Yt, B, r, structure, window=True)

        names = {"t": "n_t", "w": "n_w", "gamma": "n_gamma"}
        while True:
            base = evaluate(rule)
            scale = float(base.abs().max()) or 1.0
            changes = {}
            for ax in axes:
                finer = replace(rule, **{names[ax]: 2 * getattr(rule, names[ax])})
                changes[ax] = float((evaluate(finer) - base).abs().max()) / scale
            estimate = sum(changes.values())
            if estimate <= self.tol:
                return rule, False, estimate
            grow = {ax for ax in axes if changes[ax] > self.tol / len(axes) and getattr(rule, names[ax]) < _CAPS[ax]}
            if not grow:
                warnings.warn(
                    f"LimitKernel({prof.name}): the quadrature ({structure}, nodes {rule.as_dict()}) reached an "
                    f"estimated relative error {estimate:.2g}, above tol={self.tol:g}, at the node caps {_CAPS}. "
                    "Raise tol, pass the activation's kinks=..., or set n_nodes explicitly.",
                    ConvergenceWarning,
                    stacklevel=4,
                )
                return rule, False, estimate
            rule = replace(rule, **{names[ax]: min(_CAPS[ax], math.ceil(1.5 * getattr(rule, names[ax])))
                                    for ax in grow})

    # ------------------------------------------------------------------------------------------
    # evaluation
    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _paired(prof: Profile, X: torch.Tensor, Y: torch.Tensor, B: float, rule: Rule, structure: str,
                window: bool) -> torch.Tensor:
        """K∞ at the pairs (X[i], Y[i]) (not all pairs) — for probes and diagonals."""
        with torch.no_grad():
            if structure == "grid":
                return (grid_features(prof, X, B, rule) * grid_features(prof, Y, B, rule)).sum(-1)
            return plane_kernel(prof, invariants(X, Y), X.shape[1], B, rule, structure, window=window)

    def _points(self, X: ArrayLike, name: str) -> tuple[np.ndarray, bool]:
        """Validated float64 points of shape (n, d); a 1-D input is one point (sklearn's per-row calls)."""
        arr = np.asarray(X, dtype=np.float64)
        single = arr.ndim == 1
        if single:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise ValueError(
                f"LimitKernel: {name} must be a 2-D array (n_samples, n_features) or one point (n_features,); "
                f"got an array of shape {np.shape(X)}."
            )
        if arr.shape[1] == 0:
            raise ValueError(f"LimitKernel: {name} has no features (shape {arr.shape}).")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"LimitKernel: {name} contains NaN or inf.")
        return arr, single

    def _device(self) -> torch.device:
        """The fitted device, or the parameter resolved now."""
        return getattr(self, "device_", None) or resolve_device(self.device)

    def __call__(self, X: ArrayLike, Y: ArrayLike | None = None) -> np.ndarray | float:
        """The kernel matrix K∞(X, Y) (K∞(X, X) when Y is None), float64.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features) or (n_features,)
        Y : array-like of shape (n_samples_Y, n_features) or (n_features,), default=None

        Returns
        -------
        ndarray of shape (n_samples_X, n_samples_Y), or a float when X and Y are single points
        (the form ``sklearn.metrics.pairwise_kernels`` uses for callable kernels).
        """
        Xa, single_x = self._points(X, "X")
        Ya, single_y = (Xa, single_x) if Y is None else self._points(Y, "Y")
        if Ya.shape[1] != Xa.shape[1]:
            raise ValueError(
                f"LimitKernel: X has {Xa.shape[1]} features but Y has {Ya.shape[1]}; they must match."
            )
        plan = self._plan(Xa.shape[1])
        out = self._matrix(plan, Xa, Ya, symmetric=Y is None)
        if single_x and single_y:
            return float(out[0, 0])
        return out

    def diag(self, X: ArrayLike) -> np.ndarray:
        """K∞(x, x) for every row of X, without the off-diagonal work.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        Xa, _ = self._points(X, "X")
        plan = self._plan(Xa.shape[1])
        device = self._device()
        out = np.empty(Xa.shape[0])
        inside = self._inside(plan, Xa)
        for structure, mask in self._groups(plan, inside):
            idx = np.flatnonzero(mask)
            if not idx.size:
                continue
            rule = self._rule(plan, structure, device)
            rows = max(1, self._budget(device) // pair_bytes(structure, rule, Xa.shape[1], len(plan.prof.kinks),
                                                       plan.prof.zero_left))
            for start in range(0, idx.size, rows):
                part = torch.as_tensor(Xa[idx[start:start + rows]], dtype=torch.float64, device=device)
                out[idx[start:start + rows]] = to_numpy64(self._paired(plan.prof, part, part, plan.B, rule,
                                                                      structure, window=True))
        return out

    def _inside(self, plan: _Plan, X: np.ndarray) -> np.ndarray:
        """Rows inside the ball where the ``halves`` rule is valid (‖x‖ + |kink| ≤ B)."""
        if plan.structures[0] != "halves":
            return np.zeros(X.shape[0], dtype=bool)
        margin = abs(plan.prof.kinks[0])
        return np.linalg.norm(X, axis=1) + margin <= plan.B * (1 + 1e-12)

    @staticmethod
    def _groups(plan: _Plan, inside: np.ndarray):
        """(structure, row mask) for the diagonal: halves inside the ball, the general one elsewhere."""
        if plan.structures[0] == "halves":
            yield "halves", inside
            yield plan.structures[1], ~inside
        else:
            yield plan.structures[0], np.ones_like(inside)

    def tensor(self, X: ArrayLike, Y: ArrayLike | None = None) -> torch.Tensor:
        """K∞(X, Y) as a float64 torch tensor on the kernel's device, never copied to the host.

        For solves on a GPU: ``gram_features(kernel.tensor(X))`` factors it there and
        ``kernelreg.solvers.solve`` accepts the resulting tensor features as they are.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
        Y : array-like of shape (n_samples_Y, n_features), default=None

        Returns
        -------
        torch.Tensor of shape (n_samples_X, n_samples_Y)
        """
        Xa, _ = self._points(X, "X")
        Ya = Xa if Y is None else self._points(Y, "Y")[0]
        if Ya.shape[1] != Xa.shape[1]:
            raise ValueError(f"LimitKernel: X has {Xa.shape[1]} features but Y has {Ya.shape[1]}; they must match.")
        return self._matrix(self._plan(Xa.shape[1]), Xa, Ya, symmetric=Y is None, as_tensor=True)

    def _matrix(self, plan: _Plan, X: np.ndarray, Y: np.ndarray, symmetric: bool, as_tensor: bool = False):
        """All blocks of K∞(X, Y) (numpy, or a tensor on the device): grid by matrix products, plane by pair blocks."""
        device = self._device()
        shape = (X.shape[0], Y.shape[0])
        out = torch.empty(shape, dtype=torch.float64, device=device) if as_tensor else np.empty(shape)
        if X.shape[0] == 0 or Y.shape[0] == 0:
            return out
        if plan.engine == "grid":
            self._grid_matrix(plan, X, Y, out, device)
            return 0.5 * (out + out.T) if symmetric else out
        in_x = self._inside(plan, X)
        in_y = in_x if symmetric else self._inside(plan, Y)
        general = plan.structures[-1]
        for xs in (True, False):
            for ys in (True, False):
                rx, ry = np.flatnonzero(in_x == xs), np.flatnonzero(in_y == ys)
                if rx.size and ry.size:
                    self._plane_group(plan, X, Y, rx, ry, "halves" if (xs and ys) else general, out, device,
                                      symmetric)
        return out

    def _plane_group(self, plan: _Plan, X, Y, rx, ry, structure, out, device, symmetric) -> None:
        """Fill out[rx][:, ry] block by block; for K(X, X) only blocks on or above the diagonal, mirrored."""
        rule = self._rule(plan, structure, device)
        per_pair = pair_bytes(structure, rule, X.shape[1], len(plan.prof.kinks), plan.prof.zero_left)
        pairs = max(1, self._budget(device) // per_pair)
        square = symmetric and rx.size == ry.size and np.array_equal(rx, ry)
        a = max(1, min(rx.size, int(math.sqrt(pairs))))
        b = a if square else max(1, min(ry.size, pairs // a))
        Xg = torch.as_tensor(X[rx], dtype=torch.float64, device=device)
        Yg = Xg if square else torch.as_tensor(Y[ry], dtype=torch.float64, device=device)
        on_device = isinstance(out, torch.Tensor)
        sub = torch.empty((rx.size, ry.size), dtype=torch.float64, device=device) if on_device \
            else np.empty((rx.size, ry.size))
        with torch.no_grad():
            for i in range(0, rx.size, a):
                Xb = Xg[i:i + a]
                for j in range(i if square else 0, ry.size, b):
                    inv = invariants(Xb[:, None, :], Yg[j:j + b][None, :, :])
                    block = plane_kernel(plan.prof, inv, X.shape[1], plan.B, rule, structure)
                    block = block if on_device else to_numpy64(block)
                    if square and j == i:  # a diagonal block: exactly symmetric
                        block = 0.5 * (block + block.T)
                    sub[i:i + a, j:j + b] = block
                    if square and j > i:
                        sub[j:j + b, i:i + a] = block.T
        if rx.size == out.shape[0] and ry.size == out.shape[1]:  # every row and column, in order
            out[...] = sub
        elif on_device:
            out[torch.as_tensor(rx, device=device)[:, None], torch.as_tensor(ry, device=device)[None, :]] = sub
        else:
            out[np.ix_(rx, ry)] = sub

    def _grid_matrix(self, plan: _Plan, X: np.ndarray, Y: np.ndarray, out, device) -> None:
        """K∞ ≈ Φ_q(X)Φ_q(Y)ᵀ in row blocks that fit the memory budget."""
        rule = self._rule(plan, "grid", device)
        n_cols = (2 if plan.d == 1 else rule.n_t) * rule.n_gamma
        budget = parse_memory(self.max_memory) if self.max_memory is not None else CHUNK_BYTES
        rows = max(1, budget // (8 * 3 * n_cols))
        on_device = isinstance(out, torch.Tensor)
        with torch.no_grad():
            for j in range(0, Y.shape[0], rows):
                Fy = grid_features(plan.prof, torch.as_tensor(Y[j:j + rows], dtype=torch.float64, device=device),
                                   plan.B, rule)
                for i in range(0, X.shape[0], rows):
                    Fx = grid_features(plan.prof, torch.as_tensor(X[i:i + rows], dtype=torch.float64,
                                                                  device=device), plan.B, rule)
                    block = Fx @ Fy.T
                    out[i:i + rows, j:j + rows] = block if on_device else to_numpy64(block)

    # ------------------------------------------------------------------------------------------
    # checking the quadrature
    # ------------------------------------------------------------------------------------------
    def estimate_error(self, X: ArrayLike, Y: ArrayLike | None = None, *, n_pairs: int = 256,
                       random_state: int | None = 0) -> float:
        """Estimated quadrature error on pairs of these points: change when every inexact axis is doubled.

        Parameters
        ----------
        X, Y : array-like of shape (n, d)
            Points (Y defaults to X); ``n_pairs`` random pairs are checked.
        n_pairs : int, default=256
        random_state : int or None, default=0

        Returns
        -------
        float
            max |K_rule − K_doubled| over the pairs, relative to the largest K∞(x, x) among them.
        """
        Xa, _ = self._points(X, "X")
        Ya = Xa if Y is None else self._points(Y, "Y")[0]
        plan = self._plan(Xa.shape[1])
        rng = np.random.default_rng(random_state)
        i = rng.integers(0, Xa.shape[0], n_pairs)
        j = rng.integers(0, Ya.shape[0], n_pairs)
        device = self._device()
        Xp = torch.as_tensor(Xa[i], dtype=torch.float64, device=device)
        Yp = torch.as_tensor(Ya[j], dtype=torch.float64, device=device)
        inside = self._inside(plan, Xa[i]) & self._inside(plan, Ya[j])
        worst = 0.0
        scale = max(float(np.max(np.abs(self.diag(Xa[i])))), float(np.max(np.abs(self.diag(Ya[j])))), 1e-300)
        pieces = (("halves", inside), (plan.structures[-1], ~inside)) if plan.structures[0] == "halves" \
            else ((plan.structures[0], np.ones_like(inside)),)
        for structure, mask in pieces:
            if not mask.any():
                continue
            rule = self._rule(plan, structure, device)
            finer = Rule(2 * rule.n_t, 2 * rule.n_w if Xa.shape[1] >= 3 else rule.n_w, 2 * rule.n_gamma)
            m = torch.as_tensor(mask, device=device)
            a = self._paired(plan.prof, Xp[m], Yp[m], plan.B, rule, structure, True)
            b = self._paired(plan.prof, Xp[m], Yp[m], plan.B, finer, structure, True)
            worst = max(worst, float((a - b).abs().max()))
        return worst / scale

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
