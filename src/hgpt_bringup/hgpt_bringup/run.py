"""``hgpt run SCENARIO``: the scenario's nodes composed in one process (no ROS install needed).

The same node classes and parameters as the launch files (:func:`hgpt_bringup.scenarios.scenario_nodes`),
spun by one MultiThreadedExecutor on the pip-installed rclpy. Example:

  hgpt run teleop --robot sim --source file --motion path/to/clip.clip.npz --policy policy.onnx --duration 20
"""

from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass
from typing import Literal

import rclpy
import tyro
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.parameter import Parameter

from hgpt_bringup.monitor import (
    MonitorSummary,
    clip_duration,
    make_monitor_node,
    references_stopped_message,
    write_summary,
)
from hgpt_bringup.scenarios import REFERENCE_GAP_END_S, NodeSpec, ScenarioError, scenario_nodes
from hgpt_core.errors import HgptError


@dataclass(frozen=True)
class RunArgs:
    """Arguments of hgpt run (the launch files' arguments, plus a duration)."""

    scenario: tyro.conf.Positional[str] = "teleop"
    """teleop | replay | eval."""
    robot: str = "sim"
    """sim | real."""
    source: str = "file"
    """file | mocap | bag."""
    motion: str = ""
    """Motion file for source file (default: the bundled walking clip)."""
    fps: float = 0.0
    """Frame rate [Hz] of a CSV motion (CSV stores none; 0: its sidecar <file>.csv.json or the shared-data
    catalogue, else an error saying to pass --fps)."""
    stop_at_clip_end: bool = True
    """Stop when a non-looping clip (source file) has played to its end: the monitor scores the span
    hgpt eval scores."""
    policy: str = ""
    """Policy: 'hgpt' (bundled Humanoid-GPT), 'twist2' or 'twist2:<file.onnx>', 'zero' (hold the default
    pose), or a path to an exported .onnx/.pt (default: the scenario config's)."""
    lockstep: bool = False
    """Simulation advances one control step per command (sim only)."""
    duration: float = 0.0
    """Stop after this many wall-clock seconds (0 = until Ctrl-C)."""
    record: bool = False
    """Record the graph's topics (RECORD_TOPICS) into a rosbag2 mcap bag (see docs/bags.md)."""
    record_out: str = ""
    """Bag folder for --record (default rosbag2_<date-time>; an existing one is refused)."""
    sim_seconds: float = 0.0
    """Stop once the robot state reaches this time [s] (simulation time with robot sim; 0 = no limit)."""
    summary: str = ""
    """Write the tracking monitor's summary (JSON) here when the run stops."""
    viewer: bool = False
    """Open the live 3D web viewer (robot + reference ghost, docs/viewer.md) in its own process, at a lower
    CPU priority: http://localhost:<viewer-port>."""
    viewer_port: int = 8080
    """Port of --viewer (local only)."""
    executor: Literal["events", "single", "multi"] = "events"
    """events (rclpy's EventsExecutor, C++ event queue; fastest) | single (SingleThreadedExecutor) | multi
    (MultiThreadedExecutor, 4 threads: measured 0.5x real time on 2 cores, the GIL and thread hand-offs)."""


def instantiate(spec: NodeSpec):
    """Create the node object of a spec with its parameters as overrides."""
    from hgpt_ros.diagnostics import attach_diagnostics

    cls = getattr(importlib.import_module(spec.module), spec.cls)
    overrides = [Parameter(k, value=v) for k, v in spec.parameters.items()]
    node = cls(parameter_overrides=overrides)
    attach_diagnostics(node)  # /diagnostics, as the node's own process would (run_node)
    return node


def report(summary: MonitorSummary, path: str) -> None:
    """Print the monitor's summary; write it as JSON to ``path`` when given."""
    print("\ntracking monitor (joint errors over the TRACK steps):\n" + summary.table(), flush=True)
    if path:
        write_summary(summary, path)
        print(f"summary: {path}", flush=True)


