"""Tracking monitor: joint tracking errors of a running graph, from /hgpt/robot_state and /hgpt/reference.

The pure core (:class:`TrackingMonitor`) pairs each robot state with the reference meant for the same time
(exact stamp in lock-step, else the newest reference received before the state) and accumulates the
errors of the steps where the policy was tracking; :class:`TrackingMonitorNode` feeds it from ROS.
``hgpt run`` starts one and prints its summary when it stops.

It judges like ``hgpt eval`` (DESIGN §5): the fall is :meth:`hgpt_sim.rewards.FallConfig.evaluation`
(anchor = torso tilt error > 0.8, torso more than 0.25 m below the reference's, NaN), evaluated on the
torso pose from forward kinematics of the robot's root truth and of the reference; scoring stops at the
fall and, given ``clip_seconds``, at the clip's end. Without root truth (a real robot) only the pelvis
tilt from the IMU is checked (|up_z| < :data:`FALL_TILT`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from hgpt_core.g1 import ANCHOR_BODY, NUM_JOINTS
from hgpt_core.motion import atomic_write_bytes
from hgpt_policy.controller import Mode

CLIP_DT_NS = 20_000_000
"""[ns] frame period of the clips reference_player plays (``ReferenceMotion`` at 50 Hz)."""

FALL_TILT = 0.8
"""Fall without root truth: the pelvis z axis below this cosine of the tilt from vertical (about 37 deg)."""


@dataclass
class MonitorSummary:
    """What the monitor saw. Errors are over the tracking steps only (mode TRACK, reference valid)."""

    states: int  # robot states received
    tracked_steps: int  # states paired with a valid reference while tracking
    exact_pairs: int  # pairs whose stamps matched exactly (lock-step)
    mpjpe_rad: float  # mean per-joint position error [rad]
    mpjve_rad_s: float  # mean per-joint velocity error [rad/s]
    max_joint_err_rad: float
    sim_time_s: float  # robot-state time covered [s]
    wall_time_s: float  # wall time from first to last state [s]
    realtime_factor: float  # sim_time / wall_time
    fell: bool  # the pelvis tilted past FALL_TILT
    fall_time_s: float  # robot-state time of the fall [s] (nan if none)
    faults: int  # policy status messages with a latched fault
    modes: dict[str, int]  # status mode name -> count
    commands: int  # joint commands received (one per stamp; repeats skipped)
    command_digest: str  # sha256 of the commands' stamps and targets in order: equal runs, equal digests
    fall_reason: str = ""  # anchor_height / tilt / nan (hgpt eval's rule) or imu_tilt (no root truth)
    scored_s: float = 0.0  # tracking time scored [s] (to the fall or the clip's end)
    past_clip_end: int = 0  # tracked states after the clip's end (not scored)

    def table(self, keys: tuple[str, ...] | None = None) -> str:
        """A two-column markdown table (of ``keys`` only, when given)."""
        return summary_table(asdict(self), keys)


def summary_table(summary: dict, keys: tuple[str, ...] | None = None) -> str:
    """A summary (``MonitorSummary`` fields, e.g. read back from its JSON) as a two-column markdown table."""
    lines = ["| metric | value |", "|---|---:|"]
    for k in keys or tuple(summary):
        v = summary[k]
        lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    return "\n".join(lines)


class TrackingMonitor:
    """Accumulates joint errors between robot states and references (no ROS)."""

    KEEP = 250  # references kept (5 s at 50 Hz)
    LAG_NS = 200_000_000  # [ns] how long a state waits for the reference stamped like it

    def __init__(self, clip_seconds: float | None = None, fall=None, speed: float = 1.0) -> None:
        """``clip_seconds``: the clip's duration [s] from its first reference (None: a live stream, no end);
        ``fall``: a :class:`hgpt_sim.rewards.FallConfig` (default ``FallConfig.evaluation()``); ``speed``:
        the player's playback speed (clip time per reference time)."""
        from hgpt_sim.rewards import FallConfig

        self.speed = speed or 1.0

        self.fall_cfg = fall or FallConfig.evaluation()
        self.clip_ns = None if clip_seconds is None else int(round(clip_seconds * 1e9))
        self.ref_first_ns: int | None = None  # stamp of the first valid reference: the clip's start
        self.ref_last_ns = -1  # newest reference stamp [ns]
        self.fall_reason = ""
        self.past_end = 0
        self._fk = None
        # stamp [ns] -> (q, dq, root_pos, root_quat) of the reference; None: an invalid one
        self.refs: dict[int, tuple | None] = {}
        self.pending: deque[tuple] = deque()  # tracked states not scored yet
        self.mode = -1
        self.faults = 0
        self.modes: dict[str, int] = {}
        self.states = 0
        self.exact = 0
        self.tracked = 0  # scored steps
        self.pos_err_sum = self.vel_err_sum = 0.0  # sums of |error| over steps and joints [rad], [rad/s]
        self.pos_err_max = 0.0
        self.t_first = self.t_last = float("nan")
        self.wall_first = self.wall_last = float("nan")
        self.fall_time = float("nan")
        self.commands = 0
        self.cmd_ns = -1
        self.cmd_modes: dict[int, int] = {}  # command stamp [ns] -> mode
        self.digest = hashlib.sha256()

    def on_command(self, stamp_ns: int, q: np.ndarray, kp: np.ndarray, mode: int) -> None:
        """A joint command: targets (29,) [rad], gains (29,), mode; repeats of a stamp are skipped.

        A state is scored when the command answering it (same stamp, or the newest before) tracks."""
        if stamp_ns <= self.cmd_ns:
            return
        self.cmd_ns = stamp_ns
        self.commands += 1
        self.cmd_modes[stamp_ns] = mode
        _trim(self.cmd_modes, self.KEEP)
        self.digest.update(np.int64(stamp_ns).tobytes() + bytes([mode]))
        self.digest.update(np.ascontiguousarray(q, dtype=np.float64).tobytes())
        self.digest.update(np.ascontiguousarray(kp, dtype=np.float64).tobytes())

    def on_reference(
        self,
        stamp_ns: int,
        q: np.ndarray,
        dq: np.ndarray,
        valid: bool,
        root_pos: np.ndarray | None = None,
        root_quat: np.ndarray | None = None,
        frame_index: int = 0,
    ) -> None:
        """A reference frame: joint positions (29,) [rad], velocities (29,) [rad/s], pelvis pose (3,) [m] and
        (4,) wxyz (the pose is needed for the anchor fall rule); ``frame_index``: its 50 Hz frame in the clip
        (the clip's start is known even when the monitor joined late, as a launched node may)."""
        self.refs[stamp_ns] = (q, dq, root_pos, root_quat) if valid else None
        self.ref_last_ns = max(self.ref_last_ns, stamp_ns)
        start_ns = stamp_ns - int(round(frame_index * CLIP_DT_NS / self.speed))
        if valid and (self.ref_first_ns is None or start_ns < self.ref_first_ns):
            self.ref_first_ns = start_ns
        _trim(self.refs, self.KEEP)
        self._score(final=False)

    def on_status(self, mode: int, fault: bool) -> None:
        self.mode = mode
        self.faults += int(fault)
        name = Mode(mode).name if mode in set(Mode) else str(mode)
        self.modes[name] = self.modes.get(name, 0) + 1

    def on_state(
        self,
        stamp_ns: int,
        q: np.ndarray,
        dq: np.ndarray,
        up_z: float,
        wall: float,
        root_pos: np.ndarray | None = None,
        root_quat: np.ndarray | None = None,
    ) -> None:
        """A robot state: joints (29,), the z component of the pelvis up axis in the world and, when known
        (simulation, mocap), the pelvis pose (3,) [m], (4,) wxyz."""
        self.states += 1
        t = stamp_ns * 1e-9
        if self.states == 1:
            self.t_first, self.wall_first = t, wall
        self.t_last, self.wall_last = t, wall
        if np.isnan(self.fall_time):  # score the tracking steps before any fall
            self.pending.append((stamp_ns, q, dq, up_z, root_pos, root_quat))
        self._score(final=False)

    @property
    def clip_ended(self) -> bool:
        """The newest state is past the clip's end (known only with ``clip_seconds``)."""
        if self.clip_ns is None or self.ref_first_ns is None or not self.states:
            return False
        return self.t_last * 1e9 > self.ref_first_ns + self.clip_ns + 1e6

    def references_stopped(self, gap_s: float) -> bool:
        """References came, and the newest robot state is more than ``gap_s`` [s] past the newest one (the
        reference source ended: a bag replay, a stopped stream)."""
        if self.ref_last_ns < 0 or not self.states:
            return False
        return self.t_last * 1e9 - self.ref_last_ns > gap_s * 1e9

    def _anchor(self, root_pos, root_quat, q) -> tuple[np.ndarray, np.ndarray]:
        if self._fk is None:
            from hgpt_core.kinematics import G1Kinematics

            self._fk = G1Kinematics()
        fk = self._fk.forward(np.asarray(root_pos), np.asarray(root_quat), np.asarray(q))
        pos, quat = fk.body(ANCHOR_BODY)
        return pos[:, 2], quat

    def _fall(self, q, dq, up_z, root_pos, root_quat, ref) -> str:
        """The fall reason of a state against its reference ("" = no fall)."""
        if not (np.isfinite(q).all() and np.isfinite(dq).all()):
            return "nan"
        if root_pos is None or ref[2] is None:
            return "imu_tilt" if up_z < FALL_TILT else ""
        from hgpt_sim.rewards import anchor_fall

        z, quat = self._anchor(root_pos, root_quat, q)
        z_ref, quat_ref = self._anchor(ref[2], ref[3], ref[0])
        why = anchor_fall(z, quat, z_ref, quat_ref, self.fall_cfg)
        return ",".join(k for k in ("anchor_height", "tilt") if why[k][0])

    def _score(self, final: bool) -> None:
        """Pair pending states with their reference: the one stamped alike (it may arrive after the state),
        else the newest one before. A state waits ``LAG_NS`` of newer states for its exact reference."""
        newest = self.pending[-1][0] if self.pending else 0
        while self.pending and (final or newest - self.pending[0][0] > self.LAG_NS):
            stamp_ns, q, dq, up_z, root_pos, root_quat = self.pending.popleft()
            if _at_or_before(self.cmd_modes, stamp_ns, default=self.mode) != Mode.TRACK:
                continue
            ref = _at_or_before(self.refs, stamp_ns)
            if ref is None:  # no reference yet, or an invalid one: nothing to score
                continue
            if self.clip_ns is not None and stamp_ns > self.ref_first_ns + self.clip_ns:
                self.past_end += 1  # the clip is over (the player holds its last frame): hgpt eval stops here
                continue
            reason = self._fall(q, dq, up_z, root_pos, root_quat, ref)
            if reason:
                self.fall_time, self.fall_reason = stamp_ns * 1e-9, reason
                self.pending.clear()
                break
            self.exact += stamp_ns in self.refs
            pos_err = np.abs(q - ref[0])
            self.tracked += 1
            self.pos_err_sum += float(pos_err.sum())
            self.vel_err_sum += float(np.abs(dq - ref[1]).sum())
            self.pos_err_max = max(self.pos_err_max, float(pos_err.max()))

    def summary(self) -> MonitorSummary:
        self._score(final=True)
        n = self.tracked * NUM_JOINTS
        sim_t = self.t_last - self.t_first if self.states else 0.0
        wall_t = self.wall_last - self.wall_first if self.states else 0.0
        return MonitorSummary(
            states=self.states,
            tracked_steps=self.tracked,
            exact_pairs=self.exact,
            mpjpe_rad=self.pos_err_sum / n if n else float("nan"),
            mpjve_rad_s=self.vel_err_sum / n if n else float("nan"),
            max_joint_err_rad=self.pos_err_max if n else float("nan"),
            sim_time_s=float(sim_t),
            wall_time_s=float(wall_t),
            realtime_factor=float(sim_t / wall_t) if wall_t > 0 else float("nan"),
            fell=not np.isnan(self.fall_time),
            fall_time_s=float(self.fall_time),
            faults=self.faults,
            modes=dict(self.modes),
            commands=self.commands,
            command_digest=self.digest.hexdigest()[:16],
            fall_reason=self.fall_reason,
            scored_s=self.tracked * 0.02,
            past_clip_end=self.past_end,
        )


