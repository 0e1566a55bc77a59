"""Tables (CSV + markdown) and plots of evaluation runs, policies side by side.

Aggregation: a run's metric is the mean over its scored steps (until the fall); a clip's is the mean over
its runs; a policy's ("overall") is the mean over all its runs (each run weighs the same). SR = share of
runs without a fall; "track fail" = share of runs with a tracking failure (a hand/foot height off by more
than the threshold at least once before the fall or the run's end).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hgpt_sim.metrics import DEFINITIONS, METRICS, UNITS

if TYPE_CHECKING:
    from hgpt_sim.eval_results import RunResult

BASELINES = ("zero", "hold_default")
"""Policy names shown as the trivial baseline (hold the default pose)."""
SHORT = {
    "mpjpe": "MPJPE",
    "mpjve": "MPJVE",
    "root_vel_err": "root vel err",
    "mpkpe_local_mm": "MPKPE own-heading",
    "mpkpe_ref_heading_mm": "MPKPE ref-heading",
    "mpkpe_global_mm": "MPKPE global",
}
COLUMNS = (
    "policy", "clip", "runs", "frames", "SR", "track_fail", "track_fail_s", *METRICS, "scored_s",
    "fall_time_s", "fall_reasons",
)  # fmt: skip
RUN_COLUMNS = (
    "policy", "clip", "start_s", "seed", "planned_s", "scored_s", "fell", "fall_time_s", "fall_reason",
    "track_fail", "track_fail_s", *METRICS,
)  # fmt: skip


def _nanmean(x: list[float]) -> float:
    a = np.asarray(x, dtype=np.float64)
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


def summary_row(name: str, runs: list[RunResult], policy: str = "") -> dict:
    """Means over ``runs``: SR, tracking failures, metrics, scored seconds, falls by reason."""
    means = [r.means() for r in runs]
    falls = [r for r in runs if r.fell]
    reasons: dict[str, int] = defaultdict(int)
    for r in falls:
        reasons[r.fall_reason] += 1
    row = {
        "policy": policy or name,
        "clip": name,
        "runs": len(runs),
        "frames": int(np.mean([r.frames for r in runs])) if runs else 0,
        "SR": float(np.mean([not r.fell for r in runs])) if runs else float("nan"),
        "track_fail": float(np.mean([r.tracking_failed for r in runs])) if runs else float("nan"),
        "track_fail_s": _nanmean([r.tracking_failure_s for r in runs]),
        "scored_s": float(np.mean([r.scored_steps * r.control_dt for r in runs])) if runs else 0.0,
        "fall_time_s": _nanmean([r.fall_time_s for r in falls]),
        "fall_reasons": " ".join(f"{k}:{v}" for k, v in sorted(reasons.items())),
    }
    for m in METRICS:
        row[m] = _nanmean([x[m] for x in means])
    return row


def summary_rows(runs: list[RunResult], policies: list[str] | None = None) -> list[dict]:
    """Per clip (first-seen order), the policies next to each other; then each policy's ``overall``."""
    policies = policies or list(dict.fromkeys(r.policy for r in runs))
    by: dict[tuple[str, str], list] = defaultdict(list)
    for r in runs:
        by[(r.clip, r.policy)].append(r)
    clips = list(dict.fromkeys(r.clip for r in runs))
    rows = [summary_row(c, by[(c, p)], p) for c in clips for p in policies if by[(c, p)]]
    rows += [summary_row("overall", [r for r in runs if r.policy == p], p) for p in policies]
    return rows


def _fmt(v, digits: int = 4) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float):
        return "-" if np.isnan(v) else f"{v:.{digits}g}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def _policy_cell(p: str) -> str:
    return f"{p} (baseline)" if p in BASELINES else p


