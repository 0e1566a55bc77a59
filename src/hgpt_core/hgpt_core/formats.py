"""Readers for every retargeted-G1 motion format we meet, and a dispatcher by file content.

Formats (see ../shared/data/README.md):
  * ``csv``: LAFAN1-style, no header, 36 columns = root pos | root quat xyzw | 29 joints; no fps.
  * ``g1_moves_npz``: fps, joint_pos (N, 29), body_pos_w / body_quat_w (N, B, ·) with body 0 = pelvis (wxyz).
  * ``holosoma_npz``: fps, joint_pos (N, 36) = root pos | root quat wxyz | 29 joints, joint_names.
  * ``gmt_pkl``: dict fps, root_pos, root_rot (xyzw), dof_pos (N, 23).
  * ``phc_pkl``: {name: {root_trans_offset, root_rot (xyzw), dof (N, 23), fps}} (PHC / ASAP / PBHC).
  * ``hgpt_clip``: our own ``.clip.npz`` (see :mod:`hgpt_core.motion`).
23-DoF layouts get zeros for the six wrist joints.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np

from hgpt_core.errors import MotionFormatError
from hgpt_core.g1 import G1_23DOF_JOINT_NAMES, G1_JOINT_NAMES, NUM_JOINTS, index_map
from hgpt_core.motion import MotionClip

FORMATS = ("csv", "g1_moves_npz", "holosoma_npz", "gmt_pkl", "phc_pkl", "hgpt_clip")
MAX_FILE_BYTES = 2 << 30  # refuse absurdly large inputs (2 GiB) rather than exhausting memory

_29_FROM_23 = index_map(G1_JOINT_NAMES, G1_23DOF_JOINT_NAMES)


def xyzw_to_wxyz(q: np.ndarray) -> np.ndarray:
    """Reorder scalar-last quaternions (..., 4) to scalar-first."""
    return np.concatenate((q[..., 3:4], q[..., :3]), axis=-1)


def dof23_to_29(dof: np.ndarray) -> np.ndarray:
    """Insert zero wrist angles: (T, 23) -> (T, 29)."""
    out = np.zeros((dof.shape[0], len(G1_JOINT_NAMES)))
    out[:, _29_FROM_23] = dof
    return out


def _as_array(d: dict, key: str, path: Path, ndim: int, width: int | None = None) -> np.ndarray:
    if key not in d:
        raise MotionFormatError(f"{path}: missing field '{key}' (has: {sorted(map(str, d))})")
    try:
        a = np.asarray(d[key], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MotionFormatError(f"{path}: field '{key}' is not numeric ({exc})") from exc
    if a.ndim != ndim or (width is not None and a.shape[-1] != width):
        want = f"(T, {width})" if ndim == 2 else f"{ndim}-D"
        raise MotionFormatError(f"{path}: field '{key}' has shape {a.shape}, expected {want}")
    return a


def read_csv(path: Path, fps: float | None) -> MotionClip:
    """LAFAN1-style G1 CSV (root xyzw quaternion); ``fps`` is required (not stored in the file)."""
    if fps is None:
        raise MotionFormatError(
            f"{path}: CSV motion files do not store fps; pass fps= (LAFAN1 30, g1_moves 60)"
        )
    try:
        data = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise MotionFormatError(f"{path}: malformed CSV ({exc})") from exc
    if data.shape[1] != 36:
        raise MotionFormatError(
            f"{path}: expected 36 columns (3 pos + 4 quat xyzw + 29 joints), got {data.shape[1]}"
        )
    return MotionClip(
        data[:, :3],
        xyzw_to_wxyz(data[:, 3:7]),
        data[:, 7:],
        fps,
        meta={"quat_order_in_file": "xyzw"},
    )


def _read_npz(path: Path) -> MotionClip:
    try:
        z = np.load(path, allow_pickle=False)
        d = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise MotionFormatError(f"{path}: unreadable or truncated npz ({exc})") from exc
    if "header" in d:
        return MotionClip.load(path)
    fps = float(np.asarray(d.get("fps", np.nan)).reshape(-1)[0])
    jp = d.get("joint_pos")
    if jp is None:
        raise MotionFormatError(f"{path}: npz without 'joint_pos'; not a known motion format {FORMATS}")
    if jp.ndim == 2 and jp.shape[1] == 36:  # holosoma: root pos | quat wxyz | 29 joints
        if "joint_names" in d and tuple(map(str, d["joint_names"])) != G1_JOINT_NAMES:
            raise MotionFormatError(f"{path}: joint_names differ from the G1 29-DoF order")
        jp = _as_array(d, "joint_pos", path, 2, 36)
        return MotionClip(jp[:, :3], jp[:, 3:7], jp[:, 7:], fps, meta={"format": "holosoma_npz"})
    jp = _as_array(d, "joint_pos", path, 2, 29)
    if "body_pos_w" not in d or "body_quat_w" not in d:
        raise MotionFormatError(f"{path}: g1_moves npz needs body_pos_w and body_quat_w for the root")
    bp, bq = np.asarray(d["body_pos_w"]), np.asarray(d["body_quat_w"])
    if bp.shape[:1] != jp.shape[:1] or bq.shape[:1] != jp.shape[:1]:
        raise MotionFormatError(f"{path}: body arrays have {bp.shape[0]} frames, joint_pos has {jp.shape[0]}")
    return MotionClip(bp[:, 0], bq[:, 0], jp, fps, meta={"format": "g1_moves_npz"})


def _read_pkl(path: Path) -> MotionClip:
    # Pickle runs code from the file: only load motion pickles from sources you trust.
    try:
        with open(path, "rb") as f:
            d = pickle.load(f)
    except Exception as exc:  # pickle raises many types on corrupt input
        try:
            import joblib

            d = joblib.load(path)
        except Exception:
            raise MotionFormatError(f"{path}: unreadable or truncated pickle ({exc})") from exc
    if not isinstance(d, dict):
        raise MotionFormatError(f"{path}: pickle holds {type(d).__name__}, expected a dict motion record")
    if "dof_pos" in d:  # GMT
        dof = _as_array(d, "dof_pos", path, 2)
        root_pos, root_rot = (
            _as_array(d, "root_pos", path, 2, 3),
            _as_array(d, "root_rot", path, 2, 4),
        )
        fps, fmt, name = float(d.get("fps", np.nan)), "gmt_pkl", path.stem
    else:  # PHC / ASAP / PBHC: one (or more) named motions
        if len(d) != 1 or not isinstance(next(iter(d.values())), dict):
            raise MotionFormatError(f"{path}: unknown pickle layout (keys {list(d)[:5]}); known: {FORMATS}")
        name, rec = next(iter(d.items()))
        dof = _as_array(rec, "dof", path, 2)
        root_pos = _as_array(rec, "root_trans_offset", path, 2, 3)
        root_rot = _as_array(rec, "root_rot", path, 2, 4)
        fps, fmt, name = float(rec.get("fps", np.nan)), "phc_pkl", Path(str(name)).name
    if dof.shape[1] == 23:
        dof = dof23_to_29(dof)
    elif dof.shape[1] != NUM_JOINTS:
        raise MotionFormatError(f"{path}: {dof.shape[1]} DoF; supported 23 (no wrists) or 29")
    return MotionClip(
        root_pos,
        xyzw_to_wxyz(root_rot),
        dof,
        fps,
        name=name,
        meta={"format": fmt, "quat_order_in_file": "xyzw"},
    )


def load_clip(
    path: str | os.PathLike,
    fps: float | None = None,
    source: str = "unknown",
    licence: str = "unknown",
    check_plausible: bool = True,
) -> MotionClip:
    """Read any supported G1 motion file into a validated :class:`MotionClip`.

    Args:
        path: File path; the format is detected from the suffix and content.
        fps: Frame rate [Hz]; required for CSV, overrides nothing for formats that store it.
        source: Source name recorded in the clip.
        licence: Licence recorded in the clip.
        check_plausible: Also run the physical sanity check (feet near the floor, upright root) to catch
            a quaternion stored in the other convention.

    Raises:
        MotionFormatError: unknown format, unreadable, truncated, NaN, wrong shapes or implausible content.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionFormatError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0 or size > MAX_FILE_BYTES:
        raise MotionFormatError(f"{path}: file size {size} B outside (0, {MAX_FILE_BYTES}]")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        clip = read_csv(path, fps)
    elif suffix == ".npz":
        clip = _read_npz(path)
    elif suffix in (".pkl", ".pickle"):
        clip = _read_pkl(path)
    else:
        raise MotionFormatError(
            f"{path}: unknown motion format '{suffix}'; supported suffixes .csv .npz .pkl"
        )
    if clip.name == "clip":
        clip.name = path.name.removesuffix(".clip.npz").removesuffix(path.suffix)
    if clip.source == "unknown":
        clip.source = source
    if clip.licence == "unknown":
        clip.licence = licence
    clip.meta.setdefault("file", str(path))
    clip.validate(path)
    if check_plausible and clip.meta.get("quat_order_in_file") == "xyzw":
        from hgpt_core.sanity import check_quaternion_convention

        check_quaternion_convention(clip, path)
    return clip
