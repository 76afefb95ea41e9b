"""Gradient descent with torch autograd, on cpu or cuda: a true loop over the tensors.

torch is imported only when this solver runs. With ``scale="none"`` this is the tutorial's
loop exactly: after ``torch.manual_seed(seed)``, w = randn(p), b = randn(1) (float32 draws,
as the tutorial makes them), then ŷ = Xw + b, loss = mean((ŷ − y)²)/2, backward, update,
zero the gradients. By default the rows are first put in whitened coordinates (see
_descent.py), block by block in float64 on the host, each block copied once into a tensor
on the device; the model, loss, backward pass and update are the same autograd loop. The
loss is computed in ``dtype`` on the rows themselves; the epoch log reports the user's units.

On a GPU the data stay on the device: the loop runs chunks of epochs (1, 2, 4, … up to
``CHUNK`` at a time) whose losses, gradient norms and parameters are kept on the device and
read back once per chunk, so epochs do not wait on the host. The stopping rules are then
applied epoch by epoch to what was read back; the parameters reported are those of the
epoch that stopped, exactly as in an epoch-at-a-time loop.
"""

from __future__ import annotations

import re

from ..errors import EnvironmentProblem, UsageError, quote
from . import FitResult, Hooks, Problem, SolverOptions, register
from ._descent import Monitor, coordinates

#: Most epochs run on an accelerator between two reads of the loss on the host.
CHUNK = 64
#: The same on the cpu, where reading a loss costs nothing: one epoch at a time.
HOST_CHUNK = 1
#: Rows transformed (on the host, in float64) per copy to the device.
BLOCK_ROWS = 1 << 18


def import_torch():
    try:
        import torch
    except ImportError:
        raise EnvironmentProblem(
            "method 'torch' needs PyTorch, which is not installed; install it with "
            "pip install 'linfit[torch]' (or make install)"
        ) from None
    return torch


def check_device(wanted: str) -> None:
    """A device string linfit understands (auto, cpu, cuda, cuda:N), or a usage error."""
    if wanted not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d{1,4}", wanted):
        raise UsageError(f"unknown device {quote(wanted)}; use auto, cpu, cuda or cuda:N")


def pick_device(torch, wanted: str) -> str:
    """The device to run on; a missing GPU is an environment problem (exit 8)."""
    check_device(wanted)
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted == "cpu":
        return wanted
    if not torch.cuda.is_available():
        raise EnvironmentProblem(
            f"--device {wanted} was asked for, but no CUDA GPU is available to PyTorch "
            f"(torch {torch.__version__}); use --device cpu or --device auto"
        )
    if ":" in wanted and int(wanted.split(":")[1]) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise EnvironmentProblem(
            f"--device {wanted} was asked for, but PyTorch sees {count} CUDA "
            f"GPU{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1}); use one of those"
        )
    return wanted


@register(
    "torch",
    "gradient descent with PyTorch autograd on cpu or cuda (--device, --dtype)",
    needs_rows=lambda o: True,
)
def solve(problem: Problem, options: SolverOptions, hooks: Hooks) -> FitResult:
    if options.dtype not in ("float64", "float32"):
        raise UsageError(f"unknown dtype {quote(options.dtype)}; use float64 or float32")
    check_device(options.device)
    torch = import_torch()
    device = pick_device(torch, options.device)
    dtype = getattr(torch, options.dtype)
    co = coordinates(problem, options.scale)
    p = len(problem.features)
    n = len(problem.y)
    Z = torch.empty((n, p), dtype=dtype, device=device)
    y = torch.empty(n, dtype=dtype, device=device)
    for start, Zb, yb in co.row_blocks(problem.X, problem.y, BLOCK_ROWS):
        Z[start : start + len(yb)] = torch.as_tensor(Zb, dtype=dtype)
        y[start : start + len(yb)] = torch.as_tensor(yb, dtype=dtype)
    # weighted rows: each squared error times w/mean(w), so the mean is Σw·r²/Σw
    wn = None
    if problem.w is not None:
        wn = torch.as_tensor(problem.w * (n / problem.stats.total_weight), dtype=dtype)
        wn = wn.to(device)
    torch.manual_seed(options.seed)
    theta0 = co.initial(p, lambda k: torch.randn(k).double().numpy())
    w = torch.as_tensor(theta0[:p], dtype=dtype, device=device).requires_grad_(True)
    if co.intercept:
        b = torch.as_tensor(theta0[p:], dtype=dtype, device=device).requires_grad_(True)
    else:
        b = torch.zeros(1, dtype=dtype, device=device)
    params = [w, b] if co.intercept else [w]
    mon = Monitor(problem, options, hooks, co, "torch")
    bs = None if options.batch_size is None else max(1, int(options.batch_size))
    gen = torch.Generator(device="cpu").manual_seed(options.seed)

    def forward(Zb, yb, wb=None):
        y_hat = Zb @ w + b
        if wb is None:
            return ((y_hat - yb) ** 2).mean() / 2
        return (wb * (y_hat - yb) ** 2).mean() / 2

    def update() -> None:
        with torch.no_grad():
            for t in params:
                t -= options.lr * t.grad
                t.grad.zero_()

    def epoch_step(e: int, out_loss, out_gnorm, out_theta) -> None:
        """Record the full-data loss, its gradient's norm and θ at epoch ``e`` (into the
        device buffers' row ``e``), then take that epoch's update(s)."""
        for t in params:
            t.grad = None
        loss = forward(Z, y, wn)
        loss.backward()
        with torch.no_grad():
            out_loss[e] = loss.detach()
            out_gnorm[e] = torch.sqrt(sum((t.grad**2).sum() for t in params))
            out_theta[e] = torch.cat([t.detach() for t in params])
        if bs is None:
            update()  # the tutorial's step, with the gradient just computed
            return
        order = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            for t in params:
                t.grad = None
            forward(Z[idx], y[idx], None if wn is None else wn[idx]).backward()
            update()

    most = HOST_CHUNK if torch.device(device).type == "cpu" else CHUNK
    k = len(theta0)
    epoch, chunk = 0, 1
    while True:
        size = max(1, min(chunk, options.epochs - epoch + 1))
        losses = torch.empty(size, dtype=dtype, device=device)
        gnorms = torch.empty(size, dtype=dtype, device=device)
        thetas = torch.empty((size, k), dtype=dtype, device=device)
        for i in range(size):
            epoch_step(i, losses, gnorms, thetas)
        losses_h = losses.double().cpu().numpy()
        gnorms_h = gnorms.double().cpu().numpy()
        thetas_h = thetas.double().cpu().numpy()
        reason = None
        for i in range(size):
            reason = mon.observe(epoch + i, float(losses_h[i]), float(gnorms_h[i]), thetas_h[i])
            if reason is not None:
                epoch += i
                break
        if reason is not None:
            break
        epoch += size
        chunk = min(2 * chunk, most)
    return mon.finish(
        epoch,
        float(losses_h[i]),
        thetas_h[i],
        reason,
        device=device,
        dtype=options.dtype,
    )
