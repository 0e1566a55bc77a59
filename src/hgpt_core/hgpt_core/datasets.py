"""Catalogue of the retargeted G1 motion sources in the shared data folder.

Each source names its folder, glob, frame rate (when the files do not store it) and licence, so that
every clip carries its provenance. The shared folder is ``$HGPT_SHARED_DATA`` or ``<repo>/../shared/data``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from hgpt_core.errors import MotionFormatError
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


CSV_SIDECAR_SUFFIX = ".json"
"""A CSV's frame rate sidecar: ``walk.csv`` -> ``walk.csv.json`` holding ``{"fps": 30}``."""


@lru_cache(maxsize=32)
def _catalogued(root: Path, glob: str) -> frozenset[Path]:
    return frozenset(p.resolve() for p in root.glob(glob))


def csv_fps(path: str | os.PathLike, root: Path | None = None) -> float:
    """The frame rate [Hz] of a CSV motion file, which does not store one. Never guessed.

    In order: the sidecar ``<file>.json`` (``{"fps": 60}``), then the catalogue :data:`G1_SOURCES` for a
    file that IS one of the shared data folder's catalogued files (``root``, default
    :func:`shared_data_dir`). A copy elsewhere, or any other CSV, raises.

    Raises:
        MotionFormatError: no rate known; the message says what to pass (``--fps`` or the sidecar).
    """
    p = Path(path)
    side = p.with_name(p.name + CSV_SIDECAR_SUFFIX)
    if side.is_file():
        try:
            fps = float(json.loads(side.read_text())["fps"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MotionFormatError(
                f'{side}: unreadable fps sidecar, expected {{"fps": 30}} ({exc})'
            ) from exc
        if not fps > 0:
            raise MotionFormatError(f"{side}: fps must be > 0, got {fps}")
        return fps
    root = root or shared_data_dir()
    if root is not None and p.is_file():
        rp = p.resolve()
        for src in G1_SOURCES:
            if src.fps is not None and rp in _catalogued(Path(root).resolve(), src.glob):
                return float(src.fps)
    raise MotionFormatError(
        f"{p}: a CSV motion file does not store its frame rate and this one is not a catalogued shared "
        f"clip; pass it (--fps 30 for LAFAN1-style clips, --fps 60 for g1_moves; fps= in Python) or write "
        f'a sidecar {side.name} holding {{"fps": 30}}'
    )
