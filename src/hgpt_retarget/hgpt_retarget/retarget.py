"""Offline retargeting of one human clip to a 50 Hz G1 :class:`~hgpt_core.motion.MotionClip`."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import mujoco
import numpy as np

from hgpt_core.motion import CONTROL_FPS, MotionClip
from hgpt_retarget.ground import StanceConfig, lowpass, root_height_offsets
from hgpt_retarget.human import HumanMotion
from hgpt_retarget.ik import G1IK, IKConfig, g1_model
from hgpt_retarget.quality import startup_speeds
from hgpt_retarget.skeleton import SkeletonMapping
from hgpt_retarget.targets import TargetSeq, build_targets, lowest_geom_z, robot_geometry


@dataclass(frozen=True)
class RetargetConfig:
    """Offline retargeting settings (defaults are the working values)."""

    fps: float = CONTROL_FPS
    """Output (and IK) rate [Hz]; the human motion is resampled to it first."""
    subject_height: float | None = None
    """Subject height [m]; None estimates it from the skeleton's leg length."""
    ground_fix: bool = True
    """Correct the root height per frame so stance soles touch the floor and none goes below it."""
    swing_foot_orientation: float = 0.3
    """Foot orientation cost factor while the foot is in the air."""
    smooth_hz: float = 8.0
    """Zero-phase low-pass cutoff applied to the human landmarks [Hz] (0 = off)."""
    joint_smooth_hz: float = 10.0
    """Zero-phase low-pass cutoff on the solved joints and root [Hz] (0 = off). On ASAP clips 10 Hz halves
    the joint jerk (435 -> 233 rad/s^3) for +7 mm/s of stance-foot skating; 6 Hz: 159 and +30 mm/s."""
    trim_bind_pose: bool = True
    """Drop leading frames that jump to the motion (a T-pose/bind-pose frame, as every CMU BVH has); see
    :func:`leading_jump_frames`."""
    lead_in_s: float = 1.0
    """Warm the solver up on the clip's first seconds played backwards before solving its first frame [s]
    (not emitted; 0 = start from the default pose): the first frame is then reached the way the motion
    leaves it, so no joint has to switch configuration at speed in the first second."""
    lead_in_round_trip_rad: float = 1.0
    """The lead-in's round trip closes when the forward solve arrives at the lead-in's start frame within
    this [rad] (largest joint) of the converged solve it started from. One that does not close (the solver
    came back on another branch: an arm at its shoulder-roll limit) and a first second faster than the p99
    after it trigger the retry below (see :func:`retry_start`). Over the 238 shared BVH: median 0.11 rad,
    p90 0.39; 10 above 1 rad, 5 of those also fail the first-second test (the 3 with a spike among them)."""
    lead_in_retry_s: tuple[float, ...] = (2.0, 4.0)
    """Longer lead-ins [s] tried when the retry is triggered (empty: never retry)."""
    ik: IKConfig = field(default_factory=IKConfig)
    stance: StanceConfig = field(default_factory=StanceConfig)


@dataclass
class RetargetResult:
    """A retargeted clip with what produced it (for metrics and debugging)."""

    clip: MotionClip
    human: HumanMotion  # at the output rate, metres, z up
    targets: TargetSeq
    ik_seconds: float


@lru_cache(maxsize=4)
def _solver(bodies: tuple[str, ...], cfg: IKConfig) -> G1IK:
    return G1IK(bodies, cfg)


@lru_cache(maxsize=1)
def _model() -> tuple[mujoco.MjModel, mujoco.MjData]:
    m = g1_model()
    return m, mujoco.MjData(m)


def sole_heights(qpos: np.ndarray) -> np.ndarray:
    """Lowest sole point [m] of the left and right foot per frame. Shape: (T, 36) -> (T, 2)."""
    m, d = _model()
    feet = robot_geometry().foot_geoms
    out = np.empty((len(qpos), 2))
    for t, q in enumerate(qpos):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        out[t] = [lowest_geom_z(m, d, g) for g in feet]
    return out


BIND_POSE_MIN_SPEED = 5.0  # [m/s] a leading landmark jump must be faster than this ...
BIND_POSE_P99_FACTOR = 3.0  # ... and this many times the clip's own p99 landmark speed
BIND_POSE_MAX_S = 0.5  # [s] only jumps this close to the start count


def leading_jump_frames(motion: HumanMotion, mapping: SkeletonMapping) -> int:
    """Number of leading frames to drop: those before the last landmark jump in the first 0.5 s.

    A jump is a frame-to-frame landmark speed above ``max(5 m/s, 3 x the clip's p99)`` (CMU 01_01's T-pose
    frame 0: 34 m/s against a p99 of 3.4 m/s). Speeds are the fastest landmark per frame at the file rate.
    """
    lm = np.stack(list(motion.landmarks(mapping).values()), axis=1)  # (T, L, 3)
    if len(lm) < 4:
        return 0
    speed = np.linalg.norm(np.diff(lm, axis=0), axis=-1).max(axis=1) * motion.fps  # (T-1,)
    limit = max(BIND_POSE_MIN_SPEED, BIND_POSE_P99_FACTOR * float(np.percentile(speed, 99)))
    head = speed[: max(1, int(BIND_POSE_MAX_S * motion.fps))]
    jumps = np.flatnonzero(head > limit)
    return int(jumps[-1]) + 1 if jumps.size else 0


