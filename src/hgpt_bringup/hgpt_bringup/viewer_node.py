"""viewer: a live 3D web viewer of the robot and its reference (a ghost), any browser, a local port.

Subscribes like any other node: /hgpt/robot_state (the robot: root truth when the bridge has it, else the
IMU orientation at the reference's root position), /hgpt/reference (the ghost), /hgpt/status (mode/state),
/hgpt/policy (policy id). Callbacks only keep the newest message; a wall-clock timer (``rate_hz``, default
25 Hz) draws. Run as its own process (``hgpt viewer``, ``hgpt run --viewer``, launch ``viewer:=true``) it
lowers its own CPU priority (``nice``), so it cannot take time from the control loop. See docs/viewer.md.

  hgpt viewer --port 8080          # then open http://localhost:8080
  hgpt viewer --bag bags/walk      # a recording, with a time slider (hgpt_bringup.viewer_replay)
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np

from hgpt_bringup.viewer import (
    DEFAULT_PORT,
    MESH_CELL_M,
    MODE_NAMES,
    G1Meshes,
    Pose,
    Readout,
    ViewerScene,
    make_server,
    reference_pose,
    robot_pose,
)


class ReferenceMarkers:
    """/hgpt/reference_markers (visualization_msgs/MarkerArray): the reference's meshes, frame ``world``."""

    TOPIC = "/hgpt/reference_markers"

    def __init__(self, node, meshes: G1Meshes) -> None:
        from visualization_msgs.msg import MarkerArray

        self.meshes = meshes
        self.geoms = meshes.mesh_geoms()
        self.pub = node.create_publisher(MarkerArray, self.TOPIC, 1)

    def message(self, pose: Pose, stamp):
        """One MESH_RESOURCE marker per visual mesh at ``pose`` (xyzw at the message)."""
        from visualization_msgs.msg import Marker, MarkerArray

        pos, quat = self.meshes.geom_poses(pose, [g for g, _ in self.geoms])
        arr = MarkerArray()
        for i, ((_, uri), p, q) in enumerate(zip(self.geoms, pos, quat, strict=True)):
            mk = Marker(ns="reference", id=i, type=Marker.MESH_RESOURCE, action=Marker.ADD, mesh_resource=uri)
            mk.header.frame_id, mk.header.stamp = "world", stamp
            mk.pose.position.x, mk.pose.position.y, mk.pose.position.z = (float(v) for v in p)
            o = mk.pose.orientation
            o.w, o.x, o.y, o.z = (float(v) for v in q)
            mk.scale.x = mk.scale.y = mk.scale.z = 1.0
            mk.color.r, mk.color.g, mk.color.b, mk.color.a = 0.25, 0.6, 1.0, 0.4
            arr.markers.append(mk)
        return arr

    def publish(self, pose: Pose, stamp) -> None:
        self.pub.publish(self.message(pose, stamp))


