"""scenario_nodes: the node list and parameters for every argument combination; bad arguments rejected."""

import ast
import itertools
from pathlib import Path

import pytest

from hgpt_bringup.scenarios import ROBOTS, SCENARIOS, SOURCES, ScenarioError, load_config, scenario_nodes

LAUNCH = Path(__file__).parents[2] / "src/hgpt_bringup/launch"


@pytest.mark.parametrize("scenario,robot,source", list(itertools.product(SCENARIOS, ROBOTS, SOURCES)))
def test_every_combination(scenario, robot, source):
    if scenario == "eval" and robot == "real":
        with pytest.raises(ScenarioError, match="valid values for robot: sim"):
            scenario_nodes(scenario, robot=robot, source=source)
        return
    specs = {s.name: s for s in scenario_nodes(scenario, robot=robot, source=source, policy="p.onnx")}
    bridge = "sim_bridge_node" if robot == "sim" else "g1_bridge_node"
    extra = {"file": {"reference_player"}, "mocap": {"mocap_source", "retarget_node"}}.get(source, set())
    expected = {bridge, "policy_node"} | extra | ({"tracking_monitor"} if scenario == "eval" else set())
    assert set(specs) == expected
    assert specs["policy_node"].parameters["policy"] == "p.onnx"
    if robot == "sim":
        assert specs["policy_node"].parameters["use_sim_time"] is True
        assert specs["sim_bridge_node"].parameters["mode"] == "realtime"
    else:
        assert "use_sim_time" not in specs["policy_node"].parameters
    if source == "file":
        assert specs["reference_player"].parameters["motion"].endswith(".clip.npz")  # bundled default
    if source == "mocap":
        assert specs["mocap_source"].parameters["source"] == "udp://0.0.0.0:9870"  # from the config
        assert specs["retarget_node"].parameters["skeleton"] == ""


def test_mocap_source_plays_a_human_file_and_nodes_exist():
    import importlib

    specs = {s.name: s for s in scenario_nodes("teleop", source="mocap", motion="/data/walk.bvh")}
    assert specs["mocap_source"].parameters["source"] == "/data/walk.bvh"
    assert specs["mocap_source"].parameters["use_sim_time"] is True
    for name in ("mocap_source", "retarget_node"):
        spec = specs[name]
        assert hasattr(importlib.import_module(spec.module), spec.cls)
        setup = (Path(__file__).parents[2] / "src" / spec.package / "setup.py").read_text()
        assert f"{spec.executable} = {spec.module}:main" in setup


def test_lockstep_and_overrides(tmp_path):
    specs = {s.name: s for s in scenario_nodes("eval", motion="/x/clip.csv", lockstep=True)}
    assert specs["sim_bridge_node"].parameters["mode"] == "lockstep"
    assert specs["policy_node"].parameters["trigger"] == "state"
    assert specs["policy_node"].parameters["reference_wait_s"] > 0  # waits for the reference of each state
    assert specs["reference_player"].parameters["sync"] == "clock"  # one frame per simulation step
    assert specs["reference_player"].parameters["motion"] == "/x/clip.csv"
    assert specs["reference_player"].parameters["loop"] is False  # from config/eval.yaml
    cfg = tmp_path / "c.yaml"
    cfg.write_text("policy_node:\n  ros__parameters:\n    policy: mine.onnx\n")
    specs = {s.name: s for s in scenario_nodes("teleop", config=cfg)}
    assert specs["policy_node"].parameters["policy"] == "mine.onnx"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"scenario": "dance"}, "teleop, replay, eval"),
        ({"robot": "hardware"}, "sim, real"),
        ({"source": "kinect"}, "file, mocap, bag"),
        ({"robot": "real", "lockstep": True}, "robot:=sim"),
    ],
)
def test_bad_arguments_list_valid_values(kwargs, match):
    with pytest.raises(ScenarioError, match=match):
        scenario_nodes(**kwargs)


def test_config_files_name_known_nodes(tmp_path):
    for s in SCENARIOS:
        assert "policy_node" in load_config(s)
    bad = tmp_path / "bad.yaml"
    bad.write_text("planner_node:\n  ros__parameters: {}\n")
    with pytest.raises(ScenarioError, match="unknown node 'planner_node'"):
        load_config("teleop", bad)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_launch_files_use_the_shared_function(scenario):
    tree = ast.parse((LAUNCH / f"{scenario}.launch.py").read_text())
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "make_launch_description"
    ]
    assert [c.args[0].value for c in calls] == [scenario]


def test_record_adds_the_bag_recorder():
    from hgpt_bringup.scenarios import RECORD_TOPICS

    assert "bag_recorder" not in {s.name for s in scenario_nodes("teleop")}
    specs = {s.name: s for s in scenario_nodes("eval", record=True, record_out="/tmp/b")}
    rec = specs["bag_recorder"]
    assert (rec.module, rec.cls) == ("hgpt_bringup.bag_ros", "BagRecorderNode")
    assert rec.parameters == {"topics": list(RECORD_TOPICS), "out": "/tmp/b"}  # wall clock: no use_sim_time


def test_csv_rate_is_passed_or_refused(tmp_path):
    from hgpt_bringup.run import csv_rate
    from hgpt_core.errors import MotionFormatError

    specs = scenario_nodes("eval", motion="/x/walk.csv", fps=60.0)
    assert next(s for s in specs if s.name == "reference_player").parameters["fps"] == 60.0
    assert "fps" not in next(s for s in scenario_nodes("eval") if s.name == "reference_player").parameters
    csv = tmp_path / "g1_moves" / "walk.csv"  # a folder name is no rate
    csv.parent.mkdir()
    csv.write_text("0," * 35 + "0\n")
    assert csv_rate(str(csv), 30.0) == 30.0 and csv_rate("clip.pkl", 0.0) == 0.0
    with pytest.raises(MotionFormatError, match="--fps"):
        csv_rate(str(csv), 0.0)


def test_real_robot_bridge_gets_its_parameter_file_and_the_launched_policy():
    """Issue 15: robot:=real could never arm (no parameters, policy:= reached only policy_node)."""
    for policy, expect in (("twist2:/x/copy.onnx", "twist2:/x/copy.onnx"), ("", "hgpt")):
        specs = {s.name: s for s in scenario_nodes("teleop", robot="real", policy=policy)}
        bridge = specs["g1_bridge_node"].parameters
        assert bridge["policy"] == specs["policy_node"].parameters["policy"] == expect
        assert bridge["dry_run"] is True and bridge["safety.expected_mode_machine"] == [5]
        assert bridge["safety.command_timeout_s"] <= 0.05


@pytest.mark.parametrize(
    ("value", "expect"), [("True", True), ("TRUE", True), ("1", True), ("false", False), ("False", False)]
)
def test_launch_booleans_are_case_insensitive(value, expect):
    from hgpt_bringup.scenarios import parse_bool

    assert parse_bool(value, "lockstep") is expect


def test_a_launch_boolean_that_is_not_one_is_refused():
    from hgpt_bringup.scenarios import parse_bool

    with pytest.raises(ScenarioError, match="lockstep:='ture' is not a boolean"):
        parse_bool("ture", "lockstep")


def test_launch_nodes_are_required_and_record_falls_back_to_the_project_recorder():
    text = (LAUNCH.parent / "hgpt_bringup" / "launch_description.py").read_text()
    assert "on_exit=Shutdown(" in text and "rosbag2_available()" in text
    assert "record=record and not native_record" in text
