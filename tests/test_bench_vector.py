"""The vector-env benchmark runs end to end (tiny budget) and writes its table; run in a
subprocess, because the script pins its own process to one core."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_vector_writes_every_width_and_kind(tmp_path):
    out = tmp_path / "v.json"
    proc = subprocess.run(
        [sys.executable, "-m", "lowcarbon.scripts.bench_vector", "--envs",
         "LowCarbon/EnergyInternet-v1", "--widths", "1,3", "--budget", "100", "--repeats", "1",
         "--sync-max", "3", "--async-max", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    assert "| LowCarbon/EnergyInternet-v1 | batch |" in proc.stdout
    r = json.loads(out.read_text())["results"]["LowCarbon/EnergyInternet-v1"]
    assert set(r["batch"]) == set(r["per_copy"]) == set(r["sync"]) == {"1", "3"}
    assert set(r["async"]) == {"1"}
    assert all(v > 0 for kind in r.values() for v in kind.values())
