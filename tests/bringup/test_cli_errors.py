"""Every CLI path with a missing or corrupt file, or a bad argument: one line naming the problem (the file),
exit status non-zero, no traceback (issue 15). Real subprocesses of ``hgpt``."""

from __future__ import annotations

import subprocess
import sys

import pytest


def hgpt(env, *args: str, timeout: float = 300) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "hgpt_bringup.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout + proc.stderr


def assert_one_line_error(rc: int, out: str, *needles: str, status: int = 2) -> None:
    assert rc == status, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    lines = [ln for ln in out.splitlines() if "error" in ln.lower() or ln.startswith("hgpt ")]
    assert any(all(n in ln for n in needles) for ln in lines), out[-3000:]


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "corrupt.onnx").write_bytes(b"\x08\x07garbage, not a protobuf")
    (d / "corrupt.clip.npz").write_bytes(b"PK\x03\x04 truncated zip")
    (d / "corrupt.bvh").write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n")
    return d


@pytest.mark.ros
@pytest.mark.parametrize(
    "args,needles",
    [
        (("--motion", "{d}/missing.clip.npz"), ("{d}/missing.clip.npz", "no such file")),
        (("--motion", "{d}/corrupt.clip.npz"), ("{d}/corrupt.clip.npz",)),
        (("--policy", "{d}/missing.onnx"), ("{d}/missing.onnx", "no such policy file")),
        (("--policy", "{d}/corrupt.onnx"), ("{d}/corrupt.onnx", "not a readable ONNX file")),
    ],
)
def test_hgpt_run(ros_env, bad, args, needles):
    args = tuple(a.format(d=bad) for a in args)
    rc, out = hgpt(ros_env, "run", "eval", *args, "--duration", "5")
    assert_one_line_error(rc, out, *(n.format(d=bad) for n in needles))


@pytest.mark.parametrize(
    "args,needles",
    [
        (("--policy", "twist2", "--clips", "{d}/missing.clip.npz"), ("{d}/missing.clip.npz", "not found")),
        (("--policy", "twist2", "--clips", "{d}/corrupt.clip.npz"), ("{d}/corrupt.clip.npz",)),
        (("--policy", "{d}/missing.onnx", "--clips", "{walk}"), ("{d}/missing.onnx", "no such policy file")),
        (("--policy", "{d}/corrupt.onnx", "--clips", "{walk}"), ("{d}/corrupt.onnx", "not a readable ONNX")),
    ],
)
def test_hgpt_eval(bad, tmp_path, args, needles):
    from hgpt_core.datasets import bundled_clip_path

    fmt = {"d": bad, "walk": bundled_clip_path()}
    args = tuple(a.format(**fmt) for a in args)
    rc, out = hgpt(None, "eval", *args, "--starts", "1", "--max-seconds", "0.2", "--out-dir", str(tmp_path))
    assert_one_line_error(rc, out, *(n.format(**fmt) for n in needles))


def test_hgpt_retarget(bad, tmp_path):
    rc, out = hgpt(None, "retarget", str(bad / "missing.bvh"), "--out", str(tmp_path / "a"))
    assert_one_line_error(rc, out, f"{bad}/missing.bvh", "no such file")
    # its only file fails: the failure is named, and the exit status says nothing was retargeted
    rc, out = hgpt(None, "retarget", str(bad / "corrupt.bvh"), "--out", str(tmp_path / "b"))
    assert_one_line_error(rc, out, "all 1 file(s) failed", status=1)
    assert f"failed: {bad}/corrupt.bvh" in out


@pytest.mark.parametrize(
    "args,needles",
    [
        (("send", "{d}/missing.bvh"), ("{d}/missing.bvh", "no such file")),
        (("send", "{d}/corrupt.bvh"), ("{d}/corrupt.bvh",)),
        (("send", "{walk}", "--port", "70000"), ("port",)),
        (("send", "{walk}", "--host", "no.such.host.invalid"), ("hgpt mocap: error",)),
        (("send", "{walk}", "--units", "furlong"), ("furlong",)),
        (("send", "{walk}", "--up", "w"), ("hgpt mocap: error",)),
        (("send", "{walk}", "--skeleton", "nope"), ("nope",)),
        (("listen", "--port", "-1"), ("port",)),
    ],
)
def test_hgpt_mocap(bad, args, needles):
    from hgpt_core.datasets import shared_data_dir

    root = shared_data_dir()
    walk = (
        next(iter(sorted(root.glob("motions/human/bandai_namco/**/*walk_normal_001.bvh"))), None)
        if root
        else None
    )
    if walk is None:
        pytest.skip("no Bandai-Namco walk BVH in the shared data folder")
    fmt = {"d": bad, "walk": walk}
    rc, out = hgpt(None, "mocap", *(a.format(**fmt) for a in args), "--duration", "0.2", timeout=120)
    assert_one_line_error(rc, out, *(n.format(**fmt) for n in needles))
