"""Start-up spike check: retarget files and compare each clip's first second with the rest of it.

A start-up spike is the IK catching up from its default pose (or a leading T-pose frame) in the first
frames: the fastest joint over the first second then exceeds the p99 of the per-frame fastest joint after
it (:func:`hgpt_retarget.quality.startup_speeds`). The source's own ratio (fastest landmark, same windows)
tells a spike from a clip that simply starts with its fastest motion::

    hgpt retarget startup                      # every shared BVH
    hgpt retarget startup walk.bvh dance/ --workers 2 --out outputs/retarget/startup

Prints one row per file and a summary; ``--out`` also writes ``startup.{md,json}``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro
from tqdm import tqdm

from hgpt_core.datasets import shared_data_dir
from hgpt_core.errors import HgptError
from hgpt_core.motion import atomic_write_bytes
from hgpt_retarget.human import load_human
from hgpt_retarget.quality import STARTUP_S, startup_speeds
from hgpt_retarget.retarget import RetargetConfig, retarget_motion


def check_file(path: str, cfg: RetargetConfig | None = None) -> dict:
    """Retarget one file (nothing written); its start-up figures, or ``{"name", "error"}``."""
    name = Path(path).name
    try:
        motion, mapping = load_human(path)
        res = retarget_motion(motion, mapping, cfg or RetargetConfig())
    except (HgptError, ValueError, OSError, EOFError) as exc:
        return {"name": name, "input": path, "error": f"{type(exc).__name__}: {exc}"}
    clip = res.clip
    first, after = startup_speeds(clip.joint_pos, clip.fps)
    v = np.abs(np.diff(clip.joint_pos, axis=0)).max(axis=1) * clip.fps
    lm = np.stack(list(res.human.landmarks(mapping).values()), axis=1)
    hv = np.linalg.norm(np.diff(lm, axis=0), axis=-1).max(axis=1) * res.human.fps
    n = int(round(STARTUP_S * clip.fps))
    h_ratio = float(hv[:n].max() / np.percentile(hv[n:], 99)) if len(hv) >= 2 * n else float("nan")
    ik = clip.meta["first_frame_ik"]
    return {
        "name": name,
        "input": path,
        "frames": clip.num_frames,
        "first_s_max_rad_s": first,
        "first_s_argmax_s": float(np.argmax(v[:n]) / clip.fps),
        "after_p99_rad_s": after,
        "ratio": first / after if np.isfinite(after) else float("nan"),
        "source_ratio": h_ratio,
        "spike": bool(np.isfinite(after) and first > after),
        "trimmed_start_frames": clip.meta["trimmed_start_frames"],
        "first_frame_iterations": ik["iterations"],
        "first_frame_converged": ik["converged"],
        "first_frame_residual_m": ik["position_m"],
    }


def markdown(rows: list[dict]) -> str:
    """One row per file (sorted by ratio, highest first) and a summary line."""
    ok = sorted((r for r in rows if "error" not in r), key=lambda r: -np.nan_to_num(r["ratio"]))
    head = (
        "| file | frames | first 1 s max [rad/s] | at [s] | p99 after [rad/s] | ratio | source ratio "
        "| trimmed | first-frame iters | residual [m] |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in ok:
        lines.append(
            f"| {r['name']} | {r['frames']} | {r['first_s_max_rad_s']:.1f} | {r['first_s_argmax_s']:.2f} "
            f"| {r['after_p99_rad_s']:.1f} | {r['ratio']:.2f} | {r['source_ratio']:.2f} "
            f"| {r['trimmed_start_frames']} | {r['first_frame_iterations']} "
            f"| {r['first_frame_residual_m']:.3f} |"
        )
    scored = [r for r in ok if np.isfinite(r["ratio"])]
    spikes = [r["name"] for r in scored if r["spike"]]
    conv = sum(r["first_frame_converged"] for r in ok)
    lines.append(
        f"\n{len(ok)} files retargeted, {len(rows) - len(ok)} failed; {len(scored)} long enough to score "
        f"(>= {2 * STARTUP_S:g} s); first 1 s max > p99 after: {len(spikes)}"
        + (f" ({', '.join(spikes[:10])}{' ...' if len(spikes) > 10 else ''})" if spikes else "")
        + f"; first frame converged: {conv}/{len(ok)}"
    )
    return "\n".join(lines) + "\n"


def default_inputs() -> tuple[str, ...]:
    """Every BVH in the shared human mocap folder (empty when the shared data is absent)."""
    root = shared_data_dir()
    return tuple(str(p) for p in sorted((root / "motions" / "human").rglob("*.bvh"))) if root else ()


@dataclass
class Args:
    """Retarget human files and report each clip's first-second joint speed against the rest of it."""

    inputs: tyro.conf.Positional[tuple[str, ...]] = ()
    """Files or folders (folders: every .bvh inside); default: every shared BVH."""
    workers: int = 1
    """Parallel processes."""
    limit: int | None = None
    """Only the first N files (sorted)."""
    out: Path | None = None
    """Also write startup.md / startup.json here."""


def main() -> None:
    args = tyro.cli(Args)
    files: list[str] = []
    for p in map(Path, args.inputs or default_inputs()):
        files += sorted(str(f) for f in p.rglob("*.bvh")) if p.is_dir() else [str(p)]
    files = files[: args.limit] if args.limit else files
    if not files:
        raise SystemExit("no input files (and no shared data folder for the default)")
    if args.workers > 1 and len(files) > 1:
        with mp.get_context("fork").Pool(min(args.workers, len(files))) as pool:
            rows = list(tqdm(pool.imap(check_file, files), total=len(files), unit="clip", desc="startup"))
    else:
        rows = [check_file(f) for f in tqdm(files, unit="clip", desc="startup")]
    md = markdown(rows)
    errors = [r for r in rows if "error" in r]
    md += "".join(f"failed: {e['name']}: {e['error']}\n" for e in errors)
    print(md)
    if args.out is not None:
        atomic_write_bytes(args.out / "startup.md", md.encode())
        atomic_write_bytes(args.out / "startup.json", json.dumps(rows, indent=1, default=float).encode())


if __name__ == "__main__":
    main()
