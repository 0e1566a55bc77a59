"""The G1 safety state machine (no ROS), independent of the policy node.

    DAMP --arm (all checks pass)--> RAMP --ramp_s--> STAND --fresh command, mode != DAMP--> TRACK
                                     ^                                                        |
                                     +------ catch: the policy commands MODE_DAMP ------------+
    any armed state --e-stop (service, remote L2+B, watchdog, fault, bad packet)--> ESTOP (latched)
    DAMP / ESTOP --arm--> RAMP   (refused while any cause persists; the reasons are listed)

Every tick (500 Hz) produces one :class:`MotorCommand`: damping (kp = 0) in DAMP/ESTOP, else PD targets
clamped to the joint limits, rate-limited to the joint velocity limits and moved so that the PD torque
estimate stays inside the motor's effort limit. Gains and the default pose come from the active policy's
metadata, mapped to motor order by joint name. A motor error code, over-temperature, over-speed or a fall
e-stops an armed robot; watchdogs e-stop when LowState or (while tracking) JointCommand stop arriving, or
when their delivery latency grows. Every transition is recorded in :attr:`SafetyMachine.transitions`.

Only a live policy drives the robot (:class:`hgpt_core.session.SessionGate`): JointCommands count only when
they come from the policy_node session announced on /hgpt/policy with metadata identical to this bridge's
(every field; a difference is named and blocks arming) and are stamped within ``command_stamp_window_s`` of
the wall clock. Anything else (a bag replay, a second policy, a copy with other gains) is ignored, with the
reason in the status.
"""

from __future__ import annotations

import math

import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES, G1Spec, index_map
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.rotations import projected_gravity
from hgpt_core.session import Announcement, SessionGate, discovery_hint
from hgpt_g1.clamps import JointBounds, PDTargets, clamp_targets, named_values, shape_problems, smoothstep
from hgpt_g1.crc import NUM_MOTOR_SLOTS
from hgpt_g1.lag import LagMonitor, TickUnwrapper
from hgpt_g1.remote import any_held, combo_masks
from hgpt_g1.safety_config import (
    ARMED_STATES,
    JointTarget,
    LowStateSample,
    MotorCommand,
    SafetyConfig,
    SafetyState,
    SafetyStatus,
    Transition,
)

MODE_DAMP = 0  # hgpt_msgs/JointCommand.MODE_DAMP
KNOWN_MODES = (0, 1, 2, 3)  # hgpt_msgs/JointCommand MODE_DAMP, MODE_STAND, MODE_TRACK, MODE_HOLD


