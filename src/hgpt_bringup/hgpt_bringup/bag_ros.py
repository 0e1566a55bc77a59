"""The ROS side of ``hgpt bag``: the recorder node (also a scenario node, ``record:=true``) and the player.

Both move raw CDR bytes only: the recorder subscribes with ``raw=True`` and writes what DDS delivered, the
player publishes the bag's bytes as they are. Types come from the graph (or ``TOPIC=pkg/msg/Type``), the
message classes from the generated ``<pkg>.msg`` modules (:func:`get_message`, as ``rosidl_runtime_py``'s,
which is not among the PyPI ROS wheels).
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import rclpy
from rcl_interfaces.msg import ParameterDescriptor, ParameterType
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rclpy.time import Time

from hgpt_bringup.bag_commands import Play, Record
from hgpt_bringup.bag_format import LICENCE_KEY, BagError, header_stamp_ns
from hgpt_bringup.bag_reader import BagReader
from hgpt_bringup.bag_writer import BagWriter
from hgpt_bringup.scenarios import RECORD_TOPICS
from hgpt_core.stamps import stamp_to_ns
from hgpt_ros.node_main import run_node

FLUSH_PERIOD_S = 1.0  # buffered messages reach the disk at least this often (a hard kill loses less)


def get_message(msgtype: str) -> type:
    """The rclpy message class of ``pkg/msg/Name`` (also accepts ``pkg/Name``).

    Raises:
        BagError: no such generated message (package not built / not sourced).
    """
    parts = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{parts[0]}.msg"), parts[-1])
    except (ImportError, AttributeError, IndexError) as exc:
        raise BagError(f"message type {msgtype}: no generated Python class ({exc})") from exc


def default_bag_name() -> str:
    """``rosbag2_YYYY_MM_DD-HH_MM_SS`` in the current folder, as ``ros2 bag record`` names bags."""
    return datetime.now().strftime("rosbag2_%Y_%m_%d-%H_%M_%S")


class BagRecorderNode(Node):
    """Subscribes (raw) to ``topics`` as their publishers appear and writes every message to ``out``.

    Parameters (read-only): ``out`` (new bag folder; default a time-stamped name), ``topics``,
    ``types`` (``TOPIC=pkg/msg/Type`` for topics to subscribe before a publisher exists), ``licence``.
    The bag is closed (mcap summary + metadata.yaml) by :meth:`destroy_node`.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__("bag_recorder", **kwargs)
        ro = ParameterDescriptor(read_only=True)
        arr = ParameterDescriptor(read_only=True, type=ParameterType.PARAMETER_STRING_ARRAY)
        out = self.declare_parameter("out", "", ro).value or default_bag_name()
        self.wanted = list(self.declare_parameter("topics", list(RECORD_TOPICS), arr).value)
        typed = list(self.declare_parameter("types", [""], arr).value)
        licence = self.declare_parameter("licence", "", ro).value
        self.types: dict[str, str] = {}
        for item in filter(None, typed):
            topic, sep, typ = item.partition("=")
            if not sep or typ.count("/") != 2:
                raise BagError(f"types: {item!r} is not TOPIC=pkg/msg/Type")
            self.types[topic] = typ
            if topic not in self.wanted:
                self.wanted.append(topic)
        self.lock = threading.Lock()
        self.writer = BagWriter(out, {LICENCE_KEY: licence} if licence else None).open()
        self.counts: dict[str, int] = {}
        self.create_timer(0.5, self.discover)
        self.create_timer(FLUSH_PERIOD_S, self.flush)
        self.discover()
        self.get_logger().info(f"recording {', '.join(self.wanted)} into {self.writer.path}")

    def discover(self) -> None:
        """Subscribe to every wanted topic whose type is now known (given, or seen on the graph)."""
        graph = dict(self.get_topic_names_and_types())
        for topic in self.wanted:
            if topic in self.counts:
                continue
            typ = self.types.get(topic) or (graph.get(topic) or [None])[0]
            if typ is None:
                continue
            best_effort = any(
                i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                for i in self.get_publishers_info_by_topic(topic)
            )
            qos = qos_profile_sensor_data if best_effort else QoSProfile(depth=100)
            with self.lock:
                self.writer.add_topic(topic, typ)
                self.counts[topic] = 0
            self.create_subscription(
                get_message(typ), topic, lambda data, t=topic: self.on_message(t, data), qos, raw=True
            )
            self.get_logger().info(f"{topic} [{typ}] ({'best effort' if best_effort else 'reliable'})")

    def on_message(self, topic: str, data: bytes) -> None:
        stamp = self.get_clock().now().nanoseconds  # receive time, as ros2 bag record
        with self.lock:
            if self.writer is not None:
                self.writer.write(topic, stamp, data)
                self.counts[topic] += 1

    def flush(self) -> None:
        with self.lock:
            if self.writer is not None:
                self.writer.flush()

    def close(self) -> None:
        """Finish the bag (idempotent)."""
        if not hasattr(self, "lock"):
            return  # __init__ refused its parameters before opening the bag (rclpy's shutdown still calls us)
        with self.lock:
            writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()
            missing = [t for t in self.wanted if t not in self.counts]
            counts = ", ".join(f"{t}: {n}" for t, n in self.counts.items())
            print(f"bag_recorder: wrote {writer.path} ({counts or 'no topic'})", file=sys.stderr, flush=True)
            if missing:
                print(f"bag_recorder: never saw a publisher on {', '.join(missing)}", file=sys.stderr)

    def destroy_node(self) -> None:
        self.close()
        super().destroy_node()


