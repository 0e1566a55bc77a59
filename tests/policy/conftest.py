"""Fixtures for policy tests."""

from pathlib import Path

import pytest

from hgpt_core.datasets import shared_data_dir


@pytest.fixture(scope="session")
def shared_data_or_skip() -> Path:
    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data folder (../shared/data) not found; set HGPT_SHARED_DATA")
    return root
