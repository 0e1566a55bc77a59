"""IK targets from human landmarks: scale, ground level, derived body frames, stance locking.

Human positions become robot-scale targets by ``p_robot = s * (p - z_ground) + ankle_height_robot``, with
``s = robot stature / subject height``: both heights of the ground are measured, the human's from its own
stance frames and the robot's from its foot geoms, so stance feet land on the floor with no tuned offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mujoco
import numpy as np

from hgpt_core.rotations import quat_apply, yaw_of
from hgpt_retarget.ground import (
    StanceConfig,
    StanceRun,
    detect_stance,
    lock_stance_xy,
    lowpass,
    stance_weight,
)
from hgpt_retarget.human import LEG_FRACTION, HumanMotion, estimate_height
from hgpt_retarget.ik import FrameTargets, g1_model
from hgpt_retarget.skeleton import SkeletonMapping

SIDES = ("left", "right")
MAX_SWING_PITCH = 0.4  # [rad] bound on the foot pitch target relative to the flat (stance) foot


@dataclass(frozen=True)
class RobotGeometry:
    """G1 measurements taken from the MJCF at the zero pose (metres)."""

    body_pos: dict[str, np.ndarray]  # zero-pose world positions, pelvis at the origin
    leg_length: float  # hip roll link -> knee -> ankle roll link
    ankle_height: float  # ankle roll link origin above the floor with the sole flat
    pelvis_from_hip_center: np.ndarray  # (3,) pelvis origin minus hip-roll midpoint, pelvis frame
    foot_geoms: tuple[tuple[int, ...], tuple[int, ...]]  # collision geom ids of the left and right sole

    @property
    def stature(self) -> float:
        """Height [m] of a human with the G1's legs (same :data:`LEG_FRACTION`): 1.27 m (spec: 1.32 m)."""
        return self.leg_length / LEG_FRACTION

    def distance(self, a: str, b: str) -> float:
        return float(np.linalg.norm(self.body_pos[a] - self.body_pos[b]))


@lru_cache(maxsize=1)
def robot_geometry() -> RobotGeometry:
    """Measure the shipped G1 model once per process."""
    m = g1_model()
    d = mujoco.MjData(m)
    d.qpos[:] = 0.0
    d.qpos[3] = 1.0
    mujoco.mj_kinematics(m, d)
    pos = {m.body(i).name: d.xpos[i].copy() for i in range(1, m.nbody)}
    leg = np.mean(
        [
            np.linalg.norm(pos[f"{s}_hip_roll_link"] - pos[f"{s}_knee_link"])
            + np.linalg.norm(pos[f"{s}_knee_link"] - pos[f"{s}_ankle_roll_link"])
            for s in SIDES
        ]
    )
    feet = tuple(tuple(g for g in range(m.ngeom) if m.geom(g).name.startswith(f"{s}_foot")) for s in SIDES)
    low = lowest_geom_z(m, d, feet[0])
    ankle_h = float(d.xpos[m.body("left_ankle_roll_link").id][2] - low)
    hip_c = 0.5 * (pos["left_hip_roll_link"] + pos["right_hip_roll_link"])
    return RobotGeometry(pos, float(leg), ankle_h, pos["pelvis"] - hip_c, feet)  # type: ignore[arg-type]


def foot_geoms(m: mujoco.MjModel) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Ids of the left and right sole collision geoms in ``m`` (ids differ between model variants)."""
    return tuple(  # type: ignore[return-value]
        tuple(g for g in range(m.ngeom) if m.geom(g).name.startswith(f"{s}_foot")) for s in SIDES
    )


def lowest_geom_z(m: mujoco.MjModel, d: mujoco.MjData, geoms: tuple[int, ...]) -> float:
    """Lowest world z [m] of sphere/capsule geoms after ``mj_kinematics``."""
    g = np.asarray(geoms)
    half = np.where(m.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE, m.geom_size[g, 1], 0.0)
    axis_z = np.abs(d.geom_xmat[g, 8])  # z component of each geom's z axis
    return float(np.min(d.geom_xpos[g, 2] - axis_z * half - m.geom_size[g, 0]))


def frame_quat(lateral: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Quaternion wxyz of the frame with z along ``up`` and y along ``lateral`` (made orthogonal).

    Shape: (T, 3), (T, 3) -> (T, 4). x = y cross z points forward for a left-pointing ``lateral``.
    """
    z = up / np.linalg.norm(up, axis=-1, keepdims=True)
    y = lateral - np.sum(lateral * z, axis=-1, keepdims=True) * z
    y /= np.linalg.norm(y, axis=-1, keepdims=True)
    x = np.cross(y, z)
    mat = np.stack((x, y, z), axis=-1)
    return mat_to_quat(mat)


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    """Rotation matrices (T, 3, 3) -> quaternions wxyz (T, 4), w >= 0."""
    out = np.empty(mat.shape[:-2] + (4,))
    for i, r in enumerate(mat.reshape(-1, 3, 3)):
        q = np.empty(4)
        mujoco.mju_mat2Quat(q, r.ravel())
        out.reshape(-1, 4)[i] = q if q[0] >= 0 else -q
    return out


