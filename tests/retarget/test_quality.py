"""Quality metrics detect what they claim to: penetration, floating, skating, limits, self-contact."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hgpt_core.g1 import G1_JOINT_NAMES, JOINT_LIMITS, KNEES_BENT_POSE, KNEES_BENT_ROOT_Z
from hgpt_core.motion import MotionClip
from hgpt_retarget.quality import evaluate_clip, markdown_table, write_report
from hgpt_retarget.retarget import sole_heights


def _standing(frames: int = 20) -> MotionClip:
    q = np.zeros((frames, 36))
    q[:, 2], q[:, 3], q[:, 7:] = KNEES_BENT_ROOT_Z, 1.0, KNEES_BENT_POSE
    q[:, 2] -= sole_heights(q[:1]).min()  # feet exactly on the floor
    return MotionClip(q[:, :3], q[:, 3:7], q[:, 7:], 50.0, name="stand")


def test_standing_clip_is_clean():
    q = evaluate_clip(_standing(), np.ones((20, 2), dtype=bool))
    assert q.penetration_max_m < 1e-9 and abs(q.stance_sole_height_median_m) < 1e-9
    assert q.foot_skate_mean_mps < 1e-9 and q.self_penetration_frac == 0
    assert q.joint_limit_max_excess_rad == 0 and np.isnan(q.ee_feet_error_mm)


def test_sinking_floating_and_sliding_are_measured():
    clip = _standing()
    clip.root_pos[:, 2] -= 0.05
    q = evaluate_clip(clip, np.ones((20, 2), dtype=bool))
    assert q.penetration_max_m == pytest.approx(0.05, abs=1e-6) and q.penetration_frac == 1.0
    assert q.stance_sole_height_median_m == pytest.approx(-0.05, abs=1e-6)
    clip = _standing()
    clip.root_pos[:, 0] = np.arange(20) * 0.01  # the whole robot slides at 0.5 m/s
    assert evaluate_clip(clip, np.ones((20, 2), dtype=bool)).foot_skate_mean_mps == pytest.approx(0.5)


def test_limits_and_self_penetration():
    clip = _standing()
    k = G1_JOINT_NAMES.index("left_knee_joint")
    clip.joint_pos[5, k] = JOINT_LIMITS[k, 1] + 0.2
    clip.joint_pos[:, G1_JOINT_NAMES.index("left_shoulder_roll_joint")] = -1.2  # left arm through the torso
    q = evaluate_clip(clip, np.ones((20, 2), dtype=bool))
    assert q.joint_limit_max_excess_rad == pytest.approx(0.2) and q.joint_limit_violation_frac == 0.05
    assert q.self_penetration_frac == 1.0 and q.self_penetration_max_m > 0.01


def test_report_files(tmp_path):
    row = evaluate_clip(_standing(), np.ones((20, 2), dtype=bool)).as_dict()
    md = write_report([row, {**row, "name": "b"}], tmp_path, extra={"run": {"files": 2}})
    doc = json.loads((tmp_path / "retarget_report.json").read_text())
    assert doc["summary"]["clips"] == 2 and doc["summary"]["frames"] == 40 and doc["run"]["files"] == 2
    assert md.read_text().count("\n") == 7  # title, blank, header, separator, 2 clips, mean row
    assert "**mean**" in markdown_table([row])
