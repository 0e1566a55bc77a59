"""The simulated G1 behind LowCmd: the motor law, enable bits, the robot's LowCmd checks, the gantry."""

import mujoco
import numpy as np
from g1_samples import DEFAULT, N, sample

from hgpt_core.g1 import G1Spec
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_g1.lowlevel import lowcmd_struct
from hgpt_g1.safety import SafetyMachine
from hgpt_g1.safety_config import MotorCommand, SafetyConfig
from hgpt_g1.sim_robot import G1LowLevelSim, SimRobotConfig


def command(q, kp, kd, dq=0.0, tau=0.0, mode=1, mode_machine=5) -> MotorCommand:
    cmd = MotorCommand(mode_machine=mode_machine)
    cmd.mode[:N] = mode
    cmd.q[:N], cmd.dq[:N], cmd.tau[:N], cmd.kp[:N], cmd.kd[:N] = q, dq, tau, kp, kd
    return cmd


def test_motor_torque_is_the_clipped_unitree_pd_law():
    sim = G1LowLevelSim()
    spec = G1Spec()
    rng = np.random.default_rng(0)
    sim.data.qvel[6:] = rng.normal(size=N)
    q_des, dq_des, tau = DEFAULT + 0.3 * rng.normal(size=N), rng.normal(size=N), 3 * rng.normal(size=N)
    kp, kd = spec.kp * rng.uniform(0.5, 2, N), spec.kd * rng.uniform(0.5, 2, N)
    cmd = command(q_des, kp, kd, dq_des, tau)
    sim.apply(cmd)
    mujoco.mj_forward(sim.model, sim.data)
    o = sim.observe()
    f32 = [np.float32(x).astype(np.float64) for x in (q_des, dq_des, tau, kp, kd)]
    expect = f32[3] * (f32[0] - o["q"]) + f32[4] * (f32[1] - o["dq"]) + f32[2]
    np.testing.assert_allclose(
        o["tau_est"], np.clip(expect, -spec.effort_limit, spec.effort_limit), rtol=1e-9, atol=1e-9
    )


def test_disabled_motors_give_no_torque():
    sim = G1LowLevelSim()
    sim.data.qvel[6:] = 1.0
    sim.apply(command(DEFAULT + 0.5, G1Spec().kp, G1Spec().kd, mode=0))
    mujoco.mj_forward(sim.model, sim.data)
    assert np.abs(sim.observe()["tau_est"]).max() == 0.0 and sim.stats.last_enabled == 0


def test_robot_checks_crc_and_mode_machine_before_applying():
    sim = G1LowLevelSim()
    good = command(DEFAULT, G1Spec().kp, G1Spec().kd)
    assert sim.receive(lowcmd_struct(good)) == ""
    assert sim.stats.applied == 1 and sim.stats.last_kp_max > 0
    corrupt = bytearray(lowcmd_struct(good))
    corrupt[20] ^= 0x01
    assert sim.receive(bytes(corrupt)) == "bad CRC"
    other = command(DEFAULT, G1Spec().kp, G1Spec().kd, mode_machine=4)
    assert "mode_machine 4 != 5" in sim.receive(lowcmd_struct(other))
    assert "bytes" in sim.receive(b"\0" * 100)
    assert (sim.stats.received, sim.stats.applied, sim.stats.crc_errors, sim.stats.mode_machine_errors) == (
        4,
        1,
        2,
        1,
    )


def test_gantry_holds_a_damped_robot_and_release_lets_it_drop():
    sim = G1LowLevelSim(SimRobotConfig(gantry=True))
    damp = command(DEFAULT, 0.0, G1Spec().kd)
    sim.apply(damp)
    sim.step_physics(500)  # 1 s, motors damped
    held = sim.observe()["root_pos_w"][2]
    assert held > 0.6
    sim.gantry = False
    sim.step_physics(1000)
    assert sim.observe()["root_pos_w"][2] < held - 0.2  # a damped G1 off the gantry collapses


def test_safety_machine_stands_the_simulated_robot_on_the_gantry():
    # Closed loop without ROS: LowState sample -> machine -> MotorCommand -> sim, at 500 Hz of sim time.
    sim = G1LowLevelSim()
    m = SafetyMachine(PolicyMetadata("p"), SafetyConfig(ramp_s=0.6))
    t = 0.0
    for k in range(int(2.0 / 0.002)):
        o = sim.observe()
        m.on_lowstate(sample(t, q=o["q"], dq=o["dq"], quat=o["quat"], gyro=o["gyro"]))
        if k == 250:
            assert m.arm(t)[0]
        sim.apply(m.tick(t))
        sim.step_physics()
        t += 0.002
    o = sim.observe()
    assert m.state.value == "stand"
    assert np.abs(o["q"] - DEFAULT)[:12].max() < 0.15  # legs at the default pose (soft gains sag a little)
    assert o["root_pos_w"][2] > 0.72
