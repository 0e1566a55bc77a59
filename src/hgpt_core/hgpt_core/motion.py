"""G1 motion clips: one dataclass, the project's own file format, resampling and velocities."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hgpt_core.errors import MotionFormatError
from hgpt_core.g1 import G1_JOINT_NAMES, NUM_JOINTS
from hgpt_core.resample import Resampler, uniform_count
from hgpt_core.rotations import angular_velocity_w, quat_normalize

CLIP_FORMAT_VERSION = 1
CONTROL_FPS = 50.0
QUAT_NORM_TOL = 0.1  # a larger deviation means the 4 numbers are not a rotation


@dataclass
class MotionClip:
    """A G1 motion: root trajectory and 29 joint angles sampled at ``fps``.

    Attributes:
        root_pos: Pelvis position in the world (z up) [m], shape (T, 3).
        root_quat: Pelvis orientation, wxyz, shape (T, 4).
        joint_pos: Joint angles [rad] in ``G1_JOINT_NAMES`` order, shape (T, 29).
        fps: Sample rate [Hz].
        name: Clip identifier.
        source: Data source (e.g. ``lafan1``, ``g1_moves``).
        licence: SPDX-like licence of the source.
        meta: Free-form provenance (original file, original fps, ...), JSON-serialisable.
    """

    root_pos: np.ndarray
    root_quat: np.ndarray
    joint_pos: np.ndarray
    fps: float
    name: str = "clip"
    source: str = "unknown"
    licence: str = "unknown"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root_pos = np.asarray(self.root_pos, dtype=np.float64)
        self.root_quat = np.asarray(self.root_quat, dtype=np.float64)
        self.joint_pos = np.asarray(self.joint_pos, dtype=np.float64)
        self.fps = float(self.fps)

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.joint_pos.shape[0])

    @property
    def dt(self) -> float:
        """Time between frames [s]."""
        return 1.0 / self.fps

    @property
    def duration(self) -> float:
        """Length [s] from the first to the last frame."""
        return (self.num_frames - 1) / self.fps

    def validate(self, origin: str | os.PathLike | None = None) -> MotionClip:
        """Check shapes, finiteness, fps and quaternion norms; return self.

        Raises:
            MotionFormatError: naming ``origin`` (or the clip name) and the problem.
        """
        where = str(origin or self.name)
        t = self.joint_pos.shape[0] if self.joint_pos.ndim == 2 else -1
        if self.joint_pos.ndim != 2 or self.joint_pos.shape[1] != NUM_JOINTS:
            raise MotionFormatError(f"{where}: joint_pos must be (T, 29), got {self.joint_pos.shape}")
        if self.root_pos.shape != (t, 3) or self.root_quat.shape != (t, 4):
            raise MotionFormatError(
                f"{where}: root_pos {self.root_pos.shape} / root_quat {self.root_quat.shape} "
                f"do not match {t} frames of (T, 3) / (T, 4)"
            )
        if t < 2:
            raise MotionFormatError(f"{where}: needs at least 2 frames, has {t}")
        if not (np.isfinite(self.fps) and 1.0 <= self.fps <= 1000.0):
            raise MotionFormatError(f"{where}: fps {self.fps} outside [1, 1000]")
        for label, arr in (
            ("root_pos", self.root_pos),
            ("root_quat", self.root_quat),
            ("joint_pos", self.joint_pos),
        ):
            bad = ~np.isfinite(arr).all(axis=1)
            if bad.any():
                rows = np.flatnonzero(bad)
                raise MotionFormatError(
                    f"{where}: {label} has NaN/inf in {bad.sum()} frame(s), first at frame {rows[0]}"
                )
        dev = np.abs(np.linalg.norm(self.root_quat, axis=1) - 1.0)
        if np.any(dev > QUAT_NORM_TOL):
            i = int(np.argmax(dev))
            raise MotionFormatError(f"{where}: root quaternion not unit (||q|-1|={dev[i]:.4f} at frame {i})")
        if dev.max() > 1e-6:  # real files (GMT) carry slightly denormalised quaternions: fix and record
            self.meta["quat_renormalised_max_dev"] = float(dev.max())
        self.root_quat = quat_normalize(self.root_quat)
        return self

    def slice(self, start: int, stop: int | None = None) -> MotionClip:
        """Frames ``start:stop`` as a new clip."""
        s = np.s_[start:stop]
        return replace(
            self,
            root_pos=self.root_pos[s],
            root_quat=self.root_quat[s],
            joint_pos=self.joint_pos[s],
        )

    def sample(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Interpolated (root_pos, root_quat, joint_pos) at times ``t`` [s], clamped to the clip.

        Linear for positions and joints, slerp for the root orientation. Shape: (N, ·).
        """
        r = Resampler.at_frames(np.asarray(t, dtype=np.float64) * self.fps, self.num_frames)
        return r.linear(self.root_pos), r.quat(self.root_quat), r.linear(self.joint_pos)

    def resample(self, fps: float = CONTROL_FPS) -> MotionClip:
        """The clip at a new rate (default the 50 Hz control rate); same duration, rounded down."""
        if abs(fps - self.fps) < 1e-9:
            return replace(self)
        root_pos, root_quat, joint_pos = self.sample(np.arange(uniform_count(self.duration, fps)) / fps)
        meta = {
            **self.meta,
            "resampled_from_fps": self.meta.get("resampled_from_fps", self.fps),
        }
        return replace(
            self,
            root_pos=root_pos,
            root_quat=root_quat,
            joint_pos=joint_pos,
            fps=fps,
            meta=meta,
        )

    def velocities(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(root_lin_vel_w [m/s], root_ang_vel_w [rad/s], joint_vel [rad/s]) by central differences.

        Shape: (T, 3), (T, 3), (T, 29).
        """
        lin = np.gradient(self.root_pos, self.dt, axis=0)
        ang = angular_velocity_w(self.root_quat, self.dt)
        jv = np.gradient(self.joint_pos, self.dt, axis=0)
        return lin, ang, jv

    # ---- the project's own format: .npz with a JSON header -----------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (temp file + rename) as a ``.clip.npz``; returns the path."""
        path = Path(path)
        header = {
            "format": "hgpt_clip",
            "version": CLIP_FORMAT_VERSION,
            "joint_names": list(G1_JOINT_NAMES),
            "quat_order": "wxyz",
            "fps": self.fps,
            "name": self.name,
            "source": self.source,
            "licence": self.licence,
            "meta": self.meta,
        }
        buf = io.BytesIO()
        np.savez(
            buf,
            header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            root_pos=self.root_pos.astype(np.float32),
            root_quat=self.root_quat.astype(np.float32),
            joint_pos=self.joint_pos.astype(np.float32),
        )
        atomic_write_bytes(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> MotionClip:
        """Read a clip written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(bytes(z["header"]).decode())
                arrays = {k: z[k] for k in ("root_pos", "root_quat", "joint_pos")}
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise MotionFormatError(f"{path}: not a readable hgpt clip ({exc})") from exc
        if header.get("format") != "hgpt_clip" or header.get("version") != CLIP_FORMAT_VERSION:
            raise MotionFormatError(
                f"{path}: unsupported header {header.get('format')} v{header.get('version')}"
            )
        if tuple(header["joint_names"]) != G1_JOINT_NAMES:
            raise MotionFormatError(f"{path}: joint order differs from G1_JOINT_NAMES")
        clip = cls(
            fps=header["fps"],
            name=header["name"],
            source=header["source"],
            licence=header["licence"],
            meta=header["meta"],
            **arrays,
        )
        return clip.validate(path)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` atomically.

    ``write(f)`` fills a temp file in the same folder (fsynced, the usual permissions), then ``os.replace``;
    on any error the temp file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data))
