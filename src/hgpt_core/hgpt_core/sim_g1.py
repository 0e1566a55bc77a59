"""The one simulated G1 (no ROS): MuJoCo scene, motor law, gantry, stepping, state reading.

Both robot simulators drive this class: ``hgpt_sim.sim_robot.SimRobot`` (PD commands of the ROS graph, behind
``sim_bridge_node``) and ``hgpt_g1.sim_robot.G1LowLevelSim`` (LowCmd, behind ``g1_sim_robot``). They differ on
purpose in two settings of :class:`SimG1Config`, each documented where it is chosen:

* ``gantry``: ``"weld"`` holds the pelvis rigidly (a weld equality to a mocap anchor, a constraint, so as
  stable as the rest of the step); ``"spring"`` holds it with a spring-damper in position and orientation
  (:class:`SpringGantry`, like unitree_mujoco's elastic band): the 33 kg robot sags ~7 cm on it when its legs
  are damped, as a G1 on a rope does.
* ``motor_law``: the per-joint ``tau = kp (q* - q) + kd (dq* - dq) + tau_ff`` runs inside MuJoCo's C step on
  the scene's ``<general>`` actuators (gain = kp, bias = (ff, -kp, -kd), ctrl = q*, forcerange = effort
  limit) with ``ff = kd dq* + tau_ff``. ``"clip_together"`` (the real motor) puts ff into the actuator bias,
  so the whole torque is clipped to the effort limit once; ``"clip_apart"`` clips ``kp (q* - q) - kd dq`` in
  the actuator and ff separately into ``qfrc_applied``, so the sum may reach twice the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import mujoco
import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, scene_xml_path
from hgpt_core.rotations import quat_conj, quat_to_rotvec, roll_pitch, yaw_of

GantryKind = Literal["weld", "spring"]
"""How the gantry holds the pelvis: rigidly (``weld``) or with a spring-damper (``spring``)."""
MotorLaw = Literal["clip_apart", "clip_together"]
"""Where the ``kd dq* + tau_ff`` term is clipped: with the PD torque (``clip_together``, the real motor) or on
its own (``clip_apart``)."""

GANTRY = "gantry"
"""Name of the weld gantry's equality (its mocap anchor body: ``gantry_anchor``)."""


@dataclass(frozen=True)
class SpringGantry:
    """Spring-damper gantry constants (``gantry="spring"``)."""

    height: float = 0.76
    """Pelvis height the gantry pulls to [m] (0.76 = feet on the floor in the knees-bent pose)."""
    stiffness: float = 4000.0
    """Position stiffness [N/m] (a damped G1 sags ~7 cm on it)."""
    damping: float = 400.0
    """Position damping [N s/m]."""
    rot_stiffness: float = 800.0
    """Orientation stiffness [N m/rad] (pulls the pelvis upright)."""
    rot_damping: float = 80.0
    """Orientation damping [N m s/rad]."""


@dataclass(frozen=True)
class SimG1Config:
    """What the simulated G1 is: physics step, gantry kind, motor law (see the module docstring)."""

    physics_dt: float
    """Physics time step [s]."""
    gantry: GantryKind
    """How the gantry holds the pelvis when it is on."""
    motor_law: MotorLaw
    """Where the ``kd dq* + tau_ff`` term is clipped."""
    spring: SpringGantry = field(default_factory=SpringGantry)
    """Constants of the ``spring`` gantry (unused by ``weld``)."""


