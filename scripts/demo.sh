#!/usr/bin/env bash
# The main job (make demo): a bundled human mocap clip -> retarget -> policy -> MuJoCo, headless, with a report.
#  1. retarget  the CMU BVH (bundled, BSD-3) to a 50 Hz G1 clip with its quality table;
#  2. evaluate  the policy on it in MuJoCo: metrics table, error plot, offscreen video with the reference ghost;
#  3. graph     the same BVH through the ROS 2 nodes (reference_player -> policy_node -> sim_bridge_node) in
#               lock-step, faster than real time, with the tracking monitor's summary;
#  4. report    outputs/demo/REPORT.md.
# Policy: the bundled Humanoid-GPT trained here (`hgpt`, its card in hgpt_policy/assets/hgpt_gpt_s), beside the
# bundled TWIST2 peer tracker (MIT); --policy twist2 or --policy file.onnx to run another.
# Arguments go to `hgpt demo` (e.g. --human file.bvh --policy policy.onnx --out dir).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source scripts/env.sh
export MUJOCO_GL="${MUJOCO_GL:-egl}"
hgpt demo "$@"
