"""Benchmark: load the whole shared G1 set and run FK sanity; ratios against baselines in the same run.

Rows:
  * raw parse   - the bare format parse (np.loadtxt / pickle.load / np.load), no checks: the baseline.
  * load_clip   - our reader: parse + validation + quaternion-convention check.
  * fk          - body and site poses of every frame (hgpt_core.kinematics).
  * clip_sanity - FK + feet/floor, upright and joint-limit checks of every frame.
A body-by-body numpy FK over all frames at once measured 3x slower than MuJoCo's C mj_kinematics
per frame during development, so hgpt_core uses the latter.

Usage: python benchmarks/bench_clips.py [--quick]
"""

from __future__ import annotations

import argparse
import pickle
import time

import joblib
import numpy as np

from hgpt_core.datasets import G1_SOURCES, iter_source_files, shared_data_dir
from hgpt_core.formats import load_clip
from hgpt_core.sanity import clip_sanity, kinematics


def _raw(path):
    if path.suffix == ".csv":
        return np.loadtxt(path, delimiter=",")
    if path.suffix == ".pkl":
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except pickle.UnpicklingError:
            return joblib.load(path)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _row(name: str, per_file: list[float], frames: int, base: float | None) -> str:
    total = sum(per_file)
    med, p99 = np.median(per_file) * 1e3, np.percentile(per_file, 99) * 1e3
    ratio = f"{total / base:.2f}x" if base else "1.00x"
    return (
        f"| {name:<13} | {len(per_file):5d} | {frames:8d} | {total:7.2f} | {frames / total:11.0f} "
        f"| {med:11.2f} | {p99:11.2f} | {ratio:>8} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few files per source only")
    args = ap.parse_args()
    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data not found: set HGPT_SHARED_DATA")
    files = []
    for src in G1_SOURCES:
        fs = iter_source_files(src, root)
        files += [(src, f) for f in (fs[:2] if args.quick else fs)]

    kinematics()  # build the model once, outside the timings
    raw_t, load_t, clips = [], [], []
    for src, f in files:
        t0 = time.perf_counter()
        _raw(f)
        raw_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        clips.append(load_clip(f, fps=src.fps, source=src.name, licence=src.licence))
        load_t.append(time.perf_counter() - t0)
    frames = sum(c.num_frames for c in clips)

    fk = kinematics()
    fk_t, sanity_t = [], []
    for c in clips:
        t0 = time.perf_counter()
        fk.forward(c.root_pos, c.root_quat, c.joint_pos)
        fk_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        clip_sanity(c)
        sanity_t.append(time.perf_counter() - t0)

    print(f"shared G1 set: {len(clips)} clips, {frames} frames ({frames / 50 / 60:.1f} min at 50 Hz)\n")
    print(
        "| step          | files |   frames | total s |    frames/s | med ms/file | p99 ms/file | vs base  |"
    )
    print(
        "|---------------|------:|---------:|--------:|------------:|------------:|------------:|---------:|"
    )
    print(_row("raw parse", raw_t, frames, None))
    print(_row("load_clip", load_t, frames, sum(raw_t)))
    print(_row("fk all bodies", fk_t, frames, sum(raw_t)))
    print(_row("clip_sanity", sanity_t, frames, sum(raw_t)))
    print("\n'vs base': total time relative to the raw parse of the same files in this run.")


if __name__ == "__main__":
    main()
