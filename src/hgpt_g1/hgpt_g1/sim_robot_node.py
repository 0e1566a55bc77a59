"""g1_sim_robot: a MuJoCo G1 that speaks /lowstate and /lowcmd (unitree_hg) like the real robot.

Real time: a 500 Hz timer steps the physics to the wall clock and publishes one LowState (with CRC) per
tick; every LowCmd is CRC- and mode_machine-checked and applied (:mod:`hgpt_g1.sim_robot`). Test hooks:
/sim/g1/remote_buttons (std_msgs/UInt16: the remote's button bit field, see :mod:`hgpt_g1.remote`),
/sim/g1/gantry (std_msgs/Bool: hold or release the pelvis), /sim/g1/stats (std_msgs/String, JSON counters).
"""

from __future__ import annotations

import json
import time

from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, String, UInt16

from hgpt_g1.cdr import LOWSTATE_CDR
from hgpt_g1.executors import spin
from hgpt_g1.lowlevel import lowstate_struct
from hgpt_g1.msg_conv import import_unitree_hg, lowcmd_struct_from_raw
from hgpt_g1.remote import RemoteState, encode_remote
from hgpt_g1.sim_robot import G1LowLevelSim, SimRobotConfig
from hgpt_ros.node_main import run_node
from hgpt_ros.params import declare_dataclass

LATEST = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)


class G1SimRobotNode(Node):
    """Publishes LowState at ``rate_hz``, applies LowCmd; the physics follows the wall clock."""

    def __init__(self, **kwargs) -> None:
        super().__init__("g1_sim_robot", **kwargs)
        self.cfg = declare_dataclass(self, SimRobotConfig)
        rate_hz = float(self.declare_parameter("rate_hz", 500.0).value)
        self.sim = G1LowLevelSim(self.cfg)
        self.LowCmd, LowState = import_unitree_hg()
        self.remote = encode_remote(RemoteState(0))
        self.mode_pr = 0
        self.state_pub = self.create_publisher(LowState, "/lowstate", LATEST)
        self.stats_pub = self.create_publisher(String, "/sim/g1/stats", 10)
        self.create_subscription(
            self.LowCmd, "/lowcmd", self.on_lowcmd, LATEST, raw=True
        )  # bytes: hgpt_g1.cdr
        self.create_subscription(UInt16, "/sim/g1/remote_buttons", self.on_buttons, 10)
        self.create_subscription(Bool, "/sim/g1/gantry", self.on_gantry, 10)
        self.create_timer(1.0 / rate_hz, self.on_tick)
        self.create_timer(0.1, self.publish_stats)
        self.t0 = self.t_start = time.monotonic()
        self.lag_steps = 0
        self.last_reject = ""
        c = self.cfg
        self.get_logger().info(f"sim G1: mode_machine {c.mode_machine}, gantry {c.gantry}, {rate_hz} Hz.")

    def on_lowcmd(self, raw: bytes) -> None:
        try:
            struct = lowcmd_struct_from_raw(raw, self.LowCmd)
            why = self.sim.receive(struct)
            self.mode_pr = struct[0]
        except ValueError as exc:
            why = str(exc)
        if why and why != self.last_reject:
            self.get_logger().warning(f"LowCmd dropped: {why}")
        self.last_reject = why or self.last_reject

    def on_buttons(self, msg: UInt16) -> None:
        self.remote = encode_remote(RemoteState(int(msg.data)))

    def on_gantry(self, msg: Bool) -> None:
        self.sim.gantry = bool(msg.data)
        self.get_logger().info(f"gantry {'holding' if msg.data else 'released'}")

    def on_tick(self) -> None:
        behind = int((time.monotonic() - self.t0 - self.sim.time) / self.cfg.physics_dt)
        if behind > 10:  # far behind the wall clock (machine overloaded): drop time rather than spiral
            self.lag_steps += behind - 10
            self.t0 += (behind - 10) * self.cfg.physics_dt
            behind = 10
        if behind <= 0:
            return
        self.sim.step_physics(behind)
        # The robot's tick counts its own (real-time) milliseconds, whatever the physics does.
        tick_ms = int((time.monotonic() - self.t_start) * 1e3)
        c = self.cfg
        struct = lowstate_struct(
            self.sim.observe(), self.mode_pr, c.mode_machine, tick_ms, self.remote, c.temperature_c
        )
        self.state_pub.publish(LOWSTATE_CDR.to_cdr(struct))

    def publish_stats(self) -> None:
        s = self.sim.stats
        obs = self.sim.observe()
        doc = {
            "sim_time": self.sim.time,
            "received": s.received,
            "applied": s.applied,
            "crc_errors": s.crc_errors,
            "mode_machine_errors": s.mode_machine_errors,
            "last_kp_max": s.last_kp_max,
            "last_enabled": s.last_enabled,
            "nonfinite": s.nonfinite,
            "max_limit_excess": s.max_limit_excess,
            "max_abs_dq": s.max_abs_dq,
            "pelvis_z": float(obs["root_pos_w"][2]),
            "gantry": self.sim.gantry,
            "lag_steps": self.lag_steps,
        }
        self.stats_pub.publish(String(data=json.dumps(doc)))


def main(args: list[str] | None = None) -> None:
    run_node(G1SimRobotNode, spin, args=args)  # EventsExecutor: 500 Hz timer + LowCmd, least overhead


if __name__ == "__main__":
    main()
