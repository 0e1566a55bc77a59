#!/usr/bin/env bash
# Set up the hgpt workspace: .venv with the pinned requirements (ROS 2 Kilted from PyPI wheels included),
# the wheels' cmake path fix, a colcon build of src/ into build/ and install/, and hgpt_training in editable mode.
#
# Idempotent and fast on a re-run: pip runs only when requirements.txt changed, colcon only when a package's
# build inputs (package.xml, CMakeLists.txt, setup.py/cfg, msg/srv, resource/, launch/, config/) changed.
# Python modules need no rebuild: the ament_python packages are installed with --symlink-install (develop mode).
#
# Environment: HGPT_PYTHON (default python3.11) picks the interpreter that creates .venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
PYTHON="${HGPT_PYTHON:-python3.11}"
LOGS="$ROOT/.stamps"
mkdir -p "$LOGS"

log() { printf '[setup] %s\n' "$*"; }
die() {
  printf '[setup] ERROR: %s\n' "$*" >&2
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }
# The pip config of some machines lists extra local indexes that do not exist; drop that noise.
quiet_pip_log() { grep -v -e "^WARNING: Location 'file:" -e '^WARNING: Skipping .*file:' "$1" || true; }

# --- 1. tools -------------------------------------------------------------------------------------------
need "$PYTHON" "install Python 3.11 (the ROS 2 wheels are built for CPython 3.11 only) or set HGPT_PYTHON"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "$PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'), 3.11 is needed"
need cmake "install CMake >= 3.8 (apt-get install cmake); it builds hgpt_msgs"
need make "install make (apt-get install build-essential)"
need cc "install a C compiler (apt-get install build-essential)"
need c++ "install a C++ compiler (apt-get install build-essential)"

# The viewer's headless-browser test (tests/bringup/test_viewer_browser.py) uses Debian's chromium and
# chromium-driver (selenium drives them; nothing is downloaded at run time). Installed when we are root on
# Debian/Ubuntu and they are missing; elsewhere that test skips and says what to install.
if ! command -v chromedriver >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1 \
  && [[ "${HGPT_SETUP_BROWSER:-1}" == 1 ]]; then
  log "installing chromium + chromium-driver (viewer browser test; HGPT_SETUP_BROWSER=0 skips)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
    >/dev/null 2>&1 || log "chromium not installed: the viewer's browser test will skip"
fi

# --- 2. virtual environment -----------------------------------------------------------------------------
if [[ ! -x "$VPY" ]]; then
  log "creating .venv with $PYTHON"
  "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed (Debian: apt-get install python3.11-venv)"
fi
"$VPY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die ".venv is not a Python 3.11 environment: remove it (rm -rf .venv) and run make setup again"
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

# --- 3. pinned requirements (skipped while requirements.txt is unchanged) ------------------------------
req_hash="$(sha256sum requirements.txt | cut -d' ' -f1)"
req_stamp="$VENV/.hgpt-requirements.sha256"
if [[ "$(cat "$req_stamp" 2>/dev/null)" != "$req_hash" ]]; then
  log "pip install -r requirements.txt (first run: a few minutes; log in .stamps/pip.log)"
  t0=$SECONDS
  if ! "$VPY" -m pip install --disable-pip-version-check -r requirements.txt >"$LOGS/pip.log" 2>&1; then
    quiet_pip_log "$LOGS/pip.log" | tail -n 30 >&2
    culprit="$(quiet_pip_log "$LOGS/pip.log" \
      | grep -oE '(No matching distribution found for|Could not find a version that satisfies the requirement|Failed to build|Failed building wheel for) [^ ]+' \
      | head -n 1 || true)"
    die "pip could not install requirements.txt${culprit:+: $culprit} (full log: .stamps/pip.log)"
  fi
  echo "$req_hash" >"$req_stamp"
  log "requirements installed in $((SECONDS - t0)) s"
fi

