"""policy_node: /hgpt/robot_state + /hgpt/reference -> /hgpt/joint_command at the policy's control rate.

Each run draws a session id and announces it with the policy's full metadata on /hgpt/policy (PolicyInfo,
transient local, every second); every JointCommand and status carries it. Bridges follow only the commands
of a session they handshook with (hgpt_core.session, docs/safety.md).
"""

from __future__ import annotations

import time

from builtin_interfaces.msg import Time
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from hgpt_core.policy_meta import RobotConfig, check_metadata
from hgpt_core.session import new_session_id
from hgpt_core.stamps import stamp_to_ns
from hgpt_msgs.msg import JointCommand, MotionReference, PolicyInfo, RobotState, TrackingStatus
from hgpt_msgs.srv import SetMode
from hgpt_policy.controller import ControllerConfig, Mode, PolicyController
from hgpt_policy.loader import load_tracking_policy
from hgpt_policy.msg_conv import (
    command_to_msg,
    reference_frame_from_msg,
    robot_state_from_msg,
    status_to_msg,
)
from hgpt_ros.node_main import run_node
from hgpt_ros.params import declare_dataclass

ANNOUNCE_QOS = QoSProfile(
    depth=1,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
"""/hgpt/policy: a bridge that starts later still gets the latest announcement."""


class PolicyNode(Node):
    """Runs a tracking policy behind the safety controller; see :mod:`hgpt_policy.controller`."""

    def __init__(self, **kwargs) -> None:
        super().__init__("policy_node", **kwargs)
        ro = ParameterDescriptor(read_only=True)
        spec: str = self.declare_parameter("policy", "zero", ro).value
        # timer | state (lock-step sims)
        self.trigger: str = self.declare_parameter("trigger", "timer", ro).value
        # trigger=state: wait this long [s, wall] for the reference stamped like the state (0: don't wait).
        self.reference_wait_s: float = self.declare_parameter("reference_wait_s", 0.0, ro).value
        start_mode: str = self.declare_parameter("start_mode", "damp", ro).value
        cfg = declare_dataclass(self, ControllerConfig, prefix="safety.")
        policy = load_tracking_policy(spec)
        check_metadata(policy.meta, RobotConfig(obs_terms=tuple(map(tuple, policy.meta.obs_terms))))
        self.ctrl = PolicyController(policy, cfg=cfg)
        self.policy_id = policy.meta.policy_id
        self.meta_json = policy.meta.to_json()
        self.session_id = new_session_id()
        self.policy_pub = self.create_publisher(PolicyInfo, "/hgpt/policy", ANNOUNCE_QOS)
        self.cmd_pub = self.create_publisher(JointCommand, "/hgpt/joint_command", 10)
        self.status_pub = self.create_publisher(TrackingStatus, "/hgpt/status", 10)
        self.create_subscription(RobotState, "/hgpt/robot_state", self.on_state, qos_profile_sensor_data)
        self.create_subscription(MotionReference, "/hgpt/reference", self.on_reference, 10)
        self.create_service(SetMode, "/hgpt/set_mode", self.on_set_mode)
        if self.trigger not in ("timer", "state"):
            raise ValueError(f"trigger must be 'timer' or 'state', got {self.trigger!r}")
        if self.trigger == "timer":
            self.create_timer(policy.meta.control_dt, self.on_tick)
        # trigger=state (lock-step): every time is the stamp of a message, never the local clock, so a
        # run is a pure function of the messages. A command answers the state with the same stamp.
        self.pending: RobotState | None = None  # a state not answered yet
        self.pending_wall = 0.0
        self.ref_ns = -1  # newest reference stamp [ns]
        self.answered_ns = -1  # stamp of the last state answered
        self.last_cmd: JointCommand | None = None
        # a wait timed out: answer without waiting until a reference comes again (the source stopped, e.g. a
        # bag replay ended: HOLD, then DAMP by the stamps at full speed instead of one step per wait)
        self.ref_timed_out = False
        if self.trigger == "state" and self.reference_wait_s > 0:
            wall = Clock(clock_type=ClockType.STEADY_TIME)
            self.create_timer(min(0.05, self.reference_wait_s), self.on_reference_timeout, clock=wall)
        self.state_wall = 0.0
        self.overruns = 0
        self.logged_mode: int | None = None  # mode of the last command logged (transitions only)
        self.bad_states = 0  # states refused by their stamp (trigger=state)
        wall_clock = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(1.0, self.announce, clock=wall_clock)
        self.announce()
        modes = {"damp": Mode.DAMP, "stand": Mode.STAND, "track": Mode.TRACK}
        if start_mode not in modes:
            raise ValueError(f"start_mode must be one of {list(modes)}, got {start_mode!r}")
        # A start-up request: the controller still ramps to the default pose before it tracks.
        self.ctrl.requested = modes[start_mode]
        self.get_logger().info(
            f"policy '{self.policy_id}' loaded; session {self.session_id}; trigger={self.trigger}, "
            f"start_mode={start_mode}"
        )

    def announce(self) -> None:
        """Publish this run's session id and metadata on /hgpt/policy (the bridges' handshake)."""
        if not self.context.ok():
            return
        msg = PolicyInfo(session_id=self.session_id, policy_id=self.policy_id, metadata_json=self.meta_json)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.policy_pub.publish(msg)

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_state(self, msg: RobotState) -> None:
        self.state_wall = time.perf_counter()
        ns = stamp_to_ns(msg.header.stamp)
        if self.trigger == "timer":  # its age is checked against the clock at every tick
            self.ctrl.on_state(robot_state_from_msg(msg), ns * 1e-9)
            return
        age = self.now() - ns * 1e-9
        if age > self.ctrl.cfg.state_timeout_s or -age > self.ctrl.cfg.state_future_s:
            self.bad_states += 1
            self.get_logger().warning(
                f"robot state stamped {ns * 1e-9:.3f} s is {age:+.3f} s from this node's clock "
                f"(allowed -{self.ctrl.cfg.state_future_s} .. +{self.ctrl.cfg.state_timeout_s} s): not "
                "answered (use_sim_time without /clock, or another run's messages?)",
                throttle_duration_sec=2.0,
            )
            return
        if ns == self.answered_ns:  # the simulator re-sent a state (kick): repeat the answer, don't re-run
            if self.last_cmd is not None:
                self.cmd_pub.publish(self.last_cmd)
            return
        if self.pending is not None and ns == stamp_to_ns(self.pending.header.stamp):
            return  # the same state re-sent (kick) while it waits for its reference: the wait keeps running
        self.pending, self.pending_wall = msg, self.state_wall
        self.try_answer()

    def on_reference(self, msg: MotionReference) -> None:
        if self.trigger == "state":
            ns = stamp_to_ns(msg.header.stamp)
            self.ref_ns, received = max(self.ref_ns, ns), ns * 1e-9
            if self.ref_timed_out:
                self.ref_timed_out = False
                self.get_logger().info(f"references again (t={received:.3f} s): waiting for each one")
        else:
            received = self.now()
        frame = reference_frame_from_msg(msg)
        if frame is not None:
            self.ctrl.on_reference(frame, received)
        if self.trigger == "state":
            self.try_answer()

    def try_answer(self, force: bool = False) -> None:
        """trigger=state: answer the pending state once its reference (same stamp or newer) is here."""
        msg = self.pending
        if msg is None:
            return
        ns = stamp_to_ns(msg.header.stamp)
        if not force and self.reference_wait_s > 0 and self.ref_ns < ns and not self.ref_timed_out:
            return
        self.pending = None
        self.ctrl.on_state(robot_state_from_msg(msg), ns * 1e-9)
        self.answered_ns = ns
        self.on_tick(now=ns * 1e-9, stamp=msg.header.stamp)

    def on_reference_timeout(self) -> None:
        if self.pending is not None and time.perf_counter() - self.pending_wall > self.reference_wait_s:
            self.get_logger().warning(
                f"no reference for the state at t={stamp_to_ns(self.pending.header.stamp) * 1e-9:.3f} s "
                f"within {self.reference_wait_s} s (newest reference t={self.ref_ns * 1e-9:.3f} s): "
                "answering without waiting until one comes again (the reference source stopped or is "
                "slow, e.g. a bag replay ended): HOLD, then DAMP"
            )
            self.ref_timed_out = self.ref_ns >= 0  # at start-up (no reference yet) every state still waits
            self.try_answer(force=True)

    def on_set_mode(self, req: SetMode.Request, res: SetMode.Response) -> SetMode.Response:
        try:
            res.success, res.message = self.ctrl.set_mode(Mode(req.mode))
        except ValueError:
            res.success, res.message = False, f"unknown mode {req.mode}; valid: {[m.name for m in Mode]}"
        self.get_logger().info(f"set_mode {req.mode}: {res.message}")
        return res

    def on_tick(self, now: float | None = None, stamp: Time | None = None) -> None:
        """One control step at ``now`` [s] (default: the node clock), stamped ``stamp``."""
        if not self.context.ok():  # shutting down (SIGINT/SIGTERM): a late callback must not publish
            return
        t0 = time.perf_counter()
        if now is None or stamp is None:
            now, stamp = self.now(), self.get_clock().now().to_msg()
        cmd, st = self.ctrl.tick(now)
        self.last_cmd = command_to_msg(cmd, stamp, self.policy_id)
        self.last_cmd.session_id = self.session_id
        self.cmd_pub.publish(self.last_cmd)
        done = time.perf_counter()
        if done - t0 > self.ctrl.dt:  # the tick itself took longer than a control period
            self.overruns += 1
        # Age of the robot state this command answers: arrival -> publish.
        latency_ms = 1e3 * (done - self.state_wall) if self.state_wall else 0.0
        status = status_to_msg(st, stamp, latency_ms, self.overruns)
        status.session_id = self.session_id
        if self.bad_states:
            status.warnings.append(f"{self.bad_states} robot states refused for their stamp")
        self.status_pub.publish(status)
        if cmd.mode != self.logged_mode:  # every change of the commanded mode, HOLD and back included
            old = "start" if self.logged_mode is None else Mode(self.logged_mode).name
            reason = f" ({st.reason})" if st.reason else ""
            self.get_logger().info(f"mode {old} -> {Mode(cmd.mode).name}: {st.state}{reason}")
            self.logged_mode = cmd.mode


def main(args: list[str] | None = None) -> None:
    run_node(PolicyNode, args=args)


if __name__ == "__main__":
    main()
