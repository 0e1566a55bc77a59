"""One simulated G1 driven by PD commands, as the sim_bridge_node runs it (no ROS).

The robot is :class:`hgpt_core.sim_g1.SimG1` (the G1 bridge's simulated robot is the same class) with this
simulator's settings: a ``weld`` gantry (the pelvis held rigidly where it starts) and the ``clip_apart`` motor
law (``kp (q* - q) - kd dq`` clipped to the motor's torque limit inside MuJoCo's C step; the ``kd dq*`` and
feed-forward terms clipped on their own into ``qfrc_applied``), as the lock-step evaluation was recorded with.

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

from hgpt_core.g1 import KNEES_BENT_POSE, KNEES_BENT_ROOT_Z, NUM_JOINTS, G1Spec
from hgpt_core.sim_g1 import SimG1, SimG1Config


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
    """Start with the pelvis held rigidly (a weld), as a gantry holds the real robot, until
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


class SimRobot(SimG1):
    """The simulated G1 (:class:`~hgpt_core.sim_g1.SimG1`: weld gantry, ``clip_apart`` motor law) behind PD
    commands with the command guard."""

    def __init__(self, cfg: SimConfig | None = None) -> None:
        self.cfg = cfg or SimConfig()
        super().__init__(SimG1Config(self.cfg.physics_dt, gantry="weld", motor_law="clip_apart"))
        self.spec = G1Spec()
        self.reset()

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
        self.hold(self.cfg.gantry)  # the gantry's anchor where the pelvis is now

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
        self.drive(cmd.q, cmd.kp, cmd.kd, cmd.kd * cmd.dq + cmd.tau_ff)
        self.step_physics(self.cfg.decimation)
