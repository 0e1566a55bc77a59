"""Seeded fuzzing of the MuJoCo bridge's /hgpt/joint_command and /hgpt/policy subscribers in a real
sim_bridge_node process (issue 15: "fuzz every subscribed message"; the G1 bridge's twin is
tests/g1/test_g1_fuzz_ros.py). The robot hangs on the weld gantry, so what the joints do is the commands'.

1. No live policy: a few hundred malformed JointCommands (NaN, ±Inf, 1e308 targets, 1e300 speeds and
   torques, negative / 1e6 gains, unknown modes, garbage or 100 kB ids, no / unknown sessions, stamps 0,
   2^31-1 s, -2^31 s, 10 s old, 5 s ahead) and PolicyInfos (garbage, truncated, 1 MB ``[[[`` or empty
   metadata_json; absurd stamps, no session), well-formed but unannounced commands, and undecodable bytes
   (cut or random CDR) on both topics. The node stays up, keeps publishing finite states and its status,
   follows no session, never leaves damping.
2. The test announces itself and drives the robot; the same fuzz from the followed session, mixed with
   well-formed commands: the node stays up, every state is finite, the status counts ignored, rejected and
   clamped commands.
3. The rules one by one (docs/safety.md): a 1e308 elbow target is clamped to the elbow's limit and the rest
   of the robot keeps its pose (it used to reach MuJoCo, which then zeroed EVERY actuator's control: all
   joints driven to 0 rad); NaN targets and an unknown mode are rejected (the robot damps: no valid command);
   well-formed commands bring it back to tracking its pose.

No timed assertions: every wait is "until, or a generous timeout".
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hgpt_core.g1 import G1_JOINT_NAMES, KNEES_BENT_POSE, G1Spec
from hgpt_core.policy_meta import PolicyMetadata

SEED = 15
N = len(G1_JOINT_NAMES)
ELBOW = G1_JOINT_NAMES.index("left_elbow_joint")
POSE_TOL = 0.25
"""Largest |q - commanded pose| [rad] of an upper-body joint held by the policy's gains on the gantry (they
sag a little under gravity; driven to the zero pose, the waist pitch ends ~0.5 rad off). The legs are left
out in the real process: with the pelvis welded and the feet on the floor, damped phases leave them where
friction holds them."""
UPPER = np.arange(G1_JOINT_NAMES.index("waist_yaw_joint"), N)
"""Waist and arm joints."""


def test_clamp_to_robot_passes_policy_targets_and_clamps_absurd_ones() -> None:
    """What policy_node sends (targets inside the joint limits, dq = tau_ff = 0) passes as the same object;
    finite absurd targets come out at the joint limit / speed limit / effort limit, and MuJoCo, given the
    clamped command, holds the rest of the robot where it was commanded."""
    import mujoco

    from hgpt_sim.sim_bridge_node import clamp_to_robot
    from hgpt_sim.sim_robot import PDCommand, SimConfig, SimRobot

    spec = G1Spec()
    z = np.zeros(N)
    good = PDCommand(KNEES_BENT_POSE.copy(), z.copy(), spec.kp.copy(), spec.kd.copy(), z.copy())
    assert clamp_to_robot(good, spec) == (good, [])
    at_limits = PDCommand(spec.joint_limits[:, 1].copy(), z.copy(), spec.kp.copy(), spec.kd.copy(), z.copy())
    assert clamp_to_robot(at_limits, spec)[0] is at_limits

    bad = PDCommand(KNEES_BENT_POSE.copy(), z.copy(), spec.kp.copy(), spec.kd.copy(), z.copy())
    bad.q[ELBOW], bad.dq[3], bad.tau_ff[0] = 1e308, -1e300, 1e300
    out, notes = clamp_to_robot(bad, spec)
    assert out.q[ELBOW] == spec.joint_limits[ELBOW, 1] and out.dq[3] == -spec.velocity_limit[3]
    assert out.tau_ff[0] == spec.effort_limit[0]
    np.testing.assert_array_equal(np.delete(out.q, ELBOW), np.delete(KNEES_BENT_POSE, ELBOW))
    assert notes == [
        f"q at 1 joint(s) (left_elbow_joint 1e+308 -> {spec.joint_limits[ELBOW, 1]:.3g})",
        f"dq at 1 joint(s) (left_knee_joint -1e+300 -> {-spec.velocity_limit[3]:.3g})",
        f"tau_ff at 1 joint(s) (left_hip_pitch_joint 1e+300 -> {spec.effort_limit[0]:.3g})",
    ]

    def run(cmd: PDCommand) -> SimRobot:
        robot = SimRobot(SimConfig(gantry=True))
        for _ in range(25):  # 0.5 s
            assert robot.command(cmd) == []
            robot.step()
        return robot

    only_q = PDCommand(KNEES_BENT_POSE.copy(), z.copy(), spec.kp.copy(), spec.kd.copy(), z.copy())
    only_q.q[ELBOW] = 1e308
    clamped = run(clamp_to_robot(only_q, spec)[0])
    q = clamped.observe()["q"]
    assert clamped.data.warning[mujoco.mjtWarning.mjWARN_BADCTRL].number == 0
    assert np.abs(np.delete(q - KNEES_BENT_POSE, ELBOW)).max() < POSE_TOL, q
    assert q[ELBOW] > KNEES_BENT_POSE[ELBOW] + 0.5, q[ELBOW]  # on its way to the limit
    raw = run(only_q)  # what the bridge used to pass on: MuJoCo zeroes every control
    assert raw.data.warning[mujoco.mjtWarning.mjWARN_BADCTRL].number > 0
    assert np.abs(raw.observe()["q"] - KNEES_BENT_POSE).max() > POSE_TOL


class SimFuzzer:
    """Well-formed and malformed JointCommand / PolicyInfo messages (seeded), stamped on simulation time."""

    def __init__(self, meta: PolicyMetadata, rng: np.random.Generator) -> None:
        from hgpt_msgs.msg import JointCommand, PolicyInfo

        self.meta, self.rng, self.a = meta, rng, meta.arrays()
        self.JointCommand, self.PolicyInfo = JointCommand, PolicyInfo
        self.now = 0.0  # simulation time of the newest robot state [s]

    @staticmethod
    def stamp(msg, t: float) -> None:
        sec = int(np.floor(t))
        msg.header.stamp.sec, msg.header.stamp.nanosec = sec, min(int((t - sec) * 1e9), 999_999_999)

    def command(self, session: str, q: np.ndarray | None = None):
        """A well-formed TRACK command of ``session``: the default pose (or ``q``), the policy's gains."""
        c = self.JointCommand(policy_id=self.meta.policy_id, session_id=session)
        c.mode = self.JointCommand.MODE_TRACK
        c.q = self.a["default_joint_pos"] if q is None else q
        c.kp, c.kd = self.a["kp"], self.a["kd"]
        self.stamp(c, self.now)
        return c

    def announcement(self, session: str, meta_json: str | None = None, t: float | None = None):
        info = self.PolicyInfo(session_id=session, policy_id=self.meta.policy_id)
        info.metadata_json = self.meta.to_json() if meta_json is None else meta_json
        self.stamp(info, self.now if t is None else t)
        return info

    def bad_command(self, session: str, kinds: tuple[str, ...]):
        """(kind, JointCommand) with one mutation of ``kinds`` applied to a well-formed command."""
        rng = self.rng
        kind = str(rng.choice(kinds))
        c = self.command(session)
        j = rng.choice(N, size=int(rng.integers(1, N + 1)), replace=False)

        def setj(field: str, value: float) -> None:
            v = np.array(getattr(c, field), dtype=np.float64)
            v[j] = value
            setattr(c, field, v)

        if kind == "nan":
            setj(str(rng.choice(["q", "dq", "tau_ff", "kp", "kd"])), np.nan)
        elif kind == "inf":
            setj(str(rng.choice(["q", "dq", "tau_ff", "kp", "kd"])), float(rng.choice([np.inf, -np.inf])))
        elif kind == "negative_gain":
            setj(str(rng.choice(["kp", "kd"])), -float(rng.uniform(1, 1e3)))
        elif kind == "huge_gain":  # above the guard's 500 / 50
            setj(str(rng.choice(["kp", "kd"])), float(rng.choice([1e6, 1e300])))
        elif kind == "mode":
            c.mode = int(rng.integers(4, 256))
        elif kind == "policy_id":
            c.policy_id = str(rng.choice(["", "other", "\u00e9" * 50_000]))
        elif kind == "session":
            c.session_id = str(rng.choice(["", "recorded-run", "x" * 10_000]))
        elif kind == "stamp":
            t = float(rng.choice([0.0, 2.0**31 - 1, -(2.0**31), self.now - 10, self.now + 5]))
            self.stamp(c, t)
        elif kind == "huge_q":
            setj("q", float(rng.choice([1e308, -1e308, 10.0, -10.0])))
        elif kind == "huge_dq":
            setj("dq", float(rng.choice([1e300, -1e300, 1e3])))
        elif kind == "huge_tau":
            setj("tau_ff", float(rng.choice([1e300, -1e300])))
        elif kind == "random_arrays":
            for f in ("q", "dq", "tau_ff", "kp", "kd"):
                setattr(c, f, rng.normal(0, 10 ** rng.uniform(0, 6), N))
        return kind, c

    def bad_announcement(self, session: str):
        """(kind, PolicyInfo) never acceptable: unreadable metadata, absurd stamps, no session. (The MuJoCo
        bridge follows any readable metadata: the commands carry the gains.)"""
        rng = self.rng
        kind = str(rng.choice(["garbage", "truncated", "huge", "stamp", "no_session", "empty"]))
        text = self.meta.to_json()
        if kind == "garbage":
            return kind, self.announcement(session, rng.bytes(200).decode("latin-1"))
        if kind == "truncated":
            return kind, self.announcement(session, text[: int(rng.integers(0, len(text)))])
        if kind == "huge":
            return kind, self.announcement(session, "[" * 1_000_000)
        if kind == "stamp":
            t = float(rng.choice([0.0, 2.0**31 - 1, -(2.0**31), self.now - 10]))
            return kind, self.announcement(session, t=t)
        if kind == "no_session":
            return kind, self.announcement("")
        return kind, self.announcement(session, "")

    def garbage_bytes(self, msg) -> bytes:
        from rclpy.serialization import serialize_message

        if self.rng.random() < 0.5:
            data = serialize_message(msg)
            return data[: int(self.rng.integers(0, len(data)))]
        return b"\x00\x01\x00\x00" + self.rng.bytes(int(self.rng.integers(0, 3000)))


