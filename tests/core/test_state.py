"""The shared state types (RobotState, ReferenceFrame), ObsInput.from_state and the one resampler, on the
bundled walk clip."""

import dataclasses

import numpy as np
import pytest

from hgpt_core.datasets import bundled_clip_path
from hgpt_core.formats import load_clip
from hgpt_core.g1 import KEYPOINT_BODIES, KNEES_BENT_POSE, NUM_JOINTS
from hgpt_core.obs import DEPLOY_OBS_TERMS, ObsInput, build_obs, privileged_obs_terms
from hgpt_core.reference import ReferenceMotion
from hgpt_core.resample import Resampler, uniform_count
from hgpt_core.rotations import quat_apply_inv, quat_slerp
from hgpt_core.state import ReferenceFrame, RobotState

K = len(KEYPOINT_BODIES)


@pytest.fixture(scope="module")
def walk() -> ReferenceMotion:
    return ReferenceMotion.from_clip(load_clip(bundled_clip_path()))


def test_a_clip_is_a_batch_of_reference_frames(walk):
    t = walk.num_frames
    assert isinstance(walk, ReferenceFrame) and walk.batch_shape == (t,)
    shapes = {f.name: getattr(walk, f.name).shape for f in dataclasses.fields(ReferenceFrame)}
    assert shapes == {
        "root_pos_w": (t, 3),
        "root_quat_w": (t, 4),
        "root_lin_vel_w": (t, 3),
        "root_ang_vel_w": (t, 3),
        "joint_pos": (t, NUM_JOINTS),
        "joint_vel": (t, NUM_JOINTS),
        "keypoint_pos_w": (t, K, 3),
        "keypoint_quat_w": (t, K, 4),
        "keypoint_lin_vel_w": (t, K, 3),
    }
    one = walk.select(5)
    assert type(one) is ReferenceFrame and one.batch_shape == () and one.keypoint_pos_w.shape == (K, 3)
    np.testing.assert_array_equal(one.joint_pos, walk.joint_pos[5])
    some = walk.select(np.array([3, 1, 4]))
    assert some.batch_shape == (3,) and some.qpos().shape == (3, 36) and some.qvel().shape == (3, 35)
    with pytest.raises(AttributeError):  # slots: a misspelt (old) field name is an error, not a new field
        one.root_quat = np.array([1.0, 0, 0, 0])  # type: ignore[attr-defined]


def test_robot_state_from_qpos_qvel_round_trips(walk):
    ref = walk.select(slice(10, 20))
    qpos, qvel = ref.qpos(), ref.qvel()
    s = RobotState.from_qpos_qvel(qpos, qvel)
    assert s.batch_shape == (10,) and s.root_quat_w.shape == (10, 4) and s.root_ang_vel_b.shape == (10, 3)
    assert s.body_pos_w is None
    np.testing.assert_array_equal(s.qpos(), qpos)
    np.testing.assert_array_equal(s.qvel(), qvel)
    np.testing.assert_array_equal(s.root_ang_vel_b, quat_apply_inv(ref.root_quat_w, ref.root_ang_vel_w))
    qpos[:, 7] = 99.0  # from_qpos_qvel copies
    assert s.joint_pos[0, 0] != 99.0
    with pytest.raises(ValueError, match=r"\(\.\.\., 36\)"):
        RobotState.from_qpos_qvel(qpos[:, :30], qvel)
    imu_only = RobotState(s.joint_pos, s.joint_vel, s.root_quat_w, s.root_ang_vel_b)
    with pytest.raises(ValueError, match="root truth"):
        imu_only.qpos()
    part = s.select(np.array([2, 4]))
    part.joint_pos[:] = 0.0
    s.assign(np.array([2, 4]), part)
    assert (s.joint_pos[[2, 4]] == 0).all() and (s.joint_pos[3] != 0).any()


def _hand_built(state: RobotState, ref: ReferenceFrame, last: np.ndarray) -> ObsInput:
    """ObsInput as controller.py / sim/observation.py / the tests built it by hand before from_state."""
    return ObsInput(
        joint_pos=state.joint_pos,
        joint_vel=state.joint_vel,
        base_quat=state.root_quat_w,
        base_ang_vel_b=state.root_ang_vel_b,
        last_action=last,
        ref_root_pos_w=ref.root_pos_w,
        ref_root_quat=ref.root_quat_w,
        ref_root_lin_vel_w=ref.root_lin_vel_w,
        ref_root_ang_vel_w=ref.root_ang_vel_w,
        ref_joint_pos=ref.joint_pos,
        ref_joint_vel=ref.joint_vel,
        default_joint_pos=KNEES_BENT_POSE,
        base_pos_w=state.root_pos_w,
        base_lin_vel_w=state.root_lin_vel_w,
        keypoint_pos_w=state.body_pos_w,
        ref_keypoint_pos_w=ref.keypoint_pos_w,
    )


