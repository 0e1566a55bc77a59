"""A looped clip does not jump at its restart (issue 15): reference_player re-anchors and blends it with
hgpt_retarget.plausible (pure core on the bundled walk, and a real reference_player process)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hgpt_retarget.plausible import PlausibilityConfig
from hgpt_retarget.player import PlausibleFrames, ReferencePlayer

DT = 0.02
CFG = PlausibilityConfig()


@pytest.fixture(scope="module")
def short_walk(tmp_path_factory):
    from hgpt_core.datasets import bundled_clip_path
    from hgpt_core.formats import load_clip

    clip = load_clip(bundled_clip_path()).slice(0, 101)  # 2 s: it walks ~2 m, so the restart jumps back
    return str(clip.save(tmp_path_factory.mktemp("loop") / "walk2s.clip.npz"))


def speeds(frames) -> tuple[float, float]:
    """Largest root speed [m/s] and joint speed [rad/s] between consecutive frames at DT."""
    pos = np.array([f.root_pos_w for f in frames])
    q = np.array([f.joint_pos for f in frames])
    root = np.linalg.norm(np.diff(pos, axis=0), axis=1).max() / DT
    return float(root), float(np.abs(np.diff(q, axis=0)).max() / DT)


def test_loop_restart_is_reanchored_and_blended(short_walk):
    times = np.arange(0, 5.0, DT)  # two restarts
    raw = ReferencePlayer.from_file(short_walk, loop=True)
    raw.play(0.0)
    raw_frames = [raw.frame(t) for t in times]
    assert speeds(raw_frames)[0] > 20.0  # unfiltered: the restart teleports the root back

    player = ReferencePlayer.from_file(short_walk, loop=True)
    player.play(0.0)
    filt = PlausibleFrames()
    frames, events = [], []
    for t in times:
        frames.append(filt(player.frame(t), t))
        events.append(filt.last_event)
    root, joints = speeds(frames)
    assert root <= CFG.max_root_speed + 1e-9 and joints <= CFG.max_joint_speed + 1e-9
    assert sum(e.startswith("reanchor") for e in events) == 2, [e for e in events if e]
    # it keeps walking forward after a restart instead of jumping back: x grows over the whole run
    one_loop = np.linalg.norm(raw_frames[99].root_pos_w[:2] - raw_frames[0].root_pos_w[:2])  # 1.98 s of walk
    assert one_loop > 1.0
    assert np.linalg.norm(frames[-1].root_pos_w[:2] - frames[0].root_pos_w[:2]) > 2 * one_loop
    assert filt(player.frame(times[-1]), times[-1]) is frames[-1]  # a re-sent tick: the same frame
    for f in frames:  # root velocity direction follows the re-anchored heading (no yaw offset here)
        assert np.isfinite(f.root_lin_vel_w).all() and np.isfinite(f.joint_vel).all()


@pytest.mark.ros
def test_reference_player_process_loops_without_a_jump(spawn_python, rclpy_init, short_walk):
    from rclpy.executors import SingleThreadedExecutor

    from hgpt_core.stamps import stamp_to_ns
    from hgpt_msgs.msg import MotionReference

    node = rclpy_init.create_node("loop_probe")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    got: list[MotionReference] = []
    node.create_subscription(MotionReference, "/hgpt/reference", got.append, 1000)
    proc = spawn_python(
        "-m", "hgpt_retarget.reference_player_node", "--ros-args", "-p", f"motion:={short_walk}",
        "-p", "loop:=true",
    )  # fmt: skip
    try:
        end = time.monotonic() + 60
        # until two restarts have been received (frame_index drops twice)
        while time.monotonic() < end:
            ex.spin_once(timeout_sec=0.1)
            idx = [m.frame_index for m in got]
            if sum(b < a for a, b in zip(idx, idx[1:], strict=False)) >= 2:
                break
    finally:
        ex.shutdown()
        node.destroy_node()
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    idx = [m.frame_index for m in got]
    assert sum(b < a for a, b in zip(idx, idx[1:], strict=False)) >= 2, out[-2000:]
    t = np.array([stamp_to_ns(m.header.stamp) * 1e-9 for m in got])
    pos = np.array([[m.root_position.x, m.root_position.y, m.root_position.z] for m in got])
    dt = np.diff(t)
    ok = dt > 1e-3  # consecutive messages of the wall-clock timer
    speed = np.linalg.norm(np.diff(pos, axis=0), axis=1)[ok] / dt[ok]
    assert speed.max() <= CFG.max_root_speed + 1e-6, (speed.max(), out[-2000:])
    assert "reanchor" in out
