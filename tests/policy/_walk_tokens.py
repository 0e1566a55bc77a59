"""Real tokens for policy tests: the LAFAN1 walk clip, as if the robot tracked it perfectly."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from hgpt_core.formats import load_clip
from hgpt_core.g1 import G1Spec
from hgpt_core.obs import DEPLOY_OBS_TERMS, ObsInput, build_obs
from hgpt_core.reference import ReferenceMotion

WALK = "motions/g1/lafan1/walk1_subject1.csv"


@functools.lru_cache(maxsize=2)
def walk_tokens(shared_data: Path) -> np.ndarray:
    """Deployable tokens (T, 161) at 50 Hz: state = reference frame t, reference = frame t + 1,
    last action = the action that would have commanded frame t (action scale 0.25)."""
    clip = load_clip(shared_data / WALK, fps=30).slice(0, 1800)  # the first minute: ~3000 tokens
    ref = ReferenceMotion.from_clip(clip)
    default = G1Spec().default_joint_pos
    now, nxt = ref.select(slice(0, -1)), ref.select(slice(1, None))
    inp = ObsInput.from_state(now.as_robot_state(), nxt, (now.joint_pos - default) / 0.25, default)
    tokens = build_obs(inp, DEPLOY_OBS_TERMS)
    assert np.isfinite(tokens).all()
    return tokens


def episodes(shared_data: Path, batch: int, length: int, stride: int = 997) -> np.ndarray:
    """``batch`` episodes of ``length`` tokens cut from the clip at different offsets. Shape: (B, T, 161)."""
    tok = walk_tokens(shared_data)
    starts = [(i * stride) % (len(tok) - length) for i in range(batch)]
    return np.stack([tok[s : s + length] for s in starts])
