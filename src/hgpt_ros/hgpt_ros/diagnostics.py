"""``/diagnostics`` (diagnostic_msgs/DiagnosticArray) for every hgpt node: the ROS convention for health.

:func:`attach_diagnostics` gives a node a :class:`NodeDiagnostics`: it counts what each of the node's
publishers sends (rate [Hz] over the last report period, age [s] of the last message; a wrapper around
``Publisher.publish``, one ``time.monotonic()`` per message) and once per second of wall time publishes one
``DiagnosticStatus`` per aspect, named ``<node>: <aspect>`` (what rqt_robot_monitor, Foxglove's diagnostics
panels and ``ros2 topic echo /diagnostics`` read):

- ``<node>: outputs``: every published topic's rate and age; WARN when the node's main output is stale.
- ``<node>: <role>``: the node's own state (policy id + metadata id + mode, bridge arm state, faults,
  overruns, clip, stream staleness...), from the node's attributes and its last status message.

Levels: OK 0, WARN 1, ERROR 2, STALE 3 (``diagnostic_msgs/DiagnosticStatus``). The report runs on a
steady (wall) clock timer, so it reports in lock-step and simulated time too, and never touches the
control path beyond the counter.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from hgpt_core.g1 import NUM_JOINTS

OK, WARN, ERROR, STALE = (bytes([v]) for v in (0, 1, 2, 3))
LEVEL_NAMES = {0: "OK", 1: "WARN", 2: "ERROR", 3: "STALE"}
DIAGNOSTICS_TOPIC = "/diagnostics"
PERIOD_S = 1.0
"""Report period [s, wall]."""

MAIN_OUTPUT: dict[str, tuple[str, float]] = {
    "policy_node": ("/hgpt/joint_command", 0.5),
    "sim_bridge_node": ("/hgpt/robot_state", 0.5),
    "g1_bridge": ("/hgpt/robot_state", 0.5),
    "reference_player": ("/hgpt/reference", 0.5),
    "mocap_source": ("/hgpt/human_pose", 1.0),
    "retarget_node": ("/hgpt/reference", 0.5),
}
"""node name -> (its main output topic, age [s] past which that output is stale: WARN)."""


@dataclass
class Check:
    """One aspect's result: level 0..3, a one-line message and key/values (printed with ``str``)."""

    level: int
    message: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class TopicMeter:
    """Counts one publisher's messages; keeps the last message (a status the node published)."""

    topic: str
    count: int = 0
    last_t: float = -1.0  # monotonic [s] of the last message, -1 none yet
    last_msg: Any = None
    reported_count: int = 0
    reported_t: float = field(default_factory=time.monotonic)

    def rate(self, now: float) -> float:
        """Messages per second since the previous call [Hz]."""
        dt = now - self.reported_t
        r = (self.count - self.reported_count) / dt if dt > 0 else 0.0
        self.reported_count, self.reported_t = self.count, now
        return r

    def age(self, now: float) -> float:
        """Seconds since the last message (inf: none yet)."""
        return now - self.last_t if self.last_t >= 0 else float("inf")


def _wrap(pub, meter: TopicMeter) -> None:
    publish = pub.publish

    def counted(msg) -> None:
        publish(msg)
        meter.count += 1
        meter.last_t = time.monotonic()
        meter.last_msg = msg

    pub.publish = counted


def _kv(values: dict[str, Any]) -> list[KeyValue]:
    out = []
    for k, v in values.items():
        if isinstance(v, float):
            v = f"{v:.4g}"
        out.append(KeyValue(key=str(k), value=str(v)))
    return out


