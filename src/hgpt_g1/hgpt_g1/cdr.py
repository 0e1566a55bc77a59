"""Serialized (CDR) LowCmd / LowState <-> their C structs, in numpy (no ROS).

At 500 Hz, rclpy's Python message classes are the bottleneck: deserialising one LowState builds 70
MotorState objects (~1 ms of Python, more than the rest of the bridge together). Both messages are
fixed-size, so the bridge and the simulated robot subscribe with ``raw=True`` and publish bytes, converting
between the CDR payload and the C struct (:mod:`hgpt_g1.crc`, which the CRC needs anyway) with one
precomputed byte gather.

CDR (OMG DDS-XTypes, plain little-endian, as Fast DDS and CycloneDDS write ROS messages): a 4-byte
encapsulation header (``00 01`` = CDR_LE, or ``00 07`` = CDR2_LE, then 2 option bytes), then the fields
in order, each aligned to its own size relative to the payload start; fixed arrays carry no length, nested
structs no padding of their own. With no 8-byte fields the two encodings coincide. The C struct differs
only in padding: e.g. LowCmd's MotorCmd array starts at byte 2 of the CDR payload but at byte 4 of the struct.
tests/g1/unitree_hg_check.py compares both directions with rclpy's own (de)serialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hgpt_g1.crc import LOWCMD_DTYPE, LOWSTATE_DTYPE

CDR_LE_HEADERS = (b"\x00\x01", b"\x00\x07")  # CDR_LE (XCDR1), CDR2_LE (XCDR2)
_HEADER = b"\x00\x01\x00\x00"


def _elements(dtype: np.dtype, base: int = 0) -> list[tuple[int, int]]:
    """(offset, size) of every primitive element of a C-struct dtype, in declaration order (pads skipped)."""
    out: list[tuple[int, int]] = []
    fields: Mapping[str, Any] = dtype.fields or {}
    for name in dtype.names or ():
        sub, off = fields[name][:2]
        if name == "pad":
            continue
        base_dt, shape = sub.subdtype if sub.subdtype else (sub, ())
        for i in range(int(np.prod(shape, dtype=int))):
            start = base + off + i * base_dt.itemsize
            if base_dt.names:
                out += _elements(base_dt, start)
            else:
                out.append((start, base_dt.itemsize))
    return out


class CdrLayout:
    """Byte maps between a fixed-size message's CDR payload and its C struct (``dtype``)."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        c_idx: list[int] = []
        cdr_idx: list[int] = []
        pos = 0
        for off, size in _elements(dtype):
            pos += -pos % size  # align to the element's size
            c_idx.extend(range(off, off + size))
            cdr_idx.extend(range(pos, pos + size))
            pos += size
        self.payload_size = pos
        self.c_idx, self.cdr_idx = np.array(c_idx), np.array(cdr_idx)

    @property
    def size(self) -> int:
        """Serialized size with the encapsulation header [bytes]."""
        return 4 + self.payload_size

    def to_struct(self, raw: bytes | memoryview) -> bytes:
        """The C struct of a serialized message.

        Raises:
            ValueError: not little-endian plain CDR, or too short.
        """
        head = bytes(raw[:2])
        if head not in CDR_LE_HEADERS or len(raw) < self.size:
            raise ValueError(
                f"not a little-endian CDR {self.size}-byte message: header {head.hex()}, {len(raw)} bytes"
            )
        payload = np.frombuffer(raw, dtype=np.uint8, count=self.payload_size, offset=4)
        out = np.zeros(self.dtype.itemsize, dtype=np.uint8)
        out[self.c_idx] = payload[self.cdr_idx]
        return out.tobytes()

    def to_cdr(self, struct_bytes: bytes) -> bytes:
        """The serialized message (CDR_LE, zero padding) of a C struct."""
        c = np.frombuffer(struct_bytes, dtype=np.uint8)
        payload = np.zeros(self.payload_size, dtype=np.uint8)
        payload[self.cdr_idx] = c[self.c_idx]
        return _HEADER + payload.tobytes()


LOWCMD_CDR = CdrLayout(LOWCMD_DTYPE)
LOWSTATE_CDR = CdrLayout(LOWSTATE_DTYPE)
assert (LOWCMD_CDR.size, LOWSTATE_CDR.size) == (1004, 2092)
