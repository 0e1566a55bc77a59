"""Observation layout and policy metadata: sizes, values, exact JSON, mismatch refusal."""

import json

import numpy as np
import pytest

from hgpt_core.errors import MetadataMismatchError
from hgpt_core.formats import load_clip
from hgpt_core.g1 import G1_JOINT_NAMES, KEYPOINT_BODIES, KNEES_BENT_POSE
from hgpt_core.obs import (
    DEPLOY_OBS_TERMS,
    ObsInput,
    build_obs,
    obs_layout,
    obs_size,
    privileged_obs_terms,
    terms_from_layout,
)
from hgpt_core.policy_meta import (
    PolicyMetadata,
    RobotConfig,
    check_metadata,
    metadata_differences,
)
from hgpt_core.reference import ReferenceMotion
from hgpt_core.rotations import axis_angle_to_quat


@pytest.fixture(scope="module")
def ref(walk_csv):
    return ReferenceMotion.from_clip(load_clip(walk_csv, fps=30).slice(2550, 2700))


def _inp(ref, privileged=False):
    t = ref.num_frames
    extra = (
        dict(
            base_pos_w=ref.root_pos_w,
            base_lin_vel_w=ref.root_lin_vel_w,
            keypoint_pos_w=ref.keypoint_pos_w,
            ref_keypoint_pos_w=ref.keypoint_pos_w,
        )
        if privileged
        else {}
    )
    return ObsInput(
        joint_pos=ref.joint_pos,
        joint_vel=ref.joint_vel,
        base_quat=ref.root_quat_w,
        base_ang_vel_b=np.zeros((t, 3)),
        last_action=np.zeros((t, 29)),
        ref_root_pos_w=ref.root_pos_w,
        ref_root_quat=ref.root_quat_w,
        ref_root_lin_vel_w=ref.root_lin_vel_w,
        ref_root_ang_vel_w=ref.root_ang_vel_w,
        ref_joint_pos=ref.joint_pos,
        ref_joint_vel=ref.joint_vel,
        default_joint_pos=KNEES_BENT_POSE,
        **extra,
    )


def test_token_layout_on_real_reference(ref):
    obs = build_obs(_inp(ref))
    assert obs.shape == (ref.num_frames, 161) == (ref.num_frames, obs_size(DEPLOY_OBS_TERMS))
    assert obs.dtype == np.float32 and np.isfinite(obs).all()
    off = dict(
        zip(
            [t.name for t in DEPLOY_OBS_TERMS],
            np.cumsum([0] + [t.size for t in DEPLOY_OBS_TERMS][:-1]),
            strict=True,
        )
    )
    np.testing.assert_allclose(
        obs[:, off["joint_pos_rel"] : off["joint_pos_rel"] + 29],
        ref.joint_pos - KNEES_BENT_POSE,
        atol=1e-6,
    )
    # frames 2550-2700 walk forward at ~1.2 m/s: reference forward speed in the root frame is positive
    fwd = obs[:, off["ref_root_lin_vel_b"]]
    assert np.median(fwd) > 0.3
    # robot == reference: every privileged error term is zero
    priv = build_obs(_inp(ref, privileged=True), privileged_obs_terms(len(KEYPOINT_BODIES)))
    assert priv.shape[1] == 161 + 3 + 1 + 3 + 6 + 3 * len(KEYPOINT_BODIES)
    np.testing.assert_allclose(priv[:, 161 + 4 : 161 + 7], 0, atol=1e-6)
    np.testing.assert_allclose(priv[:, -3 * len(KEYPOINT_BODIES) :], 0, atol=1e-6)


def test_privileged_terms_need_sim_truth(ref):
    with pytest.raises(ValueError, match="base_lin_vel_w"):
        build_obs(_inp(ref), privileged_obs_terms(14))


def test_gravity_term_sees_tilt(ref):
    inp = _inp(ref)
    inp.base_quat = np.tile(
        axis_angle_to_quat(np.array([1.0, 0, 0]), np.array(np.pi / 2)),
        (ref.num_frames, 1),
    )
    obs = build_obs(inp)
    np.testing.assert_allclose(obs[:, 3:6], np.tile([0, -1, 0], (ref.num_frames, 1)), atol=1e-6)


def test_layout_round_trip():
    layout = obs_layout(privileged_obs_terms(14))
    assert [t.name for t in terms_from_layout(layout)] == [n for n, _ in layout]
    with pytest.raises(ValueError, match="unknown observation term"):
        terms_from_layout([("joint_pos_abs", 29)])
    with pytest.raises(ValueError, match="size"):
        terms_from_layout([("joint_vel", 23)])


def test_metadata_exact_json_round_trip():
    meta = PolicyMetadata("gpt-s", kp=[0.1 + i / 3 for i in range(29)], arch={"kind": "gpt", "width": 256})
    back = PolicyMetadata.from_json(meta.to_json())
    assert back == meta and back.kp[5] == meta.kp[5]  # bit-exact floats
    check_metadata(back, RobotConfig())


def test_metadata_mismatch_lists_every_difference():
    meta = PolicyMetadata(
        "bad",
        joint_names=list(G1_JOINT_NAMES[:23]),
        default_joint_pos=[0.0] * 23,
        kp=[1.0] * 23,
        kd=[1.0] * 23,
        action_scale=[0.25] * 23,
        obs_terms=[["joint_pos_rel", 29]],
        control_dt=0.01,
        inference="window",
    )
    diffs = metadata_differences(meta, RobotConfig(inference="sliding_kv"))
    text = "\n".join(diffs)
    for word in ("joint_names", "obs_terms", "control_dt", "inference"):
        assert word in text
    with pytest.raises(MetadataMismatchError, match="refusing to start"):
        check_metadata(meta, RobotConfig())


def test_invalid_metadata_rejected():
    d = json.loads(PolicyMetadata("x").to_json())
    d["kp"][3] = float("nan")
    with pytest.raises(MetadataMismatchError, match="NaN"):
        PolicyMetadata.from_json(json.dumps(d))
    d = json.loads(PolicyMetadata("x").to_json())
    d["default_joint_pos"][3] = 5.0  # knee far beyond its limit
    with pytest.raises(MetadataMismatchError, match="left_knee_joint"):
        PolicyMetadata.from_json(json.dumps(d))
    with pytest.raises(MetadataMismatchError, match="unknown fields"):
        PolicyMetadata.from_json(json.dumps({**json.loads(PolicyMetadata("x").to_json()), "gain": 1}))
    with pytest.raises(MetadataMismatchError, match="JSON"):
        PolicyMetadata.from_json("{not json")
