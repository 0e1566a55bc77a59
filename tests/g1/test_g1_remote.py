"""The wireless remote bytes of LowState: Unitree's layout (xRockerBtnDataStruct), combos."""

import struct

import pytest

from hgpt_g1.remote import (
    Button,
    RemoteState,
    any_held,
    combo_mask,
    combo_masks,
    combo_name,
    encode_remote,
    parse_remote,
)


def test_layout_matches_unitrees_struct():
    # head[2], uint16 btn (R1 = bit 0 ... left = bit 15), float lx, rx, ry, L2, ly, 16 idle bytes.
    raw = (
        bytes([0x55, 0xAA])
        + struct.pack("<H5f", (1 << 8) | (1 << 5), 0.25, -0.5, 0.75, 1.0, -1.0)
        + bytes(16)
    )
    r = parse_remote(raw)
    assert r.buttons == (1 << Button.A) | (1 << Button.L2)
    assert (r.lx, r.rx, r.ry, r.l2, r.ly) == (0.25, -0.5, 0.75, 1.0, -1.0)
    assert encode_remote(r, head=b"\x55\xaa") == raw
    order = "R1 L1 START SELECT R2 L2 F1 F2 A B X Y UP RIGHT DOWN LEFT"
    assert [b.name for b in sorted(Button)] == order.split()
    with pytest.raises(ValueError, match="39 bytes"):
        parse_remote(raw[:39])


def test_combos():
    assert combo_mask("L2+B") == (1 << 5) | (1 << 9) and combo_name(combo_mask("l2 + b")) == "L2+B"
    assert combo_mask("") == 0 and combo_masks("L2+B, SELECT,") == (combo_mask("L2+B"), 1 << 3)
    masks = combo_masks("L2+B,SELECT")
    assert any_held(combo_mask("L2+B+R1"), masks) and any_held(1 << Button.SELECT, masks)
    assert not any_held(1 << Button.L2, masks) and not any_held(0, ())
    assert RemoteState(combo_mask("L2+B")).held(combo_mask("B")) and not RemoteState(0).held(0)
    with pytest.raises(ValueError, match="unknown remote button 'Z'"):
        combo_masks("L2+B,Z")
