"""Faults: Ctrl-C, a closed pipe, a full disk or a refused write. Nothing half-written."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, SAMPLES, run_cli

CMD = [sys.executable, "-m", "linfit"]


def _interrupt(
    args: list[str], wait_for: float = 1.5, env: dict | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(
        [*CMD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    time.sleep(wait_for)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_ctrl_c_during_long_gd_leaves_old_model(tmp_path):
    model = tmp_path / "m.json"
    model.write_text("old model\n")
    res = _interrupt(
        [
            "fit",
            str(SAMPLES / "noisy_line.csv"),
            "--method",
            "gd",
            "--epochs",
            "100000000",
            "--tol",
            "0",
            "--save",
            str(model),
            "--quiet",
        ],
        4.0,
    )
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip().splitlines() == ["Error: interrupted; no output file was written"]
    assert model.read_text() == "old model\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_ctrl_c_during_long_predict_leaves_no_file(tmp_path):
    model = tmp_path / "m.json"
    assert run_cli("fit", SAMPLES / "noisy_line.csv", "--save", model, "--quiet").returncode == 0
    big = tmp_path / "big.csv"
    line = (SAMPLES / "noisy_line.csv").read_text().split("\n", 1)[1]
    with open(big, "w") as fh:
        fh.write("x,y\n")
        for _ in range(800):
            fh.write(line)
    out = tmp_path / "out.csv"
    # the pandas path: the fast one (linfit.predict_fast) is done before the signal comes
    res = _interrupt(
        ["predict", str(model), str(big), "-o", str(out)], 3.0, {"LINFIT_READER": "pandas"}
    )
    assert res.returncode == 130, res.stderr
    assert "Error: interrupted" in res.stderr and "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "m.json"]


def test_closed_pipe_is_quiet(tmp_path):
    model = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "noisy_line.csv", "--save", model, "--quiet")
    big = tmp_path / "big.csv"
    line = (SAMPLES / "noisy_line.csv").read_text().split("\n", 1)[1]
    big.write_text("x,y\n" + line * 40)
    proc = subprocess.Popen(
        [*CMD, "predict", str(model), str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first.startswith(b"x,y,y_pred")
    assert err == ""
    assert proc.returncode == 141


def test_shell_pipeline_head(tmp_path):
    model = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "noisy_line.csv", "--save", model, "--quiet")
    shell = f"{sys.executable} -m linfit predict {model} {SAMPLES / 'noisy_line.csv'} | head -1"
    res = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, cwd=ROOT)
    assert res.stdout == "x,y,y_pred\n" and res.stderr == ""


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EACCES])
def test_disk_full_or_refused_save_keeps_previous_model(tmp_path, monkeypatch, capsys, err):
    """A failing write while saving is one clear line, and the previous model survives."""
    from typer.testing import CliRunner

    from linfit import atomic
    from linfit.cli import app

    model = tmp_path / "m.json"
    model.write_text("previous\n")

    def fail(fd):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(atomic.os, "fsync", fail)
    result = CliRunner().invoke(
        app, ["fit", str(SAMPLES / "noisy_line.csv"), "--save", str(model), "--quiet"]
    )
    assert result.exit_code == 7
    why = "the disk is full" if err == errno.ENOSPC else "permission denied"
    assert f"Error: cannot write {model}: {why}; nothing was written there" in result.output
    assert model.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    res = run_cli("fit", SAMPLES / "noisy_line.csv", "--save", ro / "m.json")
    assert res.returncode == 7 and "permission denied" in res.stderr


def test_predict_output_is_a_directory(tmp_path):
    model = tmp_path / "m.json"
    run_cli("fit", SAMPLES / "noisy_line.csv", "--save", model, "--quiet")
    res = run_cli("predict", model, SAMPLES / "noisy_line.csv", "-o", tmp_path)
    assert res.returncode == 7
    assert res.stderr.startswith(f"Error: cannot write {tmp_path}: it is a directory")
    assert Path(tmp_path).is_dir()


def test_an_interruption_inside_pandas_read_call_stays_an_interruption(tmp_path, monkeypatch):
    """pandas' C parser turns an exception raised in its read call (where Ctrl-C or SIGTERM
    often lands on a long read) into "Calling read(nbytes) on source failed" (exit 4); the
    signal handlers record what they raised, and the reader raises that instead."""
    from linfit import errors
    from linfit.io import CsvReader
    from linfit.rowshape import RowShape

    big = tmp_path / "big.csv"
    big.write_text("x,y\n" + "1,2\n" * 200_000)
    real = RowShape.readinto
    calls = []

    def readinto(self, buffer):
        calls.append(1)
        if len(calls) == 3:
            errors.interruption = KeyboardInterrupt()
            raise errors.interruption
        return real(self, buffer)

    monkeypatch.setattr(RowShape, "readinto", readinto)
    monkeypatch.setattr(errors, "interruption", None)
    reader = CsvReader(str(big))
    with pytest.raises(KeyboardInterrupt):
        for _ in reader.frames_text(1000):
            pass
    reader.close()
    assert len(calls) == 3
