"""Reference playback for N envs: many clips concatenated, indexed by (clip id, frame) per env."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hgpt_core.datasets import csv_fps
from hgpt_core.formats import load_clip
from hgpt_core.motion import CONTROL_FPS
from hgpt_core.reference import ReferenceMotion
from hgpt_core.rotations import quat_apply_inv


@dataclass
class RefFrame:
    """Reference state of N envs at one instant (world frame, wxyz). Leading shape (N,).

    Attributes:
        root_pos_w [m] (N, 3), root_quat (N, 4), root_lin_vel_w [m/s] (N, 3), root_ang_vel_w [rad/s] (N, 3),
        joint_pos [rad] (N, 29), joint_vel [rad/s] (N, 29), keypoint_pos_w [m] (N, K, 3),
        keypoint_quat_w (N, K, 4), keypoint_lin_vel_w [m/s] (N, K, 3).
    """

    root_pos_w: np.ndarray
    root_quat: np.ndarray
    root_lin_vel_w: np.ndarray
    root_ang_vel_w: np.ndarray
    joint_pos: np.ndarray
    joint_vel: np.ndarray
    keypoint_pos_w: np.ndarray
    keypoint_quat_w: np.ndarray
    keypoint_lin_vel_w: np.ndarray

    def qpos(self) -> np.ndarray:
        """MuJoCo qpos of the reference pose, (N, 36)."""
        return np.concatenate((self.root_pos_w, self.root_quat, self.joint_pos), axis=-1)

    def qvel(self) -> np.ndarray:
        """MuJoCo qvel (root angular velocity in the root frame, as the free joint stores it), (N, 35)."""
        ang_b = quat_apply_inv(self.root_quat, self.root_ang_vel_w)
        return np.concatenate((self.root_lin_vel_w, ang_b, self.joint_vel), axis=-1)


_FIELDS = (
    "root_pos_w",
    "root_quat",
    "root_lin_vel_w",
    "root_ang_vel_w",
    "joint_pos",
    "joint_vel",
    "keypoint_pos_w",
    "keypoint_quat_w",
    "keypoint_lin_vel_w",
)


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

    def frame(self, clip_ids: np.ndarray, frames: np.ndarray) -> RefFrame:
        """Reference of each env at its frame (clamped to the clip). Shapes: (N,) -> RefFrame (N, ·)."""
        clip_ids = np.asarray(clip_ids, dtype=np.int64)
        f = np.clip(np.asarray(frames, dtype=np.int64), 0, self.lengths[clip_ids] - 1)
        idx = self.starts[clip_ids] + f
        return RefFrame(**{k: v[idx] for k, v in self._data.items()})

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
