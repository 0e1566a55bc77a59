"""numpy <-> messages for the G1 bridge and the simulated robot.

unitree_hg messages are handled duck-typed (any object with their fields), so this module imports without
unitree_ros2; :func:`import_unitree_hg` loads the real types with a clear message when they are missing.
hgpt_msgs quaternions are x, y, z, w fields; unitree_hg's IMU quaternion is the array (w, x, y, z).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Quaternion
from sensor_msgs.msg import JointState

from hgpt_core.g1 import G1_JOINT_NAMES
from hgpt_g1.crc import LOWSTATE_DTYPE, NUM_MOTOR_SLOTS, crc32_words, pack_lowstate_msg, unpack_lowstate
from hgpt_g1.remote import parse_remote
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


def stamp_to_sec(stamp: Time) -> float:
    return stamp.sec + 1e-9 * stamp.nanosec


class CrcMismatch(ValueError):
    """A LowState whose crc field does not match its content."""


def lowstate_to_sample(msg: Any, n: int, recv_time: float, check_crc: bool = True) -> LowStateSample:
    """LowState -> :class:`LowStateSample` of motor slots 0..n-1 (one packing gives the CRC and the fields).

    Raises:
        CrcMismatch: when ``check_crc`` and the crc field is wrong.
        ValueError: when the message does not have the unitree_hg LowState layout.
    """
    packed = pack_lowstate_msg(msg)
    rec = unpack_lowstate(packed)
    if check_crc and (crc := crc32_words(packed)) != rec["crc"]:
        raise CrcMismatch(f"CRC mismatch: field 0x{int(rec['crc']):08x}, content 0x{crc:08x}")
    ms, imu = rec["motor_state"][:n], rec["imu_state"]
    f64 = np.float64
    return LowStateSample(
        q=ms["q"].astype(f64),
        dq=ms["dq"].astype(f64),
        tau_est=ms["tau_est"].astype(f64),
        temperature=ms["temperature"].max(axis=1).astype(f64),
        motorstate=ms["motorstate"].copy(),
        quat=imu["quaternion"].astype(f64),
        gyro=imu["gyroscope"].astype(f64),
        acc=imu["accelerometer"].astype(f64),
        mode_pr=int(rec["mode_pr"]),
        mode_machine=int(rec["mode_machine"]),
        tick=int(rec["tick"]),
        buttons=parse_remote(rec["wireless_remote"].tobytes()).buttons,
        recv_time=recv_time,
    )


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
    )


def fill_lowcmd(msg: Any, cmd: MotorCommand, crc: int) -> None:
    """Write ``cmd`` into a (reused) LowCmd message, with its CRC."""
    msg.mode_pr, msg.mode_machine = int(cmd.mode_pr), int(cmd.mode_machine)
    cols = zip(*(getattr(cmd, k).tolist() for k in ("mode", "q", "dq", "tau", "kp", "kd")), strict=True)
    for m, (mode, q, dq, tau, kp, kd) in zip(msg.motor_cmd, cols, strict=True):
        m.mode, m.q, m.dq, m.tau, m.kp, m.kd = mode, q, dq, tau, kp, kd
    msg.crc = crc


def lowcmd_to_command(msg: Any) -> tuple[MotorCommand, np.ndarray, np.ndarray]:
    """LowCmd -> (:class:`MotorCommand`, per-motor reserve (35,), reserve (4,)): what its CRC covers."""
    if len(msg.motor_cmd) != NUM_MOTOR_SLOTS:
        raise ValueError(f"LowCmd has {len(msg.motor_cmd)} motor commands, expected {NUM_MOTOR_SLOTS}")
    rows = [(m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve) for m in msg.motor_cmd]
    mode, q, dq, tau, kp, kd, res = np.array(rows, dtype=np.float64).T
    f32 = np.float32
    cmd = MotorCommand(
        mode.astype(np.uint8), q.astype(f32), dq.astype(f32), tau.astype(f32), kp.astype(f32), kd.astype(f32)
    )
    cmd.mode_pr, cmd.mode_machine = int(msg.mode_pr), int(msg.mode_machine)
    return cmd, res.astype(np.uint32), np.asarray(msg.reserve, dtype=np.uint32)


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


class LowStateWriter:
    """Fills a reused LowState (the simulated robot's) and its CRC.

    The CRC comes from a packed record kept next to the message, and the message takes its floats from that
    record, so both agree bit for bit without repacking the message (half the cost at 500 Hz).
    """

    def __init__(self, msg: Any, n: int, mode_machine: int, temperature_c: float) -> None:
        self.msg, self.n = msg, n
        self.rec = np.zeros((), dtype=LOWSTATE_DTYPE)
        temp = int(round(temperature_c))
        self.rec["mode_machine"] = msg.mode_machine = mode_machine
        ms = self.rec["motor_state"]
        ms["mode"][:n], ms["temperature"][:n] = 1, temp
        for m in msg.motor_state[:n]:
            m.mode, m.temperature = 1, [temp, temp]

    def write(self, sim: dict[str, np.ndarray], mode_pr: int, tick: int, remote: bytes) -> None:
        """``sim``: q, dq, ddq, tau_est (n,); quat wxyz (4,), gyro, acc, rpy (3,); ``remote``: 40 bytes."""
        n, r, msg = self.n, self.rec, self.msg
        ms, imu = r["motor_state"], r["imu_state"]
        for k in ("q", "dq", "ddq", "tau_est"):
            ms[k][:n] = sim[k]
        imu["quaternion"], imu["gyroscope"], imu["accelerometer"], imu["rpy"] = (
            sim["quat"], sim["gyro"], sim["acc"], sim["rpy"]
        )  # fmt: skip
        r["mode_pr"], r["tick"] = mode_pr, tick & 0xFFFFFFFF
        r["wireless_remote"] = np.frombuffer(remote, dtype=np.uint8)
        r["crc"] = crc = crc32_words(r.tobytes())
        cols = zip(*(ms[k][:n].tolist() for k in ("q", "dq", "ddq", "tau_est")), strict=True)
        for m, (q, dq, ddq, tau) in zip(msg.motor_state, cols, strict=False):
            m.q, m.dq, m.ddq, m.tau_est = q, dq, ddq, tau
        mi = msg.imu_state
        mi.quaternion, mi.gyroscope = imu["quaternion"].copy(), imu["gyroscope"].copy()
        mi.accelerometer, mi.rpy = imu["accelerometer"].copy(), imu["rpy"].copy()
        msg.mode_pr, msg.tick = mode_pr, int(r["tick"])
        msg.wireless_remote = r["wireless_remote"].copy()
        msg.crc = crc
