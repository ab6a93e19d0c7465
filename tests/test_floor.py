"""The floor of every loss (least_loss, SolverError.floor) and CVXPY's eps = 0 least-squares program, against hand-computed truth."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from kernelreg.exceptions import SolverError
from kernelreg.features import RandomFeatureMap
from kernelreg.solvers import ChunkedSolver, least_loss, solve

TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}


def _duplicated(seed: int = 0, n: int = 40, width: int = 400):
    """The issue-9 case: n inputs each seen twice with different noisy labels; Phi is (2n, width) of rank n."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    X = np.vstack([X, X])
    y = np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(2 * n)
    Phi = RandomFeatureMap(width, random_state=seed).fit(X).transform(X)
    return Phi, y


def _pair_floors(w_plus: float, w_minus: float) -> dict[str, float]:
    """Least weighted loss of one input seen with +1 (weight w+) and -1 (weight w-), over the shared score t.

    hinge: w+ max(0, 1 - t) + w- max(0, 1 + t) is linear on [-1, 1] with its minimum 2 min(w+, w-) at an end;
    logistic: the minimum is at sigma(t) = p = w+ / (w+ + w-), value (w+ + w-) * entropy(p);
    squared: w+ (1 - t)^2 + w- (1 + t)^2 is least at t = (w+ - w-) / (w+ + w-), value 4 w+ w- / (w+ + w-).
    """
    total = w_plus + w_minus
    p = w_plus / total
    return {
        "hinge": 2.0 * min(w_plus, w_minus),
        "logistic": -(w_plus * math.log(p) + w_minus * math.log(1.0 - p)),
        "squared": 4.0 * w_plus * w_minus / total,
    }


# ------------------------------------------------------------------------------------------- least_loss
@pytest.mark.parametrize("loss", ["squared", "hinge", "logistic"])
def test_least_loss_of_duplicated_inputs_with_opposite_labels_is_the_hand_computed_pair_loss(loss):
    # rows 0 and 1: the same input labelled +1 and -1; row 2 on its own (its loss can be made 0)
    Phi = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    y = np.array([1.0, -1.0, 1.0])
    assert least_loss(Phi, y, loss) == pytest.approx(_pair_floors(1.0, 1.0)[loss] / 3, rel=1e-9, abs=1e-12)
    w = np.array([3.0, 1.0, 2.0])  # normalised to mean 1: (1.5, 0.5, 1.0)
    expected = _pair_floors(1.5, 0.5)[loss] / 3
    assert least_loss(Phi, y, loss, sample_weight=w) == pytest.approx(expected, rel=1e-9)
    # an intercept cannot separate the pair either (and frees the lone sample all the same)
    assert least_loss(Phi, y, loss, fit_intercept=True) == pytest.approx(_pair_floors(1, 1)[loss] / 3, rel=1e-9)


def test_least_loss_on_the_issue9_case_counts_the_conflicting_pairs():
    Phi, y = _duplicated()
    n = 40
    # squared: Phi has rank 40 on 40 distinct inputs, so the best fit is each pair's mean
    pairs = (y[:n] - y[n:]) ** 2 / 2.0
    assert least_loss(Phi, y) == pytest.approx(pairs.sum() / (2 * n), rel=1e-9)
    # margin losses: the 40 distinct inputs are separable, so only pairs with different signs cost (2, 2 log 2)
    labels = np.sign(y)
    k = int((labels[:n] != labels[n:]).sum())
    assert k > 0
    assert least_loss(Phi, labels, "hinge") == pytest.approx(2 * k / (2 * n), rel=1e-7)
    assert least_loss(Phi, labels, "logistic") == pytest.approx(2 * k * math.log(2) / (2 * n), rel=1e-9)


def test_least_loss_is_zero_when_every_sample_is_reachable_and_checks_its_input():
    rng = np.random.default_rng(1)
    Phi = rng.standard_normal((10, 30))
    labels = np.where(rng.standard_normal(10) > 0, 1.0, -1.0)
    for loss in ("squared", "hinge", "logistic"):
        assert least_loss(Phi, labels, loss) <= 1e-20
    with pytest.raises(ValueError, match=r"loss must be one of .*Did you mean 'hinge'"):
        least_loss(Phi, labels, "hinje")
    with pytest.raises(ValueError, match=r"labels y in \{-1, \+1\}"):
        least_loss(Phi, labels * 2, "hinge")


def test_least_loss_of_several_outputs_is_the_mean_of_the_columns():
    Phi, y = _duplicated(seed=2, n=15, width=60)
    Y = np.column_stack([y, np.cos(y)])
    columns = [least_loss(Phi, Y[:, k]) for k in range(2)]
    assert least_loss(Phi, Y) == pytest.approx(np.mean(columns), rel=1e-10)


# ------------------------------------------------------------------------------------------- SolverError.floor
def _infeasible(*args, **kwargs) -> SolverError:
    with pytest.raises(SolverError) as info:
        solve(*args, **kwargs)
    assert info.value.status == "infeasible"
    return info.value


@pytest.mark.parametrize("route", ["memory", "streamed", "dask", "cvxpy"])
def test_infeasible_squared_eps_carries_the_floor_on_every_route(route):
    Phi, y = _duplicated(n=20, width=100)
    floor = least_loss(Phi, y)
    if route == "dask":
        da = pytest.importorskip("dask.array")
        Phi_in, options = da.from_array(Phi, chunks=(13, 100)), {}
    else:
        Phi_in = Phi
        options = {"max_memory": "64KiB"} if route == "streamed" else {}
    method = "cvxpy" if route == "cvxpy" else "exact"
    error = _infeasible(Phi_in, y, method, eps=0.5 * floor, **options)
    assert error.floor == pytest.approx(floor, rel=1e-9)
    assert error.smallest_feasible_eps == error.floor
    assert f"{floor:.6g}" in str(error)
    # the floor is feasible: eps just above it is solved and certified
    sol = solve(Phi_in, y, method, eps=floor * (1 + 1e-6), **options)
    assert sol.status == "optimal" and sol.mse <= floor * (1 + 1e-6) * (1 + 1e-6)


