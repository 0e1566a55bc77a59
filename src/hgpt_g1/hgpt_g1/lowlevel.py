"""LowState / LowCmd C structs <-> the bridge's arrays (no ROS).

The bridge and the simulated robot exchange unitree_hg messages as serialized bytes (:mod:`hgpt_g1.cdr`);
everything in between works on the C struct, from which the CRC is computed (:mod:`hgpt_g1.crc`).
"""

from __future__ import annotations

import numpy as np

from hgpt_g1.crc import LOWCMD_DTYPE, LOWSTATE_DTYPE, crc32_words, pack_lowcmd
from hgpt_g1.remote import REMOTE_SIZE, parse_remote
from hgpt_g1.safety_config import LowStateSample, MotorCommand


class CrcMismatch(ValueError):
    """A message whose crc field does not match its content."""


def sample_from_lowstate(struct: bytes, n: int, recv_time: float, check_crc: bool = True) -> LowStateSample:
    """LowState C struct -> :class:`LowStateSample` of motor slots 0..n-1.

    Raises:
        CrcMismatch: when ``check_crc`` and the crc field does not match.
        ValueError: when ``struct`` is not a 2092-byte LowState.
    """
    if len(struct) != LOWSTATE_DTYPE.itemsize:
        raise ValueError(f"LowState struct has {len(struct)} bytes, expected {LOWSTATE_DTYPE.itemsize}")
    rec = np.frombuffer(struct, dtype=LOWSTATE_DTYPE, count=1)[0]
    if check_crc and (crc := crc32_words(struct)) != rec["crc"]:
        raise CrcMismatch(f"LowState CRC mismatch: field 0x{int(rec['crc']):08x}, content 0x{crc:08x}")
    ms, imu = rec["motor_state"][:n], rec["imu_state"]
    f64 = np.float64
    return LowStateSample(
        q=ms["q"].astype(f64),
        dq=ms["dq"].astype(f64),
        tau_est=ms["tau_est"].astype(f64),
        temperature=ms["temperature"].max(axis=1).astype(f64),
        motorstate=ms["motorstate"].copy(),
        quat=imu["quaternion"].astype(f64),
        gyro=imu["gyroscope"].astype(f64),
        acc=imu["accelerometer"].astype(f64),
        mode_pr=int(rec["mode_pr"]),
        mode_machine=int(rec["mode_machine"]),
        tick=int(rec["tick"]),
        buttons=parse_remote(rec["wireless_remote"].tobytes()).buttons,
        recv_time=recv_time,
    )


def lowstate_struct(
    obs: dict[str, np.ndarray],
    mode_pr: int,
    mode_machine: int,
    tick: int,
    remote: bytes,
    temperature_c: float,
) -> bytes:
    """The LowState C struct (CRC filled) a robot in state ``obs`` reports; motors 0..n-1 enabled.

    ``obs``: q, dq, ddq, tau_est (n,); quat wxyz (4,), gyro, acc, rpy (3,). ``remote``: 40 bytes.
    """
    if len(remote) != REMOTE_SIZE:
        raise ValueError(f"remote has {len(remote)} bytes, expected {REMOTE_SIZE}")
    rec = np.zeros((), dtype=LOWSTATE_DTYPE)
    n = len(obs["q"])
    ms, imu = rec["motor_state"], rec["imu_state"]
    ms["mode"][:n], ms["temperature"][:n] = 1, int(round(temperature_c))
    for k in ("q", "dq", "ddq", "tau_est"):
        ms[k][:n] = obs[k]
    imu["quaternion"], imu["gyroscope"], imu["accelerometer"], imu["rpy"] = (
        obs["quat"], obs["gyro"], obs["acc"], obs["rpy"]
    )  # fmt: skip
    rec["mode_pr"], rec["mode_machine"], rec["tick"] = mode_pr, mode_machine, tick & 0xFFFFFFFF
    rec["wireless_remote"] = np.frombuffer(remote, dtype=np.uint8)
    rec["crc"] = crc32_words(rec.tobytes())
    return rec.tobytes()


def lowcmd_struct(cmd: MotorCommand) -> bytes:
    """The LowCmd C struct of ``cmd`` with its CRC (reserve fields zero)."""
    motors = (cmd.mode, cmd.q, cmd.dq, cmd.tau, cmd.kp, cmd.kd)
    return pack_lowcmd(cmd.mode_pr, cmd.mode_machine, *motors, crc=cmd.crc())


def command_from_lowcmd(struct: bytes) -> tuple[MotorCommand, bool]:
    """LowCmd C struct -> (:class:`MotorCommand`, whether its CRC matches).

    Raises:
        ValueError: when ``struct`` is not a 1004-byte LowCmd.
    """
    if len(struct) != LOWCMD_DTYPE.itemsize:
        raise ValueError(f"LowCmd struct has {len(struct)} bytes, expected {LOWCMD_DTYPE.itemsize}")
    rec = np.frombuffer(struct, dtype=LOWCMD_DTYPE, count=1)[0]
    m = rec["motor_cmd"]
    cmd = MotorCommand(
        m["mode"].copy(), m["q"].copy(), m["dq"].copy(), m["tau"].copy(), m["kp"].copy(), m["kd"].copy(),
        mode_pr=int(rec["mode_pr"]), mode_machine=int(rec["mode_machine"]),
    )  # fmt: skip
    return cmd, bool(crc32_words(struct) == rec["crc"])
