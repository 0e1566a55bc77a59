"""Fixtures of the hgpt_retarget tests: real clips from the shared data folder (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hgpt_core.datasets import shared_data_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data folder not found (set HGPT_SHARED_DATA to ../shared/data)")
    return root


@pytest.fixture(scope="session")
def human_dir(shared: Path) -> Path:
    d = shared / "motions" / "human"
    if not d.is_dir():
        pytest.skip(f"{d} absent: no human mocap in the shared data folder")
    return d


def _first(paths, what: str) -> Path:
    """The first of ``paths`` or a skip naming what is missing."""
    paths = sorted(paths)
    if not paths:
        pytest.skip(f"no {what} in the shared data folder")
    return paths[0]


@pytest.fixture(scope="session")
def first():
    """``first(paths, what)``: the first path (sorted) or a skip naming what is missing."""
    return _first


@pytest.fixture(scope="session")
def walk_bvh(human_dir: Path) -> Path:
    return _first((human_dir / "bandai_namco").rglob("*walk_normal_001.bvh"), "Bandai-Namco walk BVH")


@pytest.fixture(scope="session")
def short_bvhs(human_dir: Path) -> list[Path]:
    """Two short Bandai-Namco clips (2-4 s)."""
    files = sorted((human_dir / "bandai_namco").rglob("*raise-up-both-hands_active_001.bvh"))
    files += sorted((human_dir / "bandai_namco").rglob("*raise-up-both-hands_normal_001.bvh"))
    if len(files) < 2:
        pytest.skip("short Bandai-Namco clips absent")
    return files[:2]
