"""ReferencePlayer on a real clip: timing, speed, pause, loop, end of clip."""

import numpy as np
import pytest

from hgpt_core.datasets import shared_data_dir
from hgpt_core.formats import load_clip
from hgpt_core.reference import ReferenceMotion
from hgpt_retarget.player import ReferencePlayer


@pytest.fixture(scope="module")
def ref():
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data folder (../shared/data) not found; set HGPT_SHARED_DATA")
    return ReferenceMotion.from_clip(load_clip(root / "motions/g1/gmt/squat.pkl"))


def test_frames_follow_the_clip_at_50hz(ref):
    p = ReferencePlayer(ref)
    p.play(10.0)
    for k in (0, 7, 100):
        f = p.frame(10.0 + k / 50)
        np.testing.assert_allclose(f.joint_pos, ref.joint_pos[k], atol=1e-9)
        np.testing.assert_allclose(f.joint_vel, ref.joint_vel[k], atol=1e-9)
        assert p.frame_index(10.0 + k / 50) == k and not p.finished(10.0 + k / 50)


def test_speed_pause_and_interpolation(ref):
    p = ReferencePlayer(ref, speed=2.0)
    p.play(0.0)
    np.testing.assert_allclose(p.frame(0.5).joint_pos, ref.joint_pos[50], atol=1e-9)
    np.testing.assert_allclose(p.frame(0.5).joint_vel, 2 * ref.joint_vel[50], atol=1e-9)
    p.pause(0.5)
    np.testing.assert_allclose(p.frame(3.0).joint_pos, ref.joint_pos[50], atol=1e-9)  # paused
    p.set_speed(1.0, 3.0)
    p.play(4.0)
    mid = p.frame(4.01)  # half way between frames 50 and 51
    np.testing.assert_allclose(mid.joint_pos, 0.5 * (ref.joint_pos[50] + ref.joint_pos[51]), atol=1e-9)
    assert abs(np.linalg.norm(mid.root_quat_w) - 1) < 1e-9
    with pytest.raises(ValueError, match="speed"):
        p.set_speed(0.0, 5.0)


def test_end_of_clip_holds_with_zero_velocity_or_loops(ref):
    p = ReferencePlayer(ref)
    p.play(0.0)
    end = p.frame(p.duration + 5.0)
    assert p.finished(p.duration + 5.0) and np.all(end.joint_vel == 0) and np.all(end.root_lin_vel_w == 0)
    np.testing.assert_allclose(end.joint_pos, ref.joint_pos[-1], atol=1e-9)
    loop = ReferencePlayer(ref, loop=True)
    loop.play(0.0)
    f = loop.frame(loop.duration + 0.2)
    assert not loop.finished(loop.duration + 0.2)
    np.testing.assert_allclose(f.joint_pos, ref.joint_pos[10], atol=1e-9)
