"""Reference motion at the control rate: per-frame root/joint targets with velocities and keypoints.

Built once per clip and shared by the simulator (rewards, observations), the reference player and
evaluation, so every consumer reads the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgpt_core.g1 import KEYPOINT_BODIES
from hgpt_core.motion import CONTROL_FPS, MotionClip
from hgpt_core.state import ReferenceFrame

LOW_SOURCE_FPS = 20.0
"""[Hz] a clip slower than this gets :attr:`ReferenceMotion.upsample_note` when played or evaluated."""


@dataclass(kw_only=True, slots=True)
class ReferenceMotion(ReferenceFrame):
    """A clip resampled to ``fps`` with derived quantities.

    A :class:`~hgpt_core.state.ReferenceFrame` with leading dim T (one row per frame, keypoints always
    present) plus the clip's name and rates.

    Attributes:
        root_pos_w: [m], (T, 3).  root_quat_w: wxyz, (T, 4).
        root_lin_vel_w: [m/s], (T, 3).  root_ang_vel_w: [rad/s], (T, 3).
        joint_pos: [rad], (T, 29).  joint_vel: [rad/s], (T, 29).
        keypoint_pos_w: [m], (T, K, 3).  keypoint_quat_w: wxyz, (T, K, 4).  keypoint_lin_vel_w: [m/s],
        (T, K, 3); bodies ``keypoint_names``.
    """

    name: str
    fps: float
    keypoint_names: tuple[str, ...]
    source_fps: float = 0.0
    """Frame rate [Hz] of the clip it was resampled from (0: unknown)."""

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.joint_pos.shape[0])

    @property
    def upsample_note(self) -> str:
        """A warning when the source clip was slower than :data:`LOW_SOURCE_FPS` ("" otherwise).

        Its motion between frames is interpolated, fast moves are smoothed and their velocities
        underestimated.
        """
        if 0 < self.source_fps < LOW_SOURCE_FPS:
            return (
                f"clip '{self.name}' is {self.source_fps:.4g} Hz, upsampled to {self.fps:.4g} Hz: below "
                f"{LOW_SOURCE_FPS:g} Hz the motion between frames is interpolated (fast moves smoothed, "
                "velocities underestimated)"
            )
        return ""

    @classmethod
    def from_clip(
        cls,
        clip: MotionClip,
        fps: float = CONTROL_FPS,
        keypoints: tuple[str, ...] = KEYPOINT_BODIES,
    ) -> ReferenceMotion:
        """Resample ``clip`` to ``fps`` and derive velocities and keypoint poses by FK."""
        from hgpt_core.sanity import kinematics

        c = clip.resample(fps)
        lin, ang, jv = c.velocities()
        fk = kinematics().forward(c.root_pos, c.root_quat, c.joint_pos)
        idx = [fk.body_names.index(b) for b in keypoints]
        kp_pos = fk.pos[:, idx]
        return cls(
            name=c.name,
            fps=fps,
            root_pos_w=c.root_pos,
            root_quat_w=c.root_quat,
            root_lin_vel_w=lin,
            root_ang_vel_w=ang,
            joint_pos=c.joint_pos,
            joint_vel=jv,
            keypoint_names=tuple(keypoints),
            keypoint_pos_w=kp_pos,
            keypoint_quat_w=fk.quat[:, idx],
            keypoint_lin_vel_w=np.gradient(kp_pos, 1.0 / fps, axis=0),
            source_fps=float(clip.fps),
        )
