"""Run by test_g1_unitree_hg.py in a process that has the unitree_hg test interfaces on its paths.

Checks the duck-typed conversions on the real generated classes, and that a LowCmd/LowState keeps its CRC
through DDS serialisation (publish and receive in this process). Prints one JSON line with the results.
"""

import json
import sys
import time

import numpy as np
import rclpy
from unitree_hg.msg import LowCmd, LowState

from hgpt_core.g1 import KNEES_BENT_POSE
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_g1.crc import message_crc
from hgpt_g1.msg_conv import LowStateWriter, fill_lowcmd, lowcmd_to_command, lowstate_to_sample
from hgpt_g1.remote import RemoteState, encode_remote
from hgpt_g1.safety import SafetyMachine
from hgpt_g1.safety_config import SafetyConfig


def main() -> None:
    out: dict = {
        "sizes": [len(LowCmd().motor_cmd), len(LowState().motor_state), len(LowState().wireless_remote)]
    }
    rng = np.random.default_rng(0)
    obs = {k: rng.normal(size=29) for k in ("q", "dq", "ddq", "tau_est")}
    obs.update(
        quat=np.array([1.0, 0, 0, 0]), gyro=rng.normal(size=3), acc=rng.normal(size=3), rpy=np.zeros(3)
    )
    obs["q"] = KNEES_BENT_POSE + 0.01 * obs["q"]
    writer = LowStateWriter(LowState(), 29, mode_machine=5, temperature_c=40.0)
    writer.write(obs, mode_pr=0, tick=1234, remote=encode_remote(RemoteState(0x0220)))
    out["lowstate_crc_ok"] = message_crc(writer.msg) == writer.msg.crc
    s = lowstate_to_sample(writer.msg, 29, 0.0)
    out["lowstate_q_err"] = float(np.abs(s.q - obs["q"]).max())
    out["buttons"] = s.buttons

    m = SafetyMachine(PolicyMetadata("p"), SafetyConfig(ramp_s=0.1))
    m.on_lowstate(s)
    m.arm(0.0)
    cmd = m.tick(0.05)
    lowcmd = LowCmd()
    fill_lowcmd(lowcmd, cmd, cmd.crc())
    out["lowcmd_crc_ok"] = message_crc(lowcmd) == lowcmd.crc == cmd.crc()
    back, _, _ = lowcmd_to_command(lowcmd)
    out["lowcmd_q_equal"] = bool(np.array_equal(back.q, cmd.q))

    rclpy.init()
    node = rclpy.create_node("unitree_hg_check")
    got: dict = {}
    node.create_subscription(LowCmd, "/g1_check/lowcmd", lambda msg: got.setdefault("cmd", msg), 10)
    node.create_subscription(LowState, "/g1_check/lowstate", lambda msg: got.setdefault("state", msg), 10)
    pub_c = node.create_publisher(LowCmd, "/g1_check/lowcmd", 10)
    pub_s = node.create_publisher(LowState, "/g1_check/lowstate", 10)
    end = time.monotonic() + 20
    while len(got) < 2 and time.monotonic() < end:
        pub_c.publish(lowcmd)
        pub_s.publish(writer.msg)
        rclpy.spin_once(node, timeout_sec=0.05)
    out["dds_lowcmd_crc_ok"] = "cmd" in got and message_crc(got["cmd"]) == lowcmd.crc == got["cmd"].crc
    out["dds_lowstate_crc_ok"] = "state" in got and message_crc(got["state"]) == writer.msg.crc
    node.destroy_node()
    rclpy.try_shutdown()
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
