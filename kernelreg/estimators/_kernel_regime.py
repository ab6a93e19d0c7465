"""Kernel-regime estimators: a frozen random hidden layer (RandomFeatureMap) and a min-norm output layer on its Φ.

The plain and the cross-validated estimators live together because they share one fit path
(feature map, factorisation, eps from the path, warm start); that shared path is why the module
is a little over 700 lines.
"""

from __future__ import annotations

import math
import time
import warnings
from numbers import Integral, Real
from typing import Any, Callable, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.stats import rankdata
from sklearn.utils._param_validation import Interval, StrOptions

from kernelreg.estimators._base import ON_INFEASIBLE, SOLVERS, ClassifierOutput, OutputLayerEstimator, RegressorOutput
from kernelreg.estimators._docs import fill_docstring
from kernelreg._log import logged_run, logger, outside_stacklevel
from kernelreg._torch import to_numpy64
from kernelreg.exceptions import InfeasibleEpsWarning
from kernelreg.features import RandomFeatureMap
from kernelreg.kernels import LimitKernel, gram_features
from kernelreg.solvers import CVPath, Solution, SpectralSolver, solve_cv

__all__ = ["KernelRegimeRegressor", "KernelRegimeClassifier", "KernelRegimeRegressorCV", "KernelRegimeClassifierCV"]

#: eps values that choose eps from the data, by the criterion of the closed-form path.
_CRITERIA = ("gcv", "loo")
#: Offset laws that read the training data (no limit kernel has them).
_DATA_LAWS = ("data", "quantile")

#: Parameters the estimators pass to the hidden layer, checked by its own constraints.
_MAP_PARAMETERS = ("n_features", "activation", "activation_params", "offset_scale", "random_state")