def test_obs_input_from_state_equals_the_hand_built_one(walk):
    """State = frame t as if tracked perfectly (bodies = keypoints, shifted 2 cm), reference = frame t + 1."""
    now, nxt = walk.select(slice(0, -1)), walk.select(slice(1, None))
    state = now.as_robot_state()
    state = dataclasses.replace(state, body_pos_w=state.body_pos_w + 0.02)
    last = (now.joint_pos - KNEES_BENT_POSE) / 0.25
    got = ObsInput.from_state(state, nxt, last, KNEES_BENT_POSE)
    want = _hand_built(state, nxt, last)
    for terms in (DEPLOY_OBS_TERMS, privileged_obs_terms(K)):
        np.testing.assert_array_equal(build_obs(got, terms), build_obs(want, terms))
    assert build_obs(got).shape == (walk.num_frames - 1, 161)
    # a real robot (IMU only) and a reference without keypoints: privileged fields stay None
    imu = RobotState(state.joint_pos[0], state.joint_vel[0], state.root_quat_w[0], state.root_ang_vel_b[0])
    one = ObsInput.from_state(
        imu, ReferenceFrame(*(getattr(nxt, n)[0] for n in _CORE)), last[0], KNEES_BENT_POSE
    )
    assert one.base_pos_w is None and one.keypoint_pos_w is None and one.ref_keypoint_pos_w is None
    np.testing.assert_array_equal(build_obs(one), build_obs(got)[0])
    with pytest.raises(ValueError, match="sim truth"):
        build_obs(one, privileged_obs_terms(K))


_CORE = ("root_pos_w", "root_quat_w", "root_lin_vel_w", "root_ang_vel_w", "joint_pos", "joint_vel")


def test_resampler_reproduces_the_three_old_ones(walk):
    clip = load_clip(bundled_clip_path())
    # MotionClip.sample (uniform source): bit for bit the former inline code
    t = np.arange(uniform_count(clip.duration, 30.0)) / 30.0
    x = np.clip(t * clip.fps, 0.0, clip.num_frames - 1)
    i0 = np.floor(x).astype(np.int64).clip(max=clip.num_frames - 2)
    a = x - i0
    pos, quat, joints = clip.sample(t)
    np.testing.assert_array_equal(
        pos, clip.root_pos[i0] + (clip.root_pos[i0 + 1] - clip.root_pos[i0]) * a[:, None]
    )
    np.testing.assert_array_equal(quat, quat_slerp(clip.root_quat[i0], clip.root_quat[i0 + 1], a))
    np.testing.assert_array_equal(
        joints, clip.joint_pos[i0] + (clip.joint_pos[i0 + 1] - clip.joint_pos[i0]) * a[:, None]
    )
    # bag-to-clips (uneven stamps): the former searchsorted code
    rng = np.random.default_rng(0)
    stamps = np.cumsum(rng.uniform(0.01, 0.03, clip.num_frames))
    tq = np.arange(uniform_count(stamps[-1] - stamps[0], 50.0)) / 50.0 + stamps[0]
    j0 = np.clip(np.searchsorted(stamps, tq, side="right") - 1, 0, len(stamps) - 2)
    b = np.clip((tq - stamps[j0]) / (stamps[j0 + 1] - stamps[j0]), 0.0, 1.0)
    r = Resampler.at_times(stamps, tq)
    np.testing.assert_array_equal(
        r.linear(clip.joint_pos),
        clip.joint_pos[j0] + (clip.joint_pos[j0 + 1] - clip.joint_pos[j0]) * b[:, None],
    )
    # human mocap (T, J, 3): the former p0 (1 - a) + p1 a, equal to rounding
    pts = walk.keypoint_pos_w
    xs = np.arange(uniform_count((len(pts) - 1) / 50.0, 120.0)) * 50.0 / 120.0
    k0 = np.minimum(np.floor(xs).astype(int), len(pts) - 2)
    c = (xs - k0)[:, None, None]
    np.testing.assert_allclose(
        Resampler.at_frames(xs, len(pts)).linear(pts), pts[k0] * (1 - c) + pts[k0 + 1] * c, rtol=0, atol=1e-12
    )
    # a one-frame clip resamples to itself; stamps need two
    np.testing.assert_array_equal(
        Resampler.at_frames(np.zeros(3), 1).linear(pts[:1]), np.repeat(pts[:1], 3, 0)
    )
    with pytest.raises(ValueError, match="at least 2"):
        Resampler.at_times(stamps[:1], tq)
