"""Smoke runs of the training benchmarks on a tiny real distillation run (figures are printed, never
asserted): labelled tokens per iteration and action error by episode position; bad folders give one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_distill import tiny_cfg

from hgpt_training.distill import Trainer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.fixture(scope="module")
def runs(small_corpus: Path, tmp_path_factory) -> tuple[Path, Path]:
    """A sliding_kv and a window run of two tiny rounds each."""
    root = tmp_path_factory.mktemp("bench_runs")
    kv = Trainer(tiny_cfg(root / "kv", small_corpus))
    kv.run()
    win = Trainer(tiny_cfg(root / "win", small_corpus, inference="window"))
    win.run()
    return kv.run_dir, win.run_dir


def test_batch_tokens_prints_both_recipes(runs: tuple[Path, Path], tmp_path: Path) -> None:
    kv, win = runs
    proc = bench("batch_tokens.py", "--runs", str(kv), str(win))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| kv | sliding_kv | 2 |" in proc.stdout and "| win | window | 2 |" in proc.stdout, proc.stdout
    assert "(1.00x)" in proc.stdout
    bad = bench("batch_tokens.py", "--runs", str(tmp_path))
    assert bad.returncode != 0 and "not a distillation run folder" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_position_error_prints_every_student(runs: tuple[Path, Path], small_corpus: Path, tmp_path) -> None:
    kv, win = runs
    students = [str(kv / "student.pt"), str(win / "student.pt")]
    args = ("--corpus", str(small_corpus), "--num-envs", "2", "--steps", "40")
    proc = bench("position_error.py", "--students", *students, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "teacher-driven test-split episodes" in proc.stdout
    assert "| kv | sliding_kv |" in proc.stdout and "| win | window |" in proc.stdout, proc.stdout
    missing = bench("position_error.py", "--students", str(tmp_path / "student.pt"), *args)
    assert missing.returncode != 0 and "no such student checkpoint" in missing.stderr
    not_corpus = bench("position_error.py", "--students", students[0], "--corpus", str(tmp_path))
    assert not_corpus.returncode != 0 and "error:" in not_corpus.stderr
    assert "Traceback" not in missing.stderr + not_corpus.stderr, not_corpus.stderr
