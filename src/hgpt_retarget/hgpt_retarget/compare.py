"""Ours vs a peer retargeter on the same human motion, scored with one yardstick; one table.

Two ways in:

* ``--source human.bvh --peer-file peer_g1.csv`` (any G1 clip file of a peer's retarget of that source:
  pkl / csv / npz): the source is retargeted with hgpt_retarget, the peer clip is resampled to 50 Hz,
  aligned in time (the joint-angle lag that matches best, within ``max_lag_s``) and in the ground plane
  (heading and horizontal offset; never height: floating/sinking is scored), and both are scored;
* PHC-style pkl files or folders (ASAP, PBHC) as positional inputs: they carry the fitted human joints
  (``smpl_joints``) and the peer's own G1 retarget of them (``dof``, ``root_rot``, ``root_trans_offset``).

Yardstick: :func:`hgpt_retarget.quality.evaluate_clip` with the same stance frames and scaled human
(skating, artefact skating, floor, self-penetration, limits, jerk, end-effector error, start-up speed),
and TWIST2 tracking through the evaluation harness (``hgpt_sim.eval_runner.run_clip``): SR = share of runs
without a fall (DESIGN §5 rule: tilt, anchor below its reference, NaN; hand/foot height is not a fall),
MPJPE over the scored steps, from ``starts`` offsets per clip::

    hgpt retarget compare --source walk.bvh --peer-file walk_by_peer.csv --peer-fps 30 --peer gmr
    hgpt retarget compare ../shared/data/motions/g1/asap --out outputs/retarget/compare_asap --no-track

Writes ``compare.md`` and ``compare.json`` in ``--out`` and prints the table.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tyro
from tqdm import tqdm

from hgpt_core.errors import HgptError
from hgpt_core.formats import load_clip
from hgpt_core.motion import MotionClip, atomic_write_bytes
from hgpt_core.rotations import quat_mul, yaw_of
from hgpt_retarget.human import load_human
from hgpt_retarget.quality import evaluate_clip, summary
from hgpt_retarget.retarget import RetargetConfig, retarget_motion

WRISTS = np.array([19, 20, 21, 26, 27, 28])  # 23-DoF peers leave them at zero: not used to find the lag
METRICS = (
    ("foot_skate_mean_mps", "skate [m/s]", "{:.3f}"),
    ("foot_skate_artefact_mps", "artefact skate [m/s]", "{:.3f}"),
    ("stance_sole_height_median_m", "stance sole z [m]", "{:+.3f}"),
    ("penetration_max_m", "penetration [m]", "{:.3f}"),
    ("self_penetration_frac", "self-pen. frames", "{:.2f}"),
    ("joint_limit_max_excess_rad", "limit excess [rad]", "{:.3f}"),
    ("ee_feet_error_mm", "feet err [mm]", "{:.0f}"),
    ("ee_hands_error_mm", "hands err [mm]", "{:.0f}"),
    ("joint_jerk_mean", "jerk [rad/s³]", "{:.0f}"),
)
PAIR_ROWS = (
    ("foot_skate_mean_mps", "stance foot speed (skate) [m/s]", "{:.3f}"),
    ("foot_skate_artefact_mps", "artefact skate [m/s]", "{:.3f}"),
    ("source_stance_foot_speed_mps", "source stance foot speed [m/s]", "{:.3f}"),
    ("stance_sole_height_median_m", "stance sole z [m]", "{:+.3f}"),
    ("penetration_max_m", "floor penetration [m]", "{:.3f}"),
    ("self_penetration_frac", "self-penetration frames", "{:.3f}"),
    ("joint_limit_max_excess_rad", "joint limit excess [rad]", "{:.3f}"),
    ("ee_feet_error_mm", "feet error [mm]", "{:.0f}"),
    ("ee_hands_error_mm", "hands error [mm]", "{:.0f}"),
    ("joint_jerk_mean", "jerk [rad/s³]", "{:.0f}"),
    ("max_joint_speed_rad_s", "max joint speed [rad/s]", "{:.1f}"),
    ("startup_max_speed_rad_s", "first 1 s max speed [rad/s]", "{:.1f}"),
    ("after_startup_p99_speed_rad_s", "p99 speed after [rad/s]", "{:.1f}"),
    ("twist2_sr", "TWIST2 SR", "{:.2f}"),
    ("twist2_mpjpe", "TWIST2 MPJPE [rad]", "{:.4f}"),
    ("twist2_mpkpe_local_mm", "TWIST2 MPKPE local [mm]", "{:.0f}"),
    ("twist2_runs", "TWIST2 runs (falls)", "{}"),
)


# ---- alignment -----------------------------------------------------------------------------------------


def best_lag(ours: np.ndarray, peer: np.ndarray, max_lag: int) -> int:
    """Frame lag L minimising the mean |ours[t] - peer[t + L]| of the non-wrist joints over the overlap.

    Shapes: (T1, 29), (T2, 29). A positive lag means the peer clip starts L frames earlier in the motion.
    """
    keep = np.setdiff1d(np.arange(ours.shape[1]), WRISTS)
    best, best_cost = 0, np.inf
    for lag in range(-max_lag, max_lag + 1):
        a, b = max(0, -lag), max(0, lag)
        n = min(len(ours) - a, len(peer) - b)
        if n < max(10, min(len(ours), len(peer)) // 2):
            continue
        cost = float(np.abs(ours[a : a + n, keep] - peer[b : b + n, keep]).mean())
        if cost < best_cost:
            best, best_cost = lag, cost
    return best


def align_peer(ours: MotionClip, peer: MotionClip, max_lag_s: float = 1.0) -> tuple[slice, MotionClip, dict]:
    """The peer clip on our time base and ground frame; returns (our frames, aligned peer, what was done).

    Both clips at the same rate. The peer is shifted by the best joint-angle lag, cut to the overlap,
    rotated about z by the circular-mean heading difference and moved by the mean horizontal root offset.
    Heights are untouched (floating/sinking is a metric).
    """
    lag = best_lag(ours.joint_pos, peer.joint_pos, int(round(max_lag_s * ours.fps)))
    a, b = max(0, -lag), max(0, lag)
    n = min(ours.num_frames - a, peer.num_frames - b)
    p = peer.slice(b, b + n)
    dyaw = float(np.angle(np.mean(np.exp(1j * (yaw_of(ours.root_quat[a : a + n]) - yaw_of(p.root_quat))))))
    c, s = np.cos(dyaw), np.sin(dyaw)
    xy = p.root_pos[:, :2] @ np.array([[c, s], [-s, c]])  # rows rotated by dyaw
    shift = (ours.root_pos[a : a + n, :2] - xy).mean(axis=0)
    pos = np.concatenate((xy + shift, p.root_pos[:, 2:]), axis=1)
    qz = np.array([np.cos(dyaw / 2), 0.0, 0.0, np.sin(dyaw / 2)])
    quat = quat_mul(np.broadcast_to(qz, p.root_quat.shape), p.root_quat)
    aligned = MotionClip(pos, quat, p.joint_pos, p.fps, name=p.name, source=p.source, meta=dict(p.meta))
    info = {"lag_frames": lag, "frames": n, "heading_rad": dyaw, "shift_m": [float(x) for x in shift]}
    return slice(a, a + n), aligned, info


# ---- tracking ------------------------------------------------------------------------------------------


def fall_rule():
    """The harness's evaluation fall rule (tilt, anchor below reference, NaN; no hand/foot height).

    Falls back to the peers' rule with the hand/foot height test switched off on an older harness.
    """
    from hgpt_sim.rewards import FallConfig

    if hasattr(FallConfig, "evaluation"):
        return FallConfig.evaluation()
    return FallConfig(ee_height=1e9)


def track(clip: MotionClip, policy: str = "twist2", starts: int = 3, max_seconds: float = 20.0) -> dict:
    """Track ``clip`` with a policy in MuJoCo from ``starts`` offsets (0, 1/S, ... of its length).

    Returns ``twist2_sr`` (share of runs without a fall), ``twist2_mpjpe`` [rad] and
    ``twist2_mpkpe_local_mm`` (means over runs of the per-run means), ``twist2_runs`` "runs (falls)".
    """
    from hgpt_core.reference import ReferenceMotion
    from hgpt_sim.eval_runner import run_clip
    from hgpt_sim.policy_adapters import make_adapter

    ref = ReferenceMotion.from_clip(clip)
    adapter = make_adapter(policy)
    t = ref.num_frames
    firsts = sorted({min(j * t // starts, t - 2) for j in range(starts)})
    runs = [run_clip(adapter, ref, max_seconds=max_seconds, fall=fall_rule(), start_frame=s) for s in firsts]
    means = [r.means() for r in runs]
    mean = lambda k: float(np.nanmean([m.get(k, np.nan) for m in means]))  # noqa: E731
    falls = sum(r.fell for r in runs)
    return {
        "twist2_sr": 1.0 - falls / len(runs),
        "twist2_mpjpe": mean("mpjpe"),
        "twist2_mpkpe_local_mm": mean("mpkpe_local_mm"),
        "twist2_runs": f"{len(runs)} ({falls})",
        "twist2_fall_reasons": [r.fall_reason for r in runs if r.fell],
    }


# ---- one source, one peer file -------------------------------------------------------------------------


def compare_pair(
    source: str,
    peer_file: str,
    peer_fps: float | None = None,
    skeleton: str | None = None,
    cfg: RetargetConfig | None = None,
    max_lag_s: float = 1.0,
    tracking: bool = True,
    starts: int = 3,
    max_seconds: float = 20.0,
) -> dict:
    """Retarget ``source`` and score it next to the peer's G1 clip of it; ``{"ours", "peer", "alignment"}``.

    Raises:
        MotionFormatError / SkeletonError: unreadable source or peer file (a CSV needs ``peer_fps``).
    """
    cfg = cfg or RetargetConfig()
    motion, mapping = load_human(source, skeleton)
    res = retarget_motion(motion, mapping, cfg)
    peer = load_clip(peer_file, fps=peer_fps, check_plausible=False).resample(cfg.fps)
    ours_idx, peer_al, info = align_peer(res.clip, peer, max_lag_s)
    ours = res.clip.slice(ours_idx.start, ours_idx.stop)
    stance = res.targets.stance[ours_idx]
    human = {k: v[ours_idx] for k, v in res.targets.human_scaled.items()}
    rows = {
        "ours": evaluate_clip(ours, stance, human).as_dict(),
        "peer": evaluate_clip(peer_al, stance, human).as_dict(),
    }
    if tracking:
        for key, clip in (("ours", ours), ("peer", peer_al)):
            rows[key] |= track(clip, starts=starts, max_seconds=max_seconds)
    return {
        "source": str(source),
        "peer_file": str(peer_file),
        "skeleton": mapping.name,
        "alignment": info,
        "ours_first_frame_ik": res.clip.meta["first_frame_ik"],
        **rows,
    }


def pair_markdown(doc: dict, peer_name: str) -> str:
    """One table: a row per metric, hgpt and the peer side by side."""
    al = doc["alignment"]
    heading = np.degrees(al["heading_rad"])
    lines = [
        f"# hgpt_retarget vs {peer_name}: {Path(doc['source']).name}",
        "",
        f"source `{doc['source']}` ({doc['skeleton']}), peer `{doc['peer_file']}`; {al['frames']} frames at "
        f"50 Hz compared; peer aligned by {al['lag_frames']} frames, heading {heading:+.1f} deg,"
        f" offset ({al['shift_m'][0]:+.3f}, {al['shift_m'][1]:+.3f}) m",
        "",
        f"| metric | hgpt | {peer_name} |",
        "|---|---:|---:|",
    ]
    for key, label, fmt in PAIR_ROWS:
        if key not in doc["ours"]:
            continue
        cells = [fmt.format(doc[w][key]) if doc[w].get(key) is not None else "-" for w in ("ours", "peer")]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


# ---- PHC-style pkl batches -----------------------------------------------------------------------------


def compare_file(path: str, cfg: RetargetConfig | None = None, tracking: bool = False) -> dict:
    """Score ours and the file's own retarget on one pkl; ``{"name", "ours", "peer"}`` or ``{"error"}``."""
    name = Path(path).stem
    cfg = cfg or RetargetConfig()
    try:
        motion, mapping = load_human(path, "smpl24", source="peer_compare")
        res = retarget_motion(motion, mapping, cfg)
        peer = load_clip(path, check_plausible=False).resample(cfg.fps)
    except (HgptError, ValueError, OSError) as exc:
        return {"name": name, "input": path, "error": f"{type(exc).__name__}: {exc}"}
    n = min(peer.num_frames, res.clip.num_frames)
    stance = res.targets.stance[:n]
    human = {k: v[:n] for k, v in res.targets.human_scaled.items()}
    ours = evaluate_clip(res.clip.slice(0, n), stance, human).as_dict()
    theirs = evaluate_clip(peer.slice(0, n), stance, human).as_dict()
    if tracking:
        ours |= track(res.clip.slice(0, n))
        theirs |= track(peer.slice(0, n))
    return {"name": name, "input": path, "frames": n, "ours": ours, "peer": theirs}


