"""Fixtures of the corpus/HME tests: small real subsets of the shared G1 data, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from hgpt_core.datasets import shared_data_dir
from hgpt_training.corpus import CorpusConfig, build

ASAP = "motions/g1/asap/*/*/singles/0-motions_raw_tairantestbed_smpl_video_"
# 10 files, 4 sources: walks, a kick, a dance, a squat; the holosoma box clips (to be rejected); g1_moves
# M_ShortMove14 in CSV and in NPZ (the same motion twice: one is a duplicate).
SMALL_INCLUDE = (
    "motions/g1/gmt/basic_walk.pkl",
    "motions/g1/gmt/walk_stand.pkl",
    "motions/g1/gmt/airkick_stand.pkl",
    "motions/g1/gmt/dance.pkl",
    "motions/g1/gmt/squat.pkl",
    "motions/g1/holosoma/*.npz",
    "motions/g1/g1_moves/*/M_ShortMove14/*/M_ShortMove14.*",
    "motions/g1/g1_moves/*/J_ShortDance16_JazzWalk/*/*.csv",
)
# Walking and kicking clips of three sources, for the clustering check.
WALK_KICK_INCLUDE = (
    "motions/g1/gmt/basic_walk.pkl",
    "motions/g1/gmt/walk_stand.pkl",
    "motions/g1/gmt/airkick_stand.pkl",
    f"{ASAP}walk_level*",
    f"{ASAP}kick_level*",
    "motions/g1/pbhc/Roundhouse_kick.pkl",
    "motions/g1/pbhc/Side_kick.pkl",
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_dir()
    if root is None:
        pytest.skip(
            "shared data folder (../shared/data) not found; set HGPT_SHARED_DATA to run real-data tests"
        )
    return root


def small_config(out: Path, root: Path, **kw) -> CorpusConfig:
    """The SMALL subset (default settings, no progress bar)."""
    return CorpusConfig(out=out, data_root=root, include=SMALL_INCLUDE, progress=False, **kw)


@pytest.fixture(scope="session")
def small_include() -> tuple[str, ...]:
    """The SMALL subset's include patterns."""
    return SMALL_INCLUDE


@pytest.fixture(scope="session")
def small_cfg(shared_data: Path):
    """Factory: ``small_cfg(out, **overrides)`` -> the SMALL subset's CorpusConfig."""
    return lambda out, **kw: small_config(out, shared_data, **kw)


@pytest.fixture(scope="session")
def small_corpus(shared_data: Path, tmp_path_factory) -> Path:
    """The SMALL subset built once (default time-warp factors)."""
    out = tmp_path_factory.mktemp("corpus_small")
    build(small_config(out, shared_data))
    return out


@pytest.fixture(scope="session")
def walk_kick_corpus(shared_data: Path, tmp_path_factory) -> Path:
    """Walks and kicks at original speed, all in the train split."""
    out = tmp_path_factory.mktemp("corpus_walk_kick")
    cfg = CorpusConfig(
        out=out,
        data_root=shared_data,
        include=WALK_KICK_INCLUDE,
        speed_factors=(1.0,),
        val_fraction=0.0,
        test_fraction=0.0,
        progress=False,
    )
    build(cfg)
    return out
