"""Per-frame IK targets of the live retargeter, with the causal filters they need.

:class:`LiveTargets` turns one frame's landmarks into :class:`~hgpt_retarget.ik.FrameTargets`: scaled to the
robot, legs widened to its hips, the ground level followed, stance feet detected and held where their stance
began (optionally the offline pivot/shuffle rule, causally), root jumps blended back, and after the solve the
root height corrected so stance soles stay on the floor. One instance per initialised stream
(:class:`hgpt_retarget.live.LiveRetargeter` makes a new one on every (re-)initialisation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

from hgpt_core.rotations import quat_apply
from hgpt_retarget.ground import PIVOT_POINTS
from hgpt_retarget.ik import G1IK, FrameTargets
from hgpt_retarget.live_config import (
    ANKLE_SPEED_RATE,
    FOOT_LEN_RATE,
    GROUND_RISE_RATE,
    LOCK_RELEASE_DONE_M,
    LOCK_RELEASE_RATE,
    MIN_DT_S,
    REST_PITCH_RATE,
    RUN_START_S,
    LiveConfig,
)
from hgpt_retarget.skeleton import SkeletonMapping
from hgpt_retarget.targets import (
    MAX_SWING_PITCH,
    SIDES,
    RobotGeometry,
    lowest_geom_z,
    widen_legs,
    yaw_pitch_quat,
)


class LiveTargets:
    """Target builder and filter state of one initialised stream (see the module docstring).

    Args:
        cfg: Live settings.
        geo: Robot geometry.
        mapping: The stream's skeleton mapping (targets).
        lm: The first frame's landmarks ((1, 3) each, human scale [m], z up).
        height: Subject height [m] (gives the human -> robot scale).
    """

    def __init__(
        self,
        cfg: LiveConfig,
        geo: RobotGeometry,
        mapping: SkeletonMapping,
        lm: dict[str, np.ndarray],
        height: float,
    ) -> None:
        self.cfg, self.geo, self.mapping = cfg, geo, mapping
        self.prev_ankle = np.full((2, 3), np.nan)
        self.speed = np.zeros(2)
        self.stance_w = np.zeros(2)
        self.lock_xy = np.full((2, 2), np.nan)
        self.runs: list[_LiveStance | None] = [None, None]  # the current stance run of each foot
        self.offset = np.zeros(3)
        self.prev_root_target: np.ndarray | None = None
        self.dz = 0.0
        self.rest_pitch = np.zeros(2)
        self.scale = geo.stature / height
        self.ground = float(min(lm["left_ankle"][0, 2], lm["right_ankle"][0, 2]))
        self.half_human = 0.5 * float(np.linalg.norm(lm["left_hip"] - lm["right_hip"])) * self.scale
        for k, side in enumerate(SIDES):  # assume the subject stands flat-footed at the start
            f = lm[f"{side}_toe"][0] - lm[f"{side}_ankle"][0]
            self.rest_pitch[k] = math.atan2(-f[2], math.hypot(f[0], f[1]))

    def build(self, lm: dict[str, np.ndarray], dt: float, events: list[str]) -> FrameTargets:
        """IK targets of one frame from its landmarks ((1, 3) each, human scale [m]); ``dt`` [s] since the
        last frame; appends ``jump`` to ``events`` when the root moved implausibly fast."""
        cfg, geo, st = self.cfg, self.geo, self.cfg.stance
        ankles = np.stack([lm["left_ankle"][0], lm["right_ankle"][0]])
        low = float(ankles[:, 2].min())
        # Ground level: follows the lowest ankle down at once, up only slowly (a step, drift).
        self.ground = low if low < self.ground else self.ground + GROUND_RISE_RATE * (low - self.ground)
        if np.isfinite(self.prev_ankle).all():
            v = np.linalg.norm(ankles - self.prev_ankle, axis=-1) / max(dt, MIN_DT_S)
            self.speed = (1 - ANKLE_SPEED_RATE) * self.speed + ANKLE_SPEED_RATE * v
        self.prev_ankle = ankles
        stance = (self.speed < st.speed_mps) & (ankles[:, 2] - self.ground < st.height_m)
        a = cfg.stance_alpha
        self.stance_w = (1 - a) * self.stance_w + a * stance
        frames = self._frames(lm, stance)
        s, z0, h = self.scale, self.ground, geo.ankle_height
        rs = {}
        for k, v in lm.items():
            p = s * v
            p[:, 2] = s * (v[:, 2] - z0) + h
            rs[k] = p
        widen_legs(rs, frames["pelvis"], geo, self.half_human)
        root = rs["hip_center"][0]
        if self.prev_root_target is not None:
            step = root + self.offset - self.prev_root_target
            limit = cfg.max_root_speed * max(dt, MIN_DT_S)
            if np.linalg.norm(step) > limit:  # jump: keep the robot where it was, glide back
                self.offset = self.prev_root_target - root
                events.append("jump")
        self.offset *= math.exp(-max(dt, 0.0) / cfg.blend_tau_s)
        self.prev_root_target = root + self.offset
        targets = self.mapping.targets
        n = len(targets)
        pos, quat = np.zeros((n, 3)), np.zeros((n, 4))
        quat[:, 0] = 1.0
        pc, oc = np.zeros(n), np.zeros(n)
        parents, cdir, clen = [], np.zeros((n, 3)), np.zeros(n)
        bodies = [t.body for t in targets]
        for b, tg in enumerate(targets):
            pos[b] = rs[tg.landmark][0] + self.offset
            if tg.body in frames:
                quat[b] = frames[tg.body][0]
            pc[b], oc[b] = tg.position_cost, tg.orientation_cost
            if tg.body == "pelvis":
                pos[b] += quat_apply(frames["pelvis"][0], geo.pelvis_from_hip_center)
            for k, side in enumerate(SIDES):
                if tg.body == f"{side}_ankle_roll_link":
                    foot = rs[f"{side}_toe"][0, :2] - rs[f"{side}_ankle"][0, :2]
                    q = frames[tg.body][0]
                    yaw = math.atan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] ** 2 + q[3] ** 2))
                    pos[b] = self._foot_lock(k, pos[b], stance[k], yaw, float(np.linalg.norm(foot)), dt)
                    w = self.stance_w[k]
                    pos[b, 2] = w * h + (1 - w) * pos[b, 2]
                    oc[b] *= w + (1 - w) * cfg.swing_foot_orientation
            p = -1
            if tg.chain is not None:
                p = bodies.index(tg.chain)
                d = lm[tg.landmark][0] - lm[targets[p].landmark][0]
                cdir[b] = d / max(float(np.linalg.norm(d)), 1e-9)
                clen[b] = geo.distance(tg.body, tg.chain)
            parents.append(p)
        return FrameTargets(pos, quat, pc, oc, tuple(parents), cdir, clen)

    def _frames(self, lm: dict[str, np.ndarray], stance: np.ndarray) -> dict[str, np.ndarray]:
        """Single-frame :func:`~hgpt_retarget.targets.body_frames` in scalar math (~20x faster at T = 1)."""
        g = {k: v[0] for k, v in lm.items()}
        low = g.get("spine_low", g["spine_top"])
        out = {
            "pelvis": _frame(g["left_hip"] - g["right_hip"], low - g["hip_center"]),
            "torso_link": _frame(g["left_shoulder"] - g["right_shoulder"], g["spine_top"] - low),
        }
        for k, side in enumerate(SIDES):
            f = g[f"{side}_toe"] - g[f"{side}_ankle"]
            lateral = _cross(g[f"{side}_knee"] - g[f"{side}_ankle"], f)
            fwd = np.array([lateral[1], -lateral[0]])  # lateral x world up, horizontal part
            fwd /= max(math.hypot(fwd[0], fwd[1]), 1e-9)
            pitch = math.atan2(-f[2], f[0] * fwd[0] + f[1] * fwd[1])
            if stance[k]:  # the flat-foot slope of this skeleton, learnt while standing
                self.rest_pitch[k] += REST_PITCH_RATE * (pitch - self.rest_pitch[k])
            rel = float(np.clip(pitch - self.rest_pitch[k], -MAX_SWING_PITCH, MAX_SWING_PITCH))
            rel *= 1.0 - self.stance_w[k]
            out[f"{side}_ankle_roll_link"] = yaw_pitch_quat(np.arctan2(fwd[1], fwd[0]), np.asarray(rel))[None]
        return out

    def _foot_lock(
        self, k: int, p: np.ndarray, stance: bool, yaw: float = 0.0, foot_len: float = 0.0, dt: float = 0.02
    ) -> np.ndarray:
        """Hold a stance foot's horizontal target where the stance began; release smoothly after it.

        With ``cfg.follow_pivots``, the offline pivot/shuffle rule (:func:`hgpt_retarget.ground.classify_run`)
        causally: once the foot's heading (``yaw`` [rad], of its orientation target) has turned by more than
        ``stance.pivot_yaw_rad`` since the stance began, the ankle circles the contact point found so far
        (shortest path on the ankle -> toe line, ``foot_len`` [m] long); once that point, low-passed at
        ``stance.shuffle_hz``, is more than ``stance.shuffle_m`` (human scale) from where the run began
        (its mean over the first 0.25 s), the held point follows it.
        """
        if stance:
            st, d = self.cfg.stance, np.array([math.cos(yaw), math.sin(yaw)])
            if not np.isfinite(self.lock_xy[k]).all():
                self.lock_xy[k] = p[:2]
            if not self.cfg.follow_pivots:
                out = p.copy()
                out[:2] = self.lock_xy[k]
                return out
            r = self.runs[k]
            if r is None:  # a new run (possibly while the last lock is still being released)
                r = self.runs[k] = _LiveStance(yaw, p[:2] + np.outer(PIVOT_POINTS, foot_len * d))
            pts = p[:2] + np.outer(PIVOT_POINTS, foot_len * d)  # candidate contact points of the source
            alpha = 1.0 - math.exp(-2 * math.pi * st.shuffle_hz * max(dt, MIN_DT_S))
            moved = r.update(pts, yaw, alpha, max(dt, 0.0))
            i = int(np.argmin(r.paths))
            if r.yaw_range > st.pivot_yaw_rad and r.contact != PIVOT_POINTS[i]:
                # pivot (or a better contact point found): hold it where the ankle target is now
                r.contact, r.held = PIVOT_POINTS[i], self.lock_xy[k] + PIVOT_POINTS[i] * r.foot_len * d
            travel = np.linalg.norm(r.ema[i] - r.sum[i] / r.n)  # net travel since the run's first 0.25 s
            r.shuffle = r.shuffle or bool(travel > st.shuffle_m * self.scale)
            if r.shuffle:  # a slide: the held point follows the source's low-passed contact point
                j = i if r.contact is None else int(np.argmin(np.abs(PIVOT_POINTS - r.contact)))
                if r.contact is None:
                    self.lock_xy[k] = self.lock_xy[k] + moved[j]
                else:
                    r.held = r.held + moved[j]
            if r.contact is not None:
                r.foot_len += FOOT_LEN_RATE * (foot_len - r.foot_len)
                self.lock_xy[k] = r.held - r.contact * r.foot_len * d
            out = p.copy()
            out[:2] = self.lock_xy[k]
            return out
        self.runs[k] = None
        if np.isfinite(self.lock_xy[k]).all():  # lift-off: move the lock towards the free target
            self.lock_xy[k] += LOCK_RELEASE_RATE * (p[:2] - self.lock_xy[k])
            if np.linalg.norm(p[:2] - self.lock_xy[k]) < LOCK_RELEASE_DONE_M:
                self.lock_xy[k] = np.nan
            else:
                out = p.copy()
                out[:2] = self.lock_xy[k]
                return out
        return p

    def correct_height(self, q: np.ndarray, ik: G1IK, feet: tuple[tuple[int, ...], ...]) -> np.ndarray:
        """Root height correction of the solved pose ``q`` (36,) (``ik`` holds it): stance soles on the
        floor, no sole (geoms ``feet``) below it (smoothed)."""
        m, d = ik.model, ik.configuration.data
        sole = np.array([lowest_geom_z(m, d, g) for g in feet])
        w = self.stance_w
        target = -float(sole[w > 0.5].min()) if (w > 0.5).any() else self.dz
        self.dz += self.cfg.stance_alpha * (target - self.dz)
        out = q.copy()
        out[2] += max(self.dz, -float(sole.min()))
        return out


@dataclass
class _LiveStance:
    """Running evidence of one stance run (live pivot/shuffle rule)."""

    yaw0: float  # heading when the stance began [rad]
    pts0: np.ndarray  # candidate contact points then (P, 2)
    yaw_lo: float = 0.0
    yaw_hi: float = 0.0
    contact: float | None = None  # contact point (0 ankle ... 1 toe) once a pivot is detected
    held: np.ndarray | None = None  # the held contact point of a pivot (2,)
    shuffle: bool = False
    foot_len: float = 0.0
    age: float = 0.0  # time since the run began [s]

    def __post_init__(self) -> None:
        self.prev = self.pts0.copy()
        self.ema = self.pts0.copy()
        self.sum, self.n = self.pts0.copy(), 1
        self.paths = np.zeros(len(self.pts0))
        self.foot_len = float(np.linalg.norm(self.pts0[-1] - self.pts0[0]))

    @property
    def yaw_range(self) -> float:
        return self.yaw_hi - self.yaw_lo

    def update(self, pts: np.ndarray, yaw: float, alpha: float, dt: float) -> np.ndarray:
        """Add a frame; returns how far each low-passed candidate point moved (P, 2)."""
        self.paths += np.linalg.norm(pts - self.prev, axis=1)
        self.prev = pts
        if self.age < RUN_START_S:  # the run's start: its mean is where net travel is measured from
            self.sum, self.n = self.sum + pts, self.n + 1
        self.age += dt
        rel = (yaw - self.yaw0 + math.pi) % (2 * math.pi) - math.pi
        self.yaw_lo, self.yaw_hi = min(self.yaw_lo, rel), max(self.yaw_hi, rel)
        before = self.ema.copy()
        self.ema = self.ema + alpha * (pts - self.ema)
        return self.ema - before


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _frame(lateral: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Quaternion wxyz (1, 4) of the frame with z along ``up`` and y along ``lateral`` (orthogonalised)."""
    z = up / max(float(np.linalg.norm(up)), 1e-9)
    y = lateral - float(lateral @ z) * z
    y /= max(float(np.linalg.norm(y)), 1e-9)
    mat = np.column_stack((_cross(y, z), y, z))
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, mat.ravel())
    return (q if q[0] >= 0 else -q)[None]
