"""``hgpt train expert``: PPO motion experts per HME cluster, residual over a teacher or from scratch.

One expert per HME cluster (Humanoid-GPT §3.2): its episodes are the cluster's frame ranges of the corpus
TRAIN split (:func:`cluster_motions`), drawn with the cluster's balanced weights, reference state
initialisation at a random frame, Table 1 randomisation with pushes, the training termination (anchor,
tilt, hand/foot height, and the paper's joint-limit rule), the keypoint reward in the units of
:data:`EXPERT_REWARD` (docs/training.md "Experts").

Action and physics are the distillation student's: TWIST2's gains, default pose and action scale, 200 Hz
implicit PD position actuators (:func:`hgpt_training.dagger.student_actuation`; DESIGN §7 measured TWIST2
tracking the same there as at its native 1 kHz), so an expert's PD targets mean what the student's mean.

* ``mode=residual`` (default): ``a = a_teacher + r(obs, a_teacher)``, ``r``'s last layer zero at start: the
  expert starts at the teacher's quality and learns to fix its failures (affordable on CPUs).
* ``mode=scratch``: plain PPO (the paper's way, for GPUs).

Each run is resumable: ``<run_dir>/ckpt.pt`` is written atomically every ``ckpt_every`` iterations, and at
each such boundary every env starts a new episode from a seed of (seed, iteration) (a time-out for the
value), so a resumed run's next update is the uninterrupted run's. Logs: ``metrics.jsonl``, TensorBoard
(``tb/``, when installed), ``curve.png``; the deployable expert is ``expert.pt`` (:func:`load_expert`).

Examples::

    hgpt train expert --corpus ~/hgpt-runs/corpus_full --cluster 3 --run-dir ~/hgpt-runs/expert_c3
    hgpt train expert --corpus ... --clusters 0 1 2 3 --run-dir ~/hgpt-runs/experts   # Ray fan-out
    hgpt train expert accept --run-dir ~/hgpt-runs/expert_c3 --library ~/hgpt-runs/experts_lib
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import tyro
from tqdm import tqdm

from hgpt_core.errors import HgptError
from hgpt_core.motion import MotionClip
from hgpt_core.obs import build_obs, privileged_obs_terms, terms_from_layout
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.reference import ReferenceMotion
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.observation import obs_input
from hgpt_sim.randomization import DRConfig
from hgpt_sim.references import MotionBank
from hgpt_sim.rewards import FallConfig, RewardConfig
from hgpt_training.distill_data import CorpusMotions
from hgpt_training.ppo import PPO, ActorCritic, PPOConfig, Rollout

EXPERT_REWARD = RewardConfig(pos_unit=0.1, rot_unit=1.0, vel_unit=0.05)
"""The experts' reward units (docs/training.md "Reward units"): position error (L1 over xyz) in 10 cm,
rotation in rad, linear velocity (L1) in 5 cm/s, with the paper's alphas 1.0 / 2.0 / 0.03. A keypoint's
term halves at 6.9 cm, 0.35 rad and 1.16 m/s (in SI units: 69 cm, 0.35 rad, 23 m/s: pos/vel nearly flat)."""
EXPERT_FALL = FallConfig(joint_limit=0.1)
"""Training termination: the peers' rule (anchor height either way, tilt, hand/foot height) plus the
paper's joint-limit violation (any joint more than 0.1 rad past its hard limit)."""
ACTION_CLIP = 10.0
"""Raw actions are clipped to +-10 before decoding, as TWIST2 does."""


# ---- episodes: one cluster's ranges of the train split -------------------------------------------------


def _factor(entry: dict) -> float:
    return float(entry.get("factor", 1.0))


def cluster_motions(
    corpus: str | Path,
    cluster: int,
    hme_dir: str | Path | None = None,
    split: str = "train",
    max_frames: int | None = None,
    min_frames: int = 50,
    original_speed: bool = False,
    seed: int = 0,
) -> CorpusMotions:
    """See :func:`cluster_references`; the clips as a :class:`CorpusMotions` (bank, weights, one cluster)."""
    refs, ids, weights, num_clusters = _cluster_ranges(
        corpus, cluster, hme_dir, split, max_frames, min_frames, original_speed, seed
    )
    return CorpusMotions(
        bank=MotionBank(refs),
        weights=weights / weights.sum(),
        frame_cluster=[np.full(r.num_frames, cluster, dtype=np.int64) for r in refs],
        entry_ids=tuple(ids),
        num_clusters=num_clusters,
    )


