"""rosbag2 bags without ROS: writer, reader with recovery, bag -> motion clips, and the ``hgpt bag`` CLI.

Bags are standard rosbag2 directories: ``metadata.yaml`` + ``<name>_0.mcap`` (storage ``mcap``, CDR
messages), written with the ``rosbags`` library, so ``ros2 bag info/play`` read them and ``hgpt bag play``
reads bags of ``ros2 bag record`` (mcap or sqlite3). Timestamps are integer nanoseconds.

Recovery: a bag whose ``metadata.yaml`` is missing or garbled, or whose mcap has no footer/summary (recorder
killed, file cut), is read record by record from the start of each storage file; every complete message
before the damage is recovered (also from a cut, uncompressed or zstd/lz4 chunk) and the problem is
reported naming the file and the byte offset. Nothing here ever overwrites an existing file or folder.

The ROS side (recorder / player nodes) lives in :mod:`hgpt_bringup.bag_ros`.
"""

from __future__ import annotations

import json
import mmap
import sqlite3
import struct
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import tyro
import yaml

from hgpt_core.errors import HgptError
from hgpt_core.stamps import stamp_to_sec

MCAP_MAGIC = b"\x89MCAP0\r\n"
REFERENCE_TOPIC = "/hgpt/reference"
ROBOT_STATE_TOPIC = "/hgpt/robot_state"
CLIP_KINDS = {"reference": REFERENCE_TOPIC, "robot_state": ROBOT_STATE_TOPIC}
LICENCE_KEY = "hgpt.licence"  # metadata.yaml custom_data key: licence of the recorded motion
FLUSH_BYTES = 1 << 20  # the writer closes an mcap chunk at this size (rosbags' value)


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


# ---- types -------------------------------------------------------------------------------------------------


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


# ---- writer ------------------------------------------------------------------------------------------------


def _mcap_writer_cls():
    from rosbags.rosbag2.storage_mcap import McapWriter

    class Mcap0Writer(McapWriter):
        """rosbags' mcap storage, named ``<bag>_0.mcap`` as ``ros2 bag record`` names it; can flush chunks."""

        def __init__(self, path: Path, compression) -> None:
            super().__init__(path, compression)
            named = path / f"{path.name}_0.mcap"
            self.path.rename(named)  # the open handle keeps writing to the renamed file
            self.path = named

        def flush(self) -> None:
            """Write the pending chunk to disk: a killed recorder loses at most what came after."""
            if self.chunk.bio.tell():
                self.close_chunk()
            self.bio.flush()

    return Mcap0Writer


class BagWriter:
    """Writes a rosbag2 mcap bag of pre-serialized CDR messages. Use as a context manager.

    ``close()`` (also on an exception or Ctrl-C inside the ``with``) writes the mcap summary and
    ``metadata.yaml``; ``flush()`` puts buffered messages on disk so a hard kill keeps them recoverable.
    """

    def __init__(self, path: str | Path, custom_data: dict[str, str] | None = None) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path}: exists already; not overwriting (choose a new output folder)")

        class _Writer(Writer):
            STORAGE_PLUGINS = {StoragePlugin.MCAP: _mcap_writer_cls()}  # noqa: RUF012

        self._w = _Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        for k, v in (custom_data or {}).items():
            self._w.set_custom_data(k, str(v))
        self._conns: dict[str, Any] = {}
        self._open = False

    def open(self) -> BagWriter:
        from rosbags.rosbag2 import WriterError

        try:
            self._w.open()
        except WriterError as exc:
            raise BagError(f"{self.path}: {exc}") from exc
        self._open = True
        return self

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare ``topic`` with ROS type ``pkg/msg/Name`` (registered from its .msg file if needed)."""
        store = typestore()
        ensure_types(store, [msgtype])
        self._conns[topic] = self._w.add_connection(topic, msgtype, typestore=store)

    @property
    def topics(self) -> dict[str, str]:
        return {t: c.msgtype for t, c in self._conns.items()}

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        self._w.write(self._conns[topic], int(timestamp_ns), data)

    def flush(self) -> None:
        if self._open:
            self._w.storage.flush()

    def close(self) -> None:
        if self._open:
            self._open = False
            self._w.close()

    def __enter__(self) -> BagWriter:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()  # also on error: a bag with what was recorded beats a bag without metadata


# ---- mcap / sqlite3 recovery -------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What a record-by-record read of one storage file gave."""

    topics: dict[int, tuple[str, str]] = field(default_factory=dict)  # channel id -> (topic, msgtype)
    messages: list[tuple[int, int, bytes]] = field(default_factory=list)  # (time ns, channel id, data)
    problem: str = ""


