"""Policy spec -> :class:`~hgpt_sim.adapters.TrackerAdapter`: the simulator's side of the one spec grammar.

Specs are read by :func:`hgpt_core.policy_spec.parse_policy_spec`, the grammar of the policy loader and the G1
bridge (``zero`` / ``hold_default``, ``hgpt``, ``twist2[:file.onnx]``, ``<file>.onnx`` / ``<file>.pt``), so
``hgpt eval --policy X``, ``hgpt run --policy X``, the bridge and the loader accept and refuse the same specs.
Metadata-only specs (``.json``, JSON text) are refused here as by the loader: there is nothing to run.

Simulator-only schemes ``<scheme>:<argument>`` (e.g. ``expert:<expert.pt>``, a PPO motion expert) come from
packages above hgpt_sim, which hgpt_sim never imports: they declare an entry point in the group
:data:`ENTRY_POINT_GROUP` (``expert = "hgpt_training.expert_policy:load_expert"`` in hgpt_training's
pyproject.toml), loaded on first use, or call :func:`register_scheme`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from hgpt_core.policy_spec import TWIST2, parse_policy_spec
from hgpt_sim.adapters import HgptAdapter, TrackerAdapter

ENTRY_POINT_GROUP = "hgpt.policy_adapters"
"""Entry-point group of simulator-only schemes: name = scheme, value = ``factory(argument) -> adapter``."""

AdapterFactory = Callable[[str], TrackerAdapter]
"""Builds an adapter from the text after ``<scheme>:``."""

_SCHEME_RE = re.compile(r"[a-z][a-z0-9_]*")
_REGISTERED: dict[str, AdapterFactory] = {}


def register_scheme(scheme: str, factory: AdapterFactory) -> None:
    """Make ``<scheme>:<argument>`` specs build ``factory(argument)`` (overrides an entry point).

    Raises:
        ValueError: ``scheme`` is not a lower-case identifier, or is ``twist2`` (part of the core grammar).
    """
    if not _SCHEME_RE.fullmatch(scheme) or scheme == TWIST2:
        raise ValueError(f"policy scheme '{scheme}': not a lower-case identifier other than '{TWIST2}'")
    _REGISTERED[scheme] = factory


def _entry_point_schemes() -> dict[str, EntryPoint]:
    """Installed entry points of :data:`ENTRY_POINT_GROUP` by name (not loaded)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if _SCHEME_RE.fullmatch(ep.name)}


def schemes() -> list[str]:
    """Names of the simulator-only schemes available (registered or installed)."""
    return sorted(set(_REGISTERED) | set(_entry_point_schemes()))


def split_scheme(spec: str) -> tuple[str, str] | None:
    """``(scheme, argument)`` when ``spec`` is ``<scheme>:<argument>`` of an available simulator-only
    scheme; None otherwise (the core grammar reads it)."""
    head, sep, arg = spec.strip().partition(":")
    if not sep or not _SCHEME_RE.fullmatch(head) or head == TWIST2:
        return None
    if head in _REGISTERED or head in _entry_point_schemes():
        return head, arg.strip()
    return None


def _factory(scheme: str) -> AdapterFactory:
    if scheme not in _REGISTERED:
        ep = _entry_point_schemes()[scheme]
        _REGISTERED[scheme] = ep.load()
    return _REGISTERED[scheme]


def make_adapter(spec: str) -> TrackerAdapter:
    """The adapter a policy spec names (module docstring): a simulator-only scheme, TWIST2, or an hgpt policy.

    Raises:
        ValueError: unknown or empty spec, missing file, a metadata-only spec, an empty scheme argument, or
            ``<scheme>:`` of a scheme that is not installed.
        FileNotFoundError: ``hgpt`` with nothing bundled; ``twist2`` without its graph.
    """
    own = split_scheme(spec)
    if own is not None:
        scheme, arg = own
        if not arg:
            raise ValueError(f"policy '{spec.strip()}': '{scheme}:' needs an argument (e.g. a file)")
        return _factory(scheme)(arg)
    head, sep, _ = spec.strip().partition(":")
    if sep and _SCHEME_RE.fullmatch(head) and head != TWIST2 and not Path(spec.strip()).expanduser().exists():
        raise ValueError(
            f"policy '{spec.strip()}': unknown scheme '{head}:' (available: {schemes() or 'none'}; schemes "
            f"come from the '{ENTRY_POINT_GROUP}' entry points, e.g. expert: from hgpt_training)"
        )
    ps = parse_policy_spec(spec)
    if ps.kind == "twist2":  # the peer's own observation layout, gains and actuators
        from hgpt_sim.twist2 import Twist2Adapter

        assert ps.path is not None
        return Twist2Adapter(ps.path)
    # built-ins, bundled, .onnx/.pt through the loader, which refuses metadata-only specs
    from hgpt_policy.loader import load_tracking_policy

    policy = load_tracking_policy(spec)
    return HgptAdapter(policy.meta, policy)


def policy_name(policy: str | TrackerAdapter) -> str:
    """Table label: the spec (a file's stem, ``scheme:stem``) or the adapter's ``name``."""
    if isinstance(policy, str):
        text = policy.strip()
        head, sep, arg = text.partition(":")
        if sep and (head == TWIST2 or split_scheme(text) is not None):
            return f"{head}:{Path(arg.strip()).stem}"
        return Path(text).stem if ("/" in text or "." in text) else text
    return str(getattr(policy, "name", type(policy).__name__))
