"""The Dask engine: a real scheduler and workers on 127.0.0.1, started and stopped here."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import DATA, ROOT, SAMPLES, fit_json, run_cli

pytest.importorskip("distributed")
DASK = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
PARTS = SAMPLES / "parts"
DATA_R = DATA / "r"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1 (one thread each)."""
    if DASK is None:
        pytest.skip("the dask command is not installed")
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("dask") / "log.txt"
    out = open(log, "w")  # noqa: SIM115
    # `dask worker` imports linfit from PYTHONPATH, not from the tests' folder: this checkout's
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    sched = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=out,
        stderr=out,
        env=env,
    )
    workers = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        for _ in range(2):
            workers.append(
                subprocess.Popen(
                    [
                        DASK,
                        "worker",
                        addr,
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--no-nanny",
                        "--host",
                        "127.0.0.1",
                    ],
                    stdout=out,
                    stderr=out,
                    env=env,
                )
            )
        from distributed import Client

        with Client(addr, timeout=60) as c:
            c.wait_for_workers(2, timeout=60)
        yield {"address": addr, "workers": workers, "log": log}
    finally:
        for p in [*workers, sched]:
            if p.poll() is None:
                p.terminate()
        for p in [*workers, sched]:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        out.close()


def test_local_cluster_matches_local_engine():
    """The issue's example: the parts through dask give the concatenated file's fit."""
    local = fit_json(SAMPLES / "multi_feature.csv")
    proc = run_cli(
        "fit", PARTS / "*.csv", "--engine", "dask", "--workers", "2", "--json", timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["n_samples"] == local["n_samples"] == 2000
    for f in local["features"]:
        assert doc["w"][f] == pytest.approx(local["w"][f], rel=1e-12)
    assert doc["b"] == pytest.approx(local["b"], rel=1e-12)
    assert doc["metrics"]["cond"] == pytest.approx(local["metrics"]["cond"], rel=1e-9)
    for key in ("se", "p"):
        assert doc["stats"]["coef"]["x1"][key] == pytest.approx(
            local["stats"]["coef"]["x1"][key], rel=1e-9
        )
    # well conditioned: certified from the merged factor, so no refinement and no note
    assert doc["solver"]["refined"] is False and doc["solver"]["error_bound"] < 1e-15
    assert "note:" not in proc.stderr


def test_local_engine_reads_a_glob_as_one_data_set():
    whole = fit_json(SAMPLES / "multi_feature.csv")
    parts = fit_json(PARTS / "*.csv")
    assert parts["w"] == pytest.approx(whole["w"], rel=1e-13)
    directory = fit_json(PARTS)
    assert directory["w"] == parts["w"]
    listed = fit_json(*sorted(PARTS.glob("*.csv")))
    assert listed["w"] == parts["w"]


def _make_parts(folder: Path, files: int, rows: int) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(42)
    w = np.array([1.5, -0.5])
    for k in range(files):
        X = rng.uniform(0, 100, (rows, 2))
        y = 7 + X @ w + rng.normal(0, 1, rows)
        np.savetxt(
            folder / f"part-{k:02d}.csv",
            np.column_stack([X, y]),
            delimiter=",",
            header="a,b,y",
            comments="",
            fmt="%.17g",
        )
    return w, 7.0


def test_real_scheduler_fit_and_gd(scheduler, tmp_path):
    _make_parts(tmp_path, 6, 2000)
    local = fit_json(tmp_path / "*.csv")
    doc = fit_json(
        tmp_path / "*.csv", "--engine", "dask", "--scheduler", scheduler["address"], timeout=300
    )
    for f in ("a", "b"):
        assert doc["w"][f] == pytest.approx(local["w"][f], rel=1e-12)
    gd = fit_json(
        tmp_path / "*.csv",
        "--engine",
        "dask",
        "--scheduler",
        scheduler["address"],
        "--method",
        "gd",
        "--epochs",
        "400",
        timeout=300,
    )
    assert gd["w"]["a"] == pytest.approx(local["w"]["a"], rel=1e-9)


def test_predict_writes_one_file_per_partition(scheduler, tmp_path):
    model = tmp_path / "m.json"
    assert run_cli("fit", SAMPLES / "multi_feature.csv", "--save", model, "--quiet").returncode == 0
    out = tmp_path / "out"
    proc = run_cli(
        "predict",
        model,
        PARTS / "*.csv",
        "--engine",
        "dask",
        "--scheduler",
        scheduler["address"],
        "-o",
        out,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    files = sorted(out.iterdir())
    assert len(files) == 4
    lines = []
    for f in files:
        rows = f.read_text().splitlines()
        assert rows[0] == "x1,x2,x3,y,y_pred"
        lines += rows[1:]
    local = run_cli("predict", model, SAMPLES / "multi_feature.csv").stdout.splitlines()[1:]
    assert lines == local  # same rows, same order, same predictions


def test_killed_worker_still_gives_the_right_fit(scheduler, tmp_path):
    _make_parts(tmp_path, 16, 40_000)
    local = fit_json(tmp_path / "*.csv", timeout=300)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "linfit",
            "fit",
            str(tmp_path / "*.csv"),
            "--engine",
            "dask",
            "--scheduler",
            scheduler["address"],
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    from distributed import Client

    with Client(scheduler["address"], timeout=60) as watch:  # kill once tasks are running
        deadline = time.time() + 120
        while time.time() < deadline and not any(watch.processing().values()):
            time.sleep(0.02)
        running = any(watch.processing().values())
    victim = scheduler["workers"][0]
    victim.send_signal(signal.SIGKILL)
    assert running, "the fit finished before a worker could be killed"
    out, err = proc.communicate(timeout=300)
    assert "Traceback" not in err
    if proc.returncode == 0:
        doc = json.loads(out)
        assert doc["n_samples"] == 16 * 40_000
        assert doc["w"]["a"] == pytest.approx(local["w"]["a"], rel=1e-12)
        assert doc["b"] == pytest.approx(local["b"], rel=1e-12)
    else:  # never a wrong answer: one clear line instead
        errors = [ln for ln in err.splitlines() if ln.startswith("Error:")]
        assert len(errors) == 1 and out == ""


def test_dask_refuses_row_methods_and_stdin():
    proc = run_cli("fit", PARTS / "*.csv", "--engine", "dask", "--method", "torch")
    assert proc.returncode == 2 and "use --engine local" in proc.stderr
    proc = run_cli("fit", "-", "--engine", "dask", input="x,y\n1,2\n")
    assert proc.returncode == 2 and proc.stderr.startswith("Error: --engine dask reads files")


def test_unreachable_scheduler():
    port = _free_port()
    proc = run_cli(
        "fit",
        PARTS / "*.csv",
        "--engine",
        "dask",
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        timeout=120,
    )
    assert proc.returncode == 8
    assert proc.stderr.startswith(
        f"Error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"
    )


def test_missing_dask_is_a_clear_error():
    code = (
        "import sys\nsys.modules['distributed'] = None\nfrom linfit.cli import app\n"
        f"sys.argv=['linfit','fit',{str(PARTS / '*.csv')!r},'--engine','dask']\napp()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
    )
    assert proc.returncode == 8
    assert "pip install 'linfit[dask]'" in proc.stderr


def test_formula_on_dask_matches_local_and_predicts(scheduler, tmp_path):
    """Levels first seen in different files and partitions merge by meaning on the cluster."""
    rows = (DATA_R / "warpbreaks.csv").read_text().splitlines()
    head, body = rows[0], rows[1:]
    for k, chunk in enumerate([body[:10], body[10:30], body[30:]]):  # 'B' only from row 28
        (tmp_path / f"w{k}.csv").write_text("\n".join([head, *chunk]) + "\n")
    formula = "log(breaks) ~ wool * tension"
    local = fit_json(tmp_path / "w*.csv", "-F", formula)
    doc = fit_json(
        tmp_path / "w*.csv",
        "-F",
        formula,
        "--engine",
        "dask",
        "--scheduler",
        scheduler["address"],
        timeout=300,
    )
    assert doc["features"] == local["features"]
    for f in local["features"]:
        assert doc["w"][f] == pytest.approx(local["w"][f], rel=1e-12, abs=1e-12)
    assert doc["b"] == pytest.approx(local["b"], rel=1e-12)
    model = tmp_path / "m.json"
    assert run_cli("fit", tmp_path / "w*.csv", "-F", formula, "--save", model).returncode == 0
    out = tmp_path / "out"
    proc = run_cli(
        "predict",
        model,
        tmp_path / "w*.csv",
        "--engine",
        "dask",
        "--scheduler",
        scheduler["address"],
        "-o",
        out,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    got = [ln for f in sorted(out.iterdir()) for ln in f.read_text().splitlines()[1:]]
    want = []
    for k in range(3):
        want += run_cli("predict", model, tmp_path / f"w{k}.csv").stdout.splitlines()[1:]
    assert got == want
