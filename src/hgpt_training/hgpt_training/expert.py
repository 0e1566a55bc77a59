"""``hgpt train expert``: PPO motion experts per HME cluster, residual over a teacher or from scratch.

One expert per HME cluster (Humanoid-GPT §3.2): its episodes are the cluster's frame ranges of the corpus
TRAIN split (:func:`~hgpt_training.expert_clusters.cluster_motions`), drawn with the cluster's balanced
weights, reference state initialisation at a random frame, Table 1 randomisation with pushes, the training
termination (anchor, tilt, hand/foot height, and the paper's joint-limit rule), the keypoint reward in the
units of :data:`~hgpt_training.expert_trainer.EXPERT_REWARD` (docs/training.md "Experts").

Action and physics are the distillation student's: TWIST2's gains, default pose and action scale, 200 Hz
implicit PD position actuators (:func:`hgpt_training.dagger.student_actuation`; DESIGN §7 measured TWIST2
tracking the same there as at its native 1 kHz), so an expert's PD targets mean what the student's mean.

* ``mode=residual`` (default): ``a = a_teacher + r(obs, a_teacher)``, ``r``'s last layer zero at start: the
  expert starts at the teacher's quality and learns to fix its failures (affordable on CPUs).
* ``mode=scratch``: plain PPO (the paper's way, for GPUs).

Each run is resumable: ``<run_dir>/ckpt.pt`` is written atomically every ``ckpt_every`` iterations, and at
each such boundary every env starts a new episode from a seed of (seed, iteration) (a time-out for the
value), so a resumed run's next update is the uninterrupted run's. Logs: ``metrics.jsonl``, TensorBoard
(``tb/``, when installed), ``curve.png``; the deployable expert is ``expert.pt``
(:func:`~hgpt_training.expert_policy.load_expert`).

Examples::

    hgpt train expert --corpus ~/hgpt-runs/corpus_full --cluster 3 --run-dir ~/hgpt-runs/expert_c3
    hgpt train expert --corpus ... --clusters 0 1 2 3 --run-dir ~/hgpt-runs/experts   # Ray fan-out
    hgpt train expert accept --run-dir ~/hgpt-runs/expert_c3 --library ~/hgpt-runs/experts_lib

Modules: :mod:`~hgpt_training.expert_clusters` (episodes), :mod:`~hgpt_training.expert_trainer` (config, PPO
trainer), :mod:`~hgpt_training.expert_policy` (the deployable expert) and this one (the CLI, Ray fan-out).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import tyro
from tqdm import tqdm

from hgpt_core.errors import HgptError
from hgpt_training.expert_trainer import ExpertConfig, train_expert


def fan_out(cfg: ExpertConfig) -> list[dict]:
    """One expert per cluster of ``cfg.clusters`` as Ray tasks (1 CPU each), each in run_dir/cluster_KKK."""
    import ray

    if not cfg.clusters:
        raise HgptError("fan_out needs --clusters")
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=cfg.ray_address, num_cpus=cfg.ray_num_cpus, include_dashboard=False, log_to_driver=False
        )
    task = ray.remote(num_cpus=1)(train_expert)
    try:
        refs = [
            task.remote(
                dataclasses.replace(
                    cfg,
                    cluster=c,
                    clusters=(),
                    run_dir=Path(cfg.run_dir) / f"cluster_{c:03d}",
                    progress=False,
                )
            )
            for c in cfg.clusters
        ]
        done = []
        pending = list(refs)
        with tqdm(total=len(refs), desc="experts", unit="expert", disable=not cfg.progress) as bar:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                done += ray.get(ready)
                bar.update(len(ready))
        return sorted(done, key=lambda r: r["cluster"])
    finally:
        if started:
            ray.shutdown()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "accept":
        from hgpt_training.expert_library import accept_main

        sys.argv = [f"{sys.argv[0]} accept", *sys.argv[2:]]
        accept_main()
        return
    cfg = tyro.cli(ExpertConfig, description=__doc__.split("\n\n")[0])
    try:
        if cfg.clusters:
            for r in fan_out(cfg):
                print(json.dumps({k: r[k] for k in ("cluster", "run_dir", "iteration")}))
        else:
            r = train_expert(cfg)
            print(f"expert c{cfg.cluster}: {r['iteration']} iterations in {r['run_dir']}")
    except HgptError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
