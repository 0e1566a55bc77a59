"""HME on a built corpus: train the autoencoder, embed, cluster, report (CLI: ``hgpt corpus hme``).

Reads top to bottom: setup (readers, sequences), PAE training (checkpointed), embedding, clustering, weights,
files (embedding.npz, clusters.json) and the report (:mod:`hgpt_training.hme_plots`). The config and result
types (HMEConfig, HMEResult) live in :mod:`hgpt_training.hme_config`, below both this module and the report.
A sequence is a segment of at most ``segment_s`` of one store entry (clip x time-warp factor).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import MiniBatchKMeans

from hgpt_core.corpus_store import CorpusReader
from hgpt_core.motion import atomic_write_bytes
from hgpt_training.hme import FEATURE_FIELDS, embed_segments, segments, train_pae
from hgpt_training.hme_cluster import (
    Standardizer,
    balanced_weights,
    cluster_checks,
    diversity_table,
    fit_clusters,
)
from hgpt_training.hme_config import HMEConfig, HMEResult


def sequence_records(reader: CorpusReader, segs: list[tuple[int, int, int]]) -> list[dict]:
    """One record per segment: its entry's manifest fields plus start/stop frames and an id."""
    return [
        {**reader.entries[i], "start": a, "stop": b, "seq_id": f"{reader.entries[i]['entry_id']}[{a}:{b}]"}
        for i, a, b in segs
    ]


def run_hme(cfg: HMEConfig) -> HMEResult:
    """Train (or resume) the PAE, embed every sequence, cluster, weigh, write files and the report."""
    t0 = time.perf_counter()
    out = Path(cfg.out or Path(cfg.corpus) / "hme")
    out.mkdir(parents=True, exist_ok=True)
    model, state = train_pae(
        CorpusReader(cfg.corpus, "train", FEATURE_FIELDS), cfg.pae, out / "pae.pt", cfg.seed, cfg.progress
    )
    reader = CorpusReader(cfg.corpus, "all", FEATURE_FIELDS)
    segs = segments(reader.lengths, int(round(cfg.segment_s * reader.fps)))
    seqs = sequence_records(reader, segs)
    x = embed_segments(model, state, reader, segs, cfg.embed_stride)
    train = np.array([s["split"] == "train" for s in seqs])
    z = Standardizer.fit(x[train])(x)
    km = fit_clusters(z[train], cfg.clusters, cfg.method, cfg.seed)
    labels = km.predict(z)
    cfg = dataclasses.replace(cfg, method="minibatch" if isinstance(km, MiniBatchKMeans) else "kmeans")
    weights = np.zeros(len(labels))
    lengths = np.array([s["stop"] - s["start"] for s in seqs])
    weights[train] = balanced_weights(labels[train], lengths[train])
    checks = cluster_checks(seqs, z, train, cfg.check_ks, cfg.method, cfg.seed)
    result = HMEResult(
        seqs,
        x,
        z,
        labels,
        weights,
        diversity_table(seqs, x, cfg.eps),
        checks,
        list(state["losses"]),
        0.0,
        out,
    )
    save_outputs(result, cfg)
    result.seconds = time.perf_counter() - t0
    from hgpt_training.hme_plots import write_report

    write_report(result, cfg, reader.manifest)
    return result


def save_outputs(r: HMEResult, cfg: HMEConfig) -> None:
    """embedding.npz (arrays) and clusters.json (sequence -> cluster, weight) for expert training."""
    ids = np.array([s["seq_id"] for s in r.seqs])
    np.savez(r.out / "embedding.npz", seq_ids=ids, x=r.x, z=r.z, labels=r.labels, weights=r.weights)
    doc = {
        "clusters": int(r.labels.max() + 1) if len(r.labels) else 0,
        "method": cfg.method,
        "corpus": str(cfg.corpus),
        "segment_s": cfg.segment_s,
        "sequences": [
            {
                "entry_id": s["entry_id"],
                "start": s["start"],
                "stop": s["stop"],
                "split": s["split"],
                "cluster": int(c),
                "weight": float(w),
            }
            for s, c, w in zip(r.seqs, r.labels, r.weights, strict=True)
        ],
    }
    atomic_write_bytes(r.out / "clusters.json", json.dumps(doc, indent=1).encode())


def cluster_sampling(hme_dir: Path, reader: CorpusReader) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Balanced sampling of ``reader``'s entries from an HME run's clusters.json.

    Returns ranges (R, 3) of (reader entry index, start, stop) frames, their weights (R,) (each cluster the
    same total, sequences within a cluster by length; renormalised over the entries the reader has) and their
    clusters (R,). Pass ``ranges`` and ``weights`` to :meth:`CorpusReader.sample`.
    """
    doc = json.loads((Path(hme_dir) / "clusters.json").read_text())
    index = {e["entry_id"]: i for i, e in enumerate(reader.entries)}
    seqs = [s for s in doc["sequences"] if s["entry_id"] in index and s["weight"] > 0]
    if not seqs:
        raise ValueError(f"{hme_dir}/clusters.json has no weighted sequence of this reader's entries")
    ranges = np.array([(index[s["entry_id"]], s["start"], s["stop"]) for s in seqs], dtype=np.int64)
    weights = np.array([s["weight"] for s in seqs])
    return ranges, weights / weights.sum(), np.array([s["cluster"] for s in seqs])
