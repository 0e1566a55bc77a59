"""Smoke run of the policy latency benchmark (timings are printed, never asserted)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_policy_quick(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/bench_policy.py"), "--quick", "--json-out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| GPT-S | kv | int8 | onnxruntime | 1 |" in proc.stdout
    assert "| GPT-S | window | fp32 | onnxruntime | 1 |" in proc.stdout and "1.00x" in proc.stdout
    assert out.exists() and '"median_ms"' in out.read_text()
