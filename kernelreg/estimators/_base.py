"""The one output-layer base of every estimator: fit plumbing, the output-layer solve, fitted state, predict, pickling.

Every estimator of :mod:`kernelreg.estimators` is *features → one linear output layer*:
f(x) = features(x) @ W + b. Subclasses say how the features are made (a random hidden layer, a
trained network, a limit kernel) and how targets are coded; this base owns everything else:

* one parameter check and one device resolution per fit (``device_``, a ``torch.device``);
* :meth:`OutputLayerEstimator._solve_output_layer`, the hook that solves the output layer on Φ (a
  tensor on ``device_``) through :func:`kernelreg.solvers.solve`, with the intercept and sample
  weights inside ``solve`` and the ``on_infeasible`` policy; the eps it solves at comes from
  :meth:`OutputLayerEstimator._output_eps`;
* atomic fits: a fit builds its state in a dict and :meth:`OutputLayerEstimator._commit` installs it
  at once, so a fit that raises (a solver error, an interrupt) leaves the previous model whole;
* predictions read only fitted state (``_head``), never the current parameters;
* pickles hold CPU tensors and load back on the fitted device, or on the CPU with a
  :class:`~kernelreg.exceptions.DeviceWarning`.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data

from kernelreg._log import logger, outside_stacklevel, progress
from kernelreg._torch import as_tensor, loadable_device, module_to_cpu, resolve_device, to_numpy64
from kernelreg.estimators._history import as_records
from kernelreg.estimators._routing import RoutedParams
from kernelreg.exceptions import InfeasibleEpsWarning, NotFittedError, SolverError
from kernelreg.solvers import MinNormProgram, Solution, solve

__all__ = ["OutputLayerEstimator", "RegressorOutput", "ClassifierOutput", "SOLVERS", "ON_INFEASIBLE"]

#: Output-layer methods of :func:`kernelreg.solvers.solve` the estimators accept.
SOLVERS = ("exact", "cvxpy", "gd", "adam", "cg")
#: What an eps below the least-squares floor does in ``fit``.
ON_INFEASIBLE = ("floor", "raise")
_DEVICE_METHODS = ("exact", "gd", "adam", "cg")
_ITERATIVE = ("gd", "adam", "cg")
_DATA_ATTRIBUTES = ("n_features_in_", "feature_names_in_")
_DTYPES = [np.float64, np.float32]


class OutputLayerEstimator(RoutedParams, BaseEstimator):
    """Base of every kernelreg estimator: features, then one output layer solved (or trained) on them.

    Subclasses implement ``fit`` as: ``device = self._begin_fit()`` → validate data with
    :meth:`_validate_fit_data` → build features → :meth:`_solve_output_layer` (or train) →
    ``self._commit({...fitted attributes...})``, and :meth:`_head` for prediction.
    """

    # ------------------------------------------------------------------ fitted state
    def __sklearn_is_fitted__(self) -> bool:
        """Fitted once a fit has committed its state (``n_outputs_`` is the last thing every fit sets)."""
        return "n_outputs_" in self.__dict__

    def _check_fitted(self) -> None:
        """Raise :class:`kernelreg.NotFittedError` (an sklearn ``NotFittedError`` too) before the first fit."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate "
                "arguments before using this estimator."
            )

    def _commit(self, fitted: dict[str, Any]) -> None:
        """Install a finished fit in one step: the previous fit's attributes are replaced whole, never mixed.

        Every fitted name ends in ``_`` (public ``coef_`` and private ``_link_`` alike); everything
        else in ``__dict__`` (the parameters) is kept.
        """
        kept = {key: value for key, value in self.__dict__.items() if not _is_fitted_name(key)}
        kept.update(fitted)
        self.__dict__ = kept  # one assignment: an interrupt lands before or after it, never inside

    # ------------------------------------------------------------------ fit plumbing
    def _begin_fit(self) -> torch.device:
        """Check the parameters (sklearn constraints, once) and resolve ``device`` (once) for this fit."""
        self._validate_params()
        self._check_routed()
        self._check_params()
        return resolve_device(self.device)

    def _check_params(self) -> None:
        """Cross-parameter rules sklearn's constraint objects cannot state (subclass hook)."""

    def _validate_fit_data(self, X: ArrayLike, y: ArrayLike, *, reset: bool = True,
                           **kwargs: Any) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """``validate_data`` once, without touching the fitted state: the new ``n_features_in_`` (and names) come back.

        sklearn's ``validate_data(reset=True)`` writes ``n_features_in_`` on the estimator; a fit
        that failed later would leave it beside the previous coefficients. Here the new values
        are returned for :meth:`_commit` and the previous ones stay until then.
        """
        before = {key: self.__dict__[key] for key in _DATA_ATTRIBUTES if key in self.__dict__}
        try:
            X, y = validate_data(self, X, y, reset=reset, dtype=_DTYPES, **kwargs)
            seen = {key: self.__dict__[key] for key in _DATA_ATTRIBUTES if key in self.__dict__}
        finally:
            for key in _DATA_ATTRIBUTES:
                self.__dict__.pop(key, None)
            self.__dict__.update(before)
        return X, y, seen

    def _sample_weight(self, sample_weight: ArrayLike | None, X: np.ndarray) -> np.ndarray | None:
        """Validated non-negative float64 weights of shape (n_samples,), or None."""
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)

    def _output_eps(self, Phi: torch.Tensor, targets: np.ndarray, *, sample_weight: np.ndarray | None,
                    fit_intercept: bool) -> float:
        """The eps the output layer is solved at: the ``eps`` parameter (checked by the constraints).

        Hook for estimators that choose eps from the data (GCV / LOO on one factorisation of
        Φ, an eps relative to the targets' scale): they get the same Φ (a tensor on
        ``device_``), targets and weights the solve gets. Fitted state they want to keep goes
        into the dict ``fit`` builds before :meth:`_commit` (``_fit_output`` returns it).
        """
        return float(self.eps)

    def _solver_options(self, method: str, device: torch.device) -> dict[str, Any]:
        """``solver_options`` merged with the ``solver__*`` parameters, plus the fit's device for the torch methods."""
        options = self.params_for("solver")
        if method in _DEVICE_METHODS:
            options.setdefault("device", device)
        if method in _ITERATIVE:  # about 1000 rows of history, unless asked for every iteration
            options.setdefault("history_every", max(1, int(options.get("max_iter", 10_000)) // 1000))
        return options

    def _solve_output_layer(
        self,
        Phi: torch.Tensor,
        targets: np.ndarray,
        *,
        method: str,
        device: torch.device,
        fit_intercept: bool,
        sample_weight: np.ndarray | None,
        loss: str = "squared",
        eps: float | None = None,
    ) -> Solution:
        """The output layer on Φ: ``solve`` at :meth:`_output_eps`, with ``on_infeasible`` deciding an eps below the floor.

        The one place every estimator solves its output layer; estimators that choose eps from the
        data override :meth:`_output_eps`, not this (or pass the chosen ``eps``). Φ is a tensor on
        ``device`` and goes to ``solve`` as it is.
        """
        if eps is None:
            eps = self._output_eps(Phi, targets, sample_weight=sample_weight, fit_intercept=fit_intercept)
        options = self._solver_options(method, device)
        if loss != "squared":
            options["loss"] = loss
        shown = bool(self.verbose) and method in _ITERATIVE and "callback" not in options
        with progress(total=int(options.get("max_iter", 10_000)), desc=method, unit="iter", verbose=shown) as bar:
            if shown:
                options["callback"] = _ProgressCallback(bar)
            try:
                sol = solve(Phi, targets, method, eps, fit_intercept=fit_intercept, sample_weight=sample_weight,
                            **options)
            except SolverError as exc:
                if exc.status != "infeasible" or self.on_infeasible == "raise":
                    raise
                sol = self._floor_solution(Phi, targets, eps, method=method, device=device, options=options,
                                           fit_intercept=fit_intercept, sample_weight=sample_weight, loss=loss)
        logger.info("%s: output layer by method=%r on Φ of shape %s on %s: status %s, %s %.4g (eps=%.4g), "
                    "norm %.4g, %d iterations, %.3g s.", type(self).__name__, sol.method, tuple(Phi.shape),
                    Phi.device, sol.status, "mse" if loss == "squared" else f"mean {loss} loss",
                    sol.info.get("mean_loss", sol.mse), eps, sol.norm, sol.n_iter, sol.time_s)
        return sol

    def _floor_solution(self, Phi, targets, eps: float, *, method: str, device: torch.device, options: dict,
                        fit_intercept: bool, sample_weight: np.ndarray | None, loss: str) -> Solution:
        """``on_infeasible="floor"``: the min-norm answer at the least reachable loss, with a warning naming it.

        Squared loss: the least-squares min-norm solution (what eps = 0 means), by the exact solver,
        whatever ``solver`` is (CVXPY's eps = 0 program is the equality Φc = y, infeasible here
        too). Hinge / logistic: the CVXPY program at the least mean loss any coefficients reach.
        """
        name = type(self).__name__
        if loss == "squared":
            exact = {k: v for k, v in options.items() if k in ("device", "decomposition", "rcond")} if method == "exact" \
                else {"device": device}
            sol = solve(Phi, targets, "exact", 0.0, fit_intercept=fit_intercept, sample_weight=sample_weight, **exact)
            floor, what = sol.mse, "least-squares floor mse"
            fitted = "the least-squares min-norm solution (eps=0's answer)"
        else:
            program = MinNormProgram(Phi, targets, loss=loss, fit_intercept=fit_intercept, sample_weight=sample_weight)
            floor = program._least_loss(program._problem)  # no public accessor yet: the solvers' own floor
            if floor is None:
                raise SolverError(f"{name}: eps={eps:.6g} is infeasible for loss={loss!r} and the least reachable "
                                  "loss could not be computed; use a larger eps.", method="cvxpy", status="infeasible")
            for slack in (1e-6, 1e-4, 1e-2):  # the least loss is itself a CVXPY answer, accurate to its tolerance
                target = floor * (1.0 + slack) + 1e-12
                try:
                    sol = solve(Phi, targets, "cvxpy", target, fit_intercept=fit_intercept,
                                sample_weight=sample_weight, **options)
                    break
                except SolverError as exc:
                    if exc.status != "infeasible" or slack == 1e-2:
                        raise
            what, fitted = f"least mean {loss} loss", f"the min-norm solution at mean {loss} loss {target:.6g}"
        warnings.warn(
            f"{name}: eps={eps:.6g} is infeasible: the {what} of these {targets.shape[0]} samples is {floor:.6g} "
            f"(no coefficients do better), so {name} fitted {fitted}. Use eps >= {floor:.6g}, or "
            "on_infeasible='raise' to get an error instead.",
            InfeasibleEpsWarning,
            stacklevel=outside_stacklevel(),
        )
        sol.info.update(eps_requested=eps, eps_floor=floor, on_infeasible="floor")
        return sol

    @staticmethod
    def _solution_state(sol: Solution) -> dict[str, Any]:
        """Fitted attributes of a solve: ``solution_`` (its per-iteration list moved out) and ``history_``, compact."""
        return {
            "solution_": replace(sol, history=[]),
            "history_": as_records(sol.history, default_fields=("iter", "mse", "norm", "time_s")),
            "n_iter_": int(sol.n_iter),
        }

    # ------------------------------------------------------------------ prediction
    def _head(self) -> tuple[Callable[[np.ndarray], torch.Tensor], np.ndarray]:
        """(features of validated X as a tensor on ``device_``, the output weights they multiply); fitted state only."""
        return self.feature_map_._transform_tensor, self.coef_

    def _decision_values(self, X: ArrayLike) -> np.ndarray:
        """f(X) = features(X) @ W + b from the fitted state, computed on ``device_`` and brought back once."""
        self._check_fitted()
        X = validate_data(self, X, dtype=_DTYPES, reset=False)
        features, weights = self._head()
        F = features(X)
        W = as_tensor(np.asarray(weights), F.device, F.dtype)
        return to_numpy64(F @ W) + self.intercept_

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        """Fitted torch state on the CPU (modules copied, tensors moved), so the pickle loads on any machine."""
        state = dict(super().__getstate__())
        for key, value in state.items():
            if _is_fitted_name(key):
                state[key] = _to_cpu(value)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Back on the fitted device when this machine has it, else on the CPU with a ``DeviceWarning`` (as skorch)."""
        super().__setstate__(state)
        device = self.__dict__.get("device_")
        if device is None:
            return
        self.device_ = loadable_device(device, type(self).__name__)
        for key, value in self.__dict__.items():
            if _is_fitted_name(key) and isinstance(value, torch.nn.Module):
                value.to(self.device_)


class RegressorOutput(RegressorMixin):
    """Regression on top of :class:`OutputLayerEstimator`: targets are the outputs."""

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-D when ``fit`` got a 1-D y.

        Raises
        ------
        kernelreg.NotFittedError
            Before ``fit``.
        """
        return self._decision_values(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


class ClassifierOutput(ClassifierMixin):
    """Classification on top of :class:`OutputLayerEstimator`: class coding, scores, labels and probabilities.

    One score per class (one-vs-rest, targets ±1), or one score for two classes (positive means
    ``classes_[1]``). ``_link_`` (fitted) says how scores become probabilities: ``"squared"``
    (scores estimate 2 P(class) − 1), ``"logistic"`` (one-vs-rest logistic scores) or
    ``"softmax"`` (cross-entropy logits).
    """

    def _class_targets(self, y: np.ndarray, classes: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(classes_, ±1 targets): shape (n_samples,) for two classes, (n_samples, n_classes) otherwise."""
        check_classification_targets(y)
        binarizer = LabelBinarizer(neg_label=-1, pos_label=1).fit(y if classes is None else np.asarray(classes))
        name = type(self).__name__
        if binarizer.classes_.shape[0] < 2:
            raise ValueError(
                f"{name} needs samples of at least 2 classes in the data, but the data contains only one "
                f"class: {binarizer.classes_[0]!r}."
            )
        if classes is not None:
            unseen = np.setdiff1d(np.unique(y), binarizer.classes_)
            if unseen.size:
                raise ValueError(f"{name}: y has labels {unseen.tolist()} that are not in classes="
                                 f"{binarizer.classes_.tolist()} given at the first partial_fit.")
        Y = binarizer.transform(y).astype(np.float64)
        return binarizer.classes_, (Y[:, 0] if Y.shape[1] == 1 else Y)

    @staticmethod
    def _proba_state(link: str, n_classes: int, sample_weight: np.ndarray | None, n_samples: int) -> dict[str, Any]:
        """Fitted state of ``predict_proba``: the link and the confidence floor δ of squared-loss scores."""
        total = float(n_samples if sample_weight is None else sample_weight.sum())
        return {"_link_": link, "_proba_floor_": 1.0 / (total + n_classes + 2.0)}

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Scores of the classes: the output layer f(X).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples,) for two classes (positive means ``classes_[1]``), else (n_samples, n_classes)

        Raises
        ------
        kernelreg.NotFittedError
            Before ``fit``.
        """
        return self._decision_values(X)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The class with the largest score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities from the scores; their argmax is :meth:`predict`.

        - cross-entropy logits (``AdaptiveClassifier`` without warm-up): softmax (two classes:
          the logistic function of the one logit);
        - ``loss="logistic"``: the logistic function of each one-vs-rest score, rows normalised;
        - squared (and hinge) loss on ±1 targets: the score s of a class estimates
          2 P(class | x) − 1, so P ∝ g((1 + s) / 2) with g(u) = δ log(1 + exp(u / δ)), a smooth
          positive floor of u at about δ = 1 / (total sample weight + n_classes + 2) (the
          confidence the training set supports; Laplace's rule of succession), rows normalised.
          This is the squared loss's own estimate, not a separately calibrated model: wrap the
          estimator in ``sklearn.calibration.CalibratedClassifierCV`` for calibrated probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns follow ``classes_``.
        """
        return _probabilities(self.decision_function(X), self._link_, self._proba_floor_)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return np.log(self.predict_proba(X))


class _ProgressCallback:
    """``callback(iter, coef, mse)`` of the iterative solvers driving a progress bar (``verbose``)."""

    def __init__(self, bar) -> None:
        self.bar = bar

    def __call__(self, iteration: int, coef: torch.Tensor, mse: float) -> None:
        self.bar.update(1)
        if iteration % 100 == 0:
            self.bar.set_postfix(mse=f"{mse:.3g}", refresh=False)


def _probabilities(scores: np.ndarray, link: str, floor: float) -> np.ndarray:
    """Scores → probabilities (see :meth:`ClassifierOutput.predict_proba`); strictly increasing in each score."""
    from scipy.special import expit, softmax

    if link == "squared":
        Z = np.column_stack([-scores, scores]) if scores.ndim == 1 else scores
        G = floor * np.logaddexp(0.0, (1.0 + Z) / (2.0 * floor))
        return G / G.sum(axis=1, keepdims=True)
    if scores.ndim == 1:
        p = expit(scores)
        return np.column_stack([1.0 - p, p])
    if link == "logistic":
        P = expit(scores)
        return P / P.sum(axis=1, keepdims=True)
    return softmax(scores, axis=1)


def _is_fitted_name(key: str) -> bool:
    """Fitted attributes end in ``_`` (``coef_``, ``_link_``); dunder names and parameters do not count."""
    return key.endswith("_") and not key.endswith("__")


def _to_cpu(value: Any) -> Any:
    """A module or tensor (also inside dicts and lists, e.g. an optimizer's state) with every tensor on the CPU."""
    if isinstance(value, torch.nn.Module):
        return module_to_cpu(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu() if value.device.type != "cpu" else value
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value