def solve_sequence(
    ik: G1IK, tg: TargetSeq, fps: float, info: dict | None = None, lead_in_s: float = 0.0
) -> np.ndarray:
    """Run IK over every frame of ``tg`` with warm start; returns qpos (T, 36).

    The solve starts ``lead_in_s`` into the clip and runs backwards to the first frame (those solves only
    warm the solver up: they are not emitted), so the first frame is reached the way the motion leaves
    it, not from the default pose. The lead-in's first solve and the clip's first frame are iterated until
    an iteration moves no joint by more than ``ik.cfg.init_tolerance`` (at most ``init_iterations``): the
    clip starts converged instead of catching up at the speed limit. ``info`` (if given) receives the
    first frame's ``iterations``, ``converged``, ``last_step_rad``, task residuals ``position_m`` /
    ``orientation_rad``, ``lead_in_frames`` and ``round_trip_rad``: the largest joint difference [rad]
    between the lead-in's converged first solve and the forward solve of the same frame (0 without a
    lead-in): a round trip that does not close came back on another branch of the solution.
    """
    b = tg.bodies.index("pelvis") if "pelvis" in tg.bodies else None
    t_total = tg.pos.shape[0]
    lead = int(np.clip(round(lead_in_s * fps), 0, t_total - 1))
    root_pos = tg.pos[lead, b] if b is not None else np.array([0.0, 0.0, 0.8])
    root_quat = tg.quat[lead, b] if b is not None else np.array([1.0, 0.0, 0.0, 0.0])
    ik.reset(root_pos, root_quat)
    q = np.empty((t_total, ik.model.nq))
    dt = 1.0 / fps
    order = [*range(lead, 0, -1), *range(t_total)]  # lead-in backwards (not kept), then the clip
    for k, t in enumerate(order):
        converge = k == 0  # the very first solve (the clip's first frame without a lead-in)
        q[t] = ik.solve(
            tg.frame(t),
            dt,
            iterations=ik.cfg.init_iterations if converge else None,
            tolerance=ik.cfg.init_tolerance if converge else None,
        )
        if k == 0:
            first_solve = ik.last_iterations, ik.last_step < ik.cfg.init_tolerance
            lead_q = q[t, 7:].copy()
        if k == lead and info is not None:
            pos_err, ori_err = ik.residual(tg.pos_cost[0], tg.ori_cost[0])
            info.update(
                iterations=first_solve[0],
                converged=first_solve[1],
                first_frame_iterations=ik.last_iterations,
                last_step_rad=ik.last_step,
                position_m=pos_err,
                orientation_rad=ori_err,
                lead_in_frames=lead,
            )
    if info is not None:
        info["round_trip_rad"] = float(np.abs(q[lead, 7:] - lead_q).max())
    return q


def smooth_qpos(q: np.ndarray, fps: float, cutoff_hz: float, model: mujoco.MjModel) -> np.ndarray:
    """Low-pass root position and joints (zero phase), keep joints in their limits; quaternion untouched."""
    out = q.copy()
    out[:, :3] = lowpass(q[:, :3], fps, cutoff_hz)
    out[:, 7:] = np.clip(lowpass(q[:, 7:], fps, cutoff_hz), model.jnt_range[1:, 0], model.jnt_range[1:, 1])
    return out


def _solve_smoothed(ik: G1IK, tg: TargetSeq, cfg: RetargetConfig, lead_in_s: float, info: dict) -> np.ndarray:
    """:func:`solve_sequence` then the joint low-pass: qpos (T, 36) before the root height fix."""
    q = solve_sequence(ik, tg, cfg.fps, info, lead_in_s)
    return smooth_qpos(q, cfg.fps, cfg.joint_smooth_hz, ik.model) if cfg.joint_smooth_hz > 0 else q


RETRY_GAIN = 0.1  # a longer lead-in replaces the default only if its first second is > 10 % slower


