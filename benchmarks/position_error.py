"""Students' action error against the teacher by position in the episode, on the same teacher-driven
episodes.

Where does a student lose: right after a reset (positions 0..H-1, where ``window`` and ``sliding_kv``
compute the same function of the same tokens, so a gap there is the weights', i.e. the training's) or in the
steady state (positions >= H, where the two semantics differ)? One set of episodes for every student: TWIST2
drives every env from a reset on the corpus TEST split (no DR) and labels every step; each student's actions
on those tokens (``rollout``: what its runtime outputs stepping through the episode) are compared with the
labels.

    .venv/bin/python benchmarks/position_error.py --students A/student.pt B/student.pt \
        [--corpus ~/hgpt-runs/corpus_full] [--num-envs 32] [--steps 400]

Prints one row per student: mean |action - label| (raw action units) per position band, and the ratio to the
first student's. Off-policy for every student (the teacher drives), equally so for all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import tyro

BANDS = ((0, 8), (8, 32), (32, 100), (100, 200), (200, 400))


@dataclass(frozen=True)
class Args:
    students: tuple[Path, ...] = ()
    """Distilled students (``student.pt``); the first is the ratio baseline."""
    corpus: Path = field(default_factory=lambda: Path.home() / "hgpt-runs" / "corpus_full")
    num_envs: int = 32
    steps: int = 400
    """Control steps per env (one episode of at most this many steps from each reset)."""
    seed: int = 123
    threads: int = 1


def main(args: Args) -> None:
    from hgpt_policy.export import load_checkpoint
    from hgpt_sim.twist2 import Twist2Adapter
    from hgpt_training.dagger import CollectConfig, TeacherMix, collect_round
    from hgpt_training.distill_data import corpus_motions

    if not args.students:
        raise SystemExit("--students: at least one student.pt")
    for p in args.students:
        if not p.is_file():
            raise SystemExit(f"{p}: no such student checkpoint")
    torch.set_num_threads(args.threads)
    loaded = [load_checkpoint(p) for p in args.students]
    meta = loaded[0][1]
    for p, (_, m) in zip(args.students, loaded, strict=True):
        if m.obs_terms != meta.obs_terms:
            raise SystemExit(f"{p}: other observation terms than {args.students[0]}")
    motions = corpus_motions(args.corpus, "test")
    cfg = CollectConfig(num_envs=args.num_envs, steps=args.steps, episode_steps=args.steps, dr=False)
    res = collect_round(
        motions, meta, None, TeacherMix([Twist2Adapter()], np.array([0])), 1.0, cfg, args.seed
    )
    episodes = [(int(o), int(n)) for o, n, *_ in res.episodes if n >= 8]
    print(f"{len(episodes)} teacher-driven test-split episodes, {sum(n for _, n in episodes):,} steps\n")
    head = " | ".join(f"pos {a}-{b - 1}" for a, b in BANDS)
    print(f"| student | inference | {head} | all |")
    print("|---|---|" + "---:|" * (len(BANDS) + 1))
    base = None
    for path, (model, m) in zip(args.students, loaded, strict=True):
        sums, counts = np.zeros(len(BANDS)), np.zeros(len(BANDS))
        with torch.no_grad():
            for off, n in episodes:
                x = torch.from_numpy(res.tokens[off : off + n][None])
                err = np.abs(model.rollout(x)[0].numpy() - res.labels[off : off + n]).mean(-1)  # (n,)
                for i, (a, b) in enumerate(BANDS):
                    sums[i] += err[a:b].sum()
                    counts[i] += len(err[a:b])
        mean = sums / np.maximum(counts, 1)
        total = sums.sum() / counts.sum()
        cells = list(mean) + [total]
        base = cells if base is None else base
        row = " | ".join(f"{c:.4f} ({c / b:.2f})" for c, b in zip(cells, base, strict=True))
        print(f"| {path.parent.name} | {m.inference} | {row} |")


if __name__ == "__main__":
    from hgpt_core.errors import HgptError

    try:
        main(tyro.cli(Args))
    except HgptError as e:  # a bad corpus or checkpoint: one line, not a traceback
        raise SystemExit(f"error: {e}") from None