def _trim(d: dict, keep: int) -> None:
    """Drop the oldest keys of a stamp-keyed dict once it holds twice ``keep``."""
    if len(d) > 2 * keep:
        for k in sorted(d)[:-keep]:
            del d[k]


def _at_or_before(d: dict, stamp_ns: int, default=None):
    """The value stamped ``stamp_ns``, else the newest one before it, else ``default``."""
    if stamp_ns in d:
        return d[stamp_ns]
    before = [k for k in d if k <= stamp_ns]
    return d[max(before)] if before else default


def write_summary(summary: MonitorSummary, path: str) -> None:
    """Atomically write the summary as JSON (NaN as null)."""
    d = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in asdict(summary).items()}
    atomic_write_bytes(path, (json.dumps(d, indent=2) + "\n").encode())


def clip_duration(motion: str, fps: float = 0.0, speed: float = 1.0) -> float:
    """Playing time [s] of a clip as reference_player plays it (retargets human files through the cache)."""
    from hgpt_retarget.player import ReferencePlayer

    ref = ReferencePlayer.from_file(motion, fps=fps or None, speed=speed or 1.0)
    return ref.duration / ref.speed


def references_stopped_message(core: TrackingMonitor, gap_s: float) -> str:
    """What :meth:`TrackingMonitor.references_stopped` means, for the log."""
    return (
        f"the references stopped at t={core.ref_last_ns * 1e-9:.3f} s and the robot state is more than "
        f"{gap_s:g} s past them (the bag replay ended?): stopping"
    )


