"""Gradient descent with torch autograd, on cpu or cuda: a true loop over the tensors.

torch is imported only when this solver runs. With ``scale=False`` this is the tutorial's
loop exactly: after ``torch.manual_seed(seed)``, w = randn(p), b = randn(1) (float32 draws,
as the tutorial makes them), then ŷ = Xw + b, loss = mean((ŷ − y)²)/2, backward, update,
zero the gradients. The loss is computed in ``dtype`` on the rows themselves; the epoch
log reports it in the user's units.
"""

from __future__ import annotations

import numpy as np

from ..errors import EnvironmentProblem, UsageError
from . import FitResult, Hooks, Problem, SolverOptions, register
from ._descent import Monitor, coordinates


def import_torch():
    try:
        import torch
    except ImportError:
        raise EnvironmentProblem(
            "method 'torch' needs PyTorch, which is not installed; install it with "
            "pip install 'linfit[torch]' (or make install)"
        ) from None
    return torch


def pick_device(torch, wanted: str) -> str:
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise EnvironmentProblem(
            "--device cuda was asked for, but no CUDA GPU is available to PyTorch "
            f"(torch {torch.__version__}); use --device cpu or --device auto"
        )
    if wanted not in ("cpu", "cuda") and not wanted.startswith("cuda:"):
        raise UsageError(f"unknown device {wanted!r}; use auto, cpu or cuda")
    return wanted


@register(
    "torch",
    "gradient descent with PyTorch autograd on cpu or cuda (--device, --dtype)",
    needs_rows=lambda o: True,
)
def solve(problem: Problem, options: SolverOptions, hooks: Hooks) -> FitResult:
    torch = import_torch()
    device = pick_device(torch, options.device)
    if options.dtype not in ("float64", "float32"):
        raise UsageError(f"unknown dtype {options.dtype!r}; use float64 or float32")
    dtype = getattr(torch, options.dtype)
    co = coordinates(problem, options.scale)
    p = len(problem.features)
    Z, y = (torch.as_tensor(a, dtype=dtype, device=device) for a in co.rows(problem.X, problem.y))
    torch.manual_seed(options.seed)
    theta0 = co.initial(p, lambda k: torch.randn(k).double().numpy())
    w = torch.as_tensor(theta0[:p], dtype=dtype, device=device).requires_grad_(True)
    if co.intercept:
        b = torch.as_tensor(theta0[p:], dtype=dtype, device=device).requires_grad_(True)
    else:
        b = torch.zeros(1, dtype=dtype, device=device)
    params = [w, b] if co.intercept else [w]
    mon = Monitor(problem, options, hooks, co, "torch")
    n = Z.shape[0]
    bs = options.batch_size
    gen = torch.Generator(device="cpu").manual_seed(options.seed)

    def theta() -> np.ndarray:
        parts = [w.detach().cpu().double().numpy()]
        if co.intercept:
            parts.append(b.detach().cpu().double().numpy())
        return np.concatenate(parts)

    def forward(Zb, yb):
        y_hat = Zb @ w + b
        return ((y_hat - yb) ** 2).mean() / 2

    def update() -> None:
        with torch.no_grad():
            for t in params:
                t -= options.lr * t.grad
                t.grad.zero_()

    def loss_and_grad() -> tuple[float, float]:
        """Full-data loss at the current θ, leaving its gradient in .grad."""
        for t in params:
            t.grad = None
        loss = forward(Z, y)
        loss.backward()
        gnorm = torch.sqrt(sum((t.grad**2).sum() for t in params))
        return float(loss.item()), float(gnorm.item())

    epoch = 0
    while True:
        loss, gnorm = loss_and_grad()
        reason = mon.observe(epoch, loss, gnorm, theta)
        if reason is not None:
            break
        if bs is None:
            update()  # the tutorial's step, with the gradient just computed
        else:
            order = torch.randperm(n, generator=gen).to(device)
            for start in range(0, n, max(1, int(bs))):
                idx = order[start : start + int(bs)]
                for t in params:
                    t.grad = None
                forward(Z[idx], y[idx]).backward()
                update()
        epoch += 1
    return mon.finish(epoch, loss, theta(), reason, device=device, dtype=options.dtype)
