"""hgpt bag throughput: write / read / recover / to-clips in messages per second, vs rosbags used directly.

Messages: real MotionReference + RobotState CDR bytes of the bundled GMT walk (the nodes' converters,
rclpy's serializer), 2 x 1955 messages per bag. Each row: median and p99 over ``--repeats`` runs (p99 of a
few runs is close to the worst run). Baselines in the same run: rosbags' Writer / Reader on the same bytes.

  python benchmarks/bench_bag.py [--repeats 15]
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from hgpt_bringup.bag_clips import bag_to_clips
from hgpt_bringup.bag_reader import BagReader
from hgpt_bringup.bag_writer import BagWriter


@dataclass(frozen=True)
class Args:
    repeats: int = 15


def real_messages() -> list[tuple[str, str, int, bytes]]:
    from builtin_interfaces.msg import Time
    from rclpy.serialization import serialize_message

    from hgpt_core.datasets import bundled_clip_path
    from hgpt_retarget.msg_conv import reference_frame_to_msg
    from hgpt_retarget.player import ReferencePlayer
    from hgpt_sim.msg_conv import robot_state_to_msg

    player = ReferencePlayer.from_file(str(bundled_clip_path()))
    player.play(0.0)
    r, out = player.ref, []
    for k in range(r.num_frames):
        t_ns = 10**12 + k * 20_000_000
        stamp = Time(sec=t_ns // 10**9, nanosec=t_ns % 10**9)
        m = reference_frame_to_msg(player.frame(k / r.fps), stamp, r.name, player.frame_index(k / r.fps))
        out.append(("/hgpt/reference", "hgpt_msgs/msg/MotionReference", t_ns, serialize_message(m)))
        s = {
            "q": r.joint_pos[k], "dq": r.joint_vel[k], "tau_est": np.zeros(29), "quat": r.root_quat[k],
            "gyro": np.zeros(3), "acc": np.zeros(3), "root_pos": r.root_pos_w[k],
            "root_lin_vel_w": r.root_lin_vel_w[k], "root_ang_vel_w": r.root_ang_vel_w[k],
        }  # fmt: skip
        out.append(
            (
                "/hgpt/robot_state",
                "hgpt_msgs/msg/RobotState",
                t_ns + 1,
                serialize_message(robot_state_to_msg(s, stamp, k)),
            )
        )
    return out


def write_ours(path: Path, msgs) -> None:
    with BagWriter(path) as w:
        for topic, typ in dict((m[0], m[1]) for m in msgs).items():
            w.add_topic(topic, typ)
        for topic, _, t, data in msgs:
            w.write(topic, t, data)


def write_rosbags(path: Path, msgs) -> None:
    from rosbags.rosbag2 import StoragePlugin, Writer

    from hgpt_bringup.bag_format import typestore

    store = typestore()
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {
            t: w.add_connection(t, typ, typestore=store)
            for t, typ in dict((m[0], m[1]) for m in msgs).items()
        }
        for topic, _, t, data in msgs:
            w.write(conns[topic], t, data)


def read_ours(path: Path) -> int:
    with BagReader(path) as r:
        return sum(1 for _ in r.messages())


def read_rosbags(path: Path) -> int:
    from rosbags.rosbag2 import Reader

    with Reader(path) as r:
        return sum(1 for _ in r.messages())


def main(args: Args) -> None:
    msgs = real_messages()
    n = len(msgs)
    tmp = Path(tempfile.mkdtemp(prefix="bench_bag_"))
    rows: dict[str, list[float]] = {}

    def timed(name: str, fn, count: int) -> None:
        t0 = time.perf_counter()
        fn()
        rows.setdefault(name, []).append(count / (time.perf_counter() - t0))

    try:
        write_ours(tmp / "ref", msgs)
        cut = tmp / "cut"
        shutil.copytree(tmp / "ref", cut)
        (cut / "metadata.yaml").unlink()
        mcap = cut / "cut_0.mcap" if (cut / "cut_0.mcap").exists() else next(cut.glob("*.mcap"))
        with mcap.open("r+b") as f:
            f.truncate(mcap.stat().st_size * 9 // 10)
        n_cut = read_ours(cut)
        for i in range(args.repeats):
            timed("write: hgpt BagWriter", lambda i=i: write_ours(tmp / f"o{i}", msgs), n)
            timed("write: rosbags Writer (baseline)", lambda i=i: write_rosbags(tmp / f"r{i}", msgs), n)
            timed("read: hgpt BagReader", lambda: read_ours(tmp / "ref"), n)
            timed("read: rosbags Reader (baseline)", lambda: read_rosbags(tmp / "ref"), n)
            timed("read: recovery scan (cut at 90 %, no metadata)", lambda: read_ours(cut), n_cut)
            if i < 3:
                timed(
                    "to-clips: /hgpt/reference", lambda i=i: bag_to_clips(tmp / "ref", tmp / f"c{i}"), n // 2
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    mean_b = sum(len(m[3]) for m in msgs) / n
    print(f"{n} messages ({n // 2} MotionReference + {n // 2} RobotState, {mean_b:.0f} B mean)")
    print("| operation | msgs/s median | msgs/s at p99 time | runs |")
    print("|---|---:|---:|---:|")
    for name, v in rows.items():
        print(f"| {name} | {np.median(v):,.0f} | {np.percentile(v, 1):,.0f} | {len(v)} |")


if __name__ == "__main__":
    main(tyro.cli(Args))
