"""Full-batch Adam on R independent least-squares output layers at once: one stacked problem, per-run lr and stopping.

The spectral-bias paper's Table II trains every activation × replication with full-batch Adam to
MSE 5e-8 (up to millions of steps). Run one by one that is R slow Python loops of tiny mat-vecs;
stacked it is one loop over a tensor Φ of shape (R, N, n) — on a GPU the whole table costs about
what one run does.

Why the stacked runs are exactly the independent runs:

* Adam is elementwise, so one ``torch.optim.Adam`` over a (R, n) tensor is R independent Adams
  that share only the step counter (equal while all runs are active);
* the gradient of run r is computed from run r's own residual, ``2 Φ_rᵀ(Φ_r c_r − y_r)/N``
  (the gradient of the summed per-run MSEs), supplied by hand as in ``solve(method="adam")``;
* per-run learning rates by scaling: Adam runs on ``u`` with lr 1 and the gradient of ``c``,
  and ``c_r = lr_r · u_r``; then ``c_r`` moves by ``−lr_r · m̂/(√v̂ + eps)``, which is Adam with
  learning rate ``lr_r`` (same eps, betas) on c;
* per-run stopping by masking: a run whose MSE is ≤ the target before a step is frozen there (its
  coefficients, MSE and step are recorded on the device, no host sync), exactly where an
  independent run's loop would have stopped; stopped runs are dropped from the stack every
  ``check_every`` steps, so the cost follows the runs still training.

The state (coefficients, Adam moments, step, records) is a plain dict of tensors, so a long run
can be cut into segments and resumed bitwise (:meth:`StackedAdam.state_dict`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from kernelreg._torch import resolve_device

__all__ = ["StackedAdam", "StackedAdamResult", "record_steps"]


def record_steps(budget: int, n_points: int = 120) -> np.ndarray:
    """Log-spaced steps 0..budget (unique, both ends kept) at which the per-run MSE curves are recorded."""
    if budget <= 0:
        return np.array([0], dtype=np.int64)
    return np.unique(np.concatenate([[0], np.geomspace(1, budget, n_points).astype(np.int64), [budget]]))


@dataclass(frozen=True)
class StackedAdamResult:
    """Where each of the R runs ended.

    Attributes
    ----------
    coef : ndarray of shape (R, n_features)
        Coefficients when the run reached the target, else after the last step of the budget.
    mse : ndarray of shape (R,)
        Mean squared training error of ``coef``.
    reached : ndarray of bool of shape (R,)
        ``mse <= target_mse`` (the run stopped at the target).
    n_iter : ndarray of int of shape (R,)
        Adam steps taken: the step at which the target was reached, or the budget.
    lr : ndarray of shape (R,)
    steps : ndarray of int of shape (n_records,)
        Steps at which ``history`` was recorded.
    history : ndarray of shape (n_records, R)
        MSE of each run at those steps (NaN once it stopped).
    step : int
        Steps the stack has taken (the largest ``n_iter``).
    time_s, cpu_s : float
        Wall and process CPU time of all the steps so far (all segments together).
    run_steps : int
        Σ over steps of the runs active in them (the work done, in single-run steps).
    """

    coef: np.ndarray
    mse: np.ndarray
    reached: np.ndarray
    n_iter: np.ndarray
    lr: np.ndarray
    steps: np.ndarray
    history: np.ndarray
    step: int
    time_s: float
    cpu_s: float
    run_steps: int


class StackedAdam:
    """R full-batch Adam runs on least-squares output layers, from c = 0, trained as one stacked problem.

    Parameters
    ----------
    Phi : array-like or Tensor of shape (R, n_samples, n_features)
        One feature matrix per run (equal shapes).
    y : array-like or Tensor of shape (R, n_samples)
    lr : float or array-like of shape (R,)
        Adam learning rate of each run.
    target_mse : float
        A run stops (frozen, recorded) once its MSE is ≤ this before a step.
    betas : (float, float), default=(0.9, 0.999)
    adam_eps : float, default=1e-8
        Adam's denominator epsilon (torch's ``eps``).
    device : str or torch.device, default="cpu"
    check_every : int, default=1000
        Steps between host synchronisations: stopped runs are dropped from the stack then, and
        the loop ends once every run stopped.
    record : array-like of int, optional
        Steps at which to record every run's MSE (default :func:`record_steps` of 10⁶).

    Notes
    -----
    Step t evaluates the MSE of the current coefficients, stops runs at or below the target, then
    takes one Adam step on the others, as the loop of ``solve(method="adam")`` does; so ``n_iter``
    of a run equals the ``n_iter`` of that run solved alone, and its coefficients agree up to
    rounding (``c = lr · u`` costs one rounding per step).
    """

    def __init__(
        self,
        Phi: ArrayLike | torch.Tensor,
        y: ArrayLike | torch.Tensor,
        lr: float | ArrayLike,
        *,
        target_mse: float,
        betas: tuple[float, float] = (0.9, 0.999),
        adam_eps: float = 1e-8,
        device: str | torch.device = "cpu",
        check_every: int = 1000,
        record: ArrayLike | None = None,
    ) -> None:
        dev = resolve_device(device)
        P = torch.as_tensor(Phi, dtype=torch.float64).to(dev)
        Y = torch.as_tensor(y, dtype=torch.float64).to(dev)
        if P.ndim != 3 or Y.shape != P.shape[:2]:
            raise ValueError(
                f"StackedAdam needs Phi of shape (R, n_samples, n_features) and y of shape (R, n_samples); "
                f"got {tuple(P.shape)} and {tuple(Y.shape)}."
            )
        if not (torch.isfinite(P).all() and torch.isfinite(Y).all()):
            raise ValueError("StackedAdam: Phi or y contains NaN or inf.")
        R, N, n = P.shape
        lrs = np.broadcast_to(np.asarray(lr, dtype=np.float64), (R,)).copy()
        if not np.all(np.isfinite(lrs) & (lrs > 0)):
            raise ValueError(f"StackedAdam: every lr must be a finite number > 0; got {lrs.tolist()}.")
        if not (math.isfinite(target_mse) and target_mse >= 0):
            raise ValueError(f"StackedAdam: target_mse must be a finite number >= 0; got {target_mse!r}.")
        if isinstance(check_every, bool) or int(check_every) != check_every or check_every < 1:
            raise ValueError(f"StackedAdam: check_every must be an integer >= 1; got {check_every!r}.")
        self.device, self.R, self.n_samples, self.n_features = dev, R, N, n
        self.P_all, self.Y_all = P, Y[:, :, None]
        self.lr = lrs
        self.s_all = torch.as_tensor(lrs, dtype=torch.float64, device=dev)[:, None, None]
        self.target_mse = float(target_mse)
        self.betas = (float(betas[0]), float(betas[1]))
        self.adam_eps = float(adam_eps)
        self.check_every = int(check_every)
        steps = record_steps(10**6) if record is None else np.unique(np.asarray(record, dtype=np.int64))
        self.steps = steps
        self._record_at = {int(s): j for j, s in enumerate(steps)}
        # records over all R runs (on the device; written without host syncs)
        self.final_coef = torch.zeros(R, n, dtype=torch.float64, device=dev)
        self.final_mse = torch.full((R,), math.nan, dtype=torch.float64, device=dev)
        self.stop_step = torch.full((R,), -1, dtype=torch.int64, device=dev)
        self.history = torch.full((len(steps), R), math.nan, dtype=torch.float64, device=dev)
        self.step = 0
        self.time_s = 0.0
        self.cpu_s = 0.0
        self.run_steps = 0
        self._set_active(torch.arange(R, device=dev), torch.zeros(R, n, 1, dtype=torch.float64, device=dev), None)

    # -- the active stack --------------------------------------------------------------------
    def _set_active(self, idx: torch.Tensor, u: torch.Tensor, adam_state: dict | None) -> None:
        """Make the runs ``idx`` the stack, with parameters u and (sliced) Adam moments."""
        self.idx = idx
        self.P, self.Y, self.s = self.P_all[idx], self.Y_all[idx], self.s_all[idx]
        self.u = u.detach().clone().requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.u], lr=1.0, betas=self.betas, eps=self.adam_eps)
        if adam_state is not None:
            self.optimizer.load_state_dict(adam_state)
        self.active = torch.ones(len(idx), dtype=torch.bool, device=self.device)

    def _compact(self) -> None:
        """Drop the runs that stopped from the stack (one host sync)."""
        keep = self.active.nonzero().flatten()
        if len(keep) == len(self.idx):
            return
        state = self.optimizer.state_dict()
        moments = state["state"].get(0)
        if moments is not None:
            moments = {k: (v[keep] if torch.is_tensor(v) and v.ndim == 3 else v) for k, v in moments.items()}
            state = {"state": {0: moments}, "param_groups": state["param_groups"]}
        else:
            state = None
        self._set_active(self.idx[keep], self.u.detach()[keep], state)

    @property
    def done(self) -> bool:
        """Every run has stopped."""
        return bool((self.stop_step >= 0).all())

    # -- the loop -------------------------------------------------------------------------------
    def _evaluate(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Coefficients, residuals and MSEs of the stack's current state."""
        c = self.s * self.u.detach()
        r = torch.bmm(self.P, c) - self.Y
        return c, r, (r * r).mean(dim=(1, 2))

    def _record(self, c: torch.Tensor, mse: torch.Tensor, stop: torch.Tensor) -> None:
        """Write the runs in ``stop`` (a mask over the stack) into the records: coefficients, MSE, step."""
        idx = self.idx
        self.final_coef[idx] = torch.where(stop[:, None], c[:, :, 0], self.final_coef[idx])
        self.final_mse[idx] = torch.where(stop, mse, self.final_mse[idx])
        self.stop_step[idx] = torch.where(stop, torch.full_like(self.stop_step[idx], self.step), self.stop_step[idx])

    def run(self, max_steps: int) -> StackedAdam:
        """Advance every active run until the stack has taken ``max_steps`` steps or all runs stopped.

        Runs still active at ``max_steps`` are evaluated there (not recorded as stopped), so
        :meth:`result` describes them at the budget. Calling ``run`` again with a larger
        ``max_steps`` continues exactly where this call stopped.
        """
        if isinstance(max_steps, bool) or int(max_steps) != max_steps or max_steps < 0:
            raise ValueError(f"StackedAdam.run: max_steps must be an integer >= 0; got {max_steps!r}.")
        wall0, cpu0 = time.perf_counter(), time.process_time()
        scale = 2.0 / self.n_samples
        try:
            while self.step < max_steps and len(self.idx) > 0:
                c, r, mse = self._evaluate()
                newly = self.active & (mse <= self.target_mse)
                self._record(c, mse, newly)
                self.active &= ~newly
                j = self._record_at.get(self.step)
                if j is not None:
                    self.history[j, self.idx] = torch.where(newly | self.active, mse, self.history[j, self.idx])
                if self.step % self.check_every == 0:
                    self._compact()
                    if len(self.idx) == 0:
                        break
                    c, r, mse = self._evaluate()
                self.run_steps += len(self.idx)
                self.u.grad = scale * torch.bmm(self.P.mT, r)
                self.optimizer.step()
                self.step += 1
            if len(self.idx) > 0:  # the budget: evaluate the survivors where they are
                c, r, mse = self._evaluate()
                at_target = self.active & (mse <= self.target_mse)
                self._record(c, mse, at_target)
                self.active &= ~at_target
                j = self._record_at.get(self.step)
                if j is not None:
                    self.history[j, self.idx] = torch.where(at_target | self.active, mse, self.history[j, self.idx])
        finally:
            self.time_s += time.perf_counter() - wall0
            self.cpu_s += time.process_time() - cpu0
        return self

    def result(self) -> StackedAdamResult:
        """Every run's coefficients, MSE, target flag and steps (active runs: their current state)."""
        coef = self.final_coef.clone()
        mse = self.final_mse.clone()
        n_iter = self.stop_step.clone()
        if len(self.idx) > 0:
            c, _, m = self._evaluate()
            coef[self.idx] = c[:, :, 0]
            mse[self.idx] = m
            n_iter[self.idx] = self.step
        reached = self.stop_step >= 0
        return StackedAdamResult(
            coef=coef.cpu().numpy(), mse=mse.cpu().numpy(), reached=reached.cpu().numpy(),
            n_iter=n_iter.cpu().numpy(), lr=self.lr.copy(), steps=self.steps.copy(),
            history=self.history.cpu().numpy(), step=self.step, time_s=self.time_s, cpu_s=self.cpu_s,
            run_steps=self.run_steps,
        )

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to resume bitwise (CPU tensors and plain numbers; Φ, y and lr are not included).

        The stack is saved as it is (stopped runs not yet dropped stay in it), so a resumed run
        repeats exactly the computations of an uninterrupted one.
        """
        return {
            "step": self.step, "time_s": self.time_s, "cpu_s": self.cpu_s, "run_steps": self.run_steps,
            "idx": self.idx.cpu(), "u": self.u.detach().cpu(), "active": self.active.cpu(),
            "adam": _to_cpu(self.optimizer.state_dict()),
            "final_coef": self.final_coef.cpu(), "final_mse": self.final_mse.cpu(),
            "stop_step": self.stop_step.cpu(), "history": self.history.cpu(),
        }

    def load_state_dict(self, state: dict) -> StackedAdam:
        """Resume from :meth:`state_dict` (same Φ, y, lr and settings)."""
        dev = self.device
        if state["final_coef"].shape != self.final_coef.shape or state["history"].shape != self.history.shape:
            raise ValueError(
                "StackedAdam.load_state_dict: the state belongs to another problem "
                f"(coef {tuple(state['final_coef'].shape)} vs {tuple(self.final_coef.shape)})."
            )
        self.step, self.time_s, self.cpu_s = int(state["step"]), float(state["time_s"]), float(state["cpu_s"])
        self.run_steps = int(state["run_steps"])
        self.final_coef = state["final_coef"].to(dev)
        self.final_mse = state["final_mse"].to(dev)
        self.stop_step = state["stop_step"].to(dev)
        self.history = state["history"].to(dev)
        self._set_active(state["idx"].to(dev), state["u"].to(dev), _to_device(state["adam"], dev))
        self.active = state["active"].to(dev)
        return self


def _to_cpu(obj):
    """A nested dict/list of tensors with every tensor on the CPU."""
    return _map_tensors(obj, lambda t: t.detach().cpu())


def _to_device(obj, device: torch.device):
    """A nested dict/list of tensors with every tensor moved to ``device`` (Adam's step stays as it was saved)."""
    return _map_tensors(obj, lambda t: t.to(device) if t.ndim > 0 else t)


def _map_tensors(obj, fn):
    """Apply fn to every tensor of a nested dict/list."""
    if torch.is_tensor(obj):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _map_tensors(v, fn) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_tensors(v, fn) for v in obj)
    return obj
