"""Foot contact from the motion itself: stance detection, the ground level, foot locking, root height fix.

No magic offsets: the human ground level is the median ankle height over detected stance frames, the
robot's is its ankle height above the sole when the foot is flat (from the MJCF foot geoms), and after IK
the root height is corrected frame by frame so that stance soles touch z = 0 and no sole goes below it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StanceConfig:
    """Stance detection thresholds, in the human's own scale."""

    speed_mps: float = 0.4
    """A stance ankle moves slower than this [m/s]."""
    height_m: float = 0.06
    """A stance ankle is at most this far above the ground level [m]."""
    min_frames: int = 3
    """Stance or swing runs shorter than this are merged into their neighbours."""
    pivot_yaw_rad: float = 0.26
    """A stance run whose foot heading (ankle -> toe) turns through more than this [rad] (15 deg) is an
    intended pivot: the foot's least-moving point is held and the foot turns about it (on the shared BVH
    the median run turns 2.7 deg, p90 8 deg, p99 24 deg)."""
    shuffle_m: float = 0.05
    """A stance run whose contact point (low-passed) travels farther than this [m] is an intended shuffle:
    the foot follows that smoothed path instead of being held (walking runs travel < 0.035 m)."""
    shuffle_hz: float = 2.0
    """Low-pass cutoff [Hz] on a shuffling contact point (removes mocap jitter, keeps the slide)."""


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in a 1-D boolean array."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _clean(mask: np.ndarray, min_frames: int) -> np.ndarray:
    out = mask.copy()
    for value in (False, True):  # fill short swing gaps, then drop short stance blips
        for a, b in runs(out == value):
            if b - a < min_frames and a > 0 and b < len(out):
                out[a:b] = not value
    for a, b in runs(out):
        if b - a < min_frames:
            out[a:b] = False
    return out


def foot_speed(pos: np.ndarray, fps: float) -> np.ndarray:
    """Speed [m/s] of a trajectory (T, 3), central differences smoothed over 3 frames."""
    if len(pos) < 2:
        return np.zeros(len(pos))
    v = np.linalg.norm(np.gradient(pos, axis=0), axis=-1) * fps
    k = np.ones(3) / 3
    return np.convolve(np.pad(v, 1, mode="edge"), k, mode="valid")


def detect_stance(
    ankles: tuple[np.ndarray, np.ndarray], fps: float, cfg: StanceConfig = StanceConfig()
) -> tuple[np.ndarray, float]:
    """Stance flags of both feet and the ground level (ankle height at stance) [m].

    Args:
        ankles: Left and right ankle positions [m], each (T, 3).
        fps: Frame rate [Hz].

    Returns:
        stance (T, 2) bool, ankle contact level [m].
    """
    z = np.stack([a[:, 2] for a in ankles], axis=1)  # (T, 2)
    speed = np.stack([foot_speed(a, fps) for a in ankles], axis=1)
    level = float(np.percentile(z.min(axis=1), 5))
    stance = np.zeros_like(z, dtype=bool)
    for _ in range(2):  # refine the level on the detected stance frames
        raw = (speed < cfg.speed_mps) & (z - level < cfg.height_m)
        stance = np.stack([_clean(raw[:, k], cfg.min_frames) for k in range(2)], axis=1)
        if stance.sum() >= 3:
            level = float(np.median(z[stance]))
    return stance, level


