#!/usr/bin/env bash
# Run pytest in the workspace environment (make test). Arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source scripts/env.sh
rc=0
# -rs: the reason of every skipped test (most need ../shared/data); --durations: the 15 slowest tests.
python -m pytest -rs --durations=15 "$@" || rc=$?
if ((rc == 5)); then
  # pytest's "no tests collected": not a failure of the code under test, but say so loudly.
  echo "scripts/test.sh: pytest collected no tests" >&2
  exit 0
fi
exit "$rc"
