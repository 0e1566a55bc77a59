"""CRC of the unitree_hg LowCmd / LowState structs (no ROS).

The rule (DESIGN.md §4, unitree_sdk2 ``example/g1/low_level/g1_ankle_swing_example.cpp`` ``Crc32Core``):
pack the message as its little-endian C struct, take the first ``(size >> 2) - 1`` uint32 words (everything
before the ``crc`` field) and run CRC-32 over them MSB-first: polynomial 0x04C11DB7, init 0xFFFFFFFF,
no reflection, no final XOR. Unitree's loop XORs the polynomial in for a data bit *after* the shift, which
is the same as the textbook MSB-first update, so this is CRC-32/MPEG-2 over the words written big-endian
(unitree_sdk2_python ``utils/crc.py`` does exactly that with ``crc32.mpeg_2``).

Speed: CRC-32/MPEG-2 is the bit-reflection of zlib's CRC-32 run on bit-reversed bytes, so the whole 1000-byte
LowCmd CRC runs in C (``bytes.translate`` + ``zlib.crc32``): a few microseconds, cheap at 500 Hz.

Struct formats (``struct`` notation, from unitree_sdk2_python ``utils/crc.py`` and checked against the C
layout of the .msg fields in tests):
  LowCmd   ``<2B2x`` + ``B3x5fI`` * 35 + ``5I``            = 1004 bytes, CRC over 250 words
  LowState ``<2I2B2xI`` + ``13fh2x`` + ``B3x4f2hf7I`` * 35 + ``40B5I`` = 2092 bytes, CRC over 522 words
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

NUM_MOTOR_SLOTS = 35
LOWCMD_FORMAT = "<2B2x" + "B3x5fI" * NUM_MOTOR_SLOTS + "5I"
LOWSTATE_FORMAT = "<2I2B2xI" + "13fh2x" + "B3x4f2hf7I" * NUM_MOTOR_SLOTS + "40B5I"
LOWCMD_SIZE = struct.calcsize(LOWCMD_FORMAT)
LOWSTATE_SIZE = struct.calcsize(LOWSTATE_FORMAT)
assert (LOWCMD_SIZE, LOWSTATE_SIZE) == (1004, 2092)

# The LowCmd C struct as a numpy dtype, so a command built from arrays packs without a Python loop.
MOTOR_CMD_DTYPE = np.dtype(
    [
        ("mode", "u1"),
        ("pad", "V3"),
        ("q", "<f4"),
        ("dq", "<f4"),
        ("tau", "<f4"),
        ("kp", "<f4"),
        ("kd", "<f4"),
        ("reserve", "<u4"),
    ]
)
LOWCMD_DTYPE = np.dtype(
    [
        ("mode_pr", "u1"),
        ("mode_machine", "u1"),
        ("pad", "V2"),
        ("motor_cmd", MOTOR_CMD_DTYPE, (NUM_MOTOR_SLOTS,)),
        ("reserve", "<u4", (4,)),
        ("crc", "<u4"),
    ]
)
IMU_STATE_DTYPE = np.dtype(
    [
        ("quaternion", "<f4", (4,)),
        ("gyroscope", "<f4", (3,)),
        ("accelerometer", "<f4", (3,)),
        ("rpy", "<f4", (3,)),
        ("temperature", "<i2"),
        ("pad", "V2"),
    ]
)
MOTOR_STATE_DTYPE = np.dtype(
    [
        ("mode", "u1"),
        ("pad", "V3"),
        ("q", "<f4"),
        ("dq", "<f4"),
        ("ddq", "<f4"),
        ("tau_est", "<f4"),
        ("temperature", "<i2", (2,)),
        ("vol", "<f4"),
        ("sensor", "<u4", (2,)),
        ("motorstate", "<u4"),
        ("reserve", "<u4", (4,)),
    ]
)
LOWSTATE_DTYPE = np.dtype(
    [
        ("version", "<u4", (2,)),
        ("mode_pr", "u1"),
        ("mode_machine", "u1"),
        ("pad", "V2"),
        ("tick", "<u4"),
        ("imu_state", IMU_STATE_DTYPE),
        ("motor_state", MOTOR_STATE_DTYPE, (NUM_MOTOR_SLOTS,)),
        ("wireless_remote", "u1", (40,)),
        ("reserve", "<u4", (4,)),
        ("crc", "<u4"),
    ]
)
assert LOWCMD_DTYPE.itemsize == LOWCMD_SIZE and LOWSTATE_DTYPE.itemsize == LOWSTATE_SIZE

_BITREV8 = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))
_MOTOR_FIELDS = ("q", "dq", "tau", "kp", "kd")


def _bitrev32(x: int) -> int:
    return int(f"{x:032b}"[::-1], 2)


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 of a byte string (poly 0x04C11DB7, init 0xFFFFFFFF, MSB-first, no final XOR).

    Catalogue check value: ``crc32_mpeg2(b"123456789") == 0x0376E6E7``.
    """
    # zlib runs the reflected algorithm (init 0xFFFFFFFF, final XOR 0xFFFFFFFF); on bit-reversed input its
    # register is the bit-reversal of the MSB-first register at every step.
    return _bitrev32(zlib.crc32(data.translate(_BITREV8)) ^ 0xFFFFFFFF)


