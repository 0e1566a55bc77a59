"""One simulated G1 driven by PD commands, as the sim_bridge_node runs it (no ROS).

The PD law runs inside MuJoCo's C step: each ``<general>`` actuator of the shipped scene applies
``tau = kp (q* - q) - kd dq`` clipped to the motor's torque limit, with kp/kd written per command into
``actuator_gainprm`` / ``actuator_biasprm``; the ``kd dq*`` and feed-forward terms go to ``qfrc_applied``.

Command guard (a stale or bad command never reaches the motors as garbage):
  * a command with wrong sizes, NaN/inf, negative or excessive gains is rejected (the last safe one stays);
  * no new command for ``hold_after_s``: the last safe command is held (reported);
  * no new command for ``damp_after_s`` (simulation time; 0.04 s as the G1 bridge's command watchdog):
    damping (kp = 0, kd = the default kd) until a fresh command arrives. A control period starting 40 ms
    or more after the last command is damped, so the robot is damped at most ~42 ms after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from hgpt_core.g1 import KNEES_BENT_POSE, KNEES_BENT_ROOT_Z, NUM_JOINTS, G1Spec, scene_xml_path


@dataclass(frozen=True)
class SimConfig:
    """Simulation and command-guard settings."""

    physics_dt: float = 0.005
    """Physics time step [s]."""
    control_dt: float = 0.02
    """Control period [s]; one command is applied for control_dt / physics_dt physics steps."""
    hold_after_s: float = 0.02
    """A command older than this is held and reported stale [s]."""
    damp_after_s: float = 0.04
    """A command this old or older is replaced by damping [s] (the G1 bridge's command_timeout_s)."""
    max_kp: float = 500.0
    """Largest accepted stiffness [N m/rad]."""
    max_kd: float = 50.0
    """Largest accepted damping [N m s/rad]."""
    gantry: bool = False
    """Start with the pelvis held by an elastic band, as a gantry holds the real robot, until
    :meth:`SimRobot.release_gantry`. Lets a robot be damped and stood up without falling first."""

    @property
    def decimation(self) -> int:
        n = round(self.control_dt / self.physics_dt)
        assert n >= 1 and abs(n * self.physics_dt - self.control_dt) < 1e-9, (
            "control_dt must be k * physics_dt"
        )
        return n


@dataclass
class PDCommand:
    """Per-joint PD command (29,) arrays: q [rad], dq [rad/s], kp, kd, tau_ff [N m]."""

    q: np.ndarray
    dq: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    tau_ff: np.ndarray

    def problems(self, cfg: SimConfig) -> list[str]:
        """Why this command may not be applied (empty = fine)."""
        out = []
        for name in ("q", "dq", "kp", "kd", "tau_ff"):
            v = np.asarray(getattr(self, name))
            if v.shape != (NUM_JOINTS,):
                out.append(f"{name} has shape {v.shape}, expected ({NUM_JOINTS},)")
            elif not np.isfinite(v).all():
                out.append(f"{name} has NaN/inf")
        if not out:
            if (self.kp < 0).any() or (self.kp > cfg.max_kp).any():
                out.append(f"kp outside [0, {cfg.max_kp}]")
            if (self.kd < 0).any() or (self.kd > cfg.max_kd).any():
                out.append(f"kd outside [0, {cfg.max_kd}]")
        return out


def damping_command(q: np.ndarray, kd: np.ndarray) -> PDCommand:
    """kp = 0: the motors only resist motion."""
    z = np.zeros(NUM_JOINTS)
    return PDCommand(q=q.copy(), dq=z, kp=z.copy(), kd=kd.copy(), tau_ff=z.copy())


def set_pd_gains(model: mujoco.MjModel, kp: np.ndarray, kd: np.ndarray) -> None:
    """Write per-joint gains into the position-like actuators: tau = kp (ctrl - q) - kd dq."""
    model.actuator_gainprm[:, 0] = kp
    model.actuator_biasprm[:, 1] = -kp
    model.actuator_biasprm[:, 2] = -kd


class SimRobot:
    """A G1 in MuJoCo that accepts PD commands and reports proprioception and ground truth."""

    def __init__(self, cfg: SimConfig | None = None) -> None:
        self.cfg = cfg or SimConfig()
        spec = mujoco.MjSpec.from_file(str(scene_xml_path()))
        # The gantry: a weld of the pelvis to a mocap body placed where the pelvis starts (a constraint, so it
        # is as stable as the rest of the step), switched on and off through data.eq_active.
        pelvis = spec.body("pelvis")
        anchor = spec.worldbody.add_body(name="gantry_anchor", mocap=True, pos=pelvis.pos, quat=pelvis.quat)
        gantry = spec.add_equality()
        gantry.type, gantry.objtype = mujoco.mjtEq.mjEQ_WELD, mujoco.mjtObj.mjOBJ_BODY
        gantry.name, gantry.name1, gantry.name2, gantry.active = "gantry", anchor.name, "pelvis", False
        gantry.solref, gantry.solimp = (
            [0.01, 1.0],
            [0.99, 0.999, 0.001, 0.5, 2.0],
        )  # stiff: the 33 kg hangs on it
        self.model = spec.compile()
        self.model.opt.timestep = self.cfg.physics_dt
        self.data = mujoco.MjData(self.model)
        self.spec = G1Spec()
        self.effort = self.model.actuator_forcerange[:, 1].copy()
        self.dof = np.array([self.model.jnt_dofadr[self.model.joint(n).id] for n in self.spec.joint_names])
        sensor = {self.model.sensor(i).name: i for i in range(self.model.nsensor)}
        self.gyro_adr = self.model.sensor_adr[sensor["imu_ang_vel"]]
        self.acc_adr = self.model.sensor_adr[sensor["imu_lin_acc"]]
        self.reset()

    @property
    def time(self) -> float:
        """Simulation time [s]."""
        return float(self.data.time)

    def reset(
        self,
        root_pos: np.ndarray | None = None,
        root_quat: np.ndarray | None = None,
        q: np.ndarray | None = None,
    ) -> None:
        """Put the robot at a pose (default: knees bent, standing) at rest, and hold that pose."""
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:3] = root_pos if root_pos is not None else (0.0, 0.0, KNEES_BENT_ROOT_Z)
        self.data.qpos[3:7] = root_quat if root_quat is not None else (1.0, 0.0, 0.0, 0.0)
        self.data.qpos[7:] = q if q is not None else KNEES_BENT_POSE
        mujoco.mj_forward(self.model, self.data)
        z = np.zeros(NUM_JOINTS)
        self.active = PDCommand(
            self.data.qpos[7:].copy(), z, self.spec.kp.copy(), self.spec.kd.copy(), z.copy()
        )
        self.last_cmd_time = self.time
        self.status = "holding initial pose"
        self.rejected = 0
        # Hold the pelvis where it is now: move the gantry's anchor there.
        self.data.mocap_pos[0], self.data.mocap_quat[0] = self.data.xpos[1], self.data.xquat[1]
        self.data.eq_active[self.model.equality("gantry").id] = self.cfg.gantry

    @property
    def on_gantry(self) -> bool:
        return bool(self.data.eq_active[self.model.equality("gantry").id])

    def release_gantry(self) -> None:
        """Let go of the pelvis."""
        self.data.eq_active[self.model.equality("gantry").id] = False

    def command(self, cmd: PDCommand) -> list[str]:
        """Accept a command for the next control periods; returns its problems (then it is ignored)."""
        problems = cmd.problems(self.cfg)
        if problems:
            self.rejected += 1
            return problems
        self.active = cmd
        self.last_cmd_time = self.time
        return []

    def _effective(self) -> PDCommand:
        age = self.time - self.last_cmd_time
        if age >= self.cfg.damp_after_s - 1e-9:
            self.status = f"damping: no command for {age:.2f} s"
            return damping_command(self.data.qpos[7:], self.spec.kd)
        self.status = f"holding stale command ({1e3 * age:.0f} ms)" if age > self.cfg.hold_after_s else "ok"
        return self.active

    def step(self) -> None:
        """Advance one control period under the (guarded) active command."""
        cmd = self._effective()
        set_pd_gains(self.model, cmd.kp, cmd.kd)
        self.data.ctrl[:] = cmd.q
        self.data.qfrc_applied[:] = 0.0
        self.data.qfrc_applied[self.dof] = np.clip(cmd.kd * cmd.dq + cmd.tau_ff, -self.effort, self.effort)
        for _ in range(self.cfg.decimation):
            mujoco.mj_step(self.model, self.data)

    def push(self, lin_vel_w: np.ndarray) -> None:
        """Add a velocity [m/s] to the pelvis (a push, as in domain randomisation)."""
        self.data.qvel[:3] += np.asarray(lin_vel_w, dtype=np.float64)

    def state(self) -> dict[str, np.ndarray]:
        """Proprioception (q, dq, tau_est, imu quat wxyz, gyro, acc) and ground truth (root pose, vel)."""
        d = self.data
        return {
            "q": d.qpos[7:].copy(),
            "dq": d.qvel[6:].copy(),
            "tau_est": d.actuator_force.copy(),
            "quat": d.qpos[3:7].copy(),
            "gyro": d.sensordata[self.gyro_adr : self.gyro_adr + 3].copy(),
            "acc": d.sensordata[self.acc_adr : self.acc_adr + 3].copy(),
            "root_pos": d.qpos[:3].copy(),
            "root_lin_vel_w": d.qvel[:3].copy(),
            # MuJoCo's free-joint angular velocity is in the body frame; expose the world one.
            "root_ang_vel_w": d.xmat[1].reshape(3, 3) @ d.qvel[3:6],
        }
