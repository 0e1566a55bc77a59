"""PPO motion experts on real corpus clips: GAE (time-out vs fall), the env's terminal observation and
joint-limit termination, reward terms by hand and on a degrading rollout, residual = teacher at start,
exact resume, two-iteration smoke runs per mode, Ray fan-out over two clusters, the library's acceptance."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hgpt_core.errors import HgptError
from hgpt_core.g1 import JOINT_LIMITS
from hgpt_core.rotations import quat_mul
from hgpt_sim.backend import PhysicsState
from hgpt_sim.env import EnvConfig, TrackingEnv
from hgpt_sim.rewards import FallConfig, FallDetector, RewardConfig, keypoint_weights, tracking_reward
from hgpt_sim.twist2 import Twist2Adapter
from hgpt_training.dagger import student_actuation
from hgpt_training.distill import DistillConfig, make_teachers
from hgpt_training.distill_data import CorpusMotions
from hgpt_training.expert import fan_out
from hgpt_training.expert_clusters import cluster_motions
from hgpt_training.expert_library import AcceptConfig, accept, teacher_specs, verdict
from hgpt_training.expert_policy import ExpertAdapter, ExpertPolicy, expert_metadata
from hgpt_training.expert_trainer import EXPERT_REWARD, ExpertConfig, ExpertTrainer, train_expert
from hgpt_training.ppo import ActorCritic, PPOConfig, gae

TINY_PPO = PPOConfig(steps_per_env=8, actor_hidden=(32,), critic_hidden=(32,), epochs=2, minibatches=2)


def tiny(run_dir: Path, corpus: Path, **kw) -> ExpertConfig:
    base = dict(
        run_dir=run_dir,
        corpus=corpus,
        iterations=2,
        num_envs=4,
        ppo=TINY_PPO,
        progress=False,
        ckpt_every=2,
        max_frames=5000,
    )
    base.update(kw)
    return ExpertConfig(**base)


@pytest.fixture(scope="module")
def motions(small_corpus: Path) -> CorpusMotions:
    return cluster_motions(small_corpus, 0, max_frames=5000)


# ---- GAE -------------------------------------------------------------------------------------------------


def test_gae_bootstraps_time_outs_not_falls() -> None:
    # One env, 4 steps: a time-out at step 1 (bootstrapped from its final observation's value 9.0), a fall
    # at step 3 (its next value 5.0 must be ignored). gamma 0.9, lambda 0.5, by hand:
    # d0 = 1 + .9*.6 - .5 = 1.04; d1 = 2 + .9*9 - .6 = 9.5; d2 = 3 + .9*.8 - .7 = 3.02; d3 = 4 - .8 = 3.2
    # A3 = 3.2; A2 = 3.02 + .45*3.2 = 4.46; A1 = 9.5 (trace cut); A0 = 1.04 + .45*9.5 = 5.315
    col = lambda *x: torch.tensor(x).reshape(4, 1)  # noqa: E731
    adv, ret = gae(
        col(1.0, 2.0, 3.0, 4.0),
        col(0.5, 0.6, 0.7, 0.8),
        col(0.6, 9.0, 0.8, 5.0),
        col(False, False, False, True),
        col(False, True, False, True),
        gamma=0.9,
        lam=0.5,
    )
    assert adv[:, 0].tolist() == pytest.approx([5.315, 9.5, 4.46, 3.2])
    assert ret[:, 0].tolist() == pytest.approx([5.815, 10.1, 5.16, 4.0])


# ---- the environment ---------------------------------------------------------------------------------------


def _env(motions: CorpusMotions, **kw) -> TrackingEnv:
    meta = expert_metadata()
    cfg = EnvConfig(num_envs=3, nthread=1, seed=5, episode_frames=(4, 4), **kw)
    return TrackingEnv(cfg, motions.bank, meta=meta, actuation=student_actuation(meta))


def test_terminal_obs_is_the_state_ended_in(motions: CorpusMotions) -> None:
    a = _env(motions, terminal_obs=True)
    b = _env(motions, auto_reset=False)  # same episodes, never reset: its obs are A's final ones
    c = _env(motions)  # default: no final obs, and A's obs are the default's
    for k in range(4):
        act = torch.full((3, 29), 0.05 * k)
        ra, rb, rc = a.step(act), b.step(act), c.step(act)
        assert rc.final_obs is None and rc.final_priv_obs is None
        assert torch.equal(ra.obs, rc.obs) and torch.equal(ra.priv_obs, rc.priv_obs)
        assert torch.equal(ra.final_obs, rb.obs) and torch.equal(ra.final_priv_obs, rb.priv_obs)
    assert ra.truncated.all() and not ra.terminated.any()  # the 4-step time-out
    assert not torch.equal(ra.obs, ra.final_obs)  # reset: obs is the new episode's
    for e in (a, b, c):
        e.close()


def test_joint_limit_termination_on_hand_made_state(motions: CorpusMotions) -> None:
    env = _env(motions)
    s, ref = env.state, env.reference()
    q = s.joint_pos.copy()
    q[1, 3] = JOINT_LIMITS[3, 1] + 0.2  # env 1: a knee 0.2 rad past its hard limit
    q[2, 3] = JOINT_LIMITS[3, 1] + 0.05  # env 2: within the 0.1 rad allowance
    bad = dataclasses.replace(s, joint_pos=q)
    off = FallDetector(motions.bank.keypoint_names, FallConfig())(bad, ref)
    on = FallDetector(motions.bank.keypoint_names, FallConfig(joint_limit=0.1))(bad, ref)
    assert not off["joint_limit"].any()
    assert on["joint_limit"].tolist() == [False, True, False] and on["any"][1]
    env.close()


# ---- reward ----------------------------------------------------------------------------------------------


def _state_on(ref) -> PhysicsState:
    n = ref.keypoint_pos_w.shape[0]
    on_ref = dataclasses.asdict(ref.as_robot_state())  # copies: the test edits the state
    return PhysicsState(**on_ref, self_contact=np.zeros(n), diverged=np.zeros(n, dtype=bool))


def test_each_reward_term_on_hand_made_cases(motions: CorpusMotions) -> None:
    ref = motions.bank.frame(np.array([0, 0]), np.array([10, 10]))
    w = keypoint_weights(motions.bank.keypoint_names, EXPERT_REWARD)
    tgt = ref.joint_pos.copy()
    on = tracking_reward(_state_on(ref), ref, tgt, tgt, w, EXPERT_REWARD, 4)
    for k in ("pos", "rot", "vel"):
        assert on[k] == pytest.approx([w.sum()] * 2)  # perfect tracking: each term sum_k w_k
    for k in ("self_collision", "smoothness"):
        assert on[k] == pytest.approx([0.0, 0.0])
    s = _state_on(ref)
    s.body_pos_w[1, :, 0] += 0.1  # env 1: every keypoint 10 cm off (L1 0.1 m = 1 unit)
    half = np.array([np.cos(0.25), 0.0, 0.0, np.sin(0.25)])  # 0.5 rad about z
    s.body_quat_w[1] = quat_mul(np.broadcast_to(half, s.body_quat_w[1].shape), s.body_quat_w[1])
    s.body_lin_vel_w[1, :, 1] += 1.0  # 1 m/s (20 units)
    s.self_contact[1] = 2.0  # 2 of 4 physics steps in self-contact
    q = s.joint_pos.copy()
    mid, span = JOINT_LIMITS.mean(1), JOINT_LIMITS[:, 1] - JOINT_LIMITS[:, 0]
    q[1, 3] = mid[3] + 0.45 * span[3] + 0.2  # knee 0.2 rad past its soft limit (90 % of the range)
    s = dataclasses.replace(s, joint_pos=q)
    prev = tgt.copy()
    prev[1] -= 0.1  # targets moved 0.1 rad on every joint
    r = tracking_reward(s, ref, tgt, prev, w, EXPERT_REWARD, 4)
    assert r["pos"][1] == pytest.approx(w.sum() * np.exp(-1.0))
    assert r["rot"][1] == pytest.approx(w.sum() * np.exp(-2.0 * 0.5))
    assert r["vel"][1] == pytest.approx(w.sum() * np.exp(-0.03 * 20.0))
    assert r["self_collision"][1] == pytest.approx(-0.5)
    assert r["smoothness"][1] == pytest.approx(-29 * 0.01)
    assert r["joint_limit"][1] == pytest.approx(-10.0 * 0.2)
    assert r["total"][1] == pytest.approx(sum(r[k][1] for k in r if k != "total"))
    # In SI units (the literal reading) the same 10 cm costs under 10 % of the position term.
    si = tracking_reward(s, ref, tgt, prev, w, RewardConfig(), 4)
    assert si["pos"][1] / w.sum() == pytest.approx(np.exp(-0.1)) and si["pos"][1] / w.sum() > 0.9


def test_every_term_moves_when_tracking_degrades(motions: CorpusMotions) -> None:
    """TWIST2 follows corpus clips with growing action noise: each term (in EXPERT_REWARD units) falls."""
    meta = expert_metadata()
    means = []
    for sigma in (0.0, 0.5, 1.5):
        env = TrackingEnv(
            EnvConfig(
                num_envs=6, nthread=1, seed=2, auto_reset=False, compute_obs=False, reward=EXPERT_REWARD
            ),
            motions.bank,
            meta=meta,
            actuation=student_actuation(meta),
        )
        env.reset(np.arange(6), np.arange(6) % motions.bank.num_clips, np.zeros(6, dtype=np.int64))
        t2, rng = Twist2Adapter(), np.random.default_rng(0)
        si_w = keypoint_weights(motions.bank.keypoint_names, RewardConfig())
        acc = {k: 0.0 for k in ("pos", "rot", "vel", "pos_si")}
        for _ in range(40):
            tgt = t2.act(env.state, env.reference(1)) + 0.5 * sigma * rng.standard_normal((6, 29))
            prev = env.prev_targets.copy()
            res = env.step_targets(tgt)
            for k in ("pos", "rot", "vel"):
                acc[k] += float(res.terms[k].mean()) / 40
            si = tracking_reward(env.state, env.reference(), tgt, prev, si_w, RewardConfig(), 4)
            acc["pos_si"] += float(si["pos"].mean()) / 40
        env.close()
        means.append(acc)
    for k in ("pos", "rot", "vel"):
        assert means[0][k] > means[1][k] > means[2][k], (k, [m[k] for m in means])
    drop = lambda k: 1 - means[2][k] / means[0][k]  # noqa: E731
    assert drop("pos") > 2 * drop("pos_si"), "the chosen units should give the position kernel a slope"


# ---- the residual expert -----------------------------------------------------------------------------------


def test_expert_reset_is_the_adapters_reset_path() -> None:
    """ExpertPolicy resets as HgptAdapter does: the reset envs' last actions, then the teacher's history."""

    class Teacher:
        def __init__(self) -> None:
            self.resets: list = []

        def reset(self, env_ids=None) -> None:
            self.resets.append(env_ids)

    teacher = Teacher()
    pol = ExpertPolicy(expert_metadata(), teacher)
    pol.reset(np.array([0]))  # no step yet: only the teacher
    pol.last_actions(3)[:] = 1.0
    pol.reset(np.array([2]))
    assert pol.last_action.tolist() == [[1.0] * 29, [1.0] * 29, [0.0] * 29]
    pol.reset()
    assert not pol.last_action.any() and pol.last_actions(3) is pol.last_action
    assert [None if r is None else r.tolist() for r in teacher.resets] == [[0], [2], None]
    assert pol.last_actions(2).shape == (2, 29) and not pol.last_action.any()  # a new batch size: zeros


def test_residual_expert_equals_its_teacher_at_init(motions: CorpusMotions, tmp_path: Path) -> None:
    meta = expert_metadata()
    pol = ExpertPolicy(meta, Twist2Adapter())
    model = ActorCritic(pol.actor_dim, 10, hidden_actor=(64, 32), init_std=0.1, residual=True)
    model.actor_norm.update(torch.randn(50, pol.actor_dim) * 3)  # normalisation does not matter at init
    expert, teacher = ExpertAdapter(model, pol, "e"), Twist2Adapter()
    env = TrackingEnv(
        EnvConfig(num_envs=4, nthread=1, seed=1, compute_obs=False, privileged_obs=False),
        motions.bank,
        meta=meta,
        actuation=student_actuation(meta),
    )
    for _ in range(30):
        ref = env.reference(1)
        te, tt = expert.act(env.state, ref), teacher.act(env.state, ref)
        np.testing.assert_allclose(te, tt, atol=1e-5)
        res = env.step_targets(te)
        done = np.flatnonzero((res.terminated | res.truncated).numpy())
        expert.reset(done)
        teacher.reset(done)
    env.close()


def test_resume_gives_the_same_next_update(
    motions: CorpusMotions, small_corpus: Path, tmp_path: Path
) -> None:
    base = tiny(tmp_path / "a", small_corpus, iterations=3, ckpt_every=2, dr=True)
    a = ExpertTrainer(base, motions)
    a.train()
    want = {k: v.clone() for k, v in a.model.state_dict().items()}
    a.close()
    cfg_b = dataclasses.replace(base, run_dir=tmp_path / "b")
    b = ExpertTrainer(dataclasses.replace(cfg_b, iterations=2), motions)  # "killed" after iteration 2
    b.train()
    b.close()
    c = ExpertTrainer(cfg_b, motions)
    assert c.iteration == 2
    c.train()
    got = c.model.state_dict()
    c.close()
    for k in want:
        assert torch.equal(want[k], got[k]), k
    rows = [json.loads(r) for r in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [0, 1, 2]
    with pytest.raises(Exception, match="other settings"):
        ExpertTrainer(dataclasses.replace(cfg_b, seed=9), motions)


@pytest.mark.parametrize("mode", ["residual", "scratch"])
def test_two_iteration_smoke_run(mode: str, small_corpus: Path, tmp_path: Path) -> None:
    r = train_expert(tiny(tmp_path / mode, small_corpus, mode=mode))
    d = tmp_path / mode
    for f in ("ckpt.pt", "expert.pt", "metrics.jsonl", "curve.png", "config.json"):
        assert (d / f).is_file(), f
    rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and r["iteration"] == 2
    for k in ("reward_per_step", "loss/value", "time/env_steps_per_s"):
        assert np.isfinite(rows[-1][k]), k
    assert (d / "tb").is_dir() or pytest.importorskip("tensorboard") is None
    from hgpt_sim.policy_adapters import make_adapter
    from hgpt_training.dagger import TeacherMix
    from hgpt_training.distill import DistillConfig, student_metadata

    adapter = make_adapter(f"expert:{d / 'expert.pt'}")  # a DAgger teacher: the student's gains and dt
    from hgpt_policy.config import gpt_config

    TeacherMix([adapter], np.zeros(1, dtype=np.int64)).check(student_metadata(DistillConfig(), gpt_config()))
    assert adapter.actuation.physics_dt == pytest.approx(0.005) and adapter.actuation.pd == "actuator"


# ---- clusters, Ray, library -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_cluster_hme(small_corpus: Path, tmp_path_factory) -> Path:
    """A hand-made clusters.json: the train entries alternately in clusters 0 and 1 (HME's format)."""
    from hgpt_core.corpus_store import CorpusReader

    out = tmp_path_factory.mktemp("hme2")
    seqs = []
    for split in ("train", "test"):
        r = CorpusReader(small_corpus, split)
        for i, (e, n) in enumerate(zip(r.entries, r.lengths, strict=True)):
            w = float(n) if split == "train" else 0.0
            seqs.append(
                dict(entry_id=e["entry_id"], start=0, stop=int(n), split=split, cluster=i % 2, weight=w)
            )
    doc = {"clusters": 2, "method": "hand", "corpus": str(small_corpus), "segment_s": 10.0, "sequences": seqs}
    (out / "clusters.json").write_text(json.dumps(doc))
    return out


def test_cluster_motions_are_one_clusters_train_ranges(small_corpus: Path, two_cluster_hme: Path) -> None:
    from hgpt_core.corpus_store import CorpusReader

    doc = json.loads((two_cluster_hme / "clusters.json").read_text())
    want = {s["entry_id"] for s in doc["sequences"] if s["cluster"] == 1 and s["split"] == "train"}
    m = cluster_motions(small_corpus, 1, two_cluster_hme, min_frames=2)
    assert set(m.entry_ids) == want and m.num_clusters == 2
    assert not set(m.entry_ids) & {e["entry_id"] for e in CorpusReader(small_corpus, "test").entries}
    assert m.weights.sum() == pytest.approx(1.0)
    with pytest.raises(Exception, match="test split"):
        cluster_motions(small_corpus, 1, two_cluster_hme, split="test")


def test_ray_fan_out_over_two_clusters(small_corpus: Path, two_cluster_hme: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    cfg = tiny(tmp_path / "lib_runs", small_corpus, clusters=(0, 1), hme_dir=two_cluster_hme, iterations=1)
    cfg = dataclasses.replace(cfg, ray_num_cpus=1, ckpt_every=1)
    out = fan_out(cfg)
    assert [r["cluster"] for r in out] == [0, 1]
    for c in (0, 1):
        d = tmp_path / "lib_runs" / f"cluster_{c:03d}"
        assert (d / "expert.pt").is_file() and torch.load(d / "expert.pt", weights_only=False)["cluster"] == c


def test_acceptance_rule_and_manifest(small_corpus: Path, tmp_path: Path) -> None:
    acc = AcceptConfig(run_dir=tmp_path)
    t = {"SR": 0.5, "mpjpe": 0.10}
    assert verdict({"SR": 0.6, "mpjpe": 0.2}, t, "residual", acc)[0]  # +10 points
    assert not verdict({"SR": 0.55, "mpjpe": 0.05}, t, "residual", acc)[0]  # +5 points, other SR
    assert verdict({"SR": 0.5, "mpjpe": 0.089}, t, "residual", acc)[0]  # equal SR, -11 %
    assert not verdict({"SR": 0.5, "mpjpe": 0.095}, t, "residual", acc)[0]
    assert verdict({"SR": 0.95, "mpjpe": 0.2}, None, "scratch", acc)[0]
    run = tmp_path / "run"
    train_expert(tiny(run, small_corpus, iterations=1, ckpt_every=1))
    lib = tmp_path / "lib"
    cfg = AcceptConfig(
        run_dir=run, library=lib, max_clips=2, starts=1, max_seconds=1.0, dr=False, progress=False
    )
    e = accept(cfg)
    assert set(e["eval"]) == {"expert-c0", "twist2"} and not e["accepted"]  # a fresh residual = its teacher
    assert not (lib / "manifest.json").exists()
    e = accept(dataclasses.replace(cfg, force=True))
    m = json.loads((lib / "manifest.json").read_text())
    assert m["experts"][0]["cluster"] == 0 and (lib / "cluster_000.pt").is_file()
    assert teacher_specs(lib, 2) == ["twist2", "twist2"]  # not accepted: never a teacher
    dcfg = DistillConfig(corpus=small_corpus, expert_library=lib)
    assert dcfg.teacher_mix_specs() == (["twist2"], [])
    m["experts"][0]["accepted"] = True  # as if it had passed: distillation takes it for its cluster
    (lib / "manifest.json").write_text(json.dumps(m))
    assert dcfg.teacher_mix_specs() == (["twist2", f"expert:{lib / 'cluster_000.pt'}"], [1])
    mix = make_teachers(dcfg)
    assert [t.name for t in mix.teachers] == ["twist2", "expert-c0"]
    with pytest.raises(HgptError, match="no manifest.json"):
        DistillConfig(corpus=small_corpus, expert_library=tmp_path / "none").teacher_mix_specs()
