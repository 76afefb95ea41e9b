"""The command line ends without the interpreter's teardown (linfit.entry.finish) only when
that loses nothing: output flushed, atexit handlers and finalizers run, threads joined."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

TINY = "x,y\n1,2\n2,3\n3,5\n4,7\n"


def _linfit(tmp_path: Path, prelude: str, argv: list[str]) -> subprocess.CompletedProcess:
    (tmp_path / "tiny.csv").write_text(TINY)
    code = f"{prelude}\nfrom linfit.entry import main\nmain({argv!r})\n"
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's linfit, from tmp_path
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )


def test_atexit_handlers_and_finalizers_run_and_output_is_whole(tmp_path):
    prelude = (
        "import atexit, os, sys, tempfile\n"
        "keep = tempfile.TemporaryDirectory()\n"  # removed by its finalizer, at exit
        "print('dir', keep.name, flush=True)\n"
        "atexit.register(lambda: print('atexit ran'))\n"
        "class Teardown:\n"
        "    def __del__(self):\n"
        "        os.write(2, b'module teardown\\n')\n"
        "witness = Teardown()\n"
    )
    proc = _linfit(tmp_path, prelude, ["fit", "tiny.csv", "--format", "csv"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].startswith("method,target,n,b,w_x") and lines[2].startswith("lstsq,y,4,")
    assert lines[-1] == "atexit ran"
    assert not Path(lines[0].split(" ", 1)[1]).exists()
    # the teardown was skipped (a live object's __del__ never ran): the fast exit was taken
    assert "module teardown" not in proc.stderr


def test_a_running_thread_gets_the_ordinary_exit(tmp_path):
    prelude = (
        "import threading, time, pathlib\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    pathlib.Path('late.txt').write_text('done')\n"
        "threading.Thread(target=late).start()\n"
    )
    proc = _linfit(tmp_path, prelude, ["fit", "tiny.csv", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "late.txt").read_text() == "done"


def test_exit_codes_and_error_lines_are_kept(tmp_path):
    proc = _linfit(tmp_path, "", ["fit", "missing.csv"])
    assert proc.returncode == 3
    assert proc.stderr.startswith("Error: missing.csv: no such file")
    assert len(proc.stderr.splitlines()) == 1


def test_large_output_reaches_a_pipe_whole(tmp_path):
    rows = 200_000
    data = tmp_path / "p.csv"
    data.write_text("x\n" + "\n".join(str(i) for i in range(rows)) + "\n")
    model = tmp_path / "m.json"
    fit = subprocess.run(
        [sys.executable, "-m", "linfit", "fit", str(ROOT / "sample_data/tutorial_points.csv")]
        + ["--save", str(model), "--quiet"],
        capture_output=True,
        cwd=ROOT,
    )
    assert fit.returncode == 0, fit.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "linfit", "predict", str(model), str(data)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert len(out) == rows + 1 and out[-1].startswith(f"{rows - 1},")
