#!/usr/bin/env bash
# Benchmarks (make bench): every benchmarks/bench_*.py in the workspace environment, one after the other.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source scripts/env.sh
for bench in benchmarks/bench_*.py; do
  echo "== $bench"
  python "$bench"
done
