"""Bag -> motion clips: cut the reference or robot-state topic of a (teleoperation) bag into
``.clip.npz`` clips for training (``hgpt bag to-clips``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hgpt_bringup.bag_format import LICENCE_KEY, BagError, deserialize
from hgpt_bringup.bag_reader import BagReader
from hgpt_core.resample import Resampler, uniform_count
from hgpt_core.stamps import stamp_to_sec

REFERENCE_TOPIC = "/hgpt/reference"
ROBOT_STATE_TOPIC = "/hgpt/robot_state"
CLIP_KINDS = {"reference": REFERENCE_TOPIC, "robot_state": ROBOT_STATE_TOPIC}
CLIP_TYPES = {"reference": "hgpt_msgs/msg/MotionReference", "robot_state": "hgpt_msgs/msg/RobotState"}


@dataclass
class _Sample:
    t: float  # [s]
    root_pos_w: np.ndarray  # (3,) [m]
    root_quat_w: np.ndarray  # (4,) wxyz
    joint_pos: np.ndarray  # (29,)
    key: str  # clip id ('' for robot state)
    frame: int  # frame index (-1 when the message has none)


def _samples(reader: BagReader, kind: str, topic: str, time_source: str) -> tuple[list[_Sample | None], int]:
    """Samples of ``topic`` in bag order; None marks a message that breaks a segment (invalid / no root)."""
    from hgpt_policy.msg_conv import reference_frame_from_msg, robot_state_from_msg

    out: list[_Sample | None] = []
    n = 0
    for m in reader.messages([topic]):
        n += 1
        msg = deserialize(m)
        t = stamp_to_sec(msg.header.stamp) if time_source == "header" else m.timestamp * 1e-9
        if kind == "reference":
            f = reference_frame_from_msg(msg)
            out.append(
                f and _Sample(t, f.root_pos_w, f.root_quat_w, f.joint_pos, msg.clip_id, int(msg.frame_index))
            )
        elif msg.has_root_truth:
            s = robot_state_from_msg(msg, root_truth=True)
            out.append(_Sample(t, s.root_pos_w, s.root_quat_w, s.joint_pos, "", -1))
        else:
            out.append(None)
    return out, n


def _segments(samples: list[_Sample | None], max_gap: float) -> Iterator[tuple[list[_Sample], str]]:
    """Runs of samples with no gap > ``max_gap`` [s], same clip id, time increasing; with why each ended."""
    seg: list[_Sample] = []
    for s in samples:
        why = ""
        if s is None:
            why = "invalid message"
        elif seg and s.key != seg[-1].key:
            why = f"clip_id changed to '{s.key}'"
        elif seg and s.t <= seg[-1].t:
            why = "time went backwards" if s.t < seg[-1].t else "repeated time stamp"
            if s.t == seg[-1].t:
                continue  # a duplicate: drop it, keep the segment
        elif seg and s.t - seg[-1].t > max_gap:
            why = f"gap {s.t - seg[-1].t:.3f} s"
        if why and seg:
            yield seg, why
            seg = []
        if s is not None:
            seg.append(s)
    if seg:
        yield seg, "end of bag"


def _trim_hold(seg: list[_Sample]) -> list[_Sample]:
    """Drop the tail where a finished clip's last frame is re-sent (same frame index), keeping one."""
    i = len(seg)
    while i > 1 and seg[i - 1].frame >= 0 and seg[i - 1].frame == seg[i - 2].frame:
        i -= 1
    return seg[:i]


