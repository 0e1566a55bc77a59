"""hgpt bag: rosbag2 mcap bags of real messages (bundled clip), read back, cut into clips, damaged bags.

The pure tests serialise real hgpt_msgs messages (built by the nodes' own converters from the bundled GMT
walk) with rclpy's CDR serializer, no ROS graph. The ROS test records the real eval graph (sim + TWIST2 +
reference player), replays the bag into a subscriber and cuts it into a clip that `hgpt clips check` accepts.
"""

import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from hgpt_bringup.bag_clips import bag_to_clips
from hgpt_bringup.bag_format import BagError, deserialize
from hgpt_bringup.bag_reader import BagReader
from hgpt_bringup.bag_recover import scan_mcap
from hgpt_bringup.bag_writer import BagWriter

REF, STATE = "/hgpt/reference", "/hgpt/robot_state"
T0 = 1000.0  # [s] stamp of the first frame
GAP = (500, 525)  # reference frames [a, b) not sent: a 0.5 s gap splits the stream


def _stamp(t: float):
    from builtin_interfaces.msg import Time

    sec, ns = divmod(int(round(t * 1e9)), 1_000_000_000)
    return Time(sec=sec, nanosec=ns)


@pytest.fixture(scope="module")
def walk():
    """The bundled clip as the reference player streams it at 50 Hz (ReferenceMotion, resampled)."""
    from hgpt_core.datasets import bundled_clip_path
    from hgpt_retarget.player import ReferencePlayer

    player = ReferencePlayer.from_file(str(bundled_clip_path()))
    player.play(0.0)
    return player


@pytest.fixture(scope="module")
def messages(walk):
    """(topic, type, t_ns, cdr) of the walk: references (with a gap, then a short other clip) + states."""
    from rclpy.serialization import serialize_message

    from hgpt_retarget.msg_conv import reference_frame_to_msg
    from hgpt_sim.msg_conv import robot_state_to_msg

    ref = walk.ref
    out = []
    for k in range(ref.num_frames):
        t = T0 + k / ref.fps
        if not GAP[0] <= k < GAP[1]:
            m = reference_frame_to_msg(
                walk.frame(k / ref.fps), _stamp(t), ref.name, walk.frame_index(k / ref.fps)
            )
            out.append((REF, "hgpt_msgs/msg/MotionReference", int(t * 1e9) + 1000, serialize_message(m)))
        s = {
            "q": ref.joint_pos[k], "dq": ref.joint_vel[k], "tau_est": np.zeros(29),
            "quat": ref.root_quat_w[k], "gyro": np.zeros(3), "acc": np.array([0, 0, 9.81]),
            "root_pos_w": ref.root_pos_w[k], "root_lin_vel_w": ref.root_lin_vel_w[k],
            "root_ang_vel_w": ref.root_ang_vel_w[k],
        }  # fmt: skip
        out.append(
            (
                STATE,
                "hgpt_msgs/msg/RobotState",
                int(t * 1e9) + 2000,
                serialize_message(robot_state_to_msg(s, _stamp(t), k)),
            )
        )
    t_end = T0 + ref.num_frames / ref.fps
    for k in range(15):  # 0.3 s of another clip: too short, dropped
        m = reference_frame_to_msg(
            walk.frame(k / ref.fps), _stamp(t_end + k / ref.fps), "other", walk.frame_index(k / ref.fps)
        )
        out.append(
            (REF, "hgpt_msgs/msg/MotionReference", int((t_end + k / ref.fps) * 1e9), serialize_message(m))
        )
    return out


def _write(path, messages, close=True):
    w = BagWriter(path, {"hgpt.licence": "Apache-2.0"}).open()
    for topic, typ in dict((m[0], m[1]) for m in messages).items():
        w.add_topic(topic, typ)
    for topic, _, t, data in messages:
        w.write(topic, t, data)
    if close:
        w.close()
    return w


@pytest.fixture(scope="module")
def bag(tmp_path_factory, messages):
    path = tmp_path_factory.mktemp("bags") / "walk"
    _write(path, messages)
    return path


