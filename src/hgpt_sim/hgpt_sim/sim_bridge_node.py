"""sim_bridge_node: a MuJoCo G1 behind /hgpt/joint_command -> /hgpt/robot_state, /joint_states, /clock.

Modes:
  * ``realtime``: a wall-clock timer steps one control period per tick; late ticks count as overruns.
  * ``lockstep``: each command of the live policy stamped with the current state's time advances exactly
    one control period, then the state is published (deterministic, as fast as the graph answers). A
    command of the live policy with any other stamp (a repeat after a kick, a late answer, one ahead, 1 ns
    off) does not step: it is counted "out of step" with its stamp and the state's in the status warnings,
    and logged (throttled). Until the first command arrives, and whenever no command steps for
    ``kick_period_s`` of wall time, the current state is re-published so the loop (re)starts.

Only a live policy drives it: JointCommands count when they come from the policy_node session announced on
/hgpt/policy and are stamped within ``command_stamp_window_s`` of the simulation time (hgpt_core.session);
others (a bag replay, a second policy) are ignored with the reason logged. No new command for
``sim.damp_after_s`` (0.04 s of simulation time): damping.

What a followed command gets (docs/safety.md): NaN/inf, gains outside [0, ``sim.max_kp``] /
[0, ``sim.max_kd``], an unknown ``mode`` (not 0-3) or a ``policy_id`` other than the announced policy's (as
the G1 bridge refuses it): rejected, the last safe command stays
(:class:`~hgpt_sim.sim_robot.SimRobot`); finite but out-of-range targets are clamped as the G1 bridge clamps
them (:func:`clamp_to_robot`: q into the joint range, dq to the motor speed limit, tau_ff to the effort
limit). Both are counted in the status warnings with the last reason, and logged (throttled). A position
target beyond 1e10 rad used to reach MuJoCo, which then zeroed EVERY actuator's control (all joints driven
to 0 rad) with only a "huge value in CTRL" warning.
"""

from __future__ import annotations

import re
import time

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState

from hgpt_core.g1 import G1_JOINT_NAMES, G1Spec
from hgpt_core.session import Announcement, SessionGate, discovery_hint
from hgpt_core.stamps import stamp_to_ns, stamp_to_sec
from hgpt_msgs.msg import JointCommand, PolicyInfo, RobotState, TrackingStatus
from hgpt_msgs.srv import SimControl
from hgpt_ros.node_main import run_node
from hgpt_ros.params import declare_dataclass
from hgpt_sim.msg_conv import (
    clock_msg,
    command_from_msg,
    joint_state_to_msg,
    robot_state_to_msg,
    time_msg,
)
from hgpt_sim.sim_robot import PDCommand, SimConfig, SimRobot

MAX_REASON = 300
"""Longest reason quoted in a status warning [characters] (a fuzzed session id may be 100 kB)."""


def clip(text: str, n: int = 80) -> str:
    """``text`` cut to ``n`` characters, then "..." and its length: an id quoted in a log line or reason."""
    return text if len(text) <= n else f"{text[:n]}... ({len(text)} characters)"


def clamp_to_robot(cmd: PDCommand, spec: G1Spec) -> tuple[PDCommand, list[str]]:
    """Clamp a finite (29,) command as the G1 bridge does: q into ``spec.joint_limits`` (where policy_node
    already keeps its targets, so its commands pass unchanged), dq to +-``velocity_limit``, tau_ff to
    +-``effort_limit``; kp/kd are left to the guard (rejected outside its range).

    Returns the command (``cmd`` itself when nothing was clamped) and what was clamped
    (``"q at 2 joint(s) (left_elbow_joint 1e+308 -> 2.09)"``, ...).
    """
    q = np.clip(cmd.q, spec.joint_limits[:, 0], spec.joint_limits[:, 1])
    dq = np.clip(cmd.dq, -spec.velocity_limit, spec.velocity_limit)
    tau_ff = np.clip(cmd.tau_ff, -spec.effort_limit, spec.effort_limit)
    notes = []
    for name, before, after in (("q", cmd.q, q), ("dq", cmd.dq, dq), ("tau_ff", cmd.tau_ff, tau_ff)):
        idx = np.flatnonzero(before != after)
        if len(idx):
            j = int(idx[0])
            notes.append(
                f"{name} at {len(idx)} joint(s) ({G1_JOINT_NAMES[j]} {before[j]:.3g} -> {after[j]:.3g})"
            )
    if not notes:
        return cmd, []
    return PDCommand(q=q, dq=dq, kp=cmd.kp, kd=cmd.kd, tau_ff=tau_ff), notes


