"""The one grammar of policy specs, and a spec's metadata read without running the policy.

Used by :func:`hgpt_policy.loader.load_tracking_policy` (which runs the policy) and by the G1 bridge (which
needs only the metadata: gains, default pose, action scale); neither imports torch or hgpt_policy here.

Specs (surrounding white space ignored, ``~`` expanded in paths):

* ``zero`` / ``hold_default``: built-in, holds the default pose (metadata ``hold_default``).
* ``hgpt``: the bundled Humanoid-GPT graph (``hgpt_policy/assets/hgpt_gpt_s/*.onnx``, exactly one).
* ``twist2`` / ``twist2:<file.onnx>``: the peer TWIST2 tracker (bundled graph, else ../shared/peers/twist2).
* ``<file>.onnx`` / ``<file>.pt``: an exported hgpt policy (graph or checkpoint), which must exist.
* Metadata only (the bridge accepts them, the loader refuses them: nothing to run): ``<file>.json`` or
  JSON text starting with ``{``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from hgpt_core.datasets import shared_data_dir
from hgpt_core.errors import MetadataMismatchError
from hgpt_core.policy_meta import PolicyMetadata
from hgpt_core.twist2_meta import ONNX_NAME, twist2_metadata

METADATA_KEY = "hgpt_metadata"
"""ONNX ``metadata_props`` key holding ``PolicyMetadata.to_json()``."""
GRAPH_KEY = "hgpt_graph"
"""ONNX ``metadata_props`` key holding the graph kind (``window`` / ``kv_step``)."""
BUNDLED = "hgpt"
"""Spec of the bundled Humanoid-GPT."""
TWIST2 = "twist2"
"""Spec of the peer TWIST2 tracker (``twist2:<file.onnx>`` names another copy)."""


def hold_default_metadata() -> PolicyMetadata:
    """Metadata of the built-in baseline that always commands the default pose (action 0)."""
    return PolicyMetadata("hold_default", context_len=1, inference="single_frame", arch={"kind": "none"})


BUILTIN_METADATA = {"zero": hold_default_metadata, "hold_default": hold_default_metadata}
"""Built-in policy names -> their metadata (the policies are :data:`hgpt_policy.loader.BUILTIN`)."""
KINDS = ("builtin", "bundled", "twist2", "onnx", "pt", "json", "json_text")
"""What a spec can name; the last two are metadata only."""


def _policy_assets_dir() -> Path | None:
    """hgpt_policy's ``assets/`` folder, found without importing hgpt_policy (torch); None if absent."""
    try:
        spec = importlib.util.find_spec("hgpt_policy")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve() / "assets"


_ASSETS = _policy_assets_dir()
BUNDLED_DIR: Path | None = _ASSETS / "hgpt_gpt_s" if _ASSETS is not None else None
"""Folder of the bundled Humanoid-GPT (``hgpt train release --bundle``); None without hgpt_policy."""
TWIST2_BUNDLED: Path | None = _ASSETS / "twist2" if _ASSETS is not None else None
"""Folder of the bundled TWIST2 graph (MIT); None without hgpt_policy."""


def bundled_policy() -> Path:
    """Path of the bundled Humanoid-GPT graph (the spec ``hgpt``).

    Raises:
        FileNotFoundError: none (or more than one graph) is bundled; says how to make one.
    """
    files = sorted(BUNDLED_DIR.glob("*.onnx")) if BUNDLED_DIR is not None else []
    if len(files) != 1:
        raise FileNotFoundError(
            f"no single bundled Humanoid-GPT in {BUNDLED_DIR or 'hgpt_policy/assets (not installed)'} "
            f"({len(files)} .onnx files); make one with `hgpt train distill` then "
            "`hgpt train release --bundle`"
        )
    return files[0]


def twist2_default_onnx() -> Path:
    """The released TWIST2 ONNX: bundled with hgpt_policy (MIT, ``assets/twist2``), else ../shared/peers."""
    if TWIST2_BUNDLED is not None and (TWIST2_BUNDLED / ONNX_NAME).is_file():
        return TWIST2_BUNDLED / ONNX_NAME
    data = shared_data_dir()
    root = data.parent if data is not None else Path("../shared")
    return root / "peers" / "twist2" / ONNX_NAME


@dataclass(frozen=True)
class PolicySpec:
    """A parsed policy spec: what it names and where its file is."""

    kind: str
    """One of :data:`KINDS`."""
    text: str
    """The spec as given, stripped."""
    path: Path | None = None
    """The file it names (bundled graph, TWIST2 graph, .onnx/.pt/.json); None for built-ins and JSON text."""

    @property
    def runnable(self) -> bool:
        """True when the spec names a policy (False: metadata only)."""
        return self.kind not in ("json", "json_text")