def test_layout_and_read_back(bag, messages, walk):
    assert sorted(p.name for p in bag.iterdir()) == ["metadata.yaml", "walk_0.mcap"]
    with BagReader(bag, strict=True) as r:
        info = r.info
        assert info.complete and info.storage == "mcap" and not info.problems
        assert info.topics[REF].count == sum(m[0] == REF for m in messages)
        assert info.topics[STATE].msgtype == "hgpt_msgs/msg/RobotState"
        assert info.custom_data["hgpt.licence"] == "Apache-2.0"
        got = list(r.messages())
    assert [(m.topic, m.timestamp, m.data) for m in got] == sorted(
        [(m[0], m[2], m[3]) for m in messages], key=lambda m: m[1]
    )
    ref = deserialize(next(m for m in got if m.topic == REF))
    assert ref.clip_id == walk.ref.name  # a rosbags object, with the same fields as rclpy's
    assert ref.valid and len(ref.joint_positions) == 29
    # rosbags' own reader (what the ros2 bag tools see) agrees
    from rosbags.rosbag2 import Reader

    with Reader(bag) as rb:
        assert rb.message_count == len(messages) and rb.duration > 0


def test_to_clips_round_trip(bag, walk, tmp_path):
    from hgpt_core.formats import load_clip

    s = bag_to_clips(bag, tmp_path / "clips")
    ref = walk.ref
    assert len(s["clips"]) == 2 and s["clips"][0]["ended_by"].startswith("gap 0.5")
    assert len(s["dropped"]) == 1 and "shorter than" in s["dropped"][0]["reason"]
    assert s["dropped"][0]["clip_id"] == "other"
    for c, frames in zip(s["clips"], (slice(0, GAP[0]), slice(GAP[1], ref.num_frames)), strict=True):
        clip = load_clip(c["file"])
        assert clip.fps == 50.0 and clip.licence == "Apache-2.0"
        assert clip.source == f"{bag}:{REF}"
        np.testing.assert_allclose(clip.joint_pos, ref.joint_pos[frames], atol=1e-6)  # float32 in the file
        np.testing.assert_allclose(clip.root_pos, ref.root_pos_w[frames], atol=1e-6)
        dots = np.abs(np.sum(clip.root_quat * ref.root_quat_w[frames], axis=1))
        assert dots.min() > 1 - 1e-6
    summary = json.loads((tmp_path / "clips/walk.reference.clips.json").read_text())
    assert [c["frames"] for c in summary["clips"]] == [GAP[0], ref.num_frames - GAP[1]]
    # the executed motion (robot state root truth) of the same bag, one unbroken segment
    s = bag_to_clips(bag, tmp_path / "clips", kind="robot_state")
    (c,) = s["clips"]
    clip = load_clip(c["file"])
    np.testing.assert_allclose(clip.joint_pos, ref.joint_pos, atol=1e-6)


def test_resamples_to_50hz(tmp_path, walk):
    """A 100 Hz reference stream becomes a 50 Hz clip of the same motion."""
    from rclpy.serialization import serialize_message

    from hgpt_retarget.msg_conv import reference_frame_to_msg

    msgs = []
    for k in range(400):
        t = k / 100
        m = reference_frame_to_msg(walk.frame(t), _stamp(T0 + t), "walk", walk.frame_index(t))
        m.frame_index = k  # a live stream counts up
        msgs.append((REF, "hgpt_msgs/msg/MotionReference", int((T0 + t) * 1e9), serialize_message(m)))
    _write(tmp_path / "b100", msgs)
    (c,) = bag_to_clips(tmp_path / "b100", tmp_path / "out")["clips"]
    assert c["frames"] == 200  # 3.99 s at 50 Hz
    from hgpt_core.formats import load_clip

    clip = load_clip(c["file"])
    np.testing.assert_allclose(clip.joint_pos, walk.ref.joint_pos[:200], atol=1e-5)


@pytest.mark.parametrize("frac", [0.0005, 0.03, 0.21, 0.5, 0.77, 0.95, 0.9999])
def test_truncated_mcap_recovers_a_prefix(bag, messages, tmp_path, frac):
    cut = tmp_path / "cut"
    shutil.copytree(bag, cut)
    mcap = cut / "walk_0.mcap"
    size = mcap.stat().st_size
    with mcap.open("r+b") as f:
        f.truncate(int(size * frac))
    with pytest.raises(BagError, match=r"walk_0\.mcap: (cut|no footer)"):
        BagReader(cut, strict=True)
    ordered = sorted(messages, key=lambda m: m[2])
    if frac < 0.001:  # cut inside the first chunk's header: nothing readable, and said so
        with pytest.raises(BagError, match="no readable message"):
            BagReader(cut)
        return
    with BagReader(cut) as r:
        assert not r.info.complete and any("walk_0.mcap" in p for p in r.info.problems)
        got = [(m.topic, m.timestamp, m.data) for m in r.messages()]
    assert 0 < len(got) <= len(messages)
    assert got == [(m[0], m[2], m[3]) for m in ordered[: len(got)]]  # a prefix, byte for byte
    if frac < 0.9:
        assert len(got) < len(messages)
    before = sorted(p.name for p in cut.iterdir())
    if sum(g[0] == REF for g in got) > 60:
        s = bag_to_clips(cut, tmp_path / "clips")
        assert s["clips"] and not s["bag_complete"] and s["problems"]
    assert sorted(p.name for p in cut.iterdir()) == before  # the damaged bag itself is left alone