def _decompress_prefix(data: bytes, compression: str) -> bytes:
    """As much of a cut compressed chunk as decodes (b'' when nothing does)."""
    try:
        if compression == "zstd":
            try:
                from compression import zstd  # type: ignore[import-not-found]
            except ImportError:
                from backports import zstd
            return zstd.ZstdDecompressor().decompress(data)
        if compression == "lz4":
            import lz4.frame

            return lz4.frame.LZ4FrameDecompressor().decompress(data)
    except Exception:  # noqa: BLE001 (any decoder failure means: nothing usable)
        return b""
    return data


def _scan_records(
    buf, pos: int, end: int, scan: _Scan, schemas: dict[int, str], where: str, top: bool
) -> str:
    """Parse mcap records in ``buf[pos:end]`` into ``scan``; returns a problem ('' when all complete).

    ``top``: the file itself (offsets are file bytes; "__end__" returned at the data end), else a chunk.
    """
    u16, u32, u64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")

    def string(p: int) -> tuple[str, int]:
        (n,) = u32.unpack_from(buf, p)
        return bytes(buf[p + 4 : p + 4 + n]).decode(), p + 4 + n

    while pos < end:
        if pos + 9 > end:
            return f"{where}: cut inside a record header at byte {pos}"
        op = buf[pos]
        (length,) = u64.unpack_from(buf, pos + 1)
        body, nxt = pos + 9, pos + 9 + length
        if op == 0 or op > 0x0F:
            return f"{where}: garbled record (opcode 0x{op:02x}) at byte {pos}"
        if nxt > end:
            if op == 0x06 and top:  # a cut chunk: its complete messages are still readable
                _scan_cut_chunk(buf, body, end, scan, schemas, where)
            return f"{where}: cut at byte {end} inside a record (opcode 0x{op:02x}) starting at byte {pos}"
        try:
            if op == 0x03:  # Schema
                (sid,) = u16.unpack_from(buf, body)
                schemas[sid], _ = string(body + 2)
            elif op == 0x04:  # Channel
                cid, sid = struct.unpack_from("<HH", buf, body)
                topic, _ = string(body + 4)
                scan.topics[cid] = (topic, schemas.get(sid, ""))
            elif op == 0x05:  # Message
                cid, _, log_time, _ = struct.unpack_from("<HIQQ", buf, body)
                scan.messages.append((log_time, cid, bytes(buf[body + 22 : nxt])))
            elif op == 0x06:  # Chunk
                usize, crc = struct.unpack_from("<QI", buf, body + 16)
                compression, p = string(body + 28)
                (csize,) = u64.unpack_from(buf, p)
                raw = bytes(buf[p + 8 : p + 8 + csize])
                raw = _decompress_prefix(raw, compression) if compression else raw
                if len(raw) != usize or (crc and zlib.crc32(raw) != crc):
                    scan.problem = scan.problem or f"{where}: chunk at byte {pos} is corrupt (skipped)"
                else:
                    sub = _scan_records(raw, 0, len(raw), scan, schemas, where, top=False)
                    if sub:
                        scan.problem = scan.problem or f"{where}: chunk at byte {pos}: {sub}"
            elif op in (0x0F, 0x02):  # DataEnd / Footer: the data section is complete
                return "__end__" if top else ""
        except (struct.error, UnicodeDecodeError):
            return f"{where}: garbled record (opcode 0x{op:02x}) at byte {pos}"
        pos = nxt
    return ""


