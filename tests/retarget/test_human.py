"""Human motion readers on real data; wrong units, mirrored axes, NaN gaps and unknown files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hgpt_core.errors import MotionFormatError
from hgpt_retarget.human import fill_nan_gaps, load_human
from hgpt_retarget.skeleton import SkeletonError, load_skeleton


def test_bvh_reads_to_metres_z_up(walk_bvh):
    motion, mapping = load_human(walk_bvh)
    assert mapping.name == "bandai_namco"
    assert motion.fps == pytest.approx(30.0, abs=1e-3)
    lm = motion.landmarks(mapping)
    assert 1.4 < motion.meta["estimated_height_m"] < 2.0
    head_above_ankles = np.median(lm["head"][:, 2] - lm["left_ankle"][:, 2])
    assert 1.1 < head_above_ankles < 1.7  # z is up and the units are metres


def test_wrong_units_name_the_ones_that_fit(walk_bvh):
    metres = dataclasses.replace(load_skeleton("bandai_namco"), units_m=1.0)
    with pytest.raises(MotionFormatError, match=r"implausible.*units that fit: \['cm'"):
        load_human(walk_bvh, metres)


def test_mirrored_axes_are_detected(walk_bvh):
    sk = load_skeleton("bandai_namco")
    swapped = {**sk.landmarks, "left_hip": sk.landmarks["right_hip"], "right_hip": sk.landmarks["left_hip"]}
    with pytest.raises(MotionFormatError, match="mirrored"):
        load_human(walk_bvh, dataclasses.replace(sk, landmarks=swapped))


def test_skeleton_that_does_not_fit(walk_bvh):
    with pytest.raises(SkeletonError, match="missing from the motion"):
        load_human(walk_bvh, "cmu")


def test_unknown_suffix_and_missing_file(tmp_path):
    bad = tmp_path / "motion.fbx"
    bad.write_bytes(b"x")
    with pytest.raises(MotionFormatError, match="unknown human motion suffix"):
        load_human(bad)
    with pytest.raises(MotionFormatError, match="no such file"):
        load_human(tmp_path / "absent.bvh")


def test_nan_gaps_short_filled_long_refused():
    pos = np.arange(30 * 2 * 3, dtype=float).reshape(30, 2, 3)
    holed = pos.copy()
    holed[10:13, 1] = np.nan
    filled, n = fill_nan_gaps(holed, 30.0, "clip")
    assert n == 3
    np.testing.assert_allclose(filled, pos)  # linear data: interpolation is exact
    holed[5:25, 0] = np.nan
    with pytest.raises(MotionFormatError, match="20 consecutive frames"):
        fill_nan_gaps(holed, 30.0, "clip")


def test_generic_npz_detects_skeleton_by_names(walk_bvh, tmp_path):
    motion, _ = load_human(walk_bvh)
    path = tmp_path / "stream.npz"
    np.savez(path, positions=motion.positions, joint_names=np.array(motion.joint_names), fps=motion.fps)
    again, mapping = load_human(path)
    assert mapping.name == "bandai_namco"
    np.testing.assert_allclose(again.positions, motion.positions)  # npz is metres, z up already
