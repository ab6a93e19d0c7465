"""Adaptive-regime estimators: an MLP trained (every weight moves), or warmed up, frozen and its output layer solved."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from numbers import Integral, Real
from typing import Any, Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if

from kernelreg._log import logged_run
from kernelreg._torch import to_numpy64
from kernelreg.estimators._base import ON_INFEASIBLE, SOLVERS, ClassifierOutput, OutputLayerEstimator, RegressorOutput
from kernelreg.estimators._docs import fill_docstring
from kernelreg.estimators._history import as_records, concat_records
from kernelreg.features import freeze
from kernelreg.networks import MLP
from kernelreg.training import Callback, TrainResult, train

__all__ = ["AdaptiveRegressor", "AdaptiveClassifier"]


@dataclass(frozen=True)
class _Targets:
    """How one fit's targets reach the network and the frozen solve."""

    train: np.ndarray  # what the network is trained on
    loss: str  # "mse" | "bce" | "cross_entropy"
    solve: np.ndarray  # what the frozen output layer is solved for (y, or the ±1 class codes)
    n_out: int  # output units of the network
    single: bool  # one output: coef_ 1-D, intercept_ a float


class _WeightedLoss:
    """``loss(pred, target)`` for :func:`train` with sample weights: the target's last column is the sample's weight.

    The weights ride with the targets, so mini-batches and the validation split keep them aligned;
    normalised to mean 1 over the data, the full-batch loss is Σ w l / Σ w, the weighted mean.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weight, target = target[:, -1], target[:, :-1]
        if self.kind == "cross_entropy":
            per_sample = F.cross_entropy(pred, target[:, 0].long(), reduction="none")
        elif self.kind == "bce":
            per_sample = F.binary_cross_entropy_with_logits(pred, target, reduction="none").mean(dim=1)
        else:
            per_sample = ((pred - target) ** 2).mean(dim=1)
        return (weight * per_sample).mean()


class _OptimizerState(Callback):
    """Carry the optimizer's state (Adam's moments) from one ``partial_fit`` call to the next."""

    def __init__(self, state: dict | None) -> None:
        self.state = state

    def on_train_begin(self, trainer, **kwargs: Any) -> None:
        if self.state is not None:
            lrs = [group["lr"] for group in trainer.optimizer.param_groups]
            trainer.optimizer.load_state_dict(self.state)
            for group, lr in zip(trainer.optimizer.param_groups, lrs):  # the current lr, not the saved one
                group["lr"] = lr

    def on_train_end(self, trainer, **kwargs: Any) -> None:
        self.state = trainer.optimizer.state_dict()


def _write_output_layer(net: MLP, coef: np.ndarray, intercept: np.ndarray | float) -> None:
    """Put a solved output layer into the network, so that ``net_`` predicts what the solution says."""
    out = net.output
    with torch.no_grad():
        out.weight.copy_(torch.as_tensor(np.atleast_2d(coef.T).reshape(out.weight.shape)))
        if out.bias is not None:
            out.bias.copy_(torch.as_tensor(np.atleast_1d(intercept).reshape(out.bias.shape)))


def _no_warmup(estimator: _AdaptiveBase) -> bool:
    """``partial_fit`` exists for full adaptive training only: a warm-up run is train → freeze → solve, once."""
    return estimator.warmup_epochs is None


class _AdaptiveBase(OutputLayerEstimator):
    """Shared fit of the adaptive estimators: build or continue the network, train, freeze or read the output layer."""

    _routes = {"activation": "activation_params", "optimizer": "optimizer_params", "solver": "solver_options"}

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [str, callable],
        "activation_params": [dict, None],
        "optimizer": [StrOptions({"adam", "adamw", "sgd", "lbfgs"}), callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left"), None],
        "then_solver": [StrOptions(set(SOLVERS)), None],
        "eps": [Interval(Real, 0, math.inf, closed="left")],
        "readout": [StrOptions({"last", "kronecker", "function"})],
        "solver_options": [dict, None],
        "optimizer_params": [dict, None],
        "schedule": "no_validation",
        "early_stopping": [None, "boolean", Interval(Integral, 1, None, closed="left"), dict],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "init": [str, callable],
        "warm_start": ["boolean", StrOptions({"kernel"})],
        "on_infeasible": [StrOptions(set(ON_INFEASIBLE))],
        "device": [str, torch.device],
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
        schedule: Any = None,
        early_stopping: bool | int | dict | None = None,
        validation_fraction: float | None = None,
        init: str | Callable = "default",
        warm_start: bool | Literal["kernel"] = False,
        on_infeasible: Literal["floor", "raise"] = "floor",
        device: str | torch.device = "cpu",
        random_state: int | np.random.RandomState | None = None,
        verbose: bool | int = False,
        **kwargs: Any,
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
        self.validation_fraction = validation_fraction
        self.init = init
        self.warm_start = warm_start
        self.on_infeasible = on_infeasible
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_routed(kwargs)

    def _check_params(self) -> None:
        """Cross-parameter rules sklearn's constraints cannot state."""
        name = type(self).__name__
        if self.then_solver is not None and self.warmup_epochs is None:
            raise ValueError(
                f"{name}: then_solver={self.then_solver!r} is the solver used after the adaptive warm-up, but "
                "warmup_epochs is None; set warmup_epochs (e.g. 2) to train, freeze and solve, or leave "
                "then_solver=None for full adaptive training."
            )
        if self.readout != "last" and self.warmup_epochs is None:
            raise ValueError(
                f"{name}: readout={self.readout!r} only applies to the frozen features after a warm-up; set "
                "warmup_epochs or use readout='last'."
            )

    def _sizes(self) -> tuple[int, ...]:
        """hidden_layer_sizes as a tuple of ints."""
        sizes = self.hidden_layer_sizes
        return (int(sizes),) if isinstance(sizes, Integral) else tuple(int(s) for s in sizes)

    def _train(self, net: MLP, X: np.ndarray, targets: _Targets, *, epochs: int, seed: int, device: torch.device,
               sample_weight: np.ndarray | None, partial: bool, optimizer_state: dict | None) -> tuple[TrainResult, dict]:
        """One training run of ``net`` in place (one epoch, restore-best off, for ``partial_fit``)."""
        options = self.params_for("optimizer")
        lr = options.pop("lr", self.lr)
        y, loss = targets.train, targets.loss
        if sample_weight is not None:
            normalised = sample_weight * (sample_weight.shape[0] / sample_weight.sum())
            y = np.column_stack([y.reshape(y.shape[0], -1), normalised])
            loss = _WeightedLoss(loss)
        carry = _OptimizerState(optimizer_state)
        result = train(
            net, X, y, loss=loss, optimizer=self.optimizer, lr=lr, optimizer_params=options, max_epochs=epochs,
            batch_size=self.batch_size, schedule=self.schedule,
            early_stopping=None if partial else self.early_stopping,
            validation=None if partial else self.validation_fraction, restore_best=not partial,
            callbacks=[carry], verbose=bool(self.verbose) and not partial, random_state=seed, device=device,
        )
        return result, carry.state

    def _frozen_solve(self, net: MLP, readout: str, X: np.ndarray, targets: _Targets, device: torch.device,
                      sample_weight: np.ndarray | None):
        """Freeze the hidden part (``readout``) and solve the output layer on its Φ, a tensor on the device."""
        fmap = freeze(net, readout, device=device)._fit_validated(X)
        sol = self._solve_output_layer(fmap._transform_tensor(X), targets.solve, method=self.then_solver or "exact",
                                       device=device, fit_intercept=True, sample_weight=sample_weight)
        return fmap, sol

    def _fit_network(self, X: np.ndarray, targets: _Targets, data: dict[str, Any], device: torch.device,
                     sample_weight: np.ndarray | None, *, partial: bool = False) -> dict[str, Any]:
        """One fit (or ``partial_fit`` epoch) built entirely in locals; the caller commits the returned state.

        A continued network is a copy, so a fit that raises (divergence, an interrupt, a solver
        error) leaves the previous model untouched.
        """
        rng = check_random_state(self.random_state)
        init_seed, train_seed = (int(v) for v in rng.randint(2**31 - 1, size=2))
        previous = self.__dict__.get("net_")
        continuing = (partial or self.warm_start is True) and previous is not None \
            and previous.in_features == X.shape[1] and previous.out_features == targets.n_out
        epochs_before = int(self.__dict__["history_"].size) if partial and continuing else 0
        kernel_solution = self.__dict__.get("kernel_solution_") if continuing else None
        if continuing:
            net = copy.deepcopy(previous).to(device)
        else:
            net = MLP(X.shape[1], self._sizes(), targets.n_out, activation=self.activation,
                      activation_params=self.params_for("activation") or None, init=self.init,
                      random_state=init_seed, device=device)
            if self.warm_start == "kernel":
                _, kernel_solution = self._frozen_solve(net, "last", X, targets, device, sample_weight)
                _write_output_layer(net, kernel_solution.coef, kernel_solution.intercept)
                kernel_solution = replace(kernel_solution, history=[])
        epochs = 1 if partial else (self.max_epochs if self.warmup_epochs is None else self.warmup_epochs)
        optimizer_state = None
        if epochs > 0:
            result, optimizer_state = self._train(
                net, X, targets, epochs=epochs, seed=(train_seed + epochs_before) % (2**31 - 1), device=device,
                sample_weight=sample_weight, partial=partial,
                optimizer_state=self.__dict__.get("_optimizer_state_") if partial and continuing else None,
            )
        else:  # zero epochs: the network stays as initialised (e.g. the kernel-regime start alone)
            result = TrainResult(stop_reason="max_epochs")
        history, n_iter = as_records(result.history, default_fields=("epoch", "iter", "train_loss")), result.n_iter
        if epochs_before:
            history = _continue_records(self.history_, history, self.n_iter_)
            n_iter += self.n_iter_
        state: dict[str, Any] = {**data, "device_": device, "net_": net, "kernel_solution_": kernel_solution,
                                 "history_": history, "stop_reason_": result.stop_reason, "n_iter_": n_iter}
        if self.warmup_epochs is not None:
            fmap, sol = self._frozen_solve(net, self.readout, X, targets, device, sample_weight)
            if self.readout == "last":
                _write_output_layer(net, sol.coef, sol.intercept)
            state.update(feature_map_=fmap, coef_=sol.coef, intercept_=sol.intercept, frozen_=True,
                         solution_=replace(sol, history=[]),
                         solver_history_=as_records(sol.history, default_fields=("iter", "mse", "norm", "time_s")))
        else:
            weight, bias = net.output.weight.detach(), net.output.bias
            coef = to_numpy64(weight.T)
            intercept = to_numpy64(bias.detach()) if bias is not None else np.zeros(targets.n_out)
            if targets.single:
                coef, intercept = coef[:, 0], float(intercept[0])
            state.update(feature_map_=freeze(net, "last", device=device)._fit_validated(X), coef_=coef,
                         intercept_=intercept, frozen_=False, solution_=None, _optimizer_state_=optimizer_state)
        state["n_outputs_"] = 1 if targets.single else targets.n_out
        return state

    def _partial_data(self, X: ArrayLike, y: ArrayLike, **kwargs: Any) -> tuple[np.ndarray, np.ndarray, dict, bool]:
        """Validate one partial_fit batch: the first call fixes the input width, later ones are checked against it."""
        first = not self.__sklearn_is_fitted__()
        X, y, data = self._validate_fit_data(X, y, reset=first, **kwargs)
        return X, y, data, first


