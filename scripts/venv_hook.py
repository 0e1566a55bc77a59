"""Make every Python of <workspace>/.venv see the colcon install/ (hgpt_msgs and the hgpt_* packages).

scripts/setup.sh copies this file into the venv's site-packages as `_hgpt_workspace.py` and adds
`hgpt_workspace.pth` (`import _hgpt_workspace`). That .pth sorts before `ros_wheels_bootstrapper.pth`, which
re-execs Python with LD_LIBRARY_PATH extended: the variables set here are therefore in place when the
interpreter starts for real. rmw dlopen()s `libhgpt_msgs__rosidl_typesupport_fastrtps_c.so` by bare name, so
install/lib must be on LD_LIBRARY_PATH at process start; setting it later from Python has no effect.

It does what `source install/setup.bash` does for the variables Python needs, so `.venv/bin/pytest` and
`.venv/bin/python` work without sourcing anything. Set HGPT_NO_VENV_HOOK=1 to disable it.
"""

import os
import site
import sys


def _prepend(var: str, value: str) -> None:
    parts = [p for p in os.environ.get(var, "").split(os.pathsep) if p]
    if value not in parts:
        os.environ[var] = os.pathsep.join([value, *parts])


def _activate() -> None:
    workspace = os.path.dirname(sys.prefix)  # the venv lives at <workspace>/.venv
    install = os.path.join(workspace, "install")
    if os.environ.get("HGPT_NO_VENV_HOOK") or not os.path.isfile(os.path.join(install, "setup.bash")):
        return
    py = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site_dir = os.path.join(install, "lib", py, "site-packages")
    _prepend("AMENT_PREFIX_PATH", sys.prefix)  # the ROS wheels install their share/ into the venv
    _prepend("AMENT_PREFIX_PATH", install)
    _prepend("LD_LIBRARY_PATH", os.path.join(install, "lib"))
    # colcon --symlink-install installs ament_python packages in develop mode: each <pkg>.egg-link names the
    # directory to import it from (build/<pkg>, symlinks to src/); install/setup.bash adds the same paths.
    paths = [site_dir]
    for name in sorted(os.listdir(site_dir)) if os.path.isdir(site_dir) else []:
        if name.endswith(".egg-link"):
            with open(os.path.join(site_dir, name)) as f:
                paths.append(f.readline().strip())
    for path in reversed(paths):
        _prepend("PYTHONPATH", path)  # for child processes that are not venv Pythons
    for path in paths:
        if path not in sys.path:
            site.addsitedir(path)


_activate()
