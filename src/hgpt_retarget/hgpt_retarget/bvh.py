"""A small BVH reader: hierarchy + motion channels, and vectorised forward kinematics to world positions.

Written here rather than taken from PyPI: the parsers there (bvhio, bvh) build per-frame Python objects,
while retargeting needs all frames at once as arrays; this one is numpy end to end (a 4,000-frame,
31-joint file parses and runs FK in well under a second).

Conventions (as Blender, fairmotion and the BVH files in ../shared/data read them):
  * rotation channels compose in the listed order as intrinsic rotations: ``Zrotation Xrotation
    Yrotation`` means ``R = Rz @ Rx @ Ry``; angles in degrees;
  * position channels, when a joint has them, replace the joint's OFFSET (Bandai-Namco gives every joint
    6 channels whose positions equal the offsets; the root's positions are the world translation);
  * positions are in the file's units and axes; :mod:`hgpt_retarget.human` converts them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from hgpt_core.errors import MotionFormatError

_POS = {"Xposition": 0, "Yposition": 1, "Zposition": 2}
_ROT = {"Xrotation": "X", "Yrotation": "Y", "Zrotation": "Z"}
END_SUFFIX = "_End"


@dataclass(frozen=True)
class BvhJoint:
    """One joint (or End Site, named ``<parent>_End``) of the hierarchy."""

    name: str
    parent: int  # index into the joint list, -1 for the root
    offset: np.ndarray  # (3,) in file units
    channels: tuple[str, ...]
    channel_start: int  # first column of this joint in a motion row


@dataclass(frozen=True)
class Bvh:
    """Parsed BVH: joints in file order (parents first) and the raw channel matrix.

    Shape: channels (T, C) in file units and degrees.
    """

    joints: tuple[BvhJoint, ...]
    channels: np.ndarray
    frame_time: float

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def num_frames(self) -> int:
        return int(self.channels.shape[0])

    def forward_kinematics(self, with_end_sites: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """World positions and orientations of every joint, in file units and axes.

        Returns:
            positions (T, J, 3), quaternions wxyz (T, J, 4), joint names (J,).
        """
        t = self.num_frames
        keep = [i for i, j in enumerate(self.joints) if with_end_sites or not j.name.endswith(END_SUFFIX)]
        rot_w = np.empty((t, len(self.joints), 3, 3))
        pos_w = np.empty((t, len(self.joints), 3))
        for i, j in enumerate(self.joints):
            local_t = np.broadcast_to(j.offset, (t, 3)).copy()
            order, cols = "", []
            for k, ch in enumerate(j.channels):
                col = self.channels[:, j.channel_start + k]
                if ch in _POS:
                    local_t[:, _POS[ch]] = col
                else:
                    order += _ROT[ch]
                    cols.append(col)
            if order:
                local_r = Rotation.from_euler(order, np.stack(cols, axis=1), degrees=True).as_matrix()
            else:
                local_r = np.broadcast_to(np.eye(3), (t, 3, 3))
            if j.parent < 0:
                rot_w[:, i], pos_w[:, i] = local_r, local_t
            else:
                rp = rot_w[:, j.parent]
                rot_w[:, i] = rp @ local_r
                pos_w[:, i] = pos_w[:, j.parent] + np.einsum("tij,tj->ti", rp, local_t)
        quat_xyzw = Rotation.from_matrix(rot_w[:, keep].reshape(-1, 3, 3)).as_quat()
        quat = np.concatenate((quat_xyzw[:, 3:], quat_xyzw[:, :3]), axis=1).reshape(t, len(keep), 4)
        return pos_w[:, keep], quat, [self.joints[i].name for i in keep]


def _fail(path: str, msg: str) -> MotionFormatError:
    return MotionFormatError(f"{path}: {msg}")


def parse_bvh(text: str, origin: str = "<bvh>") -> Bvh:
    """Parse BVH text.

    Raises:
        MotionFormatError: malformed hierarchy, unknown channel, or a motion section that is truncated or
            does not match the channel count.
    """
    head, sep, motion = text.partition("MOTION")
    if not sep:
        raise _fail(origin, "no MOTION section (truncated or not a BVH file)")
    tokens = head.split()
    if not tokens or tokens[0] != "HIERARCHY":
        raise _fail(origin, "does not start with HIERARCHY; not a BVH file")
    joints: list[BvhJoint] = []
    stack: list[int] = []
    n_channels, i, pending = 0, 1, None
    try:
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                pending = tokens[i + 1]
                i += 2
            elif tok == "End":  # "End Site"
                pending = joints[stack[-1]].name + END_SUFFIX
                i += 2
            elif tok == "{":
                if pending is None:
                    raise _fail(origin, "'{' without a joint")
                joints.append(BvhJoint(pending, stack[-1] if stack else -1, np.zeros(3), (), n_channels))
                stack.append(len(joints) - 1)
                pending = None
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                j = joints[stack[-1]]
                off = np.array([float(x) for x in tokens[i + 1 : i + 4]])
                joints[stack[-1]] = BvhJoint(j.name, j.parent, off, j.channels, j.channel_start)
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                chans = tuple(tokens[i + 2 : i + 2 + n])
                bad = [c for c in chans if c not in _POS and c not in _ROT]
                if bad or len(chans) != n:
                    raise _fail(origin, f"bad CHANNELS {chans}; valid: {sorted(_POS) + sorted(_ROT)}")
                j = joints[stack[-1]]
                joints[stack[-1]] = BvhJoint(j.name, j.parent, j.offset, chans, n_channels)
                n_channels += n
                i += 2 + n
            else:
                raise _fail(origin, f"unexpected token {tok!r} in HIERARCHY")
    except (IndexError, ValueError) as exc:
        raise _fail(origin, f"malformed HIERARCHY ({exc})") from exc
    if stack or not joints:
        raise _fail(origin, "unbalanced braces or empty HIERARCHY")
    channels, frame_time = _parse_motion(motion, n_channels, origin)
    return Bvh(tuple(joints), channels, frame_time)


def _parse_motion(motion: str, n_channels: int, origin: str) -> tuple[np.ndarray, float]:
    lines = motion.strip().splitlines()
    try:
        frames = int(lines[0].split(":")[1])
        frame_time = float(lines[1].split(":")[1])
    except (IndexError, ValueError) as exc:
        raise _fail(origin, "MOTION section lacks 'Frames:' / 'Frame Time:' lines") from exc
    if not (frame_time > 0 and np.isfinite(frame_time)):
        raise _fail(origin, f"Frame Time {frame_time} is not a positive number")
    rows = [ln for ln in lines[2:] if ln.strip()]
    if len(rows) < frames:
        raise _fail(origin, f"truncated: header says {frames} frames, file has {len(rows)}")
    try:
        flat = np.array(" ".join(rows[:frames]).split(), dtype=np.float64)
    except ValueError as exc:
        raise _fail(origin, f"non-numeric motion data ({exc})") from exc
    if flat.size != frames * n_channels:
        bad = next((k for k, r in enumerate(rows[:frames]) if len(r.split()) != n_channels), 0)
        got = len(rows[bad].split())
        raise _fail(origin, f"frame {bad} has {got} values, the hierarchy has {n_channels} channels")
    channels = flat.reshape(frames, n_channels)
    if frames < 1:
        raise _fail(origin, "no frames")
    return channels, frame_time


def read_bvh(path: str | os.PathLike) -> Bvh:
    """Read and parse a BVH file (see :func:`parse_bvh`)."""
    path = Path(path)
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionFormatError(f"{path}: unreadable BVH ({exc})") from exc
    return parse_bvh(text, str(path))