class _KernelRegimeBase(OutputLayerEstimator):
    """Shared fit of the kernel regime: draw (or reuse) the frozen layer, Φ on ``device_``, solve the output layer."""

    _routes = {"activation": "activation_params", "solver": "solver_options"}

    _parameter_constraints: dict = {
        **{name: RandomFeatureMap._parameter_constraints[name] for name in _MAP_PARAMETERS},
        "n_features": [*RandomFeatureMap._parameter_constraints["n_features"], StrOptions({"inf"})],
        "solver": [StrOptions(set(SOLVERS))],
        "eps": [Interval(Real, 0, math.inf, closed="left"), StrOptions(set(_CRITERIA))],
        "fit_intercept": ["boolean"],
        "solver_options": [dict, None],
        "on_infeasible": [StrOptions(set(ON_INFEASIBLE))],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_features: int | Literal["inf"] = 1000,
        *,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        offset_scale: float | Literal["data", "quantile"] | None = "data",
        solver: Literal["exact", "cvxpy", "gd", "adam", "cg"] = "exact",
        eps: float | Literal["gcv", "loo"] = "loo",
        fit_intercept: bool = False,
        solver_options: dict | None = None,
        on_infeasible: Literal["floor", "raise"] = "floor",
        warm_start: bool = False,
        device: str | torch.device = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool | int = False,
        **kwargs: Any,
    ) -> None:
        self.n_features = n_features
        self.activation = activation
        self.activation_params = activation_params
        self.offset_scale = offset_scale
        self.solver = solver
        self.eps = eps
        self.fit_intercept = fit_intercept
        self.solver_options = solver_options
        self.on_infeasible = on_infeasible
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_routed(kwargs)

    def _check_params(self) -> None:
        """The limit kernel exists only for the uniform offset law."""
        if self.n_features == "inf" and self.offset_scale in _DATA_LAWS:
            raise ValueError(
                f"{type(self).__name__}(n_features='inf') solves with the limit kernel of the uniform offset law "
                f"γ ~ U[−B, B]; offset_scale={self.offset_scale!r} draws offsets from the data and has no limit "
                "kernel. Use offset_scale=None (B = max‖x‖, the paper's law) or a number B."
            )

    def _eps_search(self) -> tuple[str | None, np.ndarray | None, int]:
        """(criterion, relative eps candidates or None for the default grid, grid size); no criterion: eps is given."""
        if isinstance(self.eps, str):
            return self.eps, None, 50
        return None, None, 0

    def _solve_output_layer(self, Phi: torch.Tensor, targets: np.ndarray, *, method: str, device: torch.device,
                            fit_intercept: bool, sample_weight: np.ndarray | None, loss: str = "squared",
                            eps: float | None = None) -> Solution:
        """As the base; when eps is chosen from the data, score the whole path first (one factorisation).

        The exact solver answers at the best lam from that same factorisation
        (:func:`kernelreg.solvers.solve_cv`); the other solvers are run at the chosen eps. The
        path travels in ``solution.info["cv_path"]`` to :meth:`_fit_output`.
        """
        criterion, candidates, n_eps = self._eps_search()
        if criterion is None or eps is not None:
            return super()._solve_output_layer(Phi, targets, method=method, device=device, fit_intercept=fit_intercept,
                                               sample_weight=sample_weight, loss=loss, eps=eps)
        below = "floor" if self.on_infeasible == "floor" else "raise"
        path_options = dict(criterion=criterion, eps=candidates, n_lams=n_eps, below_floor=below)
        if method == "exact":
            options = self._solver_options(method, device)
            start = time.perf_counter()
            sol, path = solve_cv(Phi, targets, relative=True, fit_intercept=fit_intercept, sample_weight=sample_weight,
                                 device=device, rcond=options.get("rcond"), **path_options)
            logger.info("%s: eps=%.4g (lam=%.4g) by %s over %d candidates on Φ of shape %s, solved exactly: status "
                        "%s, %.3g s.", type(self).__name__, path.best_eps, path.best_lam, criterion, path.lam.size,
                        tuple(Phi.shape), sol.status, time.perf_counter() - start)
        else:
            spec = SpectralSolver(Phi, targets, fit_intercept=fit_intercept, sample_weight=sample_weight, device=device)
            if candidates is not None:
                path_options["eps"] = np.asarray(candidates) * spec.mean_y2
            path = spec.cv_path(**path_options)
            sol = super()._solve_output_layer(Phi, targets, method=method, device=device, fit_intercept=fit_intercept,
                                              sample_weight=sample_weight, loss=loss, eps=path.best_eps)
        if candidates is not None:
            self._warn_floored(candidates, path)
        sol.info["cv_path"] = path
        return sol

    def _warn_floored(self, candidates: np.ndarray, path: CVPath) -> None:
        """``on_infeasible="floor"``: candidates below the least-squares floor were scored as the floor; say so once."""
        floor = float(path.eps_relative.min())
        below = candidates[(candidates > 0) & (candidates < floor * (1.0 - 1e-9))]  # 0 asks for the floor
        if below.size:
            warnings.warn(
                f"{type(self).__name__}: {below.size} of the {candidates.size} relative eps candidates "
                f"({', '.join(f'{v:.3g}' for v in below[:5])}{', …' if below.size > 5 else ''}) lie below the "
                f"least-squares floor, relative eps {floor:.6g} on these samples; they were scored as the floor "
                "(the least-squares min-norm solution). Use candidates >= the floor, or on_infeasible='raise' to "
                "get an error instead.",
                InfeasibleEpsWarning,
                stacklevel=outside_stacklevel(),
            )

    @staticmethod
    def _eps_state(sol: Solution, eps: float | str) -> dict[str, Any]:
        """``eps_``, ``lam_`` and, when eps was chosen from the data, ``cv_results_``, ``best_score_``, ``best_index_``."""
        path = sol.info.pop("cv_path", None)
        if path is None:
            return {"eps_": float(sol.info.get("eps_floor", eps)), "lam_": sol.lam}
        scores = -path.scores
        results = {"eps": path.eps, "eps_relative": path.eps_relative, "lam": path.lam, "dof": path.dof,
                   "mean_test_score": scores, "rank_test_score": rankdata(-scores, method="min").astype(np.int32)}
        return {"eps_": path.best_eps, "lam_": sol.lam, "cv_results_": results,
                "best_score_": float(scores[path.best_index]), "best_index_": path.best_index}

    def _offset_scale(self, X: np.ndarray, sample_weight: np.ndarray | None) -> float | None:
        """B: the parameter, or (with weights) max‖x‖ over the samples that carry weight (a zero weight = left out)."""
        if self.offset_scale is None and sample_weight is not None and X.shape[0]:
            return float(np.sqrt((X[sample_weight > 0].astype(np.float64) ** 2).sum(axis=1)).max())
        return self.offset_scale

    def _feature_map(self, X: np.ndarray, device: torch.device, sample_weight: np.ndarray | None) -> RandomFeatureMap:
        """The fitted frozen layer: the previous fit's with ``warm_start`` (same settings and input width), else a new draw."""
        fmap = RandomFeatureMap(
            self.n_features,
            activation=self.activation,
            activation_params=self.params_for("activation") or None,
            offset_scale=self._offset_scale(X, sample_weight),
            random_state=self.random_state,
            device=device,
        )
        previous = self.__dict__.get("feature_map_")
        if (self.warm_start and isinstance(previous, RandomFeatureMap) and previous.n_features_in_ == X.shape[1]
                and previous.get_params() == fmap.get_params()):
            return previous
        return fmap._fit_validated(X, sample_weight)

    def _limit_kernel(self, X: np.ndarray, device: torch.device, sample_weight: np.ndarray | None) -> LimitKernel:
        """The fitted limit kernel: the previous fit's with ``warm_start`` (same settings and training inputs), else new."""
        kernel = LimitKernel(self.activation, self.params_for("activation") or None,
                             self._offset_scale(X, sample_weight), device=device)
        previous = self.__dict__.get("kernel_")
        if (self.warm_start and isinstance(previous, LimitKernel) and previous.get_params() == kernel.get_params()
                and np.array_equal(self.__dict__.get("X_fit_"), X)):
            return previous
        return kernel.fit(X)

    def _fit_output(self, X: np.ndarray, targets: np.ndarray, data: dict[str, Any], device: torch.device,
                    sample_weight: np.ndarray | None, loss: str = "squared") -> dict[str, Any]:
        """Φ on the device, the output layer on it, and the fitted state (committed by the caller).

        Width ``"inf"``: the program on the limit kernel's Gram matrix K∞ itself — with
        ``solver="exact"`` one eigendecomposition of K∞ (:meth:`SpectralSolver.from_gram`: the
        solution is α, certified against K∞), with the other solvers on the factor Φ_K (Φ_K Φ_Kᵀ =
        K∞); predictions are K∞(X, X_fit_) @ dual_coef_ + intercept_. ``warm_start`` with the
        exact solver keeps the factorisation: a refit on the same data with another eps skips it.
        """
        start = time.perf_counter()
        if self.n_features == "inf":
            kernel = self._limit_kernel(X, device, sample_weight)
        else:
            fmap = self._feature_map(X, device, sample_weight)
        if self.solver == "cvxpy":
            X, targets, sample_weight = _canonical_rows(X, targets, sample_weight)
        layer = kernel if self.n_features == "inf" else fmap
        key = _FitKey(layer, X, targets, sample_weight, self.fit_intercept)
        spec = self._reusable_factorization(key)
        factor = None
        if spec is not None:  # warm start on the same data: the factorisation's own Φ (or K), nothing recomputed
            Phi = spec._problem.source.K if self.n_features == "inf" else spec._problem.source.P
        elif self.n_features == "inf" and self._factorizable():
            Phi = kernel.tensor(X)
            spec = SpectralSolver.from_gram(Phi, targets, rcond=self.params_for("solver").get("rcond"),
                                            fit_intercept=self.fit_intercept, sample_weight=sample_weight,
                                            device=device)
        elif self.n_features == "inf":
            factor = gram_features(kernel.tensor(X))
            Phi = factor.features
        else:
            Phi = fmap._transform_tensor(X)
            if self.warm_start and self._factorizable():
                spec = SpectralSolver(Phi, targets, rcond=self.params_for("solver").get("rcond"),
                                      fit_intercept=self.fit_intercept, sample_weight=sample_weight, device=device)
        logger.info("%s: features Φ of shape %s (%s) on %s in %.3g s.", type(self).__name__, tuple(Phi.shape),
                    "limit kernel K∞" if self.n_features == "inf" else "random hidden layer",
                    Phi.device, time.perf_counter() - start)
        self._factorization = spec  # read by _solver_options during this solve only
        try:
            sol = self._solve_output_layer(Phi, targets, method=self.solver, device=device,
                                           fit_intercept=self.fit_intercept, sample_weight=sample_weight, loss=loss)
        finally:
            del self._factorization
        state = {**data, "device_": device, "intercept_": sol.intercept, **self._eps_state(sol, self.eps),
                 **self._solution_state(sol), "n_outputs_": 1 if sol.coef.ndim == 1 else int(sol.coef.shape[1])}
        if self.warm_start and spec is not None:
            state.update(_factorization_=spec, _factorization_key_=key)
        if self.n_features == "inf":
            if factor is None:
                state["solution_"].info.update(kernel_rank=spec.rank, kernel_dropped=spec.n_samples - spec.rank)
                dual = np.array(sol.coef, dtype=np.float64)
            else:
                state["solution_"].info.update(kernel_rank=int(Phi.shape[1]), kernel_dropped=factor.dropped)
                dual = to_numpy64(factor.dual_coef(torch.as_tensor(sol.coef, device=Phi.device)))
            return {**state, "kernel_": kernel, "X_fit_": np.asarray(X, dtype=np.float64), "dual_coef_": dual}
        return {**state, "feature_map_": fmap, "coef_": sol.coef, "inactive_fraction_": fmap.inactive_fraction_}

    def _factorizable(self) -> bool:
        """The exact solver at a given eps, without options that choose another decomposition: one factorisation serves it.

        (eps chosen by a criterion goes through the cross-validation path on features, which builds its own.)
        """
        return (self.solver == "exact" and self._eps_search()[0] is None
                and not ({"decomposition", "max_memory"} & set(self.params_for("solver"))))

    def _reusable_factorization(self, key: _FitKey) -> SpectralSolver | None:
        """The previous fit's factorisation, when ``warm_start`` and this fit has the same layer, data and weights."""
        previous = self.__dict__.get("_factorization_")
        if not (self.warm_start and previous is not None and self._factorizable()):
            return None
        return previous if key == self.__dict__.get("_factorization_key_") else None

    def _solver_options(self, method: str, device: torch.device) -> dict[str, Any]:
        """As the base, plus this fit's factorisation for the exact solver (its rcond was the factorisation's)."""
        options = super()._solver_options(method, device)
        spec = self.__dict__.get("_factorization")
        if spec is not None and method == "exact":
            options.pop("rcond", None)
            options["factorization"] = spec
        return options

    def __getstate__(self) -> dict[str, Any]:
        """As the base, without the warm-start factorisation (it holds Φ; a refit after loading recomputes it)."""
        state = super().__getstate__()
        state.pop("_factorization_", None)
        state.pop("_factorization_key_", None)
        return state

    def _head(self):
        """Finite width: Φ(X) and coef_. Width ``"inf"``: K∞(X, X_fit_) and dual_coef_."""
        if "kernel_" in self.__dict__:
            return (lambda X: self.kernel_.tensor(X, self.X_fit_)), self.dual_coef_
        return super()._head()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """As the base; a limit kernel computes on the device the estimator was loaded on."""
        super().__setstate__(state)
        if "kernel_" in self.__dict__:
            self.kernel_.device_ = self.device_


