"""``hgpt train``: the training stages. ``hgpt train distill ...`` runs DAgger distillation
(:mod:`hgpt_training.distill`); each stage's ``--help`` lists its options."""

from __future__ import annotations

from hgpt_core.subcommands import dispatch

STAGES = {
    "distill": ("hgpt_training.distill", "parallel DAgger from teachers into a Humanoid-GPT (or MLP/TCN)"),
    "expert": (
        "hgpt_training.expert",
        "PPO motion expert per HME cluster (residual over a teacher; Ray fan-out)",
    ),
    "release": (
        "hgpt_training.release",
        "export + int8 + test-split table + training card of a distilled student",
    ),
    "table": (
        "hgpt_training.paper_table",
        "the paper's MLP/TCN/GPT-S rows to a token budget, side by side on the test split, scaling plot",
    ),
}


def main() -> None:
    dispatch(STAGES, "hgpt train")


if __name__ == "__main__":
    main()
