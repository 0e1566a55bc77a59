"""Pluggable corpus sources: a folder of files + a loader that turns one file into a G1 ``MotionClip``.

Retargeted G1 sources use :func:`hgpt_core.formats.load_clip`. Human mocap sources plug in the same way with
a loader that retargets (:func:`retarget_human_file`, hgpt_retarget); any other ``path -> MotionClip``
function makes a new source: ``CorpusSource("mine", "motions/mine/*.bvh", "CC-BY-4.0", load=my_loader)``.
A loader must be picklable (a module-level function or a ``functools.partial`` of one): Ray ships the source
to its workers with the work unit.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from hgpt_core.datasets import G1_SOURCES, MotionSource
from hgpt_core.errors import HgptError
from hgpt_core.formats import load_clip
from hgpt_core.motion import MotionClip

OBJECT_INTERACTION = "object_interaction"
"""Tag of a source whose motion needs an object (box, chair, stairs): the filter rejects all of it."""

# Sources known to be object interaction (data/README.md: holosoma = OMOMO sub3_largebox_003, a person moving
# a large box, retargeted with and without the box).
_G1_TAGS: dict[str, frozenset[str]] = {"holosoma": frozenset({OBJECT_INTERACTION})}

# Motion that needs an object or a support other than a flat floor, by name (file path, lower case).
# "box(?!ing)" keeps kickboxing; "sit"/"table" only at a word start (not "position", "unstable").
OBJECT_NAME_PATTERN = re.compile(
    r"box(?!ing|er)|chair|sofa|couch|stool|(?<![a-z])bench|(?<![a-z])table|stair|ladder|climb|carry"
    r"|(?<![a-z])sit|(?<![a-z])seat|_w_obj|object"
)


@dataclass(frozen=True)
class CorpusSource:
    """One corpus source: files under the data root matching ``glob``, read by ``load``."""

    name: str
    glob: str
    licence: str
    load: Callable[[Path], MotionClip]
    """File -> validated G1 clip (any frame rate); raises ``HgptError`` on bad input."""
    permissive: bool = True
    """May be bundled with the project (data/README.md)."""
    kind: str = "g1"
    """``g1`` (already retargeted) or ``human`` (retargeted by ``load``)."""
    tags: frozenset[str] = field(default_factory=frozenset)

    def files(self, root: Path) -> list[Path]:
        """Sorted files of this source under ``root``."""
        return sorted(p for p in root.glob(self.glob) if p.is_file())


def _load_g1(path: Path, fps: float | None, source: str, licence: str) -> MotionClip:
    return load_clip(path, fps=fps, source=source, licence=licence)


def g1_source(src: MotionSource) -> CorpusSource:
    """Wrap a catalogue entry of ``hgpt_core.datasets.G1_SOURCES``."""
    load = partial(_load_g1, fps=src.fps, source=src.name, licence=src.licence)
    tags = _G1_TAGS.get(src.name, frozenset())
    return CorpusSource(src.name, src.glob, src.licence, load, src.permissive, "g1", tags)


# Human mocap sources of the shared folder (data/README.md), retargeted by hgpt_retarget. holosoma_demo_data
# is object interaction (climbing boxes, carrying a box): rejected by tag before the (costly) retargeting.
_HUMAN_CATALOGUE: tuple[tuple[str, str, str, bool, frozenset[str]], ...] = (
    ("bandai_namco", "motions/human/bandai_namco/**/*.bvh", "CC-BY-NC-4.0", False, frozenset()),
    ("cmu_bvh", "motions/human/cmu_bvh_fairmotion/*.bvh", "CMU-mocap/BSD-3-Clause", True, frozenset()),
    ("xsens_bvh", "motions/human/xsens_bvh_gmr/*.bvh", "MIT", True, frozenset()),
    ("holosoma_climb", "motions/human/holosoma_demo_data/climb/**/*.npy", "Apache-2.0", True,
     frozenset({OBJECT_INTERACTION})),
    ("holosoma_omomo", "motions/human/holosoma_demo_data/OMOMO_new/*.pt", "Apache-2.0", True,
     frozenset({OBJECT_INTERACTION})),
)  # fmt: skip
RETARGET_MODULE = "hgpt_retarget"


def retarget_human_file(path: Path, source: str) -> MotionClip:
    """Human mocap file -> 50 Hz G1 clip: ``hgpt_retarget`` load_human + retarget_motion (default settings).

    The skeleton is detected from the file (joint names or suffix); its frame rate, units and axes come from
    the skeleton mapping. Raises ``HgptError`` (or ``ValueError``) on bad input.
    """
    from hgpt_retarget.human import load_human
    from hgpt_retarget.retarget import retarget_motion

    motion, mapping = load_human(path, source=source)
    return retarget_motion(motion, mapping).clip


def retargeter_available() -> bool:
    """Whether hgpt_retarget is importable (it provides the human loaders)."""
    return importlib.util.find_spec(RETARGET_MODULE) is not None


def human_sources() -> tuple[CorpusSource, ...]:
    """The human mocap sources, each loaded through :func:`retarget_human_file`."""
    return tuple(
        CorpusSource(name, glob, lic, partial(retarget_human_file, source=name), perm, "human", tags)
        for name, glob, lic, perm, tags in _HUMAN_CATALOGUE
    )


def default_sources(include_human: bool = False) -> dict[str, CorpusSource]:
    """Every G1 source of the catalogue, plus the human ones when asked (needs hgpt_retarget)."""
    sources = {s.name: g1_source(s) for s in G1_SOURCES}
    if include_human:
        if not retargeter_available():
            raise HgptError(
                f"human sources need the {RETARGET_MODULE} package; build with include_human=False"
            )
        sources.update({s.name: s for s in human_sources()})
    return sources


def select_sources(sources: dict[str, CorpusSource], names: tuple[str, ...]) -> list[CorpusSource]:
    """The named sources in catalogue order (all when ``names`` is empty)."""
    unknown = sorted(set(names) - set(sources))
    if unknown:
        raise HgptError(f"unknown corpus source(s) {unknown}; valid: {sorted(sources)}")
    return [s for n, s in sources.items() if not names or n in names]


def object_interaction_reason(source: CorpusSource, rel_path: str) -> str | None:
    """Why a file is object interaction (by source tag or name), or None."""
    if OBJECT_INTERACTION in source.tags:
        return f"object_interaction: source '{source.name}' is object-interaction motion"
    m = OBJECT_NAME_PATTERN.search(rel_path.lower())
    if m:
        return f"object_interaction: name matches '{m.group(0)}'"
    return None
