"""A lock-step bag replay ends clearly (issue 15): after the bag's last reference the player says so and
exits, and ``hgpt run --source bag`` stops by itself, naming why, instead of stalling silently."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_lockstep_bag_replay_ends_and_says_why(ros_env, tmp_path):
    from hgpt_core.datasets import bundled_clip_path

    bag = tmp_path / "run.bag"
    base = [sys.executable, "-m", "hgpt_bringup.run", "eval", "--policy", "zero", "--lockstep"]
    motion = str(bundled_clip_path("gmt_basic_walk"))
    rec = subprocess.run(
        [*base, "--motion", motion, "--sim-seconds", "1", "--record", "--record-out", str(bag)],
        env=ros_env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert rec.returncode == 0 and (bag / "metadata.yaml").is_file(), rec.stdout[-2000:] + rec.stderr[-2000:]
    player = subprocess.Popen(
        [sys.executable, "-m", "hgpt_bringup.bag_cli", "play", str(bag), "--topics", "/hgpt/reference",
         "--follow-clock", "--idle-exit", "600"],  # only the graph's progress may end it
        env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    summary = tmp_path / "replay.json"
    try:
        # no --sim-seconds: the run must end by itself once the replay is over (--duration: a safety net)
        replay = subprocess.run(
            [*base, "--source", "bag", "--duration", "150", "--summary", str(summary)],
            env=ros_env, capture_output=True, text=True, timeout=200,
        )  # fmt: skip
        out = replay.stdout + replay.stderr
        assert replay.returncode == 0, out[-3000:]
        assert "the references stopped at t=" in out and "(the bag replay ended?): stopping" in out, out[
            -3000:
        ]
        s = json.loads(summary.read_text())
        assert 1.0 < s["sim_time_s"] < 10.0, s  # not the 150 s safety net
        assert s["modes"].get("TRACK", 0) > 0 and s["modes"].get("DAMP", 0) > 0  # tracked, then lost: damped
        played, _ = player.communicate(timeout=60)
        assert player.returncode == 0 and "hgpt bag play: the bag ended at t=" in played, played[-2000:]
    finally:
        if player.poll() is None:
            player.kill()
            player.communicate()
