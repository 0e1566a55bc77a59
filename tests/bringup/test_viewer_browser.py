"""The live web viewer in a real headless Chromium (issue 17).

1. A viewer process fed robot states by the test: the page loads (viser client, the hgpt panel), the robot
   appears when the first state comes, and the picture changes when the robot moves.
2. ``hgpt run teleop --viewer``: the composed graph opens the viewer; the page shows the policy tracking the
   clip (mode TRACK, the clip's name, a joint error) and the picture changes as the robot walks.

Software WebGL (SwiftShader) on a shared CPU is slow: each screenshot may take tens of seconds, so the
waits are long; nothing here measures time.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser import open_browser, require_browser, screenshot, wait_for  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]

COARSE = "0.02"  # mesh grid [m]: fewer triangles for software WebGL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serving(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the 3D view's pixels that changed by > 40 levels (the panel, top right, masked out)."""
    h, w = a.shape[:2]
    d = np.abs(a.astype(int) - b.astype(int)).max(axis=-1)
    d[: int(0.4 * h), int(0.55 * w) :] = 0  # the panel's text changes too
    return float((d > 40).mean())


def _state(x: float, knee: float):
    from hgpt_core.g1 import KNEES_BENT_POSE
    from hgpt_msgs.msg import RobotState

    m = RobotState()
    m.q = [float(v) for v in KNEES_BENT_POSE]
    m.q[3] = m.q[9] = knee  # both knees
    m.q[15] = m.q[22] = -knee  # shoulders pitch
    m.has_root_truth = True
    m.root_pose.position.x, m.root_pose.position.z = x, 0.76
    m.root_pose.orientation.w = 1.0
    return m


def _save(folder: Path, **images: np.ndarray) -> None:
    """Keep the screenshots (pytest's tmp_path) for a failure's post-mortem."""
    import imageio.v3 as iio

    for name, im in images.items():
        iio.imwrite(folder / f"{name}.png", im)


def _set_mode_track(rclpy) -> None:
    """/hgpt/set_mode STAND, then TRACK once standing, as an operator would (ros2 service call)."""
    from rclpy.executors import SingleThreadedExecutor

    from hgpt_msgs.srv import SetMode

    node = rclpy.create_node("operator")
    client = node.create_client(SetMode, "/hgpt/set_mode")
    assert client.wait_for_service(timeout_sec=60), "no /hgpt/set_mode"
    ex = SingleThreadedExecutor()
    ex.add_node(node)

    def call(mode: int):
        fut = client.call_async(SetMode.Request(mode=mode))
        ex.spin_until_future_complete(fut, timeout_sec=60)
        assert fut.done(), "no /hgpt/set_mode answer"
        return fut.result()

    assert call(1).success  # STAND first: the ramp to the default pose
    end = time.monotonic() + 120
    while not (res := call(2)).success and time.monotonic() < end:  # TRACK once standing
        time.sleep(0.5)
    assert res.success, res
    ex.shutdown()
    node.destroy_node()


def _text(drv) -> str:
    return drv.find_element("tag name", "body").text


@pytest.fixture
def browser():
    require_browser()
    drv = open_browser(800, 600)
    drv.set_page_load_timeout(120)
    yield drv
    drv.quit()


def test_viewer_page_shows_the_robot_and_follows_it(spawn_python, rclpy_init, browser, tmp_path):
    from rclpy.qos import qos_profile_sensor_data

    from hgpt_msgs.msg import RobotState

    port = _free_port()
    proc = spawn_python("-m", "hgpt_bringup.viewer_node", "--port", str(port), "--mesh-cell", COARSE)
    assert wait_for(lambda: _serving(port) or proc.poll() is not None, 120), "viewer never served"
    assert proc.poll() is None, proc.stdout.read()[-3000:]
    node = rclpy_init.create_node("viewer_feed")
    pub = node.create_publisher(RobotState, "/hgpt/robot_state", qos_profile_sensor_data)

    browser.get(f"http://localhost:{port}")
    assert wait_for(lambda: "waiting for /hgpt/robot_state" in _text(browser), 120), _text(browser)
    assert browser.title == "Viser"
    time.sleep(2.0)  # the scene (meshes) arrives after the panel
    empty = screenshot(browser)

    def show(msg) -> np.ndarray:
        for _ in range(10):
            pub.publish(msg)
            time.sleep(0.1)
        assert wait_for(lambda: "joint error" in _text(browser), 60), _text(browser)
        time.sleep(2.0)
        return screenshot(browser)

    standing = show(_state(0.0, 0.3))
    _save(tmp_path, empty=empty, standing=standing)
    assert _changed(empty, standing) > 0.005, "no robot appeared"
    moved = show(_state(0.0, 1.6))
    _save(tmp_path, moved=moved)
    assert _changed(standing, moved) > 0.002, "the picture did not change when the robot moved"
    assert proc.poll() is None
    node.destroy_node()


def test_hgpt_run_teleop_viewer(spawn_python, rclpy_init, browser, tmp_path):
    port = _free_port()
    run = spawn_python(
        "-m", "hgpt_bringup.run", "teleop", "--viewer", "--viewer-port", str(port), "--duration", "600",
        "--no-stop-at-clip-end",
    )  # fmt: skip
    assert wait_for(lambda: _serving(port) or run.poll() is not None, 120), "no viewer"
    assert run.poll() is None, run.stdout.read()[-3000:]
    browser.get(f"http://localhost:{port}")
    assert wait_for(lambda: "policy hgpt-gpt-S" in _text(browser), 240, 1.0), _text(browser)
    _set_mode_track(rclpy_init)  # teleop starts damped: the operator asks for TRACK
    ok = wait_for(lambda: "TRACK" in _text(browser), 240, 1.0)
    assert ok, f"the panel never showed tracking: {_text(browser)!r}"
    a = screenshot(browser)
    time.sleep(1.5)
    b = screenshot(browser)
    _save(tmp_path, run_a=a, run_b=b)
    assert _changed(a, b) > 0.001, "the picture did not change while the robot walks"
    text = _text(browser)
    err = float(text.split("joint error")[1].split("rad")[0])
    assert 0.0 <= err < 0.5, text
    run.terminate()
    out = run.communicate(timeout=60)[0]
    assert "viewer: http://localhost" in out and "tracking monitor" in out, out[-3000:]