def _continue_records(before: np.ndarray, new: np.ndarray, n_iter_before: int) -> np.ndarray:
    """Append a partial_fit epoch's records, numbering epochs and optimizer steps on from the earlier ones."""
    new = new.copy()
    if "epoch" in new.dtype.names:
        new["epoch"] += before.size
    if "iter" in new.dtype.names:
        new["iter"] += n_iter_before
    return concat_records(before, new)


@fill_docstring
class AdaptiveRegressor(RegressorOutput, _AdaptiveBase):
    """MLP trained in the adaptive regime (every weight moves), or warmed up, frozen and its output layer solved.

    With ``warmup_epochs=None`` every weight trains for ``max_epochs`` (full batch by default,
    Adam, mean squared error). With ``warmup_epochs=k`` the network trains adaptively for k
    epochs, its hidden part is frozen into features (``readout``) and the output layer is the
    min-norm solution of (1/N)‖Φc + b − y‖² ≤ eps by ``then_solver`` (default ``"exact"``) — the
    spectral-bias paper's Experiment 4. ``warm_start="kernel"`` runs the reverse: the output
    layer starts at the exact kernel-regime solution on the random hidden layer, then
    everything trains.

    Parameters
    ----------
    <<adaptive_parameters>>

    Attributes
    ----------
    coef_ : ndarray of shape (n_hidden,) or (n_hidden, n_outputs)
        The output layer (trained, or solved after a warm-up), 1-D when ``fit`` got a 1-D y;
        n_hidden is the width of the frozen features (N·K for ``readout="kronecker"``).
    intercept_ : float or ndarray of shape (n_outputs,)
        The output layer's bias.
    n_outputs_ : int
        Number of targets (1 for a 1-D y).
    <<adaptive_attributes>>
    solver_history_ : numpy structured array
        Per-iteration record of an iterative ``then_solver`` (set with ``warmup_epochs``).

    See Also
    --------
    KernelRegimeRegressor : the kernel regime from the start (a random frozen hidden layer).
    kernelreg.training.train : the training loop.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg import AdaptiveRegressor
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1); y = np.sin(3 * X).ravel()
    >>> model = AdaptiveRegressor((32,), activation="tanh", max_epochs=300, random_state=0).fit(X, y)
    >>> model.score(X, y) > 0.95, model.history_["train_loss"].shape
    (True, (300,))
    """

    def _targets(self, y: np.ndarray) -> _Targets:
        """Regression: the network outputs the targets."""
        y = np.asarray(y, dtype=np.float64)
        train_y = y.reshape(y.shape[0], -1)
        return _Targets(train=train_y, loss="mse", solve=y, n_out=train_y.shape[1], single=y.ndim == 1)

    @logged_run
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> "AdaptiveRegressor":
        """Train (and with ``warmup_epochs`` freeze and solve) on X, y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weights of the training loss and of the frozen solve's mse.

        Returns
        -------
        self : AdaptiveRegressor

        Raises
        ------
        kernelreg.DivergenceError
            The training loss diverged (``.history`` holds the epochs up to it); the previous fit
            (if any) is kept whole, never the untrained start.
        """
        device = self._begin_fit()
        X, y, data = self._validate_fit_data(X, y, multi_output=True, y_numeric=True)
        weights = self._sample_weight(sample_weight, X)
        self._commit(self._fit_network(X, self._targets(y), data, device, weights))
        return self

    @available_if(_no_warmup)
    @logged_run
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> "AdaptiveRegressor":
        """One epoch of adaptive training on this batch, continuing from the current weights and optimizer state.

        Only without ``warmup_epochs`` (a warm-up is train → freeze → solve, done once by ``fit``).
        ``early_stopping`` and ``validation_fraction`` do not apply; the kept weights are the last.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The same number of outputs at every call.
        sample_weight : array-like of shape (n_samples,) or None, default=None

        Returns
        -------
        self : AdaptiveRegressor
        """
        device = self._begin_fit()
        X, y, data, first = self._partial_data(X, y, multi_output=True, y_numeric=True)
        targets = self._targets(y)
        if not first and (targets.n_out, targets.single) != (self.net_.out_features, self.coef_.ndim == 1):
            raise ValueError(
                f"AdaptiveRegressor.partial_fit: y has {targets.n_out} output(s) "
                f"({'1-D' if targets.single else '2-D'}), but the model was fitted with {self.n_outputs_} "
                f"({'1-D' if self.coef_.ndim == 1 else '2-D'} y); pass y of the same shape at every call."
            )
        weights = self._sample_weight(sample_weight, X)
        self._commit(self._fit_network(X, targets, data, device, weights, partial=True))
        return self


