"""PPO expert training throughput (collection + update) vs raw ``mujoco.rollout`` of the same envs.

One run: an :class:`~hgpt_training.expert_trainer.ExpertTrainer` on the shared default clips (or a corpus
cluster) runs ``iterations`` PPO iterations; then its own physics backend (same envs, same models, same thread
count, same 200 Hz decimation) is stepped ``steps_per_env`` control steps per "iteration" with bare
``mujoco.rollout`` calls. Per iteration: wall time, env-steps/s; the table gives median and p99 (of the
time; the rate at the p99 time). The ratio raw / PPO is the share of training time that is physics.

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python benchmarks/bench_expert.py --iterations 10
    .venv/bin/python benchmarks/bench_expert.py --mode scratch --device cuda   # networks on a GPU
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import tyro

from hgpt_sim.eval_clips import DEFAULT_CLIPS, load_reference
from hgpt_sim.references import MotionBank
from hgpt_training.distill_data import CorpusMotions
from hgpt_training.expert_clusters import cluster_motions
from hgpt_training.expert_trainer import ExpertConfig, ExpertTrainer
from hgpt_training.ppo import PPOConfig


@dataclass(frozen=True)
class Args:
    num_envs: int = 64
    iterations: int = 10
    warmup: int = 1
    steps_per_env: int = 24
    mode: Literal["residual", "scratch"] = "residual"
    corpus: Path | None = None
    """Use this corpus's cluster (else the 8 shared default clips)."""
    cluster: int = 0
    dr: bool = True
    nthread: int = 1
    threads: int = 1
    device: str = "cpu"


def _motions(a: Args) -> CorpusMotions:
    if a.corpus is not None:
        return cluster_motions(a.corpus, a.cluster, max_frames=100_000)
    refs = [load_reference(c) for c in DEFAULT_CLIPS]
    n = len(refs)
    return CorpusMotions(
        MotionBank(refs), np.full(n, 1.0 / n), [np.zeros(r.num_frames, np.int64) for r in refs], (), 1
    )


def _row(name: str, times: np.ndarray, steps: int) -> str:
    med, p99 = np.median(times), np.percentile(times, 99)
    return f"| {name} | {1e3 * med:.0f} | {1e3 * p99:.0f} | {steps / med:.0f} | {steps / p99:.0f} |"


def main(a: Args) -> None:
    torch.set_num_threads(a.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench_expert_"))
    cfg = ExpertConfig(
        run_dir=tmp,
        corpus=a.corpus or tmp,
        mode=a.mode,
        num_envs=a.num_envs,
        iterations=a.iterations + a.warmup,
        ppo=PPOConfig(steps_per_env=a.steps_per_env),
        dr=a.dr,
        nthread=a.nthread,
        threads=a.threads,
        device=a.device,
        progress=False,
        ckpt_every=10**9,
    )
    tr = ExpertTrainer(cfg, _motions(a))
    ppo_t, col_t, upd_t = [], [], []
    for k in range(a.iterations + a.warmup):
        row = tr.step()
        if k >= a.warmup:
            col_t.append(row["time/collect_s"])
            upd_t.append(row["time/update_s"])
            ppo_t.append(row["time/collect_s"] + row["time/update_s"])
    be, env = tr.env.backend, tr.env
    targets = np.broadcast_to(env.default_pose, (a.num_envs, 29)).copy()
    raw_t = []
    for k in range(a.iterations + a.warmup):
        env.reset()
        t0 = time.perf_counter()
        for _ in range(a.steps_per_env):
            be.step(targets, env.decimation)
        if k >= a.warmup:
            raw_t.append(time.perf_counter() - t0)
    tr.close()
    shutil.rmtree(tmp, ignore_errors=True)
    steps = a.num_envs * a.steps_per_env
    print(
        f"{a.num_envs} envs x {a.steps_per_env} steps per iteration, mode {a.mode}, DR {a.dr}, "
        f"physics threads {a.nthread}, torch threads {a.threads}, device {a.device}, "
        f"{a.iterations} iterations\n"
    )
    print("| per iteration | median ms | p99 ms | env-steps/s (median) | env-steps/s (p99) |")
    print("|---|--:|--:|--:|--:|")
    print(_row("PPO collection + update", np.array(ppo_t), steps))
    print(_row("  collection (env + teacher + actor)", np.array(col_t), steps))
    print(_row("  update (5 epochs x 4 minibatches)", np.array(upd_t), steps))
    print(_row("raw mujoco.rollout, same envs", np.array(raw_t), steps))
    print(f"\nraw / PPO (share of training time that is physics): {np.median(raw_t) / np.median(ppo_t):.2f}")


if __name__ == "__main__":
    main(tyro.cli(Args))
