"""The mocap datagram format: every malformed datagram is rejected with its reason, the sender round trip
is exact (also in cm / y-up), ordering and sender rules, and a real UDP socket on localhost."""

from __future__ import annotations

import json
import math
import socket
import tempfile
import threading

import numpy as np
import pytest

from hgpt_core.rotations import quat_conj, quat_mul
from hgpt_retarget.human import load_human
from hgpt_retarget.mocap_send import MocapUdpSender, from_z_up_m, stream_file
from hgpt_retarget.mocap_udp import MAX_DATAGRAM_BYTES, REASONS, ClockMapper, DatagramError, MocapParser


@pytest.fixture(scope="module")
def cmu(human_dir):
    path = human_dir / "cmu_bvh_fairmotion" / "01_01.bvh"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    return load_human(path)[0]


@pytest.fixture(scope="module")
def bandai(human_dir, first):
    return load_human(first((human_dir / "bandai_namco").rglob("*.bvh"), "Bandai Namco BVH"))[0]


Q_Y_TO_Z = np.array([math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0])


def datagram(motion, i=0, **over) -> dict:
    d = {
        "v": 1,
        "frame": i,
        "t": i / motion.fps,
        "skeleton": motion.skeleton,
        "names": list(motion.joint_names),
    }
    d["pos"] = motion.positions[i].tolist()
    d.update(over)
    return {k: v for k, v in d.items() if v is not ...}


def enc(d) -> bytes:
    return json.dumps(d).encode()


def test_round_trip_is_exact_both_skeletons(cmu, bandai):
    for motion in (cmu, bandai):
        snd = MocapUdpSender(skeleton=motion.skeleton, names=motion.joint_names)
        parser = MocapParser()
        for i in range(0, motion.num_frames, 37):
            f = parser.parse(snd.encode(motion.positions[i], i / motion.fps, i, with_names=i == 0))
            assert np.array_equal(f.positions, motion.positions[i])
            assert f.names == motion.joint_names and f.frame == i and f.skeleton == motion.skeleton
        snd.close()


def test_every_frame_of_real_walks_is_accepted(cmu, walk_bvh):
    """Whole walks (4.5 m across; Bandai keeps a root joint at the origin) pass every check."""
    for motion in (cmu, load_human(walk_bvh)[0]):
        snd = MocapUdpSender(skeleton=motion.skeleton, names=motion.joint_names, units="cm", up="y")
        parser = MocapParser()
        raw = from_z_up_m(motion.positions, "cm", "y")
        for i in range(motion.num_frames):
            assert parser.feed(snd.encode(raw[i], i / motion.fps, i, with_names=i == 0)), parser.last_error
        snd.close()


def test_units_and_up_axis_are_converted(cmu):
    q = np.tile([math.cos(0.3), 0.0, math.sin(0.3), 0.0], (len(cmu.joint_names), 1))  # about y (z-up)
    for units, up in (("cm", "y"), ("mm", "z"), ("m", "y")):
        snd = MocapUdpSender(skeleton="cmu", names=cmu.joint_names, units=units, up=up)
        raw = from_z_up_m(cmu.positions[10], units, up)
        # world change only (body axes kept): q_z = q(+90 deg about x) * q_y
        q_send = q if up == "z" else quat_mul(quat_conj(Q_Y_TO_Z), q)
        f = MocapParser().parse(snd.encode(raw, 0.0, 0, quats=q_send, conf=np.full(len(q), 0.5)))
        np.testing.assert_allclose(f.positions, cmu.positions[10], atol=1e-12)
        np.testing.assert_allclose(f.quats, q, atol=1e-12)
        assert (f.conf == 0.5).all()


def test_names_optional_after_the_first_and_for_the_skeleton_order(cmu):
    p = MocapParser()
    f0 = p.parse(enc(datagram(cmu, 0, names=...)))  # cmu BVH joints are the mapping's joint list
    assert f0.names == cmu.joint_names
    names = list(reversed(cmu.joint_names))
    pos = cmu.positions[1][::-1].tolist()
    f1 = p.parse(enc(datagram(cmu, 1, names=names, pos=pos)))
    f2 = p.parse(enc(datagram(cmu, 2, names=..., pos=cmu.positions[2][::-1].tolist())))
    assert f1.names == f2.names == tuple(names)  # the sender's last names are kept


