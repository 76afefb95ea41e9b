"""What the gradient-descent solvers share: the problem in iteration coordinates, the stopping
rules, the epoch log and the divergence check.

Iteration coordinates. By default (``scale=True``) features are standardised,
z = (x − mean)/sd, and y is centred, so one learning rate suits every data set; without an
intercept, features are divided by their root mean square and nothing is centred. With
``scale=False`` the parameters are the user's own w, b (the tutorial's iteration). Either way
the loss is the tutorial's J = (1/2n)·Σ(y − ŷ)² in the user's units, and logged parameters
are mapped back to the user's units.

Stopping rules (``tol``): the run has converged when ‖∇J‖ / sd(y) ≤ tol, the gradient taken
with respect to the iterated parameters; ``epochs`` caps the run. It diverges when the loss
becomes non-finite, or grows for ``GROWTH_EPOCHS`` epochs in a row to above its start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import dd
from ..errors import DivergenceError, RankError
from . import EpochLog, FitResult, Hooks, Problem, SolverOptions

GROWTH_EPOCHS = 5
#: Size of the random start in scaled iterations, in units of sd(y).
START_SPREAD = 0.01


@dataclass
class Coordinates:
    """Map between iteration parameters θ and the user's (w, b).

    θ = [u (one per feature), c (only when scaled with an intercept, or b when not scaled)].
    """

    scaled: bool
    intercept: bool
    loc: np.ndarray  # feature means (zeros when nothing is centred)
    spread: np.ndarray  # feature scales (ones when not scaled)
    y_loc: float  # mean of y (0 when nothing is centred)
    y_sd: float  # reference scale for the gradient rule

    def to_user(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        p = len(self.loc)
        w = theta[:p] / self.spread
        if not self.intercept:
            return w, 0.0
        if not self.scaled:
            return w, float(theta[p])
        c = self.y_loc + theta[p]
        return w, dd.add_dot(c, -w, self.loc)

    def rows(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows in iteration coordinates: (X − loc)/spread, y − ȳ (as scaled)."""
        return (X - self.loc) / self.spread, y - self.y_loc

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
        """(w, b) on a unit-free scale: w·spread/sd(y), and the fitted mean's offset/sd(y)."""
        u = np.asarray(w) * self.spread / self.y_sd
        if not self.intercept:
            return u
        c = (b + float(np.dot(w, self.loc)) - self.y_loc) / self.y_sd
        return np.concatenate([u, [c]])


def coordinates(problem: Problem, scaled: bool) -> Coordinates:
    """The iteration coordinates for this problem, from its statistics."""
    st = problem.stats
    p = len(problem.features)
    n = st.n
    Rc = st.centred()
    # sd(y) with an intercept, root mean square of y without one (1 when y is all zero)
    y_col = Rc[:, -1] if problem.intercept else st.raw()[:, -1]
    y_sd = float(np.linalg.norm(y_col) / math.sqrt(n)) or 1.0
    if not scaled:
        return Coordinates(False, problem.intercept, np.zeros(p), np.ones(p), 0.0, y_sd)
    if problem.intercept:
        means = st.means()
        sd = np.linalg.norm(Rc[:, :p], axis=0) / math.sqrt(n)
        loc, y_loc = means[:p], float(means[p])
    else:
        sd = np.linalg.norm(st.raw()[:, 1 : p + 1], axis=0) / math.sqrt(n)
        loc, y_loc = np.zeros(p), 0.0
    zero = [problem.features[j] for j in np.flatnonzero(sd == 0)]
    if zero:
        raise RankError(
            f"{problem.source}: column {zero[0]!r} is constant, so it cannot be standardised "
            "or told apart from the intercept; drop it"
        )
    return Coordinates(True, problem.intercept, loc, sd, y_loc, y_sd)


@dataclass
class Quadratic:
    """J(θ) = ‖r − Mθ‖² / (2n): the loss in iteration coordinates, from the statistics."""

    M: np.ndarray
    r: np.ndarray
    n: int

    def loss_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        v = self.r - self.M @ theta
        return float(v @ v) / (2 * self.n), -(self.M.T @ v) / self.n


def quadratic(problem: Problem, co: Coordinates) -> Quadratic:
    """The loss of ``problem`` in the coordinates ``co``, as a small triangular system."""
    st = problem.stats
    p = len(problem.features)
    n = st.n
    if problem.intercept and co.scaled:
        Rc = st.centred()
        k = Rc.shape[0]
        M = np.zeros((k + 1, p + 1))
        M[:k, :p] = Rc[:, :p] / co.spread
        M[k, p] = math.sqrt(n)
        r = np.concatenate([Rc[:, p], [0.0]])
        return Quadratic(M, r, n)
    if problem.intercept:
        R = st.raw()  # columns [1, X, y]: reorder θ = [w, b]
        M = np.column_stack([R[:, 1 : p + 1], R[:, 0]])
        return Quadratic(M, R[:, -1], n)
    Rn = st.noint() / st.scale  # columns [X, y], unscaled
    return Quadratic(Rn[:, :p] / co.spread, Rn[:, p], n)


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
        hint = "lower --lr" + ("" if self.co.scaled else ", or drop --no-scale")
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
            stop_reason=("gradient below --tol" if converged else "reached --epochs before --tol"),
            history=self.history,
            loss_curve=[loss for _, loss in self.curve],
            **kw,
        )
        result.info["scaled"] = self.co.scaled
        log_every = max(1, self.options.log_every)
        result.info["history_thinned"] = self.history_every > log_every
        result.info["history_every"] = self.history_every
        result.info["loss_curve_every"] = self.curve_every
        return result
