"""Live retargeting, frame by frame: the core of retarget_node (no ROS here).

``LiveRetargeter.step(joint_names, positions, stamp)`` turns one human pose (metres, z up: the HumanPose
contract) into one G1 frame, warm-started from the previous one. It copes with what streams do:
  * dropped frames: the joint speed limit scales with the real time step; a gap longer than
    ``max_gap_s`` gets a longer solve;
  * jumps (a tracker re-acquiring the subject): the root target may move at most ``max_root_speed``; the
    excess becomes an offset that decays with ``blend_tau_s`` (the robot glides back, it does not teleport);
  * NaN or missing joints: the last good position of each affected landmark is held (reported in
    ``held``) for up to ``hold_timeout_s``, after which frames are marked invalid;
  * a different skeleton (new joint names matching another mapping): everything is re-initialised;
  * stamps going backwards: the frame is ignored and the last output repeated;
  * start-up: the output never jumps to the first solution. After the first frame, a re-initialisation, a
    gap, invalid frames or a pose jump (a landmark faster than ``pose_jump_speed``) it eases in from the
    robot's current pose (:meth:`LiveRetargeter.set_robot_pose`), else from the last frame sent, else from
    the knees-bent default pose, each joint moving at most ``ease_speed`` until it meets the retargeted
    motion (then it follows it; event ``ease`` meanwhile).
The ground level and stance come from the stream itself, as offline (see :mod:`hgpt_retarget.ground`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import mujoco
import numpy as np

from hgpt_core.g1 import KNEES_BENT_POSE
from hgpt_core.rotations import quat_apply
from hgpt_retarget.ground import PIVOT_POINTS, StanceConfig
from hgpt_retarget.human import HEIGHT_RANGE_M, LEG_FRACTION
from hgpt_retarget.ik import G1IK, IKConfig
from hgpt_retarget.skeleton import SkeletonError, SkeletonMapping, detect_skeleton, load_skeleton
from hgpt_retarget.targets import (
    MAX_SWING_PITCH,
    SIDES,
    foot_geoms,
    lowest_geom_z,
    robot_geometry,
    widen_legs,
    yaw_pitch_quat,
)

# Landmarks the targets never use: a stream may drop them freely.
UNUSED_LANDMARKS = frozenset({"head", "pelvis"})


@dataclass(frozen=True)
class LiveConfig:
    """Live retargeting settings (defaults are the working values)."""

    ik: IKConfig = field(default_factory=lambda: IKConfig(iterations=2))
    stance: StanceConfig = field(default_factory=StanceConfig)
    subject_height: float | None = None
    """Subject height [m]; None estimates it from the first frame's legs."""
    hold_timeout_s: float = 0.5
    """How long a missing/NaN landmark is held at its last good position [s]."""
    max_gap_s: float = 0.25
    """A longer gap between frames gets a longer solve (re-acquisition) [s]."""
    pose_jump_speed: float = 15.0
    """A landmark moving faster than this [m/s] between two frames is a pose jump (a T-pose frame before
    the motion, a tracker swapping limbs): the output eases from the last frame instead of following."""
    max_root_speed: float = 4.0
    """Fastest plausible root motion [m/s]; faster is a jump and is blended."""
    blend_tau_s: float = 0.3
    """Time constant of the blend back after a jump [s]."""
    swing_foot_orientation: float = 0.3
    """Foot orientation cost factor in the air."""
    stance_alpha: float = 0.4
    """Smoothing factor (per frame) of stance weights and the ground correction."""
    follow_pivots: bool = False
    """Apply the pivot/shuffle stance rule live (causally; see ``_foot_lock``). Off by default: on the
    Bandai boxer it doubles the pivoting ankle's speed (0.013 -> 0.023 m/s p50) but adds artefact skating
    (0.027 -> 0.032 m/s) and 6 mm of foot error; the offline rule sees whole runs and is clean."""
    ease_speed: float = 2.0
    """Joint speed bound [rad/s] while easing in (after init, re-init, a gap or invalid frames)."""
    ease_root_speed: float = 0.5
    """Speed [m/s] at which the root's offset from the motion shrinks while easing in (from a pose with a
    root: the last frame, or a robot pose given with one)."""
    ease_root_ang_speed: float = 1.0
    """Rate [rad/s] at which the root's heading offset shrinks while easing in (roll/pitch follow the
    motion)."""
    ease_max_dt: float = 0.04
    """Longest time step [s] one eased frame may use (a frame after a long gap moves one step, not more)."""