def test_null_joint_is_nan_and_all_null_is_rejected(cmu):
    pos = cmu.positions[0].tolist()
    pos[3] = None
    f = MocapParser().parse(enc(datagram(cmu, pos=pos)))
    assert np.isnan(f.positions[3]).all() and np.isfinite(np.delete(f.positions, 3, 0)).all()
    with pytest.raises(DatagramError, match="every joint is null"):
        MocapParser().parse(enc(datagram(cmu, pos=[None] * len(pos))))


def malformed(cmu):
    """(datagram bytes, reason) for every rejection the parser knows (but ordering / sender ones)."""
    j = len(cmu.joint_names)
    good = datagram(cmu)
    p = cmu.positions[0]
    far = (p + [500.0, 0, 0]).tolist()
    wide = p.copy()
    wide[0] += [5.0, 0, 0]
    return [
        (b"x" * (MAX_DATAGRAM_BYTES + 1), "oversized"),
        (b'{"v": 1, "name": "\xff"}', "encoding"),
        (b'{"v": 1, "frame": ', "json"),
        (b"[1, 2, 3]", "not_object"),
        (enc({**good, "v": 2}), "version"),
        (enc({**good, "v": "1"}), "version"),
        (enc({k: v for k, v in good.items() if k != "v"}), "version"),
        (enc({**good, "frame": -1}), "field"),
        (enc({**good, "frame": 1.5}), "field"),
        (enc({**good, "t": "now"}), "field"),
        (enc({k: v for k, v in good.items() if k != "pos"}), "field"),
        (enc({**good, "pos": "abc"}), "field"),
        (enc({**good, "pos": [["a", 0, 0]] * j}), "field"),
        (enc({**good, "units": "furlong"}), "field"),
        (enc({**good, "up": "x"}), "field"),
        (enc({**good, "names": [1, 2]}), "field"),
        (enc(good).replace(b'"t": 0.0', b'"t": NaN'), "nonfinite"),
        (json.dumps({**good, "pos": [[math.nan, 0, 0]] + p[1:].tolist()}).encode(), "nonfinite"),
        (json.dumps({**good, "pos": [[math.inf, 0, 0]] + p[1:].tolist()}).encode(), "nonfinite"),
        (enc({**good, "pos": p[:-1].tolist()}), "length"),
        (enc({**good, "pos": [[0, 0]] * j}), "length"),
        (enc({**good, "quat": [[1, 0, 0, 0]] * (j - 1)}), "length"),
        (enc({**good, "conf": [1.0] * (j + 1)}), "length"),
        (enc({**good, "skeleton": "kinect"}), "skeleton"),
        (enc({**good, "skeleton": 3}), "field"),
        (enc({**good, "names": [f"j{i}" for i in range(j)]}), "names"),
        (enc({**good, "names": ["a"] * j}), "names"),
        (enc({**good, "pos": far}), "range"),
        (enc({**good, "units": "cm"}), "extent"),  # metres sent as cm: fine; the reverse:
        (enc({**good, "pos": (p * 100).tolist()}), "extent"),
        (enc({**good, "pos": wide.tolist()}), "extent"),
        (enc({**good, "quat": [[2, 0, 0, 0]] * j}), "quat"),
        (enc({**good, "conf": [1.5] * j}), "conf"),
    ]


def test_every_malformed_datagram_gives_its_reason(cmu):
    cases = malformed(cmu)
    seen = set()
    for data, reason in cases:
        if reason == "extent" and b'"units": "cm"' in data:
            assert MocapParser().feed(data) is not None  # a smaller body is not absurd: accepted
            continue
        parser = MocapParser()
        assert parser.feed(data) is None, reason
        assert parser.last_error.reason == reason, (reason, str(parser.last_error))
        assert parser.stats.rejected == {reason: 1} and parser.stats.accepted == 0
        assert str(parser.last_error).startswith(reason + ": ")
        seen.add(reason)
    ordering = {"duplicate", "out_of_order", "other_sender"}
    assert seen | ordering == set(REASONS)


