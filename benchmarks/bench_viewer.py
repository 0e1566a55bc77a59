"""Benchmark: the web viewer never slows the control loop. Policy step timing with and without it, one run.

The replay graph in real time (sim_bridge_node, policy_node with TWIST2 tracking from the start,
reference_player looping the bundled walk), composed in this process as ``hgpt run`` does, EventsExecutor.
Measured per control step:
  * step  - the policy step's wall time [ms] (PolicyController.tick: safety, observation, inference);
  * latency - robot state arrival -> command published [ms] (TrackingStatus.latency_ms);
  * overruns - sim ticks that came more than a period late.
Rounds alternate (off, viewer, viewer+browser, off, ...), ``--seconds`` each, so drift on a shared machine
hits every row alike. ``viewer``: ``hgpt viewer`` in its own process (as ``hgpt run --viewer``) with a
websocket client receiving every update; ``viewer+browser``: the same with a headless Chromium drawing the
page (software WebGL: the heaviest case, a browser on the robot's own computer); skipped without chromium.

Usage: python benchmarks/bench_viewer.py [--rounds 2] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "bringup"))

WS_CLIENT = """
import asyncio, sys, websockets, viser
async def main():
    uri = f"ws://127.0.0.1:{sys.argv[1]}"
    async with websockets.connect(uri, subprotocols=[f"viser-v{viser.__version__}"], max_size=None) as ws:
        while True:
            await ws.recv()
asyncio.run(main())
"""


def _serving(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Graph:
    """The teleop graph in this process, the policy step timed."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.experimental import EventsExecutor

        from hgpt_bringup.run import instantiate
        from hgpt_bringup.scenarios import scenario_nodes

        rclpy.init()
        self.ex = EventsExecutor()
        self.nodes = [instantiate(s) for s in scenario_nodes("replay", policy="twist2")]
        for n in self.nodes:
            self.ex.add_node(n)
        self.policy = next(n for n in self.nodes if n.get_name() == "policy_node")
        self.sim = next(n for n in self.nodes if n.get_name() == "sim_bridge_node")
        self.steps: list[float] = []
        self.latency: list[float] = []
        self.modes: list[int] = []
        self.track: list[float] = []  # share of TRACK steps per spin
        ctrl = self.policy.ctrl
        tick = ctrl.tick  # the control step: safety controller + observation + policy inference

        def timed(now):
            t0 = time.perf_counter()
            out = tick(now)
            self.steps.append(1e3 * (time.perf_counter() - t0))
            return out

        ctrl.tick = timed
        publish = self.policy.status_pub.publish

        def status(msg) -> None:
            self.latency.append(msg.latency_ms)
            self.modes.append(msg.mode)
            publish(msg)

        self.policy.status_pub.publish = status

    def spin(self, seconds: float) -> tuple[list[float], list[float], int]:
        """Spin ``seconds`` [s wall]; the policy steps [ms], latencies [ms] and sim overruns in that time."""
        self.steps.clear()
        self.latency.clear()
        self.modes.clear()
        over0 = self.sim.overruns
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ex.spin_once(timeout_sec=0.1)
        self.track.append(float(np.mean(np.array(self.modes) == 2)) if self.modes else 0.0)
        return list(self.steps), list(self.latency), self.sim.overruns - over0


def start_viewer(port: int, browser: bool):
    env = {**os.environ}
    procs = [
        subprocess.Popen([sys.executable, "-m", "hgpt_bringup.viewer_node", "--port", str(port)], env=env)
    ]
    t0 = time.monotonic()
    while not _serving(port) and time.monotonic() - t0 < 120:
        time.sleep(0.2)
    procs.append(subprocess.Popen([sys.executable, "-c", WS_CLIENT, str(port)], env=env))
    drv = None
    if browser:
        from browser import open_browser

        drv = open_browser(800, 600)
        drv.get(f"http://localhost:{port}")
    return procs, drv


def stop(procs, drv) -> None:
    if drv is not None:
        drv.quit()
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=8.0, help="wall seconds before the first round [s]")
    args = ap.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", "57")
    from browser import find_browser

    configs = ["off", "viewer"] + (["viewer+browser"] if find_browser() else [])
    g = Graph()
    g.spin(args.warmup)  # policy load, stand ramp, tracking
    rows: dict[str, dict[str, list]] = {c: {"step": [], "lat": [], "over": [], "track": []} for c in configs}
    for _ in range(args.rounds):
        for c in configs:
            procs, drv = ([], None) if c == "off" else start_viewer(_free_port(), c == "viewer+browser")
            if c != "off":
                g.spin(3.0)  # the page / client connected and drawing
            s, lat, over = g.spin(args.seconds)
            rows[c]["track"].append(g.track[-1])
            stop(procs, drv)
            rows[c]["step"] += s
            rows[c]["lat"] += lat
            rows[c]["over"].append(over)
    base = np.median(rows["off"]["step"])
    print(
        f"\npolicy step with and without the viewer (TWIST2, replay graph, real time, "
        f"{args.rounds} x {args.seconds} s)"
    )
    print(
        "| viewer | steps | step median [ms] | step p99 [ms] | ratio (median) | latency median [ms] | "
        "latency p99 [ms] | sim overruns | TRACK |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in configs:
        s, lat = np.array(rows[c]["step"]), np.array(rows[c]["lat"])
        print(
            f"| {c} | {len(s)} | {np.median(s):.3f} | {np.percentile(s, 99):.3f} | "
            f"{np.median(s) / base:.2f} | "
            f"{np.median(lat):.3f} | {np.percentile(lat, 99):.3f} | {sum(rows[c]['over'])} | "
            f"{100 * np.mean(rows[c]['track']):.0f} % |"
        )
    for n in g.nodes:
        g.ex.remove_node(n)
        n.destroy_node()
    g.ex.shutdown()


if __name__ == "__main__":
    main()
