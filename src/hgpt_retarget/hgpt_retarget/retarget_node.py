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
from hgpt_retarget.live import LiveFrame, LiveRetargeter
from hgpt_retarget.live_config import LiveConfig
from hgpt_retarget.msg_conv import frame_to_msg, human_pose_from_msg
from hgpt_retarget.plausible import ReferenceFilter
from hgpt_ros.node_main import run_node

MAX_ABS_COORD_M = 100.0  # as hgpt_retarget.mocap_udp: no mocap volume is larger (beyond: wrong units/garbage)
MAX_JOINTS = 512  # as hgpt_retarget.mocap_udp


class RetargetNode(Node):
    """Live human -> G1 retargeting; logic lives in :class:`hgpt_retarget.live.LiveRetargeter`."""

    def __init__(self, **kwargs) -> None:
        super().__init__("retarget_node", **kwargs)
        ro = ParameterDescriptor(read_only=True)
        skeleton: str = self.declare_parameter("skeleton", "", ro).value  # "" = detect from joint names
        rate_hz: float = self.declare_parameter("rate_hz", 50.0, ro).value
        height: float = self.declare_parameter("subject_height", 0.0, ro).value  # 0 = estimate
        self.hold_s: float = self.declare_parameter("hold_timeout_s", LiveConfig.hold_timeout_s, ro).value
        self.frame_id: str = self.declare_parameter("frame_id", "world", ro).value
        self.live_args = (
            skeleton or None,
            LiveConfig(subject_height=height or None, hold_timeout_s=self.hold_s),
        )
        self.core = LiveRetargeter(*self.live_args)
        self.robot_q: np.ndarray | None = None  # the robot's joints (29,) [rad], when /hgpt/robot_state comes
        self.plausible = ReferenceFilter()  # bounded speeds, re-anchor + blend on jumps (issue 15)
        self.out: LiveFrame | None = None  # the last (plausible) frame published
        self.pub = self.create_publisher(MotionReference, "/hgpt/reference", 10)
        self.create_subscription(HumanPose, "/hgpt/human_pose", self.on_pose, qos_profile_sensor_data)
        self.create_subscription(RobotState, "/hgpt/robot_state", self.on_state, qos_profile_sensor_data)
        self.create_timer(1.0 / rate_hz, self.on_tick)
        self.pending: HumanPose | None = None
        self.prev: LiveFrame | None = None  # the last frame published
        self.last_rx: float | None = None  # when the last usable pose was retargeted [s]
        self.index, self.reported = 0, ""

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_pose(self, msg: HumanPose) -> None:
        self.pending = msg

    def on_state(self, msg: RobotState) -> None:
        """Joints only: the robot's world frame is not the mocap's, so its root is not eased from."""
        q = np.asarray(msg.q, dtype=np.float64)
        if q.shape == (29,) and np.isfinite(q).all():
            self.robot_q = q
            self.core.set_robot_pose(q)

    def restart(self, why: str) -> None:
        """A fresh retargeter (and plausibility filter) after ``why``; it eases in from the robot's joints
        (else the last output's) and the last output's root, so the reference does not jump."""
        self.get_logger().error(f"{why}: retargeting restarted", throttle_duration_sec=1.0)
        self.core = LiveRetargeter(*self.live_args)
        self.plausible = ReferenceFilter()
        if self.out is not None:
            q = self.robot_q if self.robot_q is not None else self.out.joint_pos
            self.core.set_robot_pose(q, self.out.root_pos_w, self.out.root_quat_w)
        elif self.robot_q is not None:
            self.core.set_robot_pose(self.robot_q)

    def checked_pose(self, msg: HumanPose) -> tuple[tuple[str, ...], np.ndarray, float] | None:
        """The pose of ``msg``, coordinates beyond ``MAX_ABS_COORD_M`` as missing (NaN); None if unusable."""
        if len(msg.joint_names) > MAX_JOINTS:
            self.get_logger().error(
                f"human pose rejected: {len(msg.joint_names)} joints > {MAX_JOINTS}",
                throttle_duration_sec=1.0,
            )
            return None
        names, pos, stamp = human_pose_from_msg(msg)
        far = (np.abs(np.nan_to_num(pos, nan=0.0)) > MAX_ABS_COORD_M).any(axis=1)
        if far.any():
            self.get_logger().warning(
                f"human pose: {int(far.sum())} joint(s) beyond {MAX_ABS_COORD_M:g} m treated as missing",
                throttle_duration_sec=1.0,
            )
            pos[far] = np.nan
        last = self.core.stamp
        if last is not None and stamp < last - self.hold_s:  # a new stream, a replay, or an absurd stamp
            self.restart(f"human pose stamped {stamp:.3f} s, {last - stamp:.3g} s before the last one")
        return names, pos, stamp

    def on_tick(self) -> None:
        try:
            self.tick()
        except Exception as exc:  # noqa: BLE001 - a bad pose must not end the node: log it, start afresh
            self.restart(f"retargeting failed: {type(exc).__name__}: {exc}")

    def tick(self) -> None:
        msg, self.pending = self.pending, None
        frame = None
        if msg is not None and (pose := self.checked_pose(msg)) is not None:
            frame = self.core.step(*pose)
            if frame is not None and not all(
                np.isfinite(a).all() for a in (frame.root_pos_w, frame.root_quat_w, frame.joint_pos)
            ):
                self.restart("retargeting gave a non-finite frame")
                frame = None
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
        if frame is None:  # no (usable) pose: the last output again, invalid once older than hold_timeout_s
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