def crc32_words(buf: bytes) -> int:
    """Unitree CRC of a packed struct: CRC over its first ``(len >> 2) - 1`` little-endian uint32 words."""
    n = (len(buf) >> 2) - 1
    if n < 0:
        raise ValueError(f"struct of {len(buf)} bytes is too short for a CRC")
    words = np.frombuffer(buf, dtype="<u4", count=n)
    return crc32_mpeg2(words.astype(">u4").tobytes())


def pack_lowcmd(
    mode_pr: int,
    mode_machine: int,
    mode: np.ndarray,
    q: np.ndarray,
    dq: np.ndarray,
    tau: np.ndarray,
    kp: np.ndarray,
    kd: np.ndarray,
    motor_reserve: np.ndarray | None = None,
    reserve: np.ndarray | None = None,
    crc: int = 0,
) -> bytes:
    """The LowCmd C struct (1004 bytes) from per-slot arrays of shape (35,); floats are stored as float32."""
    buf = np.zeros((), dtype=LOWCMD_DTYPE)
    buf["mode_pr"], buf["mode_machine"] = mode_pr, mode_machine
    m = buf["motor_cmd"]
    m["mode"] = mode
    for name, val in zip(_MOTOR_FIELDS, (q, dq, tau, kp, kd), strict=True):
        m[name] = val
    if motor_reserve is not None:
        m["reserve"] = motor_reserve
    if reserve is not None:
        buf["reserve"] = reserve
    buf["crc"] = crc
    return buf.tobytes()


def lowcmd_crc(*args: Any, **kwargs: Any) -> int:
    """CRC of the LowCmd given as in :func:`pack_lowcmd` (the ``crc`` argument does not enter it)."""
    return crc32_words(pack_lowcmd(*args, **kwargs))


def _seq(x: Any) -> list:
    return x.tolist() if hasattr(x, "tolist") else list(x)


def pack_lowcmd_msg(msg: Any) -> bytes:
    """The C struct of a ``unitree_hg/LowCmd`` message (duck-typed: any object with its fields).

    Raises:
        ValueError: when the message does not have the LowCmd sizes (35 motors, 4 reserve words).
    """
    vals: list = [msg.mode_pr, msg.mode_machine]
    for m in msg.motor_cmd:
        vals += (m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve)
    vals += [*_seq(msg.reserve), msg.crc]
    try:
        return struct.pack(LOWCMD_FORMAT, *vals)
    except struct.error as exc:
        raise ValueError(f"LowCmd does not have the unitree_hg layout: {exc}") from exc


def pack_lowstate_msg(msg: Any) -> bytes:
    """The C struct of a ``unitree_hg/LowState`` message (duck-typed: any object with its fields).

    Raises:
        ValueError: when the message does not have the LowState sizes (35 motors, 40 remote bytes, ...).
    """
    imu = msg.imu_state
    vals: list = [*_seq(msg.version), msg.mode_pr, msg.mode_machine, msg.tick]
    vals += _seq(imu.quaternion) + _seq(imu.gyroscope) + _seq(imu.accelerometer) + _seq(imu.rpy)
    vals.append(imu.temperature)
    for m in msg.motor_state:
        vals += (m.mode, m.q, m.dq, m.ddq, m.tau_est, *_seq(m.temperature), m.vol, *_seq(m.sensor))
        vals += (m.motorstate, *_seq(m.reserve))
    vals += _seq(msg.wireless_remote) + _seq(msg.reserve)
    vals.append(msg.crc)
    try:
        return struct.pack(LOWSTATE_FORMAT, *vals)
    except struct.error as exc:
        raise ValueError(f"LowState does not have the unitree_hg layout: {exc}") from exc


def unpack_lowstate(buf: bytes) -> np.void:
    """A packed LowState as a numpy record (fields as in the .msg, e.g. ``rec["motor_state"]["q"]``)."""
    return np.frombuffer(buf, dtype=LOWSTATE_DTYPE, count=1)[0]


def message_crc(msg: Any) -> int:
    """CRC a LowCmd or LowState message must carry (type told apart by its fields)."""
    packed = pack_lowstate_msg(msg) if hasattr(msg, "motor_state") else pack_lowcmd_msg(msg)
    return crc32_words(packed)
