"""Which policy may drive the robot: the policy/bridge handshake (no ROS).

A policy_node run draws a random ``session_id`` and announces it with its full metadata on /hgpt/policy
(``hgpt_msgs/PolicyInfo``, re-sent every second); every JointCommand it sends carries that id. A bridge
follows the commands of one announced session only, and only when

* the announcement's metadata is identical to the metadata the bridge was configured with (joint order,
  gains, default pose, action scale, control dt, observation layout ... every field; the differences are
  named), when the bridge has one;
* the announcement and each command are stamped within ``stamp_window_s`` of the bridge's clock (a command
  recorded in another run, e.g. replayed from a bag, carries old stamps and an unknown session).

Everything else is ignored with a reason (:attr:`SessionGate.last_ignored`). Clocks: ``now`` is the
bridge's clock in the stamps' time base (wall clock on the robot, simulation time in simulation) [s];
``recv`` is a local monotonic receive time [s] (only used for take-over after silence).
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass

from hgpt_core.policy_meta import PolicyMetadata

COMPARED_FIELDS = (
    "joint_names",
    "kp",
    "kd",
    "default_joint_pos",
    "action_scale",
    "control_dt",
    "obs_terms",
    "context_len",
    "inference",
    "policy_id",
    "version",
)
"""Metadata fields a bridge compares, in the order differences are reported (arch/training: descriptive)."""


def discovery_hint() -> str:
    """What to check when no policy is heard: this process's DDS settings, to compare with policy_node's."""
    import os

    domain = os.environ.get("ROS_DOMAIN_ID", "") or "0 (unset)"
    scope = os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "") or "SUBNET (unset)"
    peers = os.environ.get("ROS_STATIC_PEERS", "")
    return (
        f"check that policy_node runs with the same ROS_DOMAIN_ID (here {domain}) and a "
        f"ROS_AUTOMATIC_DISCOVERY_RANGE that reaches this host (here {scope}"
        + (f", ROS_STATIC_PEERS {peers}" if peers else "")
        + "); `ros2 topic info -v /hgpt/joint_command` lists the publishers this process can see"
    )


def new_session_id() -> str:
    """A random 16-hex-digit id for one policy_node run."""
    return secrets.token_hex(8)


def metadata_differences(expected: PolicyMetadata, announced: PolicyMetadata) -> list[str]:
    """Every field of :data:`COMPARED_FIELDS` where ``announced`` differs from ``expected`` (exact compare).

    Per-joint arrays name the first differing joints with both values.
    """
    out: list[str] = []
    names = list(expected.joint_names)
    for key in COMPARED_FIELDS:
        a, b = getattr(expected, key), getattr(announced, key)
        if key in ("kp", "kd", "default_joint_pos", "action_scale") and len(a) == len(b):
            diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if not _same(x, y)]
            if diff:
                shown = ", ".join(
                    f"{names[i] if i < len(names) else i}: bridge {a[i]:.6g} vs policy {b[i]:.6g}"
                    for i in diff[:3]
                )
                more = f" (+{len(diff) - 3} more)" if len(diff) > 3 else ""
                out.append(f"{key} differs at {len(diff)} joint(s): {shown}{more}")
        elif json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
            sa, sb = json.dumps(a)[:120], json.dumps(b)[:120]
            out.append(f"{key} differs: bridge {sa} vs policy {sb}")
    return out


def _same(x: float, y: float) -> bool:
    return float(x) == float(y) or (math.isnan(float(x)) and math.isnan(float(y)))


@dataclass(frozen=True)
class Announcement:
    """One /hgpt/policy message: ``stamp`` [s, stamps' time base], ``recv`` [s, local monotonic]."""

    session_id: str
    policy_id: str
    metadata_json: str
    stamp: float
    recv: float


class SessionGate:
    """Decides which JointCommands a bridge may follow (see the module docstring).

    Args:
        expected: The bridge's own policy metadata; None accepts any announced metadata (the MuJoCo bridge,
            which applies the commanded gains itself).
        stamp_window_s: Largest |clock - stamp| of an accepted announcement or command [s].
        takeover_s: A different session may replace the followed one after this long without an
            announcement or command from it [s, monotonic].
    """

    def __init__(
        self, expected: PolicyMetadata | None, stamp_window_s: float = 0.5, takeover_s: float = 2.0
    ) -> None:
        self.expected = expected
        self.stamp_window_s = stamp_window_s
        self.takeover_s = takeover_s
        self.session = ""  # the followed session ("" none)
        self.policy_id = ""
        self.last_seen = -math.inf  # recv of its latest announcement or command
        # refused sessions: session -> (policy_id, metadata differences, recv of the latest announcement)
        self.mismatch: dict[str, tuple[str, list[str], float]] = {}
        self.last_ignored = ""  # why the latest ignored command was ignored
        self.ignored = 0

    def _stamp_problem(self, what: str, stamp: float, now: float) -> str:
        if not math.isfinite(stamp) or abs(now - stamp) > self.stamp_window_s:
            return (
                f"{what} stamped {stamp:.3f} s, {now - stamp:+.3f} s from this bridge's clock "
                f"{now:.3f} s (window +-{self.stamp_window_s} s): recorded in another run, or clocks differ"
            )
        return ""

    def on_announcement(self, a: Announcement, now: float) -> str:
        """Handshake with an announced policy; returns why it is refused ("" = accepted / followed)."""
        if not a.session_id:
            return f"announcement of '{a.policy_id}' without a session_id"
        if problem := self._stamp_problem(f"announcement of session {a.session_id}", a.stamp, now):
            return problem
        try:
            meta = PolicyMetadata.from_json(a.metadata_json)
        except Exception as exc:  # noqa: BLE001 - any malformed announcement is refused, never raised
            self.mismatch[a.session_id] = (a.policy_id, [f"unreadable metadata: {exc}"], a.recv)
            return f"session {a.session_id} ('{a.policy_id}'): unreadable metadata: {exc}"
        if self.expected is not None:
            diffs = metadata_differences(self.expected, meta)
            if diffs:
                self.mismatch[a.session_id] = (a.policy_id, diffs, a.recv)
                return f"session {a.session_id} ('{a.policy_id}'): metadata differs: " + "; ".join(diffs)
        self.mismatch.pop(a.session_id, None)
        if a.session_id == self.session:
            self.last_seen = a.recv
            return ""
        if self.session and a.recv - self.last_seen < self.takeover_s:
            return f"session {a.session_id} ('{a.policy_id}') waits: following session {self.session}"
        self.session, self.policy_id, self.last_seen = a.session_id, meta.policy_id, a.recv
        return ""

    def check_command(self, session_id: str, stamp: float, now: float, recv: float) -> str:
        """Why a JointCommand must be ignored ("" = follow it)."""
        why = ""
        if not self.session:
            why = "no policy has announced itself on /hgpt/policy (handshake pending)"
            if session_id in self.mismatch:
                why = f"session {session_id}: metadata differs: " + "; ".join(self.mismatch[session_id][1])
        elif session_id != self.session:
            why = f"session '{session_id}' is not the announced session {self.session}"
            if session_id in self.mismatch:
                why = f"session {session_id}: metadata differs: " + "; ".join(self.mismatch[session_id][1])
        else:
            why = self._stamp_problem("command", stamp, now)
        if why:
            self.ignored += 1
            self.last_ignored = why
            return why
        self.last_seen = recv
        return ""

    def problems(self, recv: float) -> list[str]:
        """Recently announced sessions refused for their metadata (they block arming), named."""
        for sid in [k for k, v in self.mismatch.items() if recv - v[2] > max(self.takeover_s, 3.0)]:
            del self.mismatch[sid]
        return [
            f"announced policy '{pid}' (session {sid}) does not match this bridge's policy metadata: "
            + "; ".join(diffs)
            for sid, (pid, diffs, _) in self.mismatch.items()
        ]

    def following(self, recv: float) -> bool:
        """A session is followed and was heard from within ``takeover_s``."""
        return bool(self.session) and recv - self.last_seen <= self.takeover_s
