"""Workspace packaging: manifests agree with setup.py, hgpt_core stays ROS-free and ships its model assets."""

import ast
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
AMENT_PYTHON = ["hgpt_core", "hgpt_retarget", "hgpt_policy", "hgpt_sim", "hgpt_g1", "hgpt_bringup"]


def setup_kwargs(pkg: str) -> dict:
    """The literal keyword arguments of the setup() call in src/<pkg>/setup.py."""
    tree = ast.parse((SRC / pkg / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    out = {}
    for kw in call.keywords:
        try:
            out[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            out[kw.arg] = None  # computed (e.g. package_data of hgpt_core)
    return out


@pytest.mark.parametrize("pkg", AMENT_PYTHON)
def test_ament_python_package_is_complete(pkg):
    root = ET.parse(SRC / pkg / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == pkg
    assert root.find("export/build_type").text == "ament_python"
    kwargs = setup_kwargs(pkg)
    assert kwargs["version"] == root.findtext("version"), "keep package.xml and setup.py versions equal"
    assert kwargs["extras_require"] == {"test": ["pytest"]}, "colcon test needs pytest declared"
    assert (SRC / pkg / "resource" / pkg).is_file()
    assert (SRC / pkg / pkg / "__init__.py").is_file()
    cfg = (SRC / pkg / "setup.cfg").read_text()
    assert f"script_dir=$base/lib/{pkg}" in cfg and f"install_scripts=$base/lib/{pkg}" in cfg


def test_hgpt_core_does_not_depend_on_ros_client_libraries():
    root = ET.parse(SRC / "hgpt_core" / "package.xml").getroot()
    deps = {e.text for e in root if e.tag.endswith("depend")}
    assert not deps & {"rclpy", "rclcpp", "hgpt_msgs"}
    for path in (SRC / "hgpt_core" / "hgpt_core").rglob("*.py"):
        assert "rclpy" not in path.read_text(), f"{path} imports rclpy"


def test_msgs_package_lists_every_interface_file():
    cmake = (SRC / "hgpt_msgs" / "CMakeLists.txt").read_text()
    files = sorted((SRC / "hgpt_msgs").glob("*/*.msg")) + sorted((SRC / "hgpt_msgs").glob("*/*.srv"))
    required = {
        "HumanPose",
        "MotionReference",
        "RobotState",
        "JointCommand",
        "TrackingStatus",
        "SetMode",
        "LoadMotion",
    }
    assert required <= {f.stem for f in files}
    for f in files:
        assert f'"{f.parent.name}/{f.name}"' in cmake


@pytest.mark.slow
def test_hgpt_core_wheel_ships_the_model_assets(tmp_path):
    """A non-editable install (colcon without --symlink-install, pip) must contain MJCF, meshes, licences."""
    # Build from a copy: setuptools writes build/ and *.egg-info next to setup.py.
    pkg = shutil.copytree(
        SRC / "hgpt_core", tmp_path / "hgpt_core", ignore=shutil.ignore_patterns("__pycache__")
    )
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        tmp_path,
        pkg,
    ]
    subprocess.run(cmd, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("hgpt_core-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assets = SRC / "hgpt_core" / "hgpt_core" / "assets"
    expected = {
        f"hgpt_core/{p.relative_to(assets.parent).as_posix()}" for p in assets.rglob("*") if p.is_file()
    }
    assert expected and not expected - names, sorted(expected - names)[:5]
    assert "hgpt_core/assets/g1/g1.xml" in names and "hgpt_core/py.typed" in names
    assert any(n.endswith(".STL") for n in names) and any("LICENSE" in n for n in names)
