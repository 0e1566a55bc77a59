"""/diagnostics from every node of the graph, on real processes (issue 17).

The teleop graph in lock-step as separate processes (each node's own executable, as a launch file starts
them: sim_bridge_node, policy_node, reference_player, tracking_monitor; plus mocap_source + retarget_node
from a human file): every node publishes diagnostic_msgs/DiagnosticArray on /diagnostics with its outputs'
rates and its own state: the policy's id and metadata id, the simulator's status, the clip, the stream.
"""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _collect(rclpy, want: set[str], timeout: float, procs) -> dict[str, dict]:
    """Spin a probe on /diagnostics until every node in ``want`` reported an aspect beyond ``outputs``, the
    policy tracks, the monitor is fed and the simulator has stepped."""
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor

    node = rclpy.create_node("diagnostics_probe")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    seen: dict[str, dict] = {}

    def on_diag(msg: DiagnosticArray) -> None:
        for st in msg.status:
            seen[st.name] = {
                "level": st.level[0] if isinstance(st.level, bytes) else st.level,
                "message": st.message,
                "hardware_id": st.hardware_id,
                **{kv.key: kv.value for kv in st.values},
            }

    node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)

    def done() -> bool:
        nodes = {name.split(":")[0] for name in seen if not name.endswith(": outputs")}
        monitor_fed = int(seen.get("tracking_monitor: tracking", {}).get("states", "0")) > 0
        # the simulator's own report after it stepped (its first one, at sim time 0, can arrive after the
        # monitor's first state: diagnostics are periodic)
        sim_stepped = float(seen.get("sim_bridge_node: simulator", {}).get("sim time [s]", "0")) > 0
        return want <= nodes and _policy_tracking(seen) and monitor_fed and sim_stepped

    end = time.monotonic() + timeout
    while time.monotonic() < end and not done():
        ex.spin_once(timeout_sec=0.1)
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, f"a node exited: {dead[0].args}\n{dead[0].stdout.read()[-3000:]}"
    ex.shutdown()
    node.destroy_node()
    return seen


def _policy_tracking(seen: dict[str, dict]) -> bool:
    st = seen.get("policy_node: policy")
    return st is not None and st.get("status mode") == "2"


def test_every_node_publishes_diagnostics(spawn_python, rclpy_init):
    from hgpt_core.datasets import bundled_clip_path
    from hgpt_policy.loader import load_tracking_policy
    from hgpt_ros.diagnostics import metadata_id

    human = bundled_clip_path().parent / "human"
    bvh = next(iter(sorted(human.glob("*.bvh"))), None)
    sim = ["-p", "use_sim_time:=true"]
    procs = [
        # on the gantry: the zero policy would tip over (and latch a fall fault) before the probe reads TRACK
        spawn_python(
            "-m", "hgpt_sim.sim_bridge_node", "--ros-args", "-p", "mode:=lockstep", "-p", "sim.gantry:=true"
        ),
        spawn_python(
            "-m", "hgpt_policy.policy_node", "--ros-args", "-p", "policy:=zero", "-p", "trigger:=state",
            "-p", "start_mode:=track", "-p", "reference_wait_s:=1.0", "-p", "safety.stand_ramp_s:=0.1", *sim,
        ),
        spawn_python(
            "-m", "hgpt_retarget.reference_player_node", "--ros-args", "-p", "sync:=clock",
            "-p", f"motion:={bundled_clip_path()}", "-p", "loop:=true", *sim,
        ),
        spawn_python("-m", "hgpt_bringup.monitor", "--ros-args", *sim),
    ]  # fmt: skip
    want = {"sim_bridge_node", "policy_node", "reference_player", "tracking_monitor"}
    if bvh is not None:  # the live path too: a human file through mocap_source -> retarget_node
        procs += [
            spawn_python("-m", "hgpt_retarget.mocap_source_node", "--ros-args", "-p", f"source:={bvh}"),
            spawn_python("-m", "hgpt_retarget.retarget_node", "--ros-args", "-p", "rate_hz:=20.0"),
        ]
        want |= {"mocap_source", "retarget_node"}
    seen = _collect(rclpy_init, want, 120, procs)
    nodes = {name.split(":")[0] for name in seen}
    assert want <= nodes, f"no /diagnostics from {sorted(want - nodes)}; seen {sorted(seen)}"

    pol = seen["policy_node: policy"]
    meta = load_tracking_policy("zero").meta
    assert pol["policy_id"] == meta.policy_id and pol["hardware_id"] == "policy"
    assert pol["metadata_id"] == metadata_id(meta.to_json())
    assert pol["status mode"] == "2", pol  # TRACK, read from its own /hgpt/status
    assert int(pol["overruns"]) >= 0 and pol["session_id"]
    out = seen["policy_node: outputs"]
    assert float(out["/hgpt/joint_command rate [Hz]"]) > 0 and int(out["/hgpt/joint_command count"]) > 0
    assert out["level"] == 0, out

    simd = seen["sim_bridge_node: simulator"]
    assert simd["mode"] == "lockstep" and float(simd["sim time [s]"]) > 0 and simd["session"]
    assert float(seen["sim_bridge_node: outputs"]["/hgpt/robot_state rate [Hz]"]) > 0
    assert seen["reference_player: reference"]["clip"], seen["reference_player: reference"]
    mon = seen["tracking_monitor: tracking"]
    assert int(mon["states"]) > 0, mon
    if bvh is not None:
        assert int(seen["mocap_source: stream"]["published"]) > 0
        assert "retarget_node: retargeting" in seen
        assert float(seen["retarget_node: outputs"]["/hgpt/reference rate [Hz]"]) > 0