def yaw_pitch_quat(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Quaternion wxyz of yaw about z then pitch about the new y. Shape: (T,), (T,) -> (T, 4)."""
    cy, sy, cp, sp = np.cos(yaw / 2), np.sin(yaw / 2), np.cos(pitch / 2), np.sin(pitch / 2)
    return np.stack((cy * cp, -sy * sp, cy * sp, sy * cp), axis=-1)


@dataclass
class TargetSeq:
    """Per-frame IK targets of one clip (robot scale, world frame).

    Shapes: pos (T, B, 3), quat (T, B, 4) wxyz, pos_cost / ori_cost (T, B), chain_dir (T, B, 3) unit,
    chain_len (B,), stance (T, 2). ``chain_parent[b]`` is the index of the body a chained target hangs
    from, or -1.
    """

    bodies: tuple[str, ...]
    pos: np.ndarray
    quat: np.ndarray
    pos_cost: np.ndarray
    ori_cost: np.ndarray
    chain_parent: tuple[int, ...]
    chain_dir: np.ndarray
    chain_len: np.ndarray
    stance: np.ndarray
    scale: float
    subject_height: float
    human_ground_z: float
    human_scaled: dict[str, np.ndarray]  # landmark -> (T, 3), the human in robot scale (for metrics)
    stance_runs: tuple[list[StanceRun], list[StanceRun]] = ([], [])  # left, right: how each run is held

    def frame(self, t: int) -> FrameTargets:
        """The targets of frame ``t``, as :meth:`hgpt_retarget.ik.G1IK.solve` takes them."""
        return FrameTargets(
            self.pos[t],
            self.quat[t],
            self.pos_cost[t],
            self.ori_cost[t],
            self.chain_parent,
            self.chain_dir[t],
            self.chain_len,
        )


def to_robot_scale(p: np.ndarray, scale: float, ground_z: float, ankle_height: float) -> np.ndarray:
    """Human positions [m] (..., 3) -> robot-scale world positions [m]."""
    out = scale * np.asarray(p, dtype=np.float64)
    out[..., 2] = scale * (p[..., 2] - ground_z) + ankle_height
    return out


def body_frames(
    lm: dict[str, np.ndarray],
    stance: np.ndarray | None,
    stance_w: np.ndarray | None = None,
    rest_pitch: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Derived orientations (T, 4) of pelvis, torso and both feet from landmarks (any common scale).

    With ``stance`` (T, 2) the foot pitch is measured against its stance value and blended to flat by
    the stance weights ``stance_w`` (T, 2) (default: the flags themselves). ``rest_pitch`` (2,) [rad]
    gives the stance pitch directly (the live retargeter's running estimate).
    """
    low = lm.get("spine_low", lm["spine_top"])
    frames = {
        "pelvis": frame_quat(lm["left_hip"] - lm["right_hip"], low - lm["hip_center"]),
        "torso_link": frame_quat(lm["left_shoulder"] - lm["right_shoulder"], lm["spine_top"] - low),
    }
    for k, side in enumerate(SIDES):
        f = lm[f"{side}_toe"] - lm[f"{side}_ankle"]
        # Heading from the sagittal plane of shank and foot (its normal is the ankle's lateral axis): unlike
        # the ground projection of ankle -> toe it stays defined when the foot points down at toe-off.
        lateral = np.cross(lm[f"{side}_knee"] - lm[f"{side}_ankle"], f)
        fwd = np.cross(lateral, np.array([0.0, 0.0, 1.0]))[:, :2]
        fwd /= np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)
        yaw = np.unwrap(np.arctan2(fwd[:, 1], fwd[:, 0]))
        pitch = np.arctan2(-f[:, 2], np.sum(f[:, :2] * fwd, axis=-1))
        # The ankle -> toe slope of a flat foot depends on the skeleton: measure it on stance frames.
        if rest_pitch is not None:
            rest = rest_pitch[k]
        elif stance is not None and stance[:, k].sum() >= 3:
            rest = np.median(pitch[stance[:, k]])
        else:
            rest = 0.0
        # A rigid robot foot cannot copy a toe-off pitch of the human foot (toes bend): bound it.
        pitch = np.clip(pitch - rest, -MAX_SWING_PITCH, MAX_SWING_PITCH)
        if stance is not None:
            w = stance[:, k].astype(np.float64) if stance_w is None else stance_w[:, k]
            pitch = (1.0 - w) * pitch
        frames[f"{side}_ankle_roll_link"] = yaw_pitch_quat(yaw, pitch)
    return frames


