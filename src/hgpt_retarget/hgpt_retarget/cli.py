"""hgpt-retarget: human mocap files or folders in, 50 Hz G1 clips (``.clip.npz``) and a quality report out.

    python -m hgpt_retarget.cli ../shared/data/motions/human/bandai_namco --out outputs/retarget/bandai

Parallel over files (processes, or Ray with ``--backend ray``), resumable (a file whose clip and quality
sidecar exist is skipped; every write is atomic), with a progress bar. The report is rebuilt from all
sidecars at the end: ``<out>/retarget_report.{json,md}``.

Subcommands: ``hgpt retarget compare`` (:mod:`hgpt_retarget.compare`), ``hgpt retarget startup``
(:mod:`hgpt_retarget.startup`).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import tyro
from tqdm import tqdm

from hgpt_core.errors import HgptError
from hgpt_core.motion import atomic_write_bytes
from hgpt_retarget.human import SUFFIX_FORMAT, load_human
from hgpt_retarget.quality import evaluate_clip, write_report
from hgpt_retarget.retarget import RetargetConfig, retarget_motion

CLIP_SUFFIX = ".clip.npz"
QUALITY_SUFFIX = ".quality.json"


@dataclass(frozen=True)
class RetargetJob:
    """One file to retarget; plain data so that a process pool or Ray can ship it."""

    input: str
    output: str  # path of the .clip.npz to write
    skeleton: str | None = None
    fps: float | None = None
    source: str = "unknown"
    cfg: RetargetConfig = field(default_factory=RetargetConfig)

    @property
    def sidecar(self) -> Path:
        return Path(self.output.removesuffix(CLIP_SUFFIX) + QUALITY_SUFFIX)

    def done(self) -> bool:
        """Both outputs exist (the sidecar is written last, so its presence means the clip is complete)."""
        return Path(self.output).is_file() and self.sidecar.is_file()


def retarget_file(job: RetargetJob) -> dict:
    """Retarget one file, write the clip and its quality sidecar; return the report row.

    Never raises on bad input: the row then has an ``error`` field (and no outputs are written).
    """
    t0 = time.perf_counter()
    name = Path(job.input).name
    try:
        motion, mapping = load_human(job.input, job.skeleton, job.fps, job.source)
        res = retarget_motion(motion, mapping, job.cfg)
        res.clip.save(job.output)
        quality = evaluate_clip(res.clip, res.targets.stance, res.targets.human_scaled)
        row = quality.as_dict() | {
            "input": job.input,
            "skeleton": mapping.name,
            "scale": round(res.targets.scale, 4),
            "ik_frames_per_s": round(res.clip.num_frames / max(res.ik_seconds, 1e-9), 1),
            "lead_in_round_trip_rad": round(res.clip.meta["start_retry"]["round_trip_rad"], 4),
            "lead_in_s": res.clip.meta["start_retry"]["lead_in_s"],  # > the default: start retried
            "seconds": round(time.perf_counter() - t0, 3),
        }
    except (HgptError, ValueError, OSError, EOFError) as exc:
        return {"name": name, "input": job.input, "error": f"{type(exc).__name__}: {exc}"}
    atomic_write_bytes(job.sidecar, json.dumps(row, indent=1).encode())
    return row


def find_inputs(paths: tuple[str, ...] | list[str]) -> list[tuple[Path, Path]]:
    """(file, root) for every supported file under the given files/folders, sorted; root names outputs."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            files = (f for f in p.rglob("*") if f.suffix.lower() in SUFFIX_FORMAT and f.is_file())
            found += [(f, p) for f in sorted(files) if not f.name.endswith((CLIP_SUFFIX, ".quality.json"))]
        elif p.is_file():
            found.append((p, p.parent))
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return found


def plan_jobs(args: Args) -> list[RetargetJob]:
    """One job per input file; outputs mirror the input tree under ``args.out``."""
    cfg = replace(args.config, subject_height=args.human_height or args.config.subject_height)
    jobs = []
    for f, root in find_inputs(args.inputs):
        rel = f.relative_to(root).with_suffix("")
        out = args.out / (str(rel) + CLIP_SUFFIX)
        src = args.source or root.name
        jobs.append(RetargetJob(str(f), str(out), args.skeleton, args.fps, src, cfg))
    return jobs[: args.limit] if args.limit else jobs


