"""The policy node's core: token building, mode state machine and safety guards (no ROS).

Modes follow ``JointCommand.MODE_*``: DAMP (kp = 0, the safe state) -> STAND (ramp from the measured pose to
the policy's default pose) -> TRACK (policy targets). HOLD keeps the last target while the reference is
briefly stale. Guards run every tick, before every command:

* robot state missing, stale (header stamp older than ``state_timeout_s`` on the node's clock, or more than
  ``state_future_s`` ahead of it) or non-finite -> DAMP;
* IMU quaternion norm off by more than ``quat_norm_tol`` (zero, garbage) -> DAMP and a latched fault; within
  the tolerance it is normalised;
* reference stale: HOLD after ``ref_hold_s``, then DAMP after ``ref_damp_s``;
* policy output non-finite -> DAMP and a latched fault;
* fall (pelvis tilt beyond ``fall_tilt_rad``) -> DAMP and a latched fault;
* targets clamped to the joint limits and rate-limited to the joint velocity limits.

A latched fault keeps the robot damped until :meth:`PolicyController.set_mode` is called with DAMP
(acknowledge), after which STAND is allowed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

import numpy as np

from hgpt_core.g1 import G1Spec
from hgpt_core.obs import ObsInput, build_obs, terms_from_layout
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.rotations import projected_gravity
from hgpt_core.state import ReferenceFrame, RobotState


class Mode(IntEnum):
    """Command modes; values equal ``hgpt_msgs/JointCommand.MODE_*``."""

    DAMP = 0
    STAND = 1
    TRACK = 2
    HOLD = 3


class TrackingPolicy(Protocol):
    """A policy that tracks: builds its own observation from an :class:`ObsInput`, keeps its own history.

    PD target = ``meta.default_joint_pos + meta.action_scale * act(inp)`` with gains ``meta.kp``/``meta.kd``.
    """

    meta: PolicyMetadata

    def act(self, inp: ObsInput) -> np.ndarray:
        """One control step: robot state + next reference frame -> raw action (29,)."""
        ...

    def reset(self) -> None:
        """Forget the history (start of an episode)."""
        ...


class TokenPolicy:
    """Adapts a token runtime (``step(token (obs_dim,)) -> action (29,)``) to :class:`TrackingPolicy`,
    building the token with ``hgpt_core.obs.build_obs`` from the layout in the policy's metadata."""

    def __init__(self, runtime, meta: PolicyMetadata) -> None:
        self.runtime, self.meta = runtime, meta
        self.terms = terms_from_layout(meta.obs_terms)

    def act(self, inp: ObsInput) -> np.ndarray:
        return self.runtime.step(build_obs(inp, self.terms))

    def reset(self) -> None:
        self.runtime.reset()


@dataclass(frozen=True)
class ControllerConfig:
    """Timing and safety thresholds of the policy node."""

    stand_ramp_s: float = 2.0
    """Time to ramp from the measured pose to the default pose [s]."""
    state_timeout_s: float = 0.1
    """Robot state older than this damps the robot [s]."""
    ref_hold_s: float = 0.1
    """Reference older than this holds the last target [s]."""
    ref_damp_s: float = 0.5
    """Reference older than this damps the robot [s]."""
    fall_tilt_rad: float = 1.0
    """Pelvis tilt (angle between body z and world z) that counts as a fall [rad]."""
    damp_kd_scale: float = 1.0
    """Damping gains in DAMP mode, as a multiple of the policy's kd."""
    velocity_margin: float = 1.0
    """Targets may move at most velocity_limit * margin * control_dt per tick."""
    state_future_s: float = 0.5
    """Robot state stamped further than this ahead of the node's clock is refused, like a stale one [s]."""
    quat_norm_tol: float = 0.1
    """IMU quaternion with | |q| - 1 | up to this is normalised; beyond it (zero, garbage) is a fault."""


@dataclass
class Command:
    """PD command for the 29 joints; ``mode`` as :class:`Mode`."""

    q: np.ndarray
    dq: np.ndarray
    kp: np.ndarray
    kd: np.ndarray
    mode: Mode


@dataclass
class Status:
    """What the node publishes on /hgpt/status."""

    mode: Mode
    state: str
    reason: str = ""
    fault: bool = False
    warnings: list[str] = field(default_factory=list)


def _finite(*arrays: np.ndarray) -> bool:
    return all(np.isfinite(a).all() for a in arrays)


