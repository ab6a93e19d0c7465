"""Docstring pieces the estimators share, written once and filled into each class's numpydoc (``help()`` shows them whole)."""

from __future__ import annotations

import inspect
import textwrap

__all__ = ["fill_docstring"]

_PIECES = {
    "kernel_regime_layer": """
n_features : int or "inf", default=1000
    Width of the hidden layer: the number of columns of Φ. ``"inf"`` solves the same program
    in the infinite-width limit, on the N×N limit kernel K∞ of this layer's law
    (:class:`kernelreg.kernels.LimitKernel`) through features Φ_K with Φ_K Φ_Kᵀ = K∞
    (:func:`kernelreg.kernels.gram_features`): the same exact solver, certificate and status;
    predictions are K∞(X, X_fit_) @ dual_coef_ + intercept_ (at the min-norm fit's λ this is
    ``KernelRidge(alpha=solution_.lam, kernel="precomputed")`` on K∞).
activation : str or callable, default="relu"
    A name of :func:`kernelreg.activations.available` or a callable on torch tensors.
activation_params : dict or None, default=None
    Parameters of the activation, e.g. ``{"p": 2}`` for ``"relu_power"``. Each can also be
    given as ``activation__<name>`` (``activation__p=2``, reachable by ``GridSearchCV``); a name
    given both ways is an error.
offset_scale : float, {"data", "quantile"} or None, default="data"
    How the offsets γ_i of the hidden layer are drawn (:class:`kernelreg.features.RandomFeatureMap`):

    - ``"data"``: uniform with the mean and variance of ξ_i·x over the training inputs, so every
      zero-plane cuts through the data (few units constant or linear on it; see
      ``inactive_fraction_``); the predictive default.
    - ``"quantile"``: each zero-plane through a training input drawn at random.
    - None: γ_i ~ U[−B, B] with B = max‖x‖ over the training inputs, the spectral-bias paper's
      law (and the one the limit kernel of ``n_features="inf"`` needs); a float: that B.

    Sample weights weigh the training inputs (zero: left out).
solver : {"exact", "cvxpy", "gd", "adam", "cg"}, default="exact"
    How the output layer is found (:func:`kernelreg.solvers.solve`):

    - ``"exact"``: min-norm solution by linear algebra, certified;
    - ``"cvxpy"``: the same program (and the hinge / logistic ones) in CVXPY, posed on the
      unique samples in a canonical order (repeats become weights), so that its answer does
      not depend on sample order or repetition at CVXPY's tolerance;
    - ``"gd"``, ``"adam"``, ``"cg"``: iterations from c = 0 until the mse reaches eps.""",
    "kernel_regime_eps": """
eps : float or {"loo", "gcv"}, default="loo"
    Bound on the mean squared training error (the mean loss for ``loss="hinge"|"logistic"``),
    or how to choose it from the data:

    - ``"loo"``: the eps (ridge λ) with the least exact leave-one-out error on the whole path,
      from the one factorisation of Φ that the solve uses (:func:`kernelreg.solvers.solve_cv`);
      the predictive default for noisy data.
    - ``"gcv"``: the same with generalised cross-validation (cheaper per candidate, but its
      denominator (1 − tr(H)/N)² vanishes near interpolation, so with n_features >= n_samples it
      can prefer the interpolant where leave-one-out does not).
    - a number >= 0: that bound; 0 is the spectral-bias paper's regime, the min-norm
      interpolant (or the least-squares min-norm solution when no interpolant exists). For the
      iterative solvers it is the mse at which they stop.

    A chosen eps (squared loss only) is ``eps_``; the whole path is in ``cv_results_``.""",
    "kernel_regime_solve": """
fit_intercept : bool, default=False
    Add an unpenalised intercept b (the paper's model has none); fitted inside ``solve``.
solver_options : dict or None, default=None
    Options of :func:`kernelreg.solvers.solve` for the chosen method (``max_iter``, ``lr``,
    ``decomposition``, CVXPY's ``solver``, ...). Each can also be given as ``solver__<name>``.
on_infeasible : {"floor", "raise"}, default="floor"
    What an eps below the floor (the least mean loss any coefficients reach on these samples)
    does in ``fit``:

    - ``"floor"``: fit the solution at the floor (squared loss: the least-squares min-norm
      solution, what eps = 0 gives) and emit an :class:`~kernelreg.exceptions.InfeasibleEpsWarning`
      naming the floor, so that a grid search over eps scores every point (the points below
      the floor score as the floor);
    - ``"raise"``: :class:`~kernelreg.exceptions.SolverError` with status ``"infeasible"``.
warm_start : bool, default=False
    Reuse the fitted hidden layer (the same ξ, γ) when the next ``fit`` has the same input width
    and the same hidden-layer settings, so that changing eps, the solver or the targets keeps
    the features. Φ and its factorisation are recomputed (``solve`` keeps no factorisation).
device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
    Where Φ is computed and the torch-backed solvers run; resolved once per fit into
    ``device_``. Φ stays a tensor there from the feature map to the solver.
random_state : int, RandomState or None, default=None
    Seeds the hidden layer's draw.
verbose : bool or int, default=False
    Report the fit's steps (features, solve status and time) through the ``"kernelreg"`` logger,
    on stderr when logging is not configured.""",
    "kernel_regime_kwargs": """
**kwargs
    Routed sub-parameters ``activation__<name>`` and ``solver__<name>`` (see above).""",
    "kernel_regime_attributes": """
feature_map_ : kernelreg.features.RandomFeatureMap
    The fitted frozen hidden layer (ξ in ``directions_``, γ in ``offsets_``); not set for
    ``n_features="inf"``.
kernel_ : kernelreg.kernels.LimitKernel
    ``n_features="inf"`` only: the fitted limit kernel K∞.
X_fit_ : ndarray of shape (n_samples_fit, n_features_in_)
    ``n_features="inf"`` only: the training inputs K∞ is evaluated against.
dual_coef_ : ndarray of shape (n_samples_fit,) or (n_samples_fit, n_outputs)
    ``n_features="inf"`` only: α with f(x) = K∞(x, X_fit_) @ α + b (the RKHS norm of f is the
    minimised ``solution_.norm``).
device_ : torch.device
    The device this fit ran on.
inactive_fraction_ : float
    Fraction of hidden units whose zero-plane misses the training inputs (ξ_i·x − γ_i of one
    sign on all of them; for ReLU: a unit constant zero or linear there), from
    ``feature_map_.inactive_fraction_``; not set for ``n_features="inf"``.
eps_ : float
    The eps the output layer was solved at: chosen from the path (``eps="gcv"|"loo"``, the CV
    estimators), the floor after ``on_infeasible="floor"``, else ``eps``.
lam_ : float or None
    The ridge λ of the exact solution (``Phi Phi^T + lam I`` convention; ``inf`` for coef = 0);
    None for the other solvers at a given eps.
cv_results_ : dict of ndarray
    Only when eps was chosen from the data: one entry per candidate, ``"eps"`` (training mse),
    ``"eps_relative"`` (eps / mse of coef = 0: 1 − training R² with an intercept), ``"lam"``,
    ``"dof"`` (effective degrees of freedom tr(H)), ``"mean_test_score"`` (minus the GCV or
    leave-one-out mean squared error, higher is better, as ``RidgeCV``) and ``"rank_test_score"``.
best_score_ : float
    Only when eps was chosen from the data: the largest ``mean_test_score``.
best_index_ : int
    Only when eps was chosen from the data: the index of the chosen candidate.""",
    "kernel_regime_cv": """
eps : array-like of float or None, default=None
    Candidate eps values *relative* to the training mse of coef = 0, i.e. to the (weighted)
    variance of y with an intercept and to mean(y²) without: 0 asks for the interpolant (or the
    least-squares floor), 1 for the constant model, and eps_relative = 1 − training R². Relative,
    so that one grid serves targets of any scale (a Pipeline's StandardScaler never rescales y);
    the variance rather than mean(y²) because it is the error of the best constant, the model
    eps = 1 stands for. None: 0 (the min-norm solution), ``n_eps - 2`` ridge λ spaced
    geometrically over the squared singular values of Φ and λ = inf (see
    :meth:`kernelreg.solvers.SpectralSolver.cv_path`).
criterion : {"loo", "gcv"}, default="loo"
    - ``"loo"``: the exact mean squared leave-one-out error, ``O(N rank K)`` per candidate.
    - ``"gcv"``: generalised cross-validation, mean(r²) / (1 − tr(H)/N)², ``O(rank)`` per
      candidate; unreliable near interpolation when n_features >= n_samples (its denominator
      vanishes there too).
n_eps : int, default=50
    Number of candidates of the default grid (``eps=None``).""",
    "common_attributes": """
solution_ : kernelreg.solvers.Solution
    The output-layer solve: coefficients, certificate and ``status``. Its per-iteration list is
    moved to ``history_``. After an infeasible eps with ``on_infeasible="floor"``,
    ``solution_.info`` has ``eps_requested`` and ``eps_floor``.
history_ : numpy structured array
    One row per recorded solver iteration (fields ``iter``, ``mse``, ``norm``, ``time_s``); no
    rows for direct solves.
n_iter_ : int
    Solver iterations (0 for direct linear algebra).
n_features_in_ : int
    Number of input features seen in ``fit``.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Input column names, when ``X`` was a DataFrame with string column names.""",
    "adaptive_parameters": """
hidden_layer_sizes : int or tuple of int, default=(100,)
    Widths of the hidden layers.
activation : str or callable, default="relu"
    A zoo name, ``"rowdy"``, ``"laaf"``, ``"kronecker"``, ``"iat"``, or a module factory
    ``f(width)`` (see :func:`kernelreg.networks.build_activation`).
activation_params : dict or None, default=None
    Parameters of the activation or layer family (e.g. ``{"base": "tanh", "K": 3}`` for
    Rowdy); each can also be given as ``activation__<name>``.
optimizer : {"adam", "adamw", "sgd", "lbfgs"} or callable, default="adam"
    The optimizer (a callable is any ``torch.optim`` class).
lr : float, default=1e-2
    Learning rate; ``optimizer__lr`` overrides it.
max_epochs : int, default=500
    Epochs of full adaptive training (not used with ``warmup_epochs``); also the epochs of each
    ``fit`` with ``warm_start=True``.
batch_size : int or None, default=None
    None is full batch (the fast path: the tensors stay on the device).
warmup_epochs : int or None, default=None
    Adaptive epochs before the hidden part is frozen and the output layer solved convexly;
    None means full adaptive training.
then_solver : {"exact", "cvxpy", "gd", "adam", "cg"} or None, default=None
    Output-layer solver after the warm-up (None means ``"exact"``); needs ``warmup_epochs``.
eps : float, default=0.0
    Bound on the mean squared training error of the frozen solve (and of the kernel-regime
    start with ``warm_start="kernel"``).
readout : {"last", "kronecker", "function"}, default="last"
    Which frozen features after a warm-up: the last hidden vector, Rowdy's N·K branches, or
    IAT's M-point state.
solver_options : dict or None, default=None
    Options of :func:`kernelreg.solvers.solve` for ``then_solver``; also ``solver__<name>``.
optimizer_params : dict or None, default=None
    Extra arguments of the optimizer (``weight_decay``, ``momentum``, ...); also
    ``optimizer__<name>``.
schedule : None, str, (str, dict) or callable, default=None
    Learning-rate schedule (see :func:`kernelreg.training.train`).
early_stopping : None, True, int or dict, default=None
    Stop when the monitored loss stops improving (see :func:`kernelreg.training.train`); the
    monitored loss is the held-out loss with ``validation_fraction``, else the training loss.
validation_fraction : float in (0, 1) or None, default=None
    Hold out this fraction of the training samples (drawn with ``random_state``): their loss is
    the monitored loss, which picks the weights kept (the best epoch's) and drives
    ``early_stopping`` (as scikit-learn's MLP with ``early_stopping=True``). The frozen solve after a
    warm-up uses every sample.
init : str or callable, default="default"
    Weight initialisation of :class:`kernelreg.networks.MLP`.
warm_start : bool or "kernel", default=False
    ``True``: the next ``fit`` continues from this fit's weights (same widths). ``"kernel"``:
    the output layer starts at the kernel-regime solution on the random hidden layer, then
    everything trains.
on_infeasible : {"floor", "raise"}, default="floor"
    What an eps below the least-squares floor of the frozen solve does: fit the floor (the
    least-squares min-norm solution) with an :class:`~kernelreg.exceptions.InfeasibleEpsWarning`,
    or raise :class:`~kernelreg.exceptions.SolverError`.
device : {"cpu", "cuda", "auto"} or torch.device, default="cpu"
    Where the network trains and the features are computed; resolved once per fit into ``device_``.
random_state : int, RandomState or None, default=None
    Seeds the initial weights, the shuffling and the validation split.
verbose : bool or int, default=False
    A progress bar over the epochs (it stays when done) and the fit's steps through the
    ``"kernelreg"`` logger.
**kwargs
    Routed sub-parameters ``activation__<name>``, ``optimizer__<name>`` and ``solver__<name>``.""",
    "adaptive_attributes": """
net_ : kernelreg.networks.MLP
    The trained network (with a warm-up and ``readout="last"``, its output layer holds the
    solved one).
feature_map_ : kernelreg.features.ModuleFeatureMap
    The frozen hidden part the output layer acts on: predictions are
    ``feature_map_.transform(X) @ coef_ + intercept_``.
frozen_ : bool
    True when the hidden part was frozen after a warm-up and the output layer solved convexly;
    False for full adaptive training (the output layer was trained).
solution_ : kernelreg.solvers.Solution or None
    The frozen solve (with ``warmup_epochs``), else None.
kernel_solution_ : kernelreg.solvers.Solution or None
    The kernel-regime start (with ``warm_start="kernel"``), else None.
history_ : numpy structured array
    One row per epoch (fields ``epoch``, ``iter``, ``train_loss``, ``lr``, ``time_s``, and
    ``valid_loss`` with ``validation_fraction``); ``partial_fit`` appends.
stop_reason_ : str
    Why training stopped (``"max_epochs"``, ``"early_stopping"``, ...).
n_iter_ : int
    Optimizer steps taken (summed over ``partial_fit`` calls).
device_ : torch.device
    The device this fit ran on.
n_features_in_ : int
    Number of input features seen in ``fit``.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Input column names, when ``X`` was a DataFrame with string column names.""",
}


_PIECES["kernel_regime_parameters"] = "\n".join(
    _PIECES[name].strip("\n") for name in ("kernel_regime_layer", "kernel_regime_eps", "kernel_regime_solve")
)


def fill_docstring(cls: type) -> type:
    """Class decorator: replace each ``<<piece>>`` line of the docstring by that shared piece, at the line's indent."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    lines = []
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.startswith("<<") and stripped.endswith(">>"):
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(textwrap.indent(_PIECES[stripped[2:-2]].strip("\n"), indent))
        else:
            lines.append(line)
    cls.__doc__ = "\n".join(lines)
    return cls
