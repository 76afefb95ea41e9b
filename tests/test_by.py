"""fit --by: one model per group, against R's lm() on split data (numbers from R 4.2.2).

options(digits = 17)
d <- read.csv("tests/data/r/iris.csv")
for (s in split(d, d$Species)) { m <- lm(Sepal.Length ~ Sepal.Width, s)
  print(unname(c(coef(m), summary(m)$r.squared, summary(m)$coefficients[, 2]))) }
m <- read.csv("tests/data/r/mtcars.csv")
for (s in split(m, m$cyl)) { f <- lm(mpg ~ wt, s)
  print(unname(c(coef(f), summary(f)$r.squared, summary(f)$coefficients[, 2]))) }
for (s in split(m, list(m$am, m$vs))) { f <- lm(mpg ~ wt, s, weights = hp)
  print(unname(c(nrow(s), coef(f), summary(f)$sigma))) }
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from .conftest import run_cli

IRIS = "tests/data/r/iris.csv"
MTCARS = "tests/data/r/mtcars.csv"

# b, w, R², se(b), se(w)
R_IRIS = {
    "setosa": (2.639001249857969356, 0.690489717077604537, 0.551375580392313380,
               0.310014307676222789, 0.089898881306005651),
    "versicolor": (3.53973471502590620, 0.86507772020725393, 0.27658208255293459,
                   0.56287357220963485, 0.20193756618917261),
    "virginica": (3.90683646638671744, 0.90153447666889119, 0.20905727608452895,
                  0.75706053137702312, 0.25310550725196024),
}  # fmt: skip
R_CYL = {
    4: (39.57119601303766387, -5.64702526124226356, 0.50863259632313973,
        4.34658202892692813, 1.85011852932246446),
    6: (28.40884451319547210, -2.78010593915528537, 0.46451015055054817,
        4.18436878840559423, 1.33491729718394381),
    8: (23.86802907599951951, -2.19243792644971824, 0.42296553649611146,
        3.00546185992884674, 0.73923933590810131),
}  # fmt: skip
# (am, vs): n, b, w, sigma — weighted by hp
R_AM_VS = {
    (0, 0): (12, 24.5492389885000541, -2.3374454351130476, 30.4006543689257001),
    (0, 1): (7, 31.947096379793631, -3.597740167898162, 21.796984051843598),
    (1, 0): (6, 40.7979167059580377, -7.4277202296102764, 17.0764274120740644),
    (1, 1): (7, 43.9673137358214703, -7.8778237048386934, 30.8155591562125153),
}

# mpg ~ wt + factor(am), weights = hp, by cyl: n, b, w[wt], w[am 1], R²
R_FORMULA_CYL = {
    4: (11, 39.22276770489616382, -5.70314276191680491, 0.07296361048268532, 0.53444763361807468),
    6: (7, 44.92020477396465594, -7.61437470863919774, -3.49975684320562985, 0.58851702417205476),
    8: (14, 24.52473920339440383, -2.33155420080208131, -1.25954166413480984, 0.44746443080824688),
}
R_FORMULA_G = {
    "a": (11, 38.96649946997352032, -5.47410544121755294, 0.28799236735302902),
    "b": (19, 28.24566234505613238, -3.10220045731001592, 0.86756658149960553),
}


def close(a, b, tol=1e-9):
    return math.isclose(a, b, rel_tol=tol, abs_tol=0.0)


def fit_json(*args):
    r = run_cli("fit", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def check(doc, ref):
    b, w, r2, se_b, se_w = ref
    coef = list(doc["stats"]["coef"].values())
    assert close(doc["b"], b) and close(list(doc["w"].values())[0], w)
    assert close(doc["stats"]["fit"]["r2"], r2)
    assert close(coef[0]["se"], se_b) and close(coef[1]["se"], se_w)


def test_iris_by_species_matches_r():
    doc = fit_json(IRIS, "-x", "Sepal.Width", "-y", "Sepal.Length", "--by", "Species")
    assert doc["by"] == ["Species"]
    assert [g["group"]["Species"] for g in doc["groups"]] == list(R_IRIS)
    for g in doc["groups"]:
        check(g, R_IRIS[g["group"]["Species"]])
        assert g["n_samples"] == 50


def test_mtcars_by_cyl_matches_r_and_sorts_numbers_as_numbers():
    doc = fit_json(MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl")
    assert [g["group"]["cyl"] for g in doc["groups"]] == [4, 6, 8]  # numbers, in order
    for g in doc["groups"]:
        check(g, R_CYL[g["group"]["cyl"]])


def test_two_by_columns_and_weights():
    doc = fit_json(MTCARS, "-x", "wt", "-y", "mpg", "--by", "am,vs", "--weights", "hp")
    assert [(g["group"]["am"], g["group"]["vs"]) for g in doc["groups"]] == list(R_AM_VS)
    for g in doc["groups"]:
        n, b, w, sigma = R_AM_VS[(g["group"]["am"], g["group"]["vs"])]
        assert g["n_samples"] == n and g["weights"] == "hp"
        assert close(g["b"], b) and close(g["w"]["wt"], w)
        assert close(g["stats"]["fit"]["sigma"], sigma)
    again = fit_json(MTCARS, "-x", "wt", "-y", "mpg", "--by", "am", "--by", "vs", "--weights", "hp")
    assert again["groups"] == doc["groups"]


def test_csv_and_table():
    r = run_cli("fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl", "-f", "csv")
    assert r.returncode == 0
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["cyl", "n", "b", "w_wt", "r2", "error"]
    assert [row[0] for row in rows[1:]] == ["4", "6", "8"]
    for row in rows[1:]:
        ref = R_CYL[int(row[0])]
        assert close(float(row[2]), ref[0]) and close(float(row[3]), ref[1])
    r = run_cli("fit", MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl")
    assert r.returncode == 0 and "by cyl" in r.stdout and "39.57" in r.stdout


def test_several_files_equal_one(tmp_path):
    lines = Path(MTCARS).read_text().splitlines()
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("\n".join(lines[:15]) + "\n")
    b.write_text("\n".join([lines[0], *lines[15:]]) + "\n")
    one = fit_json(MTCARS, "-x", "wt", "-y", "mpg", "--by", "cyl")
    two = fit_json(a, b, "-x", "wt", "-y", "mpg", "--by", "cyl")
    for g1, g2 in zip(one["groups"], two["groups"]):
        assert g1["group"] == g2["group"] and g1["n_samples"] == g2["n_samples"]
        assert close(g1["b"], g2["b"], 1e-12) and close(g1["w"]["wt"], g2["w"]["wt"], 1e-12)


def test_a_failing_group_reports_its_error_and_exits_1(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("g,x,y\na,1,2\na,2,4.1\na,3,5.9\nb,1,1\nc,5,1\nc,6,3\nc,7,4\n")
    r = run_cli("fit", path, "-x", "x", "-y", "y", "--by", "g", "-f", "csv")
    assert r.returncode == 1
    rows = {row[0]: row for row in csv.reader(io.StringIO(r.stdout))}
    assert rows["b"][-1] and "row" in rows["b"][-1]  # the error, in its row
    assert rows["a"][-1] == "" and rows["c"][-1] == ""
    r = run_cli("fit", path, "-x", "x", "-y", "y", "--by", "g", "--json")
    assert r.returncode == 1
    groups = json.loads(r.stdout)["groups"]
    assert "error" in groups[1] and "w" in groups[0]


def test_missing_group_value_drops_the_row_and_limits(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("g,x,y\na,1,2\na,2,4.1\na,3,5.9\n,4,8\nb,1,1\nb,2,3\nb,3,4\n")
    r = run_cli("fit", path, "-x", "x", "-y", "y", "--by", "g", "--json")
    assert r.returncode == 0 and "dropped 1" in r.stderr
    r = run_cli("fit", path, "-x", "x", "-y", "y", "--by", "g", "--max-groups", "1")
    assert r.returncode == 4 and "--max-groups" in r.stderr


@pytest.mark.parametrize(
    "extra",
    [("--method", "torch"), ("--plot",)],
)
def test_refused_combinations(tmp_path, extra):
    path = tmp_path / "g.csv"
    path.write_text("g,x,y\na,1,2\na,2,4.1\na,3,5.9\n")
    r = run_cli("fit", path, "-x", "x", "-y", "y", "--by", "g", *extra, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "--by" in r.stderr


def test_by_column_cannot_be_a_feature():
    r = run_cli("fit", MTCARS, "-x", "wt,cyl", "-y", "mpg", "--by", "cyl")
    assert r.returncode == 4 and "--by" in r.stderr


def test_formula_by_matches_r():
    doc = fit_json(MTCARS, "-F", "mpg ~ wt + C(am)", "--by", "cyl", "--weights", "hp")
    assert [g["group"]["cyl"] for g in doc["groups"]] == [4, 6, 8]
    for g in doc["groups"]:
        n, b, w, a, r2 = R_FORMULA_CYL[g["group"]["cyl"]]
        assert g["n_samples"] == n and g["formula"] is not None
        assert close(g["b"], b) and close(g["w"]["wt"], w) and close(g["w"]["C(am)[T.1]"], a)
        assert close(g["stats"]["fit"]["r2"], r2)


def test_formula_by_levels_per_group(tmp_path):
    """Each group has its own levels, as R's lm on the group's rows: a group where the
    factor has one level fails (R: "contrasts can be applied only to factors with 2 or more
    levels") and says so in its row; the others are fitted."""
    d = pd.read_csv(MTCARS)
    d["g"] = ["a" if c == 4 else "b" for c in d["cyl"]]
    d.loc[(d["cyl"] == 8) & (d["am"] == 1), "g"] = "c"
    path = tmp_path / "g.csv"
    d.to_csv(path, index=False)
    r = run_cli("fit", path, "-F", "mpg ~ wt + C(am)", "--by", "g", "--json")
    assert r.returncode == 1
    groups = {g["group"]["g"]: g for g in json.loads(r.stdout)["groups"]}
    for key, (n, b, w, a) in R_FORMULA_G.items():
        g = groups[key]
        assert g["n_samples"] == n and close(g["b"], b) and close(g["w"]["wt"], w)
        assert close(g["w"]["C(am)[T.1]"], a)
    assert "1 level" in groups["c"]["error"]


@pytest.mark.parametrize("late", [False, True])
def test_long_ids_are_never_merged_into_one_group(tmp_path, late):
    """Ids of 16+ digits read as one float64 (9007199254740992 and …993 do): they are keys as
    text, never one group, whether the file starts with them or only has them after the rows
    that decided the numeric pass (first 4,096)."""
    ids = ["9007199254740993", "9007199254740992"]
    rows = ["g,x,y"]
    if late:
        rows += [f"{i % 3},{i % 7},{2 * (i % 7) + i % 3}" for i in range(5000)]
    for i in range(60):
        g, x = ids[i % 2], i // 2
        rows.append(f"{g},{x},{5 * x if g == ids[0] else -5 * x + 1}")
    path = tmp_path / "ids.csv"
    path.write_text("\n".join(rows) + "\n")
    proc = run_cli("fit", str(path), "--by", "g", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    got = {r["g"]: r for r in csv.DictReader(io.StringIO(proc.stdout))}
    assert set(ids) <= set(got)
    assert float(got[ids[0]]["w_x"]) == pytest.approx(5) and got[ids[0]]["n"] == "30"
    assert float(got[ids[1]]["w_x"]) == pytest.approx(-5) and got[ids[1]]["n"] == "30"
    model = tmp_path / "m.json"
    assert run_cli("fit", str(path), "--by", "g", "--save", str(model)).returncode == 0
    new = tmp_path / "new.csv"
    new.write_text(f"g,x\n{ids[0]},2\n{ids[1]},2\n")
    out = run_cli("predict", str(model), str(new)).stdout.splitlines()
    assert [float(r.split(",")[-1]) for r in out[1:]] == pytest.approx([10, -9])


def test_too_many_groups_says_where_in_one_line(tmp_path):
    """Every reading path words the --max-groups error alike: the file, the limit, the line
    that starts one group too many (or that the files add up)."""
    tail = "; raise --max-groups, or group by fewer or coarser columns\n"
    text = tmp_path / "t.csv"
    text.write_text("g,x,y\na,1,1\na,2,3\nb,1,1\nb,2,5\nc,1,2\nc,2,2\n")
    nums = tmp_path / "n.csv"
    nums.write_text(text.read_text().replace("a,", "1,").replace("b,", "2,").replace("c,", "3,"))
    for path, extra in [(text, []), (nums, []), (text, ["-F", "y ~ x"])]:
        args = extra or ["-x", "x", "-y", "y"]
        r = run_cli("fit", path, *args, "--by", "g", "--max-groups", "2")
        assert r.returncode == 4
        assert r.stderr == f"Error: {path}: more than 2 groups of g (line 6 starts another){tail}"
    more = tmp_path / "m.csv"
    more.write_text("g,x,y\nz,1,1\nz,2,3\n")
    r = run_cli("fit", text, more, "-x", "x", "-y", "y", "--by", "g", "--max-groups", "3")
    assert r.returncode == 4
    assert r.stderr == f"Error: {more}: more than 3 groups of g in the files together{tail}"