def record(cmd: Record) -> int:
    """``hgpt bag record``: until Ctrl-C / SIGTERM (rclpy shuts the context down) or ``cmd.duration``."""
    if Path(cmd.out).exists():
        raise BagError(f"{cmd.out}: exists already; not overwriting (choose a new output folder)")
    if not cmd.duration >= 0:
        raise BagError(f"duration {cmd.duration} must be >= 0 s (0 = until Ctrl-C / SIGTERM)")
    params = [Parameter("out", value=str(cmd.out)), Parameter("licence", value=cmd.licence)]
    if cmd.topics:
        params.append(Parameter("topics", value=list(cmd.topics)))
    if cmd.types:
        params.append(Parameter("types", value=list(cmd.types)))

    def spin(node: Node) -> None:
        ex = SingleThreadedExecutor()
        ex.add_node(node)
        end = time.monotonic() + cmd.duration if cmd.duration > 0 else float("inf")
        try:
            while rclpy.ok() and time.monotonic() < end:
                ex.spin_once(timeout_sec=0.1)
        finally:
            node.close()  # metadata.yaml before anything else can go wrong
            ex.shutdown()

    run_node(lambda: BagRecorderNode(parameter_overrides=params), spin=spin)
    return 0


COMMAND_TOPICS = ("/hgpt/joint_command", "/hgpt/policy", "/hgpt/g1/command", "/lowcmd", "/hgpt/set_mode")
COMMAND_TYPES = ("hgpt_msgs/msg/JointCommand", "hgpt_msgs/msg/PolicyInfo", "unitree_hg/msg/LowCmd")


def is_command_topic(name: str, msgtype: str) -> bool:
    """Topics that move a robot (or claim to be a policy): ``hgpt bag play`` skips them unless named."""
    return name in COMMAND_TOPICS or msgtype in COMMAND_TYPES


def _qos(fast: bool) -> QoSProfile:
    """Reliable; when fast, keep all (the writer waits for readers instead of dropping samples)."""
    if fast:
        return QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE)
    return QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)