@dataclass(frozen=True)
class LiveFrame:
    """One retargeted frame (world frame, z up; joints in G1 order)."""

    stamp: float
    root_pos: np.ndarray  # (3,) [m]
    root_quat: np.ndarray  # (4,) wxyz
    joint_pos: np.ndarray  # (29,) [rad]
    valid: bool
    held: tuple[str, ...] = ()  # landmarks held at their last good position
    events: tuple[str, ...] = ()  # init | reinit | gap | jump | stale | timeout | error:<msg>
    compute_s: float = 0.0


class LiveRetargeter:
    """Stateful per-frame retargeter; see the module docstring."""

    def __init__(self, skeleton: str | SkeletonMapping | None = None, cfg: LiveConfig = LiveConfig()) -> None:
        self.cfg = cfg
        self.fixed = load_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
        self.mapping: SkeletonMapping | None = None
        self.geo = robot_geometry()
        self.ik: G1IK | None = None
        self._names: tuple[str, ...] | None = None
        self.last: LiveFrame | None = None
        self.last_error = ""
        self.robot_pose: np.ndarray | None = None  # (29,) joints or (36,) qpos of the robot, for easing in
        self.ease_q: np.ndarray | None = None  # (36,) output pose while easing in
        self.ease_joints = np.zeros(29, dtype=bool)  # joints still easing
        self.ease_root: tuple[np.ndarray, float] | None = None  # root offset from the motion: pos, yaw
        self._reset()

    def _reset(self) -> None:
        self.initialised = False
        self.stamp: float | None = None
        self.good: dict[str, np.ndarray] = {}
        self.good_stamp: dict[str, float] = {}
        self.prev_ankle = np.full((2, 3), np.nan)
        self.speed = np.zeros(2)
        self.stance_w = np.zeros(2)
        self.lock_xy = np.full((2, 2), np.nan)
        self.runs: list[_LiveStance | None] = [None, None]  # the current stance run of each foot
        self.offset = np.zeros(3)
        self.prev_root_target: np.ndarray | None = None
        self.prev_pts: np.ndarray | None = None  # landmark positions of the last frame (L, 3)
        self.dz = 0.0
        self.rest_pitch = np.zeros(2)

    def set_robot_pose(
        self, joint_pos: np.ndarray, root_pos: np.ndarray | None = None, root_quat: np.ndarray | None = None
    ) -> None:
        """The robot's current pose (joints (29,) [rad]; root position [m] and quaternion wxyz optional):
        the next ease-in starts from it. Call it with every robot state; None root = joints only."""
        q = np.full(36, np.nan)
        q[7:] = joint_pos
        if root_pos is not None and root_quat is not None:
            q[:3], q[3:7] = root_pos, np.asarray(root_quat) / np.linalg.norm(root_quat)
        self.robot_pose = q

    def _start_ease(self, q: np.ndarray) -> None:
        """Begin easing from the robot pose, else the last frame sent, else the default pose."""
        start = q.copy()
        if self.robot_pose is not None:
            start[7:] = self.robot_pose[7:]
            if np.isfinite(self.robot_pose[:7]).all():
                start[:7] = self.robot_pose[:7]
        elif self.last is not None:
            start[:3], start[3:7], start[7:] = self.last.root_pos, self.last.root_quat, self.last.joint_pos
        else:
            start[7:] = KNEES_BENT_POSE
        self.ease_q = start
        self.ease_joints = np.ones(29, dtype=bool)
        # Root: offset (position, heading) of the start from the motion, shrunk at bounded speed.
        self.ease_root = None
        if np.any(start[:7] != q[:7]):
            yaw = lambda w: math.atan2(2 * (w[0] * w[3] + w[1] * w[2]), 1 - 2 * (w[2] ** 2 + w[3] ** 2))  # noqa: E731
            d_yaw = (yaw(start[3:7]) - yaw(q[3:7]) + math.pi) % (2 * math.pi) - math.pi
            self.ease_root = (start[:3] - q[:3], d_yaw)

    def _ease(self, q: np.ndarray, dt: float, events: list[str]) -> np.ndarray:
        """Output pose while easing in towards the retargeted pose ``q`` (36,); ``q`` once it is met.

        Joints move at most ``ease_speed`` towards ``q``; a joint that meets its motion follows it from
        then on. The root keeps an offset from ``q`` that shrinks at ``ease_root_speed`` /
        ``ease_root_ang_speed`` (it follows the motion meanwhile, so a walking subject cannot outrun it).
        """
        if self.ease_q is None:
            return q
        cfg, prev = self.cfg, self.ease_q
        dt = float(np.clip(dt, 1e-3, cfg.ease_max_dt))
        out = q.copy()
        step = cfg.ease_speed * dt
        diff = q[7:] - prev[7:]
        self.ease_joints &= np.abs(diff) > step  # a joint that meets the motion follows it from then on
        out[7:] = np.where(self.ease_joints, prev[7:] + np.clip(diff, -step, step), q[7:])
        if self.ease_root is not None:
            off_pos, off_yaw = self.ease_root
            n = float(np.linalg.norm(off_pos))
            off_pos = off_pos * max(0.0, 1.0 - cfg.ease_root_speed * dt / n) if n > 0 else off_pos
            off_yaw = float(np.sign(off_yaw) * max(0.0, abs(off_yaw) - cfg.ease_root_ang_speed * dt))
            out[:3] = q[:3] + off_pos
            half = 0.5 * off_yaw
            out[3:7] = _quat_mul_z(half, q[3:7])
            self.ease_root = (off_pos, off_yaw) if np.linalg.norm(off_pos) > 0 or off_yaw != 0 else None
        if not self.ease_joints.any() and self.ease_root is None:
            self.ease_q = None
            return q
        self.ease_q = out
        events.append("ease")
        return out

    # ---- skeleton handling -------------------------------------------------------------------------
    def _bind(self, names: tuple[str, ...]) -> list[str]:
        """Map landmarks to joint indices for ``names``; re-initialise on a new skeleton."""
        events = []
        mapping = self.fixed
        if mapping is None:
            try:
                mapping = detect_skeleton(names)
            except SkeletonError:
                mapping = self.mapping  # same skeleton with joints missing: hold them
                if mapping is None:
                    raise
        if mapping is not self.mapping:
            if self.mapping is not None:
                events.append("reinit")
            self.mapping = mapping
            self.ik = G1IK(tuple(t.body for t in mapping.targets), self.cfg.ik)
            self.feet = foot_geoms(self.ik.model)
            self._reset()
        pos = {n: i for i, n in enumerate(names)}
        self.lm_names = tuple(mapping.landmarks)
        # Averaging matrix (L, J): landmark = mean of its source joints that this stream has.
        self.avg = np.zeros((len(self.lm_names), len(names)))
        for r, k in enumerate(self.lm_names):
            idx = [pos[j] for j in mapping.landmarks[k] if j in pos]
            self.avg[r, idx] = 1.0 / len(idx) if idx else np.nan
        self._names = names
        return events

    # ---- one frame ---------------------------------------------------------------------------------
    def step(self, joint_names, positions, stamp: float) -> LiveFrame | None:
        """Retarget one pose.

        Args:
            joint_names: Names of the rows of ``positions`` (J,).
            positions: Joint positions [m], z up, shape (J, 3); NaN rows are missing joints.
            stamp: Capture time [s].

        Returns:
            The G1 frame, or None while no frame could be produced yet (see ``last_error``).
        """
        t0 = time.perf_counter()
        names = tuple(joint_names)
        events: list[str] = []
        if self.stamp is not None and stamp <= self.stamp:
            return self._repeat(stamp, ("stale",), t0)
        try:
            if names != self._names:
                events += self._bind(names)
        except SkeletonError as exc:
            self.last_error = str(exc)
            return self._repeat(stamp, (f"error:{exc}",), t0)
        lm, held, fresh = self._landmarks(np.asarray(positions, dtype=np.float64), stamp)
        if lm is None:
            return self._repeat(stamp, ("timeout", *events), t0, valid=False)
        dt = 1.0 / 50.0 if self.stamp is None else float(stamp - self.stamp)
        self.stamp = stamp
        if not self.initialised:
            if not self._initialise(lm):
                return self._repeat(stamp, (f"error:{self.last_error}",), t0)
            events.append("init")
        pts = np.stack([v[0] for v in lm.values()])
        jump = self.cfg.pose_jump_speed * max(dt, 1e-3)
        same = self.prev_pts is not None and self.prev_pts.shape == pts.shape and "init" not in events
        if same and np.linalg.norm(pts - self.prev_pts, axis=1).max() > jump:
            events.append("pose_jump")  # e.g. a T-pose frame before the motion: ease, do not follow
        self.prev_pts = pts
        targets = self._targets(lm, dt, events)
        iters = None
        if "init" in events:
            iters = self.cfg.ik.init_iterations
        elif dt > self.cfg.max_gap_s:
            events.append("gap")
            iters = 4 * self.cfg.ik.iterations
        q = self.ik.solve(*targets, dt=float(np.clip(dt, 1e-3, 1.0)), iterations=iters)
        q = self._ground(q)
        restart = ("init", "gap", "pose_jump")
        if any(e in events for e in restart) or (self.last is not None and not self.last.valid and fresh):
            self._start_ease(q)
        q = self._ease(q, dt, events)
        frame = LiveFrame(
            stamp, q[:3], q[3:7], q[7:], valid=fresh, held=held, events=tuple(events),
            compute_s=time.perf_counter() - t0,
        )  # fmt: skip
        self.last = frame
        return frame

    def _repeat(self, stamp, events, t0, valid: bool | None = None) -> LiveFrame | None:
        if self.last is None:
            return None
        v = self.last.valid if valid is None else valid
        self.last = LiveFrame(
            stamp, self.last.root_pos, self.last.root_quat, self.last.joint_pos, v, self.last.held,
            tuple(events), time.perf_counter() - t0,
        )  # fmt: skip
        return self.last

    def _landmarks(self, pos: np.ndarray, stamp: float):
        """(landmarks, held, valid) of this frame; missing ones are held; (None, ...) once one is too old."""
        if pos.shape != (self.avg.shape[1], 3):
            raise SkeletonError(f"positions shape {pos.shape}, expected ({self.avg.shape[1]}, 3)")
        lm, held = {}, []
        for k, p in zip(self.lm_names, self._mean_rows(pos), strict=True):
            if k in UNUSED_LANDMARKS:
                continue
            if np.isfinite(p).all():
                self.good[k], self.good_stamp[k] = p, stamp
            elif k in self.good and stamp - self.good_stamp[k] <= self.cfg.hold_timeout_s:
                held.append(k)
                p = self.good[k]
            else:
                return None, tuple(held), False
            lm[k] = p[None]
        lm["hip_center"] = 0.5 * (lm["left_hip"] + lm["right_hip"])
        return lm, tuple(held), True

    def _mean_rows(self, pos: np.ndarray) -> np.ndarray:
        """Landmark rows (L, 3); a row is NaN when any of its joints is NaN or absent."""
        bad = ~np.isfinite(pos).all(axis=1)
        avg = np.nan_to_num(self.avg)
        out = avg @ np.where(bad[:, None], 0.0, pos)
        out[(avg[:, bad] != 0).any(axis=1) | np.isnan(self.avg).any(axis=1)] = np.nan
        return out

    def _initialise(self, lm: dict[str, np.ndarray]) -> bool:
        legs = [
            np.linalg.norm(lm[f"{s}_knee"] - lm[f"{s}_hip"])
            + np.linalg.norm(lm[f"{s}_ankle"] - lm[f"{s}_knee"])
            for s in SIDES
        ]
        height = self.cfg.subject_height or float(np.mean(legs)) / LEG_FRACTION
        if not HEIGHT_RANGE_M[0] <= height <= HEIGHT_RANGE_M[1]:
            self.last_error = (
                f"estimated subject height {height:.3g} m is implausible: positions must be metres"
            )
            return False
        self.scale = self.geo.stature / height
        self.ground = float(min(lm["left_ankle"][0, 2], lm["right_ankle"][0, 2]))
        self.half_human = 0.5 * float(np.linalg.norm(lm["left_hip"] - lm["right_hip"])) * self.scale
        for k, side in enumerate(SIDES):  # assume the subject stands flat-footed at the start
            f = lm[f"{side}_toe"][0] - lm[f"{side}_ankle"][0]
            self.rest_pitch[k] = math.atan2(-f[2], math.hypot(f[0], f[1]))
        self.initialised = True
        return True

    def _targets(self, lm: dict[str, np.ndarray], dt: float, events: list[str]):
        cfg, geo, st = self.cfg, self.geo, self.cfg.stance
        ankles = np.stack([lm["left_ankle"][0], lm["right_ankle"][0]])
        low = float(ankles[:, 2].min())
        # Ground level: follows the lowest ankle down at once, up only slowly (a step, drift).
        self.ground = low if low < self.ground else self.ground + 0.01 * (low - self.ground)
        if np.isfinite(self.prev_ankle).all():
            v = np.linalg.norm(ankles - self.prev_ankle, axis=-1) / max(dt, 1e-3)
            self.speed = 0.5 * self.speed + 0.5 * v
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
            limit = cfg.max_root_speed * max(dt, 1e-3)
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
        return pos, quat, pc, oc, tuple(parents), cdir, clen

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
                self.rest_pitch[k] += 0.1 * (pitch - self.rest_pitch[k])
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
            alpha = 1.0 - math.exp(-2 * math.pi * st.shuffle_hz * max(dt, 1e-3))
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
                r.foot_len += 0.1 * (foot_len - r.foot_len)
                self.lock_xy[k] = r.held - r.contact * r.foot_len * d
            out = p.copy()
            out[:2] = self.lock_xy[k]
            return out
        self.runs[k] = None
        if np.isfinite(self.lock_xy[k]).all():  # lift-off: move the lock towards the free target
            self.lock_xy[k] += 0.5 * (p[:2] - self.lock_xy[k])
            if np.linalg.norm(p[:2] - self.lock_xy[k]) < 1e-3:
                self.lock_xy[k] = np.nan
            else:
                out = p.copy()
                out[:2] = self.lock_xy[k]
                return out
        return p

    def _ground(self, q: np.ndarray) -> np.ndarray:
        """Root height correction: stance soles on the floor, no sole below it (smoothed)."""
        m, d = self.ik.model, self.ik.configuration.data
        sole = np.array([lowest_geom_z(m, d, g) for g in self.feet])
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
        if self.age < 0.25:  # the run's start: its mean is where net travel is measured from
            self.sum, self.n = self.sum + pts, self.n + 1
        self.age += dt
        rel = (yaw - self.yaw0 + math.pi) % (2 * math.pi) - math.pi
        self.yaw_lo, self.yaw_hi = min(self.yaw_lo, rel), max(self.yaw_hi, rel)
        before = self.ema.copy()
        self.ema = self.ema + alpha * (pts - self.ema)
        return self.ema - before


def _quat_mul_z(half_angle: float, q: np.ndarray) -> np.ndarray:
    """Rotation about world z by ``2 * half_angle`` applied to quaternion ``q`` (wxyz): qz * q."""
    c, s = math.cos(half_angle), math.sin(half_angle)
    w, x, y, z = q
    return np.array([c * w - s * z, c * x - s * y, c * y + s * x, c * z + s * w])


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
