"""A human motion file -> a retargeted G1 :class:`~hgpt_core.motion.MotionClip`, cached on disk.

Used where a G1 clip is expected but a human file is given (``source:=file motion:=walk.bvh``): the first
call retargets (a few seconds per 20 s of motion), later calls load the cached ``.clip.npz``. The cache key
is the file's content hash, the skeleton and the retarget settings, so an edited file or changed settings
retarget again. Cache folder: ``$HGPT_CACHE/retarget``, else ``~/.cache/hgpt/retarget``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from hgpt_core.errors import MotionFormatError
from hgpt_core.motion import MotionClip
from hgpt_retarget.human import SUFFIX_FORMAT

# Bump when retargeting changes in a way the settings do not show (2: converged first frame, bind-pose
# trim, pivot-aware stance holding, 1 s backwards lead-in; the settings key changes too).
CACHE_VERSION = 2
HUMAN_ONLY_SUFFIXES = (".bvh", ".npy", ".pt")
"""Suffixes that are always human motion (G1 clips are .csv / .npz / .pkl)."""


def cache_dir() -> Path:
    """``$HGPT_CACHE/retarget`` or ``~/.cache/hgpt/retarget``."""
    root = os.environ.get("HGPT_CACHE") or Path.home() / ".cache" / "hgpt"
    return Path(root) / "retarget"


def is_human_motion_file(path: str | os.PathLike) -> bool:
    """True for files to retarget before playing: .bvh / .npy / .pt, or a .npz of human joint positions
    (``positions`` + ``joint_names``, see :func:`hgpt_retarget.human.load_human`). .pkl counts as G1."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in HUMAN_ONLY_SUFFIXES:
        return True
    if suffix != ".npz" or p.name.endswith(".clip.npz") or not p.is_file():
        return False
    try:
        with np.load(p, allow_pickle=False) as z:
            return "positions" in z.files and "joint_names" in z.files
    except (OSError, ValueError):
        return False


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_path(path: str | os.PathLike, skeleton: str | None = None, cfg=None) -> Path:
    """Where the retargeted clip of ``path`` is (or will be) cached."""
    from hgpt_retarget.retarget import RetargetConfig

    p = Path(path)
    key = f"v{CACHE_VERSION}|{_file_hash(p)}|{skeleton or 'auto'}|{cfg or RetargetConfig()!r}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_dir() / f"{p.stem}-{digest}.clip.npz"


def retarget_human_file(path: str | os.PathLike, skeleton: str | None = None, cfg=None) -> MotionClip:
    """Retarget a human motion file (.bvh .npy .npz .pt .pkl) to a 50 Hz G1 clip, cached on disk.

    Args:
        path: Any file :func:`hgpt_retarget.human.load_human` reads.
        skeleton: Skeleton mapping name; None detects it.
        cfg: :class:`hgpt_retarget.retarget.RetargetConfig` (None: the defaults).

    Raises:
        MotionFormatError: unreadable file or an implausible motion (see ``load_human``).
        SkeletonError: unknown skeleton or missing joints.
    """
    from hgpt_retarget.human import load_human
    from hgpt_retarget.retarget import RetargetConfig, retarget_motion

    p = Path(path)
    if not p.is_file():
        raise MotionFormatError(f"{p}: no such file")
    if p.suffix.lower() not in SUFFIX_FORMAT or p.name.endswith(".clip.npz"):
        raise MotionFormatError(f"{p}: not a human motion file; supported {sorted(SUFFIX_FORMAT)}")
    cfg = cfg or RetargetConfig()
    cached = cache_path(p, skeleton, cfg)
    if cached.is_file():
        try:
            return MotionClip.load(cached)
        except (MotionFormatError, OSError, ValueError):
            pass  # a damaged cache entry: retarget again and overwrite it
    motion, mapping = load_human(p, skeleton)
    clip = retarget_motion(motion, mapping, cfg).clip
    clip.meta["human_file"] = str(p)
    clip.save(cached)
    return MotionClip.load(cached)  # as stored (float32): the same arrays on every call