class SimBridgeNode(Node):
    """Owns one :class:`SimRobot`; all logic beyond message plumbing is in hgpt_sim.sim_robot."""

    def __init__(self, **kwargs) -> None:
        super().__init__("sim_bridge_node", **kwargs)
        ro = ParameterDescriptor(read_only=True)
        self.mode = self.declare_parameter("mode", "realtime", ro).value
        self.kick_period_s = self.declare_parameter("kick_period_s", 0.2, ro).value
        if self.mode not in ("realtime", "lockstep"):
            raise ValueError(f"mode must be 'realtime' or 'lockstep', got {self.mode!r}")
        window = self.declare_parameter("command_stamp_window_s", 0.5, ro).value
        takeover = self.declare_parameter("session_takeover_s", 2.0, ro).value
        self.gate = SessionGate(None, stamp_window_s=window, takeover_s=takeover)
        self.robot = SimRobot(declare_dataclass(self, SimConfig, prefix="sim."))
        self.state_pub = self.create_publisher(RobotState, "/hgpt/robot_state", qos_profile_sensor_data)
        self.joint_pub = self.create_publisher(JointState, "/joint_states", 10)
        self.clock_pub = self.create_publisher(Clock, "/clock", 10)
        self.status_pub = self.create_publisher(TrackingStatus, "/hgpt/sim/status", 10)
        self.create_subscription(JointCommand, "/hgpt/joint_command", self.on_command, 10)
        announce_qos = QoSProfile(
            depth=1,
            history=HistoryPolicy.KEEP_LAST,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.create_subscription(PolicyInfo, "/hgpt/policy", self.on_policy, announce_qos)
        self.create_service(SimControl, "/hgpt/sim/control", self.on_control)
        self.tick = 0
        self.overruns = 0
        self.state_ns = -1  # stamp [ns] of the last published state
        self.last_cmd_wall = 0.0
        self.last_status = ""
        self.hinted = False  # the "no policy heard" hint was logged
        # followed commands rejected / clamped / out of step (lock-step), refused announcements: counts and
        # the last reason
        self.rejected, self.clamped, self.refused, self.out_of_step = 0, 0, 0, 0
        self.last_rejected = self.last_clamped = self.last_refused = self.last_out_of_step = ""
        period = self.robot.cfg.control_dt if self.mode == "realtime" else self.kick_period_s
        self.next_wall = time.perf_counter() + period
        self.create_timer(period, self.on_timer)
        self.publish_state()
        self.get_logger().info(f"sim bridge up: mode={self.mode}, control_dt={self.robot.cfg.control_dt} s")

    def on_command(self, msg: JointCommand) -> None:
        why = self.gate.check_command(
            msg.session_id, stamp_to_sec(msg.header.stamp), self.robot.time, time.monotonic()
        )
        if why:
            self.get_logger().warning(
                f"ignoring JointCommand of '{clip(msg.policy_id)}': {why}", throttle_duration_sec=2.0
            )
            return
        ns = stamp_to_ns(msg.header.stamp)
        if self.mode == "lockstep" and ns != self.state_ns:
            # Lock-step: a command answers the state stamped with the same time; any other one (a repeat
            # after a kick, a late one, one ahead) must not advance the simulation. It used to be dropped
            # unseen: a policy whose stamps never match stalled the simulation without a word.
            self.out_of_step += 1
            self.last_out_of_step = (
                f"stamped {ns / 1e9:.9f} s, the state is at {self.state_ns / 1e9:.9f} s (lock-step: one step "
                "per command stamped like the current state; a repeat after a kick, a late one or one ahead)"
            )
            self.get_logger().warning(
                f"JointCommand out of step: {self.last_out_of_step}", throttle_duration_sec=2.0
            )
            return
        cmd = command_from_msg(msg)
        problems = cmd.problems(self.robot.cfg)
        if not problems and msg.mode > JointCommand.MODE_HOLD:
            problems = [f"unknown mode {msg.mode} (valid: 0-3)"]
        if not problems and msg.policy_id != self.gate.policy_id:
            problems = [
                f"policy_id '{clip(msg.policy_id)}' in a command of session '{clip(msg.session_id)}' "
                f"(announced '{clip(self.gate.policy_id)}')"
            ]
        if problems:
            self.rejected += 1
            self.last_rejected = "; ".join(problems)
            self.get_logger().warning(f"command rejected: {self.last_rejected}", throttle_duration_sec=1.0)
        else:
            cmd, clamped = clamp_to_robot(cmd, self.robot.spec)
            if clamped:
                self.clamped += 1
                self.last_clamped = "; ".join(clamped)
                self.get_logger().warning(f"command clamped: {self.last_clamped}", throttle_duration_sec=1.0)
            self.robot.command(cmd)
        self.last_cmd_wall = time.perf_counter()
        if self.mode == "lockstep":
            self.robot.step()
            self.publish_state()

    def on_policy(self, msg: PolicyInfo) -> None:
        """Handshake: follow the announced policy session (any metadata: the commands carry the gains)."""
        before = self.gate.session
        a = Announcement(
            msg.session_id, msg.policy_id, msg.metadata_json, stamp_to_sec(msg.header.stamp), time.monotonic()
        )
        why = self.gate.on_announcement(a, self.robot.time)
        if why:
            self.refused += 1
            self.last_refused = why
            self.get_logger().warning(f"policy announcement refused: {why}", throttle_duration_sec=2.0)
        elif self.gate.session != before:
            self.get_logger().info(f"following policy '{msg.policy_id}' session {msg.session_id}")

    def on_control(self, req: SimControl.Request, res: SimControl.Response) -> SimControl.Response:
        v = req.push_velocity
        if req.command == SimControl.Request.COMMAND_PUSH:
            vel = np.array([v.x, v.y, v.z])
            if not np.isfinite(vel).all() or np.linalg.norm(vel) > 5.0:
                res.success, res.message = False, "push_velocity must be finite and at most 5 m/s"
                return res
            self.robot.push(vel)
            res.message = f"pushed {vel.tolist()} m/s"
        elif req.command == SimControl.Request.COMMAND_RELEASE_GANTRY:
            self.robot.release_gantry()
            res.message = "gantry released"
        elif req.command == SimControl.Request.COMMAND_RESET:
            self.robot.reset()
            res.message = "reset to the initial pose"
        else:
            res.success, res.message = (
                False,
                f"unknown command {req.command!r}; valid: push, release_gantry, reset",
            )
            return res
        res.success = True
        self.get_logger().info(f"sim control: {res.message}")
        return res

    def on_timer(self) -> None:
        now = time.perf_counter()
        if self.mode == "lockstep":
            if now - self.last_cmd_wall > self.kick_period_s:
                self.publish_state()  # (re)start the loop
            return
        if now - self.next_wall > self.robot.cfg.control_dt:
            self.overruns += 1  # this tick came more than a period late
        self.next_wall = now + self.robot.cfg.control_dt
        self.robot.step()
        self.publish_state()

    def publish_state(self) -> None:
        if not self.context.ok():  # shutting down (SIGINT/SIGTERM): a late callback must not publish
            return
        s = self.robot.observe()
        stamp = time_msg(self.robot.time)
        self.state_ns = stamp_to_ns(stamp)
        self.clock_pub.publish(clock_msg(self.robot.time))
        self.state_pub.publish(robot_state_to_msg(s, stamp, self.tick))
        self.joint_pub.publish(joint_state_to_msg(s, stamp))
        self.tick += 1
        if self.robot.status != self.last_status or self.tick % 50 == 0:  # changes + 1 Hz at 50 Hz
            st = TrackingStatus()
            st.header.stamp = stamp
            st.state, st.overruns = self.robot.status, self.overruns
            st.warnings = ["on gantry"] if self.robot.on_gantry else []
            self.gate.problems(time.monotonic())  # forgets refused sessions after 3 s (else they pile up)
            for n, what, last in (
                (self.gate.ignored, "JointCommands ignored", self.gate.last_ignored),
                (self.rejected, "JointCommands rejected", self.last_rejected),
                (self.clamped, "JointCommands clamped", self.last_clamped),
                (self.out_of_step, "JointCommands out of step", self.last_out_of_step),
                (self.refused, "policy announcements refused", self.last_refused),
            ):
                if n:
                    st.warnings.append(f"{n} {what} (last: {last[:MAX_REASON]})")
            st.session_id = self.gate.session
            st.fault = self.robot.status.startswith("damping")
            self.status_pub.publish(st)
            kind = status_kind(self.robot.status)
            if kind != status_kind(self.last_status):  # changes of kind, not of the age in it
                self.get_logger().info(f"sim: {self.robot.status}")
                if kind == "damping: no command" and not self.gate.session and not self.hinted:
                    self.hinted = True  # once: a policy in another domain would otherwise go unnoticed
                    self.get_logger().warning(
                        "no JointCommand and no policy announced on /hgpt/policy: " + discovery_hint()
                    )
            self.last_status = self.robot.status


def status_kind(status: str) -> str:
    """A status without its numbers ("damping: no command for 0.06 s" -> "damping: no command")."""
    return re.split(r" for | \(|\d", status, maxsplit=1)[0].strip()


def main(args: list[str] | None = None) -> None:
    run_node(SimBridgeNode, args=args)


if __name__ == "__main__":
    main()
