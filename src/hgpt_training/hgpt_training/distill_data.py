"""Data of distillation: corpus clips as env references, and the store of teacher-labelled tokens.

* :func:`corpus_motions`: entries of one corpus split -> a :class:`~hgpt_sim.references.MotionBank`, each
  entry's balanced sampling weight (HME clusters, each cluster the same total) and, per entry, the cluster of
  every frame (which teacher labels an env depends on the cluster its episode started in).
* :class:`TokenStore`: DAgger's aggregate. One folder per collection round (``round-0003/``) with
  ``tokens.npy`` (M, obs_dim) float32, ``labels.npy`` (M, 29) float32 (teacher raw actions in the student's
  action space), ``episodes.npy`` (E, 4) int64 rows ``(offset, length, cluster, teacher)``: every episode
  starts at an env reset, so a sequence from its first token is exactly what a deployed policy sees. A round
  is written to a temporary folder and renamed, so a killed collection leaves no half round; arrays are read
  memory-mapped.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hgpt_core.errors import HgptError
from hgpt_core.motion import MotionClip
from hgpt_core.reference import ReferenceMotion
from hgpt_sim.references import MotionBank

ROUND_PREFIX = "round-"


@dataclass
class CorpusMotions:
    """A corpus split as env references.

    Attributes:
        bank: One clip per corpus entry.
        weights: Sampling weight per clip (sums to 1), (C,).
        frame_cluster: Per clip, the HME cluster of each frame (-1 outside any sequence), list of (T_c,).
        entry_ids: Corpus entry ids, (C,).
        num_clusters: Number of clusters (1 without HME).
    """

    bank: MotionBank
    weights: np.ndarray
    frame_cluster: list[np.ndarray]
    entry_ids: tuple[str, ...]
    num_clusters: int

    def clusters_at(self, clip_ids: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Cluster of each env's (clip, frame), (N,) (frames between sequences: the nearest one's)."""
        out = np.empty(len(clip_ids), dtype=np.int64)
        for i, (c, f) in enumerate(zip(clip_ids, frames, strict=True)):
            fc = self.frame_cluster[int(c)]
            out[i] = fc[min(int(f), len(fc) - 1)]
        return out


def corpus_motions(
    corpus: str | Path,
    split: str = "train",
    hme_dir: str | Path | None = None,
    max_frames: int | None = None,
    min_frames: int = 50,
    seed: int = 0,
) -> CorpusMotions:
    """Load a corpus split as references (FK of every frame) with HME-balanced clip weights.

    Args:
        corpus: Built corpus folder (``hgpt corpus all``).
        split: ``train`` for training; evaluation reads ``test``.
        hme_dir: HME folder with clusters.json (default ``<corpus>/hme`` when present; else one cluster,
            weights by length).
        max_frames: Keep a weighted random subset of entries up to this many frames (memory; None: all).
        min_frames: Skip entries shorter than this (a DAgger episode needs room).
        seed: Seed of the subset draw.
    """
    from hgpt_core.corpus_store import CorpusReader

    reader = CorpusReader(corpus, split, fields=("root_pos", "root_quat", "joint_pos"))
    if len(reader) == 0:
        raise HgptError(f"corpus {corpus} has no accepted '{split}' entries")
    lengths = reader.lengths
    hme = Path(hme_dir) if hme_dir is not None else Path(corpus) / "hme"
    frame_cluster = [np.zeros(n, dtype=np.int64) for n in lengths]
    entry_w = lengths.astype(np.float64)
    num_clusters = 1
    ranges = None
    if (hme / "clusters.json").is_file():
        from hgpt_training.hme_report import cluster_sampling

        try:
            ranges, w, clusters = cluster_sampling(hme, reader)
        except ValueError:  # HME embeds the train split: other splits have no clusters (one, by length)
            ranges = None
    if ranges is not None:
        num_clusters = int(json.loads((hme / "clusters.json").read_text())["clusters"])
        entry_w = np.zeros(len(lengths))
        for fc in frame_cluster:
            fc[:] = -1
        for (e, s, t), wi, c in zip(ranges, w, clusters, strict=True):
            entry_w[e] += wi
            frame_cluster[e][s:t] = c
        for fc in frame_cluster:  # frames between sequences take the nearest sequence's cluster
            known = np.flatnonzero(fc >= 0)
            if len(known) == 0:
                fc[:] = 0
            elif len(known) < len(fc):
                nearest = known[np.clip(np.searchsorted(known, np.arange(len(fc))), 0, len(known) - 1)]
                fc[:] = fc[nearest]
    keep = np.flatnonzero((lengths >= min_frames) & (entry_w > 0))
    if max_frames is not None and lengths[keep].sum() > max_frames:
        rng = np.random.default_rng(seed)
        order = rng.choice(keep, size=len(keep), replace=False, p=entry_w[keep] / entry_w[keep].sum())
        cum = np.cumsum(lengths[order])
        keep = np.sort(order[: max(1, int(np.searchsorted(cum, max_frames)))])
    if len(keep) == 0:
        raise HgptError(f"no '{split}' entry of {corpus} has {min_frames} frames and a sampling weight")
    refs = []
    for i in keep:
        cols = reader.frames(int(i))
        clip = MotionClip(
            cols["root_pos"], cols["root_quat"], cols["joint_pos"], reader.fps, reader.entries[i]["entry_id"]
        )
        refs.append(ReferenceMotion.from_clip(clip, fps=reader.fps))
    w = entry_w[keep]
    return CorpusMotions(
        bank=MotionBank(refs),
        weights=w / w.sum(),
        frame_cluster=[frame_cluster[i] for i in keep],
        entry_ids=tuple(reader.entries[i]["entry_id"] for i in keep),
        num_clusters=num_clusters,
    )