class NodeDiagnostics:
    """A node's ``/diagnostics`` publisher; see the module docstring."""

    def __init__(self, node: Node, hardware_id: str = "", period_s: float = PERIOD_S) -> None:
        self.node = node
        self.name = node.get_name()
        self.hardware_id = hardware_id or self.name
        self.meters: dict[str, TopicMeter] = {}
        self.checks: list[tuple[str, Callable[[], Check]]] = []
        self.reports = 0
        self.meter_publishers()
        self.pub = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        node.create_timer(period_s, self.publish, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def meter_publishers(self) -> None:
        """Count every publisher the node has now (call again after it creates more)."""
        for pub in self.node.publishers:
            topic = pub.topic_name
            if topic in self.meters or topic in (DIAGNOSTICS_TOPIC, "/rosout", "/parameter_events"):
                continue
            self.meters[topic] = TopicMeter(topic)
            _wrap(pub, self.meters[topic])

    def add(self, aspect: str, fn: Callable[[], Check]) -> None:
        """Report ``fn()`` as ``<node>: <aspect>`` at every period (an exception becomes an ERROR)."""
        self.checks.append((aspect, fn))

    def last(self, topic: str) -> Any:
        """The last message the node published on ``topic`` (None: none yet)."""
        m = self.meters.get(topic)
        return m.last_msg if m else None

    def outputs(self, now: float) -> Check:
        values: dict[str, Any] = {}
        level, msg = 0, "publishing"
        main = MAIN_OUTPUT.get(self.name)
        for topic, m in sorted(self.meters.items()):
            values[f"{topic} rate [Hz]"] = m.rate(now)
            values[f"{topic} age [s]"] = m.age(now)
            values[f"{topic} count"] = m.count
        if main and main[0] in self.meters:
            age = self.meters[main[0]].age(now)
            if age > main[1]:
                level = WARN[0]
                msg = f"{main[0]} stale ({'never published' if age == float('inf') else f'{age:.2f} s'})"
        return Check(level, msg, values)

    def statuses(self) -> list[DiagnosticStatus]:
        """One status per aspect, ``outputs`` first."""
        now = time.monotonic()
        out = []
        for aspect, fn in [("outputs", lambda: self.outputs(now)), *self.checks]:
            try:
                c = fn()
            except Exception as exc:  # noqa: BLE001 - a report must never take the node down
                c = Check(ERROR[0], f"diagnostics failed: {type(exc).__name__}: {exc}")
            out.append(
                DiagnosticStatus(
                    level=bytes([c.level]),
                    name=f"{self.name}: {aspect}",
                    message=c.message,
                    hardware_id=self.hardware_id,
                    values=_kv(c.values),
                )
            )
        return out

    def publish(self) -> None:
        if not self.node.context.ok():
            return
        arr = DiagnosticArray(status=self.statuses())
        arr.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(arr)
        self.reports += 1


# ---- per-node aspects (attributes read with defaults: a node refactor degrades a value, not the node) ----


def metadata_id(meta_json: str) -> str:
    """Short id of a policy's exact metadata JSON: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(meta_json.encode()).hexdigest()[:12]


def _status_values(st) -> dict[str, Any]:
    if st is None:
        return {}
    return {
        "state": st.state,
        "mode": st.mode,
        "reason": st.reason,
        "fault": st.fault,
        "overruns": st.overruns,
        "latency [ms]": st.latency_ms,
        "session": st.session_id,
        "warnings": "; ".join(st.warnings),
    }


def _status_level(st, none_msg: str) -> tuple[int, str]:
    if st is None:
        return WARN[0], none_msg
    if st.fault or st.state.startswith(("estop", "damping")):
        return ERROR[0], f"{st.state}: {st.reason}" if st.reason else st.state
    if st.warnings:
        return WARN[0], f"{st.state}: {st.warnings[0]}"
    return OK[0], st.state


def _policy(d: NodeDiagnostics) -> Check:
    n = d.node
    st = d.last("/hgpt/status")
    level, msg = _status_level(st, "no control step yet")
    state_age = time.perf_counter() - n.state_wall if getattr(n, "state_wall", 0.0) else float("inf")
    values = {
        "policy_id": getattr(n, "policy_id", ""),
        "metadata_id": metadata_id(getattr(n, "meta_json", "")),
        "session_id": getattr(n, "session_id", ""),
        "trigger": getattr(n, "trigger", ""),
        "robot_state age [s]": state_age,
        "overruns": getattr(n, "overruns", 0),
        "states refused (stamp)": getattr(n, "bad_states", 0),
        **{f"status {k}": v for k, v in _status_values(st).items()},
    }
    return Check(level, f"{values['policy_id']} [{values['metadata_id']}]: {msg}", values)


def _sim_bridge(d: NodeDiagnostics) -> Check:
    n = d.node
    robot = n.robot
    status = str(getattr(robot, "status", ""))
    gate = getattr(n, "gate", None)
    cmd_age = time.perf_counter() - n.last_cmd_wall if getattr(n, "last_cmd_wall", 0.0) else float("inf")
    values = {
        "mode": getattr(n, "mode", ""),
        "sim status": status,
        "sim time [s]": float(getattr(robot, "time", 0.0)),
        "on gantry": getattr(robot, "on_gantry", False),
        "overruns": getattr(n, "overruns", 0),
        "command age [s, wall]": cmd_age,
        "session": getattr(gate, "session", "") or "",
        "commands ignored": getattr(gate, "ignored", 0),
    }
    level = ERROR[0] if status.startswith("damping") else OK[0]
    return Check(level, status or "running", values)


def _g1_bridge(d: NodeDiagnostics) -> Check:
    n = d.node
    st = d.last("/hgpt/g1/status")
    level, msg = _status_level(st, "no status yet")
    m = n.machine
    values = {
        "arm state": st.state if st is not None else "",
        "policy_id": getattr(m, "policy_id", ""),
        "dry_run": n.cfg.dry_run,
        "overruns": getattr(n, "overruns", 0),
        "arming blocked": "; ".join(getattr(m, "problems", []) or []),
        **{f"status {k}": v for k, v in _status_values(st).items()},
    }
    return Check(level, f"arm state {values['arm state'] or '?'}: {msg}", values)


def _reference_player(d: NodeDiagnostics) -> Check:
    n = d.node
    p = getattr(n, "player", None)
    values = {
        "clip": getattr(n, "clip_id", ""),
        "sync": getattr(n, "sync", ""),
        "loop": getattr(n, "loop", ""),
    }
    if p is None:
        return Check(WARN[0], "no clip loaded", values)
    values["duration [s]"] = float(getattr(p, "duration", 0.0))
    return Check(OK[0], f"playing {values['clip']}", values)


def _mocap_source(d: NodeDiagnostics) -> Check:
    n = d.node
    values: dict[str, Any] = {"source": n.source, "published": getattr(n, "published", 0)}
    parser = getattr(n, "parser", None)
    if parser is not None:
        values["parser"] = parser.stats.summary()
        values["superseded"] = getattr(n, "superseded", 0)
    if getattr(n, "stale", False):
        return Check(WARN[0], "mocap stream stale", values)
    if getattr(n, "_ended", False):
        return Check(OK[0], "file played to its end", values)
    return Check(OK[0], "streaming", values)


def _retarget(d: NodeDiagnostics) -> Check:
    n = d.node
    last_rx = getattr(n, "last_rx", None)
    age = n.now() - last_rx if last_rx is not None else float("inf")
    core = getattr(n, "core", None)
    err = getattr(core, "last_error", "") or ""
    event = getattr(getattr(n, "plausible", None), "last_event", "") or ""
    values = {"human_pose age [s]": age, "last error": err, "last plausibility event": event}
    if last_rx is None:
        return Check(WARN[0], "no human pose yet", values)
    if age > getattr(n, "hold_s", 0.5):
        return Check(WARN[0], f"human pose stale ({age:.2f} s): reference marked invalid", values)
    if err:
        return Check(WARN[0], f"human pose rejected: {err}", values)
    return Check(OK[0], "retargeting", values)


def _monitor(d: NodeDiagnostics) -> Check:
    c = d.node.core
    wall_age = time.perf_counter() - c.wall_last if c.states else float("inf")
    mpjpe = c.pos_err_sum / (c.tracked * NUM_JOINTS) if c.tracked else float("nan")
    values = {
        "states": c.states,
        "tracked steps": c.tracked,
        "MPJPE so far [rad]": mpjpe,
        "fall": c.fall_reason,
        "faults": c.faults,
        "commands": c.commands,
        "robot_state age [s, wall]": wall_age,
    }
    if c.fall_reason:
        return Check(ERROR[0], f"fall: {c.fall_reason}", values)
    if not c.states:
        return Check(WARN[0], "no robot state yet", values)
    return Check(OK[0], f"MPJPE {mpjpe:.4f} rad over {c.tracked} steps", values)


ASPECTS: dict[str, tuple[str, Callable[[NodeDiagnostics], Check], str]] = {
    "policy_node": ("policy", _policy, "policy"),
    "sim_bridge_node": ("simulator", _sim_bridge, "mujoco_g1"),
    "g1_bridge": ("robot", _g1_bridge, "unitree_g1"),
    "reference_player": ("reference", _reference_player, "reference_player"),
    "mocap_source": ("stream", _mocap_source, "mocap"),
    "retarget_node": ("retargeting", _retarget, "retarget"),
    "tracking_monitor": ("tracking", _monitor, "tracking_monitor"),
}
"""node name -> (aspect, its check, hardware_id)."""


def attach_diagnostics(node: Node, period_s: float = PERIOD_S) -> NodeDiagnostics:
    """Give ``node`` a ``/diagnostics`` report (once: a second call returns the first)."""
    existing = getattr(node, "_hgpt_diagnostics", None)
    if existing is not None:
        return existing
    aspect = ASPECTS.get(node.get_name())
    d = NodeDiagnostics(node, hardware_id=aspect[2] if aspect else "", period_s=period_s)
    if aspect is not None:
        fn = aspect[1]
        d.add(aspect[0], lambda: fn(d))
    node._hgpt_diagnostics = d
    return d