def parse_policy_spec(spec: str) -> PolicySpec:
    """Parse ``spec`` (see the module docstring); files are checked to exist, not read.

    Raises:
        ValueError: empty or unknown spec, or a named .onnx/.pt/.json file that does not exist.
        FileNotFoundError: ``hgpt`` while no single Humanoid-GPT is bundled.
    """
    text = spec.strip()
    if not text:
        raise ValueError("empty policy spec")
    if text.startswith("{"):
        return PolicySpec("json_text", text)
    if text in BUILTIN_METADATA:
        return PolicySpec("builtin", text)
    if text == BUNDLED:
        return PolicySpec("bundled", text, bundled_policy())
    if text == TWIST2 or text.startswith(TWIST2 + ":"):
        file = text.split(":", 1)[1].strip() if ":" in text else ""
        return PolicySpec("twist2", text, Path(file).expanduser() if file else twist2_default_onnx())
    path = Path(text).expanduser()
    kind = {".onnx": "onnx", ".pt": "pt", ".json": "json"}.get(path.suffix)
    if kind is None:
        raise ValueError(
            f"unknown policy '{text}': not a .json/.onnx/.pt file, JSON text, {BUNDLED}, "
            f"{TWIST2}[:file.onnx], or one of {sorted(BUILTIN_METADATA)}"
        )
    if not path.is_file():
        raise ValueError(f"{text}: no such policy file")
    return PolicySpec(kind, text, path)


def read_onnx_props(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (reads the graph structure only, not external weights).

    Raises:
        MetadataMismatchError: missing, truncated or corrupt file.
    """
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError as exc:
        raise MetadataMismatchError(f"{path}: no such file") from exc
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError/RuntimeError without the file name
        raise MetadataMismatchError(
            f"{path}: not a readable ONNX file (truncated or corrupt: {type(exc).__name__}: {exc})"
        ) from exc
    return {p.key: p.value for p in proto.metadata_props}


def read_onnx_metadata(path: str | Path) -> PolicyMetadata:
    """The policy metadata attached to an ONNX file.

    Raises:
        MetadataMismatchError: unreadable file, no ``hgpt_metadata``, or invalid metadata.
    """
    props = read_onnx_props(path)
    if METADATA_KEY not in props:
        raise MetadataMismatchError(
            f"{path}: no '{METADATA_KEY}' in the ONNX metadata_props; not an hgpt policy"
        )
    return PolicyMetadata.from_json(props[METADATA_KEY])


def twist2_file_metadata(path: str | Path) -> PolicyMetadata:
    """Metadata of a TWIST2 ONNX file.

    The file's own ``hgpt_metadata`` when it carries one (gains, policy_id may differ from the release; the
    layout, default pose and action scale may not), else :func:`twist2_metadata`.

    Raises:
        MetadataMismatchError: unreadable file, or file metadata that is not the TWIST2 layout.
    """
    props = read_onnx_props(path)
    if METADATA_KEY not in props:
        return twist2_metadata()
    meta = PolicyMetadata.from_json(props[METADATA_KEY])
    ref = twist2_metadata()
    keys = ("joint_names", "default_joint_pos", "action_scale", "obs_terms", "control_dt", "context_len")
    bad = [k for k in keys if getattr(meta, k) != getattr(ref, k)]
    if bad:
        raise MetadataMismatchError(f"{path}: its hgpt_metadata differs from the TWIST2 layout in {bad}")
    return meta


def policy_metadata(spec: str | PolicySpec) -> PolicyMetadata:
    """The metadata of the policy ``spec`` names, read without running it (a ``.pt`` needs torch).

    Raises:
        ValueError: as :func:`parse_policy_spec`; MetadataMismatchError (a ValueError) for bad metadata.
        OSError: unreadable file.
    """
    ps = spec if isinstance(spec, PolicySpec) else parse_policy_spec(spec)
    if ps.kind == "json_text":
        return PolicyMetadata.from_json(ps.text)
    if ps.kind == "builtin":
        return BUILTIN_METADATA[ps.text]()
    assert ps.path is not None
    if ps.kind == "twist2":
        return twist2_file_metadata(ps.path)
    if ps.kind == "json":
        return PolicyMetadata.from_json(ps.path.read_text())
    if ps.kind == "pt":
        import torch  # the checkpoint is a torch pickle: only its reader can open it

        blob = torch.load(ps.path, map_location="cpu", weights_only=True)
        return PolicyMetadata.from_json(blob["metadata"])
    return read_onnx_metadata(ps.path)  # onnx, bundled