def retry_start(
    ik: G1IK, tg: TargetSeq, cfg: RetargetConfig, q: np.ndarray, info: dict
) -> tuple[np.ndarray, dict, dict]:
    """Re-solve a start that took the wrong branch with longer lead-ins; (qpos, first-frame info, report).

    Triggered only when both (a) the lead-in's round trip does not close (``info["round_trip_rad"]`` >
    ``cfg.lead_in_round_trip_rad``: the solver came back to the lead-in's start frame in another
    configuration, so the first frame it reached backwards is not on the branch the motion takes) and (b)
    the first second's fastest joint exceeds the p99 after it (:func:`~hgpt_retarget.quality.startup_speeds`).
    Then the lead-ins of ``cfg.lead_in_retry_s`` are solved in full, in order, and the first whose first
    second is more than ``RETRY_GAIN`` slower than ``q``'s, with no frame faster than ``q``'s fastest (a
    configuration switch moved later must not be made faster), replaces ``q``. Otherwise, and whenever not
    triggered, ``q`` and ``info`` come back unchanged (the same arrays).

    The report (``meta["start_retry"]``): ``round_trip_rad``, ``triggered``, ``lead_in_s`` used, and per
    lead-in solved its first-second max and whole-clip max joint speed [rad/s] (``tried``).
    Shapes: q (T, 36) smoothed qpos.
    """
    first_s, after = startup_speeds(q[:, 7:], cfg.fps)
    report: dict = {"round_trip_rad": info["round_trip_rad"], "triggered": False, "lead_in_s": cfg.lead_in_s}
    if not (
        cfg.lead_in_retry_s
        and info["round_trip_rad"] > cfg.lead_in_round_trip_rad
        and np.isfinite(after)
        and first_s > after
    ):
        return q, info, report
    fastest = float(np.abs(np.diff(q[:, 7:], axis=0)).max() * cfg.fps)
    tried = [{"lead_in_s": cfg.lead_in_s, "first_s_max_rad_s": first_s, "max_rad_s": fastest}]
    frames = {info["lead_in_frames"]}
    for lead_s in cfg.lead_in_retry_s:
        n = int(np.clip(round(lead_s * cfg.fps), 0, len(q) - 1))
        if n in frames:  # capped at the clip's end: already solved
            continue
        frames.add(n)
        alt_info: dict = {}
        alt = _solve_smoothed(ik, tg, cfg, lead_s, alt_info)
        alt_first = startup_speeds(alt[:, 7:], cfg.fps)[0]
        alt_max = float(np.abs(np.diff(alt[:, 7:], axis=0)).max() * cfg.fps)
        tried.append({"lead_in_s": lead_s, "first_s_max_rad_s": alt_first, "max_rad_s": alt_max})
        if alt_first * (1.0 + RETRY_GAIN) < first_s and alt_max <= fastest:
            report.update(triggered=True, tried=tried, lead_in_s=lead_s)
            return alt, alt_info, report
    report.update(triggered=True, tried=tried)
    return q, info, report


def retarget_motion(
    motion: HumanMotion, mapping: SkeletonMapping, cfg: RetargetConfig = RetargetConfig()
) -> RetargetResult:
    """Retarget a human motion (metres, z up) to the G1 at ``cfg.fps``.

    Steps: drop a leading bind pose -> resample -> targets (scale, ground, stance locking) -> IK per frame
    (the first converged, after a lead-in) -> joint low-pass -> (a start on the wrong branch: again with a
    longer lead-in, :func:`retry_start`) -> root height fix.
    """
    trimmed = leading_jump_frames(motion, mapping) if cfg.trim_bind_pose else 0
    if trimmed:
        motion = motion.window(trimmed, motion.num_frames)
    human = motion.resample(cfg.fps)
    tg = build_targets(
        human, mapping, cfg.subject_height, cfg.stance, cfg.swing_foot_orientation, cfg.smooth_hz
    )
    ik = _solver(tg.bodies, cfg.ik)
    t0 = time.perf_counter()
    first: dict = {}
    q = _solve_smoothed(ik, tg, cfg, cfg.lead_in_s, first)
    q, first, retry = retry_start(ik, tg, cfg, q, first)
    ik_s = time.perf_counter() - t0
    if cfg.ground_fix:
        q[:, 2] += root_height_offsets(sole_heights(q), tg.stance)
    meta = {
        **{k: v for k, v in human.meta.items() if isinstance(v, str | int | float)},
        "retargeter": "hgpt_retarget",
        "skeleton": mapping.name,
        "scale": tg.scale,
        "subject_height_used_m": tg.subject_height,
        "human_ground_z_m": tg.human_ground_z,
        "stance_fraction": [float(x) for x in tg.stance.mean(axis=0)],
        "trimmed_start_frames": trimmed,  # at the file's rate
        "first_frame_ik": first,
        "start_retry": retry,
        "config": _jsonable(asdict(cfg)),
    }
    clip = MotionClip(
        q[:, :3],
        q[:, 3:7],
        q[:, 7:],
        cfg.fps,
        name=human.name,
        source=human.source,
        licence=human.licence,
        meta=meta,
    ).validate(human.name)
    return RetargetResult(clip, human, tg, ik_s)


def _jsonable(d: dict) -> dict:
    return {k: (_jsonable(v) if isinstance(v, dict) else v) for k, v in d.items()}
