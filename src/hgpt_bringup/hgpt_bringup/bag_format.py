"""rosbag2 basics shared by the bag writer, reader and tools: errors, message/info records, types.

Bags are standard rosbag2 directories: ``metadata.yaml`` + ``<name>_0.mcap`` (storage ``mcap``, CDR
messages), written with the ``rosbags`` library, so ``ros2 bag info/play`` read them and ``hgpt bag play``
reads bags of ``ros2 bag record`` (mcap or sqlite3). Timestamps are integer nanoseconds. The modules:
:mod:`~hgpt_bringup.bag_writer` (write), :mod:`~hgpt_bringup.bag_reader` (read, with
:mod:`~hgpt_bringup.bag_recover` for damaged bags), :mod:`~hgpt_bringup.bag_clips` (bag -> motion clips),
:mod:`~hgpt_bringup.bag_ros` (recorder / player nodes) and :mod:`~hgpt_bringup.bag_cli` (``hgpt bag``).
None but bag_ros needs rclpy.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from hgpt_core.errors import HgptError

LICENCE_KEY = "hgpt.licence"  # metadata.yaml custom_data key: licence of the recorded motion


class BagError(HgptError, ValueError):
    """A bag is missing, unreadable, damaged, or would overwrite something; names the file and problem."""


class BagMessage(NamedTuple):
    """One serialized message: topic, ROS type (``pkg/msg/Name``), receive time [ns], CDR bytes."""

    topic: str
    msgtype: str
    timestamp: int
    data: bytes


@dataclass
class TopicInfo:
    name: str
    msgtype: str
    count: int = 0


@dataclass
class BagInfo:
    """What a bag holds; ``complete`` is False when anything had to be recovered (see ``problems``)."""

    path: Path
    storage: str
    files: list[Path]
    topics: dict[str, TopicInfo]
    start_ns: int
    end_ns: int
    complete: bool
    problems: list[str] = field(default_factory=list)
    custom_data: dict[str, str] = field(default_factory=dict)

    @property
    def message_count(self) -> int:
        return sum(t.count for t in self.topics.values())

    @property
    def duration_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) * 1e-9 if self.message_count else 0.0

    def table(self) -> str:
        """Human-readable summary, like ``ros2 bag info``."""
        lines = [
            f"bag:       {self.path}",
            f"storage:   {self.storage} ({', '.join(f.name for f in self.files) or 'no files'})",
            f"duration:  {self.duration_s:.3f} s",
            f"messages:  {self.message_count}",
            f"complete:  {'yes' if self.complete else 'NO (see the problems below)'}",
        ]
        lines += [f"problem:   {p}" for p in self.problems]
        lines += [f"{k}: {v}" for k, v in sorted(self.custom_data.items())]
        w = max((len(t) for t in self.topics), default=5)
        lines.append(f"{'topic':<{w}}  {'count':>7}  type")
        lines += [
            f"{t.name:<{w}}  {t.count:>7}  {t.msgtype}"
            for t in sorted(self.topics.values(), key=lambda t: t.name)
        ]
        return "\n".join(lines)


def _msg_dirs(package: str) -> list[Path]:
    """Where ``<package>/msg/*.msg`` may be: the ament index (install/share), else this source tree."""
    dirs = []
    try:
        from ament_index_python.packages import get_package_share_directory

        dirs.append(Path(get_package_share_directory(package)) / "msg")
    except (ImportError, LookupError, ValueError):
        pass
    dirs.append(Path(__file__).resolve().parents[2] / package / "msg")  # src/<package>/msg
    return [d for d in dirs if d.is_dir()]


@cache
def typestore():
    """A rosbags typestore: the ROS 2 Kilted standard types + hgpt_msgs (from the installed .msg files)."""
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    ensure_types(
        store, [f"hgpt_msgs/msg/{p.stem}" for d in _msg_dirs("hgpt_msgs")[:1] for p in d.glob("*.msg")]
    )
    return store


def ensure_types(store, msgtypes: Iterable[str]) -> None:
    """Register ``pkg/msg/Name`` types the store lacks from ``share/pkg/msg/Name.msg``.

    Raises:
        BagError: a type whose definition cannot be found.
    """
    from rosbags.typesys import get_types_from_msg

    missing = {t for t in msgtypes if t not in store.types}
    found: dict[str, Any] = {}
    for t in sorted(missing):
        pkg, _, name = t.split("/")
        files = [d / f"{name}.msg" for d in _msg_dirs(pkg) if (d / f"{name}.msg").is_file()]
        if not files:
            raise BagError(
                f"message type {t}: definition not found (no {pkg}/msg/{name}.msg in the ament index)"
            )
        found.update(get_types_from_msg(files[0].read_text(), t))
    if found:
        store.register(found)


def deserialize(msg: BagMessage):
    """The message as a rosbags object (same field names as the rclpy class); no rclpy needed."""
    store = typestore()
    ensure_types(store, [msg.msgtype])
    return store.deserialize_cdr(msg.data, msg.msgtype)


def header_stamp_ns(data: bytes) -> int:
    """The header stamp [ns] of a CDR-serialised message that starts with std_msgs/Header."""
    if len(data) < 12 or data[1] not in (0, 1):
        raise BagError(f"not a CDR message with a header ({len(data)} bytes)")
    sec, nanosec = struct.unpack_from("<iI" if data[1] == 1 else ">iI", data, 4)
    return sec * 1_000_000_000 + nanosec