def make_monitor_node(clip_seconds: float | None = None, **kwargs):
    """A rclpy node feeding a :class:`TrackingMonitor` (imported lazily: the core has no rclpy).

    ``clip_seconds``: the played clip's duration [s]; scoring stops at its end (as in hgpt eval). Without
    it, the parameters ``motion`` (+ ``fps``, ``speed``, ``loop``) give it (the launch files' eval);
    ``exit_at_clip_end`` makes :func:`main` stop there, ``summary`` is a JSON path for its summary."""
    from rclpy.clock import Clock, ClockType
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data

    from hgpt_core.rotations import quat_apply
    from hgpt_core.stamps import stamp_to_ns
    from hgpt_msgs.msg import JointCommand, MotionReference, RobotState, TrackingStatus

    class TrackingMonitorNode(Node):
        def __init__(self) -> None:
            super().__init__("tracking_monitor", **kwargs)
            motion: str = self.declare_parameter("motion", "").value
            fps: float = self.declare_parameter("fps", 0.0).value
            speed: float = self.declare_parameter("speed", 1.0).value
            loop: bool = self.declare_parameter("loop", False).value
            self.exit_at_clip_end: bool = self.declare_parameter("exit_at_clip_end", False).value
            # > 0: stop once the robot state is this far [s] past the newest reference (source bag)
            self.reference_gap_s: float = self.declare_parameter("exit_after_reference_gap_s", 0.0).value
            self.summary_path: str = self.declare_parameter("summary", "").value
            end_s = clip_seconds
            if end_s is None and motion and not loop:
                end_s = clip_duration(motion, fps, speed)
            self.clip_seconds = end_s
            self.core = TrackingMonitor(end_s, speed=speed)
            self.done = False  # exit_at_clip_end and the clip has ended
            if (self.exit_at_clip_end and end_s is not None) or self.reference_gap_s > 0:
                wall = Clock(clock_type=ClockType.STEADY_TIME)
                self.create_timer(0.1, self.check_end, clock=wall)
            self.create_subscription(RobotState, "/hgpt/robot_state", self.on_state, qos_profile_sensor_data)
            self.create_subscription(MotionReference, "/hgpt/reference", self.on_reference, 10)
            self.create_subscription(TrackingStatus, "/hgpt/status", self.on_status, 10)
            self.create_subscription(JointCommand, "/hgpt/joint_command", self.on_command, 10)

        def check_end(self) -> None:
            if self.done:
                return
            if self.exit_at_clip_end and self.core.clip_ended:
                self.done = True
                self.get_logger().info(f"the clip ended ({self.clip_seconds:.2f} s): stopping")
            elif self.reference_gap_s > 0 and self.core.references_stopped(self.reference_gap_s):
                self.done = True
                self.get_logger().info(references_stopped_message(self.core, self.reference_gap_s))

        def on_command(self, msg: JointCommand) -> None:
            self.core.on_command(stamp_to_ns(msg.header.stamp), np.array(msg.q), np.array(msg.kp), msg.mode)

        def on_reference(self, msg: MotionReference) -> None:
            q, dq = np.array(msg.joint_positions), np.array(msg.joint_velocities)
            p, o = msg.root_position, msg.root_orientation
            pos, quat = np.array([p.x, p.y, p.z]), np.array([o.w, o.x, o.y, o.z])
            frame = msg.frame_index if msg.clip_id else 0  # a live stream counts frames from its start
            self.core.on_reference(stamp_to_ns(msg.header.stamp), q, dq, msg.valid, pos, quat, frame)

        def on_status(self, msg: TrackingStatus) -> None:
            self.core.on_status(msg.mode, msg.fault)

        def on_state(self, msg: RobotState) -> None:
            o = msg.imu_orientation
            up = quat_apply(np.array([o.w, o.x, o.y, o.z]), np.array([0.0, 0.0, 1.0]))
            pos = quat = None
            if msg.has_root_truth:
                p, r = msg.root_pose.position, msg.root_pose.orientation
                pos, quat = np.array([p.x, p.y, p.z]), np.array([r.w, r.x, r.y, r.z])
            self.core.on_state(
                stamp_to_ns(msg.header.stamp),
                np.array(msg.q),
                np.array(msg.dq),
                float(up[2]),
                time.perf_counter(),
                pos,
                quat,
            )

    return TrackingMonitorNode()


def main(args: list[str] | None = None) -> None:
    """``tracking_monitor`` node (the launch files' eval): spins until the clip's end (``exit_at_clip_end``)
    or shutdown, then prints its summary (and writes ``summary``); its exit ends the launch."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = None
    try:
        node = make_monitor_node()
        from hgpt_ros.diagnostics import attach_diagnostics

        attach_diagnostics(node)  # /diagnostics: scored steps, MPJPE so far, falls
        while rclpy.ok() and not node.done:
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            summary = node.core.summary()
            print("\ntracking monitor (joint errors over the TRACK steps):\n" + summary.table(), flush=True)
            if node.summary_path:
                write_summary(summary, node.summary_path)
                print(f"summary: {node.summary_path}", flush=True)
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