class PolicyController:
    """Pure-Python control core; the node feeds it messages and publishes what :meth:`tick` returns."""

    def __init__(
        self, policy: TrackingPolicy, spec: G1Spec | None = None, cfg: ControllerConfig | None = None
    ) -> None:
        self.policy = policy
        self.meta = policy.meta
        self.spec = spec or G1Spec()
        self.cfg = cfg or ControllerConfig()
        a = self.meta.arrays()
        self.default, self.kp, self.kd, self.scale = (
            a["default_joint_pos"],
            a["kp"],
            a["kd"],
            a["action_scale"],
        )
        self.dt = self.meta.control_dt
        self.max_step = self.spec.velocity_limit * self.cfg.velocity_margin * self.dt
        self.mode = Mode.DAMP
        self.requested = Mode.DAMP
        self.fault = False
        self.reason = "startup"
        self.state: RobotState | None = None
        self.state_stamp = 0.0  # [s] when self.state was received (node clock)
        self.ref: ReferenceFrame | None = None
        self.ref_stamp = 0.0  # [s] when self.ref was received
        self.last_action = np.zeros(len(self.default))
        self.last_target: np.ndarray | None = None
        self.ramp_from: np.ndarray | None = None
        self.ramp_t = 0.0

    # ---- inputs ---------------------------------------------------------------------------------

    def on_state(self, state: RobotState, stamp: float) -> None:
        """A measured state (one robot: joints (29,), IMU) received at ``stamp`` [s] on the node's clock."""
        self.state, self.state_stamp = state, stamp

    def on_reference(self, ref: ReferenceFrame, stamp: float) -> None:
        """The next reference frame (one robot) received at ``stamp`` [s] on the node's clock."""
        self.ref, self.ref_stamp = ref, stamp

    def set_mode(self, mode: Mode) -> tuple[bool, str]:
        """Request a mode; returns (accepted, message). DAMP is always accepted and clears a fault."""
        mode = Mode(mode)
        if mode == Mode.DAMP:
            msg = "damping; fault acknowledged" if self.fault else "damping"
            self.fault, self.requested = False, Mode.DAMP
            return True, msg
        if self.fault:
            return False, f"latched fault ({self.reason}): request DAMP to acknowledge first"
        if mode == Mode.TRACK and self.mode not in (Mode.STAND, Mode.TRACK, Mode.HOLD):
            return False, "TRACK needs STAND first (the robot must be at its default pose)"
        if mode == Mode.HOLD:
            return False, "HOLD is entered automatically when the reference is stale"
        self.requested = mode
        return True, f"{mode.name} requested"

    # ---- the control tick -----------------------------------------------------------------------

    def tick(self, now: float) -> tuple[Command, Status]:
        """Compute the command for time ``now`` [s]; never raises on bad input, damps instead."""
        warnings: list[str] = []
        st = self.state
        if st is None:
            return self._damp("waiting_for_robot_state", "no robot state yet", latch=False)
        if not _finite(st.joint_pos, st.joint_vel, st.root_quat_w, st.root_ang_vel_b):
            return self._damp("fault", "non-finite robot state", latch=True)
        stamp = self.state_stamp
        if now - stamp > self.cfg.state_timeout_s:
            return self._damp(
                "stale_robot_state", f"robot state {1e3 * (now - stamp):.0f} ms old", latch=False
            )
        if stamp - now > self.cfg.state_future_s:
            return self._damp(
                "stale_robot_state",
                f"robot state stamped {stamp - now:.3f} s ahead of this node's clock (clocks differ?)",
                latch=False,
            )
        norm = float(np.linalg.norm(st.root_quat_w))
        if abs(norm - 1.0) > self.cfg.quat_norm_tol:
            return self._damp(
                "fault",
                f"IMU quaternion norm {norm:.3f} (allowed 1 +- {self.cfg.quat_norm_tol}): tilt unknown",
                latch=True,
            )
        if norm != 1.0:
            st.root_quat_w = st.root_quat_w / norm
        up = -projected_gravity(st.root_quat_w)[2]  # cos(tilt)
        if self.mode != Mode.DAMP and up < np.cos(self.cfg.fall_tilt_rad):
            return self._damp(
                "fault", f"fall detected (tilt {np.degrees(np.arccos(np.clip(up, -1, 1))):.0f} deg)", True
            )
        if self.fault or self.requested == Mode.DAMP:
            return self._damp("fault" if self.fault else "damping", self.reason, latch=self.fault)

        ramping = self.mode == Mode.STAND and now - self.ramp_t < self.cfg.stand_ramp_s
        if self.requested == Mode.STAND or self.mode == Mode.DAMP or ramping:
            return self._stand(st, now)
        if self.ref is None:  # tracking requested before any reference came: stand and wait (nothing lost)
            return self._stand(st, now, waiting=True)
        ref_age = now - self.ref_stamp
        if ref_age > self.cfg.ref_damp_s:
            self.requested = Mode.DAMP
            return self._damp("reference_lost", f"reference {ref_age:.2f} s old", latch=False)
        if ref_age > self.cfg.ref_hold_s or not _finite(*self._ref_arrays()):
            why = (
                f"reference stale ({1e3 * ref_age:.0f} ms old)"
                if ref_age > self.cfg.ref_hold_s
                else "reference invalid"
            )
            warnings.append(f"{why}: holding")
            return self._emit(self.last_target, Mode.HOLD, "holding", warnings, reason=why)
        return self._track(st, warnings)

    def _ref_arrays(self) -> tuple[np.ndarray, ...]:
        r = self.ref
        assert r is not None
        return r.root_pos_w, r.root_quat_w, r.root_lin_vel_w, r.root_ang_vel_w, r.joint_pos, r.joint_vel

    def _stand(self, st: RobotState, now: float, waiting: bool = False) -> tuple[Command, Status]:
        if self.mode != Mode.STAND or self.ramp_from is None:
            self.ramp_from, self.ramp_t = st.joint_pos.copy(), now
            self.mode = Mode.STAND
            self.policy.reset()
            self.last_action[:] = 0.0
        alpha = float(np.clip((now - self.ramp_t) / self.cfg.stand_ramp_s, 0.0, 1.0))
        target = (1 - alpha) * self.ramp_from + alpha * self.default
        state = "standing" if alpha >= 1.0 else f"ramping_to_default ({100 * alpha:.0f}%)"
        if waiting and alpha >= 1.0:
            state = "waiting_for_reference"
        return self._emit(target, Mode.STAND, state, [])

    def _track(self, st: RobotState, warnings: list[str]) -> tuple[Command, Status]:
        r = self.ref
        assert r is not None
        inp = ObsInput.from_state(st, r, self.last_action, self.default)
        try:
            action = np.asarray(self.policy.act(inp), dtype=np.float64).reshape(-1)
        except Exception as exc:  # a runtime failure must not escape the control loop
            return self._damp("fault", f"policy step failed: {exc}", latch=True)
        if action.shape != self.default.shape or not np.isfinite(action).all():
            return self._damp("fault", "policy output non-finite or wrong size", latch=True)
        self.last_action = action
        self.mode = Mode.TRACK
        return self._emit(self.default + self.scale * action, Mode.TRACK, "tracking", warnings)

    def _emit(
        self, target: np.ndarray | None, mode: Mode, state: str, warnings: list[str], reason: str = ""
    ) -> tuple[Command, Status]:
        lo, hi = self.spec.joint_limits[:, 0], self.spec.joint_limits[:, 1]
        if target is None:
            target = self.state.joint_pos if self.state is not None else self.default
        clamped = np.clip(target, lo, hi)
        if np.any(clamped != target):
            warnings.append("targets clamped to joint limits")
        if self.last_target is not None:
            step = np.clip(clamped - self.last_target, -self.max_step, self.max_step)
            if np.any(step != clamped - self.last_target):
                warnings.append("targets rate-limited")
            clamped = self.last_target + step
        self.last_target = clamped
        if mode != Mode.HOLD:
            self.mode = mode
        cmd = Command(clamped, np.zeros_like(clamped), self.kp.copy(), self.kd.copy(), mode)
        return cmd, Status(mode, state, self.reason if mode == Mode.DAMP else reason, self.fault, warnings)

    def _damp(self, state: str, reason: str, latch: bool) -> tuple[Command, Status]:
        if latch:
            self.fault = True
        self.reason = reason
        # Once the robot was driven, leaving DAMP takes a new, explicit request; a request made while still
        # damped (start-up, waiting for a first fresh state) stays pending.
        if latch or self.mode != Mode.DAMP:
            self.requested = Mode.DAMP
        self.mode, self.ramp_from, self.last_target = Mode.DAMP, None, None
        st = self.state
        q = st.joint_pos.copy() if st is not None and _finite(st.joint_pos) else self.default.copy()
        n = len(self.default)
        cmd = Command(q, np.zeros(n), np.zeros(n), self.kd * self.cfg.damp_kd_scale, Mode.DAMP)
        return cmd, Status(Mode.DAMP, state, reason, self.fault, [])