REJECTED = ("nan", "inf", "negative_gain", "huge_gain", "mode")  # the guard refuses them
CLAMPED = ("huge_q", "huge_dq", "huge_tau")  # finite: followed, clamped to the robot's limits
IGNORED = ("session", "stamp")  # not the live policy: ignored
ALL = (*REJECTED, *CLAMPED, *IGNORED, "policy_id", "random_arrays")


def finite_state(s) -> bool:
    """Every number of a RobotState is finite."""
    o, g, a, p, r = (
        s.imu_orientation,
        s.imu_angular_velocity,
        s.imu_linear_acceleration,
        s.root_pose,
        s.root_twist,
    )
    values = [
        *s.q, *s.dq, *s.tau_est, o.w, o.x, o.y, o.z, g.x, g.y, g.z, a.x, a.y, a.z,
        p.position.x, p.position.y, p.position.z, r.linear.x, r.linear.y, r.linear.z,
        r.angular.x, r.angular.y, r.angular.z,
    ]  # fmt: skip
    return bool(np.isfinite(values).all())


@pytest.mark.ros
@pytest.mark.slow
def test_fuzzed_commands_and_announcements_never_break_the_simulated_robot(ros_env, rclpy_init, tmp_path):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import (
        DurabilityPolicy,
        HistoryPolicy,
        QoSProfile,
        ReliabilityPolicy,
        qos_profile_sensor_data,
    )

    from hgpt_core.stamps import stamp_to_sec
    from hgpt_msgs.msg import JointCommand, PolicyInfo, RobotState, TrackingStatus

    log = tmp_path / "bridge.log"
    with open(log, "w") as out:
        bridge = subprocess.Popen(
            [sys.executable, "-m", "hgpt_sim.sim_bridge_node", "--ros-args", "-p", "mode:=realtime",
             "-p", "sim.gantry:=true"],
            env=ros_env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    node = rclpy_init.create_node("sim_fuzz_probe")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    meta = PolicyMetadata("fuzz_policy")
    fz = SimFuzzer(meta, np.random.default_rng(SEED))
    states: list = []
    status: list = []
    nonfinite: list[float] = []

    def on_state(s) -> None:
        fz.now = max(fz.now, stamp_to_sec(s.header.stamp))
        if not finite_state(s):
            nonfinite.append(stamp_to_sec(s.header.stamp))
        states.append(s)
        del states[:-200]

    node.create_subscription(RobotState, "/hgpt/robot_state", on_state, qos_profile_sensor_data)
    node.create_subscription(TrackingStatus, "/hgpt/sim/status", status.append, 100)
    cmd_pub = node.create_publisher(
        JointCommand, "/hgpt/joint_command", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    )
    announce = QoSProfile(
        depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )  # fmt: skip
    info_pub = node.create_publisher(PolicyInfo, "/hgpt/policy", announce)
    kinds: dict[str, int] = {}

    def logs() -> str:
        return f"---- sim_bridge_node (rc={bridge.poll()}) ----\n{Path(log).read_text()[-4000:]}"

    def spin_until(cond, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            ex.spin_once(timeout_sec=0.01)
        return bool(cond())

    def send(pub, msg, kind: str = "") -> None:
        if kind:
            kinds[kind] = kinds.get(kind, 0) + 1
        pub.publish(msg)
        end = time.monotonic() + 0.01
        while time.monotonic() < end:
            ex.spin_once(timeout_sec=0.002)
        assert bridge.poll() is None, f"the bridge died after {kinds}\n{logs()}"

    def drive_until(make, cond, timeout: float = 60.0) -> bool:
        """Send ``make()`` every ~10 ms until ``cond()`` (or ``timeout`` s of wall time)."""
        end = time.monotonic() + timeout
        while not cond() and time.monotonic() < end:
            send(cmd_pub, make())
        return bool(cond())

    def upper_off(skip: int | None = None) -> tuple[float, str]:
        """Largest |q - default pose| of the waist and arm joints (but ``skip``) and its joint."""
        idx = np.array([i for i in UPPER if i != skip])
        off = np.abs(np.array(states[-1].q)[idx] - KNEES_BENT_POSE[idx])
        return float(off.max()), G1_JOINT_NAMES[int(idx[np.argmax(off)])]

    def drive(make, sim_seconds: float, timeout: float = 60.0) -> None:
        """Send ``make()`` every ~10 ms until ``sim_seconds`` of simulation time passed."""
        t0, end = fz.now, time.monotonic() + timeout
        while fz.now < t0 + sim_seconds and time.monotonic() < end:
            send(cmd_pub, make())
        assert fz.now >= t0 + sim_seconds, ("the simulation stalled", fz.now, t0, logs())

    def warnings(what: str) -> list[str]:
        return [w for w in (status[-1].warnings if status else []) if what in w]

    def joints() -> np.ndarray:
        return np.array(states[-1].q)

    try:
        # the robot runs: enough simulation time that a stamp of 0 s lies outside the 0.5 s window
        assert spin_until(lambda: fz.now > 1.0 and status, 60), logs()

        # 1. no live policy: nothing of this may drive the robot
        status.clear()
        for _ in range(300):
            r = fz.rng.random()
            if r < 0.45:
                send(cmd_pub, *reversed(fz.bad_command(str(fz.rng.choice(["", "fuzz-a", "fuzz-b"])), ALL)))
            elif r < 0.55:
                send(cmd_pub, fz.command("fuzz-a"), "valid_unannounced")
            elif r < 0.85:
                send(info_pub, *reversed(fz.bad_announcement(str(fz.rng.choice(["fuzz-a", "fuzz-b"])))))
            else:
                pub = cmd_pub if r < 0.93 else info_pub
                msg = fz.command("fuzz-a") if pub is cmd_pub else fz.announcement("fuzz-a")
                send(pub, fz.garbage_bytes(msg), "undecodable")
        n_status = len(status)
        assert spin_until(lambda: len(status) > n_status + 3, 20), logs()  # it keeps reporting
        assert all(s.state.startswith("damping") for s in status), {s.state for s in status}
        assert status[-1].session_id == "", status[-1]
        assert warnings("JointCommands ignored") and warnings("policy announcements refused"), status[-1]
        assert not warnings("rejected") and not warnings("clamped"), status[-1]  # none reached the guard
        assert not nonfinite, nonfinite

        # 2. a live policy (this test) drives the robot; fuzz from its own session and from others
        send(info_pub, fz.announcement("fuzz-live"))
        assert spin_until(lambda: status and status[-1].session_id == "fuzz-live", 20), logs()
        drive(lambda: fz.command("fuzz-live"), 0.2)
        for n in range(200):
            if n % 2:
                send(cmd_pub, fz.command("fuzz-live"))
            else:
                send(cmd_pub, *reversed(fz.bad_command("fuzz-live", ALL)))
            if n % 30 == 0:  # re-announce (as policy_node does every second)
                send(info_pub, fz.announcement("fuzz-live"))
        n_status = len(status)
        assert spin_until(lambda: len(status) > n_status + 1, 20), logs()
        for what in ("JointCommands ignored", "JointCommands rejected", "JointCommands clamped"):
            assert warnings(what), (what, status[-1].warnings)
        assert status[-1].session_id == "fuzz-live"
        assert not nonfinite, nonfinite

        # 3a. a 1e308 elbow target: clamped to the elbow's limit; the rest of the robot keeps its pose
        back = lambda: upper_off()[0] < POSE_TOL  # noqa: E731
        assert drive_until(lambda: fz.command("fuzz-live"), back), upper_off()
        q = np.array(KNEES_BENT_POSE)
        q[ELBOW] = 1e308
        moved = lambda: joints()[ELBOW] > KNEES_BENT_POSE[ELBOW] + 0.5  # noqa: E731 - towards its limit
        assert drive_until(lambda: fz.command("fuzz-live", q), moved), (joints()[ELBOW], logs())
        drive(lambda: fz.command("fuzz-live", q), 0.5)
        assert moved() and upper_off(ELBOW)[0] < POSE_TOL, (upper_off(ELBOW), joints()[ELBOW])
        limit = G1Spec().joint_limits[ELBOW, 1]
        clamp = f"left_elbow_joint 1e+308 -> {limit:.3g}"
        assert spin_until(lambda: any(clamp in w for w in warnings("clamped")), 10), status[-1].warnings

        # 3b. NaN targets, an unknown mode: rejected (not applied, not refreshing the watchdog): damping
        for kind, reason in (("nan", "NaN/inf"), ("mode", "unknown mode")):
            drive(lambda: fz.command("fuzz-live"), 0.2)
            n_status = len(status)
            drive(lambda k=kind: fz.bad_command("fuzz-live", (k,))[1], 0.3)
            assert any(s.state.startswith("damping: no command") for s in status[n_status:]), status[-1]
            assert spin_until(lambda n=n_status: len(status) > n and warnings("rejected"), 10), status[-1]
            assert reason in warnings("rejected")[0], status[-1].warnings

        # 3c. well-formed commands: back to tracking the pose
        n_status = len(status)
        drive(lambda: fz.command("fuzz-live"), 0.2)
        assert drive_until(lambda: fz.command("fuzz-live"), back), upper_off()
        assert any(s.state == "ok" for s in status[n_status:]), [s.state for s in status[n_status:]]
        assert not nonfinite, nonfinite
        assert bridge.poll() is None, logs()
    finally:
        ex.shutdown()
        node.destroy_node()
        if bridge.poll() is None:
            bridge.terminate()
            try:
                bridge.wait(timeout=10)
            except subprocess.TimeoutExpired:
                bridge.kill()
                bridge.wait()
    print(f"fuzzed: {kinds}")
    text = log.read_text()
    assert "Traceback" not in text and "huge value in CTRL" not in text, text[-4000:]
    assert "ignoring JointCommand" in text and "policy announcement refused" in text, text[-4000:]
    assert "command rejected" in text and "command clamped" in text, text[-4000:]
