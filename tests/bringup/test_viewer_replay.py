"""hgpt viewer --bag: a recorded run's timeline (robot states, references, statuses by stamp) and poses."""

from __future__ import annotations

import numpy as np
from rclpy.serialization import serialize_message

from hgpt_bringup.bag_writer import BagWriter
from hgpt_bringup.viewer import reference_pose, robot_pose
from hgpt_bringup.viewer_replay import load_timeline


def test_timeline_from_a_bag(tmp_path):
    from hgpt_core.g1 import KNEES_BENT_POSE
    from hgpt_msgs.msg import MotionReference, RobotState

    with BagWriter(tmp_path / "run") as w:
        w.add_topic("/hgpt/robot_state", "hgpt_msgs/msg/RobotState")
        w.add_topic("/hgpt/reference", "hgpt_msgs/msg/MotionReference")
        for k in range(10):
            st = RobotState(has_root_truth=True, q=[float(v) for v in KNEES_BENT_POSE])
            st.header.stamp.sec, st.header.stamp.nanosec = 5, k * 20_000_000
            st.root_pose.position.x, st.root_pose.orientation.w = 0.1 * k, 1.0
            ref = MotionReference(valid=True, clip_id="walk", joint_positions=[0.0] * 29)
            ref.header.stamp = st.header.stamp
            ref.root_orientation.w = 1.0
            w.write("/hgpt/robot_state", 10**9 + k, serialize_message(st))
            w.write("/hgpt/reference", 10**9 + k, serialize_message(ref))
    tl = load_timeline(tmp_path / "run")
    assert len(tl.states) == len(tl.refs) == 10 and tl.span == (5.0, 5.18)
    st, ref, status = tl.at(5.07)  # the newest at or before
    robot, ghost = robot_pose(st, None), reference_pose(ref)
    assert np.isclose(robot.root_pos[0], 0.3) and np.allclose(robot.root_quat, [1, 0, 0, 0])
    assert np.allclose(robot.q, KNEES_BENT_POSE) and np.allclose(ghost.q, 0.0) and status is None
    assert tl.at(4.0)[0] is None


def test_reference_markers_are_the_meshes_at_the_reference_pose(rclpy_init):
    """/hgpt/reference_markers: one MESH_RESOURCE marker per visual mesh, frame world, xyzw at the message."""
    from builtin_interfaces.msg import Time
    from visualization_msgs.msg import Marker

    from hgpt_bringup.viewer import G1Meshes, Pose
    from hgpt_bringup.viewer_node import ReferenceMarkers

    node = rclpy_init.create_node("markers_probe")
    meshes = G1Meshes(0.02)
    rm = ReferenceMarkers(node, meshes)
    yaw = np.array([np.cos(0.25), 0.0, 0.0, np.sin(0.25)])  # wxyz, 0.5 rad about z
    pose = Pose(np.array([1.0, 2.0, 0.8]), yaw, np.zeros(29))
    arr = rm.message(pose, Time(sec=3))
    assert len(arr.markers) == len(rm.geoms) == 35
    pelvis = arr.markers[0]
    assert pelvis.type == Marker.MESH_RESOURCE and pelvis.header.frame_id == "world"
    assert pelvis.mesh_resource.startswith("file://") and pelvis.mesh_resource.endswith(".STL")
    pos, quat = meshes.geom_poses(pose, [g for g, _ in rm.geoms])
    o = pelvis.pose.orientation
    np.testing.assert_allclose([o.w, o.x, o.y, o.z], quat[0], atol=1e-12)
    np.testing.assert_allclose([pelvis.pose.position.x, pelvis.pose.position.y], pos[0][:2], atol=1e-12)
    node.destroy_node()
