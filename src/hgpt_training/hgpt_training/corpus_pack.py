"""Second stage of the corpus build: deduplicate, split by source clip, pack shards, write the manifest.

Runs in the driver after every per-clip unit has finished. Everything here is a pure function of the unit
records and the config, so the same records give the same shards and manifest byte for byte.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from hgpt_core.corpus_store import (
    COLUMNS,
    MANIFEST,
    STORE_FORMAT,
    STORE_VERSION,
    concat_columns,
    map_arrow,
    write_arrow,
)
from hgpt_core.motion import atomic_write_bytes

SPLITS = ("train", "val", "test")
PACK_CODE_VERSION = 1  # bump when the pack's output changes for the same records and settings
# Same motion: joint signatures (first 8 s, every 0.5 s) closer than this on average [rad], and durations
# within DUPLICATE_TOL_S. Measured: twins in two formats 1e-7, two ASAP retargets of one video 0.006,
# distinct clips of similar length >= 0.05.
DUPLICATE_TOL_RAD = 0.015
DUPLICATE_TOL_S = 0.1  # and durations within this


def assign_split(clip_id: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    """Deterministic split of a source clip from a hash of (seed, clip id); every copy follows its clip."""
    u = int(hashlib.sha256(f"{seed}:{clip_id}".encode()).hexdigest()[:15], 16) / 16**15
    if u < test_fraction:
        return "test"
    return "val" if u < test_fraction + val_fraction else "train"


def find_duplicates(records: list[dict], source_order: list[str]) -> dict[str, str]:
    """Accepted clips whose motion repeats an earlier one (same joint signature and duration): id -> original.

    Earlier = earlier source in the catalogue, then smaller clip id (e.g. g1_moves CSV before its NPZ twin).
    A clip is compared only with kept clips of a duration within DUPLICATE_TOL_S (bisect on a sorted list), so
    a corpus of N clips costs about N log N, not N^2; the first kept match wins.
    """
    rank = {s: i for i, s in enumerate(source_order)}
    clips = sorted(
        (r for r in records if r["clip"]["verdict"] == "accepted"),
        key=lambda r: (rank.get(r["clip"]["source"], len(rank)), r["clip"]["clip_id"]),
    )
    durations: list[float] = []  # sorted durations of the kept clips
    kept: list[tuple[int, str, np.ndarray]] = []  # (order kept, clip id, signature), aligned with durations
    dups: dict[str, str] = {}
    for r in clips:
        sig, dur = np.asarray(r["signature"]), r["clip"]["duration_s"]
        lo = bisect.bisect_left(durations, dur - 2 * DUPLICATE_TOL_S)  # wide; `close` is the exact test
        hi = bisect.bisect_right(durations, dur + 2 * DUPLICATE_TOL_S)
        match = None
        for j in range(lo, hi):
            order, cid, s = kept[j]
            n = min(len(s), len(sig))
            close = abs(durations[j] - dur) < DUPLICATE_TOL_S
            if (
                close
                and n
                and np.abs(s[:n] - sig[:n]).mean() < DUPLICATE_TOL_RAD
                and (match is None or order < match[0])
            ):
                match = (order, cid)
        if match is not None:
            dups[r["clip"]["clip_id"]] = match[1]
            continue
        at = bisect.bisect_right(durations, dur)
        durations.insert(at, dur)
        kept.insert(at, (len(kept), r["clip"]["clip_id"], sig))
    return dups


def pack_key(records: list[dict], unit_cfg_hash: str, pack_cfg: dict) -> str:
    """Identity of a pack: the inputs' content hashes and the configuration (no paths, no times)."""
    items = sorted((r["clip"]["clip_id"], r["content_sha1"]) for r in records)
    rules = [PACK_CODE_VERSION, DUPLICATE_TOL_RAD, DUPLICATE_TOL_S]
    blob = json.dumps(
        {"clips": items, "unit": unit_cfg_hash, "pack": pack_cfg, "rules": rules}, sort_keys=True
    )
    return hashlib.sha1(blob.encode()).hexdigest()