class _FitKey:
    """What a factorisation depends on: the frozen layer (the same object), X, the targets, the weights, the intercept."""

    def __init__(self, layer: Any, X: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None,
                 fit_intercept: bool) -> None:
        self.layer, self.fit_intercept = layer, bool(fit_intercept)
        self.arrays = tuple(None if a is None else np.array(a, dtype=np.float64) for a in (X, targets, sample_weight))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _FitKey) or other.layer is not self.layer or other.fit_intercept != self.fit_intercept:
            return False
        return all((a is None and b is None) or (a is not None and b is not None and a.shape == b.shape
                                                 and np.array_equal(a, b))
                   for a, b in zip(self.arrays, other.arrays))

    __hash__ = None  # type: ignore[assignment]


def _canonical_rows(X: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None):
    """The samples a CVXPY program is posed on: duplicates merged (summed weight), zero weights dropped, rows sorted.

    The same program, whatever the order of the samples and whether a sample is repeated or
    weighted: CVXPY's interior-point answers otherwise differ with them by up to ~1e-6
    relative (its tolerance), while exact linear algebra needs no such care.
    """
    n = X.shape[0]
    keys = np.column_stack([X.astype(np.float64), targets.reshape(n, -1)])
    rows, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    weight = np.bincount(inverse.ravel(), weights=np.ones(n) if sample_weight is None else sample_weight,
                         minlength=rows.shape[0])
    keep = weight > 0
    if sample_weight is None and rows.shape[0] == n:
        weight = None  # no duplicates, no weights: the unweighted program on the sorted rows
    else:
        weight = weight[keep]
    index = first[keep]
    return X[index], targets[index], weight


