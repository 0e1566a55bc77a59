"""Running an evaluation: policy specs -> adapters, batched runs in one :class:`TrackingEnv` (or one
process per run), and :func:`evaluate_policies`, the library entry point (protocol: :mod:`hgpt_sim.evaluate`).
Spec strings become adapters in :mod:`hgpt_sim.policy_adapters` (:func:`make_adapter`).

Example (e.g. scoring students on the corpus test split)::

    from hgpt_sim.eval_runner import evaluate_policies
    res = evaluate_policies(["twist2", my_adapter], split="test", starts=3, max_seconds=20, out_dir=None)
    res.overall()  # {policy: {"SR": ..., "mpjpe": ..., ...}}
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from hgpt_core.reference import ReferenceMotion
from hgpt_sim.adapters import TrackerAdapter
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.eval_clips import clip_label, corpus_references, load_reference, unique_names
from hgpt_sim.eval_outputs import EvalResults, protocol_text, write_outputs
from hgpt_sim.eval_results import TRACKING_FAILURE_EE_HEIGHT, RunResult, RunSpec, plan_runs
from hgpt_sim.metrics import METRICS, step_errors
from hgpt_sim.policy_adapters import make_adapter, policy_name
from hgpt_sim.randomization import DRConfig
from hgpt_sim.references import MotionBank
from hgpt_sim.rewards import FallConfig


def _perturb(env: TrackingEnv, ids: np.ndarray, seeds: Sequence[int], noise: float) -> None:
    """Add U(-noise, noise) [rad] to the initial joint angles, drawn from each run's own seed (so the
    batched and per-process paths start from the same states)."""
    qpos, qvel = env.state.qpos()[ids], env.state.qvel()[ids]
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
    qpos = {i: [env.state.qpos()[i]] for i in rec}
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
                    qpos[i].append(env.state.qpos()[i])
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
    refs = unique_names(refs)
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
