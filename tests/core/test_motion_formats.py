"""Motion readers on the real shared files, the own format, resampling, and every kind of bad input."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from hgpt_core.errors import MotionFormatError
from hgpt_core.formats import dof23_to_29, load_clip
from hgpt_core.g1 import G1_23DOF_JOINT_NAMES, G1_JOINT_NAMES
from hgpt_core.motion import MotionClip
from hgpt_core.sanity import clip_sanity


def test_csv_reads_xyzw_and_feet_touch_floor(walk_csv):
    clip = load_clip(walk_csv, fps=30, source="lafan1")
    assert clip.joint_pos.shape == (clip.num_frames, 29) and clip.fps == 30
    s = clip_sanity(clip)
    assert abs(s.lowest_foot_z_median) < 0.05 and s.upright_fraction > 0.99
    # first row of the file: quaternion xyzw (0.001059, 0.016020, 0.018009, 0.999709)
    np.testing.assert_allclose(clip.root_quat[0], [0.999709, 0.001059, 0.016020, 0.018009], atol=1e-4)


@pytest.mark.parametrize(
    "rel, fmt",
    [
        ("motions/g1/gmt/basic_walk.pkl", "gmt_pkl"),
        ("motions/g1/pbhc/Side_kick.pkl", "phc_pkl"),
        ("motions/g1/holosoma/sub3_largebox_003_mj.npz", "holosoma_npz"),
        ("motions/g1/g1_moves/bonus/B_HandsUp/training/B_HandsUp.npz", "g1_moves_npz"),
    ],
)
def test_each_format_loads(shared_data, rel, fmt):
    clip = load_clip(shared_data / rel)
    assert clip.meta["format"] == fmt
    assert clip.num_frames > 10 and 20 <= clip.fps <= 60
    assert clip_sanity(clip).lowest_foot_z_median < 0.2


def test_23dof_gets_zero_wrists(shared_data):
    clip = load_clip(shared_data / "motions/g1/gmt/basic_walk.pkl")
    wrist = [i for i, n in enumerate(G1_JOINT_NAMES) if "wrist" in n]
    assert np.all(clip.joint_pos[:, wrist] == 0)
    dof = np.arange(23, dtype=float)[None]
    out = dof23_to_29(dof)
    assert [out[0, G1_JOINT_NAMES.index(n)] for n in G1_23DOF_JOINT_NAMES] == list(range(23))


def test_g1_moves_npz_equals_its_csv(shared_data):
    base = shared_data / "motions/g1/g1_moves/bonus/B_HandsUp"
    npz = load_clip(base / "training/B_HandsUp.npz")
    csv = load_clip(base / "retarget/B_HandsUp.csv", fps=60)
    np.testing.assert_allclose(npz.joint_pos, csv.joint_pos[:-1], atol=1e-5)


def test_own_format_round_trip_and_atomic(tmp_path, walk_csv):
    clip = load_clip(walk_csv, fps=30, source="lafan1", licence="CC-BY-NC-ND-4.0").slice(0, 100)
    path = clip.save(tmp_path / "walk.clip.npz")
    back = load_clip(path)
    np.testing.assert_allclose(back.joint_pos, clip.joint_pos, atol=1e-6)
    assert (back.source, back.licence, back.fps, back.name) == (
        "lafan1",
        "CC-BY-NC-ND-4.0",
        30.0,
        clip.name,
    )
    assert [p.name for p in tmp_path.iterdir()] == ["walk.clip.npz"]  # no temp files left


def test_resample_keeps_duration_and_is_smooth(walk_csv):
    clip = load_clip(walk_csv, fps=30).slice(0, 301)
    r = clip.resample(50)
    assert r.fps == 50 and r.num_frames == 501 and r.duration == pytest.approx(clip.duration)
    np.testing.assert_allclose(r.joint_pos[::5], clip.joint_pos[::3], atol=1e-9)  # shared instants
    np.testing.assert_allclose(np.linalg.norm(r.root_quat, axis=1), 1.0, atol=1e-9)
    lin, ang, jv = r.velocities()
    assert np.abs(lin[:, :2]).max() < 3.0 and np.abs(ang).max() < 10 and jv.shape == (501, 29)


def test_velocities_of_linear_motion():
    t = np.arange(50) / 50
    clip = MotionClip(
        np.stack([0.5 * t, 0 * t, 0.8 + 0 * t], 1),
        np.tile([1.0, 0, 0, 0], (50, 1)),
        np.outer(t, np.ones(29)),
        50,
    )
    lin, ang, jv = clip.velocities()
    np.testing.assert_allclose(lin, np.tile([0.5, 0, 0], (50, 1)), atol=1e-9)
    np.testing.assert_allclose(ang, 0, atol=1e-9)
    np.testing.assert_allclose(jv, 1.0, atol=1e-9)


# ---- bad input: each a clear MotionFormatError naming the file ----------------------------------


def _csv_text(walk_csv: Path, n: int) -> list[str]:
    return walk_csv.read_text().splitlines()[:n]


def test_csv_without_fps(walk_csv):
    with pytest.raises(MotionFormatError, match="fps"):
        load_clip(walk_csv)


def test_truncated_csv_row(tmp_path, walk_csv):
    lines = _csv_text(walk_csv, 50)
    lines[-1] = lines[-1][: len(lines[-1]) // 2]
    p = tmp_path / "trunc.csv"
    p.write_text("\n".join(lines))
    with pytest.raises(MotionFormatError, match="trunc.csv"):
        load_clip(p, fps=30)


def test_wrong_column_count(tmp_path, walk_csv):
    rows = [",".join(r.split(",")[:30]) for r in _csv_text(walk_csv, 20)]
    p = tmp_path / "cols.csv"
    p.write_text("\n".join(rows))
    with pytest.raises(MotionFormatError, match="36 columns"):
        load_clip(p, fps=30)


def test_nan_rows(tmp_path, walk_csv):
    rows = _csv_text(walk_csv, 20)
    rows[7] = ",".join(["nan"] * 36)
    p = tmp_path / "nan.csv"
    p.write_text("\n".join(rows))
    with pytest.raises(MotionFormatError, match="NaN.*frame 7"):
        load_clip(p, fps=30)


def test_quaternion_in_wrong_convention_is_detected(tmp_path, walk_csv):
    data = np.loadtxt(walk_csv, delimiter=",")[:300]
    data[:, 3:7] = np.concatenate((data[:, 6:7], data[:, 3:6]), axis=1)  # written wxyz into an xyzw file
    p = tmp_path / "wxyz.csv"
    np.savetxt(p, data, delimiter=",")
    with pytest.raises(MotionFormatError, match="wxyz"):
        load_clip(p, fps=30)


def test_corrupt_npz_and_pickle_and_unknown(tmp_path, shared_data):
    src = (shared_data / "motions/g1/holosoma/sub3_largebox_003_mj.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(src[: len(src) // 3])
    with pytest.raises(MotionFormatError, match="cut.npz"):
        load_clip(tmp_path / "cut.npz")
    (tmp_path / "bad.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(MotionFormatError, match="bad.pkl"):
        load_clip(tmp_path / "bad.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(MotionFormatError, match="list"):
        load_clip(tmp_path / "list.pkl")
    (tmp_path / "x.bvh").write_text("HIERARCHY")
    with pytest.raises(MotionFormatError, match="unknown motion format"):
        load_clip(tmp_path / "x.bvh")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(MotionFormatError, match="size"):
        load_clip(tmp_path / "empty.csv", fps=30)
    with pytest.raises(MotionFormatError, match="no such file"):
        load_clip(tmp_path / "missing.csv", fps=30)


def test_gmt_pickle_missing_field(tmp_path):
    p = tmp_path / "gmt.pkl"
    p.write_bytes(pickle.dumps({"fps": 30.0, "dof_pos": np.zeros((10, 23)), "root_pos": np.zeros((10, 3))}))
    with pytest.raises(MotionFormatError, match="root_rot"):
        load_clip(p)


def test_non_unit_quaternion_rejected():
    clip = MotionClip(np.zeros((5, 3)), np.tile([2.0, 0, 0, 0], (5, 1)), np.zeros((5, 29)), 50)
    with pytest.raises(MotionFormatError, match="not unit"):
        clip.validate()


def test_bundled_clips_load_without_shared_data():
    from hgpt_core.datasets import bundled_clip_path

    clip = load_clip(bundled_clip_path("gmt_basic_walk"))
    assert clip.fps == 50 and clip.licence == "Apache-2.0" and clip.num_frames > 1000
    assert clip_sanity(clip).feet_on_floor
    with pytest.raises(FileNotFoundError, match="gmt_squat"):
        bundled_clip_path("nope")


def test_written_files_get_normal_permissions(tmp_path):
    import os
    import stat

    from hgpt_core.motion import atomic_write_bytes

    atomic_write_bytes(tmp_path / "f.bin", b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == 0o666 & ~umask
