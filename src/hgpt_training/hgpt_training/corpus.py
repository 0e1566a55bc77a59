"""The motion corpus build: filter, 50 Hz, time-warp copies, split, sharded Arrow store.

Stage 1, one work unit per source file (in this process, or as Ray tasks): load (retarget for human sources),
resample to the control rate, filter, time-warp, write ``work/parts/<unit>.arrow`` + ``.json`` atomically.
A unit whose ``.json`` exists with the same inputs and settings is skipped, so an interrupted build resumes.
Stage 2 (driver, :mod:`hgpt_training.corpus_pack`): deduplicate, split by source clip, pack shards, manifest.
The command line (``hgpt corpus``) is :mod:`hgpt_training.corpus_cli`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from hgpt_core.corpus_store import clip_columns, concat_columns, write_arrow
from hgpt_core.datasets import shared_data_dir
from hgpt_core.errors import HgptError
from hgpt_core.motion import CONTROL_FPS, MotionClip, atomic_write_bytes
from hgpt_training.corpus_filter import FilterConfig, assess_clip, copy_reasons, shift_clip
from hgpt_training.corpus_pack import pack
from hgpt_training.corpus_sources import (
    CorpusSource,
    default_sources,
    object_interaction_reason,
    select_sources,
)

ASAP_SINGLES = "motions/g1/asap/*/*/singles/0-motions_raw_tairantestbed_smpl_video_"
SUBSET_INCLUDE: tuple[str, ...] = (
    "motions/g1/gmt/*.pkl",
    "motions/g1/pbhc/*.pkl",
    f"{ASAP_SINGLES}walk_level*",
    f"{ASAP_SINGLES}kick_level*",
    f"{ASAP_SINGLES}squat_level*",
    f"{ASAP_SINGLES}jump_forward_level[12]_*",
    "motions/g1/holosoma/*.npz",
    "motions/g1/g1_moves/*/M_ShortMove14/*/M_ShortMove14.*",
    "motions/g1/g1_moves/*/J_ShortDance16_JazzWalk/*/*.csv",
    "motions/g1/g1_moves/*/B_AttackKarate/*/*.csv",
    "motions/g1/lafan1/walk1_subject1.csv",
    "motions/human/cmu_bvh_fairmotion/01_01.bvh",
    "motions/human/bandai_namco/dataset-1/dataset-1_walk_normal_00[12].bvh",  # 002: 0.98 s, too short
    "motions/human/bandai_namco/dataset-1/dataset-1_punch_normal_001.bvh",
    "motions/human/bandai_namco/dataset-2*/dataset-2_walk_normal_001.bvh",
    "motions/human/bandai_namco/dataset-2*/dataset-2_wave-both-hands_normal_001.bvh",
    "motions/human/holosoma_demo_data/climb/mocap_climb_seq_1/*.npy",
    "motions/human/holosoma_demo_data/OMOMO_new/*.pt",
)
"""The CI subset of ``hgpt corpus all`` (every kind of source, walks, kicks, dances, the object-interaction
clips that must be rejected, a G1 twin pair for the duplicate rule, a too short clip): 43 files, about 3
minutes on 2 cores with the HME report (``hgpt corpus all``)."""

CORPUS_CODE_VERSION = 1  # bump when a unit's output changes for the same inputs and settings
SIGNATURE_STEP = 25  # frames at 50 Hz between the joint samples of a clip's duplicate signature
SIGNATURE_LEN = 16


@dataclass(frozen=True)
class CorpusConfig:
    """Corpus build settings."""

    out: Path = Path("outputs/corpus")
    """Output folder: manifest.json, shards/, work/ (resumable per-clip parts)."""
    data_root: Path | None = None
    """Shared data folder (default: $HGPT_SHARED_DATA or ../shared/data)."""
    sources: tuple[str, ...] = ()
    """Source names to ingest (empty = all)."""
    permissive_only: bool = False
    """Skip sources under non-permissive licences (CC BY-NC...): a corpus whose trained weights carry no
    non-commercial data (the release card lists each source's licence)."""
    include: tuple[str, ...] = ()
    """fnmatch patterns on file paths relative to data_root (empty = every file)."""
    include_human: bool = False
    """Also ingest the human mocap sources, retargeted by hgpt_retarget (about 450 frames/s per core)."""
    fps: float = CONTROL_FPS
    """Store frame rate [Hz]."""
    speed_factors: tuple[float, ...] = (0.8, 0.9, 1.0, 1.1, 1.25)
    """Time-warp factors (>1 plays faster); 1.0 (the original) is always included."""
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    """Seed of the split hash."""
    shard_frames: int = 1 << 18
    """Rows per shard (an entry is never split; a longer one gets its own shard)."""
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    """Ray cluster address (None = start a local Ray with num_cpus). Workers must see out (shared FS)."""
    num_cpus: int = 2
    units_per_task: int = 4
    """Clips per Ray task."""
    progress: bool = True
    filter: FilterConfig = field(default_factory=FilterConfig)


@dataclass(frozen=True)
class WorkUnit:
    """One source file to process."""

    clip_id: str
    source: CorpusSource
    path: Path
    rel_path: str

    @property
    def part_name(self) -> str:
        return hashlib.sha1(self.clip_id.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class BuildResult:
    manifest: dict
    computed: int
    skipped: int
    packed: bool
    seconds: float


def factors(cfg: CorpusConfig) -> tuple[float, ...]:
    return tuple(sorted({1.0, *(float(f) for f in cfg.speed_factors)}))


def unit_cfg_hash(cfg: CorpusConfig) -> str:
    """Hash of everything that changes a unit's output for the same input file."""
    blob = json.dumps([CORPUS_CODE_VERSION, cfg.fps, factors(cfg), dataclasses.asdict(cfg.filter)])
    return hashlib.sha1(blob.encode()).hexdigest()


def list_units(
    cfg: CorpusConfig, root: Path, catalogue: dict[str, CorpusSource] | None = None
) -> list[WorkUnit]:
    """Every selected file as a unit; clip id = ``source/stem`` (``source/relative path`` on a stem clash)."""
    units = []
    catalogue = catalogue if catalogue is not None else default_sources(cfg.include_human)
    for src in select_sources(catalogue, cfg.sources):
        if cfg.permissive_only and not src.permissive:
            continue
        files = [
            p
            for p in src.files(root)
            if not cfg.include or any(fnmatch.fnmatch(str(p.relative_to(root)), pat) for pat in cfg.include)
        ]
        stems = [p.name.split(".")[0] for p in files]
        for p, stem in zip(files, stems, strict=True):
            rel = str(p.relative_to(root))
            name = stem if stems.count(stem) == 1 else rel.rsplit(".", 1)[0]
            units.append(WorkUnit(f"{src.name}/{name}", src, p, rel))
    return units


def time_warp(clip: MotionClip, factor: float, fps: float) -> MotionClip:
    """The clip played ``factor`` times faster, sampled at ``fps`` (factor 1 = ``clip.resample(fps)``)."""
    if factor == 1.0:
        return clip.resample(fps)
    n = int(np.floor(clip.duration / factor * fps + 1e-6)) + 1
    root_pos, root_quat, joint_pos = clip.sample(np.arange(n) * factor / fps)
    meta = {**clip.meta, "speed_factor": factor}
    return dataclasses.replace(
        clip, root_pos=root_pos, root_quat=root_quat, joint_pos=joint_pos, fps=fps, meta=meta
    )


def _clip_record(unit: WorkUnit, clip: MotionClip | None) -> dict:
    return {
        "clip_id": unit.clip_id,
        "source": unit.source.name,
        "kind": unit.source.kind,
        "licence": unit.source.licence,
        "permissive": unit.source.permissive,
        "file": unit.rel_path,
        "fps_original": clip.fps if clip else None,
        "frames_original": clip.num_frames if clip else 0,
        "duration_s": round(clip.duration, 4) if clip else 0.0,
    }


def process_unit(unit: WorkUnit, cfg: CorpusConfig, parts_dir: Path) -> dict:
    """Load, filter, time-warp and store one file; returns its record (also written as ``<part>.json``)."""
    data = unit.path.read_bytes()
    record: dict[str, Any] = {
        "unit_hash": unit_cfg_hash(cfg),
        "content_sha1": hashlib.sha1(data).hexdigest(),
        "stat": [len(data), unit.path.stat().st_mtime_ns],
        "part": f"{unit.part_name}.arrow",
        "signature": [],
        "copies": [],
    }
    object_reason = object_interaction_reason(unit.source, unit.rel_path)
    if object_reason and unit.source.kind == "human":  # rejected anyway: do not spend the retargeting on it
        return _reject_unloaded(record, unit, parts_dir, object_reason)
    try:
        clip = unit.source.load(unit.path)
    except Exception as exc:  # any loader / retargeter failure is one file's rejection, never the build's end
        return _reject_unloaded(record, unit, parts_dir, f"load_error: {type(exc).__name__}: {exc}")
    reasons = [object_reason] if object_reason else []
    assessment, base = assess_clip(clip.resample(cfg.fps), cfg.filter)
    reasons += assessment.reasons
    record["clip"] = {
        **_clip_record(unit, clip),
        "verdict": "rejected" if reasons else "accepted",
        "reasons": reasons,
        "ground_shift_m": assessment.ground_shift_m,
        "stats": assessment.stats,
    }
    record["signature"] = np.round(
        base.joint_pos[: SIGNATURE_STEP * SIGNATURE_LEN : SIGNATURE_STEP], 6
    ).tolist()
    pieces, offset = [], 0
    for f in factors(cfg):
        copy = base if f == 1.0 else shift_clip(time_warp(clip, f, cfg.fps), assessment.ground_shift_m)
        why = copy_reasons(copy, cfg.filter)
        stored = not reasons and not why
        record["copies"].append(
            {
                "factor": f,
                "frames": copy.num_frames,
                "reasons": why,
                "part_offset": offset if stored else None,
            }
        )
        if stored:
            pieces.append(clip_columns(copy))
            offset += copy.num_frames
    return _save_record(record, unit, parts_dir, pieces)


def _reject_unloaded(record: dict, unit: WorkUnit, parts_dir: Path, reason: str) -> dict:
    """Record of a file rejected without (or on failing) loading it: no copies, no frames."""
    record["clip"] = {
        **_clip_record(unit, None),
        "verdict": "rejected",
        "reasons": [reason],
        "ground_shift_m": 0.0,
        "stats": {},
    }
    return _save_record(record, unit, parts_dir, [])


def _save_record(record: dict, unit: WorkUnit, parts_dir: Path, pieces: list[dict]) -> dict:
    if pieces:
        write_arrow(parts_dir / record["part"], concat_columns(pieces))
    atomic_write_bytes(parts_dir / f"{unit.part_name}.json", json.dumps(record).encode())
    return record


def process_units(units: list[WorkUnit], cfg: CorpusConfig, parts_dir: Path) -> list[dict]:
    """A batch of units (one Ray task)."""
    return [process_unit(u, cfg, parts_dir) for u in units]


def finished_record(unit: WorkUnit, cfg: CorpusConfig, parts_dir: Path) -> dict | None:
    """The unit's record if it was already built from the same file with the same settings."""
    path = parts_dir / f"{unit.part_name}.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    stat = unit.path.stat()
    same = record["unit_hash"] == unit_cfg_hash(cfg) and record["stat"] == [stat.st_size, stat.st_mtime_ns]
    stored = any(c["part_offset"] is not None for c in record["copies"])
    return record if same and (not stored or (parts_dir / record["part"]).is_file()) else None


def _run_ray(batches: list[list[WorkUnit]], cfg: CorpusConfig, parts_dir: Path, done: Callable) -> None:
    import ray

    started = not ray.is_initialized()
    if started:
        kw = {"address": cfg.ray_address} if cfg.ray_address else {"num_cpus": cfg.num_cpus}
        ray.init(include_dashboard=False, log_to_driver=False, **kw)
    try:
        task = ray.remote(process_units)
        pending = [task.remote(b, cfg, parts_dir) for b in batches]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for record in ray.get(ready[0]):
                done(record)
    finally:
        if started:
            ray.shutdown()


def build(
    cfg: CorpusConfig,
    on_unit_done: Callable[[dict], None] | None = None,
    catalogue: dict[str, CorpusSource] | None = None,
) -> BuildResult:
    """Run both stages; ``on_unit_done(record)`` is called in the driver after each computed unit.

    ``catalogue`` replaces the default sources (``default_sources(cfg.include_human)``): a new source, e.g.
    another mocap set with its own retargeting loader, plugs in as ``{**default_sources(), "mine": src}``.
    """
    t0 = time.perf_counter()
    root = cfg.data_root or shared_data_dir()
    if root is None:
        raise HgptError("shared data folder not found; set HGPT_SHARED_DATA or pass --data-root")
    units = list_units(cfg, Path(root), catalogue)
    if not units:
        raise HgptError(f"no files selected under {root} (sources={cfg.sources}, include={cfg.include})")
    out, parts_dir = Path(cfg.out), Path(cfg.out) / "work" / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    for tmp in parts_dir.glob(".*.tmp"):  # torn writes of a killed run (atomic writes never expose them)
        tmp.unlink(missing_ok=True)
    records = {u.clip_id: finished_record(u, cfg, parts_dir) for u in units}
    todo = [u for u in units if records[u.clip_id] is None]
    bar = tqdm(total=len(todo), desc="corpus units", unit="clip", disable=not cfg.progress)

    def done(record: dict) -> None:
        records[record["clip"]["clip_id"]] = record
        bar.update(1)
        if on_unit_done is not None:
            on_unit_done(record)

    try:
        if cfg.executor == "ray":
            batches = [todo[i : i + cfg.units_per_task] for i in range(0, len(todo), cfg.units_per_task)]
            _run_ray(batches, cfg, parts_dir, done)
        else:
            for u in todo:
                done(process_unit(u, cfg, parts_dir))
    finally:
        bar.close()
    pack_cfg = {k: getattr(cfg, k) for k in ("fps", "val_fraction", "test_fraction", "seed", "shard_frames")}
    manifest_cfg = {
        **pack_cfg,
        "speed_factors": list(factors(cfg)),
        "sources": list(cfg.sources),
        "permissive_only": cfg.permissive_only,
        "include": list(cfg.include),
        "filter": dataclasses.asdict(cfg.filter),
    }
    order = list(dict.fromkeys(u.source.name for u in units))
    finished = [r for r in records.values() if r is not None]
    assert len(finished) == len(records)  # each unit was on disk already or has just been processed
    manifest, packed = pack(finished, parts_dir, out, unit_cfg_hash(cfg), pack_cfg, manifest_cfg, order)
    result = BuildResult(manifest, len(todo), len(units) - len(todo), packed, time.perf_counter() - t0)
    log = {
        "computed": result.computed,
        "skipped": result.skipped,
        "packed": packed,
        "seconds": result.seconds,
        "executor": cfg.executor,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    atomic_write_bytes(out / "build_log.json", json.dumps(log, indent=1).encode())
    return result


def print_summary(manifest: dict) -> None:
    """Per-source table of the manifest summary."""
    s = manifest["summary"]
    print("| source | licence | clips | accepted | frames 50 Hz | frames with time-warp |")
    print("|---|---|---:|---:|---:|---:|")
    for name, v in s["per_source"].items():
        row = (name, v["licence"], v["clips"], v["accepted_clips"], v["frames_50hz"], v["frames_augmented"])
        print("| {} | {} | {} | {} | {} | {} |".format(*row))
    print(f"rejections by rule: {s['rejections_by_rule']}; frames per split: {s['frames_per_split']}")
