"""Issue 18: ``hgpt retarget compare`` scores any peer G1 clip of the same source with one yardstick."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from hgpt_core.formats import load_clip
from hgpt_core.motion import MotionClip
from hgpt_core.rotations import quat_mul
from hgpt_retarget import compare


@pytest.fixture(scope="module")
def asap_pkl(shared, first):
    """One ASAP file: fitted human joints + ASAP's own G1 retarget of them (a peer retarget of a source)."""
    return str(first((shared / "motions" / "g1" / "asap").rglob("*walk_level1*.pkl"), "ASAP walk pkl"))


def test_align_peer_recovers_lag_heading_and_offset(asap_pkl):
    ours = load_clip(asap_pkl, check_plausible=False).resample(50.0)
    yaw, shift, lag = np.radians(30.0), np.array([1.0, -2.0]), 7
    c, s = np.cos(yaw), np.sin(yaw)
    pos = ours.root_pos.copy()
    pos[:, :2] = pos[:, :2] @ np.array([[c, s], [-s, c]]) + shift
    qz = np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)])
    quat = quat_mul(np.broadcast_to(qz, ours.root_quat.shape), ours.root_quat)
    peer = MotionClip(pos, quat, ours.joint_pos, 50.0).slice(lag)  # starts 7 frames into the motion
    idx, aligned, info = compare.align_peer(ours, peer)
    assert info["lag_frames"] == -lag and idx.start == lag
    assert info["heading_rad"] == pytest.approx(-yaw, abs=1e-6)
    np.testing.assert_allclose(aligned.root_pos, ours.root_pos[idx], atol=1e-6)
    np.testing.assert_allclose(
        np.abs(np.sum(aligned.root_quat * ours.root_quat[idx], axis=1)), 1.0, atol=1e-9
    )


def test_compare_a_peer_csv_prints_one_table(asap_pkl, tmp_path, monkeypatch, capsys):
    """The peer's clip as a CSV (LAFAN1 layout, root xyzw) of the same source: the table and the JSON."""
    peer = load_clip(asap_pkl, check_plausible=False)
    xyzw = peer.root_quat[:, [1, 2, 3, 0]]
    csv = tmp_path / "peer.csv"
    np.savetxt(csv, np.concatenate((peer.root_pos, xyzw, peer.joint_pos), axis=1), delimiter=",")
    argv = ["compare", "--source", asap_pkl, "--peer-file", str(csv), "--peer-fps", "30", "--peer", "ASAP"]
    monkeypatch.setattr(sys, "argv", [*argv, "--no-track", "--out", str(tmp_path / "out")])
    compare.main()
    out = capsys.readouterr().out
    assert "| metric | hgpt | ASAP |" in out and "artefact skate" in out and "source stance foot" in out
    doc = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert abs(doc["alignment"]["lag_frames"]) <= 2 and abs(doc["alignment"]["heading_rad"]) < 0.2
    ours, theirs = doc["ours"], doc["peer"]
    assert ours["frames"] == theirs["frames"] == doc["alignment"]["frames"]
    # Same yardstick, same findings as the batch comparison: ASAP's feet float, ours stand on the floor.
    assert abs(ours["stance_sole_height_median_m"]) < 0.01 < theirs["stance_sole_height_median_m"]


def test_compare_tracks_both_clips_with_twist2(asap_pkl):
    from hgpt_sim.twist2 import DEFAULT_ONNX

    if not DEFAULT_ONNX.is_file():
        pytest.skip(f"TWIST2 ONNX not found at {DEFAULT_ONNX}")
    doc = compare.compare_pair(asap_pkl, asap_pkl, starts=2, max_seconds=1.0)
    for side in ("ours", "peer"):
        row = doc[side]
        assert row["twist2_sr"] in (0.0, 0.5, 1.0) and row["twist2_runs"].startswith("2 (")
        assert 0.0 < row["twist2_mpjpe"] < 1.0
    md = compare.pair_markdown(doc, "ASAP")
    assert "| TWIST2 SR |" in md and "| TWIST2 MPJPE [rad] |" in md
