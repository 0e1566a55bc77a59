"""Sending hgpt mocap datagrams (:mod:`hgpt_retarget.mocap_udp`): the reference sender and a human
motion file streamed in real time (``hgpt mocap send``).
"""

from __future__ import annotations

import json
import math
import socket
import time
from collections.abc import Iterator

import numpy as np

from hgpt_retarget.mocap_udp import DEFAULT_PORT, UP_AXES, VERSION, Y_TO_Z
from hgpt_retarget.skeleton import UNITS


def _num(x: float, decimals: int | None) -> float | None:
    if not math.isfinite(x):
        return None
    return round(x, decimals) if decimals is not None else x


class MocapUdpSender:
    """Encode frames in the hgpt mocap format and send them by UDP (the reference bridge).

    Args:
        host, port: Receiver address.
        skeleton: Mapping name sent in every datagram.
        names: Joint names; sent with the first datagram and then every ``names_every`` frames.
        units, up: Units and up axis of the positions given to :meth:`send` (sent as is).
        decimals: Round coordinates (None: exact round trip, 17 significant digits).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        skeleton: str = "",
        names: tuple[str, ...] | list[str] = (),
        units: str = "m",
        up: str = "z",
        names_every: int = 50,
        decimals: int | None = None,
    ) -> None:
        self.addr = (host, port)
        self.skeleton, self.names, self.units, self.up = skeleton, list(names), units, up
        self.names_every, self.decimals = names_every, decimals
        self.frame = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def encode(
        self,
        positions: np.ndarray,
        t: float,
        frame: int,
        quats: np.ndarray | None = None,
        conf: np.ndarray | None = None,
        with_names: bool = True,
    ) -> bytes:
        """One datagram for positions (J, 3) (NaN rows -> null), optional quats (J, 4) wxyz and conf (J,)."""
        d = self.decimals
        msg: dict = {"v": VERSION, "frame": int(frame), "t": float(t), "skeleton": self.skeleton}
        if self.units != "m":
            msg["units"] = self.units
        if self.up != "z":
            msg["up"] = self.up
        if with_names and self.names:
            msg["names"] = self.names
        msg["pos"] = [
            [_num(float(c), d) for c in p] if np.isfinite(p).all() else None for p in np.asarray(positions)
        ]
        if quats is not None:
            msg["quat"] = [[float(c) for c in q] for q in np.asarray(quats)]
        if conf is not None:
            msg["conf"] = [float(c) for c in np.asarray(conf)]
        return json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()

    def send(self, positions: np.ndarray, t: float, quats=None, conf=None) -> int:
        """Send the next frame (counter kept here); returns the datagram size [bytes]."""
        names = self.frame == 0 or (self.names_every > 0 and self.frame % self.names_every == 0)
        data = self.encode(positions, t, self.frame, quats, conf, with_names=names)
        self.sock.sendto(data, self.addr)
        self.frame += 1
        return len(data)

    def close(self) -> None:
        self.sock.close()


def from_z_up_m(positions: np.ndarray, units: str = "m", up: str = "z") -> np.ndarray:
    """Metres / z up (HumanPose) -> ``units`` / ``up``: what a sender in that convention would send.

    Raises:
        ValueError: unknown ``units`` or ``up`` (the valid values named)."""
    if units not in UNITS:
        raise ValueError(f"units {units!r} is not valid; valid: {sorted(UNITS)}")
    if up not in UP_AXES:
        raise ValueError(f"up {up!r} is not valid; valid: {list(UP_AXES)}")
    p = positions @ Y_TO_Z if up == "y" else positions  # inverse rotation = transpose
    return p / UNITS[units]


def stream_file(
    path: str,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    rate: float = 0.0,
    loop: bool = False,
    speed: float = 1.0,
    skeleton: str | None = None,
    units: str = "m",
    up: str = "z",
    duration: float = 0.0,
    log: bool = True,
) -> int:
    """Stream a human file (anything :func:`~hgpt_retarget.human.load_human` reads) in real time.

    Args:
        rate: Datagram rate [Hz] (0: the file's own frame rate).
        loop: Start over at the end (the frame counter keeps increasing).
        speed: Playback speed factor.
        duration: Stop after this many seconds (0: at the end of the file, or never when looping).

    Returns:
        The number of datagrams sent.
    """
    from hgpt_retarget.human import load_human  # mujoco-free, but keeps this module's import light

    motion, mapping = load_human(path, skeleton)
    if rate > 0:
        motion = motion.resample(rate)
    pos = from_z_up_m(motion.positions, units, up)
    sender = MocapUdpSender(host, port, mapping.name, motion.joint_names, units, up)
    if log:
        print(
            f"hgpt mocap send: {path} ({mapping.name}, {motion.num_frames} frames at {motion.fps:.4g} Hz) "
            f"-> udp://{host}:{port}",
            flush=True,
        )
    dt = 1.0 / (motion.fps * speed)
    t0 = time.monotonic()
    try:
        for i in _frames(motion.num_frames, loop):
            target = t0 + sender.frame * dt
            if duration > 0 and target - t0 >= duration:
                break
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sender.send(pos[i], sender.frame * dt)  # capture time = send schedule
    except KeyboardInterrupt:
        pass
    finally:
        sender.close()
    return sender.frame


def _frames(n: int, loop: bool) -> Iterator[int]:
    while True:
        yield from range(n)
        if not loop:
            return
