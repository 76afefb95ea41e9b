"""Run every benchmark: NIST accuracy, gd epochs, scale and start-up, parser speed, predict
memory, the Dask engine, and fit --by / --cov HC3 against a plain fit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in (
    "nist_lre.py",
    "gd_epochs.py",
    "scale.py",
    "parser.py",
    "predict_memory.py",
    "dask_engine.py",
    "groups.py",
):
    print(f"\n=== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=False)
