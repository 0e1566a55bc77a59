"""The corpus filter: verdicts and reasons on real clips and on real clips made unexecutable on purpose."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hgpt_core.corpus_store import load_manifest
from hgpt_core.formats import load_clip
from hgpt_core.g1 import G1_JOINT_NAMES
from hgpt_core.motion import MotionClip
from hgpt_core.rotations import axis_angle_to_quat, quat_mul
from hgpt_training.corpus_filter import FilterConfig, assess_clip, foot_and_com, speed_reasons
from hgpt_training.corpus_sources import OBJECT_NAME_PATTERN

CFG = FilterConfig()


@pytest.fixture(scope="module")
def walk(shared_data) -> MotionClip:
    return load_clip(shared_data / "motions/g1/gmt/basic_walk.pkl").resample(50)


def reasons_of(clip: MotionClip) -> list[str]:
    return [r.split(":")[0] for r in assess_clip(clip, CFG)[0].reasons]


def test_real_verdicts_box_rejected_walk_and_dance_kept(small_corpus):
    clips = {c["clip_id"]: c for c in load_manifest(small_corpus)["clips"]}
    for box in ("holosoma/sub3_largebox_003_mj", "holosoma/sub3_largebox_003_mj_w_obj"):
        assert clips[box]["verdict"] == "rejected"
        assert clips[box]["reasons"][0].startswith("object_interaction")
    for kept in ("gmt/basic_walk", "gmt/walk_stand", "g1_moves/J_ShortDance16_JazzWalk", "gmt/airkick_stand"):
        assert clips[kept]["verdict"] == "accepted", clips[kept]
        assert clips[kept]["reasons"] == []
    twin = clips["g1_moves_npz/M_ShortMove14"]
    assert twin["reasons"] == ["duplicate: same motion as g1_moves/M_ShortMove14"]
    assert clips["g1_moves/M_ShortMove14"]["verdict"] == "accepted"


def test_walk_is_accepted_and_sunk_clip_is_shifted_back(walk):
    a, _ = assess_clip(walk, CFG)
    assert a.accepted, a.reasons
    p5 = np.percentile(foot_and_com(walk)[0], 5)
    assert CFG.ground_band_m[0] <= p5 <= CFG.ground_band_m[1] and a.ground_shift_m == 0.0
    sunk = dataclasses.replace(walk, root_pos=walk.root_pos - [0.0, 0.0, 0.06])
    b, fixed = assess_clip(sunk, CFG)
    assert b.accepted, b.reasons
    assert b.ground_shift_m == pytest.approx(CFG.ground_target_m - (p5 - 0.06), abs=1e-5)
    assert np.percentile(foot_and_com(fixed)[0], 5) == pytest.approx(CFG.ground_target_m, abs=1e-5)
    no_alignment = dataclasses.replace(CFG, ground_band_m=(-np.inf, np.inf))
    assert "feet_penetrating" in [r.split(":")[0] for r in assess_clip(sunk, no_alignment)[0].reasons]


def test_unexecutable_variants_are_rejected_with_their_reason(walk):
    lifted = dataclasses.replace(walk, root_pos=walk.root_pos + [0.0, 0.0, 0.5])
    assert "height_offset" in reasons_of(lifted)
    q_side = axis_angle_to_quat(np.array([1.0, 0.0, 0.0]), np.array(np.pi / 2))
    lying = dataclasses.replace(
        walk, root_quat=quat_mul(np.broadcast_to(q_side, walk.root_quat.shape), walk.root_quat)
    )
    assert "not_upright" in reasons_of(lying)
    assert reasons_of(walk.slice(0, 75)) == ["too_short"]  # 1.48 s
    floor = dataclasses.replace(walk, root_pos=walk.root_pos * [1.0, 1.0, 0.2])  # pelvis at ~0.15 m
    assert "pelvis_near_floor" in reasons_of(floor)


def seated_clip(seconds: float = 3.0) -> MotionClip:
    """Thighs horizontal, shins vertical, feet on the floor, no chair: the CoM sits behind the feet."""
    n = int(seconds * 50)
    q = np.zeros((n, 29))
    for side in ("left", "right"):
        q[:, G1_JOINT_NAMES.index(f"{side}_hip_pitch_joint")] = -1.57
        q[:, G1_JOINT_NAMES.index(f"{side}_knee_joint")] = 1.57
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    clip = MotionClip(np.zeros((n, 3)), quat, q, 50.0)
    foot_z, _, _ = foot_and_com(clip)
    clip.root_pos[:, 2] = 0.01 - foot_z[0]
    return clip


def test_sitting_without_a_chair_is_unsupported():
    reasons = reasons_of(seated_clip())
    assert "unsupported_com" in reasons, reasons
    assert "not_upright" not in reasons and "height_offset" not in reasons


def test_speed_rules(walk):
    assert speed_reasons(walk.joint_pos, 50.0, CFG) == []
    glitch = walk.joint_pos.copy()
    glitch[40:, G1_JOINT_NAMES.index("left_knee_joint")] += 2.0  # one 100 rad/s step: 5x the knee limit
    assert [r.split(":")[0] for r in speed_reasons(glitch, 50.0, CFG)] == ["velocity_glitch"]
    fast = speed_reasons(walk.joint_pos, 50.0 * 8, CFG)  # the walk played 8x faster
    assert "velocity_spikes" in [r.split(":")[0] for r in fast]


@pytest.mark.parametrize(
    ("name", "hit"),
    [
        ("motions/g1/holosoma/sub3_largebox_003_mj.npz", True),
        ("human/climb/mocap_climb_seq_0/x.npy", True),
        ("walk_and_sit_down.bvh", True),
        ("chair_stand_up.csv", True),
        ("kickboxing_combo.csv", False),
        ("horse_stance_position.pkl", False),
        ("unstable_balance.pkl", False),
        ("motions/g1/gmt/basic_walk.pkl", False),
    ],
)
def test_object_name_pattern(name, hit):
    assert bool(OBJECT_NAME_PATTERN.search(name.lower())) is hit
