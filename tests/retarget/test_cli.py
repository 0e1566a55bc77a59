"""The offline CLI: outputs, resumability, bad files reported (not fatal), the report."""

from __future__ import annotations

import json
import shutil

import pytest

from hgpt_core.motion import MotionClip
from hgpt_retarget.cli import Args, find_inputs, run


@pytest.fixture
def inputs(short_bvhs, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    for f in short_bvhs:
        shutil.copy(f, d / f.name)
    text = short_bvhs[0].read_text()
    (d / "broken.bvh").write_text(text[: len(text) // 2])  # truncated
    (d / "notes.txt").write_text("not motion")
    return d


def test_cli_writes_clips_report_and_resumes(inputs, tmp_path):
    out = tmp_path / "out"
    assert len(find_inputs([str(inputs)])) == 3  # the .txt is not a motion file
    rows = run(Args((str(inputs),), out=out, workers=1))
    errors = [r for r in rows if "error" in r]
    assert len(errors) == 1 and "broken.bvh" in errors[0]["input"] and "truncated" in errors[0]["error"]
    clips = sorted(out.glob("*.clip.npz"))
    assert len(clips) == 2
    clip = MotionClip.load(clips[0])
    assert clip.fps == 50.0 and clip.meta["skeleton"] == "bandai_namco"
    report = json.loads((out / "retarget_report.json").read_text())
    assert report["summary"]["clips"] == 2 and report["run"]["processed"] == 3
    assert (out / "retarget_report.md").read_text().startswith("## Retargeting quality (2 clips)")

    mtime = clips[0].stat().st_mtime_ns
    rows = run(Args((str(inputs),), out=out, workers=1))  # resumed: only the broken file is retried
    report = json.loads((out / "retarget_report.json").read_text())
    assert report["run"]["skipped"] == 2 and report["run"]["processed"] == 1
    assert clips[0].stat().st_mtime_ns == mtime and report["summary"]["clips"] == 2

    clips[1].with_name(clips[1].name.replace(".clip.npz", ".quality.json")).unlink()  # interrupted clip
    run(Args((str(inputs),), out=out, workers=1))
    report = json.loads((out / "retarget_report.json").read_text())
    assert report["run"]["processed"] == 2 and report["summary"]["clips"] == 2


def test_cli_parallel_matches_serial(short_bvhs, tmp_path):
    a = run(Args(tuple(map(str, short_bvhs)), out=tmp_path / "a", workers=1))
    b = run(Args(tuple(map(str, short_bvhs)), out=tmp_path / "b", workers=2))
    key = lambda r: r["name"]  # noqa: E731
    for ra, rb in zip(sorted(a, key=key), sorted(b, key=key), strict=True):
        assert ra["ee_feet_error_mm"] == pytest.approx(rb["ee_feet_error_mm"])


def test_missing_input_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        run(Args((str(tmp_path / "absent"),), out=tmp_path / "out", workers=1))