TRACK_METRICS = (("twist2_sr", "TWIST2 SR", "{:.2f}"), ("twist2_mpjpe", "TWIST2 MPJPE [rad]", "{:.3f}"))


def markdown(rows: list[dict], peer_name: str) -> str:
    """Side-by-side table: one row per clip, ``ours / peer`` per metric, then the means."""
    metrics = METRICS + (TRACK_METRICS if rows and "twist2_sr" in rows[0]["ours"] else ())
    head = "| clip | frames | " + " | ".join(f"{t} ours / {peer_name}" for _, t, _ in metrics) + " |"
    sep = "|---|---:|" + "---:|" * len(metrics)
    lines = [head, sep]
    means = {w: summary([r[w] for r in rows]) for w in ("ours", "peer")}
    for w in means:
        for k, _, _ in TRACK_METRICS:
            means[w][k] = float(np.nanmean([r[w].get(k, np.nan) for r in rows]))
    for r in [*rows, {"name": "**mean**", "frames": sum(r["frames"] for r in rows), **means}]:
        cells = [f"{fmt.format(r['ours'][k])} / {fmt.format(r['peer'][k])}" for k, _, fmt in metrics]
        lines.append(f"| {r['name'][-48:]} | {r['frames']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass
class Args:
    """Score hgpt_retarget and a peer retargeter on the same human motion with one yardstick."""

    inputs: tyro.conf.Positional[tuple[str, ...]] = ()
    """PHC-style pkl files or folders (ASAP, PBHC: human joints + the peer's retarget in one file);
    default without ``--source``: the shared ASAP folder."""
    source: str | None = None
    """A human motion file (BVH, .npy, .npz, .pt, .pkl) to retarget with hgpt_retarget ..."""
    peer_file: str | None = None
    """... and the peer's G1 retarget of the same source (.pkl, .csv, .npz)."""
    peer_fps: float | None = None
    """Frame rate [Hz] of a peer CSV (CSV files do not store it)."""
    skeleton: str | None = None
    """Skeleton mapping of ``--source`` (default: detected)."""
    max_lag_s: float = 1.0
    """Largest time offset [s] searched when aligning the peer clip with ours."""
    out: Path = Path("outputs/retarget/compare")
    """Folder for compare.md / compare.json."""
    peer: str = "peer"
    """Peer name for the table header (e.g. ASAP, GMR)."""
    track: bool = True
    """Also track both clips with TWIST2 in MuJoCo (SR, MPJPE), from ``starts`` offsets."""
    starts: int = 3
    """Tracking runs per clip, starting at 0, 1/S, 2/S ... of it."""
    max_seconds: float = 20.0
    """Cap on each tracking run [s]."""
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Processes for pkl batches."""
    limit: int | None = None
    """Only the first N pkl files."""


def run_pair(args: Args) -> dict:
    """``--source`` + ``--peer-file``: compare, write compare.{md,json}, print the table."""
    doc = compare_pair(
        args.source, args.peer_file, args.peer_fps, args.skeleton, max_lag_s=args.max_lag_s,
        tracking=args.track, starts=args.starts, max_seconds=args.max_seconds,
    )  # fmt: skip
    md = pair_markdown(doc, args.peer)
    atomic_write_bytes(args.out / "compare.json", json.dumps(doc, indent=1, default=float).encode())
    atomic_write_bytes(args.out / "compare.md", md.encode())
    print(md)
    print(args.out / "compare.md")
    return doc


def _compare_task(job: tuple[str, bool]) -> dict:
    return compare_file(job[0], tracking=job[1])


def main() -> None:
    args = tyro.cli(Args)
    if (args.source is None) != (args.peer_file is None):
        raise SystemExit("--source and --peer-file go together (or give PHC-style pkl inputs)")
    if args.source is not None:
        run_pair(args)
        return
    files = []
    for p in map(Path, args.inputs or ("../shared/data/motions/g1/asap",)):
        files += sorted(str(f) for f in p.rglob("*.pkl")) if p.is_dir() else [str(p)]
    files = files[: args.limit] if args.limit else files
    jobs = [(f, args.track) for f in files]
    with mp.get_context("fork").Pool(max(1, min(args.workers, len(files)))) as pool:
        results = list(tqdm(pool.imap(_compare_task, jobs), total=len(files), desc="compare", unit="clip"))
    rows = [r for r in results if "error" not in r]
    errors = [r for r in results if "error" in r]
    md = f"# hgpt_retarget vs {args.peer} on the same human joints ({len(rows)} clips)\n\n"
    md += markdown(rows, args.peer.lower()) if rows else "no comparable clips\n"
    if errors:
        md += f"\nNot compared ({len(errors)}): " + "; ".join(
            f"{e['name']}: {e['error']}" for e in errors[:5]
        )
        md += " ...\n" if len(errors) > 5 else "\n"
    doc = {"clips": rows, "errors": errors}
    atomic_write_bytes(args.out / "compare.json", json.dumps(doc, indent=1, default=float).encode())
    atomic_write_bytes(args.out / "compare.md", md.encode())
    print(md)
    print(f"{len(rows)} compared, {len(errors)} not; {args.out / 'compare.md'}")


if __name__ == "__main__":
    main()
