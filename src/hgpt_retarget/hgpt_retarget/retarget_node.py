"""retarget_node: /hgpt/human_pose (HumanPose) -> /hgpt/reference (MotionReference) at a fixed rate.

The pose callback only stores the newest message; the timer retargets it (LiveRetargeter) and publishes.
With no new pose the last frame is repeated, marked invalid once older than ``hold_timeout_s``.
The robot's joint positions (/hgpt/robot_state, when published) are where the output eases in from.
"""

from __future__ import annotations

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from hgpt_msgs.msg import HumanPose, MotionReference, RobotState
from hgpt_retarget.live import LiveConfig, LiveRetargeter
from hgpt_retarget.msg_conv import frame_to_msg, human_pose_from_msg
from hgpt_retarget.plausible import ReferenceFilter
from hgpt_ros.node_main import run_node


class RetargetNode(Node):
    """Live human -> G1 retargeting; logic lives in :class:`hgpt_retarget.live.LiveRetargeter`."""

    def __init__(self, **kwargs) -> None:
        super().__init__("retarget_node", **kwargs)
        ro = ParameterDescriptor(read_only=True)
        skeleton = self.declare_parameter("skeleton", "", ro).value  # "" = detect from joint names
        rate_hz = self.declare_parameter("rate_hz", 50.0, ro).value
        height = self.declare_parameter("subject_height", 0.0, ro).value  # 0 = estimate
        self.hold_s = self.declare_parameter("hold_timeout_s", LiveConfig.hold_timeout_s, ro).value
        self.frame_id = self.declare_parameter("frame_id", "world", ro).value
        cfg = LiveConfig(subject_height=height or None, hold_timeout_s=self.hold_s)
        self.core = LiveRetargeter(skeleton or None, cfg)
        self.plausible = ReferenceFilter()  # bounded speeds, re-anchor + blend on jumps (issue 15)
        self.out = None  # the last (plausible) frame published
        self.pub = self.create_publisher(MotionReference, "/hgpt/reference", 10)
        self.create_subscription(HumanPose, "/hgpt/human_pose", self.on_pose, qos_profile_sensor_data)
        self.create_subscription(RobotState, "/hgpt/robot_state", self.on_state, qos_profile_sensor_data)
        self.create_timer(1.0 / rate_hz, self.on_tick)
        self.pending: HumanPose | None = None
        self.prev, self.last_rx, self.index, self.reported = None, None, 0, ""

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_pose(self, msg: HumanPose) -> None:
        self.pending = msg

    def on_state(self, msg: RobotState) -> None:
        """Joints only: the robot's world frame is not the mocap's, so its root is not eased from."""
        self.core.set_robot_pose(np.asarray(msg.q, dtype=np.float64))

    def on_tick(self) -> None:
        msg, self.pending = self.pending, None
        if msg is not None:
            frame = self.core.step(*human_pose_from_msg(msg))
            if frame is not None:
                frame = self.out = self.plausible.step(frame)
                if self.plausible.last_event:
                    self.get_logger().warning(
                        f"reference: {self.plausible.last_event}", throttle_duration_sec=1.0
                    )
            self.last_rx = self.now()
            if self.core.last_error and self.core.last_error != self.reported:
                self.get_logger().error(f"human pose rejected: {self.core.last_error}")
                self.reported = self.core.last_error
        else:
            frame = self.out
        if frame is None:
            return
        fresh = self.last_rx is not None and self.now() - self.last_rx <= self.hold_s
        self.pub.publish(frame_to_msg(frame, self.prev, frame.valid and fresh, self.index, self.frame_id))
        self.prev, self.index = frame, self.index + 1


def main(args: list[str] | None = None) -> None:
    run_node(RetargetNode, args=args)


if __name__ == "__main__":
    main()
