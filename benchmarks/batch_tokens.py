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

from hgpt_training.distill import recipe


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
        r = recipe(state["config"], state["arch"])
        window = state["arch"]["inference"] == "window"  # as Trainer.seq_len and SequenceSampler decide
        seq = state["config"].get("seq_len") or (
            state["arch"]["context_len"] if window else state["config"]["collect"]["episode_steps"]
        )
        dirs = sorted((run / "tokens").glob("round-*"))[: args.rounds]
        if not dirs:
            raise SystemExit(f"{run}: no collected round in tokens/")
        n = np.concatenate([np.load(d / "episodes.npy")[:, 1] for d in dirs]).astype(float)
        w = n if window else np.minimum(n, seq)  # SequenceSampler's episode weights
        p = w / w.sum()
        per_seq = float((p * np.minimum(n, seq)).sum())
        b = r["sequences_per_iter"]
        rows.append((run.name, state["arch"]["inference"], len(dirs), n.mean(), seq, b, per_seq, b * per_seq))
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
