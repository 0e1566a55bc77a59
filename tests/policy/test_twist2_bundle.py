"""The bundled TWIST2 tracker: shipped with its MIT licence, identical to the peer's release, the default."""

from __future__ import annotations

import hashlib

import pytest

from hgpt_core.datasets import shared_data_dir
from hgpt_policy.twist2 import ONNX_NAME, default_onnx


def test_bundled_is_default_and_licensed():
    path = default_onnx()
    assert path.parent.name == "twist2" and path.parent.parent.name == "assets", path
    assert "MIT License" in (path.parent / "LICENSE").read_text()
    assert (path.parent / "LAYOUT.md").is_file()


def test_bundled_equals_the_peer_release():
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared not found: cannot compare with the peer's release")
    peer = data.parent / "peers" / "twist2" / ONNX_NAME
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (peer, default_onnx())]
    assert digest[0] == digest[1]
