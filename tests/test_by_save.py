"""fit --by --save: one file holds every group's model; predict applies each row's group's.

Round trips compare a grouped model's predictions with those of models fitted on each
group's rows alone (the same fit, so equal to 1e-12), with intervals, a formula and weights.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linfit.errors import ModelFileError
from linfit.grouped_model import GroupedModel, load_any

from .conftest import run_cli

MTCARS = "tests/data/r/mtcars.csv"
IRIS = "tests/data/r/iris.csv"
V1 = Path(__file__).resolve().parent / "data" / "model_v1"


def cli_ok(*args, **kw):
    r = run_cli(*args, **kw)
    assert r.returncode == 0, r.stderr
    return r


def read(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def floats(col: pd.Series) -> np.ndarray:
    return np.array([np.nan if v == "" else float(v) for v in col])


def per_group_predictions(tmp_path, data, group_cols, fit_args, predict_args):
    """Each group's rows fitted alone and predicted alone: the reference, by row position."""
    frame = pd.read_csv(data)
    out = {}
    for key, sub in frame.groupby(group_cols):
        name = "_".join(str(k) for k in np.atleast_1d(key))
        part = tmp_path / f"part_{name}.csv"
        sub.to_csv(part, index=False)
        model = tmp_path / f"m_{name}.json"
        cli_ok("fit", part, *fit_args, "--save", model)
        got = read(cli_ok("predict", model, part, *predict_args).stdout)
        for pos, (_, row) in zip(sub.index, got.iterrows()):
            out[pos] = row
    return out


@pytest.mark.parametrize(
    ("fit_args", "by"),
    [
        (["-x", "wt", "-y", "mpg"], "cyl"),
        (["-x", "wt,hp", "-y", "mpg", "--weights", "qsec"], "am,vs"),
        (["-F", "mpg ~ wt + C(am)", "--weights", "hp"], "cyl"),
    ],
    ids=["plain", "weights-two-columns", "formula-weights"],
)
@pytest.mark.parametrize("interval", ["confidence", "prediction"])
def test_round_trip_equals_per_group_fits(tmp_path, fit_args, by, interval):
    model = tmp_path / "g.json"
    r = cli_ok("fit", MTCARS, *fit_args, "--by", by, "--save", model)
    assert "groups]" in r.stdout
    args = ["--interval", interval]
    got = read(cli_ok("predict", model, MTCARS, *args).stdout)
    want = per_group_predictions(tmp_path, MTCARS, by.split(","), fit_args, args)
    original = read(Path(MTCARS).read_text())
    pd.testing.assert_frame_equal(got[original.columns], original)  # every row, in order
    assert len(want) == len(got) == 32
    for col in ("mpg_pred", "mpg_pred_lower", "mpg_pred_upper"):
        a = floats(got[col])
        b = np.array([float(want[i][col]) for i in range(len(got))])
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    doc = json.loads(model.read_text())
    assert doc["by"] == by.split(",") and doc["schema_version"] == 2
    printed = json.loads(cli_ok("fit", MTCARS, *fit_args, "--by", by, "--json").stdout)
    assert printed == doc  # --json prints what --save writes


