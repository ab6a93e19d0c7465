"""LimitKernel, NeuralTangentKernel and gram_features against independent truth.

Truths used: closed forms derived by hand (below) and checked with mpmath quadrature; the
arc-cosine kernel of Cho & Saul (2009); Monte Carlo with 10⁶ random features from the public
RandomFeatureMap (agreement within 5 standard errors); autograd Jacobians of a finite network for
the NTK; exactness of the Gauss rules on moments given by Beta functions.

Hand-derived closed forms (ξ uniform on S^{d−1}, γ uniform on [−B, B], ‖x‖, ‖x′‖ ≤ B; z = x − x′,
c = (x + x′)/2, m_k = E|ξ₁|^k = Γ(d/2)Γ((k+1)/2)/(√π Γ((d+k)/2))):

* step: G(u, v) = (min(u, v) + B)/(2B) = ½ + (u + v)/(4B) − |u − v|/(4B), so
  K = ½ − m₁‖z‖/(4B) (d = 1: ½ − |z|/(4B); d = 2: ½ − ‖z‖/(2πB)).
* ReLU: 2B·G = ∫_{−B}^{m}(u − γ)(v − γ)dγ = (s + B)³/3 − (s + B)Δ²/4 + Δ³/12 with s = (u + v)/2,
  Δ = |u − v|; E[(ξ·c)²] = ‖c‖²/d and odd moments vanish, so
  K = B²/6 + ‖c‖²/(2d) − ‖z‖²/(8d) + m₃‖z‖³/(24B).
* identity: K = x·x′/d + B²/3.
"""

from __future__ import annotations

import math
import pickle
import warnings

import mpmath
import numpy as np
import pytest
import torch
from scipy import integrate, special
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.utils._param_validation import InvalidParameterError

from kernelreg import activations
from kernelreg.exceptions import NotFittedError
from kernelreg.features import RandomFeatureMap
from kernelreg.kernels import GramFactor, LimitKernel, NeuralTangentKernel, gram_features
from kernelreg.kernels._ntk import dirac_kernel
from kernelreg.kernels._rules import direction_rule, gauss_jacobi, half_range_rule
from kernelreg.solvers import solve


# ----------------------------------------------------------------------------------------------
# helpers: hand closed forms, mpmath references, Monte Carlo
# ----------------------------------------------------------------------------------------------
def _moment(d: int, k: int) -> float:
    return math.exp(special.gammaln(d / 2) + special.gammaln((k + 1) / 2) - 0.5 * math.log(math.pi)
                    - special.gammaln((d + k) / 2))


def step_closed(X, Y, B):
    z = np.linalg.norm(X[:, None] - Y[None], axis=-1)
    return 0.5 - _moment(X.shape[1], 1) * z / (4 * B)


def relu_closed(X, Y, B):
    d = X.shape[1]
    c = 0.5 * (X[:, None] + Y[None])
    z = np.linalg.norm(X[:, None] - Y[None], axis=-1)
    return B**2 / 6 + (c * c).sum(-1) / (2 * d) - z**2 / (8 * d) + _moment(d, 3) * z**3 / (24 * B)


def arccos_closed(X, Y):
    """E_ξ[relu(ξ·x) relu(ξ·y)] on the sphere: the Gaussian arc-cosine kernel (Cho & Saul) divided by d."""
    nx, ny = np.linalg.norm(X, axis=1), np.linalg.norm(Y, axis=1)
    cos = np.clip((X @ Y.T) / np.outer(nx, ny), -1, 1)
    theta = np.arccos(cos)
    return np.outer(nx, ny) * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi * X.shape[1])


def mp_kernel_1d(sigma, x, y, B):
    """mpmath: ½ Σ_{ξ=±1} (1/2B) ∫ σ(ξx − γ)σ(ξy − γ) dγ, split at the kinks."""
    total = mpmath.mpf(0)
    for xi in (1, -1):
        u, v = xi * mpmath.mpf(x), xi * mpmath.mpf(y)
        pts = sorted({-B, B, *[t for t in (u, v) if -B < t < B]})
        total += mpmath.quad(lambda g: sigma(u - g) * sigma(v - g), pts) / (2 * B)
    return total / 2


