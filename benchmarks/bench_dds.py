"""Benchmark: hgpt_msgs round trip between two processes over DDS (Fast DDS, loopback only).

The benchmark process publishes a RobotState (or JointCommand) on /hgpt_bench/ping and a second process,
this script with --echo, republishes it on /hgpt_bench/pong; reported: round-trip latency percentiles.
DESIGN.md §3 measured ~0.36 ms median for 1 KiB between processes on this machine kind.

Usage: python benchmarks/bench_dds.py [--n 2000] [--type RobotState|JointCommand]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import rclpy
import rclpy.serialization
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

import hgpt_msgs.msg


def echo(type_name: str) -> None:
    cls = getattr(hgpt_msgs.msg, type_name)
    rclpy.init()
    node = rclpy.create_node("hgpt_bench_echo")
    pub = node.create_publisher(cls, "/hgpt_bench/pong", 10)
    node.create_subscription(cls, "/hgpt_bench/ping", pub.publish, 10)
    print("ready", flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()  # without it, the process can hang at exit after SIGTERM
        rclpy.try_shutdown()


def bench(type_name: str, n: int) -> None:
    cls = getattr(hgpt_msgs.msg, type_name)
    peer = subprocess.Popen(
        [sys.executable, __file__, "--echo", "--type", type_name], stdout=subprocess.PIPE, text=True
    )
    try:
        assert peer.stdout.readline().strip() == "ready"
        rclpy.init()
        node = rclpy.create_node("hgpt_bench")
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        got: list[int] = []
        node.create_subscription(cls, "/hgpt_bench/pong", lambda m: got.append(m.header.stamp.nanosec), 10)
        pub = node.create_publisher(cls, "/hgpt_bench/ping", 10)
        msg = cls()
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:  # discovery
            pub.publish(msg)
            executor.spin_once(timeout_sec=0.05)
        assert got, "no echo within 30 s"
        rtt = []
        for i in range(n):
            msg.header.stamp.nanosec = i + 1
            got.clear()
            t0 = time.perf_counter()
            pub.publish(msg)
            while i + 1 not in got:
                executor.spin_once(timeout_sec=1.0)
            rtt.append(time.perf_counter() - t0)
        ms = np.array(rtt) * 1e3
        size = len(rclpy.serialization.serialize_message(msg))
        p50, p99 = np.percentile(ms, [50, 99])
        stats = f"median {p50:.3f} ms | p99 {p99:.3f} ms | max {ms.max():.3f} ms"
        print(f"| {type_name} | {size} B | n={n} | {stats} |")
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    finally:
        peer.terminate()
        try:
            peer.wait(timeout=5)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--type", default="RobotState")
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(10 + os.getpid() % 90))
    if args.echo:
        echo(args.type)
    else:
        bench(args.type, args.n)


if __name__ == "__main__":
    main()
