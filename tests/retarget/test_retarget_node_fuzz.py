"""Seeded fuzzing of retarget_node's /hgpt/human_pose subscriber in a real process (issue 15: "fuzz every
subscribed message").

A real BVH walk is streamed as HumanPose, then a few hundred malformed poses mixed with valid ones: names and
positions of different lengths (none at all, more names than positions), NaN / ±Inf / 1e308 / 1e6 m
coordinates, unknown, empty, duplicated or 600 joint names, absurd stamps (0, 1e9 s ahead, 2^31 - 1 s,
negative, going back), a 1 MB skeleton string, NaN orientations and confidences, and undecodable bytes (cut
or random CDR). The node must stay alive, publish only finite references, keep valid references within the
joint limits, say why it rejects poses, and follow the valid stream again afterwards. Found and fixed with
it: an empty ``positions`` list raised ValueError out of the timer (the node died); a 1e300 m coordinate
poisoned the IK (NoSolutionFound out of the timer: the node died); a stamp 1e9 s ahead froze the reference
(every later pose "stale", the last frame repeated as valid).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from processes import start_logged, stop_process

pytestmark = [pytest.mark.ros, pytest.mark.slow]

SEED = 15
N_FUZZ = 300


def _finite(r) -> bool:
    vals = [
        r.root_position.x, r.root_position.y, r.root_position.z,
        r.root_orientation.w, r.root_orientation.x, r.root_orientation.y, r.root_orientation.z,
        r.root_linear_velocity.x, r.root_linear_velocity.y, r.root_linear_velocity.z,
        r.root_angular_velocity.x, r.root_angular_velocity.y, r.root_angular_velocity.z,
        *r.joint_positions, *r.joint_velocities,
    ]  # fmt: skip
    return bool(np.isfinite(vals).all())


class PoseFuzzer:
    """Valid poses of ``stream`` (one per call of :meth:`valid`) and seeded malformed ones (:meth:`bad`)."""

    def __init__(self, stream, rng: np.random.Generator) -> None:
        self.stream, self.rng, self.i, self.t = stream, rng, 0, 0.0

    def valid(self):
        from hgpt_retarget.msg_conv import human_pose_to_msg

        self.i += 1
        self.t += 0.02
        s = self.stream
        return human_pose_to_msg(s.joint_names, s.positions[self.i % s.num_frames], self.t)

    def bad(self):
        """A malformed HumanPose (message object) or undecodable bytes; ``kind`` names the mutation."""
        from geometry_msgs.msg import Point, Quaternion
        from rclpy.serialization import serialize_message

        rng, msg = self.rng, self.valid()
        names, pts = list(msg.joint_names), list(msg.positions)
        kind = str(rng.choice([
            "no_positions", "no_names", "fewer_positions", "more_positions", "nan", "inf", "huge", "far",
            "zero", "unknown_names", "empty_names", "duplicate_names", "many_joints", "stamp", "skeleton_1mb",
            "orientations", "confidence", "cut_cdr", "random_bytes",
        ]))  # fmt: skip
        k = int(rng.integers(len(pts)))
        if kind == "no_positions":
            msg.positions = []
        elif kind == "no_names":
            msg.joint_names = []
        elif kind == "fewer_positions":
            msg.positions = pts[: int(rng.integers(len(pts)))]
        elif kind == "more_positions":
            msg.positions = pts + pts
        elif kind in ("nan", "inf", "huge", "far"):
            v = {"nan": np.nan, "inf": float(rng.choice([np.inf, -np.inf])), "huge": 1e308, "far": 1e6}[kind]
            rows = rng.choice(len(pts), size=int(rng.integers(1, len(pts) + 1)), replace=False)
            for r in rows:
                pts[r] = Point(x=v, y=pts[r].y, z=v)
            msg.positions = pts
        elif kind == "zero":
            msg.positions = [Point() for _ in pts]
        elif kind == "unknown_names":
            msg.joint_names = [f"j{n}" for n in range(len(names))]
        elif kind == "empty_names":
            msg.joint_names = [""] * len(names)
        elif kind == "duplicate_names":
            names[k] = names[(k + 1) % len(names)]
            msg.joint_names = names
        elif kind == "many_joints":
            msg.joint_names = [f"j{n}" for n in range(600)]
            msg.positions = [Point(x=float(x)) for x in rng.normal(size=600)]
        elif kind == "stamp":
            sec = int(rng.choice([0, 1_000_000_000 + int(self.t), 2**31 - 1, -(2**31), -5, int(self.t) - 10]))
            msg.header.stamp.sec, msg.header.stamp.nanosec = sec, int(rng.integers(0, 1_000_000_000))
        elif kind == "skeleton_1mb":
            msg.skeleton = "x" * 1_000_000
            msg.header.frame_id = "\u00e9" * 1000
        elif kind == "orientations":
            msg.orientations = [Quaternion(x=np.nan, y=np.inf, z=0.0, w=0.0)] * int(rng.integers(0, 40))
        elif kind == "confidence":
            msg.confidence = [float(c) for c in rng.normal(0, 1e6, size=int(rng.integers(0, 40)))]
        elif kind == "cut_cdr":
            data = serialize_message(msg)
            return kind, data[: int(rng.integers(0, len(data)))]
        elif kind == "random_bytes":
            return kind, b"\x00\x01\x00\x00" + rng.bytes(int(rng.integers(0, 2000)))
        return kind, msg


@pytest.fixture
def retarget_proc(ros_env, tmp_path):
    """retarget_node as a real process, output to a log file (read by the test), stopped after the test."""
    log = tmp_path / "retarget_node.log"
    proc = start_logged(["-m", "hgpt_retarget.retarget_node"], ros_env, log)
    yield proc, log
    stop_process(proc, timeout=10)


def test_retarget_node_survives_malformed_human_poses(retarget_proc, rclpy_init, walk_bvh):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data

    from hgpt_core.g1 import JOINT_LIMITS
    from hgpt_msgs.msg import HumanPose, MotionReference
    from hgpt_retarget.human import load_human

    proc, log = retarget_proc
    fuzz = PoseFuzzer(load_human(walk_bvh)[0].resample(50.0), np.random.default_rng(SEED))
    node = rclpy_init.create_node("pose_fuzzer")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    refs: list[MotionReference] = []
    pub = node.create_publisher(HumanPose, "/hgpt/human_pose", qos_profile_sensor_data)
    node.create_subscription(MotionReference, "/hgpt/reference", refs.append, 100)

    def send(msg) -> None:
        pub.publish(msg)
        end = time.monotonic() + 0.02
        while time.monotonic() < end:
            ex.spin_once(timeout_sec=0.005)

    def stream_until_valid(n: int, timeout: float) -> int:
        """Stream valid poses until ``n`` more valid references came; returns how many came."""
        start = len(refs)
        end = time.monotonic() + timeout
        while time.monotonic() < end and sum(r.valid for r in refs[start:]) < n and proc.poll() is None:
            send(fuzz.valid())
        return sum(r.valid for r in refs[start:])

    logs = lambda: log.read_text()[-4000:]  # noqa: E731
    kinds: dict[str, int] = {}
    try:
        assert stream_until_valid(20, 60) >= 20, logs()
        before = len(refs)
        for n in range(N_FUZZ):
            if n % 3 == 0:
                send(fuzz.valid())
            else:
                kind, msg = fuzz.bad()
                kinds[kind] = kinds.get(kind, 0) + 1
                send(msg)
            assert proc.poll() is None, f"retarget_node died at message {n} ({kinds})\n{logs()}"
        during = refs[before:]
        # it keeps publishing, and follows the valid stream again afterwards
        assert len(during) > N_FUZZ // 4, (len(during), logs())
        assert stream_until_valid(20, 60) >= 20, logs()
        assert proc.poll() is None, logs()
    finally:
        ex.shutdown()
        node.destroy_node()
    print(f"{N_FUZZ} poses ({kinds}), {len(refs)} references, {sum(r.valid for r in refs)} valid")
    bad = [r.frame_index for r in refs if not _finite(r)]
    assert not bad, f"non-finite references at frames {bad[:10]}"
    q = np.array([r.joint_positions for r in refs if r.valid])
    assert np.all(q >= JOINT_LIMITS[:, 0] - 0.05) and np.all(q <= JOINT_LIMITS[:, 1] + 0.05)
    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
    # it says why: rejected poses, joints out of range, restarts after a stamp jump
    for why in ("human pose rejected", "treated as missing", "retargeting restarted"):
        assert why in text, f"no '{why}' in the log:\n{text[-4000:]}"