def mp_kernel_2d(sigma, x, y, B):
    """mpmath: (1/2π)∫dθ (1/2B)∫dγ σ(ξ·x − γ)σ(ξ·y − γ), split at the kinks in γ and θ."""
    x = [mpmath.mpf(t) for t in x]
    y = [mpmath.mpf(t) for t in y]
    z0 = mpmath.atan2(x[1] - y[1], x[0] - y[0])

    def inner(th):
        c, s = mpmath.cos(th), mpmath.sin(th)
        u, v = c * x[0] + s * x[1], c * y[0] + s * y[1]
        pts = sorted({-B, B, *[t for t in (u, v) if -B < t < B]})
        return mpmath.quad(lambda g: sigma(u - g) * sigma(v - g), pts) / (2 * B)

    a = z0 + mpmath.pi / 2
    return mpmath.quad(inner, [a, a + mpmath.pi, a + 2 * mpmath.pi]) / (2 * mpmath.pi)


def mp_relu(t):
    return t if t > 0 else mpmath.mpf(0)


def mp_step(t):
    return mpmath.mpf(1) if t > 0 else mpmath.mpf(0)


def monte_carlo(X, activation, params=None, offset_scale=None, n=10**6, seed=0):
    """K_n = ΦΦᵀ/n from RandomFeatureMap with n features, and the standard error of each entry."""
    fmap = RandomFeatureMap(n, activation=activation, activation_params=params, offset_scale=offset_scale,
                            random_state=seed).fit(X)
    Phi = fmap.transform(X)
    m = X.shape[0]
    mean, se = np.empty((m, m)), np.empty((m, m))
    for i in range(m):
        prod = Phi[i] * Phi[i:]
        mean[i, i:] = mean[i:, i] = prod.mean(axis=1)
        se[i, i:] = se[i:, i] = prod.std(axis=1) / math.sqrt(n)
    return mean, se, fmap.offset_scale_


def _points(d, m=5, radius=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True) * rng.uniform(0.2, 1.0, (m, 1)) * radius


