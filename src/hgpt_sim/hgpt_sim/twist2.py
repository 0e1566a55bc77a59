"""Adapter for the peer TWIST2 general tracker (ONNX), reproducing its sim2sim loop exactly.

Layout (/work/shared/peers/twist2/LAYOUT.md, from TWIST2 ``deploy_real/server_low_level_g1_sim.py``):
``obs(1432) = [cur(127) | hist(10 x 127, oldest first, excluding cur, zero-initialised) | mimic(35)]``,
``cur = [mimic(35), proprio(92)]``. Action ``target = clip(a, -10, 10) * 0.5 + default``. PD torque every
1 ms, clipped to +-kp and to the MJCF torque range; here: position actuators with its kp/kd, torque limit
``min(kp, effort)`` and the Euler integrator (explicit actuator damping), which equals that torque loop
(tests/sim/test_twist2.py checks it against ``Actuation(pd="python")``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hgpt_core.g1 import G1Spec
from hgpt_core.obs import ObsInput
from hgpt_core.state import ReferenceFrame, RobotState
from hgpt_policy.twist2 import (
    ACTION_SCALE,
    DEFAULT_ONNX,
    TWIST2_DEFAULT_POSE,
    TWIST2_KD,
    TWIST2_KP,
    Twist2Policy,
    mimic_from_arrays,
)
from hgpt_sim.model import Actuation

__all__ = ["DEFAULT_ONNX", "Twist2Adapter", "mimic_obs", "twist2_actuation"]


def twist2_actuation(physics_dt: float = 0.001, integrator: str = "euler", pd: str = "actuator") -> Actuation:
    """TWIST2's PD: its kp/kd, torque clip +-kp then the MJCF range (= min of both), 1 ms physics."""
    limit = np.minimum(TWIST2_KP, G1Spec().effort_limit)
    return Actuation(TWIST2_KP, TWIST2_KD, limit, physics_dt=physics_dt, integrator=integrator, pd=pd)


def mimic_obs(ref: ReferenceFrame) -> np.ndarray:
    """TWIST2 ``build_mimic_obs`` (non-masked) of the reference frame. Shape: (N, 35)."""
    return mimic_from_arrays(
        ref.root_pos_w, ref.root_quat_w, ref.root_lin_vel_w, ref.root_ang_vel_w, ref.joint_pos
    )


class Twist2Adapter:
    """TWIST2 as a :class:`~hgpt_sim.adapters.TrackerAdapter`: :class:`Twist2Policy` + its actuation.

    Args:
        onnx_path: The released ONNX file.
        actuation: Override its PD implementation (default: :func:`twist2_actuation`).
        intra_op_threads: onnxruntime threads (1 is fastest at small batch).
    """

    name = "twist2"
    control_dt = 0.02

    def __init__(
        self,
        onnx_path: str | Path | None = None,
        actuation: Actuation | None = None,
        intra_op_threads: int = 1,
    ) -> None:
        self.policy = Twist2Policy(onnx_path, intra_op_threads)
        self.actuation = actuation or twist2_actuation()

    @property
    def session(self):
        return self.policy.session

    @session.setter
    def session(self, value) -> None:
        self.policy.session = value

    @property
    def last_action(self) -> np.ndarray | None:
        return self.policy.last_action

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        self.policy.reset(env_ids)

    def _inp(self, state: RobotState, ref_next: ReferenceFrame) -> ObsInput:
        zeros = np.zeros_like(state.joint_pos)  # TWIST2 feeds back its own raw action, kept in the policy
        return ObsInput.from_state(state, ref_next, zeros, TWIST2_DEFAULT_POSE)

    def build_obs(self, state: RobotState, ref_next: ReferenceFrame) -> np.ndarray:
        """The 1432-wide observation; advances the history. Shape: (N, 1432)."""
        return self.policy.build_obs(self._inp(state, ref_next))

    def act(self, state: RobotState, ref_next: ReferenceFrame) -> np.ndarray:
        return self.policy.act(self._inp(state, ref_next)) * ACTION_SCALE + TWIST2_DEFAULT_POSE
