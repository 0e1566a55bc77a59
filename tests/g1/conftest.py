"""Fixtures of the hgpt_g1 tests: the unitree_hg test interfaces (built on demand, cached) and processes
that import them. Builds on ros_env / rclpy_init of tests/conftest.py."""

import subprocess
from pathlib import Path

import pytest
from processes import start_logged, stop_process

from hgpt_g1.build_unitree_hg import ensure_built, unitree_hg_env


@pytest.fixture(scope="session")
def unitree_hg_prefix() -> Path:
    """Install prefix of test_interfaces/unitree_hg (first build ~40 s, then reused until it changes)."""
    try:
        return ensure_built()
    except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"cannot build the unitree_hg test interfaces: {exc}")


@pytest.fixture
def g1_env(ros_env, unitree_hg_prefix) -> dict[str, str]:
    """ros_env (loopback discovery, the session's domain) plus unitree_hg on the library and Python paths.

    rmw loads type support libraries by name, so a process needs them on LD_LIBRARY_PATH from its start:
    processes that use unitree_hg are started with this environment.
    """
    return unitree_hg_env(unitree_hg_prefix, ros_env)


@pytest.fixture
def spawn_g1(g1_env, tmp_path):
    """Start ``python <args>`` with g1_env, output to a log file; killed after the test.

    Returns ``spawn(name, *args) -> Popen``; ``spawn.logs()`` gives every process's output (for failures).
    """
    procs: list[tuple[str, subprocess.Popen, Path]] = []

    def spawn(name: str, *args: str) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        proc = start_logged(list(args), g1_env, log)
        procs.append((name, proc, log))
        return proc

    def logs() -> str:
        return "\n".join(
            f"---- {name} (rc={p.poll()}) ----\n{log.read_text()[-4000:]}" for name, p, log in procs
        )

    spawn.logs = logs
    yield spawn
    for _, proc, _ in procs:
        stop_process(proc, timeout=5)
