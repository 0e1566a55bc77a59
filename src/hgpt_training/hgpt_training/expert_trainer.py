"""PPO training of one motion expert (:class:`ExpertTrainer`): config, rollouts in
:class:`~hgpt_sim.env.TrackingEnv`, residual or from-scratch updates, atomic checkpoints, logs and curve.
The protocol is in :mod:`hgpt_training.expert` (the ``hgpt train expert`` CLI).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from hgpt_core.errors import HgptError, require_positive
from hgpt_core.motion import atomic_write
from hgpt_core.obs import privileged_obs_terms
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.randomization import DRConfig
from hgpt_sim.rewards import FallConfig, RewardConfig
from hgpt_training.distill import saved_config
from hgpt_training.distill_data import CorpusMotions
from hgpt_training.expert_clusters import cluster_motions
from hgpt_training.expert_policy import ExpertPolicy, expert_metadata
from hgpt_training.ppo import PPO, ActorCritic, PPOConfig, Rollout

EXPERT_REWARD = RewardConfig(pos_unit=0.1, rot_unit=1.0, vel_unit=0.05)
"""The experts' reward units (docs/training.md "Reward units"): position error (L1 over xyz) in 10 cm,
rotation in rad, linear velocity (L1) in 5 cm/s, with the paper's alphas 1.0 / 2.0 / 0.03. A keypoint's
term halves at 6.9 cm, 0.35 rad and 1.16 m/s (in SI units: 69 cm, 0.35 rad, 23 m/s: pos/vel nearly flat)."""
EXPERT_FALL = FallConfig(joint_limit=0.1)
"""Training termination: the peers' rule (anchor height either way, tilt, hand/foot height) plus the
paper's joint-limit violation (any joint more than 0.1 rad past its hard limit)."""


