"""``hgpt bag record | play | to-clips | info``: the command line above the bag modules.

info / to-clips need no rclpy; record / play run the ROS side (:mod:`hgpt_bringup.bag_ros`), imported only
then.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import tyro

from hgpt_bringup.bag_clips import bag_to_clips
from hgpt_bringup.bag_commands import Info, Play, Record, ToClips
from hgpt_bringup.bag_format import BagError
from hgpt_bringup.bag_reader import BagReader


def run(cmd: Record | Play | ToClips | Info) -> int:
    try:
        if isinstance(cmd, Info):
            reader = BagReader(cmd.bag)
            i = reader.info
            reader.close()
            if cmd.json:
                d = {
                    "path": str(i.path),
                    "storage": i.storage,
                    "complete": i.complete,
                    "problems": i.problems,
                    "duration_s": i.duration_s,
                    "message_count": i.message_count,
                    "topics": {t.name: {"type": t.msgtype, "count": t.count} for t in i.topics.values()},
                }
                print(json.dumps(d, indent=2))
            else:
                print(i.table())
            return 0 if i.complete else 1
        if isinstance(cmd, ToClips):
            for name, v in (("fps", cmd.fps), ("max-gap", cmd.max_gap)):
                if not 0 < v < math.inf:
                    raise BagError(f"--{name} {v} must be a positive number")
            if not 0 <= cmd.min_duration < math.inf:
                raise BagError(f"--min-duration {cmd.min_duration} must be >= 0")
            if Path(cmd.out).exists() and not Path(cmd.out).is_dir():
                raise BagError(f"{cmd.out}: exists and is not a folder (the output folder of the clips)")
            s = bag_to_clips(cmd.bag, cmd.out, cmd.kind, cmd.topic, cmd.fps, cmd.max_gap, cmd.min_duration,
                             cmd.time_source, cmd.licence, cmd.strict)  # fmt: skip
            for p in s["problems"]:
                print(f"warning: {p}; used the readable part", file=sys.stderr)
            for c in s["clips"]:
                print(
                    f"{c['file']}: {c['frames']} frames, {c['duration_s']:.2f} s (ended by {c['ended_by']})"
                )
            for d in s["dropped"]:
                print(f"dropped segment {d['segment']} ({d['duration_s']:.2f} s): {d['reason']}")
            print(f"{len(s['clips'])} clip(s), summary {s['summary_file']}")
            return 0 if s["clips"] else 1
        from hgpt_bringup import bag_ros

        return bag_ros.record(cmd) if isinstance(cmd, Record) else bag_ros.play(cmd)
    except BagError as exc:
        print(f"hgpt bag: error: {exc}", file=sys.stderr)
        return 2


def main() -> None:
    """``hgpt bag record | play | to-clips | info``."""
    cmd = tyro.extras.subcommand_cli_from_dict(
        {"record": Record, "play": Play, "to-clips": ToClips, "info": Info}, prog="hgpt bag"
    )
    sys.exit(run(cmd))


if __name__ == "__main__":
    main()