def cluster_references(
    corpus: str | Path,
    cluster: int,
    hme_dir: str | Path | None = None,
    split: str = "train",
    max_clips: int | None = None,
    min_frames: int = 50,
    original_speed: bool = True,
) -> list[ReferenceMotion]:
    """The cluster's clips (default: original speed only) as references, for the evaluation harness."""
    refs = _cluster_ranges(corpus, cluster, hme_dir, split, None, min_frames, original_speed, 0)[0]
    return refs[:max_clips] if max_clips else refs


def _cluster_ranges(corpus, cluster, hme_dir, split, max_frames, min_frames, original_speed, seed):
    """One HME cluster's frame ranges of a corpus split as references (the loader of
    :func:`hgpt_training.distill_data.corpus_motions`, restricted BEFORE loading to one cluster's entries).

    Each clip is a maximal run of consecutive sequences of one entry in ``cluster``; weights are the
    cluster's balanced sampling weights (``cluster_sampling``: by length within a cluster), renormalised.
    Without ``<hme_dir>/clusters.json`` the whole split is cluster 0 (weights by length).

    Args:
        original_speed: Keep only time-warp factor 1 entries (the evaluation clips).
        max_frames: Keep a weighted random subset of ranges up to this many frames (None: all).
    """
    from hgpt_training.corpus_store import CorpusReader

    if split == "test":
        raise HgptError("experts never train or select on the test split")
    reader = CorpusReader(corpus, split, fields=("root_pos", "root_quat", "joint_pos"))
    if len(reader) == 0:
        raise HgptError(f"corpus {corpus} has no accepted '{split}' entries")
    hme = Path(hme_dir) if hme_dir is not None else Path(corpus) / "hme"
    num_clusters = 1
    if (hme / "clusters.json").is_file():
        from hgpt_training.hme_report import cluster_sampling

        ranges, w, clusters = cluster_sampling(hme, reader)
        num_clusters = int(json.loads((hme / "clusters.json").read_text())["clusters"])
        sel = clusters == cluster
        ranges, w = ranges[sel], w[sel]
    else:
        if cluster != 0:
            raise HgptError(f"{hme}/clusters.json not found: without HME the only cluster is 0")
        ranges = np.array([(i, 0, n) for i, n in enumerate(reader.lengths)], dtype=np.int64)
        w = reader.lengths.astype(np.float64)
    if not (0 <= cluster < num_clusters):
        raise HgptError(f"cluster {cluster} out of range: the HME run has {num_clusters} clusters")
    # merge consecutive ranges of one entry (sequences are fixed-length segments)
    order = np.lexsort((ranges[:, 1], ranges[:, 0]))
    merged: list[list[int]] = []
    mw: list[float] = []
    for (e, s, t), wi in zip(ranges[order], w[order], strict=True):
        if original_speed and _factor(reader.entries[int(e)]) != 1.0:
            continue
        if merged and merged[-1][0] == e and merged[-1][2] == s:
            merged[-1][2] = int(t)
            mw[-1] += wi
        else:
            merged.append([int(e), int(s), int(t)])
            mw.append(float(wi))
    keep = [k for k, (_, s, t) in enumerate(merged) if t - s >= min_frames and mw[k] > 0]
    if not keep:
        raise HgptError(f"cluster {cluster} has no '{split}' range of {min_frames} frames with a weight")
    if max_frames is not None and sum(merged[k][2] - merged[k][1] for k in keep) > max_frames:
        rng = np.random.default_rng(seed)
        p = np.array([mw[k] for k in keep])
        pick = rng.choice(len(keep), size=len(keep), replace=False, p=p / p.sum())
        cum = np.cumsum([merged[keep[j]][2] - merged[keep[j]][1] for j in pick])
        keep = sorted(keep[j] for j in pick[: max(1, int(np.searchsorted(cum, max_frames)))])
    refs, ids = [], []
    for k in keep:
        e, s, t = merged[k]
        cols = reader.frames(e, s, t)
        eid = reader.entries[e]["entry_id"]
        name = eid if (s, t) == (0, int(reader.lengths[e])) else f"{eid}[{s}:{t}]"
        clip = MotionClip(cols["root_pos"], cols["root_quat"], cols["joint_pos"], reader.fps, name)
        refs.append(ReferenceMotion.from_clip(clip, fps=reader.fps))
        ids.append(eid)
    return refs, ids, np.array([mw[k] for k in keep]), num_clusters