@dataclass
class Round:
    """One collection round, memory-mapped. Shapes: tokens (M, D), labels (M, 29), episodes (E, 4)."""

    index: int
    tokens: np.ndarray
    labels: np.ndarray
    episodes: np.ndarray
    info: dict


class TokenStore:
    """Teacher-labelled tokens on disk, one folder per DAgger round (see module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob(".tmp-*"):  # a collection killed before its rename
            shutil.rmtree(stale, ignore_errors=True)

    def rounds(self) -> list[int]:
        """Indices of the complete rounds, ascending."""
        return [_round_index(d) for d in complete_round_dirs(self.root)]

    def write_round(
        self, index: int, tokens: np.ndarray, labels: np.ndarray, episodes: np.ndarray, info: dict
    ) -> Path:
        """Write round ``index`` atomically (temporary folder, fsync, rename)."""
        final = self.root / f"{ROUND_PREFIX}{index:04d}"
        if final.exists():
            raise HgptError(f"{final} exists; rounds are written once")
        tmp = self.root / f".tmp-{ROUND_PREFIX}{index:04d}-{os.getpid()}"
        tmp.mkdir()
        for name, arr in (("tokens", tokens), ("labels", labels), ("episodes", episodes)):
            with open(tmp / f"{name}.npy", "wb") as f:
                np.save(f, np.ascontiguousarray(arr))
                f.flush()
                os.fsync(f.fileno())
        (tmp / "info.json").write_text(json.dumps(info, indent=1, sort_keys=True))
        os.replace(tmp, final)
        return final

    def read_round(self, index: int) -> Round:
        return read_round_dir(self.root / f"{ROUND_PREFIX}{index:04d}")

    def num_tokens(self) -> int:
        return sum(round_token_counts(self.root))


def _round_index(d: Path) -> int:
    return int(d.name.removeprefix(ROUND_PREFIX))


def complete_round_dirs(root: str | Path) -> list[Path]:
    """Folders of the complete rounds (``info.json`` written last) of the store at ``root``, in round order.
    Read-only: unlike opening a :class:`TokenStore` (which clears temporary folders), safe on a store another
    process is writing."""
    dirs = [d for d in Path(root).glob(f"{ROUND_PREFIX}*") if (d / "info.json").is_file()]
    return sorted(dirs, key=_round_index)


def read_round_dir(d: Path) -> Round:
    """One complete round folder, tokens and labels memory-mapped."""
    return Round(
        _round_index(d),
        np.load(d / "tokens.npy", mmap_mode="r"),
        np.load(d / "labels.npy", mmap_mode="r"),
        np.load(d / "episodes.npy"),
        json.loads((d / "info.json").read_text()),
    )


def round_token_counts(root: str | Path) -> list[int]:
    """Tokens of each complete round of the store at ``root``, in round order (read-only, as
    :func:`complete_round_dirs`)."""
    return [int(np.load(d / "episodes.npy")[:, 1].sum()) for d in complete_round_dirs(root)]


class SequenceSampler:
    """Random training sequences from the aggregate of rounds.

    ``from_reset=True`` (``sliding_kv``, TCN, MLPs): each sequence is an episode's first ``length`` tokens,
    exactly what the deployed policy has seen at those steps. ``from_reset=False`` (``window``): a window of
    ``length`` tokens at a uniform position, positions 0..length-1 (the paper's training of the window model).
    Episodes are drawn with probability proportional to the tokens they contribute. Shorter sequences are
    zero-padded at the end with mask 0 (causal models: padding never reaches a real position).

    Args:
        rounds: Rounds to sample from (all of the aggregate).
        length: Sequence length in tokens.
        from_reset: See above.
    """

    def __init__(self, rounds: list[Round], length: int, from_reset: bool) -> None:
        if not rounds:
            raise HgptError("no collected round to train on")
        self.rounds, self.length, self.from_reset = rounds, length, from_reset
        self.index = np.concatenate(
            [
                np.stack([np.full(len(r.episodes), k), np.arange(len(r.episodes))], 1)
                for k, r in enumerate(rounds)
            ]
        )
        ep_len = np.concatenate([r.episodes[:, 1] for r in rounds])
        self.ep_len = ep_len
        w = np.minimum(ep_len, length) if from_reset else ep_len
        self.p = w / w.sum()

    @property
    def tokens(self) -> int:
        return int(self.ep_len.sum())

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """tokens (B, L, D) float32, labels (B, L, 29) float32, mask (B, L) float32."""
        pick = rng.choice(len(self.index), size=batch, p=self.p)
        d = self.rounds[0].tokens.shape[1]
        a = self.rounds[0].labels.shape[1]
        x = np.zeros((batch, self.length, d), np.float32)
        y = np.zeros((batch, self.length, a), np.float32)
        m = np.zeros((batch, self.length), np.float32)
        for b, j in enumerate(pick):
            r = self.rounds[int(self.index[j, 0])]
            off, n = (int(v) for v in r.episodes[self.index[j, 1], :2])
            start = 0 if self.from_reset or n <= self.length else int(rng.integers(0, n - self.length + 1))
            k = min(self.length, n - start)
            x[b, :k] = r.tokens[off + start : off + start + k]
            y[b, :k] = r.labels[off + start : off + start + k]
            m[b, :k] = 1.0
        return x, y, m
