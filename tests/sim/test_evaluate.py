"""Evaluation harness: fall rule, start offsets, fps refusal, policies side by side, batched = per process."""

import csv
import shutil

import numpy as np
import pytest

from hgpt_core.errors import HgptError, MotionFormatError
from hgpt_sim.eval_clips import clip_label, find_corpus
from hgpt_sim.eval_results import RunSpec, plan_runs
from hgpt_sim.eval_runner import evaluate_policies, run_clip
from hgpt_sim.evaluate import EvalConfig, evaluate
from hgpt_sim.policy_adapters import make_adapter
from hgpt_sim.references import MotionBank, load_motion_file
from hgpt_sim.render import gl_available
from hgpt_sim.report import distinct_colors


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory, make_standing_clip):
    path = tmp_path_factory.mktemp("clips") / "standing.clip.npz"
    make_standing_clip(frames=120).save(path)
    return path


def test_hold_default_run_stops_scoring_at_the_fall(clip_file):
    r = run_clip(make_adapter("zero"), clip_file)
    assert r.fell and 10 < r.steps < 119 and r.fall_reason in ("anchor_height", "tilt", "anchor_height,tilt")
    assert all(len(v) == r.steps - 1 for v in r.errors.values())  # the fall step itself is not scored
    assert r.errors["mpjpe"][0] < r.errors["mpjpe"][-1]  # error grows while it tips over


def test_start_offsets_and_cap():
    runs = plan_runs([301, 40], starts=3, seeds=(0, 1), max_steps=100)
    first = [(r.clip, r.start, r.seed, r.steps) for r in runs if r.clip == 0]
    assert first == [(0, s, seed, 100) for s in (0, 100, 200) for seed in (0, 1)]
    assert [(r.start, r.steps) for r in runs if r.clip == 1 and r.seed == 0] == [(0, 39), (13, 26), (26, 13)]
    assert [r.start for r in plan_runs([3], 3, (0,), None)] == [0, 1]  # a start leaves at least one step
    with pytest.raises(ValueError):
        plan_runs([10], 0, (0,), None)


def test_a_run_starts_on_the_reference_at_its_offset(clip_file):
    ref = MotionBank.from_files([clip_file])
    r = run_clip(make_adapter("zero"), clip_file, start_frame=60, max_seconds=0.1, record=True)
    assert r.start_frame == 60 and r.start_s == pytest.approx(1.2) and r.planned_steps == 5
    want = ref.frame(np.array([0]), np.array([60])).qpos()[0]
    np.testing.assert_allclose(r.ref_qpos[0], want)
    np.testing.assert_allclose(r.qpos[0], want, atol=1e-9)


def test_harness_writes_table_and_plots(tmp_path, clip_file):
    cfg = EvalConfig(
        policy=("zero",), clips=(str(clip_file),), seeds=(0, 1), starts=2, nthread=1, out_dir=tmp_path
    )
    runs, files = evaluate(cfg)
    assert len(runs) == 4 and {(r.start_frame, r.seed) for r in runs} == {(0, 0), (0, 1), (60, 0), (60, 1)}
    rows = list(csv.DictReader(files["csv"].open()))
    assert [(r["clip"], r["policy"]) for r in rows] == [("standing", "zero"), ("overall", "zero")]
    assert float(rows[1]["SR"]) < 1.0 and float(rows[1]["mpjpe"]) > 0.0  # start 0 tips over
    assert len(list(csv.DictReader(files["runs_csv"].open()))) == 4
    md = files["md"].read_text()
    assert "| zero (baseline) |" in md and "MPKPE ref-heading (mm)" in md and "## Columns" in md
    assert str(tmp_path) not in md  # no build/output paths in the report
    assert files["plot"].stat().st_size > 10_000 and files["plot_mpjpe"].stat().st_size > 10_000
    by = {(r.start_frame, r.seed): r for r in runs}
    np.testing.assert_array_equal(
        by[(0, 0)].errors["mpjpe"], by[(0, 1)].errors["mpjpe"]
    )  # no DR: seeds agree


def test_csv_fps_is_never_guessed(tmp_path, shared_data):
    src = shared_data / "motions/g1/lafan1/walk1_subject1.csv"
    assert MotionBank.from_files([src]).lengths[0] > 0  # a catalogued shared file: its source's rate
    folder = tmp_path / "g1_moves"  # a folder name is no evidence of a rate
    folder.mkdir()
    copy = folder / "walk.csv"
    copy.write_text("".join(src.open().readlines()[:300]))
    with pytest.raises(MotionFormatError, match="--fps"):
        load_motion_file(copy)
    with pytest.raises(MotionFormatError, match="--fps"):
        evaluate_policies(["zero"], [str(copy)], progress=False)
    at30 = MotionBank.from_files([copy], csv_fps=30.0).lengths[0]
    (folder / "walk.csv.json").write_text('{"fps": 60}')
    at60 = MotionBank.from_files([copy]).lengths[0]  # the sidecar
    assert at30 == pytest.approx(2 * at60, abs=2)  # 300 frames: 10 s at 30 fps, 5 s at 60 fps
    shutil.copy(folder / "walk.csv.json", tmp_path / "bad.csv.json")
    (tmp_path / "bad.csv.json").write_text('{"rate": 60}')
    shutil.copy(copy, tmp_path / "bad.csv")
    with pytest.raises(MotionFormatError, match="sidecar"):
        load_motion_file(tmp_path / "bad.csv")