def finalize_records(records: list[dict], source_order: list[str], pack_cfg: dict) -> tuple[list, list]:
    """(clips, entries) of the manifest: verdicts after deduplication, splits; sorted by clip, factor."""
    dups = find_duplicates(records, source_order)
    clips, entries = [], []
    for r in sorted(records, key=lambda r: r["clip"]["clip_id"]):
        clip = dict(r["clip"])
        if clip["clip_id"] in dups:
            clip["verdict"], clip["reasons"] = (
                "rejected",
                [f"duplicate: same motion as {dups[clip['clip_id']]}"],
            )
        clip["split"] = assign_split(
            clip["clip_id"], pack_cfg["seed"], pack_cfg["val_fraction"], pack_cfg["test_fraction"]
        )
        clips.append(clip)
        for c in r["copies"]:
            reasons = clip["reasons"] if clip["verdict"] == "rejected" else c["reasons"]
            entries.append(
                {
                    "entry_id": f"{clip['clip_id']}@{c['factor']:g}",
                    "clip_id": clip["clip_id"],
                    "source": clip["source"],
                    "licence": clip["licence"],
                    "permissive": clip["permissive"],
                    "fps": pack_cfg["fps"],
                    "fps_original": clip["fps_original"],
                    "factor": c["factor"],
                    "frames": c["frames"],
                    "duration_s": round((c["frames"] - 1) / pack_cfg["fps"], 4),
                    "verdict": "rejected" if reasons else "accepted",
                    "reason": "; ".join(reasons),
                    "split": clip["split"],
                    "shard": None,
                    "offset": None,
                    "_part": r["part"],
                    "_part_offset": c["part_offset"],
                }
            )
    return clips, entries


def write_shards(entries: list[dict], parts_dir: Path, out: Path, key: str, shard_frames: int) -> list[dict]:
    """Pack accepted entries into per-split shards of at most ``shard_frames`` rows (one entry per shard if
    longer); fills each entry's shard and offset; returns the shard records."""
    shards, sub = [], f"shards/{key[:12]}"
    for split in SPLITS:
        todo = [e for e in entries if e["verdict"] == "accepted" and e["split"] == split]
        groups: list[list[dict]] = []
        rows = 0
        for e in todo:
            if not groups or rows + e["frames"] > shard_frames:
                groups.append([])
                rows = 0
            groups[-1].append(e)
            rows += e["frames"]
        for i, group in enumerate(groups):
            name = f"{sub}/{split}-{i:05d}.arrow"
            pieces, offset = [], 0
            for e in group:
                part = map_arrow(parts_dir / e["_part"])
                rows_e = slice(e["_part_offset"], e["_part_offset"] + e["frames"])
                pieces.append({c: part[c][rows_e] for c in COLUMNS})
                e["shard"], e["offset"] = name, offset
                offset += e["frames"]
            write_arrow(out / name, concat_columns(pieces))
            digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
            shards.append(
                {"file": name, "split": split, "frames": offset, "entries": len(group), "sha256": digest}
            )
    return shards


def summarize(clips: list[dict], entries: list[dict]) -> dict:
    """Counts per source and split, and rejection reasons by rule."""
    per_source: dict[str, dict] = {}
    for c in clips:
        s = per_source.setdefault(
            c["source"],
            {
                "clips": 0,
                "accepted_clips": 0,
                "frames_50hz": 0,
                "frames_augmented": 0,
                "licence": c["licence"],
            },
        )
        s["clips"] += 1
        s["accepted_clips"] += c["verdict"] == "accepted"
    for e in entries:
        if e["verdict"] == "accepted":
            per_source[e["source"]]["frames_augmented"] += e["frames"]
            per_source[e["source"]]["frames_50hz"] += e["frames"] if e["factor"] == 1.0 else 0
    rules: dict[str, int] = {}
    for c in clips:
        for why in c["reasons"]:
            rules[why.split(":")[0]] = rules.get(why.split(":")[0], 0) + 1
    per_split = {
        s: sum(e["frames"] for e in entries if e["verdict"] == "accepted" and e["split"] == s) for s in SPLITS
    }
    return {"per_source": per_source, "rejections_by_rule": rules, "frames_per_split": per_split}


def pack(
    records: list[dict],
    parts_dir: Path,
    out: Path,
    unit_cfg_hash: str,
    pack_cfg: dict,
    manifest_cfg: dict,
    source_order: list[str],
) -> tuple[dict, bool]:
    """Write shards + manifest unless the manifest holds this exact pack; returns (manifest, packed)."""
    key = pack_key(records, unit_cfg_hash, pack_cfg)
    path = out / MANIFEST
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("pack_key") == key and all((out / s["file"]).is_file() for s in old["shards"]):
            return old, False
    clips, entries = finalize_records(records, source_order, pack_cfg)
    shards = write_shards(entries, parts_dir, out, key, pack_cfg["shard_frames"])
    for e in entries:
        del e["_part"], e["_part_offset"]
    manifest = {
        "format": STORE_FORMAT,
        "version": STORE_VERSION,
        "fps": pack_cfg["fps"],
        "columns": COLUMNS,
        "pack_key": key,
        "config": manifest_cfg,
        "summary": summarize(clips, entries),
        "shards": shards,
        "clips": clips,
        "entries": entries,
    }
    atomic_write_bytes(path, (json.dumps(manifest, indent=1) + "\n").encode())
    for d in (out / "shards").iterdir():  # shards of earlier packs, now unreferenced
        if d.name != key[:12]:
            shutil.rmtree(d, ignore_errors=True)
    return manifest, True
