"""Bridge configuration and metadata loading (never raises: the bridge comes up damped and says why)."""

import pytest

from hgpt_core.policy_meta import PolicyMetadata
from hgpt_g1.bridge_config import BridgeConfig, load_policy_metadata


def test_metadata_from_file_text_and_builtin(tmp_path):
    meta = PolicyMetadata("from_file")
    path = tmp_path / "meta.json"
    path.write_text(meta.to_json())
    loaded, problems = load_policy_metadata(str(path))
    assert problems == [] and loaded == meta
    loaded, problems = load_policy_metadata(meta.to_json())
    assert problems == [] and loaded.policy_id == "from_file"
    loaded, problems = load_policy_metadata("zero")
    assert problems == [] and loaded.policy_id == "hold_default"


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        ("", "no policy metadata"),
        ("/nonexistent/meta.json", "cannot load its metadata"),
        ('{"policy_id": "x", "version": 99}', "version"),
        ("walking_policy", "not a .json/.onnx/.pt file"),
    ],
)
def test_bad_metadata_specs_give_problems(spec, expect):
    meta, problems = load_policy_metadata(spec)
    assert meta is None and len(problems) == 1 and expect in problems[0], problems


def test_bridge_config_validates():
    assert BridgeConfig().dry_run  # the safe default: nothing reaches /lowcmd until asked
    assert BridgeConfig(joint_names=["left_knee_joint"]).joint_names == ("left_knee_joint",)
    with pytest.raises(ValueError, match="trigger"):
        BridgeConfig(trigger="event")
    with pytest.raises(ValueError, match="rate_hz"):
        BridgeConfig(rate_hz=0.0)