def play(cmd: Play) -> int:
    """``hgpt bag play``: publish the bag's raw messages in time order, timed by ``rate`` or as fast."""
    if not cmd.fast and not cmd.rate > 0:
        raise BagError(f"rate {cmd.rate} must be > 0 (or use --fast)")
    reader = BagReader(cmd.bag, strict=cmd.strict)
    for p in reader.info.problems:
        print(f"hgpt bag play: warning: {p}; playing the readable part", file=sys.stderr)
    topics = [t for t in reader.info.topics.values() if not cmd.topics or t.name in cmd.topics]
    commands = [t for t in topics if is_command_topic(t.name, t.msgtype)]
    if commands and not cmd.topics:
        topics = [t for t in topics if t not in commands]
        print(
            f"hgpt bag play: not playing command topic(s) {', '.join(t.name for t in commands)}: commands "
            "come only from a live policy (name them in --topics to publish them anyway)",
            file=sys.stderr,
        )
    elif commands:
        print(
            f"hgpt bag play: WARNING: publishing recorded commands on {', '.join(t.name for t in commands)} "
            "as asked; bridges ignore commands not from the live policy session they handshook with",
            file=sys.stderr,
        )
    if not topics and commands:
        raise BagError(f"{cmd.bag}: nothing to play: the bag holds only command topics (see above)")
    if not topics:
        raise BagError(f"{cmd.bag}: none of {list(cmd.topics)} in the bag ({', '.join(reader.info.topics)})")
    if cmd.follow_clock:
        return play_following_clock(cmd, reader, topics)
    rclpy.init()
    node = rclpy.create_node("bag_player")
    n, t_start = 0, time.monotonic()
    try:
        pubs = {t.name: node.create_publisher(get_message(t.msgtype), t.name, _qos(cmd.fast)) for t in topics}
        clock_pub = None
        if cmd.clock:
            from rosgraph_msgs.msg import Clock

            clock_pub = node.create_publisher(Clock, "/clock", 10)
        end = time.monotonic() + cmd.wait_subscribers
        while time.monotonic() < end and any(p.get_subscription_count() == 0 for p in pubs.values()):
            time.sleep(0.05)
        t0_bag, t0 = None, time.monotonic()
        for m in reader.messages(pubs):
            if not rclpy.ok():
                break
            if t0_bag is None:
                t0_bag = m.timestamp
            if not cmd.fast:
                delay = t0 + (m.timestamp - t0_bag) * 1e-9 / cmd.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if clock_pub is not None:
                from rosgraph_msgs.msg import Clock

                clock_pub.publish(Clock(clock=Time(nanoseconds=m.timestamp).to_msg()))
            pubs[m.topic].publish(m.data)
            n += 1
        for p in pubs.values():
            p.wait_for_all_acked(Duration(seconds=5.0))
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        reader.close()
        node.destroy_node()
        rclpy.try_shutdown()
    dt = time.monotonic() - t_start
    print(f"hgpt bag play: {n} messages on {len(topics)} topic(s) in {dt:.2f} s", file=sys.stderr)
    return 0


def play_following_clock(cmd: Play, reader: BagReader, topics: list) -> int:
    """Publish each message once /clock reaches its header stamp; on a repeated /clock (a lock-step
    simulator re-sending its state), re-publish the messages stamped with that time."""
    from rosgraph_msgs.msg import Clock

    queue = sorted(
        ((header_stamp_ns(m.data), k, m) for k, m in enumerate(reader.messages([t.name for t in topics]))),
        key=lambda x: x[:2],
    )
    reader.close()
    rclpy.init()
    node = rclpy.create_node("bag_player")
    pubs = {t.name: node.create_publisher(get_message(t.msgtype), t.name, _qos(False)) for t in topics}
    state = {"next": 0, "clock": -1, "last_event": time.monotonic(), "n": 0}

    def on_clock(msg: Clock) -> None:
        t = stamp_to_ns(msg.clock)
        i = state["next"]
        if t == state["clock"]:  # repeated tick: re-send what belongs to it
            j = i
            while j > 0 and queue[j - 1][0] == t:
                j -= 1
            for _, _, m in queue[j:i]:
                pubs[m.topic].publish(m.data)
        while i < len(queue) and queue[i][0] <= t:
            pubs[queue[i][2].topic].publish(queue[i][2].data)
            i += 1
        state["n"] += i - state["next"]
        state["next"], state["clock"], state["last_event"] = i, t, time.monotonic()

    node.create_subscription(Clock, "/clock", on_clock, 10)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    t_start = time.monotonic()
    try:
        while rclpy.ok():
            ex.spin_once(timeout_sec=0.1)
            done = state["next"] >= len(queue)
            # the graph has moved past the last message (its tick was answered), or /clock stopped
            if done and (not queue or state["clock"] > queue[-1][0]):
                break
            if done and time.monotonic() - state["last_event"] > cmd.idle_exit:
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    dt = time.monotonic() - t_start
    print(
        f"hgpt bag play: {state['n']} of {len(queue)} messages following /clock in {dt:.2f} s",
        file=sys.stderr,
    )
    if queue and state["next"] >= len(queue):
        print(
            f"hgpt bag play: the bag ended at t={queue[-1][0] * 1e-9:.3f} s: nothing more is published; a "
            "lock-step graph goes on without it (policy_node: HOLD, then DAMP reference_lost; hgpt run "
            "--source bag stops once the robot state is 1 s past the last reference)",
            file=sys.stderr,
        )
    return 0


def main(args: list[str] | None = None) -> None:
    """``ros2 run hgpt_bringup bag_recorder --ros-args -p out:=... -p topics:=[...]``."""
    run_node(BagRecorderNode, args=args)


if __name__ == "__main__":
    main()
