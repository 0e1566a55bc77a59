"""The one resampler of frame sequences (G1 clips, human mocap, recorded streams).

Linear interpolation for positions and joints, slerp for quaternions, at fractional frame positions or at
times between stamps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgpt_core.rotations import quat_slerp


def uniform_count(duration: float, fps: float) -> int:
    """Frames of a clip resampled to ``fps`` [Hz] over ``duration`` [s] (same duration, rounded down)."""
    return int(np.floor(duration * fps + 1e-6)) + 1


@dataclass(frozen=True)
class Resampler:
    """Where N query instants fall between source frames: ``v(x) = v[i0] + (v[i0 + 1] - v[i0]) * a``.

    Attributes:
        i0: Source frame before each query, (N,) int.
        i1: The frame after it, (N,) int (``i0 + 1``; ``i0`` itself in a one-frame clip).
        a: Fraction of the way from ``i0`` to ``i1``, (N,) in [0, 1].
    """

    i0: np.ndarray
    i1: np.ndarray
    a: np.ndarray

    @classmethod
    def at_frames(cls, x: np.ndarray, num_frames: int) -> Resampler:
        """Queries at fractional frame positions ``x`` (N,), clamped to ``[0, num_frames - 1]``."""
        if num_frames < 1:
            raise ValueError("resampling needs at least 1 frame")
        x = np.clip(np.asarray(x, dtype=np.float64), 0.0, num_frames - 1)
        i0 = np.floor(x).astype(np.int64).clip(max=max(num_frames - 2, 0))
        return cls(i0, np.minimum(i0 + 1, num_frames - 1), x - i0)

    @classmethod
    def at_times(cls, t_src: np.ndarray, t: np.ndarray) -> Resampler:
        """Queries at times ``t`` [s] (N,) between frames stamped ``t_src`` [s] (T,).

        ``t_src`` is increasing, T >= 2; queries are clamped to the first and last frame.
        """
        t_src, t = np.asarray(t_src, dtype=np.float64), np.asarray(t, dtype=np.float64)
        if len(t_src) < 2:
            raise ValueError(f"resampling needs at least 2 frames, got {len(t_src)}")
        i0 = np.clip(np.searchsorted(t_src, t, side="right") - 1, 0, len(t_src) - 2)
        return cls(i0, i0 + 1, np.clip((t - t_src[i0]) / (t_src[i0 + 1] - t_src[i0]), 0.0, 1.0))

    def linear(self, v: np.ndarray) -> np.ndarray:
        """Linear interpolation of frames ``v`` (T, ...) -> (N, ...)."""
        a = self.a.reshape(-1, *([1] * (np.ndim(v) - 1)))
        return v[self.i0] + (v[self.i1] - v[self.i0]) * a

    def quat(self, q: np.ndarray) -> np.ndarray:
        """Slerp of wxyz quaternions ``q`` (T, 4) -> (N, 4)."""
        return quat_slerp(q[self.i0], q[self.i1], self.a)
