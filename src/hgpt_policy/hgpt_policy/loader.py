"""Load a tracking policy from a spec string: a built-in name or an exported artifact path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.obs import ObsInput
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_policy.controller import TokenPolicy


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
BUNDLED_DIR = Path(__file__).resolve().parent / "assets" / "hgpt_gpt_s"
"""The released Humanoid-GPT (``hgpt``): one ONNX graph + its card (``hgpt train release --bundle``)."""
BUNDLED = "hgpt"


def bundled_policy() -> Path:
    """Path of the bundled Humanoid-GPT graph (the spec ``hgpt``); FileNotFoundError when none is bundled."""
    files = sorted(BUNDLED_DIR.glob("*.onnx"))
    if len(files) != 1:
        raise FileNotFoundError(
            f"no single bundled Humanoid-GPT in {BUNDLED_DIR} ({len(files)} .onnx files); "
            "make one with `hgpt train distill` then `hgpt train release --bundle`"
        )
    return files[0]


def resolve_spec(spec: str) -> str:
    """``hgpt`` -> the bundled graph's path; any other spec unchanged."""
    return str(bundled_policy()) if spec == BUNDLED else spec


def load_tracking_policy(spec: str, backend: str | None = None, threads: int = 1):
    """``hgpt`` (the bundled Humanoid-GPT), ``zero`` (hold the default pose), ``twist2`` /
    ``twist2:<file.onnx>`` (the peer's released tracker), or a path to an exported hgpt policy (``.onnx`` /
    ``.pt`` checkpoint).

    Artifacts are checked against the robot by :class:`hgpt_policy.runtime.Policy` (refuses on mismatch).
    """
    spec = resolve_spec(spec)
    if spec in BUILTIN:
        return BUILTIN[spec]()
    if spec == "twist2" or spec.startswith("twist2:"):
        from hgpt_policy.twist2 import Twist2Policy

        return Twist2Policy(spec.split(":", 1)[1] if ":" in spec else None, intra_op_threads=threads)
    path = Path(spec)
    if path.suffix in (".onnx", ".pt") and not path.is_file():
        raise ValueError(f"{spec}: no such policy file")
    if path.suffix not in (".onnx", ".pt") or not path.is_file():
        raise ValueError(
            f"unknown policy '{spec}'; valid: {BUNDLED}, {sorted(BUILTIN)}, twist2[:file.onnx], "
            "or an existing .onnx/.pt file"
        )
    from hgpt_policy.runtime import Policy

    backend = backend or ("torch" if path.suffix == ".pt" else "onnxruntime")
    runtime = Policy.load(path, backend=backend, threads=threads)
    return TokenPolicy(runtime, runtime.meta)
