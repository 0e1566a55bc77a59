"""Benchmark: mocap datagram handling cost per datagram, against raw ``json.loads`` of the same bytes.

Datagrams are made from real BVH (CMU 01_01: 31 joints, Bandai-Namco walk: 22 joints) with
:class:`hgpt_retarget.mocap_send.MocapUdpSender`, in four variants. Per datagram, in the same run and
interleaved (same machine state): ``json.loads`` alone; :meth:`MocapParser.parse` (decode, validate,
units / up-axis conversion); parse + ``human_pose_to_msg`` (what mocap_source does before publishing).
Reported: median and p99 [us] and the datagram size.

Usage: python benchmarks/bench_mocap.py [--n 3000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hgpt_core.datasets import shared_data_dir
from hgpt_retarget.human import load_human
from hgpt_retarget.mocap_send import MocapUdpSender, from_z_up_m
from hgpt_retarget.mocap_udp import MocapParser


def datagrams(motion, n: int, variant: str) -> list[bytes]:
    units, up = ("cm", "y") if variant == "cm, y-up" else ("m", "z")
    snd = MocapUdpSender(skeleton=motion.skeleton, names=motion.joint_names, units=units, up=up)
    j = len(motion.joint_names)
    quat = np.tile([1.0, 0.0, 0.0, 0.0], (j, 1)) if variant == "+quat+conf" else None
    conf = np.full(j, 0.9) if variant == "+quat+conf" else None
    pos = from_z_up_m(motion.positions, units, up)
    out = []
    for i in range(n):
        names = variant == "names every" or i == 0
        out.append(snd.encode(pos[i % motion.num_frames], i / motion.fps, i, quat, conf, with_names=names))
    snd.close()
    return out


def measure(data: list[bytes], repeats: int, to_msg, clock) -> dict[str, np.ndarray]:
    times: dict[str, list[int]] = {"json.loads": [], "parse": [], "parse+msg": []}
    for _ in range(repeats):
        p1, p2 = MocapParser(), MocapParser()
        for d in data:
            t0 = clock()
            json.loads(d)
            t1 = clock()
            p1.parse(d, None, 0.0)
            t2 = clock()
            f = p2.parse(d, None, 0.0)
            if to_msg is not None:
                to_msg(f.names, f.positions, f.t, f.skeleton, "world", f.quats, f.conf)
            t3 = clock()
            times["json.loads"].append(t1 - t0)
            times["parse"].append(t2 - t1)
            times["parse+msg"].append(t3 - t2)
    return {k: np.asarray(v) / 1e3 for k, v in times.items() if v}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="datagrams per variant")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="thread CPU time (robust on a shared machine) or wall",
    )
    args = ap.parse_args()
    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data folder not found (set HGPT_SHARED_DATA)")
    human = root / "motions" / "human"
    clips = {
        "cmu 01_01": human / "cmu_bvh_fairmotion" / "01_01.bvh",
        "bandai walk": sorted((human / "bandai_namco").rglob("*walk_normal_001.bvh"))[0],
    }
    try:
        from hgpt_retarget.msg_conv import human_pose_to_msg
    except ImportError:  # hgpt_msgs not built: parse columns only
        human_pose_to_msg = None
    clock = time.thread_time_ns if args.clock == "cpu" else time.perf_counter_ns
    print(f"per datagram, {args.clock} time, {args.n} datagrams x {args.repeats} repeats per row")
    print(
        f"{'clip':<12} {'variant':<12} {'bytes':>6} | {'json.loads':>16} | {'parse':>16} | {'parse+msg':>16}"
    )
    unit = "median   p99 us"
    print(f"{'':<12} {'':<12} {'':>6} | {unit:>16} | {unit:>16} | {unit:>16}")
    for clip, path in clips.items():
        motion = load_human(path)[0]
        for variant in ("pos", "names every", "+quat+conf", "cm, y-up"):
            data = datagrams(motion, args.n, variant)
            t = measure(data, args.repeats, human_pose_to_msg, clock)
            cells = [
                f"{np.median(t[k]):7.1f} {np.percentile(t[k], 99):7.1f}" if k in t else f"{'-':>16}"
                for k in ("json.loads", "parse", "parse+msg")
            ]
            size = int(np.median([len(d) for d in data]))
            print(f"{clip:<12} {variant:<12} {size:>6} | {cells[0]:>16} | {cells[1]:>16} | {cells[2]:>16}")


if __name__ == "__main__":
    main()
