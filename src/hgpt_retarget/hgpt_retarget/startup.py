"""Start-up spike check: retarget files and compare each clip's first second with the rest of it.

A start-up spike is the IK catching up from its default pose (or a leading T-pose frame) in the first
frames. The issue's test: the fastest joint over the first second must not exceed the p99 of the
per-frame fastest joint after it (:func:`hgpt_retarget.quality.startup_speeds`). Many clips fail that
test without any start-up artefact: a 2-4 s bow, wave or "bye" has its gesture in its first second (and
the source's own elbow can be fastest there). So a clip failing it is retargeted a second time "warm":
with its first second played backwards in front of it, so the solver has been running for a second
when the clip's first frame comes. A spike is a first second faster than both the p99 after it and
the warm solve of the same frames (by more than ``WARM_TOLERANCE``)::

    hgpt retarget startup                      # every shared BVH
    hgpt retarget startup walk.bvh dance/ --workers 2 --out outputs/retarget/startup

Prints one row per file and a summary; ``--out`` also writes ``startup.{md,json}``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import tyro
from tqdm import tqdm

from hgpt_core.datasets import shared_data_dir
from hgpt_core.errors import HgptError
from hgpt_core.motion import atomic_write_bytes
from hgpt_retarget.human import HumanMotion, load_human
from hgpt_retarget.quality import STARTUP_S, evaluate_clip, startup_speeds, summary
from hgpt_retarget.retarget import RetargetConfig, leading_jump_frames, retarget_motion
from hgpt_retarget.skeleton import SkeletonMapping

WARM_TOLERANCE = 0.1  # a first second up to 10 % faster than the warm solve's is not a spike


def warm_first_second(motion: HumanMotion, mapping: SkeletonMapping, cfg: RetargetConfig) -> float:
    """Max joint speed [rad/s] over the clip's first second when the solver is already running.

    The motion (always without a leading bind pose) gets its first second, time-reversed, in front of it (a
    continuous lead-in that ends on the first frame); that is retargeted and its first second is cut
    off again. Speeds are those of the clip's own first second. The reference is solved without
    :func:`~hgpt_retarget.retarget.retry_start` (the warm solve is the yardstick, not a candidate).
    """
    trimmed = leading_jump_frames(motion, mapping)  # a T-pose frame is not motion
    motion = motion.window(trimmed, motion.num_frames).resample(cfg.fps)
    pos, n = motion.positions, int(round(STARTUP_S * cfg.fps))
    if len(pos) <= n + 1:
        return float("nan")
    lead = np.concatenate((pos[1 : n + 1][::-1], pos), axis=0)
    padded = HumanMotion(lead, motion.joint_names, cfg.fps, motion.skeleton, motion.name)
    q = retarget_motion(
        padded, mapping, replace(cfg, trim_bind_pose=False, lead_in_retry_s=())
    ).clip.joint_pos
    v = np.abs(np.diff(q[n:], axis=0)).max(axis=1) * cfg.fps
    return float(v[:n].max())


def check_file(path: str, cfg: RetargetConfig | None = None) -> dict:
    """Retarget one file (nothing written); its start-up figures, or ``{"name", "error"}``."""
    name = Path(path).name
    cfg = cfg or RetargetConfig()
    try:
        motion, mapping = load_human(path)
        res = retarget_motion(motion, mapping, cfg)
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
    quality = evaluate_clip(clip, res.targets.stance, res.targets.human_scaled).as_dict()
    over = bool(np.isfinite(after) and first > after)
    warm = warm_first_second(motion, mapping, cfg) if over else float("nan")
    return {
        "name": name,
        "input": path,
        "frames": clip.num_frames,
        "first_s_max_rad_s": first,
        "first_s_argmax_s": float(np.argmax(v[:n]) / clip.fps),
        "after_p99_rad_s": after,
        "ratio": first / after if np.isfinite(after) else float("nan"),
        "source_ratio": h_ratio,
        "over_p99": over,  # the test fails
        "warm_first_s_max_rad_s": warm,
        "spike": bool(over and not first <= (1.0 + WARM_TOLERANCE) * warm),
        "trimmed_start_frames": clip.meta["trimmed_start_frames"],
        "first_frame_iterations": ik["iterations"],
        "first_frame_converged": ik["converged"],
        "first_frame_residual_m": ik["position_m"],
        "round_trip_rad": clip.meta["start_retry"]["round_trip_rad"],  # of the default lead-in
        "start_retried": clip.meta["start_retry"]["triggered"],
        "lead_in_s": clip.meta["start_retry"]["lead_in_s"],  # the lead-in the clip was solved with
        "longer_lead_in": clip.meta["start_retry"]["lead_in_s"] != cfg.lead_in_s,  # the retry replaced it
        "quality": quality,  # hgpt_retarget.quality metrics of the clip
    }


def markdown(rows: list[dict]) -> str:
    """One row per file (sorted by ratio, highest first) and a summary line."""
    ok = sorted((r for r in rows if "error" not in r), key=lambda r: -np.nan_to_num(r["ratio"]))
    head = (
        "| file | frames | first 1 s max [rad/s] | at [s] | p99 after [rad/s] | ratio | source ratio "
        "| warm first 1 s max | spike | trimmed | first-frame iters | residual [m] | round trip [rad] "
        "| lead-in [s] |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
    )
    lines = [head]
    for r in ok:
        lines.append(
            f"| {r['name']} | {r['frames']} | {r['first_s_max_rad_s']:.1f} | {r['first_s_argmax_s']:.2f} "
            f"| {r['after_p99_rad_s']:.1f} | {r['ratio']:.2f} | {r['source_ratio']:.2f} "
            f"| {r['warm_first_s_max_rad_s']:.1f} | {'SPIKE' if r['spike'] else '-'} "
            f"| {r['trimmed_start_frames']} | {r['first_frame_iterations']} "
            f"| {r['first_frame_residual_m']:.3f} | {r['round_trip_rad']:.2f} | {r['lead_in_s']:g} |"
        )
    scored = [r for r in ok if np.isfinite(r["ratio"])]
    over = [r["name"] for r in scored if r["over_p99"]]
    spikes = [r["name"] for r in scored if r["spike"]]
    conv = sum(r["first_frame_converged"] for r in ok)
    retried = [r for r in ok if r["start_retried"]]
    longer = [r["name"] for r in retried if r["longer_lead_in"]]
    lines.append(
        f"\n{len(ok)} files retargeted, {len(rows) - len(ok)} failed; {len(scored)} long enough to score "
        f"(>= {2 * STARTUP_S:g} s); first 1 s max > p99 after: {len(over)}; of those faster than the warm "
        f"solve by > {WARM_TOLERANCE:.0%} (start-up spikes): {len(spikes)}"
        + (f" ({', '.join(spikes[:10])}{' ...' if len(spikes) > 10 else ''})" if spikes else "")
        + f"; first frame converged: {conv}/{len(ok)}; start retried (round trip open and first 1 s > p99 "
        f"after): {len(retried)}, solved with a longer lead-in: {len(longer)}"
        + (f" ({', '.join(longer[:10])}{' ...' if len(longer) > 10 else ''})" if longer else "")
    )
    if ok:
        m = summary([r["quality"] for r in ok])
        lines.append(
            f"\nQuality means over the clips: skate {m['foot_skate_mean_mps']:.3f} m/s, artefact skate "
            f"{m['foot_skate_artefact_mps']:.3f} m/s, source stance foot speed "
            f"{m['source_stance_foot_speed_mps']:.3f} m/s, stance sole z "
            f"{m['stance_sole_height_median_m']:+.4f} m, self-penetration {m['self_penetration_frac']:.4f}, "
            f"feet / hands error {m['ee_feet_error_mm']:.0f} / {m['ee_hands_error_mm']:.0f} mm, "
            f"jerk {m['joint_jerk_mean']:.0f} rad/s³"
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
    config: RetargetConfig = field(default_factory=RetargetConfig)
    """Retarget settings (e.g. ``--config.trim-bind-pose False --config.ik.init-tolerance 0.002
    --config.ik.init-iterations 200`` for the start of the retargeter before issue 18)."""


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
            job = partial(check_file, cfg=args.config)
            rows = list(tqdm(pool.imap(job, files), total=len(files), unit="clip", desc="startup"))
    else:
        rows = [check_file(f, args.config) for f in tqdm(files, unit="clip", desc="startup")]
    md = markdown(rows)
    errors = [r for r in rows if "error" in r]
    md += "".join(f"failed: {e['name']}: {e['error']}\n" for e in errors)
    print(md)
    if args.out is not None:
        atomic_write_bytes(args.out / "startup.md", md.encode())
        atomic_write_bytes(args.out / "startup.json", json.dumps(rows, indent=1, default=float).encode())


if __name__ == "__main__":
    main()