@dataclass(frozen=True)
class ExpertConfig:
    """Train one PPO expert on one HME cluster (or, with ``--clusters``, one per cluster via Ray)."""

    run_dir: Path = Path("outputs/expert")
    """Checkpoint, logs and expert.pt (resumed when a checkpoint is there); with --clusters, the parent of
    one folder per cluster (cluster_007/)."""
    corpus: Path = Path("outputs/corpus_full")
    cluster: int = 0
    clusters: tuple[int, ...] = ()
    """Fan out over these clusters with Ray (one task per cluster, each resumable)."""
    hme_dir: Path | None = None
    """HME folder with clusters.json (default <corpus>/hme; without it the whole split is cluster 0)."""
    mode: Literal["residual", "scratch"] = "residual"
    teacher: str = "twist2"
    """Residual base: a policy spec of hgpt_sim.policy_adapters.make_adapter (TWIST2, or an expert:<file>)."""
    iterations: int = 1000
    """Total PPO iterations (a resumed run continues up to this)."""
    num_envs: int = 64
    ppo: PPOConfig = field(default_factory=PPOConfig)
    episode_frames: tuple[int, int] = (600, 1200)
    dr: bool = True
    """Table 1 randomisation with pushes (no terrain)."""
    terrain: bool = False
    reward: RewardConfig = EXPERT_REWARD
    fall: FallConfig = EXPERT_FALL
    reward_scale: float | None = None
    """Per-step reward multiplier for PPO (None: 1 / the perfect-tracking reward, so steps are <= 1)."""
    max_frames: int | None = 300_000
    """Cap of the cluster's loaded frames (memory)."""
    seed: int = 0
    ckpt_every: int = 50
    """Checkpoint (and start every env anew) every this many iterations."""
    device: str = "cpu"
    """Torch device of the networks (cuda when present); physics stays on the CPU."""
    threads: int = 1
    """Torch threads."""
    nthread: int = 1
    """Physics threads."""
    ray_num_cpus: int | None = None
    """CPUs Ray may use for --clusters (None: all)."""
    ray_address: str | None = None
    """Join a running Ray cluster (e.g. auto) instead of starting a local one."""
    progress: bool = True

    def __post_init__(self) -> None:
        """Refuse counts, rates and ranges that cannot work, then a corpus without manifest.json (HgptError
        naming the option or path: ``hgpt train expert`` exits 2 in one line), before any loading."""
        r, f = self.reward, self.fall
        positive = {
            "iterations": self.iterations, "num-envs": self.num_envs, "ckpt-every": self.ckpt_every,
            "threads": self.threads, "nthread": self.nthread, "max-frames": self.max_frames,
            "reward-scale": self.reward_scale, "ray-num-cpus": self.ray_num_cpus,
            "reward.pos-unit": r.pos_unit, "reward.rot-unit": r.rot_unit, "reward.vel-unit": r.vel_unit,
            "fall.anchor-height": f.anchor_height, "fall.tilt": f.tilt,
        }  # fmt: skip
        require_positive(positive)
        non_negative = {
            "cluster": self.cluster, "clusters": min(self.clusters, default=0),
            "reward.lower-body-weight": r.lower_body_weight, "reward.upper-body-weight": r.upper_body_weight,
            "reward.alpha-pos": r.alpha_pos, "reward.alpha-rot": r.alpha_rot, "reward.alpha-vel": r.alpha_vel,
            "reward.self-collision-weight": r.self_collision_weight,
            "reward.smoothness-weight": r.smoothness_weight,
            "reward.joint-limit-weight": r.joint_limit_weight,
            "fall.ee-height": f.ee_height, "fall.joint-limit": f.joint_limit,
        }  # fmt: skip
        for name, v in non_negative.items():
            if v is not None and not 0 <= v < math.inf:
                raise HgptError(f"--{name} {v} must be >= 0")
        if not 0 < r.soft_limit_factor <= 1:
            raise HgptError(f"--reward.soft-limit-factor {r.soft_limit_factor} must be in (0, 1]")
        lo, hi = self.episode_frames
        if not 1 <= lo <= hi:
            raise HgptError(f"--episode-frames {lo} {hi}: needs 1 <= MIN <= MAX control steps")
        samples = self.ppo.steps_per_env * self.num_envs
        if samples < max(2, self.ppo.minibatches):
            raise HgptError(
                f"--ppo.minibatches {self.ppo.minibatches} of --ppo.steps-per-env {self.ppo.steps_per_env} x "
                f"--num-envs {self.num_envs} = {samples} samples: needs >= 2 samples and one per minibatch"
            )
        from hgpt_core.corpus_store import load_manifest

        load_manifest(self.corpus)  # "<corpus>: no manifest.json; build the corpus first ..."
        if self.hme_dir is not None and not (Path(self.hme_dir) / "clusters.json").is_file():
            raise HgptError(f"--hme-dir {self.hme_dir}: no clusters.json (run hgpt corpus hme first)")


def _config_dict(cfg: ExpertConfig) -> dict:
    """The config as state.pt stores it, without the fields that only bound or place the run."""
    d = saved_config(cfg)
    for k in ("iterations", "progress", "run_dir", "clusters", "ray_num_cpus", "ray_address", "device"):
        d.pop(k, None)
    return d


def _atomic_torch_save(obj, path: Path) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


