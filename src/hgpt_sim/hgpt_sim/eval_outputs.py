"""An evaluation's results (:class:`EvalResults`) and the files written for it: tables, plots
(:mod:`hgpt_sim.report`), videos and the protocol paragraph.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hgpt_sim.eval_results import RunResult
from hgpt_sim.report import comparison_table, summary_row, write_plots, write_tables
from hgpt_sim.rewards import FallConfig


@dataclass
class EvalResults:
    """Every run of an evaluation and the files written (empty without ``out_dir``)."""

    runs: list[RunResult]
    policies: list[str]
    files: dict[str, Path] = field(default_factory=dict)
    wall_s: float = 0.0

    def overall(self) -> dict[str, dict]:
        """Per policy: the mean over its runs (SR, tracking failures, metrics; see report.summary_row)."""
        return {p: summary_row(p, [r for r in self.runs if r.policy == p]) for p in self.policies}

    def table(self) -> str:
        """The comparison table (markdown)."""
        return comparison_table(self.runs, self.policies)


def protocol_text(
    clips: int,
    starts: int,
    seeds: Sequence[int],
    max_seconds: float | None,
    dr: bool,
    init_noise: float,
    fall: FallConfig,
    tracking_failure: float,
) -> str:
    """One paragraph saying what was run (for the report)."""
    cap = "to the clip's end" if max_seconds is None else f"capped at {max_seconds:g} s"
    rule = (
        f"anchor tilt error > {fall.tilt:g} (projected-gravity z), anchor "
        + ("more than" if fall.anchor_below_only else "off by more than")
        + f" {fall.anchor_height:g} m {'below' if fall.anchor_below_only else 'from'} its reference, or NaN"
        + (f", or a hand/foot off by {fall.ee_height:g} m" if fall.ee_height is not None else "")
    )
    return (
        f"{clips} clips x {starts} starts (0, 1/{starts} ... of each clip) x {len(seeds)} seeds; each run "
        f"starts on the reference, {cap}; DR {'on' if dr else 'off'}; initial joint noise {init_noise:g} "
        "rad. "
        f"Fall (ends scoring, counts against SR): {rule}. Tracking failure (a column, scoring goes on): a "
        f"hand/foot more than {tracking_failure:g} m off its reference height."
    )


def write_outputs(
    result: EvalResults,
    out: Path,
    plots: bool = True,
    video_seconds: float = 10.0,
    video_fps: float = 25.0,
    progress: bool = True,
    protocol: str = "",
) -> dict[str, Path]:
    """Tables, plots and videos of ``result`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = write_tables(result.runs, out, result.policies, protocol=protocol, plots=plots)
    if plots:
        files.update(write_plots(result.runs, out, result.policies))
    for r in (r for r in result.runs if r.qpos is not None):
        from hgpt_sim.render import render_video_subprocess

        n = min(len(r.qpos), int(video_seconds / r.control_dt) + 1)
        total = r.frames * r.control_dt
        caption = f"{r.policy} | {r.label} | first {(n - 1) * r.control_dt:.0f} s of {total:.0f} s" + (
            " | falls" if r.fell and len(r.qpos) <= n else ""
        )
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{Path(r.clip).name}_{r.policy}")
        video, msg = render_video_subprocess(
            r.qpos[:n], r.ref_qpos[:n], out / stem, control_dt=r.control_dt, fps=video_fps,
            caption=caption, progress=progress,
        )  # fmt: skip
        if video is None:
            print(msg, file=sys.stderr)
        else:
            files[f"video_{r.policy}"] = video
            files.setdefault("video", video)
    return files