class SafetyMachine:
    """Safety core: the bridge feeds it LowStates and commands and writes what :meth:`tick` returns.

    Args:
        meta: The active policy's metadata (None: the bridge runs damped and refuses to arm).
        cfg: Thresholds and operator controls.
        joint_names: Motor order of the robot: slot i of LowCmd/LowState drives ``joint_names[i]``.
        spec: Robot limits (joint, velocity, effort) and fallback damping gains, in G1 order.
        meta_problems: Problems found while loading the metadata (they block arming).

    Raises:
        ValueError: for joint names that are not G1 joints, duplicates, or more than 35 motors.
    """

    def __init__(
        self,
        meta: PolicyMetadata | None,
        cfg: SafetyConfig | None = None,
        joint_names: tuple[str, ...] | list[str] = G1_JOINT_NAMES,
        spec: G1Spec | None = None,
        meta_problems: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.cfg = cfg = cfg or SafetyConfig()
        self.names = names = tuple(joint_names)
        unknown = [n for n in names if n not in G1_JOINT_NAMES]
        if unknown or len(set(names)) != len(names) or not 0 < len(names) <= NUM_MOTOR_SLOTS:
            raise ValueError(
                f"joint_names must be 1..{NUM_MOTOR_SLOTS} distinct G1 joints; unknown: {unknown}; "
                f"valid: {list(G1_JOINT_NAMES)}"
            )
        self.n = len(names)
        spec = spec or G1Spec()
        self.g1_of_motor = index_map(G1_JOINT_NAMES, names)  # x_motor = x_g1[..., g1_of_motor]
        m = cfg.limit_margin_rad
        self.limits = spec.joint_limits[self.g1_of_motor] + np.array([m, -m])
        self.max_speed = spec.velocity_limit[self.g1_of_motor] * cfg.velocity_margin
        self.vel_limit = spec.velocity_limit[self.g1_of_motor]
        self.effort = spec.effort_limit[self.g1_of_motor]
        self.bounds = JointBounds(self.limits, self.max_speed, self.effort)
        self.meta = meta
        self.policy_id = meta.policy_id if meta is not None else ""
        self.problems = [*meta_problems, *self._check_meta(meta)]
        # Only an announced policy session with identical metadata may drive the robot (hgpt_core.session).
        self.gate = SessionGate(
            meta if not self.problems else None, cfg.command_stamp_window_s, cfg.session_takeover_s
        )
        self.damp_kd = spec.kd[self.g1_of_motor] * cfg.damp_kd_scale
        # Gains and default pose in motor order; only used once armed, which needs problem-free metadata.
        self.default, self.kp, self.kd = np.zeros(self.n), np.zeros(self.n), np.zeros(self.n)
        if meta is not None and not meta.self_check() and set(names) <= set(meta.joint_names):
            a = meta.arrays()
            idx = index_map(meta.joint_names, names)
            self.default, self.kp, self.kd = a["default_joint_pos"][idx], a["kp"][idx], a["kd"][idx]
            if np.isfinite(self.kd).all():
                self.damp_kd = np.clip(self.kd, 0.0, cfg.max_kd) * cfg.damp_kd_scale
        self.estop_masks, self.arm_masks = combo_masks(cfg.remote_estop), combo_masks(cfg.remote_arm)
        self.state_lag = LagMonitor(cfg.lag_window_s, recent=25)
        self.cmd_lag = LagMonitor(cfg.lag_window_s, recent=5)
        self.unwrap = TickUnwrapper(cfg.tick_period_s)
        self.state, self.reason, self.fault = SafetyState.DAMP, "start", False
        self.transitions: list[Transition] = []
        self.latest: LowStateSample | None = None
        self.command: JointTarget | None = None
        self.prev_target: np.ndarray | None = None
        self.ramp_from, self.ramp_start, self.ramp_s = np.zeros(self.n), 0.0, cfg.ramp_s
        self.last_tick: float | None = None
        self.bad_packets, self.bad_commands = 0, 0
        self.last_bad, self.last_bad_command, self.last_refusal = "", "", ""
        self.last_announcement_problem = ""
        self.clamped: dict[str, list[str]] = {}
        self._arm_held = False

    # ---- checks -------------------------------------------------------------------------------------
    def _check_meta(self, meta: PolicyMetadata | None) -> list[str]:
        """Static differences between the policy metadata and this robot configuration."""
        if meta is None:
            return [
                "no policy metadata: set the 'policy' parameter (a .json/.onnx/.pt file or a built-in name)"
            ]
        out = [f"metadata of '{meta.policy_id}': {p}" for p in meta.self_check()]
        mnames = tuple(meta.joint_names)
        missing = [n for n in self.names if n not in mnames]
        extra = [n for n in mnames if n not in self.names]
        if missing:
            out.append(f"the policy's metadata lacks joints the robot drives (joint_names): {missing}")
        if extra:
            out.append(f"the policy's metadata has joints the robot does not drive (joint_names): {extra}")
        if not missing and not extra and mnames != G1_JOINT_NAMES:
            out.append("the policy's joint order differs from the G1 order of /hgpt/joint_command")
        if not out:
            a = meta.arrays()
            if a["kp"].max() > self.cfg.max_kp or a["kd"].max() > self.cfg.max_kd:
                out.append(
                    f"metadata gains kp <= {a['kp'].max():.1f}, kd <= {a['kd'].max():.2f} exceed the allowed "
                    f"{self.cfg.max_kp}, {self.cfg.max_kd}"
                )
            d = a["default_joint_pos"][index_map(mnames, self.names)]
            outside = [
                self.names[i] for i in np.flatnonzero((d < self.limits[:, 0]) | (d > self.limits[:, 1]))
            ]
            if outside:
                out.append(f"default pose outside the joint limits (with margin) for {outside}")
        if self.cfg.mode_pr != 0 and any("ankle_pitch" in n or "waist_pitch" in n for n in self.names):
            out.append("mode_pr=1 (AB) but the joints are pitch/roll (PR): set safety.mode_pr to 0")
        return out

    def faults(self, s: LowStateSample) -> list[str]:
        """Conditions of a valid LowState that forbid driving the robot (motor error, heat, speed, fall)."""
        out = []
        if (bad := np.flatnonzero(s.motorstate != 0)).size:
            out.append(
                "motor fault: " + ", ".join(f"{self.names[i]} code 0x{int(s.motorstate[i]):x}" for i in bad)
            )
        if (hot := np.flatnonzero(s.temperature >= self.cfg.temp_max_c)).size:
            out.append(
                f"motor over {self.cfg.temp_max_c:.0f} C: "
                + named_values(self.names, hot, s.temperature, "C")
            )
        if (fast := np.flatnonzero(np.abs(s.dq) > self.cfg.overspeed_factor * self.vel_limit)).size:
            out.append("joint overspeed: " + named_values(self.names, fast, s.dq, "rad/s"))
        tilt = math.acos(min(1.0, max(-1.0, -float(projected_gravity(s.quat)[2]))))
        if tilt > self.cfg.fall_tilt_rad:
            out.append(f"fall: pelvis tilt {tilt:.2f} rad > {self.cfg.fall_tilt_rad} rad")
        return out

    def _mode_machine_ok(self, mode_machine: int) -> bool:
        exp = self.cfg.expected_mode_machine
        return not exp or any(x < 0 for x in exp) or mode_machine in exp

    def arm_problems(self, now: float) -> list[str]:
        """Everything that currently forbids arming (empty = may arm)."""
        out = list(self.problems) + self.gate.problems(now)
        s = self.latest
        if s is None:
            return [*out, "no LowState received yet"]
        if (age := now - s.recv_time) > self.cfg.lowstate_timeout_s:
            out.append(
                f"LowState is {1e3 * age:.0f} ms old (timeout {1e3 * self.cfg.lowstate_timeout_s:.0f} ms)"
            )
        if not self._mode_machine_ok(s.mode_machine):
            out.append(
                f"robot reports mode_machine {s.mode_machine}, expected one of "
                f"{list(self.cfg.expected_mode_machine)} (5 = g1_29dof_rev_1_0, the model hgpt policies use)"
            )
        out += self.faults(s)
        if any_held(s.buttons, self.estop_masks):
            out.append(f"a remote e-stop combo ({self.cfg.remote_estop}) is held")
        if self.state_lag.growth > self.cfg.max_state_lag_s:
            out.append(f"LowState latency grew by {1e3 * self.state_lag.growth:.0f} ms")
        return out

    # ---- inputs -------------------------------------------------------------------------------------
    def on_lowstate(self, s: LowStateSample) -> None:
        """A decoded LowState (CRC already checked by the caller)."""
        now = s.recv_time
        problems = shape_problems(
            self.n, q=s.q, dq=s.dq, tau_est=s.tau_est, temperature=s.temperature, motorstate=s.motorstate
        )
        problems += shape_problems(4, quat=s.quat) + shape_problems(3, gyro=s.gyro)
        if not problems and abs(float(np.linalg.norm(s.quat)) - 1.0) > 0.1:
            problems.append(f"IMU quaternion norm {np.linalg.norm(s.quat):.3f}")
        if problems:
            self.on_bad_packet("; ".join(problems), now, fatal=True)
            return
        self.latest = s
        self.state_lag.add(now, self.unwrap(s.tick))
        if any_held(s.buttons, self.estop_masks) and self.state != SafetyState.ESTOP:
            self.estop(f"remote e-stop ({self.cfg.remote_estop}) pressed", now)
        arm_held = any_held(s.buttons, self.arm_masks)
        if arm_held and not self._arm_held:
            self.arm(now, source=f"remote {self.cfg.remote_arm}")
        self._arm_held = arm_held
        if self.state in ARMED_STATES and (faults := self.faults(s)):
            self.estop("; ".join(faults), now)

    def on_bad_packet(self, reason: str, now: float, fatal: bool = False) -> None:
        """A LowState that could not be used; ``fatal`` (NaN, wrong sizes) e-stops an armed robot.

        Non-fatal ones (bad CRC) are dropped: the LowState watchdog e-stops if they persist.
        """
        self.bad_packets += 1
        self.last_bad = reason
        if fatal and self.state in ARMED_STATES:
            self.estop(f"bad LowState: {reason}", now)

    def on_command(self, c: JointTarget) -> None:
        """A JointCommand (arrays in G1 order). Followed only when it comes from the announced policy session
        with this bridge's metadata, stamped within ``command_stamp_window_s`` (else ignored, reason kept)."""
        n = len(G1_JOINT_NAMES)
        if self.gate.check_command(c.session_id, c.stamp, c.wall, c.recv_time):
            return  # not the announced live policy: ignored, the reason in the status (gate.last_ignored)
        problems = shape_problems(n, q=c.q, dq=c.dq, tau_ff=c.tau_ff, kp=c.kp, kd=c.kd)
        if not problems and ((c.kp < 0).any() or (c.kd < 0).any()):
            problems.append("negative kp/kd")
        if not problems and c.mode not in KNOWN_MODES:
            problems.append(f"unknown mode {c.mode}")
        if not problems and c.policy_id != self.gate.policy_id:
            problems.append(f"policy_id '{c.policy_id}' in a command of session '{c.session_id}' "
                            f"(announced '{self.gate.policy_id}')")  # fmt: skip
        if problems:
            self.bad_commands += 1
            self.last_bad_command = "; ".join(problems)
            if self.state == SafetyState.TRACK:
                self.estop(f"invalid JointCommand: {self.last_bad_command}", c.recv_time)
            return
        self.command = c
        self.cmd_lag.add(c.recv_time, c.recv_time - c.lag_offset)

    def on_announcement(self, a: Announcement, now_wall: float) -> str:
        """A /hgpt/policy announcement (``now_wall``: local wall clock [s]); returns why it is refused."""
        why = self.gate.on_announcement(a, now_wall)
        self.last_announcement_problem = why
        return why

    def arm(self, now: float, source: str = "service") -> tuple[bool, str]:
        """Operator request to leave DAMP/ESTOP: refused (with every reason listed) unless all checks pass."""
        if self.state in ARMED_STATES:
            return True, f"already armed ({self.state.value})"
        problems = self.arm_problems(now)
        if problems:
            self.last_refusal = f"refusing to arm ({source}):\n  - " + "\n  - ".join(problems)
            return False, self.last_refusal
        assert self.latest is not None
        self.fault, self.last_refusal = False, ""
        self.prev_target = self.latest.q.astype(np.float64)
        self._start_ramp(self.prev_target, self.cfg.ramp_s, now)
        self._transition(SafetyState.RAMP, f"armed by {source}", now)
        return (
            True,
            f"armed by {source}: ramping to the default pose of '{self.policy_id}' in {self.cfg.ramp_s} s",
        )

    def estop(self, reason: str, now: float) -> tuple[bool, str]:
        """Latch ESTOP (damping) from any state."""
        if self.state != SafetyState.ESTOP:
            self.fault = True
            self.prev_target = None
            self._transition(SafetyState.ESTOP, reason, now)
        return True, f"e-stopped: {self.reason}"

    # ---- the control tick ---------------------------------------------------------------------------
    def tick(self, now: float) -> MotorCommand | None:
        """One control period: watchdogs, state progression, the command (None before the first LowState)."""
        s = self.latest
        if s is None:
            return None
        if self.state in ARMED_STATES:
            self._watchdog(now, s)
        self._advance(now)
        cmd = MotorCommand(mode_pr=self.cfg.mode_pr, mode_machine=int(s.mode_machine))
        cmd.mode[: self.n] = 1  # enable the driven motors in every state: damping needs them on
        if self.state in ARMED_STATES:
            des = self._targets(now)
            dt = 0.0 if self.last_tick is None else min(max(now - self.last_tick, 0.0), 0.1)
            q_cmd, dq_cmd, tau_ff, masks = clamp_targets(des, self.prev_target, dt, s.q, s.dq, self.bounds)
            self.clamped = {
                k: [self.names[i] for i in np.flatnonzero(v)] for k, v in masks.items() if v.any()
            }
            self.prev_target = q_cmd
            cmd.q[: self.n], cmd.dq[: self.n], cmd.tau[: self.n] = q_cmd, dq_cmd, tau_ff
            cmd.kp[: self.n], cmd.kd[: self.n] = des.kp, des.kd
        else:
            self.clamped = {}
            cmd.q[: self.n], cmd.kd[: self.n] = s.q, self.damp_kd
        self.last_tick = now
        return cmd

    def _watchdog(self, now: float, s: LowStateSample) -> None:
        cfg = self.cfg
        if (age := now - s.recv_time) > cfg.lowstate_timeout_s:
            self.estop(f"watchdog: no LowState for {1e3 * age:.0f} ms", now)
        elif self.state_lag.growth > cfg.max_state_lag_s:
            self.estop(f"watchdog: LowState latency grew by {1e3 * self.state_lag.growth:.0f} ms", now)
        elif self.state == SafetyState.TRACK:
            cage = math.inf if self.command is None else now - self.command.recv_time
            if cage > cfg.command_timeout_s:
                self.estop(f"watchdog: no JointCommand for {1e3 * cage:.0f} ms", now)
            elif self.cmd_lag.growth > cfg.max_command_lag_s:
                self.estop(f"watchdog: JointCommand latency grew by {1e3 * self.cmd_lag.growth:.0f} ms", now)

    def _advance(self, now: float) -> None:
        c = self.command
        fresh = c is not None and now - c.recv_time <= self.cfg.command_timeout_s
        if self.state == SafetyState.RAMP and now - self.ramp_start >= self.ramp_s - 1e-9:
            self._transition(SafetyState.STAND, "at the default pose", now)
        if self.state == SafetyState.STAND and fresh and c is not None and c.mode != MODE_DAMP:
            self._transition(
                SafetyState.TRACK, f"tracking policy '{c.policy_id}' (session {c.session_id})", now
            )
        elif self.state == SafetyState.TRACK and c is not None and c.mode == MODE_DAMP:
            if self.cfg.catch_on_policy_damp and self.prev_target is not None:
                self._start_ramp(self.prev_target, self.cfg.catch_ramp_s, now)
                self._transition(SafetyState.RAMP, "policy commanded DAMP: catching in the default pose", now)
            else:
                self._transition(SafetyState.DAMP, "policy commanded DAMP", now)

    def _targets(self, now: float) -> PDTargets:
        """Unclamped PD targets of the armed state, motor order."""
        zeros = np.zeros(self.n)
        if self.state == SafetyState.TRACK:
            c = self.command
            assert c is not None
            i = self.g1_of_motor
            kp, kd = self.kp, self.kd
            if self.cfg.gain_source == "command":
                kp, kd = np.clip(c.kp[i], 0.0, self.kp), np.clip(c.kd[i], 0.0, self.kd)
            return PDTargets(c.q[i], c.dq[i], c.tau_ff[i], kp, kd)
        alpha = 1.0
        if self.state == SafetyState.RAMP:
            alpha = smoothstep((now - self.ramp_start) / self.ramp_s)
        q = self.ramp_from + alpha * (self.default - self.ramp_from)
        return PDTargets(q, zeros, zeros, self.kp, self.kd)

    def _start_ramp(self, q_from: np.ndarray, duration_s: float, now: float) -> None:
        self.ramp_from, self.ramp_start, self.ramp_s = np.array(q_from, dtype=np.float64), now, duration_s

    def _transition(self, new: SafetyState, reason: str, now: float) -> None:
        self.transitions.append(Transition(now, self.state, new, reason))
        self.state, self.reason = new, reason

    # ---- reporting ----------------------------------------------------------------------------------
    def status(self, now: float) -> SafetyStatus:
        """State, reason, the latched fault flag, active warnings and the LowState age [ms]."""
        warnings: list[str] = []
        s = self.latest
        latency_ms = 0.0
        if s is None:
            warnings.append("no LowState received yet")
        else:
            latency_ms = 1e3 * (now - s.recv_time)
            if latency_ms > 1e3 * self.cfg.lowstate_timeout_s:
                warnings.append(f"no LowState for {latency_ms:.0f} ms")
            if self.state not in ARMED_STATES:
                warnings += self.faults(s)
            if (warm := np.flatnonzero(s.temperature >= self.cfg.temp_warn_c)).size:
                warnings.append("hot motors: " + named_values(self.names, warm, s.temperature, "C"))
        if self.state not in ARMED_STATES and self.problems:
            warnings.append("arming blocked: " + " | ".join(self.problems))
        if self.last_refusal and self.state not in ARMED_STATES:
            warnings.append(self.last_refusal.replace("\n  - ", " | "))
        if self.bad_packets:
            warnings.append(f"{self.bad_packets} bad LowState packets (last: {self.last_bad})")
        if self.bad_commands:
            warnings.append(f"{self.bad_commands} bad JointCommands (last: {self.last_bad_command})")
        if self.gate.ignored:
            warnings.append(f"{self.gate.ignored} JointCommands ignored (last: {self.gate.last_ignored})")
        if self.state in ARMED_STATES and not self.gate.session:  # armed, but no policy heard
            warnings.append("no policy announced on /hgpt/policy: " + discovery_hint())
        if self.last_announcement_problem:
            warnings.append(f"policy announcement refused: {self.last_announcement_problem}")
        warnings += [f"clamped ({k}): {v}" for k, v in self.clamped.items()]
        return SafetyStatus(self.state, self.reason, self.fault, warnings, latency_ms)
