"""Record-by-record reading of rosbag2 storage files (mcap, sqlite3) without their index: recovery.

A bag whose ``metadata.yaml`` is missing or garbled, or whose mcap has no footer/summary (recorder
killed, file cut), is read record by record from the start of each storage file; every complete message
before the damage is recovered (also from a cut, uncompressed or zstd/lz4 chunk) and the problem is
reported naming the file and the byte offset.
"""

from __future__ import annotations

import mmap
import sqlite3
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

MCAP_MAGIC = b"\x89MCAP0\r\n"


@dataclass
class StorageScan:
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
    buf, pos: int, end: int, scan: StorageScan, schemas: dict[int, str], where: str, top: bool
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


def _scan_cut_chunk(buf, body: int, end: int, scan: StorageScan, schemas: dict[int, str], where: str) -> None:
    try:
        compression_len = struct.unpack_from("<I", buf, body + 28)[0]
        compression = bytes(buf[body + 32 : body + 32 + compression_len]).decode()
        start = body + 32 + compression_len + 8
    except (struct.error, UnicodeDecodeError):
        return
    raw = bytes(buf[start:end])
    raw = _decompress_prefix(raw, compression) if compression else raw
    _scan_records(raw, 0, len(raw), scan, schemas, where, top=False)  # complete records only


def scan_mcap(path: Path) -> StorageScan:
    """Read every complete message of an mcap file from its start, without its summary or footer."""
    scan = StorageScan()
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


def scan_sqlite(path: Path) -> StorageScan:
    """Read the messages of a rosbag2 sqlite3 file row by row, up to the first unreadable page."""
    scan = StorageScan()
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