class ExpertTrainer:
    """State of one expert run: env, teacher, model, PPO, logs. ``train()`` runs to ``cfg.iterations``."""

    def __init__(self, cfg: ExpertConfig, motions: CorpusMotions | None = None) -> None:
        from hgpt_training.dagger import student_actuation

        self.cfg = cfg
        torch.set_num_threads(cfg.threads)
        self.dir = Path(cfg.run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.motions = motions or cluster_motions(
            cfg.corpus, cfg.cluster, cfg.hme_dir, "train", cfg.max_frames, seed=cfg.seed
        )
        self.meta = expert_metadata()
        teacher = None
        if cfg.mode == "residual":
            from hgpt_sim.policy_adapters import make_adapter

            teacher = make_adapter(cfg.teacher)
            if abs(teacher.control_dt - self.meta.control_dt) > 1e-9:
                raise HgptError(f"teacher {cfg.teacher}: control_dt {teacher.control_dt} != 0.02")
            t_kp = np.asarray(teacher.actuation.kp)
            if not np.allclose(t_kp, self.meta.arrays()["kp"]):
                raise HgptError(
                    f"teacher {cfg.teacher}: gains differ from TWIST2's (the expert's action space)"
                )
        self.policy = ExpertPolicy(self.meta, teacher)
        dr = DRConfig.paper(terrain=cfg.terrain) if cfg.dr else DRConfig()
        self.env = TrackingEnv(
            EnvConfig(
                num_envs=cfg.num_envs,
                nthread=cfg.nthread,
                control_dt=self.meta.control_dt,
                episode_frames=cfg.episode_frames,
                random_start=True,
                seed=cfg.seed,
                auto_reset=True,
                privileged_obs=True,
                terminal_obs=True,
                reward=cfg.reward,
                fall=cfg.fall,
                dr=dr,
            ),
            self.motions.bank,
            meta=self.meta,
            actuation=student_actuation(self.meta),
        )
        self.env.clip_weights = self.motions.weights
        critic_dim = sum(t.size for t in privileged_obs_terms(len(self.motions.bank.keypoint_names)))
        p = cfg.ppo
        init_std = p.init_std if p.init_std is not None else (0.1 if teacher is not None else 1.0)
        self.arch = dict(
            actor_in=self.policy.actor_dim,
            critic_in=critic_dim,
            num_actions=29,
            hidden_actor=tuple(p.actor_hidden),
            hidden_critic=tuple(p.critic_hidden),
            init_std=init_std,
            residual=teacher is not None,
            normalize=p.normalize_obs,
        )
        torch.manual_seed(cfg.seed)
        self.model = ActorCritic(**self.arch).to(cfg.device)
        self.gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.ppo = PPO(self.model, p, self.gen)
        from hgpt_sim.rewards import max_reward

        self.reward_scale = cfg.reward_scale or 1.0 / max_reward(self.env.weights)
        self.iteration = 0
        self.ckpt = self.dir / "ckpt.pt"
        self.log_path = self.dir / "metrics.jsonl"
        self._tb = None
        if self.ckpt.is_file():
            self._load()
        else:
            self.log_path.unlink(missing_ok=True)
        (self.dir / "config.json").write_text(json.dumps(_config_dict(cfg), indent=1))

    # ---- checkpoint ----

    def _load(self) -> None:
        s = torch.load(self.ckpt, map_location="cpu", weights_only=False)
        if s["config"] != _config_dict(self.cfg):
            diff = {
                k: (s["config"].get(k), v)
                for k, v in _config_dict(self.cfg).items()
                if s["config"].get(k) != v
            }
            raise HgptError(f"{self.ckpt} was written with other settings {diff}; use a new --run-dir")
        self.model.load_state_dict(s["model"])
        self.ppo.load_state_dict(s["ppo"])
        self.iteration = int(s["iteration"])
        if self.log_path.is_file():  # drop log rows written after the checkpoint
            rows = [
                r
                for r in self.log_path.read_text().splitlines()
                if json.loads(r)["iteration"] < self.iteration
            ]
            self.log_path.write_text("".join(r + "\n" for r in rows))

    def save(self) -> None:
        _atomic_torch_save(
            {
                "model": self.model.state_dict(),
                "ppo": self.ppo.state_dict(),
                "iteration": self.iteration,
                "config": _config_dict(self.cfg),
            },
            self.ckpt,
        )
        self.export(self.dir / "expert.pt")

    def export(self, path: Path) -> None:
        """The deployable expert (:func:`load_expert`)."""
        _atomic_torch_save(
            {
                "kind": "hgpt_expert",
                "mode": self.cfg.mode,
                "teacher": self.cfg.teacher,
                "cluster": self.cfg.cluster,
                "meta": self.meta.to_json(),
                "arch": self.arch,
                "model": {k: v.cpu() for k, v in self.model.state_dict().items()},
                "iteration": self.iteration,
                "clips": list(self.motions.bank.names),
                "actuation": {"kind": "position_actuator", "physics_dt": 0.005, "gains": "twist2"},
            },
            path,
        )

    # ---- episodes ----

    def _new_segment(self) -> None:
        """Every env starts anew from a seed of (seed, iteration): what makes a resume exact."""
        self.env.rng = np.random.default_rng([self.cfg.seed, self.iteration])
        self.env.reset()
        self.policy.reset()

    # ---- one iteration ----

    @torch.no_grad()
    def collect(self) -> tuple[Rollout, dict]:
        cfg, env, pol, m = self.cfg, self.env, self.policy, self.model
        dev = cfg.device
        t_steps, n = cfg.ppo.steps_per_env, cfg.num_envs
        _, priv = env.observe()
        ro = Rollout(t_steps, n, pol.actor_dim, priv.shape[1])
        info_sum: dict[str, float] = {}
        ep_ret, ep_len = [], []
        for _ in range(t_steps):
            x, base = pol.observe(env.state, env.reference(1))
            x_t, base_t = torch.from_numpy(x).to(dev), torch.from_numpy(base).to(dev)
            priv_t = priv.to(dev)
            d = m.dist(x_t, base_t if m.residual else None)
            mu = d.mean
            a = mu + d.stddev * torch.randn(mu.shape, generator=self.gen).to(dev)
            logp = d.log_prob(a).sum(-1)
            v = m.value(priv_t)
            res = env.step_targets(pol.executed(a.double().cpu().numpy()))
            done = res.terminated | res.truncated
            nv = m.value(res.final_priv_obs.to(dev))
            ro.add(
                actor_obs=x_t.cpu(),
                critic_obs=priv_t.cpu(),
                base=base_t.cpu(),
                actions=a.cpu(),
                logp=logp.cpu(),
                values=v.cpu(),
                rewards=res.reward * self.reward_scale,
                next_values=nv.cpu(),
                terminated=res.terminated,
                done=done,
            )
            ids = np.flatnonzero(done.numpy())
            if len(ids):
                pol.reset(ids)
            for k, val in res.info.items():
                if k.startswith(("reward/", "termination/")) or k == "episodes_done":
                    info_sum[k] = info_sum.get(k, 0.0) + val
            if "episode/return_mean" in res.info:
                w = res.info["episodes_done"]
                ep_ret.append((res.info["episode/return_mean"], w))
                ep_len.append((res.info["episode/length_mean"], w))
            priv = res.priv_obs
        out = {k: (v / t_steps if k.startswith("reward/") else v) for k, v in info_sum.items()}
        if ep_ret:
            w = sum(x[1] for x in ep_ret)
            out["episode/return_mean"] = sum(a * b for a, b in ep_ret) / w
            out["episode/length_mean"] = sum(a * b for a, b in ep_len) / w
        if self.model.residual:
            out["residual_abs_mean"] = float((ro.actions - ro.base).abs().mean())
        return ro, out

    def step(self) -> dict:
        """One iteration: (a new segment at a checkpoint boundary), collection, PPO update, log row."""
        if self.iteration % self.cfg.ckpt_every == 0:
            self._new_segment()
        t0 = time.perf_counter()
        ro, info = self.collect()
        t1 = time.perf_counter()
        if self.cfg.device != "cpu":
            for k in (
                "actor_obs",
                "critic_obs",
                "base",
                "actions",
                "logp",
                "values",
                "rewards",
                "next_values",
            ):
                setattr(ro, k, getattr(ro, k).to(self.cfg.device))
            ro.terminated, ro.done = ro.terminated.to(self.cfg.device), ro.done.to(self.cfg.device)
        stats = self.ppo.update(ro)
        t2 = time.perf_counter()
        steps = self.cfg.ppo.steps_per_env * self.cfg.num_envs
        row = {
            "iteration": self.iteration,
            "env_steps": (self.iteration + 1) * steps,
            "reward_per_step": float(ro.rewards.mean()) / self.reward_scale,
            **info,
            **stats,
            "time/collect_s": t1 - t0,
            "time/update_s": t2 - t1,
            "time/env_steps_per_s": steps / (t2 - t0),
            "wall": time.time(),
        }
        self.iteration += 1
        return row

    def _log(self, row: dict) -> None:
        with open(self.log_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.dir / "tb"), purge_step=row["iteration"])
            except ImportError:
                self._tb = False
        if self._tb:
            for k, v in row.items():
                if k not in ("iteration", "wall") and isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, row["iteration"])

    def train(self) -> dict:
        cfg = self.cfg
        bar = tqdm(
            total=cfg.iterations,
            initial=self.iteration,
            desc=f"expert c{cfg.cluster} {cfg.mode}",
            unit="it",
            disable=not cfg.progress,
        )
        row: dict = {}
        try:
            while self.iteration < cfg.iterations:
                row = self.step()
                self._log(row)
                bar.update(1)
                bar.set_postfix(
                    r=f"{row['reward_per_step']:.2f}",
                    len=f"{row.get('episode/length_mean', float('nan')):.0f}",
                    sps=f"{row['time/env_steps_per_s']:.0f}",
                    refresh=False,
                )
                if self.iteration % cfg.ckpt_every == 0 or self.iteration == cfg.iterations:
                    self.save()
                    plot_curve(self.log_path, self.dir / "curve.png")
        finally:
            bar.close()
            if self._tb:
                self._tb.flush()
        return {**row, "cluster": cfg.cluster, "run_dir": str(self.dir), "iteration": self.iteration}

    def close(self) -> None:
        self.env.close()
        if self._tb:
            self._tb.close()