@fill_docstring
class AdaptiveClassifier(ClassifierOutput, _AdaptiveBase):
    """MLP classifier trained adaptively (cross-entropy), or warmed up, frozen and its output layer solved.

    Full training minimises the cross-entropy of one logit per class (one logit and the binary
    cross-entropy for two classes). After a warm-up (``warmup_epochs``) the frozen features get
    the min-norm least-squares output layer on the ±1 class codes (one score for two classes,
    one-vs-rest otherwise), as :class:`KernelRegimeClassifier` does on random features.

    Parameters
    ----------
    <<adaptive_parameters>>

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    coef_ : ndarray of shape (n_hidden,) for two classes, else (n_hidden, n_classes)
        The output layer (trained logits, or the solved scores after a warm-up).
    intercept_ : float or ndarray of shape (n_classes,)
        The output layer's bias.
    n_outputs_ : int
        Number of scores: 1 for two classes, else n_classes.
    <<adaptive_attributes>>
    solver_history_ : numpy structured array
        Per-iteration record of an iterative ``then_solver`` (set with ``warmup_epochs``).

    See Also
    --------
    KernelRegimeClassifier : the kernel regime from the start.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from kernelreg import AdaptiveClassifier
    >>> X, y = make_moons(100, noise=0.1, random_state=0)
    >>> clf = AdaptiveClassifier((32,), max_epochs=300, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95, clf.predict_proba(X).shape
    (True, (100, 2))
    """

    def _targets(self, Y: np.ndarray, classes: np.ndarray, y: np.ndarray) -> _Targets:
        """Two classes: one logit (binary cross-entropy on 0/1); more: one logit per class (cross-entropy)."""
        if Y.ndim == 1:
            return _Targets(train=(Y[:, None] + 1.0) / 2.0, loss="bce", solve=Y, n_out=1, single=True)
        index = np.searchsorted(classes, y).astype(np.int64)
        return _Targets(train=index, loss="cross_entropy", solve=Y, n_out=len(classes), single=False)

    def _classifier_state(self, classes: np.ndarray, weights: np.ndarray | None, n_samples: int) -> dict[str, Any]:
        """classes_ and the probability link: softmax of trained logits, or the squared-loss rule after a warm-up."""
        link = "softmax" if self.warmup_epochs is None else "squared"
        return {"classes_": classes, **self._proba_state(link, len(classes), weights, n_samples)}

    @logged_run
    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> "AdaptiveClassifier":
        """Train (and with ``warmup_epochs`` freeze and solve) on X and class labels y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in)
        y : array-like of shape (n_samples,)
            Class labels (any hashable type).
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weights of the training loss and of the frozen solve's mse.

        Returns
        -------
        self : AdaptiveClassifier

        Raises
        ------
        kernelreg.DivergenceError
            The training loss diverged; the previous fit (if any) is kept whole.
        """
        device = self._begin_fit()
        X, y, data = self._validate_fit_data(X, y)
        classes, Y = self._class_targets(y)
        weights = self._sample_weight(sample_weight, X)
        state = self._fit_network(X, self._targets(Y, classes, y), data, device, weights)
        self._commit({**state, **self._classifier_state(classes, weights, X.shape[0])})
        return self

    @available_if(_no_warmup)
    @logged_run
    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None) -> "AdaptiveClassifier":
        """One epoch of adaptive training on this batch, continuing from the current weights and optimizer state.

        Only without ``warmup_epochs``. ``early_stopping`` and ``validation_fraction`` do not apply.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,) or None, default=None
            Every class of the problem: required at the first call (a batch may miss some),
            ignored or checked afterwards.
        sample_weight : array-like of shape (n_samples,) or None, default=None

        Returns
        -------
        self : AdaptiveClassifier
        """
        device = self._begin_fit()
        X, y, data, first = self._partial_data(X, y)
        if first and classes is None:
            raise ValueError("AdaptiveClassifier.partial_fit needs classes=... (every label of the problem) at the "
                             "first call, since one batch may not contain them all.")
        if not first and classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"AdaptiveClassifier.partial_fit: classes={list(classes)!r} differs from the classes "
                             f"of the first call, {self.classes_.tolist()!r}.")
        all_classes, Y = self._class_targets(y, classes=classes if first else self.classes_)
        weights = self._sample_weight(sample_weight, X)
        state = self._fit_network(X, self._targets(Y, all_classes, y), data, device, weights, partial=True)
        self._commit({**state, **self._classifier_state(all_classes, weights, X.shape[0])})
        return self
