"""Parallel DAgger collection (Humanoid-GPT §3.3): the student drives N envs, the teachers label every step.

Each env's episode starts at a reset on a corpus clip (HME-balanced). At every control step all teachers
see the whole batch (they keep their own histories) and env i's label is the PD target of the teacher of the
cluster its episode started in, expressed in the student's action space ``(target - default) / scale``.
With probability ``beta`` per episode the teacher's action is executed instead of the student's (beta = 1:
behaviour cloning from teacher rollouts). Tokens are built by ``hgpt_core.obs.build_obs`` from the
student's metadata, with the executed action as ``last_action`` (zeros after a reset), exactly as the
deployed policy builds them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from hgpt_core.errors import HgptError
from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.obs import ObsInput, build_obs, terms_from_layout
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_sim.adapters import TrackerAdapter
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.model import Actuation
from hgpt_sim.randomization import DRConfig
from hgpt_training.distill_data import CorpusMotions


@dataclass
class TeacherMix:
    """Teachers and which one labels each HME cluster.

    Attributes:
        teachers: Adapters (TWIST2, experts); each acts on the whole batch every step.
        by_cluster: Teacher index per cluster, (K,); clusters beyond it use teacher 0.
    """

    teachers: list[TrackerAdapter]
    by_cluster: np.ndarray

    def check(self, student: PolicyMetadata) -> None:
        """Teachers' PD gains and control period must equal the student's (labels are PD targets)."""
        a = student.arrays()
        for t in self.teachers:
            if abs(t.control_dt - student.control_dt) > 1e-9:
                raise HgptError(
                    f"teacher {t.name}: control_dt {t.control_dt} != student {student.control_dt}"
                )
            if not (np.allclose(t.actuation.kp, a["kp"]) and np.allclose(t.actuation.kd, a["kd"])):
                raise HgptError(
                    f"teacher {t.name}: PD gains differ from the student's; its targets mean else"
                )

    def teacher_of(self, clusters: np.ndarray) -> np.ndarray:
        c = np.asarray(clusters, dtype=np.int64)
        ok = (c >= 0) & (c < len(self.by_cluster))
        return np.where(ok, self.by_cluster[np.clip(c, 0, len(self.by_cluster) - 1)], 0)

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        for t in self.teachers:
            t.reset(env_ids)

    def act(self, state, ref_next, which: np.ndarray) -> np.ndarray:
        """PD targets [rad] of each env's teacher, (N, 29)."""
        out = None
        for k, t in enumerate(self.teachers):
            tgt = t.act(state, ref_next)
            out = tgt.copy() if out is None else np.where((which == k)[:, None], tgt, out)
        return out


@dataclass(frozen=True)
class CollectConfig:
    """One DAgger round."""

    num_envs: int = 64
    steps: int = 800
    """Control steps per env in the round (episodes reset on falls and at ``episode_steps``)."""
    steps_first: int | None = 2000
    """Steps of round 0 (the teacher drives; default ``steps``): a larger behaviour-cloning set is cheap."""
    episode_steps: int = 400
    """Episode length [control steps]; a sliding_kv student trains on sequences this long from reset."""
    dr: bool = True
    """Table 1 randomisation with pushes (no terrain)."""
    nthread: int = 1
    """Physics threads."""
    progress: bool = True


@dataclass
class CollectResult:
    tokens: np.ndarray  # (M, D)
    labels: np.ndarray  # (M, 29)
    episodes: np.ndarray  # (E, 4): offset, length, cluster, teacher
    info: dict
    step_s: np.ndarray  # wall time of each control step of the batch [s], (steps,)


def student_actuation(meta: PolicyMetadata) -> Actuation:
    """Position actuators with the student's gains at 200 Hz (DESIGN §7: TWIST2 tracks as at 1 kHz)."""
    a = meta.arrays()
    return Actuation.from_gains(a["kp"], a["kd"])