def plot_curve(log_path: Path, out: Path) -> Path | None:
    """Learning curve from metrics.jsonl: reward per step, episode length, falls per 1k steps."""
    rows = [json.loads(r) for r in Path(log_path).read_text().splitlines() if r.strip()]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.array([r["env_steps"] for r in rows]) / 1e6
    fall_keys = ("termination/anchor_height", "termination/tilt", "termination/ee_height", "termination/nan")
    steps = np.array([r["env_steps"] for r in rows])
    per_it = np.diff(np.concatenate(([0], steps)))
    falls = np.array([sum(r.get(k, 0.0) for k in fall_keys) for r in rows]) / per_it * 1000
    series = (
        ("reward per step", np.array([r["reward_per_step"] for r in rows])),
        ("episode length [steps]", np.array([r.get("episode/length_mean", np.nan) for r in rows])),
        ("terminations (not time-outs) per 1k steps", falls),
    )
    win = max(1, len(rows) // 25)
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.4))
    for a, (title, y) in zip(ax, series, strict=True):
        a.plot(x, y, color="C0", alpha=0.3, lw=0.8)
        if win > 1:  # a segment's first iteration starts every env on its reference: smooth over segments
            ok = np.isfinite(y)
            k = np.ones(win)
            sm = np.convolve(np.where(ok, y, 0.0), k, "valid") / np.maximum(np.convolve(ok, k, "valid"), 1)
            a.plot(x[win - 1 :], sm, color="C0", lw=1.8, label=f"mean of {win} iterations")
            a.legend(fontsize=7)
        a.set_title(title)
    for a in ax:
        a.set_xlabel("env steps [M]")
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def train_expert(cfg: ExpertConfig, motions: CorpusMotions | None = None) -> dict:
    """Train (or resume) one expert to ``cfg.iterations``; returns the last log row and the run folder."""
    tr = ExpertTrainer(cfg, motions)
    try:
        return tr.train()
    finally:
        tr.close()
