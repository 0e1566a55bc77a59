"""Self-describing policy metadata, stored as exact JSON in checkpoints and ONNX files.

A node loads the metadata, compares it with the robot configuration it runs against and refuses to start
on any difference (peers' incidents: a silently mismatched observation layout damaged a robot).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hgpt_core.errors import MetadataMismatchError
from hgpt_core.g1 import G1_JOINT_NAMES, JOINT_LIMITS, NUM_JOINTS, G1Spec
from hgpt_core.obs import DEPLOY_OBS_TERMS, obs_layout

METADATA_VERSION = 1
INFERENCE_MODES = ("window", "sliding_kv", "single_frame", "stacked_history")
"""How a policy consumes history: ``window`` recomputes the last H tokens (the paper), ``sliding_kv``
is sliding-window attention with a KV cache, ``single_frame`` / ``stacked_history`` are MLP baselines."""


@dataclass
class PolicyMetadata:
    """What a policy needs from, and promises to, the robot. Arrays are lists of floats in joint order.

    Attributes:
        policy_id: Human-readable identifier.
        joint_names: Joint order of actions and observations.
        default_joint_pos: Default pose [rad]; action 0 commands it.
        kp: PD stiffness [N m/rad] the policy was trained with.
        kd: PD damping [N m s/rad] the policy was trained with.
        action_scale: PD target = default_joint_pos + action_scale * action [rad].
        obs_terms: ``[[name, size], ...]`` of the token, in order.
        control_dt: Control period [s].
        context_len: Tokens of history the policy reads (1 for single-frame MLPs).
        inference: One of :data:`INFERENCE_MODES`.
        arch: Model architecture description (kind, sizes).
        training: Summary of the training data and run.
    """

    policy_id: str
    joint_names: list[str] = field(default_factory=lambda: list(G1_JOINT_NAMES))
    default_joint_pos: list[float] = field(default_factory=lambda: G1Spec().default_joint_pos.tolist())
    kp: list[float] = field(default_factory=lambda: G1Spec().kp.tolist())
    kd: list[float] = field(default_factory=lambda: G1Spec().kd.tolist())
    action_scale: list[float] = field(default_factory=lambda: [0.25] * NUM_JOINTS)
    obs_terms: list[list] = field(default_factory=lambda: [list(x) for x in obs_layout(DEPLOY_OBS_TERMS)])
    control_dt: float = 0.02
    context_len: int = 32
    inference: str = "window"
    arch: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    version: int = METADATA_VERSION

    def to_json(self) -> str:
        """Exact JSON (floats round-trip bit-for-bit through Python's repr)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PolicyMetadata:
        """Parse :meth:`to_json` output; raises MetadataMismatchError on malformed or unknown-version text."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MetadataMismatchError(f"policy metadata is not valid JSON: {exc}") from exc
        if not isinstance(d, dict) or d.get("version") != METADATA_VERSION:
            raise MetadataMismatchError(f"policy metadata version {d.get('version')!r} != {METADATA_VERSION}")
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise MetadataMismatchError(f"policy metadata has unknown fields {sorted(unknown)}")
        meta = cls(**d)
        problems = meta.self_check()
        if problems:
            raise MetadataMismatchError("invalid policy metadata:\n  " + "\n  ".join(problems))
        return meta

    @property
    def obs_size(self) -> int:
        """Width of the token: the sum of the observation terms' sizes."""
        return sum(int(s) for _, s in self.obs_terms)

    def arrays(self) -> dict[str, np.ndarray]:
        """default_joint_pos, kp, kd, action_scale as float64 arrays of shape (29,)."""
        return {
            k: np.asarray(getattr(self, k), dtype=np.float64)
            for k in ("default_joint_pos", "kp", "kd", "action_scale")
        }

    def self_check(self) -> list[str]:
        """Internal consistency: sizes, finiteness, signs, default pose inside the joint limits."""
        out = []
        n = len(self.joint_names)
        for k, v in self.arrays().items():
            if v.shape != (n,):
                out.append(f"{k} has {v.size} values for {n} joints")
            elif not np.isfinite(v).all():
                out.append(f"{k} has NaN/inf")
        if not out:
            a = self.arrays()
            if (a["kp"] < 0).any() or (a["kd"] < 0).any():
                out.append("negative kp/kd")
            if n == NUM_JOINTS and tuple(self.joint_names) == G1_JOINT_NAMES:
                lo, hi = JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1]
                bad = [
                    self.joint_names[i]
                    for i in np.flatnonzero((a["default_joint_pos"] < lo) | (a["default_joint_pos"] > hi))
                ]
                if bad:
                    out.append(f"default pose outside joint limits for {bad}")
        if self.inference not in INFERENCE_MODES:
            out.append(f"inference '{self.inference}' not one of {INFERENCE_MODES}")
        if not (0.001 <= self.control_dt <= 0.1):
            out.append(f"control_dt {self.control_dt} s outside [0.001, 0.1]")
        if self.context_len < 1:
            out.append(f"context_len {self.context_len} < 1")
        return out


@dataclass(frozen=True)
class RobotConfig:
    """What the deployment side provides.

    The robot's joints, the token it builds, its control period, and optionally the inference mode the
    runtime implements.
    """

    joint_names: tuple[str, ...] = G1_JOINT_NAMES
    obs_terms: tuple[tuple[str, int], ...] = tuple(obs_layout(DEPLOY_OBS_TERMS))
    control_dt: float = 0.02
    inference: str | None = None
    max_kp: float = 500.0


def metadata_differences(meta: PolicyMetadata, robot: RobotConfig) -> list[str]:
    """Every difference between a policy's metadata and the robot configuration (empty = compatible)."""
    diffs = list(meta.self_check())
    if tuple(meta.joint_names) != tuple(robot.joint_names):
        pairs = [
            f"#{i}: policy {a!r} vs robot {b!r}"
            for i, (a, b) in enumerate(zip(meta.joint_names, robot.joint_names, strict=False))
            if a != b
        ]
        diffs.append(
            f"joint_names differ ({len(meta.joint_names)} vs {len(robot.joint_names)} joints): "
            + "; ".join(pairs[:5])
        )
    policy_terms = [(str(n), int(s)) for n, s in meta.obs_terms]
    if policy_terms != list(robot.obs_terms):
        diffs.append(f"obs_terms differ: policy {policy_terms} vs robot {list(robot.obs_terms)}")
    if abs(meta.control_dt - robot.control_dt) > 1e-9:
        diffs.append(f"control_dt differs: policy {meta.control_dt} s vs robot {robot.control_dt} s")
    if robot.inference is not None and meta.inference != robot.inference:
        diffs.append(f"inference differs: policy '{meta.inference}' vs runtime '{robot.inference}'")
    if max(meta.kp, default=0.0) > robot.max_kp:
        diffs.append(f"kp up to {max(meta.kp):.1f} exceeds the robot's allowed {robot.max_kp}")
    return diffs


def check_metadata(meta: PolicyMetadata, robot: RobotConfig) -> None:
    """Raise :class:`MetadataMismatchError` listing every difference; return None when compatible."""
    diffs = metadata_differences(meta, robot)
    if diffs:
        raise MetadataMismatchError(
            f"policy '{meta.policy_id}' does not match the robot configuration; refusing to start:\n  "
            + "\n  ".join(diffs)
        )