def widen_legs(
    rs: dict[str, np.ndarray], pelvis_quat: np.ndarray, geo: RobotGeometry, half_human: float | None = None
) -> float:
    """Shift each leg's knee, ankle and toe targets sideways by the robot-minus-human hip half-width.

    The G1's hips are wider than a scaled human's; without this the feet are pulled towards the midline
    and the legs cross. The shift is along the pelvis's horizontal lateral axis. Edits ``rs`` in place;
    returns the human half-width used (median over frames unless given).
    """
    half_robot = 0.5 * np.linalg.norm(
        geo.body_pos["left_hip_roll_link"] - geo.body_pos["right_hip_roll_link"]
    )
    if half_human is None:
        half_human = 0.5 * float(np.median(np.linalg.norm(rs["left_hip"] - rs["right_hip"], axis=-1)))
    lateral = quat_apply(pelvis_quat, np.array([0.0, 1.0, 0.0]))
    lateral[:, 2] = 0.0
    lateral /= np.maximum(np.linalg.norm(lateral, axis=-1, keepdims=True), 1e-9)
    for sign, side in ((1.0, "left"), (-1.0, "right")):
        for part in ("hip", "knee", "ankle", "toe"):
            rs[f"{side}_{part}"] = rs[f"{side}_{part}"] + sign * (half_robot - half_human) * lateral
    return half_human


def build_targets(
    motion: HumanMotion,
    mapping: SkeletonMapping,
    subject_height: float | None = None,
    stance_cfg: StanceConfig | None = None,
    swing_foot_orientation: float = 0.3,
    smooth_hz: float = 8.0,
) -> TargetSeq:
    """All IK targets of a clip; see the module docstring.

    Args:
        motion: Human motion (metres, z up), already at the IK rate.
        mapping: Its skeleton mapping (targets and costs).
        subject_height: Subject height [m]; None estimates it from leg length.
        stance_cfg: Stance detection thresholds.
        swing_foot_orientation: Foot orientation cost factor while the foot is in the air.
        smooth_hz: Zero-phase low-pass cutoff on the landmarks [Hz] (0 = off).
    """
    geo = robot_geometry()
    lm = {k: lowpass(v, motion.fps, smooth_hz) for k, v in motion.landmarks(mapping).items()}
    height = subject_height or mapping.height_m or estimate_height(motion, mapping)
    scale = geo.stature / height
    stance_cfg = stance_cfg or StanceConfig()
    stance, ground_z = detect_stance((lm["left_ankle"], lm["right_ankle"]), motion.fps, stance_cfg)
    rs = {k: to_robot_scale(v, scale, ground_z, geo.ankle_height) for k, v in lm.items()}
    stance_w = stance_weight(stance)
    frames = body_frames(lm, stance, stance_w)
    human_scaled = dict(rs)
    widen_legs(rs, frames["pelvis"], geo)
    t, targets = motion.num_frames, mapping.targets
    bodies = tuple(x.body for x in targets)
    pos, quat = np.zeros((t, len(bodies), 3)), np.zeros((t, len(bodies), 4))
    quat[..., 0] = 1.0
    pos_cost = np.zeros((t, len(bodies)))
    ori_cost = np.zeros((t, len(bodies)))
    chain_dir, chain_len = np.zeros((t, len(bodies), 3)), np.zeros(len(bodies))
    parents = []
    stance_runs: tuple[list[StanceRun], list[StanceRun]] = ([], [])
    for b, tg in enumerate(targets):
        pos[:, b] = rs[tg.landmark]
        if tg.body in frames:
            quat[:, b] = frames[tg.body]
        pos_cost[:, b], ori_cost[:, b] = tg.position_cost, tg.orientation_cost
        if tg.body == "pelvis":  # anchored at the hip centre: add the robot's own pelvis offset
            pos[:, b] += quat_apply(frames["pelvis"], np.broadcast_to(geo.pelvis_from_hip_center, (t, 3)))
        for k, side in enumerate(SIDES):
            if tg.body == f"{side}_ankle_roll_link":
                # The foot as the IK will turn it: the human's foot length along the orientation target's
                # heading (a pivot's ankle must circle the contact point by the yaw the foot is given).
                foot = rs[f"{side}_toe"][:, :2] - rs[f"{side}_ankle"][:, :2]
                yaw = yaw_of(quat[:, b])
                toe = pos[:, b, :2] + np.median(np.linalg.norm(foot, axis=-1)) * np.stack(
                    (np.cos(yaw), np.sin(yaw)), axis=-1
                )
                pos[:, b, :2] = lock_stance_xy(
                    pos[:, b, :2], stance[:, k], toe_xy=toe, fps=motion.fps,
                    cfg=stance_cfg, scale=scale, out_runs=stance_runs[k],
                )  # fmt: skip
                w = stance_w[:, k]
                pos[:, b, 2] = w * geo.ankle_height + (1.0 - w) * pos[:, b, 2]
                ori_cost[:, b] *= w + (1.0 - w) * swing_foot_orientation
        p = -1
        if tg.chain is not None:
            p = bodies.index(tg.chain)
            d = lm[tg.landmark] - lm[targets[p].landmark]
            chain_dir[:, b] = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
            chain_len[b] = geo.distance(tg.body, tg.chain)
        parents.append(p)
    return TargetSeq(
        bodies,
        pos,
        quat,
        pos_cost,
        ori_cost,
        tuple(parents),
        chain_dir,
        chain_len,
        stance,
        float(scale),
        float(height),
        ground_z,
        human_scaled,
        stance_runs,
    )