class SimG1:
    """A G1 in MuJoCo with a gantry; motor slot i drives joint ``joint_names[i]``.

    Args:
        cfg: Physics step, gantry kind and motor law.
        joint_names: The joints of the motor slots (default: G1 order, where slot i = actuator i).
    """

    def __init__(self, cfg: SimG1Config, joint_names: tuple[str, ...] = G1_JOINT_NAMES) -> None:
        self.sim_cfg = cfg
        if cfg.gantry == "weld":
            spec = mujoco.MjSpec.from_file(str(scene_xml_path()))
            pelvis = spec.body("pelvis")
            anchor = spec.worldbody.add_body(
                name="gantry_anchor", mocap=True, pos=pelvis.pos, quat=pelvis.quat
            )
            weld = spec.add_equality()
            weld.type, weld.objtype = mujoco.mjtEq.mjEQ_WELD, mujoco.mjtObj.mjOBJ_BODY
            weld.name, weld.name1, weld.name2, weld.active = GANTRY, anchor.name, "pelvis", False
            weld.solref, weld.solimp = (
                [0.01, 1.0],
                [0.99, 0.999, 0.001, 0.5, 2.0],
            )  # stiff: the 33 kg hangs on it
            self.model = spec.compile()
        elif cfg.gantry == "spring":
            self.model = mujoco.MjModel.from_xml_path(str(scene_xml_path()))
        else:
            raise ValueError(f"gantry {cfg.gantry!r}: expected 'weld' or 'spring'")
        if cfg.motor_law not in ("clip_apart", "clip_together"):
            raise ValueError(f"motor_law {cfg.motor_law!r}: expected 'clip_apart' or 'clip_together'")
        self.model.opt.timestep = cfg.physics_dt
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.names = tuple(joint_names)
        self.n = len(self.names)
        self.act = np.array([m.actuator(n).id for n in self.names])
        self.qadr = np.array([m.jnt_qposadr[m.joint(n).id] for n in self.names])
        self.dadr = np.array([m.jnt_dofadr[m.joint(n).id] for n in self.names])
        self.range = np.array([m.jnt_range[m.joint(n).id] for n in self.names])  # (n, 2) [rad]
        self.effort = m.actuator_forcerange[self.act, 1].copy()  # (n,) [N m]
        self.pelvis = m.body("pelvis").id
        self.gyro_adr = m.sensor_adr[m.sensor("imu_ang_vel").id]
        self.acc_adr = m.sensor_adr[m.sensor("imu_lin_acc").id]
        self._spring_on = False
        self.anchor = np.zeros(3)
        """Where the spring gantry holds the pelvis in x, y [m] (z: ``spring.height``)."""

    @property
    def time(self) -> float:
        """Simulation time [s]."""
        return float(self.data.time)

    # ---- gantry -------------------------------------------------------------------------------------

    def hold(self, on: bool) -> None:
        """Anchor the gantry where the pelvis is now (after ``mj_forward``) and switch it on or off."""
        d = self.data
        if self.sim_cfg.gantry == "weld":
            d.mocap_pos[0], d.mocap_quat[0] = d.xpos[self.pelvis], d.xquat[self.pelvis]
        else:
            self.anchor = d.qpos[:3].copy()
        self.gantry = on

    @property
    def gantry(self) -> bool:
        """The gantry holds the pelvis; set it to hold (at its last anchor) or to release."""
        if self.sim_cfg.gantry == "weld":
            return bool(self.data.eq_active[self.model.equality(GANTRY).id])
        return self._spring_on

    @gantry.setter
    def gantry(self, on: bool) -> None:
        if self.sim_cfg.gantry == "weld":
            self.data.eq_active[self.model.equality(GANTRY).id] = bool(on)
        else:
            self._spring_on = bool(on)

    @property
    def on_gantry(self) -> bool:
        """The gantry holds the pelvis."""
        return self.gantry

    def release_gantry(self) -> None:
        """Let go of the pelvis."""
        self.gantry = False

    def _spring_wrench(self) -> np.ndarray:
        """The spring gantry's force and torque on the pelvis, world frame (6,) [N, N m]."""
        c, d = self.sim_cfg.spring, self.data
        target = np.array([self.anchor[0], self.anchor[1], c.height])
        force = c.stiffness * (target - d.qpos[:3]) - c.damping * d.qvel[:3]
        # conj(quat) left-multiplied brings the pelvis back to upright: its rotation vector is world-frame.
        rot_err_w = quat_to_rotvec(quat_conj(d.qpos[3:7]))
        ang_vel_w = d.xmat[self.pelvis].reshape(3, 3) @ d.qvel[3:6]
        torque = c.rot_stiffness * rot_err_w - c.rot_damping * ang_vel_w
        return np.concatenate([force, torque])

    # ---- motors, stepping, state --------------------------------------------------------------------

    def drive(self, q_des: np.ndarray, kp: np.ndarray, kd: np.ndarray, ff: np.ndarray) -> None:
        """Set the motor law of the slots until the next call: ``kp (q_des - q) - kd dq + ff``, (n,) each.

        ``ff`` is ``kd dq* + tau_ff`` [N m]; ``motor_law`` says where it is clipped to the effort limit.
        """
        m, a = self.model, self.act
        m.actuator_gainprm[a, 0] = kp
        m.actuator_biasprm[a, 1] = -kp
        m.actuator_biasprm[a, 2] = -kd
        self.data.ctrl[a] = q_des
        if self.sim_cfg.motor_law == "clip_together":
            m.actuator_biasprm[a, 0] = ff
        else:
            self.data.qfrc_applied[:] = 0.0
            self.data.qfrc_applied[self.dadr] = np.clip(ff, -self.effort, self.effort)

    def step_physics(self, n: int = 1) -> None:
        """Advance ``n`` physics steps (a spring gantry's force is refreshed before each)."""
        spring = self.sim_cfg.gantry == "spring"
        for _ in range(n):
            if spring:
                self.data.xfrc_applied[self.pelvis] = self._spring_wrench() if self._spring_on else 0.0
            mujoco.mj_step(self.model, self.data)

    def push(self, lin_vel_w: np.ndarray) -> None:
        """Add a velocity [m/s] to the pelvis (a push, as in domain randomisation)."""
        self.data.qvel[:3] += np.asarray(lin_vel_w, dtype=np.float64)

    def observe(self) -> dict[str, np.ndarray]:
        """Proprioception and ground truth.

        Motor-order ``q`` [rad], ``dq`` [rad/s], ``ddq`` [rad/s^2], ``tau_est`` [N m] (n,); IMU ``quat`` wxyz
        (4,), ``gyro`` [rad/s], ``acc`` [m/s^2], ``rpy`` [rad] (3,); ``root_pos_w`` [m], ``root_lin_vel_w``
        [m/s], ``root_ang_vel_w`` [rad/s] (3,) of the pelvis, world frame.
        """
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
            "root_pos_w": d.qpos[:3].copy(),
            "root_lin_vel_w": d.qvel[:3].copy(),
            # MuJoCo's free-joint angular velocity is in the body frame; expose the world one.
            "root_ang_vel_w": d.xmat[self.pelvis].reshape(3, 3) @ d.qvel[3:6],
        }
