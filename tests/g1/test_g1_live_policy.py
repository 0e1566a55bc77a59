"""Issue 15, items 1, 3 and 4, on real processes: an armed simulated G1 (g1_sim_robot + g1_bridge_node over
unitree_hg) moves only for the live policy it handshook with.

* A bag of another run's commands (1970 stamps, the same policy_id, the same metadata announced) played
  next to the armed robot cannot move it: ``hgpt bag play`` skips command topics by default; played on
  purpose (``--topics``) the bridge ignores them (unknown session, stamps outside its window) and says why.
* A policy_node whose metadata differs from the bridge's (a copy with kp doubled) blocks arming, named.
* A live policy_node is followed (handshake: session id); SIGKILL of it damps the robot within 50 ms of the
  last command by the bridge's rule (40 ms watchdog; its timing on a quiet clock: test_g1_session.py).
"""

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_g1_bridge_ros import LOADED_MACHINE, PARAMS, Probe

from hgpt_core.policy_meta import PolicyMetadata

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CLI = ("-m", "hgpt_bringup.cli")


def write_replay_bag(path: Path, meta: PolicyMetadata) -> None:
    """1.2 s of another run's policy: its announcement and TRACK commands (knees +0.5 rad), 1970 stamps."""
    from rclpy.serialization import serialize_message

    from hgpt_bringup.bag_writer import BagWriter
    from hgpt_msgs.msg import JointCommand, PolicyInfo, TrackingStatus

    a = meta.arrays()
    q = a["default_joint_pos"].copy()
    q[[3, 9]] += 0.5
    with BagWriter(path) as w:
        w.add_topic("/hgpt/policy", "hgpt_msgs/msg/PolicyInfo")
        w.add_topic("/hgpt/joint_command", "hgpt_msgs/msg/JointCommand")
        w.add_topic("/hgpt/recorded_status", "hgpt_msgs/msg/TrackingStatus")
        w.write("/hgpt/recorded_status", 99_000_000_000, serialize_message(TrackingStatus(state="tracking")))
        info = PolicyInfo(session_id="recorded-run", policy_id=meta.policy_id, metadata_json=meta.to_json())
        info.header.stamp.sec = 100
        w.write("/hgpt/policy", 100_000_000_000, serialize_message(info))
        for k in range(60):
            c = JointCommand(
                mode=JointCommand.MODE_TRACK, policy_id=meta.policy_id, session_id="recorded-run"
            )
            c.q, c.kp, c.kd = q, a["kp"], a["kd"]
            t_ns = 100_000_000_000 + 10_000_000 + k * 20_000_000
            c.header.stamp.sec, c.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)
            w.write("/hgpt/joint_command", t_ns, serialize_message(c))


def play(g1_env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *CLI, "bag", "play", *args], env=g1_env, capture_output=True, text=True, timeout=120
    )


def start_bridge(spawn_g1, name: str, policy: str, *args: str) -> subprocess.Popen:
    return spawn_g1(
        name, "-m", "hgpt_g1.g1_bridge_node", "--ros-args", "--params-file", str(PARAMS),
        "-p", f"policy:={policy}", "-p", "safety.ramp_s:=1.0", *LOADED_MACHINE, *args,
    )  # fmt: skip


def legs_at_default(p: Probe, default: np.ndarray) -> float:
    return float(np.abs(np.array([s.q for s in p.states[-25:]]) - default)[:, :12].max())


def test_a_bag_replay_cannot_move_an_armed_robot(spawn_g1, rclpy_init, tmp_path, g1_env):
    meta = PolicyMetadata("it_policy")
    (tmp_path / "policy.json").write_text(meta.to_json())
    write_replay_bag(tmp_path / "other_run", meta)
    spawn_g1("sim", "-m", "hgpt_g1.sim_robot_node")
    start_bridge(spawn_g1, "bridge", str(tmp_path / "policy.json"), "-p", "dry_run:=false")
    p = Probe(rclpy_init)
    logs = spawn_g1.logs
    default = np.asarray(meta.default_joint_pos)
    try:
        assert p.arm_client.wait_for_service(timeout_sec=60), logs()
        assert p.spin_until(lambda: p.stats and p.stats[-1]["applied"] > 50 and p.state() == "damp", 30), (
            logs()
        )
        assert p.call(p.arm_client).success
        assert p.spin_until(lambda: p.state() == "stand", 20), logs()
        p.spin_until(lambda: False, 1.0)
        before = legs_at_default(p, default)

        # default play: the command topics are not played at all
        res = play(g1_env, str(tmp_path / "other_run"))
        assert res.returncode == 0, res.stderr
        assert "not playing command topic(s) /hgpt/policy, /hgpt/joint_command" in res.stderr or (
            "not playing command topic(s) /hgpt/joint_command, /hgpt/policy" in res.stderr
        ), res.stderr
        # played on purpose: warned, and the bridge ignores another run's session and stamps
        p.status.clear()
        res = play(g1_env, str(tmp_path / "other_run"), "--topics", "/hgpt/policy", "/hgpt/joint_command",
                   "--wait-subscribers", "20")  # fmt: skip
        assert res.returncode == 0 and "WARNING: publishing recorded commands" in res.stderr, res.stderr
        p.spin_until(lambda: False, 1.0)
        states = {s.state for s in p.status}
        reasons = {s.reason for s in p.status}
        # never tracked; on this loaded core a LowState watchdog may e-stop (damp) meanwhile, never a command
        assert "track" not in states and not any("tracking" in r for r in reasons), (states, reasons, logs())
        warnings = " ".join(w for s in p.status[-3:] for w in s.warnings)
        # (the replayed announcement is volatile: it does not even match the bridge's transient-local reader)
        assert "JointCommands ignored" in warnings and "handshake pending" in warnings, warnings
        assert p.status[-1].session_id == ""  # no session followed
        if states == {"stand"}:
            after = legs_at_default(p, default)
            assert after < 0.15 and after < before + 0.05, (before, after)  # the knees did not move
        assert "ignoring JointCommand of 'it_policy'" in logs()
    finally:
        p.node.destroy_node()


