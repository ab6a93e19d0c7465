"""Features of a kernel matrix: Φ_K = U Λ^{1/2} from K = U Λ Uᵀ, so that solvers see a kernel as a Φ."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import linalg

__all__ = ["GramFactor", "gram_features"]


@dataclass(frozen=True)
class GramFactor:
    """A symmetric PSD kernel matrix K ≈ Φ_K Φ_Kᵀ, and the maps between its coefficient spaces.

    For the min-norm program over the RKHS of K restricted to the training points,
    min ‖f‖_H s.t. (1/N)Σ(f(x_j) − y_j)² ≤ eps, every candidate is f = K(·, X)α with
    ‖f‖_H² = αᵀKα. With c = Λ^{1/2}Uᵀα this is min ‖c‖ s.t. (1/N)‖Φ_K c − y‖² ≤ eps: the same
    program as a finite-width one, solved by ``kernelreg.solvers.solve(factor.features, y, eps=eps)``
    with its certificates, and ‖c‖ = ‖f‖_H.

    Attributes
    ----------
    features : ndarray or torch.Tensor of shape (n_samples, rank)
        Φ_K = U Λ^{1/2} (eigenvalues below ``rcond``·λ_max dropped); a float64 tensor on K's device
        when K was a tensor (and so are the other arrays and the results of the methods).
    eigenvalues : ndarray or torch.Tensor of shape (rank,)
        Λ, descending.
    eigenvectors : ndarray or torch.Tensor of shape (n_samples, rank)
        U.
    dropped : int
        Eigenvalues discarded as numerically zero (or negative).
    """

    features: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    dropped: int

    def _like(self, values):
        """values as an array of the factor's kind (a float64 tensor on its device, or numpy float64)."""
        if isinstance(self.eigenvectors, torch.Tensor):
            return torch.as_tensor(values, dtype=torch.float64, device=self.eigenvectors.device)
        if isinstance(values, torch.Tensor):
            values = values.detach().cpu()
        return np.asarray(values, dtype=np.float64)

    def dual_coef(self, coef: ArrayLike):
        """α = U Λ^{−1/2} c: the fit is f(x) = K(x, X_train) @ α."""
        c = self._like(coef)
        scale = 1.0 / self.eigenvalues**0.5
        return self.eigenvectors @ (scale[:, None] * c if c.ndim == 2 else scale * c)

    def transform(self, K_cross: ArrayLike):
        """Features of new points from their kernel against the training points: K(X_new, X) U Λ^{−1/2}.

        Then f(X_new) = transform(K(X_new, X)) @ c, and on the training points transform(K) = Φ_K.
        """
        Kc = self._like(K_cross)
        if Kc.ndim != 2 or Kc.shape[1] != self.eigenvectors.shape[0]:
            raise ValueError(
                f"GramFactor.transform needs K(X_new, X_train) of shape (n_new, {self.eigenvectors.shape[0]}); "
                f"got shape {tuple(Kc.shape)}."
            )
        return (Kc @ self.eigenvectors) / self.eigenvalues**0.5


def gram_features(K: ArrayLike, *, rcond: float | None = None) -> GramFactor:
    """Factor a symmetric positive semi-definite kernel matrix as K ≈ Φ_K Φ_Kᵀ with Φ_K = U Λ^{1/2}.

    Parameters
    ----------
    K : array-like or torch.Tensor of shape (n_samples, n_samples)
        Symmetric kernel matrix (symmetrised as (K + Kᵀ)/2 before the eigen-decomposition). A
        tensor is factored with ``torch.linalg.eigh`` on its own device (e.g. from
        :meth:`LimitKernel.tensor` on a GPU) and the factor stays there.
    rcond : float or None, default=None
        Eigenvalues at or below ``rcond * λ_max`` are dropped (numerically zero or negative). None
        means ``n_samples * machine epsilon``. For a kernel known to accuracy tol (e.g.
        ``LimitKernel(tol=...)``) an rcond near tol keeps only eigen-directions above that noise.

    Returns
    -------
    GramFactor

    Raises
    ------
    ValueError
        K is not square, has NaN/inf, or has an eigenvalue below −1e-6·λ_max (not PSD).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelreg.kernels import gram_features
    >>> A = np.random.default_rng(0).normal(size=(4, 6))
    >>> factor = gram_features(A @ A.T)
    >>> bool(np.allclose(factor.features @ factor.features.T, A @ A.T))
    True
    """
    tensor = isinstance(K, torch.Tensor)
    K = K.to(torch.float64) if tensor else np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"gram_features needs a square kernel matrix; got shape {tuple(K.shape)}.")
    if not bool(torch.isfinite(K).all() if tensor else np.all(np.isfinite(K))):
        raise ValueError("gram_features: the kernel matrix contains NaN or inf.")
    n = K.shape[0]
    if n == 0:
        empty = K[:, :0] if tensor else np.zeros((0, 0))
        return GramFactor(empty, empty[0] if tensor else np.zeros(0), empty, 0)
    if tensor:
        lam, U = torch.linalg.eigh(0.5 * (K + K.T))
        lam, U = lam.flip(0), U.flip(1)
    else:
        lam, U = linalg.eigh(0.5 * (K + K.T))
        lam, U = lam[::-1], U[:, ::-1]
    top = max(float(lam[0]), 0.0)
    low = float(lam[-1])
    if low < -1e-6 * max(top, 1e-300) and top > 0:
        raise ValueError(
            f"gram_features: the kernel matrix is not positive semi-definite: its smallest eigenvalue is "
            f"{low:.3g} against the largest {top:.3g} (ratio {low / top:.2g} < -1e-6)."
        )
    cut = (n * np.finfo(np.float64).eps if rcond is None else float(rcond)) * top
    keep = lam > cut
    lam, U = lam[keep], U[:, keep]
    U = U.contiguous() if tensor else np.ascontiguousarray(U)
    return GramFactor(U * lam**0.5, lam, U, int(n - int(keep.sum())))
