"""The corpus store: Arrow IPC shards (one record batch, float32 fixed-size-list columns) + manifest.json.

Shards are uncompressed Arrow IPC files, so a reader memory-maps them and gets numpy views without copying:
training streams windows of T frames while the OS pages in only what it touches. One row = one frame at
the control rate; the manifest gives each entry's shard, row offset and length.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from hgpt_core.errors import HgptError
from hgpt_core.g1 import NUM_JOINTS
from hgpt_core.motion import MotionClip, atomic_write

MANIFEST = "manifest.json"
STORE_FORMAT = "hgpt_corpus"
STORE_VERSION = 1
COLUMNS: dict[str, int] = {
    "root_pos": 3,  # [m], world, z up
    "root_quat": 4,  # wxyz
    "joint_pos": NUM_JOINTS,  # [rad], G1_JOINT_NAMES order
    "root_lin_vel": 3,  # [m/s], world
    "root_ang_vel": 3,  # [rad/s], world
    "joint_vel": NUM_JOINTS,  # [rad/s]
}
SCHEMA = pa.schema(
    [pa.field(name, pa.list_(pa.float32(), width), nullable=False) for name, width in COLUMNS.items()],
    metadata={"format": STORE_FORMAT, "version": str(STORE_VERSION)},
)


def clip_columns(clip: MotionClip) -> dict[str, np.ndarray]:
    """The store's columns of a clip, float32. Shape: (T, width) each."""
    lin, ang, jv = clip.velocities()
    arrays = (clip.root_pos, clip.root_quat, clip.joint_pos, lin, ang, jv)
    return {name: np.ascontiguousarray(a, dtype=np.float32) for name, a in zip(COLUMNS, arrays, strict=True)}


def concat_columns(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Row-wise concatenation of column dicts (an empty list gives zero rows)."""
    return {
        name: np.concatenate([p[name] for p in parts]) if parts else np.zeros((0, w), np.float32)
        for name, w in COLUMNS.items()
    }


def write_arrow(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Write columns as one record batch, atomically (temp file in the folder + rename)."""
    arrays = []
    for name, width in COLUMNS.items():
        a = np.ascontiguousarray(columns[name], dtype=np.float32)
        assert a.ndim == 2 and a.shape[1] == width, (name, a.shape)
        arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(a.reshape(-1)), width))
    batch = pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)

    def write(f) -> None:
        with pa.ipc.new_file(f, SCHEMA) as writer:  # shards are read by other users' training jobs: 0644
            writer.write_batch(batch)

    atomic_write(path, write)


def map_arrow(path: Path) -> dict[str, np.ndarray]:
    """Memory-map a store file: read-only numpy views (no copy) of every column. Shape: (rows, width)."""
    source = pa.memory_map(str(path), "r")
    reader = pa.ipc.open_file(source)
    if reader.schema.remove_metadata() != SCHEMA.remove_metadata():
        raise HgptError(f"{path}: not an hgpt corpus shard (schema {reader.schema})")
    if reader.num_record_batches == 0:
        return {n: np.zeros((0, w), np.float32) for n, w in COLUMNS.items()}
    assert reader.num_record_batches == 1, f"{path}: expected one record batch"
    batch = reader.get_batch(0)
    out = {}
    for name, width in COLUMNS.items():
        values = batch.column(name).flatten().to_numpy(zero_copy_only=True)
        out[name] = values.reshape(-1, width)
    return out


