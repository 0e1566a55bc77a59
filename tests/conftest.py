"""Shared pytest fixtures of the hgpt workspace.

rclpy and hgpt_msgs come from the workspace environment: `make test` sources scripts/env.sh, and any
`.venv/bin/python` (so `.venv/bin/pytest`) finds the colcon install/ by itself through the venv hook that
scripts/setup.sh installs (scripts/venv_hook.py). Nothing here edits sys.path.
"""

# ---- ROS test helpers (issue "Foundation") -----------------------------------------------------------------
import os
import subprocess
import sys

import pytest
from processes import stop_process

# rosidl-generated Python messages check field types and sizes on assignment only when this is "1" (read when
# a message module is imported, so set here, before any test imports one). Unchecked, a float64[29] field
# given 28 values serialises 29 anyway, the last read past the end of the array.
os.environ.setdefault("ROS_PYTHON_CHECK_FIELDS", "1")


def _ros_domain_id() -> int:
    """A DDS domain of this test session: the PID spreads concurrent sessions over 10..99."""
    return int(os.environ.get("HGPT_TEST_ROS_DOMAIN_ID", 10 + os.getpid() % 90))


@pytest.fixture(scope="session")
def ros_env() -> dict[str, str]:
    """Environment for ROS processes of this session: loopback-only discovery and a domain of its own.

    Also applied to this process, so nodes created in the test talk to the subprocesses started with it.
    """
    settings = {
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",  # Kilted+; ROS_LOCALHOST_ONLY no longer exists
        "ROS_DOMAIN_ID": str(_ros_domain_id()),
        "PYTHONUNBUFFERED": "1",
    }
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    yield {**os.environ}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def rclpy_init(ros_env):
    """rclpy initialised (default context) in ros_env for the test, shut down after it."""
    import rclpy

    rclpy.init()
    try:
        yield rclpy
    finally:
        rclpy.try_shutdown()


@pytest.fixture
def spawn_python(ros_env):
    """Start `python <script> <args>` in ros_env; every process started is killed after the test."""
    procs: list[subprocess.Popen] = []

    def spawn(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, *args],
            env=ros_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        stop_process(proc, timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


# ---- end of ROS test helpers -------------------------------------------------------------------------------
