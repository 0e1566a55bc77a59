"""Labelled tokens and independent sequences per training iteration of distillation runs, from their token
stores: what each recipe fits per iteration, as opposed to what it collects.

    .venv/bin/python benchmarks/batch_tokens.py --runs ~/hgpt-runs/table300k/gpt_s_300k \
        ~/hgpt-runs/table300k/gpt_s_window_300k [--rounds 5]

A ``sliding_kv`` sequence is an episode's first ``seq_len`` tokens (short episodes are zero-padded), a
``window`` sequence ``seq_len`` tokens at a uniform place; both drawn with the weights of
:class:`~hgpt_training.distill_data.SequenceSampler`. Prints one row per run and the ratio to the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

from hgpt_training.distill import recipe, sequence_length
from hgpt_training.distill_data import SequenceSampler, complete_round_dirs, read_round_dir


@dataclass(frozen=True)
class Args:
    runs: tuple[Path, ...]
    """Distillation run folders (state.pt and tokens/)."""
    rounds: int | None = None
    """Use the first N rounds of each token store (None: all)."""


def main(args: Args) -> None:
    rows = []
    for run in args.runs:
        if not (run / "state.pt").is_file() or not (run / "tokens").is_dir():
            raise SystemExit(f"{run}: not a distillation run folder (needs state.pt and tokens/)")
        state = torch.load(run / "state.pt", map_location="cpu", weights_only=False)
        config, arch = state["config"], state["arch"]
        seq = sequence_length(
            config.get("seq_len"), arch["inference"], arch["context_len"], config["collect"]["episode_steps"]
        )
        dirs = complete_round_dirs(run / "tokens")[: args.rounds]
        if not dirs:
            raise SystemExit(f"{run}: no collected round in tokens/")
        # the sampler the run trains with (Trainer: from_reset unless window), for its episode weights
        sampler = SequenceSampler([read_round_dir(d) for d in dirs], seq, arch["inference"] != "window")
        n = sampler.ep_len.astype(float)
        per_seq = float((sampler.p * np.minimum(n, seq)).sum())
        b = recipe(config, arch)["sequences_per_iter"]
        rows.append((run.name, arch["inference"], len(dirs), n.mean(), seq, b, per_seq, b * per_seq))
    print(
        "| run | inference | rounds | mean episode | slots/seq | seqs/iter | labelled/seq | labelled/iter |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for name, inf, k, ep, seq, b, ps, pi in rows:
        print(
            f"| {name} | {inf} | {k} | {ep:.1f} | {seq} | {b} ({b / rows[0][5]:.2f}x) | {ps:.1f} "
            f"| {pi:,.0f} ({pi / rows[0][7]:.2f}x) |"
        )


if __name__ == "__main__":
    main(tyro.cli(Args))