def run_jobs(jobs: list[RetargetJob], workers: int, backend: str = "process") -> Iterator[dict]:
    """Yield report rows as jobs finish (processes, Ray, or in this process when ``workers`` <= 1)."""
    if not jobs:
        return
    if backend == "ray":
        import ray  # optional dependency

        ray.init(ignore_reinit_error=True, num_cpus=workers)
        remote = ray.remote(retarget_file)
        pending = [remote.remote(j) for j in jobs]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    elif workers <= 1 or len(jobs) == 1:
        yield from map(retarget_file, jobs)
    else:
        with mp.get_context("fork").Pool(min(workers, len(jobs))) as pool:
            yield from pool.imap_unordered(retarget_file, jobs)


@dataclass
class Args:
    """Retarget human motion files to the G1 (50 Hz hgpt clips) with a quality report.

    Also: ``hgpt retarget compare --help`` (ours vs a peer's retarget, one table) and
    ``hgpt retarget startup --help`` (start-up speed check).
    """

    inputs: tyro.conf.Positional[tuple[str, ...]]
    """Files or folders (searched recursively for .bvh .npy .npz .pt .pkl)."""
    out: Path = Path("outputs/retarget")
    """Output folder; clips mirror the input tree as <name>.clip.npz plus <name>.quality.json."""
    skeleton: str | None = None
    """Skeleton mapping (name in hgpt_retarget/skeletons or a YAML path); None detects it per file."""
    fps: float | None = None
    """Input frame rate [Hz] for files that do not store it."""
    source: str | None = None
    """Source name written into the clips (default: the input folder's name)."""
    human_height: float | None = None
    """Subject height [m] (default: estimated from leg length per clip)."""
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Parallel worker processes."""
    backend: Literal["process", "ray"] = "process"
    """Fan-out: a local process pool or a Ray cluster (needs `pip install ray`)."""
    overwrite: bool = False
    """Redo files whose outputs exist (default: skip them; runs are resumable)."""
    limit: int | None = None
    """Only the first N files (sorted)."""
    report: str = "retarget_report"
    """Report file stem in ``out``."""
    config: RetargetConfig = field(default_factory=RetargetConfig)


def run(args: Args) -> list[dict]:
    """Plan, skip finished, fan out, and write the report; returns all rows (skipped ones included)."""
    jobs = plan_jobs(args)
    todo = [j for j in jobs if args.overwrite or not j.done()]
    t0 = time.perf_counter()
    rows = []
    bar = tqdm(run_jobs(todo, args.workers, args.backend), total=len(todo), unit="clip", desc="retarget")
    for row in bar:
        rows.append(row)
        if "error" in row:
            tqdm.write(f"failed: {row['input']}: {row['error']}")
    wall = time.perf_counter() - t0
    done_rows = [json.loads(j.sidecar.read_text()) for j in jobs if j.sidecar.is_file()]
    errors = [r for r in rows if "error" in r]
    frames = sum(r.get("frames", 0) for r in rows if "error" not in r)
    extra = {
        "errors": errors,
        "run": {"files": len(jobs), "processed": len(todo), "skipped": len(jobs) - len(todo),
                "wall_s": round(wall, 2), "workers": args.workers, "frames_out": frames,
                "frames_per_s": round(frames / wall, 1) if wall > 0 else None},
    }  # fmt: skip
    md = write_report(done_rows, args.out, args.report, extra)
    print(
        f"{len(todo)} processed ({len(errors)} failed), {len(jobs) - len(todo)} skipped in {wall:.1f} s; {md}"
    )
    return done_rows + errors


SUBCOMMANDS = {
    "compare": "hgpt_retarget.compare",  # ours vs a peer's retarget of the same source, one table
    "startup": "hgpt_retarget.startup",  # first-second joint speed vs the rest of each clip
}


def main() -> None:
    """Console entry point ``hgpt-retarget`` (``hgpt retarget``); ``compare`` / ``startup`` subcommands."""
    import sys

    if len(sys.argv) > 1 and sys.argv[1] in SUBCOMMANDS:
        module = __import__(SUBCOMMANDS[sys.argv[1]], fromlist=["main"])
        sys.argv = [f"{sys.argv[0]} {sys.argv[1]}", *sys.argv[2:]]
        module.main()
        return
    try:
        rows = run(tyro.cli(Args))
    except (HgptError, OSError) as exc:  # a missing input, an unwritable --out: one line naming it
        print(f"hgpt retarget: error: {exc}", file=sys.stderr)
        sys.exit(2)
    if rows and all("error" in r for r in rows):  # nothing retargeted (e.g. its only file failed)
        print(f"hgpt retarget: error: all {len(rows)} file(s) failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
