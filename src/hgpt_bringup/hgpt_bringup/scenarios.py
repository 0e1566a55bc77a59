"""The node graph of every scenario, as data: one function used by the launch files and by ``hgpt run``.

``scenario_nodes(name, **args)`` returns the nodes to start with their parameters: per-node defaults from
``config/<scenario>.yaml`` (``ros__parameters``, per-deployment overrides only) with the arguments applied
on top. Launch files turn each :class:`NodeSpec` into a ``launch_ros`` ``Node`` action; the embedded runner
instantiates the same node classes in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hgpt_core.datasets import bundled_clip_path
from hgpt_core.errors import HgptError

SCENARIOS = ("teleop", "replay", "eval")
ROBOTS = ("sim", "real")
SOURCES = ("file", "mocap", "bag")
RECORD_TOPICS = (
    "/hgpt/human_pose",
    "/hgpt/reference",
    "/hgpt/robot_state",
    "/hgpt/joint_command",
    "/hgpt/status",
    "/joint_states",
)
"""Topics ``record:=true`` writes to the bag."""


LOCKSTEP_REFERENCE_WAIT_S = 1.0
"""Lock-step: how long [s, wall] policy_node waits for the reference of a state before answering alone."""


REFERENCE_GAP_END_S = 1.0
"""source bag: the run ends once the robot state is this far [s] past the newest reference (replay over)."""


class ScenarioError(HgptError, ValueError):
    """A scenario argument is invalid; the message lists the valid values."""


@dataclass(frozen=True)
class NodeSpec:
    """One node: where it lives (package, executable, module:class) and its parameters."""

    name: str
    package: str
    executable: str
    module: str
    cls: str
    parameters: dict[str, Any] = field(default_factory=dict)


# Every node the scenarios can start: name -> (package, executable, module, class).
NODES: dict[str, tuple[str, str, str, str]] = {
    "sim_bridge_node": ("hgpt_sim", "sim_bridge_node", "hgpt_sim.sim_bridge_node", "SimBridgeNode"),
    "g1_bridge_node": ("hgpt_g1", "g1_bridge_node", "hgpt_g1.g1_bridge_node", "G1BridgeNode"),
    "policy_node": ("hgpt_policy", "policy_node", "hgpt_policy.policy_node", "PolicyNode"),
    "reference_player": (
        "hgpt_retarget",
        "reference_player",
        "hgpt_retarget.reference_player_node",
        "ReferencePlayerNode",
    ),
    "mocap_source": ("hgpt_retarget", "mocap_source", "hgpt_retarget.mocap_source_node", "MocapSourceNode"),
    "retarget_node": ("hgpt_retarget", "retarget_node", "hgpt_retarget.retarget_node", "RetargetNode"),
    "bag_recorder": ("hgpt_bringup", "bag_recorder", "hgpt_bringup.bag_ros", "BagRecorderNode"),
    "tracking_monitor": ("hgpt_bringup", "tracking_monitor", "hgpt_bringup.monitor", "make_monitor_node"),
}


def config_dir() -> Path:
    """``config/`` of this package: the source tree, or ``share/hgpt_bringup/config`` when installed."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "config", here.parents[3] / "share" / "hgpt_bringup" / "config"):
        if cand.is_dir():
            return cand
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("hgpt_bringup")) / "config"
    except (ImportError, LookupError) as exc:
        raise ScenarioError("hgpt_bringup config/ not found") from exc


