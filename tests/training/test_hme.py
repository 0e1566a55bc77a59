"""HME: autoencoder shapes, periodic parameters, diversity metrics, weights, resume, real-data clusters."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from hgpt_core.corpus_store import CorpusReader
from hgpt_training.hme import (
    FEATURE_FIELDS,
    NUM_FEATURES,
    PAEConfig,
    PeriodicAutoencoder,
    embed_segments,
    segments,
    train_pae,
)
from hgpt_training.hme_cluster import (
    Standardizer,
    balanced_weights,
    category_groups,
    co_cluster_rate,
    fit_clusters,
    gstd,
    log_volume,
)
from hgpt_training.hme_report import HMEConfig, cluster_sampling, run_hme, sequence_records

TINY = PAEConfig(window=32, root_channels=2, hidden=16, kernel=5, epochs=2, batch=16, steps_per_epoch=4)
M = 23 + 2  # latent channels: one per body joint + the root ones


def test_pae_shapes_and_whole_sequence_encoding_is_exact():
    torch.manual_seed(0)
    model = PeriodicAutoencoder(NUM_FEATURES, TINY, 50.0)
    c = model.context
    x = torch.randn(3, NUM_FEATURES, TINY.window + 2 * c)
    y, p = model(x)
    assert y.shape == (3, NUM_FEATURES, TINY.window)
    assert model.latent_channels == M and all(v.shape == (3, M) for v in p.values())
    seq = torch.randn(1, NUM_FEATURES, 200)
    with torch.no_grad():
        z = model.encoder(seq)[0]  # (M, 200 - 2c)
        z_win = model.encoder(seq[..., 50 : 50 + TINY.window + 2 * c])[0]
    torch.testing.assert_close(z[:, 50 : 50 + TINY.window], z_win)


def test_periodic_parameters_of_a_sinusoid():
    model = PeriodicAutoencoder(NUM_FEATURES, PAEConfig(window=64), 50.0)
    t = torch.arange(64) / 50.0
    f0 = 3 * 50.0 / 64  # on an FFT bin: no leakage
    z = torch.zeros(1, model.latent_channels, 64)
    z[0, 0] = 0.7 * torch.sin(2 * math.pi * f0 * t) + 0.2
    z[0, 1] = 1.5 * torch.cos(2 * math.pi * 2 * f0 * t)
    p = model.periodic(z)
    torch.testing.assert_close(p["amp"][0, :3], torch.tensor([0.7, 1.5, 0.0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(p["freq"][0, :2], torch.tensor([f0, 2 * f0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(p["offset"][0, :2], torch.tensor([0.2, 0.0]), atol=1e-5, rtol=0)


def test_diversity_metrics_on_hand_made_cases():
    d, eps = 6, 1e-6
    same = np.tile(np.arange(d, dtype=float), (50, 1))  # identical sequences
    assert log_volume(same, eps) == pytest.approx(0.5 * d * math.log(eps))
    assert gstd(same) == 0.0
    x = np.random.default_rng(0).standard_normal((20000, d)) * [1, 2, 3, 1, 2, 3]
    assert gstd(x) == pytest.approx(6 ** (1 / 3), rel=0.02)  # (1*2*3)^(2/6)
    assert log_volume(x, 0.0) == pytest.approx(0.5 * math.log(36.0**2), abs=0.05)  # det = (1*4*9)^2
    assert gstd(3 * x) == pytest.approx(3 * gstd(x))
    assert log_volume(3 * x, 0.0) == pytest.approx(log_volume(x, 0.0) + d * math.log(3))
    wider = np.concatenate([x, x + 5.0])
    assert log_volume(wider) > log_volume(x) and gstd(wider) > gstd(x)


def test_balanced_weights():
    labels = np.array([0, 0, 0, 1, 2, 2])
    lengths = np.array([100, 300, 600, 50, 10, 30])
    w = balanced_weights(labels, lengths)
    assert w.sum() == pytest.approx(1.0)
    for c in (0, 1, 2):
        assert w[labels == c].sum() == pytest.approx(1 / 3)
    assert w[:3] == pytest.approx(np.array([0.1, 0.3, 0.6]) / 3)
    assert co_cluster_rate(labels, np.array([0, 1, 2]), np.array([3, 4])) == 0.0
    assert co_cluster_rate(labels, np.array([0, 1, 2]), np.array([0, 1, 2])) == 1.0
    clips = np.array(["a", "a", "b", "c", "d", "d"])  # pairs inside one clip do not count
    assert co_cluster_rate(labels, np.array([0, 1, 2, 3]), np.array([0, 1, 2, 3]), clips) == pytest.approx(
        4 / 10
    )


def test_training_resumes_to_the_same_weights(small_corpus, tmp_path):
    reader = CorpusReader(small_corpus, "train", FEATURE_FIELDS)
    full, s_full = train_pae(reader, TINY, tmp_path / "a.pt", seed=1, progress=False)
    train_pae(reader, PAEConfig(**{**TINY.__dict__, "epochs": 1}), tmp_path / "b.pt", seed=1, progress=False)
    ck = torch.load(tmp_path / "b.pt", weights_only=False)
    assert ck["epoch"] == 1
    ck["key"] = s_full["key"]  # the same run, stopped after epoch 1
    torch.save(ck, tmp_path / "b.pt")
    resumed, s_res = train_pae(reader, TINY, tmp_path / "b.pt", seed=1, progress=False)
    assert s_res["losses"][0] == s_full["losses"][0] and len(s_res["losses"]) == 2
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    reader = CorpusReader(small_corpus, "all", FEATURE_FIELDS)
    segs = segments(reader.lengths, 500)
    x = embed_segments(full, s_full, reader, segs, stride=16)
    assert x.shape == (len(segs), 4 * M) and np.isfinite(x).all()
    assert len(segs) > len(reader)  # basic_walk (39 s) and its copies are cut into <= 10 s segments


def test_segments_cover_each_entry_once():
    segs = segments(np.array([100, 500, 501, 1234]), 500)
    assert segs == [
        (0, 0, 100),
        (1, 0, 500),
        (2, 0, 250),
        (2, 250, 501),
        (3, 0, 411),
        (3, 411, 823),
        (3, 823, 1234),
    ]


def test_walks_share_clusters_more_than_walks_and_kicks(walk_kick_corpus, tmp_path):
    """Real data: GMT/ASAP walks and GMT/ASAP/PBHC kicks at original speed, HME 3 short epochs, small K.

    Robust: co-clustering rates over pairs of sequences from different clips, averaged over K in {2, 3, 4}
    and five K-Means seeds; and a walk's nearest sequence of another clip is mostly a walk (chance ~0.5).
    Measured over eight autoencoder seeds: walk-walk minus walk-kick 0.12-0.31, nearest-is-walk 0.89-1.
    """
    cfg = PAEConfig(epochs=3, steps_per_epoch=20, batch=32)
    reader = CorpusReader(walk_kick_corpus, "all", FEATURE_FIELDS)
    model, state = train_pae(reader, cfg, tmp_path / "pae.pt", progress=False)
    segs = segments(reader.lengths, 500)
    seqs = sequence_records(reader, segs)
    z = Standardizer.fit(x := embed_segments(model, state, reader, segs))(x)
    clips = np.array([s["clip_id"] for s in seqs])
    walk, kick = category_groups(seqs)
    assert len(set(clips[walk])) == 6 and len(set(clips[kick])) == 6
    ww, wk = [], []
    for k in (2, 3, 4):
        for seed in range(5):
            labels = fit_clusters(z, k, "kmeans", seed).predict(z)
            ww.append(co_cluster_rate(labels, walk, walk, clips))
            wk.append(co_cluster_rate(labels, walk, kick, clips))
    assert np.mean(ww) > np.mean(wk) + 0.08, (np.mean(ww), np.mean(wk))
    d = np.linalg.norm(z[walk][:, None] - z[np.r_[walk, kick]][None], axis=-1)
    d[clips[walk][:, None] == clips[np.r_[walk, kick]][None]] = np.inf  # another clip's nearest sequence
    assert np.mean(np.argmin(d, axis=1) < len(walk)) >= 2 / 3


def test_run_hme_writes_report_and_balanced_weights(small_corpus, tmp_path):
    cfg = HMEConfig(
        corpus=small_corpus, out=tmp_path / "hme", pae=TINY, clusters=3, check_ks=(2,), progress=False
    )
    r = run_hme(cfg)
    for name in (
        "report.md",
        "pca_source.png",
        "pca_cluster.png",
        "cluster_sizes.png",
        "diversity.png",
        "pae.pt",
    ):
        assert (tmp_path / "hme" / name).stat().st_size > 0, name
    doc = json.loads((tmp_path / "hme/clusters.json").read_text())
    train = [v for v in doc["sequences"] if v["split"] == "train"]
    assert sum(v["weight"] for v in train) == pytest.approx(1.0)
    assert {v["cluster"] for v in train} == {0, 1, 2}
    assert all(v["weight"] == 0.0 for v in doc["sequences"] if v["split"] != "train")
    assert len(doc["sequences"]) == len(r.seqs) and all(
        v["stop"] - v["start"] <= 500 for v in doc["sequences"]
    )
    again = run_hme(dataclasses.replace(cfg, out=tmp_path / "hme2"))  # from scratch: same seed, same result
    np.testing.assert_array_equal(again.x, r.x)
    assert (tmp_path / "hme2/clusters.json").read_bytes() == (tmp_path / "hme/clusters.json").read_bytes()
    train_reader = CorpusReader(small_corpus, "train", FEATURE_FIELDS)
    ranges, w, clusters = cluster_sampling(tmp_path / "hme", train_reader)
    assert w.sum() == pytest.approx(1.0) and len(ranges) == len(train)
    for c in set(clusters):  # balanced: every cluster the same probability
        assert w[clusters == c].sum() == pytest.approx(1 / len(set(clusters)))
    longest = ranges[[np.argmax(ranges[:, 2] - ranges[:, 1])]]
    (i, a, b) = longest[0]
    assert b - a > 100
    batch = train_reader.sample(16, 32, np.random.default_rng(0), weights=[1.0], ranges=longest)
    full = train_reader.frames(int(i))["joint_pos"]
    starts = [
        next(s for s in range(len(full) - 31) if np.array_equal(x, full[s : s + 32]))
        for x in batch["joint_pos"]
    ]
    assert all(a <= s < b for s in starts) and len(set(starts)) > 1
    report = (tmp_path / "hme/report.md").read_text()
    assert "holosoma/sub3_largebox_003_mj | object_interaction" in report
    assert [d["group"] for d in r.diversity][-1] == "ALL"


def test_kmeans_variants_recover_separated_groups(monkeypatch):
    import hgpt_training.hme_cluster as hc

    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(3), 200)
    z = rng.standard_normal((600, 8)) * 0.3 + np.eye(8)[truth] * 5.0
    for method in ("kmeans", "minibatch", "auto"):
        labels = fit_clusters(z, 3, method, 0).predict(z)
        assert len({(t, p) for t, p in zip(truth, labels, strict=True)}) == 3, method  # a bijection
    assert type(fit_clusters(z, 3, "auto")).__name__ == "KMeans"
    monkeypatch.setattr(hc, "MINIBATCH_ABOVE", 100)
    assert type(fit_clusters(z, 3, "auto")).__name__ == "MiniBatchKMeans"
    with pytest.raises(ValueError, match="unknown clustering method"):
        fit_clusters(z, 3, "dbscan")


def test_cluster_checks_on_separated_walks_and_kicks_with_subsampling(monkeypatch):
    import hgpt_training.hme_cluster as hc

    rng = np.random.default_rng(1)
    seqs = [{"clip_id": f"gmt/walk_{i}", "source": "gmt", "factor": 1.0} for i in range(50)]
    seqs += [{"clip_id": f"asap/kick_{i}", "source": "asap", "factor": 1.0} for i in range(30)]
    seqs += [{"clip_id": "gmt/walk_0", "source": "gmt", "factor": 1.25}]  # time-warped copies are left out
    z = rng.standard_normal((81, 6)) * 0.2
    z[50:80] += 4.0
    monkeypatch.setattr(hc, "CHECK_MAX", 10)
    (row,) = hc.cluster_checks(seqs, z, np.ones(81, bool), (2,), "kmeans", 0)
    assert (row["walks"], row["kicks"]) == (10, 10)
    assert (row["walk_walk"], row["kick_kick"], row["walk_kick"], row["nearest_walk"]) == (1.0, 1.0, 0.0, 1.0)
