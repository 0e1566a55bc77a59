"""Quality metrics of a retargeted G1 clip, and per-batch reports (JSON + markdown table).

The metrics answer the complaints about retargeters: feet floating or sinking, feet sliding while they
should stand, limbs through the body, joints beyond their limits, and poses far from the human's.
Stance frames come from the human motion (the same for every retargeting of it), so two retargets of one
clip are compared on equal terms.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import mujoco
import numpy as np

from hgpt_core.g1 import JOINT_LIMITS
from hgpt_core.motion import MotionClip, atomic_write_bytes
from hgpt_retarget.ik import g1_model
from hgpt_retarget.targets import SIDES, lowest_geom_z, robot_geometry

JOINT_LIMIT_TOL = 0.01  # [rad] excess that counts as a violation
PENETRATION_TOL = 0.01  # [m] sole depth below the floor that counts as penetration
SELF_CONTACT_TOL = 0.005  # [m] self-contact depth that counts as self-penetration
STARTUP_S = 1.0  # [s] start-up window: its max joint speed is compared with the p99 after it
# End effector landmark/body and the limb root it is measured from (hip for feet, shoulder for hands):
# limb-relative errors do not count the G1's wider hips and shoulders as an error.
EE_PAIRS = (
    ("ankle", "ankle_roll_link", "hip", "hip_roll_link"),
    ("wrist", "wrist_yaw_link", "shoulder", "shoulder_roll_link"),
)


@dataclass(frozen=True)
class ClipQuality:
    """Per-clip metrics (SI units; *_mm in millimetres; fractions of frames in [0, 1])."""

    name: str
    frames: int
    duration_s: float
    joint_limit_max_excess_rad: float
    joint_limit_violation_frac: float
    foot_skate_mean_mps: float  # ankle horizontal speed over human-stance frames
    foot_skate_p95_mps: float
    foot_skate_artefact_mps: float  # mean over stance frames of max(0, robot - source ankle speed)
    source_stance_foot_speed_mps: float  # mean horizontal ankle speed of the scaled human in stance
    foot_stance_speed_p50_mps: float  # median robot stance ankle speed (compare with the source's)
    source_stance_foot_speed_p50_mps: float
    stance_sole_height_median_m: float  # > 0 floating, < 0 sinking
    penetration_max_m: float  # deepest sole point below the floor (>= 0)
    penetration_frac: float
    self_penetration_frac: float
    self_penetration_max_m: float
    ee_feet_error_mm: float  # ankle relative to its hip vs the scaled human's
    ee_hands_error_mm: float  # wrist relative to its shoulder vs the scaled human's
    max_joint_speed_rad_s: float
    joint_jerk_mean: float  # mean |third difference| of joint angles [rad/s^3] (smoothness)
    startup_max_speed_rad_s: float  # fastest joint over the first STARTUP_S seconds
    after_startup_p99_speed_rad_s: float  # p99 of the fastest joint per frame after it (NaN: too short)

    def as_dict(self) -> dict:
        return asdict(self)


def _qpos(clip: MotionClip) -> np.ndarray:
    return np.concatenate((clip.root_pos, clip.root_quat, clip.joint_pos), axis=1)


def startup_speeds(joint_pos: np.ndarray, fps: float, window_s: float = STARTUP_S) -> tuple[float, float]:
    """(max joint speed over the first ``window_s``, p99 of the per-frame max joint speed after it) [rad/s].

    A start-up spike (the IK catching up from its default pose) shows as the first exceeding the second.
    The p99 is NaN when less than one more window of motion follows. Shape: joint_pos (T, 29).
    """
    if len(joint_pos) < 2:
        return 0.0, float("nan")
    v = np.abs(np.diff(joint_pos, axis=0)).max(axis=1) * fps  # v[i]: frame i -> i + 1
    n = int(round(window_s * fps))
    after = v[n:]
    return float(v[:n].max()), float(np.percentile(after, 99)) if len(after) >= n else float("nan")


def evaluate_clip(
    clip: MotionClip, stance: np.ndarray, human_scaled: dict[str, np.ndarray] | None = None
) -> ClipQuality:
    """Metrics of ``clip`` given the human's stance flags (T, 2) and robot-scale landmarks (T, 3) each.

    ``human_scaled`` (from :class:`hgpt_retarget.targets.TargetSeq`) must be sampled like the clip; without
    it the end-effector errors are NaN.
    """
    m = g1_model()
    d = mujoco.MjData(m)
    feet = robot_geometry().foot_geoms
    ids = {}
    for side in SIDES:
        for _, body, _, root in EE_PAIRS:
            ids[f"{side}_{body}"] = m.body(f"{side}_{body}").id
            ids[f"{side}_{root}"] = m.body(f"{side}_{root}").id
    q = _qpos(clip)
    t = len(q)
    sole = np.empty((t, 2))
    pos = {k: np.empty((t, 3)) for k in ids}
    self_depth = np.zeros(t)
    for i in range(t):
        d.qpos[:] = q[i]
        mujoco.mj_kinematics(m, d)
        sole[i] = [lowest_geom_z(m, d, g) for g in feet]
        for k, b in ids.items():
            pos[k][i] = d.xpos[b]
        mujoco.mj_collision(m, d)
        if d.ncon:
            self_depth[i] = max(0.0, -min(c.dist for c in d.contact[: d.ncon]))
    lo, hi = JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1]
    excess = np.maximum(lo - clip.joint_pos, clip.joint_pos - hi).max(axis=1)
    speeds, heights, src_speeds = [], [], []
    hspeed = lambda xy: np.linalg.norm(np.gradient(xy, axis=0), axis=-1) * clip.fps  # noqa: E731
    for k, side in enumerate(SIDES):
        speeds.append(hspeed(pos[f"{side}_ankle_roll_link"][:, :2])[stance[:, k]])
        heights.append(sole[stance[:, k], k])
        if human_scaled is not None:
            src_speeds.append(hspeed(human_scaled[f"{side}_ankle"][:, :2])[stance[:, k]])
    speed, height = np.concatenate(speeds), np.concatenate(heights)
    src = np.concatenate(src_speeds) if src_speeds else np.full_like(speed, np.nan)
    stat = lambda f, x: float(f(x)) if x.size else 0.0  # noqa: E731
    startup, after = startup_speeds(clip.joint_pos, clip.fps)
    ee = {"ankle": [], "wrist": []}
    if human_scaled is not None:
        for side in SIDES:
            for lm, body, lm_root, root in EE_PAIRS:
                rel_r = pos[f"{side}_{body}"] - pos[f"{side}_{root}"]
                rel_h = human_scaled[f"{side}_{lm}"] - human_scaled[f"{side}_{lm_root}"]
                ee[lm].append(np.linalg.norm(rel_r - rel_h, axis=-1))
    mean_mm = lambda xs: float(1e3 * np.mean(np.concatenate(xs))) if xs else float("nan")  # noqa: E731
    low = sole.min(axis=1)
    jv = np.abs(np.diff(clip.joint_pos, axis=0)).max() * clip.fps if t > 1 else 0.0
    return ClipQuality(
        name=clip.name,
        frames=t,
        duration_s=clip.duration,
        joint_limit_max_excess_rad=float(max(excess.max(), 0.0)),
        joint_limit_violation_frac=float(np.mean(excess > JOINT_LIMIT_TOL)),
        foot_skate_mean_mps=float(speed.mean()) if speed.size else 0.0,
        foot_skate_p95_mps=float(np.percentile(speed, 95)) if speed.size else 0.0,
        foot_skate_artefact_mps=stat(np.mean, np.maximum(speed - src, 0.0)),
        source_stance_foot_speed_mps=stat(np.mean, src),
        foot_stance_speed_p50_mps=stat(np.median, speed),
        source_stance_foot_speed_p50_mps=stat(np.median, src),
        stance_sole_height_median_m=float(np.median(height)) if height.size else float("nan"),
        penetration_max_m=float(max(0.0, -low.min())),
        penetration_frac=float(np.mean(low < -PENETRATION_TOL)),
        self_penetration_frac=float(np.mean(self_depth > SELF_CONTACT_TOL)),
        self_penetration_max_m=float(self_depth.max()),
        ee_feet_error_mm=mean_mm(ee["ankle"]),
        ee_hands_error_mm=mean_mm(ee["wrist"]),
        max_joint_speed_rad_s=float(jv),
        joint_jerk_mean=float(np.abs(np.diff(clip.joint_pos, 3, axis=0)).mean() * clip.fps**3)
        if t > 3
        else 0.0,
        startup_max_speed_rad_s=startup,
        after_startup_p99_speed_rad_s=after,
    )


# ---- reports -----------------------------------------------------------------------------------------

COLUMNS = (
    ("name", "clip", "{}"),
    ("frames", "frames", "{}"),
    ("joint_limit_max_excess_rad", "limit excess [rad]", "{:.3f}"),
    ("foot_skate_mean_mps", "skate [m/s]", "{:.3f}"),
    ("foot_skate_artefact_mps", "artefact skate [m/s]", "{:.3f}"),
    ("source_stance_foot_speed_mps", "source stance foot [m/s]", "{:.3f}"),
    ("stance_sole_height_median_m", "stance sole z [m]", "{:+.3f}"),
    ("penetration_max_m", "penetration [m]", "{:.3f}"),
    ("self_penetration_frac", "self-pen. frames", "{:.3f}"),
    ("ee_feet_error_mm", "feet err [mm]", "{:.0f}"),
    ("ee_hands_error_mm", "hands err [mm]", "{:.0f}"),
    ("max_joint_speed_rad_s", "max speed [rad/s]", "{:.1f}"),
    ("joint_jerk_mean", "jerk [rad/s³]", "{:.0f}"),
    ("startup_max_speed_rad_s", "first 1 s max speed [rad/s]", "{:.1f}"),
    ("after_startup_p99_speed_rad_s", "p99 speed after [rad/s]", "{:.1f}"),
)


def summary(rows: list[dict]) -> dict:
    """Mean of every numeric metric over clips (frames summed)."""
    out: dict = {"clips": len(rows)}
    for f in fields(ClipQuality):
        vals = [r[f.name] for r in rows if isinstance(r.get(f.name), int | float) and np.isfinite(r[f.name])]
        if f.name == "frames":
            out[f.name] = int(np.sum(vals))
        elif f.name != "name":
            out[f.name] = float(np.mean(vals)) if vals else float("nan")
    return out


def markdown_table(rows: list[dict], columns=COLUMNS, title: str | None = None) -> str:
    """A markdown table with one row per clip plus a mean row."""
    head = "| " + " | ".join(c[1] for c in columns) + " |"
    sep = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"
    lines = [f"## {title}", ""] if title else []
    lines += [head, sep]
    mean = summary(rows) | {"name": "**mean**"}
    for r in [*rows, mean]:
        cells = []
        for key, _, fmt in columns:
            v = r.get(key, "")
            cells.append(fmt.format(v) if isinstance(v, int | float) or key == "name" else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(
    rows: list[dict], out_dir: str | os.PathLike, stem: str = "retarget_report", extra=None
) -> Path:
    """Write ``<stem>.json`` (rows + summary + extra) and ``<stem>.md`` atomically; returns the .md path."""
    out = Path(out_dir)
    rows = sorted(rows, key=lambda r: str(r.get("name", "")))
    doc = {"summary": summary(rows), "clips": rows, **(extra or {})}
    atomic_write_bytes(out / f"{stem}.json", json.dumps(doc, indent=1, default=float).encode())
    md = markdown_table(rows, title=f"Retargeting quality ({len(rows)} clips)")
    atomic_write_bytes(out / f"{stem}.md", md.encode())
    return out / f"{stem}.md"
