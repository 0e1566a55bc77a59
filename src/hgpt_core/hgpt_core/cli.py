"""``hgpt clips``: inspect and convert G1 motion files.

hgpt clips check [PATH ...]         sanity table (feet vs floor, joint limits); no PATH = shared set
hgpt clips convert IN OUT [--fps F]  any supported format -> our .clip.npz at 50 Hz (atomic write)
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import tyro

from hgpt_core.datasets import iter_g1_clips
from hgpt_core.errors import HgptError
from hgpt_core.formats import load_clip
from hgpt_core.motion import CONTROL_FPS, MotionClip
from hgpt_core.sanity import clip_sanity


@dataclass(frozen=True)
class Check:
    """Load clips and print their physical sanity as a markdown table."""

    paths: tyro.conf.Positional[tuple[Path, ...]] = ()
    """Files to check; empty = every clip of the shared G1 set."""
    fps: float | None = None
    """Frame rate [Hz] for CSV files (they do not store it)."""


@dataclass(frozen=True)
class Convert:
    """Convert one motion file to the project's own format at the control rate."""

    src: tyro.conf.Positional[Path]
    """Input motion file (.csv, .npz, .pkl)."""
    dst: tyro.conf.Positional[Path]
    """Output path, conventionally ending in .clip.npz."""
    fps: float | None = None
    """Input frame rate [Hz] for CSV files."""
    out_fps: float = CONTROL_FPS
    """Output frame rate [Hz]."""
    source: str = "unknown"
    """Source name recorded in the clip."""
    licence: str = "unknown"
    """Licence recorded in the clip."""


def _table(clips: list[MotionClip]) -> str:
    rows = [
        "| source | clip | frames | fps | duration s | foot z med m | penetr. % | float % | upright % "
        "| limit excess |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in clips:
        s = clip_sanity(c)
        lim = (
            ", ".join(f"{k.removesuffix('_joint')} {v:.2f}" for k, v in s.joint_limit_violations.items())
            or "-"
        )
        rows.append(
            f"| {c.source} | {c.name} | {c.num_frames} | {c.fps:.1f} | {c.duration:.1f} | "
            f"{s.lowest_foot_z_median:.3f} | {100 * s.penetration_fraction:.0f} | "
            f"{100 * s.floating_fraction:.0f} | "
            f"{100 * s.upright_fraction:.0f} | {lim} |"
        )
    return "\n".join(rows)


def _check_args(cmd: Check | Convert) -> None:
    """Rates must be positive; inputs files, the output not a folder (HgptError naming the argument)."""
    rates = [("--fps", cmd.fps)] + ([("--out-fps", cmd.out_fps)] if isinstance(cmd, Convert) else [])
    for name, v in rates:
        if v is not None and not 0 < v < math.inf:
            raise HgptError(f"{name} {v} must be a positive frame rate [Hz]")
    for p in cmd.paths if isinstance(cmd, Check) else (cmd.src,):
        if p.is_dir():
            raise HgptError(f"{p}: is a folder, not a motion file")
    if isinstance(cmd, Convert) and cmd.dst.is_dir():
        raise HgptError(f"{cmd.dst}: is a folder; give the path of the output file (e.g. NAME.clip.npz)")


def run(cmd: Check | Convert) -> int:
    """Execute one sub-command; returns the process exit code."""
    try:
        _check_args(cmd)
        if isinstance(cmd, Check):
            clips = [load_clip(p, fps=cmd.fps) for p in cmd.paths] if cmd.paths else list(iter_g1_clips())
            print(_table(clips))
            print(f"\n{len(clips)} clips, {sum(c.num_frames for c in clips)} frames", flush=True)
        else:
            clip = load_clip(cmd.src, fps=cmd.fps, source=cmd.source, licence=cmd.licence).resample(
                cmd.out_fps
            )
            clip.save(cmd.dst)
            print(f"wrote {cmd.dst}: {clip.num_frames} frames at {clip.fps} Hz")
    except (HgptError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main() -> None:
    """Console entry point."""
    sys.exit(run(tyro.extras.subcommand_cli_from_dict({"check": Check, "convert": Convert})))


if __name__ == "__main__":
    main()