# ----------------------------------------------------------------------------------------------
# quadrature rules
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("n", [1, 3, 7])
def test_half_range_rule_integrates_polynomials_exactly(d, n):
    lam = 0.5 * (d - 3)
    t, w = half_range_rule(n, lam)
    assert np.all((t > 0) & (t < 1)) and np.all(w > 0)
    for k in range(2 * n):  # ∫_0^1 t^k (1 − t²)^λ dt = ½ B((k+1)/2, λ+1)
        assert np.sum(w * t**k) == pytest.approx(0.5 * special.beta((k + 1) / 2, lam + 1), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("d", [1, 2, 3, 6])
def test_direction_rule_reproduces_sphere_moments(d):
    """E[(ξ·e₁)^a (ξ·e₂)^b] on S^{d−1} (d = 1: ξ = ±1) from the (t₁, s) nodes, against mpmath/Beta values."""
    t1, s, w = direction_rule(d, 4, 4, halves=True)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.sum(w * t1**2) == pytest.approx(1.0 / d, rel=1e-13)
    if d >= 2:
        assert np.sum(w * s**2) == pytest.approx(1.0 / d, rel=1e-13)
        assert np.sum(w * t1**2 * s**2) == pytest.approx(1.0 / (d * (d + 2)), rel=1e-12)
        assert np.sum(w * np.abs(t1) ** 3) == pytest.approx(_moment(d, 3), rel=1e-12)
    x, ww = gauss_jacobi(5, 0.5)
    assert ww.sum() == pytest.approx(1.0) and np.sum(ww * x**2) == pytest.approx(0.25, rel=1e-13)  # (1−t²)^{1/2}


# ----------------------------------------------------------------------------------------------
# closed forms (derived by hand, checked with mpmath) against LimitKernel
# ----------------------------------------------------------------------------------------------
def test_hand_closed_forms_agree_with_mpmath():
    mpmath.mp.dps = 25
    B = 1.3
    for x, y in ((0.5, -0.2), (1.1, 0.9)):
        X, Y = np.array([[x]]), np.array([[y]])
        assert float(mp_kernel_1d(mp_step, x, y, B)) == pytest.approx(step_closed(X, Y, B)[0, 0], rel=1e-14)
        assert float(mp_kernel_1d(mp_relu, x, y, B)) == pytest.approx(relu_closed(X, Y, B)[0, 0], rel=1e-14)
    mpmath.mp.dps = 15
    for x, y in (((0.5, -0.2), (-0.3, 0.6)), ((0.9, 0.1), (0.85, 0.2))):
        X, Y = np.array([x]), np.array([y])
        assert float(mp_kernel_2d(mp_relu, x, y, B)) == pytest.approx(relu_closed(X, Y, B)[0, 0], rel=1e-11)
        assert float(mp_kernel_2d(mp_step, x, y, B)) == pytest.approx(step_closed(X, Y, B)[0, 0], rel=1e-11)


@pytest.mark.parametrize("d", [1, 2, 3, 7])
def test_step_and_relu_match_the_closed_forms_to_rounding(d):
    X = _points(d, m=7, seed=d)
    for name, closed in (("step", step_closed), ("relu", relu_closed)):
        kernel = LimitKernel(name).fit(X)
        B = kernel.offset_scale_
        assert B == pytest.approx(np.max(np.linalg.norm(X, axis=1)))  # RandomFeatureMap's default
        K = kernel(X)
        assert np.max(np.abs(K - closed(X, X, B))) < 1e-14 * max(1.0, B**2)
        assert kernel.quadrature_["halves"]["exact"] and kernel.quadrature_["halves"]["error_estimate"] == 0.0
        Y = _points(d, m=4, seed=10 + d)
        Y *= 0.9 * B / np.max(np.linalg.norm(Y, axis=1))  # inside the ball, where the closed forms hold
        assert np.max(np.abs(kernel(Y, X) - closed(Y, X, B))) < 1e-14 * max(1.0, B**2)


def test_relu_outside_the_ball_matches_adaptive_quadrature():
    """Points outside ‖x‖ ≤ B (test points, or a small offset_scale): the panel rule, against scipy.quad."""
    X = np.array([[1.2, 0.3], [-0.4, 0.9], [0.1, -0.2]])
    B = 0.7

    def G(u, v):
        hi = min(u, v, B)
        if hi <= -B:
            return 0.0
        F = lambda g: u * v * g - (u + v) * g * g / 2 + g**3 / 3  # noqa: E731
        return (F(hi) - F(-B)) / (2 * B)

    def ref(x, y):
        f = lambda th: G(math.cos(th) * x[0] + math.sin(th) * x[1], math.cos(th) * y[0] + math.sin(th) * y[1])  # noqa: E731
        return integrate.quad(f, 0, 2 * math.pi, limit=2000, epsabs=1e-13, epsrel=1e-13)[0] / (2 * math.pi)

    K = LimitKernel("relu", offset_scale=B)(X)
    R = np.array([[ref(a, b) for b in X] for a in X])
    assert np.max(np.abs(K - R)) < 1e-11


def test_no_offsets_gives_the_arc_cosine_kernel():
    for d in (2, 3, 5):  # the kink lines u = 0 and v = 0 cross the plane: split explicitly (nested for d ≥ 3)
        X = _points(d, m=5, seed=3)
        K = LimitKernel("relu", offset_scale=0.0, tol=1e-10)(X)
        assert np.max(np.abs(K - arccos_closed(X, X))) < 1e-9 * np.max(np.abs(K))


def test_identity_activation_is_the_linear_kernel_plus_offset_variance():
    X = _points(4, m=5, seed=2)
    K = LimitKernel("identity", offset_scale=0.8)(X)
    assert np.max(np.abs(K - (X @ X.T / 4 + 0.8**2 / 3))) < 1e-14


# ----------------------------------------------------------------------------------------------
# Monte Carlo with 10⁶ random features
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "d, activation, params, offset_scale",
    [
        (2, "relu", None, None),
        (3, "relu", None, 0.6),  # points outside the ball: the lazily calibrated (nested) panel rule
        (2, "step", None, 0.5),
        (1, "relu_power", {"p": 2}, None),
        (2, "logistic", None, None),
        (3, "gaussian", None, None),
        (2, "sinc", {"a": 3.0}, None),
        (3, "half_exp", None, None),
        (2, "satrelu", None, None),
        (3, "satrelu", None, None),  # two kinks, cut by the offset window: nested panels
    ],
)
def test_limit_kernel_agrees_with_a_million_random_features(d, activation, params, offset_scale):
    X = _points(d, m=5, seed=d + 17)
    mean, se, B = monte_carlo(X, activation, params, offset_scale)
    kernel = LimitKernel(activation, params, offset_scale, tol=1e-7).fit(X)  # far below the MC error (~1e-3)
    assert kernel.offset_scale_ == pytest.approx(B)
    K = kernel(X)
    assert np.all(np.abs(mean - K) <= 5 * se + 1e-12), np.max(np.abs(mean - K) / (se + 1e-300))


