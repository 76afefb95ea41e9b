"""Every console example in the README runs and prints what the README shows.

Each ```console block is split into commands (`$ ...`) and their expected output; the
commands run in a scratch folder that sees sample_data/, bench/ and tests/ (docs/ is a fresh
folder, so the committed figure is not overwritten). Output with wall times (compare's
table) is checked for its exit code only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def examples() -> list[tuple[str, list[str]]]:
    out = []
    for block in re.findall(r"```console\n(.*?)```", README, flags=re.S):
        cmd, expected = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if cmd is not None:
                    out.append((cmd, expected))
                cmd, expected = line[2:], []
            else:
                expected.append(line)
        if cmd is not None:
            out.append((cmd, expected))
    return [(c, e) for c, e in out if not c.startswith("echo ")]


def _clean(lines: list[str]) -> list[str]:
    lines = [ln.rstrip() for ln in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    for name in ("sample_data", "bench", "tests"):
        (d / name).symlink_to(ROOT / name)
    (d / "docs").mkdir()
    bindir = d / ".bin"
    bindir.mkdir()
    for name, line in (("python", ""), ("linfit", " -m linfit")):
        (bindir / name).write_text(f'#!/bin/sh\nexec {sys.executable}{line} "$@"\n')
        (bindir / name).chmod(0o755)
    return d


EXAMPLES = examples()


def test_readme_has_examples():
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize(("cmd", "expected"), EXAMPLES, ids=[c[:60] for c, _ in EXAMPLES])
def test_readme_example(scratch, cmd, expected):
    if "jq" in cmd and shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    if "--engine dask" in cmd:
        pytest.importorskip("distributed")
    env = dict(
        os.environ,
        PATH=f"{scratch / '.bin'}:{os.environ['PATH']}",
        COLUMNS="100",
        NO_COLOR="1",
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {{ {cmd}; }} 2>&1"],
        cwd=scratch,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    got = _clean(proc.stdout.splitlines())
    want = _clean(expected)
    failing = any(ln.startswith("Error:") for ln in want)
    assert (proc.returncode != 0) == failing, proc.stdout
    if any("time (s)" in ln for ln in want):
        return
    if "nist_lre.py" in cmd:
        _assert_nist_table(got, want)
        return
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        assert _same_line(g, w), (g, w)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _same_line(got: str, want: str) -> bool:
    """Equal text, numbers equal to 1e-12 relative: the last bits of a statistic depend on
    the BLAS kernel (OPENBLAS_CORETYPE), which a test must not pin."""
    if got == want:
        return True
    g_nums, w_nums = _NUMBER.findall(got), _NUMBER.findall(want)
    if _NUMBER.sub("#", got) != _NUMBER.sub("#", want) or len(g_nums) != len(w_nums):
        return False
    for a, b in zip(g_nums, w_nums):
        x, y = float(a), float(b)
        if abs(x - y) > 1e-12 * max(abs(x), abs(y)) and a != b:
            return False
    return True


def _assert_nist_table(got: list[str], want: list[str]) -> None:
    """The NIST table's last column is numpy.linalg.lstsq's LRE, which depends on the
    machine's BLAS kernel (OPENBLAS_CORETYPE moves Pontius 6.3 → 6.2, Wampler1 9.6 → 9.3):
    linfit's columns are compared exactly, numpy's within one digit."""
    assert len(got) == len(want)
    assert got[0].split() == want[0].split()
    for g, w in zip(got[1:], want[1:]):
        *g_head, g_numpy = g.split()
        *w_head, w_numpy = w.split()
        assert g_head == w_head
        assert abs(float(g_numpy) - float(w_numpy)) <= 1.0, (g, w)
