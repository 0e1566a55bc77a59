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

Library use (e.g. scoring students on the corpus test split)::

    from hgpt_sim.evaluate import evaluate_policies
    res = evaluate_policies(["twist2", my_adapter], split="test", starts=3, max_seconds=20, out_dir=None)
    res.overall()  # {policy: {"SR": ..., "mpjpe": ..., ...}}
"""

from __future__ import annotations

import multiprocessing as mp
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import tyro
from tqdm import tqdm

from hgpt_core.datasets import shared_data_dir
from hgpt_core.errors import HgptError
from hgpt_core.motion import MotionClip
from hgpt_core.reference import ReferenceMotion
from hgpt_sim.adapters import HgptAdapter, TrackerAdapter
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.metrics import METRICS, step_errors
from hgpt_sim.randomization import DRConfig
from hgpt_sim.references import MotionBank, load_motion_file
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
CORPUS_CANDIDATES = (Path("outputs/corpus_full"), Path("outputs/corpus_subset"), Path("outputs/corpus"))
"""Where ``hgpt corpus all`` (``--full``) and ``hgpt corpus build`` write, relative to the working folder."""
TRACKING_FAILURE_EE_HEIGHT = 0.25
"""[m] a hand or foot this far above or below its reference height is a tracking failure (not a fall)."""


@dataclass(frozen=True)
class EvalConfig:
    """Evaluate one or more policies on the same clips, starts and seeds; one comparison table."""

    policy: tyro.conf.UseAppendAction[tuple[str, ...]] = ()
    """Policy, repeat to compare: ``twist2`` (or ``twist2:<file.onnx>``), ``expert:<expert.pt>`` (a PPO
    motion expert of hgpt_training), ``zero`` (hold the default pose:
    the trivial baseline), or an exported hgpt policy (.onnx/.pt). Default: twist2."""
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


@dataclass(frozen=True)
class RunSpec:
    """One run: clip index in the bank, first reference frame, seed, control steps to score."""

    clip: int
    start: int
    seed: int
    steps: int


@dataclass
class RunResult:
    """One (policy, clip, start, seed) run. ``errors[name]`` is (T,) per scored step.

    ``steps``: control steps run (to the fall, inclusive, or ``planned_steps``); the fall step is not
    scored, so a run that fell has ``steps - 1`` scored steps.
    """

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
    policy: str = ""
    start_frame: int = 0
    planned_steps: int = 0
    tracking_failure_step: int = -1
    """First scored step with a hand/foot height error over the threshold (-1: none)."""
    label: str = ""
    step_s: np.ndarray | None = None
    """Wall time [s] of each control step of the env that ran this run (shared by a batch's runs)."""

    @property
    def scored_steps(self) -> int:
        return len(next(iter(self.errors.values()))) if self.errors else 0

    @property
    def start_s(self) -> float:
        return self.start_frame * self.control_dt

    @property
    def fall_time_s(self) -> float:
        """Time of the fall from the run's start [s] (nan: no fall)."""
        return self.steps * self.control_dt if self.fell else float("nan")

    @property
    def tracking_failed(self) -> bool:
        return self.tracking_failure_step >= 0

    @property
    def tracking_failure_s(self) -> float:
        """Time of the first tracking failure from the run's start [s] (nan: none)."""
        return self.tracking_failure_step * self.control_dt if self.tracking_failed else float("nan")

    def means(self) -> dict[str, float]:
        return {k: float(np.mean(v)) if len(v) else float("nan") for k, v in self.errors.items()}


@dataclass
class EvalResults:
    """Every run of an evaluation and the files written (empty without ``out_dir``)."""

    runs: list[RunResult]
    policies: list[str]
    files: dict[str, Path] = field(default_factory=dict)
    wall_s: float = 0.0

    def overall(self) -> dict[str, dict]:
        """Per policy: the mean over its runs (SR, tracking failures, metrics; see report.summary_row)."""
        from hgpt_sim.report import summary_row

        return {p: summary_row(p, [r for r in self.runs if r.policy == p]) for p in self.policies}

    def table(self) -> str:
        """The comparison table (markdown)."""
        from hgpt_sim.report import comparison_table

        return comparison_table(self.runs, self.policies)


# ---- clips --------------------------------------------------------------------------------------------


def clip_stem(path: Path) -> str:
    """A clip's name from its file: ``walk.clip.npz`` -> ``walk``, ``walk.csv`` -> ``walk``."""
    return path.name.removesuffix(".clip.npz") if path.name.endswith(".clip.npz") else path.stem


_LABEL_NOISE = (
    (re.compile(r"^\d+-motions_raw_tairantestbed_smpl_video_"), ""),  # ASAP singles
    (re.compile(r"_amass$"), ""),
    (re.compile(r"_retargeted$"), ""),
)


def clip_label(name: str, width: int = 28) -> str:
    """A readable label: ``0-motions_raw_tairantestbed_smpl_video_Bolt_level1_amass`` -> ``Bolt level1``."""
    base = name.rsplit("/", 1)[-1]
    for pat, rep in _LABEL_NOISE:
        base = pat.sub(rep, base)
    base = base.replace("_", " ").strip() or name
    return base if len(base) <= width else base[: width - 1] + "…"


def resolve_clip(name: str) -> Path:
    """Path of a clip given absolutely or relative to <shared>/motions/g1/, motions/human/ or <shared>."""
    p = Path(name)
    if p.is_file():
        return p
    root = shared_data_dir()
    if root is not None:
        for base in (root / "motions" / "g1", root / "motions" / "human", root):
            if (base / name).is_file():
                return base / name
    raise FileNotFoundError(
        f"clip '{name}' not found (absolute, or under <shared data>/motions/g1/, motions/human/ or "
        "<shared data>/)"
    )


def load_reference(name: str | Path, fps: float | None = None) -> ReferenceMotion:
    """A clip file (G1, or human mocap retargeted through hgpt_retarget's cache) at the control rate.

    Args:
        name: Path or shared-data-relative name (:func:`resolve_clip`).
        fps: Input rate [Hz] of a CSV (see :func:`hgpt_sim.references.load_motion_file`).
    """
    path = resolve_clip(str(name))
    ref = None
    if path.suffix.lower() not in (".csv", ".pkl", ".pickle") and not path.name.endswith(".clip.npz"):
        try:
            from hgpt_retarget.human_clip import is_human_motion_file, retarget_human_file
        except ImportError:  # hgpt_retarget absent: G1 files only
            is_human_motion_file = None
        if is_human_motion_file is not None and is_human_motion_file(path):
            clip = retarget_human_file(path)
            clip.name = clip_stem(path)
            ref = ReferenceMotion.from_clip(clip)
    if ref is None:
        ref = ReferenceMotion.from_clip(load_motion_file(path, fps=fps))
    if ref.upsample_note:  # a 7 fps clip is evaluated, but not silently
        print(f"warning: {path}: {ref.upsample_note}", file=sys.stderr)
    return ref


def find_corpus(corpus: Path | None = None) -> Path:
    """The corpus folder: ``corpus`` or the first built of :data:`CORPUS_CANDIDATES`.

    Raises:
        HgptError: none built; says to run ``hgpt corpus all``.
    """
    cands = [Path(corpus)] if corpus is not None else list(CORPUS_CANDIDATES)
    for c in cands:
        if (c / "manifest.json").is_file():
            return c
    raise HgptError(
        f"no built corpus at {', '.join(map(str, cands))}: run `hgpt corpus all` (CI subset, about a minute) "
        "or `hgpt corpus all --full`, or pass --corpus DIR"
    )


def corpus_references(
    split: str = "test", corpus: Path | None = None, max_clips: int | None = None
) -> list[ReferenceMotion]:
    """The original-speed (time-warp factor 1) clips of a corpus split, named by clip id."""
    root = find_corpus(corpus)
    try:
        from hgpt_training.corpus_store import CorpusReader  # lazily: hgpt_sim does not depend on it
    except ImportError as exc:
        raise HgptError(f"--split needs hgpt_training (pip install -e src/hgpt_training): {exc}") from exc
    reader = CorpusReader(root, split)
    refs = []
    for i, e in enumerate(reader.entries):
        if float(e.get("factor", 1.0)) != 1.0 or e["frames"] < 2:
            continue
        f = reader.frames(i)
        clip = MotionClip(
            np.asarray(f["root_pos"], np.float64),
            np.asarray(f["root_quat"], np.float64),
            np.asarray(f["joint_pos"], np.float64),
            reader.fps,
            name=e["clip_id"],
        )
        refs.append(ReferenceMotion.from_clip(clip))
        if max_clips is not None and len(refs) >= max_clips:
            break
    if not refs:
        raise HgptError(f"{root}: split '{split}' has no accepted clips")
    return refs


def _unique_names(refs: list[ReferenceMotion]) -> list[ReferenceMotion]:
    seen: dict[str, int] = {}
    out = []
    for r in refs:
        k = seen.get(r.name, 0)
        seen[r.name] = k + 1
        out.append(r if k == 0 else replace(r, name=f"{r.name}#{k + 1}"))
    return out


def plan_runs(
    lengths: Sequence[int], starts: int, seeds: Sequence[int], max_steps: int | None
) -> list[RunSpec]:
    """Runs of every clip: start frames ``floor(j T / S)`` (j < S, each leaving at least one step),
    ``min(T - 1 - start, max_steps)`` steps each, once per seed; clip-major order."""
    if starts < 1:
        raise ValueError(f"starts must be >= 1, got {starts}")
    runs = []
    for c, t in enumerate(lengths):
        firsts = sorted({min(j * int(t) // starts, int(t) - 2) for j in range(starts)})
        for s in firsts:
            steps = int(t) - 1 - s if max_steps is None else min(int(t) - 1 - s, max_steps)
            runs += [RunSpec(c, s, seed, steps) for seed in seeds]
    return runs


# ---- policies -----------------------------------------------------------------------------------------


def make_adapter(spec: str) -> TrackerAdapter:
    """Adapter from a policy spec string (see :attr:`EvalConfig.policy`)."""
    if spec == "twist2" or spec.startswith("twist2:"):
        from hgpt_sim.twist2 import DEFAULT_ONNX, Twist2Adapter

        return Twist2Adapter(spec.split(":", 1)[1] if ":" in spec else DEFAULT_ONNX)
    if spec.startswith("expert:"):  # a PPO motion expert (hgpt_training.expert; TWIST2's gains)
        from hgpt_training.expert import load_expert  # lazily: hgpt_sim does not depend on it

        return load_expert(spec.split(":", 1)[1])
    from hgpt_policy.loader import load_tracking_policy  # hgpt policies (TrackingPolicy: .meta, .act)

    policy = load_tracking_policy(spec)
    return HgptAdapter(policy.meta, policy)


def policy_name(policy: str | TrackerAdapter) -> str:
    """Table label: the spec (a file's stem) or the adapter's ``name``."""
    if isinstance(policy, str):
        if policy.startswith(("twist2:", "expert:")):
            kind, path = policy.split(":", 1)
            return f"{kind}:{Path(path).stem}"
        return Path(policy).stem if ("/" in policy or "." in policy) else policy
    return str(getattr(policy, "name", type(policy).__name__))


# ---- running ------------------------------------------------------------------------------------------


def _perturb(env: TrackingEnv, ids: np.ndarray, seeds: Sequence[int], noise: float) -> None:
    """Add U(-noise, noise) [rad] to the initial joint angles, drawn from each run's own seed (so the
    batched and per-process paths start from the same states)."""
    qpos, qvel = env.state.qpos[ids].copy(), env.state.qvel[ids].copy()
    for row, s in enumerate(seeds):
        qpos[row, 7:] += np.random.default_rng(s).uniform(-noise, noise, qpos.shape[1] - 7)
    env.backend.set_state(ids, qpos, qvel)
    env.state.assign(ids, env.backend.read(ids))


def run_batch(
    adapter: TrackerAdapter,
    bank: MotionBank,
    runs: Sequence[RunSpec],
    *,
    fall: FallConfig | None = None,
    tracking_failure: float = TRACKING_FAILURE_EE_HEIGHT,
    dr: bool = False,
    init_noise: float = 0.0,
    record: Sequence[int] = (),
    nthread: int = 1,
    policy: str = "",
    progress: bool = False,
) -> list[RunResult]:
    """Every run in ONE env (``num_envs = len(runs)``): scored until its fall or its ``steps``.

    Finished runs keep stepping with the others but are no longer scored. ``record``: indices of runs
    whose robot and reference qpos are kept (for a video).
    """
    t0 = time.perf_counter()
    n = len(runs)
    steps = np.array([r.steps for r in runs], dtype=np.int64)
    horizon = int(steps.max())
    fall = fall or FallConfig.evaluation()
    cfg = EnvConfig(
        num_envs=n,
        nthread=nthread,
        control_dt=adapter.control_dt,
        episode_frames=(horizon + 1, horizon + 1),
        random_start=False,
        seed=runs[0].seed,
        auto_reset=False,
        privileged_obs=False,
        compute_obs=False,  # adapters build their own observations
        fall=fall,
        dr=DRConfig.paper() if dr else DRConfig(),
    )
    env = TrackingEnv(cfg, bank, actuation=adapter.actuation)
    ids = np.arange(n)
    env.reset(ids, np.array([r.clip for r in runs]), np.array([r.start for r in runs]))
    if init_noise > 0:
        _perturb(env, ids, [r.seed for r in runs], init_noise)
    adapter.reset()
    errs = {m: np.full((horizon, n), np.nan, np.float32) for m in METRICS}
    active = steps > 0
    ran = np.zeros(n, dtype=np.int64)
    fell = np.zeros(n, dtype=bool)
    reasons = [""] * n
    tf_step = np.full(n, -1, dtype=np.int64)
    rec = list(record)
    qpos = {i: [env.state.qpos[i].copy()] for i in rec}
    ref_qpos = {i: [env.reference().qpos()[i]] for i in rec}
    bar = tqdm(total=horizon, desc=f"{policy or adapter.name}: {n} runs", unit="step", disable=not progress)
    ticks = [time.perf_counter()]
    try:
        for k in range(1, horizon + 1):
            res = env.step_targets(adapter.act(env.state, env.reference(1)))
            ran[active] = k
            term = res.terminated.numpy() & active
            if term.any():
                why = env.fall(env.state, env.reference())
                for i in np.flatnonzero(term):
                    names = [w for w in ("anchor_height", "tilt", "nan") if why[w][i]]
                    reasons[i] = ",".join(names) or "nan"  # a diverged state trips only `terminated`
                fell |= term
            scored = active & ~term
            ref = env.reference()
            for m, v in step_errors(env.state, ref).items():
                errs[m][k - 1, scored] = v[scored]
            ee = env.fall.ee_height_error(env.state, ref) > tracking_failure
            tf_step[scored & ee & (tf_step < 0)] = k
            for i in rec:
                if scored[i]:
                    qpos[i].append(env.state.qpos[i].copy())
                    ref_qpos[i].append(ref.qpos()[i])
            active = scored & (k < steps)
            ticks.append(time.perf_counter())
            bar.update(1)
            bar.set_postfix(active=int(active.sum()), falls=int(fell.sum()), refresh=False)
            if not active.any():
                break
    finally:
        bar.close()
        env.close()
    wall = (time.perf_counter() - t0) / n
    step_s = np.diff(ticks)
    out = []
    for i, r in enumerate(runs):
        scored_i = int(ran[i] - fell[i])
        out.append(
            RunResult(
                clip=bank.names[r.clip],
                seed=r.seed,
                frames=int(bank.lengths[r.clip]),
                steps=int(ran[i]),
                fell=bool(fell[i]),
                fall_reason=reasons[i],
                errors={m: errs[m][:scored_i, i].astype(np.float64) for m in METRICS},
                qpos=np.asarray(qpos[i]) if i in qpos else None,
                ref_qpos=np.asarray(ref_qpos[i]) if i in ref_qpos else None,
                wall_s=wall,
                control_dt=adapter.control_dt,
                policy=policy or adapter.name,
                start_frame=r.start,
                planned_steps=r.steps,
                tracking_failure_step=int(tf_step[i]),
                label=clip_label(bank.names[r.clip]),
                step_s=step_s,
            )
        )
    return out


def run_clip(
    adapter: TrackerAdapter,
    clip_path: Path,
    seed: int = 0,
    dr: bool = False,
    max_seconds: float | None = None,
    record: bool = False,
    fall: FallConfig | None = None,
    init_noise: float = 0.0,
    start_frame: int = 0,
    fps: float | None = None,
) -> RunResult:
    """Track one clip (a file or a :class:`ReferenceMotion`) from ``start_frame`` to its end, the cap or
    the fall (default rule :meth:`FallConfig.evaluation`)."""
    ref = clip_path if isinstance(clip_path, ReferenceMotion) else load_reference(clip_path, fps)
    bank = MotionBank([ref])
    t = int(bank.lengths[0])
    cap = None if max_seconds is None else int(round(max_seconds / adapter.control_dt))
    steps = t - 1 - start_frame if cap is None else min(t - 1 - start_frame, cap)
    (r,) = run_batch(
        adapter,
        bank,
        [RunSpec(0, start_frame, seed, steps)],
        fall=fall,
        dr=dr,
        init_noise=init_noise,
        record=(0,) if record else (),
        nthread=0,
        policy=adapter.name,
    )
    return r


def _process_task(args: tuple) -> list[RunResult]:
    spec, name, ref, run, kw = args
    bank = MotionBank([ref])
    return run_batch(make_adapter(spec), bank, [replace(run, clip=0)], policy=name, nthread=0, **kw)


def evaluate_policies(
    policies: Sequence[str | TrackerAdapter],
    clips: Sequence[str | Path | ReferenceMotion] | None = None,
    *,
    split: str | None = None,
    corpus: Path | None = None,
    max_clips: int | None = None,
    fps: float | None = None,
    starts: int = 3,
    max_seconds: float | None = 20.0,
    seeds: Sequence[int] = (0,),
    dr: bool = False,
    init_noise: float = 0.0,
    fall: FallConfig | None = None,
    tracking_failure: float = TRACKING_FAILURE_EE_HEIGHT,
    mode: Literal["batched", "process"] = "batched",
    workers: int = 1,
    nthread: int = 1,
    out_dir: Path | None = None,
    plots: bool = True,
    video_clip: str | None = None,
    video_seconds: float = 10.0,
    video_fps: float = 25.0,
    progress: bool = True,
) -> EvalResults:
    """Evaluate policies side by side on the same clips, starts and seeds (the project's comparison).

    Args:
        policies: Spec strings (:func:`make_adapter`) or constructed :class:`TrackerAdapter` objects.
        clips: Files (:func:`load_reference`) or :class:`ReferenceMotion` objects; None with ``split``.
        split: ``train``/``val``/``test``/``all`` of the built corpus (``corpus``, :func:`find_corpus`).
        max_clips: Keep the first clips only.
        fps: Input rate [Hz] of CSV files.
        starts, max_seconds, seeds: The runs (:func:`plan_runs`); ``max_seconds`` None = to the clip end.
        fall: SR's fall rule (default :meth:`FallConfig.evaluation`).
        tracking_failure: Hand/foot height error [m] counted as a tracking failure.
        mode: ``batched`` (one env per policy) or ``process`` (one process per run; spec strings only).
        out_dir: Write tables, plots (and a video) here; None writes nothing.

    Returns:
        :class:`EvalResults` (runs in policy, clip, start, seed order).
    """
    t0 = time.perf_counter()
    if not policies:
        raise ValueError("no policy to evaluate")
    if split is not None:
        refs = corpus_references(split, corpus, max_clips)
    else:
        if not clips:
            raise ValueError("no clips to evaluate (give clips or split)")
        named = list(clips)[:max_clips] if max_clips else list(clips)
        it = tqdm(named, desc="loading clips", unit="clip", disable=not progress or len(named) < 2)
        refs = [c if isinstance(c, ReferenceMotion) else load_reference(c, fps) for c in it]
    refs = _unique_names(refs)
    bank = MotionBank(refs)
    fall = fall or FallConfig.evaluation()
    names = [policy_name(p) for p in policies]
    names = [n if names.count(n) == 1 else f"{n}#{i + 1}" for i, n in enumerate(names)]
    video_ids: set[int] = set()
    if video_clip is not None:
        match = [
            i for i, r in enumerate(refs) if video_clip in (r.name, clip_label(r.name), Path(r.name).name)
        ]
        if not match:
            raise ValueError(f"video_clip '{video_clip}' is not among the clips {[r.name for r in refs]}")
        video_ids = {match[0]}
    kw = dict(fall=fall, tracking_failure=tracking_failure, dr=dr, init_noise=init_noise, progress=False)
    runs: list[RunResult] = []
    for policy, name in zip(policies, names, strict=True):
        adapter = make_adapter(policy) if isinstance(policy, str) else policy
        max_steps = None if max_seconds is None else int(round(max_seconds / adapter.control_dt))
        plan = plan_runs(bank.lengths, starts, seeds, max_steps)
        record = [
            i for i, r in enumerate(plan) if r.clip in video_ids and r.start == 0 and r.seed == seeds[0]
        ]
        if mode == "process" and isinstance(policy, str):
            tasks = [
                (policy, name, refs[r.clip], r, {**kw, "record": (0,) if i in record else ()})
                for i, r in enumerate(plan)
            ]
            bar = tqdm(
                total=len(tasks),
                desc=f"{name}: {len(tasks)} runs, {workers} processes",
                unit="run",
                disable=not progress,
            )
            if workers > 1 and len(tasks) > 1:
                with mp.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
                    for rs in pool.imap(_process_task, tasks, chunksize=1):
                        runs += rs
                        bar.update(1)
            else:
                for t in tasks:
                    runs += _process_task(t)
                    bar.update(1)
            bar.close()
        else:
            if mode == "process":
                print(
                    f"{name}: an adapter object runs batched (mode process needs a spec string)",
                    file=sys.stderr,
                )
            runs += run_batch(
                adapter,
                bank,
                plan,
                record=record,
                nthread=nthread,
                policy=name,
                **{**kw, "progress": progress},
            )
    result = EvalResults(runs, names)
    if out_dir is not None:
        proto = protocol_text(len(refs), starts, seeds, max_seconds, dr, init_noise, fall, tracking_failure)
        result.files = write_outputs(
            result, Path(out_dir), plots=plots, video_seconds=video_seconds, video_fps=video_fps,
            progress=progress, protocol=proto,
        )  # fmt: skip
    result.wall_s = time.perf_counter() - t0
    return result


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
    from hgpt_sim.report import write_plots, write_tables

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


def evaluate(cfg: EvalConfig) -> tuple[list[RunResult], dict[str, Path]]:
    """Run :class:`EvalConfig`; returns the runs and the written files."""
    policies = [cfg.policy] if isinstance(cfg.policy, str) else list(cfg.policy)  # a str: the old field
    res = evaluate_policies(
        policies or ["twist2"],
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
