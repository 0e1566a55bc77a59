"""``hgpt viewer --bag BAG``: a recorded run in the browser with a time slider (no ROS graph needed).

Reads /hgpt/robot_state, /hgpt/reference and /hgpt/status from a rosbag2 bag (``hgpt bag record``,
``ros2 bag record``, also a damaged one: hgpt_bringup.bag_reader recovers what it can) and shows the robot and
the reference ghost at the slider's time, with play/pause and speed. Times are the message header stamps [s]
from the first robot state.
"""

from __future__ import annotations

import argparse
import bisect
import time
from dataclasses import dataclass, field
from pathlib import Path

from hgpt_bringup.viewer import (
    DEFAULT_PORT,
    MESH_CELL_M,
    MODE_NAMES,
    G1Meshes,
    Readout,
    ViewerScene,
    make_server,
    reference_pose,
    robot_pose,
)


@dataclass
class Timeline:
    """Messages of one run by header stamp [s]: robot states, references, statuses (sorted)."""

    states: list[tuple[float, object]] = field(default_factory=list)
    refs: list[tuple[float, object]] = field(default_factory=list)
    status: list[tuple[float, object]] = field(default_factory=list)

    @staticmethod
    def _at(items: list[tuple[float, object]], t: float):
        i = bisect.bisect_right([s for s, _ in items], t) - 1
        return items[i][1] if i >= 0 else None

    def at(self, t: float) -> tuple[object, object, object]:
        """The newest state, reference and status stamped at or before ``t`` [s]."""
        return self._at(self.states, t), self._at(self.refs, t), self._at(self.status, t)

    @property
    def span(self) -> tuple[float, float]:
        return (self.states[0][0], self.states[-1][0]) if self.states else (0.0, 0.0)


def load_timeline(bag: str | Path) -> Timeline:
    """The bag's robot states, references and statuses (deserialised), sorted by header stamp."""
    from hgpt_bringup.bag_format import deserialize
    from hgpt_bringup.bag_reader import BagReader
    from hgpt_core.stamps import stamp_to_sec

    tl = Timeline()
    lists = {"/hgpt/robot_state": tl.states, "/hgpt/reference": tl.refs, "/hgpt/status": tl.status}
    with BagReader(bag) as r:
        for m in r.messages(list(lists)):
            msg = deserialize(m)
            lists[m.topic].append((stamp_to_sec(msg.header.stamp), msg))
    for items in lists.values():
        items.sort(key=lambda x: x[0])
    if not tl.states:
        raise ValueError(f"{bag}: no /hgpt/robot_state messages")
    return tl


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="hgpt viewer", description="live viewer (ROS) or --bag BAG (replay)")
    ap.add_argument("--bag", required=True, help="rosbag2 folder recorded from the graph")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--mesh-cell", type=float, default=MESH_CELL_M)
    a = ap.parse_args(argv)
    tl = load_timeline(a.bag)
    t0, t1 = tl.span
    server = make_server(a.host, a.port)
    scene = ViewerScene(server, G1Meshes(a.mesh_cell))
    panel = server.gui.add_markdown("")
    slider = server.gui.add_slider("time [s]", min=0.0, max=max(t1 - t0, 0.02), step=0.02, initial_value=0.0)
    playing = server.gui.add_checkbox("play", True)
    speed = server.gui.add_slider("speed", min=0.1, max=4.0, step=0.1, initial_value=1.0)
    print(f"viewer: http://localhost:{server.get_port()} ({a.bag}: {t1 - t0:.1f} s, {len(tl.states)} states)")
    last, shown = time.monotonic(), None
    try:
        while True:
            now = time.monotonic()
            if playing.value:
                t = slider.value + (now - last) * speed.value
                slider.value = t if t <= t1 - t0 else 0.0
            last = now
            if slider.value != shown:
                shown = slider.value
                st, ref, status = tl.at(t0 + shown)
                ghost = reference_pose(ref) if ref is not None else None
                robot = robot_pose(st, ghost) if st is not None else None
                scene.show(robot, ghost)
                r = Readout(t=t0 + shown, clip=getattr(ref, "clip_id", "-") or "live")
                if status is not None:
                    r.mode, r.state, r.reason = MODE_NAMES.get(status.mode, "?"), status.state, status.reason
                    r.fault = bool(status.fault)
                panel.content = r.markdown(robot, ghost)
            time.sleep(0.04)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
