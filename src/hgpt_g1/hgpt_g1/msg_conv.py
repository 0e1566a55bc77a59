"""numpy <-> messages for the G1 bridge and the simulated robot.

unitree_hg LowState/LowCmd travel as serialized bytes (``raw=True`` subscriptions, bytes published):
:mod:`hgpt_g1.cdr` maps them to their C structs and :mod:`hgpt_g1.lowlevel` to arrays, so this module
imports without unitree_ros2; :func:`import_unitree_hg` loads the types (needed for the topics' type
support) with a clear message when they are missing. hgpt_msgs quaternions are x, y, z, w fields;
unitree_hg's IMU quaternion is the array (w, x, y, z).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState

from hgpt_core.g1 import G1_JOINT_NAMES
from hgpt_core.stamps import stamp_to_sec
from hgpt_g1.cdr import LOWCMD_CDR, LOWSTATE_CDR
from hgpt_g1.crc import pack_lowcmd_msg, pack_lowstate_msg
from hgpt_g1.safety_config import JointTarget, LowStateSample, MotorCommand, SafetyState, SafetyStatus
from hgpt_msgs.msg import JointCommand, RobotState, TrackingStatus

STATE_MODE = {  # TrackingStatus.mode of each safety state
    SafetyState.DAMP: TrackingStatus.MODE_DAMP,
    SafetyState.ESTOP: TrackingStatus.MODE_DAMP,
    SafetyState.RAMP: TrackingStatus.MODE_STAND,
    SafetyState.STAND: TrackingStatus.MODE_STAND,
    SafetyState.TRACK: TrackingStatus.MODE_TRACK,
}


def import_unitree_hg() -> tuple[type, type]:
    """(LowCmd, LowState) of unitree_hg.

    Raises:
        ImportError: with what to source when unitree_ros2's interfaces are not on the path.
    """
    try:
        from unitree_hg.msg import LowCmd, LowState
    except ImportError as exc:
        raise ImportError(
            "unitree_hg messages not found. On the robot's computer source unitree_ros2 "
            "(cyclonedds_ws/install/setup.bash); without unitree_ros2 build the identical test package with "
            "`python -m hgpt_g1.build_unitree_hg` and source the setup file it prints (docs/g1.md)"
        ) from exc
    return LowCmd, LowState


def lowstate_struct_from_raw(raw: bytes, lowstate_type: type) -> bytes:
    """Serialized LowState -> C struct: the numpy byte map, or rclpy's deserialiser for other encodings.

    Raises:
        ValueError: when the bytes are not a unitree_hg LowState.
    """
    try:
        return LOWSTATE_CDR.to_struct(raw)
    except ValueError:
        try:
            msg: Any = deserialize_message(raw, lowstate_type)
        except Exception as exc:  # noqa: BLE001 - rclpy raises assorted types for garbage
            raise ValueError(f"undecodable LowState ({len(raw)} bytes): {exc}") from exc
        return pack_lowstate_msg(msg)


def lowcmd_struct_from_raw(raw: bytes, lowcmd_type: type) -> bytes:
    """Serialized LowCmd -> C struct (as :func:`lowstate_struct_from_raw`)."""
    try:
        return LOWCMD_CDR.to_struct(raw)
    except ValueError:
        try:
            msg: Any = deserialize_message(raw, lowcmd_type)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f"undecodable LowCmd ({len(raw)} bytes): {exc}") from exc
        return pack_lowcmd_msg(msg)


def robot_state_msg(s: LowStateSample, g1_of_motor: np.ndarray, stamp: Time) -> RobotState:
    """/hgpt/robot_state in G1 order (joints the robot does not drive read 0)."""
    msg = RobotState()
    msg.header.stamp, msg.header.frame_id = stamp, "pelvis"
    for name, v in (("q", s.q), ("dq", s.dq), ("tau_est", s.tau_est)):
        g1 = np.zeros(len(G1_JOINT_NAMES))
        g1[g1_of_motor] = v
        setattr(msg, name, g1)
    w, x, y, z = (float(c) for c in s.quat)
    msg.imu_orientation = Quaternion(w=w, x=x, y=y, z=z)
    msg.imu_angular_velocity.x, msg.imu_angular_velocity.y, msg.imu_angular_velocity.z = map(float, s.gyro)
    a = msg.imu_linear_acceleration
    a.x, a.y, a.z = map(float, s.acc)
    msg.tick = s.tick & 0xFFFFFFFF
    return msg


def joint_state_msg(s: LowStateSample, names: tuple[str, ...], stamp: Time) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(names)
    msg.position, msg.velocity, msg.effort = s.q.tolist(), s.dq.tolist(), s.tau_est.tolist()
    return msg


def joint_command_to_target(msg: JointCommand, recv_time: float, recv_wall: float) -> JointTarget:
    """JointCommand -> :class:`JointTarget` (G1 order); ``recv_wall`` [s] is the local wall clock."""
    return JointTarget(
        q=np.asarray(msg.q, dtype=np.float64),
        dq=np.asarray(msg.dq, dtype=np.float64),
        tau_ff=np.asarray(msg.tau_ff, dtype=np.float64),
        kp=np.asarray(msg.kp, dtype=np.float64),
        kd=np.asarray(msg.kd, dtype=np.float64),
        mode=int(msg.mode),
        policy_id=str(msg.policy_id),
        recv_time=recv_time,
        lag_offset=recv_wall - stamp_to_sec(msg.header.stamp),
        session_id=str(msg.session_id),
        recv_wall=recv_wall,
    )


def command_msg(cmd: MotorCommand, g1_of_motor: np.ndarray, stamp: Time, policy_id: str) -> JointCommand:
    """The LowCmd the bridge computed, as a JointCommand (G1 order): the dry-run output."""
    msg = JointCommand()
    msg.header.stamp, msg.header.frame_id = stamp, "pelvis"
    n = len(g1_of_motor)
    for name in ("q", "dq", "kp", "kd"):
        g1 = np.zeros(len(G1_JOINT_NAMES))
        g1[g1_of_motor] = getattr(cmd, name)[:n]
        setattr(msg, name, g1)
    tau = np.zeros(len(G1_JOINT_NAMES))
    tau[g1_of_motor] = cmd.tau[:n]
    msg.tau_ff = tau
    msg.mode = JointCommand.MODE_DAMP if not cmd.kp.any() else JointCommand.MODE_TRACK
    msg.policy_id = policy_id
    return msg


def status_msg(st: SafetyStatus, stamp: Time, overruns: int) -> TrackingStatus:
    msg = TrackingStatus()
    msg.header.stamp = stamp
    msg.mode = STATE_MODE[st.state]
    msg.state, msg.reason, msg.fault = st.state.value, st.reason, st.fault
    msg.warnings = list(st.warnings)
    msg.latency_ms, msg.overruns = float(st.latency_ms), int(overruns)
    return msg