def stance_weight(stance: np.ndarray, frames: int = 5) -> np.ndarray:
    """Stance flags (T, K) smoothed into weights in [0, 1] that ramp over ``frames`` at each switch."""
    if frames <= 1 or len(stance) < frames:
        return stance.astype(np.float64)
    k = np.ones(frames) / frames
    pad = (frames // 2, frames - 1 - frames // 2)
    cols = [np.convolve(np.pad(c.astype(np.float64), pad, mode="edge"), k, mode="valid") for c in stance.T]
    return np.stack(cols, axis=1)


def lowpass(x: np.ndarray, fps: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth low-pass along axis 0 (mocap practice: 6-10 Hz).

    Returns ``x`` unchanged when the cutoff is at or above Nyquist or the clip is too short to filter.
    """
    if cutoff_hz <= 0 or cutoff_hz >= 0.5 * fps or len(x) <= 12:
        return x
    from scipy.signal import butter, filtfilt

    b, a = butter(2, cutoff_hz / (0.5 * fps))
    return filtfilt(b, a, x, axis=0)


PIVOT_POINTS = np.linspace(0.0, 1.0, 11)  # candidate contact points: ankle (0) ... toe (1) along the foot


@dataclass(frozen=True)
class StanceRun:
    """How one stance run of one foot is held (see :func:`lock_stance_xy`)."""

    start: int
    stop: int
    kind: str  # "planted" | "pivot" | "shuffle" | "pivot+shuffle"
    yaw_range_rad: float  # heading change of the foot over the run
    travel_m: float  # net travel of the (low-passed) contact point, in the units of the positions given
    contact: float  # contact point along the foot: 0 ankle ... 1 toe


def classify_run(
    xy: np.ndarray, toe_xy: np.ndarray, a: int, b: int, fps: float, cfg: StanceConfig, scale: float = 1.0
) -> StanceRun:
    """Planted (an artefact would be any motion), pivot or shuffle (intended motion) for frames ``a:b``.

    The contact point is the point on the ankle -> toe line with the shortest path over the run (the ball
    of the foot for a boxer's pivot, the ankle/heel for a heel turn). ``scale`` converts ``cfg.shuffle_m``
    (human scale) to the positions' scale. Shapes: xy, toe_xy (T, 2).
    """
    f = toe_xy[a:b] - xy[a:b]
    heading = np.unwrap(np.arctan2(f[:, 1], f[:, 0]))
    yaw = float(np.ptp(heading)) if b - a > 1 else 0.0
    paths = [np.linalg.norm(np.diff(xy[a:b] + s * f, axis=0), axis=-1).sum() for s in PIVOT_POINTS]
    s = float(PIVOT_POINTS[int(np.argmin(paths))])
    p = lowpass(xy[a:b] + s * f, fps, cfg.shuffle_hz)
    travel = float(np.linalg.norm(p[-1] - p[0]))
    kinds = [
        k for k, on in (("pivot", yaw > cfg.pivot_yaw_rad), ("shuffle", travel > cfg.shuffle_m * scale)) if on
    ]
    return StanceRun(a, b, "+".join(kinds) or "planted", yaw, travel, s)


def lock_stance_xy(
    xy: np.ndarray,
    stance: np.ndarray,
    blend_frames: int = 5,
    toe_xy: np.ndarray | None = None,
    fps: float = 50.0,
    cfg: StanceConfig | None = None,
    scale: float = 1.0,
    out_runs: list | None = None,
) -> np.ndarray:
    """Hold a foot's horizontal target during each stance run, blending out after the run.

    Without ``toe_xy`` every run is held at its mean. With it each run is classified by
    :func:`classify_run`: a planted foot is held at its mean; a pivot holds the contact point (at its
    mean, or on its low-passed path when it also shuffles) and the ankle turns about it with the heading
    of ``toe_xy - xy`` (give the foot's orientation target there, so that the two agree); a shuffle
    follows the low-passed path. The contact point's jitter is removed in every case.
    ``out_runs`` (if given) receives the :class:`StanceRun` of every run.

    Shape: xy (T, 2), stance (T,), toe_xy (T, 2) -> (T, 2).
    """
    cfg = cfg or StanceConfig()
    offset = np.zeros_like(xy)
    for a, b in runs(stance):
        if toe_xy is None:
            offset[a:b] = xy[a:b].mean(axis=0) - xy[a:b]
        else:
            run = classify_run(xy, toe_xy, a, b, fps, cfg, scale)
            if out_runs is not None:
                out_runs.append(run)
            f = toe_xy[a:b] - xy[a:b]
            p = xy[a:b] + run.contact * f
            held = lowpass(p, fps, cfg.shuffle_hz) if "shuffle" in run.kind else p.mean(axis=0)
            if run.kind == "planted":
                offset[a:b] = xy[a:b].mean(axis=0) - xy[a:b]
            else:
                offset[a:b] = held - run.contact * f - xy[a:b]
        for k in range(1, blend_frames + 1):  # fade the offset back to zero after lift-off
            if b - 1 + k >= len(xy) or stance[b - 1 + k]:
                break
            w = 1.0 - k / (blend_frames + 1)
            offset[b - 1 + k] = w * offset[b - 1] + (1 - w) * offset[b - 1 + k]
    return xy + offset


def root_height_offsets(sole_z: np.ndarray, stance: np.ndarray, smooth_frames: int = 5) -> np.ndarray:
    """Per-frame root z correction [m] putting stance soles on z = 0 with no sole below it.

    Frames without stance interpolate the correction between neighbouring stance frames (a jump keeps its
    height profile). Shape: sole_z (T, 2), stance (T, 2) -> (T,).
    """
    t = len(sole_z)
    masked = np.where(stance, sole_z, np.inf).min(axis=1)
    has = np.isfinite(masked)
    if has.any():
        dz = np.interp(np.arange(t), np.flatnonzero(has), -masked[has])
    else:  # no stance at all (e.g. a jump clip cut mid-air): only keep feet out of the floor
        dz = np.full(t, -min(float(sole_z.min()), 0.0))
    if smooth_frames > 1 and t > smooth_frames:
        k = np.ones(smooth_frames) / smooth_frames
        pad = smooth_frames // 2
        dz = np.convolve(np.pad(dz, (pad, smooth_frames - 1 - pad), mode="edge"), k, mode="valid")
    return np.maximum(dz, -sole_z.min(axis=1))
