"""BVH parsing and forward kinematics against hand-worked examples; malformed files."""

from __future__ import annotations

import numpy as np
import pytest

from hgpt_core.errors import MotionFormatError
from hgpt_retarget.bvh import parse_bvh, read_bvh

# Root with 6 channels, one child 10 units along x, rotated about Z by the root's Zrotation.
TWO_JOINTS = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Arm
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 5 0 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
1 2 3 0 0 0 0 0 0
0 0 0 90 0 0 0 0 90
"""


def test_fk_hand_worked():
    bvh = parse_bvh(TWO_JOINTS)
    assert bvh.joint_names == ("Hips", "Arm", "Arm_End")
    assert bvh.fps == pytest.approx(2.0)
    pos, quat, names = bvh.forward_kinematics(with_end_sites=True)
    assert names == ["Hips", "Arm", "Arm_End"]
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [11, 2, 3], [16, 2, 3]], atol=1e-9)
    # Frame 1: root yaw 90 deg about Z puts the arm along +y; the arm's own Yrotation 90 deg turns its
    # local x (the end site) to -z in the arm frame, i.e. world -z.
    np.testing.assert_allclose(pos[1, 1], [0, 10, 0], atol=1e-9)
    np.testing.assert_allclose(pos[1, 2], [0, 10, -5], atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(quat, axis=-1), 1.0)


def test_position_channels_replace_offsets():
    text = TWO_JOINTS.replace("CHANNELS 3 Zrotation", "CHANNELS 6 Xposition Yposition Zposition Zrotation")
    text = text.replace("1 2 3 0 0 0 0 0 0", "0 0 0 0 0 0 7 0 0 0 0 0").replace(
        "0 0 0 90 0 0 0 0 90", "0 0 0 0 0 0 7 0 0 0 0 0"
    )
    pos, _, _ = parse_bvh(text).forward_kinematics()
    np.testing.assert_allclose(pos[0, 1], [7, 0, 0])  # not 10 + 7


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("0 0 0 90 0 0 0 0 90\n", ""), "truncated"),
        (lambda t: t.replace("0 0 0 90 0 0 0 0 90", "0 0 0 90 0 0 0 0"), "frame 1 has 8 values"),
        (lambda t: t.split("MOTION")[0], "no MOTION"),
        (
            lambda t: t.replace(
                "Zrotation Xrotation Yrotation\n    End", "Wrotation Xrotation Yrotation\n    End"
            ),
            "bad CHANNELS",
        ),
        (lambda t: t.replace("1 2 3", "1 x 3"), "non-numeric"),
        (lambda t: "HELLO\n" + t, "not a BVH"),
    ],
)
def test_malformed_bvh_is_a_clear_error(edit, message):
    with pytest.raises(MotionFormatError, match=message):
        parse_bvh(edit(TWO_JOINTS), "x.bvh")


def test_truncated_real_file(walk_bvh, tmp_path):
    text = walk_bvh.read_text()
    cut = tmp_path / "cut.bvh"
    cut.write_text(text[: int(len(text) * 0.7)])
    with pytest.raises(MotionFormatError, match="truncated|values"):
        read_bvh(cut)
