"""Batched G1 motion-tracking environment (no ROS): N envs, reference playback, keypoint reward, fall rule.

Control at ``control_dt`` (50 Hz); physics in a :class:`~hgpt_sim.backend.Backend` (default: CPU
``mujoco.rollout``). Torch tensors at the API boundary, numpy float64 inside. Observations are built by
``hgpt_core.obs.build_obs`` from the policy's metadata layout (deployable) and
``privileged_obs_terms(K)`` (critic). Envs that end (fall or time-out) are reset automatically unless
``auto_reset=False`` (evaluation stops scoring at the fall). With ``terminal_obs=True`` a step also returns
the observation each env ended in before its auto-reset (``StepResult.final_obs``/``final_priv_obs``): RL
bootstraps the value of a time-out (``truncated``) from it, never of a fall (``terminated``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.obs import ObsInput, build_obs, privileged_obs_terms, terms_from_layout
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.state import ROOT_QPOS, ReferenceFrame
from hgpt_sim.backend import Backend, PhysicsState, RolloutBackend
from hgpt_sim.model import Actuation
from hgpt_sim.randomization import DRConfig, PushSchedule, sample_model_params
from hgpt_sim.references import MotionBank
from hgpt_sim.rewards import FallConfig, FallDetector, RewardConfig, keypoint_weights, tracking_reward


@dataclass(frozen=True)
class EnvConfig:
    """Tracking environment settings."""

    num_envs: int = 64
    nthread: int = 2
    """Threads stepping physics (rollout pool)."""
    control_dt: float = 0.02
    episode_frames: tuple[int, int] = (600, 1200)
    """Episode length range [control steps], drawn uniformly per episode (paper: 600-1200)."""
    random_start: bool = True
    """Reference state initialisation at a uniformly random frame (else frame 0)."""
    init_joint_noise: float = 0.0
    """Uniform noise [rad] added to the initial joint angles (0: start exactly on the reference)."""
    seed: int = 0
    auto_reset: bool = True
    privileged_obs: bool = True
    compute_obs: bool = True
    """Build observations in ``step`` (off for adapters that build their own: obs is then (N, 0))."""
    terminal_obs: bool = False
    """Also return the observation each env ended its step in, before an auto-reset (``final_obs``)."""
    device: str = "cpu"
    reward: RewardConfig = field(default_factory=RewardConfig)
    fall: FallConfig = field(default_factory=FallConfig)
    dr: DRConfig = field(default_factory=DRConfig)


@dataclass
class StepResult:
    """One control step of N envs (torch). ``obs`` is the next observation (after auto-resets).

    Shapes: obs (N, D), priv_obs (N, Dp) or None, reward (N,), terminated/truncated (N,) bool,
    terms: each (N,); info: floats and per-reason termination counts for logging.
    """

    obs: torch.Tensor
    priv_obs: torch.Tensor | None
    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    terms: dict[str, torch.Tensor]
    info: dict[str, float]
    final_obs: torch.Tensor | None = None
    """With ``EnvConfig.terminal_obs``: ``obs``, except that envs which ended this step (and were
    auto-reset) hold the observation of the state they ended in. None otherwise."""
    final_priv_obs: torch.Tensor | None = None
    """The same for ``priv_obs``."""


class TrackingEnv:
    """N G1 robots tracking reference clips.

    Args:
        cfg: Settings.
        motions: Reference clips.
        meta: The trained policy's metadata (default pose, action scale, gains, obs layout).
        actuation: Overrides the PD gains/time step derived from ``meta``.
        backend: Physics backend (default: :class:`RolloutBackend` sized for ``cfg``).
    """

    def __init__(
        self,
        cfg: EnvConfig,
        motions: MotionBank,
        meta: PolicyMetadata | None = None,
        actuation: Actuation | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.cfg, self.motions = cfg, motions
        self.meta = meta or PolicyMetadata("env_default", context_len=1, inference="single_frame")
        if abs(self.meta.control_dt - cfg.control_dt) > 1e-9:
            raise ValueError(
                f"policy control_dt {self.meta.control_dt} s != env control_dt {cfg.control_dt} s"
            )
        a = self.meta.arrays()
        self.default_pose, self.action_scale = a["default_joint_pos"], a["action_scale"]
        self.actuation = actuation or Actuation.from_gains(a["kp"], a["kd"])
        self.decimation = self.actuation.decimation(cfg.control_dt)
        n = cfg.num_envs
        self.backend = backend or RolloutBackend(
            n,
            cfg.nthread,
            per_env_models=cfg.dr.needs_model_copies,
            terrain=cfg.dr.terrain_spec if cfg.dr.terrain else None,
            body_names=motions.keypoint_names,
        )
        assert self.backend.num_envs == n and self.backend.body_names == motions.keypoint_names
        self.backend.configure(self.actuation)
        self.rng = np.random.default_rng(cfg.seed)
        self.obs_terms = terms_from_layout(self.meta.obs_terms)
        self.priv_terms = privileged_obs_terms(len(motions.keypoint_names))
        self._obs_is_priv_prefix = self.priv_terms[: len(self.obs_terms)] == self.obs_terms
        self.weights = keypoint_weights(motions.keypoint_names, cfg.reward)
        self.fall = FallDetector(motions.keypoint_names, cfg.fall)
        self.pushes = PushSchedule(n, cfg.dr, cfg.control_dt)
        self.clip_weights: np.ndarray | None = None  # sampling weights over clips (e.g. HME balance)
        self.clip_ids = np.zeros(n, dtype=np.int64)
        self.frames = np.zeros(n, dtype=np.int64)
        self.ep_step = np.zeros(n, dtype=np.int64)
        self.ep_len = np.zeros(n, dtype=np.int64)
        self.ep_return = np.zeros(n)
        self.time_s = np.zeros(n)
        self.last_action = np.zeros((n, NUM_JOINTS))
        self.prev_targets = np.zeros((n, NUM_JOINTS))
        self.jitter = np.zeros((n, NUM_JOINTS))
        self._refs: dict[int, ReferenceFrame] = {}  # reference frames by offset, valid until frames change
        self.state: PhysicsState = self.backend.read()
        self.reset()

    @property
    def num_envs(self) -> int:
        return self.cfg.num_envs

    # ---- episodes ----------------------------------------------------------------------------------

    def reset(
        self,
        env_ids: np.ndarray | None = None,
        clip_ids: np.ndarray | None = None,
        start_frames: np.ndarray | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Start new episodes for ``env_ids`` (default all); returns (obs, priv_obs) of all envs."""
        self._reset(
            np.arange(self.num_envs) if env_ids is None else np.asarray(env_ids), clip_ids, start_frames
        )
        return self.observe()

    def _reset(self, ids: np.ndarray, clip_ids=None, start_frames=None) -> None:
        n, rng, cfg = len(ids), self.rng, self.cfg
        if n == 0:
            return
        if clip_ids is None:
            clip_ids = rng.choice(self.motions.num_clips, size=n, p=self.clip_weights)
        clip_ids = np.broadcast_to(np.asarray(clip_ids, dtype=np.int64), (n,))
        lengths = self.motions.lengths[clip_ids]
        if start_frames is None:
            hi = np.maximum(lengths - 2, 1)
            start_frames = rng.integers(0, hi) if cfg.random_start else np.zeros(n, dtype=np.int64)
        self.clip_ids[ids] = clip_ids
        self.frames[ids] = start_frames
        self._refs.clear()
        self.ep_len[ids] = rng.integers(cfg.episode_frames[0], cfg.episode_frames[1] + 1, n)
        self.ep_step[ids] = 0
        self.ep_return[ids] = 0.0
        self.time_s[ids] = 0.0
        ref = self.motions.frame(self.clip_ids[ids], self.frames[ids])
        dr = cfg.dr
        if dr.needs_model_copies:
            self.backend.set_model_params(ids, sample_model_params(rng, n, dr, ref.root_pos_w))
        if dr.default_jitter:
            self.jitter[ids] = rng.uniform(*dr.default_jitter_range, (n, NUM_JOINTS))
        self.pushes.reset(rng, ids, self.time_s[ids])
        qpos = ref.qpos()
        if cfg.init_joint_noise > 0:
            qpos[:, ROOT_QPOS:] += rng.uniform(-cfg.init_joint_noise, cfg.init_joint_noise, (n, NUM_JOINTS))
        self.backend.set_state(ids, qpos, ref.qvel())
        self.last_action[ids] = (ref.joint_pos - self.default_pose) / self.action_scale
        self.prev_targets[ids] = ref.joint_pos
        self.state.assign(ids, self.backend.read(ids))

    # ---- stepping ----------------------------------------------------------------------------------

    def step(self, action: torch.Tensor) -> StepResult:
        """Raw policy actions (N, 29) -> PD targets ``default + action_scale * action``, one control step."""
        a = action.detach().to("cpu", torch.float64).numpy().copy()  # never alias the caller's memory
        return self._step(self.default_pose + self.action_scale * a, a)

    def step_targets(self, targets: np.ndarray | torch.Tensor) -> StepResult:
        """PD targets [rad] (N, 29) from an adapter that decodes its own actions; one control step."""
        t = torch.as_tensor(targets).detach().to("cpu", torch.float64).numpy().copy()
        return self._step(t, (t - self.default_pose) / self.action_scale)

    def _step(self, targets: np.ndarray, raw: np.ndarray) -> StepResult:
        cfg = self.cfg
        if cfg.dr.push:
            ids, dv = self.pushes.due(self.rng, self.time_s)
            if len(ids):
                qvel = self.state.qvel()[ids]
                qvel[:, :3] += dv
                self.backend.set_state(ids, self.state.qpos()[ids], qvel)
        self.backend.step(targets + self.jitter, self.decimation)
        self.frames += 1
        self._refs.clear()
        self.ep_step += 1
        self.time_s += cfg.control_dt
        self.state = self.backend.read()
        ref = self.reference()
        terms = tracking_reward(
            self.state, ref, targets, self.prev_targets, self.weights, cfg.reward, self.decimation
        )
        fall = self.fall(self.state, ref)
        fall["nan"] |= self.state.diverged
        terminated = fall["any"] | self.state.diverged
        clip_end = self.frames >= self.motions.lengths[self.clip_ids] - 1
        truncated = ((self.ep_step >= self.ep_len) | clip_end) & ~terminated
        self.ep_return += terms["total"]
        self.prev_targets = targets
        self.last_action = raw
        info = self._log(terms, fall, terminated, truncated)
        done = np.flatnonzero(terminated | truncated)
        want_final = cfg.terminal_obs and cfg.compute_obs
        final = self.observe() if want_final and cfg.auto_reset and len(done) else None
        if cfg.auto_reset and len(done):
            self._reset(done)
        if cfg.compute_obs:
            obs, priv = self.observe()
        else:
            obs, priv = torch.zeros((self.num_envs, 0), device=cfg.device), None
        final_obs, final_priv = (obs, priv) if want_final else (None, None)
        if final is not None:
            final_obs = obs.clone()
            final_obs[done] = final[0][done]
            if priv is not None:
                final_priv = priv.clone()
                final_priv[done] = final[1][done]
        t = self._torch
        return StepResult(
            obs=obs,
            priv_obs=priv,
            reward=t(terms["total"]).float(),
            terminated=t(terminated),
            truncated=t(truncated),
            terms={k: t(v).float() for k, v in terms.items()},
            info=info,
            final_obs=final_obs,
            final_priv_obs=final_priv,
        )

    def _log(self, terms, fall, terminated, truncated) -> dict[str, float]:
        info = {f"reward/{k}": float(np.mean(v)) for k, v in terms.items()}
        done = terminated | truncated
        info["episodes_done"] = float(done.sum())
        for k in ("anchor_height", "tilt", "ee_height", "nan", "joint_limit"):
            info[f"termination/{k}"] = float((fall[k] & terminated).sum())
        info["termination/time_out"] = float(truncated.sum())
        if done.any():
            info["episode/return_mean"] = float(self.ep_return[done].mean())
            info["episode/length_mean"] = float(self.ep_step[done].mean())
        return info

    # ---- observations ------------------------------------------------------------------------------

    def reference(self, offset: int = 0) -> ReferenceFrame:
        """Reference of every env ``offset`` control steps from now (clamped to its clip)."""
        if offset not in self._refs:
            self._refs[offset] = self.motions.frame(self.clip_ids, self.frames + offset)
        return self._refs[offset]

    def observe(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(deployable obs (N, D), privileged obs (N, Dp) or None), from the reference one step ahead."""
        inp = ObsInput.from_state(self.state, self.reference(1), self.last_action, self.default_pose)
        if not self.cfg.privileged_obs:
            return self._torch(build_obs(inp, self.obs_terms)), None
        priv = build_obs(inp, self.priv_terms)
        # The privileged layout starts with the deployable token: slice it instead of building it twice.
        d = sum(t.size for t in self.obs_terms)
        obs = priv[:, :d] if self._obs_is_priv_prefix else build_obs(inp, self.obs_terms)
        return self._torch(obs), self._torch(priv)

    def _torch(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x)).to(self.cfg.device)

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()
