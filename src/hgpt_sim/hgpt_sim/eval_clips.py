"""The clips an evaluation runs on: names, files (G1 or human mocap), the corpus test split, labels."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from hgpt_core.datasets import shared_data_dir
from hgpt_core.errors import HgptError
from hgpt_core.motion import MotionClip
from hgpt_core.reference import ReferenceMotion
from hgpt_sim.references import load_motion_file

DEFAULT_CLIPS = (
    "lafan1/walk1_subject1.csv",
    "lafan1/run1_subject2.csv",
    "g1_moves/karate/B_AttackKarate/retarget/B_AttackKarate.csv",
    "g1_moves/dance/J_Dance2_Salsa/retarget/J_Dance2_Salsa.csv",
    "g1_moves/karate/M_Move1/retarget/M_Move1.csv",
    "gmt/basic_walk.pkl",
    "gmt/squat.pkl",
    "gmt/kick_walk.pkl",
)
CORPUS_CANDIDATES = (Path("outputs/corpus_full"), Path("outputs/corpus_subset"), Path("outputs/corpus"))
"""Where ``hgpt corpus all`` (``--full``) and ``hgpt corpus build`` write, relative to the working folder."""


def clip_stem(path: Path) -> str:
    """A clip's name from its file: ``walk.clip.npz`` -> ``walk``, ``walk.csv`` -> ``walk``."""
    return path.name.removesuffix(".clip.npz") if path.name.endswith(".clip.npz") else path.stem


_LABEL_NOISE = (
    (re.compile(r"^\d+-motions_raw_tairantestbed_smpl_video_"), ""),  # ASAP singles
    (re.compile(r"_amass$"), ""),
    (re.compile(r"_retargeted$"), ""),
)


def clip_label(name: str, width: int = 28) -> str:
    """A readable label: ``0-motions_raw_tairantestbed_smpl_video_Bolt_level1_amass`` -> ``Bolt level1``."""
    base = name.rsplit("/", 1)[-1]
    for pat, rep in _LABEL_NOISE:
        base = pat.sub(rep, base)
    base = base.replace("_", " ").strip() or name
    return base if len(base) <= width else base[: width - 1] + "…"


def resolve_clip(name: str) -> Path:
    """Path of a clip given absolutely or relative to <shared>/motions/g1/, motions/human/ or <shared>."""
    p = Path(name)
    if p.is_file():
        return p
    root = shared_data_dir()
    if root is not None:
        for base in (root / "motions" / "g1", root / "motions" / "human", root):
            if (base / name).is_file():
                return base / name
    raise FileNotFoundError(
        f"clip '{name}' not found (absolute, or under <shared data>/motions/g1/, motions/human/ or "
        "<shared data>/)"
    )


def load_reference(name: str | Path, fps: float | None = None) -> ReferenceMotion:
    """A clip file (G1, or human mocap retargeted through hgpt_retarget's cache) at the control rate.

    Args:
        name: Path or shared-data-relative name (:func:`resolve_clip`).
        fps: Input rate [Hz] of a CSV (see :func:`hgpt_sim.references.load_motion_file`).
    """
    path = resolve_clip(str(name))
    ref = None
    if path.suffix.lower() not in (".csv", ".pkl", ".pickle") and not path.name.endswith(".clip.npz"):
        try:
            from hgpt_retarget.human_clip import is_human_motion_file, retarget_human_file
        except ImportError:  # hgpt_retarget absent: G1 files only
            pass
        else:
            if is_human_motion_file(path):
                clip = retarget_human_file(path)
                clip.name = clip_stem(path)
                ref = ReferenceMotion.from_clip(clip)
    if ref is None:
        ref = ReferenceMotion.from_clip(load_motion_file(path, fps=fps))
    if ref.upsample_note:  # a 7 fps clip is evaluated, but not silently
        print(f"warning: {path}: {ref.upsample_note}", file=sys.stderr)
    return ref


def find_corpus(corpus: Path | None = None) -> Path:
    """The corpus folder: ``corpus`` or the first built of :data:`CORPUS_CANDIDATES`.

    Raises:
        HgptError: none built; says to run ``hgpt corpus all``.
    """
    cands = [Path(corpus)] if corpus is not None else list(CORPUS_CANDIDATES)
    for c in cands:
        if (c / "manifest.json").is_file():
            return c
    raise HgptError(
        f"no built corpus at {', '.join(map(str, cands))}: run `hgpt corpus all` (CI subset, about a minute) "
        "or `hgpt corpus all --full`, or pass --corpus DIR"
    )


def corpus_references(
    split: str = "test", corpus: Path | None = None, max_clips: int | None = None
) -> list[ReferenceMotion]:
    """The original-speed (time-warp factor 1) clips of a corpus split, named by clip id."""
    root = find_corpus(corpus)
    from hgpt_core.corpus_store import CorpusReader  # lazily: pyarrow is only needed for a corpus split

    reader = CorpusReader(root, split)
    refs = []
    for i, e in enumerate(reader.entries):
        if float(e.get("factor", 1.0)) != 1.0 or e["frames"] < 2:
            continue
        f = reader.frames(i)
        clip = MotionClip(
            np.asarray(f["root_pos"], np.float64),
            np.asarray(f["root_quat"], np.float64),
            np.asarray(f["joint_pos"], np.float64),
            reader.fps,
            name=e["clip_id"],
        )
        refs.append(ReferenceMotion.from_clip(clip))
        if max_clips is not None and len(refs) >= max_clips:
            break
    if not refs:
        raise HgptError(f"{root}: split '{split}' has no accepted clips")
    return refs


def unique_names(refs: list[ReferenceMotion]) -> list[ReferenceMotion]:
    seen: dict[str, int] = {}
    out = []
    for r in refs:
        k = seen.get(r.name, 0)
        seen[r.name] = k + 1
        out.append(r if k == 0 else replace(r, name=f"{r.name}#{k + 1}"))
    return out