# ----------------------------------------------------------------------------------------------
# structure: symmetry, PSD, blocks, diag, callables
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("activation, params", [("relu", None), ("half_exp", None), ("logistic", None),
                                                ("relu_power", {"p": 3.5}), ("satrelu", None)])
def test_kernel_is_symmetric_psd_and_blocks_agree(activation, params):
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(40, 2))
    kernel = LimitKernel(activation, params, tol=1e-9, max_memory="200kB").fit(X[:30])  # small blocks, some rows outside
    K = kernel(X)
    assert np.array_equal(K, K.T)
    lam = np.linalg.eigvalsh(K)
    assert lam[0] >= -1e-10 * lam[-1]
    cross = kernel(X[:13], X[13:])  # another blocking and another code path (no mirroring)
    assert np.max(np.abs(cross - K[:13, 13:])) <= 1e-12 * np.max(np.abs(K))
    assert np.max(np.abs(kernel.diag(X) - np.diag(K))) <= 1e-12 * np.max(np.abs(K))
    assert kernel(X[0], X[3]) == pytest.approx(K[0, 3], rel=1e-12, abs=1e-15)


def _relu_callable(t):
    return torch.clamp(t, min=0.0)


def test_callable_equals_the_zoo_activation_by_name():
    X = _points(2, m=6, seed=8)
    # smooth: the same engine, calibrated separately
    named, custom = LimitKernel("logistic").fit(X)(X), LimitKernel(torch.sigmoid).fit(X)(X)
    assert np.max(np.abs(named - custom)) < 1e-9 * np.max(np.abs(named))
    # kinked: exact closed form (name) against the calibrated Gauss–Legendre path of a callable with kinks=[0]
    named, custom = LimitKernel("relu").fit(X)(X), LimitKernel(_relu_callable, kinks=[0.0]).fit(X)(X)
    assert np.max(np.abs(named - custom)) < 1e-9 * np.max(np.abs(named))
    X3 = _points(3, m=4, seed=9)
    named, custom = LimitKernel("relu").fit(X3)(X3), LimitKernel(_relu_callable, kinks=[0.0]).fit(X3)(X3)
    assert np.max(np.abs(named - custom)) < 1e-9 * np.max(np.abs(named))


def test_quadrature_error_estimates_are_honest():
    """The calibrated rule's error against a much finer rule stays within a small multiple of its estimate."""
    X = _points(2, m=6, seed=4)
    for name in ("half_exp", "gaussian"):
        kernel = LimitKernel(name, tol=1e-7).fit(X)
        fine = LimitKernel(name, tol=1e-13).fit(X)
        scale = np.max(kernel.diag(X))
        assert np.max(np.abs(kernel(X) - fine(X))) <= 10 * max(kernel.error_estimate_, 1e-15) * scale + 1e-15
        assert kernel.estimate_error(X) <= 1e-6
    assert LimitKernel("relu").fit(X).estimate_error(X) < 1e-13  # exact rule


def test_uncalibratable_quadrature_warns():
    X = _points(2, m=4, seed=1)
    with pytest.warns(ConvergenceWarning, match="above tol"):
        LimitKernel(_relu_callable, tol=1e-12, n_nodes={"t": 4}).fit(X)  # kink not announced, too few t-nodes


