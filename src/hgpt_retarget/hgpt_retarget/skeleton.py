"""Source skeletons as data: one YAML file per skeleton in ``skeletons/`` maps human joints to G1 targets.

A mapping names (see ``skeletons/bandai_namco.yaml`` for a commented example):
  * ``format``: which reader turns a file into world joint positions (see :mod:`hgpt_retarget.human`);
  * ``units`` and ``up_axis``: how to reach metres, z up;
  * ``joints``: the source joint names (BVH: the hierarchy, used to recognise files; arrays: the J order);
  * ``landmarks``: the fixed body-landmark vocabulary below -> one source joint (or a list, averaged);
  * ``targets``: G1 body -> {landmark, position cost, orientation cost, chain}: one mink FrameTask each.
Adding a skeleton means adding a file; no code changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from hgpt_core.errors import HgptError

# Landmarks every mapping must name (the retargeter's vocabulary), and optional ones.
REQUIRED_LANDMARKS: tuple[str, ...] = (
    "left_hip",
    "right_hip",
    "spine_top",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_toe",
    "right_toe",
)
OPTIONAL_LANDMARKS: tuple[str, ...] = ("pelvis", "spine_low", "head")
LANDMARKS = REQUIRED_LANDMARKS + OPTIONAL_LANDMARKS
# Computed from the others: the midpoint of the hips (where the robot's pelvis target is anchored).
DERIVED_LANDMARKS: tuple[str, ...] = ("hip_center",)
# Bodies whose orientation the retargeter derives from landmarks (the only ones that may have an
# orientation cost): pelvis from the hips and lower spine, torso from the shoulders and spine, feet from
# ankle -> toe.
ORIENTED_BODIES = ("pelvis", "torso_link", "left_ankle_roll_link", "right_ankle_roll_link")
FORMATS = ("bvh", "positions_npy", "positions_npz", "omomo_pt", "phc_pkl")
UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}


class SkeletonError(HgptError, ValueError):
    """A skeleton mapping is unknown, malformed, or does not fit the motion given to it."""


@dataclass(frozen=True)
class Target:
    """One IK target on a G1 body.

    Attributes:
        body: MJCF body name.
        landmark: Landmark giving the target position (and, for ORIENTED_BODIES, orientation).
        position_cost: mink FrameTask position cost [1/m]; 0 = no position target.
        orientation_cost: mink FrameTask orientation cost [1/rad].
        chain: If set, another target's body: the position is placed at that body plus the robot's own
            segment length along the human's direction (limb proportions of the robot, not the human).
    """

    body: str
    landmark: str
    position_cost: float = 0.0
    orientation_cost: float = 0.0
    chain: str | None = None


@dataclass(frozen=True)
class SkeletonMapping:
    """A parsed ``skeletons/*.yaml`` file; see the module docstring."""

    name: str
    format: str
    units_m: float  # metres per source unit
    up_axis: str
    joints: tuple[str, ...]
    landmarks: dict[str, tuple[str, ...]]
    targets: tuple[Target, ...]
    fps: float | None = None
    licence: str = "unknown"
    description: str = ""
    height_m: float | None = None
    extra: dict = field(default_factory=dict)

    def landmark_indices(self, joint_names: tuple[str, ...] | list[str]) -> dict[str, np.ndarray]:
        """Indices of each landmark's source joints in ``joint_names``.

        Raises:
            SkeletonError: listing the missing joints and the ones available.
        """
        pos = {n: i for i, n in enumerate(joint_names)}
        missing = sorted({j for js in self.landmarks.values() for j in js if j not in pos})
        if missing:
            raise SkeletonError(
                f"skeleton '{self.name}': joints {missing} missing from the motion; "
                f"it has {list(joint_names)}"
            )
        return {k: np.array([pos[j] for j in js]) for k, js in self.landmarks.items()}

    @property
    def up_to_z(self) -> np.ndarray:
        """Rotation (3, 3) taking source axes to z-up (right-handed, +90 deg about x for y-up)."""
        if self.up_axis == "z":
            return np.eye(3)
        return np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def skeletons_dir() -> Path:
    """Folder holding the shipped mapping files."""
    return Path(str(resources.files("hgpt_retarget") / "skeletons"))


def available_skeletons() -> tuple[str, ...]:
    """Names of the shipped mappings (file stems)."""
    return tuple(sorted(p.stem for p in skeletons_dir().glob("*.yaml")))


def _units(value: object, origin: str) -> float:
    if isinstance(value, int | float) and value > 0:
        return float(value)
    if isinstance(value, str) and value in UNITS:
        return UNITS[value]
    raise SkeletonError(f"{origin}: units {value!r}; valid: {sorted(UNITS)} or metres per unit (> 0)")


def parse_mapping(data: dict, origin: str) -> SkeletonMapping:
    """Build and validate a mapping from a YAML document (a dict)."""
    if not isinstance(data, dict):
        raise SkeletonError(f"{origin}: expected a YAML mapping at the top level")
    required = ("name", "format", "units", "up_axis", "landmarks", "targets")
    miss = [k for k in required if k not in data]
    if miss:
        raise SkeletonError(f"{origin}: missing keys {miss}; required {list(required)}")
    if data["format"] not in FORMATS:
        raise SkeletonError(f"{origin}: format {data['format']!r}; valid: {list(FORMATS)}")
    if data["up_axis"] not in ("y", "z"):
        raise SkeletonError(f"{origin}: up_axis {data['up_axis']!r}; valid: ['y', 'z']")
    landmarks = {k: tuple([v] if isinstance(v, str) else v) for k, v in data["landmarks"].items()}
    unknown = sorted(set(landmarks) - set(LANDMARKS))
    absent = [k for k in REQUIRED_LANDMARKS if k not in landmarks]
    if unknown or absent:
        raise SkeletonError(
            f"{origin}: unknown landmarks {unknown}, missing {absent}; vocabulary: {list(LANDMARKS)}"
        )
    joints = tuple(data.get("joints") or ())
    if joints:
        stray = sorted({j for js in landmarks.values() for j in js} - set(joints))
        if stray:
            raise SkeletonError(f"{origin}: landmark joints {stray} are not in 'joints'")
    targets = []
    for body, spec in data["targets"].items():
        try:
            t = Target(body=body, **spec)
        except TypeError as exc:
            raise SkeletonError(
                f"{origin}: target {body}: {exc}; fields: {list(Target.__annotations__)}"
            ) from exc
        if t.landmark not in landmarks and t.landmark not in DERIVED_LANDMARKS:
            raise SkeletonError(
                f"{origin}: target {body} uses landmark {t.landmark!r}, which is not mapped; mapped: "
                f"{sorted(landmarks) + list(DERIVED_LANDMARKS)}"
            )
        if t.orientation_cost > 0 and body not in ORIENTED_BODIES:
            raise SkeletonError(
                f"{origin}: target {body} has an orientation cost; only {ORIENTED_BODIES} may"
            )
        if t.position_cost < 0 or t.orientation_cost < 0:
            raise SkeletonError(f"{origin}: target {body} has a negative cost")
        targets.append(t)
    bodies = {t.body for t in targets}
    for t in targets:
        if t.chain is not None and t.chain not in bodies:
            raise SkeletonError(f"{origin}: target {t.body} chains to {t.chain!r}, which is not a target")
    ordered: list[Target] = []  # chain parents before their children (the IK places them in this order)
    while len(ordered) < len(targets):
        placed = {t.body for t in ordered}
        ready = [t for t in targets if t.body not in placed and (t.chain is None or t.chain in placed)]
        if not ready:
            raise SkeletonError(f"{origin}: chained targets form a cycle")
        ordered += ready
    targets = ordered
    return SkeletonMapping(
        name=str(data["name"]),
        format=data["format"],
        units_m=_units(data["units"], origin),
        up_axis=data["up_axis"],
        joints=joints,
        landmarks=landmarks,
        targets=tuple(targets),
        fps=data.get("fps"),
        licence=str(data.get("licence", "unknown")),
        description=str(data.get("description", "")),
        height_m=data.get("height_m"),
        extra=dict(data.get("extra") or {}),
    )


def load_mapping_file(path: str | os.PathLike) -> SkeletonMapping:
    """Read one mapping file (any path; the shipped ones are in :func:`skeletons_dir`)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SkeletonError(f"{path}: unreadable skeleton mapping ({exc})") from exc
    return parse_mapping(data, str(path))


@cache
def load_skeleton(name: str) -> SkeletonMapping:
    """A shipped mapping by name, or a mapping file by path.

    Raises:
        SkeletonError: unknown name (lists the shipped ones) or malformed file.
    """
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return load_mapping_file(name)
    path = skeletons_dir() / f"{name}.yaml"
    if not path.is_file():
        raise SkeletonError(f"unknown skeleton {name!r}; available: {list(available_skeletons())}")
    return load_mapping_file(path)


def detect_skeleton(joint_names: tuple[str, ...] | list[str], fmt: str | None = None) -> SkeletonMapping:
    """The shipped mapping that fits a set of joint names best (all its landmark joints present).

    Prefers an exact match of the joint set, then the largest overlap.

    Raises:
        SkeletonError: when no mapping has all its landmark joints among ``joint_names``.
    """
    names = set(joint_names)
    best, best_key = None, (-1, -1)
    for sk in map(load_skeleton, available_skeletons()):
        if fmt is not None and sk.format != fmt:
            continue
        needed = {j for js in sk.landmarks.values() for j in js}
        if not needed <= names:
            continue
        key = (int(set(sk.joints) == names), len(set(sk.joints) & names))
        if key > best_key:
            best, best_key = sk, key
    if best is None:
        raise SkeletonError(
            f"no skeleton mapping fits joints {sorted(names)[:12]}... ({len(names)} joints); available "
            f"mappings: {list(available_skeletons())}; add a YAML file to {skeletons_dir()}"
        )
    return best
