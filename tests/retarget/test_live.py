"""LiveRetargeter on a real walking stream: warm start, dropped and NaN frames, jumps, re-init, bad units."""

from __future__ import annotations

import numpy as np
import pytest

from hgpt_core.g1 import JOINT_LIMITS, KNEES_BENT_POSE
from hgpt_retarget.human import load_human
from hgpt_retarget.live import LiveRetargeter
from hgpt_retarget.live_config import LiveConfig
from hgpt_retarget.quality import startup_speeds

FPS = 50.0


@pytest.fixture(scope="module")
def stream(walk_bvh):
    motion, _ = load_human(walk_bvh)
    return motion.resample(FPS)


def _feed(lr, stream, frames, edit=None):
    out = []
    for i in frames:
        p = stream.positions[i].copy()
        if edit is not None:
            p = edit(i, p)
            if p is None:  # dropped frame
                continue
        out.append((i, lr.step(stream.joint_names, p, i / FPS)))
    return out


def test_clean_stream_tracks_and_stays_in_limits(stream):
    lr = LiveRetargeter()
    out = _feed(lr, stream, range(60))
    assert out[0][1].events == ("init", "ease") and all(set(f.events) <= {"ease"} for _, f in out[1:])
    q = np.array([f.joint_pos for _, f in out])
    assert np.all(q >= JOINT_LIMITS[:, 0] - 1e-6) and np.all(q <= JOINT_LIMITS[:, 1] + 1e-6)
    # Walking forward: the root follows the scaled human (about 1.5 m/s * 0.8 for 1 s).
    travel = np.linalg.norm(out[-1][1].root_pos_w[:2] - out[0][1].root_pos_w[:2])
    assert 0.5 < travel < 2.0
    assert all(0.6 < f.root_pos_w[2] < 0.9 for _, f in out)


def test_nan_and_missing_joints_are_held_then_time_out(stream):
    lr = LiveRetargeter(cfg=LiveConfig(hold_timeout_s=0.1))
    foot = stream.joint_names.index("Foot_L")
    out = dict(_feed(lr, stream, range(30)))
    assert out[29].valid
    held = dict(_feed(lr, stream, range(30, 40), lambda i, p: (p.__setitem__(foot, np.nan), p)[1]))
    assert held[30].held == ("left_ankle",) and held[30].valid  # held within the timeout
    assert not held[39].valid and "timeout" in held[39].events  # older than 0.1 s
    assert np.isfinite(held[39].joint_pos).all()  # still a safe (last) pose, never NaN
    back = dict(_feed(lr, stream, range(40, 45)))
    assert back[44].valid and back[44].held == ()


def test_dropped_frames_and_gap(stream):
    lr = LiveRetargeter()
    out = dict(_feed(lr, stream, range(80), lambda i, p: None if 20 <= i < 40 else p))
    assert "gap" in out[40].events  # 0.42 s without data > max_gap_s
    step = np.abs(out[40].joint_pos - out[19].joint_pos).max()
    assert step < 0.42 * 37.0  # bounded by the motor speed limits over the gap
    assert out[79].valid


def test_jump_is_blended_not_teleported(stream):
    lr = LiveRetargeter()
    shift = np.array([2.0, 0.0, 0.0])
    out = dict(_feed(lr, stream, range(60), lambda i, p: p + shift if i >= 30 else p))
    assert "jump" in out[30].events
    moved = out[30].root_pos_w[0] - out[29].root_pos_w[0]
    assert moved < 0.2  # not the 2 m * scale teleport
    assert out[59].root_pos_w[0] - out[29].root_pos_w[0] > 1.0  # glides towards the new place


def test_skeleton_change_reinitialises_and_stale_frames_repeat(stream, human_dir):
    lr = LiveRetargeter()
    _feed(lr, stream, range(5))
    stale = lr.step(stream.joint_names, stream.positions[5], 0.0)
    assert stale.events == ("stale",)
    cmu_path = sorted((human_dir / "cmu_bvh_fairmotion").glob("*.bvh"))
    if not cmu_path:
        pytest.skip("CMU BVH absent")
    cmu, _ = load_human(cmu_path[0])
    last = lr.last
    f = lr.step(cmu.joint_names, cmu.positions[0], 1.0)
    assert f.events == ("reinit", "init", "ease") and lr.mapping.name == "cmu"
    # eases from the last frame sent (one step at ease_speed), not a jump to the new skeleton's pose
    step = LiveConfig.ease_speed * LiveConfig.ease_max_dt
    assert np.abs(f.joint_pos - last.joint_pos).max() <= step + 1e-9


def test_wrong_units_or_unknown_skeleton_give_no_output(stream):
    lr = LiveRetargeter()
    assert lr.step(stream.joint_names, stream.positions[0] * 100.0, 0.0) is None  # centimetres
    assert "implausible" in lr.last_error
    lr = LiveRetargeter()
    assert lr.step(("a", "b"), np.zeros((2, 3)), 0.0) is None
    assert "no skeleton mapping fits" in lr.last_error


