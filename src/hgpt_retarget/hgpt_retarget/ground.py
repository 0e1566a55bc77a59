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


def lock_stance_xy(xy: np.ndarray, stance: np.ndarray, blend_frames: int = 5) -> np.ndarray:
    """Hold a foot's horizontal target at its mean over each stance run, blending out after the run.

    Shape: xy (T, 2), stance (T,) -> (T, 2).
    """
    offset = np.zeros_like(xy)
    for a, b in runs(stance):
        offset[a:b] = xy[a:b].mean(axis=0) - xy[a:b]
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
