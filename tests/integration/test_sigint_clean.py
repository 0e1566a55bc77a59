"""Ctrl-C (SIGINT, also what a launch sends on shutdown) stops every hgpt node cleanly once it runs: exit
status 0, no traceback, no FATAL line (issue 15: the G1 bridge printed "[FATAL] Exception in 'subscriptions'
callback" + a traceback; the bridge's own test is tests/g1/test_g1_sigint.py). Real processes, each with
its timers running (its /diagnostics seen), then SIGINT after a seeded random delay so the signal lands at
different points of its callbacks. (A SIGINT while CPython itself starts gives CPython's own "Fatal Python
error: init_import_site", before any node code: the test waits for the node first.)"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

NODES = {  # module: (node name, ROS arguments)
    "hgpt_g1.sim_robot_node": ("g1_sim_robot", []),
    "hgpt_sim.sim_bridge_node": ("sim_bridge_node", ["-p", "sim.gantry:=true"]),
    "hgpt_retarget.retarget_node": ("retarget_node", []),
    "hgpt_retarget.reference_player_node": ("reference_player", ["-p", "motion:={clip}", "-p", "loop:=true"]),
    "hgpt_retarget.mocap_source_node": ("mocap_source", ["-p", "source:=udp://127.0.0.1:0"]),
    "hgpt_policy.policy_node": ("policy_node", ["-p", "policy:=zero"]),
}
ROUNDS = 3  # SIGINTs per node, each at another moment


@pytest.mark.parametrize("module", list(NODES))
def test_sigint_stops_the_node_cleanly(module, ros_env, rclpy_init, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor

    from hgpt_core.datasets import bundled_clip_path

    name, ros_args = NODES[module]
    env = ros_env
    if module.startswith("hgpt_g1"):  # the simulated G1 speaks unitree_hg
        from hgpt_g1.build_unitree_hg import ensure_built, unitree_hg_env

        env = unitree_hg_env(ensure_built(), ros_env)
    args = [a.format(clip=bundled_clip_path()) for a in ros_args]
    probe = rclpy_init.create_node("sigint_probe")
    ex = SingleThreadedExecutor()
    ex.add_node(probe)
    seen: set[str] = set()
    probe.create_subscription(
        DiagnosticArray, "/diagnostics", lambda m: seen.update(s.name.split(":")[0] for s in m.status), 50
    )
    rng = random.Random(f"sigint {module}")
    try:
        for k in range(ROUNDS):
            log = tmp_path / f"{name}_{k}.log"
            with open(log, "w") as out:
                cmd = [sys.executable, "-m", module, "--ros-args", *args]
                proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
            try:
                seen.clear()
                end = time.monotonic() + 90
                while name not in seen and proc.poll() is None and time.monotonic() < end:
                    ex.spin_once(timeout_sec=0.05)
                assert name in seen and proc.poll() is None, f"{module} did not come up:\n{log.read_text()}"
                time.sleep(rng.uniform(0.0, 0.5))
                proc.send_signal(signal.SIGINT)
                rc = proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            text = log.read_text()
            assert rc == 0, f"{module}: exit {rc}\n{text[-3000:]}"
            assert "Traceback" not in text and "FATAL" not in text, f"{module}:\n{text[-3000:]}"
    finally:
        ex.shutdown()
        probe.destroy_node()
