"""An expert's episodes: one HME cluster's frame ranges of the corpus TRAIN split (Humanoid-GPT §3.2),
with the cluster's balanced sampling weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hgpt_core.errors import HgptError
from hgpt_core.motion import MotionClip
from hgpt_core.reference import ReferenceMotion
from hgpt_sim.references import MotionBank
from hgpt_training.distill_data import CorpusMotions


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
    from hgpt_core.corpus_store import CorpusReader

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