def comparison_table(runs: list[RunResult], policies: list[str]) -> str:
    """Markdown: one row per policy, means over all its runs (the table the project is judged by)."""
    head = ["policy", "runs", "SR", "track fail", *(f"{SHORT[m]} ({UNITS[m]})" for m in METRICS)]
    head += ["scored s/run", "falls by reason"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---|"]
    for p in policies:
        row = summary_row("overall", [r for r in runs if r.policy == p], p)
        cells = [_policy_cell(p), str(row["runs"]), _fmt(row["SR"], 3), _fmt(row["track_fail"], 3)]
        cells += [_fmt(row[m]) for m in METRICS] + [_fmt(row["scored_s"], 3), row["fall_reasons"] or "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def definitions_table(tracking_failure: str = "0.25 m") -> str:
    """Markdown: each column's definition and unit."""
    lines = ["| column | unit | definition |", "|---|---|---|"]
    lines.append("| SR | share | runs without a FALL (DESIGN §5: tilt, anchor below reference, NaN) / runs |")
    lines.append(
        f"| track fail | share | runs where a hand/foot was ever more than {tracking_failure} off its "
        "reference height (scoring went on) |"
    )
    for m in METRICS:
        d = DEFINITIONS[m].replace("|", "\\|")  # a cell's pipes would split it
        lines.append(f"| {SHORT[m]} | {UNITS[m]} | {d}; mean over scored steps, then runs |")
    lines.append("| scored s/run | s | control time scored per run (to the fall or the run's end) |")
    return "\n".join(lines)


def clip_table(runs: list[RunResult], policies: list[str]) -> str:
    """Markdown: per clip, the policies next to each other."""
    cols = ["SR", "track_fail", *METRICS, "scored_s", "fall_time_s"]
    head = ["clip", "policy", "runs", "SR", "track fail", *(SHORT[m] for m in METRICS), "scored s", "fall s"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    labels = {r.clip: r.label or r.clip for r in runs}
    for row in summary_rows(runs, policies):
        if row["clip"] == "overall":
            continue
        cells = [labels[row["clip"]], _policy_cell(row["policy"]), str(row["runs"])]
        cells += [_fmt(row[c], 3 if c in ("SR", "track_fail") else 4) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_tables(
    runs: list[RunResult],
    out_dir: Path,
    policies: list[str] | str | None = None,
    protocol: str = "",
    plots: bool = False,
) -> dict[str, Path]:
    """``results.md``, ``results.csv`` (per clip and policy), ``runs.csv`` (per run), ``runs.npz``."""
    if isinstance(policies, str) or policies is None:
        policies = list(dict.fromkeys(r.policy for r in runs))
    out_dir = Path(out_dir)
    csv_path, md_path, runs_path = out_dir / "results.csv", out_dir / "results.md", out_dir / "runs.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(summary_rows(runs, policies))
    with runs_path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RUN_COLUMNS)
        w.writeheader()
        for r in runs:
            m = r.means()
            w.writerow(
                {
                    "policy": r.policy, "clip": r.clip, "start_s": round(r.start_s, 3), "seed": r.seed,
                    "planned_s": round(r.planned_steps * r.control_dt, 3),
                    "scored_s": round(r.scored_steps * r.control_dt, 3), "fell": int(r.fell),
                    "fall_time_s": r.fall_time_s, "fall_reason": r.fall_reason,
                    "track_fail": int(r.tracking_failed), "track_fail_s": r.tracking_failure_s, **m,
                }
            )  # fmt: skip
    per_policy = len({(r.clip, r.start_frame, r.seed) for r in runs if r.policy == policies[0]})
    lines = [
        f"# Evaluation: {', '.join(policies)}",
        "",
        f"{per_policy} runs per policy, the same clips, starts and seeds for every policy. {protocol}",
        "",
        "## Comparison (mean over runs)",
        "",
        comparison_table(runs, policies),
        "",
        "## Columns",
        "",
        definitions_table(),
        "",
        "## Per clip",
        "",
        clip_table(runs, policies),
        "",
    ]
    if plots:
        lines += ["## Plots", ""]
        lines += [f"![{SHORT.get(m, m)}](metric_{m}.png)" for m in ("SR", *METRICS)]
        lines += [""]
    md_path.write_text("\n".join(lines))
    arrays = {
        f"{r.policy}/{r.clip}/start{r.start_frame}/seed{r.seed}/{m}": r.errors[m]
        for r in runs
        for m in METRICS
    }
    # numpy's stub types **kwds like allow_pickle (bool): a false alarm for the arrays.
    np.savez_compressed(out_dir / "runs.npz", **arrays)  # type: ignore[arg-type]
    return {"csv": csv_path, "md": md_path, "runs_csv": runs_path, "npz": out_dir / "runs.npz"}


def distinct_colors(n: int) -> list:
    """``n`` colours: tab10 up to 10, tab20 up to 20, evenly spaced hues beyond (no repeats)."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(n)]
    return [matplotlib.colormaps["hsv"](i / n) for i in range(n)]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_metric_plot(runs: list[RunResult], path: Path, policies: list[str], metric: str) -> Path:
    """Grouped bars: per clip (and overall), one bar per policy (mean over runs), dots = single runs."""
    plt = _plt()
    clips = list(dict.fromkeys(r.clip for r in runs))
    labels = {r.clip: r.label or r.clip for r in runs}
    groups = [*clips, "overall"]
    colors = distinct_colors(len(policies))
    width = 0.8 / len(policies)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(groups) * max(1, len(policies) / 2) + 2), 3.8))

    def value(r: RunResult) -> float:
        if metric == "SR":
            return float(not r.fell)
        return r.means()[metric]

    for j, p in enumerate(policies):
        for g, c in enumerate(groups):
            sel = [r for r in runs if r.policy == p and (c == "overall" or r.clip == c)]
            vals = np.array([value(r) for r in sel])
            x = g + (j - (len(policies) - 1) / 2) * width
            mean = float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan
            ax.bar(x, mean, width * 0.9, color=colors[j], label=_policy_cell(p) if g == 0 else None)
            if metric != "SR" and c != "overall":
                ax.plot(np.full(len(vals), x), vals, ".", color="k", ms=3, alpha=0.6)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([labels.get(c, c) for c in groups], rotation=30, ha="right", fontsize=8)
    unit = "share of runs without a fall" if metric == "SR" else UNITS[metric]
    ax.set_ylabel(f"{SHORT.get(metric, metric)} [{unit}]", fontsize=8)
    what = "higher is better" if metric == "SR" else "lower is better; dots = runs"
    ax.set_title(f"{SHORT.get(metric, metric)}: mean over runs per clip ({what})", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_error_plot(runs: list[RunResult], path: Path, policy: str) -> Path:
    """MPJPE and the three MPKPEs over each run's time, a colour per clip; x = fall, o = tracking failure."""
    plt = _plt()
    shown = ("mpjpe", "mpkpe_local_mm", "mpkpe_ref_heading_mm", "mpkpe_global_mm")
    mine = [r for r in runs if r.policy == policy]
    clips = list(dict.fromkeys(r.clip for r in mine))
    colors = dict(zip(clips, distinct_colors(len(clips)), strict=True))
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.3 * len(shown)), sharex=True)
    for r in mine:
        for ax, m in zip(axes, shown, strict=True):
            y = r.errors[m]
            t = np.arange(1, len(y) + 1) * r.control_dt
            first = (
                r.start_frame == min(x.start_frame for x in mine if x.clip == r.clip)
                and r.seed == mine[0].seed
            )
            ax.plot(t, y, lw=0.7, color=colors[r.clip], label=(r.label or r.clip) if first else None)
            if r.fell and len(y):
                ax.plot(t[-1], y[-1], "x", color=colors[r.clip], ms=7, mew=2)
            if r.tracking_failed and r.tracking_failure_step <= len(y):
                k = r.tracking_failure_step - 1
                ax.plot(t[k], y[k], "o", mfc="none", color=colors[r.clip], ms=5)
    for ax, m in zip(axes, shown, strict=True):
        ax.set_ylabel(f"{SHORT[m]}\n[{UNITS[m]}]", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time since the run's start [s]")
    axes[0].set_title(f"{policy}: error over time, one line per run (x = fall, o = first tracking failure)")
    axes[0].legend(fontsize=7, ncol=4, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(
    runs: list[RunResult], out_dir: Path, policies: list[str] | str | None = None
) -> dict[str, Path]:
    """``metric_<m>.png`` for SR and every metric, ``errors_over_time_<policy>.png`` per policy.

    The ``plot`` key is the first policy's error-over-time figure."""
    if isinstance(policies, str) or policies is None:
        policies = list(dict.fromkeys(r.policy for r in runs))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        f"plot_{m}": write_metric_plot(runs, out_dir / f"metric_{m}.png", policies, m)
        for m in ("SR", *METRICS)
    }
    for i, p in enumerate(policies):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in p)
        f = write_error_plot(runs, out_dir / f"errors_over_time_{safe}.png", p)
        files[f"errors_{p}"] = f
        if i == 0:
            files["plot"] = f
    return files
