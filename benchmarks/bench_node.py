"""Benchmark: the policy node's own cost and its end-to-end latency, against baselines in the same run.

In process (no ROS): per control step,
  * runtime.step    - the policy alone (ONNX Runtime, 1 thread): the baseline;
  * controller.tick - what policy_node runs per state: guards + token build (hgpt_core.build_obs) + step
                      + clamps. "overhead" = tick - step.
Over DDS (two processes, loopback): RobotState published -> JointCommand received,
  * echo            - benchmarks/bench_dds.py --echo republishing the message: the transport baseline;
  * policy_node     - trigger=state, same policy; "node" = policy_node - echo.

Targets (issue 8): node overhead <= 0.5 ms. Usage: python benchmarks/bench_node.py [--n 500] [--size S|tiny]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hgpt_core.g1 import KNEES_BENT_POSE
from hgpt_policy.config import gpt_config
from hgpt_policy.controller import Mode, PolicyController, ReferenceSample, RobotSample
from hgpt_policy.export import export_policy
from hgpt_policy.loader import load_tracking_policy
from hgpt_policy.model import build_policy, make_metadata

TINY = {"n_layer": 2, "n_embd": 32, "n_head": 2, "mlp_hidden": 64}


def export(size: str, out: Path) -> Path:
    torch.manual_seed(0)
    cfg = gpt_config("S", "sliding_kv", **(TINY if size == "tiny" else {}))
    return export_policy(build_policy(cfg), make_metadata(cfg, f"gpt_{size}_untrained"), out, size)["kv_step"]


def pct(x: list[float]) -> tuple[float, float]:
    a = np.asarray(x) * 1e3
    return float(np.median(a)), float(np.percentile(a, 99))


def in_process(onnx: Path, n: int) -> dict[str, list[float]]:
    policy = load_tracking_policy(str(onnx))
    ctrl = PolicyController(policy)
    q = KNEES_BENT_POSE.copy()
    up = np.array([1.0, 0, 0, 0])
    z3 = np.zeros(3)
    ref = ReferenceSample(np.array([0, 0, 0.76]), up, z3, z3, q.copy(), np.zeros(29), 0.0)
    t = 0.0
    ctrl.on_state(RobotSample(q, np.zeros(29), up, z3, t))
    ctrl.set_mode(Mode.STAND)
    for _ in range(120):  # through the stand ramp into TRACK
        t += 0.02
        ctrl.on_state(RobotSample(q, np.zeros(29), up, z3, t))
        ref.stamp = t
        ctrl.on_reference(ref)
        ctrl.tick(t)
        ctrl.set_mode(Mode.TRACK)
    tick, step = [], []
    token = np.zeros(policy.meta.obs_size, dtype=np.float32)
    for _ in range(n):
        t += 0.02
        ctrl.on_state(RobotSample(q, np.zeros(29), up, z3, t))
        ref.stamp = t
        ctrl.on_reference(ref)
        t0 = time.perf_counter()
        cmd, _ = ctrl.tick(t)
        tick.append(time.perf_counter() - t0)
        assert cmd.mode == Mode.TRACK
        t0 = time.perf_counter()
        policy.runtime.step(token)
        step.append(time.perf_counter() - t0)
    return {"runtime.step": step, "controller.tick": tick}


def round_trip(args: list[str], n: int) -> list[float]:
    """Publish RobotState, wait for the answer on /hgpt/joint_command or the echo topic."""
    import rclpy
    from builtin_interfaces.msg import Time
    from rclpy.executors import SingleThreadedExecutor

    from hgpt_msgs.msg import JointCommand, MotionReference, RobotState

    peer = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rclpy.init()
    node = rclpy.create_node("bench_node_probe")
    echo = "--echo" in args
    pub = node.create_publisher(RobotState, "/hgpt_bench/ping" if echo else "/hgpt/robot_state", 10)
    ref_pub = node.create_publisher(MotionReference, "/hgpt/reference", 10)
    got: list[float] = []
    cls, topic = (RobotState, "/hgpt_bench/pong") if echo else (JointCommand, "/hgpt/joint_command")
    node.create_subscription(cls, topic, lambda _m: got.append(time.perf_counter()), 10)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    msg = RobotState()
    msg.q, msg.imu_orientation.w = KNEES_BENT_POSE, 1.0
    ref = MotionReference(valid=True)
    ref.joint_positions, ref.root_orientation.w, ref.root_position.z = KNEES_BENT_POSE, 1.0, 0.76
    lat: list[float] = []
    try:
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:  # discovery + the stand ramp
            ref_pub.publish(ref)
            pub.publish(msg)
            ex.spin_once(timeout_sec=0.02)
        for i in range(n + 150):
            # A new stamp per step: in trigger=state mode policy_node re-sends (does not recompute) the
            # command of a state whose stamp it already answered.
            stamp = Time(sec=1 + i // 50, nanosec=(i % 50) * 20_000_000)
            msg.header.stamp = ref.header.stamp = stamp
            ref_pub.publish(ref)
            before = len(got)
            t0 = time.perf_counter()
            pub.publish(msg)
            while len(got) == before and time.perf_counter() - t0 < 1.0:
                ex.spin_once(timeout_sec=0.001)
            if i >= 150 and len(got) > before:  # skip warm-up and the stand ramp
                lat.append(got[-1] - t0)
            time.sleep(0.002)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        peer.terminate()
        peer.wait()
    return lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--size", choices=("S", "tiny"), default="S")
    ap.add_argument("--quick", action="store_true", help="tiny model, 100 steps")
    a = ap.parse_args()
    size, n = ("tiny", 100) if a.quick else (a.size, a.n)
    # One loopback-only DDS domain for this process and the peers it starts.
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(10 + os.getpid() % 90))
    with tempfile.TemporaryDirectory() as tmp:
        onnx = export(size, Path(tmp))
        rows = in_process(onnx, n)
        bench_dds = str(Path(__file__).with_name("bench_dds.py"))
        rows["dds echo"] = round_trip([bench_dds, "--echo", "--type", "RobotState"], n)
        node_args = ["-m", "hgpt_policy.policy_node", "--ros-args", "-p", f"policy:={onnx}"]
        node_args += ["-p", "trigger:=state", "-p", "start_mode:=track", "-p", "safety.stand_ramp_s:=0.5"]
        rows["policy_node"] = round_trip(node_args, n)
    base = {"controller.tick": "runtime.step", "policy_node": "dds echo"}
    print(f"policy: GPT-{size} sliding_kv (untrained), ONNX Runtime CPU 1 thread; {n} steps\n")
    print("| path            | median ms | p99 ms | vs baseline          | extra median ms |")
    print("|-----------------|----------:|-------:|----------------------|----------------:|")
    for name, lat in rows.items():
        med, p99 = pct(lat)
        if name in base:
            bmed, _ = pct(rows[base[name]])
            cmp, extra = f"{med / bmed:.2f}x {base[name]}", f"{med - bmed:.3f}"
        else:
            cmp, extra = "baseline", "-"
        print(f"| {name:<15} | {med:9.3f} | {p99:6.3f} | {cmp:<20} | {extra:>15} |")


if __name__ == "__main__":
    main()
