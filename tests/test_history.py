"""The gradient-descent history is bounded: memory does not grow with --epochs."""

from __future__ import annotations

import numpy as np

import linfit
from linfit.solvers import SolverOptions
from linfit.solvers._descent import MAX_HISTORY

from .conftest import SAMPLES, fit_json

CODE = SAMPLES / "tutorial_code.csv"


def test_history_is_thinned_to_a_bounded_size():
    """At most MAX_HISTORY entries, evenly spaced, the first and last kept, and the JSON
    says how far apart they are."""
    ref = linfit.fit(str(SAMPLES / "noisy_line.csv"))
    for epochs in (5_000, 40_000):
        m = linfit.fit(
            str(SAMPLES / "noisy_line.csv"),
            method="gd",
            options=SolverOptions(epochs=epochs, tol=0, log_every=1),
        )
        epochs_kept = [h["epoch"] for h in m.history]
        assert len(epochs_kept) <= MAX_HISTORY
        assert epochs_kept[0] == 0 and epochs_kept[-1] == epochs
        every = m.solver["history_every"]
        assert m.solver["history_thinned"] is True and every > 1
        assert all(e % every == 0 for e in epochs_kept[:-1])
        assert np.diff(epochs_kept[:-1]).tolist() == [every] * (len(epochs_kept) - 2)
        np.testing.assert_allclose(m.w, ref.w, rtol=1e-9)


def test_loss_curve_is_bounded():
    from linfit.fitting import fit_problem, read_dataset

    data = read_dataset(str(SAMPLES / "noisy_line.csv"))
    out = fit_problem(data.problem, "gd", SolverOptions(epochs=20_000, tol=0))
    assert len(out.result.loss_curve) <= MAX_HISTORY
    assert out.result.info["loss_curve_every"] > 1


def test_short_history_is_not_thinned():
    doc = fit_json(CODE, "--method", "gd", "--log-every", "5", "--epochs", "200", "--tol", "0")
    assert [h["epoch"] for h in doc["history"]] == list(range(0, 201, 5))
    assert doc["solver"]["history_thinned"] is False and doc["solver"]["history_every"] == 5
