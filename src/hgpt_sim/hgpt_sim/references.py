"""Reference playback for N envs: many clips concatenated, indexed by (clip id, frame) per env."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np

from hgpt_core.datasets import csv_fps
from hgpt_core.formats import load_clip
from hgpt_core.motion import CONTROL_FPS
from hgpt_core.reference import ReferenceMotion
from hgpt_core.state import ReferenceFrame

_FIELDS = tuple(f.name for f in fields(ReferenceFrame))


class MotionBank:
    """Reference clips at the control rate, stored end to end for vectorised per-env lookup.

    Args:
        refs: Clips (all with the same fps and keypoint bodies).
    """

    def __init__(self, refs: Sequence[ReferenceMotion]) -> None:
        if not refs:
            raise ValueError("MotionBank needs at least one reference clip")
        fps = {r.fps for r in refs}
        kps = {r.keypoint_names for r in refs}
        if len(fps) != 1 or len(kps) != 1:
            raise ValueError(f"clips differ in fps {fps} or keypoints {kps}")
        short = [r.name for r in refs if r.num_frames < 2]
        if short:
            raise ValueError(f"clips with fewer than 2 frames: {short}")
        self.fps = fps.pop()
        self.keypoint_names = kps.pop()
        self.names = tuple(r.name for r in refs)
        self.lengths = np.array([r.num_frames for r in refs], dtype=np.int64)
        self.starts = np.concatenate(([0], np.cumsum(self.lengths)[:-1]))
        self._data = {f: np.concatenate([getattr(r, f) for r in refs], axis=0) for f in _FIELDS}

    @property
    def num_clips(self) -> int:
        return len(self.names)

    @classmethod
    def from_files(
        cls, paths: Sequence[str | Path], fps: float = CONTROL_FPS, *, csv_fps: float | None = None
    ) -> MotionBank:
        """Load clips with :func:`load_motion_file`, resampled to ``fps`` [Hz].

        ``csv_fps`` is the input rate [Hz] of CSV files (they do not store one); without it a CSV's rate
        comes from its sidecar or the shared-data catalogue (:func:`hgpt_core.datasets.csv_fps`), else
        loading raises :class:`~hgpt_core.errors.MotionFormatError` saying what to pass.
        """
        return cls([ReferenceMotion.from_clip(load_motion_file(p, fps=csv_fps), fps=fps) for p in paths])

    def frame(self, clip_ids: np.ndarray, frames: np.ndarray) -> ReferenceFrame:
        """Reference of each env at its frame (clamped to the clip). Shapes: (N,) -> ReferenceFrame (N, ·)."""
        clip_ids = np.asarray(clip_ids, dtype=np.int64)
        f = np.clip(np.asarray(frames, dtype=np.int64), 0, self.lengths[clip_ids] - 1)
        idx = self.starts[clip_ids] + f
        return ReferenceFrame(**{k: v[idx] for k, v in self._data.items()})

    def clip_index(self, name: str) -> int:
        """Index of a clip by name; raises ValueError listing the names."""
        if name not in self.names:
            raise ValueError(f"no clip '{name}'; clips: {list(self.names)}")
        return self.names.index(name)


def load_motion_file(path: str | Path, *, fps: float | None = None):
    """Load a G1 clip. A CSV's input rate [Hz] is ``fps``, else :func:`hgpt_core.datasets.csv_fps`
    (sidecar ``<file>.json`` with ``{"fps": ...}``, or the shared-data catalogue); never a guess."""
    path = Path(path)
    if path.suffix.lower() == ".csv" and fps is None:
        fps = csv_fps(path)
    return load_clip(path, fps=fps)
