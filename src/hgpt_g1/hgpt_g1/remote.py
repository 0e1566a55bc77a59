"""The G1 wireless remote as it appears in ``LowState.wireless_remote`` (40 bytes, no ROS).

Layout (unitree_sdk2 ``xRockerBtnDataStruct`` / ``xKeySwitchUnion``, Unitree's G1 developer page "remote
control data", and unitree_rl_gym ``deploy/deploy_real/common/remote_controller.py``), little-endian:

  bytes 0..1   head
  bytes 2..3   btn: uint16 bit field, bit 0 = R1, 1 = L1, 2 = start, 3 = select, 4 = R2, 5 = L2, 6 = F1,
               7 = F2, 8 = A, 9 = B, 10 = X, 11 = Y, 12 = up, 13 = right, 14 = down, 15 = left
  bytes 4..23  float32 lx, rx, ry, L2 (analog), ly; sticks in [-1, 1]
  bytes 24..39 idle

Combos are written ``"L2+B"`` (all named buttons held at once); alternatives are comma-separated
(``"L2+B,SELECT"``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

REMOTE_SIZE = 40
_LAYOUT = struct.Struct("<2sH5f16x")
assert _LAYOUT.size == REMOTE_SIZE


class Button(IntEnum):
    """Bit index of each button in the remote's ``btn`` field."""

    R1 = 0
    L1 = 1
    START = 2
    SELECT = 3
    R2 = 4
    L2 = 5
    F1 = 6
    F2 = 7
    A = 8
    B = 9
    X = 10
    Y = 11
    UP = 12
    RIGHT = 13
    DOWN = 14
    LEFT = 15


@dataclass(frozen=True)
class RemoteState:
    """Decoded remote: ``buttons`` bit field (see :class:`Button`) and sticks in [-1, 1]."""

    buttons: int
    lx: float = 0.0
    rx: float = 0.0
    ry: float = 0.0
    l2: float = 0.0
    ly: float = 0.0

    def held(self, mask: int) -> bool:
        """All buttons of ``mask`` pressed (an empty mask is never held)."""
        return mask != 0 and (self.buttons & mask) == mask


def combo_mask(combo: str) -> int:
    """Bit mask of a combo such as ``"L2+B"``; ``""`` gives 0 (disabled).

    Raises:
        ValueError: for an unknown button name (the message lists the valid ones).
    """
    mask = 0
    for part in filter(None, (p.strip() for p in combo.split("+"))):
        try:
            mask |= 1 << Button[part.upper()]
        except KeyError:
            raise ValueError(
                f"unknown remote button '{part}' in '{combo}'; valid: {[b.name for b in Button]}"
            ) from None
    return mask


def combo_masks(spec: str) -> tuple[int, ...]:
    """Bit masks of comma-separated alternatives, e.g. ``"L2+B,SELECT"`` (empty entries are dropped).

    Raises:
        ValueError: for an unknown button name.
    """
    return tuple(m for m in (combo_mask(c) for c in spec.split(",")) if m)


def any_held(buttons: int, masks: tuple[int, ...]) -> bool:
    """Some combo of ``masks`` is fully pressed in the ``buttons`` bit field."""
    return any((buttons & m) == m for m in masks)


def combo_name(mask: int) -> str:
    """Inverse of :func:`combo_mask`, e.g. ``"L2+B"``."""
    return "+".join(b.name for b in Button if mask & (1 << b))


def parse_remote(raw: bytes | bytearray | memoryview) -> RemoteState:
    """Decode the 40 ``wireless_remote`` bytes.

    Raises:
        ValueError: if ``raw`` is not 40 bytes.
    """
    raw = bytes(raw)
    if len(raw) != REMOTE_SIZE:
        raise ValueError(f"wireless_remote has {len(raw)} bytes, expected {REMOTE_SIZE}")
    _, buttons, lx, rx, ry, l2, ly = _LAYOUT.unpack(raw)
    return RemoteState(buttons, lx, rx, ry, l2, ly)


def encode_remote(state: RemoteState, head: bytes = b"\x00\x00") -> bytes:
    """The 40 bytes a remote in ``state`` produces (for the simulated robot and tests)."""
    return _LAYOUT.pack(head, state.buttons & 0xFFFF, state.lx, state.rx, state.ry, state.l2, state.ly)