@fill_docstring
class KernelRegimeRegressor(RegressorOutput, _KernelRegimeBase):
    """Shallow network in the kernel regime: a random frozen hidden layer and a min-norm output layer.

    f(x) = Σ_i c_i σ(ξ_i·x − γ_i) (+ b): (ξ_i, γ_i) are drawn once by
    :class:`kernelreg.features.RandomFeatureMap` (ξ uniform on the sphere, γ uniform on
    [−B, B]) and c solves min ‖c‖₂ subject to (1/N)‖Φc + b − y‖² ≤ eps — exactly
    (``solver="exact"``), with CVXPY (``"cvxpy"``), or by gradient descent from c = 0 (``"gd"``,
    ``"adam"``, ``"cg"``), through :func:`kernelreg.solvers.solve`, whose certificate gives
    ``solution_.status``.

    Parameters
    ----------
    <<kernel_regime_parameters>>
    <<kernel_regime_kwargs>>

    Attributes
    ----------
    <<kernel_regime_attributes>>
    coef_ : ndarray of shape (n_features,) or (n_features, n_outputs)
        Output-layer coefficients c: 1-D when ``fit`` got a 1-D y (as ``Ridge``; the orientation
        is Φ's, ``predict(X) = Φ(X) @ coef_ + intercept_``). Not set for ``n_features="inf"``
        (see ``dual_coef_``).
    intercept_ : float or ndarray of shape (n_outputs,)
        The unpenalised intercept b (0 unless ``fit_intercept=True``).
    n_outputs_ : int
        Number of targets (1 for a 1-D y).
    <<common_attributes>>

    See Also
    --------
    KernelRegimeClassifier : the same model for class labels.
    AdaptiveRegressor : every weight trained, or warmed up and frozen.
    kernelreg.solvers.solve : the output-layer solve, on any Φ.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg import KernelRegimeRegressor
    >>> X = np.linspace(-1, 1, 20).reshape(-1, 1); y = np.sin(3 * X).ravel()
    >>> model = KernelRegimeRegressor(200, random_state=0).fit(X, y)  # eps by leave-one-out
    >>> model.solution_.status, bool(model.score(X, y) > 0.99)
    ('optimal', True)
    >>> exact = KernelRegimeRegressor(200, eps=0, random_state=0).fit(X, y)  # the paper's regime: interpolate
    >>> bool(np.allclose(exact.predict(X), y, atol=1e-6))
    True
    """

    @logged_run
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> "KernelRegimeRegressor":
        """Draw the hidden layer on X and solve the output layer for y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weights: eps then bounds the weighted mean squared error; a zero weight
            is the same as leaving the sample out.

        Returns
        -------
        self : KernelRegimeRegressor

        Raises
        ------
        kernelreg.SolverError
            The solve failed, or eps is below the least-squares floor with ``on_infeasible="raise"``.
            The previous fit (if any) is kept whole.
        """
        device = self._begin_fit()
        X, y, data = self._validate_fit_data(X, y, multi_output=True, y_numeric=True)
        weights = self._sample_weight(sample_weight, X)
        self._commit(self._fit_output(X, np.asarray(y, dtype=np.float64), data, device, weights))
        return self


