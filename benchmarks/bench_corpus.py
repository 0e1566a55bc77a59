"""Benchmark: corpus build and streaming reads, frames/s per core, with baselines in the same run.

Rows (each measured in a fresh subprocess, so the peak RSS of a row is its own):
  * build local   - hgpt corpus build in one process (load, resample, FK filter, time-warp, write, pack).
  * build ray     - the same build as Ray tasks on --cpus local CPUs (per core = frames/s / cpus).
  * read mmap     - CorpusReader.sample: random windows of T frames from the memory-mapped Arrow shards.
  * read memory   - baseline: the same windows sliced from numpy arrays already loaded in RAM.
  * read npz      - baseline: the same windows from per-entry .npz files (np.load + slice per window).
  * iter mmap     - CorpusReader.iter_windows over the whole split (sequential, zero-copy views).
Build frames = stored frames (all time-warp copies); read frames = frames of the windows returned.
Per core = frames / CPU seconds of the process (the machine may be shared; wall time is shown too).
Latency: median and p99 [ms] of one clip (build local: time between consecutive finished units), one batch of
BATCH windows (read rows) or BATCH consecutive windows (iter).
Peak memory: ru_maxrss (peak resident set, includes touched pages of mapped files) and the tracemalloc
peak of Python/numpy heap allocations during the read loop.

Usage: python benchmarks/bench_corpus.py [--quick] [--ray] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from hgpt_core.corpus_store import COLUMNS, CorpusReader
from hgpt_training.corpus import CorpusConfig, build

WINDOW, BATCH = 64, 256
QUICK_SOURCES = ("gmt", "pbhc", "holosoma")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def phase_build(out: str, executor: str, cpus: int, quick: bool) -> dict:
    cfg = CorpusConfig(out=Path(out), executor=executor, num_cpus=cpus, progress=False,
                       sources=QUICK_SOURCES if quick else ())  # fmt: skip
    stamps = [time.perf_counter()]
    t0, c0 = stamps[0], time.process_time()
    r = build(cfg, on_unit_done=lambda _: stamps.append(time.perf_counter()))
    sec, cpu = time.perf_counter() - t0, time.process_time() - c0
    # Ray: tasks overlap, there is no per-clip time
    lat = np.diff(stamps) * 1e3 if executor == "local" else np.zeros(0)
    frames = sum(e["frames"] for e in r.manifest["entries"] if e["verdict"] == "accepted")
    if executor == "ray":  # the work runs in worker processes: charge every CPU for the whole wall time
        cpu = sec * cpus
    res = {"frames": frames, "seconds": sec, "cpu": cpu, "rss_mb": peak_rss_mb(), "heap_mb": None}
    return {**res, **_pct(lat)}


def _pct(lat_ms: np.ndarray) -> dict:
    """Median and p99 of latencies [ms] (None if there are none)."""
    if len(lat_ms) == 0:
        return {"p50_ms": None, "p99_ms": None}
    return {"p50_ms": float(np.median(lat_ms)), "p99_ms": float(np.percentile(lat_ms, 99))}


def _windows(reader: CorpusReader, n_batches: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(0)
    lengths = reader.lengths
    idx = rng.choice(len(lengths), size=n_batches * BATCH, p=lengths / lengths.sum())
    starts = rng.integers(0, lengths[idx] - WINDOW + 1)
    return list(zip(idx.tolist(), starts.tolist(), strict=True))


def phase_read(corpus: str, mode: str, n_batches: int) -> dict:
    reader = CorpusReader(corpus, "train")
    wins = _windows(reader, n_batches)
    npz_dir = None
    if mode == "memory":
        arrays = [{k: np.array(v) for k, v in reader.frames(i).items()} for i in range(len(reader))]
        get = lambda i, s: {k: v[s : s + WINDOW] for k, v in arrays[i].items()}  # noqa: E731
    elif mode == "npz":
        npz_dir = tempfile.TemporaryDirectory()
        for i in range(len(reader)):
            np.savez(f"{npz_dir.name}/{i}.npz", **reader.frames(i))

        def get(i: int, s: int) -> dict:
            with np.load(f"{npz_dir.name}/{i}.npz") as z:
                return {k: z[k][s : s + WINDOW] for k in COLUMNS}
    else:
        get = lambda i, s: reader.frames(i, s, s + WINDOW)  # noqa: E731

    def run(pairs: list[tuple[int, int]]) -> list[float]:
        lat = []
        for b in range(0, len(pairs), BATCH):
            t = time.perf_counter()
            out = {k: np.empty((BATCH, WINDOW, w), np.float32) for k, w in COLUMNS.items()}
            for j, (i, s) in enumerate(pairs[b : b + BATCH]):
                for k, v in get(i, s).items():
                    out[k][j] = v
            lat.append((time.perf_counter() - t) * 1e3)
        return lat

    t0, c0 = time.perf_counter(), time.process_time()
    if mode == "iter":
        frames, lat, t = 0, [], time.perf_counter()
        for n, w in enumerate(reader.iter_windows(WINDOW, WINDOW), 1):
            frames += w.columns["joint_pos"].shape[0]
            if n % BATCH == 0:
                lat.append((time.perf_counter() - t) * 1e3)
                t = time.perf_counter()
    else:
        lat = run(wins)
        frames = len(wins) * WINDOW
    sec, cpu = time.perf_counter() - t0, time.process_time() - c0
    tracemalloc.start()
    run(wins[: 4 * BATCH])
    heap = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    base = sum(a.nbytes for a in arrays for a in a.values()) / 2**20 if mode == "memory" else 0.0
    res = {"frames": frames, "seconds": sec, "cpu": cpu, "rss_mb": peak_rss_mb(), "heap_mb": heap + base}
    return {**res, **_pct(np.asarray(lat))}


def child(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--phase", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"phase {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"sources {QUICK_SOURCES} only, fewer read batches")
    ap.add_argument("--ray", action="store_true", help="also time the Ray build")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phase:
        kind, *rest = a.phase
        res = phase_build(rest[0], rest[1], int(rest[2]), rest[3] == "1") if kind == "build" else phase_read(
            rest[0], rest[1], int(rest[2]))  # fmt: skip
        print(json.dumps(res))
        return
    n_batches = 8 if a.quick else 200  # npz (the slow baseline) reads a fifth of them
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("build local", child(["build", f"{tmp}/local", "local", "1", str(int(a.quick))])))
        if a.ray:
            rows.append(("build ray", child(["build", f"{tmp}/ray", "ray", str(a.cpus), str(int(a.quick))])))
        for mode in ("mmap", "memory", "npz"):
            n = max(4, n_batches // 5) if mode == "npz" else n_batches
            rows.append((f"read {mode}", child(["read", f"{tmp}/local", mode, str(n)])))
        rows.append(("iter mmap", child(["read", f"{tmp}/local", "iter", "0"])))
    what = f"quick: {', '.join(QUICK_SOURCES)}" if a.quick else "all shared G1 sources"
    print(f"corpus benchmark ({what}; windows {BATCH} x {WINDOW} frames, 6 float32 columns)")
    print(
        "| row | frames | wall s | CPU s | frames/s per core | median ms | p99 ms | peak RSS MB | heap MB "
        "| vs read memory |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    mem = next(r for n, r in rows if n == "read memory")
    for name, r in rows:
        fps = r["frames"] / r["cpu"]
        ratio = f"{fps / (mem['frames'] / mem['cpu']):.2f}x" if name.startswith(("read", "iter")) else ""
        heap = f"{r['heap_mb']:.1f}" if r["heap_mb"] is not None else "-"
        cells = [
            name,
            r["frames"],
            f"{r['seconds']:.2f}",
            f"{r['cpu']:.2f}",
            f"{fps:,.0f}",
            *(f"{r[k]:.2f}" if r[k] is not None else "-" for k in ("p50_ms", "p99_ms")),
            f"{r['rss_mb']:.0f}",
        ]
        print(f"| {' | '.join(map(str, cells))} | {heap} | {ratio} |")
    print("frames/s per core = frames / CPU seconds of the process (Ray: wall seconds x CPUs).")
    print(f"median/p99 ms: build = per clip, read = per batch of {BATCH} windows, iter = per {BATCH}.")
    print("vs read memory = frames/s per core relative to the in-RAM numpy baseline of the same run.")


if __name__ == "__main__":
    main()
