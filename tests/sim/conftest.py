"""Fixtures for hgpt_sim tests: a synthetic standing clip (no data needed) and the shared real clips."""

from pathlib import Path

import numpy as np
import pytest

from hgpt_core.datasets import shared_data_dir
from hgpt_core.g1 import KNEES_BENT_POSE, KNEES_BENT_ROOT_Z
from hgpt_core.motion import MotionClip
from hgpt_core.reference import ReferenceMotion
from hgpt_sim.references import MotionBank


def standing_clip(frames: int = 100, sway: float = 0.05) -> MotionClip:
    """Knees-bent stance whose arms sway slowly (so joint velocities are not all zero)."""
    t = np.arange(frames) / 50.0
    q = np.tile(KNEES_BENT_POSE, (frames, 1))
    q[:, 15] += sway * np.sin(2 * np.pi * 0.5 * t)  # left shoulder pitch
    return MotionClip(
        np.tile([0.0, 0.0, KNEES_BENT_ROOT_Z], (frames, 1)),
        np.tile([1.0, 0.0, 0.0, 0.0], (frames, 1)),
        q,
        50.0,
        name="standing",
    )


@pytest.fixture(scope="session")
def make_standing_clip():
    return standing_clip


@pytest.fixture(scope="session")
def standing_bank() -> MotionBank:
    return MotionBank([ReferenceMotion.from_clip(standing_clip())])


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data folder (../shared/data) not found; set HGPT_SHARED_DATA")
    return root


@pytest.fixture(scope="session")
def walk_bank(shared_data: Path) -> MotionBank:
    return MotionBank.from_files([shared_data / "motions/g1/lafan1/walk1_subject1.csv"])


@pytest.fixture(scope="session")
def twist2_onnx() -> Path:
    from hgpt_sim.twist2 import DEFAULT_ONNX

    if not DEFAULT_ONNX.is_file():
        pytest.skip(f"TWIST2 ONNX not found at {DEFAULT_ONNX}")
    return DEFAULT_ONNX
