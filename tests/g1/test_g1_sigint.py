"""Ctrl-C (SIGINT) stops g1_bridge_node cleanly at any moment (issue 15: "the bridge prints a FATAL traceback
on SIGINT"): while it runs at 500 Hz next to a simulated G1, and while armed with a live policy. Real
processes; exit status 0 and no traceback in its output. (A SIGINT in the first few hundred ms, while
CPython itself starts, gives CPython's own "Fatal Python error: init_import_site": before any node code.)"""

from __future__ import annotations

import signal

import pytest
from test_g1_bridge_ros import Probe
from test_g1_live_policy import start_bridge

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_sigint_stops_the_bridge_cleanly_at_any_moment(spawn_g1, rclpy_init, tmp_path):
    spawn_g1("sim", "-m", "hgpt_g1.sim_robot_node")
    spawn_g1("policy", "-m", "hgpt_policy.policy_node", "--ros-args", "-p", "policy:=zero")
    p = Probe(rclpy_init)
    logs = spawn_g1.logs
    try:
        running = start_bridge(spawn_g1, "bridge_running", "zero")
        assert p.spin_until(lambda: len(p.status) > 5, 60), logs()
        running.send_signal(signal.SIGINT)
        assert running.wait(timeout=30) == 0, logs()

        p.status.clear()
        armed = start_bridge(spawn_g1, "bridge_armed", "zero", "-p", "dry_run:=false")
        assert p.spin_until(lambda: p.status and p.status[-1].session_id != "", 60), logs()
        lowstate = lambda: p.status and not any("LowState" in w for w in p.status[-1].warnings)  # noqa: E731
        assert p.spin_until(lowstate, 60), logs()
        assert p.call(p.arm_client).success, logs()
        assert p.spin_until(lambda: p.state() in ("stand", "track"), 30), logs()
        armed.send_signal(signal.SIGINT)
        assert armed.wait(timeout=30) == 0, logs()
    finally:
        p.node.destroy_node()
    for name in ("bridge_running", "bridge_armed"):
        text = (tmp_path / f"{name}.log").read_text()
        assert "Traceback" not in text and "FATAL" not in text, f"{name}:\n{text[-3000:]}"