def load_config(scenario: str, path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Per-node parameter overrides: ``{node_name: {param: value}}`` from the scenario's YAML."""
    p = Path(path) if path else config_dir() / f"{scenario}.yaml"
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{p}: unreadable config ({exc})") from exc
    out = {}
    for node, body in raw.items():
        if node not in NODES:
            raise ScenarioError(f"{p}: unknown node '{node}'; valid: {sorted(NODES)}")
        out[node] = dict((body or {}).get("ros__parameters", {}))
    return out


TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def parse_bool(value: str | bool, what: str) -> bool:
    """A launch argument as a boolean: true/false, 1/0, yes/no, on/off in any case; anything else refused."""
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ScenarioError(f"{what}:={value!r} is not a boolean; valid values: true, false (any case), 1, 0")


def g1_bridge_params() -> dict[str, Any]:
    """g1_bridge_node's parameters from hgpt_g1's ``config/g1_bridge.yaml`` (key ``g1_bridge``), flattened
    to ROS parameter names (``safety.ramp_s``); {} when the file is not found."""
    here = Path(__file__).resolve()
    cands = [here.parents[2] / "hgpt_g1" / "config" / "g1_bridge.yaml"]
    try:
        from ament_index_python.packages import get_package_share_directory

        cands.append(Path(get_package_share_directory("hgpt_g1")) / "config" / "g1_bridge.yaml")
    except (ImportError, LookupError):
        pass
    for path in cands:
        if path.is_file():
            try:
                raw = yaml.safe_load(path.read_text()) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ScenarioError(f"{path}: unreadable config ({exc})") from exc
            body = next(iter(raw.values()), {}) if raw else {}
            return _flatten((body or {}).get("ros__parameters", {}))
    return {}


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _choice(value: str, valid: tuple[str, ...], what: str) -> str:
    if value not in valid:
        raise ScenarioError(f"{what}:={value!r} is not valid; valid values: {', '.join(valid)}")
    return value


def scenario_nodes(
    scenario: str = "teleop",
    robot: str = "sim",
    source: str = "file",
    motion: str = "",
    policy: str = "",
    lockstep: bool = False,
    config: str | Path | None = None,
    record: bool = False,
    record_out: str = "",
    fps: float = 0.0,
) -> list[NodeSpec]:
    """The nodes of ``scenario`` with their parameters.

    Args:
        scenario: One of :data:`SCENARIOS`.
        robot: ``sim`` (MuJoCo bridge) or ``real`` (G1 bridge); only the bridge differs.
        source: ``file`` (reference_player plays ``motion``), ``mocap`` (mocap_source receives UDP
            datagrams, see docs/mocap.md, and retarget_node retargets them live) or ``bag`` (not started
            here: the bag tools publish ``/hgpt/reference`` or ``/hgpt/human_pose`` themselves).
        motion: Motion file for ``source:=file`` (empty: the config's, else the bundled walking clip);
            with ``source:=mocap`` a human file (.bvh ...) that mocap_source plays instead of UDP.
        policy: Policy spec for policy_node (empty: the config's default).
        lockstep: Simulation advances one control step per command (sim only; deterministic, fast).
        config: A YAML file replacing ``config/<scenario>.yaml``.
        record: Add bag_recorder: :data:`RECORD_TOPICS` into a rosbag2 mcap bag (wall-clock receive times).
        record_out: The new bag folder (empty: ``rosbag2_<date-time>`` in the working folder).
        fps: Frame rate [Hz] of a CSV ``motion`` (reference_player's ``fps``; 0: the file's own).

    Raises:
        ScenarioError: bad argument, with the valid values.
    """
    _choice(scenario, SCENARIOS, "scenario")
    _choice(robot, ROBOTS, "robot")
    _choice(source, SOURCES, "source")
    if lockstep and robot != "sim":
        raise ScenarioError("lockstep:=true needs robot:=sim (a real robot runs in real time)")
    if scenario == "eval" and robot != "sim":
        raise ScenarioError("scenario eval runs in simulation only; valid values for robot: sim")
    cfg = load_config(scenario, config)
    names = ["sim_bridge_node" if robot == "sim" else "g1_bridge_node", "policy_node"]
    if source == "file":
        names.append("reference_player")
    elif source == "mocap":
        names += ["mocap_source", "retarget_node"]
    specs = []
    for name in names:
        params = dict(cfg.get(name, {}))
        if name == "g1_bridge_node":  # the real robot's file, then the scenario's overrides
            params = {**g1_bridge_params(), **params}
        if name == "reference_player" and motion:
            params["motion"] = motion
        if name == "reference_player" and fps:
            params["fps"] = float(fps)
        if name == "mocap_source" and motion:
            params["source"] = motion
        if name == "policy_node" and policy:
            params["policy"] = policy
        if name == "g1_bridge_node":  # the bridge checks the launched policy's metadata: same spec
            params["policy"] = (
                policy or cfg.get("policy_node", {}).get("policy", "") or params.get("policy", "")
            )
        if name == "reference_player" and not params.get("motion"):
            params["motion"] = str(bundled_clip_path())  # the bundled GMT walk (Apache-2.0)
        if robot == "sim":
            if name == "sim_bridge_node":
                params["mode"] = "lockstep" if lockstep else "realtime"
            else:
                params["use_sim_time"] = True
            if lockstep and name == "policy_node":
                params["trigger"] = "state"
                # the references come stamped per /clock tick (reference_player, bag play --follow-clock)
                if source in ("file", "bag"):
                    params["reference_wait_s"] = LOCKSTEP_REFERENCE_WAIT_S
            if lockstep and name == "reference_player":
                params["sync"] = "clock"
        package, executable, module, cls = NODES[name]
        specs.append(NodeSpec(name, package, executable, module, cls, params))
    if scenario == "eval":  # the launch files' end: the monitor exits at the clip's end with its summary
        params = {"exit_at_clip_end": True, **cfg.get("tracking_monitor", {})}
        if source == "bag":  # the replay's end is the run's end
            params["exit_after_reference_gap_s"] = REFERENCE_GAP_END_S
        player = next((s for s in specs if s.name == "reference_player"), None)
        if player is not None:
            p = player.parameters
            for k in ("motion", "fps", "speed", "loop"):
                if k in p:
                    params[k] = p[k]
        specs.insert(0, NodeSpec("tracking_monitor", *NODES["tracking_monitor"], params))  # first up
    if record:  # receive times on the wall clock, as `ros2 bag record` (no use_sim_time)
        params = {"topics": list(RECORD_TOPICS), **cfg.get("bag_recorder", {})}
        if record_out:
            params["out"] = record_out
        specs.append(NodeSpec("bag_recorder", *NODES["bag_recorder"], params))
    return specs
