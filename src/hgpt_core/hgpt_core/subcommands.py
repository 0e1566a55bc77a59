"""One dispatcher for the project's command groups (``hgpt COMMAND``, ``hgpt train STAGE``)."""

from __future__ import annotations

import sys

from hgpt_core.errors import HgptError


def dispatch(commands: dict[str, tuple[str, str]], prog: str) -> None:
    """Run ``commands[argv[1]]``'s module ``main()`` with ``argv[1:]`` under the name ``"<prog> <name>"``.

    Args:
        commands: name -> (module path, one-line description).
        prog: The group's name for usage lines (``hgpt``, ``hgpt train``).

    No or an unknown name prints the list of commands and exits 2 (0 for ``-h``/``--help``). A project error
    (:class:`~hgpt_core.errors.HgptError`) or a missing file that a command does not handle itself ends in one
    line naming it and exit 2, not a traceback.
    """
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        width = max(len(k) for k in commands)
        lines = "\n".join(f"  {prog} {k:<{width}} {v[1]}" for k, v in commands.items())
        print(f"usage: {prog} COMMAND [ARGS]\n{lines}", file=sys.stderr)
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    module = __import__(commands[sys.argv[1]][0], fromlist=["main"])
    sys.argv = [f"{prog} {sys.argv[1]}", *sys.argv[2:]]
    try:
        module.main()
    except (HgptError, FileNotFoundError) as exc:
        print(f"{prog} {sys.argv[0].split()[-1]}: error: {exc}", file=sys.stderr)
        sys.exit(2)
