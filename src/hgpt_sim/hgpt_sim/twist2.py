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

from hgpt_core.g1 import NUM_JOINTS, G1Spec
from hgpt_core.rotations import quat_apply_inv, roll_pitch
from hgpt_sim.backend import PhysicsState
from hgpt_sim.model import Actuation
from hgpt_sim.references import RefFrame

DEFAULT_ONNX = Path("/work/shared/peers/twist2/twist2_1017_20k.onnx")
MIMIC_DIM, PROPRIO_DIM, HISTORY = 35, 92, 10
CUR_DIM = MIMIC_DIM + PROPRIO_DIM
OBS_DIM = CUR_DIM * (HISTORY + 1) + MIMIC_DIM
assert OBS_DIM == 1432
ANKLE_IDX = np.array([4, 5, 10, 11])  # their dq observation zeroes the ankles
ANG_VEL_SCALE, DOF_VEL_SCALE, ACTION_CLIP, ACTION_SCALE = 0.25, 0.05, 10.0, 0.5

_LEG = [-0.2, 0.0, 0.0, 0.4, -0.2, 0.0]
TWIST2_DEFAULT_POSE = np.array(
    _LEG + _LEG + [0.0] * 3 + [0.0, 0.4, 0.0, 1.2, 0.0, 0.0, 0.0] + [0.0, -0.4, 0.0, 1.2, 0.0, 0.0, 0.0]
)
_LEG_KP, _LEG_KD = [100, 100, 100, 150, 40, 40], [2, 2, 2, 4, 2, 2]
_ARM_KP, _ARM_KD = [40, 40, 40, 40, 4, 4, 4], [5, 5, 5, 5, 0.2, 0.2, 0.2]
TWIST2_KP = np.array(_LEG_KP * 2 + [150] * 3 + _ARM_KP * 2, dtype=np.float64)
TWIST2_KD = np.array(_LEG_KD * 2 + [4] * 3 + _ARM_KD * 2, dtype=np.float64)


def twist2_actuation(physics_dt: float = 0.001, integrator: str = "euler", pd: str = "actuator") -> Actuation:
    """TWIST2's PD: its kp/kd, torque clip +-kp then the MJCF range (= min of both), 1 ms physics."""
    limit = np.minimum(TWIST2_KP, G1Spec().effort_limit)
    return Actuation(TWIST2_KP, TWIST2_KD, limit, physics_dt=physics_dt, integrator=integrator, pd=pd)


def mimic_obs(ref: RefFrame) -> np.ndarray:
    """TWIST2 ``build_mimic_obs`` (non-masked) of the reference frame. Shape: (N, 35)."""
    lin_b = quat_apply_inv(ref.root_quat, ref.root_lin_vel_w)  # full root frame, not heading-only
    ang_b = quat_apply_inv(ref.root_quat, ref.root_ang_vel_w)
    return np.concatenate(
        (lin_b[:, :2], ref.root_pos_w[:, 2:3], roll_pitch(ref.root_quat), ang_b[:, 2:3], ref.joint_pos),
        axis=-1,
    )


def proprio_obs(state: PhysicsState, last_action: np.ndarray) -> np.ndarray:
    """TWIST2 proprioception. Shape: (N, 92)."""
    dq = state.joint_vel * DOF_VEL_SCALE
    dq[:, ANKLE_IDX] = 0.0
    return np.concatenate(
        (
            state.root_ang_vel_b * ANG_VEL_SCALE,
            roll_pitch(state.root_quat),
            state.joint_pos - TWIST2_DEFAULT_POSE,
            dq,
            last_action,
        ),
        axis=-1,
    )


class Twist2Adapter:
    """TWIST2 ``twist2_1017_20k.onnx`` as a :class:`~hgpt_sim.adapters.TrackerAdapter`.

    Args:
        onnx_path: The released ONNX file.
        actuation: Override its PD implementation (default: :func:`twist2_actuation`).
        intra_op_threads: onnxruntime threads (1 is fastest at small batch).
    """

    name = "twist2"
    control_dt = 0.02

    def __init__(
        self,
        onnx_path: str | Path = DEFAULT_ONNX,
        actuation: Actuation | None = None,
        intra_op_threads: int = 1,
    ) -> None:
        import onnxruntime as ort

        path = Path(onnx_path)
        if not path.is_file():
            raise FileNotFoundError(f"TWIST2 ONNX not found at {path} (see /work/shared/peers/twist2/)")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        if inp.shape[-1] != OBS_DIM:
            raise ValueError(f"{path}: input width {inp.shape[-1]}, TWIST2 layout needs {OBS_DIM}")
        self.input_name = inp.name
        self.actuation = actuation or twist2_actuation()
        self.history: np.ndarray | None = None  # (N, 10, 127), oldest first
        self.last_action: np.ndarray | None = None  # raw network output, before clip

    def _ensure(self, n: int) -> None:
        if self.history is None or self.history.shape[0] != n:
            self.history = np.zeros((n, HISTORY, CUR_DIM))
            self.last_action = np.zeros((n, NUM_JOINTS))

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        if self.history is None:
            return
        sel = slice(None) if env_ids is None else env_ids
        self.history[sel] = 0.0
        self.last_action[sel] = 0.0

    def build_obs(self, state: PhysicsState, ref_next: RefFrame) -> np.ndarray:
        """The 1432-wide observation; advances the history. Shape: (N, 1432)."""
        n = state.qpos.shape[0]
        self._ensure(n)
        mimic = mimic_obs(ref_next)
        cur = np.concatenate((mimic, proprio_obs(state, self.last_action)), axis=-1)
        obs = np.concatenate((cur, self.history.reshape(n, -1), mimic), axis=-1)
        self.history = np.concatenate((self.history[:, 1:], cur[:, None]), axis=1)
        return obs.astype(np.float32)

    def act(self, state: PhysicsState, ref_next: RefFrame) -> np.ndarray:
        obs = self.build_obs(state, ref_next)
        raw = self.session.run(None, {self.input_name: obs})[0].astype(np.float64)
        self.last_action = raw
        return np.clip(raw, -ACTION_CLIP, ACTION_CLIP) * ACTION_SCALE + TWIST2_DEFAULT_POSE
