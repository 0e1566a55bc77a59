"""``hgpt bag``, ``hgpt clips`` and ``hgpt train`` with bad arguments (issue 15: "fuzz every CLI path"): a
missing file, a folder where a file is expected (and the reverse), a truncated or random-bytes bag / clip
made from real ones, a wrong extension, a nonexistent corpus, zero / negative / NaN numbers. Each gives one
line naming the file or option, a non-zero exit status (2 for these usage errors), and no traceback. Real
subprocesses of ``hgpt``; outputs go to the test's temporary folder only (never ~/hgpt-runs).

Found and fixed with these: ``bag record --types garbage`` (AttributeError traceback), ``--duration -1``
(recorded forever); ``bag to-clips`` of a topic of another type (AttributeError traceback; a topic absent
from the bag read every message), ``--fps 0`` / ``nan`` (RuntimeWarning, ValueError traceback),
``--max-gap -1`` (exit 1 with one-frame segments), an output that is a file (FileExistsError traceback);
``clips convert --out-fps 0`` (IndexError traceback), ``--out-fps -50`` (wrote 0 frames, exit 0), a folder
as output (IsADirectoryError traceback); ``clips check --fps -1`` accepted, a folder called "no such file";
``train distill --rounds 0 / --lr -1 / --batch-tokens 0 / --betas 2`` accepted (the run started);
``train expert --num-envs 0 / --iterations -1 / --ckpt-every 0 / --episode-frames 10 5 / --ppo.lr -1 /
--ppo.gamma 2`` accepted (the run loaded its clips and started), a missing corpus exit 1; ``train expert
accept --starts 0 / --max-seconds -1`` and ``train release --starts 0 / --quant-episodes 0`` accepted,
``release`` with a missing corpus exported and quantised the student before failing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def hgpt(env, tmp: Path, *args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "hgpt_bringup.cli", *args],
        env={**env, "HOME": str(tmp)},  # nothing may land in the real ~/hgpt-runs
        capture_output=True,
        text=True,
        timeout=180,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Real inputs and their damaged copies (names below); built once for the module."""
    from rclpy.serialization import serialize_message

    from hgpt_bringup.bag_writer import BagWriter
    from hgpt_core.datasets import bundled_clip_path
    from hgpt_core.g1 import KNEES_BENT_POSE
    from hgpt_msgs.msg import MotionReference, TrackingStatus

    d = tmp_path_factory.mktemp("cli_bad")
    with BagWriter(d / "refs") as w:  # 3 s of references + statuses
        w.add_topic("/hgpt/reference", "hgpt_msgs/msg/MotionReference")
        w.add_topic("/hgpt/status", "hgpt_msgs/msg/TrackingStatus")
        for k in range(150):
            m = MotionReference(valid=True, clip_id="c", frame_index=k)
            t = 1_000_000_000 + k * 20_000_000
            m.header.stamp.sec, m.header.stamp.nanosec = divmod(t, 1_000_000_000)
            m.root_position.x, m.root_position.z, m.root_orientation.w = 0.01 * k, 0.75, 1.0
            m.joint_positions = [float(x) for x in KNEES_BENT_POSE]
            w.write("/hgpt/reference", t, serialize_message(m))
            w.write("/hgpt/status", t, serialize_message(TrackingStatus(state="tracking")))
    mcap = next((d / "refs").glob("*.mcap"))
    with BagWriter(d / "status_only") as w:
        w.add_topic("/hgpt/status", "hgpt_msgs/msg/TrackingStatus")
        for k in range(20):
            w.write("/hgpt/status", 1_000_000_000 + k * 20_000_000, serialize_message(TrackingStatus()))
    (d / "garbage_bag").mkdir()
    (d / "garbage_bag" / "garbage_bag_0.mcap").write_bytes(b"\x89MCAP0\r\n" + bytes(range(256)) * 20)
    (d / "random.mcap").write_bytes(bytes(range(256)) * 20)
    clip = d / "walk.clip.npz"
    shutil.copy(bundled_clip_path(), clip)
    (d / "cut.clip.npz").write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    shutil.copy(clip, d / "walk.txt")
    (d / "folder.clip.npz").mkdir()
    (d / "bad.csv").write_text("a,b\n1,2\n")
    (d / "cut_bag").mkdir()
    (d / "cut_bag" / mcap.name).write_bytes(mcap.read_bytes()[:3000])  # no metadata.yaml either
    _train_inputs(d)
    return d