# ----------------------------------------------------------------------------------------------
# sklearn interplay, clone, pickle, errors
# ----------------------------------------------------------------------------------------------
def test_kernel_ridge_with_the_callable_and_precomputed_agree():
    rng = np.random.default_rng(0)
    X, Xt = rng.uniform(-1, 1, (14, 2)), rng.uniform(-1, 1, (5, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1]
    kernel = LimitKernel("relu", offset_scale=1.5)
    slow = KernelRidge(alpha=1e-3, kernel=kernel).fit(X, y).predict(Xt)  # sklearn calls kernel(x, y) per pair
    fast = KernelRidge(alpha=1e-3, kernel="precomputed").fit(kernel(X), y).predict(kernel(Xt, X))
    assert np.max(np.abs(slow - fast)) < 1e-10
    assert clone(kernel).get_params() == kernel.get_params()
    assert np.array_equal(clone(kernel)(X), kernel(X))


def test_set_params_is_not_hidden_by_a_cached_rule():
    X = _points(2, m=4)
    kernel = LimitKernel("relu", offset_scale=1.0)
    relu = kernel(X)
    kernel.set_params(activation="step")
    assert np.max(np.abs(kernel(X) - step_closed(X, X, 1.0))) < 1e-14
    assert np.max(np.abs(kernel.set_params(activation="relu")(X) - relu)) == 0.0


def test_fitted_kernel_pickles_and_unfitted_default_needs_fit():
    X = _points(2, m=4)
    kernel = LimitKernel("half_exp").fit(X)
    again = pickle.loads(pickle.dumps(kernel))
    assert np.array_equal(again(X), kernel(X))
    with pytest.raises(NotFittedError, match="offset_scale=None.*call fit"):
        LimitKernel("relu")(X)


def test_bad_inputs_are_refused_with_clear_messages():
    X = _points(2, m=4)
    kernel = LimitKernel("relu").fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but LimitKernel is expecting 2"):
        kernel(np.ones((2, 3)))
    with pytest.raises(ValueError, match="X has 2 features but Y has 3"):
        LimitKernel("relu", offset_scale=1.0)(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN or inf"):
        kernel(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="2-D array"):
        kernel(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match=r"engine='grid'\) needs an activation without kinks"):
        LimitKernel("relu", engine="grid").fit(X)
    with pytest.raises(ValueError, match="dimension 1 or 2"):
        LimitKernel("logistic", engine="grid").fit(np.ones((3, 3)))
    with pytest.raises(ValueError, match="n_nodes must map keys"):
        LimitKernel("relu", n_nodes={"phi": 3}).fit(X)
    with pytest.raises(InvalidParameterError, match="tol"):
        LimitKernel("relu", tol=2.0).fit(X)
    with pytest.raises(ValueError, match="unknown activation|not a known|relux"):
        LimitKernel("relux").fit(X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    X = _points(2, m=50)
    for name in ("relu", "logistic", "half_exp"):
        cpu = LimitKernel(name).fit(X)(X)
        gpu = LimitKernel(name, device="cuda").fit(X)(X)
        assert np.max(np.abs(cpu - gpu)) < 1e-12 * np.max(np.abs(cpu))


# ----------------------------------------------------------------------------------------------
# gram_features and the finite-width → limit convergence of the min-norm fit
# ----------------------------------------------------------------------------------------------
def test_gram_features_factor_and_map_coefficients():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (12, 2))
    kernel = LimitKernel("relu").fit(X)
    K = kernel(X)
    factor = gram_features(K)
    assert isinstance(factor, GramFactor)
    assert np.max(np.abs(factor.features @ factor.features.T - K)) < 1e-13 * np.max(K)
    y = rng.normal(size=12)
    sol = solve(factor.features, y, method="exact", eps=0.0)  # the RKHS min-norm interpolant on these points
    alpha = factor.dual_coef(sol.coef)
    assert np.max(np.abs(K @ alpha - y)) < 1e-7
    assert sol.norm == pytest.approx(math.sqrt(alpha @ K @ alpha), rel=1e-7)  # ‖c‖ = ‖f‖_H
    Xt = rng.uniform(-1, 1, (4, 2))
    assert np.max(np.abs(factor.transform(kernel(Xt, X)) @ sol.coef - kernel(Xt, X) @ alpha)) < 1e-7
    with pytest.raises(ValueError, match="not positive semi-definite"):
        gram_features(np.diag([1.0, -1.0]))
    with pytest.raises(ValueError, match="square"):
        gram_features(np.ones((2, 3)))


def test_finite_width_fit_via_its_gram_is_the_direct_min_norm_fit():
    """The fit of min ‖c‖ s.t. mse(Φc) ≤ eps depends on Φ only through ΦΦᵀ: Gram-factor and direct solves agree."""
    rng = np.random.default_rng(2)
    X, P = rng.uniform(-1, 1, (25, 2)), rng.uniform(-1, 1, (30, 2))
    y = np.cos(2 * X[:, 0]) * X[:, 1]
    fmap = RandomFeatureMap(300, activation="relu", random_state=0).fit(X)
    Phi, Phi_P = fmap.transform(X), fmap.transform(P)
    direct = Phi_P @ solve(Phi, y, method="exact", eps=1e-4).coef
    factor = gram_features(Phi @ Phi.T)
    via_gram = factor.transform(Phi_P @ Phi.T) @ solve(factor.features, y, method="exact", eps=1e-4).coef
    assert np.max(np.abs(direct - via_gram)) < 1e-8 * np.max(np.abs(direct))


def test_finite_width_fits_converge_to_the_limit_fit(tmp_path):
    from kernelreg.convergence import width_convergence

    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (30, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    report = width_convergence(X, "relu", (100, 1000, 10_000, 100_000), y=y, eps=1e-3, n_points=300,
                               plot=tmp_path / "wc.png")
    errs = [r["rel_error"] for r in report.rows]
    kerr = [r["kernel_rel_error_fro"] for r in report.rows]
    assert errs[-1] < 0.01 and errs[-1] < errs[0] / 5
    assert kerr[-1] < 0.02 and kerr[-1] < kerr[0] / 5  # the 1/√n rate would give / 31.6
    assert all(r["status"] == "optimal" for r in report.rows[1:]) and report.limit[0]["status"] == "optimal"
    first_ok = next(r["n"] for i, r in enumerate(report.rows) if all(e <= 0.01 for e in errs[i:]))
    assert report.width_within(0.01) == first_ok
    assert (tmp_path / "wc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="widths must be positive integers"):
        width_convergence(X, "relu", (0, 10))


# ----------------------------------------------------------------------------------------------
# neural tangent kernel
# ----------------------------------------------------------------------------------------------
def _autograd_ntk(X, activation, params, B, n, seed=0, output_scale=1.0):
    """JJᵀ/n for f(x) = Σ c_i σ(w_i·x − b_i) at the RandomFeatureMap initialisation, with its standard errors."""
    g = torch.Generator().manual_seed(seed)
    d = X.shape[1]
    W = torch.randn(n, d, generator=g, dtype=torch.float64)
    W = (W / W.norm(dim=1, keepdim=True)).requires_grad_()
    b = ((2 * torch.rand(n, generator=g, dtype=torch.float64) - 1) * B).requires_grad_()
    c = (math.sqrt(output_scale) * torch.randn(n, generator=g, dtype=torch.float64)).requires_grad_()
    sigma = activations.get(activation, **(params or {}))
    rows = []
    for x in torch.tensor(X):
        gW, gb, gc = torch.autograd.grad((c * sigma(W @ x - b)).sum(), (W, b, c))
        rows.append(torch.cat([gW, gb[:, None], gc[:, None]], dim=1))
    J = torch.stack(rows)
    per_unit = torch.einsum("aik,bik->abi", J, J)
    return per_unit.mean(-1).numpy(), (per_unit.std(-1) / math.sqrt(n)).numpy()


@pytest.mark.parametrize("d, activation, params", [(2, "relu", None), (3, "logistic", None),
                                                    (2, "relu_power", {"p": 2})])
def test_ntk_matches_autograd_jacobians_of_a_wide_network(d, activation, params):
    X = _points(d, m=4, seed=11)
    ntk = NeuralTangentKernel(activation, params).fit(X)
    mean, se = _autograd_ntk(X, activation, params, ntk.offset_scale_, n=40_000)
    assert np.all(np.abs(mean - ntk(X)) <= 5 * se + 1e-12)
    assert np.max(np.abs(ntk.diag(X) - np.diag(ntk(X)))) < 1e-12 * np.max(ntk.diag(X))


def test_ntk_reduces_to_the_limit_kernel_and_adds_the_hidden_terms():
    X = _points(2, m=5, seed=12)
    K = LimitKernel("relu").fit(X)(X)
    assert np.max(np.abs(NeuralTangentKernel("relu", output_scale=0.0).fit(X)(X) - K)) < 1e-15
    step = LimitKernel("step").fit(X)(X)  # relu′ = step, in closed form
    only_offsets = NeuralTangentKernel("relu", output_scale=2.0, train_directions=False).fit(X)(X)
    assert np.max(np.abs(only_offsets - (K + 2.0 * step))) < 1e-14
    full = NeuralTangentKernel("relu", output_scale=2.0).fit(X)(X)
    assert np.max(np.abs(full - (K + 2.0 * (X @ X.T + 1.0) * step))) < 1e-14


def test_ntk_of_step_refuses_or_uses_the_dirac_closed_form():
    X = _points(2, m=4, seed=13)
    with pytest.raises(ValueError, match="Dirac part.*jumps='ignore'.*jumps='delta'"):
        NeuralTangentKernel("step").fit(X)
    K = LimitKernel("step").fit(X)(X)
    assert np.max(np.abs(NeuralTangentKernel("step", jumps="ignore").fit(X)(X) - K)) < 1e-15
    ntk = NeuralTangentKernel("step", jumps="delta").fit(X)
    Th = ntk(X)
    off = ~np.eye(4, dtype=bool)
    B = ntk.offset_scale_
    z = np.linalg.norm(X[:, None] - X[None], axis=-1)
    expected = K + (X @ X.T + 1.0) / (2 * np.pi * B * np.where(off, z, 1.0))  # d = 2: K_δ = 1/(2πB‖z‖)
    assert np.max(np.abs(Th[off] - expected[off])) < 1e-13
    assert np.all(np.isinf(np.diag(Th))) and np.all(np.isinf(ntk.diag(X)))
    with pytest.raises(ValueError, match="closed form for the step activation only"):
        NeuralTangentKernel("half_exp", jumps="delta").fit(X)


def test_dirac_kernel_is_the_limit_of_narrow_gaussians():
    """K_δ = lim_{h→0} K[φ_h] with φ_h the normalised Gaussian of width h (the zoo's dirac_approx); error O((h/‖z‖)²)."""
    X = np.array([[0.3, 0.1], [-0.5, 0.4], [0.1, -0.6]])
    ref = dirac_kernel(X, X, 1.0)
    off = ~np.eye(3, dtype=bool)
    errors = []
    for h in (0.1, 0.05):
        K = LimitKernel("dirac_approx", {"h": h}, 1.0, tol=1e-8)(X)
        errors.append(np.max(np.abs(K[off] / ref[off] - 1)))
    assert errors[0] < 0.03 and errors[1] < errors[0] / 3
    # d ≥ 3 outside the ball: P(|ρw| ≤ B) by a direct quadrature of the w-density ∝ (1 − w²)^{(d−4)/2}
    d, B = 5, 0.3
    x, y = np.array([[0.6, 0.5, 0.0, 0.0, 0.0]]), np.array([[0.6, -0.4, 0.0, 0.0, 0.0]])
    rho = 0.6  # distance from the origin to the line through x and y
    a = 0.5 * (d - 4)
    dens = lambda w: (1 - w * w) ** a  # noqa: E731
    prob = integrate.quad(dens, -B / rho, B / rho)[0] / integrate.quad(dens, -1, 1)[0]
    expected = prob / (2 * B * 0.9 * special.beta(0.5, 0.5 * (d - 1)))
    assert dirac_kernel(x, y, B)[0, 0] == pytest.approx(expected, rel=1e-10)


def test_ntk_errors_and_unfitted():
    with pytest.raises(NotFittedError, match="call fit"):
        NeuralTangentKernel("relu")(np.ones((2, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NeuralTangentKernel("tanh").fit(_points(2, m=3))(_points(2, m=3))



def test_tensor_path_matches_numpy_and_solves_on_the_device():
    rng = np.random.default_rng(6)
    X, Xt = rng.uniform(-1, 1, (20, 2)), rng.uniform(-1, 1, (5, 2))
    y = np.sin(3 * X[:, 0])
    for name in ("relu", "logistic", "satrelu"):
        kernel = LimitKernel(name).fit(X[:15])  # some rows outside the ball: mixed structures
        K = kernel.tensor(X)
        assert isinstance(K, torch.Tensor) and K.dtype == torch.float64
        assert np.max(np.abs(K.numpy() - kernel(X))) <= 1e-13 * np.max(np.abs(kernel(X)))
        assert np.array_equal(kernel.tensor(Xt, X).numpy(), kernel(Xt, X))
    kernel = LimitKernel("relu").fit(X)
    factor_t, factor_n = gram_features(kernel.tensor(X)), gram_features(kernel(X))
    assert isinstance(factor_t.features, torch.Tensor)
    sol_t = solve(factor_t.features, y, method="exact", eps=1e-4)
    sol_n = solve(factor_n.features, y, method="exact", eps=1e-4)
    pred_t = (factor_t.transform(kernel.tensor(Xt, X)) @ torch.as_tensor(sol_t.coef)).numpy()
    pred_n = factor_n.transform(kernel(Xt, X)) @ sol_n.coef
    assert np.max(np.abs(pred_t - pred_n)) < 1e-8
    assert np.max(np.abs(kernel(Xt, X) @ factor_n.dual_coef(sol_n.coef) - pred_n)) < 1e-8
