"""The unitree_hg test interfaces: identical definitions, kept out of the default build, built on demand; the
CDR byte maps and CRCs against the real classes and rclpy, through DDS (subprocess: unitree_hg_check.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hgpt_g1.build_unitree_hg import find_source

ROOT = Path(__file__).resolve().parents[2]
# unitree_ros2 cyclonedds_ws/src/unitree/unitree_hg/msg (DESIGN.md §4): field lists, comments stripped.
UNITREE_HG = {
    "MotorCmd": [
        "uint8 mode", "float32 q", "float32 dq", "float32 tau", "float32 kp", "float32 kd", "uint32 reserve",
    ],
    "LowCmd": [
        "uint8 mode_pr", "uint8 mode_machine", "MotorCmd[35] motor_cmd", "uint32[4] reserve", "uint32 crc",
    ],
    "MotorState": [
        "uint8 mode", "float32 q", "float32 dq", "float32 ddq", "float32 tau_est", "int16[2] temperature",
        "float32 vol", "uint32[2] sensor", "uint32 motorstate", "uint32[4] reserve",
    ],
    "IMUState": [
        "float32[4] quaternion", "float32[3] gyroscope", "float32[3] accelerometer", "float32[3] rpy",
        "int16 temperature",
    ],
    "LowState": [
        "uint32[2] version", "uint8 mode_pr", "uint8 mode_machine", "uint32 tick", "IMUState imu_state",
        "MotorState[35] motor_state", "uint8[40] wireless_remote", "uint32[4] reserve", "uint32 crc",
    ],
}  # fmt: skip


def test_definitions_are_unitree_hgs_and_kept_out_of_the_default_build():
    src = find_source(ROOT)
    assert src == ROOT / "test_interfaces" / "unitree_hg"
    assert (src / "COLCON_IGNORE").is_file()
    for name, fields in UNITREE_HG.items():
        lines = [ln.split("#")[0].strip() for ln in (src / "msg" / f"{name}.msg").read_text().splitlines()]
        assert [ln for ln in lines if ln] == fields, name


@pytest.mark.ros
def test_conversions_and_crc_on_the_real_messages_through_dds(g1_env):
    res = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("unitree_hg_check.py"))],
        env=g1_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["sizes"] == [35, 35, 40]
    assert out["lowstate_from_rclpy_bytes"] and out["lowstate_to_rclpy_msg"], out
    assert out["lowcmd_from_rclpy_bytes"] and out["lowcmd_crc_ok"] and out["lowcmd_q_equal"], out
    assert out["robot_lowstate_crc_ok"] and out["buttons"] == 0x0220
    assert out["dds_lowcmd_crc_ok"] and out["dds_lowstate_raw_ok"], out


@pytest.mark.ros
def test_shipped_fastdds_interop_profile_is_accepted(g1_env):
    # The profile is parsed at participant creation: a malformed file logs XMLPARSER errors, and an
    # unknown fastdds.type_propagation value makes participant creation fail, so a clean run proves both.
    profile = ROOT / "src" / "hgpt_g1" / "config" / "fastdds_cyclonedds_interop.xml"
    res = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("unitree_hg_check.py"))],
        env={**g1_env, "FASTDDS_DEFAULT_PROFILES_FILE": str(profile)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0 and "XMLPARSER" not in res.stderr + res.stdout, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["dds_lowcmd_crc_ok"] and out["dds_lowstate_raw_ok"], out
