"""Configuration and data types of the G1 safety state machine (no ROS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from hgpt_g1.crc import NUM_MOTOR_SLOTS, lowcmd_crc


class SafetyState(str, Enum):
    """States of :class:`hgpt_g1.safety.SafetyMachine`; the value is the ``TrackingStatus.state`` string."""

    DAMP = "damp"
    """Start state and normal disarmed state: kp = 0, kd > 0 (the motors only resist motion)."""
    RAMP = "ramp"
    """Armed: moving from the measured pose (or the last target) to the default pose."""
    STAND = "stand"
    """Armed: holding the policy's default pose, waiting for JointCommands."""
    TRACK = "track"
    """Armed: forwarding /hgpt/joint_command through the clamps."""
    ESTOP = "estop"
    """Latched fault: damping until an explicit arm (which is refused while the cause persists)."""


ARMED_STATES = frozenset({SafetyState.RAMP, SafetyState.STAND, SafetyState.TRACK})


@dataclass(frozen=True)
class SafetyConfig:
    """Timing, limits and operator controls of the G1 safety machine."""

    ramp_s: float = 3.0
    """Time to move from the measured pose to the default pose after arming [s]."""
    catch_ramp_s: float = 1.0
    """Time to move from the last target back to the default pose when the policy commands DAMP [s]."""
    lowstate_timeout_s: float = 0.05
    """Armed and no valid LowState for this long: e-stop [s]."""
    command_timeout_s: float = 0.04
    """Tracking and no valid JointCommand for this long: e-stop, i.e. damp [s]. 0.04 = two periods of a 50 Hz
    policy: with the 500 Hz tick the robot is damped at most ~42 ms after the last command arrived."""
    max_state_lag_s: float = 0.02
    """Growth of the LowState delivery delay (robot tick vs local clock) that triggers an e-stop [s]."""
    max_command_lag_s: float = 0.05
    """Growth of the JointCommand delivery delay (header stamp vs local clock) that triggers an e-stop [s]."""
    lag_window_s: float = 5.0
    """Baseline window of the latency-growth monitors [s]."""
    tick_period_s: float = 0.001
    """Period of LowState.tick [s]."""
    temp_warn_c: float = 80.0
    """Motor temperature that raises a warning [deg C]."""
    temp_max_c: float = 100.0
    """Motor temperature that triggers an e-stop and blocks arming [deg C]."""
    overspeed_factor: float = 1.5
    """Measured joint speed above this multiple of the joint velocity limit: e-stop."""
    velocity_margin: float = 1.0
    """Targets move at most velocity_limit * margin per second."""
    limit_margin_rad: float = 0.0
    """Targets stay this far inside the joint limits [rad]."""
    fall_tilt_rad: float = 1.0
    """Pelvis tilt (body z vs world z) that counts as a fall: e-stop, and arming is refused [rad]."""
    damp_kd_scale: float = 1.0
    """Damping gains in DAMP/ESTOP as a multiple of the policy's kd."""
    gain_source: str = "metadata"
    """'metadata': kp/kd from the policy metadata; 'command': JointCommand kp/kd clamped to [0, metadata]."""
    max_kp: float = 500.0
    """Largest stiffness a policy's metadata may ask for [N m/rad]."""
    max_kd: float = 50.0
    """Largest damping a policy's metadata may ask for [N m s/rad]."""
    command_stamp_window_s: float = 0.5
    """JointCommands and /hgpt/policy announcements stamped further than this from the bridge's wall clock
    are ignored (recorded in another run, e.g. a bag replay; or the clocks of two computers differ) [s]."""
    session_takeover_s: float = 2.0
    """Another announced policy session may replace the followed one after this long without a word from
    it (never while tracking: the command watchdog damps first) [s]."""
    catch_on_policy_damp: bool = True
    """Policy sends MODE_DAMP while tracking: ramp back to the default pose and stand (else damp)."""
    expected_mode_machine: tuple[int, ...] = (5,)
    """LowState.mode_machine values the robot may report (5 = g1_29dof_rev_1_0); negative: any."""
    mode_pr: int = 0
    """LowCmd.mode_pr: 0 = PR (pitch/roll ankle and waist joints, what hgpt policies use), 1 = AB."""
    remote_estop: str = "L2+B,SELECT"
    """Remote combos that e-stop: '+' joins buttons, ',' separates alternatives ('' disables). L2+B is the
    G1's own damping combo, SELECT the exit button of Unitree's deploy examples."""
    remote_arm: str = "START"
    """Remote combos that arm, on press (as remote_estop). START moves to the default pose in Unitree's
    deploy examples; avoid L2+A: in debug mode the G1 firmware answers it with a diagnostic pose."""

    def __post_init__(self) -> None:
        # ROS hands array parameters over as lists or array.array: store a tuple of ints.
        object.__setattr__(self, "expected_mode_machine", tuple(int(x) for x in self.expected_mode_machine))
        if self.gain_source not in ("metadata", "command"):
            raise ValueError(f"gain_source '{self.gain_source}' not one of ['metadata', 'command']")
        if self.mode_pr not in (0, 1):
            raise ValueError(f"mode_pr {self.mode_pr} not one of [0 (PR), 1 (AB)]")
        if min(self.ramp_s, self.catch_ramp_s, self.lowstate_timeout_s, self.command_timeout_s) <= 0:
            raise ValueError("ramp_s, catch_ramp_s, lowstate_timeout_s and command_timeout_s must be > 0")


