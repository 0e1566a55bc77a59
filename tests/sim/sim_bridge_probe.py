"""The probe of the slow sim_bridge_node fuzz tests (tests/sim/test_sim_bridge_fuzz_ros.py, real-time, and
tests/sim/test_sim_bridge_lockstep_fuzz_ros.py, lock-step): a real sim_bridge_node process on the weld
gantry, and a node in the test's process subscribed to its states and status, publishing JointCommands and
PolicyInfo announcements. A test module, not a package module: tests/sim is on sys.path (pytest's default
prepend import mode, no __init__.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType, TracebackType

from processes import start_logged, stop_process


class SimBridgeProbe:
    """``sim_bridge_node`` (``mode``, gantry) started with its output in ``log``, and the probe node ``name``.

    Use as a context manager: on exit the executor is shut down, the probe node destroyed and the bridge
    stopped (10 s to exit after SIGTERM), whatever happened; :meth:`check_log` then reads its whole log.
    Attributes: ``process`` (the bridge's Popen), ``node`` and ``ex`` (the probe node, its executor),
    ``cmd_pub`` (/hgpt/joint_command, reliable, depth 10), ``info_pub`` (/hgpt/policy, transient local),
    ``status`` and ``kinds``.

    Args:
        rclpy: The initialised rclpy module (the ``rclpy_init`` fixture).
        env: The ROS environment of the bridge process (the ``ros_env`` fixture).
        log: The bridge's log file (stdout and stderr).
        mode: The bridge's ``mode`` parameter: "realtime" or "lockstep".
        name: The probe node's name.
        on_state: Called with every RobotState of /hgpt/robot_state (sensor-data QoS).
        settle_s: What :meth:`send` spins after each publish: for ``settle_s`` [s] of wall time (2 ms spins),
            or, when 0, once for at most 1 ms.
    """

    def __init__(
        self,
        rclpy: ModuleType,
        env: Mapping[str, str],
        log: Path,
        mode: str,
        name: str,
        on_state: Callable[[object], None],
        settle_s: float = 0.0,
    ) -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import (
            DurabilityPolicy,
            HistoryPolicy,
            QoSProfile,
            ReliabilityPolicy,
            qos_profile_sensor_data,
        )

        from hgpt_msgs.msg import JointCommand, PolicyInfo, RobotState, TrackingStatus

        self.log, self.settle_s = log, settle_s
        self.kinds: dict[str, int] = {}
        """How many messages of each kind :meth:`send` sent."""
        self.status: list = []
        """Every TrackingStatus of /hgpt/sim/status received, oldest first (the test may clear it)."""
        self.process = start_logged(
            ["-m", "hgpt_sim.sim_bridge_node", "--ros-args", "-p", f"mode:={mode}", "-p", "sim.gantry:=true"],
            env,
            log,
        )
        try:
            self.node = rclpy.create_node(name)
            self.ex = SingleThreadedExecutor()
            self.ex.add_node(self.node)
            self.node.create_subscription(RobotState, "/hgpt/robot_state", on_state, qos_profile_sensor_data)
            self.node.create_subscription(TrackingStatus, "/hgpt/sim/status", self.status.append, 100)
            reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
            self.cmd_pub = self.node.create_publisher(JointCommand, "/hgpt/joint_command", reliable)
            announce = QoSProfile(
                depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE,
                durability=DurabilityPolicy.TRANSIENT_LOCAL,
            )  # fmt: skip
            self.info_pub = self.node.create_publisher(PolicyInfo, "/hgpt/policy", announce)
        except BaseException:
            stop_process(self.process, timeout=10)
            raise

    def __enter__(self) -> SimBridgeProbe:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Shut the executor down, destroy the probe node, stop the bridge (SIGKILL 10 s after SIGTERM)."""
        try:
            self.ex.shutdown()
            self.node.destroy_node()
        finally:
            stop_process(self.process, timeout=10)

    def logs(self) -> str:
        """The bridge's exit code (None: running) and the last 4000 characters of its log."""
        return f"---- sim_bridge_node (rc={self.process.poll()}) ----\n{self.log.read_text()[-4000:]}"

    def spin_until(self, cond: Callable[[], object], timeout: float = 60.0) -> bool:
        """Spin (10 ms at a time) until ``cond()`` holds or ``timeout`` [s] of wall time passed; ``cond()``
        then."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            self.ex.spin_once(timeout_sec=0.01)
        return bool(cond())

    def send(self, pub, msg, kind: str = "") -> None:
        """Publish ``msg`` (a message or CDR bytes) on ``pub``, counted under ``kind`` (if any), spin as
        ``settle_s`` says; the bridge must still run."""
        if kind:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
        pub.publish(msg)
        if self.settle_s > 0:
            end = time.monotonic() + self.settle_s
            while time.monotonic() < end:
                self.ex.spin_once(timeout_sec=0.002)
        else:
            self.ex.spin_once(timeout_sec=0.001)
        assert self.process.poll() is None, f"the bridge died after {self.kinds}\n{self.logs()}"

    def check_log(self, lines: tuple[str, ...]) -> None:
        """The bridge's whole log: no Python traceback, no MuJoCo "huge value in CTRL"; each of ``lines``."""
        text = self.log.read_text()
        assert "Traceback" not in text and "huge value in CTRL" not in text, text[-4000:]
        for line in lines:
            assert line in text, (line, text[-4000:])