def _train_inputs(d: Path) -> None:
    """A real corpus (one shared walk, train split) and a distillation run folder with an (untrained)
    student.pt, so that the ``train`` cases below are refused for the option they name, not for a path."""
    from hgpt_core.datasets import shared_data_dir
    from hgpt_policy.export import save_checkpoint
    from hgpt_policy.model import build_policy
    from hgpt_training.corpus import CorpusConfig, build
    from hgpt_training.distill import DistillConfig, student_metadata

    root = shared_data_dir()
    if root is None:
        pytest.skip("shared data folder (../shared/data) not found; set HGPT_SHARED_DATA to run these tests")
    include = ("motions/g1/gmt/basic_walk.pkl",)
    build(
        CorpusConfig(
            out=d / "corpus", data_root=root, include=include, speed_factors=(1.0,), val_fraction=0.0,
            test_fraction=0.0, progress=False,
        )
    )  # fmt: skip
    cfg = DistillConfig(student="mlp")
    arch = cfg.policy_config()
    save_checkpoint(d / "run" / "student.pt", build_policy(arch), student_metadata(cfg, arch))


# hgpt train expert (a real corpus: each is refused for its option), accept, release (a real run folder)
EXPERT_CASES = [
    (("--num-envs", "0"), ("--num-envs 0",)),
    (("--iterations", "-1"), ("--iterations -1",)),
    (("--ckpt-every", "0"), ("--ckpt-every 0",)),
    (("--episode-frames", "10", "5"), ("--episode-frames 10 5",)),
    (("--episode-frames", "0", "5"), ("--episode-frames 0 5",)),
    (("--max-frames", "0"), ("--max-frames 0",)),
    (("--threads", "0"), ("--threads 0",)),
    (("--reward-scale", "-1"), ("--reward-scale -1.0",)),
    (("--cluster", "-1"), ("--cluster -1",)),
    (("--ppo.lr", "-1"), ("--ppo.lr -1.0",)),
    (("--ppo.lr", "nan"), ("--ppo.lr nan",)),
    (("--ppo.gamma", "2"), ("--ppo.gamma 2.0",)),
    (("--ppo.lam", "-0.5"), ("--ppo.lam -0.5",)),
    (("--ppo.epochs", "0"), ("--ppo.epochs 0",)),
    (("--ppo.steps-per-env", "0"), ("--ppo.steps-per-env 0",)),
    (("--ppo.entropy-coef", "-1"), ("--ppo.entropy-coef -1.0",)),
    (("--ppo.init-std", "0"), ("--ppo.init-std 0.0",)),
    (("--ppo.actor-hidden", "64", "0"), ("--ppo.actor-hidden 64 0",)),
    (("--ppo.minibatches", "100", "--num-envs", "2", "--ppo.steps-per-env", "4"), ("--ppo.minibatches 100",)),
    (("--reward.pos-unit", "0"), ("--reward.pos-unit 0.0",)),
    (("--fall.tilt", "inf"), ("--fall.tilt inf",)),
    (("--hme-dir", "{t}/no_hme"), ("--hme-dir {t}/no_hme", "clusters.json")),
    (("--corpus", "{t}/c"), ("{t}/c", "no manifest.json")),
    (("--corpus", "{d}/walk.clip.npz"), ("{d}/walk.clip.npz", "no manifest.json")),
]
ACCEPT_CASES = [
    (("--starts", "0"), ("--starts 0",)),
    (("--max-seconds", "-1"), ("--max-seconds -1.0",)),
    (("--max-clips", "0"), ("--max-clips 0",)),
    (("--seeds",), ("--seeds",)),
    (("--sr-gain", "2"), ("--sr-gain 2.0",)),
    (("--min-sr", "nan"), ("--min-sr nan",)),
    (("--corpus", "{t}/c"), ("{t}/c", "no manifest.json")),
]
RELEASE_CASES = [
    (("--starts", "0"), ("--starts 0",)),
    (("--max-seconds", "-1"), ("--max-seconds -1.0",)),
    (("--max-clips", "0"), ("--max-clips 0",)),
    (("--quant-episodes", "0"), ("--quant-episodes 0",)),
    (("--threads", "0"), ("--threads 0",)),
    (("--stem", "a/b"), ("--stem 'a/b'",)),
    (("--corpus", "{t}/c"), ("{t}/c", "no manifest.json")),
]