def make_viewer_node(**kwargs):
    """The rclpy viewer node (rclpy imported here: :mod:`hgpt_bringup.viewer` has none)."""
    from rclpy.clock import Clock, ClockType
    from rclpy.node import Node
    from rclpy.qos import (
        DurabilityPolicy,
        HistoryPolicy,
        QoSProfile,
        ReliabilityPolicy,
        qos_profile_sensor_data,
    )

    from hgpt_core.stamps import stamp_to_sec
    from hgpt_msgs.msg import MotionReference, PolicyInfo, RobotState, TrackingStatus

    announce = QoSProfile(
        depth=1,
        history=HistoryPolicy.KEEP_LAST,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )

    class ViewerNode(Node):
        def __init__(self) -> None:
            super().__init__("viewer", **kwargs)
            host = self.declare_parameter("host", "127.0.0.1").value
            port = int(self.declare_parameter("port", DEFAULT_PORT).value)
            rate_hz = float(self.declare_parameter("rate_hz", 25.0).value)
            # mesh simplification grid [m]: coarser = fewer triangles for a browser without a GPU
            cell = float(self.declare_parameter("mesh_cell", MESH_CELL_M).value)
            self.server = make_server(host, port)
            self.port = self.server.get_port()
            self.scene = ViewerScene(self.server, G1Meshes(cell))
            self.panel = self.server.gui.add_markdown("waiting for /hgpt/robot_state ...")
            self.follow = self.server.gui.add_checkbox("camera follows the robot", True)
            self.readout = Readout()
            self.state_msg = self.ref_msg = None
            self.ghost: Pose | None = None
            self.dirty = False
            self.drawn_md = ""
            self.last_md = 0.0
            self.create_subscription(RobotState, "/hgpt/robot_state", self.on_state, qos_profile_sensor_data)
            self.create_subscription(MotionReference, "/hgpt/reference", self.on_reference, 10)
            self.create_subscription(TrackingStatus, "/hgpt/status", self.on_status, 10)
            self.create_subscription(PolicyInfo, "/hgpt/policy", self.on_policy, announce)
            self.create_timer(1.0 / rate_hz, self.draw, clock=Clock(clock_type=ClockType.STEADY_TIME))
            # RViz / Foxglove: the reference as mesh markers in frame "world" (visualization_msgs)
            self.markers = ReferenceMarkers(self, self.scene.meshes)
            marker_hz = float(self.declare_parameter("marker_rate_hz", 10.0).value)
            # world -> pelvis on /tf from the sim's root truth, where tf2_msgs is installed (a ROS install;
            # not among the PyPI wheels): RViz's fixed frame "world" then holds robot and reference
            self.tf_pub = None
            try:
                from tf2_msgs.msg import TFMessage

                self.TFMessage = TFMessage
                self.tf_pub = self.create_publisher(TFMessage, "/tf", 10)
            except ImportError:
                pass
            self.create_timer(
                1.0 / marker_hz, self.publish_markers, clock=Clock(clock_type=ClockType.STEADY_TIME)
            )
            self.get_logger().info(
                f"viewer on http://{'localhost' if host in ('0.0.0.0', '127.0.0.1') else host}:{self.port}"
            )

        def on_state(self, msg) -> None:
            self.state_msg, self.dirty = msg, True

        def on_reference(self, msg) -> None:
            self.ref_msg, self.dirty = msg, True

        def on_status(self, msg) -> None:
            r = self.readout
            r.mode, r.state, r.reason, r.fault = (
                MODE_NAMES.get(msg.mode, str(msg.mode)),
                msg.state,
                msg.reason,
                msg.fault,
            )

        def on_policy(self, msg) -> None:
            self.readout.policy = msg.policy_id

        def draw(self) -> None:
            if not self.dirty:
                return
            self.dirty = False
            if self.ref_msg is not None:
                self.ghost = reference_pose(self.ref_msg)
                self.readout.clip = self.ref_msg.clip_id or "live"
            robot = None
            if self.state_msg is not None:
                robot = robot_pose(self.state_msg, self.ghost)
                self.readout.t = stamp_to_sec(self.state_msg.header.stamp)
            self.scene.show(robot, self.ghost)
            if robot is not None and self.follow.value:
                for client in self.server.get_clients().values():
                    cam = client.camera
                    delta = np.asarray(robot.root_pos, float) - np.asarray(cam.look_at)
                    delta[2] = 0.0  # follow on the ground plane only
                    if np.linalg.norm(delta) > 0.05:
                        with client.atomic():
                            cam.position = np.asarray(cam.position) + delta
                            cam.look_at = np.asarray(cam.look_at) + delta
            now = time.monotonic()
            if now - self.last_md > 0.2:  # the text panel at 5 Hz
                md = self.readout.markdown(robot, self.ghost)
                if md != self.drawn_md:
                    self.panel.content = self.drawn_md = md
                self.last_md = now

        def publish_markers(self) -> None:
            if not self.context.ok():
                return
            if self.ghost is not None and self.ref_msg is not None:
                self.markers.publish(self.ghost, self.ref_msg.header.stamp)
            st = self.state_msg
            if self.tf_pub is not None and st is not None and st.has_root_truth:
                from geometry_msgs.msg import TransformStamped

                t = TransformStamped()
                t.header.stamp, t.header.frame_id, t.child_frame_id = st.header.stamp, "world", "pelvis"
                p = st.root_pose.position
                t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
                    p.x,
                    p.y,
                    p.z,
                )
                t.transform.rotation = st.root_pose.orientation
                self.tf_pub.publish(self.TFMessage(transforms=[t]))

        def destroy_node(self) -> None:
            self.server.stop()
            super().destroy_node()

    return ViewerNode()


def lower_priority(increment: int = 10) -> None:
    """Let every other process (the control loop) go first on a shared CPU."""
    with contextlib.suppress(OSError):
        os.nice(increment)


def main(args: list[str] | None = None) -> None:
    """``hgpt viewer``: the live viewer node (ROS arguments after ``--ros-args``), or ``--bag PATH``."""
    argv = sys.argv[1:] if args is None else args
    if "--bag" in argv or any(a in ("-h", "--help") for a in argv[:1]):
        from hgpt_bringup.viewer_replay import main as replay_main

        replay_main(argv)
        return
    from hgpt_ros.node_main import run_node

    ros_args = list(argv)
    if ros_args and "--ros-args" not in ros_args:  # `hgpt viewer --port 8081` -> ROS parameters
        params = []
        it = iter(ros_args)
        for a in it:
            if a.startswith("--") and a[2:] in (
                "port",
                "host",
                "rate_hz",
                "rate-hz",
                "mesh_cell",
                "mesh-cell",
            ):
                params += ["-p", f"{a[2:].replace('-', '_')}:={next(it)}"]
            else:
                raise SystemExit(
                    f"hgpt viewer: unknown argument {a!r}; use --port N --host H --rate-hz R --mesh-cell M, "
                    "or --bag PATH"
                )
        ros_args = ["--ros-args", *params]

    def factory():
        node = make_viewer_node()
        lower_priority()  # once the scene is built: drawing yields to the control loop
        return node

    run_node(factory, args=[sys.argv[0], *ros_args])


if __name__ == "__main__":
    main()
