"""mocap_source: a human motion stream -> /hgpt/human_pose (HumanPose, sensor-data QoS).

``source`` is either ``udp://HOST:PORT`` (the datagram format of :mod:`hgpt_retarget.mocap_udp`, read by a
thread, published as each valid datagram arrives) or a human motion file (.bvh .npy .npz .pt .pkl, played in
real time with ``loop`` and ``speed``). Bad datagrams are dropped, counted per reason and warned about at
most once per ``warn_period_s`` per reason; a stream silent for more than ``stale_ms`` is reported as
stale (and again when it resumes); counters are logged every ``stats_period_s``.

Parameters (read-only): source, skeleton ("" = any / detect), loop, speed, rate_hz (file: 0 = the file's
rate), stale_ms, stats_period_s, warn_period_s, stamp ("sender": capture time mapped to this clock,
"receive": arrival time), frame_id.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from urllib.parse import urlsplit

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from hgpt_msgs.msg import HumanPose
from hgpt_retarget.mocap_udp import DEFAULT_PORT, MAX_DATAGRAM_BYTES, ClockMapper, MocapFrame, MocapParser
from hgpt_retarget.msg_conv import human_pose_to_msg
from hgpt_ros.node_main import run_node


def parse_udp_url(url: str) -> tuple[str, int]:
    """``udp://HOST:PORT`` -> (host, port); ValueError with the expected form otherwise."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "udp" or port is None or not parts.hostname:
        raise ValueError(f"source {url!r}: expected udp://HOST:PORT (e.g. udp://0.0.0.0:{DEFAULT_PORT})")
    return parts.hostname, port