def collect_round(
    motions: CorpusMotions,
    student_meta: PolicyMetadata,
    student,
    mix: TeacherMix,
    beta: float,
    cfg: CollectConfig,
    seed: int,
    steps: int | None = None,
) -> CollectResult:
    """Run one round; ``student`` is a runtime with ``step(obs (N, D)) -> (N, 29)`` and ``reset(rows)``.

    ``student`` may be None when ``beta == 1`` (the teacher drives every episode).
    """
    if student is None and beta < 1.0:
        raise HgptError("a student runtime is needed when beta < 1")
    mix.check(student_meta)
    n, steps = cfg.num_envs, steps or cfg.steps
    env = TrackingEnv(
        EnvConfig(
            num_envs=n,
            nthread=cfg.nthread,
            control_dt=student_meta.control_dt,
            episode_frames=(cfg.episode_steps, cfg.episode_steps),
            random_start=True,
            seed=seed,
            auto_reset=True,
            privileged_obs=False,
            compute_obs=False,
            dr=DRConfig.paper() if cfg.dr else DRConfig(),
        ),
        motions.bank,
        meta=student_meta,
        actuation=student_actuation(student_meta),
    )
    env.clip_weights = motions.weights
    env.reset()
    rng = np.random.default_rng(seed + 7919)
    a = student_meta.arrays()
    default, scale = a["default_joint_pos"], a["action_scale"]
    terms = terms_from_layout(student_meta.obs_terms)
    mix.reset()
    if student is not None:
        student.reset()
    tokens = np.zeros((n, steps, sum(t.size for t in terms)), np.float32)
    labels = np.zeros((n, steps, NUM_JOINTS), np.float32)
    last = np.zeros((n, NUM_JOINTS))
    cluster = motions.clusters_at(env.clip_ids, env.frames)
    teacher_drives = rng.random(n) < beta
    ep_start = np.zeros(n, dtype=np.int64)
    episodes: list[tuple[int, int, int, int, int]] = []  # env, start step, length, cluster, teacher
    falls = 0
    step_s = np.zeros(steps)
    for t in tqdm(range(steps), desc=f"collect beta={beta:.2f}", disable=not cfg.progress, leave=False):
        t0 = time.perf_counter()
        ref_next = env.reference(1)
        tok = build_obs(ObsInput.from_state(env.state, ref_next, last, default), terms)
        which = mix.teacher_of(cluster)
        label = (mix.act(env.state, ref_next, which) - default) / scale
        if student is not None:
            act_s = np.asarray(student.step(tok), dtype=np.float64)
            executed = np.where(teacher_drives[:, None], label, act_s)
        else:
            executed = label
        tokens[:, t], labels[:, t] = tok, label
        res = env.step_targets(default + scale * executed)
        last = executed
        done = np.flatnonzero((res.terminated | res.truncated).numpy())
        falls += int(res.terminated.sum())
        for i in done:
            episodes.append(
                (int(i), int(ep_start[i]), t + 1 - int(ep_start[i]), int(cluster[i]), int(which[i]))
            )
        if len(done):
            ep_start[done] = t + 1
            last[done] = 0.0
            mix.reset(done)
            if student is not None:
                student.reset(done)
            cluster[done] = motions.clusters_at(env.clip_ids[done], env.frames[done])
            teacher_drives[done] = rng.random(len(done)) < beta
        step_s[t] = time.perf_counter() - t0
    for i in range(n):  # episodes still running at the round's end (they start from a reset too)
        if ep_start[i] < steps:
            w = mix.teacher_of(cluster[i : i + 1])[0]
            episodes.append((i, int(ep_start[i]), steps - int(ep_start[i]), int(cluster[i]), int(w)))
    env.close()
    ep = np.array(episodes, dtype=np.int64)
    flat_tok = np.concatenate([tokens[e, s : s + ln] for e, s, ln, _, _ in ep])
    flat_lab = np.concatenate([labels[e, s : s + ln] for e, s, ln, _, _ in ep])
    offsets = np.concatenate(([0], np.cumsum(ep[:, 2])[:-1]))
    table = np.stack([offsets, ep[:, 2], ep[:, 3], ep[:, 4]], axis=1)
    ended = [e for e in episodes if e[1] + e[2] < steps]
    info = {
        "beta": beta,
        "seed": seed,
        "num_envs": n,
        "steps": steps,
        "tokens": int(len(flat_tok)),
        "episodes": len(episodes),
        "falls": falls,
        "falls_per_1k_steps": 1000.0 * falls / (n * steps),
        "mean_episode_len": float(np.mean([e[2] for e in ended])) if ended else float(steps),
        "dr": cfg.dr,
    }
    return CollectResult(flat_tok, flat_lab, table, info, step_s)
