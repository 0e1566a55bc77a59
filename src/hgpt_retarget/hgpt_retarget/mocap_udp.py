"""The hgpt mocap datagram format (UDP, one UTF-8 JSON object per datagram): parser, counters.

No ROS here: :mod:`hgpt_retarget.mocap_source_node` publishes what :class:`MocapParser` accepts; any mocap
system is bridged by a script that sends these datagrams (docs/mocap.md has a 15-line Python sender; the
reference sender is :mod:`hgpt_retarget.mocap_send`, the ``hgpt mocap`` CLI :mod:`hgpt_retarget.mocap_cli`).

Format, version 1 (keys are case-sensitive; unknown keys are ignored)::

    {"v": 1,                      # required, format version (int)
     "frame": 1234,               # required, frame counter (int >= 0), increasing per sender
     "t": 12.345,                 # required, capture time [s] on the sender's clock (any epoch)
     "skeleton": "cmu",           # required, a mapping in hgpt_retarget/skeletons (cmu, bandai_namco, ...)
     "units": "m",                # optional, "m" (default) | "cm" | "mm" | "inch"
     "up": "z",                   # optional, "z" (default) | "y"; right-handed either way
     "names": ["Hips", ...],      # joint names; optional: the sender's last names, else the skeleton's joints
     "pos": [[x, y, z], ...],     # required, one per joint; null for an occluded joint
     "quat": [[w, x, y, z], ...], # optional, world orientation per joint (unit quaternion, w first)
     "conf": [0.9, ...]}          # optional, confidence per joint in [0, 1]

Rejected (with a reason, see :data:`REASONS`): over 64 KiB, not UTF-8 / JSON / an object, another version,
missing or mistyped fields, NaN / Infinity literals, lengths that differ from ``names``, an unknown skeleton
or names without its landmark joints, coordinates beyond 100 m or a body wider than 4 m (wrong units), a
frame number not above the sender's last (duplicate / out of order; a drop to 0 or by more than
``restart_frames`` is a sender restart), datagrams of a second sender while the first is live.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from hgpt_core.rotations import quat_mul
from hgpt_retarget.skeleton import UNITS, SkeletonError, available_skeletons, load_skeleton

VERSION = 1
DEFAULT_PORT = 9870
MAX_DATAGRAM_BYTES = 65536  # 64 KiB; an IPv4 UDP payload is at most 65507 bytes anyway
MAX_JOINTS = 512
MAX_ABS_T_S = 1e10
"""[s] bound of a datagram's capture time ``t`` (Unix time included)."""
MAX_ABS_COORD_M = 100.0  # no mocap volume is larger
MAX_BODY_EXTENT_M = 4.0  # landmark-joint bounding-box diagonal of one human; more: wrong units
QUAT_NORM_TOL = 0.1
UP_AXES = ("z", "y")
REASONS = (
    "oversized",
    "encoding",
    "json",
    "not_object",
    "version",
    "field",
    "nonfinite",
    "length",
    "skeleton",
    "names",
    "range",
    "extent",
    "quat",
    "conf",
    "duplicate",
    "out_of_order",
    "other_sender",
)
"""Every rejection reason a :class:`DatagramError` can carry (counter keys)."""

# +90 deg about x: y-up -> z-up (as SkeletonMapping.up_to_z).
Y_TO_Z = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_Q_Y_TO_Z = np.array([math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0])  # wxyz


