"""A simulated G1 behind the unitree_hg low-level protocol (core, no ROS): what the robot does with LowCmd.

Each LowCmd is checked like the robot checks it (CRC over the packed struct, ``mode_machine`` equal to the
robot's) and then drives the motors: ``tau = kp (q* - q) + kd (dq* - dq) + tau_ff`` per enabled motor
(``mode == 1``; mode 0 = no torque), clipped to the motor's effort limit as a whole, like the real motor.

The robot is :class:`hgpt_core.sim_g1.SimG1` (the ROS simulator's ``sim_bridge_node`` drives the same class)
with this simulator's settings: the ``clip_together`` motor law (the real motor's) and a ``spring`` gantry (on
by default, as for a first test on the real robot) holding the pelvis with a spring-damper in position and
orientation, like unitree_mujoco's elastic band: damped legs let the pelvis sag ~8 cm, as on a rope. Without
it a G1 under a plain PD to the knees-bent pose falls within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES
from hgpt_core.sim_g1 import SimG1, SimG1Config, SpringGantry
from hgpt_g1.lowlevel import command_from_lowcmd
from hgpt_g1.safety_config import MotorCommand


@dataclass(frozen=True)
class SimRobotConfig:
    """Simulated robot settings."""

    physics_dt: float = 0.002
    """Physics time step [s]."""
    mode_machine: int = 5
    """Robot model code it reports in LowState and requires in LowCmd (5 = g1_29dof_rev_1_0)."""
    gantry: bool = True
    """Hold the pelvis with a spring-damper (release it with the /sim/g1/gantry topic)."""
    gantry_height: float = 0.76
    """Pelvis height the gantry holds [m] (0.76 = feet on the floor in the knees-bent pose)."""
    gantry_stiffness: float = 4000.0
    """Gantry position stiffness [N/m]."""
    gantry_damping: float = 400.0
    """Gantry position damping [N s/m]."""
    gantry_rot_stiffness: float = 800.0
    """Gantry orientation stiffness [N m/rad]."""
    gantry_rot_damping: float = 80.0
    """Gantry orientation damping [N m s/rad]."""
    temperature_c: float = 40.0
    """Motor temperature it reports [deg C]."""


@dataclass
class SimStats:
    """LowCmd bookkeeping: received, applied, rejected for a bad CRC / wrong mode_machine."""

    received: int = 0
    applied: int = 0
    crc_errors: int = 0
    mode_machine_errors: int = 0
    last_kp_max: float = 0.0
    last_enabled: int = 0
    nonfinite: int = 0
    """Applied commands with a NaN/inf q, dq, kp, kd or tau in an enabled slot."""
    max_limit_excess: float = 0.0
    """Largest distance [rad] of a position target (enabled, kp > 0) outside its joint's range, so far."""
    max_abs_dq: float = 0.0
    """Largest velocity target |dq| [rad/s] of an enabled slot with kd > 0, so far."""


class G1LowLevelSim(SimG1):
    """The simulated G1 (:class:`~hgpt_core.sim_g1.SimG1`: spring gantry, ``clip_together`` motor law) driven
    by LowCmd-like :class:`MotorCommand` s; motor slot i = ``joint_names[i]``."""

    def __init__(self, cfg: SimRobotConfig | None = None, joint_names: tuple[str, ...] = G1_JOINT_NAMES):
        self.cfg = c = cfg or SimRobotConfig()
        spring = SpringGantry(
            c.gantry_height,
            c.gantry_stiffness,
            c.gantry_damping,
            c.gantry_rot_stiffness,
            c.gantry_rot_damping,
        )
        super().__init__(
            SimG1Config(c.physics_dt, gantry="spring", motor_law="clip_together", spring=spring), joint_names
        )
        self.stats = SimStats()
        self.reset()
        self.gantry = c.gantry

    def reset(self) -> None:
        """Knees-bent keyframe, at rest, motors disabled (no torque until a valid LowCmd arrives); the gantry
        anchored where the pelvis is (switched on or off as it was)."""
        mujoco.mj_resetDataKeyframe(self.model, self.data, self.model.key("knees_bent").id)
        self.data.qpos[2] = self.cfg.gantry_height
        z = np.zeros(self.n)
        self.drive(z, z, z, z)
        mujoco.mj_forward(self.model, self.data)
        self.hold(self.gantry)

    def receive(self, struct: bytes) -> str:
        """Check a LowCmd C struct as the robot does and apply it; returns '' or why it was dropped."""
        self.stats.received += 1
        try:
            cmd, crc_ok = command_from_lowcmd(struct)
        except ValueError as exc:
            self.stats.crc_errors += 1
            return str(exc)
        if not crc_ok:
            self.stats.crc_errors += 1
            return "bad CRC"
        if cmd.mode_machine != self.cfg.mode_machine:
            self.stats.mode_machine_errors += 1
            return f"mode_machine {cmd.mode_machine} != {self.cfg.mode_machine}"
        self.apply(cmd)
        self.stats.applied += 1
        return ""

    def apply(self, cmd: MotorCommand) -> None:
        """Drive motor slots 0..n-1 with ``cmd`` (mode 1 = enabled, else no torque)."""
        on = (cmd.mode[: self.n] == 1).astype(np.float64)
        self._record(on > 0, cmd)
        kp, kd = on * cmd.kp[: self.n], on * cmd.kd[: self.n]
        self.drive(cmd.q[: self.n], kp, kd, on * (kd * cmd.dq[: self.n] + cmd.tau[: self.n]))
        self.stats.last_kp_max = float(kp.max(initial=0.0))
        self.stats.last_enabled = int(on.sum())

    def _record(self, on: np.ndarray, cmd: MotorCommand) -> None:
        """What arrived, in :class:`SimStats` (the fuzz tests check that no absurd target reaches a motor)."""
        n, st = self.n, self.stats
        if not all(np.isfinite(a[:n][on]).all() for a in (cmd.q, cmd.dq, cmd.kp, cmd.kd, cmd.tau)):
            st.nonfinite += 1
            return
        pos = on & (cmd.kp[:n] > 0)
        excess = np.maximum(self.range[:, 0] - cmd.q[:n], cmd.q[:n] - self.range[:, 1])[pos]
        st.max_limit_excess = max(st.max_limit_excess, float(excess.max(initial=0.0)))
        st.max_abs_dq = max(st.max_abs_dq, float(np.abs(cmd.dq[:n][on & (cmd.kd[:n] > 0)]).max(initial=0.0)))
