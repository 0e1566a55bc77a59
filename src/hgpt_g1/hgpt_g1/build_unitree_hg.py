"""Build the test copy of unitree_hg (test_interfaces/unitree_hg) into its own prefix, cached.

Without unitree_ros2 this gives the bridge and the simulated robot the exact unitree_hg messages, built apart
from the workspace (the package carries COLCON_IGNORE so the default build never shadows a user's
unitree_ros2). colcon honours COLCON_IGNORE everywhere, so the sources are copied without the marker and
built with ``colcon build --merge-install`` into ``<workspace>/build/unitree_hg_test/install``. A rebuild
happens only when the sources or the Python interpreter change; a file lock serialises concurrent builds.

    python -m hgpt_g1.build_unitree_hg            # build (or reuse), print the setup file to source
    source build/unitree_hg_test/install/local_setup.bash

Processes need the prefix at start (rmw loads the type support libraries by name): :func:`unitree_hg_env`.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path("test_interfaces") / "unitree_hg"


def find_source(start: Path | None = None) -> Path:
    """``test_interfaces/unitree_hg`` of the workspace above ``start`` (default: cwd, then this file)."""
    for base in (start or Path.cwd(), Path(__file__).resolve()):
        for d in (base, *base.parents):
            if (d / PACKAGE / "package.xml").is_file():
                return d / PACKAGE
    raise FileNotFoundError(f"{PACKAGE} not found above {start or Path.cwd()} or {Path(__file__).resolve()}")


def _fingerprint(src: Path) -> str:
    h = hashlib.sha256(
        f"{os.path.realpath(sys.prefix)} {sys.version}".encode()
    )  # not sys.executable: python vs python3.11
    for f in sorted(p for p in src.rglob("*") if p.is_file() and p.name != "COLCON_IGNORE"):
        h.update(str(f.relative_to(src)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def ensure_built(src: Path | None = None, work: Path | None = None, timeout_s: float = 600.0) -> Path:
    """Build unitree_hg unless an up-to-date build exists; returns the install prefix.

    Raises:
        RuntimeError: when colcon fails (the message ends with the build log's tail).
    """
    src = src or find_source()
    work = work or src.parents[1] / "build" / "unitree_hg_test"
    prefix, stamp = work / "install", work / "install" / ".hgpt-unitree_hg.sha256"
    work.mkdir(parents=True, exist_ok=True)
    fp = _fingerprint(src)
    with open(work / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == fp:
            return prefix
        for d in ("src", "build", "install"):
            shutil.rmtree(work / d, ignore_errors=True)
        shutil.copytree(src, work / "src" / "unitree_hg", ignore=shutil.ignore_patterns("COLCON_IGNORE"))
        colcon = shutil.which("colcon") or str(Path(sys.prefix) / "bin" / "colcon")
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env = dict(os.environ, HGPT_NO_VENV_HOOK="1", PATH=path)
        if (Path(sys.prefix) / "share" / "ament_index").is_dir():  # ROS wheels in a venv (DESIGN.md §3)
            prefixes = [sys.prefix, env.get("AMENT_PREFIX_PATH", "")]
            env["AMENT_PREFIX_PATH"] = os.pathsep.join(filter(None, prefixes))
        cmd = [colcon, "--log-base", str(work / "log"), "build", "--merge-install"]
        cmd += ["--base-paths", str(work / "src"), "--build-base", str(work / "build")]
        cmd += ["--install-base", str(prefix), "--cmake-args", f"-DPython3_EXECUTABLE={sys.executable}"]
        cmd += ["-DBUILD_TESTING=OFF"]
        res = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, timeout=timeout_s)
        if res.returncode != 0:
            log = work / "log" / "latest_build" / "unitree_hg" / "stdout_stderr.log"
            tail = log.read_text()[-3000:] if log.is_file() else res.stdout[-3000:] + res.stderr[-3000:]
            raise RuntimeError(f"building unitree_hg failed ({' '.join(cmd)}):\n{tail}")
        stamp.write_text(fp)
    return prefix


def unitree_hg_env(prefix: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) with the prefix on AMENT_PREFIX_PATH, LD_LIBRARY_PATH and PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    py = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for var, path in (
        ("AMENT_PREFIX_PATH", prefix),
        ("LD_LIBRARY_PATH", prefix / "lib"),
        ("PYTHONPATH", prefix / "lib" / py / "site-packages"),
    ):
        env[var] = os.pathsep.join(filter(None, [str(path), env.get(var, "")]))
    return env


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=None, help="unitree_hg package folder")
    ap.add_argument("--work", type=Path, default=None, help="default: <workspace>/build/unitree_hg_test")
    args = ap.parse_args(argv)
    prefix = ensure_built(args.source, args.work)
    print(f"unitree_hg built in {prefix}\nuse it with:  source {prefix / 'local_setup.bash'}")


if __name__ == "__main__":
    main()
