"""Tables (CSV + markdown) and error-over-time plots of evaluation runs.

Aggregation: a run's metric is the mean over its scored steps (until the fall); a clip's is the mean over
its runs; "overall" is the mean over all runs (each run weighs the same). SR = share of runs without a fall.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hgpt_sim.metrics import METRICS, UNITS

if TYPE_CHECKING:
    from hgpt_sim.evaluate import RunResult

COLUMNS = ("clip", "runs", "frames", "SR", *METRICS, "fall_time_s", "fall_reasons")


def _row(name: str, runs: list[RunResult]) -> dict:
    means = [r.means() for r in runs]
    falls = [r for r in runs if r.fell]
    row = {
        "clip": name,
        "runs": len(runs),
        "frames": int(np.mean([r.frames for r in runs])),
        "SR": float(np.mean([not r.fell for r in runs])),
        "fall_time_s": float(np.mean([r.steps * r.control_dt for r in falls])) if falls else float("nan"),
        "fall_reasons": ";".join(sorted({r.fall_reason for r in falls})),
    }
    for m in METRICS:
        row[m] = float(np.nanmean([x[m] for x in means]))
    return row


def summary_rows(runs: list[RunResult]) -> list[dict]:
    """One row per clip (in first-seen order) and a final ``overall`` row."""
    by_clip: dict[str, list] = defaultdict(list)
    for r in runs:
        by_clip[r.clip].append(r)
    rows = [_row(name, rs) for name, rs in by_clip.items()]
    rows.append(_row("overall", runs))
    return rows


def _fmt(v) -> str:
    if isinstance(v, float):
        return "-" if np.isnan(v) else f"{v:.4g}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def write_tables(runs: list[RunResult], out_dir: Path, policy: str) -> dict[str, Path]:
    """``results.csv``, ``results.md`` and ``runs.npz`` (per-step errors) in ``out_dir``."""
    rows = summary_rows(runs)
    csv_path, md_path = out_dir / "results.csv", out_dir / "results.md"
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    head = [c if c not in UNITS else f"{c} ({UNITS[c]})" for c in COLUMNS]
    lines = [
        f"Policy `{policy}`: {len(runs)} runs; metrics are means over steps before the fall.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if c in ("clip", "fall_reasons") else "---:" for c in COLUMNS) + "|",
    ]
    for row in rows:
        cells = [_fmt(row[c]) for c in COLUMNS]
        if row["clip"] == "overall":
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    md_path.write_text("\n".join(lines) + "\n")
    arrays = {f"{r.clip}/seed{r.seed}/{m}": r.errors[m] for r in runs for m in METRICS}
    np.savez_compressed(out_dir / "runs.npz", **arrays)
    return {"csv": csv_path, "md": md_path, "npz": out_dir / "runs.npz"}


def write_plots(runs: list[RunResult], path: Path, policy: str) -> Path:
    """MPJPE and MPKPE (local, global) over time, one line per run; an x marks a fall."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ("mpjpe", "mpkpe_local_mm", "mpkpe_global_mm")
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.6 * len(shown)), sharex=True)
    for r in runs:
        label = r.clip if len({x.seed for x in runs}) == 1 else f"{r.clip} s{r.seed}"
        for ax, m in zip(axes, shown, strict=True):
            y = r.errors[m]
            t = np.arange(1, len(y) + 1) * r.control_dt
            (line,) = ax.plot(t, y, lw=0.8, label=label)
            if r.fell and len(y):
                ax.plot(t[-1], y[-1], "x", color=line.get_color(), ms=8, mew=2)
    for ax, m in zip(axes, shown, strict=True):
        ax.set_ylabel(f"{m} [{UNITS[m]}]")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time [s]")
    axes[0].set_title(f"{policy}: tracking error over time (x = fall)")
    axes[0].legend(fontsize=7, ncol=3, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