def test_groups_match_as_the_fit_matched_them(tmp_path):
    """Numbers as numbers (4, 4.0 and 4e0 are one group), text as text (stripped)."""
    model = tmp_path / "g.json"
    cli_ok("fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "--save", model)
    new = tmp_path / "new.csv"
    new.write_text("wt,cyl\n3,4\n3,4.0\n3, 4e0\n3,04\n3,6\n")
    pred = floats(read(cli_ok("predict", model, new).stdout)["mpg_pred"])
    assert pred[0] == pred[1] == pred[2] == pred[3] != pred[4]
    cli_ok("fit", IRIS, "-x", "Sepal.Width", "-y", "Sepal.Length", "--by", "Species",
           "--save", model)  # fmt: skip
    new.write_text("Sepal.Width,Species\n3,setosa\n3, setosa \n3,Setosa\n")
    r = cli_ok("predict", model, new)
    pred = floats(read(r.stdout)["Sepal.Length_pred"])
    assert pred[0] == pred[1] and np.isnan(pred[2])  # text matches exactly (case too)
    assert "1 of 3 rows have a group the model does not hold (first at line 4)" in r.stderr


def test_fit_grouping_takes_numbers_as_numbers(tmp_path):
    """4 and 4.0 in one file are one group at fit time too (R reads the column as numbers)."""
    d = pd.read_csv(MTCARS)
    text = d.astype(str)
    text.loc[text.index[::2], "cyl"] = text.loc[text.index[::2], "cyl"] + ".0"
    path = tmp_path / "c.csv"
    text.to_csv(path, index=False)
    a = json.loads(cli_ok("fit", path, "-x", "wt", "-y", "mpg", "--by", "cyl", "--json").stdout)
    b = json.loads(cli_ok("fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "--json").stdout)
    assert [g["group"] for g in a["groups"]] == [{"cyl": 4}, {"cyl": 6}, {"cyl": 8}]
    assert [g["w"]["wt"] for g in a["groups"]] == pytest.approx([g["w"]["wt"] for g in b["groups"]])


def test_unseen_missing_and_failed_groups_predict_empty(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("g,x,y\na,1,2\na,2,4.1\na,3,5.9\nb,1,1\nc,5,1\nc,6,3\nc,7,4\n")
    model = tmp_path / "g.json"
    r = run_cli("fit", data, "-x", "x", "-y", "y", "--by", "g", "--save", model)
    assert r.returncode == 1  # group b failed, and the file is still written
    doc = json.loads(model.read_text())
    assert "error" in doc["groups"][1] and doc["groups"][1]["group"] == {"g": "b"}
    new = tmp_path / "new.csv"
    new.write_text("g,x\nc,1\nb,2\nz,3\n,4\na,5\na,\nz,6\n")
    r = cli_ok("predict", model, new)
    got = read(r.stdout)
    assert list(got["g"]) == ["c", "b", "z", "", "a", "a", "z"]  # every row, in order
    pred = floats(got["y_pred"])
    assert np.isfinite(pred[[0, 4]]).all() and np.isnan(pred[[1, 2, 3, 5, 6]]).all()
    assert "2 of 7 rows have a group the model does not hold (first at line 4)" in r.stderr
    assert "1 of 7 rows have a group whose fit failed (first at line 3)" in r.stderr
    assert "1 of 7 rows have a missing value in a group column (g) (first at line 5)" in r.stderr
    assert "1 of 7 rows have a missing feature value (first at line 7)" in r.stderr


def test_predict_json_lines_and_column_name(tmp_path):
    model = tmp_path / "g.json"
    cli_ok("fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "--save", model)
    r = cli_ok("predict", model, MTCARS, "-f", "json", "--column", "p")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 32 and all(isinstance(row["p"], float) for row in rows)
    out = tmp_path / "out.csv"
    cli_ok("predict", model, MTCARS, "-o", out)
    assert out.read_text() == cli_ok("predict", model, MTCARS).stdout


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (["--score"], 2, "--score"),
        (["--diagnostics"], 2, "--diagnostics"),
        (["--engine", "dask", "-o", "{tmp}/out"], 2, "--engine"),
    ],
)
def test_grouped_predict_refusals(tmp_path, extra, code, words):
    model = tmp_path / "g.json"
    cli_ok("fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "--save", model)
    r = run_cli("predict", model, MTCARS, *[e.format(tmp=tmp_path) for e in extra])
    assert r.returncode == code and words in r.stderr
    assert r.stderr.startswith("Error: ") and len(r.stderr.strip().splitlines()) == 1


def test_missing_group_column_in_the_data(tmp_path):
    model = tmp_path / "g.json"
    cli_ok("fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "--save", model)
    new = tmp_path / "new.csv"
    new.write_text("wt\n3\n")
    r = run_cli("predict", model, new)
    assert r.returncode == 4 and "group column 'cyl' is not in the data" in r.stderr


def test_interval_needs_every_group_s_inference(tmp_path):
    model = tmp_path / "g.json"
    cli_ok("fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "--no-stats", "--save", model)
    r = run_cli("predict", model, MTCARS, "--interval", "confidence")
    assert r.returncode == 6 and "group 'cyl=4' has no 'inference' block" in r.stderr
    cli_ok("predict", model, MTCARS)


# -- older versions ------------------------------------------------------------------------
def test_groups_of_version_1_documents_are_read(tmp_path):
    """A grouped file's entries are model documents: version-1 ones load (and predict) as a
    version-1 file does, and a single model file still loads as a single model."""
    v1 = json.loads((V1 / "model.json").read_text())
    assert v1["schema_version"] == 1
    doc = {
        "schema": "linfit-model",
        "schema_version": 2,
        "target": "y",
        "by": ["g"],
        "groups": [{**v1, "group": {"g": 1}}, {**v1, "group": {"g": "two"}}],
    }
    model = tmp_path / "g.json"
    model.write_text(json.dumps(doc))
    data = pd.read_csv(V1 / "data.csv", dtype=str)
    data.insert(0, "g", ["1", "two"] * (len(data) // 2))
    path = tmp_path / "d.csv"
    data.to_csv(path, index=False)
    got = read(cli_ok("predict", model, path, "--interval", "prediction").stdout)
    want = read((V1 / "pred_prediction.csv").read_text())
    for col in ("y_pred", "y_pred_lower", "y_pred_upper"):
        np.testing.assert_allclose(floats(got[col]), floats(want[col]), rtol=1e-13, atol=0)
    m = load_any(str(model))
    assert isinstance(m, GroupedModel) and list(m.entries[0].model.stats["coef"])[0] == (
        "(Intercept)"
    )
    assert not isinstance(load_any(str(V1 / "model.json")), GroupedModel)


# -- damaged files -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    data = folder / "d.csv"
    data.write_text("g,x,y\na,1,2\na,2,4.1\na,3,5.9\nb,1,1\nc,5,1\nc,6,3\nc,7,4\n")
    model = folder / "g.json"
    run_cli("fit", data, "-x", "x", "-y", "y", "--by", "g", "--save", model)
    return json.loads(model.read_text())


def _set(path: str, value):
    def change(doc):
        *head, last = path.split(".")
        at = doc
        for k in head:
            at = at[int(k)] if isinstance(at, list) else at[k]
        if value is KeyError:
            del at[last]
        elif isinstance(at, list):
            at[int(last)] = value
        else:
            at[last] = value
        return doc

    return change


DAMAGE = {
    "by-not-list": (_set("by", "g"), "'by'"),
    "by-empty": (_set("by", []), "'by'"),
    "by-twice": (_set("by", ["g", "g"]), "'by'"),
    "by-number": (_set("by", [1]), "'by'"),
    "target-missing": (_set("target", KeyError), "'target'"),
    "groups-missing": (_set("groups", KeyError), "'groups'"),
    "groups-empty": (_set("groups", []), "'groups'"),
    "groups-object": (_set("groups", {}), "'groups'"),
    "entry-not-object": (_set("groups.0", [1, 2]), "'groups[0]'"),
    "group-missing": (_set("groups.0.group", KeyError), "'groups[0].group'"),
    "group-other-column": (_set("groups.0.group", {"h": "a"}), "'groups[0].group'"),
    "group-value-bool": (_set("groups.0.group.g", True), "'groups[0].group.g'"),
    "group-value-null": (_set("groups.0.group.g", None), "'groups[0].group.g'"),
    "group-value-list": (_set("groups.0.group.g", ["a"]), "'groups[0].group.g'"),
    "group-twice": (_set("groups.2.group.g", "a"), "'groups[2].group'"),
    "error-not-text": (_set("groups.1.error", 3), "'groups[1].error'"),
    "error-n-negative": (_set("groups.1.n_samples", -1), "'groups[1].n_samples'"),
    "model-w-text": (_set("groups.0.w.x", "1"), "group 'g=a'"),
    "model-version": (_set("groups.2.schema_version", 99), "group 'g=c'"),
    "model-target": (_set("groups.2.target", "z"), "'groups[2].target'"),
    "model-inference": (_set("groups.0.inference.r", [[1.0]]), "'inference.r'"),
    "top-version": (_set("schema_version", 3), "schema version 3"),
    "top-schema": (_set("schema", "other"), "not a linfit model"),
    "source-number": (_set("source", 5), "'source'"),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_damaged_grouped_files_are_one_line_exit_6(tmp_path, good, name):
    change, words = DAMAGE[name]
    model = tmp_path / "bad.json"
    model.write_text(json.dumps(change(copy.deepcopy(good))))
    with pytest.raises(ModelFileError):
        load_any(str(model))
    data = tmp_path / "d.csv"
    data.write_text("g,x\na,1\n")
    r = run_cli("predict", model, data)
    assert r.returncode == 6, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], lines


def test_the_good_document_loads(good, tmp_path):
    model = tmp_path / "g.json"
    model.write_text(json.dumps(good))
    m = load_any(str(model))
    assert [e.key for e in m.entries] == [("a",), ("b",), ("c",)]
    assert m.entries[1].model is None and m.entries[1].error
    assert json.loads(json.dumps(m.to_doc()))["groups"][0]["w"] == good["groups"][0]["w"]


# -- the numeric pass and the text pass make the same groups --------------------------------
def test_numeric_group_columns_and_text_further_on(tmp_path):
    """Group columns of numbers are read with the features (linfit.groups_numeric); a file
    whose group column turns to text after the first rows is read by the text pass. Both
    give the groups the text pass gives."""
    rng = np.random.default_rng(1)
    n = 6000
    g = rng.integers(0, 3, n)
    x = rng.random(n)
    y = 1 + g + (2 + g) * x + rng.normal(0, 0.1, n)
    d = pd.DataFrame({"g": g, "h": g % 2, "x": x, "y": y})
    numeric = tmp_path / "n.csv"
    d.to_csv(numeric, index=False)
    text = tmp_path / "t.csv"
    late = pd.DataFrame({"g": ["late"] * 5, "h": [0, 1, 0, 1, 0], "x": x[:5], "y": y[:5]})
    pd.concat([d.astype(str), late.astype(str)]).to_csv(text, index=False)  # after the probe
    for by in ("g", "g,h"):
        a = json.loads(cli_ok("fit", numeric, "-x", "x", "-y", "y", "--by", by, "--json").stdout)
        b = json.loads(cli_ok("fit", text, "-x", "x", "-y", "y", "--by", by, "--json").stdout)
        assert {x["group"]["g"] for x in b["groups"]} == {0, 1, 2, "late"}
        b_numbers = [x for x in b["groups"] if x["group"]["g"] != "late"]
        assert [x["group"] for x in a["groups"]] == [x["group"] for x in b_numbers]
        for ga, gb in zip(a["groups"], b_numbers):
            assert ga["n_samples"] == gb["n_samples"]
            assert ga["w"]["x"] == pytest.approx(gb["w"]["x"], rel=1e-12)
            assert ga["b"] == pytest.approx(gb["b"], rel=1e-12)
