"""Seeded fuzz messages for the bridges' /hgpt/joint_command and /hgpt/policy subscribers (issue 15: "fuzz
every subscribed message"): one generator serves tests/g1/test_g1_fuzz_ros.py (wall clock) and
tests/sim/test_sim_bridge_fuzz_ros.py (simulation time). A test module, not a package module: tests/ is on
sys.path through tests/conftest.py (pytest's default prepend import mode, no __init__.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np

from hgpt_core.g1 import G1_JOINT_NAMES
from hgpt_core.policy_meta import PolicyMetadata

N = len(G1_JOINT_NAMES)

ANNOUNCEMENT_KINDS = ("garbage", "truncated", "huge", "differs", "stamp", "no_session", "empty")
"""Every :meth:`BridgeFuzzer.bad_announcement` kind, in the order the seeded choice draws from."""


class BridgeFuzzer:
    """Well-formed and malformed JointCommand / PolicyInfo messages of ``meta`` (seeded by ``rng``).

    Args:
        meta: The live policy's metadata (its id, gains and default pose make the well-formed messages).
        rng: Every random choice; the same seed and calls give the same messages.
        clock: The bridge's clock in the stamps' time base [s]: wall clock (G1), simulation time (MuJoCo).
        announcement_kinds: What :meth:`bad_announcement` draws from (a subset of :data:`ANNOUNCEMENT_KINDS`).
    """

    def __init__(
        self,
        meta: PolicyMetadata,
        rng: np.random.Generator,
        clock: Callable[[], float] = time.time,
        announcement_kinds: tuple[str, ...] = ANNOUNCEMENT_KINDS,
    ) -> None:
        from hgpt_msgs.msg import JointCommand, PolicyInfo

        assert set(announcement_kinds) <= set(ANNOUNCEMENT_KINDS), announcement_kinds
        self.meta, self.rng, self.a = meta, rng, meta.arrays()
        self.clock, self.announcement_kinds = clock, announcement_kinds
        self.JointCommand, self.PolicyInfo = JointCommand, PolicyInfo

    @staticmethod
    def stamp(msg, t: float) -> None:
        """Stamp ``msg`` with ``t`` [s] (nanoseconds truncated, kept below 1e9)."""
        sec = int(np.floor(t))
        msg.header.stamp.sec, msg.header.stamp.nanosec = sec, min(int((t - sec) * 1e9), 999_999_999)

    def command(self, session: str, q: np.ndarray | None = None):
        """A well-formed TRACK command of ``session``: the default pose (or ``q``, (29,) [rad]), the policy's
        gains, stamped now."""
        c = self.JointCommand(policy_id=self.meta.policy_id, session_id=session)
        c.mode = self.JointCommand.MODE_TRACK
        c.q = self.a["default_joint_pos"] if q is None else q
        c.kp, c.kd = self.a["kp"], self.a["kd"]
        self.stamp(c, self.clock())
        return c

    def announcement(self, session: str, meta_json: str | None = None, t: float | None = None):
        """The policy's announcement of ``session`` (or ``meta_json``), stamped now (or at ``t`` [s])."""
        info = self.PolicyInfo(session_id=session, policy_id=self.meta.policy_id)
        info.metadata_json = self.meta.to_json() if meta_json is None else meta_json
        self.stamp(info, self.clock() if t is None else t)
        return info

    def bad_command(self, session: str, kinds: tuple[str, ...]):
        """(kind, JointCommand) with one mutation of ``kinds`` applied to a well-formed command."""
        rng = self.rng
        kind = str(rng.choice(kinds))
        c = self.command(session)
        j = rng.choice(N, size=int(rng.integers(1, N + 1)), replace=False)

        def setj(field: str, value: float) -> None:
            v = np.array(getattr(c, field), dtype=np.float64)
            v[j] = value
            setattr(c, field, v)

        if kind == "nan":
            setj(str(rng.choice(["q", "dq", "tau_ff", "kp", "kd"])), np.nan)
        elif kind == "inf":
            setj(str(rng.choice(["q", "dq", "tau_ff", "kp", "kd"])), float(rng.choice([np.inf, -np.inf])))
        elif kind == "negative_gain":
            setj(str(rng.choice(["kp", "kd"])), -float(rng.uniform(1, 1e3)))
        elif kind == "huge_gain":
            setj(str(rng.choice(["kp", "kd"])), float(rng.choice([1e6, 1e300])))
        elif kind == "mode":
            c.mode = int(rng.integers(4, 256))
        elif kind == "policy_id":
            c.policy_id = str(rng.choice(["", "other", "\u00e9" * 50_000]))
        elif kind == "session":
            c.session_id = str(rng.choice(["", "recorded-run", "x" * 10_000]))
        elif kind == "stamp":
            now = self.clock()
            self.stamp(c, float(rng.choice([0.0, 2.0**31 - 1, -(2.0**31), now - 10, now + 5])))
        elif kind == "huge_q":
            setj("q", float(rng.choice([1e308, -1e308, 10.0, -10.0])))
        elif kind == "huge_dq":
            setj("dq", float(rng.choice([1e300, -1e300, 1e3])))
        elif kind == "huge_tau":
            setj("tau_ff", float(rng.choice([1e300, -1e300])))
        elif kind == "random_arrays":
            for f in ("q", "dq", "tau_ff", "kp", "kd"):
                setattr(c, f, rng.normal(0, 10 ** rng.uniform(0, 6), N))
        else:
            raise ValueError(f"unknown command kind {kind!r}")
        return kind, c

    def bad_announcement(self, session: str):
        """(kind, PolicyInfo) of ``announcement_kinds``: garbage / truncated / 1 MB / empty metadata_json,
        metadata differing from the policy's (kp scaled), absurd stamps, no session."""
        rng = self.rng
        kind = str(rng.choice(self.announcement_kinds))
        text = self.meta.to_json()
        if kind == "garbage":
            return kind, self.announcement(session, rng.bytes(200).decode("latin-1"))
        if kind == "truncated":
            return kind, self.announcement(session, text[: int(rng.integers(0, len(text)))])
        if kind == "huge":
            return kind, self.announcement(session, "[" * 1_000_000)
        if kind == "differs":
            other = PolicyMetadata.from_json(text)
            other.kp = [k * float(rng.uniform(1.01, 3)) for k in other.kp]
            return kind, self.announcement(session, other.to_json())
        if kind == "stamp":
            t = float(rng.choice([0.0, 2.0**31 - 1, -(2.0**31), self.clock() - 10]))
            return kind, self.announcement(session, t=t)
        if kind == "no_session":
            return kind, self.announcement("")
        return kind, self.announcement(session, "")

    def garbage_bytes(self, msg) -> bytes:
        """Undecodable CDR: ``msg`` serialised and cut, or a CDR header and up to 3000 random bytes."""
        from rclpy.serialization import serialize_message

        if self.rng.random() < 0.5:
            data = serialize_message(msg)
            return data[: int(self.rng.integers(0, len(data)))]
        return b"\x00\x01\x00\x00" + self.rng.bytes(int(self.rng.integers(0, 3000)))

    def unannounced(self, n: int, kinds: tuple[str, ...]) -> Iterator[tuple[str, object, str]]:
        """``n`` (topic, message or bytes, kind) for a bridge that follows no session, topic "command" or
        "policy": 45 % bad commands (of ``kinds``) of sessions "", fuzz-a, fuzz-b; 10 % well-formed commands
        of fuzz-a; 30 % bad announcements of fuzz-a / fuzz-b; 15 % undecodable bytes on either topic. Drawn
        (and stamped) one at a time, as they are sent."""
        for _ in range(n):
            r = self.rng.random()
            if r < 0.45:
                kind, msg = self.bad_command(str(self.rng.choice(["", "fuzz-a", "fuzz-b"])), kinds)
                yield "command", msg, kind
            elif r < 0.55:
                yield "command", self.command("fuzz-a"), "valid_unannounced"
            elif r < 0.85:
                kind, msg = self.bad_announcement(str(self.rng.choice(["fuzz-a", "fuzz-b"])))
                yield "policy", msg, kind
            elif r < 0.93:
                yield "command", self.garbage_bytes(self.command("fuzz-a")), "undecodable"
            else:
                yield "policy", self.garbage_bytes(self.announcement("fuzz-a")), "undecodable"
