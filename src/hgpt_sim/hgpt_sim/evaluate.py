"""``hgpt-eval``: run a tracking policy on clips in MuJoCo and write the metrics table, plots and a video.

Each (clip, seed) run starts at the clip's first frame, steps the adapter at its control rate and stops
scoring at the fall (peers' rule, :class:`~hgpt_sim.rewards.FallConfig`). Runs are independent processes
(deterministic given the seed). Outputs under ``out_dir``: ``results.csv``, ``results.md``,
``errors_over_time.png``, ``runs.npz`` (per-step errors) and ``<clip>.mp4`` when ``video_clip`` is set.

Example::

    hgpt-eval --policy twist2 --clips lafan1/walk1_subject1.csv gmt/squat.pkl --out-dir outputs/eval_twist2
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tyro

from hgpt_core.datasets import shared_data_dir
from hgpt_sim.adapters import HgptAdapter, TrackerAdapter
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.metrics import METRICS, step_errors
from hgpt_sim.randomization import DRConfig
from hgpt_sim.references import MotionBank
from hgpt_sim.report import write_plots, write_tables
from hgpt_sim.rewards import FallConfig

DEFAULT_CLIPS = (
    "lafan1/walk1_subject1.csv",
    "lafan1/run1_subject2.csv",
    "g1_moves/karate/B_AttackKarate/retarget/B_AttackKarate.csv",
    "g1_moves/dance/J_Dance2_Salsa/retarget/J_Dance2_Salsa.csv",
    "g1_moves/karate/M_Move1/retarget/M_Move1.csv",
    "gmt/basic_walk.pkl",
    "gmt/squat.pkl",
    "gmt/kick_walk.pkl",
)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation of one policy on a list of clips."""

    policy: str = "twist2"
    """``twist2`` (or ``twist2:<file.onnx>``), ``zero`` (hold the default pose), or an hgpt policy path."""
    clips: tuple[str, ...] = DEFAULT_CLIPS
    """Clip files: absolute, or relative to <shared data>/motions/g1/."""
    seeds: tuple[int, ...] = (0,)
    """One run per clip and seed (seeds matter with ``dr``)."""
    dr: bool = False
    """Table 1 randomisation (no terrain) in every run."""
    init_noise: float = 0.0
    """Uniform noise [rad] on the initial joint angles, drawn per seed (spreads chaotic outcomes)."""
    max_seconds: float | None = None
    """Score at most this much of each clip [s] (None: whole clip)."""
    fall: FallConfig = field(default_factory=FallConfig)
    """Fall rule that stops scoring (default: the peers' thresholds)."""
    workers: int = 2
    """Processes running clips in parallel."""
    out_dir: Path = Path("outputs/eval")
    video_clip: str | None = None
    """Name (file stem) of a clip to render with the reference ghost; seed = first seed."""
    video_seconds: float = 10.0
    """Rendered length [s] (software GL: ~0.25 s per frame)."""
    video_fps: float = 25.0
    plots: bool = True


@dataclass
class RunResult:
    """One (clip, seed) run. ``errors[name]`` is (T,) per scored step."""

    clip: str
    seed: int
    frames: int
    steps: int
    fell: bool
    fall_reason: str
    errors: dict[str, np.ndarray] = field(default_factory=dict)
    qpos: np.ndarray | None = None
    ref_qpos: np.ndarray | None = None
    wall_s: float = 0.0
    control_dt: float = 0.02

    def means(self) -> dict[str, float]:
        return {k: float(np.mean(v)) if len(v) else float("nan") for k, v in self.errors.items()}


def clip_stem(path: Path) -> str:
    """A clip's name from its file: ``walk.clip.npz`` -> ``walk``, ``walk.csv`` -> ``walk``."""
    return path.name.removesuffix(".clip.npz") if path.name.endswith(".clip.npz") else path.stem


def resolve_clip(name: str) -> Path:
    """Absolute path of a clip given absolutely or relative to <shared data>/motions/g1/."""
    p = Path(name)
    if p.is_file():
        return p
    root = shared_data_dir()
    if root is not None and (root / "motions" / "g1" / name).is_file():
        return root / "motions" / "g1" / name
    raise FileNotFoundError(f"clip '{name}' not found (absolute, or under <shared data>/motions/g1/)")


def make_adapter(spec: str) -> TrackerAdapter:
    """Adapter from a policy spec string (see :attr:`EvalConfig.policy`)."""
    if spec == "twist2" or spec.startswith("twist2:"):
        from hgpt_sim.twist2 import DEFAULT_ONNX, Twist2Adapter

        return Twist2Adapter(spec.split(":", 1)[1] if ":" in spec else DEFAULT_ONNX)
    from hgpt_policy.loader import load_tracking_policy  # hgpt policies (TrackingPolicy: .meta, .act)

    policy = load_tracking_policy(spec)
    return HgptAdapter(policy.meta, policy)


