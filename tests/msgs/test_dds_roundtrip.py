"""hgpt_msgs over DDS between two real processes: every field of every message survives the trip.

The test process publishes a fully filled message on /hgpt_test/<Type>/ping; echo_peer.py (another
process) republishes it on .../pong; the test compares what comes back field by field. Loopback-only
discovery and a domain of this session (ros_env in tests/conftest.py).
"""

import random
import time
from pathlib import Path

import pytest
from msg_samples import field_differences, filled
from rclpy.executors import SingleThreadedExecutor

from hgpt_msgs.msg import HumanPose, JointCommand, MotionReference, RobotState, TrackingStatus
from hgpt_msgs.srv import SetMode

pytestmark = pytest.mark.ros

PEER = Path(__file__).with_name("echo_peer.py")
MESSAGES = [RobotState, JointCommand, MotionReference, HumanPose, TrackingStatus]
TIMEOUT_S = 30.0  # discovery between processes takes ~1 s here; a loaded CI machine gets slack


@pytest.fixture
def peer(spawn_python):
    proc = spawn_python(str(PEER), *(cls.__name__ for cls in MESSAGES))
    line = proc.stdout.readline()
    assert line.strip() == "ready", (
        f"echo peer failed to start: {line}{proc.stdout.read() if proc.poll() else ''}"
    )
    return proc


def test_every_field_survives_a_round_trip_between_processes(peer, rclpy_init):
    node = rclpy_init.create_node("hgpt_test_roundtrip")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        sent, received, pubs = {}, {}, {}
        for i, cls in enumerate(MESSAGES):
            name = cls.__name__
            sent[name] = filled(cls, random.Random(i))
            pubs[name] = node.create_publisher(cls, f"/hgpt_test/{name}/ping", 10)
            node.create_subscription(
                cls, f"/hgpt_test/{name}/pong", lambda msg, name=name: received.setdefault(name, msg), 10
            )
        deadline = time.monotonic() + TIMEOUT_S
        while len(received) < len(MESSAGES) and time.monotonic() < deadline:
            for name, pub in pubs.items():
                if name not in received:  # resend until discovery has matched both ends
                    pub.publish(sent[name])
            executor.spin_once(timeout_sec=0.05)
            assert peer.poll() is None, f"echo peer died: {peer.stdout.read()}"
        missing = sorted(set(sent) - set(received))
        assert not missing, f"no echo within {TIMEOUT_S} s for {missing}"
        for name, msg in sent.items():
            assert field_differences(msg, received[name]) == [], name
            assert received[name] == msg
    finally:
        executor.shutdown()
        node.destroy_node()


def test_set_mode_service_between_processes(peer, rclpy_init):
    node = rclpy_init.create_node("hgpt_test_set_mode_client")
    try:
        client = node.create_client(SetMode, "/hgpt_test/set_mode")
        assert client.wait_for_service(timeout_sec=TIMEOUT_S), "service /hgpt_test/set_mode not found"
        for mode, success in ((SetMode.Request.MODE_TRACK, True), (SetMode.Request.MODE_DAMP, False)):
            future = client.call_async(SetMode.Request(mode=mode))
            rclpy_init.spin_until_future_complete(node, future, timeout_sec=TIMEOUT_S)
            assert future.done(), "no response from /hgpt_test/set_mode"
            assert future.result().success is success
            assert future.result().message == f"mode {mode}"
    finally:
        node.destroy_node()
