"""Kernel-regime estimators: a frozen random hidden layer (RandomFeatureMap) and a min-norm output layer on its Φ."""

from __future__ import annotations

import math
import time
from numbers import Real
from typing import Any, Callable, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils._param_validation import Interval, StrOptions

from kernelreg.estimators._base import ON_INFEASIBLE, SOLVERS, ClassifierOutput, OutputLayerEstimator, RegressorOutput
from kernelreg.estimators._docs import fill_docstring
from kernelreg._log import logged_run, logger
from kernelreg._torch import to_numpy64
from kernelreg.features import RandomFeatureMap
from kernelreg.kernels import LimitKernel, gram_features

__all__ = ["KernelRegimeRegressor", "KernelRegimeClassifier"]

#: Parameters the estimators pass to the hidden layer, checked by its own constraints.
_MAP_PARAMETERS = ("n_features", "activation", "activation_params", "offset_scale", "random_state")


class _KernelRegimeBase(OutputLayerEstimator):
    """Shared fit of the kernel regime: draw (or reuse) the frozen layer, Φ on ``device_``, solve the output layer."""

    _routes = {"activation": "activation_params", "solver": "solver_options"}

    _parameter_constraints: dict = {
        **{name: RandomFeatureMap._parameter_constraints[name] for name in _MAP_PARAMETERS},
        "n_features": [*RandomFeatureMap._parameter_constraints["n_features"], StrOptions({"inf"})],
        "solver": [StrOptions(set(SOLVERS))],
        "eps": [Interval(Real, 0, math.inf, closed="left")],
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
        offset_scale: float | None = None,
        solver: Literal["exact", "cvxpy", "gd", "adam", "cg"] = "exact",
        eps: float = 0.0,
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
        return fmap._fit_validated(X)

    def _fit_output(self, X: np.ndarray, targets: np.ndarray, data: dict[str, Any], device: torch.device,
                    sample_weight: np.ndarray | None, loss: str = "squared") -> dict[str, Any]:
        """Φ on the device, the output layer on it, and the fitted state (committed by the caller).

        Width ``"inf"``: Φ_K of the limit kernel's Gram matrix (Φ_K Φ_Kᵀ = K∞ on the training
        points), so the same program is solved, with the same certificate; predictions are
        K∞(X, X_fit_) @ dual_coef_ + intercept_.
        """
        start = time.perf_counter()
        if self.n_features == "inf":
            kernel = LimitKernel(self.activation, self.params_for("activation") or None,
                                 self._offset_scale(X, sample_weight), device=device).fit(X)
        else:
            fmap = self._feature_map(X, device, sample_weight)
        if self.solver == "cvxpy":
            X, targets, sample_weight = _canonical_rows(X, targets, sample_weight)
        if self.n_features == "inf":
            factor = gram_features(kernel.tensor(X))
            Phi = factor.features
        else:
            Phi = fmap._transform_tensor(X)
        logger.info("%s: features Φ of shape %s (%s) on %s in %.3g s.", type(self).__name__, tuple(Phi.shape),
                    "limit kernel, Φ_K Φ_Kᵀ = K∞" if self.n_features == "inf" else "random hidden layer",
                    Phi.device, time.perf_counter() - start)
        sol = self._solve_output_layer(Phi, targets, method=self.solver, device=device,
                                       fit_intercept=self.fit_intercept, sample_weight=sample_weight, loss=loss)
        state = {**data, "device_": device, "intercept_": sol.intercept, **self._solution_state(sol),
                 "n_outputs_": 1 if sol.coef.ndim == 1 else int(sol.coef.shape[1])}
        if self.n_features == "inf":
            state["solution_"].info.update(kernel_rank=int(Phi.shape[1]), kernel_dropped=factor.dropped)
            dual = to_numpy64(factor.dual_coef(torch.as_tensor(sol.coef, device=Phi.device)))
            return {**state, "kernel_": kernel, "X_fit_": np.asarray(X, dtype=np.float64), "dual_coef_": dual}
        return {**state, "feature_map_": fmap, "coef_": sol.coef}

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
    >>> model = KernelRegimeRegressor(200, random_state=0).fit(X, y)
    >>> bool(np.allclose(model.predict(X), y, atol=1e-6)), model.solution_.status
    (True, 'optimal')
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
        offset_scale: float | None = None,
        solver: Literal["exact", "cvxpy", "gd", "adam", "cg"] = "exact",
        eps: float = 0.0,
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
        if self.loss != "squared" and self.solver != "cvxpy":
            raise ValueError(
                f"loss={self.loss!r} of KernelRegimeClassifier is a CVXPY program; use solver='cvxpy' "
                f"(got solver={self.solver!r}) or loss='squared'."
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
