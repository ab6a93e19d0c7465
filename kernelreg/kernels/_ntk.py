"""NeuralTangentKernel: the infinite-width NTK of the kernel regime's two-layer network when every layer trains."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import Literal

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import special
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from kernelreg.exceptions import NotFittedError
from kernelreg.kernels._limit import LimitKernel
from kernelreg.kernels._profiles import Profile, derivative_profile
from kernelreg.kernels._rules import sphere_t1_norm

__all__ = ["NeuralTangentKernel", "dirac_kernel"]


class _ProfileKernel(LimitKernel):
    """The limit kernel of a given profile (σ′ for the NTK) instead of a named activation."""

    def __init__(self, profile: Profile, offset_scale: float, *, tol: float, n_nodes, engine, device,
                 max_memory) -> None:
        super().__init__(profile.fn, None, offset_scale, tol=tol, n_nodes=n_nodes, engine=engine,
                         device=device, max_memory=max_memory)
        self.profile = profile

    def _profile(self) -> Profile:
        return self.profile

    def _activation(self):
        return self.profile.fn


def dirac_kernel(X: np.ndarray, Y: np.ndarray, B: float) -> np.ndarray:
    """E_{ξ,γ}[δ(ξ·x − γ) δ(ξ·x′ − γ)]: the σ′σ′ kernel of the step activation (σ′ = δ).

    The γ-average of δ(u − γ)δ(v − γ) is δ(u − v)·1[|u| ≤ B]/(2B); with u − v = ‖x − x′‖t₁ and
    t₁ ∝ (1 − t₁²)^{(d−3)/2} this gives, for x ≠ x′ and d ≥ 2,

        K_δ(x, x′) = P(|ρ w| ≤ B) / (2B ‖x − x′‖ B(1/2, (d − 1)/2)),

    where ρ is the distance from the origin to the line through x and x′ and w the (d−1)-sphere
    coordinate (P = 1 when ρ ≤ B; w = ±1 in d = 2; a regularised incomplete beta function
    otherwise). In d = 1 it vanishes for x ≠ x′. On the diagonal it is +∞.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    d = X.shape[1]
    z = X[:, None, :] - Y[None, :, :]
    delta = np.linalg.norm(z, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if d == 1:
            out = np.where(delta > 0, 0.0, np.inf)
            return out
        xz = np.einsum("ad,abd->ab", X, z)
        p = np.where(delta > 0, xz / np.where(delta > 0, delta, 1.0), 0.0)
        rho = np.sqrt(np.clip(np.sum(X * X, axis=1)[:, None] - p * p, 0.0, None))
        if d == 2:
            prob = (rho <= B * (1 + 1e-12)).astype(np.float64)
        else:
            a = 0.5 * (d - 2)
            b = np.clip(B / np.where(rho > 0, rho, 1.0), 0.0, 1.0)
            prob = np.where(rho <= B, 1.0, special.betainc(a, a, 0.5 * (1 + b)) - special.betainc(a, a, 0.5 * (1 - b)))
        out = prob / (2.0 * B * delta * sphere_t1_norm(d))
    return np.where(delta > 0, out, np.inf)


class NeuralTangentKernel(BaseEstimator):
    """The neural tangent kernel of the kernel regime's network when both layers train.

    The network is f(x) = n^{−1/2} Σ_i c_i σ(w_i·x − b_i) in the NTK parameterisation, at the
    initialisation of :class:`kernelreg.features.RandomFeatureMap`: w_i = ξ_i uniform on the sphere
    S^{d−1}, b_i = γ_i uniform on [−B, B], and c_i i.i.d. with mean 0 and variance ``output_scale``.
    Trainable: the output weights c_i always, the full input weight vectors w_i ∈ R^d when
    ``train_directions`` and the offsets b_i when ``train_offsets`` (one learning rate for all).
    Its tangent kernel Θ_n(x, x′) = Σ_θ ∂f/∂θ(x) ∂f/∂θ(x′) converges as n → ∞ to

        Θ(x, x′) = K_σ(x, x′) + output_scale · (x·x′ [train_directions] + 1 [train_offsets]) · K_σ′(x, x′),

    where K_σ is :class:`LimitKernel` (the output-layer part, the kernel regime's own kernel) and
    K_σ′ the same expectation with σ′. This is the adaptive regime's linearisation at
    initialisation; with ``output_scale=0`` (c = 0, the spectral-bias paper's start) it reduces
    to K_σ.

    Parameters
    ----------
    activation, activation_params, offset_scale, kinks, tol, n_nodes, engine, device, max_memory
        As in :class:`LimitKernel` (they apply to both K_σ and K_σ′).
    output_scale : float, default=1.0
        Variance of the output weights at initialisation, E[c_i²].
    train_directions : bool, default=True
        Whether the input weights w_i train (adds x·x′ K_σ′).
    train_offsets : bool, default=True
        Whether the offsets b_i train (adds K_σ′).
    jumps : {"error", "ignore", "delta"}, default="error"
        What to do when σ jumps (step, half_exp, rectangle), i.e. σ′ has a Dirac part:

        - ``"error"``: refuse, explaining the two choices below;
        - ``"ignore"``: use the pointwise derivative (what autograd and gradient descent see; zero
          for step, so the hidden layer does not move);
        - ``"delta"``: the distributional derivative; implemented for ``step``, where
          K_σ′ = K_δ has the closed form of :func:`dirac_kernel` off the diagonal and is +∞ on it.

    Attributes
    ----------
    offset_scale_ : float
    n_features_in_ : int
    nngp_ : LimitKernel
        K_σ.
    derivative_kernel_ : LimitKernel or None
        K_σ′ (None for ``jumps="delta"``, where it is closed form, or when no hidden layer trains).

    Notes
    -----
    σ′ is taken in closed form where the zoo has it (ReLU → step, ReLU^p → p ReLU^{p−1}) and by
    autograd otherwise (elementwise, so one backward pass per evaluation).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.kernels import LimitKernel, NeuralTangentKernel
    >>> X = np.random.default_rng(0).uniform(-1, 1, size=(4, 2))
    >>> ntk = NeuralTangentKernel("relu").fit(X)
    >>> extra = ntk(X) - LimitKernel("relu").fit(X)(X)  # the hidden-layer part: a PSD kernel
    >>> bool(np.linalg.eigvalsh(extra).min() > -1e-12)
    True
    """

    _parameter_constraints: dict = {
        **LimitKernel._parameter_constraints,
        "output_scale": [Interval(Real, 0, None, closed="left")],
        "train_directions": ["boolean"],
        "train_offsets": ["boolean"],
        "jumps": [StrOptions({"error", "ignore", "delta"})],
    }

    def __init__(
        self,
        activation: str | Callable = "relu",
        activation_params: dict | None = None,
        offset_scale: float | None = None,
        *,
        output_scale: float = 1.0,
        train_directions: bool = True,
        train_offsets: bool = True,
        jumps: Literal["error", "ignore", "delta"] = "error",
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
        self.output_scale = output_scale
        self.train_directions = train_directions
        self.train_offsets = train_offsets
        self.jumps = jumps
        self.kinks = kinks
        self.tol = tol
        self.n_nodes = n_nodes
        self.engine = engine
        self.device = device
        self.max_memory = max_memory

    def fit(self, X: ArrayLike, y: ArrayLike | None = None) -> "NeuralTangentKernel":
        """Fix B like :meth:`LimitKernel.fit` and build K_σ and K_σ′.

        Raises
        ------
        ValueError
            σ jumps and ``jumps="error"``, or ``jumps="delta"`` for an activation other than step.
        """
        self._validate_params()
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite=True, ensure_min_samples=1)
        common = {"tol": self.tol, "n_nodes": self.n_nodes, "engine": self.engine, "device": self.device,
                  "max_memory": self.max_memory}
        nngp = LimitKernel(self.activation, self.activation_params, self.offset_scale, kinks=self.kinks,
                           **common).fit(X)
        B = nngp.offset_scale_
        prof = nngp._profile()
        hidden = self.output_scale > 0 and (self.train_directions or self.train_offsets)
        derivative = None
        if hidden and prof.jumps and self.jumps == "error":
            raise ValueError(
                f"NeuralTangentKernel: {prof.name} jumps at {list(prof.jumps)}, so σ′ has a Dirac part and the "
                "NTK's hidden-layer term is singular. Choose jumps='ignore' (the pointwise derivative that "
                "autograd trains with: zero for step, so only the output layer moves and the NTK is the "
                "LimitKernel) or, for step, jumps='delta' (the distributional derivative: K_σ′(x, x′) = "
                "P(|ρw| ≤ B) / (2B‖x − x′‖ B(1/2, (d−1)/2)), +inf on the diagonal)."
            )
        delta = hidden and bool(prof.jumps) and self.jumps == "delta"
        if delta and nngp.activation_.name != "step":
            raise ValueError(
                f"NeuralTangentKernel(jumps='delta') has a closed form for the step activation only; got "
                f"{prof.name}. Use jumps='ignore' or a smooth activation."
            )
        if hidden and not delta:
            dprof = derivative_profile(prof, nngp.activation_) if not prof.jumps or self.jumps == "ignore" else None
            derivative = _ProfileKernel(dprof, B, **common).fit(X)
        self.offset_scale_ = B
        self.nngp_ = nngp
        self.derivative_kernel_ = derivative
        self._delta = delta
        return self

    def _check_fitted(self) -> None:
        """NotFittedError naming the fix (the NTK needs B and both kernels from fit)."""
        if not hasattr(self, "nngp_"):
            raise NotFittedError(
                "This NeuralTangentKernel is not fitted yet: call fit(X_train) first (it fixes B and builds the "
                "kernels of σ and σ′)."
            )

    def _hidden_weight(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """output_scale · (x·x′ [train_directions] + [train_offsets])."""
        w = np.zeros((X.shape[0], Y.shape[0]))
        if self.train_directions:
            w += X @ Y.T
        if self.train_offsets:
            w += 1.0
        return self.output_scale * w

    def __call__(self, X: ArrayLike, Y: ArrayLike | None = None) -> np.ndarray | float:
        """Θ(X, Y) (Θ(X, X) when Y is None), float64; floats for single points as in :class:`LimitKernel`."""
        self._check_fitted()
        Xa, single_x = self.nngp_._points(X, "X")
        Ya, single_y = (Xa, single_x) if Y is None else self.nngp_._points(Y, "Y")
        out = self.nngp_._matrix(self.nngp_._plan(Xa.shape[1]), Xa, Ya, symmetric=Y is None)
        weight = self._hidden_weight(Xa, Ya)
        if self._delta:
            with np.errstate(invalid="ignore"):
                out = out + np.where(weight != 0, weight * dirac_kernel(Xa, Ya, self.offset_scale_), 0.0)
        elif self.derivative_kernel_ is not None:
            dk = self.derivative_kernel_
            out = out + weight * dk._matrix(dk._plan(Xa.shape[1]), Xa, Ya, symmetric=Y is None)
        if single_x and single_y:
            return float(out[0, 0])
        return out

    def diag(self, X: ArrayLike) -> np.ndarray:
        """Θ(x, x) for every row of X (+inf for step with ``jumps="delta"``)."""
        self._check_fitted()
        Xa, _ = self.nngp_._points(X, "X")
        out = self.nngp_.diag(Xa)
        weight = self.output_scale * ((np.sum(Xa * Xa, axis=1) if self.train_directions else 0.0)
                                      + (1.0 if self.train_offsets else 0.0))
        if self._delta:
            return np.where(weight != 0, np.inf, out)
        if self.derivative_kernel_ is not None:
            out = out + weight * self.derivative_kernel_.diag(Xa)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
