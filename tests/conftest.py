"""Shared helpers: run the real linfit command, locate sample and reference data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_FILES = sorted(SAMPLES.glob("*.csv"))


def run_cli(
    *args: str,
    input: bytes | str | None = None,
    cwd: Path | None = None,
    env: dict | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run ``python -m linfit ARGS`` as a subprocess (text output)."""
    if isinstance(input, str):
        input = input.encode()
    full_env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "linfit", *map(str, args)],
        input=input,
        capture_output=True,
        cwd=cwd or ROOT,
        env=full_env,
        timeout=timeout,
    )
    proc.stdout = proc.stdout.decode("utf-8", "replace")
    proc.stderr = proc.stderr.decode("utf-8", "replace")
    return proc


def fit_json(*args: str, **kw) -> dict:
    proc = run_cli("fit", *args, "--format", "json", **kw)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def cli():
    return run_cli


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    return path


def stderr_on_terminal(args: list[str], env: dict | None = None) -> tuple[int, str]:
    """Run ``args`` with stderr on a pseudo-terminal (stdout a pipe): (exit code, what the
    terminal showed, decoded)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, close_fds=True, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")
