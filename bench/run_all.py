"""Run every benchmark: NIST accuracy (as given, and replicated to 4e6 rows), refinement cost,
gd epochs, scale and start-up, parser speed, predict memory, the Dask engine, and fit --by /
--cov HC3 against a plain fit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNS = (
    ("nist_lre.py",),
    ("nist_lre.py", "--rows", "4000000"),  # certified at any size: the refinement passes' cost
    ("refine.py",),
    ("gd_epochs.py",),
    ("scale.py",),
    ("parser.py",),
    ("predict_memory.py",),
    ("dask_engine.py",),
    ("groups.py",),
)
for script, *args in RUNS:
    print(f"\n=== {' '.join([script, *args])}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args], check=False)
