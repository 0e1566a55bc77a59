"""Launch descriptions of the scenarios for real ROS 2 installs (launch / launch_ros are not on PyPI).

Thin on purpose: the node list and parameters come from :func:`hgpt_bringup.scenarios.scenario_nodes`,
which the tests check for every argument combination. record:=true adds `ros2 bag record` of the graph's
topics; rviz:=true starts RViz.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hgpt_bringup.scenarios import RECORD_TOPICS, scenario_nodes

ARGS = {
    "robot": "sim",
    "source": "file",
    "motion": "",
    "policy": "",
    "lockstep": "false",
    "record": "false",
    "rviz": "false",
}


def _nodes(context, scenario: str):
    arg = {k: LaunchConfiguration(k).perform(context) for k in ARGS}
    specs = scenario_nodes(
        scenario,
        robot=arg["robot"],
        source=arg["source"],
        motion=arg["motion"],
        policy=arg["policy"],
        lockstep=arg["lockstep"] == "true",
    )
    actions = [
        Node(
            package=s.package,
            executable=s.executable,
            name=s.name,
            parameters=[s.parameters],
            output="screen",
        )
        for s in specs
    ]
    if arg["record"] == "true":
        cmd = ["ros2", "bag", "record", "-s", "mcap", *RECORD_TOPICS]  # the format hgpt bag reads and writes
        actions.append(ExecuteProcess(cmd=cmd, output="screen"))
    if arg["rviz"] == "true":
        actions.append(Node(package="rviz2", executable="rviz2", output="screen"))
    return actions


def make_launch_description(scenario: str) -> LaunchDescription:
    """Launch arguments + the scenario's nodes (resolved when the arguments are known)."""
    args = [DeclareLaunchArgument(k, default_value=v) for k, v in ARGS.items()]
    return LaunchDescription(args + [OpaqueFunction(function=_nodes, args=[scenario])])