def _scan_cut_chunk(buf, body: int, end: int, scan: _Scan, schemas: dict[int, str], where: str) -> None:
    try:
        compression_len = struct.unpack_from("<I", buf, body + 28)[0]
        compression = bytes(buf[body + 32 : body + 32 + compression_len]).decode()
        start = body + 32 + compression_len + 8
    except (struct.error, UnicodeDecodeError):
        return
    raw = bytes(buf[start:end])
    raw = _decompress_prefix(raw, compression) if compression else raw
    _scan_records(raw, 0, len(raw), scan, schemas, where, top=False)  # complete records only


def scan_mcap(path: Path) -> _Scan:
    """Read every complete message of an mcap file from its start, without its summary or footer."""
    scan = _Scan()
    try:
        with path.open("rb") as f:
            size = path.stat().st_size
            if size < len(MCAP_MAGIC):
                scan.problem = f"{path}: empty or cut before the MCAP magic ({size} bytes)"
                return scan
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        scan.problem = f"{path}: unreadable ({exc.strerror})"
        return scan
    with buf:
        if buf[:8] != MCAP_MAGIC:
            scan.problem = f"{path}: not an MCAP file (bad magic)"
            return scan
        problem = _scan_records(buf, 8, len(buf), scan, {}, str(path), top=True)
        if problem == "__end__":
            problem = "" if buf[-8:] == MCAP_MAGIC else f"{path}: no footer (summary missing or cut)"
        elif not problem:
            problem = (
                f"{path}: ends after byte {len(buf)} without data-end/footer (recorder did not close it)"
            )
        scan.problem = scan.problem or problem
    return scan


def scan_sqlite(path: Path) -> _Scan:
    """Read the messages of a rosbag2 sqlite3 file row by row, up to the first unreadable page."""
    scan = _Scan()
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        scan.problem = f"{path}: unreadable sqlite3 ({exc})"
        return scan
    try:
        for tid, name, typ in con.execute("SELECT id, name, type FROM topics"):
            scan.topics[tid] = (name, typ)
        for row in con.execute("SELECT timestamp, topic_id, data FROM messages ORDER BY id"):
            scan.messages.append((row[0], row[1], bytes(row[2])))
    except sqlite3.Error as exc:
        scan.problem = f"{path}: sqlite3 damaged after {len(scan.messages)} messages ({exc})"
    finally:
        con.close()
    return scan


# ---- reader ------------------------------------------------------------------------------------------------


def _read_metadata(path: Path) -> tuple[dict | None, str]:
    meta = path / "metadata.yaml"
    if not meta.is_file():
        return None, f"{meta}: missing"
    try:
        info = yaml.safe_load(meta.read_text())["rosbag2_bagfile_information"]
        files = [path / f for f in info["relative_file_paths"]]
        info["storage_identifier"]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, KeyError) as exc:
        kind = type(exc).__name__ if not isinstance(exc, KeyError) else f"no key {exc}"
        return None, f"{meta}: garbled ({kind})"
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        return None, f"{meta}: lists storage files that do not exist: {', '.join(missing)}"
    return info, ""


KNOWN_DISTROS = ("rosbags", "kilted")
"""``ros_distro`` values of metadata.yaml decoded as written: the project's writer (rosbags) and ROS 2 Kilted
(the typestore's); a bag of another distro is read, but reported (message definitions may differ)."""
STORAGE_MAGIC = {"mcap": b"\x89MCAP", "sqlite3": b"SQLite format 3\x00"}


