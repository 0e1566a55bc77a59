"""A clip recorded below 20 Hz (here 7 fps) is upsampled to 50 Hz with a warning where it is played
(reference_player, a real process) or evaluated (hgpt eval's loader); a 30 fps clip gets none (issue 15)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from hgpt_core.datasets import bundled_clip_path
    from hgpt_core.formats import load_clip

    d = tmp_path_factory.mktemp("rates")
    walk = load_clip(bundled_clip_path()).slice(0, 150)
    return {fps: walk.resample(fps).save(d / f"walk{fps}.clip.npz") for fps in (7.0, 30.0)}


def test_eval_loader_warns_about_a_7_fps_clip(clips, capsys):
    from hgpt_sim.eval_clips import load_reference

    ref = load_reference(clips[7.0])
    assert ref.fps == 50.0 and ref.source_fps == 7.0
    err = capsys.readouterr().err
    assert f"warning: {clips[7.0]}: clip 'basic_walk' is 7 Hz, upsampled to 50 Hz" in err
    assert load_reference(clips[30.0]).upsample_note == "" and capsys.readouterr().err == ""


@pytest.mark.ros
def test_reference_player_warns_about_a_7_fps_clip(spawn_python, clips):
    proc = spawn_python(
        "-m", "hgpt_retarget.reference_player_node", "--ros-args", "-p", f"motion:={clips[7.0]}"
    )  # fmt: skip
    lines = []
    for line in proc.stdout:  # the node logs its clip at start-up, then only publishes
        lines.append(line)
        if "upsampled" in line or "playing" in "".join(lines[:-1]):
            break
    proc.terminate()
    text = "".join(lines)
    assert "WARN" in text and "clip 'basic_walk' is 7 Hz, upsampled to 50 Hz" in text, text
