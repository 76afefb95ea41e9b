"""Gradient descent in numpy on the ½·MSE loss.

Full batch (the default) takes every epoch from the accumulated statistics: the loss and its
gradient at θ are ‖r − Mθ‖²/2n and −Mᵀ(r − Mθ)/n for a small triangular M (see _descent.py),
so an epoch costs O(p²) whatever the number of rows. ``batch_size`` runs mini-batch SGD over
the rows instead (shuffled each epoch with ``seed``); the loss logged each epoch is still the
exact full-data loss. Both run in the coordinates ``options.scale`` names (see _descent.py):
by default whitened, where every direction of the error shrinks by 1 − lr per epoch.
"""

from __future__ import annotations

import numpy as np

from . import FitResult, Hooks, Problem, SolverOptions, register
from ._descent import Monitor, coordinates, quadratic


@register(
    "gd",
    "gradient descent in numpy (full batch from statistics; --batch-size for SGD)",
    needs_rows=lambda o: o.batch_size is not None,
)
def solve(problem: Problem, options: SolverOptions, hooks: Hooks) -> FitResult:
    co = coordinates(problem, options.scale)
    q = quadratic(problem, co)
    rng = np.random.default_rng(options.seed)
    theta = co.initial(len(problem.features), rng.standard_normal)
    mon = Monitor(problem, options, hooks, co, "gd")
    loss, grad = q.loss_grad(theta)
    reason = mon.observe(0, loss, float(np.linalg.norm(grad)), theta)
    lr = options.lr
    epoch = 0
    if options.batch_size is None:
        while reason is None:
            theta = theta - lr * grad
            epoch += 1
            loss, grad = q.loss_grad(theta)
            reason = mon.observe(epoch, loss, float(np.linalg.norm(grad)), theta)
    else:
        Z, y = co.rows(problem.X, problem.y)  # whitened: Z = ((X − x̄)/sd)·L⁻¹
        n, p = Z.shape
        bs = max(1, int(options.batch_size))
        # weighted rows: each error times w/mean(w) (the weighted ½·MSE, unbiased per batch)
        wn = None if problem.w is None else problem.w * (n / problem.stats.total_weight)
        while reason is None:
            order = rng.permutation(n)
            for start in range(0, n, bs):
                idx = order[start : start + bs]
                Zb, yb = Z[idx], y[idx]
                err = yb - Zb @ theta[:p] - (theta[p] if co.intercept else 0.0)
                if wn is not None:
                    err = err * wn[idx]
                g = np.empty_like(theta)
                g[:p] = -(Zb.T @ err) / len(idx)
                if co.intercept:
                    g[p] = -err.mean()
                theta = theta - lr * g
            epoch += 1
            loss, grad = q.loss_grad(theta)
            reason = mon.observe(epoch, loss, float(np.linalg.norm(grad)), theta)
    return mon.finish(epoch, loss, theta, reason)
