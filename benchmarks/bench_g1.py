"""Benchmark: g1_bridge_node's 500 Hz command loop, as the robot sees it on the wire.

This process plays the robot: a thread publishes unitree_hg LowState at 500 Hz (absolute-deadline sleeps,
CRC filled, serialized bytes) and the main thread receives the bridge's LowCmd. Each LowState carries a
sequence number in a joint position; the damped bridge (DAMP: kp = 0, q = the measured pose) copies it into
the LowCmd, which gives the end-to-end latency LowState publish -> LowCmd receive for every state (first
command carrying it). The bridge runs as its own process, as deployed, with trigger=timer (500 Hz timer,
the default) and with trigger=state (a command right after each LowState), each under rclpy's
SingleThreadedExecutor and its EventsExecutor (the default). CPU % = the bridge process's CPU time per wall
second (100 = one core).

Rows:
  * ideal            - the 2 ms period, zero error: the baseline.
  * robot (LowState) - the period of our own LowState sender (all runs): the timing floor of this machine.
  * bridge <trigger>/<executor> - period of the LowCmds received, LowState -> LowCmd latency, CPU.
Period error = |received period - 2 ms|. The machine is shared: other load shows up in the p99.

Usage: python benchmarks/bench_g1.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from hgpt_g1.build_unitree_hg import ensure_built, unitree_hg_env

PERIOD = 0.002
LOWSTATE_TOPIC, LOWCMD_TOPIC = "/bench_g1/lowstate", "/bench_g1/lowcmd"
TAG_JOINT = 28  # right wrist yaw: its measured position carries the sequence number


def _reexec_with_unitree_hg() -> None:
    """rmw loads message libraries by name: they must be on LD_LIBRARY_PATH when the process starts."""
    try:
        import unitree_hg.msg  # noqa: F401
    except ImportError:
        if os.environ.get("HGPT_BENCH_G1_CHILD"):
            raise
        env = unitree_hg_env(ensure_built())
        env["HGPT_BENCH_G1_CHILD"] = "1"
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def tag(seq: int) -> float:
    return float(np.float32(1e-5 * (seq % 100_000)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far [s] (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(trigger: str, executor: str, seconds: float, warmup: float, meta: Path) -> dict[str, np.ndarray]:
    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from unitree_hg.msg import LowCmd, LowState

    from hgpt_core.g1 import KNEES_BENT_POSE
    from hgpt_g1.cdr import LOWCMD_CDR, LOWSTATE_CDR
    from hgpt_g1.lowlevel import command_from_lowcmd, lowstate_struct

    bridge = subprocess.Popen(
        [sys.executable, "-m", "hgpt_g1.g1_bridge_node", "--ros-args", "-p", f"policy:={meta}",
         "-p", "dry_run:=false", "-p", f"trigger:={trigger}", "-p", f"executor:={executor}",
         "-p", "status_rate_hz:=1.0", "-p", f"lowstate_topic:={LOWSTATE_TOPIC}",
         "-p", f"lowcmd_topic:={LOWCMD_TOPIC}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    rclpy.init()
    node = rclpy.create_node("bench_g1_robot")
    qos = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
    pub = node.create_publisher(LowState, LOWSTATE_TOPIC, qos)
    recv_t, recv_tag, sent = [], [], {}

    def on_lowcmd(raw: bytes) -> None:
        recv_t.append(time.perf_counter())
        recv_tag.append(float(command_from_lowcmd(LOWCMD_CDR.to_struct(raw))[0].q[TAG_JOINT]))

    node.create_subscription(LowCmd, LOWCMD_TOPIC, on_lowcmd, qos, raw=True)
    obs = {k: np.zeros(29) for k in ("dq", "ddq", "tau_est")}
    obs.update(quat=np.array([1.0, 0, 0, 0]), gyro=np.zeros(3), acc=np.array([0, 0, 9.81]), rpy=np.zeros(3))
    send_t: list[float] = []
    stop = threading.Event()

    def robot() -> None:
        t0 = time.perf_counter()
        seq = 0
        while not stop.is_set():
            seq += 1
            q = KNEES_BENT_POSE.copy()
            q[TAG_JOINT] = tag(seq)
            obs["q"] = q
            raw = LOWSTATE_CDR.to_cdr(
                lowstate_struct(obs, 0, 5, int((time.perf_counter() - t0) * 1e3), bytes(40), 40)
            )
            now = time.perf_counter()
            sent.setdefault(tag(seq), now)
            send_t.append(now)
            pub.publish(raw)
            deadline = t0 + seq * PERIOD
            while (left := deadline - time.perf_counter()) > 0:
                time.sleep(min(left, 0.0005) if left > 0.0007 else 0)
            if -left > PERIOD:  # starved by the machine: skip the missed periods rather than burst
                t0 += -left

    thread = threading.Thread(target=robot, daemon=True)
    try:
        end_discovery = time.perf_counter() + 60
        thread.start()
        while not recv_t and time.perf_counter() < end_discovery:
            rclpy.spin_once(node, timeout_sec=0.01)
        if not recv_t:
            raise SystemExit(f"no LowCmd from g1_bridge_node (trigger={trigger}) within 60 s")
        t_start = time.perf_counter() + warmup
        while time.perf_counter() < t_start:
            rclpy.spin_once(node, timeout_sec=0.01)
        cpu0 = cpu_seconds(bridge.pid)
        while time.perf_counter() < t_start + seconds:
            rclpy.spin_once(node, timeout_sec=0.01)
        cpu = (cpu_seconds(bridge.pid) - cpu0) / (time.perf_counter() - t_start)
    finally:
        stop.set()
        thread.join()
        node.destroy_node()
        rclpy.try_shutdown()
        bridge.terminate()
        bridge.wait(timeout=10)
    rt, tags, st = np.array(recv_t), np.array(recv_tag), np.array(send_t)
    keep, skeep = rt >= t_start, st >= t_start
    first: dict[float, float] = {}
    for t, q in zip(rt[keep], tags[keep], strict=True):
        first.setdefault(float(np.float32(q)), t)
    lat = np.array([t - sent[q] for q, t in first.items() if q in sent])
    return {"cmd_period": np.diff(rt[keep]), "state_period": np.diff(st[skeep]), "latency": lat, "cpu": cpu}


def row(name: str, period: np.ndarray | None, latency: np.ndarray | None, cpu: float | None = None) -> str:
    def ms(x: float) -> str:
        return f"{1e3 * x:8.3f}"

    if period is None:
        cells = [f"{'-':>7}", ms(PERIOD), ms(0.0), ms(0.0), ms(0.0)]
    else:
        err = np.abs(period - PERIOD)
        cells = [f"{1.0 / period.mean():7.1f}", ms(np.median(period))]
        cells += [ms(np.median(err)), ms(np.percentile(err, 99)), ms(err.max())]
    if latency is None or latency.size == 0:
        cells += [f"{'-':>8}"] * 3
    else:
        cells += [ms(np.median(latency)), ms(np.percentile(latency, 99)), ms(latency.max())]
    cells.append(f"{'-':>5}" if cpu is None else f"{100 * cpu:5.0f}")
    return f"| {name:<20} | " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 s per mode instead of 15 s")
    args = ap.parse_args()
    # Never near a real robot: loopback discovery, a private domain, topics of its own (it sends LowCmd).
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("HGPT_BENCH_G1_DOMAIN", str(120 + os.getpid() % 100))
    os.environ["ROS_DOMAIN_ID"] = os.environ["HGPT_BENCH_G1_DOMAIN"]
    _reexec_with_unitree_hg()
    from hgpt_core.policy_meta import PolicyMetadata

    seconds = 3.0 if args.quick else 15.0
    with tempfile.TemporaryDirectory() as tmp:
        meta = Path(tmp) / "policy.json"
        meta.write_text(PolicyMetadata("bench").to_json())
        modes = [(t, e) for e in ("single", "events") for t in ("timer", "state")]
        results = {f"{t}/{e}": measure(t, e, seconds, warmup=1.5, meta=meta) for t, e in modes}
    load = os.getloadavg()[0]
    print(
        f"g1_bridge_node: {seconds:.0f} s per mode after 1.5 s warm-up; times in ms; load average {load:.1f}"
    )
    cols = ["row".ljust(20), "rate Hz", "period".rjust(8)]
    cols += [c.ljust(8) for c in ("err med.", "err p99", "err max", "lat med.", "lat p99", "lat max")] + [
        "CPU %"
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("-" * (len(c) + 2) for c in cols) + "|")
    print(row("ideal (baseline)", None, np.zeros(1)))
    print(row("robot (LowState)", np.concatenate([r["state_period"] for r in results.values()]), None))
    for mode, r in results.items():
        print(row(f"bridge {mode}", r["cmd_period"], r["latency"], r["cpu"]))


if __name__ == "__main__":
    main()