@pytest.mark.parametrize("loss", ["hinge", "logistic"])
def test_infeasible_margin_eps_carries_the_least_loss(loss):
    Phi, y = _duplicated(n=20, width=100)
    labels = np.sign(y)
    labels[20:23] = -labels[:3]  # three inputs seen with both labels: the floor is 3 pair losses / 40
    floor = least_loss(Phi, labels, loss)
    assert floor >= 3 * _pair_floors(1.0, 1.0)[loss] / 40 * (1 - 1e-9)
    error = _infeasible(Phi, labels, "cvxpy", eps=0.5 * floor, loss=loss)
    assert error.floor == pytest.approx(floor, rel=1e-12) and error.smallest_feasible_eps == error.floor
    if loss == "hinge":  # the hard margin (eps = 0) is infeasible too, with the same floor
        assert _infeasible(Phi, labels, "cvxpy", eps=0.0, loss=loss).floor == pytest.approx(floor, rel=1e-12)


def test_solver_errors_pickle_with_their_attributes():
    error = SolverError("eps=1 is infeasible", method="exact", status="infeasible", floor=0.25)
    back = pickle.loads(pickle.dumps(error))
    assert (str(back), back.method, back.status, back.floor, back.smallest_feasible_eps) == (
        "eps=1 is infeasible", "exact", "infeasible", 0.25, 0.25)
    assert SolverError("x", method="gd", status="failed").floor is None


def test_estimator_floor_fit_uses_the_solvers_floor_without_the_private_program():
    from kernelreg import KernelRegimeClassifier
    from kernelreg.exceptions import InfeasibleEpsWarning

    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, (20, 2))
    X = np.vstack([X, X])
    labels = np.r_[np.ones(20), np.where(rng.uniform(size=20) < 0.3, -1.0, 1.0)]
    Phi = None
    clf = KernelRegimeClassifier(100, loss="hinge", solver="cvxpy", eps=1e-4, random_state=0)
    with pytest.warns(InfeasibleEpsWarning, match="least mean hinge loss") as record:
        clf.fit(X, labels)
    Phi = clf.feature_map_.transform(X)
    floor = least_loss(Phi, np.where(labels == clf.classes_[1], 1.0, -1.0), "hinge")
    assert clf.solution_.info["eps_floor"] == pytest.approx(floor, rel=1e-9)
    assert f"{floor:.6g}" in str(record[0].message)


# ------------------------------------------------------------------------------------------- cvxpy eps = 0
@pytest.mark.parametrize("kwargs", [{}, {"fit_intercept": True}, {"sample_weight": "random"}])
def test_cvxpy_eps0_is_the_least_squares_min_norm_solution_when_interpolation_is_impossible(kwargs):
    Phi, y = _duplicated(n=20, width=100)
    if kwargs.get("sample_weight") == "random":
        kwargs = {"sample_weight": np.random.default_rng(0).uniform(0.5, 2.0, y.size)}
    exact = solve(Phi, y, **kwargs)
    cvx = solve(Phi, y, "cvxpy", **kwargs)
    assert cvx.status == "optimal" and "polished" not in cvx.info  # CVXPY's own answer, certified
    assert exact.mse > 1e-3  # interpolation is impossible
    # the reduced constraint is solved to Clarabel's tolerance (~1e-8) on a well-conditioned system
    assert np.linalg.norm(cvx.coef - exact.coef) <= 1e-6 * np.linalg.norm(exact.coef)
    assert cvx.mse == pytest.approx(exact.mse, rel=1e-9)
    assert np.allclose(cvx.intercept, exact.intercept, atol=1e-7)


@pytest.mark.parametrize("norm, weighted", [("l1", False), ("l2", True), ("l1", True)])
def test_cvxpy_eps0_l1_and_weighted_norms_minimise_over_the_least_squares_set(norm, weighted):
    Phi, y = _duplicated(n=15, width=60)
    w = np.random.default_rng(4).uniform(0.5, 2.0, Phi.shape[1]) if weighted else None
    sol = solve(Phi, y, "cvxpy", norm=norm, weights=w, solver_options=TIGHT)
    cert = sol.certificate
    assert sol.status == "optimal" and cert.norm_gap <= 1e-6
    if norm == "l1":  # the generic bound is useless here (-r is orthogonal to range(Phi)): the set's dual decides
        assert "least-squares set" in cert.notes
    assert sol.mse == pytest.approx(least_loss(Phi, y), rel=1e-8)  # on the least-squares set
    # independent check: min ||w c|| subject to the normal equations, posed directly in CVXPY with SCS
    import cvxpy as cp

    c = cp.Variable(Phi.shape[1])
    scaled = c if w is None else cp.multiply(w, c)
    objective = cp.norm1(scaled) if norm == "l1" else cp.norm(scaled, 2)
    reference = cp.Problem(cp.Minimize(objective), [Phi.T @ (Phi @ c - y) == 0])
    reference.solve(solver="CLARABEL")
    assert cert.norm == pytest.approx(reference.value, rel=1e-4)
    # perturbing the answer inside the set cannot be certified better than the optimum
    assert cert.norm_lower_bound <= reference.value * (1 + 1e-4)
