"""Launch descriptions of the scenarios for real ROS 2 installs (launch / launch_ros are not on PyPI).

Thin on purpose: the node list and parameters come from :func:`hgpt_bringup.scenarios.scenario_nodes`,
which the tests check for every argument combination. Booleans are case-insensitive (true/false/1/0, else
refused). Every graph node is required: one that exits ends the launch. record:=true adds `ros2 bag record`
of the graph's topics when rosbag2 is installed, else the project's bag_recorder node; rviz:=true starts RViz;
viewer:=true the live web viewer (docs/viewer.md, viewer_port:=8080).
"""

import shutil

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hgpt_bringup.scenarios import RECORD_TOPICS, parse_bool, scenario_nodes


def rosbag2_available() -> bool:
    """`ros2 bag record` can run: the ros2 CLI and rosbag2's Python API are installed."""
    try:
        import rosbag2_py  # noqa: F401
    except ImportError:
        return False
    return shutil.which("ros2") is not None


ARGS = {
    "robot": "sim",
    "source": "file",
    "motion": "",
    "policy": "",
    "lockstep": "false",
    "record": "false",
    "rviz": "false",
    "viewer": "false",
    "viewer_port": "8080",
}


def _nodes(context, scenario: str):
    arg = {k: LaunchConfiguration(k).perform(context) for k in ARGS}
    record = parse_bool(arg["record"], "record")
    native_record = record and rosbag2_available()
    specs = scenario_nodes(
        scenario,
        robot=arg["robot"],
        source=arg["source"],
        motion=arg["motion"],
        policy=arg["policy"],
        lockstep=parse_bool(arg["lockstep"], "lockstep"),
        record=record and not native_record,  # the project's recorder when rosbag2 is absent
    )
    actions = [
        Node(
            package=s.package,
            executable=s.executable,
            name=s.name,
            parameters=[s.parameters],
            output="screen",
            # a graph node that dies ends the launch (the recorder too: a bag without its metadata is lost)
            on_exit=Shutdown(reason=f"required node {s.name} exited"),
        )
        for s in specs
    ]
    if native_record:
        cmd = ["ros2", "bag", "record", "-s", "mcap", *RECORD_TOPICS]  # the format hgpt bag reads and writes
        actions.append(ExecuteProcess(cmd=cmd, output="screen"))
    if parse_bool(arg["viewer"], "viewer"):  # the live web viewer (docs/viewer.md), not a required node
        actions.append(
            Node(
                package="hgpt_bringup",
                executable="viewer",
                name="viewer",
                parameters=[{"port": int(arg["viewer_port"])}],
                output="screen",
            )
        )
    if parse_bool(arg["rviz"], "rviz"):
        actions += rviz_actions()
    return actions


def rviz_actions() -> list:
    """robot_state_publisher with the G1 URDF (hgpt_bringup.robot_description, from the shipped MJCF) and
    RViz with config/g1.rviz; the reference markers come from the viewer node (viewer:=true)."""
    from hgpt_bringup.robot_description import g1_urdf
    from hgpt_bringup.scenarios import config_dir

    return [
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            parameters=[{"robot_description": g1_urdf()}],
            output="screen",
        ),
        Node(
            package="rviz2",
            executable="rviz2",
            arguments=["-d", str(config_dir() / "g1.rviz")],
            output="screen",
        ),
    ]


def make_launch_description(scenario: str) -> LaunchDescription:
    """Launch arguments + the scenario's nodes (resolved when the arguments are known)."""
    args = [DeclareLaunchArgument(k, default_value=v) for k, v in ARGS.items()]
    return LaunchDescription(args + [OpaqueFunction(function=_nodes, args=[scenario])])
