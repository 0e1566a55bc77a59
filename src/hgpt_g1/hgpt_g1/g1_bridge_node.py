"""g1_bridge_node: the real G1 behind the safety machine.

/lowstate (unitree_hg/LowState) -> /hgpt/robot_state (+ /joint_states); /hgpt/joint_command -> /lowcmd at
500 Hz through :class:`hgpt_g1.safety.SafetyMachine`. Services /hgpt/g1/arm and /hgpt/g1/estop
(std_srvs/Trigger); status on /hgpt/g1/status (TrackingStatus, state = damp|ramp|stand|track|estop).
``dry_run`` (the default) computes everything but never creates the /lowcmd publisher; the command it would
send goes to /hgpt/g1/command (JointCommand, G1 order) instead. See docs/g1.md.
"""

from __future__ import annotations

import contextlib
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

from hgpt_core.g1 import G1_JOINT_NAMES, index_map
from hgpt_core.session import Announcement
from hgpt_core.stamps import stamp_to_sec
from hgpt_g1.bridge_config import BridgeConfig, load_policy_metadata
from hgpt_g1.cdr import LOWCMD_CDR
from hgpt_g1.executors import spin
from hgpt_g1.lowlevel import CrcMismatch, lowcmd_struct, sample_from_lowstate
from hgpt_g1.msg_conv import (
    command_msg,
    import_unitree_hg,
    joint_command_to_target,
    joint_state_msg,
    lowstate_struct_from_raw,
    robot_state_msg,
    status_msg,
)
from hgpt_g1.safety import SafetyMachine
from hgpt_g1.safety_config import SafetyConfig
from hgpt_msgs.msg import JointCommand, PolicyInfo, RobotState, TrackingStatus
from hgpt_ros.node_main import run_node
from hgpt_ros.params import declare_dataclass

