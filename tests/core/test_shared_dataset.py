"""Every shared G1 clip loads and passes FK sanity (feet near the floor, joints within limits or reported)."""

import numpy as np

from hgpt_core.datasets import G1_SOURCES, iter_g1_clips, iter_source_files
from hgpt_core.sanity import clip_sanity


def test_all_shared_g1_clips_load_and_are_sane(shared_data):
    expected = sum(len(iter_source_files(s, shared_data)) for s in G1_SOURCES)
    clips = list(iter_g1_clips(shared_data))
    assert len(clips) == expected > 100
    frames = sum(c.num_frames for c in clips)
    assert frames > 100_000
    for c in clips:
        s = clip_sanity(c)
        # Video-derived ASAP clips float a few cm and jump; GMT kicks sink slightly: all within 0.15 m.
        assert -0.05 < s.lowest_foot_z_median < 0.15, (c.source, c.name, s)
        assert s.upright_fraction > 0.7, (c.source, c.name)
        assert all(v < 0.5 for v in s.joint_limit_violations.values()), (
            c.name,
            s.joint_limit_violations,
        )
        assert c.licence != "unknown" and c.source != "unknown"
    by_source = {c.source for c in clips}
    assert by_source == {s.name for s in G1_SOURCES}
    assert np.isfinite([c.duration for c in clips]).all()
