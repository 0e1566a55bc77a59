#!/usr/bin/env bash
# Demo (make demo): runs what the workspace offers end to end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source scripts/env.sh
python -c "import hgpt_core, rclpy, hgpt_msgs.msg; print('hgpt workspace ready:', hgpt_core.__name__)"