@fill_docstring
class KernelRegimeClassifier(ClassifierOutput, _KernelRegimeBase):
    """Kernel-regime classifier: a random frozen hidden layer and a min-norm output layer on ±1 class codes.

    Two classes get one score f with targets ±1 (positive means ``classes_[1]``); more classes get
    one score per class (one-vs-rest, one joint program with a Frobenius norm). ``loss="squared"``
    is the min-norm least-squares program (any solver); ``loss="hinge"`` (eps = 0: the hard-margin
    min-norm separator) and ``loss="logistic"`` bound the mean loss by eps and need
    ``solver="cvxpy"``.

    Parameters
    ----------
    <<kernel_regime_parameters>>
    loss : {"squared", "hinge", "logistic"}, default="squared"
        The loss whose mean the constraint bounds by eps:

        - ``"squared"``: (1/(N K))‖Φc + b − Y‖² ≤ eps on the ±1 codes Y;
        - ``"hinge"``: mean(max(0, 1 − Y ⊙ f)) ≤ eps; eps = 0 is the hard-margin separator;
        - ``"logistic"``: mean(log(1 + exp(−Y ⊙ f))) ≤ eps; needs eps > 0.
    <<kernel_regime_kwargs>>

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    <<kernel_regime_attributes>>
    coef_ : ndarray of shape (n_features,) for two classes, else (n_features, n_classes)
        Output-layer coefficients (``decision_function(X) = Φ(X) @ coef_ + intercept_``); not set
        for ``n_features="inf"`` (see ``dual_coef_``).
    intercept_ : float or ndarray of shape (n_classes,)
        The unpenalised intercept (0 unless ``fit_intercept=True``).
    n_outputs_ : int
        Number of scores: 1 for two classes, else n_classes.
    <<common_attributes>>

    See Also
    --------
    KernelRegimeRegressor : the same model for real targets.
    AdaptiveClassifier : every weight trained, or warmed up and frozen.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from kernelreg import KernelRegimeClassifier
    >>> X, y = make_moons(60, noise=0.1, random_state=0)
    >>> clf = KernelRegimeClassifier(300, eps=0.05, random_state=0).fit(X, y)
    >>> clf.predict_proba(X).shape, clf.score(X, y) > 0.95
    ((60, 2), True)
    """

    _parameter_constraints: dict = {
        **_KernelRegimeBase._parameter_constraints,
        "loss": [StrOptions({"squared", "hinge", "logistic"})],
    }

    def __init__(
        self,
        n_features: int | Literal["inf"] = 1000,
        *,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        offset_scale: float | Literal["data", "quantile"] | None = "data",
        solver: Literal["exact", "cvxpy", "gd", "adam", "cg"] = "exact",
        eps: float | Literal["gcv", "loo"] = "loo",
        fit_intercept: bool = False,
        solver_options: dict | None = None,
        on_infeasible: Literal["floor", "raise"] = "floor",
        warm_start: bool = False,
        device: str | torch.device = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool | int = False,
        loss: Literal["squared", "hinge", "logistic"] = "squared",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            n_features, activation=activation, activation_params=activation_params, offset_scale=offset_scale,
            solver=solver, eps=eps, fit_intercept=fit_intercept, solver_options=solver_options,
            on_infeasible=on_infeasible, warm_start=warm_start, device=device, random_state=random_state,
            verbose=verbose, **kwargs,
        )
        self.loss = loss

    def _check_params(self) -> None:
        """The margin losses are CVXPY programs; the logistic loss is positive everywhere, so it needs eps > 0."""
        super()._check_params()
        if self.loss != "squared" and self.solver != "cvxpy":
            raise ValueError(
                f"loss={self.loss!r} of KernelRegimeClassifier is a CVXPY program; use solver='cvxpy' "
                f"(got solver={self.solver!r}) or loss='squared'."
            )
        if self.loss != "squared" and isinstance(self.eps, str):
            raise ValueError(
                f"KernelRegimeClassifier(eps={self.eps!r}) chooses eps on the squared loss's closed-form "
                f"cross-validation path; loss={self.loss!r} needs a number: eps=0 for the hard-margin separator "
                "(hinge), or a bound on the mean loss such as eps=0.1."
            )
        if self.loss == "logistic" and self.eps == 0:
            raise ValueError(
                "KernelRegimeClassifier(loss='logistic') needs eps > 0: the mean logistic loss is positive for "
                "every coefficient vector, so eps=0 bounds nothing reachable. Try eps=0.1, or loss='hinge' for "
                "the hard-margin separator at eps=0."
            )

    @logged_run
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> "KernelRegimeClassifier":
        """Draw the hidden layer on X and solve the output layer for the ±1-coded labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in)
        y : array-like of shape (n_samples,)
            Class labels (any hashable type).
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weights of the mean loss; a zero weight is the same as leaving the
            sample out.

        Returns
        -------
        self : KernelRegimeClassifier

        Raises
        ------
        ValueError
            Fewer than two classes; a margin loss without ``solver="cvxpy"``; logistic with eps = 0.
        kernelreg.SolverError
            The solve failed, or eps is below the least reachable loss with ``on_infeasible="raise"``.
            The previous fit (if any) is kept whole.
        """
        device = self._begin_fit()
        X, y, data = self._validate_fit_data(X, y)
        classes, Y = self._class_targets(y)
        weights = self._sample_weight(sample_weight, X)
        state = self._fit_output(X, Y, data, device, weights, loss=self.loss)
        link = "logistic" if self.loss == "logistic" else "squared"
        self._commit({**state, "classes_": classes, **self._proba_state(link, len(classes), weights, X.shape[0])})
        return self


