"""Child processes of the tests: start ``python <args>`` with its output in a log file, and stop one (SIGTERM,
then SIGKILL after ``timeout``). A test module, not a package module: tests/ is on sys.path through
tests/conftest.py (pytest's default prepend import mode, no __init__.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def start_logged(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
    """``python *args`` with ``env``; stdout and stderr go to ``log`` (readable also after a stop)."""
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate ``proc`` if it still runs; kill it when it has not exited ``timeout`` [s] later."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
