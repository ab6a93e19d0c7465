"""scikit-learn estimators of the kernel regime: a frozen random hidden layer and a convex or GD output layer."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Callable, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from kernelreg._log import logged_run
from kernelreg._torch import to_numpy64
from kernelreg.features import RandomFeatureMap, freeze
from kernelreg.networks import MLP
from kernelreg.solvers import Solution, solve
from kernelreg.training import TrainResult, train

__all__ = ["KernelRegimeRegressor", "KernelRegimeClassifier", "AdaptiveRegressor", "AdaptiveClassifier"]

_DEVICE_METHODS = ("exact", "gd", "adam", "cg")
_SOLVERS = {"exact", "cvxpy", "gd", "adam", "cg"}


class _KernelRegimeBase(BaseEstimator):
    """Shared fit machinery: draw the frozen layer, export Φ, solve the output layer, keep the state."""

    _parameter_constraints: dict = {
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "activation": [str, callable],
        "activation_params": [dict, None],
        "offset_scale": [Interval(Real, 0, None, closed="left"), None],
        "solver": [StrOptions(_SOLVERS)],
        "eps": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "solver_options": [dict, None],
        "device": [str],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_features: int = 1000,
        *,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        offset_scale: float | None = None,
        solver: Literal["exact", "cvxpy", "gd", "adam", "cg"] = "exact",
        eps: float = 0.0,
        fit_intercept: bool = False,
        solver_options: dict | None = None,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_features = n_features
        self.activation = activation
        self.activation_params = activation_params
        self.offset_scale = offset_scale
        self.solver = solver
        self.eps = eps
        self.fit_intercept = fit_intercept
        self.solver_options = solver_options
        self.device = device
        self.random_state = random_state

    def _check_eps(self) -> None:
        """Parameter checks that sklearn's constraint objects cannot express."""
        if isinstance(self.eps, Real) and not np.isfinite(self.eps):
            raise ValueError(
                f"The 'eps' parameter of {type(self).__name__} must be a finite bound on the mean "
                f"squared training error (eps >= 0). Got {self.eps!r} instead."
            )

    def _fit_features(self, X: np.ndarray) -> np.ndarray:
        """Draw the frozen random layer on the training inputs and return Φ(X)."""
        self.feature_map_ = RandomFeatureMap(
            self.n_features,
            activation=self.activation,
            activation_params=self.activation_params,
            offset_scale=self.offset_scale,
            random_state=self.random_state,
            device=self.device,
        ).fit(X)
        self.device_ = self.feature_map_.device_
        return self.feature_map_.transform(X)

    def _solver_options(self, **extra) -> dict:
        """The user's solver_options plus the estimator-level device for the torch-backed methods."""
        options = dict(self.solver_options or {})
        if self.solver in _DEVICE_METHODS:
            options.setdefault("device", self.device)
        options.update(extra)
        return options

    def _solve_centered(self, Phi: np.ndarray, Y: np.ndarray, **extra) -> tuple[Solution, np.ndarray, np.ndarray]:
        """Solve for (coef, intercept); an intercept is unpenalised, so it is handled by centring."""
        if self.fit_intercept:
            phi_mean, y_mean = Phi.mean(axis=0), Y.mean(axis=0)
            sol = solve(Phi - phi_mean, Y - y_mean, method=self.solver, eps=self.eps, **self._solver_options(**extra))
            intercept = y_mean - phi_mean @ sol.coef
        else:
            sol = solve(Phi, Y, method=self.solver, eps=self.eps, **self._solver_options(**extra))
            intercept = np.zeros(Y.shape[1:]) if Y.ndim > 1 else 0.0
        return sol, sol.coef, intercept

    def _set_solution(self, solution: Solution) -> None:
        """Record the solver's result under the fitted names."""
        self.solution_ = solution
        self.n_iter_ = solution.n_iter
        self.history_ = solution.history

    def _decision(self, X: ArrayLike) -> np.ndarray:
        """f(X) = Φ(X)·coef + intercept."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self.feature_map_.transform(X) @ self.coef_ + self.intercept_


class KernelRegimeRegressor(RegressorMixin, _KernelRegimeBase):
    """Shallow network in the kernel regime: random frozen hidden layer, min-norm output layer.

    f(x) = Σ_i c_i σ(ξ_i·x − γ_i) (+ b), where (ξ_i, γ_i) are drawn once as in
    :class:`kernelreg.features.RandomFeatureMap` and c solves
    min ‖c‖₂ subject to (1/N)‖Φc − y‖² ≤ eps — exactly (``solver="exact"``), with CVXPY
    (``"cvxpy"``), or by gradient descent from c = 0 (``"gd"``, ``"adam"``, ``"cg"``).

    Parameters
    ----------
    n_features : int, default=1000
        Width of the hidden layer.
    activation : str or callable, default="relu"
        Any name of :func:`kernelreg.activations.available` or a callable on torch tensors.
    activation_params : dict or None, default=None
        Parameters of the activation, e.g. ``{"p": 2}`` for ``"relu_power"``.
    offset_scale : float or None, default=None
        Offsets γ_i ~ U[−B, B] with B = offset_scale, or max‖x‖ of the training inputs.
    solver : {"exact", "cvxpy", "gd", "adam", "cg"}, default="exact"
        How the output layer is found (see :func:`kernelreg.solvers.solve`).
    eps : float, default=0.0
        Bound on the mean squared training error; 0 means the min-norm interpolant.
        For the iterative solvers it is the target MSE at which they stop.
    fit_intercept : bool, default=False
        Add an unpenalised intercept (the paper's model has none).
    solver_options : dict or None, default=None
        Passed to :func:`kernelreg.solvers.solve` (``max_iter``, ``lr``, ``solver`` for CVXPY, ...).
    device : {"cpu", "cuda", "auto"}, default="cpu"
        Where features are computed and the torch-backed solvers run.
    random_state : int, RandomState or None, default=None
        Seeds the hidden layer's draw.

    Attributes
    ----------
    feature_map_ : RandomFeatureMap
    coef_ : ndarray of shape (n_features,) or (n_features, n_outputs)
    intercept_ : float or ndarray of shape (n_outputs,)
    solution_ : kernelreg.solvers.Solution
    history_ : list of dict
        Per-iteration record of the iterative solvers (empty for direct solves).
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg import KernelRegimeRegressor
    >>> X = np.linspace(-1, 1, 20).reshape(-1, 1); y = np.sin(3 * X).ravel()
    >>> model = KernelRegimeRegressor(200, random_state=0).fit(X, y)
    >>> bool(np.allclose(model.predict(X), y, atol=1e-6))
    True
    """

    @logged_run  # one logging scope per fit: each message once, verbose shows them
    def fit(self, X: ArrayLike, y: ArrayLike) -> "KernelRegimeRegressor":
        """Draw the hidden layer on X and solve the output layer for y."""
        self._check_eps()
        self._validate_params()
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True
        )
        y = np.asarray(y, dtype=np.float64)
        Phi = self._fit_features(X)
        solution, self.coef_, self.intercept_ = self._solve_centered(Phi, y)
        self._set_solution(solution)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs)."""
        return self._decision(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class KernelRegimeClassifier(ClassifierMixin, _KernelRegimeBase):
    """Kernel-regime classifier: frozen random hidden layer, convex output layer on ±1 targets.

    Binary problems fit one score f with targets ±1; multiclass problems fit one score per class
    (one-vs-rest). ``loss="squared"`` is the min-norm least-squares program (any solver);
    ``loss="hinge"`` (eps = 0: the hard-margin min-norm separator) and ``loss="logistic"`` bound the
    mean loss by eps and need ``solver="cvxpy"``.

    Parameters
    ----------
    n_features, activation, activation_params, offset_scale, solver, eps, fit_intercept,
    solver_options, device, random_state
        As in :class:`KernelRegimeRegressor`.
    loss : {"squared", "hinge", "logistic"}, default="squared"
        The loss whose mean the constraint bounds by eps. Only "logistic" gives probabilities.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_features,) for two classes, (n_features, n_classes) otherwise
    intercept_ : float or ndarray of shape (n_classes,)
    solution_ : Solution, or list of Solution (one per class for one-vs-rest CVXPY losses)
    feature_map_, history_, n_iter_, n_features_in_
        As in :class:`KernelRegimeRegressor`.
    """

    _parameter_constraints: dict = {
        **_KernelRegimeBase._parameter_constraints,
        "loss": [StrOptions({"squared", "hinge", "logistic"})],
    }

    def __init__(
        self,
        n_features: int = 1000,
        *,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        offset_scale: float | None = None,
        solver: Literal["exact", "cvxpy", "gd", "adam", "cg"] = "exact",
        eps: float = 0.0,
        fit_intercept: bool = False,
        solver_options: dict | None = None,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        loss: Literal["squared", "hinge", "logistic"] = "squared",
    ) -> None:
        super().__init__(
            n_features,
            activation=activation,
            activation_params=activation_params,
            offset_scale=offset_scale,
            solver=solver,
            eps=eps,
            fit_intercept=fit_intercept,
            solver_options=solver_options,
            device=device,
            random_state=random_state,
        )
        self.loss = loss

    @logged_run
    def fit(self, X: ArrayLike, y: ArrayLike) -> "KernelRegimeClassifier":
        """Draw the hidden layer on X and solve the output layer for the ±1-coded labels."""
        self._check_eps()
        self._validate_params()
        if self.loss != "squared" and self.solver != "cvxpy":
            raise ValueError(
                f"loss={self.loss!r} of KernelRegimeClassifier is a CVXPY program; use solver='cvxpy' "
                f"(got solver={self.solver!r}) or loss='squared'."
            )
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                "KernelRegimeClassifier needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {self.classes_[0]!r}."
            )
        Y = -np.ones((y_index.shape[0], self.classes_.shape[0]))
        Y[np.arange(y_index.shape[0]), y_index] = 1.0
        if self.classes_.shape[0] == 2:
            Y = Y[:, 1]
        Phi = self._fit_features(X)
        if self.loss == "squared":
            solution, self.coef_, self.intercept_ = self._solve_centered(Phi, Y)
            self._set_solution(solution)
        else:
            self._fit_margin_loss(Phi, Y)
        return self

    def _fit_margin_loss(self, Phi: np.ndarray, Y: np.ndarray) -> None:
        """One CVXPY program per one-vs-rest column for the hinge and logistic losses."""
        columns = [Y] if Y.ndim == 1 else [Y[:, k] for k in range(Y.shape[1])]
        solutions, coefs, intercepts = [], [], []
        for target in columns:
            sol = solve(
                Phi,
                target,
                method="cvxpy",
                eps=self.eps,
                **self._solver_options(loss=self.loss, fit_intercept=self.fit_intercept),
            )
            solutions.append(sol)
            coefs.append(sol.coef)
            intercepts.append(float(sol.info.get("intercept", 0.0)))
        if Y.ndim == 1:
            self.coef_, self.intercept_ = coefs[0], intercepts[0]
            self._set_solution(solutions[0])
        else:
            self.coef_, self.intercept_ = np.column_stack(coefs), np.asarray(intercepts)
            self.solution_ = solutions
            self.n_iter_ = int(max(s.n_iter for s in solutions))
            self.history_ = [s.history for s in solutions]

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Scores: shape (n_samples,) for two classes (positive means classes_[1]), else (n_samples, n_classes)."""
        return self._decision(X)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The class with the largest score."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def _has_proba(self) -> bool:
        """Probabilities exist only for the logistic loss."""
        return self.loss == "logistic"

    @available_if(_has_proba)
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities from the logistic scores (one-vs-rest, normalised for several classes)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1.0 - p, p])
        P = expit(scores)
        return P / P.sum(axis=1, keepdims=True)

    @available_if(_has_proba)
    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))


# ----------------------------------------------------------------------------------------------
# Adaptive regime: train the whole network, optionally freeze it after a warm-up and solve convexly
# ----------------------------------------------------------------------------------------------


class _AdaptiveBase(BaseEstimator):
    """Shared machinery of the adaptive estimators: build the MLP, train it, freeze and solve, predict."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [str, callable],
        "activation_params": [dict, None],
        "optimizer": [StrOptions({"adam", "adamw", "sgd", "lbfgs"}), callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left"), None],
        "then_solver": [StrOptions(_SOLVERS), None],
        "eps": [Interval(Real, 0, None, closed="left")],
        "readout": [StrOptions({"last", "kronecker", "function"})],
        "solver_options": [dict, None],
        "optimizer_params": [dict, None],
        "schedule": "no_validation",
        "early_stopping": [None, "boolean", Interval(Integral, 1, None, closed="left"), dict],
        "init": [str, callable],
        "warm_start": ["boolean", StrOptions({"kernel"})],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes: int | tuple[int, ...] = (100,),
        *,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        optimizer: str | Callable = "adam",
        lr: float = 1e-2,
        max_epochs: int = 500,
        batch_size: int | None = None,
        warmup_epochs: int | None = None,
        then_solver: Literal["exact", "cvxpy", "gd", "adam", "cg"] | None = None,
        eps: float = 0.0,
        readout: Literal["last", "kronecker", "function"] = "last",
        solver_options: dict | None = None,
        optimizer_params: dict | None = None,
        schedule=None,
        early_stopping=None,
        init: str | Callable = "default",
        warm_start: bool | Literal["kernel"] = False,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.activation_params = activation_params
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.warmup_epochs = warmup_epochs
        self.then_solver = then_solver
        self.eps = eps
        self.readout = readout
        self.solver_options = solver_options
        self.optimizer_params = optimizer_params
        self.schedule = schedule
        self.early_stopping = early_stopping
        self.init = init
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- subclass hooks: how targets become network outputs and back --------------------------
    _loss = "mse"

    def _check_params(self) -> None:
        """Cross-parameter rules sklearn's constraints cannot state."""
        if isinstance(self.eps, Real) and not np.isfinite(self.eps):
            raise ValueError(f"The 'eps' parameter of {type(self).__name__} must be finite; got {self.eps!r}.")
        self._validate_params()
        if self.then_solver is not None and self.warmup_epochs is None:
            raise ValueError(
                f"{type(self).__name__}: then_solver={self.then_solver!r} is the solver used after the "
                "adaptive warm-up, but warmup_epochs is None; set warmup_epochs (e.g. 2) to train, freeze "
                "and solve, or leave then_solver=None for full adaptive training."
            )
        if self.readout != "last" and self.warmup_epochs is None:
            raise ValueError(
                f"{type(self).__name__}: readout={self.readout!r} only applies to the frozen features after "
                "a warm-up; set warmup_epochs or use readout='last'."
            )

    @property
    def _frozen(self) -> bool:
        """True when the fitted model is warm-up → freeze → convex solve."""
        return self.warmup_epochs is not None

    def _sizes(self) -> tuple[int, ...]:
        """hidden_layer_sizes as a tuple of ints."""
        sizes = self.hidden_layer_sizes
        return (int(sizes),) if isinstance(sizes, Integral) else tuple(int(s) for s in sizes)

    def _build_network(self, n_in: int, n_out: int, seed: int):
        """A fresh MLP for this fit, seeded from the estimator's random_state."""
        return MLP(
            n_in, self._sizes(), n_out, activation=self.activation, activation_params=self.activation_params,
            init=self.init, random_state=seed, device=self.device,
        )

    def _solve_output(self, Phi: np.ndarray, T: np.ndarray, method: str) -> tuple[Solution, np.ndarray, np.ndarray]:
        """Min-norm output layer with an unpenalised intercept (centring), on the frozen features."""
        options = dict(self.solver_options or {})
        if method in _DEVICE_METHODS:
            options.setdefault("device", self.device)
        phi_mean, t_mean = Phi.mean(axis=0), T.mean(axis=0)
        sol = solve(Phi - phi_mean, T - t_mean, method=method, eps=self.eps, **options)
        return sol, sol.coef, t_mean - phi_mean @ sol.coef

    def _set_output_layer(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        """Write a solved output layer into the network so net_ predicts what the solution says."""
        out = self.net_.output
        with torch.no_grad():
            out.weight.copy_(torch.as_tensor(np.atleast_2d(coef.T).reshape(out.weight.shape)))
            if out.bias is not None:
                out.bias.copy_(torch.as_tensor(np.atleast_1d(intercept).reshape(out.bias.shape)))

    def _fit_network(self, X: np.ndarray, train_target, solve_target: np.ndarray, n_out: int):
        """Initialise (fresh, continued or kernel-regime), train, and optionally freeze and solve."""
        rng = check_random_state(self.random_state)
        init_seed, train_seed = (int(v) for v in rng.randint(2**31 - 1, size=2))
        continuing = (
            self.warm_start is True
            and hasattr(self, "net_")
            and self.net_.in_features == X.shape[1]
            and self.net_.out_features == n_out
        )
        if not continuing:
            self.net_ = self._build_network(X.shape[1], n_out, init_seed)
            self.kernel_solution_ = None
            if self.warm_start == "kernel":
                fmap = freeze(self.net_, "last", device=self.device).fit(X)
                sol, coef, intercept = self._solve_output(fmap.transform(X), solve_target, self.then_solver or "exact")
                self._set_output_layer(coef, intercept)
                self.kernel_solution_ = sol
        epochs = self.max_epochs if self.warmup_epochs is None else self.warmup_epochs
        if epochs > 0:
            result = train(
                self.net_, X, train_target, loss=self._loss, optimizer=self.optimizer, lr=self.lr,
                optimizer_params=self.optimizer_params, max_epochs=epochs, batch_size=self.batch_size,
                schedule=self.schedule, early_stopping=self.early_stopping, verbose=bool(self.verbose),
                random_state=train_seed, device=self.device,
            )
        else:  # zero epochs: the network stays as initialised (e.g. the kernel-regime start alone)
            result = TrainResult(stop_reason="max_epochs")
        self.train_result_ = result
        self.history_ = result.history
        self.n_iter_ = result.n_iter
        if self.warmup_epochs is not None:
            self.feature_map_ = freeze(self.net_, self.readout, device=self.device).fit(X)
            sol, self.coef_, self.intercept_ = self._solve_output(
                self.feature_map_.transform(X), solve_target, self.then_solver or "exact"
            )
            self.solution_ = sol
            if self.readout == "last":
                self._set_output_layer(self.coef_, self.intercept_)

    def _outputs(self, X: ArrayLike) -> np.ndarray:
        """Model outputs (n_samples, n_out): the frozen features' solve, or the trained network."""
        check_is_fitted(self, "net_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if self._frozen and hasattr(self, "feature_map_"):
            F = self.feature_map_.transform(X) @ self.coef_ + self.intercept_
            return F.reshape(X.shape[0], -1)
        param = next(self.net_.parameters())
        with torch.inference_mode():
            out = self.net_(torch.as_tensor(np.asarray(X), dtype=param.dtype, device=param.device))
        return to_numpy64(out)


class AdaptiveRegressor(RegressorMixin, _AdaptiveBase):
    """MLP trained in the adaptive regime (all weights move), or warmed up, frozen and solved convexly.

    With ``warmup_epochs=None`` every weight trains for ``max_epochs`` (full batch by default, Adam).
    With ``warmup_epochs=k`` the network trains adaptively for k epochs, its hidden part is frozen
    into features (``readout``) and the output layer is the min-norm solution of
    (1/N)‖Φc − y‖² ≤ eps by ``then_solver`` (default "exact") — the spectral-bias paper's
    Experiment 4. ``warm_start="kernel"`` runs the reverse: the output layer starts at the exact
    kernel-regime solution on the random hidden layer, then everything trains.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
    activation : str or callable, default="relu"
        A zoo name, "rowdy", "laaf", "kronecker", "iat", or a module factory ``f(width)``
        (see :func:`kernelreg.networks.build_activation`).
    activation_params : dict or None, default=None
    optimizer : {"adam", "adamw", "sgd", "lbfgs"} or callable, default="adam"
    lr : float, default=1e-2
    max_epochs : int, default=500
        Epochs of full adaptive training (ignored when ``warmup_epochs`` is set).
    batch_size : int or None, default=None
        None is full batch (the fast path: tensors stay on the device).
    warmup_epochs : int or None, default=None
        Adaptive epochs before freezing; None means no freezing.
    then_solver : {"exact", "cvxpy", "gd", "adam", "cg"} or None, default=None
        Output-layer solver after the warm-up (None means "exact"); needs ``warmup_epochs``.
    eps : float, default=0.0
        Bound on the mean squared training error of the frozen solve.
    readout : {"last", "kronecker", "function"}, default="last"
        Which frozen features: last hidden vector, Rowdy's N·K branches, or IAT's M-point state.
    solver_options, optimizer_params : dict or None
        Passed to :func:`kernelreg.solvers.solve` and to the optimizer.
    schedule, early_stopping
        Passed to :func:`kernelreg.training.train`.
    init : str or callable, default="default"
        Weight initialisation of :class:`kernelreg.networks.MLP`.
    warm_start : bool or "kernel", default=False
        True continues from the previous fit's weights; "kernel" starts from the exact
        kernel-regime output layer on the random hidden layer.
    device : {"cpu", "cuda", "auto"}, default="cpu"
    random_state : int, RandomState or None, default=None
    verbose : bool, default=False
        A tqdm progress bar over the epochs.

    Attributes
    ----------
    net_ : kernelreg.networks.MLP
    history_ : list of dict
        Per-epoch training record.
    train_result_ : kernelreg.training.TrainResult
    feature_map_, coef_, intercept_, solution_
        The frozen map and solved output layer (with ``warmup_epochs``).
    kernel_solution_ : Solution or None
        The kernel-regime start (with ``warm_start="kernel"``).
    n_iter_, n_features_in_
    """

    _loss = "mse"

    @logged_run
    def fit(self, X: ArrayLike, y: ArrayLike) -> "AdaptiveRegressor":
        """Train (and optionally freeze and solve) on X, y."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        self._y_ndim = y.ndim
        T = y.reshape(y.shape[0], -1)
        self._fit_network(X, T, T, T.shape[1])
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets, shape (n_samples,) or (n_samples, n_outputs)."""
        out = self._outputs(X)
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class AdaptiveClassifier(ClassifierMixin, _AdaptiveBase):
    """MLP classifier trained adaptively (softmax cross-entropy), or warmed up, frozen and solved convexly.

    Parameters are those of :class:`AdaptiveRegressor`. Full training minimises cross-entropy on
    one logit per class. After a warm-up (``warmup_epochs``) the frozen features get a min-norm
    least-squares output layer on one-vs-rest ±1 targets (the kernel-regime classifier of
    :class:`KernelRegimeClassifier`), so ``predict_proba`` exists only without a warm-up.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    net_, history_, train_result_, feature_map_, coef_, intercept_, solution_, kernel_solution_,
    n_iter_, n_features_in_
        As in :class:`AdaptiveRegressor`.
    """

    _loss = "cross_entropy"

    @logged_run
    def fit(self, X: ArrayLike, y: ArrayLike) -> "AdaptiveClassifier":
        """Train (and optionally freeze and solve) on X and class labels y."""
        self._check_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                "AdaptiveClassifier needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {self.classes_[0]!r}."
            )
        n_classes = self.classes_.shape[0]
        T = -np.ones((y_index.shape[0], n_classes))
        T[np.arange(y_index.shape[0]), y_index] = 1.0
        self._fit_network(X, y_index.astype(np.int64), T, n_classes)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The class with the largest output."""
        outputs = self._outputs(X)  # checks fitted state before classes_ is read
        return self.classes_[np.argmax(outputs, axis=1)]

    def _has_proba(self) -> bool:
        """Softmax probabilities exist for the cross-entropy network, not for the frozen least-squares solve."""
        return self.warmup_epochs is None

    @available_if(_has_proba)
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Softmax of the network's logits."""
        return softmax(self._outputs(X), axis=1)