def _storage_of(f: Path) -> str:
    """The storage format of a file from its first bytes ("" unknown or unreadable)."""
    try:
        with open(f, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return ""
    return next((k for k, magic in STORAGE_MAGIC.items() if head.startswith(magic)), "")


def metadata_mismatches(path: Path, meta: dict) -> list[str]:
    """What metadata.yaml names that differs from the storage files or from what this reader decodes: the
    storage plugin (``storage_identifier``) and the ROS distro (``ros_distro``)."""
    out = []
    named = str(meta.get("storage_identifier", ""))
    if named not in STORAGE_MAGIC:
        out.append(f"{path}/metadata.yaml names storage {named!r}; this reader knows {sorted(STORAGE_MAGIC)}")
    else:
        for f in meta.get("relative_file_paths") or []:
            got = _storage_of(path / f)
            if got and got != named:
                out.append(f"{path}/metadata.yaml names storage {named!r} but {f} is {got}")
    distro = meta.get("ros_distro")
    if distro is not None and str(distro) not in KNOWN_DISTROS:
        out.append(
            f"{path}/metadata.yaml names ROS distro {distro!r}; this reader decodes with ROS 2 Kilted types "
            f"(message definitions may differ; known: {', '.join(KNOWN_DISTROS)})"
        )
    return out


class BagReader:
    """Reads any rosbag2 bag (folder, or one .mcap/.db3 file), recovering what a damaged one still holds.

    Args:
        path: Bag folder or storage file.
        strict: Raise :class:`BagError` on any problem instead of recovering.

    Raises:
        BagError: no such bag, nothing readable, or (strict) any problem; the message names file and problem.
    """

    def __init__(self, path: str | Path, strict: bool = False) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"{self.path}: no such bag")
        self._reader = None
        self._scans: list[_Scan] = []
        self.info = self._open()
        if self.info.problems and strict:
            raise BagError("; ".join(self.info.problems))
        if self.info.problems and not self.info.message_count:
            raise BagError("; ".join(self.info.problems) + "; no readable message")

    def _open(self) -> BagInfo:
        problems: list[str] = []
        meta, custom = None, {}
        if self.path.is_dir():
            meta, problem = _read_metadata(self.path)
            if problem:
                problems.append(problem)
        if meta is not None:
            custom = dict(meta.get("custom_data") or {})
            problems += metadata_mismatches(self.path, meta)
            info = self._open_rosbags(meta, custom)
            if info is not None:
                info.problems = problems + info.problems
                info.complete = not info.problems
                return info
        files = (
            [self.path]
            if self.path.is_file()
            else sorted(self.path.glob("*.mcap")) + sorted(self.path.glob("*.db3"))
        )
        if meta is not None:
            files = [self.path / f for f in meta["relative_file_paths"]]
        if not files:
            problems.append(f"{self.path}: no .mcap or .db3 storage file")
        topics: dict[str, TopicInfo] = {}
        start, end = 2**63 - 1, 0
        for f in files:
            scan = scan_sqlite(f) if f.suffix == ".db3" else scan_mcap(f)
            self._scans.append(scan)
            if scan.problem:
                problems.append(scan.problem)
            for t, cid, _ in scan.messages:
                name, typ = scan.topics.get(cid, (f"<channel {cid}>", ""))
                topics.setdefault(name, TopicInfo(name, typ)).count += 1
                start, end = min(start, t), max(end, t)
        if meta is not None:
            expected = int(meta.get("message_count", 0))
            got = sum(t.count for t in topics.values())
            if got != expected:
                problems.append(f"{self.path}: metadata.yaml says {expected} messages, {got} readable")
        storage = (meta or {}).get("storage_identifier") or (
            "sqlite3" if files and files[0].suffix == ".db3" else "mcap"
        )
        return BagInfo(self.path, storage, files, topics, start, end, not problems, problems, custom)

    def _open_rosbags(self, meta: dict, custom: dict) -> BagInfo | None:
        """The standard path: rosbags' indexed reader; None when it refuses the bag (then: recovery)."""
        from rosbags.rosbag2 import Reader
        from rosbags.rosbag2.errors import ReaderError

        try:
            reader = Reader(self.path)
            reader.open()
        except (ReaderError, OSError, KeyError, ValueError, struct.error):
            return None
        files = [self.path / f for f in meta["relative_file_paths"]]
        topics = {c.topic: TopicInfo(c.topic, c.msgtype, 0) for c in reader.connections}
        for c in reader.connections:
            topics[c.topic].count += c.msgcount
        problems = []
        if reader.message_count != int(meta.get("message_count", reader.message_count)):
            problems.append(f"{self.path}/metadata.yaml: message_count differs from the storage index")
        self._reader = reader
        return BagInfo(
            self.path,
            meta["storage_identifier"],
            files,
            topics,
            reader.start_time,
            reader.end_time - 1 if reader.message_count else 0,
            not problems,
            problems,
            custom,
        )

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
        """Messages in receive-time order (file order for equal times), optionally of some topics only."""
        want = set(topics) if topics is not None else None
        if self._reader is not None:
            conns = [c for c in self._reader.connections if want is None or c.topic in want]
            for c, t, data in self._reader.messages(connections=conns):
                yield BagMessage(c.topic, c.msgtype, t, bytes(data))
            return
        merged = []
        for scan in self._scans:
            for t, cid, data in scan.messages:
                name, typ = scan.topics.get(cid, ("", ""))
                if want is None or name in want:
                    merged.append(BagMessage(name, typ, t, data))
        merged.sort(key=lambda m: m.timestamp)  # stable: file order kept for equal times
        yield from merged

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def deserialize(msg: BagMessage):
    """The message as a rosbags object (same field names as the rclpy class); no rclpy needed."""
    store = typestore()
    ensure_types(store, [msg.msgtype])
    return store.deserialize_cdr(msg.data, msg.msgtype)


