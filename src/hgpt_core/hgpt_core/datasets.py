"""Catalogue of the retargeted G1 motion sources in the shared data folder.

Each source names its folder, glob, frame rate (when the files do not store it) and licence, so that
every clip carries its provenance. The shared folder is ``$HGPT_SHARED_DATA`` or ``<repo>/../shared/data``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hgpt_core.formats import load_clip
from hgpt_core.motion import MotionClip


@dataclass(frozen=True)
class MotionSource:
    """One folder of G1 clips of a single format and licence."""

    name: str
    glob: str
    licence: str
    fps: float | None = None  # only for formats that do not store it (CSV)
    permissive: bool = True  # may be bundled with the project
    notes: str = ""


G1_SOURCES: tuple[MotionSource, ...] = (
    MotionSource("g1_moves", "motions/g1/g1_moves/**/retarget/*.csv", "CC-BY-4.0", fps=60.0),
    MotionSource("g1_moves_npz", "motions/g1/g1_moves/**/training/*.npz", "CC-BY-4.0"),
    MotionSource(
        "lafan1",
        "motions/g1/lafan1/*.csv",
        "CC-BY-NC-ND-4.0",
        fps=30.0,
        permissive=False,
    ),
    MotionSource("gmt", "motions/g1/gmt/*.pkl", "Apache-2.0"),
    MotionSource("pbhc", "motions/g1/pbhc/*.pkl", "CC-BY-NC-4.0", permissive=False),
    MotionSource("asap", "motions/g1/asap/**/*.pkl", "MIT"),
    MotionSource(
        "holosoma",
        "motions/g1/holosoma/*.npz",
        "Apache-2.0",
        notes="human-box interaction",
    ),
)
SOURCES_BY_NAME = {s.name: s for s in G1_SOURCES}


def bundled_clip_path(name: str = "gmt_basic_walk") -> Path:
    """A G1 clip shipped with hgpt_core (Apache-2.0, see assets/motions/README.md)."""
    path = Path(str(resources.files("hgpt_core") / "assets" / "motions" / f"{name}.clip.npz"))
    if not path.is_file():
        names = sorted(p.name.removesuffix(".clip.npz") for p in path.parent.glob("*.clip.npz"))
        raise FileNotFoundError(f"no bundled clip '{name}'; bundled: {names}")
    return path


def bundled_human_path(name: str = "cmu_01_01") -> Path:
    """A human mocap file shipped with hgpt_core (CMU via fairmotion, BSD-3; see assets/motions/README.md)."""
    folder = Path(str(resources.files("hgpt_core") / "assets" / "motions" / "human"))
    path = folder / f"{name}.bvh"
    if not path.is_file():
        raise FileNotFoundError(
            f"no bundled human clip '{name}'; bundled: {sorted(p.stem for p in folder.glob('*.bvh'))}"
        )
    return path


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when it is absent (tests then skip with a message)."""
    env = os.environ.get("HGPT_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    candidates += [p / "shared" / "data" for p in here.parents]
    for c in candidates:
        if (c / "motions" / "g1").is_dir():
            return c
    return None


def iter_source_files(source: MotionSource, root: Path) -> list[Path]:
    """Sorted files of one source under ``root``."""
    return sorted(root.glob(source.glob))


def iter_g1_clips(root: Path | None = None, sources: tuple[str, ...] | None = None) -> Iterator[MotionClip]:
    """Load every clip of the named sources (default: all) from the shared folder."""
    root = root or shared_data_dir()
    if root is None:
        raise FileNotFoundError("shared data folder not found; set HGPT_SHARED_DATA")
    for src in G1_SOURCES:
        if sources is not None and src.name not in sources:
            continue
        for path in iter_source_files(src, root):
            yield load_clip(path, fps=src.fps, source=src.name, licence=src.licence)
