"""``hgpt mocap send | listen``: stream a human motion file as hgpt mocap datagrams, or check a bridge
(every datagram's verdict and the counters).
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass
from typing import Annotated

import tyro

from hgpt_core.errors import HgptError
from hgpt_retarget.mocap_send import stream_file
from hgpt_retarget.mocap_udp import DEFAULT_PORT, MAX_DATAGRAM_BYTES, MocapParser, MocapStats


def listen(port: int = DEFAULT_PORT, host: str = "0.0.0.0", duration: float = 0.0) -> MocapStats:
    """Receive and validate datagrams, printing one line per second (a bridge check without ROS)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    sock.settimeout(0.2)
    parser, t0, last_print = MocapParser(), time.monotonic(), time.monotonic()
    frame = None
    try:
        while duration <= 0 or time.monotonic() - t0 < duration:
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM_BYTES + 1)
                frame = parser.feed(data, addr) or frame
                if parser.last_error is not None:
                    print(f"rejected from {addr}: {parser.last_error}", flush=True)
                    parser.last_error = None
            except TimeoutError:
                pass
            if time.monotonic() - last_print >= 1.0:
                last_print = time.monotonic()
                where = f"frame {frame.frame} ({frame.skeleton}, {len(frame.names)} joints)" if frame else "-"
                print(f"{parser.stats.summary()}; last {where}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return parser.stats


@dataclass(frozen=True)
class SendArgs:
    """Stream a human motion file (.bvh .npy .npz .pt .pkl) as hgpt mocap datagrams over UDP."""

    file: tyro.conf.Positional[str]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    rate: float = 0.0
    """Datagram rate [Hz] (0: the file's frame rate)."""
    loop: bool = False
    speed: float = 1.0
    skeleton: str | None = None
    """Skeleton mapping (None: detected from the file)."""
    units: str = "m"
    """Units to send in (m, cm, mm, inch)."""
    up: str = "z"
    """Up axis to send in (z, y)."""
    duration: float = 0.0
    """Stop after this many seconds (0: end of file, or never with --loop)."""


@dataclass(frozen=True)
class ListenArgs:
    """Receive and validate hgpt mocap datagrams (check a bridge without ROS)."""

    port: int = DEFAULT_PORT
    host: str = "0.0.0.0"
    duration: float = 0.0


def main(argv: list[str] | None = None) -> None:
    """``hgpt mocap send FILE`` / ``hgpt mocap listen``."""
    args = tyro.cli(
        Annotated[SendArgs, tyro.conf.subcommand("send")]
        | Annotated[ListenArgs, tyro.conf.subcommand("listen")],
        args=argv,
        prog=sys.argv[0] if argv is None else "hgpt mocap",
    )
    try:
        if isinstance(args, SendArgs):
            n = stream_file(
                args.file, args.host, args.port, args.rate, args.loop, args.speed, args.skeleton, args.units,
                args.up, args.duration,
            )  # fmt: skip
            print(f"hgpt mocap send: {n} datagrams sent", flush=True)
        else:
            listen(args.port, args.host, args.duration)
    except (HgptError, OSError, ValueError, OverflowError) as exc:  # bad file, host, port, units: one line
        print(f"hgpt mocap: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