# ---- bag -> motion clips -----------------------------------------------------------------------------------


@dataclass
class _Sample:
    t: float  # [s]
    root_pos: np.ndarray  # (3,)
    root_quat: np.ndarray  # (4,) wxyz
    joint_pos: np.ndarray  # (29,)
    key: str  # clip id ('' for robot state)
    frame: int  # frame index (-1 when the message has none)


def _samples(reader: BagReader, kind: str, topic: str, time_source: str) -> tuple[list[_Sample | None], int]:
    """Samples of ``topic`` in bag order; None marks a message that breaks a segment (invalid / no root)."""
    from hgpt_policy.msg_conv import quat_wxyz_from_msg, reference_sample_from_msg, vec3

    out: list[_Sample | None] = []
    n = 0
    for m in reader.messages([topic]):
        n += 1
        msg = deserialize(m)
        t = stamp_to_sec(msg.header.stamp) if time_source == "header" else m.timestamp * 1e-9
        if kind == "reference":
            s = reference_sample_from_msg(msg, t)
            out.append(
                s and _Sample(t, s.root_pos, s.root_quat, s.joint_pos, msg.clip_id, int(msg.frame_index))
            )
        elif msg.has_root_truth:
            pose = msg.root_pose
            out.append(
                _Sample(
                    t,
                    vec3(pose.position),
                    quat_wxyz_from_msg(pose.orientation),
                    np.asarray(msg.q, dtype=np.float64),
                    "",
                    -1,
                )
            )
        else:
            out.append(None)
    return out, n


def _segments(samples: list[_Sample | None], max_gap: float) -> Iterator[tuple[list[_Sample], str]]:
    """Runs of samples with no gap > ``max_gap`` [s], same clip id, time increasing; with why each ended."""
    seg: list[_Sample] = []
    for s in samples:
        why = ""
        if s is None:
            why = "invalid message"
        elif seg and s.key != seg[-1].key:
            why = f"clip_id changed to '{s.key}'"
        elif seg and s.t <= seg[-1].t:
            why = "time went backwards" if s.t < seg[-1].t else "repeated time stamp"
            if s.t == seg[-1].t:
                continue  # a duplicate: drop it, keep the segment
        elif seg and s.t - seg[-1].t > max_gap:
            why = f"gap {s.t - seg[-1].t:.3f} s"
        if why and seg:
            yield seg, why
            seg = []
        if s is not None:
            seg.append(s)
    if seg:
        yield seg, "end of bag"


