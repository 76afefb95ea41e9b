"""Outputs never destroy data: an output that is an input is refused, devices and symlinks
are written through (never replaced), every way out (signals, a closed pipe, a full disk)
leaves no temporary file and the documented exit code, and every usage error is one line."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import linfit

from .conftest import ROOT, SAMPLES, run_cli

CMD = [sys.executable, "-m", "linfit"]
LINE = SAMPLES / "noisy_line.csv"


def _one_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr and "╭" not in stderr
    return lines[0]


@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "m.json"
    assert run_cli("fit", LINE, "--save", path, "--quiet").returncode == 0
    return path


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "d.csv"
    path.write_bytes(LINE.read_bytes())
    return path


# -- an output that is an input ---------------------------------------------------------------
def _spellings(path: Path) -> list[str]:
    """The same file written several ways: as given, through ./ and .., a symlink, a hard link."""
    link = path.with_name("link-" + path.name)
    link.symlink_to(path)
    hard = path.with_name("hard-" + path.name)
    os.link(path, hard)
    return [
        str(path),
        f"{path.parent}/./{path.name}",
        f"{path.parent}/../{path.parent.name}/{path.name}",
        str(link),
        str(hard),
    ]


@pytest.mark.parametrize("k", range(5))
def test_fit_save_over_its_data_is_refused(tmp_path, data, k):
    before = data.read_bytes()
    out = _spellings(data)[k]
    res = run_cli("fit", data, "--save", out)
    assert res.returncode == 2
    assert "are the same file" in _one_error(res.stderr)
    assert data.read_bytes() == before and res.stdout == ""


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("k", [0, 1, 3, 4])
def test_predict_output_over_its_data_or_model_is_refused(tmp_path, data, model, fmt, k):
    for victim in (data, model):
        before = victim.read_bytes()
        out = _spellings(victim)[k]
        res = run_cli("predict", model, data, "-o", out, "-f", fmt)
        assert res.returncode == 2, res.stderr
        assert "are the same file" in _one_error(res.stderr)
        assert victim.read_bytes() == before
        for p in victim.parent.glob(f"*{victim.name}"):  # drop the extra links for the next
            if p != victim:
                p.unlink()


def test_two_outputs_into_one_file_are_refused(tmp_path, data):
    res = run_cli("fit", data, "--save", tmp_path / "o.png", "--plot-file", tmp_path / "./o.png")
    assert res.returncode == 2 and "--plot-file" in _one_error(res.stderr)
    assert not (tmp_path / "o.png").exists()


def test_output_in_a_data_folder_is_allowed(tmp_path, data):
    assert run_cli("fit", tmp_path, "--save", tmp_path / "new.json").returncode == 0


# -- devices, FIFOs and symlinks are written through ------------------------------------------
def _mknod(path: Path, minor: int) -> Path:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("mknod needs root")
    return path


def test_save_to_a_null_device_keeps_the_device(tmp_path, data):
    dev = _mknod(tmp_path / "null", 3)  # a copy of /dev/null
    res = run_cli("fit", data, "--save", dev, "--quiet")
    assert res.returncode == 0, res.stderr
    assert stat.S_ISCHR(os.stat(dev).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "null"]


@pytest.mark.parametrize("cmd", ["fit", "predict"])
def test_output_to_a_full_device_is_exit_7(tmp_path, data, model, cmd):
    dev = _mknod(tmp_path / "full", 7)  # a copy of /dev/full
    if cmd == "fit":
        res = run_cli("fit", data, "--save", dev, "--quiet")
    else:
        res = run_cli("predict", model, data, "-o", dev)
    assert res.returncode == 7, res.stderr
    assert "disk is full" in _one_error(res.stderr)
    assert stat.S_ISCHR(os.stat(dev).st_mode)


def test_output_to_dev_null_and_dev_stdout(model, data):
    res = run_cli("predict", model, data, "-o", "/dev/null")
    assert res.returncode == 0 and res.stdout == ""
    res = run_cli("predict", model, data, "-o", "/dev/stdout")
    assert res.returncode == 0 and res.stdout.startswith("x,y,y_pred")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_output_to_a_fifo_streams_through(tmp_path, model, data):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    proc = subprocess.Popen([*CMD, "predict", str(model), str(data), "-o", str(fifo)], cwd=ROOT)
    with open(fifo) as fh:
        text = fh.read()
    assert proc.wait(timeout=60) == 0
    assert text.startswith("x,y,y_pred") and len(text.splitlines()) == len(
        data.read_text().splitlines()
    )
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_save_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path, data):
    target = tmp_path / "real.json"
    target.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert run_cli("fit", data, "--save", link, "--quiet").returncode == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert '"schema"' in target.read_text()


def test_save_to_a_symlink_loop_is_one_line(tmp_path, data):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    res = run_cli("fit", data, "--save", tmp_path / "a")
    assert res.returncode == 7 and "symlink loop" in _one_error(res.stderr)
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


# -- every way out: signals, closed pipes, a full stdout -------------------------------------
def _big(tmp_path: Path, copies: int = 800) -> Path:
    big = tmp_path / "big.csv"
    body = LINE.read_text().split("\n", 1)[1]
    with open(big, "w") as fh:
        fh.write("x,y\n")
        for _ in range(copies):
            fh.write(body)
    return big


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_during_predict_leaves_old_output_and_no_temp_file(tmp_path, model, sig, code):
    big = _big(tmp_path)
    out = tmp_path / "out.csv"
    out.write_text("old output\n")
    proc = subprocess.Popen(
        [*CMD, "predict", str(model), str(big), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.csv.") for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert signal.Signals(sig).name in _one_error(err)
    assert out.read_text() == "old output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "m.json", "out.csv"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_at_start_up_is_never_a_traceback(sig):
    proc = subprocess.Popen(
        [*CMD, "fit", str(LINE)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    time.sleep(0.15)  # inside the imports
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err
    # The signal may land before Python installs its handlers (killed by it) or after the fit
    # finished (0): in between, the documented code and one line.
    assert proc.returncode in (0, -sig, 128 + sig), err


def _first_line_then_close(args: list[str]) -> tuple[bytes, str, int]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    return first, err, proc.wait(timeout=120)


@pytest.mark.parametrize(
    "args",
    [
        ["fit", str(LINE)],
        ["compare", str(LINE), "--methods", "lstsq,gd"],
        [
            "fit",
            str(LINE),
            "-m",
            "gd",
            "--epochs",
            "3000",
            "--log-every",
            "1",
            "--tol",
            "0",
            "--format",
            "json",
            "--quiet",
        ],
    ],
    ids=["table", "compare", "large-json"],
)
def test_closed_stdout_is_exit_141_and_quiet(args):
    first, err, code = _first_line_then_close([*CMD, *args])
    assert first and err == ""
    # A short table may be written whole before the reader leaves (0); never Rich's 1.
    assert code == 141 or (code == 0 and "json" not in args)


def test_shell_head_on_a_table(tmp_path):
    shell = f"{sys.executable} -m linfit fit {LINE} | head -1; exit ${{PIPESTATUS[0]}}"
    res = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, cwd=ROOT)
    assert res.stderr == ""
    assert res.returncode in (0, 141)  # 0 when the table fits in the pipe before head exits


@pytest.mark.parametrize("args", [["fit", str(LINE)], ["fit", str(LINE), "-f", "json"]])
def test_stdout_on_a_full_disk_is_exit_7(args):
    with open("/dev/full", "w") as full:
        res = subprocess.run([*CMD, *args], stdout=full, stderr=subprocess.PIPE, cwd=ROOT)
    assert res.returncode == 7
    assert "cannot write the output" in _one_error(res.stderr.decode())


# -- usage errors: one line each, exit 2 -----------------------------------------------------
USAGE = [
    (["fit", str(LINE), "--bogus"], "--bogus"),
    (["fit", str(LINE), "--format", "xml"], "--format"),
    (["fit", str(LINE), "--epochs", "1e12"], "--epochs"),
    (["fit", str(LINE), "--epochs", "-1"], "--epochs"),
    (["fit", str(LINE), "--batch-size", "0"], "--batch-size"),
    (["fit", str(LINE), "--log-every", "0"], "--log-every"),
    (["fit", str(LINE), "-m", "gd", "--seed", "-1"], "--seed"),
    (["fit"], "DATA"),
    (["predict"], "MODEL"),
    (["predict", "m.json"], "DATA"),
    (["fit", str(LINE), "-o", "out.csv"], "--save"),
    (["fit", str(LINE), "--lr", "nan"], "--lr"),
    (["fit", str(LINE), "--lr", "inf"], "--lr"),
    (["fit", str(LINE), "--lr", "0"], "--lr"),
    (["fit", str(LINE), "--tol", "nan"], "--tol"),
    (["fit", str(LINE), "--tol", "-1"], "--tol"),
    (["fit", str(LINE), "--level", "nan"], "--level"),
    (["fit", str(LINE), "--level", "1"], "--level"),
    (["predict", "m.json", str(LINE), "--level", "inf"], "--level"),
    (["compare", str(LINE), "--rtol", "nan"], "--rtol"),
    (["compare", str(LINE), "--atol", "-inf"], "--atol"),
    (["compare", str(LINE), "--methods", ","], "--methods"),
    (["compare", str(LINE), "--methods", "lstsq,nope"], "nope"),
    (["fit", str(LINE), "--json", "-f", "csv"], "--json"),
    (["fit", str(LINE), "-m", "torch", "--device", "cuda:abc"], "--device"),
    (["fit", str(LINE), "-m", "torch", "--dtype", "float16"], "--dtype"),
    (["fit", str(LINE), "--engine", "dask", "--scheduler", "not a url"], "--scheduler"),
    (["fit", str(LINE), "-x", ","], "--x"),
    (["fit", str(LINE), "-x", '"a'], "--x"),
]


@pytest.mark.parametrize(("args", "names"), USAGE, ids=[" ".join(a[2:]) or a[0] for a, _ in USAGE])
def test_usage_error_is_one_line(args, names):
    res = run_cli(*args)
    assert res.returncode == 2, res.stderr
    assert names in _one_error(res.stderr)
    assert res.stdout == ""


def test_no_arguments_shows_help():
    res = run_cli()
    assert "Usage: linfit" in res.stdout + res.stderr


def test_ignored_options_are_noted():
    res = run_cli("fit", LINE, "--lr", "0.5", "--dtype", "float32", "-f", "json")
    assert res.returncode == 0
    assert "--lr, --dtype do not apply to --method lstsq" in res.stderr
    res = run_cli("fit", LINE, "-m", "gd", "--device", "cpu", "-f", "json")
    assert "--device does not apply to --method gd" in res.stderr


def test_comma_in_a_column_name(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text('"a,b",c,y\n1,5,2\n2,3,4.1\n3,8,6.2\n4,1,7.9\n')
    doc = run_cli("fit", f, "-x", '"a,b",c', "-y", "y", "-f", "json")
    assert doc.returncode == 0, doc.stderr
    assert '"a,b"' in doc.stdout


def test_help_fits_80_columns_and_names_choices():
    res = run_cli("fit", "--help", env={"COLUMNS": "80"})
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    assert "--allow-rank-deficient " in res.stdout and "-…" not in res.stdout
    assert "[lstsq|gd|torch]" in res.stdout and "float64|float32" in res.stdout
    for panel in ("Input", "Model", "Solver", "Gradient descent", "Output", "Engine"):
        assert f"─ {panel}" in res.stdout
    usage = run_cli("predict", "--help", env={"COLUMNS": "80"}).stdout
    assert "Usage: linfit predict [OPTIONS] MODEL DATA" in usage


# -- descriptor aliases, stdout as an input, FIFOs (found by a new user) --------------------
def _shell(cmd: str, cwd: Path) -> subprocess.CompletedProcess:
    linfit = f"{sys.executable} -m linfit"
    return subprocess.run(
        ["bash", "-c", cmd.replace("linfit", linfit)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )


def test_dev_stdout_appended_to_the_input_is_refused(tmp_path, model, data):
    before = data.read_bytes()
    res = _shell(f"linfit predict {model} {data} -o /dev/stdout >> {data}", tmp_path)
    assert res.returncode == 2 and "are the same file" in _one_error(res.stderr)
    assert data.read_bytes() == before


def test_dev_stdout_appends_to_a_log_never_truncates(tmp_path, model, data):
    log = tmp_path / "log.csv"
    log.write_text("earlier\n")
    res = _shell(f"linfit predict {model} {data} -o /dev/stdout >> {log}", tmp_path)
    assert res.returncode == 0, res.stderr
    lines = log.read_text().splitlines()
    assert lines[0] == "earlier" and lines[1].startswith("x,y,y_pred")


def test_stdout_redirected_onto_the_input_is_refused(tmp_path, model, data):
    before = data.read_bytes()
    for cmd in (f"linfit predict {model} {data} >> {data}", f"linfit fit {data} >> {data}"):
        res = _shell(cmd, tmp_path)
        assert res.returncode == 2 and "are the same file" in _one_error(res.stderr)
        assert data.read_bytes() == before


@pytest.mark.parametrize("alias", ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"])
def test_save_to_stdin_is_refused(tmp_path, data, alias):
    before = data.read_bytes()
    res = _shell(f"linfit fit {data} --save {alias} < {data}", tmp_path)
    assert res.returncode == 2 and "standard input" in _one_error(res.stderr)
    assert data.read_bytes() == before


def test_same_fifo_as_input_and_output_is_refused(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    res = run_cli("fit", fifo, "--save", fifo, timeout=30)
    assert res.returncode == 2 and "are the same file" in _one_error(res.stderr)


def test_empty_output_name_is_refused(model, data):
    res = run_cli("predict", model, data, "-o", "")
    assert res.returncode == 2 and "needs a file name" in _one_error(res.stderr)


def test_a_console_rich_makes_later_still_raises_on_a_closed_pipe():
    """rich.console is imported only where a console is made (a progress bar, Typer's help),
    after linfit set up its pipe handling: Rich's own (exit 1) must still be replaced, even
    when something asked where rich.console is first (importlib.util.find_spec), and the
    module keeps its own loader's methods."""
    code = """
import importlib.util, sys
from linfit import cli
cli.run(['--version'])
cli.run(['--version'])
assert 'rich.console' not in sys.modules
hooks = [f for f in sys.meta_path if type(f).__name__ == '_AfterImport']
print(len(hooks))
assert importlib.util.find_spec('rich.console') is not None
from rich.console import Console
import rich.console
assert rich.console.__loader__.get_filename('rich.console').endswith('console.py')
try:
    Console(file=sys.stdout).on_broken_pipe()
except BrokenPipeError:
    print('raised')
print(len([f for f in sys.meta_path if type(f).__name__ == '_AfterImport']))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    version = f"linfit {linfit.__version__}"
    assert res.stdout.splitlines() == [version, version, "1", "raised", "0"]


def test_usage_help_into_a_closed_stderr_pipe_is_141():
    """Bare ``linfit`` shows its help, then a line on stderr; into a stderr pipe nobody
    reads, 141 as for any other output (not 1, from the Console's error)."""
    r, w = os.pipe()
    os.close(r)  # the reader is gone before linfit writes
    try:
        res = subprocess.run(
            [sys.executable, "-m", "linfit"], stdout=subprocess.PIPE, stderr=w, cwd=ROOT
        )
    finally:
        os.close(w)
    assert res.returncode == 141


def test_help_into_a_closed_pipe_is_141():
    res = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m linfit fit --help | head -1 > /dev/null; exit ${{PIPESTATUS[0]}}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode in (0, 141) and res.stderr == ""  # 0: help fit the pipe first


def _without_fd(fd: int):
    """A preexec_fn closing ``fd`` in the child: it starts without that standard stream, as
    under ``>&-`` (Python then sets sys.stdout or sys.stderr to None)."""
    return lambda: os.close(fd)


@pytest.mark.parametrize(
    "args",
    [
        ["fit", str(LINE)],
        ["fit", str(LINE), "-f", "json"],
        ["fit", str(LINE), "-f", "csv"],
        ["--help"],
        ["fit", "--help"],
        ["--version"],
    ],
)
def test_no_stdout_at_all_is_exit_7_with_one_line(args):
    """``linfit ... >&-``: the output cannot be written, said in one line (it was an
    AttributeError traceback, exit 1)."""
    res = subprocess.run([*CMD, *args], stderr=subprocess.PIPE, cwd=ROOT, preexec_fn=_without_fd(1))
    assert res.returncode == 7
    assert "standard output is closed" in _one_error(res.stderr.decode())


def test_a_save_without_stdout_still_saves_whole(tmp_path):
    model = tmp_path / "m.json"
    res = subprocess.run(
        [*CMD, "fit", str(LINE), "--save", str(model)],
        stderr=subprocess.PIPE,
        cwd=ROOT,
        preexec_fn=_without_fd(1),
    )
    assert res.returncode == 7  # the table could not be written
    assert json.loads(model.read_text())["schema"] == "linfit-model"


@pytest.mark.parametrize(
    ("args", "code"), [(["fit", str(LINE), "-f", "json"], 0), (["fit", "missing.csv"], 3)]
)
def test_no_stderr_at_all_keeps_output_and_exit_codes(args, code):
    res = subprocess.run([*CMD, *args], stdout=subprocess.PIPE, cwd=ROOT, preexec_fn=_without_fd(2))
    assert res.returncode == code
    if code == 0:
        assert json.loads(res.stdout)["method"] == "lstsq"


@pytest.mark.parametrize("args", [["--help"], ["fit", "--help"]])
def test_help_on_a_full_disk_is_exit_7_with_one_line(args):
    with open("/dev/full", "w") as full:
        res = subprocess.run([*CMD, *args], stdout=full, stderr=subprocess.PIPE, cwd=ROOT)
    assert res.returncode == 7
    assert "cannot write the output" in _one_error(res.stderr.decode())
