#!/usr/bin/env bash
# The demo (make demo): a bundled clip tracked in MuJoCo, offline with a report, then live over ROS 2.
#  1. hgpt clips check   - the bundled clip passes the physical sanity checks;
#  2. hgpt eval          - the policy tracks the bundled clips headless in MuJoCo: metrics table, error plot,
#                          an offscreen video with the reference ghost (outputs/demo/);
#  3. hgpt run eval      - the same policy behind policy_node, fed by reference_player, driving sim_bridge_node:
#                          the real node graph over DDS, composed in one process, for 10 s.
# Policy: TWIST2 (the peer's released tracker, ../shared/peers/twist2) when present, else 'zero' (holds the
# default pose). No trained Humanoid-GPT is bundled yet: the demo says which policy ran.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source scripts/env.sh
export MUJOCO_GL="${MUJOCO_GL:-egl}"

motions="$(python -c 'from hgpt_core.datasets import bundled_clip_path as p; print(p().parent)')"
walk="$motions/gmt_basic_walk.clip.npz"
squat="$motions/gmt_squat.clip.npz"
if python -c 'import sys; from hgpt_policy.twist2 import DEFAULT_ONNX as p; sys.exit(not p.is_file())'; then
  policy=twist2
else
  policy=zero
  echo "demo: TWIST2 ONNX (../shared/peers/twist2) not found: using the 'zero' policy (stands, does not track)"
fi
echo "== demo policy: $policy =="

hgpt clips check "$walk" "$squat"
hgpt eval --policy "$policy" --clips "$walk" "$squat" --max-seconds 20 \
  --out-dir outputs/demo --video-clip gmt_basic_walk --video-seconds 6
hgpt run eval --policy "$policy" --motion "$walk" --duration 10
echo
echo "demo report: outputs/demo/results.md, outputs/demo/errors_over_time.png, outputs/demo/basic_walk.mp4"
