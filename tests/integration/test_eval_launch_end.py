"""eval.launch.py ends at the clip's end with the monitor's summary (issue 15), without ``launch`` installed.

The test starts the eval scenario's nodes as ``launch_ros`` would (one process per
:func:`hgpt_bringup.scenarios.scenario_nodes` spec, ``--ros-args -r __node:=NAME --params-file``; every node
required) and checks that the tracking_monitor process exits by itself, status 0, once the clip has played,
printing its summary; its exit is what ends the launch (``on_exit=Shutdown``).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

pytestmark = [pytest.mark.ros, pytest.mark.slow]

CLIP_S = 1.0


def spawn_spec(spec, tmp_path, env) -> subprocess.Popen:
    """One node of a scenario as launch_ros starts it (parameters through a params file)."""
    params = tmp_path / f"{spec.name}.yaml"
    params.write_text(yaml.safe_dump({spec.name: {"ros__parameters": spec.parameters}}))
    cmd = [sys.executable, "-m", spec.module, "--ros-args", "-r", f"__node:={spec.name}"]
    return subprocess.Popen(
        [*cmd, "--params-file", str(params)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_eval_launch_ends_at_the_clip_end_with_the_summary(ros_env, tmp_path):
    from hgpt_bringup.scenarios import scenario_nodes
    from hgpt_core.datasets import bundled_clip_path
    from hgpt_core.formats import load_clip

    clip = load_clip(bundled_clip_path("gmt_basic_walk"))
    short = clip.slice(0, int(CLIP_S * clip.fps) + 1)
    motion = str(short.save(tmp_path / "walk1s.clip.npz"))
    summary = tmp_path / "summary.json"
    specs = scenario_nodes("eval", motion=motion, policy="zero", lockstep=True)
    monitor = next(s for s in specs if s.name == "tracking_monitor")
    assert monitor.parameters["exit_at_clip_end"] is True and monitor.parameters["motion"] == motion
    monitor.parameters["summary"] = str(summary)
    procs = {s.name: spawn_spec(s, tmp_path, ros_env) for s in specs}
    try:
        try:
            out, _ = procs["tracking_monitor"].communicate(timeout=240)
        except subprocess.TimeoutExpired:
            procs["tracking_monitor"].kill()
            out = procs["tracking_monitor"].communicate()[0]
            pytest.fail(f"the monitor did not end the eval at the clip's end:\n{out[-3000:]}")
        assert procs["tracking_monitor"].returncode == 0, out[-3000:]
        others = {n: p.poll() for n, p in procs.items() if n != "tracking_monitor"}
        assert all(rc is None for rc in others.values()), others  # the monitor ended it, nothing died
        assert f"the clip ended ({CLIP_S:.2f} s)" in out and "| tracked_steps |" in out, out[-3000:]
        s = json.loads(summary.read_text())
        assert s["states"] > 0 and s["past_clip_end"] <= 15, s  # stopped at the end (zero policy: may fall)
    finally:
        for p in procs.values():  # the launch's Shutdown: SIGINT to the other nodes
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
