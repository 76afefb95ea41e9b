"""--weights, --cov HC0-HC3 and --by on the Dask engine: equal to the local fit to 1e-12.

The data are split into three files (three partitions, merged in a tree on a real scheduler
with two workers); the local engine reads the same glob in one process.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from .conftest import fit_json, run_cli
from .test_dask import scheduler  # noqa: F401  (the module's scheduler and workers)

pytest.importorskip("distributed")
MTCARS = "tests/data/r/mtcars.csv"
TOL = 1e-12


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cars")
    d = pd.read_csv(MTCARS)
    for k, (start, end) in enumerate([(0, 10), (10, 21), (21, 32)]):
        d.iloc[start:end].to_csv(folder / f"c{k}.csv", index=False)
    return str(folder / "c*.csv")


def dask(scheduler, *args):  # noqa: F811
    return ["--engine", "dask", "--scheduler", scheduler["address"], *args]


def same_model(a: dict, b: dict) -> None:
    assert a["features"] == b["features"] and a["n_samples"] == b["n_samples"]
    assert a.get("weights") == b.get("weights")
    for f in a["features"]:
        assert a["w"][f] == pytest.approx(b["w"][f], rel=TOL, abs=1e-14)
    assert a["b"] == pytest.approx(b["b"], rel=TOL)
    for name, entry in a["stats"]["coef"].items():
        for stat in ("se", "t", "p"):
            assert entry[stat] == pytest.approx(b["stats"]["coef"][name][stat], rel=1e-10), (
                name,
                stat,
            )
    assert a["stats"]["fit"]["sigma"] == pytest.approx(b["stats"]["fit"]["sigma"], rel=TOL)


@pytest.mark.parametrize(
    "args",
    [
        ["-x", "wt,hp", "-y", "mpg", "--weights", "qsec", "--cov", "HC3"],
        ["-x", "wt", "-y", "mpg", "--cov", "HC0"],
        ["-x", "wt,qsec", "-y", "mpg", "--weights", "hp", "--cov", "HC1"],
        ["-F", "mpg ~ wt + C(am)", "--weights", "hp", "--cov", "HC2"],
        ["-F", "log(mpg) ~ wt * C(cyl)", "--weights", "qsec"],
        ["-y", "mpg", "--exclude", "name,cyl", "--weights", "hp"],
    ],
    ids=["weights-HC3", "HC0", "weights-HC1", "formula-HC2", "formula-weights", "exclude"],
)
def test_weights_and_cov_match_local(scheduler, parts, args):  # noqa: F811
    local = fit_json(parts, *args)
    remote = fit_json(parts, *args, *dask(scheduler), timeout=300)
    same_model(remote, local)
    if "--cov" in args:  # the HC covariance changed the standard errors
        plain = fit_json(parts, *[a for a in args if a not in ("--cov", "HC0", "HC1", "HC2",
                                                                 "HC3")])  # fmt: skip
        se = [e["se"] for e in remote["stats"]["coef"].values()]
        assert se != pytest.approx([e["se"] for e in plain["stats"]["coef"].values()], rel=1e-6)


@pytest.mark.parametrize(
    "args",
    [
        ["-x", "wt", "-y", "mpg", "--by", "cyl", "--weights", "hp"],
        ["-x", "wt,hp", "-y", "mpg", "--by", "am,vs"],
        ["-F", "mpg ~ wt + C(am)", "--by", "cyl", "--weights", "hp"],
    ],
    ids=["weights", "two-columns", "formula"],
)
def test_by_matches_local_and_predicts(scheduler, parts, args, tmp_path):  # noqa: F811
    local = json.loads(run_cli("fit", parts, *args, "--json").stdout)
    model = tmp_path / "g.json"
    r = run_cli("fit", parts, *args, *dask(scheduler), "--json", "--save", model, timeout=300)
    assert r.returncode == 0, r.stderr
    remote = json.loads(r.stdout)
    assert [g["group"] for g in remote["groups"]] == [g["group"] for g in local["groups"]]
    for a, b in zip(remote["groups"], local["groups"]):
        same_model(a, b)
    assert json.loads(model.read_text()) == remote
    got = run_cli("predict", model, MTCARS, "--interval", "confidence")
    assert got.returncode == 0, got.stderr
    local_model = tmp_path / "l.json"
    assert run_cli("fit", parts, *args, "--save", local_model).returncode == 0
    want = run_cli("predict", local_model, MTCARS, "--interval", "confidence").stdout
    a = pd.read_csv(pd.io.common.StringIO(got.stdout))
    b = pd.read_csv(pd.io.common.StringIO(want))
    cols = ["mpg_pred", "mpg_pred_lower", "mpg_pred_upper"]
    np.testing.assert_allclose(a[cols].to_numpy(), b[cols].to_numpy(), rtol=TOL, atol=0)


def test_dask_errors_are_one_line(scheduler, parts, tmp_path):  # noqa: F811
    bad = tmp_path / "neg.csv"
    bad.write_text("x,y,w\n1,2,1\n2,3,-1\n3,5,1\n")
    r = run_cli("fit", bad, "-x", "x", "-y", "y", "--weights", "w", *dask(scheduler))
    assert r.returncode == 4 and "negative weight -1 in column 'w'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli("fit", parts, "-x", "wt", "-y", "mpg", "--by", "carb", "--max-groups", "3",
                *dask(scheduler), timeout=300)  # fmt: skip
    assert r.returncode == 4 and "--max-groups" in r.stderr, r.stderr
    r = run_cli("fit", parts, "-x", "wt", "-y", "mpg", "--by", "cyl", "--cov", "HC3",
                *dask(scheduler))  # fmt: skip
    assert r.returncode == 2 and "--cov" in r.stderr