@dataclass
class LowStateSample:
    """One LowState in motor order (the bridge's joint_names). Shapes: (n,) unless noted.

    Attributes:
        q, dq, tau_est: [rad], [rad/s], [N m].
        temperature: Hottest of each motor's two sensors [deg C].
        motorstate: Motor error codes (0 = fine).
        quat: IMU orientation, wxyz, shape (4,).
        gyro: [rad/s] body frame, shape (3,).
        acc: [m/s^2] accelerometer (specific force), body frame, shape (3,).
        mode_pr, mode_machine, tick: As reported by the robot.
        buttons: Remote ``btn`` bit field.
        recv_time: Local receive time [s] (monotonic clock).
    """

    q: np.ndarray
    dq: np.ndarray
    tau_est: np.ndarray
    temperature: np.ndarray
    motorstate: np.ndarray
    quat: np.ndarray
    gyro: np.ndarray
    acc: np.ndarray
    mode_pr: int
    mode_machine: int
    tick: int
    buttons: int
    recv_time: float


@dataclass
class JointTarget:
    """One JointCommand in G1 order (G1_JOINT_NAMES), shapes (29,); ``mode`` as JointCommand.MODE_*.

    ``recv_time`` is the local monotonic receive time [s]; ``lag_offset`` = local wall clock minus
    ``header.stamp`` at reception [s] (its growth is watched; its value must stay inside
    ``command_stamp_window_s``). ``session_id`` names the policy_node run (hgpt_core.session).
    """

    q: np.ndarray
    dq: np.ndarray
    tau_ff: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    mode: int
    policy_id: str
    recv_time: float
    lag_offset: float = 0.0
    session_id: str = ""
    recv_wall: float | None = None
    """Local wall clock at reception [s] (None: ``recv_time``, as in tests with one clock)."""

    @property
    def stamp(self) -> float:
        """header.stamp [s] (wall clock of the sender): the reception wall time minus ``lag_offset``."""
        return (self.recv_time if self.recv_wall is None else self.recv_wall) - self.lag_offset

    @property
    def wall(self) -> float:
        return self.recv_time if self.recv_wall is None else self.recv_wall


@dataclass
class MotorCommand:
    """What goes into one LowCmd: per-slot arrays of shape (35,) plus the header bytes."""

    mode: np.ndarray = field(default_factory=lambda: np.zeros(NUM_MOTOR_SLOTS, dtype=np.uint8))
    q: np.ndarray = field(default_factory=lambda: np.zeros(NUM_MOTOR_SLOTS, dtype=np.float32))
    dq: np.ndarray = field(default_factory=lambda: np.zeros(NUM_MOTOR_SLOTS, dtype=np.float32))
    tau: np.ndarray = field(default_factory=lambda: np.zeros(NUM_MOTOR_SLOTS, dtype=np.float32))
    kp: np.ndarray = field(default_factory=lambda: np.zeros(NUM_MOTOR_SLOTS, dtype=np.float32))
    kd: np.ndarray = field(default_factory=lambda: np.zeros(NUM_MOTOR_SLOTS, dtype=np.float32))
    mode_pr: int = 0
    mode_machine: int = 0

    def crc(self) -> int:
        """The CRC the LowCmd carrying this command must have (reserve fields zero)."""
        motors = (self.mode, self.q, self.dq, self.tau, self.kp, self.kd)
        return lowcmd_crc(self.mode_pr, self.mode_machine, *motors)


@dataclass(frozen=True)
class Transition:
    """A state change: when [s, monotonic], from, to, why."""

    time: float
    old: SafetyState
    new: SafetyState
    reason: str


@dataclass
class SafetyStatus:
    """Snapshot for /hgpt/g1/status."""

    state: SafetyState
    reason: str
    fault: bool
    warnings: list[str]
    latency_ms: float
