"""Seeded fuzzing of the MuJoCo bridge in lock-step mode (``mode:=lockstep``: the simulation advances one
control period per command of the live policy stamped with the current state's time, docs/bringup.md) in a
real sim_bridge_node process; the free-running twin is tests/sim/test_sim_bridge_fuzz_ros.py, and both draw
their messages from tests/fuzz_bridge.py. The robot hangs on the weld gantry.

Lock-step makes the fuzz exact: the test is the only publisher and waits for each step's state, so it knows
what every message must do, and checks it to the message:

1. No live policy, simulation time 0 (commands stamped exactly like the state): ~300 malformed / well-formed
   / undecodable JointCommands and PolicyInfos (tests/fuzz_bridge.py; announcements with absurd stamps are
   stamped 1 s off instead, as 0 s is the simulation's time). The simulation never advances, the state keeps
   being re-published (kick), every decodable command is counted ignored, announcements refused.
2. The test announces itself and answers each state: ~300 rounds of the fuzzer's bad commands of its own
   session (stamped like the state, or with absurd stamps), commands stamped off the state (the previous
   state, two back, the next, 1 ns either way, 0.3 s ahead, 0.4 s back), the same command twice, the next
   state's command before the current one, a valid command padded to 100 kB of CDR, undecodable bytes, bad
   announcements. Every message that must not step is followed by a valid command that must (exactly one
   control period); the status's counters must equal the test's own count of ignored, rejected, clamped
   and out-of-step commands (a message that stepped when it must not turns the next one out of step).
3. The rules: a 1e308 elbow target is clamped (only the elbow moves, towards its limit); NaN commands
   answering the states are rejected, the robot damps; valid ones bring it back to "ok" and to its pose.

Every published state is finite and inside the joint limits (a small margin: MuJoCo's limits are soft).
No timed assertions: every wait is "until, or a generous timeout"; what is asserted is simulation time.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from fuzz_bridge import BridgeFuzzer
from sim_bridge_probe import SimBridgeProbe
from test_sim_bridge_fuzz_ros import (
    ALL,
    CLAMPED,
    ELBOW,
    GUARD,
    IGNORED,
    POSE_TOL,
    SIM_ANNOUNCEMENT_KINDS,
    UPPER,
    SimTime,
    finite_state,
)

from hgpt_core.g1 import G1_JOINT_NAMES, KNEES_BENT_POSE, G1Spec
from hgpt_core.policy_meta import PolicyMetadata

SEED = 16
DT_NS = 20_000_000
"""One control period [ns] (``sim.control_dt`` 0.02 s): what one lock-step command advances."""
LIMIT_MARGIN = 0.05
"""Largest excursion [rad] of a joint beyond its limit while the commands are position targets (clamped
into the range; MuJoCo's joint limits are soft constraints, so not 0)."""
TORQUE_LIMIT_MARGIN = 0.5
"""The same during the fuzz, whose commands include feed-forward torques and velocity targets clamped to the
effort limit: the model's soft joint limits (solref 0.02 s) give way to them, 50 N*m of tau_ff pushes the
ankle roll (range +-0.26 rad) ~0.25 rad past its limit (0.30 transient), where a real joint meets its end
stop. Not a garbage command (the G1 bridge clamps the same), so bounded, not forbidden (docs/safety.md)."""
OFF_STEP = {
    "previous": -DT_NS,  # a repeat of the command answering the previous state (after a kick)
    "two_back": -2 * DT_NS,  # a late answer
    "next": DT_NS,  # ahead of the state
    "plus_1ns": 1,
    "minus_1ns": -1,
    "ahead_0.3s": 15 * DT_NS,  # within the 0.5 s stamp window: only the lock-step check refuses it
    "back_0.4s": -20 * DT_NS,
}
"""Stamps of well-formed commands of the live session relative to the current state [ns]: out of step."""
REJECTED = (*GUARD, "policy_id", "random_arrays")  # stamped like the state: rejected, stepped (damping)
COUNTERS = (
    "JointCommands ignored",
    "JointCommands rejected",
    "JointCommands clamped",
    "JointCommands out of step",
    "policy announcements refused",
)


def at(msg, ns: int):
    """``msg`` stamped exactly ``ns`` [ns] (lock-step matches stamps to the nanosecond)."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(ns), 1_000_000_000)
    return msg


def counts(warnings: list[str]) -> dict[str, int]:
    """The status's counters ("12 JointCommands ignored (last: ...)") by :data:`COUNTERS` name."""
    out = dict.fromkeys(COUNTERS, 0)
    for w in warnings:
        m = re.match(r"(\d+) (.+?) \(last: ", w)
        if m and m.group(2) in out:
            out[m.group(2)] = int(m.group(1))
    return out


@pytest.mark.ros
def test_lockstep_commands_off_the_state_are_counted_not_stepped(rclpy_init) -> None:
    """Lock-step, the node in this process (its timer never run): a command of the live session stamped
    like the state steps once; the same command again, one stamped for the next state, 1 ns off either way,
    are not stepped and counted "out of step" with both stamps (they used to be dropped without a word, so a
    policy whose stamps never match stalled the simulation silently); another session's command with an
    off stamp is counted ignored, as in real-time mode (it was dropped unseen too)."""
    from rclpy.parameter import Parameter

    from hgpt_sim.sim_bridge_node import SimBridgeNode

    node = SimBridgeNode(parameter_overrides=[Parameter("mode", value="lockstep")])
    try:
        fz = BridgeFuzzer(PolicyMetadata("fuzz_policy"), np.random.default_rng(SEED), clock=lambda: 0.0)
        node.on_policy(fz.announcement("live"))
        assert node.gate.session == "live" and node.state_ns == 0
        node.on_command(at(fz.command("live"), 0))
        assert node.state_ns == DT_NS and node.out_of_step == 0 and node.robot.time == pytest.approx(0.02)
        for n, ns in enumerate((0, 2 * DT_NS, DT_NS + 1, DT_NS - 1), 1):
            node.on_command(at(fz.command("live"), ns))
            assert node.state_ns == DT_NS and node.out_of_step == n, node.last_out_of_step
        assert node.last_out_of_step.startswith("stamped 0.019999999 s, the state is at 0.020000000 s"), (
            node.last_out_of_step
        )
        node.on_command(at(fz.command("other"), 0))
        assert node.gate.ignored == 1 and node.out_of_step == 4 and node.state_ns == DT_NS
        assert node.rejected == 0 and node.clamped == 0
        node.on_command(at(fz.command("live"), DT_NS))
        assert node.state_ns == 2 * DT_NS and node.robot.status == "ok"
    finally:
        node.destroy_node()


@pytest.mark.ros
@pytest.mark.slow
def test_fuzzed_commands_never_break_the_lockstep_simulation(ros_env, rclpy_init, tmp_path) -> None:
    from rclpy.serialization import deserialize_message, serialize_message

    from hgpt_core.stamps import stamp_to_ns
    from hgpt_msgs.msg import JointCommand, PolicyInfo
    from hgpt_msgs.srv import SimControl

    rng = np.random.default_rng(SEED)
    sim = SimTime()
    fz = BridgeFuzzer(
        PolicyMetadata("fuzz_policy"),
        rng,
        clock=sim,
        announcement_kinds=tuple(k for k in SIM_ANNOUNCEMENT_KINDS if k != "stamp"),  # 0 s is in window
    )
    lo, hi = G1Spec().joint_limits.T
    last: list = [None]  # the newest RobotState
    n_states = [0]
    phase = ["targets"]  # what the commands are: "targets" (position targets) or "fuzz"
    worst = {"targets": 0.0, "fuzz": 0.0}  # largest joint excursion beyond a limit [rad] per phase
    worst_at: dict = {}  # phase -> (joint, stamp [ns], q [rad])
    nonfinite: list[int] = []

    def on_state(s) -> None:
        ns = stamp_to_ns(s.header.stamp)
        sim.now = ns * 1e-9
        if not finite_state(s):
            nonfinite.append(ns)
        else:
            q = np.array(s.q)
            past = np.maximum(lo - q, q - hi)
            if past.max() > worst[phase[0]]:
                worst[phase[0]] = float(past.max())
                worst_at[phase[0]] = (G1_JOINT_NAMES[int(np.argmax(past))], ns, float(q[np.argmax(past)]))
        last[0] = s
        n_states[0] += 1

    with SimBridgeProbe(
        rclpy_init, ros_env, tmp_path / "bridge.log", "lockstep", "sim_lockstep_fuzz_probe", on_state
    ) as bridge:
        cmd_pub, info_pub, status = bridge.cmd_pub, bridge.info_pub, bridge.status
        send, spin_until, logs, kinds = bridge.send, bridge.spin_until, bridge.logs, bridge.kinds
        control = bridge.node.create_client(SimControl, "/hgpt/sim/control")
        expect = dict.fromkeys(COUNTERS, 0)  # what the status must count (refusals: at least)

        def state_ns() -> int:
            return stamp_to_ns(last[0].header.stamp)

        def sync() -> None:
            """A round trip through the bridge's executor (an unknown SimControl command: refused, harmless),
            so that the test never queues more than a message or two in its subscriptions."""
            future = control.call_async(SimControl.Request(command="sync"))
            assert spin_until(future.done), logs()
            assert not future.result().success, future.result()

        def decodes(data: bytes, cls) -> bool:
            """Whether ``data`` deserialises (the same type support as the bridge's middleware)."""
            try:
                deserialize_message(data, cls)
            except Exception:  # noqa: BLE001 - what the middleware drops
                return False
            return True

        def stepped(t: int, kind: str) -> None:
            """The message sent last answered the state at ``t`` [ns]: exactly one control period later."""
            assert spin_until(lambda: state_ns() != t), (kind, t, kinds, logs())
            assert state_ns() == t + DT_NS, (kind, t, state_ns(), logs())

        def step(msg=None, kind: str = "valid") -> None:
            """Send ``msg`` (default: a well-formed command) stamped like the current state; it must step."""
            t = state_ns()
            send(cmd_pub, at(fz.command("fuzz-live") if msg is None else msg, t), kind)
            stepped(t, kind)

        def probe(kind: str) -> None:
            """After a message that must not step: a well-formed command for the state must step (one
            period)."""
            step(kind=f"probe after {kind}")

        def upper_off(skip: int | None = None) -> float:
            """Largest |q - default pose| [rad] of the waist and arm joints (but ``skip``)."""
            idx = np.array([i for i in UPPER if i != skip])
            return float(np.abs(np.array(last[0].q)[idx] - KNEES_BENT_POSE[idx]).max())

        def back_to_pose(max_steps: int = 250) -> None:
            """Well-formed commands until the upper body is back at the default pose (at most 5 s of
            simulation time)."""
            for _ in range(max_steps):
                if upper_off() < POSE_TOL:
                    return
                step()
            assert upper_off() < POSE_TOL, upper_off()

        def status_after(t: int) -> dict[str, int]:
            """Step well-formed commands until a status stamped after ``t`` [ns] comes (one every 50 states or
            on a change); its counters."""
            for _ in range(120):
                if any(stamp_to_ns(s.header.stamp) > t for s in status):
                    break
                step()
            assert spin_until(lambda: any(stamp_to_ns(s.header.stamp) > t for s in status)), logs()
            return counts(status[-1].warnings)

        assert spin_until(lambda: last[0] is not None and control.service_is_ready()), logs()

        # 1. no live policy, simulation time 0: nothing may step the simulation
        t0, n0 = state_ns(), n_states[0]
        assert t0 == 0
        for topic, msg, kind in fz.unannounced(300, ALL):
            if isinstance(msg, bytes):
                cls = JointCommand if topic == "command" else PolicyInfo
                if decodes(msg, cls) and topic == "command":
                    expect["JointCommands ignored"] += 1
            elif topic == "command":
                expect["JointCommands ignored"] += 1  # stamped 0 s (or absurd): only the gate stops it
            send(cmd_pub if topic == "command" else info_pub, msg, kind)
            sync()
        for t in (1.0, -1.0):  # an announcement outside the stamp window (absurd stamps: fuzz_bridge's)
            send(info_pub, fz.announcement("fuzz-a", t=t), "stamp_announcement")
            sync()
        n_status = len(status)
        assert spin_until(lambda: len(status) > n_status), logs()  # one every 50 kicks (10 s of wall)
        got = counts(status[-1].warnings)
        assert got["JointCommands ignored"] == expect["JointCommands ignored"], (got, expect, kinds)
        assert got["policy announcements refused"] > 0, got
        assert status[-1].session_id == "" and not status[-1].fault, status[-1]
        assert state_ns() == t0 and n_states[0] > n0, (state_ns(), n_states[0], n0)  # kicks, no step
        assert not nonfinite, nonfinite

        # 2. the live policy (this test) answers each state; the fuzz from its session and others
        send(info_pub, at(fz.announcement("fuzz-live"), t0), "announcement")
        assert spin_until(lambda: status and status[-1].session_id == "fuzz-live"), logs()
        for _ in range(60):  # 1.2 s: a stamp of 0 s lies outside the 0.5 s window
            step()
        fz.announcement_kinds = SIM_ANNOUNCEMENT_KINDS
        phase[0] = "fuzz"
        before = counts(status[-1].warnings)
        assert before == {**expect, "policy announcements refused": before["policy announcements refused"]}
        for n in range(300):
            r = rng.random()
            t = state_ns()
            if r < 0.4:
                kind, msg = fz.bad_command("fuzz-live", ALL)
                if kind != "stamp":
                    at(msg, t)
                send(cmd_pub, msg, kind)
                if kind in IGNORED:
                    expect["JointCommands ignored"] += 1
                    probe(kind)
                else:
                    expect["JointCommands rejected" if kind in REJECTED else "JointCommands clamped"] += 1
                    assert kind in REJECTED or kind in CLAMPED, kind
                    stepped(t, kind)
            elif r < 0.6:
                kind = str(rng.choice(list(OFF_STEP)))
                send(cmd_pub, at(fz.command("fuzz-live"), t + OFF_STEP[kind]), kind)
                expect["JointCommands out of step"] += 1
                probe(kind)
            elif r < 0.67:  # the same command twice: the second is out of step
                msg = at(fz.command("fuzz-live"), t)
                step(msg, "duplicate")
                send(cmd_pub, msg, "duplicate")
                expect["JointCommands out of step"] += 1
                probe("duplicate")
            elif r < 0.74:  # the next state's command before the current state's
                send(cmd_pub, at(fz.command("fuzz-live"), t + DT_NS), "out_of_order")
                expect["JointCommands out of step"] += 1
                step(kind="out_of_order")
            elif r < 0.8:  # a well-formed command with 100 kB of bytes after it: oversized, decodes
                data = serialize_message(at(fz.command("fuzz-live"), t)) + rng.bytes(100_000)
                assert decodes(data, JointCommand)
                send(cmd_pub, data, "padded")
                stepped(t, "padded")
            elif r < 0.9:
                data = fz.garbage_bytes(at(fz.command("fuzz-a"), t))
                if decodes(data, JointCommand):
                    expect["JointCommands ignored"] += 1  # another session's
                send(cmd_pub, data, "undecodable")
                probe("undecodable")
            else:
                if rng.random() < 0.7:
                    kind, msg = fz.bad_announcement(str(rng.choice(["fuzz-live", "fuzz-b"])))
                    send(info_pub, msg, f"announcement_{kind}")
                else:
                    send(info_pub, fz.garbage_bytes(fz.announcement("fuzz-b")), "announcement_undecodable")
                sync()
                probe("announcement")
            if n % 30 == 0:  # re-announce (as policy_node does every second)
                send(info_pub, at(fz.announcement("fuzz-live"), state_ns()), "announcement")
                sync()
        t_end = state_ns()
        got = status_after(t_end)
        assert status[-1].session_id == "fuzz-live", status[-1]
        assert got["policy announcements refused"] > before["policy announcements refused"], got
        for what in COUNTERS[:4]:
            assert got[what] == expect[what], (what, got, expect, kinds)
        assert not nonfinite, nonfinite

        # 3a. a 1e308 elbow target: clamped to the elbow's limit; the rest of the robot keeps its pose
        back_to_pose()
        for _ in range(50):  # 1 s: the legs too (the back_to_pose check is the upper body's)
            step()
        phase[0] = "targets"
        q = np.array(KNEES_BENT_POSE)
        q[ELBOW] = 1e308
        for _ in range(25):  # 0.5 s
            step(fz.command("fuzz-live", q), "huge_elbow")
        elbow = last[0].q[ELBOW]
        assert elbow > KNEES_BENT_POSE[ELBOW] + 0.5 and upper_off(ELBOW) < POSE_TOL, (elbow, upper_off(ELBOW))
        expect["JointCommands clamped"] += 25

        # 3b. NaN commands answering the states: rejected, each steps under the last safe command: damping
        back_to_pose()
        for _ in range(5):
            step()
        t_nan, n_status = state_ns(), len(status)
        for _ in range(5):  # 0.1 s: past sim.damp_after_s (0.04 s)
            step(fz.bad_command("fuzz-live", ("nan",))[1], "nan")
        expect["JointCommands rejected"] += 5

        def damped() -> bool:
            return any(
                s.state.startswith("damping: no command") and stamp_to_ns(s.header.stamp) > t_nan
                for s in status[n_status:]
            )

        assert spin_until(damped), [(stamp_to_ns(s.header.stamp), s.state) for s in status[n_status:]]

        # 3c. well-formed commands: "ok", and back to the pose
        n_status = len(status)
        step()
        assert spin_until(lambda: any(s.state == "ok" for s in status[n_status:])), status[-1]
        back_to_pose()
        got = status_after(state_ns())
        for what in COUNTERS[:4]:
            assert got[what] == expect[what], (what, got, expect, kinds)
        assert "NaN/inf" in next(w for w in status[-1].warnings if "rejected" in w), status[-1].warnings
        assert not nonfinite, nonfinite
        assert worst["targets"] < LIMIT_MARGIN, (worst, worst_at)
        assert worst["fuzz"] < TORQUE_LIMIT_MARGIN, (worst, worst_at)
        assert bridge.process.poll() is None, logs()
    print(f"fuzzed: {kinds}")
    print(f"status counts: {got}; worst joint excursion past a limit {worst} rad; {n_states[0]} states")
    bridge.check_log(
        (
            "ignoring JointCommand",
            "announcement refused",
            "command rejected",
            "command clamped",
            "JointCommand out of step: stamped",
        )
    )