def load_manifest(root: Path) -> dict:
    """The manifest of a built corpus."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise HgptError(f"{root}: no {MANIFEST}; build the corpus first (hgpt corpus build)")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != STORE_FORMAT or manifest.get("version") != STORE_VERSION:
        raise HgptError(
            f"{path}: unsupported corpus format {manifest.get('format')} v{manifest.get('version')}"
        )
    return manifest


@dataclass(frozen=True)
class Window:
    """T consecutive frames of one entry: ``columns[name]`` has shape (T, width)."""

    entry: int
    start: int
    columns: dict[str, np.ndarray]


class CorpusReader:
    """Stream windows of a built corpus from memory-mapped shards.

    Args:
        root: Corpus folder (with manifest.json).
        split: ``train``, ``val``, ``test`` or ``all``.
        fields: Columns to read (default all of ``COLUMNS``).
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", fields: tuple[str, ...] | None = None):
        self.root = Path(root)
        self.manifest = load_manifest(self.root)
        self.fields = tuple(fields or COLUMNS)
        bad = sorted(set(self.fields) - set(COLUMNS))
        if bad:
            raise HgptError(f"unknown corpus field(s) {bad}; valid: {list(COLUMNS)}")
        splits = ("train", "val", "test")
        if split not in (*splits, "all"):
            raise HgptError(f"unknown split '{split}'; valid: {[*splits, 'all']}")
        self.fps = float(self.manifest["fps"])
        self.entries = [
            e
            for e in self.manifest["entries"]
            if e["verdict"] == "accepted" and (split == "all" or e["split"] == split)
        ]
        self._shards: dict[str, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def lengths(self) -> np.ndarray:
        """Frames per entry. Shape: (num_entries,)."""
        return np.array([e["frames"] for e in self.entries], dtype=np.int64)

    def _shard(self, name: str) -> dict[str, np.ndarray]:
        if name not in self._shards:
            self._shards[name] = map_arrow(self.root / name)
        return self._shards[name]

    def frames(self, i: int, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
        """Frames ``start:stop`` of entry ``i`` as read-only views. Shape: (T, width) per field."""
        e = self.entries[i]
        stop = e["frames"] if stop is None else stop
        if not 0 <= start <= stop <= e["frames"]:
            raise IndexError(f"frames {start}:{stop} outside entry {e['entry_id']} of {e['frames']} frames")
        cols = self._shard(e["shard"])
        rows = slice(e["offset"] + start, e["offset"] + stop)
        return {f: cols[f][rows] for f in self.fields}

    def iter_windows(self, length: int, stride: int | None = None) -> Iterator[Window]:
        """Every window of ``length`` frames, ``stride`` apart, entry by entry (shorter entries skipped)."""
        stride = stride or length
        for i, e in enumerate(self.entries):
            for start in range(0, e["frames"] - length + 1, stride):
                yield Window(i, start, self.frames(i, start, start + length))

    def sample(
        self,
        batch: int,
        length: int,
        rng: np.random.Generator,
        weights: np.ndarray | None = None,
        ranges: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Random windows (copies). Shape: (B, T, width).

        Without ``ranges``: an entry drawn with ``weights`` (default: its length), a uniform start in it.
        With ``ranges`` (R, 3) of (entry, start, stop) rows, e.g. HME sequences (:func:`hgpt_training.
        hme_report.cluster_sampling`): a range drawn with ``weights`` (R,), a window starting inside it
        (it may run past ``stop`` into the rest of the entry). Entries or ranges too short are never drawn.
        """
        lengths = self.lengths
        if ranges is None:
            ranges = np.stack([np.arange(len(lengths)), np.zeros_like(lengths), lengths], axis=1)
            weights = lengths if weights is None else weights
        ranges = np.asarray(ranges, dtype=np.int64).reshape(-1, 3)
        w = np.ones(len(ranges)) if weights is None else np.asarray(weights, dtype=np.float64)
        last = np.minimum(ranges[:, 2], lengths[ranges[:, 0]] - length + 1)  # exclusive bound of the start
        ok = last > ranges[:, 1]
        p = w * ok
        if not p.sum() > 0:
            raise HgptError(
                f"no entry has {length} frames with a non-zero weight (longest {lengths.max(initial=0)})"
            )
        pick = rng.choice(len(ranges), size=batch, p=p / p.sum())
        starts = rng.integers(ranges[pick, 1], last[pick])
        out = {f: np.empty((batch, length, COLUMNS[f]), np.float32) for f in self.fields}
        for b, (i, s) in enumerate(zip(ranges[pick, 0], starts, strict=True)):
            for f, a in self.frames(int(i), int(s), int(s) + length).items():
                out[f][b] = a
        return out
