"""policy_node: /hgpt/robot_state + /hgpt/reference -> /hgpt/joint_command at the policy's control rate."""

from __future__ import annotations

import time

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from hgpt_core.policy_meta import RobotConfig, check_metadata
from hgpt_msgs.msg import JointCommand, MotionReference, RobotState, TrackingStatus
from hgpt_msgs.srv import SetMode
from hgpt_policy.controller import ControllerConfig, Mode, PolicyController
from hgpt_policy.loader import load_tracking_policy
from hgpt_policy.msg_conv import (
    command_to_msg,
    reference_sample_from_msg,
    robot_sample_from_msg,
    status_to_msg,
)
from hgpt_policy.node_main import run_node
from hgpt_policy.params import declare_dataclass


class PolicyNode(Node):
    """Runs a tracking policy behind the safety controller; see :mod:`hgpt_policy.controller`."""

    def __init__(self, **kwargs) -> None:
        super().__init__("policy_node", **kwargs)
        ro = ParameterDescriptor(read_only=True)
        spec = self.declare_parameter("policy", "zero", ro).value
        self.trigger = self.declare_parameter("trigger", "timer", ro).value  # timer | state (lock-step sims)
        start_mode = self.declare_parameter("start_mode", "damp", ro).value
        cfg = declare_dataclass(self, ControllerConfig, prefix="safety.")
        policy = load_tracking_policy(spec)
        check_metadata(policy.meta, RobotConfig(obs_terms=tuple(map(tuple, policy.meta.obs_terms))))
        self.ctrl = PolicyController(policy, cfg=cfg)
        self.policy_id = policy.meta.policy_id
        self.cmd_pub = self.create_publisher(JointCommand, "/hgpt/joint_command", 10)
        self.status_pub = self.create_publisher(TrackingStatus, "/hgpt/status", 10)
        self.create_subscription(RobotState, "/hgpt/robot_state", self.on_state, qos_profile_sensor_data)
        self.create_subscription(MotionReference, "/hgpt/reference", self.on_reference, 10)
        self.create_service(SetMode, "/hgpt/set_mode", self.on_set_mode)
        if self.trigger not in ("timer", "state"):
            raise ValueError(f"trigger must be 'timer' or 'state', got {self.trigger!r}")
        if self.trigger == "timer":
            self.create_timer(policy.meta.control_dt, self.on_tick)
        self.state_wall = 0.0
        self.overruns = 0
        modes = {"damp": Mode.DAMP, "stand": Mode.STAND, "track": Mode.TRACK}
        if start_mode not in modes:
            raise ValueError(f"start_mode must be one of {list(modes)}, got {start_mode!r}")
        # A start-up request: the controller still ramps to the default pose before it tracks.
        self.ctrl.requested = modes[start_mode]
        self.get_logger().info(
            f"policy '{self.policy_id}' loaded; trigger={self.trigger}, start_mode={start_mode}"
        )

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_state(self, msg: RobotState) -> None:
        self.state_wall = time.perf_counter()
        self.ctrl.on_state(robot_sample_from_msg(msg, self.now()))
        if self.trigger == "state":
            self.on_tick()

    def on_reference(self, msg: MotionReference) -> None:
        sample = reference_sample_from_msg(msg, self.now())
        if sample is not None:
            self.ctrl.on_reference(sample)

    def on_set_mode(self, req: SetMode.Request, res: SetMode.Response) -> SetMode.Response:
        try:
            res.success, res.message = self.ctrl.set_mode(Mode(req.mode))
        except ValueError:
            res.success, res.message = False, f"unknown mode {req.mode}; valid: {[m.name for m in Mode]}"
        self.get_logger().info(f"set_mode {req.mode}: {res.message}")
        return res

    def on_tick(self) -> None:
        if not self.context.ok():  # shutting down (SIGINT/SIGTERM): a late callback must not publish
            return
        t0 = time.perf_counter()
        prev_mode = self.ctrl.mode
        cmd, st = self.ctrl.tick(self.now())
        stamp = self.get_clock().now().to_msg()
        self.cmd_pub.publish(command_to_msg(cmd, stamp, self.policy_id))
        done = time.perf_counter()
        if done - t0 > self.ctrl.dt:  # the tick itself took longer than a control period
            self.overruns += 1
        # Age of the robot state this command answers: arrival -> publish.
        latency_ms = 1e3 * (done - self.state_wall) if self.state_wall else 0.0
        self.status_pub.publish(status_to_msg(st, stamp, latency_ms, self.overruns))
        if cmd.mode != prev_mode:
            self.get_logger().info(f"mode {prev_mode.name} -> {Mode(cmd.mode).name}: {st.state} {st.reason}")


def main(args: list[str] | None = None) -> None:
    run_node(PolicyNode, args=args)


if __name__ == "__main__":
    main()