CASES = [
    # hgpt bag
    (("bag", "info", "{d}/missing"), ("{d}/missing", "no such bag")),
    (("bag", "info", "{d}/garbage_bag"), ("{d}/garbage_bag", "no readable message")),
    (("bag", "info", "{d}/random.mcap"), ("{d}/random.mcap", "not an MCAP file")),
    (("bag", "info", "{d}/walk.clip.npz"), ("{d}/walk.clip.npz", "not an MCAP file")),
    (("bag", "play", "{d}/missing"), ("{d}/missing", "no such bag")),
    (("bag", "play", "{d}/garbage_bag", "--fast"), ("{d}/garbage_bag",)),
    (("bag", "play", "{d}/refs", "--rate", "0"), ("rate 0.0", "> 0")),
    (("bag", "play", "{d}/refs", "--rate", "-1"), ("rate -1.0", "> 0")),
    (("bag", "record", "{d}/refs", "--duration", "1"), ("{d}/refs", "exists already")),
    (("bag", "record", "{d}/walk.clip.npz", "--duration", "1"), ("{d}/walk.clip.npz", "exists already")),
    (("bag", "record", "{t}/new_a", "--duration", "-1"), ("duration -1.0", ">= 0")),
    (("bag", "record", "{t}/new_b", "--types", "garbage", "--duration", "1"), ("types", "'garbage'")),
    (("bag", "to-clips", "{d}/missing", "{t}/o"), ("{d}/missing", "no such bag")),
    (("bag", "to-clips", "{d}/garbage_bag", "{t}/o"), ("{d}/garbage_bag",)),
    (("bag", "to-clips", "{d}/status_only", "{t}/o"), ("{d}/status_only", "no message on /hgpt/reference")),
    (("bag", "to-clips", "{d}/refs", "{t}/o", "--topic", "/hgpt/status"), ("/hgpt/status", "TrackingStatus")),
    (("bag", "to-clips", "{d}/refs", "{d}/walk.clip.npz"), ("{d}/walk.clip.npz", "not a folder")),
    (("bag", "to-clips", "{d}/refs", "{t}/o", "--fps", "0"), ("--fps 0.0",)),
    (("bag", "to-clips", "{d}/refs", "{t}/o", "--fps", "nan"), ("--fps nan",)),
    (("bag", "to-clips", "{d}/refs", "{t}/o", "--max-gap", "-1"), ("--max-gap -1.0",)),
    (("bag", "to-clips", "{d}/refs", "{t}/o", "--min-duration", "-1"), ("--min-duration -1.0",)),
    (("bag", "to-clips", "{d}/refs", "{t}/o", "--kind", "bogus"), ("kind 'bogus'", "reference, robot_state")),
    # hgpt clips
    (("clips", "check", "{d}/missing.clip.npz"), ("{d}/missing.clip.npz", "no such file")),
    (("clips", "check", "{d}/cut.clip.npz"), ("{d}/cut.clip.npz", "truncated")),
    (("clips", "check", "{d}/folder.clip.npz"), ("{d}/folder.clip.npz", "is a folder")),
    (("clips", "check", "{d}/walk.txt"), ("{d}/walk.txt", "unknown motion format")),
    (("clips", "check", "{d}/bad.csv"), ("{d}/bad.csv", "fps")),
    (("clips", "check", "{d}/bad.csv", "--fps", "30"), ("{d}/bad.csv", "malformed CSV")),
    (("clips", "check", "{d}/walk.clip.npz", "--fps", "-1"), ("--fps -1.0",)),
    (("clips", "check", "{d}/walk.clip.npz", "{d}/missing.clip.npz"), ("{d}/missing.clip.npz",)),
    (("clips", "convert", "{d}/missing.npz", "{t}/o.clip.npz"), ("{d}/missing.npz", "no such file")),
    (("clips", "convert", "{d}/cut.clip.npz", "{t}/o.clip.npz"), ("{d}/cut.clip.npz", "truncated")),
    (("clips", "convert", "{d}/walk.clip.npz", "{t}/o.clip.npz", "--out-fps", "0"), ("--out-fps 0.0",)),
    (("clips", "convert", "{d}/walk.clip.npz", "{t}/o.clip.npz", "--out-fps", "-50"), ("--out-fps -50.0",)),
    (
        ("clips", "convert", "{d}/walk.clip.npz", "{d}/folder.clip.npz"),
        ("{d}/folder.clip.npz", "is a folder"),
    ),
    (("clips", "convert", "{d}/folder.clip.npz", "{t}/o.clip.npz"), ("{d}/folder.clip.npz", "is a folder")),
    # hgpt train (every path under the test's folder)
    (("train", "distill", "--run-dir", "{t}/r", "--corpus", "{t}/no_corpus"), ("{t}/no_corpus", "manifest")),
    (("train", "distill", "--run-dir", "{t}/r", "--corpus", "{d}/walk.clip.npz"), ("{d}/walk.clip.npz",)),
    (("train", "distill", "--run-dir", "{t}/r", "--corpus", "{t}/c", "--rounds", "0"), ("--rounds 0",)),
    (("train", "distill", "--run-dir", "{t}/r", "--corpus", "{t}/c", "--lr", "-1"), ("--lr -1.0",)),
    (
        ("train", "distill", "--run-dir", "{t}/r", "--corpus", "{t}/c", "--batch-tokens", "0"),
        ("--batch-tokens",),
    ),
    (("train", "distill", "--run-dir", "{t}/r", "--corpus", "{t}/c", "--betas", "2"), ("--betas 2.0",)),
    (
        ("train", "release", "--run-dir", "{t}/no_run", "--corpus", "{t}/c", "--out", "{t}/rel"),
        ("{t}/no_run",),
    ),
    (("train", "table", "--run-root", "{t}/tab", "--rows", "garbage"), ("row 'garbage'", "STUDENT:TOKENS")),
    (
        ("train", "table", "--run-root", "{t}/tab", "--base.corpus", "{t}/c", "--base.rounds", "-1"),
        ("--rounds -1",),
    ),
    *[(("train", "expert", "--run-dir", "{t}/r", "--corpus", "{d}/corpus", *a), n) for a, n in EXPERT_CASES],
    *[(("train", "expert", "accept", "--run-dir", "{t}/r", *a), n) for a, n in ACCEPT_CASES],
    (("train", "expert", "accept", "--run-dir", "{t}/none"), ("{t}/none", "expert.pt not found")),
    *[
        (("train", "release", "--run-dir", "{d}/run", "--corpus", "{d}/corpus", "--out", "{t}/rel", *a), n)
        for a, n in RELEASE_CASES
    ],
]


