"""The command line as a user meets it: every sample file, stdin, formats, columns, imports."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT, SAMPLE_FILES, SAMPLES, fit_json, run_cli


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_smoke_every_sample_file(path):
    """The installed `linfit` command on every file in sample_data, in all three formats."""
    exe = shutil.which("linfit", path=str(ROOT / ".venv" / "bin")) or shutil.which("linfit")
    cmd = [exe] if exe else [sys.executable, "-m", "linfit"]
    for fmt in ("table", "json", "csv"):
        proc = subprocess.run(
            [*cmd, "fit", str(path), "--format", fmt], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip()
    table = subprocess.run([*cmd, "fit", str(path)], capture_output=True, text=True).stdout
    header = path.read_text().splitlines()[0].split(",")
    assert f"{header[-1]} ~ {' + '.join(header[:-1])}" in table  # says which columns


def test_stdin_equals_file():
    data = (SAMPLES / "noisy_line.csv").read_text()
    assert fit_json("-", input=data)["w"] == fit_json(SAMPLES / "noisy_line.csv")["w"]


def test_gzip_and_tsv(tmp_path):
    import gzip

    text = (SAMPLES / "multi_feature.csv").read_text()
    gz = tmp_path / "m.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    tsv = tmp_path / "m.tsv"
    tsv.write_text(text.replace(",", "\t"))
    ref = fit_json(SAMPLES / "multi_feature.csv")["w"]
    assert fit_json(gz)["w"] == ref
    assert fit_json(tsv)["w"] == ref
    semi = tmp_path / "m.txt"
    semi.write_text(text.replace(",", ";"))
    assert fit_json(semi, "--sep", ";")["w"] == ref


def test_column_choice_by_name_index_and_list():
    path = SAMPLES / "multi_feature.csv"
    a = fit_json(path, "--x", "x1", "--x", "x3", "--y", "y")
    b = fit_json(path, "--x", "x1,x3", "--y", "3")
    c = fit_json(path, "-x", "0,2")
    assert a["features"] == b["features"] == c["features"] == ["x1", "x3"]
    assert a["w"] == b["w"] == c["w"]
    d = fit_json(path, "--y", "x1")
    assert d["target"] == "x1" and d["features"] == ["x2", "x3", "y"]


def test_json_document_contract():
    doc = fit_json(SAMPLES / "noisy_line.csv")
    for key in (
        "schema",
        "schema_version",
        "method",
        "target",
        "features",
        "w",
        "b",
        "n_samples",
        "metrics",
    ):
        assert key in doc
    assert doc["schema"] == "linfit-model" and doc["schema_version"] == 2
    assert set(doc["metrics"]) >= {"loss", "mse", "rmse", "r2"}
    assert doc["metrics"]["loss"] == pytest.approx(doc["metrics"]["mse"] / 2, rel=1e-15)
    gd = fit_json(SAMPLES / "noisy_line.csv", "--method", "gd", "--epochs", "30")
    assert gd["solver"]["epochs_run"] == 30 and len(gd["history"]) == 4
    proc = run_cli("fit", SAMPLES / "noisy_line.csv", "--json")
    assert proc.stdout.count("\n") == proc.stdout.strip().count("\n") + 1  # one document
    json.loads(proc.stdout)


def test_csv_format_is_one_row():
    proc = run_cli("fit", SAMPLES / "multi_feature.csv", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 1
    doc = fit_json(SAMPLES / "multi_feature.csv")
    assert float(rows[0]["w_x2"]) == doc["w"]["x2"] and float(rows[0]["b"]) == doc["b"]
    assert float(rows[0]["r2"]) == doc["metrics"]["r2"]


def test_notes_go_to_stderr_and_quiet_silences_them(tmp_path):
    p = tmp_path / "d[1].csv"  # brackets are not Rich markup in a notice
    p.write_text("x,y\n1,2\n2,\n3,5\n4,7\n5,8\n")
    proc = run_cli("fit", p, "--json")
    assert "dropped 1 of 5 rows" in proc.stderr and "internal error" not in proc.stderr
    assert json.loads(proc.stdout)["n_samples"] == 4
    assert run_cli("fit", p, "--json", "--quiet").stderr == ""


def test_help_explains_every_command():
    top = run_cli("--help")
    assert top.returncode == 0
    for cmd in ("fit", "predict", "compare"):
        assert cmd in top.stdout
        sub = run_cli(cmd, "--help")
        assert sub.returncode == 0 and "Usage" in sub.stdout
    assert "--method" in run_cli("fit", "--help").stdout
    assert run_cli("--version").stdout.startswith("linfit ")


def test_readme_documents_every_command_and_exit_code():
    readme = (ROOT / "README.md").read_text()
    for cmd in ("linfit fit", "linfit predict", "linfit compare"):
        assert cmd in readme
    from linfit.errors import ExitCode

    for code in ExitCode:
        assert f"| {int(code)} |" in readme, code


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


HEAVY = ("torch", "scipy.stats", "statsmodels", "matplotlib", "plotext", "dask", "sklearn")


def test_help_loads_nothing_heavy():
    mods = _modules_after(
        "import sys\nfrom linfit.cli import app\n"
        "sys.argv=['linfit','--help']\ntry:\n    app()\nexcept SystemExit:\n    pass"
    )
    for heavy in (*HEAVY, "numpy", "pandas"):
        assert heavy not in mods, heavy


def test_plain_fit_loads_no_torch_or_plotting():
    mods = _modules_after(
        "import sys\nfrom linfit.cli import app\n"
        f"sys.argv=['linfit','fit',{str(SAMPLES / 'noisy_line.csv')!r}]\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    for heavy in HEAVY:
        assert heavy not in mods, heavy
    mods = _modules_after(
        "import sys\nfrom linfit.cli import app\n"
        f"sys.argv=['linfit','fit',{str(SAMPLES / 'noisy_line.csv')!r},'--method','gd']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass"
    )
    assert "torch" not in mods


def test_torch_missing_is_a_clear_error(tmp_path):
    """With torch hidden from the import system, --method torch says how to install it."""
    code = (
        "import sys\nsys.modules['torch'] = None\nfrom linfit.cli import app\n"
        f"sys.argv=['linfit','fit',{str(SAMPLES / 'tutorial_code.csv')!r},'--method','torch']\n"
        "app()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 8
    assert proc.stderr.startswith("Error: method 'torch' needs PyTorch")
    assert "pip install 'linfit[torch]'" in proc.stderr


def test_python_dash_m():
    proc = subprocess.run(
        [sys.executable, "-m", "linfit", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "linfit" in proc.stdout


def test_library_api(tmp_path):
    import numpy as np

    import linfit

    m = linfit.fit(str(SAMPLES / "tutorial_points.csv"))
    assert m.w[0] == pytest.approx(1.7, rel=1e-14)
    p = tmp_path / "m.json"
    m.save(str(p))
    np.testing.assert_allclose(linfit.load_model(str(p)).predict([[5.0]]), [8.5], rtol=1e-14)
