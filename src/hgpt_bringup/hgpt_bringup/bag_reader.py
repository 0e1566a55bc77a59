"""The rosbag2 bag reader: rosbags' indexed reader for an intact bag, record-by-record recovery
(:mod:`hgpt_bringup.bag_recover`) for a damaged one; the problems found are reported, naming file and offset.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from hgpt_bringup.bag_format import BagError, BagInfo, BagMessage, TopicInfo
from hgpt_bringup.bag_recover import StorageScan, scan_mcap, scan_sqlite


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
        self._scans: list[StorageScan] = []
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
            if not conns:
                return  # (rosbags reads every connection when given none)
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