@pytest.mark.parametrize(
    "args,needles", CASES, ids=[" ".join(a[:2]) + f" {i}" for i, (a, _) in enumerate(CASES)]
)
def test_bad_argument_gives_one_line_and_exit_2(ros_env, files, tmp_path, args, needles):
    fmt = {"d": files, "t": tmp_path}
    rc, out, err = hgpt(ros_env, tmp_path, *(a.format(**fmt) for a in args))
    assert rc == 2, f"exit {rc}\n{out[-2000:]}\n{err[-3000:]}"
    assert "Traceback" not in err and "Traceback" not in out, err[-3000:]
    errors = [ln for ln in err.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1, err[-3000:]
    assert all(n.format(**fmt) in errors[0] for n in needles), err[-3000:]
    if args[:2] in (("train", "expert"), ("train", "release")):  # refused before any work: nothing written
        assert not (tmp_path / "r").exists() and not (tmp_path / "rel").exists()


def test_a_truncated_bag_is_reported_incomplete_not_a_traceback(ros_env, files, tmp_path):
    """A bag cut mid-record (and without metadata.yaml): ``info`` names both problems, exit 1 (incomplete)."""
    rc, out, err = hgpt(ros_env, tmp_path, "bag", "info", str(files / "cut_bag"))
    assert rc == 1 and "Traceback" not in out + err, out + err
    assert "complete:  NO" in out and "metadata.yaml: missing" in out and "cut at byte 3000" in out, out