class _CrossValidated:
    """eps chosen from a grid of relative candidates by closed-form GCV / leave-one-out (the CV estimators' half)."""

    _cv_constraints: dict = {
        "eps": ["array-like", None],
        "criterion": [StrOptions(set(_CRITERIA))],
        "n_eps": [Interval(Integral, 2, None, closed="left")],
    }

    def __init__(
        self,
        n_features: int | Literal["inf"] = 1000,
        *,
        eps: ArrayLike | None = None,
        criterion: Literal["gcv", "loo"] = "loo",
        n_eps: int = 50,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        offset_scale: float | Literal["data", "quantile"] | None = "data",
        solver: Literal["exact", "cvxpy", "gd", "adam", "cg"] = "exact",
        fit_intercept: bool = False,
        solver_options: dict | None = None,
        on_infeasible: Literal["floor", "raise"] = "floor",
        warm_start: bool = False,
        device: str | torch.device = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool | int = False,
        **kwargs: Any,
    ) -> None:
        _KernelRegimeBase.__init__(
            self, n_features, activation=activation, activation_params=activation_params, offset_scale=offset_scale,
            solver=solver, eps=eps, fit_intercept=fit_intercept, solver_options=solver_options,
            on_infeasible=on_infeasible, warm_start=warm_start, device=device, random_state=random_state,
            verbose=verbose, **kwargs,
        )
        self.criterion = criterion
        self.n_eps = n_eps

    def _eps_search(self) -> tuple[str, np.ndarray | None, int]:
        """The criterion, the relative candidates (checked: finite, >= 0, not empty) and the default grid's size."""
        if self.eps is None:
            return self.criterion, None, int(self.n_eps)
        candidates = np.asarray(self.eps, dtype=np.float64).ravel()
        if candidates.size == 0 or not np.isfinite(candidates).all() or (candidates < 0).any():
            raise ValueError(
                f"The 'eps' parameter of {type(self).__name__} must be None or a non-empty array of finite relative "
                f"eps candidates >= 0 (fractions of the mse of coef = 0); got {self.eps!r}."
            )
        return self.criterion, candidates, int(self.n_eps)


