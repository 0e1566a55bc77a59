"""Physical plausibility of a live reference stream (no ROS): bounded speeds, re-anchor and blend on jumps.

A live stream can jump: a mocap loop restarts (``hgpt mocap send --loop``: ~21 m/s at each restart), the
skeleton changes mid-stream (5.55 m in one frame), the subject is teleported. Sent on as valid, such a frame
topples the robot. :class:`ReferenceFilter` sits after the retargeter and, per frame:

* a root step faster than ``max_root_speed`` or a heading turn faster than ``max_yaw_rate`` is a
  discontinuity: the stream is **re-anchored** (a horizontal offset and a yaw about the root, kept for the
  rest of the stream, so it continues from where the previous output was) and everything else (root height,
  tilt, joints) is **blended** from the previous output to the new stream over ``blend_s`` (smoothstep);
* a joint step faster than ``max_joint_speed`` starts the same blend (joints only);
* the output's joints never move faster than ``max_joint_speed`` nor its root faster than ``max_root_speed``
  (rate limits after the blend);
* non-finite input gives ``valid=False`` with the reason, and the next finite frame blends in.

Units: metres, radians, seconds; quaternions wxyz; frames as :class:`hgpt_retarget.live.LiveFrame`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hgpt_core.rotations import quat_mul, quat_normalize, quat_slerp, yaw_of
from hgpt_retarget.live import LiveFrame


@dataclass(frozen=True)
class PlausibilityConfig:
    """Bounds of a plausible G1 reference."""

    max_root_speed: float = 4.0
    """Root (pelvis) speed [m/s]; faster steps are discontinuities (the G1 runs at most ~3 m/s)."""
    max_yaw_rate: float = 8.0
    """Heading rate [rad/s]; faster turns are discontinuities."""
    max_joint_speed: float = 12.0
    """Joint speed [rad/s]; faster steps are blended and the output rate-limited (human motion < ~10)."""
    blend_s: float = 0.5
    """Blend duration after a discontinuity [s]."""


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])


def _wrap(a: float) -> float:
    return float((a + np.pi) % (2 * np.pi) - np.pi)


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


class ReferenceFilter:
    """Stateful: feed every output frame of a live retargeter through :meth:`step` (see module docstring)."""

    def __init__(self, cfg: PlausibilityConfig | None = None) -> None:
        self.cfg = cfg or PlausibilityConfig()
        self.offset_xy = np.zeros(2)  # re-anchor translation [m], applied after the yaw
        self.offset_yaw = 0.0  # re-anchor rotation about the input root [rad]
        self.pivot = np.zeros(2)  # where the yaw offset was taken (input root xy)
        self.prev: LiveFrame | None = None  # previous output
        self.prev_prev: LiveFrame | None = None  # the output before it
        self.prev_in: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # previous anchored input
        self.blend_from: LiveFrame | None = None
        self.blend_t0 = 0.0
        self.reanchors = 0
        self.last_event = ""

    def _anchor(self, f: LiveFrame) -> tuple[np.ndarray, np.ndarray]:
        """The input root pose with the current re-anchor applied."""
        c, s = np.cos(self.offset_yaw), np.sin(self.offset_yaw)
        d = f.root_pos_w[:2] - self.pivot
        pos = f.root_pos_w.copy()
        pos[:2] = self.pivot + np.array([c * d[0] - s * d[1], s * d[0] + c * d[1]]) + self.offset_xy
        return pos, quat_mul(_yaw_quat(self.offset_yaw), f.root_quat_w)

    def step(self, f: LiveFrame) -> LiveFrame:
        """The plausible version of ``f``; its events gain reanchor:..., blend:... or implausible:..."""
        arrays = (f.root_pos_w, f.root_quat_w, f.joint_pos)
        if not all(np.isfinite(a).all() for a in arrays) or not np.linalg.norm(f.root_quat_w) > 0.5:
            self.last_event = "implausible: non-finite or degenerate frame"
            self.blend_from = self.prev  # the next good frame blends in from the last good output
            self.blend_t0 = np.nan
            held = self.prev or f
            return replace(held, stamp=f.stamp, valid=False, events=(*f.events, self.last_event))
        p = self.prev
        pos, quat = self._anchor(f)
        quat = quat_normalize(quat)
        events: list[str] = []
        pin = self.prev_in
        if p is not None and pin is not None and f.stamp > p.stamp:
            dt = f.stamp - p.stamp  # jumps of the input stream itself (the output may still be blending)
            speed = float(np.linalg.norm(pos - pin[0])) / dt
            yaw_rate = abs(_wrap(float(yaw_of(quat) - yaw_of(pin[1])))) / dt
            jspeed = float(np.max(np.abs(f.joint_pos - pin[2]))) / dt
            jump = []
            if speed > self.cfg.max_root_speed:
                jump.append(f"root {speed:.1f} m/s")
            if yaw_rate > self.cfg.max_yaw_rate:
                jump.append(f"heading {yaw_rate:.1f} rad/s")
            if jump:  # re-anchor: continue from the previous output's place and heading
                turn = yaw_rate > self.cfg.max_yaw_rate
                dyaw = _wrap(float(yaw_of(p.root_quat_w) - yaw_of(quat))) if turn else 0.0
                self.pivot = f.root_pos_w[:2].copy()
                self.offset_yaw = _wrap(self.offset_yaw + dyaw)
                self.offset_xy = np.zeros(2)
                pos, quat = self._anchor(f)
                self.offset_xy = p.root_pos_w[:2] + (p.root_pos_w[:2] - self._prev_prev_xy()) - pos[:2]
                pos, quat = self._anchor(f)
                quat = quat_normalize(quat)
                self.reanchors += 1
                events.append("reanchor:" + ", ".join(jump))
            if jump or jspeed > self.cfg.max_joint_speed:
                if not jump:
                    events.append(f"blend: joints {jspeed:.1f} rad/s")
                self.blend_from, self.blend_t0 = p, p.stamp
        if self.blend_from is not None and np.isnan(self.blend_t0):
            self.blend_t0 = self.blend_from.stamp
            events.append("blend: after invalid frames")
        self.prev_in = (pos.copy(), quat.copy(), f.joint_pos.copy())
        out_pos, out_quat, out_q = pos, quat, f.joint_pos.copy()
        b = self.blend_from
        if b is not None:
            a = _smoothstep((f.stamp - self.blend_t0) / self.cfg.blend_s)
            out_pos = pos.copy()
            out_pos[2] = (1 - a) * b.root_pos_w[2] + a * pos[2]  # xy is continuous after the re-anchor
            out_quat = quat_slerp(b.root_quat_w, quat, np.asarray(a))
            out_q = (1 - a) * b.joint_pos + a * f.joint_pos
            if a >= 1.0:
                self.blend_from = None
        if p is not None and f.stamp > p.stamp:  # hard rate limits
            dt = f.stamp - p.stamp
            step = out_q - p.joint_pos
            lim = self.cfg.max_joint_speed * dt
            out_q = p.joint_pos + np.clip(step, -lim, lim)
            d = out_pos - p.root_pos_w
            n = float(np.linalg.norm(d))
            if n > self.cfg.max_root_speed * dt:
                out_pos = p.root_pos_w + d * (self.cfg.max_root_speed * dt / n)
        self.last_event = "; ".join(events)
        out = replace(
            f,
            root_pos_w=out_pos,
            root_quat_w=quat_normalize(out_quat),
            joint_pos=out_q,
            events=(*f.events, *events),
        )
        self.prev_prev = p
        self.prev = out
        return out

    def _prev_prev_xy(self) -> np.ndarray:
        """xy of the output before the previous one (to keep the previous velocity through a re-anchor)."""
        ref = self.prev_prev or self.prev
        assert ref is not None
        return ref.root_pos_w[:2]