def test_only_the_live_policy_with_identical_metadata_drives_and_its_death_damps_within_50_ms(
    spawn_g1, rclpy_init, tmp_path
):
    from hgpt_policy.loader import load_tracking_policy

    meta = load_tracking_policy("zero").meta
    doubled = PolicyMetadata.from_json(meta.to_json())
    doubled.kp = [2 * k for k in doubled.kp]  # a copy of the policy with kp doubled
    (tmp_path / "doubled.json").write_text(doubled.to_json())
    spawn_g1("sim", "-m", "hgpt_g1.sim_robot_node")
    policy = spawn_g1(
        "policy",
        "-m",
        "hgpt_policy.policy_node",
        "--ros-args",
        "-p",
        "policy:=zero",
        "-p",
        "start_mode:=track",
        "-p",
        # Tolerate a loaded machine: on CI's 2 cores a bridge starting up starved the sim for 515 ms (2 s with
        # a training run beside the suite), the policy damped (stale state) and, by design, stays damped until
        # asked again. This test is about the handshake; staleness has its own (test_policy_node_process.py).
        "safety.state_timeout_s:=10.0",
    )
    doubled_bridge = start_bridge(spawn_g1, "bridge_doubled", str(tmp_path / "doubled.json"))  # dry run
    p = Probe(rclpy_init)
    logs = spawn_g1.logs
    try:
        # 1. metadata differs (kp): arming refused, the difference named
        assert p.arm_client.wait_for_service(timeout_sec=60), logs()
        refused = lambda: p.status and any("kp differs" in w for w in p.status[-1].warnings)  # noqa: E731
        assert p.spin_until(refused, 30), logs()
        res = p.call(p.arm_client)
        assert not res.success and "kp differs at 29 joint(s)" in res.message, res.message
        assert "hold_default" in res.message and p.state() == "damp"
        doubled_bridge.send_signal(signal.SIGINT)  # that bridge goes (cleanly: no traceback)
        assert doubled_bridge.wait(timeout=20) == 0, logs()

        # 2. identical metadata: handshake, arm, stand, then the policy's commands are tracked
        start_bridge(spawn_g1, "bridge", "zero", "-p", "dry_run:=false")
        p.status.clear()
        following = lambda: p.status and p.status[-1].session_id != ""  # noqa: E731
        assert p.spin_until(following, 60), logs()
        assert p.spin_until(lambda: p.stats and p.stats[-1]["applied"] > 50, 30), logs()
        assert p.call(p.arm_client).success
        assert p.spin_until(lambda: p.state() == "track", 30), f"{p.state()}\n{logs()}"
        assert "tracking policy 'hold_default' (session" in p.status[-1].reason

        # 3. SIGKILL of the policy: damped (e-stop) within 50 ms of its last command
        policy.send_signal(signal.SIGKILL)
        assert p.spin_until(lambda: p.state() == "estop", 10), logs()
        reason = p.status[-1].reason
        assert reason.startswith("watchdog: no JointCommand for "), reason
        ms = float(reason.split("for ")[1].split(" ms")[0])
        # The bridge's rule damps at its first 500 Hz tick >= 40 ms after the last command (<= 42 ms: asserted
        # on the machine's own clock in test_g1_session.py). Every process here shares a loaded machine: the
        # bridge's timer may come seconds late (4031 ms seen with a training run beside the suite): no speed
        # assertion, only that the watchdog damped it and never before its 40 ms; the figure is printed.
        print(f"damped {ms:.0f} ms after the last command (bridge receive clock)")
        assert ms >= 40.0, reason
        assert p.spin_until(lambda: p.stats and p.stats[-1]["last_kp_max"] == 0.0, 5)  # the robot is damped
    finally:
        p.node.destroy_node()