def test_start_eases_in_from_the_robot_pose_at_bounded_speed(stream):
    """Issue 18: the live output starts at the robot's pose and never outruns ease_speed until it has met
    the retargeted motion; over the whole stream the first second is no faster than the p99 after it."""
    cfg = LiveConfig()
    lr = LiveRetargeter(cfg=cfg)
    robot = np.zeros(29)  # the robot stands with every joint at zero: far from the walking pose
    lr.set_robot_pose(robot)
    out = [f for _, f in _feed(lr, stream, range(stream.num_frames))]
    q = np.array([f.joint_pos for f in out])
    assert np.abs(q[0] - robot).max() <= cfg.ease_speed / FPS + 1e-9  # one eased step from the robot
    easing = np.array(["ease" in f.events for f in out])
    assert easing[0] and not easing[-1]  # it met the motion and follows it
    # The same stream without easing (infinite ease speed: the output is the solution at once).
    direct = LiveRetargeter(cfg=LiveConfig(ease_speed=np.inf))
    ref = np.array([f.joint_pos for _, f in _feed(direct, stream, range(stream.num_frames))])
    met = np.isclose(q, ref, atol=1e-12)
    assert met[-1].all()
    follows = np.maximum.accumulate(met, axis=0)  # a joint that met the motion stays on it
    np.testing.assert_array_equal(follows, met)
    step = np.abs(np.diff(q, axis=0))
    assert step[~met[1:]].max() <= cfg.ease_speed / FPS + 1e-9  # not yet met: bounded speed
    # Start-up: the first second no faster than the rest of the stream, or than the same second when the
    # retargeter has been running for a second already (the first second played backwards in front).
    first, after = startup_speeds(q, FPS)
    warm = LiveRetargeter(cfg=cfg)
    warm.set_robot_pose(robot)
    n = int(FPS)
    lead = [(i, stream.positions[n - i]) for i in range(n)]  # frames n .. 1, then the stream from 0
    for i, p in lead:
        warm.step(stream.joint_names, p, i / FPS)
    w = np.array(
        [warm.step(stream.joint_names, stream.positions[i], (n + i) / FPS).joint_pos for i in range(n + 1)]
    )
    warm_first = np.abs(np.diff(w, axis=0)).max() * FPS
    assert first <= max(after, 1.1 * warm_first), (first, after, warm_first)


def test_invalid_frames_then_recovery_ease_from_the_last_frame(stream):
    lr = LiveRetargeter(cfg=LiveConfig(hold_timeout_s=0.1))
    lr.set_robot_pose(KNEES_BENT_POSE)
    foot = stream.joint_names.index("Foot_L")
    _feed(lr, stream, range(100))
    bad = dict(_feed(lr, stream, range(100, 140), lambda i, p: (p.__setitem__(foot, np.nan), p)[1]))
    assert not bad[139].valid
    back = dict(_feed(lr, stream, range(140, 145)))
    assert "ease" in back[140].events
    step = LiveConfig.ease_speed * LiveConfig.ease_max_dt
    assert np.abs(back[140].joint_pos - KNEES_BENT_POSE).max() <= step + 1e-9  # from the robot's pose


def test_live_pivot_rule_keeps_more_of_a_boxers_turn(human_dir):
    """Opt-in live pivot rule on the Bandai boxer (punch_normal_001): the stance ankle is no longer pinned."""
    from hgpt_core.motion import MotionClip
    from hgpt_retarget.quality import evaluate_clip
    from hgpt_retarget.targets import build_targets

    path = sorted((human_dir / "bandai_namco").rglob("*punch_normal_001.bvh"))
    if not path:
        pytest.skip("Bandai-Namco punch_normal_001 absent")
    motion, mapping = load_human(path[0])
    s = motion.resample(FPS)
    tg = build_targets(s, mapping)  # the yardstick: the offline stance frames and scaled human
    p50 = {}
    for follow in (False, True):
        lr = LiveRetargeter(cfg=LiveConfig(follow_pivots=follow))
        out = [lr.step(s.joint_names, s.positions[i], i / FPS) for i in range(s.num_frames)]
        clip = MotionClip(
            *(np.array([getattr(f, a) for f in out]) for a in ("root_pos_w", "root_quat_w", "joint_pos")), FPS
        )
        p50[follow] = evaluate_clip(clip, tg.stance, tg.human_scaled).foot_stance_speed_p50_mps
    assert p50[True] > 1.4 * p50[False]


def test_a_t_pose_frame_before_the_motion_is_eased_through(human_dir):
    """CMU 01_01 streams a T-pose frame first: the jump to the motion is a pose jump, eased, not followed
    at the motor limits (37 rad/s without easing); the first second is no faster than the rest."""
    path = sorted((human_dir / "cmu_bvh_fairmotion").glob("01_01.bvh"))
    if not path:
        pytest.skip("CMU 01_01 absent")
    motion, _ = load_human(path[0])
    s = motion.resample(FPS)
    lr = LiveRetargeter()
    out = [lr.step(s.joint_names, s.positions[i], i / FPS) for i in range(s.num_frames)]
    assert "pose_jump" in out[1].events and "ease" in out[1].events
    q = np.array([f.joint_pos for f in out])
    first, after = startup_speeds(q, FPS)
    assert first <= after, (first, after)
