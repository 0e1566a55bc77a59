#!/usr/bin/env bash
# One script for the whole training, on a GPU machine or this CPU: parallel-DAgger distillation of a
# Humanoid-GPT on every GPU of the machine (torchrun DDP over NCCL; one process on a single GPU or on the CPU),
# then `hgpt train release`: ONNX + int8, the test-split table beside the teachers, the training card.
#
#   bash scripts/train_release.sh RUN_DIR CORPUS [hgpt train distill options...]
#
# e.g. GPT-S to 20M tokens on a GPU machine (physics stays on the CPU cores: more envs and threads):
#   bash scripts/train_release.sh ~/hgpt-runs/gpt_s_20M ~/hgpt-runs/corpus_full --max-tokens 20000000 \
#       --expert-library ~/hgpt-runs/experts_lib --collect.num-envs 512 --collect.nthread 16
# Release options: HGPT_RELEASE_ARGS="--max-clips 2 --starts 1" (default: the whole test split, 3 starts).
# Rerun the same command to resume: the run continues from its last checkpoint, the release is redone.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,12p' "${BASH_SOURCE[0]}" >&2
  exit 2
fi
run_dir=$(realpath -m "$1")
corpus=$(realpath -m "$2")
shift 2
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source scripts/env.sh
for arg in "$@"; do
  case $arg in -h | --help) exec hgpt train distill --help ;; esac
done
gpus=$(python -c "import torch; print(torch.cuda.device_count())")
if [ "$gpus" -gt 1 ]; then
  torchrun --standalone --nproc-per-node "$gpus" -m hgpt_training.distill \
    --run-dir "$run_dir" --corpus "$corpus" --device cuda "$@"
else
  hgpt train distill --run-dir "$run_dir" --corpus "$corpus" --device auto "$@"
fi
# shellcheck disable=SC2086  # options split on spaces
hgpt train release --run-dir "$run_dir" --corpus "$corpus" ${HGPT_RELEASE_ARGS:-}