# --- 4. fix the ROS wheels' build-container paths in their cmake exports --------------------------------
# *__rosidl_generator_pyExport.cmake name /opt/python/cp311-cp311 (the wheel builder's Python) as include
# directories; CMake refuses imported targets with missing include paths, so point them at this Python.
mapfile -t bad < <(grep -rlF --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null || true)
if ((${#bad[@]})); then
  py_inc="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  np_inc="$("$VPY" -c 'import numpy; print(numpy.get_include())')"
  [[ -f "$py_inc/Python.h" ]] || die "Python.h not found in $py_inc (Debian: apt-get install python3.11-dev)"
  log "rewriting the wheel build path in ${#bad[@]} cmake export files"
  sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3\.11#$py_inc#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3\.11/site-packages/numpy/_\?core/include#$np_inc#g" \
    "${bad[@]}"
  if left="$(grep -rlF --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share")"; then
    die "unknown /opt/python/cp311-cp311 paths remain in: $left"
  fi
fi

# --- 5. venv hook: every .venv Python sees install/ (see scripts/venv_hook.py) ---------------------------
if ! cmp -s scripts/venv_hook.py "$SITE/_hgpt_workspace.py"; then
  cp scripts/venv_hook.py "$SITE/_hgpt_workspace.py"
fi
[[ "$(cat "$SITE/hgpt_workspace.pth" 2>/dev/null)" == "import _hgpt_workspace" ]] \
  || echo "import _hgpt_workspace" >"$SITE/hgpt_workspace.pth"

# --- 6. colcon build (skipped while no package's build inputs changed) ---------------------------------
build_hash="$(
  {
    echo "$req_hash"
    find src \( -name __pycache__ -o -name '*.egg-info' \) -prune -o -type f \( \
      -name COLCON_IGNORE -o -name package.xml -o -name CMakeLists.txt -o -name setup.py -o -name setup.cfg \
      -o -name '*.msg' -o -name '*.srv' -o -name '*.action' -o -path 'src/*/resource/*' \
      -o -path 'src/*/launch/*' -o -path 'src/*/config/*' \) -print | LC_ALL=C sort | xargs -r sha256sum
  } | sha256sum | cut -d' ' -f1
)"
build_stamp="$ROOT/install/.hgpt-build.sha256"
if [[ "$(cat "$build_stamp" 2>/dev/null)" != "$build_hash" || ! -f install/setup.bash ]]; then
  log "colcon build (log in log/latest_build)"
  t0=$SECONDS
  # AMENT_PREFIX_PATH=.venv: the ROS wheels install their share/ (cmake configs, ament index) there.
  if ! env HGPT_NO_VENV_HOOK=1 PATH="$VENV/bin:$PATH" AMENT_PREFIX_PATH="$VENV" \
    "$VENV/bin/colcon" build --base-paths src --symlink-install --merge-install \
    --cmake-args -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF; then
    die "colcon build failed (the package named above; details in log/latest_build/<package>/stdout_stderr.log)"
  fi
  echo "$build_hash" >"$build_stamp"
  log "colcon build done in $((SECONDS - t0)) s"
fi

# --- 7. hgpt_training: plain Python package, editable (COLCON_IGNORE keeps colcon off it) ----------------
train_hash="$(sha256sum src/hgpt_training/pyproject.toml | cut -d' ' -f1)"
train_stamp="$VENV/.hgpt-training.sha256"
if [[ "$(cat "$train_stamp" 2>/dev/null)" != "$train_hash" ]]; then
  log "pip install -e src/hgpt_training"
  # --no-deps: its dependencies are in requirements.txt, and hgpt_core comes from install/ (not from PyPI).
  if ! "$VPY" -m pip install --disable-pip-version-check --no-deps --no-build-isolation \
    -e src/hgpt_training >"$LOGS/pip-training.log" 2>&1; then
    quiet_pip_log "$LOGS/pip-training.log" | tail -n 20 >&2
    die "pip install -e src/hgpt_training failed (log: .stamps/pip-training.log)"
  fi
  echo "$train_hash" >"$train_stamp"
fi

# --- 8. smoke check -------------------------------------------------------------------------------------
"$VPY" -c 'import rclpy, hgpt_msgs.msg, hgpt_core, hgpt_ros, hgpt_training' \
  || die "the venv cannot import rclpy / hgpt_msgs / hgpt_core / hgpt_ros / hgpt_training (see the error above)"
log "ready: source scripts/env.sh (or use .venv/bin/python, which finds install/ by itself)"
