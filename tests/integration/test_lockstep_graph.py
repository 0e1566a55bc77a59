"""The composed graph in lock-step: tracks a real clip to the expected error, and two runs are identical.

``hgpt run eval --lockstep`` composes sim_bridge_node, reference_player (one frame per /clock tick) and
policy_node (answers each state once its reference is there) with the tracking monitor; each run is a
separate process on the real DDS. Same inputs, same commands: the monitor's command digest must match.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SIM_SECONDS = 6.0


def run_graph(ros_env, tmp_path, name: str, motion: str, policy: str = "twist2", extra=()) -> dict:
    summary = tmp_path / f"{name}.json"
    cmd = [
        sys.executable, "-m", "hgpt_bringup.run", "eval", "--policy", policy, "--motion", motion,
        "--lockstep", "--sim-seconds", str(SIM_SECONDS), "--duration", "120", "--summary", str(summary),
        *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=ros_env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and summary.is_file(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(summary.read_text())


def test_lockstep_tracks_and_is_deterministic(ros_env, tmp_path):
    from hgpt_core.datasets import bundled_clip_path

    motion = str(bundled_clip_path("gmt_basic_walk"))
    a = run_graph(ros_env, tmp_path, "a", motion)
    b = run_graph(ros_env, tmp_path, "b", motion)
    steps = round(SIM_SECONDS / 0.02)
    for s in (a, b):
        assert not s["fell"] and s["faults"] == 0
        assert s["commands"] >= steps  # one command per simulation step, none lost
        assert s["tracked_steps"] >= steps - 25  # the stand ramp (0.2 s) then tracking
        # every state scored against its own reference (the last one may stop before its reference)
        assert s["exact_pairs"] >= s["tracked_steps"] - 1
        assert s["mpjpe_rad"] < 0.10  # TWIST2 on this walk: about 0.067 rad
    assert a["command_digest"] == b["command_digest"]
    assert a["mpjpe_rad"] == b["mpjpe_rad"]


def test_lockstep_differs_with_the_policy(ros_env, tmp_path):
    """The digest is not a constant: another policy on the same clip gives other commands."""
    from hgpt_core.datasets import bundled_clip_path

    motion = str(bundled_clip_path("gmt_basic_walk"))
    zero = run_graph(ros_env, tmp_path, "zero", motion, policy="zero")
    twist = run_graph(ros_env, tmp_path, "twist", motion)
    assert zero["command_digest"] != twist["command_digest"]
    assert zero["mpjpe_rad"] > twist["mpjpe_rad"]  # holding the default pose does not track the walk


def test_recorded_bag_replays_to_the_same_commands(ros_env, tmp_path):
    """Record a lock-step run, replay its /hgpt/reference into a fresh graph (source bag): same commands."""
    from hgpt_core.datasets import bundled_clip_path

    bag = tmp_path / "run.bag"
    motion = str(bundled_clip_path("gmt_basic_walk"))
    first = run_graph(ros_env, tmp_path, "first", motion, extra=("--record", "--record-out", str(bag)))
    assert (bag / "metadata.yaml").is_file()
    player = subprocess.Popen(
        [sys.executable, "-m", "hgpt_bringup.bag_cli", "play", str(bag), "--topics", "/hgpt/reference",
         "--follow-clock"],
        env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        replay = run_graph(ros_env, tmp_path, "replay", "", extra=("--source", "bag"))
    finally:
        out, _ = player.communicate(timeout=60)
    assert replay["command_digest"] == first["command_digest"], out
    assert replay["commands"] == first["commands"]
    assert not replay["fell"] and replay["tracked_steps"] > 0
