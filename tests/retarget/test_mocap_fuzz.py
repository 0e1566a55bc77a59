"""Seeded fuzzing of the UDP mocap datagram parser (issue 15): random and mutated datagrams never raise out
of ``MocapParser.feed`` (the receive loop's only call), and every rejection is counted with a known reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hgpt_retarget.human import load_human
from hgpt_retarget.mocap_send import MocapUdpSender
from hgpt_retarget.mocap_udp import REASONS, MocapParser

N = 4000
ODD_VALUES = [None, True, False, 0, -1, 2**70, 1e308, -1e308, 1e-320, "x", "", [], {}, [[]], [None], [1, 2],
              [[1, 2, 3]] * 3, {"a": 1}, "NaN", [[1e9, 0, 0]], list(range(100))]  # fmt: skip


@pytest.fixture(scope="module")
def cmu(human_dir):
    path = human_dir / "cmu_bvh_fairmotion" / "01_01.bvh"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    return load_human(path)[0]


def mutate_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    op = rng.integers(5)
    if op == 0 and b:  # flip bytes
        for i in rng.integers(0, len(b), size=rng.integers(1, 8)):
            b[i] = rng.integers(256)
    elif op == 1:  # truncate
        b = b[: rng.integers(0, len(b) + 1)]
    elif op == 2:  # insert random bytes
        i = rng.integers(0, len(b) + 1)
        b[i:i] = rng.bytes(int(rng.integers(1, 64)))
    elif op == 3:  # duplicate a slice
        i, j = sorted(rng.integers(0, len(b) + 1, size=2))
        b[j:j] = b[i:j]
    else:  # pure noise, sometimes huge
        b = bytearray(rng.bytes(int(rng.choice([0, 1, 17, 900, 70_000]))))
    return bytes(b)


def mutate_json(obj: dict, rng: np.random.Generator) -> bytes:
    obj = json.loads(json.dumps(obj))
    keys = list(obj) + ["pos", "quat", "conf", "names", "units", "up", "extra"]
    key = keys[rng.integers(len(keys))]
    op = rng.integers(4)
    if op == 0:
        obj.pop(key, None)
    elif op == 1:
        obj[key] = ODD_VALUES[rng.integers(len(ODD_VALUES))]
    elif op == 2 and isinstance(obj.get("pos"), list) and obj["pos"]:  # one joint or coordinate
        j = rng.integers(len(obj["pos"]))
        obj["pos"][j] = (
            ODD_VALUES[rng.integers(len(ODD_VALUES))] if rng.random() < 0.5 else [float("inf")] * 3
        )
    else:  # deep nesting (written as text: json.dumps itself would recurse too deep)
        depth = int(rng.choice([10, 100_000]))
        obj[key] = "@DEEP@"
        return json.dumps(obj).replace('"@DEEP@"', "[" * depth + "1" + "]" * depth).encode()
    return json.dumps(obj, allow_nan=True).encode()


def test_random_and_mutated_datagrams_never_raise_and_are_counted(cmu):
    rng = np.random.default_rng(15)
    sender = MocapUdpSender("127.0.0.1", 9, cmu.skeleton, cmu.joint_names)
    sender.sock.close()  # encode only
    parser = MocapParser()
    accepted = 0
    for k in range(N):
        i = k % cmu.num_frames
        valid = json.loads(sender.encode(cmu.positions[i], k * 0.01, k, with_names=True))
        data = mutate_bytes(json.dumps(valid).encode(), rng) if k % 2 else mutate_json(valid, rng)
        frame = parser.feed(data, ("10.0.0.1", 5000), now=k * 0.01)  # must not raise
        if frame is None:
            assert parser.last_error is not None and parser.last_error.reason in REASONS, parser.last_error
        else:
            accepted += 1
            assert frame.positions.shape == (len(frame.names), 3)
            assert not np.isinf(frame.positions).any()  # NaN only for an occluded (null) joint
    st = parser.stats
    assert st.accepted == accepted and st.accepted + st.rejected_total == N
    assert st.rejected_total > N // 2 and set(st.rejected) <= set(REASONS)
    # a valid datagram after all that is accepted (the parser's state is not poisoned)
    ok = sender.encode(cmu.positions[0], N * 0.01 + 10, N + 10, with_names=True)
    assert parser.feed(ok, ("10.0.0.1", 5000), now=N * 0.01 + 10) is not None, parser.last_error
