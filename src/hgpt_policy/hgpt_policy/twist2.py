"""The peer TWIST2 general tracker (MIT, ONNX) as an hgpt tracking policy: ``act(ObsInput)``.

Layout (../shared/peers/twist2/LAYOUT.md, from TWIST2 ``deploy_real/server_low_level_g1_sim.py``):
``obs(1432) = [cur(127) | hist(10 x 127, oldest first, excluding cur, zero-initialised) | mimic(35)]``,
``cur = [mimic(35), proprio(92)]``. Action ``target = clip(a, -10, 10) * 0.5 + default``, with its own kp/kd.
Used by policy_node (any policy through the same safety controller) and by the simulator's adapter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.obs import ObsInput
from hgpt_core.policy_spec import twist2_default_onnx, twist2_file_metadata
from hgpt_core.rotations import quat_apply_inv, roll_pitch
from hgpt_core.twist2_meta import (  # noqa: F401 - the layout, re-exported for the policy's users
    ACTION_SCALE,
    CUR_DIM,
    HISTORY,
    MIMIC_DIM,
    OBS_DIM,
    ONNX_NAME,
    PROPRIO_DIM,
    TWIST2_DEFAULT_POSE,
    TWIST2_KD,
    TWIST2_KP,
    twist2_metadata,
)

default_onnx = twist2_default_onnx
DEFAULT_ONNX = default_onnx()
ANKLE_IDX = np.array([4, 5, 10, 11])  # their dq observation zeroes the ankles
ANG_VEL_SCALE, DOF_VEL_SCALE, ACTION_CLIP = 0.25, 0.05, 10.0


def mimic_from_arrays(root_pos_w, root_quat, root_lin_vel_w, root_ang_vel_w, joint_pos) -> np.ndarray:
    """TWIST2 ``build_mimic_obs``: root vel xy (root frame) | z | roll, pitch | yaw rate | 29 q."""
    lin_b = quat_apply_inv(root_quat, root_lin_vel_w)  # full root frame, not heading-only
    ang_b = quat_apply_inv(root_quat, root_ang_vel_w)
    return np.concatenate(
        (lin_b[..., :2], root_pos_w[..., 2:3], roll_pitch(root_quat), ang_b[..., 2:3], joint_pos), axis=-1
    )


def proprio_obs(inp: ObsInput, last_action: np.ndarray) -> np.ndarray:
    """TWIST2 proprioception from the shared :class:`ObsInput`. Shape: (N, 92)."""
    dq = inp.joint_vel * DOF_VEL_SCALE
    dq[..., ANKLE_IDX] = 0.0
    return np.concatenate(
        (
            inp.base_ang_vel_b * ANG_VEL_SCALE,
            roll_pitch(inp.base_quat),
            inp.joint_pos - TWIST2_DEFAULT_POSE,
            dq,
            last_action,
        ),
        axis=-1,
    )


class Twist2Policy:
    """TWIST2 as a tracking policy for any caller (policy_node, the simulator): ``act(ObsInput)``.

    Returns the clipped action; PD target = default + 0.5 * action (see :func:`twist2_metadata`). The
    proprioception feeds back the raw network output, before the clip, as TWIST2 does.

    Args:
        onnx_path: The released ONNX file (default: the shared peers folder).
        intra_op_threads: onnxruntime threads (1 is fastest at small batch).
    """

    def __init__(self, onnx_path: str | Path | None = None, intra_op_threads: int = 1) -> None:
        import onnxruntime as ort

        path = Path(onnx_path) if onnx_path else default_onnx()
        if not path.is_file():
            raise FileNotFoundError(f"TWIST2 ONNX not found at {path} (see ../shared/peers/twist2/)")
        self.meta = twist2_file_metadata(path)  # the file's own metadata (gains) when it carries one
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        if inp.shape[-1] != OBS_DIM:
            raise ValueError(f"{path}: input width {inp.shape[-1]}, TWIST2 layout needs {OBS_DIM}")
        self.input_name = inp.name
        self.history: np.ndarray | None = None  # (N, 10, 127), oldest first
        self.last_action: np.ndarray | None = None  # raw network output, before clip

    def _ensure(self, n: int) -> None:
        if self.history is None or self.history.shape[0] != n:
            self.history = np.zeros((n, HISTORY, CUR_DIM))
            self.last_action = np.zeros((n, NUM_JOINTS))

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        if self.history is None:
            return
        assert self.last_action is not None  # allocated together with the history
        sel = slice(None) if env_ids is None else env_ids
        self.history[sel] = 0.0
        self.last_action[sel] = 0.0

    def build_obs(self, inp: ObsInput) -> np.ndarray:
        """The 1432-wide observation; advances the history. Shape: (N, 1432)."""
        batched = np.ndim(inp.joint_pos) == 2
        n = inp.joint_pos.shape[0] if batched else 1
        self._ensure(n)
        assert self.history is not None and self.last_action is not None  # _ensure allocated them
        mimic = mimic_from_arrays(
            inp.ref_root_pos_w,
            inp.ref_root_quat,
            inp.ref_root_lin_vel_w,
            inp.ref_root_ang_vel_w,
            inp.ref_joint_pos,
        ).reshape(n, MIMIC_DIM)
        cur = np.concatenate(
            (
                mimic,
                proprio_obs(inp, self.last_action.reshape(np.shape(inp.joint_pos))).reshape(n, PROPRIO_DIM),
            ),
            axis=-1,
        )
        obs = np.concatenate((cur, self.history.reshape(n, -1), mimic), axis=-1)
        self.history = np.concatenate((self.history[:, 1:], cur[:, None]), axis=1)
        return obs.astype(np.float32)

    def act(self, inp: ObsInput) -> np.ndarray:
        """Clipped action, (N, 29) or (29,) like ``inp.joint_pos``."""
        raw = self.session.run(None, {self.input_name: self.build_obs(inp)})[0].astype(np.float64)
        self.last_action = raw
        return np.clip(raw, -ACTION_CLIP, ACTION_CLIP).reshape(np.shape(inp.joint_pos))