LATEST = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
RELIABLE_LATEST = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
ANNOUNCE = QoSProfile(  # /hgpt/policy: the latest announcement of each policy reaches late joiners
    depth=1,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


class G1BridgeNode(Node):
    """unitree_hg LowState/LowCmd <-> hgpt topics, every command through the safety machine."""

    def __init__(self, **kwargs) -> None:
        super().__init__("g1_bridge", **kwargs)
        self.cfg = cfg = declare_dataclass(self, BridgeConfig)
        meta, problems = load_policy_metadata(cfg.policy)
        safety = declare_dataclass(self, SafetyConfig, prefix="safety.")
        self.machine = SafetyMachine(meta, safety, cfg.joint_names, meta_problems=problems)
        self.g1_of_motor = index_map(G1_JOINT_NAMES, cfg.joint_names)
        LowCmd, self.LowState = import_unitree_hg()
        # Dry run: no /lowcmd publisher exists, so nothing can reach the robot by mistake.
        self.lowcmd_pub = None
        if not cfg.dry_run:
            self.lowcmd_pub = self.create_publisher(LowCmd, cfg.lowcmd_topic, RELIABLE_LATEST)
        self.dry_pub = self.create_publisher(JointCommand, "/hgpt/g1/command", 10) if cfg.dry_run else None
        self.state_pub = self.create_publisher(RobotState, "/hgpt/robot_state", LATEST)
        self.joint_pub = self.create_publisher(JointState, "/joint_states", 10)
        self.status_pub = self.create_publisher(TrackingStatus, "/hgpt/g1/status", 10)
        # raw: LowState arrives as bytes (hgpt_g1.cdr), ~50x cheaper than rclpy's Python message objects
        self.create_subscription(self.LowState, cfg.lowstate_topic, self.on_lowstate, LATEST, raw=True)
        self.create_subscription(JointCommand, "/hgpt/joint_command", self.on_command, RELIABLE_LATEST)
        self.create_subscription(PolicyInfo, "/hgpt/policy", self.on_policy, ANNOUNCE)
        self.announce_problem = ""
        self.create_service(Trigger, "/hgpt/g1/arm", self.on_arm)
        self.create_service(Trigger, "/hgpt/g1/estop", self.on_estop)
        self.period = 1.0 / cfg.rate_hz
        self.create_timer(self.period, self.on_timer)
        self.create_timer(1.0 / cfg.status_rate_hz, self.publish_status)
        self.last_tick = self.last_joint_states = 0.0
        self.overruns = 0
        blocked = "".join(f"\n  arming blocked: {p}" for p in self.machine.problems)
        self.get_logger().info(
            f"policy '{self.machine.policy_id}', {len(cfg.joint_names)} motors, {cfg.rate_hz:.0f} Hz "
            f"(trigger={cfg.trigger}), dry_run={cfg.dry_run}; DAMP until armed (/hgpt/g1/arm or remote "
            f"{safety.remote_arm}); e-stop: /hgpt/g1/estop or remote {safety.remote_estop}{blocked}"
        )

    def on_lowstate(self, raw: bytes) -> None:
        now = time.monotonic()
        try:
            try:
                struct = lowstate_struct_from_raw(raw, self.LowState)
                sample = sample_from_lowstate(struct, self.machine.n, now, self.cfg.check_lowstate_crc)
            except CrcMismatch as exc:  # dropped; the LowState watchdog e-stops if it persists
                self.machine.on_bad_packet(str(exc), now)
                return
            except ValueError as exc:  # not a unitree_hg LowState: e-stop if armed
                self.machine.on_bad_packet(str(exc), now, fatal=True)
                return
            self.machine.on_lowstate(sample)
            if self.machine.latest is not sample:
                return  # rejected (NaN, sizes)
            stamp = self.get_clock().now().to_msg()
            self.state_pub.publish(robot_state_msg(sample, self.g1_of_motor, stamp))
            if now - self.last_joint_states >= 1.0 / self.cfg.joint_states_rate_hz:
                self.last_joint_states = now
                self.joint_pub.publish(joint_state_msg(sample, self.cfg.joint_names, stamp))
            if self.cfg.trigger == "state":
                self.control(now)
        except KeyboardInterrupt:  # SIGINT: rclpy is shutting down, the spin loop ends (no FATAL log)
            return
        except Exception as exc:  # noqa: BLE001 - no exception may escape on the robot path
            self.internal_error("on_lowstate", exc)

    def on_command(self, msg: JointCommand) -> None:
        try:
            ignored = self.machine.gate.ignored
            self.machine.on_command(joint_command_to_target(msg, time.monotonic(), time.time()))
            if self.machine.gate.ignored != ignored:
                self.get_logger().warning(
                    f"ignoring JointCommand of '{msg.policy_id}': {self.machine.gate.last_ignored}",
                    throttle_duration_sec=2.0,
                )
        except KeyboardInterrupt:  # SIGINT: rclpy is shutting down, the spin loop ends (no FATAL log)
            return
        except Exception as exc:  # noqa: BLE001
            self.internal_error("on_command", exc)

    def on_policy(self, msg: PolicyInfo) -> None:
        """Handshake with an announced policy_node run (metadata compared field by field)."""
        try:
            a = Announcement(
                str(msg.session_id), str(msg.policy_id), str(msg.metadata_json),
                stamp_to_sec(msg.header.stamp), time.monotonic(),
            )  # fmt: skip
            before = self.machine.gate.session
            why = self.machine.on_announcement(a, time.time())
            if why and why != self.announce_problem:
                self.get_logger().warning(f"policy announcement refused: {why}")
            elif not why and self.machine.gate.session != before:
                self.get_logger().info(
                    f"following policy '{a.policy_id}' session {a.session_id} (metadata identical)"
                )
            self.announce_problem = why
        except KeyboardInterrupt:  # SIGINT: rclpy is shutting down, the spin loop ends (no FATAL log)
            return
        except Exception as exc:  # noqa: BLE001
            self.internal_error("on_policy", exc)

    def on_timer(self) -> None:
        try:
            now = time.monotonic()
            # With trigger=state the LowState callback writes the commands; the timer covers a silent robot.
            if self.cfg.trigger == "timer" or now - self.last_tick > 1.5 * self.period:
                self.control(now)
        except KeyboardInterrupt:  # SIGINT between the lines of this callback
            return

    def control(self, now: float) -> None:
        """One LowCmd: safety tick, CRC, publish (or the dry-run JointCommand), transitions."""
        try:
            if self.last_tick and now - self.last_tick > 2.0 * self.period:
                self.overruns += 1
            self.last_tick = now
            cmd = self.machine.tick(now)
            if cmd is not None:
                if self.lowcmd_pub is not None:
                    self.lowcmd_pub.publish(LOWCMD_CDR.to_cdr(lowcmd_struct(cmd)))
                elif self.dry_pub is not None:
                    stamp = self.get_clock().now().to_msg()
                    self.dry_pub.publish(command_msg(cmd, self.g1_of_motor, stamp, self.machine.policy_id))
            self.report_transitions()
        except KeyboardInterrupt:  # SIGINT: rclpy is shutting down, the spin loop ends (no FATAL log)
            return
        except Exception as exc:  # noqa: BLE001
            self.internal_error("control", exc)

    def on_arm(self, req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        try:
            res.success, res.message = self.machine.arm(time.monotonic(), source="service /hgpt/g1/arm")
            self.get_logger().info(f"arm: {res.message}")
            self.report_transitions()
        except KeyboardInterrupt:  # SIGINT: rclpy is shutting down, the spin loop ends (no FATAL log)
            pass
        except Exception as exc:  # noqa: BLE001
            self.internal_error("on_arm", exc)
            res.success, res.message = False, f"internal error: {exc}"
        return res

    def on_estop(self, req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        res.success, res.message = self.machine.estop("service /hgpt/g1/estop", time.monotonic())
        try:
            self.report_transitions()
        except KeyboardInterrupt:  # SIGINT: rclpy is shutting down, the spin loop ends (no FATAL log)
            pass
        except Exception as exc:  # noqa: BLE001
            self.internal_error("on_estop", exc)
        return res

    def internal_error(self, where: str, exc: Exception) -> None:
        if not (rclpy.ok() and self.context.ok()):
            return  # shutting down: publishers are gone
        self.machine.estop(f"internal error in {where}: {exc}", time.monotonic())
        with contextlib.suppress(Exception):  # SIGINT raced this callback: /rosout is gone, we are stopping
            self.get_logger().error(f"{where}: {type(exc).__name__}: {exc}")

    def report_transitions(self) -> None:
        if not self.machine.transitions:
            return
        for t in self.machine.transitions:
            line = f"{t.old.value} -> {t.new.value}: {t.reason}"
            if t.new.value == "estop":
                self.get_logger().warning(line)
            else:
                self.get_logger().info(line)
        self.machine.transitions.clear()
        self.publish_status()

    def publish_status(self) -> None:
        try:
            st = self.machine.status(time.monotonic())
            if self.cfg.dry_run:
                st.warnings.insert(0, "dry run: /lowcmd is not published")
            msg = status_msg(st, self.get_clock().now().to_msg(), self.overruns)
            msg.session_id = self.machine.gate.session
            self.status_pub.publish(msg)
        except KeyboardInterrupt:  # SIGINT: rclpy is shutting down, the spin loop ends (no FATAL log)
            return
        except Exception as exc:  # noqa: BLE001 - reporting must not take the control loop down
            if rclpy.ok():
                self.get_logger().error(f"status: {type(exc).__name__}: {exc}")


def main(args: list[str] | None = None) -> None:
    run_node(G1BridgeNode, lambda n: spin(n, n.cfg.executor), args=args)


if __name__ == "__main__":
    main()