@fill_docstring
class KernelRegimeRegressorCV(_CrossValidated, KernelRegimeRegressor):
    """:class:`KernelRegimeRegressor` with eps chosen by GCV or leave-one-out over a whole path, from one factorisation.

    Φ is factored once (the Gram eigendecomposition the exact solver uses anyway); the GCV or
    exact leave-one-out error of every candidate eps (equivalently ridge λ) follows from that
    spectrum in closed form, as sklearn's ``RidgeCV`` does for its alphas, and the output layer
    is solved at the best one from the same factorisation (:func:`kernelreg.solvers.solve_cv`).
    The whole path costs about one exact fit.

    Parameters
    ----------
    n_features : int or "inf", default=1000
        Width of the hidden layer (see :class:`KernelRegimeRegressor`).
    <<kernel_regime_cv>>
    activation, activation_params, offset_scale, solver, fit_intercept, solver_options, on_infeasible, \
warm_start, device, random_state, verbose, **kwargs
        As in :class:`KernelRegimeRegressor`. Another ``solver`` is run at the chosen eps (the
        path itself is always exact); ``on_infeasible="floor"`` scores candidates below the
        least-squares floor as the floor, with an ``InfeasibleEpsWarning``.

    Attributes
    ----------
    <<kernel_regime_attributes>>
    coef_ : ndarray of shape (n_features,) or (n_features, n_outputs)
        Output-layer coefficients at the chosen eps.
    intercept_ : float or ndarray of shape (n_outputs,)
        The unpenalised intercept (0 unless ``fit_intercept=True``).
    n_outputs_ : int
        Number of targets (1 for a 1-D y).
    <<common_attributes>>

    See Also
    --------
    KernelRegimeRegressor : eps given, or chosen (``eps="loo"|"gcv"``) on the default grid.
    kernelreg.solvers.SpectralSolver.cv_path : the path on any Φ.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg import KernelRegimeRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, (80, 1)); y = np.sin(3 * X[:, 0]) + 0.3 * rng.standard_normal(80)
    >>> model = KernelRegimeRegressorCV(300, eps=[0.0, 0.05, 0.1, 0.2, 0.5], fit_intercept=True,
    ...                                 random_state=0).fit(X, y)
    >>> model.cv_results_["eps_relative"].round(2).tolist(), round(float(model.eps_ / np.var(y)), 2)
    ([0.0, 0.05, 0.1, 0.2, 0.5], 0.1)
    """

    _parameter_constraints: dict = {**KernelRegimeRegressor._parameter_constraints, **_CrossValidated._cv_constraints}

