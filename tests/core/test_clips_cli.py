"""hgpt-clips: convert writes a loadable 50 Hz clip; errors give exit code 2 and a message."""

from hgpt_core.cli import Check, Convert, run
from hgpt_core.formats import load_clip


def test_convert_then_check(tmp_path, shared_data, capsys):
    src = shared_data / "motions/g1/gmt/squat.pkl"
    dst = tmp_path / "squat.clip.npz"
    assert run(Convert(src, dst, source="gmt", licence="Apache-2.0")) == 0
    clip = load_clip(dst)
    assert clip.fps == 50 and clip.source == "gmt" and clip.meta["resampled_from_fps"] > 59
    assert run(Check((dst,))) == 0
    assert "| gmt | squat |" in capsys.readouterr().out


def test_errors_exit_2(tmp_path, capsys):
    assert run(Check((tmp_path / "nope.csv",), fps=30)) == 2
    assert "no such file" in capsys.readouterr().err
