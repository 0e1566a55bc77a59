"""Evaluation clips from a corpus split: read through hgpt_core's store, without hgpt_training."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hgpt_core.corpus_store import MANIFEST, STORE_FORMAT, STORE_VERSION, clip_columns, write_arrow
from hgpt_core.errors import HgptError
from hgpt_core.motion import MotionClip
from hgpt_sim.eval_clips import corpus_references
from hgpt_sim.references import load_motion_file


def _entry(clip_id: str, split: str, factor: float, frames: int, offset: int, verdict: str = "accepted"):
    return {
        "entry_id": f"{clip_id}@{factor}",
        "clip_id": clip_id,
        "factor": factor,
        "frames": frames,
        "split": split,
        "verdict": verdict,
        "shard": "shards/test-000.arrow",
        "offset": offset,
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shared_data):
    """A store of one real clip (LAFAN1 walk, 50 Hz): original speed + a 2x copy in 'test', one rejected."""
    walk = load_motion_file(shared_data / "motions/g1/lafan1/walk1_subject1.csv").resample(50.0)
    walk = MotionClip(walk.root_pos[:200], walk.root_quat[:200], walk.joint_pos[:200], walk.fps, name="walk")
    fast = walk.resample(25.0)  # a 2x time warp stored at 50 Hz: different frames, same store layout
    fast = MotionClip(fast.root_pos, fast.root_quat, fast.joint_pos, 50.0, name="walk")
    root = tmp_path_factory.mktemp("corpus")
    (root / "shards").mkdir()
    parts = [clip_columns(walk), clip_columns(fast)]
    write_arrow(root / "shards/test-000.arrow", {k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    entries = [
        _entry("walk", "test", 2.0, fast.num_frames, walk.num_frames),
        _entry("walk", "test", 1.0, walk.num_frames, 0),
        _entry("bad", "test", 1.0, walk.num_frames, 0, verdict="rejected"),
    ]
    manifest = {"format": STORE_FORMAT, "version": STORE_VERSION, "fps": 50.0, "entries": entries}
    (root / MANIFEST).write_text(json.dumps(manifest))
    return root, walk


def test_split_gives_the_original_speed_clips_as_stored(corpus):
    root, walk = corpus
    (ref,) = corpus_references("test", root)  # the 2x copy and the rejected entry are not evaluated
    assert ref.name == "walk" and ref.num_frames == walk.num_frames and ref.fps == 50.0
    np.testing.assert_allclose(ref.joint_pos, walk.joint_pos, atol=1e-6)  # float32 in the store
    np.testing.assert_allclose(ref.root_pos_w, walk.root_pos, atol=1e-6)
    with pytest.raises(HgptError, match="split 'train' has no accepted clips"):
        corpus_references("train", root)


def test_corpus_split_needs_no_training_package(corpus):
    root, _ = corpus
    code = (
        "import sys; from hgpt_sim.eval_clips import corpus_references; "
        f"refs = corpus_references('test', {str(root)!r}); "
        "print(len(refs), sorted(m for m in sys.modules if m.split('.')[0] == 'hgpt_training'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "[]"], out
