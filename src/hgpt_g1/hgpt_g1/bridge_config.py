"""Configuration of g1_bridge_node and loading of the active policy's metadata (no ROS)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from hgpt_core.errors import MetadataMismatchError
from hgpt_core.g1 import G1_JOINT_NAMES
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.policy_spec import policy_metadata


@dataclass(frozen=True)
class BridgeConfig:
    """g1_bridge_node settings (the safety thresholds are :class:`hgpt_g1.safety_config.SafetyConfig`)."""

    policy: str = ""
    """Active policy's metadata: a policy spec ('zero', 'hgpt', 'twist2', an .onnx/.pt file) or metadata only
    (a .json file, JSON text); see hgpt_core.policy_spec."""
    rate_hz: float = 500.0
    """LowCmd rate of the control timer [Hz]."""
    trigger: str = "timer"
    """'timer': write LowCmd on the timer; 'state': right after each LowState (the timer then only
    covers gaps in the LowState stream)."""
    executor: str = "events"
    """'events': rclpy's EventsExecutor (C++ event queue, far less overhead per callback at 500 Hz);
    'single': the SingleThreadedExecutor."""
    dry_run: bool = True
    """Compute and publish everything except /lowcmd (the /lowcmd publisher is not even created)."""
    check_lowstate_crc: bool = True
    """Drop LowStates whose crc field does not match their content."""
    joint_names: tuple[str, ...] = G1_JOINT_NAMES
    """Motor order of the robot: LowCmd/LowState slot i is joint_names[i]."""
    joint_states_rate_hz: float = 50.0
    """Rate of /joint_states for RViz/Foxglove [Hz]."""
    status_rate_hz: float = 10.0
    """Rate of /hgpt/g1/status (transitions are also published when they happen) [Hz]."""
    lowstate_topic: str = "/lowstate"
    """Robot state topic (unitree_hg/LowState)."""
    lowcmd_topic: str = "/lowcmd"
    """Robot command topic (unitree_hg/LowCmd)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "joint_names", tuple(str(n) for n in self.joint_names))
        if self.trigger not in ("timer", "state"):
            raise ValueError(f"trigger '{self.trigger}' not one of ['timer', 'state']")
        if self.executor not in ("events", "single"):
            raise ValueError(f"executor '{self.executor}' not one of ['events', 'single']")
        if not 1.0 <= self.rate_hz <= 2000.0:
            raise ValueError(f"rate_hz {self.rate_hz} outside [1, 2000]")


def load_policy_metadata(spec: str) -> tuple[PolicyMetadata | None, list[str]]:
    """Metadata named by ``spec`` and the problems met loading it (then the metadata is None).

    ``spec``: any spec of :mod:`hgpt_core.policy_spec` (the policy loader's grammar: ``zero``, ``hgpt``,
    ``twist2[:file.onnx]``, an .onnx/.pt file) or metadata only (a .json file, JSON text). Read without
    running the policy (no torch, except for a .pt checkpoint). Never raises: the bridge must come up
    damped and say why it cannot arm.
    """
    if not spec.strip():
        return None, ["no policy metadata: set the 'policy' parameter"]
    try:
        return policy_metadata(spec), []
    except (OSError, KeyError, MetadataMismatchError, json.JSONDecodeError, TypeError, ValueError) as exc:
        return None, [f"policy '{spec.strip()}': cannot load its metadata: {exc}"]
    except Exception as exc:  # noqa: BLE001 - documented never to raise: the bridge must come up damped
        return None, [f"policy '{spec.strip()}': cannot load its metadata: {type(exc).__name__}: {exc}"]
