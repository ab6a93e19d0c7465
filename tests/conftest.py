"""Test-session set-up shared by every test module."""

import os

import numpy as np
import pytest
import torch

# scikit-learn's check_array_api_input (run by parametrize_with_checks) is skipped unless SciPy's
# array-API mode is on; it must be set before SciPy is first imported. With NumPy inputs it does not
# change any result, and it lets that check run instead of being skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")


def _feature_bound(fmap, X, lipschitz: float) -> float:
    """Largest |Φ_a − Φ_b| between two correct evaluations of σ(ξ·x − γ) by different code paths.

    Two paths (another BLAS blocking or row chunking, numpy against torch, a partial tile, the
    vectorised against the scalar σ kernel) each compute z = ξ·x − γ: a length-d dot product and one
    subtraction, after the inputs are cast to the compute dtype. Higham's bound gives
    |z − ẑ| ≤ γ_{d+3}·(|ξ|·|x| + |γ|) per path, γ_k = k·u/(1 − k·u), u the unit roundoff of the
    compute dtype (d + 1 operations, plus the casts of x and of (ξ, γ)); two paths double it, and σ
    (Lipschitz constant ``lipschitz`` on the range) carries it to Φ. Each path's σ is also allowed
    4 ulps (8·u relative) of its own rounding. This is a bound on rounding, not a fudge factor: a
    wrong row or column is off by O(1).
    """
    u = torch.finfo(fmap.dtype_).eps / 2
    k = X.shape[1] + 3
    gamma = k * u / (1 - k * u)
    X64 = np.asarray(X, dtype=np.float64)
    scale = float((np.abs(X64) @ np.abs(fmap.directions_.T) + np.abs(fmap.offsets_)).max())
    phi_max = float(np.abs(fmap.transform(X64)).max())
    return 2 * gamma * scale * lipschitz + 2 * 8 * u * phi_max


@pytest.fixture
def feature_bound():
    """The rounding bound between two evaluations of a RandomFeatureMap (see ``_feature_bound``)."""
    return _feature_bound