def make_executor(kind: str):
    """The executor that spins every node of the run."""
    if kind == "multi":
        return MultiThreadedExecutor(num_threads=4)
    if kind == "single":
        return SingleThreadedExecutor()
    if kind == "events":
        from rclpy.experimental import EventsExecutor

        return EventsExecutor()
    raise ScenarioError(f"executor {kind!r} is not valid; valid values: multi, single, events")


def clip_seconds(specs: list[NodeSpec]) -> float | None:
    """Playing time [s] of the reference_player's clip (None: no player, or it loops)."""
    player = next((s for s in specs if s.name == "reference_player"), None)
    if player is None or player.parameters.get("loop", False):
        return None
    p = player.parameters
    return clip_duration(p["motion"], p.get("fps") or 0.0, p.get("speed", 1.0))


def csv_rate(motion: str, fps: float) -> float:
    """A CSV motion's frame rate: ``fps``, else its sidecar or the catalogue (raises if none); 0 otherwise."""
    if fps or not motion.lower().endswith(".csv"):
        return fps
    from hgpt_core.datasets import csv_fps

    return csv_fps(motion)


def start_viewer(port: int):
    """The viewer node in its own process (hgpt_bringup.viewer_node): no GIL shared with the control loop."""
    import subprocess

    cmd = [sys.executable, "-m", "hgpt_bringup.viewer_node", "--port", str(port)]
    print(f"viewer: http://localhost:{port} (starting)", flush=True)
    return subprocess.Popen(cmd, preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    """Linux: the viewer gets SIGTERM when this process dies (a SIGKILL/SIGTERM of hgpt run leaves none)."""
    import contextlib
    import ctypes
    import signal

    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_viewer(proc) -> None:
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(args: RunArgs) -> int:
    try:
        fps = csv_rate(args.motion, args.fps) if args.source == "file" else args.fps
        specs = scenario_nodes(
            args.scenario, robot=args.robot, source=args.source, motion=args.motion, policy=args.policy,
            lockstep=args.lockstep, record=args.record, record_out=args.record_out, fps=fps,
        )  # fmt: skip
        specs = [s for s in specs if s.name != "tracking_monitor"]  # the launch files' one: ours is below
        end_s = clip_seconds(specs) if args.stop_at_clip_end else None
    except (HgptError, ValueError, FileNotFoundError) as exc:
        print(f"hgpt run: {exc}", file=sys.stderr)
        return 2
    viewer = start_viewer(args.viewer_port) if args.viewer else None
    rclpy.init()
    nodes, executor = [], make_executor(args.executor)
    monitor = None
    try:
        for spec in specs:
            try:
                nodes.append(instantiate(spec))
            except (HgptError, ValueError, OSError) as exc:  # a missing/corrupt policy or clip: one line
                print(f"hgpt run: {spec.name}: {exc}", file=sys.stderr)
                return 2
            executor.add_node(nodes[-1])
        monitor = make_monitor_node(end_s)
        from hgpt_ros.diagnostics import attach_diagnostics

        attach_diagnostics(monitor)
        nodes.append(monitor)
        executor.add_node(monitor)
        print(f"hgpt run {args.scenario}: {', '.join(s.name for s in specs)}", flush=True)
        end = time.monotonic() + args.duration if args.duration > 0 else float("inf")
        sim_end = args.sim_seconds if args.sim_seconds > 0 else float("inf")
        core = monitor.core
        while rclpy.ok() and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
            if core.states and core.t_last - core.t_first >= sim_end:
                break
            if core.clip_ended:
                print(f"the clip ended ({end_s:.2f} s)", flush=True)
                break
            if args.source == "bag" and core.references_stopped(REFERENCE_GAP_END_S):
                print(references_stopped_message(core, REFERENCE_GAP_END_S), flush=True)
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if monitor is not None:
            report(monitor.core.summary(), args.summary)
        for node in nodes:
            executor.remove_node(node)
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
        if viewer is not None:
            stop_viewer(viewer)
    return 0


def main() -> None:
    sys.exit(run(tyro.cli(RunArgs)))


if __name__ == "__main__":
    main()
