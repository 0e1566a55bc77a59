"""Benchmark: offline retargeting throughput per core and live per-frame latency, on the shared mocap.

Offline rows (one process pinned to one core): output frames (50 Hz) per CPU second (thread time) for each
stage: read (parse + BVH FK + checks), targets (scale, stance, frames), IK (mink, 3 QP iterations per
frame), post (joint low-pass + root height fix); ``x real time`` = clip seconds / CPU seconds; the last
column is wall-clock throughput, which other processes on a shared machine lower. An IK row
without the floor and self-collision limits shows what those constraints cost.
Live rows: LiveRetargeter.step fed frame by frame at 50 Hz (2 QP iterations per frame); latency median /
p99 / max; ``x real time`` = the 20 ms frame period / p99. Anchor: GMR reports 35-70 frames/s on a desktop
CPU. The load average is printed: other processes on a shared machine inflate the tail.

Usage: python benchmarks/bench_retarget.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from hgpt_core.datasets import shared_data_dir
from hgpt_retarget.ground import root_height_offsets
from hgpt_retarget.human import load_human
from hgpt_retarget.ik import G1IK, IKConfig
from hgpt_retarget.live import LiveRetargeter
from hgpt_retarget.retarget import RetargetConfig, smooth_qpos, sole_heights, solve_sequence
from hgpt_retarget.targets import build_targets

FPS = 50.0


def _sources(root: Path, quick: bool) -> dict[str, list[Path]]:
    human, g1 = root / "motions" / "human", root / "motions" / "g1"
    n = 3 if quick else 12
    return {
        "bandai_namco": sorted((human / "bandai_namco").rglob("*.bvh"))[:: 20 if quick else 8][:n],
        "cmu": sorted((human / "cmu_bvh_fairmotion").glob("*.bvh")),
        "asap smpl24": sorted(g1.glob("asap/**/*.pkl"))[: 2 if quick else n],
        "holosoma_mocap": sorted((human / "holosoma_demo_data" / "climb").rglob("*.npy"))[:1],
        "omomo_smplh": sorted((human / "holosoma_demo_data" / "OMOMO_new").glob("*.pt"))[:1],
    }


def offline(files: list[Path], cfg: RetargetConfig, max_s: float | None) -> dict[str, float]:
    """Stage timings [s] and output frames over ``files`` (each clip cut to ``max_s`` seconds)."""
    t = dict(read=0.0, targets=0.0, ik=0.0, post=0.0, frames=0, wall=0.0)
    clock = time.thread_time  # CPU time of this thread: robust to other processes on a shared machine
    for f in files:
        w0 = time.perf_counter()
        t0 = clock()
        motion, mapping = load_human(f)
        t1 = clock()
        human = motion.resample(FPS)
        if max_s:
            human = human.window(0, int(max_s * FPS))
        tg = build_targets(human, mapping, None, cfg.stance, cfg.swing_foot_orientation, cfg.smooth_hz)
        t2 = clock()
        ik = G1IK(tg.bodies, cfg.ik)  # construction (~10 ms) is per process in the CLI, not per clip
        t3 = clock()
        q = solve_sequence(ik, tg, FPS, lead_in_s=cfg.lead_in_s)  # with the start: lead-in + converged solve
        t4 = clock()
        q = smooth_qpos(q, FPS, cfg.joint_smooth_hz, ik.model)
        q[:, 2] += root_height_offsets(sole_heights(q), tg.stance)
        t5 = clock()
        t["wall"] += time.perf_counter() - w0 - (t3 - t2)
        t["read"] += t1 - t0
        t["targets"] += t2 - t1
        t["ik"] += t4 - t3
        t["post"] += t5 - t4
        t["frames"] += len(q)
    return t


def live(path: Path, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame wall and CPU time [s] of LiveRetargeter.step over a clip streamed at 50 Hz.

    The first frame (initial solve) is excluded. CPU time (``time.thread_time``) excludes preemption by
    other processes, which dominates the wall-time tail on a loaded machine.
    """
    motion, _ = load_human(path)
    human = motion.resample(FPS)
    lr = LiveRetargeter()
    wall, cpu = [], []
    for i in range(min(frames, human.num_frames)):
        t0, c0 = time.perf_counter(), time.thread_time()
        lr.step(human.joint_names, human.positions[i], i / FPS)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    return np.array(wall[1:]), np.array(cpu[1:])


def _warm_up() -> None:
    """Compile the G1 model and import torch (OMOMO reader) outside the timed regions."""
    import importlib.util

    import scipy.signal  # noqa: F401  (2 s to import; the landmark low-pass needs it)

    from hgpt_retarget.ik import g1_model
    from hgpt_retarget.targets import robot_geometry

    robot_geometry()
    g1_model(floor=True)
    if importlib.util.find_spec("torch"):
        import torch  # noqa: F401


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few short clips only (~30 s)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU core")
    args = ap.parse_args()
    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data not found: set HGPT_SHARED_DATA")
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    max_s = 4.0 if args.quick else None
    cfg = RetargetConfig()
    _warm_up()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; pinned: {not args.no_pin}\n")
    head = "| offline, 1 core (CPU time) | clips | frames | read f/s | targets f/s | IK f/s | post f/s"
    head += " | total f/s"
    print(head + " | x real time | total f/s (wall) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    sources = _sources(root, args.quick)
    for name, files in sources.items():
        if not files:
            print(f"| {name} | 0 | - | - | - | - | - | - | - |")
            continue
        t = offline(files, cfg, max_s)
        total = t["read"] + t["targets"] + t["ik"] + t["post"]
        n = t["frames"]
        f = [n / max(t[k], 1e-9) for k in ("read", "targets", "ik", "post")]
        print(
            f"| {name} | {len(files)} | {n} | {f[0]:.0f} | {f[1]:.0f} | {f[2]:.0f} | {f[3]:.0f} | "
            f"{n / total:.0f} | {n / FPS / total:.1f} | {n / t['wall']:.0f} |"
        )
    bare = replace(cfg, ik=IKConfig(self_collision=False, floor=False))
    t = offline(sources["bandai_namco"], bare, max_s)
    n_bandai = len(sources["bandai_namco"])
    ik_fps = t["frames"] / max(t["ik"], 1e-9)
    print(
        f"| bandai_namco, IK w/o floor + self-collision | {n_bandai} | {t['frames']} | - | - | {ik_fps:.0f} |"
    )
    head = "\n| live (LiveRetargeter.step) | frames | median [ms] | p99 [ms] | max [ms] | CPU median [ms]"
    print(head + " | CPU p99 [ms] | x real time (20 ms / p99) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, files in (("bandai_namco walk", sources["bandai_namco"]), ("cmu 01_01", sources["cmu"])):
        walk = [f for f in files if "walk" in f.name] or files
        if not walk:
            continue
        lat, cpu = live(walk[0], 150 if args.quick else 1500)
        lat, cpu = lat * 1e3, cpu * 1e3
        p99 = np.percentile(lat, 99)
        print(
            f"| {name} | {len(lat)} | {np.median(lat):.2f} | {p99:.2f} | {lat.max():.2f} | "
            f"{np.median(cpu):.2f} | {np.percentile(cpu, 99):.2f} | {20.0 / p99:.1f} |"
        )


if __name__ == "__main__":
    main()
