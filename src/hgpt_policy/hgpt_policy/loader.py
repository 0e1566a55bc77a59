"""Load a tracking policy from a spec (:mod:`hgpt_core.policy_spec`): built-in, bundled, TWIST2, or a file."""

from __future__ import annotations

import numpy as np

from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.obs import ObsInput
from hgpt_core.policy_spec import BUILTIN_METADATA, BUNDLED, hold_default_metadata, parse_policy_spec
from hgpt_policy.controller import TokenPolicy


class HoldDefaultPolicy:
    """Baseline that always commands the default pose (action 0): stands, does not track."""

    def __init__(self) -> None:
        self.meta = hold_default_metadata()

    def act(self, inp: ObsInput) -> np.ndarray:
        return np.zeros(np.shape(inp.joint_pos)[:-1] + (NUM_JOINTS,))

    def reset(self) -> None:
        pass


BUILTIN = {name: HoldDefaultPolicy for name in BUILTIN_METADATA}
"""Built-in policies by spec name (their metadata: :data:`hgpt_core.policy_spec.BUILTIN_METADATA`)."""


def load_tracking_policy(spec: str, backend: str | None = None, threads: int = 1):
    """The policy ``spec`` names (:mod:`hgpt_core.policy_spec`, the grammar the G1 bridge reads too).

    ``hgpt`` (the bundled Humanoid-GPT), ``zero`` / ``hold_default`` (hold the default pose), ``twist2`` /
    ``twist2:<file.onnx>`` (the peer's released tracker), or a path to an exported hgpt policy (``.onnx`` /
    ``.pt`` checkpoint). Artifacts are checked against the robot by :class:`hgpt_policy.runtime.Policy`
    (refuses on mismatch).

    Raises:
        ValueError: unknown spec, missing file, or a metadata-only spec (.json, JSON text).
        FileNotFoundError: ``hgpt`` with nothing bundled; ``twist2`` without its graph.
    """
    ps = parse_policy_spec(spec)
    if ps.kind == "builtin":
        return BUILTIN[ps.text]()
    if ps.kind == "twist2":
        from hgpt_policy.twist2 import Twist2Policy

        return Twist2Policy(ps.path, intra_op_threads=threads)
    if not ps.runnable or ps.path is None:
        raise ValueError(
            f"policy '{ps.text}': metadata only ({ps.kind}), not a runnable policy; valid: {BUNDLED}, "
            f"{sorted(BUILTIN)}, twist2[:file.onnx], or an existing .onnx/.pt file"
        )
    from hgpt_policy.runtime import Policy

    backend = backend or ("torch" if ps.kind == "pt" else "onnxruntime")
    runtime = Policy.load(ps.path, backend=backend, threads=threads)
    return TokenPolicy(runtime, runtime.meta)
