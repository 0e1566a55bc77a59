"""Run by test_g1_unitree_hg.py in a process that has the unitree_hg test interfaces on its paths.

Checks hgpt_g1's CDR byte maps and CRCs against the real generated classes and rclpy's own serialisation,
and through DDS in this process: bytes published as the bridge does are received as proper messages
(and the other way round). Prints one JSON line with the results.
"""

import json
import sys
import time

import numpy as np
import rclpy
from rclpy.serialization import deserialize_message, serialize_message
from unitree_hg.msg import LowCmd, LowState

from hgpt_core.g1 import KNEES_BENT_POSE
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_g1.cdr import LOWCMD_CDR, LOWSTATE_CDR
from hgpt_g1.crc import message_crc, pack_lowcmd_msg, pack_lowstate_msg
from hgpt_g1.lowlevel import lowcmd_struct, lowstate_struct, sample_from_lowstate
from hgpt_g1.remote import RemoteState, encode_remote
from hgpt_g1.safety import SafetyMachine
from hgpt_g1.safety_config import SafetyConfig


def filled_lowstate(rng: np.random.Generator) -> LowState:
    msg = LowState()
    msg.version, msg.mode_machine, msg.tick, msg.crc = np.array([3, 4], dtype=np.uint32), 5, 987654, 42
    msg.imu_state.quaternion = rng.normal(size=4).astype(np.float32)
    msg.imu_state.temperature = -5
    for i, m in enumerate(msg.motor_state):
        m.mode, m.q, m.dq, m.motorstate = i % 3, float(rng.normal()), float(rng.normal()), i
        m.temperature = np.array([i, -i], dtype=np.int16)
        m.reserve = np.array([1, 2, 3, i], dtype=np.uint32)
    msg.wireless_remote = np.arange(40, dtype=np.uint8)
    return msg


def main() -> None:
    rng = np.random.default_rng(0)
    out: dict = {
        "sizes": [len(LowCmd().motor_cmd), len(LowState().motor_state), len(LowState().wireless_remote)]
    }
    state = filled_lowstate(rng)
    out["lowstate_from_rclpy_bytes"] = LOWSTATE_CDR.to_struct(serialize_message(state)) == pack_lowstate_msg(
        state
    )
    back = deserialize_message(LOWSTATE_CDR.to_cdr(pack_lowstate_msg(state)), LowState)
    out["lowstate_to_rclpy_msg"] = pack_lowstate_msg(back) == pack_lowstate_msg(state)

    obs = {k: rng.normal(size=29) for k in ("dq", "ddq", "tau_est")}
    obs.update(q=KNEES_BENT_POSE.copy(), quat=np.array([1.0, 0, 0, 0]), gyro=np.zeros(3), acc=np.zeros(3))
    obs["rpy"] = np.zeros(3)
    robot = lowstate_struct(obs, 0, 5, 1234, encode_remote(RemoteState(0x0220)), 40.0)
    robot_msg = deserialize_message(LOWSTATE_CDR.to_cdr(robot), LowState)
    out["robot_lowstate_crc_ok"] = (
        message_crc(robot_msg) == robot_msg.crc
    )  # as the real robot's reader sees it
    s = sample_from_lowstate(robot, 29, 0.0)
    out["buttons"] = s.buttons

    m = SafetyMachine(PolicyMetadata("p"), SafetyConfig(ramp_s=0.1))
    m.on_lowstate(s)
    m.arm(0.0)
    cmd = m.tick(0.05)
    cmd_msg = deserialize_message(LOWCMD_CDR.to_cdr(lowcmd_struct(cmd)), LowCmd)
    out["lowcmd_crc_ok"] = message_crc(cmd_msg) == cmd_msg.crc == cmd.crc()
    out["lowcmd_q_equal"] = bool(np.array_equal(np.float32([c.q for c in cmd_msg.motor_cmd]), cmd.q))
    out["lowcmd_from_rclpy_bytes"] = LOWCMD_CDR.to_struct(serialize_message(cmd_msg)) == pack_lowcmd_msg(
        cmd_msg
    )

    rclpy.init()
    node = rclpy.create_node("unitree_hg_check")
    got: dict = {}
    node.create_subscription(LowCmd, "/g1_check/lowcmd", lambda msg: got.setdefault("cmd", msg), 10)
    node.create_subscription(
        LowState, "/g1_check/lowstate", lambda raw: got.setdefault("raw", raw), 10, raw=True
    )
    pub_c = node.create_publisher(LowCmd, "/g1_check/lowcmd", 10)
    pub_s = node.create_publisher(LowState, "/g1_check/lowstate", 10)
    end = time.monotonic() + 20
    while len(got) < 2 and time.monotonic() < end:
        pub_c.publish(LOWCMD_CDR.to_cdr(lowcmd_struct(cmd)))  # bytes, as the bridge publishes
        pub_s.publish(state)  # a message object, as a robot publishes
        rclpy.spin_once(node, timeout_sec=0.05)
    out["dds_lowcmd_crc_ok"] = "cmd" in got and message_crc(got["cmd"]) == got["cmd"].crc == cmd.crc()
    out["dds_lowstate_raw_ok"] = "raw" in got and LOWSTATE_CDR.to_struct(got["raw"]) == pack_lowstate_msg(
        state
    )
    node.destroy_node()
    rclpy.try_shutdown()
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