def run_clip(
    adapter: TrackerAdapter,
    clip_path: Path,
    seed: int = 0,
    dr: bool = False,
    max_seconds: float | None = None,
    record: bool = False,
    fall: FallConfig | None = None,
    init_noise: float = 0.0,
) -> RunResult:
    """Track one clip from its first frame until its end or the fall; errors per scored step."""
    t0 = time.perf_counter()
    bank = MotionBank.from_files([clip_path])
    frames = int(bank.lengths[0])
    steps = frames - 1
    if max_seconds is not None:
        steps = min(steps, int(round(max_seconds / adapter.control_dt)))
    cfg = EnvConfig(
        num_envs=1,
        nthread=0,
        control_dt=adapter.control_dt,
        episode_frames=(steps, steps),
        random_start=False,
        init_joint_noise=init_noise,
        seed=seed,
        auto_reset=False,
        privileged_obs=False,
        compute_obs=False,  # adapters build their own observations
        fall=fall or FallConfig(),
        dr=DRConfig.paper() if dr else DRConfig(),
    )
    env = TrackingEnv(cfg, bank, actuation=adapter.actuation)
    adapter.reset()
    errs: dict[str, list[float]] = {k: [] for k in METRICS}
    qpos, ref_qpos = [env.state.qpos[0].copy()], [env.reference().qpos()[0]]
    fell, reason, scored = False, "", steps
    for k in range(1, steps + 1):
        res = env.step_targets(adapter.act(env.state, env.reference(1)))
        if res.terminated[0]:
            fell, scored = True, k
            reason = ",".join(
                n.split("/")[1] for n, v in res.info.items() if n.startswith("termination/") and v
            )
            break
        for name, v in step_errors(env.state, env.reference()).items():
            errs[name].append(float(v[0]))
        if record:
            qpos.append(env.state.qpos[0].copy())
            ref_qpos.append(env.reference().qpos()[0])
    env.close()
    return RunResult(
        clip=bank.names[0],
        seed=seed,
        frames=frames,
        steps=scored,
        fell=fell,
        fall_reason=reason,
        errors={n: np.asarray(v) for n, v in errs.items()},
        qpos=np.asarray(qpos) if record else None,
        ref_qpos=np.asarray(ref_qpos) if record else None,
        wall_s=time.perf_counter() - t0,
        control_dt=adapter.control_dt,
    )


def _task(args: tuple) -> RunResult:
    spec, clip, seed, dr, max_seconds, record, fall, noise = args
    return run_clip(make_adapter(spec), resolve_clip(clip), seed, dr, max_seconds, record, fall, noise)


def evaluate(cfg: EvalConfig) -> tuple[list[RunResult], dict[str, Path]]:
    """Run every (clip, seed), write tables/plots/video; returns the runs and the written files."""
    paths = [resolve_clip(c) for c in cfg.clips]
    video_stem = cfg.video_clip
    stems = [clip_stem(p) for p in paths]
    if video_stem is not None and video_stem not in stems:
        raise ValueError(f"video_clip '{video_stem}' is not among the clips {stems}")
    tasks = [
        (
            cfg.policy,
            str(p),
            s,
            cfg.dr,
            cfg.max_seconds,
            clip_stem(p) == video_stem and s == cfg.seeds[0],
            cfg.fall,
            cfg.init_noise,
        )
        for p in paths
        for s in cfg.seeds
    ]
    if cfg.workers > 1 and len(tasks) > 1:
        with mp.get_context("spawn").Pool(min(cfg.workers, len(tasks))) as pool:
            runs = pool.map(_task, tasks, chunksize=1)
    else:
        runs = [_task(t) for t in tasks]
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = write_tables(runs, out, cfg.policy)
    if cfg.plots:
        files["plot"] = write_plots(runs, out / "errors_over_time.png", cfg.policy)
    recorded = [r for r in runs if r.qpos is not None]
    if recorded:
        from hgpt_sim.render import render_video_subprocess

        r = recorded[0]
        n = int(cfg.video_seconds / r.control_dt) + 1
        video, msg = render_video_subprocess(
            r.qpos[:n], r.ref_qpos[:n], out / r.clip, control_dt=r.control_dt, fps=cfg.video_fps
        )
        if video is None:
            print(msg)
        else:
            files["video"] = video
    return runs, files


def main() -> None:
    """Console entry point (``hgpt-eval``)."""
    cfg = tyro.cli(EvalConfig)
    t0 = time.perf_counter()
    runs, files = evaluate(cfg)
    print(files["md"].read_text())
    for k, v in files.items():
        print(f"{k}: {v}")
    print(f"{len(runs)} runs in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
