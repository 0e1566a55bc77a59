"""A simulated G1 behind the unitree_hg low-level protocol (core, no ROS): what the robot does with LowCmd.

Each LowCmd is checked like the robot checks it (CRC over the packed struct, ``mode_machine`` equal to the
robot's) and then drives the motors: ``tau = kp (q* - q) + kd (dq* - dq) + tau_ff`` per enabled motor
(``mode == 1``; mode 0 = no torque), clipped to the motor's effort limit. The law runs inside MuJoCo's C step
at every physics step: actuator i gets ``gain = kp``, ``bias = (kd dq* + tau_ff) - kp q - kd dq`` and
``ctrl = q*`` (the shipped scene's ``<general>`` actuators, forcerange = effort limit).

A gantry (on by default, as for a first test on the real robot) holds the pelvis with a spring-damper in
position and orientation, like unitree_mujoco's elastic band; without it a G1 under a plain PD to the
knees-bent pose falls within seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, scene_xml_path
from hgpt_core.rotations import quat_conj, quat_to_rotvec, roll_pitch, yaw_of
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


class G1LowLevelSim:
    """MuJoCo G1 driven by LowCmd-like :class:`MotorCommand` s; motor slot i = ``joint_names[i]``."""

    def __init__(self, cfg: SimRobotConfig | None = None, joint_names: tuple[str, ...] = G1_JOINT_NAMES):
        self.cfg = cfg or SimRobotConfig()
        self.names = tuple(joint_names)
        self.n = len(self.names)
        self.model = mujoco.MjModel.from_xml_path(str(scene_xml_path()))
        self.model.opt.timestep = self.cfg.physics_dt
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.act = np.array([m.actuator(n).id for n in self.names])
        self.qadr = np.array([m.jnt_qposadr[m.joint(n).id] for n in self.names])
        self.dadr = np.array([m.jnt_dofadr[m.joint(n).id] for n in self.names])
        self.range = np.array([m.jnt_range[m.joint(n).id] for n in self.names])  # (n, 2) [rad]
        self.pelvis = m.body("pelvis").id
        self.gyro_adr = m.sensor_adr[m.sensor("imu_ang_vel").id]
        self.acc_adr = m.sensor_adr[m.sensor("imu_lin_acc").id]
        self.gantry = self.cfg.gantry
        self.stats = SimStats()
        self.reset()

    @property
    def time(self) -> float:
        """Simulation time [s]."""
        return float(self.data.time)

    def reset(self) -> None:
        """Knees-bent keyframe, at rest, motors disabled (no torque until a valid LowCmd arrives)."""
        mujoco.mj_resetDataKeyframe(self.model, self.data, self.model.key("knees_bent").id)
        self.data.qpos[2] = self.cfg.gantry_height
        self._write_gains(np.zeros(self.n), np.zeros(self.n), np.zeros(self.n), np.zeros(self.n))
        mujoco.mj_forward(self.model, self.data)
        self.anchor = self.data.qpos[:3].copy()

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
        self._write_gains(kp, kd, on * (kd * cmd.dq[: self.n] + cmd.tau[: self.n]), cmd.q[: self.n])
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

    def _write_gains(self, kp: np.ndarray, kd: np.ndarray, offset: np.ndarray, q_des: np.ndarray) -> None:
        m, a = self.model, self.act
        m.actuator_gainprm[a, 0] = kp
        m.actuator_biasprm[a, 0] = offset
        m.actuator_biasprm[a, 1] = -kp
        m.actuator_biasprm[a, 2] = -kd
        self.data.ctrl[a] = q_des

    def step(self, n: int = 1) -> None:
        """Advance ``n`` physics steps (the gantry force is refreshed every step)."""
        for _ in range(n):
            self.data.xfrc_applied[self.pelvis] = self._gantry_wrench() if self.gantry else 0.0
            mujoco.mj_step(self.model, self.data)

    def _gantry_wrench(self) -> np.ndarray:
        c, d = self.cfg, self.data
        target = np.array([self.anchor[0], self.anchor[1], c.gantry_height])
        force = c.gantry_stiffness * (target - d.qpos[:3]) - c.gantry_damping * d.qvel[:3]
        # conj(quat) left-multiplied brings the pelvis back to upright: its rotation vector is world-frame.
        rot_err_w = quat_to_rotvec(quat_conj(d.qpos[3:7]))
        ang_vel_w = d.xmat[self.pelvis].reshape(3, 3) @ d.qvel[3:6]
        torque = c.gantry_rot_stiffness * rot_err_w - c.gantry_rot_damping * ang_vel_w
        return np.concatenate([force, torque])

    def observe(self) -> dict[str, np.ndarray]:
        """Motor-order q, dq, ddq, tau_est (n,); IMU quat wxyz (4,), gyro, acc, rpy, pelvis_pos_w (3,)."""
        d = self.data
        quat = d.qpos[3:7].copy()
        rp = roll_pitch(quat)
        return {
            "q": d.qpos[self.qadr].copy(),
            "dq": d.qvel[self.dadr].copy(),
            "ddq": d.qacc[self.dadr].copy(),
            "tau_est": d.actuator_force[self.act].copy(),
            "quat": quat,
            "gyro": d.sensordata[self.gyro_adr : self.gyro_adr + 3].copy(),
            "acc": d.sensordata[self.acc_adr : self.acc_adr + 3].copy(),
            "rpy": np.array([rp[0], rp[1], float(yaw_of(quat))]),
            "pelvis_pos_w": d.qpos[:3].copy(),
        }