def _resample(seg: list[_Sample], fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root pos (N,3), quat wxyz (N,4), joints (N,29) at ``fps`` on [t0, t_end] (linear / slerp)."""
    t = np.array([s.t for s in seg]) - seg[0].t
    r = Resampler.at_times(t, np.arange(uniform_count(t[-1], fps)) / fps)
    pos = np.stack([s.root_pos_w for s in seg])
    quat = np.stack([s.root_quat_w for s in seg])
    joints = np.stack([s.joint_pos for s in seg])
    return r.linear(pos), r.quat(quat), r.linear(joints)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._") or "clip"


def bag_to_clips(
    bag: str | Path,
    out_dir: str | Path,
    kind: str = "reference",
    topic: str = "",
    fps: float = 50.0,
    max_gap: float = 0.2,
    min_duration: float = 1.0,
    time_source: str = "header",
    licence: str = "",
    strict: bool = False,
) -> dict:
    """Cut ``topic`` of a bag into ``.clip.npz`` motion clips at ``fps``; returns (and writes) a summary.

    Segments end at gaps > ``max_gap`` [s], clip_id changes, invalid messages or time going backwards; a
    finished clip's held last frame is trimmed; segments shorter than ``min_duration`` [s] are dropped with
    the reason in the summary. Clips: ``<out_dir>/<bag>_<clip_id or kind>_<k>.clip.npz``,
    summary ``<out_dir>/<bag>.<kind>.clips.json``, all written atomically; nothing is written if any of
    them exists.

    Args:
        kind: ``reference`` (MotionReference: the commanded motion) or ``robot_state`` (RobotState root pose
            + joints: the executed motion; needs has_root_truth).
        time_source: ``header`` (message stamps; bag receive times when they are all zero) or ``bag``.
        licence: Licence of the clips (default: the bag's ``hgpt.licence`` custom data, else ``unknown``).

    Raises:
        BagError: bad bag / arguments, a target that exists, or no message on the topic.
    """
    from hgpt_core.motion import MotionClip, atomic_write_bytes

    if kind not in CLIP_KINDS:
        raise BagError(f"kind {kind!r} is not valid; valid values: {', '.join(CLIP_KINDS)}")
    if time_source not in ("header", "bag"):
        raise BagError(f"time source {time_source!r} is not valid; valid values: header, bag")
    topic = topic or CLIP_KINDS[kind]
    bag, out_dir = Path(bag), Path(out_dir)
    with BagReader(bag, strict=strict) as reader:
        info = reader.info
        found = info.topics.get(topic)
        if found is not None and found.msgtype != CLIP_TYPES[kind]:
            raise BagError(f"{bag}: {topic} is {found.msgtype}, not {CLIP_TYPES[kind]} (--kind {kind})")
        samples, n_msgs = _samples(reader, kind, topic, time_source)
        if time_source == "header" and samples and all(s is None or s.t == 0.0 for s in samples):
            time_source = "bag"  # stamps never set: receive times are the only clock
            samples, n_msgs = _samples(reader, kind, topic, time_source)
    if not n_msgs:
        raise BagError(f"{bag}: no message on {topic} (topics: {', '.join(sorted(info.topics)) or 'none'})")
    licence = licence or info.custom_data.get(LICENCE_KEY, "unknown")
    bag_name = _safe(bag.name.removesuffix(".mcap").removesuffix(".db3"))
    clips, dropped = [], []
    for k, (seg, why) in enumerate(_segments(samples, max_gap)):
        seg = _trim_hold(seg)
        dur = seg[-1].t - seg[0].t
        entry = {
            "segment": k,
            "clip_id": seg[0].key,
            "start_s": seg[0].t,
            "duration_s": dur,
            "messages": len(seg),
            "ended_by": why,
        }
        if dur < min_duration or len(seg) < 2:
            dropped.append({**entry, "reason": f"shorter than {min_duration} s"})
            continue
        pos, quat, joints = _resample(seg, fps)
        name = f"{bag_name}_{_safe(seg[0].key or kind)}_{k:03d}"
        meta = {
            "bag": str(bag),
            "topic": topic,
            "kind": kind,
            "time_source": time_source,
            "bag_complete": info.complete,
            "segment": entry,
        }
        clip = MotionClip(
            pos, quat, joints, fps, name=name, source=f"{bag}:{topic}", licence=licence, meta=meta
        )
        clips.append((out_dir / f"{name}.clip.npz", clip.validate(name), entry))
    summary_path = out_dir / f"{bag_name}.{kind}.clips.json"
    existing = [str(p) for p in [summary_path, *(c[0] for c in clips)] if p.exists()]
    if existing:
        raise BagError(f"not overwriting existing output: {', '.join(existing)}")
    for path, clip, entry in clips:
        clip.save(path)
        entry.update(file=str(path), frames=clip.num_frames)
    summary = {
        "bag": str(bag),
        "topic": topic,
        "kind": kind,
        "fps": fps,
        "bag_complete": info.complete,
        "problems": info.problems,
        "messages": n_msgs,
        "clips": [c[2] for c in clips],
        "dropped": dropped,
    }
    atomic_write_bytes(summary_path, json.dumps(summary, indent=2).encode())
    summary["summary_file"] = str(summary_path)
    return summary