# ---- the expert as a policy -----------------------------------------------------------------------------


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


class ExpertPolicy:
    """Actor input and action decoding shared by training and :class:`ExpertAdapter` (identical obs).

    Actor input: hgpt's deployable observation (``meta.obs_terms``, with the executed raw action as
    ``last_action``, zeros after a reset) and, residual, the teacher's raw action. Raw action space:
    ``target = default + scale * a`` with the metadata's (TWIST2's) default and scale.
    """

    def __init__(self, meta: PolicyMetadata, teacher=None) -> None:
        a = meta.arrays()
        self.meta, self.teacher = meta, teacher
        self.default, self.scale = a["default_joint_pos"], a["action_scale"]
        self.terms = terms_from_layout(meta.obs_terms)
        self.obs_dim = sum(t.size for t in self.terms)
        self.actor_dim = self.obs_dim + (29 if teacher is not None else 0)
        self.last_action: np.ndarray | None = None

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        if self.last_action is not None:
            if env_ids is None:
                self.last_action[:] = 0.0
            else:
                self.last_action[env_ids] = 0.0
        if self.teacher is not None:
            self.teacher.reset(env_ids)

    def observe(self, state, ref_next) -> tuple[np.ndarray, np.ndarray]:
        """(actor input (N, D) float32, base raw action (N, 29) float32: the teacher's, or zeros)."""
        n = state.qpos.shape[0]
        if self.last_action is None or self.last_action.shape[0] != n:
            self.last_action = np.zeros((n, 29))
        obs = build_obs(obs_input(state, ref_next, self.last_action, self.default), self.terms)
        if self.teacher is None:
            return obs.astype(np.float32), np.zeros((n, 29), np.float32)
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
        from hgpt_sim.eval_runner import make_adapter

        teacher = make_adapter(doc["teacher"])
    policy = ExpertPolicy(meta, teacher)
    model = ActorCritic(**doc["arch"])
    model.load_state_dict(doc["model"])
    return ExpertAdapter(model, policy, name or f"expert-c{doc['cluster']}")


# ---- training ---------------------------------------------------------------------------------------------


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
    """Residual base: a policy spec of hgpt_sim.eval_runner.make_adapter (TWIST2, or an expert:<file>)."""
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


def _config_dict(cfg: ExpertConfig) -> dict:
    d = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    for k in ("iterations", "progress", "run_dir", "clusters", "ray_num_cpus", "ray_address", "device"):
        d.pop(k, None)
    return d


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
            from hgpt_sim.eval_runner import make_adapter

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


def fan_out(cfg: ExpertConfig) -> list[dict]:
    """One expert per cluster of ``cfg.clusters`` as Ray tasks (1 CPU each), each in run_dir/cluster_KKK."""
    import ray

    if not cfg.clusters:
        raise HgptError("fan_out needs --clusters")
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=cfg.ray_address, num_cpus=cfg.ray_num_cpus, include_dashboard=False, log_to_driver=False
        )
    task = ray.remote(num_cpus=1)(train_expert)
    try:
        refs = [
            task.remote(
                dataclasses.replace(
                    cfg,
                    cluster=c,
                    clusters=(),
                    run_dir=Path(cfg.run_dir) / f"cluster_{c:03d}",
                    progress=False,
                )
            )
            for c in cfg.clusters
        ]
        done = []
        pending = list(refs)
        with tqdm(total=len(refs), desc="experts", unit="expert", disable=not cfg.progress) as bar:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                done += ray.get(ready)
                bar.update(len(ready))
        return sorted(done, key=lambda r: r["cluster"])
    finally:
        if started:
            ray.shutdown()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "accept":
        from hgpt_training.expert_library import accept_main

        sys.argv = [f"{sys.argv[0]} accept", *sys.argv[2:]]
        accept_main()
        return
    cfg = tyro.cli(ExpertConfig, description=__doc__.split("\n\n")[0])
    try:
        if cfg.clusters:
            for r in fan_out(cfg):
                print(json.dumps({k: r[k] for k in ("cluster", "run_dir", "iteration")}))
        else:
            r = train_expert(cfg)
            print(f"expert c{cfg.cluster}: {r['iteration']} iterations in {r['run_dir']}")
    except HgptError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
