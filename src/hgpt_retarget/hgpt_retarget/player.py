"""Reference playback (no ROS): a G1 clip (or a retargeted human one) as reference frames, pause/loop/speed.

Time advances with the caller's clock (wall or simulation time); frames are interpolated from the 50 Hz
:class:`~hgpt_core.reference.ReferenceMotion` (linear for positions and joints, slerp for the root), and
velocities are scaled by the playback speed. Past the end, a non-looping player holds the last frame with
zero velocities and reports ``finished`` so consumers can hold or stand instead of tracking garbage.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hgpt_core.formats import load_clip
from hgpt_core.reference import ReferenceMotion
from hgpt_core.rotations import quat_slerp
from hgpt_core.state import ReferenceFrame

MAX_SPEED = 4.0


class ReferencePlayer:
    """Plays a :class:`ReferenceMotion`; ``frame(now)`` is pure given the play/pause history."""

    def __init__(self, ref: ReferenceMotion, loop: bool = False, speed: float = 1.0) -> None:
        if not (0.0 < speed <= MAX_SPEED):
            raise ValueError(f"speed {speed} outside (0, {MAX_SPEED}]")
        self.ref, self.loop, self.speed = ref, loop, speed
        self.duration = (ref.num_frames - 1) / ref.fps  # [s] at speed 1
        self.offset = 0.0  # clip time [s] at self.anchor
        self.anchor: float | None = None  # caller time [s] when playback (re)started; None = paused

    @classmethod
    def from_file(cls, path: str, fps: float | None = None, loop: bool = False, speed: float = 1.0):
        """Load any G1 clip format hgpt_core reads (``fps`` for CSV), or a human mocap file (BVH, ...),
        retargeted first (cached by content: :func:`hgpt_retarget.human_clip.retarget_human_file`)."""
        from hgpt_retarget.human_clip import is_human_motion_file, retarget_human_file  # scipy: lazily

        clip = retarget_human_file(path) if is_human_motion_file(path) else load_clip(path, fps=fps)
        return cls(ReferenceMotion.from_clip(clip), loop=loop, speed=speed)

    def play(self, now: float) -> None:
        if self.anchor is None:
            self.anchor = now

    def pause(self, now: float) -> None:
        if self.anchor is not None:
            self.offset = self.clip_time(now)
            self.anchor = None

    def set_speed(self, speed: float, now: float) -> None:
        if not (0.0 < speed <= MAX_SPEED):
            raise ValueError(f"speed {speed} outside (0, {MAX_SPEED}]")
        playing = self.anchor is not None
        self.pause(now)
        self.speed = speed
        if playing:
            self.play(now)

    def clip_time(self, now: float) -> float:
        """Clip time [s] reached at caller time ``now`` (unwrapped; may exceed the duration)."""
        if self.anchor is None:
            return self.offset
        return self.offset + max(0.0, now - self.anchor) * self.speed

    def _position(self, now: float) -> tuple[float, bool]:
        """(frame position x in [0, num_frames - 1] (fractional), finished) at caller time ``now``."""
        t = self.clip_time(now)
        finished = not self.loop and t >= self.duration
        if self.loop and self.duration > 0:
            t = t % self.duration
        return min(t, self.duration) * self.ref.fps, finished

    def finished(self, now: float) -> bool:
        """A non-looping clip has played to its end by caller time ``now``."""
        return self._position(now)[1]

    def frame_index(self, now: float) -> int:
        """The clip frame nearest to caller time ``now`` (what MotionReference.frame_index carries)."""
        return int(round(self._position(now)[0]))

    def frame(self, now: float) -> ReferenceFrame:
        """The reference frame at caller time ``now`` [s] (one frame: (3,), (4,), ..., (29,))."""
        x, finished = self._position(now)
        i = min(int(np.floor(x)), self.ref.num_frames - 2)
        a = x - i
        r = self.ref
        lerp = lambda v: v[i] + (v[i + 1] - v[i]) * a  # noqa: E731
        vel_scale = 0.0 if finished else self.speed
        return ReferenceFrame(
            root_pos_w=lerp(r.root_pos_w),
            root_quat_w=quat_slerp(r.root_quat_w[i], r.root_quat_w[i + 1], np.asarray(a)),
            root_lin_vel_w=lerp(r.root_lin_vel_w) * vel_scale,
            root_ang_vel_w=lerp(r.root_ang_vel_w) * vel_scale,
            joint_pos=lerp(r.joint_pos),
            joint_vel=lerp(r.joint_vel) * vel_scale,
        )


class PlausibleFrames:
    """A looped (or swapped) clip made continuous by :class:`~hgpt_retarget.plausible.ReferenceFilter`:
    a loop restart is re-anchored where the previous frame was and blended in (``blend_s``); root velocities
    are turned with the re-anchor, joint velocities follow the output while it blends. Feed frames in time
    order; a frame at the same ``now`` as the last one is returned again (a lock-step re-sent tick)."""

    def __init__(self, cfg=None) -> None:
        from hgpt_retarget.plausible import ReferenceFilter

        self.filter = ReferenceFilter(cfg)
        self.last: tuple[float, ReferenceFrame] | None = None
        self.last_event = ""

    def __call__(self, f: ReferenceFrame, now: float) -> ReferenceFrame:
        from hgpt_retarget.live import LiveFrame

        if self.last is not None and now == self.last[0]:
            self.last_event = ""
            return self.last[1]
        prev = self.filter.prev
        out = self.filter.step(LiveFrame(now, f.root_pos_w, f.root_quat_w, f.joint_pos, True))
        self.last_event = self.filter.last_event
        c, s = np.cos(self.filter.offset_yaw), np.sin(self.filter.offset_yaw)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        jv = f.joint_vel
        if (self.filter.blend_from is not None or self.last_event) and prev is not None and now > prev.stamp:
            jv = (out.joint_pos - prev.joint_pos) / (now - prev.stamp)
        res = replace(
            f,
            root_pos_w=out.root_pos_w,
            root_quat_w=out.root_quat_w,
            joint_pos=out.joint_pos,
            root_lin_vel_w=rot @ f.root_lin_vel_w,
            root_ang_vel_w=rot @ f.root_ang_vel_w,
            joint_vel=jv,
        )
        self.last = (now, res)
        return res
