"""CRC of LowCmd/LowState against an independent bit-by-bit reference, the CRC catalogue, and the C layout."""

import random
import struct
import time

import numpy as np
import pytest
from g1_samples import fake_lowcmd, fake_lowstate

from hgpt_g1.crc import (
    LOWCMD_DTYPE,
    LOWCMD_FORMAT,
    LOWSTATE_DTYPE,
    LOWSTATE_FORMAT,
    crc32_mpeg2,
    crc32_words,
    lowcmd_crc,
    message_crc,
    pack_lowcmd,
    pack_lowcmd_msg,
    pack_lowstate_msg,
    unpack_lowstate,
)


def reference_crc(words: list[int]) -> int:
    """Unitree's Crc32Core bit by bit, as in unitree_sdk2's G1 examples (data bit XORed after the shift)."""
    crc, poly = 0xFFFFFFFF, 0x04C11DB7
    for data in words:
        xbit = 1 << 31
        for _ in range(32):
            crc = ((crc << 1) ^ poly) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
            if data & xbit:
                crc ^= poly
            xbit >>= 1
    return crc


def reference_struct_crc(buf: bytes) -> int:
    n = (len(buf) >> 2) - 1
    return reference_crc(list(struct.unpack(f"<{n}I", buf[: 4 * n])))


def test_catalogue_check_value_and_zero_residue():
    # CRC-32/MPEG-2 check value from the CRC catalogue (reveng): "123456789" -> 0x0376E6E7.
    assert crc32_mpeg2(b"123456789") == 0x0376E6E7
    # Without reflection or final XOR, a message followed by its big-endian CRC has CRC 0.
    rng = random.Random(1)
    for size in (1, 4, 37, 1000):
        data = bytes(rng.randrange(256) for _ in range(size))
        assert crc32_mpeg2(data + crc32_mpeg2(data).to_bytes(4, "big")) == 0


def test_hand_vectors_against_reference():
    assert reference_crc([]) == crc32_words(b"\0" * 4) == 0xFFFFFFFF  # no words: the init value
    for words in ([0], [1], [0xFFFFFFFF], [0x12345678, 0x9ABCDEF0]):
        buf = struct.pack(f"<{len(words)}I", *words) + b"\xaa\xbb\xcc\xdd"  # last word = the crc slot
        assert crc32_words(buf) == reference_crc(words), words
    # Words are read little-endian: the same bytes as big-endian words give another CRC.
    assert crc32_words(b"\x01\0\0\0" + b"\0" * 4) == reference_crc([1]) != reference_crc([1 << 24])


@pytest.mark.parametrize("size", [1004, 2092])
def test_random_structs_match_the_bit_by_bit_reference(size):
    rng = np.random.default_rng(size)
    for _ in range(8):
        buf = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        assert crc32_words(buf) == reference_struct_crc(buf)


def test_struct_layouts_match_the_c_layout():
    assert struct.calcsize(LOWCMD_FORMAT) == LOWCMD_DTYPE.itemsize == 1004
    assert struct.calcsize(LOWSTATE_FORMAT) == LOWSTATE_DTYPE.itemsize == 2092
    # C offsets: uint8, uint8, pad 2, then 35 x 28-byte MotorCmd; LowState's MotorState is 56 bytes.
    assert LOWCMD_DTYPE.fields["motor_cmd"][1] == 4 and LOWCMD_DTYPE["motor_cmd"].base.itemsize == 28
    assert LOWCMD_DTYPE.fields["crc"][1] == 1000
    offsets = {
        k: LOWSTATE_DTYPE.fields[k][1] for k in ("tick", "imu_state", "motor_state", "wireless_remote", "crc")
    }
    assert offsets == {"tick": 12, "imu_state": 16, "motor_state": 72, "wireless_remote": 2032, "crc": 2088}
    assert LOWSTATE_DTYPE["motor_state"].base.itemsize == 56


def test_lowcmd_from_arrays_equals_the_message_packing():
    rng = np.random.default_rng(0)
    mode = rng.integers(0, 2, 35).astype(np.uint8)
    q, dq, tau, kp, kd = (rng.normal(size=35).astype(np.float32) for _ in range(5))
    msg = fake_lowcmd()
    msg.mode_pr, msg.mode_machine = 1, 5
    for i, m in enumerate(msg.motor_cmd):
        m.mode, m.q, m.dq, m.tau, m.kp, m.kd = (
            int(mode[i]),
            float(q[i]),
            float(dq[i]),
            float(tau[i]),
            float(kp[i]),
            float(kd[i]),
        )
    assert pack_lowcmd_msg(msg) == pack_lowcmd(1, 5, mode, q, dq, tau, kp, kd)
    assert (
        message_crc(msg)
        == lowcmd_crc(1, 5, mode, q, dq, tau, kp, kd)
        == reference_struct_crc(pack_lowcmd_msg(msg))
    )
    msg.motor_cmd[17].kp += 1.0  # any field change changes the CRC
    assert message_crc(msg) != lowcmd_crc(1, 5, mode, q, dq, tau, kp, kd)


def test_lowstate_message_packing_decodes_field_by_field():
    msg = fake_lowstate()
    msg.version, msg.mode_machine, msg.tick = [3, 4], 5, 123456
    msg.imu_state.quaternion, msg.imu_state.temperature = [0.5, 0.5, 0.5, 0.5], -7
    for i, m in enumerate(msg.motor_state):
        m.q, m.temperature, m.sensor, m.motorstate = 0.25 * i, [i, 2 * i], [i, 1], i % 3
    msg.wireless_remote = list(range(40))
    rec = unpack_lowstate(pack_lowstate_msg(msg))
    assert rec["tick"] == 123456 and rec["mode_machine"] == 5 and list(rec["version"]) == [3, 4]
    assert rec["imu_state"]["temperature"] == -7 and list(rec["imu_state"]["quaternion"]) == [0.5] * 4
    np.testing.assert_array_equal(rec["motor_state"]["q"], 0.25 * np.arange(35))
    np.testing.assert_array_equal(rec["motor_state"]["temperature"][:, 1], 2 * np.arange(35))
    np.testing.assert_array_equal(rec["motor_state"]["motorstate"], np.arange(35) % 3)
    np.testing.assert_array_equal(rec["wireless_remote"], np.arange(40))
    assert message_crc(msg) == reference_struct_crc(pack_lowstate_msg(msg))


def test_wrong_layout_raises_value_error():
    msg = fake_lowcmd()
    msg.motor_cmd = msg.motor_cmd[:29]
    with pytest.raises(ValueError, match="layout"):
        pack_lowcmd_msg(msg)
    st = fake_lowstate()
    st.wireless_remote = [0] * 39
    with pytest.raises(ValueError, match="layout"):
        pack_lowstate_msg(st)
    with pytest.raises(ValueError):
        crc32_words(b"")


def test_lowcmd_crc_fits_the_500hz_budget():
    z = np.zeros(35, dtype=np.float32)
    t0 = time.perf_counter()
    for _ in range(200):
        lowcmd_crc(0, 5, z, z, z, z, z, z)
    per_call = (time.perf_counter() - t0) / 200
    assert per_call < 0.5e-3, f"{1e6 * per_call:.0f} us per LowCmd CRC (budget: a fraction of 2 ms)"
