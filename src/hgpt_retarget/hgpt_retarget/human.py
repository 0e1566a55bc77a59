"""Human motion in one internal form: world joint positions (T, J, 3) in metres, z up; readers per format.

Every reader returns a :class:`HumanMotion` converted by its skeleton mapping's ``units`` and ``up_axis``;
:func:`check_plausible` then catches wrong units (implausible body height) and mirrored axes.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hgpt_core.errors import MotionFormatError
from hgpt_core.resample import Resampler, uniform_count
from hgpt_retarget.bvh import read_bvh
from hgpt_retarget.skeleton import UNITS, SkeletonMapping, detect_skeleton, load_skeleton

SUFFIX_FORMAT = {".bvh": "bvh", ".npy": "positions_npy", ".npz": "positions_npz", ".pt": "omomo_pt"}
SUFFIX_FORMAT |= {".pkl": "phc_pkl", ".pickle": "phc_pkl"}
# Thigh + shank = 0.491 of body height (Drillis & Contini 1966 segment table: 0.245 H + 0.246 H).
LEG_FRACTION = 0.491
HEIGHT_RANGE_M = (1.0, 2.4)  # plausible adult subject heights; outside -> wrong units
MAX_NAN_GAP_S = 0.5  # NaN gaps up to this long are interpolated, longer ones are an error


@dataclass
class HumanMotion:
    """World joint positions of one human clip.

    Attributes:
        positions: Joint positions [m], z up. Shape: (T, J, 3).
        joint_names: Source joint names, shape (J,).
        fps: Frame rate [Hz].
        skeleton: Name of the :class:`SkeletonMapping` that describes the joints.
        name: Clip identifier (file stem).
        source: Data source / folder name.
        licence: Licence of the source.
        meta: Provenance, JSON-serialisable.
    """

    positions: np.ndarray
    joint_names: tuple[str, ...]
    fps: float
    skeleton: str
    name: str = "human"
    source: str = "unknown"
    licence: str = "unknown"
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    def landmarks(self, mapping: SkeletonMapping) -> dict[str, np.ndarray]:
        """Landmark trajectories [m] (T, 3) by landmark name, plus the derived ``hip_center``."""
        idx = mapping.landmark_indices(self.joint_names)
        out = {k: self.positions[:, i].mean(axis=1) for k, i in idx.items()}
        out["hip_center"] = 0.5 * (out["left_hip"] + out["right_hip"])
        return out

    def resample(self, fps: float) -> HumanMotion:
        """Linear interpolation to a new rate; same duration, rounded down."""
        if abs(fps - self.fps) < 1e-9:
            return replace(self)
        n = uniform_count((self.num_frames - 1) / self.fps, fps)
        pos = Resampler.at_frames(np.arange(n) * self.fps / fps, self.num_frames).linear(self.positions)
        return replace(self, positions=pos, fps=fps, meta={**self.meta, "source_fps": self.fps})

    def window(self, start: int, stop: int) -> HumanMotion:
        """Frames ``start:stop``."""
        return replace(self, positions=self.positions[start:stop])


def estimate_height(motion: HumanMotion, mapping: SkeletonMapping) -> float:
    """Subject height [m] from median thigh + shank length (pose invariant), by :data:`LEG_FRACTION`."""
    lm = motion.landmarks(mapping)
    legs = []
    for side in ("left", "right"):
        thigh = np.linalg.norm(lm[f"{side}_knee"] - lm[f"{side}_hip"], axis=-1)
        shank = np.linalg.norm(lm[f"{side}_ankle"] - lm[f"{side}_knee"], axis=-1)
        legs.append(np.nanmedian(thigh + shank))
    return float(np.mean(legs) / LEG_FRACTION)


def check_plausible(motion: HumanMotion, mapping: SkeletonMapping) -> float:
    """Return the estimated subject height [m]; raise on wrong units or mirrored axes.

    Raises:
        MotionFormatError: height outside :data:`HEIGHT_RANGE_M` (names the units that would fit), or the
            feet point backwards relative to the hips (left/right swapped or an axis flipped).
    """
    h = estimate_height(motion, mapping)
    lo, hi = HEIGHT_RANGE_M
    if not (lo <= h <= hi):
        raw = h / mapping.units_m
        fits = [u for u, m in UNITS.items() if lo <= raw * m <= hi]
        raise MotionFormatError(
            f"{motion.name}: estimated subject height {h:.3g} m is implausible with units "
            f"{mapping.units_m} m/unit (skeleton '{mapping.name}'); units that fit: {fits or 'none'}"
        )
    lm = motion.landmarks(mapping)
    lateral = lm["left_hip"] - lm["right_hip"]
    dots = []
    for side in ("left", "right"):
        # The normal of the knee-ankle-toe plane points to the body's left (flips under a mirror or a
        # left/right swap), and stays defined when the foot points down, unlike the toe's heading.
        foot_left = np.cross(
            lm[f"{side}_knee"] - lm[f"{side}_ankle"], lm[f"{side}_toe"] - lm[f"{side}_ankle"]
        )
        dots.append(np.sum(foot_left * lateral, axis=-1))
    frac = float(np.nanmean(np.concatenate(dots) > 0))
    if frac < 0.5:
        raise MotionFormatError(
            f"{motion.name}: the feet face backwards in {100 * (1 - frac):.0f}% of frames relative to the "
            f"hips: left/right swapped or an axis mirrored (skeleton '{mapping.name}', up_axis "
            f"{mapping.up_axis!r})"
        )
    return h


def fill_nan_gaps(positions: np.ndarray, fps: float, origin: str) -> tuple[np.ndarray, int]:
    """Linearly interpolate frames with NaN joints; returns (positions, frames filled).

    Raises:
        MotionFormatError: a gap longer than :data:`MAX_NAN_GAP_S`, or NaN at every frame.
    """
    bad = ~np.isfinite(positions).all(axis=(1, 2))
    if not bad.any():
        return positions, 0
    if bad.all():
        raise MotionFormatError(f"{origin}: every frame has NaN/inf joint positions")
    runs = np.diff(np.concatenate(([0], bad.astype(int), [0])))
    starts, stops = np.flatnonzero(runs == 1), np.flatnonzero(runs == -1)
    longest = int((stops - starts).max())
    if longest > MAX_NAN_GAP_S * fps:
        raise MotionFormatError(
            f"{origin}: {longest} consecutive frames with NaN joints (> {MAX_NAN_GAP_S} s); first at frame "
            f"{starts[0]}; cut the clip or fill the gap"
        )
    good = np.flatnonzero(~bad)
    out = positions.copy()
    flat = out.reshape(len(out), -1)
    for c in range(flat.shape[1]):
        flat[bad, c] = np.interp(np.flatnonzero(bad), good, flat[good, c])
    return out, int(bad.sum())


def _read_arrays(
    path: Path, fmt: str, mapping: SkeletonMapping
) -> tuple[np.ndarray, tuple[str, ...], float | None, dict]:
    meta: dict = {}
    if fmt == "bvh":
        bvh = read_bvh(path)
        pos, _, names = bvh.forward_kinematics()
        return pos, tuple(names), bvh.fps, meta
    if fmt == "positions_npy":
        pos = np.load(path, allow_pickle=False)
        return pos, mapping.joints, None, meta
    if fmt == "positions_npz":
        with np.load(path, allow_pickle=False) as z:
            if "positions" not in z or "joint_names" not in z:
                raise MotionFormatError(f"{path}: npz needs 'positions' (T, J, 3) and 'joint_names'")
            fps = float(z["fps"]) if "fps" in z else None
            return z["positions"], tuple(map(str, z["joint_names"])), fps, meta
    if fmt == "omomo_pt":
        import torch  # only this format needs it

        data = torch.load(path, map_location="cpu", weights_only=True).detach().numpy()
        c0, n = int(mapping.extra.get("column_start", 162)), len(mapping.joints)
        if data.ndim != 2 or data.shape[1] < c0 + 3 * n:
            raise MotionFormatError(
                f"{path}: expected (T, >= {c0 + 3 * n}) InterMimic rows, got {data.shape}"
            )
        heights = path.parent.parent / "height_dict.pkl"
        subject = path.stem.split("_")[0]
        if heights.is_file():  # trusted source folder (holosoma demo data)
            with open(heights, "rb") as f:
                h = pickle.load(f).get(subject)
            if h is not None:
                meta["subject_height_m"] = float(h)
        return data[:, c0 : c0 + 3 * n].reshape(-1, n, 3), mapping.joints, None, meta
    if fmt == "phc_pkl":  # pickle runs code from the file: only load motion pickles from trusted sources
        try:
            with open(path, "rb") as f:
                d = pickle.load(f)
        except pickle.UnpicklingError:  # joblib-compressed pickles
            import joblib

            d = joblib.load(path)
        if not isinstance(d, dict) or len(d) != 1:
            raise MotionFormatError(f"{path}: expected {{motion_name: record}}, got {type(d).__name__}")
        rec = next(iter(d.values()))
        if "smpl_joints" not in rec:
            raise MotionFormatError(f"{path}: no 'smpl_joints' field (has {sorted(rec)})")
        pos = np.asarray(rec["smpl_joints"], dtype=np.float64)
        if pos.ndim != 3 or pos.shape[1] < len(mapping.joints):
            raise MotionFormatError(f"{path}: smpl_joints shape {pos.shape}, need (T, >= 24, 3)")
        if not np.abs(pos).max() > 0:
            raise MotionFormatError(f"{path}: smpl_joints are all zero (PBHC files ship no human joints)")
        extra = tuple(f"extra_{i}" for i in range(len(mapping.joints), pos.shape[1]))
        return pos, mapping.joints + extra, rec.get("fps"), meta
    raise MotionFormatError(f"{path}: no reader for format {fmt!r}")


def load_human(
    path: str | os.PathLike,
    skeleton: str | SkeletonMapping | None = None,
    fps: float | None = None,
    source: str = "unknown",
) -> tuple[HumanMotion, SkeletonMapping]:
    """Read a human motion file into metres / z-up with its skeleton mapping.

    Args:
        path: .bvh, .npy (T, J, 3), .npz (positions, joint_names, fps), .pt (OMOMO), .pkl (PHC smpl_joints).
        skeleton: Mapping name or object; None detects it from the joint names (BVH) or the suffix.
        fps: Frame rate [Hz] for files that do not store it (overrides the mapping's default).
        source: Source name recorded in the motion.

    Raises:
        MotionFormatError: unreadable, truncated, wrong shape, NaN gaps, implausible units or axes.
        SkeletonError: unknown skeleton or joints missing for it.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionFormatError(f"{path}: no such file")
    fmt = SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise MotionFormatError(f"{path}: unknown human motion suffix; supported {sorted(SUFFIX_FORMAT)}")
    if isinstance(skeleton, str):
        skeleton = load_skeleton(skeleton)
    if skeleton is None:
        if fmt == "bvh":
            skeleton = detect_skeleton(read_bvh(path).joint_names, fmt="bvh")
        elif fmt == "positions_npz":
            skeleton = detect_skeleton(_npz_names(path))
        else:
            skeleton = detect_skeleton(_default_names(fmt), fmt=fmt)
    if fmt != skeleton.format and fmt != "positions_npz":
        raise MotionFormatError(
            f"{path}: skeleton '{skeleton.name}' reads {skeleton.format} files, this is a {fmt} file"
        )
    try:
        pos, names, file_fps, meta = _read_arrays(path, fmt, skeleton)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        if isinstance(exc, MotionFormatError):
            raise
        raise MotionFormatError(f"{path}: unreadable or truncated {skeleton.format} file ({exc})") from exc
    pos = np.asarray(pos, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[2] != 3 or pos.shape[1] != len(names) or pos.shape[0] < 2:
        raise MotionFormatError(f"{path}: positions shape {pos.shape}, need (T >= 2, {len(names)}, 3)")
    rate = fps or file_fps or skeleton.fps
    if rate is None:
        raise MotionFormatError(
            f"{path}: the file stores no fps and skeleton '{skeleton.name}' has none; pass fps"
        )
    pos, filled = fill_nan_gaps(pos, float(rate), str(path))
    if fmt != "positions_npz":  # the generic npz is metres, z up (as HumanPose), whatever the skeleton
        pos = (pos * skeleton.units_m) @ skeleton.up_to_z.T
    meta |= {"file": str(path), "skeleton": skeleton.name, "nan_frames_filled": filled}
    motion = HumanMotion(pos, names, float(rate), skeleton.name, path.stem, source, skeleton.licence, meta)
    motion.meta["estimated_height_m"] = check_plausible(motion, skeleton)
    return motion, skeleton


def _npz_names(path: Path) -> tuple[str, ...]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return tuple(map(str, z["joint_names"]))
    except (OSError, ValueError, KeyError) as exc:
        raise MotionFormatError(f"{path}: npz without readable 'joint_names' ({exc})") from exc


def _default_names(fmt: str) -> tuple[str, ...]:
    """Joint names of the first shipped mapping with this array format (arrays carry no names)."""
    from hgpt_retarget.skeleton import available_skeletons

    for name in available_skeletons():
        sk = load_skeleton(name)
        if sk.format == fmt:
            return sk.joints
    raise MotionFormatError(f"no skeleton mapping reads format {fmt!r}")