class DatagramError(ValueError):
    """A datagram was rejected; ``reason`` is one of :data:`REASONS`, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class MocapFrame:
    """One accepted datagram, converted to the HumanPose contract (metres, z up, wxyz).

    Attributes:
        frame: Sender frame counter.
        t: Capture time on the sender's clock [s].
        skeleton: Skeleton mapping name.
        names: Joint names, shape (J,).
        positions: Joint positions [m], z up; NaN rows for occluded joints. Shape: (J, 3).
        quats: World orientations wxyz or None. Shape: (J, 4).
        conf: Confidence in [0, 1] or None. Shape: (J,).
        sender: (host, port) of the sender, or None.
        restart: The sender restarted its frame counter with this datagram.
    """

    frame: int
    t: float
    skeleton: str
    names: tuple[str, ...]
    positions: np.ndarray
    quats: np.ndarray | None = None
    conf: np.ndarray | None = None
    sender: tuple | None = None
    restart: bool = False


def _reject_constant(token: str) -> float:
    raise DatagramError("nonfinite", f"{token} is not a valid number (send null for an occluded joint)")


def _array(value: object, width: int | None, n: int, what: str, allow_null: bool = False) -> np.ndarray:
    """A JSON list -> float array (n,) or (n, width); wrong type -> 'field', wrong length -> 'length'."""
    if not isinstance(value, list):
        raise DatagramError("field", f"'{what}' must be a list, got {type(value).__name__}")
    if len(value) != n:
        raise DatagramError("length", f"'{what}' has {len(value)} entries, names have {n}")
    if allow_null and any(v is None for v in value):
        value = [[math.nan] * (width or 1) if v is None else v for v in value]
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise DatagramError("field", f"'{what}' must hold numbers ({exc})") from None
    shape = (n, width) if width else (n,)
    if arr.shape != shape:
        raise DatagramError("length", f"'{what}' has shape {arr.shape}, need {shape}")
    return arr


def decode_datagram(data: bytes) -> dict:
    """Bytes -> the JSON object with ``v`` checked. Raises :class:`DatagramError` (oversized..version)."""
    if len(data) > MAX_DATAGRAM_BYTES:
        raise DatagramError("oversized", f"{len(data)} bytes > {MAX_DATAGRAM_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatagramError("encoding", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DatagramError("json", f"invalid JSON ({exc.msg} at char {exc.pos})") from None
    except RecursionError:
        raise DatagramError("json", "JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise DatagramError("not_object", f"top level is a {type(obj).__name__}, need an object")
    if obj.get("v") != VERSION or isinstance(obj.get("v"), bool):
        raise DatagramError("version", f"'v' is {obj.get('v')!r}; this receiver reads version {VERSION}")
    return obj


@dataclass
class _SenderState:
    frame: int = -1
    t: float = -math.inf
    names: tuple[str, ...] | None = None
    last_rx: float = -math.inf


@dataclass
class MocapStats:
    """Counters: accepted datagrams, rejected ones per reason, sender restarts, frames lost (counter gaps)."""

    accepted: int = 0
    rejected: Counter = field(default_factory=Counter)
    restarts: int = 0
    lost: int = 0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> str:
        """One line, e.g. ``accepted 500, rejected 3 (json 2, length 1), restarts 0, lost 2``."""
        rej = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items()))
        return (
            f"accepted {self.accepted}, rejected {self.rejected_total}"
            + (f" ({rej})" if rej else "")
            + f", restarts {self.restarts}, lost {self.lost}"
        )


class MocapParser:
    """Stateful validator: per-sender frame order and joint names, one live sender at a time, counters.

    Args:
        skeleton: Accept only this mapping ("" or None: any shipped mapping).
        restart_frames: A frame number lower than the last by more than this (or 0) is a sender restart.
        switch_after_s: Another sender is accepted once the current one has been silent this long [s].
    """

    def __init__(self, skeleton: str | None = None, restart_frames: int = 250, switch_after_s: float = 0.5):
        self.only = skeleton or None
        self.known = set(available_skeletons())
        if self.only is not None and self.only not in self.known:
            raise SkeletonError(f"unknown skeleton {self.only!r}; valid: {sorted(self.known)}")
        self.restart_frames = restart_frames
        self.switch_after_s = switch_after_s
        self.stats = MocapStats()
        self.last_error: DatagramError | None = None
        self.senders: dict[tuple | None, _SenderState] = {}
        self.active: tuple | None = None
        self._checked: dict[tuple, tuple[str, np.ndarray]] = {}  # (skeleton, names) -> (error, body)

    def feed(self, data: bytes, sender: tuple | None = None, now: float | None = None) -> MocapFrame | None:
        """Parse one datagram; None when rejected (counted, reason in ``last_error``). Never raises."""
        try:
            frame = self.parse(data, sender, now)
        except DatagramError as exc:
            self.last_error = exc
            self.stats.rejected[exc.reason] += 1
            return None
        self.stats.accepted += 1
        self.stats.restarts += frame.restart
        return frame

    def parse(self, data: bytes, sender: tuple | None = None, now: float | None = None) -> MocapFrame:
        """Parse and validate one datagram from ``sender`` received at ``now`` (monotonic s).

        Raises:
            DatagramError: the reason and a readable message.
        """
        now = time.monotonic() if now is None else now
        obj = decode_datagram(data)
        if sender != self.active:
            cur = self.senders.get(self.active)
            if cur is not None and now - cur.last_rx < self.switch_after_s:
                raise DatagramError(
                    "other_sender", f"{sender} while {self.active} is live (one subject per port)"
                )
        st = self.senders.get(sender) or _SenderState()
        frame, t = obj.get("frame"), obj.get("t")
        if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
            raise DatagramError("field", f"'frame' must be an integer >= 0, got {frame!r}")
        if not isinstance(t, int | float) or isinstance(t, bool) or not abs(t) <= MAX_ABS_T_S:
            # an absurd capture time (1e308) would make every later datagram 'out_of_order'
            raise DatagramError("field", f"'t' must be a number [s] within +-{MAX_ABS_T_S:g}, got {t!r}")
        restart = frame < st.frame and (frame == 0 or st.frame - frame > self.restart_frames)
        if not restart:
            if frame == st.frame:
                raise DatagramError("duplicate", f"frame {frame} again")
            if frame < st.frame:
                raise DatagramError("out_of_order", f"frame {frame} after {st.frame}")
            if t <= st.t:
                raise DatagramError(
                    "out_of_order", f"t {t} s not after the previous {st.t} s (frame {frame})"
                )
        skeleton = obj.get("skeleton")
        if not isinstance(skeleton, str):
            raise DatagramError("field", f"'skeleton' must be a string, got {skeleton!r}")
        if skeleton not in self.known or (self.only and skeleton != self.only):
            valid = [self.only] if self.only else sorted(self.known)
            raise DatagramError("skeleton", f"unknown skeleton {skeleton!r}; valid: {valid}")
        units, up = obj.get("units", "m"), obj.get("up", "z")
        if not isinstance(units, str) or units not in UNITS:
            raise DatagramError("field", f"'units' is {units!r}; valid: {sorted(UNITS)}")
        if not isinstance(up, str) or up not in UP_AXES:
            raise DatagramError("field", f"'up' is {up!r}; valid: {list(UP_AXES)}")
        names, body = self._names(obj.get("names"), skeleton, st)
        n = len(names)
        if "pos" not in obj:
            raise DatagramError("field", "'pos' missing")
        pos = _array(obj["pos"], 3, n, "pos", allow_null=True)
        finite = np.isfinite(pos).all(axis=1)
        if not finite.any():
            raise DatagramError("nonfinite", "every joint is null")
        pos *= UNITS[units]
        if up == "y":
            pos = pos @ Y_TO_Z.T
        good = pos[finite]
        limbs = pos[body][finite[body]]  # the body only: some skeletons keep a root joint at the origin
        extent = float(np.linalg.norm(limbs.max(axis=0) - limbs.min(axis=0))) if len(limbs) else 0.0
        if extent > MAX_BODY_EXTENT_M:
            raise DatagramError(
                "extent", f"body spans {extent:.3g} m > {MAX_BODY_EXTENT_M} m; wrong 'units' ({units!r})?"
            )
        if np.abs(good).max() > MAX_ABS_COORD_M:
            raise DatagramError("range", f"|coordinate| {np.abs(good).max():.3g} m > {MAX_ABS_COORD_M} m")
        quats = conf = None
        if obj.get("quat") is not None:
            quats = _array(obj["quat"], 4, n, "quat")
            if not np.isfinite(quats).all():
                raise DatagramError("nonfinite", "'quat' holds non-finite values")
            norm = np.linalg.norm(quats, axis=1)
            if np.any(np.abs(norm - 1.0) > QUAT_NORM_TOL):
                raise DatagramError("quat", f"quaternion norms {norm.min():.3g}..{norm.max():.3g}, need 1")
            quats = quats / norm[:, None]
            if up == "y":
                quats = quat_mul(_Q_Y_TO_Z, quats)
        if obj.get("conf") is not None:
            conf = _array(obj["conf"], None, n, "conf")
            if not (np.isfinite(conf).all() and (conf >= 0).all() and (conf <= 1).all()):
                raise DatagramError("conf", "'conf' values must lie in [0, 1]")
        if sender != self.active:
            self.active = sender
        if not restart and st.frame >= 0:
            self.stats.lost += frame - st.frame - 1
        st.frame, st.t, st.names, st.last_rx = frame, float(t), names, now
        self.senders[sender] = st
        return MocapFrame(frame, float(t), skeleton, names, pos, quats, conf, sender, bool(restart))

    def _names(self, raw: object, skeleton: str, st: _SenderState) -> tuple[tuple[str, ...], np.ndarray]:
        """The joint names of this datagram and the indices of its body (landmark) joints."""
        if raw is None:
            names = st.names or load_skeleton(skeleton).joints
        else:
            if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
                raise DatagramError("field", "'names' must be a list of non-empty strings")
            if len(raw) > MAX_JOINTS or len(set(raw)) != len(raw):
                raise DatagramError("names", f"'names' must be unique and at most {MAX_JOINTS}")
            names = st.names if st.names is not None and tuple(raw) == st.names else tuple(raw)
        key = (skeleton, names)
        if key not in self._checked:
            try:
                idx = load_skeleton(skeleton).landmark_indices(names)
                self._checked[key] = ("", np.unique(np.concatenate(list(idx.values()))))
            except SkeletonError as exc:
                self._checked[key] = (str(exc), np.zeros(0, dtype=int))
            if len(self._checked) > 64:
                self._checked.pop(next(iter(self._checked)))
        err, body = self._checked[key]
        if err:
            raise DatagramError("names", err)
        return names, body


class ClockMapper:
    """Sender capture time -> receiver clock: offset = the smallest (receive - capture) seen.

    The smallest offset is the one least delayed by the network; stamps are then smooth and never ahead of
    the receive time. A delay growing by more than ``reset_s`` (sender clock jump or restart) re-bases.
    """

    def __init__(self, reset_s: float = 0.25) -> None:
        self.reset_s = reset_s
        self.offset: float | None = None

    def reset(self) -> None:
        self.offset = None

    def __call__(self, t_sender: float, now: float) -> float:
        o = now - t_sender
        if self.offset is None or o < self.offset or o - self.offset > self.reset_s:
            self.offset = o
        return t_sender + self.offset
