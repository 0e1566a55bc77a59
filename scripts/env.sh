# Source this file (bash or zsh) to use the hgpt workspace in a shell:  source scripts/env.sh
# It activates .venv (pinned Python packages, ROS 2 Kilted wheels) and sources the colcon install/
# (hgpt_msgs and the hgpt_* packages), as `source /opt/ros/<distro>/setup.bash && source install/setup.bash`
# would on a normal ROS 2 install. Run `make setup` first.
# (Python started from .venv finds install/ without this: see scripts/venv_hook.py.)

if [ -n "${BASH_SOURCE:-}" ]; then
  _hgpt_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
else
  _hgpt_root="$(cd "$(dirname "${(%):-%x}")/.." && pwd)"  # zsh
fi

if [ ! -f "$_hgpt_root/.venv/bin/activate" ] || [ ! -f "$_hgpt_root/install/setup.bash" ]; then
  echo "hgpt: workspace not set up; run 'make setup' in $_hgpt_root" >&2
  unset _hgpt_root
  return 1 2>/dev/null || exit 1
fi

# The colcon and venv scripts read unset variables: relax `set -u` while sourcing them.
case $- in *u*) _hgpt_nounset=1; set +u ;; *) _hgpt_nounset= ;; esac

# shellcheck disable=SC1091
. "$_hgpt_root/.venv/bin/activate"
# The ROS 2 wheels install their share/ (ament index, cmake configs) into the venv prefix.
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$VIRTUAL_ENV:"*) ;;
  *) export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
# colcon's setup script asks a venv Python which variables to extend; the venv hook would already have
# extended that Python's environment, so the script would conclude there is nothing to add: turn it off here.
_hgpt_hook="${HGPT_NO_VENV_HOOK-__unset__}"
export HGPT_NO_VENV_HOOK=1
if [ -n "${ZSH_VERSION:-}" ]; then
  . "$_hgpt_root/install/setup.zsh"
else
  # shellcheck disable=SC1091
  . "$_hgpt_root/install/setup.bash"
fi
# The project's command line (hgpt run / clips / eval) and the nodes' executables, as `ros2 run` would find them.
for _hgpt_bin in "$_hgpt_root"/install/lib/hgpt_*; do
  case ":$PATH:" in *":$_hgpt_bin:"*) ;; *) [ -d "$_hgpt_bin" ] && PATH="$_hgpt_bin:$PATH" ;; esac
done
export PATH
unset _hgpt_bin
# An empty entry (leading/trailing ':') in LD_LIBRARY_PATH means the current directory: drop it.
LD_LIBRARY_PATH="${LD_LIBRARY_PATH#:}"; export LD_LIBRARY_PATH="${LD_LIBRARY_PATH%:}"
PYTHONPATH="${PYTHONPATH#:}"; export PYTHONPATH="${PYTHONPATH%:}"
if [ "$_hgpt_hook" = __unset__ ]; then unset HGPT_NO_VENV_HOOK; else export HGPT_NO_VENV_HOOK="$_hgpt_hook"; fi

[ -n "$_hgpt_nounset" ] && set -u
unset _hgpt_root _hgpt_nounset _hgpt_hook