def test_killed_recorder_bag_is_recovered(tmp_path, messages):
    """No close(): no summary, no footer, no metadata.yaml; what flush() put on disk is recovered."""
    half = messages[: len(messages) // 2]
    w = _write(tmp_path / "live", half, close=False)
    w.flush()
    shutil.copytree(tmp_path / "live", tmp_path / "killed")  # the state a SIGKILL leaves behind
    w.close()
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == ["live_0.mcap"]
    with pytest.raises(BagError, match=r"metadata\.yaml: missing"):
        BagReader(tmp_path / "killed", strict=True)
    with BagReader(tmp_path / "killed") as r:
        assert r.info.message_count == len(half)
        assert any("without data-end/footer" in p for p in r.info.problems)


@pytest.mark.parametrize("damage", ["missing", "garbled", "wrong_file"])
def test_bad_metadata(bag, messages, tmp_path, damage):
    b = tmp_path / "b"
    shutil.copytree(bag, b)
    meta = b / "metadata.yaml"
    if damage == "missing":
        meta.unlink()
    elif damage == "garbled":
        meta.write_text("rosbag2_bagfile_information: {version: 9, [unclosed\n")
    else:
        meta.write_text(meta.read_text().replace("walk_0.mcap", "gone_0.mcap"))
    with pytest.raises(BagError, match=r"metadata\.yaml: (missing|garbled|lists storage files)"):
        BagReader(b, strict=True)
    with BagReader(b) as r:  # the storage file itself is intact: everything recovered
        assert r.info.message_count == len(messages) and not r.info.complete


def test_garbage_and_empty_files(tmp_path):
    (tmp_path / "g").mkdir()
    (tmp_path / "g/x_0.mcap").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(BagError, match=r"x_0\.mcap: not an MCAP file"):
        BagReader(tmp_path / "g")
    (tmp_path / "e").mkdir()
    (tmp_path / "e/x_0.mcap").write_bytes(b"")
    with pytest.raises(BagError, match="empty"):
        BagReader(tmp_path / "e")
    with pytest.raises(BagError, match="no such bag"):
        BagReader(tmp_path / "nope")
    assert scan_mcap(tmp_path / "g/x_0.mcap").messages == []


def test_nothing_overwritten(bag, tmp_path):
    before = {p.name: p.read_bytes() for p in bag.iterdir()}
    with pytest.raises(BagError, match="exists already; not overwriting"):
        BagWriter(bag)
    assert {p.name: p.read_bytes() for p in bag.iterdir()} == before
    s = bag_to_clips(bag, tmp_path / "c")
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "c").iterdir()}
    with pytest.raises(BagError, match="not overwriting existing output"):
        bag_to_clips(bag, tmp_path / "c")
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "c").iterdir()} == stamp and s["clips"]


