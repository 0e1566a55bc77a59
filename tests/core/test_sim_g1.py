"""SimG1, the one simulated G1: its two configurations reproduce the two simulators it replaced.

The expected joint and pelvis values were computed by the classes it replaced (``hgpt_sim.sim_robot.SimRobot``
with a weld gantry and ``hgpt_g1.sim_robot.G1LowLevelSim`` with a spring gantry, before commit "one simulated
G1") for the same commands; the new class reproduced them bit for bit on the machine they were made on.
"""

import mujoco
import numpy as np
import pytest

from hgpt_core.g1 import KNEES_BENT_POSE, KNEES_BENT_ROOT_Z, G1Spec
from hgpt_core.sim_g1 import SimG1, SimG1Config

SPEC = G1Spec()
OFFSET = 0.2 * np.sin(np.arange(29))  # a target away from the knees-bent pose [rad]
IDX = [2, 7, 10, 13, 22, 30]  # pelvis z, left hip pitch, knee, ankle roll, waist pitch, right wrist pitch

# (settings, physics dt [s], steps) -> (pelvis z and joints IDX after tracking OFFSET, the same after damping)
EXPECTED = {
    "weld": (
        [
            0.7583459610675198,
            -0.27604547061818396,
            0.7020724311007386,
            -0.27627211285019604,
            0.17427374779241894,
            -0.36986684681544946,
        ],
        [
            0.7584319495917085,
            -0.29506792658508973,
            0.6498408147697005,
            -0.30062095999092797,
            -0.4037117831701444,
            0.2940957200537231,
        ],
    ),
    "spring": (
        [
            0.7382161461422435,
            -0.3424474372814131,
            0.8252693547543773,
            -0.36262742297876016,
            0.16919622526402758,
            -0.3778362537318436,
        ],
        [
            0.6935374680965459,
            -0.5340839824807039,
            1.1385986499537935,
            -0.5240848187515437,
            -0.4232059456711949,
            0.3042810151712896,
        ],
    ),
}


def make(gantry: str) -> SimG1:
    """The robot as each simulator starts it: on its gantry, at rest, knees bent."""
    if gantry == "weld":  # hgpt_sim's sim bridge: 5 ms physics, its own motor law
        sim = SimG1(SimG1Config(0.005, gantry="weld", motor_law="clip_apart"))
        mujoco.mj_resetData(sim.model, sim.data)
        sim.data.qpos[:3] = (0.0, 0.0, KNEES_BENT_ROOT_Z)
        sim.data.qpos[3:7] = (1.0, 0.0, 0.0, 0.0)
        sim.data.qpos[7:] = KNEES_BENT_POSE
    else:  # hgpt_g1's simulated G1: 2 ms physics, the real motor's law
        sim = SimG1(SimG1Config(0.002, gantry="spring", motor_law="clip_together"))
        mujoco.mj_resetDataKeyframe(sim.model, sim.data, sim.model.key("knees_bent").id)
        sim.data.qpos[2] = sim.sim_cfg.spring.height
        z = np.zeros(29)
        sim.drive(z, z, z, z)
    mujoco.mj_forward(sim.model, sim.data)
    sim.hold(True)
    return sim


@pytest.mark.parametrize("gantry", ["weld", "spring"])
@pytest.mark.parametrize("damped", [False, True])
def test_both_settings_reproduce_the_simulators_they_replaced(gantry: str, damped: bool) -> None:
    sim = make(gantry)
    z0 = sim.observe()["root_pos_w"][2]
    kp = np.zeros(29) if damped else SPEC.kp
    sim.drive(SPEC.default_joint_pos + (0.0 if damped else OFFSET), kp, SPEC.kd, np.zeros(29))
    sim.step_physics(round(4.0 / sim.sim_cfg.physics_dt))  # 4 s
    np.testing.assert_allclose(sim.data.qpos[IDX], EXPECTED[gantry][damped], rtol=0, atol=1e-9)
    drop = z0 - sim.observe()["root_pos_w"][2]
    if damped:  # legs limp: the weld holds the pelvis, the spring lets it sag like a G1 on a rope
        assert (drop < 0.005) if gantry == "weld" else (0.04 < drop < 0.12), drop


@pytest.mark.parametrize("law", ["clip_apart", "clip_together"])
def test_motor_law_says_where_the_feed_forward_is_clipped(law: str) -> None:
    sim = SimG1(SimG1Config(0.002, gantry="spring", motor_law=law))
    sim.drive(np.full(29, 3.0), np.full(29, 500.0), SPEC.kd, 0.6 * sim.effort)  # saturating PD + 0.6 limit
    sim.step_physics()
    total = sim.data.actuator_force[sim.act] + sim.data.qfrc_applied[sim.dadr]
    if law == "clip_together":  # the real motor: the whole torque within the limit
        assert (np.abs(total) <= sim.effort + 1e-9).all() and not sim.data.qfrc_applied.any()
    else:  # the sim bridge: PD and feed-forward each within the limit, their sum up to 1.6 x
        np.testing.assert_array_equal(sim.data.qfrc_applied[sim.dadr], 0.6 * sim.effort)
        assert (np.abs(total) > 1.5 * sim.effort).any()


def test_gantry_switches_and_bad_settings_are_refused() -> None:
    for kind in ("weld", "spring"):
        sim = make(kind)
        assert sim.gantry and sim.on_gantry
        z = np.zeros(29)
        sim.drive(z, z, z, z)  # motors off
        sim.step_physics(round(0.5 / sim.sim_cfg.physics_dt))
        assert sim.observe()["root_pos_w"][2] > 0.6  # hanging
        sim.release_gantry()
        assert not sim.gantry
        sim.step_physics(round(1.0 / sim.sim_cfg.physics_dt))  # off the gantry: it falls
        assert sim.observe()["root_pos_w"][2] < 0.5
    with pytest.raises(ValueError, match="gantry"):
        SimG1(SimG1Config(0.002, gantry="rope", motor_law="clip_apart"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="motor_law"):
        SimG1(SimG1Config(0.002, gantry="weld", motor_law="ideal"))  # type: ignore[arg-type]
