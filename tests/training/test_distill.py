"""DAgger distillation on real corpus clips: teacher routing, supervision of every position, learning,
DDP equivalence, resume, export round trip."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as tmp

from hgpt_core.errors import HgptError
from hgpt_policy.config import gpt_config
from hgpt_policy.loader import HoldDefaultPolicy
from hgpt_policy.model import build_policy
from hgpt_policy.twist2 import twist2_metadata
from hgpt_sim.adapters import HgptAdapter
from hgpt_sim.twist2 import Twist2Adapter
from hgpt_training.dagger import CollectConfig, TeacherMix, collect_round
from hgpt_training.distill import DistillConfig, Trainer, sequence_loss, student_metadata
from hgpt_training.distill_data import CorpusMotions, SequenceSampler, TokenStore, corpus_motions

TINY = dict(n_layer=2, progress=False, threads=1)


def tiny_cfg(run_dir: Path, corpus: Path, **kw) -> DistillConfig:
    """A 2-layer GPT-S-wide student, 8 envs, short rounds: seconds per round on one core."""
    base = dict(
        run_dir=run_dir,
        corpus=corpus,
        rounds=2,
        collect=CollectConfig(
            num_envs=8, steps=60, steps_first=None, episode_steps=60, dr=False, progress=False
        ),
        iters_first=4,
        iters_per_round=4,
        batch_size=4,
        ckpt_every=2,
        **TINY,
    )
    base.update(kw)
    return DistillConfig(**base)


def hold_twist2_default() -> HgptAdapter:
    """A real second teacher with TWIST2's gains: holds TWIST2's default pose (labels are exactly 0)."""
    meta = dataclasses.replace(
        twist2_metadata(), obs_terms=student_metadata(DistillConfig(), gpt_config()).obs_terms
    )
    meta = dataclasses.replace(meta, context_len=1, inference="single_frame")
    return HgptAdapter(meta, HoldDefaultPolicy())


@pytest.fixture(scope="module")
def motions(small_corpus: Path) -> CorpusMotions:
    return corpus_motions(small_corpus, "train", max_frames=20_000)


def test_corpus_motions_are_the_train_split(small_corpus: Path, motions: CorpusMotions) -> None:
    from hgpt_core.corpus_store import CorpusReader

    train = {e["entry_id"] for e in CorpusReader(small_corpus, "train").entries}
    test = {e["entry_id"] for e in CorpusReader(small_corpus, "test").entries}
    assert set(motions.entry_ids) <= train and not set(motions.entry_ids) & test
    assert motions.weights.sum() == pytest.approx(1.0) and (motions.weights > 0).all()
    assert motions.bank.fps == 50.0


def test_labels_come_from_each_envs_teacher(motions: CorpusMotions) -> None:
    # Two clusters: even clips -> TWIST2 (teacher 0), odd clips -> a default-pose holder with TWIST2's gains.
    m = dataclasses.replace(
        motions,
        frame_cluster=[np.full(len(fc), c % 2) for c, fc in enumerate(motions.frame_cluster)],
        num_clusters=2,
    )
    mix = TeacherMix([Twist2Adapter(), hold_twist2_default()], np.array([0, 1]))
    meta = student_metadata(DistillConfig(), gpt_config("S", "sliding_kv", n_layer=2))
    cfg = CollectConfig(num_envs=8, steps=40, steps_first=None, episode_steps=40, dr=False, progress=False)
    res = collect_round(m, meta, None, mix, 1.0, cfg, seed=3)
    assert set(res.episodes[:, 2]) == {0, 1}, "the seed should draw clips of both clusters"
    for off, n, cluster, teacher in res.episodes:
        assert teacher == cluster
        lab = res.labels[off : off + n]
        if teacher == 1:
            np.testing.assert_allclose(lab, 0.0, atol=1e-6)  # the holder's target is the student's default
        else:
            assert np.abs(lab).max() > 0.05  # TWIST2 moves the joints
    assert res.tokens.shape == (8 * 40, 161) and np.isfinite(res.tokens).all()


def test_loss_supervises_every_valid_position() -> None:
    torch.manual_seed(0)
    model = build_policy(gpt_config("S", "sliding_kv", n_layer=2))
    x, y = torch.randn(2, 12, 161), torch.randn(2, 12, 29)
    m = torch.ones(2, 12)
    m[1, 8:] = 0.0  # padding
    y.requires_grad_(True)
    sequence_loss(model, x, y, m, 1.0).backward()
    g = y.grad.abs().sum(-1)
    assert (g[0] > 0).all() and (g[1, :8] > 0).all()
    assert (g[1, 8:] == 0).all()


def test_sampler_semantics(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    tok = np.arange(100 * 3, dtype=np.float32).reshape(100, 3)
    lab = np.zeros((100, 29), np.float32)
    eps = np.array([[0, 70, 0, 0], [70, 30, 0, 0]])
    store.write_round(0, tok, lab, eps, {})
    (tmp_path / ".tmp-round-0001-1").mkdir()  # a collection killed before its rename
    store = TokenStore(tmp_path)
    assert store.rounds() == [0] and not list(tmp_path.glob(".tmp-*"))
    rng = np.random.default_rng(0)
    x, _, m = SequenceSampler([store.read_round(0)], 50, from_reset=True).sample(16, rng)
    for b in range(16):  # every sequence starts at an episode's first token
        assert x[b, 0, 0] in (0.0, 70 * 3.0)
        assert m[b].sum() == (50 if x[b, 0, 0] == 0 else 30)
    x, _, m = SequenceSampler([store.read_round(0)], 20, from_reset=False).sample(64, rng)
    starts = x[:, 0, 0] / 3
    assert len(set(starts.tolist())) > 5 and (m.sum(1) == 20).all()


@pytest.mark.slow
def test_student_trained_on_one_clip_beats_untrained(
    small_corpus: Path, motions: CorpusMotions, tmp_path
) -> None:
    """Two DAgger rounds on one clip (a few hundred iterations): it tracks that clip better than at init."""
    from hgpt_policy.runtime import Policy
    from hgpt_sim.env import EnvConfig, TrackingEnv
    from hgpt_sim.metrics import step_errors
    from hgpt_training.dagger import student_actuation

    one = int(np.argmax(motions.bank.lengths))
    clip = dataclasses.replace(
        motions,
        weights=np.eye(len(motions.weights))[one],
    )
    cfg = tiny_cfg(
        tmp_path / "run", small_corpus, rounds=2, iters_first=80, iters_per_round=60, batch_size=8, lr=1e-3
    )
    cfg = dataclasses.replace(cfg, collect=dataclasses.replace(cfg.collect, steps=100, episode_steps=100))
    tr = Trainer(cfg)
    untrained = {k: v.clone() for k, v in tr.model.state_dict().items()}
    import hgpt_training.distill as distill_mod

    orig = distill_mod.corpus_motions
    distill_mod.corpus_motions = lambda *a, **k: clip
    try:
        tr.run()
    finally:
        distill_mod.corpus_motions = orig

    def track_err(state_dict) -> float:
        model = build_policy(tr.arch)
        model.load_state_dict(state_dict)
        meta = tr.metadata()
        adapter = HgptAdapter(meta, Policy.from_model(model.eval(), meta))
        env = TrackingEnv(
            EnvConfig(
                num_envs=4,
                nthread=1,
                episode_frames=(100, 100),
                auto_reset=False,
                compute_obs=False,
                privileged_obs=False,
                seed=1,
            ),
            clip.bank,
            meta=meta,
            actuation=student_actuation(meta),
        )
        env.reset(clip_ids=np.full(4, one), start_frames=np.array([0, 50, 100, 150]))
        errs, alive = [], np.ones(4, bool)
        with torch.no_grad():
            for _ in range(100):
                res = env.step_targets(adapter.act(env.state, env.reference(1)))
                alive &= ~res.terminated.numpy()
                e = step_errors(env.state, env.reference())["mpjpe"]
                errs.append(np.where(alive, e, 1.0))  # a fallen env scores 1 rad per step
        return float(np.mean(errs))

    trained, init = track_err(tr.model.state_dict()), track_err(untrained)
    print(f"tracking error: trained {trained:.3f}, untrained {init:.3f}")
    assert trained < 0.8 * init


def _ddp_worker(rank: int, world: int, port: int, x, y, m, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_policy(gpt_config("S", "sliding_kv", n_layer=2))
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    half = slice(rank * 2, rank * 2 + 2)
    sequence_loss(ddp, x[half], y[half], m[half], 1.0).backward()
    if rank == 0:
        torch.save({k: p.grad for k, p in model.named_parameters()}, Path(out_dir) / "ddp.pt")
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_processes_give_the_single_process_gradient(tmp_path: Path) -> None:
    torch.manual_seed(1)
    x, y = torch.randn(4, 10, 161), torch.randn(4, 10, 29)
    m = torch.ones(4, 10)
    m[3, 6:] = 0.0
    port = 29500 + os.getpid() % 1000
    tmp.spawn(_ddp_worker, args=(2, port, x, y, m, str(tmp_path)), nprocs=2, join=True)
    torch.manual_seed(0)
    model = build_policy(gpt_config("S", "sliding_kv", n_layer=2))
    sequence_loss(model, x, y, m, 1.0).backward()
    ddp = torch.load(tmp_path / "ddp.pt")
    for k, p in model.named_parameters():
        torch.testing.assert_close(ddp[k], p.grad, rtol=1e-4, atol=1e-6)


class _Crash(Exception):
    pass


def test_resume_continues_identically(small_corpus: Path, motions, tmp_path: Path, monkeypatch) -> None:
    import hgpt_training.distill as distill_mod

    monkeypatch.setattr(distill_mod, "corpus_motions", lambda *a, **k: motions)
    a = Trainer(tiny_cfg(tmp_path / "a", small_corpus))
    a.run()

    class Crashing(Trainer):
        def save(self) -> None:  # dies right after the mid-round-1 checkpoint, as a SIGKILL would
            super().save()
            if self.round == 1 and self.phase == "train" and self.iter == 2:
                raise _Crash

    with pytest.raises(_Crash):
        Crashing(tiny_cfg(tmp_path / "b", small_corpus)).run()
    b = Trainer(tiny_cfg(tmp_path / "b", small_corpus))
    assert (b.round, b.phase, b.iter) == (1, "train", 2)
    b.run()
    for k, v in a.model.state_dict().items():
        torch.testing.assert_close(b.model.state_dict()[k], v, rtol=0, atol=0)
    assert a.store.num_tokens() == b.store.num_tokens()
    assert (tmp_path / "b" / "student.pt").is_file() and (tmp_path / "b" / "curve.png").is_file()
    # resuming with another recipe would train a mix no command describes: refused, naming what differs
    with pytest.raises(HgptError, match=r"another recipe \(lr: 0.0003 -> 0.001"):
        Trainer(tiny_cfg(tmp_path / "b", small_corpus, lr=1e-3))
    with pytest.raises(HgptError, match="collect"):
        Trainer(
            tiny_cfg(
                tmp_path / "b",
                small_corpus,
                collect=dataclasses.replace(tiny_cfg(a.run_dir, small_corpus).collect, dr=True),
            )
        )
    more = Trainer(
        tiny_cfg(tmp_path / "b", small_corpus, rounds=3, ckpt_every=3, threads=2)
    )  # bounds, placement
    assert (more.round, more.phase) == (2, "collect")


def test_export_round_trips_trained_weights(small_corpus: Path, motions, tmp_path: Path, monkeypatch) -> None:
    import hgpt_training.distill as distill_mod
    from hgpt_policy.export import export_policy, load_checkpoint
    from hgpt_policy.runtime import Policy

    monkeypatch.setattr(distill_mod, "corpus_motions", lambda *a, **k: motions)
    ckpt = Trainer(tiny_cfg(tmp_path / "run", small_corpus, rounds=1)).run()
    model, meta = load_checkpoint(ckpt)
    assert meta.training["trained_tokens"] > 0 and meta.inference == "sliding_kv"
    paths = export_policy(model, meta, tmp_path / "export", "student")
    rd = TokenStore(tmp_path / "run" / "tokens").read_round(0)
    off, n = (int(v) for v in rd.episodes[0, :2])
    tokens = np.asarray(rd.tokens[off : off + min(n, 40)])[None]
    ref = Policy.from_model(model, meta).run(tokens)
    ort = Policy.load(paths["kv_step"], backend="onnxruntime").run(tokens)
    np.testing.assert_allclose(ort, ref, atol=2e-4)
    assert np.abs(ref).max() > 1e-3  # trained outputs, not the near-zero init head


@pytest.mark.slow
def test_release_exports_quantises_evaluates_and_bundles(
    small_corpus: Path, motions, tmp_path: Path, monkeypatch
) -> None:
    import hgpt_training.distill as distill_mod
    import hgpt_training.release as release_mod
    from hgpt_core.corpus_store import load_manifest
    from hgpt_training.release import training_data

    monkeypatch.setattr(distill_mod, "corpus_motions", lambda *a, **k: motions)
    Trainer(tiny_cfg(tmp_path / "run", small_corpus, rounds=1)).run()
    monkeypatch.setattr(release_mod, "BUNDLE_DIR", tmp_path / "bundle")
    card = release_mod.release(
        release_mod.ReleaseConfig(
            run_dir=tmp_path / "run",
            corpus=small_corpus,
            max_clips=1,
            starts=1,
            max_seconds=2.0,
            quant_episodes=2,
            bundle=True,
            progress=False,
        )
    )
    overall = card["test_split"]["overall"]
    assert set(overall) == {"twist2", "hgpt_gpt_s.kv_step", "hgpt_gpt_s.kv_step.int8", "zero"}
    assert 0.0 < card["int8_action_error"]["rel"] < 0.1
    assert "| twist2 |" in card["table_md"]
    assert card["data"]["sources"] == training_data(load_manifest(small_corpus))
    bundled = sorted(p.name for p in (tmp_path / "bundle").iterdir())
    assert "CARD.md" in bundled and "card.json" in bundled
    assert len([b for b in bundled if b.endswith(".onnx")]) == 1


def test_device_auto_is_cuda_when_present_and_cuda_without_a_gpu_is_refused(monkeypatch) -> None:
    from hgpt_training.distill import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(HgptError, match="not a device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(HgptError, match="no CUDA device"):
            resolve_device("cuda")
    else:  # under torchrun, rank k's GPU
        monkeypatch.setenv("LOCAL_RANK", str(torch.cuda.device_count() - 1))
        assert resolve_device("cuda") == torch.device("cuda", torch.cuda.device_count() - 1)


@pytest.mark.slow
def test_one_script_trains_and_releases(small_corpus: Path, tmp_path: Path) -> None:
    """scripts/train_release.sh (what a GPU machine runs; here one CPU process): a tiny distillation, then
    the release with its card, from one command; --help is the distillation's, without training."""
    import json
    import subprocess

    root = Path(__file__).resolve().parents[2]
    tiny = [
        *("--rounds", "1", "--iters-first", "4", "--batch-size", "4", "--n-layer", "2", "--no-progress"),
        *("--collect.num-envs", "8", "--collect.steps", "60", "--collect.steps-first", "60"),
        *("--collect.episode-steps", "60", "--collect.no-dr", "--collect.no-progress"),
    ]
    env = {
        **os.environ,
        "HGPT_RELEASE_ARGS": "--max-clips 1 --starts 1 --max-seconds 2 --quant-episodes 2 --no-progress",
    }
    cmd = ["bash", str(root / "scripts/train_release.sh"), str(tmp_path / "run"), str(small_corpus), *tiny]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    card = json.loads((tmp_path / "run/release/card.json").read_text())
    assert card["training"]["rounds"] == 1 and card["arch"]["n_layer"] == 2
    assert {"twist2", "zero"} <= set(card["test_split"]["overall"]) and card["data"]["sources"]
    state = torch.load(tmp_path / "run/state.pt", weights_only=False)
    assert state["config"]["device"] == "auto" and state["round"] == 1
    mtime = (tmp_path / "run/student.pt").stat().st_mtime_ns
    helped = subprocess.run([*cmd[:4], "--help"], env=env, capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "--max-tokens" in helped.stdout  # options are hgpt train distill's
    assert (tmp_path / "run/student.pt").stat().st_mtime_ns == mtime
    short = subprocess.run(["bash", str(root / "scripts/train_release.sh")], capture_output=True, text=True)
    assert short.returncode == 2 and "RUN_DIR CORPUS" in short.stderr


def test_card_lists_the_training_data_and_flags_non_permissive_licences(small_corpus: Path) -> None:
    """The release card's data section: per source of the train split, licence and clips as in the
    manifest; a non-permissive source is named with what to do for permissive-only weights."""
    from hgpt_core.corpus_store import load_manifest
    from hgpt_training.release import _data_md, training_data

    manifest = load_manifest(small_corpus)
    rows = training_data(manifest)
    train = [e for e in manifest["entries"] if e["split"] == "train" and e["verdict"] == "accepted"]
    assert {r["source"] for r in rows} == {e["source"] for e in train}
    for r in rows:
        mine = [e for e in train if e["source"] == r["source"]]
        assert set(r) == {"source", "licence", "permissive", "clips", "duration_s"}, r
        assert r["clips"] == len({e["clip_id"] for e in mine}) > 0
        assert r["licence"] == mine[0]["licence"] and r["duration_s"] > 0
    md = _data_md({"corpus": str(small_corpus), "sources": rows})
    assert "Every training clip is under a permissive licence." in md
    restricted = rows[0]["source"]
    for e in manifest["entries"]:  # the same corpus, one source re-labelled non-commercial
        if e["source"] == restricted:
            e["licence"], e["permissive"] = "CC-BY-NC-4.0", False
    md = _data_md({"corpus": str(small_corpus), "sources": training_data(manifest)})
    assert f"{restricted} (CC-BY-NC-4.0)" in md and "--permissive-only" in md and "**no**" in md


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    """A missing corpus or run folder: one line naming it, exit 2, no traceback."""
    import subprocess
    import sys

    cases = [
        (
            ["distill", "--run-dir", str(tmp_path / "run"), "--corpus", str(tmp_path / "none")],
            "no manifest.json",
        ),
        (["release", "--run-dir", str(tmp_path / "missing")], "student.pt"),
    ]
    for args, needle in cases:
        r = subprocess.run(
            [sys.executable, "-m", "hgpt_bringup.cli", "train", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 2, r.stderr
        assert needle in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_fine_tune_starts_from_the_trained_student(
    small_corpus: Path, motions, tmp_path: Path, monkeypatch
) -> None:
    """--init-from: a fresh run begins with the given student's weights; another architecture is refused."""
    import hgpt_training.distill as distill_mod
    from hgpt_policy.export import load_checkpoint

    monkeypatch.setattr(distill_mod, "corpus_motions", lambda *a, **k: motions)
    ckpt = Trainer(tiny_cfg(tmp_path / "base", small_corpus, rounds=1)).run()
    trained = Trainer(tiny_cfg(tmp_path / "base", small_corpus, rounds=1)).model.state_dict()
    ft = Trainer(tiny_cfg(tmp_path / "ft", small_corpus, rounds=1, init_from=ckpt, seed=7))
    fresh = Trainer(tiny_cfg(tmp_path / "fresh", small_corpus, rounds=1, seed=7))
    for k, v in trained.items():
        torch.testing.assert_close(ft.model.state_dict()[k], v, rtol=0, atol=0)
    assert any(not torch.equal(fresh.model.state_dict()[k], v) for k, v in trained.items())
    # the lineage is in the fine-tune's metadata, and survives a resume
    base_tokens = load_checkpoint(ckpt)[1].training["collected_tokens"]
    ft_meta = load_checkpoint(ft.run())[1].training
    assert (
        ft_meta["init_from"]["path"] == str(ckpt) and ft_meta["init_from"]["collected_tokens"] == base_tokens
    )
    assert ft_meta["lineage_collected_tokens"] == base_tokens + ft_meta["collected_tokens"]
    resumed = Trainer(tiny_cfg(tmp_path / "ft", small_corpus, rounds=1, seed=7))  # no --init-from
    assert resumed.metadata().training["init_from"] == ft_meta["init_from"]
    assert "init_from" not in fresh.metadata().training
    from hgpt_training.release import _lineage_md

    line = _lineage_md(ft_meta)
    assert str(ckpt) in line and f"{ft_meta['lineage_collected_tokens']:,}" in line
    assert _lineage_md(load_checkpoint(ckpt)[1].training) == ""
    with pytest.raises(HgptError, match="architecture"):
        Trainer(tiny_cfg(tmp_path / "mlp", small_corpus, student="mlp", init_from=ckpt))
    with pytest.raises(HgptError, match="no such file"):
        Trainer(tiny_cfg(tmp_path / "none", small_corpus, init_from=tmp_path / "missing.pt"))


def test_no_progress_silences_the_collection_bars_too(
    small_corpus: Path, motions, tmp_path: Path, monkeypatch, capfd
) -> None:
    """``--no-progress`` (a log file, a Ray task) has no bar at all: the collection's bar follows it."""
    import hgpt_training.distill as distill_mod

    monkeypatch.setattr(distill_mod, "corpus_motions", lambda *a, **k: motions)
    cfg = tiny_cfg(tmp_path / "run", small_corpus, rounds=1)
    cfg = dataclasses.replace(cfg, collect=dataclasses.replace(cfg.collect, progress=True))
    Trainer(cfg).run()
    assert "collect beta" not in capfd.readouterr().err
    Trainer(dataclasses.replace(cfg, run_dir=tmp_path / "bars", progress=True)).run()
    assert "collect beta" in capfd.readouterr().err  # the bar is there when progress is on