def test_two_policies_side_by_side_on_a_shared_clip(tmp_path, shared_data, twist2_onnx):
    res = evaluate_policies(
        ["twist2", "zero"], ["gmt/squat.pkl"], starts=2, max_seconds=1.5, nthread=1, out_dir=tmp_path,
        progress=False,
    )  # fmt: skip
    assert res.policies == ["twist2", "zero"]
    plan = {p: [(r.clip, r.start_frame, r.seed) for r in res.runs if r.policy == p] for p in res.policies}
    assert plan["twist2"] == plan["zero"] and len(plan["zero"]) == 2
    o = res.overall()
    assert o["twist2"]["SR"] == 1.0 and o["zero"]["SR"] < 1.0  # hold-default tips over
    assert o["twist2"]["mpjpe"] < o["zero"]["mpjpe"]
    table = res.table()
    assert table.index("| twist2 |") < table.index("| zero (baseline) |")
    assert (tmp_path / "metric_SR.png").is_file() and (tmp_path / "metric_mpkpe_ref_heading_mm.png").is_file()
    assert len(list(csv.DictReader((tmp_path / "results.csv").open()))) == 4  # squat x 2 + overall x 2


def test_batched_equals_one_process_per_run(shared_data, twist2_onnx):
    from hgpt_sim.twist2 import Twist2Adapter

    kw = dict(starts=3, max_seconds=2.0, init_noise=0.02, seeds=(0, 1), progress=False)
    clips = ["gmt/kick_walk.pkl", "lafan1/walk1_subject1.csv"]
    batched = evaluate_policies([Twist2Adapter()], clips, nthread=1, **kw)  # an adapter object
    proc = evaluate_policies(["twist2"], clips, mode="process", workers=1, **kw)
    assert batched.policies == proc.policies == ["twist2"] and len(batched.runs) == 12
    for a, b in zip(batched.runs, proc.runs, strict=True):
        assert (a.clip, a.start_frame, a.seed, a.steps, a.fell) == (
            b.clip,
            b.start_frame,
            b.seed,
            b.steps,
            b.fell,
        )
        assert a.tracking_failure_step == b.tracking_failure_step
        for m in a.errors:
            np.testing.assert_array_equal(a.errors[m], b.errors[m])
    noisy = {r.seed: r.errors["mpjpe"] for r in batched.runs if r.start_frame == 0 and r.clip == "kick_walk"}
    assert not np.array_equal(noisy[0], noisy[1])  # the seed draws the initial joint noise


def test_human_bvh_is_retargeted_and_scored(shared_data):
    from hgpt_core.datasets import bundled_human_path

    res = evaluate_policies(["zero"], [bundled_human_path()], starts=2, max_seconds=0.3, progress=False)
    assert {r.clip for r in res.runs} == {"cmu_01_01"} and len(res.runs) == 2
    assert res.runs[1].start_frame > 0 and all(r.scored_steps > 0 for r in res.runs)


def test_split_without_a_corpus_says_how_to_build_one(tmp_path):
    with pytest.raises(HgptError, match="hgpt corpus all"):
        find_corpus(tmp_path / "nothing")


def test_clip_labels_and_colours_read():
    assert clip_label("0-motions_raw_tairantestbed_smpl_video_Bolt_level1_amass") == "Bolt level1"
    assert clip_label("gmt/basic_walk") == "basic walk"
    assert len(clip_label("x" * 80)) == 28
    cols = distinct_colors(14)
    assert len({tuple(c) for c in cols}) == 14


def test_run_spec_is_plain_data():
    assert RunSpec(0, 5, 1, 10) == RunSpec(0, 5, 1, 10)


def test_twist2_run_with_captioned_video(tmp_path, shared_data, twist2_onnx):
    res = evaluate_policies(
        ["twist2"], ["gmt/squat.pkl"], starts=1, max_seconds=1.0, out_dir=tmp_path, video_clip="squat",
        video_seconds=0.4, video_fps=10, plots=False, progress=False,
    )  # fmt: skip
    r = res.runs[0]
    assert not r.fell and r.steps == 50 and 0.0 < r.means()["mpjpe"] < 0.2
    if "video" not in res.files:
        ok, msg = gl_available()
        assert not ok, "GL works but the harness wrote no video"
        pytest.skip(f"no offscreen GL backend (install libegl1 or libosmesa6, set MUJOCO_GL): {msg}")
    assert res.files["video"].name == "squat_twist2.mp4" and res.files["video"].stat().st_size > 1000
