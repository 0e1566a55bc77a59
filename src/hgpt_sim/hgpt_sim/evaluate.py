"""``hgpt eval`` / ``hgpt-eval``: policies side by side on the same clips, starts and seeds, in MuJoCo.

Protocol (DESIGN §5, docs/sim.md "Evaluation"):

* every clip is scored from ``starts`` offsets (0, 1/S, 2/S ... of its length), each run capped at
  ``max_seconds``, once per seed: a (clip, start, seed) run starts ON the reference frame at its start;
* a run stops scoring at the FALL (:meth:`FallConfig.evaluation`: anchor tilt error > 0.8, anchor more than
  0.25 m below its reference, NaN/diverged); SR = share of runs without a fall;
* a hand or foot more than 0.25 m off its reference height is a TRACKING FAILURE: its first time is recorded
  and the run goes on being scored;
* metrics (:mod:`hgpt_sim.metrics`) are means over a run's scored steps; a clip's and a policy's values are
  means over runs.

All runs of one policy step together in ONE :class:`TrackingEnv` (``num_envs`` = runs, one
``mujoco.rollout`` call per control step, batched policy inference): ``mode="batched"``. ``mode="process"``
runs each run in its own process (one env each), the earlier path kept for comparison
(benchmarks/bench_eval.py); without DR both give identical metrics.

Outputs under ``out_dir``: ``results.md`` (comparison table, definitions, per-clip table), ``results.csv``
(per clip and policy), ``runs.csv`` (per run), ``runs.npz`` (per-step errors), ``metric_<name>.png`` (one
per metric, policies side by side per clip), ``errors_over_time_<policy>.png`` and, with
``--video-clip``, ``<clip>_<policy>.mp4``.

Example::

    hgpt eval --policy twist2 --policy zero --starts 3 --clips lafan1/walk1_subject1.csv gmt/squat.pkl

Modules: :mod:`~hgpt_sim.eval_clips` (which clips), :mod:`~hgpt_sim.eval_results` (runs and their
records), :mod:`~hgpt_sim.eval_runner` (running them), :mod:`~hgpt_sim.eval_outputs` (tables, plots, videos)
and this one (the CLI).

Library use (e.g. scoring students on the corpus test split)::

    from hgpt_sim.eval_runner import evaluate_policies
    res = evaluate_policies(["twist2", my_adapter], split="test", starts=3, max_seconds=20, out_dir=None)
    res.overall()  # {policy: {"SR": ..., "mpjpe": ..., ...}}
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import tyro

from hgpt_core.errors import HgptError
from hgpt_sim.eval_clips import DEFAULT_CLIPS
from hgpt_sim.eval_results import TRACKING_FAILURE_EE_HEIGHT, RunResult
from hgpt_sim.eval_runner import evaluate_policies
from hgpt_sim.rewards import FallConfig


@dataclass(frozen=True)
class EvalConfig:
    """Evaluate one or more policies on the same clips, starts and seeds; one comparison table."""

    policy: tyro.conf.UseAppendAction[tuple[str, ...]] = ()
    """Policy, repeat to compare: a spec of the loader and the G1 bridge (hgpt_core.policy_spec): ``twist2``
    (or ``twist2:<file.onnx>``), ``hgpt`` (the bundled Humanoid-GPT), ``zero`` / ``hold_default`` (hold the
    default pose: the trivial baseline), an exported hgpt policy (.onnx/.pt); or a simulator-only scheme:
    ``expert:<expert.pt>`` (a PPO motion expert of hgpt_training). Default: hgpt."""
    clips: tuple[str, ...] = DEFAULT_CLIPS
    """G1 clips (.csv .npz .pkl) or human mocap files (.bvh ..., retargeted through hgpt_retarget's
    cache): absolute, or relative to <shared data>/motions/g1/, <shared data>/motions/human/ or <shared
    data>/."""
    split: Literal["train", "val", "test", "all"] | None = None
    """Evaluate this split of the built corpus instead of --clips (its original-speed clips)."""
    corpus: Path | None = None
    """Corpus folder for --split (default: the first built of outputs/corpus_full, outputs/corpus_subset,
    outputs/corpus)."""
    max_clips: int | None = None
    """Use at most this many clips (the first ones; e.g. a quick look at a split)."""
    fps: float | None = None
    """Frame rate [Hz] of CSV clips (CSV stores none). Without it: the clip's sidecar <file>.csv.json
    ({"fps": 30}) or, for the shared data folder's own files, its catalogue; else an error."""
    starts: int = 3
    """Runs per clip and seed, starting at 0, 1/S, 2/S ... of the clip."""
    max_seconds: float | None = 20.0
    """Cap of each run [s] (None: to the clip's end)."""
    seeds: tuple[int, ...] = (0,)
    """One run per clip, start and seed (seeds matter with --dr or --init-noise)."""
    dr: bool = False
    """Table 1 randomisation (no terrain) in every run."""
    init_noise: float = 0.0
    """Uniform noise [rad] on the initial joint angles, drawn from the seed."""
    fall: FallConfig = field(default_factory=FallConfig.evaluation)
    """The fall rule that ends scoring and counts against SR (DESIGN §5)."""
    tracking_failure: float = TRACKING_FAILURE_EE_HEIGHT
    """[m] hand/foot height error counted as a tracking failure (a column, not a fall)."""
    mode: Literal["batched", "process"] = "batched"
    """batched: all runs of a policy in one env; process: one process and env per run (the old path)."""
    workers: int = 2
    """Processes for mode process."""
    nthread: int = 2
    """Physics threads of the batched env."""
    out_dir: Path = Path("outputs/eval")
    video_clip: str | None = None
    """Clip (file stem or label) to render with the reference ghost, start 0, first seed, every policy."""
    video_seconds: float = 10.0
    """Rendered length [s] (software GL: ~0.25 s per frame)."""
    video_fps: float = 25.0
    plots: bool = True
    progress: bool = True
    """Progress bars on stderr."""


def evaluate(cfg: EvalConfig) -> tuple[list[RunResult], dict[str, Path]]:
    """Run :class:`EvalConfig`; returns the runs and the written files."""
    policies = [cfg.policy] if isinstance(cfg.policy, str) else list(cfg.policy)  # a str: the old field
    res = evaluate_policies(
        policies or ["hgpt"],
        None if cfg.split else cfg.clips,
        split=cfg.split,
        corpus=cfg.corpus,
        max_clips=cfg.max_clips,
        fps=cfg.fps,
        starts=cfg.starts,
        max_seconds=cfg.max_seconds,
        seeds=cfg.seeds,
        dr=cfg.dr,
        init_noise=cfg.init_noise,
        fall=cfg.fall,
        tracking_failure=cfg.tracking_failure,
        mode=cfg.mode,
        workers=cfg.workers,
        nthread=cfg.nthread,
        out_dir=cfg.out_dir,
        plots=cfg.plots,
        video_clip=cfg.video_clip,
        video_seconds=cfg.video_seconds,
        video_fps=cfg.video_fps,
        progress=cfg.progress,
    )
    return res.runs, res.files


def main() -> None:
    """Console entry point (``hgpt eval`` / ``hgpt-eval``)."""
    cfg = tyro.cli(EvalConfig)
    t0 = time.perf_counter()
    try:
        runs, files = evaluate(cfg)
    except (HgptError, FileNotFoundError, ValueError) as exc:
        print(f"hgpt eval: {exc}", file=sys.stderr)
        sys.exit(2)
    print(files["md"].read_text())
    for k, v in files.items():
        print(f"{k}: {v}")
    print(f"{len(runs)} runs in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