@fill_docstring
class KernelRegimeClassifierCV(_CrossValidated, KernelRegimeClassifier):
    """:class:`KernelRegimeClassifier` (squared loss on ±1 codes) with eps chosen by GCV or leave-one-out, from one factorisation.

    The classification counterpart of :class:`KernelRegimeRegressorCV`, as sklearn's
    ``RidgeClassifierCV`` is of ``RidgeCV``: the criterion is the squared error of the one-vs-rest
    ±1 codes, averaged over the classes.

    Parameters
    ----------
    n_features : int or "inf", default=1000
        Width of the hidden layer (see :class:`KernelRegimeClassifier`).
    <<kernel_regime_cv>>
    activation, activation_params, offset_scale, solver, fit_intercept, solver_options, on_infeasible, \
warm_start, device, random_state, verbose, **kwargs
        As in :class:`KernelRegimeClassifier`; the loss is the squared loss.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    <<kernel_regime_attributes>>
    coef_ : ndarray of shape (n_features,) for two classes, else (n_features, n_classes)
        Output-layer coefficients at the chosen eps.
    intercept_ : float or ndarray of shape (n_classes,)
        The unpenalised intercept (0 unless ``fit_intercept=True``).
    n_outputs_ : int
        Number of scores: 1 for two classes, else n_classes.
    <<common_attributes>>

    See Also
    --------
    KernelRegimeClassifier : eps given, or chosen (``eps="loo"|"gcv"``) on the default grid; hinge and logistic losses.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from kernelreg import KernelRegimeClassifierCV
    >>> X, y = make_moons(100, noise=0.2, random_state=0)
    >>> clf = KernelRegimeClassifierCV(300, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9), bool(0 < clf.eps_ < 1)
    (True, True)
    """

    loss = "squared"  # a constant here, not a parameter: the closed-form path is the squared loss's

    _parameter_constraints: dict = {
        **{k: v for k, v in KernelRegimeClassifier._parameter_constraints.items() if k != "loss"},
        **_CrossValidated._cv_constraints,
    }
