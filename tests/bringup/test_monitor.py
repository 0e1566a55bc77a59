"""Tracking monitor: pairing states with references by stamp, TRACK-only scoring, falls, command digest."""

from __future__ import annotations

import numpy as np
import pytest

from hgpt_bringup.monitor import TrackingMonitor
from hgpt_core.datasets import bundled_clip_path
from hgpt_core.formats import load_clip
from hgpt_core.reference import ReferenceMotion

DT_NS = 20_000_000  # 50 Hz


@pytest.fixture(scope="module")
def walk() -> ReferenceMotion:
    return ReferenceMotion.from_clip(load_clip(bundled_clip_path()))


def _feed(mon, ref, offset, n, state_first=True, mode=2, up_z=1.0):
    """n steps of the real walk; the robot is the reference plus ``offset`` rad on every joint."""
    for k in range(n):
        q, dq = ref.joint_pos[k], ref.joint_vel[k]
        ns = k * DT_NS
        if not state_first:
            mon.on_reference(ns, q, dq, True)
        mon.on_state(ns, q + offset, dq, up_z, wall=k * 0.01)
        if state_first:
            mon.on_reference(ns, q, dq, True)
        mon.on_command(ns, q, np.full(29, 50.0), mode)


@pytest.mark.parametrize("state_first", [True, False])
def test_exact_pairing_in_either_order(walk, state_first):
    mon = TrackingMonitor()
    _feed(mon, walk, 0.05, 100, state_first=state_first)
    s = mon.summary()
    assert s.states == 100 and s.tracked_steps == 100 and s.exact_pairs == 100
    assert s.mpjpe_rad == pytest.approx(0.05, abs=1e-12)  # a one-step lag would add the walk's motion
    assert s.sim_time_s == pytest.approx(99 * 0.02) and s.realtime_factor == pytest.approx(2.0)
    assert not s.fell and s.commands == 100


def test_only_tracking_steps_before_a_fall_count(walk):
    mon = TrackingMonitor()
    _feed(mon, walk, 0.3, 20, mode=1)  # STAND: not scored
    _feed(mon, walk, 0.05, 0, mode=2)
    for k in range(20, 60):
        ns = k * DT_NS
        mon.on_reference(ns, walk.joint_pos[k], walk.joint_vel[k], True)
        mon.on_command(ns, walk.joint_pos[k], np.ones(29), 2)
        mon.on_state(ns, walk.joint_pos[k] + 0.1, walk.joint_vel[k], 1.0 if k < 40 else 0.2, wall=0.0)
    s = mon.summary()
    assert s.tracked_steps == 20 and s.mpjpe_rad == pytest.approx(0.1)
    assert s.fell and s.fall_time_s == pytest.approx(40 * 0.02)


def test_invalid_reference_is_not_scored(walk):
    mon = TrackingMonitor()
    for k in range(10):
        mon.on_reference(k * DT_NS, walk.joint_pos[k], walk.joint_vel[k], valid=k < 5)
        mon.on_command(k * DT_NS, walk.joint_pos[k], np.ones(29), 2)
        mon.on_state(k * DT_NS, walk.joint_pos[k], walk.joint_vel[k], 1.0, wall=0.0)
    assert mon.summary().tracked_steps == 5


def test_command_digest_tells_runs_apart(walk):
    a, b, c = TrackingMonitor(), TrackingMonitor(), TrackingMonitor()
    _feed(a, walk, 0.0, 30)
    _feed(b, walk, 0.0, 30)
    b.on_command(10 * DT_NS, walk.joint_pos[0], np.ones(29), 2)  # a repeat of an old stamp: ignored
    _feed(c, walk, 0.0, 30)
    c.cmd_ns = -1
    c.on_command(30 * DT_NS, walk.joint_pos[3] + 1e-9, np.full(29, 50.0), 2)  # one more, different command
    assert a.summary().command_digest == b.summary().command_digest
    assert a.summary().command_digest != c.summary().command_digest


def _feed_root(mon, ref, n, root_shift=(0.0, 0.0, 0.0), rot=None, dq_offset=None, start=0):
    """n steps with root truth: robot joints = reference, root = reference root shifted / rotated."""
    from hgpt_core.rotations import quat_mul

    for k in range(start, start + n):
        ns = k * DT_NS
        rq = ref.root_quat_w[k]
        mon.on_reference(ns, ref.joint_pos[k], ref.joint_vel[k], True, ref.root_pos_w[k], rq)
        mon.on_command(ns, ref.joint_pos[k], np.ones(29), 2)
        q = ref.joint_pos[k] if dq_offset is None else ref.joint_pos[k] + dq_offset
        quat = rq if rot is None else quat_mul(rot, rq)
        mon.on_state(
            ns, q, ref.joint_vel[k], 1.0, wall=0.0, root_pos=ref.root_pos_w[k] + root_shift, root_quat=quat
        )


def test_monitor_uses_the_evaluation_fall_rule(walk):
    from hgpt_core.rotations import axis_angle_to_quat

    lift = np.zeros(29)
    lift[0] = -1.2  # left hip pitch: the foot swings up, the torso stays upright: not a fall
    mon = TrackingMonitor()
    _feed_root(mon, walk, 30, dq_offset=lift)
    _feed_root(mon, walk, 30, root_shift=(0.0, 0.0, 0.3), start=30)  # torso 0.3 m ABOVE: not a fall
    s = mon.summary()
    assert not s.fell and s.tracked_steps == 60 and s.fall_reason == ""
    mon = TrackingMonitor()
    _feed_root(mon, walk, 20)
    _feed_root(mon, walk, 20, rot=axis_angle_to_quat(np.array([1.0, 0.0, 0.0]), np.array(1.5)), start=20)
    s = mon.summary()
    assert s.fell and "tilt" in s.fall_reason and s.fall_time_s == pytest.approx(20 * 0.02)
    assert s.tracked_steps == 20  # scoring stopped at the fall
    mon = TrackingMonitor()
    _feed_root(mon, walk, 10)
    _feed_root(mon, walk, 10, root_shift=(0.0, 0.0, -0.3), start=10)
    s = mon.summary()
    assert s.fell and s.fall_reason == "anchor_height" and s.tracked_steps == 10


def test_monitor_stops_scoring_at_the_clip_end(walk):
    mon = TrackingMonitor(clip_seconds=0.5)  # 25 steps after the first reference
    _feed_root(mon, walk, 40)
    s = mon.summary()
    assert s.tracked_steps == 26 and s.past_clip_end == 14  # stamps 0 .. 0.5 s inclusive
    assert mon.clip_ended and s.scored_s == pytest.approx(26 * 0.02)