def test_cli_info_and_refusals(bag, tmp_path):
    def hgpt(*args):
        return subprocess.run(
            [sys.executable, "-m", "hgpt_bringup.cli", *args], capture_output=True, text=True, timeout=60
        )

    r = hgpt("bag", "info", str(bag), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["complete"] is True
    r = hgpt("bag", "record", str(bag), "--duration", "1")
    assert r.returncode == 2 and "exists already" in r.stderr
    cut = tmp_path / "cut"
    shutil.copytree(bag, cut)
    with (cut / "walk_0.mcap").open("r+b") as f:
        f.truncate(200_000)
    r = hgpt("bag", "info", str(cut))
    assert r.returncode == 1 and "complete:  NO" in r.stdout and "walk_0.mcap: cut at byte 200000" in r.stdout


@pytest.mark.parametrize(
    "key,value,says",
    [
        ("ros_distro", "humble", "names ROS distro 'humble'; this reader decodes with ROS 2 Kilted types"),
        ("storage_identifier", "sqlite3", "names storage 'sqlite3' but walk_0.mcap is mcap"),
        ("storage_identifier", "mcap_zstd9", "names storage 'mcap_zstd9'; this reader knows"),
    ],
)
def test_metadata_of_another_distro_or_storage_is_not_complete(bag, messages, tmp_path, key, value, says):
    """hgpt bag info says what differs (exit 1), never 'complete: yes'; the messages are still read."""
    b = tmp_path / "b"
    shutil.copytree(bag, b)
    meta = b / "metadata.yaml"
    data = yaml.safe_load(meta.read_text())
    assert data["rosbag2_bagfile_information"][key] in ("rosbags", "mcap")  # what our writer wrote
    data["rosbag2_bagfile_information"][key] = value
    meta.write_text(yaml.safe_dump(data))
    r = subprocess.run(
        [sys.executable, "-m", "hgpt_bringup.cli", "bag", "info", str(b)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "complete:  NO" in r.stdout and says in r.stdout, r.stdout + r.stderr
    with BagReader(b) as rd:
        assert not rd.info.complete and rd.info.message_count == len(messages)
    with pytest.raises(BagError, match=says.split(";")[0].replace("'", ".")):
        BagReader(b, strict=True)


# ---- the real graph ----------------------------------------------------------------------------------------


def _wait(proc, timeout: float) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


@pytest.mark.ros
@pytest.mark.slow
def test_record_play_to_clips_on_the_real_graph(spawn_python, rclpy_init, tmp_path):
    from hgpt_policy.twist2 import DEFAULT_ONNX

    if not DEFAULT_ONNX.is_file():
        pytest.skip(f"TWIST2 ONNX not found at {DEFAULT_ONNX}")
    rclpy = rclpy_init
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

    from hgpt_msgs.msg import MotionReference, RobotState

    cli = ("-m", "hgpt_bringup.cli")
    node = rclpy.create_node("bag_probe")
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    seen: list[bytes] = []
    node.create_subscription(MotionReference, REF, seen.append, 10, raw=True)
    graph = spawn_python(*cli, "run", "eval", "--policy", "twist2", "--duration", "60")
    end = time.monotonic() + 60
    while time.monotonic() < end and not seen:  # the graph is up: the reference flows
        ex.spin_once(timeout_sec=0.1)
    assert seen, "the eval graph published no reference"
    rec = spawn_python(
        *cli, "bag", "record", str(tmp_path / "rec"), "--duration", "8", "--licence", "Apache-2.0"
    )
    out = _wait(rec, 90)
    graph.terminate()
    graph.wait(timeout=30)
    assert "wrote" in out
    with BagReader(tmp_path / "rec", strict=True) as r:
        info = r.info
        bag_msgs = list(r.messages([REF, STATE]))
    # 8 s of a 50 Hz real-time graph is ~400 of each; a loaded machine delivers fewer (not a speed check)
    assert info.complete and info.topics[REF].count > 50 and info.topics[STATE].count > 50, info.table()
    assert {"/hgpt/joint_command", "/hgpt/status", "/joint_states"} <= set(info.topics)

    # play --fast into this process: every message arrives, byte for byte, in order per topic
    got: dict[str, list[bytes]] = {REF: [], STATE: []}
    qos = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE)
    for topic, typ in ((REF, MotionReference), (STATE, RobotState)):
        node.create_subscription(typ, topic, got[topic].append, qos, raw=True)
    play = spawn_python(*cli, "bag", "play", str(tmp_path / "rec"), "--fast", "--wait-subscribers", "20",
                        "--topics", REF, STATE)  # fmt: skip
    want = {t: [m.data for m in bag_msgs if m.topic == t] for t in got}
    end = time.monotonic() + 60
    while time.monotonic() < end and any(len(got[t]) < len(want[t]) for t in got):
        ex.spin_once(timeout_sec=0.05)
    _wait(play, 30)
    ex.shutdown()
    node.destroy_node()
    assert {t: len(v) for t, v in got.items()} == {t: len(v) for t, v in want.items()}
    assert got == want

    # to-clips: a clip that loads and passes `hgpt clips check`
    from hgpt_core.formats import load_clip

    s = bag_to_clips(tmp_path / "rec", tmp_path / "clips")
    assert s["clips"], s
    clip = load_clip(s["clips"][0]["file"])
    assert clip.fps == 50.0 and clip.licence == "Apache-2.0" and clip.duration > 5.0
    check = subprocess.run(
        [sys.executable, *cli, "clips", "check", s["clips"][0]["file"]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_header_stamp_of_serialised_messages():
    from rclpy.serialization import serialize_message

    from hgpt_bringup.bag_format import BagError, header_stamp_ns
    from hgpt_msgs.msg import JointCommand, MotionReference

    for cls in (MotionReference, JointCommand):
        msg = cls()
        msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 340_000_000
        assert header_stamp_ns(serialize_message(msg)) == 12_340_000_000
    with pytest.raises(BagError):
        header_stamp_ns(b"\x00")
