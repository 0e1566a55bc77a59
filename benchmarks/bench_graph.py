"""Benchmark: the ROS 2 graph in lock-step against the same policy and simulator without ROS, same run.

Rows (control steps per second, TWIST2 on the bundled GMT walk, 10 s of motion = 500 steps per repeat):
  * harness     - hgpt_sim.eval_runner.run_clip: policy + MuJoCo in one Python loop, no messages: baseline.
  * graph/EXEC  - ``hgpt run eval --lockstep --executor EXEC`` (sim_bridge_node, reference_player,
                  policy_node and the tracking monitor composed in one process, real DDS), steps from its
                  summary; start-up (process, DDS discovery, policy load) excluded: the monitor times first
                  to last state. EXEC: events (default of hgpt run), single, multi.
The ratio graph/harness is what the ROS plumbing costs; real-time factor = steps/s / 50.

Usage: python benchmarks/bench_graph.py [--repeats 5] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hgpt_core.datasets import bundled_clip_path


def harness_steps_per_s(clip: Path, seconds: float) -> float:
    from hgpt_sim.eval_runner import run_clip
    from hgpt_sim.policy_adapters import make_adapter

    adapter = make_adapter("twist2")
    t0 = time.perf_counter()
    res = run_clip(adapter, clip, max_seconds=seconds)
    return res.steps / (time.perf_counter() - t0)


def graph_steps_per_s(clip: Path, seconds: float, tmp: Path, k: int, executor: str) -> float:
    summary = tmp / f"graph{k}.json"
    env = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": str(60 + k % 30)}
    cmd = [
        sys.executable, "-m", "hgpt_bringup.run", "eval", "--policy", "twist2", "--motion", str(clip),
        "--lockstep", "--sim-seconds", str(seconds), "--duration", "300", "--summary", str(summary),
        "--executor", executor,
    ]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = json.loads(summary.read_text())
    return s["sim_time_s"] / 0.02 / s["wall_time_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    clip = bundled_clip_path("gmt_basic_walk")
    executors = ("events", "single", "multi")
    rows: dict[str, list[float]] = {"harness": [], **{f"graph/{e}": [] for e in executors}}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):  # interleaved: every row sees the same machine load
            rows["harness"].append(harness_steps_per_s(clip, args.seconds))
            for e in executors:
                rows[f"graph/{e}"].append(graph_steps_per_s(clip, args.seconds, Path(tmp), k, e))
    base = np.median(rows["harness"])
    print(f"\nlock-step control steps/s, {args.repeats} x {args.seconds:g} s (TWIST2, bundled walk)\n")
    print("| path | median steps/s | p99 steps/s (slowest) | real-time factor | ratio to harness |")
    print("|---|---:|---:|---:|---:|")
    for name, v in rows.items():
        med, p99 = np.median(v), np.percentile(v, 1)  # p99 of time = 1st percentile of rate
        print(f"| {name} | {med:.0f} | {p99:.0f} | {med / 50:.2f} | {med / base:.2f} |")


if __name__ == "__main__":
    main()
