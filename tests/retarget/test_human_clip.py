"""retarget_human_file: a real BVH becomes a valid 50 Hz G1 clip; the second call is served from the cache,
an edited file is retargeted again; which files count as human motion."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from hgpt_core.errors import MotionFormatError
from hgpt_core.motion import MotionClip
from hgpt_retarget.human_clip import cache_dir, cache_path, is_human_motion_file, retarget_human_file


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HGPT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "retarget"


def test_bvh_to_clip_cached(human_dir, first, tmp_path, cache):
    src = first((human_dir / "bandai_namco").rglob("*.bvh"), "Bandai Namco BVH")
    bvh = tmp_path / src.name
    shutil.copy(src, bvh)
    assert cache_dir() == cache
    clip = retarget_human_file(bvh)
    assert isinstance(clip, MotionClip) and clip.fps == 50.0 and clip.num_frames > 50
    assert 0.5 < np.median(clip.root_pos[:, 2]) < 0.9
    assert cache_path(bvh).is_file() and cache_path(bvh).parent == cache
    t0 = time.perf_counter()
    again = retarget_human_file(bvh)
    assert time.perf_counter() - t0 < 0.5  # loaded, not retargeted
    np.testing.assert_array_equal(again.joint_pos, clip.joint_pos)
    bvh.write_text(bvh.read_text().replace("Frame Time:", "Frame Time:", 1) + "\n")  # new content hash
    assert cache_path(bvh) != cache_path(src)
    assert cache_path(bvh, skeleton="bandai_namco") != cache_path(bvh)


def test_human_file_detection(tmp_path):
    (tmp_path / "a.clip.npz").write_bytes(b"")
    np.savez(tmp_path / "h.npz", positions=np.zeros((2, 1, 3)), joint_names=np.array(["x"]))
    np.savez(tmp_path / "g.npz", root_pos=np.zeros((2, 3)))
    assert is_human_motion_file("walk.bvh") and is_human_motion_file("x.npy") and is_human_motion_file("s.pt")
    assert is_human_motion_file(tmp_path / "h.npz")
    assert not is_human_motion_file(tmp_path / "g.npz") and not is_human_motion_file(tmp_path / "a.clip.npz")
    assert not is_human_motion_file("walk.csv") and not is_human_motion_file("clip.pkl")
    with pytest.raises(MotionFormatError, match="no such file"):
        retarget_human_file(tmp_path / "missing.bvh")
    with pytest.raises(MotionFormatError, match="not a human motion file"):
        retarget_human_file(tmp_path / "a.clip.npz")
