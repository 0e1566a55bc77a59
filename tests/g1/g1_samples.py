"""Builders for hgpt_g1 tests: LowState samples, JointTargets, a safety machine fed at 500 Hz, fake messages.

Fake unitree_hg messages are SimpleNamespaces with the .msg fields, as the duck-typed conversions accept;
tests/g1/unitree_hg_check.py runs the same conversions on the real generated classes.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, KNEES_BENT_POSE
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.session import Announcement
from hgpt_g1.safety import SafetyMachine
from hgpt_g1.safety_config import JointTarget, LowStateSample, SafetyConfig

DT = 0.002  # 500 Hz
N = len(G1_JOINT_NAMES)
META = PolicyMetadata("test_policy")
DEFAULT = np.asarray(META.default_joint_pos)
UPRIGHT = np.array([1.0, 0.0, 0.0, 0.0])
SESSION = "test-session"


def sample(t: float, q: np.ndarray | None = None, **over) -> LowStateSample:
    """A healthy LowState received at ``t`` [s]: robot tick = t in ms, upright, 40 C, no faults."""
    fields = dict(
        q=KNEES_BENT_POSE.copy() if q is None else np.asarray(q, dtype=np.float64),
        dq=np.zeros(N),
        tau_est=np.zeros(N),
        temperature=np.full(N, 40.0),
        motorstate=np.zeros(N, dtype=np.uint32),
        quat=UPRIGHT.copy(),
        gyro=np.zeros(3),
        acc=np.array([0.0, 0.0, 9.81]),
        mode_pr=0,
        mode_machine=5,
        tick=int(round(t * 1e3)),
        buttons=0,
        recv_time=t,
    )
    fields.update(over)
    return LowStateSample(**fields)


def target(
    t: float, q: np.ndarray | None = None, mode: int = 2, policy_id: str = "test_policy", **over
) -> JointTarget:
    """A JointCommand (G1 order) received at ``t`` with the metadata's gains."""
    a = META.arrays()
    fields = dict(
        q=DEFAULT.copy() if q is None else np.asarray(q, dtype=np.float64),
        dq=np.zeros(N),
        tau_ff=np.zeros(N),
        kp=a["kp"].copy(),
        kd=a["kd"].copy(),
        mode=mode,
        policy_id=policy_id,
        recv_time=t,
        lag_offset=0.001,
        session_id=SESSION,
    )
    fields.update(over)
    return JointTarget(**fields)


class Rig:
    """A SafetyMachine with a clock: ``run(seconds)`` feeds a LowState and ticks every 2 ms."""

    def __init__(self, meta: PolicyMetadata | None = META, joint_names=G1_JOINT_NAMES, **cfg) -> None:
        self.m = SafetyMachine(meta, SafetyConfig(**cfg), joint_names)
        self.t = 0.0
        self.q = KNEES_BENT_POSE[self.m.g1_of_motor].copy()
        self.cmd = None
        self.over: dict = {}
        if meta is not None:  # the policy_node of the tests announced itself: commands of SESSION count
            self.announce(meta)

    def announce(self, meta: PolicyMetadata, session: str = SESSION) -> str:
        """A /hgpt/policy announcement of ``meta`` at the rig's time; returns why it was refused."""
        a = Announcement(session, meta.policy_id, meta.to_json(), self.t, self.t)
        return self.m.on_announcement(a, self.t)

    def step(self, command: bool = False, **over):
        self.t = round(self.t + DT, 9)
        self.m.on_lowstate(sample(self.t, self.q, **{**self.over, **over}))
        if command:
            self.m.on_command(target(self.t))
        self.cmd = self.m.tick(self.t)
        return self.cmd

    def run(self, seconds: float, command: bool = False, **over):
        for _ in range(int(round(seconds / DT))):
            self.step(command, **over)
        return self.cmd

    def arm(self) -> tuple[bool, str]:
        return self.m.arm(self.t)

    @property
    def state(self) -> str:
        return self.m.state.value


def fake_lowcmd() -> SimpleNamespace:
    motors = [SimpleNamespace(mode=0, q=0.0, dq=0.0, tau=0.0, kp=0.0, kd=0.0, reserve=0) for _ in range(35)]
    return SimpleNamespace(mode_pr=0, mode_machine=0, motor_cmd=motors, reserve=[0, 0, 0, 0], crc=0)


def fake_lowstate() -> SimpleNamespace:
    def motor():
        return SimpleNamespace(
            mode=0, q=0.0, dq=0.0, ddq=0.0, tau_est=0.0, temperature=[0, 0], vol=0.0, sensor=[0, 0],
            motorstate=0, reserve=[0, 0, 0, 0],
        )  # fmt: skip

    imu = SimpleNamespace(
        quaternion=[1.0, 0, 0, 0], gyroscope=[0.0] * 3, accelerometer=[0.0] * 3, rpy=[0.0] * 3, temperature=0
    )
    return SimpleNamespace(
        version=[0, 0], mode_pr=0, mode_machine=0, tick=0, imu_state=imu,
        motor_state=[motor() for _ in range(35)], wireless_remote=[0] * 40, reserve=[0, 0, 0, 0], crc=0,
    )  # fmt: skip
