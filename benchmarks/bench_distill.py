"""DAgger distillation cost: collection control steps/s (env alone, + teacher labels, + student driving with
each GPT semantics) and training tokens/s (sliding_kv episodes from reset, attending in blocks of H or with
the full (T, T) band mask, vs the paper's 32-token windows).

All rows run in one process on the same real corpus clips, one after the other, with the same thread count;
collection ratios are against the env alone (physics + reference + reward + fall rule), training ratios
against the window model. Latency = wall time of one control step of the whole batch.

    .venv/bin/python benchmarks/bench_distill.py [--quick] [--parts collect train] [--threads 1]
        [--corpus ~/hgpt-runs/corpus_full]
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

from hgpt_policy.config import gpt_config
from hgpt_policy.model import build_policy
from hgpt_policy.runtime import Policy
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.randomization import DRConfig
from hgpt_training.dagger import CollectConfig, TeacherMix, collect_round, student_actuation
from hgpt_training.distill import DistillConfig, sequence_loss, student_metadata
from hgpt_training.distill_data import corpus_motions


@dataclass(frozen=True)
class Args:
    quick: bool = False
    """Few steps and iterations (smoke run)."""
    corpus: Path | None = None
    """Built corpus (default: ~/hgpt-runs/corpus_full if built, else the small test subset built in /tmp)."""
    num_envs: int = 64
    steps: int = 200
    """Control steps per collection row."""
    iters: int = 6
    """Training iterations per training row."""
    threads: int = 1
    parts: tuple[str, ...] = ("collect", "train")
    """Which tables: ``collect`` (needs a corpus), ``train``."""


def _corpus(args: Args) -> Path:
    if args.corpus is not None:
        return args.corpus
    full = Path.home() / "hgpt-runs" / "corpus_full"
    if (full / "manifest.json").is_file():
        return full
    import sys

    from hgpt_core.datasets import shared_data_dir
    from hgpt_training.corpus import CorpusConfig, build

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "training"))
    from conftest import SMALL_INCLUDE

    out = Path(tempfile.gettempdir()) / "hgpt_bench_corpus_small"
    if not (out / "manifest.json").is_file():
        build(CorpusConfig(out=out, data_root=shared_data_dir(), include=SMALL_INCLUDE, progress=False))
    return out


def _row(name: str, per_step_s: np.ndarray, n: int, base: float | None) -> str:
    med, p99 = np.median(per_step_s), np.percentile(per_step_s, 99)
    rate = n / med
    ratio = f"{rate / base:.2f}" if base else "1.00"
    return f"| {name} | {1e3 * med:.1f} | {1e3 * p99:.1f} | {rate:,.0f} | {ratio} |"


def main(args: Args) -> None:
    torch.set_num_threads(args.threads)
    if "collect" in args.parts:
        collection(args)
    if "train" in args.parts:
        training(2 if args.quick else args.iters)


def collection(args: Args) -> None:
    steps = 30 if args.quick else args.steps
    motions = corpus_motions(_corpus(args), "train", max_frames=100_000)
    from hgpt_sim.twist2 import Twist2Adapter

    mix = TeacherMix([Twist2Adapter()], np.array([0]))
    cfg = CollectConfig(num_envs=args.num_envs, steps=steps, episode_steps=400, dr=True, progress=False)
    print(f"{args.num_envs} envs, {steps} control steps per row, {args.threads} thread(s), DR on\n")
    print("| collection | ms/step (median) | p99 | env-steps/s | vs env alone |")
    print("|---|---:|---:|---:|---:|")
    meta = student_metadata(DistillConfig(), gpt_config("S", "sliding_kv"))
    env = TrackingEnv(
        EnvConfig(
            num_envs=args.num_envs,
            nthread=args.threads,
            episode_frames=(400, 400),
            compute_obs=False,
            privileged_obs=False,
            dr=DRConfig.paper(),
        ),
        motions.bank,
        meta=meta,
        actuation=student_actuation(meta),
    )
    env.clip_weights = motions.weights
    env.reset()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        env.step_targets(env.reference(1).joint_pos)
        times.append(time.perf_counter() - t0)
    env.close()
    base = args.num_envs / np.median(times)
    print(_row("env alone (physics, reference, reward, falls)", np.array(times), args.num_envs, None))
    res = collect_round(motions, meta, None, mix, 1.0, cfg, seed=0)
    print(_row("+ TWIST2 labels, teacher drives (round 0)", res.step_s, args.num_envs, base))
    for sem in ("sliding_kv", "window"):
        arch = gpt_config("S", sem)
        m = student_metadata(DistillConfig(), arch)
        student = Policy.from_model(build_policy(arch).eval(), m)
        with torch.no_grad():
            res = collect_round(motions, m, student, mix, 0.0, cfg, seed=0)
        print(_row(f"+ GPT-S {sem} student drives", res.step_s, args.num_envs, base))


def training(iters: int) -> None:
    print("\n| training (GPT-S, AdamW step) | ms/iter (median) | p99 | tokens/s | vs window |")
    print("|---|---:|---:|---:|---:|")
    cases = (
        ("window: 64 x 32 tokens", "window", 64, 32, True),
        ("sliding_kv: 8 x 400 tokens, band in blocks of H (default)", "sliding_kv", 8, 400, True),
        ("sliding_kv: 8 x 400 tokens, full (T, T) band mask", "sliding_kv", 8, 400, False),
    )
    models = []
    for _, sem, b, length, blocks in cases:
        torch.manual_seed(0)
        model = build_policy(gpt_config("S", sem))
        model.band_blocks = blocks
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        models.append(
            (model, opt, torch.randn(b, length, 161), torch.randn(b, length, 29), torch.ones(b, length))
        )
    times: list[list[float]] = [[] for _ in cases]
    for it in range(iters + 1):  # interleaved, so machine noise spreads over the cases; the first is warm-up
        for i, (model, opt, x, y, mask) in enumerate(models):
            t0 = time.perf_counter()
            loss = sequence_loss(model, x, y, mask, 1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if it:
                times[i].append(time.perf_counter() - t0)
    base_t = cases[0][2] * cases[0][3] / np.median(times[0])
    for (name, _, b, length, _), ts in zip(cases, times, strict=True):
        print(_row(name, np.array(ts), b * length, base_t))


if __name__ == "__main__":
    main(tyro.cli(Args))
