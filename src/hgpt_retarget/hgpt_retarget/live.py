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
The ground level and stance come from the stream itself, as offline (see :mod:`hgpt_retarget.ground`):
the targets and their filters are :mod:`hgpt_retarget.live_targets`, the settings
:mod:`hgpt_retarget.live_config`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from hgpt_core.g1 import KNEES_BENT_POSE, NUM_JOINTS
from hgpt_retarget.human import HEIGHT_RANGE_M, LEG_FRACTION
from hgpt_retarget.ik import G1IK
from hgpt_retarget.live_config import (
    FIRST_DT_S,
    GAP_ITERATIONS,
    MAX_SOLVE_DT_S,
    MIN_DT_S,
    UNUSED_LANDMARKS,
    LiveConfig,
)
from hgpt_retarget.live_targets import LiveTargets
from hgpt_retarget.skeleton import SkeletonError, SkeletonMapping, detect_skeleton, load_skeleton
from hgpt_retarget.targets import SIDES, foot_geoms, robot_geometry


@dataclass(frozen=True)
class LiveFrame:
    """One retargeted frame (world frame, z up; joints in G1 order)."""

    stamp: float
    root_pos_w: np.ndarray  # (3,) [m]
    root_quat_w: np.ndarray  # (4,) wxyz
    joint_pos: np.ndarray  # (29,) [rad]
    valid: bool
    held: tuple[str, ...] = ()  # landmarks held at their last good position
    events: tuple[str, ...] = ()  # init | reinit | gap | jump | stale | timeout | error:<msg>
    compute_s: float = 0.0


class LiveRetargeter:
    """Stateful per-frame retargeter; see the module docstring."""

    def __init__(self, skeleton: str | SkeletonMapping | None = None, cfg: LiveConfig | None = None) -> None:
        self.cfg = cfg if cfg is not None else LiveConfig()
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
        self.prev_pts: np.ndarray | None = None  # landmark positions of the last frame (L, 3)
        self.targets: LiveTargets | None = None  # made by _initialise

    def set_robot_pose(
        self,
        joint_pos: np.ndarray,
        root_pos_w: np.ndarray | None = None,
        root_quat_w: np.ndarray | None = None,
    ) -> None:
        """The robot's current pose (joints (29,) [rad]; root position [m] and quaternion wxyz optional):
        the next ease-in starts from it. Call it with every robot state; None root = joints only."""
        q = np.full(36, np.nan)
        q[7:] = joint_pos
        if root_pos_w is not None and root_quat_w is not None:
            q[:3], q[3:7] = root_pos_w, np.asarray(root_quat_w) / np.linalg.norm(root_quat_w)
        self.robot_pose = q

    def _start_ease(self, q: np.ndarray) -> None:
        """Begin easing from the robot pose, else the last frame sent, else the default pose."""
        start = q.copy()
        if self.robot_pose is not None:
            start[7:] = self.robot_pose[7:]
            if np.isfinite(self.robot_pose[:7]).all():
                start[:7] = self.robot_pose[:7]
        elif self.last is not None:
            last = self.last
            start[:3], start[3:7], start[7:] = last.root_pos_w, last.root_quat_w, last.joint_pos
        else:
            start[7:] = KNEES_BENT_POSE
        self.ease_q = start
        self.ease_joints = np.ones(NUM_JOINTS, dtype=bool)
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
        dt = float(np.clip(dt, MIN_DT_S, cfg.ease_max_dt))
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
        dt = FIRST_DT_S if self.stamp is None else float(stamp - self.stamp)
        self.stamp = stamp
        if not self.initialised:
            if not self._initialise(lm):
                return self._repeat(stamp, (f"error:{self.last_error}",), t0)
            events.append("init")
        pts = np.stack([v[0] for v in lm.values()])
        jump = self.cfg.pose_jump_speed * max(dt, MIN_DT_S)
        same = self.prev_pts is not None and self.prev_pts.shape == pts.shape and "init" not in events
        if same and np.linalg.norm(pts - self.prev_pts, axis=1).max() > jump:
            events.append("pose_jump")  # e.g. a T-pose frame before the motion: ease, do not follow
        self.prev_pts = pts
        assert self.targets is not None and self.ik is not None  # _initialise and _bind made them
        tg = self.targets.build(lm, dt, events)
        iters = None
        if "init" in events:
            iters = self.cfg.ik.init_iterations
        elif dt > self.cfg.max_gap_s:
            events.append("gap")
            iters = GAP_ITERATIONS * self.cfg.ik.iterations
        solve_dt = float(np.clip(dt, MIN_DT_S, MAX_SOLVE_DT_S))
        q = self.ik.solve(tg, solve_dt, iterations=iters)
        q = self.targets.correct_height(q, self.ik, self.feet)
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
            stamp, self.last.root_pos_w, self.last.root_quat_w, self.last.joint_pos, v, self.last.held,
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
        assert self.mapping is not None  # _bind made it
        self.targets = LiveTargets(self.cfg, self.geo, self.mapping, lm, height)
        self.initialised = True
        return True


def _quat_mul_z(half_angle: float, q: np.ndarray) -> np.ndarray:
    """Rotation about world z by ``2 * half_angle`` applied to quaternion ``q`` (wxyz): qz * q."""
    c, s = math.cos(half_angle), math.sin(half_angle)
    w, x, y, z = q
    return np.array([c * w - s * z, c * x - s * y, c * y + s * x, c * z + s * w])
