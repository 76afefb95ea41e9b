"""Formulas through the real command, against R's lm() on R's own data sets.

The data sets are R's, exported by tests/data/r/make_r_data.R (row names become a text
column "name"); the references are R 4.2's, made by tests/data/r/lm_references.R:

    invisible(Sys.setlocale("LC_COLLATE", "C"))   # levels sorted by code point, as linfit
    rd <- function(f) read.csv(file.path("tests/data/r", f), stringsAsFactors = FALSE,
                               check.names = FALSE)
    fit <- lm(as.formula(formula), data = rd(file)); s <- summary(fit); co <- coef(s)
    # estimate, se, t, p = co[, 1:4]; sigma = s$sigma; r2 = s$r.squared;
    # adj_r2 = s$adj.r.squared; f, df = s$fstatistic; n = nobs(fit)

and are stored, with 17 significant digits, in tests/data/r/lm_references.json. R writes
``factor(x)``; linfit reads the same formula (``factor(x)`` is ``C(x)``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from .conftest import DATA, SAMPLE_FILES, run_cli

R = DATA / "r"
REFS = json.loads((R / "lm_references.json").read_text())


def _fit(*args: str) -> dict:
    proc = run_cli("fit", *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _close(got: float, want: float, rtol: float) -> bool:
    return abs(got - want) <= rtol * max(abs(want), 1e-300)


@pytest.mark.parametrize("ref", REFS, ids=[r["formula"] for r in REFS])
def test_formula_matches_r_summary_lm(ref):
    doc = _fit(str(R / ref["file"]), "--formula", ref["formula"])
    names = (["(Intercept)"] if doc["intercept"] else []) + doc["features"]
    assert len(names) == len(ref["names"])  # R's coefficients, in R's order
    coef = doc["stats"]["coef"]
    for k, name in enumerate(names):
        c = coef[name]
        assert _close(c["estimate"], ref["estimate"][k], 1e-9), (name, c, ref)
        assert _close(c["se"], ref["se"][k], 1e-9), name
        assert _close(c["t"], ref["t"][k], 1e-9), name
        assert _close(c["p"], ref["p"][k], 1e-7), name
    fit = doc["stats"]["fit"]
    assert doc["n_samples"] == ref["n"]
    assert _close(fit["sigma"], ref["sigma"], 1e-9)
    assert _close(fit["r2"], ref["r2"], 1e-9)
    assert _close(fit["adj_r2"], ref["adj_r2"], 1e-9)
    if ref["f"] is not None and not math.isnan(ref["f"]):
        assert _close(fit["f"], ref["f"], 1e-9)
        assert [fit["df_model"], fit["df_resid"]] == ref["df"]


def test_r_names_map_to_statsmodels_names():
    ref = next(r for r in REFS if r["formula"] == "mpg ~ wt * hp + factor(cyl)")
    doc = _fit(str(R / ref["file"]), "-F", ref["formula"])
    assert doc["features"] == ["wt", "hp", "C(cyl)[T.6]", "C(cyl)[T.8]", "wt:hp"]
    assert ref["names"][1:] == ["wt", "hp", "factor(cyl)6", "factor(cyl)8", "wt:hp"]
    iris = _fit(str(R / "iris.csv"), "-F", "Sepal.Length ~ Sepal.Width:Species")
    assert iris["features"] == [
        "Sepal.Width:Species[setosa]",
        "Sepal.Width:Species[versicolor]",
        "Sepal.Width:Species[virginica]",
    ]


@pytest.mark.parametrize("method", ["gd", "torch"])
def test_every_solver_fits_a_formula(method):
    pytest.importorskip("torch") if method == "torch" else None
    ref = REFS[0]  # iris: Sepal.Length ~ Petal.Length + Species
    doc = _fit(str(R / ref["file"]), "-F", ref["formula"], "-m", method, "--epochs", "400")
    got = [doc["b"], *doc["w"].values()]
    np.testing.assert_allclose(got, ref["estimate"], rtol=1e-8)


def _levels_late_file(path, rows: int, late_from: int, seed: int = 5):
    """A file whose level "zeta" (and a second factor's level) first appear late."""
    rng = np.random.default_rng(seed)
    g = rng.choice(["alpha", "beta"], rows)
    g[late_from:] = rng.choice(["alpha", "beta", "zeta"], rows - late_from)
    h = rng.choice(["u", "v"], rows)
    h[rows - 100 :] = "w"
    x = rng.normal(size=rows) + 5
    effect = {"alpha": 0.0, "beta": 1.5, "zeta": -2.0}
    y = 3 + 2 * x + np.array([effect[v] for v in g]) + (h == "v") + rng.normal(size=rows)
    with open(path, "w") as fh:
        fh.write("x,g,h,y\n")
        for row in zip(x, g, h, y):
            fh.write(f"{float(row[0])!r},{row[1]},{row[2]},{float(row[3])!r}\n")
    return x, g, h, y


def test_levels_first_seen_late_stream_exactly(tmp_path):
    """200,000 rows (four 65,536-row blocks): 'zeta' appears after row 150,000 and 'w' in
    the last 100; the streamed fit equals the in-memory least-squares fit, and several
    files merged equal the single file."""
    rows = 200_000
    x, g, h, y = _levels_late_file(tmp_path / "d.csv", rows, 150_000)
    formula = "y ~ x * g + h"
    one = _fit(str(tmp_path / "d.csv"), "-F", formula)
    assert one["features"] == [
        "x",
        "g[T.beta]",
        "g[T.zeta]",
        "h[T.v]",
        "h[T.w]",
        "x:g[T.beta]",
        "x:g[T.zeta]",
    ]
    # in memory: R's coding by hand, solved by QR of the centred design
    cols = [x, g == "beta", g == "zeta", h == "v", h == "w", x * (g == "beta"), x * (g == "zeta")]
    A = np.column_stack([np.ones(rows), *[np.asarray(c, float) for c in cols]])
    beta = np.linalg.lstsq(A, y, rcond=None)[0]
    got = np.array([one["b"], *one["w"].values()])
    scale = np.abs(A).max(axis=0)
    np.testing.assert_allclose(
        got * scale, beta * scale, rtol=1e-9, atol=1e-9 * np.abs(beta * scale).max()
    )
    # split into three files at block-unaligned places: the middle one has no 'zeta', the
    # last has levels the first never saw
    lines = (tmp_path / "d.csv").read_text().splitlines()
    head, body = lines[0], lines[1:]
    for k, (a, b) in enumerate([(0, 70_001), (70_001, 140_003), (140_003, rows)]):
        (tmp_path / f"part{k}.csv").write_text("\n".join([head, *body[a:b]]) + "\n")
    parts = _fit(*[str(tmp_path / f"part{k}.csv") for k in range(3)], "-F", formula)
    assert parts["features"] == one["features"]
    np.testing.assert_allclose(
        [parts["b"], *parts["w"].values()], got, rtol=1e-12, atol=1e-12 * np.abs(got).max()
    )
    assert parts["stats"]["fit"]["sigma"] == pytest.approx(one["stats"]["fit"]["sigma"], rel=1e-12)


def test_predict_round_trip_with_unseen_level_and_missing(tmp_path):
    model = tmp_path / "m.json"
    proc = run_cli(
        "fit",
        R / "iris.csv",
        "-F",
        "log(Sepal.Length) ~ Petal.Length * Species",
        "--save",
        model,
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(model.read_text())
    assert doc["formula"]["text"] == "log(Sepal.Length) ~ Petal.Length * Species"
    assert doc["formula"]["names"] == doc["features"]
    assert doc["formula"]["levels"]["Species"] == ["setosa", "versicolor", "virginica"]
    rows = (R / "iris.csv").read_text().splitlines()
    new = tmp_path / "new.csv"
    new.write_text(
        "\n".join(
            [rows[0], rows[1], rows[51], '5,3,1.4,0.2,"unknown"', '5,3,NA,0.2,"setosa"', rows[149]]
        )
        + "\n"
    )
    out = run_cli("predict", model, new, "--interval", "confidence")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 6  # every row kept, in order
    assert lines[3].endswith(",,,") and lines[4].endswith(",,,")
    assert (
        "1 of 5 rows have a categorical level the model was not fitted with (first at line 4)"
        in out.stderr
    )
    assert "1 of 5 rows have a missing feature value (first at line 5)" in out.stderr
    # on the training rows, predictions are the fitted values: exp-free check of log scale
    pred = float(lines[1].split(",")[5])
    w = doc["w"]
    expected = doc["b"] + w["Petal.Length"] * 1.4  # setosa: reference level
    assert pred == pytest.approx(expected, rel=1e-13)


def test_formula_and_x_y_are_exclusive():
    proc = run_cli("fit", R / "iris.csv", "-F", "Sepal.Length ~ Species", "--x", "Petal.Length")
    assert proc.returncode == 2 and "--formula" in proc.stderr.strip().splitlines()[0]


def test_exclude_drops_a_row_name_column():
    proc = run_cli("fit", R / "mtcars.csv", "--y", "mpg", "--exclude", "name", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert "name" not in json.loads(proc.stdout)["features"]


def test_text_column_error_says_how_to_use_it():
    proc = run_cli("fit", R / "iris.csv")
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 4 and len(err) == 1
    assert "holds text" in err[0] and "--formula" in err[0] and "--exclude 'Species'" in err[0]


BAD = [
    ("y ~ I(__import__('os').system('touch pwned'))", 2, "not part of a formula"),
    ("Sepal.Length ~ eval(Species)", 2, "unknown function 'eval'"),
    ("Sepal.Length ~ nosuch", 4, "column 'nosuch'"),
    ("Sepal.Length ~ log(Species)", 4, "text (categorical) column 'Species'"),
    (
        "Sepal.Length ~ log(I(Petal.Width - 1))",
        4,
        "log(Petal.Width - 1) is not defined at line 2 (Petal.Width = 0.2)",
    ),
    ("Species ~ Petal.Length", 4, "target column 'Species' holds text"),
    ("Sepal.Length ~ C(Petal.Length", 2, "expected ')'"),
]


@pytest.mark.parametrize(("formula", "code", "says"), BAD, ids=[b[0] for b in BAD])
def test_bad_formulas_are_one_line(tmp_path, formula, code, says):
    proc = run_cli("fit", R / "iris.csv", "-F", formula, cwd=tmp_path)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == code, proc.stderr
    assert len(err) == 1 and err[0].startswith("Error: ") and says in err[0], err
    assert list(tmp_path.iterdir()) == []  # nothing ran


def test_damaged_formula_in_a_model_file(tmp_path):
    model = tmp_path / "m.json"
    assert (
        run_cli("fit", R / "iris.csv", "-F", "Sepal.Length ~ Species", "--save", model).returncode
        == 0
    )
    doc = json.loads(model.read_text())
    doc["formula"]["terms"][0][0]["expr"] = {"fn": "__import__", "args": [{"col": "os"}]}
    model.write_text(json.dumps(doc))
    proc = run_cli("predict", model, R / "iris.csv")
    assert proc.returncode == 6 and "'formula'" in proc.stderr


def test_formula_in_two_processes_equals_one(tmp_path, monkeypatch):
    """A large file read by two processes (levels found by each, merged by meaning) gives
    the one-process fit to 1e-12."""
    from linfit import parallel
    from linfit.fitting import read_dataset

    _levels_late_file(tmp_path / "d.csv", 60_000, 45_000, seed=9)
    formula = "y ~ x * g + h"
    monkeypatch.setenv("LINFIT_JOBS", "1")
    one = read_dataset(str(tmp_path / "d.csv"), formula=formula)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 1 << 16)
    monkeypatch.setenv("LINFIT_JOBS", "2")
    assert parallel.workers_for(str(tmp_path / "d.csv"), False) == 2
    two = read_dataset(str(tmp_path / "d.csv"), formula=formula)
    assert two.problem.X is None and "several processes" in two.problem.where_rows
    assert two.problem.features == one.problem.features
    from linfit.fitting import fit_problem

    a = fit_problem(one.problem, design=one.design).model
    b = fit_problem(two.problem, design=two.design).model
    np.testing.assert_allclose(b.w, a.w, rtol=1e-12, atol=1e-12 * np.abs(a.w).max())
    assert b.b == pytest.approx(a.b, rel=1e-12)
    assert b.stats["fit"]["sigma"] == pytest.approx(a.stats["fit"]["sigma"], rel=1e-12)


# R's TermCode on tricky codings (tests/data/r/coding.csv, random data made for this test):
#   invisible(Sys.setlocale("LC_COLLATE", "C")); d <- read.csv("coding.csv")
#   coef(lm(y ~ x:z + x:a, d)); coef(lm(y ~ 0 + x:a + b, d))
#   names(coef(lm(y ~ 0 + x + x:a, d))); names(coef(lm(y ~ a:b + x, d)))
CODING = [
    (
        "y ~ x:z + x:a",
        ["(Intercept)", "x:z", "x:a[T.q]", "x:a[T.r]"],
        [1.396246967888279, -0.15719978433350118, 0.65778342852137062, 0.68554500443884747],
    ),
    (
        "y ~ 0 + x:a + b",
        ["b[u]", "b[v]", "x:a[p]", "x:a[q]", "x:a[r]"],
        [
            1.0941241606654926,
            1.6632261538474329,
            0.53950541880557834,
            0.59900386554713803,
            0.78760402497371707,
        ],
    ),
    ("y ~ 0 + x + x:a", ["x", "x:a[p]", "x:a[q]", "x:a[r]"], None),  # R: x:ar is NA
    (
        "y ~ a:b + x",
        [
            "(Intercept)",
            "x",
            "a[p]:b[u]",
            "a[q]:b[u]",
            "a[r]:b[u]",
            "a[p]:b[v]",
            "a[q]:b[v]",
            "a[r]:b[v]",
        ],
        None,  # R: ar:bv is NA
    ),
]


@pytest.mark.parametrize(("formula", "names", "coef"), CODING, ids=[c[0] for c in CODING])
def test_r_termcode(formula, names, coef):
    doc = _fit(str(R / "coding.csv"), "-F", formula, "--allow-rank-deficient")
    got_names = (["(Intercept)"] if doc["intercept"] else []) + doc["features"]
    assert got_names == names
    if coef is not None:
        got = ([doc["b"]] if doc["intercept"] else []) + list(doc["w"].values())
        np.testing.assert_allclose(got, coef, rtol=1e-12)


def test_dot_means_the_first_files_columns_in_every_file(tmp_path):
    rows = (R / "trees.csv").read_text().splitlines()
    cols = rows[0].split(",")  # Girth, Height, Volume
    (tmp_path / "a.csv").write_text("\n".join(rows[:16]) + "\n")
    order = [2, 0, 1]  # the second file's columns in another order
    body = [",".join(r.split(",")[k] for k in order) for r in rows[16:]]
    header = ",".join(cols[k] for k in order)
    (tmp_path / "b.csv").write_text("\n".join([header, *body]) + "\n")
    one = _fit(str(R / "trees.csv"), "-F", "Volume ~ .")
    two = _fit(str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "-F", "Volume ~ .")
    assert two["features"] == one["features"]
    for f in one["features"]:
        assert two["w"][f] == pytest.approx(one["w"][f], rel=1e-12)


def test_a_level_seen_only_on_dropped_rows_does_not_count(tmp_path):
    text = (R / "coding.csv").read_text().splitlines()
    text.append("1.5,,0.1,zz,u")  # x missing: the row is dropped, and so is level 'zz'
    (tmp_path / "d.csv").write_text("\n".join(text) + "\n")
    with_row = _fit(str(tmp_path / "d.csv"), "-F", "y ~ x + a")
    without = _fit(str(R / "coding.csv"), "-F", "y ~ x + a")
    assert with_row["features"] == without["features"] == ["x", "a[T.q]", "a[T.r]"]
    assert with_row["w"] == without["w"]


def test_c_of_a_column_that_turns_to_text_later(tmp_path):
    """C(a) with numbers for 70,000 rows (two blocks), then text: its levels become text."""
    rng = np.random.default_rng(2)
    n = 70_000
    a = rng.choice([1, 2], n).astype(object)
    a[-10:] = "x"
    yv = rng.normal(size=n) + np.where(a == 2, 1.0, 0.0) + np.where(a == "x", -1.0, 0.0)
    with open(tmp_path / "d.csv", "w") as fh:
        fh.write("y,a\n")
        fh.writelines(f"{float(v)!r},{g}\n" for v, g in zip(yv, a))
    doc = _fit(str(tmp_path / "d.csv"), "-F", "y ~ C(a)")
    assert doc["features"] == ["C(a)[T.2]", "C(a)[T.x]"]
    assert doc["w"]["C(a)[T.2]"] == pytest.approx(yv[a == 2].mean() - yv[a == 1].mean(), rel=1e-9)


def test_formula_limits_are_one_line(tmp_path):
    for formula, code in [
        ("y ~ (x + z)^99999999", 0),
        ("y ~ " + "(" * 400 + "x" + ")" * 400, 2),
        ("y ~ x + -1", 0),
    ]:
        proc = run_cli("fit", R / "coding.csv", "-F", formula, "-f", "json", timeout=60)
        assert proc.returncode == code, (formula[:40], proc.stderr)
        if code:
            assert len(proc.stderr.strip().splitlines()) == 1


def test_tampered_design_columns_are_a_model_error(tmp_path):
    model = tmp_path / "m.json"
    assert run_cli("fit", R / "coding.csv", "-F", "y ~ x + x:a", "--save", model).returncode == 0
    doc = json.loads(model.read_text())
    doc["formula"]["columns"][1][1] = doc["formula"]["columns"][1][1][::-1]
    model.write_text(json.dumps(doc))
    proc = run_cli("predict", model, R / "coding.csv")
    assert proc.returncode == 6 and "'formula'" in proc.stderr


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_formula_round_trip_on_every_sample_file(tmp_path, sample):
    """`target ~ .` fits as the plain fit does, and predict re-applies it to the same rows:
    the predictions are the fitted values of the plain model."""
    header = sample.read_text().splitlines()[0].split(",")
    target = header[-1]
    plain = _fit(str(sample))
    model = tmp_path / "m.json"
    proc = run_cli("fit", sample, "-F", f"{target} ~ .", "--save", model, "--quiet")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(model.read_text())
    assert doc["features"] == plain["features"]
    for f in plain["features"]:
        assert doc["w"][f] == pytest.approx(plain["w"][f], rel=1e-12, abs=1e-12)
    ours = run_cli("predict", model, sample).stdout.splitlines()
    plain_model = tmp_path / "p.json"
    assert run_cli("fit", sample, "--save", plain_model, "--quiet").returncode == 0
    theirs = run_cli("predict", plain_model, sample).stdout.splitlines()
    assert len(ours) == len(theirs) == len(sample.read_text().splitlines())
    for a, b in zip(ours[1:], theirs[1:]):
        assert float(a.rsplit(",", 1)[1]) == pytest.approx(float(b.rsplit(",", 1)[1]), rel=1e-10)
