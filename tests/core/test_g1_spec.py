"""The G1 spec in code agrees with the compiled MuJoCo model (not with itself)."""

import mujoco
import numpy as np
import pytest

from hgpt_core import g1


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(g1.scene_xml_path()))


def test_joint_order_is_qpos_order(model):
    hinge_names = [
        model.joint(j).name for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE
    ]
    assert tuple(hinge_names) == g1.G1_JOINT_NAMES
    assert [model.jnt_qposadr[model.joint(n).id] for n in g1.G1_JOINT_NAMES] == list(range(7, 36))
    assert tuple(model.actuator(i).name for i in range(model.nu)) == g1.G1_JOINT_NAMES


def test_limits_match_model(model):
    ranges = np.array([model.jnt_range[model.joint(n).id] for n in g1.G1_JOINT_NAMES])
    np.testing.assert_allclose(g1.JOINT_LIMITS, ranges, atol=2e-4)


def test_armature_gains_and_effort_match_actuators(model):
    spec = g1.G1Spec()
    dof = [model.jnt_dofadr[model.joint(n).id] for n in g1.G1_JOINT_NAMES]
    np.testing.assert_allclose([g1.ARMATURE[t] for t in g1.MOTOR_TYPE], model.dof_armature[dof], rtol=1e-4)
    np.testing.assert_allclose(spec.kp, model.actuator_gainprm[:, 0], rtol=1e-4)
    np.testing.assert_allclose(spec.kp, -model.actuator_biasprm[:, 1], rtol=1e-4)
    np.testing.assert_allclose(spec.kd, -model.actuator_biasprm[:, 2], rtol=1e-4)
    np.testing.assert_allclose(spec.effort_limit, model.actuator_forcerange[:, 1])


def test_design_gain_values():
    kp, kd = g1.armature_gains()
    by_type = {t: (kp[i], kd[i]) for i, t in enumerate(g1.MOTOR_TYPE)}
    np.testing.assert_allclose(by_type["5020"], (14.2506, 0.9072), atol=1e-3)
    np.testing.assert_allclose(by_type["7520_14"], (40.1792, 2.5579), atol=1e-3)
    np.testing.assert_allclose(by_type["7520_22"], (99.0984, 6.3088), atol=1e-3)
    np.testing.assert_allclose(by_type["4010"], (16.7783, 1.0681), atol=1e-3)
    np.testing.assert_allclose(by_type["2x5020"], (28.5012, 1.8144), atol=1e-3)


def test_default_pose_is_knees_bent_keyframe(model):
    key = model.key("knees_bent")
    np.testing.assert_allclose(key.qpos[7:], g1.KNEES_BENT_POSE)
    assert key.qpos[2] == pytest.approx(g1.KNEES_BENT_ROOT_Z)
    lo, hi = g1.JOINT_LIMITS.T
    assert np.all((lo <= g1.KNEES_BENT_POSE) & (hi >= g1.KNEES_BENT_POSE))


def test_keypoint_bodies_exist(model):
    for b in g1.KEYPOINT_BODIES + g1.END_EFFECTOR_BODIES + (g1.ANCHOR_BODY, g1.ROOT_BODY):
        assert model.body(b).id > 0


def test_index_map_by_name():
    idx = g1.index_map(g1.G1_JOINT_NAMES, g1.G1_23DOF_JOINT_NAMES)
    assert [g1.G1_JOINT_NAMES[i] for i in idx] == list(g1.G1_23DOF_JOINT_NAMES)
    assert len(g1.WRIST_JOINTS) == 6
    with pytest.raises(ValueError, match="missing"):
        g1.index_map(g1.G1_23DOF_JOINT_NAMES, g1.G1_JOINT_NAMES)


def test_shipped_assets_have_licences():
    names = {p.name for p in g1.assets_dir().iterdir()}
    assert {
        "LICENSE.mjlab-Apache-2.0",
        "LICENSE.unitree-BSD-3-Clause",
        "g1.xml",
    } <= names
    assert len(list((g1.assets_dir() / "assets").glob("*.STL"))) == 35
