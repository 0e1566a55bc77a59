"""``hgpt train``: the training stages. ``hgpt train distill ...`` runs DAgger distillation
(:mod:`hgpt_training.distill`); each stage's ``--help`` lists its options."""

from __future__ import annotations

import sys

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
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in STAGES:
        lines = "\n".join(f"  hgpt train {k:<8} {v[1]}" for k, v in STAGES.items())
        print(f"usage: hgpt train STAGE [ARGS]\n{lines}", file=sys.stderr)
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    module = __import__(STAGES[sys.argv[1]][0], fromlist=["main"])
    sys.argv = [f"hgpt train {sys.argv[1]}", *sys.argv[2:]]
    module.main()


if __name__ == "__main__":
    main()
