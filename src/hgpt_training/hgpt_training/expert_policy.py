"""The deployable PPO motion expert: ``expert.pt`` (:class:`ExpertPolicy`), its metadata, and the
evaluation adapter (:class:`ExpertAdapter`, :func:`load_expert`; ``expert:<file>`` in ``hgpt eval``).

``expert:`` is a simulator-only policy scheme: hgpt_training's pyproject.toml declares :func:`load_expert`
as the ``expert`` entry point of :data:`hgpt_sim.policy_adapters.ENTRY_POINT_GROUP`, so hgpt_sim builds
experts without importing hgpt_training (it sits below it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from hgpt_core.errors import HgptError
from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.obs import ObsInput, build_obs, terms_from_layout
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_sim.adapters import ActionHistory
from hgpt_training.ppo import ActorCritic

ACTION_CLIP = 10.0
"""Raw actions are clipped to +-10 before decoding, as TWIST2 does."""


def expert_metadata(obs_terms=None) -> PolicyMetadata:
    """TWIST2's gains/default pose/action scale (the student's), hgpt's single-frame observation."""
    from hgpt_policy.twist2 import twist2_metadata

    base = PolicyMetadata("expert", context_len=1, inference="single_frame")
    return dataclasses.replace(
        twist2_metadata(),
        policy_id="expert",
        obs_terms=obs_terms or base.obs_terms,
        context_len=1,
        inference="single_frame",
        arch={"kind": "ppo_expert_mlp"},
    )


class ExpertPolicy(ActionHistory):
    """Actor input and action decoding shared by training and :class:`ExpertAdapter` (identical obs).

    Actor input: hgpt's deployable observation (``meta.obs_terms``, with the executed raw action as
    ``last_action``, zeros after a reset) and, residual, the teacher's raw action. Raw action space:
    ``target = default + scale * a`` with the metadata's (TWIST2's) default and scale. :meth:`reset`
    is :class:`~hgpt_sim.adapters.HgptAdapter`'s (:class:`~hgpt_sim.adapters.ActionHistory`): the reset
    envs' last actions, then the teacher's history.
    """

    def __init__(self, meta: PolicyMetadata, teacher=None) -> None:
        a = meta.arrays()
        self.meta, self.teacher = meta, teacher
        self.default, self.scale = a["default_joint_pos"], a["action_scale"]
        self.terms = terms_from_layout(meta.obs_terms)
        self.obs_dim = sum(t.size for t in self.terms)
        self.actor_dim = self.obs_dim + (NUM_JOINTS if teacher is not None else 0)
        super().__init__(teacher)

    def observe(self, state, ref_next) -> tuple[np.ndarray, np.ndarray]:
        """(actor input (N, D) float32, base raw action (N, 29) float32: the teacher's, or zeros)."""
        n = state.joint_pos.shape[0]
        obs = build_obs(ObsInput.from_state(state, ref_next, self.last_actions(n), self.default), self.terms)
        if self.teacher is None:
            return obs.astype(np.float32), np.zeros((n, NUM_JOINTS), np.float32)
        base = (np.asarray(self.teacher.act(state, ref_next)) - self.default) / self.scale
        return np.concatenate([obs, base], 1).astype(np.float32), base.astype(np.float32)

    def executed(self, raw: np.ndarray) -> np.ndarray:
        """Record the executed raw action (clipped) and return its PD targets [rad]."""
        raw = np.clip(np.asarray(raw, dtype=np.float64), -ACTION_CLIP, ACTION_CLIP)
        self.last_action = raw
        return self.default + self.scale * raw


class ExpertAdapter:
    """A trained expert as a :class:`~hgpt_sim.adapters.TrackerAdapter` (deterministic: the action mean).

    Gains/dt are the student's (TWIST2's gains, 200 Hz position actuators): usable as a DAgger teacher.
    """

    control_dt = 0.02

    def __init__(self, model: ActorCritic, policy: ExpertPolicy, name: str) -> None:
        from hgpt_training.dagger import student_actuation

        self.model, self.policy, self.name = model.eval(), policy, name
        self.actuation = student_actuation(policy.meta)

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        self.policy.reset(env_ids)

    @torch.no_grad()
    def act(self, state, ref_next) -> np.ndarray:
        x, base = self.policy.observe(state, ref_next)
        raw = self.model.mean(torch.from_numpy(x), torch.from_numpy(base)).double().numpy()
        return self.policy.executed(raw)


def load_expert(path: str | Path, name: str | None = None) -> ExpertAdapter:
    """An ``expert.pt`` (written by training) as an adapter; its teacher from the spec it was trained on."""
    doc = torch.load(Path(path), map_location="cpu", weights_only=False)
    if doc.get("kind") != "hgpt_expert":
        raise HgptError(f"{path} is not an hgpt expert file (kind {doc.get('kind')!r})")
    meta = PolicyMetadata.from_json(doc["meta"])
    teacher = None
    if doc["mode"] == "residual":
        from hgpt_sim.policy_adapters import make_adapter

        teacher = make_adapter(doc["teacher"])
    policy = ExpertPolicy(meta, teacher)
    model = ActorCritic(**doc["arch"])
    model.load_state_dict(doc["model"])
    return ExpertAdapter(model, policy, name or f"expert-c{doc['cluster']}")