class MocapSourceNode(Node):
    """UDP mocap receiver or human-file player publishing HumanPose; see the module docstring."""

    def __init__(self, **kwargs) -> None:
        super().__init__("mocap_source", **kwargs)
        ro = ParameterDescriptor(read_only=True)
        self.source = self.declare_parameter("source", f"udp://0.0.0.0:{DEFAULT_PORT}", ro).value
        self.skeleton = self.declare_parameter("skeleton", "", ro).value
        self.loop = self.declare_parameter("loop", True, ro).value
        self.speed = self.declare_parameter("speed", 1.0, ro).value
        rate_hz = self.declare_parameter("rate_hz", 0.0, ro).value
        self.stale_s = self.declare_parameter("stale_ms", 500, ro).value / 1000.0
        self.stats_period_s = self.declare_parameter("stats_period_s", 10.0, ro).value
        self.warn_period_s = self.declare_parameter("warn_period_s", 2.0, ro).value
        self.stamp_mode = self.declare_parameter("stamp", "sender", ro).value
        self.frame_id = self.declare_parameter("frame_id", "world", ro).value
        if self.stamp_mode not in ("sender", "receive"):
            raise ValueError(f"stamp:={self.stamp_mode!r}; valid: sender, receive")
        self.pub = self.create_publisher(HumanPose, "/hgpt/human_pose", qos_profile_sensor_data)
        self.published = 0
        self.superseded = 0  # accepted, but a newer one arrived in the same backlog
        self.stale = False
        self.last_rx: float | None = None  # monotonic [s]
        self._t_start = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sock: socket.socket | None = None
        if self.source.startswith("udp://"):
            self._start_udp(*parse_udp_url(self.source))
        else:
            self._start_file(self.source, rate_hz)

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # ---- UDP -------------------------------------------------------------------------------------------
    def _start_udp(self, host: str, port: int) -> None:
        self.parser = MocapParser(self.skeleton or None)
        self.clock = ClockMapper()
        self._lock = threading.Lock()
        self._warned: dict[str, float] = {}
        self._stats_at, self._stats_accepted = time.monotonic(), 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)  # capped by net.core.rmem_max
        self.sock.bind((host, port))
        self.sock.setblocking(False)  # the thread waits in select(), then drains the socket
        self.port = self.sock.getsockname()[1]
        self.get_logger().info(f"listening for hgpt mocap datagrams on udp://{host}:{self.port}")
        self._thread = threading.Thread(target=self._rx_loop, name="mocap_udp_rx", daemon=True)
        self._thread.start()
        self.create_timer(0.05, self.on_watchdog)

    def _rx_loop(self) -> None:
        while not self._stop.is_set():
            batch: list[tuple[bytes, tuple]] = []
            try:  # wait up to 0.1 s, then drain: after a starved spell, validate all and publish the newest
                if not select.select([self.sock], [], [], 0.1)[0]:
                    continue
                while len(batch) < 1000:
                    batch.append(self.sock.recvfrom(MAX_DATAGRAM_BYTES + 1))
            except BlockingIOError:
                pass
            except OSError as exc:
                if self._stop.is_set():
                    return
                self.get_logger().warning(f"udp receive failed: {exc}", throttle_duration_sec=5.0)
                time.sleep(0.01)
                continue
            if not batch:
                continue
            try:
                self._on_datagrams(batch)
            except Exception as exc:  # noqa: BLE001 -- the receiver must outlive any one datagram
                self.get_logger().error(f"datagrams dropped: {type(exc).__name__}: {exc}")

    def _on_datagrams(self, batch: list[tuple[bytes, tuple]]) -> None:
        """Validate every datagram (counters, rate-limited warnings); publish the newest accepted one."""
        now, newest = time.monotonic(), None
        for data, addr in batch:
            with self._lock:
                frame = self.parser.feed(data, addr, now)
                err = self.parser.last_error if frame is None else None
                if frame is not None:
                    self.last_rx = now
            if frame is not None:
                self.superseded += newest is not None
                newest = frame
                continue
            last = self._warned.get(err.reason)
            if last is None or now - last >= self.warn_period_s:
                self._warned[err.reason] = now
                count = self.parser.stats.rejected[err.reason]
                self.get_logger().warning(
                    f"mocap datagram from {addr[0]}:{addr[1]} rejected ({count} so far): {err}"
                )
        if newest is not None:
            self._publish(newest)

    def _publish(self, frame: MocapFrame) -> None:
        t_now = self.now()
        if frame.restart:
            self.clock.reset()
            self.get_logger().info(f"mocap sender {frame.sender} restarted at frame {frame.frame}")
        stamp = self.clock(frame.t, t_now) if self.stamp_mode == "sender" else t_now
        self.pub.publish(
            human_pose_to_msg(
                frame.names, frame.positions, stamp, frame.skeleton, self.frame_id, frame.quats, frame.conf
            )
        )
        self.published += 1

    def on_watchdog(self) -> None:
        """Stale / resumed reports and the periodic counters line."""
        now = time.monotonic()
        with self._lock:
            last_rx, stats = self.last_rx, self.parser.stats
        ref = self._t_start if last_rx is None else last_rx
        silent = now - ref
        if silent > self.stale_s and not self.stale:
            self.stale = True
            what = "no datagram yet" if last_rx is None else f"no valid datagram for {1000 * silent:.0f} ms"
            self.get_logger().warning(
                f"mocap stream stale: {what} on udp port {self.port}; {stats.summary()}"
            )
        elif silent <= self.stale_s and self.stale:
            self.stale = False
            self.get_logger().info(f"mocap stream live on udp port {self.port}; {stats.summary()}")
        if self.stats_period_s > 0 and now - self._stats_at >= self.stats_period_s:
            rate = (stats.accepted - self._stats_accepted) / (now - self._stats_at)
            self._stats_at, self._stats_accepted = now, stats.accepted
            self.get_logger().info(
                f"mocap: {stats.summary()}; {rate:.1f} Hz{' (stale)' if self.stale else ''}"
            )

    # ---- file ------------------------------------------------------------------------------------------
    def _start_file(self, path: str, rate_hz: float) -> None:
        from hgpt_retarget.human import load_human

        motion, mapping = load_human(path, self.skeleton or None)
        if rate_hz > 0:
            motion = motion.resample(rate_hz)
        self.motion, self.skeleton = motion, mapping.name
        self._file_t0: float | None = None
        self._ended = False
        self.get_logger().info(
            f"playing {path} ({mapping.name}, {motion.num_frames} frames at {motion.fps:.4g} Hz, "
            f"loop={self.loop}, speed={self.speed})"
        )
        self.create_timer(1.0 / (motion.fps * self.speed), self.on_file_tick)

    def on_file_tick(self) -> None:
        """Publish the frame of the current playback time (real time: timer jitter does not accumulate)."""
        if self._ended:
            return
        now = self.now()
        if self._file_t0 is None:
            self._file_t0 = now
        m = self.motion
        i = int((now - self._file_t0) * self.speed * m.fps + 1e-6)
        if i >= m.num_frames and not self.loop:
            self._ended = True
            self.get_logger().info(f"end of {self.source} after {self.published} poses (loop=false)")
            return
        self.pub.publish(
            human_pose_to_msg(m.joint_names, m.positions[i % m.num_frames], now, self.skeleton, self.frame_id)
        )
        self.published += 1

    def destroy_node(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self.sock is not None:
            self.sock.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(MocapSourceNode, args=args)


if __name__ == "__main__":
    main()
