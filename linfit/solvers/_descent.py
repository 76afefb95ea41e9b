"""What the gradient-descent solvers share: the problem in iteration coordinates, the stopping
rules, the epoch log and the divergence check.

Iteration coordinates (``scale``). The loss is always the tutorial's J = (1/2n)·Σ(y − ŷ)² in
the user's units, and every logged and final w, b is mapped back to the user's units; what
changes is the parameters the update θ ← θ − lr·∇J(θ) runs on:

- ``whiten`` (the default): features z = (x − x̄)·F⁻¹ with FᵀF = XcᵀXc/n (F from the factor R
  the reader accumulates) and y centred, so ZᵀZ/n = I: the Hessian is the identity, the error
  shrinks by exactly (1 − lr) per epoch in every direction whatever the conditioning of the
  data, and lr = 1 solves in one epoch. This is gradient descent on an equivalent problem,
  not a shortcut: the same loss, the same update, only a linear change of variables.
- ``standard``: each feature standardised, z = (x − x̄)/sd, y centred (a diagonal
  preconditioner); the rate is set by the condition number of the correlation matrix.
- ``none``: the user's own w, b: the tutorial's loop.

Without an intercept nothing is centred and the root mean square takes the place of sd.

Stopping rules (``tol``): the run has converged when ‖∇J‖ / sd(y) ≤ tol, the gradient taken
with respect to the iterated parameters; ``epochs`` caps the run. It diverges when the loss
becomes non-finite, or grows for ``GROWTH_EPOCHS`` epochs in a row to above its start.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .. import dd
from ..errors import DataError, DivergenceError, RankError
from . import EpochLog, FitResult, Hooks, Problem, SolverOptions, scale_name

GROWTH_EPOCHS = 5
#: Size of the random start in scaled iterations, in units of sd(y).
START_SPREAD = 0.01
#: Condition number of the correlation factor beyond which the features count as collinear
#: and cannot be whitened (the map back to w would lose every digit).
WHITEN_COND_MAX = 1e14
#: A capped run in ``standard``/``none`` coordinates whose Hessian is worse conditioned than
#: this is told about ``--scale whiten``.
COND_HINT = 100.0
#: Stop reasons (the solver block's ``stop_reason``).
CONVERGED = "gradient below --tol"
FALLING = "reached --epochs with the loss still falling"
NOISE_FLOOR = "reached --epochs with the loss flat at SGD's noise floor"
SWINGING = "reached --epochs with the loss flat and the gradient not shrinking"


@dataclass
class Coordinates:
    """Map between iteration parameters θ and the user's (w, b).

    θ = [u (one per feature), c (only when scaled with an intercept, or b when not scaled)].
    Features map as z = ((x − loc)/spread)·L⁻¹, where L is the upper triangular Cholesky
    factor of the features' correlation matrix when whitening (None otherwise), so the
    user's w = L⁻¹u / spread.
    """

    scale: str
    intercept: bool
    loc: np.ndarray  # feature means (zeros when nothing is centred)
    spread: np.ndarray  # feature scales (ones when not scaled)
    y_loc: float  # mean of y (0 when nothing is centred)
    y_sd: float  # reference scale for the gradient rule
    L: np.ndarray | None = None  # (p, p) correlation factor, when whitening
    sd: np.ndarray | None = None  # feature sd (rms without intercept), for unit-free values

    @property
    def scaled(self) -> bool:
        return self.scale != "none"

    def to_user(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        p = len(self.loc)
        u = theta[:p]
        if self.L is not None:
            u = solve_upper(self.L, u)
        w = u / self.spread
        if not self.intercept:
            return w, 0.0
        if not self.scaled:
            return w, float(theta[p])
        c = self.y_loc + theta[p]
        return w, dd.add_dot(c, -w, self.loc)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Feature rows in iteration coordinates."""
        Z = (X - self.loc) / self.spread
        if self.L is not None:
            Z = solve_upper(self.L, Z.T, trans=True).T  # Z·L⁻¹
        return Z

    def rows(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows in iteration coordinates: features as ``transform``, y − ȳ (as scaled)."""
        return self.transform(X), y - self.y_loc

    def row_blocks(
        self, X: np.ndarray, y: np.ndarray, size: int = 1 << 16
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(start, Z, y) blocks of the rows in iteration coordinates, in bounded memory."""
        for start in range(0, len(y), size):
            Z, yb = self.rows(X[start : start + size], y[start : start + size])
            yield start, Z, yb

    def initial(self, p: int, draw) -> np.ndarray:
        """θ₀ from a draw function (w first, then b, as the tutorial draws them).

        Unscaled, the draws are used as they are (the tutorial's w, b ~ N(0, 1)). Scaled,
        the start is a small random step, START_SPREAD·sd(y)·N(0, 1), from the constant fit
        (w = 0, b = ȳ): every run then starts about one coefficient's size from the answer,
        in any units, so the contraction rate alone sets the accuracy after k epochs.
        """
        w = np.asarray(draw(p), dtype=np.float64)
        b = np.asarray(draw(1), dtype=np.float64) if self.intercept else np.zeros(0)
        theta = np.concatenate([w, b])
        return theta * (START_SPREAD * self.y_sd) if self.scaled else theta

    def standardised(self, w: np.ndarray, b: float) -> np.ndarray:
        """(w, b) on a unit-free scale: w·sd(x)/sd(y), and the fitted mean's offset/sd(y)."""
        sd = self.spread if self.sd is None else self.sd
        u = np.asarray(w) * sd / self.y_sd
        if not self.intercept:
            return u
        c = (b + float(np.dot(w, self.loc)) - self.y_loc) / self.y_sd
        return np.concatenate([u, [c]])


def solve_upper(U: np.ndarray, b: np.ndarray, trans: bool = False) -> np.ndarray:
    """U⁻¹b (or U⁻ᵀb) for an upper triangular U, by substitution (backward stable)."""
    from scipy.linalg import solve_triangular

    return solve_triangular(U, b, lower=False, trans="T" if trans else "N", check_finite=False)


def coordinates(problem: Problem, scaled: str | bool = True) -> Coordinates:
    """The iteration coordinates for this problem, from its statistics.

    ``scaled`` is a name in SCALES; True means ``standard`` (the unit-free scale ``compare``
    measures coefficients on) and False means ``none``.
    """
    scale = "standard" if scaled is True else scale_name(scaled)
    st = problem.stats
    p = len(problem.features)
    n = st.total_weight  # Σw for weighted rows: the weighted ½·MSE
    Rc = st.centred()
    # sd(y) with an intercept, root mean square of y without one (1 when y is all zero)
    y_col = Rc[:, -1] if problem.intercept else st.raw()[:, -1]
    y_sd = float(np.linalg.norm(y_col) / math.sqrt(n)) or 1.0
    if problem.intercept:
        means = st.means()
        Fs = st.R[1 : p + 1, 1 : p + 1]  # FsᵀFs = XcᵀXc in the statistics' power-of-two scale
        loc, y_loc = means[:p], float(means[p])
    else:
        Fs = st.noint()[:p, :p]
        loc, y_loc = np.zeros(p), 0.0
    with np.errstate(all="ignore"):  # norms in the scaled frame: no overflow of squares
        sd = np.linalg.norm(Fs, axis=0) / math.sqrt(n) / st.scale[:p]
    if not (np.isfinite(sd).all() and np.isfinite(loc).all() and math.isfinite(y_sd)):
        raise DataError(
            f"{problem.source}: values near float64's limit (±1.8e308) leave gradient descent's "
            "coordinates no room; rescale the columns, or use --method lstsq"
        )
    if scale == "none":
        return Coordinates("none", problem.intercept, np.zeros(p), np.ones(p), 0.0, y_sd, sd=sd)
    zero = [problem.features[j] for j in np.flatnonzero(sd == 0)]
    if zero:
        raise RankError(
            f"{problem.source}: column {zero[0]!r} is constant, so it cannot be standardised "
            "or told apart from the intercept; drop it"
        )
    co = Coordinates(scale, problem.intercept, loc, sd, y_loc, y_sd, sd=sd)
    if scale == "whiten" and p:
        # LᵀL = the correlation matrix (uncentred without b); formed in the scaled frame, as
        # unit columns are the same whatever the column's scale, without over/underflow
        L = Fs / np.linalg.norm(Fs, axis=0)
        try:
            s = np.linalg.svd(L, compute_uv=False)
        except np.linalg.LinAlgError:
            s = np.array([1.0, 0.0])
        cond = s[0] / s[-1] if s[-1] > 0 else math.inf
        if not cond < WHITEN_COND_MAX:
            raise RankError(
                f"{problem.source}: the features are collinear (their correlation matrix is "
                "singular to working precision), so they cannot be whitened; drop a redundant "
                "column, or run --method lstsq --allow-rank-deficient"
            )
        co.L = L
    return co


@dataclass
class Quadratic:
    """J(θ) = ‖r − Mθ‖² / (2n): the loss in iteration coordinates, from the statistics."""

    M: np.ndarray
    r: np.ndarray
    n: int

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        v = self.r - self.M @ theta
        return float(v @ v) / (2 * self.n), -(self.M.T @ v) / self.n

    def curvatures(self) -> tuple[float, float]:
        """Largest and smallest eigenvalue of the Hessian MᵀM/n: gradient descent shrinks
        the error along each eigenvector by 1 − lr·λ per epoch."""
        s = np.linalg.svd(self.M, compute_uv=False)
        return float(s[0] ** 2 / self.n), float(s[-1] ** 2 / self.n)


def quadratic(problem: Problem, co: Coordinates) -> Quadratic:
    """The loss of ``problem`` in the coordinates ``co``, as a small triangular system."""
    st = problem.stats
    p = len(problem.features)
    n = st.total_weight
    if problem.intercept and co.scaled:
        Rc = st.centred()
        k = Rc.shape[0]
        M = np.zeros((k + 1, p + 1))
        M[:k, :p] = _feature_block(Rc[:, :p], co, n)
        M[k, p] = math.sqrt(n)
        r = np.concatenate([Rc[:, p], [0.0]])
        return Quadratic(M, r, n)
    if problem.intercept:
        R = st.raw()  # columns [1, X, y]: reorder θ = [w, b]
        M = np.column_stack([R[:, 1 : p + 1], R[:, 0]])
        return Quadratic(M, R[:, -1], n)
    Rn = st.noint() / st.scale  # columns [X, y], unscaled
    return Quadratic(_feature_block(Rn[:, :p], co, n), Rn[:, p], n)


def _feature_block(F: np.ndarray, co: Coordinates, n: int) -> np.ndarray:
    """The features' columns of M: F/spread, or when whitening exactly √n·[I; 0]
    (F/spread = √n·[L; 0], and L·L⁻¹ = I)."""
    if co.L is None:
        return F / co.spread
    out = np.zeros_like(F)
    p = F.shape[1]
    out[:p, :p] = np.eye(p) * math.sqrt(n)
    return out


#: Most epoch-log entries (and loss-curve points) kept for the result: past it, every other
#: one is dropped and the spacing doubles, so memory does not grow with --epochs.
MAX_HISTORY = 1000


def thin(entries: list, every: int, epoch_of) -> tuple[list, int]:
    """Drop every other kept entry (by epoch) once there are more than MAX_HISTORY."""
    if len(entries) <= MAX_HISTORY:
        return entries, every
    every *= 2
    last = entries[-1]
    kept = [x for x in entries[:-1] if epoch_of(x) % every == 0]
    return kept + [last], every


class Monitor:
    """Counts epochs, logs, checks the stopping and divergence rules, builds the result."""

    def __init__(
        self,
        problem: Problem,
        options: SolverOptions,
        hooks: Hooks,
        co: Coordinates,
        method: str,
    ) -> None:
        self.problem, self.options, self.hooks, self.co = problem, options, hooks, co
        self.method = method
        self.curve: list[tuple[int, float]] = []  # (epoch, loss), thinned
        self.curve_every = 1
        self.history: list[EpochLog] = []
        self.history_every = max(1, options.log_every)
        self.previous: float | None = None  # the last epoch's loss
        self.rises = 0
        self.start_loss: float | None = None

    def _log(self, epoch: int, loss: float, theta, final: bool = False) -> None:
        theta = theta() if callable(theta) else theta
        w, b = self.co.to_user(theta)
        entry = EpochLog(epoch, loss, w, b)
        if epoch % self.history_every == 0 or final:
            self.history.append(entry)
            self.history, self.history_every = thin(
                self.history, self.history_every, lambda e: e.epoch
            )
        if self.hooks.on_log:
            self.hooks.on_log(entry)

    def observe(self, epoch: int, loss: float, grad_norm: float, theta) -> str | None:
        """Record epoch ``epoch`` (θ after that many updates); a stop reason, or None.

        ``theta`` is the parameter vector, or a function returning it (called only to log).
        """
        previous, self.previous = self.previous, loss
        if epoch % self.curve_every == 0:
            self.curve.append((epoch, loss))
            self.curve, self.curve_every = thin(self.curve, self.curve_every, lambda c: c[0])
        if self.hooks.on_epoch:
            self.hooks.on_epoch(epoch, loss)
        if not math.isfinite(loss):
            self._diverged(epoch, "the loss became non-finite")
        if self.start_loss is None:
            self.start_loss = loss
        elif previous is not None and loss > previous * (1 + 1e-12):
            self.rises += 1
            if self.rises >= GROWTH_EPOCHS and loss > self.start_loss:
                self._diverged(epoch, f"the loss grew for {self.rises} epochs in a row")
        else:
            self.rises = 0
        reason = None
        if grad_norm / self.co.y_sd <= self.options.tol:
            reason = "converged"
        elif epoch >= self.options.epochs:
            reason = "epochs"
        if epoch % max(1, self.options.log_every) == 0 or reason:
            self._log(epoch, loss, theta, final=reason is not None)
        return reason

    def _diverged(self, epoch: int, why: str) -> None:
        scale = self.co.scale
        if scale == "whiten":
            hint = "lower --lr (whitened, gd converges for any lr below 2, and lr 1 is exact)"
        elif scale == "standard":
            hint = "lower --lr, or use --scale whiten (converges for any lr below 2)"
        else:
            hint = (
                "lower --lr, or drop --no-scale / --scale none (the default, --scale whiten, "
                "converges for any lr below 2)"
            )
        raise DivergenceError(
            f"{self.method} diverged at epoch {epoch} ({why}, lr={self.options.lr:g}); {hint}"
        )

    def finish(self, epoch: int, loss: float, theta: np.ndarray, reason: str, **kw) -> FitResult:
        if not self.history or self.history[-1].epoch != epoch:
            self._log(epoch, loss, theta, final=True)
        w, b = self.co.to_user(theta)
        converged = reason == "converged"
        result = FitResult(
            w,
            b,
            self.method,
            epochs=epoch,
            converged=converged,
            stop_reason=CONVERGED if converged else self._why_capped(),
            history=self.history,
            loss_curve=[loss for _, loss in self.curve],
            **kw,
        )
        result.info["scaled"] = self.co.scaled
        log_every = max(1, self.options.log_every)
        result.info["history_thinned"] = self.history_every > log_every
        result.info["history_every"] = self.history_every
        result.info["loss_curve_every"] = self.curve_every
        result.info["scale"] = self.co.scale
        if not converged:
            result.notes.append(self._stop_note(result))
        return result

    def _why_capped(self) -> str:
        """Why a capped run had not converged: SGD at its noise floor (the best loss of the
        last fifth of the run is no better, by 1% of the whole run's gain, than before); full
        batches swinging across the minimum (the loss of the last fifth no lower, to 1e-12, yet
        the gradient above --tol: an lr at the edge of stability); or a loss still falling."""
        curve = [loss for _, loss in self.curve]
        if len(curve) < 10:
            return FALLING
        k = max(2, len(curve) // 5)
        before, recent = min(curve[:-k]), min(curve[-k:])
        if self.options.batch_size is None:
            flat = before - recent <= 1e-12 * abs(before)  # round-off may still nick it
            return SWINGING if flat else FALLING
        gain = curve[0] - min(curve)
        return NOISE_FLOOR if before - recent <= 0.01 * gain else FALLING

    def _stop_note(self, result: FitResult) -> str:
        """The notice for a run that reached --epochs: why it stopped, and what to change."""
        o, scale = self.options, self.co.scale
        head = f"{self.method} stopped at the {result.epochs}-epoch cap before converging"
        if result.stop_reason == NOISE_FLOOR:
            return (
                f"{head}: the loss is flat at the noise floor of SGD with batches of "
                f"{o.batch_size}; a smaller --lr or a larger --batch-size lowers the floor"
            )
        if result.stop_reason == SWINGING:
            top = 1.0 if scale == "whiten" else quadratic(self.problem, self.co).curvatures()[0]
            if o.lr * top > 1.8:  # the steepest direction's error is multiplied by 1 − lr·top
                return (
                    f"{head}: the loss stopped falling but the gradient did not shrink, so the "
                    f"steps swing across the minimum (each epoch multiplies the steepest "
                    f"direction's error by 1 − lr·curvature = {1 - o.lr * top:.3g}); lower --lr"
                    + (" (1 is exact when whitened)" if scale == "whiten" else "")
                )
            return (
                f"{head}: the loss is flat at the floating-point floor while the gradient "
                f"is above --tol {o.tol:g}; a larger --tol accepts this answer"
            )
        head += f" (--tol {o.tol:g}), the loss still falling"
        if scale != "whiten":
            top, low = quadratic(self.problem, self.co).curvatures()
            cond = top / low if low > 0 else math.inf
            if cond > COND_HINT:
                how = "--scale none (--no-scale)" if scale == "none" else "--scale standard"
                return (
                    f"{head}: with {how} the loss has condition number {cond:.3g}, so its "
                    f"flattest direction shrinks by only 1 − lr·{low:.3g} per epoch, and an lr "
                    f"above {2 / top:.3g} diverges; use --scale whiten (the default), where "
                    "every direction shrinks by 1 − lr"
                )
            return f"{head}; try more --epochs or a larger --lr"
        if o.lr < 1 and o.batch_size is None:
            return f"{head}; try more --epochs, or a larger --lr (up to 1, which is exact)"
        return f"{head}; try more --epochs"
