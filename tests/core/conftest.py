"""Fixtures for hgpt_core tests: the shared real data, skipped with a message when absent."""

from pathlib import Path

import pytest

from hgpt_core.datasets import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_dir()
    if root is None:
        pytest.skip(
            "shared data folder (../shared/data) not found; set HGPT_SHARED_DATA to run real-data tests"
        )
    return root


@pytest.fixture(scope="session")
def walk_csv(shared_data: Path) -> Path:
    return shared_data / "motions/g1/lafan1/walk1_subject1.csv"