def _trim_hold(seg: list[_Sample]) -> list[_Sample]:
    """Drop the tail where a finished clip's last frame is re-sent (same frame index), keeping one."""
    i = len(seg)
    while i > 1 and seg[i - 1].frame >= 0 and seg[i - 1].frame == seg[i - 2].frame:
        i -= 1
    return seg[:i]


def _resample(seg: list[_Sample], fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root pos (N,3), quat wxyz (N,4), joints (N,29) at ``fps`` on [t0, t_end] (linear / slerp)."""
    from hgpt_core.rotations import quat_slerp

    t = np.array([s.t for s in seg]) - seg[0].t
    pos = np.stack([s.root_pos for s in seg])
    quat = np.stack([s.root_quat for s in seg])
    joints = np.stack([s.joint_pos for s in seg])
    n = int(np.floor(t[-1] * fps + 1e-6)) + 1
    tq = np.arange(n) / fps
    i0 = np.clip(np.searchsorted(t, tq, side="right") - 1, 0, len(t) - 2)
    a = np.clip((tq - t[i0]) / (t[i0 + 1] - t[i0]), 0.0, 1.0)
    lerp = lambda v: v[i0] + (v[i0 + 1] - v[i0]) * a[:, None]  # noqa: E731
    return lerp(pos), quat_slerp(quat[i0], quat[i0 + 1], a), lerp(joints)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._") or "clip"


def bag_to_clips(
    bag: str | Path,
    out_dir: str | Path,
    kind: str = "reference",
    topic: str = "",
    fps: float = 50.0,
    max_gap: float = 0.2,
    min_duration: float = 1.0,
    time_source: str = "header",
    licence: str = "",
    strict: bool = False,
) -> dict:
    """Cut ``topic`` of a bag into ``.clip.npz`` motion clips at ``fps``; returns (and writes) a summary.

    Segments end at gaps > ``max_gap`` [s], clip_id changes, invalid messages or time going backwards; a
    finished clip's held last frame is trimmed; segments shorter than ``min_duration`` [s] are dropped with
    the reason in the summary. Clips: ``<out_dir>/<bag>_<clip_id or kind>_<k>.clip.npz``,
    summary ``<out_dir>/<bag>.<kind>.clips.json``, all written atomically; nothing is written if any of
    them exists.

    Args:
        kind: ``reference`` (MotionReference: the commanded motion) or ``robot_state`` (RobotState root pose
            + joints: the executed motion; needs has_root_truth).
        time_source: ``header`` (message stamps; bag receive times when they are all zero) or ``bag``.
        licence: Licence of the clips (default: the bag's ``hgpt.licence`` custom data, else ``unknown``).

    Raises:
        BagError: bad bag / arguments, a target that exists, or no message on the topic.
    """
    from hgpt_core.motion import MotionClip, atomic_write_bytes

    if kind not in CLIP_KINDS:
        raise BagError(f"kind {kind!r} is not valid; valid values: {', '.join(CLIP_KINDS)}")
    if time_source not in ("header", "bag"):
        raise BagError(f"time source {time_source!r} is not valid; valid values: header, bag")
    topic = topic or CLIP_KINDS[kind]
    bag, out_dir = Path(bag), Path(out_dir)
    with BagReader(bag, strict=strict) as reader:
        info = reader.info
        samples, n_msgs = _samples(reader, kind, topic, time_source)
        if time_source == "header" and samples and all(s is None or s.t == 0.0 for s in samples):
            time_source = "bag"  # stamps never set: receive times are the only clock
            samples, n_msgs = _samples(reader, kind, topic, time_source)
    if not n_msgs:
        raise BagError(f"{bag}: no message on {topic} (topics: {', '.join(sorted(info.topics)) or 'none'})")
    licence = licence or info.custom_data.get(LICENCE_KEY, "unknown")
    bag_name = _safe(bag.name.removesuffix(".mcap").removesuffix(".db3"))
    clips, dropped = [], []
    for k, (seg, why) in enumerate(_segments(samples, max_gap)):
        seg = _trim_hold(seg)
        dur = seg[-1].t - seg[0].t
        entry = {
            "segment": k,
            "clip_id": seg[0].key,
            "start_s": seg[0].t,
            "duration_s": dur,
            "messages": len(seg),
            "ended_by": why,
        }
        if dur < min_duration or len(seg) < 2:
            dropped.append({**entry, "reason": f"shorter than {min_duration} s"})
            continue
        pos, quat, joints = _resample(seg, fps)
        name = f"{bag_name}_{_safe(seg[0].key or kind)}_{k:03d}"
        meta = {
            "bag": str(bag),
            "topic": topic,
            "kind": kind,
            "time_source": time_source,
            "bag_complete": info.complete,
            "segment": entry,
        }
        clip = MotionClip(
            pos, quat, joints, fps, name=name, source=f"{bag}:{topic}", licence=licence, meta=meta
        )
        clips.append((out_dir / f"{name}.clip.npz", clip.validate(name), entry))
    summary_path = out_dir / f"{bag_name}.{kind}.clips.json"
    existing = [str(p) for p in [summary_path, *(c[0] for c in clips)] if p.exists()]
    if existing:
        raise BagError(f"not overwriting existing output: {', '.join(existing)}")
    for path, clip, entry in clips:
        clip.save(path)
        entry.update(file=str(path), frames=clip.num_frames)
    summary = {
        "bag": str(bag),
        "topic": topic,
        "kind": kind,
        "fps": fps,
        "bag_complete": info.complete,
        "problems": info.problems,
        "messages": n_msgs,
        "clips": [c[2] for c in clips],
        "dropped": dropped,
    }
    atomic_write_bytes(summary_path, json.dumps(summary, indent=2).encode())
    summary["summary_file"] = str(summary_path)
    return summary


# ---- CLI ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """Record topics into a new rosbag2 mcap bag until Ctrl-C / SIGTERM or --duration."""

    out: tyro.conf.Positional[Path]
    """New bag folder (refused if it exists)."""
    topics: tuple[str, ...] = ()
    """Topics (default: the scenarios' RECORD_TOPICS)."""
    types: tuple[str, ...] = ()
    """TOPIC=pkg/msg/Type for topics not yet on the graph (else discovered from the graph)."""
    duration: float = 0.0
    """Stop after this many seconds (0 = until Ctrl-C / SIGTERM)."""
    licence: str = ""
    """Licence of the recorded motion, stored in metadata.yaml custom_data (hgpt.licence)."""


def header_stamp_ns(data: bytes) -> int:
    """The header stamp [ns] of a CDR-serialised message that starts with std_msgs/Header."""
    if len(data) < 12 or data[1] not in (0, 1):
        raise BagError(f"not a CDR message with a header ({len(data)} bytes)")
    sec, nanosec = struct.unpack_from("<iI" if data[1] == 1 else ">iI", data, 4)
    return sec * 1_000_000_000 + nanosec


@dataclass(frozen=True)
class Play:
    """Publish a bag's messages on their topics with the original timing (or as fast as possible)."""

    bag: tyro.conf.Positional[Path]
    rate: float = 1.0
    """Playback speed factor (2.0 = twice as fast)."""
    fast: bool = False
    """As fast as possible (order kept, reliable delivery waited for)."""
    topics: tuple[str, ...] = ()
    """Only these topics (default: all except commands: /hgpt/joint_command, /hgpt/policy, /lowcmd and any
    JointCommand/PolicyInfo/LowCmd topic are played only when named here, with a warning)."""
    clock: bool = False
    """Publish the bag time on /clock."""
    follow_clock: bool = False
    """Lock-step replay: publish each message when /clock reaches its header stamp (messages need a
    std_msgs/Header first; the simulation paces the replay, so a lock-step run repeats exactly)."""
    idle_exit: float = 2.0
    """With --follow-clock: stop this many seconds after the last message once /clock stops advancing."""
    wait_subscribers: float = 0.0
    """Wait up to this many seconds for a subscriber on every played topic before starting."""
    strict: bool = False
    """Refuse a damaged bag instead of playing its readable part."""


@dataclass(frozen=True)
class ToClips:
    """Cut the motion in a (teleoperation) bag into .clip.npz motion clips for training."""

    bag: tyro.conf.Positional[Path]
    out: tyro.conf.Positional[Path]
    """Output folder (created; existing clips are never overwritten)."""
    kind: str = "reference"
    """reference (/hgpt/reference, commanded) | robot_state (/hgpt/robot_state, executed)."""
    topic: str = ""
    """Topic (default: by kind)."""
    fps: float = 50.0
    max_gap: float = 0.2
    """Split at gaps longer than this [s]."""
    min_duration: float = 1.0
    """Drop shorter segments [s]."""
    time_source: str = "header"
    """header | bag (receive time)."""
    licence: str = ""
    """Licence of the clips (default: the bag's hgpt.licence, else unknown)."""
    strict: bool = False


@dataclass(frozen=True)
class Info:
    """Topics, counts, duration and whether the bag is complete (exit 1 when not)."""

    bag: tyro.conf.Positional[Path]
    json: bool = False


def run(cmd: Record | Play | ToClips | Info) -> int:
    try:
        if isinstance(cmd, Info):
            reader = BagReader(cmd.bag)
            i = reader.info
            reader.close()
            if cmd.json:
                d = {
                    "path": str(i.path),
                    "storage": i.storage,
                    "complete": i.complete,
                    "problems": i.problems,
                    "duration_s": i.duration_s,
                    "message_count": i.message_count,
                    "topics": {t.name: {"type": t.msgtype, "count": t.count} for t in i.topics.values()},
                }
                print(json.dumps(d, indent=2))
            else:
                print(i.table())
            return 0 if i.complete else 1
        if isinstance(cmd, ToClips):
            s = bag_to_clips(cmd.bag, cmd.out, cmd.kind, cmd.topic, cmd.fps, cmd.max_gap, cmd.min_duration,
                             cmd.time_source, cmd.licence, cmd.strict)  # fmt: skip
            for p in s["problems"]:
                print(f"warning: {p}; used the readable part", file=sys.stderr)
            for c in s["clips"]:
                print(
                    f"{c['file']}: {c['frames']} frames, {c['duration_s']:.2f} s (ended by {c['ended_by']})"
                )
            for d in s["dropped"]:
                print(f"dropped segment {d['segment']} ({d['duration_s']:.2f} s): {d['reason']}")
            print(f"{len(s['clips'])} clip(s), summary {s['summary_file']}")
            return 0 if s["clips"] else 1
        from hgpt_bringup import bag_ros

        return bag_ros.record(cmd) if isinstance(cmd, Record) else bag_ros.play(cmd)
    except BagError as exc:
        print(f"hgpt bag: error: {exc}", file=sys.stderr)
        return 2


def main() -> None:
    """``hgpt bag record | play | to-clips | info``."""
    cmd = tyro.extras.subcommand_cli_from_dict(
        {"record": Record, "play": Play, "to-clips": ToClips, "info": Info}, prog="hgpt bag"
    )
    sys.exit(run(cmd))


if __name__ == "__main__":
    main()