def test_order_duplicates_restart_and_counters(cmu):
    p = MocapParser(restart_frames=100)
    for i in (0, 1, 5):
        assert p.feed(enc(datagram(cmu, i))) is not None  # gaps are fine (dropped datagrams)
    assert p.feed(enc(datagram(cmu, 5))) is None and p.last_error.reason == "duplicate"
    assert p.feed(enc(datagram(cmu, 3))) is None and p.last_error.reason == "out_of_order"
    assert p.feed(enc(datagram(cmu, 6, t=0.0))) is None and p.last_error.reason == "out_of_order"  # time back
    assert p.feed(enc(datagram(cmu, 400))) is not None
    f = p.feed(enc(datagram(cmu, 0)))  # a sender restart: back to 0
    assert f is not None and f.restart
    assert p.feed(enc(datagram(cmu, 1))) is not None
    assert p.stats.accepted == 6 and p.stats.restarts == 1
    assert p.stats.rejected == {"duplicate": 1, "out_of_order": 2}
    assert p.stats.lost == 3 + 394  # gaps 1 -> 5 and 5 -> 400
    assert p.stats.summary() == "accepted 6, rejected 3 (duplicate 1, out_of_order 2), restarts 1, lost 397"


def test_one_sender_at_a_time(cmu):
    p = MocapParser(switch_after_s=0.5)
    a, b = ("10.0.0.1", 5000), ("10.0.0.2", 5000)
    assert p.feed(enc(datagram(cmu, 0)), a, now=0.0) is not None
    assert p.feed(enc(datagram(cmu, 0)), b, now=0.1) is None and p.last_error.reason == "other_sender"
    assert p.feed(enc(datagram(cmu, 1)), a, now=0.2) is not None
    assert p.feed(enc(datagram(cmu, 7)), b, now=0.8) is not None  # a silent for 0.6 s: b takes over
    assert p.feed(enc(datagram(cmu, 2)), a, now=0.9) is None


def test_fixed_skeleton_rejects_others(cmu, bandai):
    p = MocapParser("cmu")
    assert p.feed(enc(datagram(cmu))) is not None
    assert p.feed(enc(datagram(bandai, 1))) is None and p.last_error.reason == "skeleton"


def test_clock_mapper_takes_the_least_delayed_offset():
    c = ClockMapper(reset_s=0.25)
    assert c(0.0, 100.05) == pytest.approx(100.05)
    assert c(0.02, 100.06) == pytest.approx(100.06)  # less delayed: offset 100.04
    assert c(0.04, 100.10) == pytest.approx(100.08)  # jitter: stamps stay on the sender's clock
    assert c(0.06, 101.0) == pytest.approx(101.0)  # delay grew by > 0.25 s: re-based


def test_real_socket_sender_thread_to_parser(cmu):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5.0)
    port = rx.getsockname()[1]
    motion = cmu.window(0, 60)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            npz = f"{tmp}/walk.npz"
            np.savez(
                npz, positions=motion.positions, joint_names=np.array(motion.joint_names), fps=motion.fps
            )
            th = threading.Thread(
                target=stream_file, args=(npz, "127.0.0.1", port), kwargs={"speed": 4.0, "log": False}
            )
            th.start()
            parser, frames = MocapParser(), []
            while len(frames) < motion.num_frames:
                data, addr = rx.recvfrom(MAX_DATAGRAM_BYTES + 1)
                f = parser.feed(data, addr)
                assert f is not None, parser.last_error
                frames.append(f)
            th.join(5.0)
    finally:
        rx.close()
    assert [f.frame for f in frames] == list(range(motion.num_frames))
    np.testing.assert_array_equal(np.stack([f.positions for f in frames]), motion.positions)
    t = np.array([f.t for f in frames])
    np.testing.assert_allclose(np.diff(t), 1 / (motion.fps * 4.0))
