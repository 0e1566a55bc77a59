"""Live retargeting between real processes: the test streams a real BVH walk as /hgpt/human_pose at 50 Hz
into retarget_node, which must answer with valid /hgpt/reference frames at its 50 Hz timer, and mark them
invalid once the stream stops (hold, then report)."""

import time

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_retarget_node_streams_reference_from_mocap(spawn_python, rclpy_init):
    rclpy = rclpy_init
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data

    from hgpt_core.datasets import shared_data_dir
    from hgpt_core.g1 import JOINT_LIMITS
    from hgpt_msgs.msg import HumanPose, MotionReference
    from hgpt_retarget.human import load_human
    from hgpt_retarget.msg_conv import human_pose_to_msg

    data = shared_data_dir()
    if data is None:
        pytest.skip("shared data folder (../shared/data) not found")
    bvh = sorted((data / "motions/human/bandai_namco").rglob("*walk_normal_001.bvh"))[0]
    stream = load_human(bvh)[0].resample(50.0)

    node = rclpy.create_node("mocap_probe")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    refs: list[MotionReference] = []
    pub = node.create_publisher(HumanPose, "/hgpt/human_pose", qos_profile_sensor_data)
    node.create_subscription(MotionReference, "/hgpt/reference", refs.append, 100)
    proc = spawn_python("-m", "hgpt_retarget.retarget_node")
    try:
        t_end = time.monotonic() + 60
        i = 0
        while time.monotonic() < t_end and sum(r.valid for r in refs) < 100:
            pub.publish(
                human_pose_to_msg(stream.joint_names, stream.positions[i % stream.num_frames], i / 50)
            )
            i += 1
            deadline = time.monotonic() + 0.02
            while time.monotonic() < deadline:
                ex.spin_once(timeout_sec=0.005)
        valid = [r for r in refs if r.valid]
        assert len(valid) >= 100, f"{len(valid)} valid references after {i} poses"
        q = np.array([r.joint_positions for r in valid])
        assert np.isfinite(q).all()
        assert np.all(q >= JOINT_LIMITS[:, 0] - 0.05) and np.all(q <= JOINT_LIMITS[:, 1] + 0.05)
        z = np.array([r.root_position.z for r in valid])
        assert 0.5 < np.median(z) < 0.9  # a walking G1 pelvis height
        idx = [r.frame_index for r in refs]
        assert idx == sorted(idx)
        # the stream stops: the node keeps publishing, then marks the reference invalid
        n0 = len(refs)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3.0 and (len(refs) == n0 or refs[-1].valid):
            ex.spin_once(timeout_sec=0.05)
        assert len(refs) > n0 and not refs[-1].valid
    finally:
        ex.shutdown()
        node.destroy_node()
        if proc.poll() is not None:
            print(proc.stdout.read())
