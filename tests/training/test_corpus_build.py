"""Corpus build on a small real subset: augmentation, splits, exact round trip, resume, determinism, Ray."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from hgpt_core.corpus_store import COLUMNS, CorpusReader, clip_columns, load_manifest
from hgpt_core.errors import MotionFormatError
from hgpt_core.formats import load_clip
from hgpt_core.motion import MotionClip
from hgpt_training.corpus import SUBSET_INCLUDE, CorpusConfig, build, time_warp
from hgpt_training.corpus_cli import main
from hgpt_training.corpus_filter import shift_clip
from hgpt_training.corpus_pack import DUPLICATE_TOL_RAD, DUPLICATE_TOL_S, assign_split, find_duplicates
from hgpt_training.corpus_sources import CorpusSource

FIELDS = {
    "clip_id",
    "source",
    "licence",
    "fps",
    "frames",
    "verdict",
    "reason",
    "factor",
    "split",
    "shard",
    "offset",
}


def store_bytes(root: Path) -> dict[str, bytes]:
    """manifest + every shard of a built corpus, by relative path."""
    files = [root / "manifest.json", *sorted((root / "shards").rglob("*.arrow"))]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_manifest_entries_augmentation_factors_and_lengths(small_corpus, shared_data):
    m = load_manifest(small_corpus)
    assert m["config"]["speed_factors"] == [0.8, 0.9, 1.0, 1.1, 1.25]
    assert len(m["entries"]) == 5 * len(m["clips"]) == 50
    for e in m["entries"]:
        assert set(e) >= FIELDS, e
        assert (e["shard"] is None) == (e["verdict"] == "rejected")
    clip = load_clip(shared_data / "motions/g1/gmt/basic_walk.pkl")
    got = {e["factor"]: e["frames"] for e in m["entries"] if e["clip_id"] == "gmt/basic_walk"}
    for f, frames in got.items():
        assert frames == int(np.floor(clip.duration / f * 50 + 1e-6)) + 1
    assert got[0.8] > got[1.0] > got[1.25]
    assert got[1.0] / got[1.25] == pytest.approx(1.25, rel=1e-3)


def test_split_by_source_clip_never_crosses(small_corpus):
    m = load_manifest(small_corpus)
    splits: dict[str, set[str]] = {}
    for e in m["entries"]:
        splits.setdefault(e["clip_id"], set()).add(e["split"])
    assert all(len(s) == 1 for s in splits.values())
    for c in m["clips"]:
        assert c["split"] == assign_split(c["clip_id"], 0, 0.1, 0.1)
    for name in ("train", "val", "test"):
        shard_clips = {
            e["clip_id"] for e in m["entries"] if e["shard"] and e["shard"].split("/")[-1].startswith(name)
        }
        assert all(c["split"] == name for c in m["clips"] if c["clip_id"] in shard_clips)
    assert {assign_split(f"x/{i}", 0, 0.1, 0.1) for i in range(200)} == {"train", "val", "test"}


def test_store_round_trips_exactly(small_corpus, shared_data):
    reader = CorpusReader(small_corpus, "all")
    by_id = {e["entry_id"]: i for i, e in enumerate(reader.entries)}
    clips = {c["clip_id"]: c for c in reader.manifest["clips"]}
    for entry_id, file, fps in [
        ("gmt/basic_walk@1", "motions/g1/gmt/basic_walk.pkl", None),
        ("gmt/walk_stand@1.25", "motions/g1/gmt/walk_stand.pkl", None),
        ("g1_moves/J_ShortDance16_JazzWalk@0.8", clips["g1_moves/J_ShortDance16_JazzWalk"]["file"], 60.0),
    ]:
        e = reader.entries[by_id[entry_id]]
        src = load_clip(shared_data / file, fps=fps)
        expected = shift_clip(time_warp(src, e["factor"], 50.0), clips[e["clip_id"]]["ground_shift_m"])
        if e["factor"] == 1.0:
            np.testing.assert_array_equal(expected.joint_pos, src.resample(50.0).joint_pos)
        got = reader.frames(by_id[entry_id])
        for name, want in clip_columns(expected).items():
            np.testing.assert_array_equal(got[name], want, err_msg=f"{entry_id} {name}")
        assert not got["joint_pos"].flags.writeable  # a view of the memory-mapped shard, not a copy


def test_reader_windows_and_sampling(small_corpus):
    reader = CorpusReader(small_corpus, "train", ("joint_pos", "joint_vel"))
    assert len(reader) > 0
    windows = list(reader.iter_windows(64, stride=32))
    assert len(windows) == sum(max(0, (n - 64) // 32 + 1) for n in reader.lengths)
    assert windows[0].columns["joint_pos"].shape == (64, 29)
    w = windows[3]
    np.testing.assert_array_equal(
        w.columns["joint_vel"], reader.frames(w.entry, w.start, w.start + 64)["joint_vel"]
    )
    only_first = np.zeros(len(reader))
    only_first[0] = 1.0
    batch = reader.sample(8, 32, np.random.default_rng(0), weights=only_first)
    assert batch["joint_pos"].shape == (8, 32, COLUMNS["joint_pos"])
    first = reader.frames(0)["joint_pos"]
    for b in batch["joint_pos"]:  # every window comes from entry 0
        assert any(np.array_equal(b, first[s : s + 32]) for s in range(len(first) - 31))


class Interrupt(Exception):
    pass


def test_resume_after_interruption_does_only_the_rest_and_matches(small_corpus, small_cfg, tmp_path):
    cfg = small_cfg(tmp_path / "c")
    done = []

    def stop_after_four(record: dict) -> None:
        done.append(record["clip"]["clip_id"])
        if len(done) == 4:
            raise Interrupt

    with pytest.raises(Interrupt):
        build(cfg, on_unit_done=stop_after_four)
    assert not (tmp_path / "c/manifest.json").exists()
    r = build(cfg)
    assert (r.computed, r.skipped, r.packed) == (10 - 4, 4, True)
    assert store_bytes(tmp_path / "c") == store_bytes(
        small_corpus
    )  # deterministic: same bytes as the fixture
    again = build(cfg)
    assert (again.computed, again.skipped, again.packed) == (0, 10, False)
    changed = build(dataclasses.replace(cfg, speed_factors=(1.0, 1.5)))  # new settings: every unit redone
    assert changed.computed == 10 and len(changed.manifest["entries"]) == 20
    assert len(list((tmp_path / "c/shards").iterdir())) == 1  # the old pack's shards are gone


def test_seed_changes_splits_only(small_corpus, small_cfg, tmp_path):
    m0 = load_manifest(small_corpus)
    m1 = build(small_cfg(tmp_path / "s", seed=7)).manifest
    assert [c["verdict"] for c in m0["clips"]] == [c["verdict"] for c in m1["clips"]]
    assert [c["split"] for c in m0["clips"]] != [c["split"] for c in m1["clips"]]


@pytest.mark.slow
def test_killed_build_resumes_to_the_same_bytes(small_corpus, small_include, shared_data, tmp_path):
    """SIGKILL of ``python -m hgpt_training.corpus_cli build`` after its first unit; the re-run reuses the
    finished units, computes the rest and writes the same store as an uninterrupted build."""
    out = tmp_path / "k"
    cmd = [sys.executable, "-m", "hgpt_training.corpus_cli", "build", "--out", str(out), "--data-root",
           str(shared_data), "--include", *small_include, "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120.0
    while not list((out / "work/parts").glob("*.json")) and proc.poll() is None:
        assert time.monotonic() < deadline, "no unit finished in 120 s"
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    done = len(list((out / "work/parts").glob("*.json")))
    assert 1 <= done < 10 and not (out / "manifest.json").exists(), done
    r = build(CorpusConfig(out=out, data_root=shared_data, include=small_include, progress=False))
    assert (r.computed, r.skipped, r.packed) == (10 - done, done, True)
    assert store_bytes(out) == store_bytes(small_corpus)
    assert not list((out / "work/parts").glob(".*.tmp"))  # torn temp files of the killed run are gone


def test_one_command_builds_corpus_and_report(small_include, shared_data, tmp_path, monkeypatch, capsys):
    out = tmp_path / "c"
    argv = ["hgpt corpus", "all", "--corpus.out", str(out), "--corpus.data-root", str(shared_data),
            "--corpus.include", *small_include, "--corpus.no-include-human", "--corpus.no-progress",
            "--hme.pae.epochs", "1", "--hme.pae.steps-per-epoch", "3", "--hme.pae.batch", "8",
            "--hme.clusters", "3", "--hme.check-ks", "2", "--hme.no-progress"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    main()
    printed = capsys.readouterr().out
    assert "| gmt | Apache-2.0 | 5 | 5 |" in printed and "report" in printed
    assert load_manifest(out)["summary"]["rejections_by_rule"]["object_interaction"] == 2
    assert (out / "hme/report.md").is_file() and (out / "hme/clusters.json").is_file()


def test_subset_and_full_presets(shared_data):
    from hgpt_training.corpus_cli import AllConfig, resolve
    from hgpt_training.hme import PAEConfig

    sub = resolve(AllConfig())
    assert sub.corpus.include == SUBSET_INCLUDE and sub.hme.corpus == sub.corpus.out
    full = resolve(AllConfig(full=True))
    assert full.corpus.include == () and full.corpus.out == Path("outputs/corpus_full")
    assert full.hme.corpus == full.corpus.out and full.hme.pae == PAEConfig() != sub.hme.pae
    for pattern in SUBSET_INCLUDE:  # every pattern of the CI subset names real files
        assert list(shared_data.glob(pattern)), pattern


def test_permissive_only_skips_non_commercial_sources(shared_data):
    """``--permissive-only`` lists no file of a CC BY-NC(-ND) source; without it they are there."""
    from hgpt_training.corpus import list_units

    every = list_units(CorpusConfig(data_root=shared_data, include_human=True), shared_data)
    kept = list_units(
        CorpusConfig(data_root=shared_data, include_human=True, permissive_only=True), shared_data
    )
    restricted = {u.source.name for u in every if not u.source.permissive}
    assert {"lafan1", "pbhc", "bandai_namco"} <= restricted, restricted
    assert kept and all(u.source.permissive for u in kept)
    assert {u.clip_id for u in kept} == {u.clip_id for u in every if u.source.permissive}


@pytest.mark.slow
def test_ray_build_equals_local_build(small_corpus, small_cfg, tmp_path):
    pytest.importorskip("ray")
    r = build(small_cfg(tmp_path / "ray", executor="ray", num_cpus=2, units_per_task=3))
    assert r.computed == 10
    assert store_bytes(tmp_path / "ray") == store_bytes(small_corpus)
    log = json.loads((tmp_path / "ray/build_log.json").read_text())
    assert log["executor"] == "ray"


def fake_retarget(path: Path, calls: str) -> MotionClip:
    """Stand-in for a human loader: counts its calls in a file, 'retargets' by reading a G1 clip."""
    with open(calls, "a") as f:
        f.write(f"{path.name}\n")
    if "broken" in path.name:
        raise MotionFormatError(f"{path}: truncated")
    if "odd" in path.name:
        raise KeyError("Hips")  # e.g. a skeleton the retargeter does not expect
    return load_clip(path)


def test_pluggable_source_loader_object_skip_and_load_errors(shared_data, tmp_path):
    data = tmp_path / "data"
    (data / "mine").mkdir(parents=True)
    for name in ("walk_a", "box_carry", "broken", "odd"):
        (data / f"mine/{name}.pkl").write_bytes((shared_data / "motions/g1/gmt/basic_walk.pkl").read_bytes())
    calls = tmp_path / "calls.txt"
    src = CorpusSource("mine", "mine/*.pkl", "CC0", partial(fake_retarget, calls=str(calls)), kind="human")
    cfg = CorpusConfig(out=tmp_path / "c", data_root=data, speed_factors=(1.0,), progress=False)
    m = build(cfg, catalogue={"mine": src}).manifest
    clips = {c["clip_id"]: c for c in m["clips"]}
    assert clips["mine/walk_a"]["verdict"] == "accepted" and clips["mine/walk_a"]["kind"] == "human"
    assert clips["mine/box_carry"]["reasons"] == ["object_interaction: name matches 'box'"]
    assert clips["mine/broken"]["reasons"][0].startswith("load_error: MotionFormatError")
    assert clips["mine/odd"]["reasons"] == ["load_error: KeyError: 'Hips'"]
    # the box clip was never loaded
    assert sorted(calls.read_text().split()) == ["broken.pkl", "odd.pkl", "walk_a.pkl"]
    assert [e["clip_id"] for e in m["entries"]] == ["mine/walk_a"]


@pytest.mark.slow
def test_human_source_is_retargeted_and_object_interaction_skipped(shared_data, tmp_path):
    pytest.importorskip("hgpt_retarget")
    cfg = CorpusConfig(
        out=tmp_path / "h",
        data_root=shared_data,
        include_human=True,
        sources=("cmu_bvh", "holosoma_climb"),
        include=(
            "motions/human/cmu_bvh_fairmotion/01_01.bvh",
            "motions/human/*/climb/mocap_climb_seq_1/*.npy",
        ),
        speed_factors=(1.0,),
        progress=False,
    )
    m = build(cfg).manifest
    clips = {c["clip_id"]: c for c in m["clips"]}
    cmu = clips["cmu_bvh/01_01"]
    assert (cmu["kind"], cmu["verdict"], cmu["fps_original"]) == ("human", "accepted", 50.0), cmu
    (climb,) = (c for c in clips.values() if c["source"] == "holosoma_climb")
    assert climb["reasons"][0].startswith("object_interaction") and climb["frames_original"] == 0
    (entry,) = (e for e in m["entries"] if e["verdict"] == "accepted")
    assert entry["clip_id"] == "cmu_bvh/01_01" and entry["frames"] == cmu["frames_original"]


@pytest.mark.slow
def test_ci_subset_command_end_to_end(shared_data, tmp_path, monkeypatch, capsys):
    """``hgpt corpus all`` with its defaults (the CI subset, G1 + human, SUBSET_PAE), into a temp folder."""
    pytest.importorskip("hgpt_retarget")
    out = tmp_path / "subset"
    argv = ["hgpt corpus", "all", "--corpus.out", str(out), "--corpus.data-root", str(shared_data),
            "--corpus.no-progress", "--hme.no-progress"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    main()
    m = load_manifest(out)
    clips = {c["clip_id"]: c for c in m["clips"]}
    assert len(clips) == 43
    for cid, c in clips.items():
        if c["source"].startswith("holosoma"):  # G1 box clips, human climb and box files
            assert c["reasons"][0].startswith("object_interaction"), cid
    for kept in ("bandai_namco/dataset-1_walk_normal_001", "cmu_bvh/01_01", "lafan1/walk1_subject1"):
        assert clips[kept]["verdict"] == "accepted", clips[kept]
    assert clips["bandai_namco/dataset-1_walk_normal_002"]["reasons"][0].startswith("too_short")
    report = (out / "hme/report.md").read_text()
    assert "Do similar motions share clusters?" in report and "HME: " in capsys.readouterr().out


def test_find_duplicates_equals_the_all_pairs_rule():
    """The bisect-on-duration search gives what comparing every pair gives (first kept match wins)."""
    rng = np.random.default_rng(0)
    base = rng.uniform(-1, 1, (40, 16, 29))
    records = []
    for i in range(400):
        k = int(rng.integers(40))  # many clips share one of 40 motions, with noise and duration jitter
        sig = base[k] + rng.normal(0, 0.01 if i % 3 else 0.05, base[k].shape)
        dur = 5.0 + k * 0.05 + rng.uniform(-0.08, 0.08)
        clip = {
            "clip_id": f"s{i % 3}/c{i:03d}",
            "source": f"s{i % 3}",
            "duration_s": dur,
            "verdict": "accepted",
        }
        records.append({"clip": clip, "signature": sig[: int(rng.integers(8, 17))].tolist()})
    order = ["s2", "s0", "s1"]
    expected, kept = {}, []
    for r in sorted(records, key=lambda r: (order.index(r["clip"]["source"]), r["clip"]["clip_id"])):
        sig, dur = np.asarray(r["signature"]), r["clip"]["duration_s"]
        for cid, d, s in kept:
            n = min(len(s), len(sig))
            if abs(d - dur) < DUPLICATE_TOL_S and np.abs(s[:n] - sig[:n]).mean() < DUPLICATE_TOL_RAD:
                expected[r["clip"]["clip_id"]] = cid
                break
        else:
            kept.append((r["clip"]["clip_id"], dur, sig))
    got = find_duplicates(records, order)
    assert got == expected and 50 < len(got) < 350, len(got)
