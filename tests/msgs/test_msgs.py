"""hgpt_msgs: the interfaces build and import, G1-sized arrays are fixed at 29, mode constants agree."""

import numpy as np
import pytest
from msg_samples import field_differences, filled, leaf_fields

from hgpt_msgs.msg import HumanPose, JointCommand, MotionReference, RobotState, TrackingStatus
from hgpt_msgs.srv import LoadMotion, SetMode

MESSAGES = [HumanPose, MotionReference, RobotState, JointCommand, TrackingStatus]
JOINT_ARRAYS = {
    MotionReference: ["joint_positions", "joint_velocities"],
    RobotState: ["q", "dq", "tau_est"],
    JointCommand: ["q", "dq", "tau_ff", "kp", "kd"],
}


def test_every_interface_imports_and_has_a_header():
    for cls in MESSAGES:
        assert "header" in cls.get_fields_and_field_types(), cls.__name__
    assert set(SetMode.Request.get_fields_and_field_types()) == {"mode"}
    assert set(SetMode.Response.get_fields_and_field_types()) == {"success", "message"}
    assert set(LoadMotion.Request.get_fields_and_field_types()) == {"path", "loop", "speed"}
    assert set(LoadMotion.Response.get_fields_and_field_types()) == {"success", "message", "duration_s"}


@pytest.mark.parametrize("cls", list(JOINT_ARRAYS), ids=lambda c: c.__name__)
def test_joint_arrays_are_fixed_at_29_float64(cls):
    types = cls.get_fields_and_field_types()
    msg = cls(check_fields=True)
    for name in JOINT_ARRAYS[cls]:
        assert types[name] == "double[29]"
        value = getattr(msg, name)
        assert value.shape == (29,) and value.dtype == np.float64
        for bad in (np.zeros(28), np.zeros(30)):
            with pytest.raises(AssertionError, match="size of 29"):
                setattr(msg, name, bad)


def test_field_checks_are_on_in_tests():
    """tests/conftest.py sets ROS_PYTHON_CHECK_FIELDS=1, so node code under test cannot send short arrays."""
    with pytest.raises(AssertionError, match="size of 29"):
        RobotState().q = np.zeros(28)


def test_joint_array_size_matches_the_g1_spec():
    from hgpt_core.g1 import G1_JOINT_NAMES

    assert len(G1_JOINT_NAMES) == len(RobotState().q) == len(JointCommand().q) == 29


def test_mode_constants_agree_across_interfaces():
    expected = {"MODE_DAMP": 0, "MODE_STAND": 1, "MODE_TRACK": 2, "MODE_HOLD": 3}
    for cls in (JointCommand, TrackingStatus):
        assert {name: getattr(cls, name) for name in expected} == expected
    for name in ("MODE_DAMP", "MODE_STAND", "MODE_TRACK"):
        assert getattr(SetMode.Request, name) == expected[name]


def test_quaternions_are_geometry_msgs_with_named_components():
    types = RobotState.get_fields_and_field_types()
    assert types["imu_orientation"] == "geometry_msgs/Quaternion"
    assert MotionReference.get_fields_and_field_types()["root_orientation"] == "geometry_msgs/Quaternion"
    q = RobotState().imu_orientation
    assert (q.x, q.y, q.z, q.w) == (0.0, 0.0, 0.0, 1.0)  # identity by default


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_sample_sets_every_field(cls):
    """The round-trip tests rely on filled() touching every leaf field."""
    sample = filled(cls)
    assert len(field_differences(sample, cls())) == len(dict(leaf_fields(sample)))
    assert sample == filled(cls)  # deterministic
