"""Ours vs a peer's retarget of the same human motion: ASAP/PBHC pkl files hold both.

PHC-style pkl files (ASAP, PBHC) carry the fitted human joints (``smpl_joints``) and the peer's own G1
retarget of them (``dof``, ``root_rot``, ``root_trans_offset``). This retargets the human joints with
hgpt_retarget and scores both G1 clips with the same metrics, stance frames and scaled human reference::

    python -m hgpt_retarget.compare ../shared/data/motions/g1/asap --out outputs/retarget/compare_asap

Writes ``compare.md`` (side by side per clip) and ``compare.json``.
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
from hgpt_core.motion import atomic_write_bytes
from hgpt_retarget.human import load_human
from hgpt_retarget.quality import evaluate_clip, summary
from hgpt_retarget.retarget import RetargetConfig, retarget_motion

METRICS = (
    ("foot_skate_mean_mps", "skate [m/s]", "{:.3f}"),
    ("stance_sole_height_median_m", "stance sole z [m]", "{:+.3f}"),
    ("penetration_max_m", "penetration [m]", "{:.3f}"),
    ("self_penetration_frac", "self-pen. frames", "{:.2f}"),
    ("joint_limit_max_excess_rad", "limit excess [rad]", "{:.3f}"),
    ("ee_feet_error_mm", "feet err [mm]", "{:.0f}"),
    ("ee_hands_error_mm", "hands err [mm]", "{:.0f}"),
    ("joint_jerk_mean", "jerk [rad/s³]", "{:.0f}"),
)


def compare_file(path: str, cfg: RetargetConfig | None = None) -> dict:
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
    return {"name": name, "input": path, "frames": n, "ours": ours, "peer": theirs}


def markdown(rows: list[dict], peer_name: str) -> str:
    """Side-by-side table: one row per clip, ``ours / peer`` per metric, then the means."""
    head = "| clip | frames | " + " | ".join(f"{t} ours / {peer_name}" for _, t, _ in METRICS) + " |"
    sep = "|---|---:|" + "---:|" * len(METRICS)
    lines = [head, sep]
    means = {"ours": summary([r["ours"] for r in rows]), "peer": summary([r["peer"] for r in rows])}
    for r in [*rows, {"name": "**mean**", "frames": sum(r["frames"] for r in rows), **means}]:
        cells = [f"{fmt.format(r['ours'][k])} / {fmt.format(r['peer'][k])}" for k, _, fmt in METRICS]
        lines.append(f"| {r['name'][-48:]} | {r['frames']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass
class Args:
    """Retarget the human joints stored in peer pkl files and compare with the peer's own retarget."""

    inputs: tyro.conf.Positional[tuple[str, ...]] = ("../shared/data/motions/g1/asap",)
    """pkl files or folders (searched recursively)."""
    out: Path = Path("outputs/retarget/compare")
    """Folder for compare.md / compare.json."""
    peer: str = "ASAP"
    """Peer name for the table header."""
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    limit: int | None = None
    """Only the first N files."""


def main() -> None:
    args = tyro.cli(Args)
    files = []
    for p in map(Path, args.inputs):
        files += sorted(str(f) for f in p.rglob("*.pkl")) if p.is_dir() else [str(p)]
    files = files[: args.limit] if args.limit else files
    with mp.get_context("fork").Pool(max(1, min(args.workers, len(files)))) as pool:
        results = list(tqdm(pool.imap(compare_file, files), total=len(files), desc="compare", unit="clip"))
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
    ours = np.mean([r["ours"]["foot_skate_mean_mps"] for r in rows]) if rows else float("nan")
    print(
        f"{len(rows)} compared, {len(errors)} not; mean skate ours {ours:.3f} m/s; {args.out / 'compare.md'}"
    )


if __name__ == "__main__":
    main()
