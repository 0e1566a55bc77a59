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

import rclpy
import tyro
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.parameter import Parameter

from hgpt_bringup.scenarios import NodeSpec, ScenarioError, scenario_nodes


@dataclass(frozen=True)
class RunArgs:
    """Arguments of ``hgpt run`` (the launch files' arguments, plus a duration)."""

    scenario: tyro.conf.Positional[str] = "teleop"
    """teleop | replay | eval."""
    robot: str = "sim"
    """sim | real."""
    source: str = "file"
    """file | mocap | bag."""
    motion: str = ""
    """Motion file for source file (default: the bundled walking clip)."""
    policy: str = ""
    """Policy: 'zero' or a path to an exported .onnx/.pt (default: the scenario config's)."""
    lockstep: bool = False
    """Simulation advances one control step per command (sim only)."""
    duration: float = 0.0
    """Stop after this many wall-clock seconds (0 = until Ctrl-C)."""


def instantiate(spec: NodeSpec):
    """Create the node object of a spec with its parameters as overrides."""
    cls = getattr(importlib.import_module(spec.module), spec.cls)
    overrides = [Parameter(k, value=v) for k, v in spec.parameters.items()]
    return cls(parameter_overrides=overrides)


def run(args: RunArgs) -> int:
    try:
        specs = scenario_nodes(
            args.scenario, robot=args.robot, source=args.source, motion=args.motion, policy=args.policy,
            lockstep=args.lockstep,
        )  # fmt: skip
    except ScenarioError as exc:
        print(f"hgpt run: {exc}", file=sys.stderr)
        return 2
    rclpy.init()
    nodes, executor = [], MultiThreadedExecutor(num_threads=4)
    try:
        for spec in specs:
            nodes.append(instantiate(spec))
            executor.add_node(nodes[-1])
        print(f"hgpt run {args.scenario}: {', '.join(s.name for s in specs)}", flush=True)
        end = time.monotonic() + args.duration if args.duration > 0 else float("inf")
        while rclpy.ok() and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            executor.remove_node(node)
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main() -> None:
    sys.exit(run(tyro.cli(RunArgs)))


if __name__ == "__main__":
    main()
