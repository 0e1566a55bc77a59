"""The options of the ``hgpt bag`` subcommands (tyro dataclasses).

Shared by the CLI (:mod:`hgpt_bringup.bag_cli`, which runs the ROS side for record / play) and the ROS side
(:mod:`hgpt_bringup.bag_ros`), so bag_ros needs nothing from the CLI: no import circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass(frozen=True)
class Record:
    """Record topics into a new rosbag2 mcap bag until Ctrl-C / SIGTERM or --duration."""

    out: tyro.conf.Positional[Path]
    """New bag folder (refused if it exists)."""
    topics: tuple[str, ...] = ()
    """Topics (default: the scenarios' RECORD_TOPICS)."""
    types: tuple[str, ...] = ()
    """TOPIC=pkg/msg/Type for topics not yet on the graph (else discovered from the graph)."""
    duration: float = 0.0
    """Stop after this many seconds (0 = until Ctrl-C / SIGTERM)."""
    licence: str = ""
    """Licence of the recorded motion, stored in metadata.yaml custom_data (hgpt.licence)."""


@dataclass(frozen=True)
class Play:
    """Publish a bag's messages on their topics with the original timing (or as fast as possible)."""

    bag: tyro.conf.Positional[Path]
    rate: float = 1.0
    """Playback speed factor (2.0 = twice as fast)."""
    fast: bool = False
    """As fast as possible (order kept, reliable delivery waited for)."""
    topics: tuple[str, ...] = ()
    """Only these topics (default: all except commands: /hgpt/joint_command, /hgpt/policy, /lowcmd and any
    JointCommand/PolicyInfo/LowCmd topic are played only when named here, with a warning)."""
    clock: bool = False
    """Publish the bag time on /clock."""
    follow_clock: bool = False
    """Lock-step replay: publish each message when /clock reaches its header stamp (messages need a
    std_msgs/Header first; the simulation paces the replay, so a lock-step run repeats exactly)."""
    idle_exit: float = 2.0
    """With --follow-clock: stop this many seconds after the last message once /clock stops advancing."""
    wait_subscribers: float = 0.0
    """Wait up to this many seconds for a subscriber on every played topic before starting."""
    strict: bool = False
    """Refuse a damaged bag instead of playing its readable part."""


@dataclass(frozen=True)
class ToClips:
    """Cut the motion in a (teleoperation) bag into .clip.npz motion clips for training."""

    bag: tyro.conf.Positional[Path]
    out: tyro.conf.Positional[Path]
    """Output folder (created; existing clips are never overwritten)."""
    kind: str = "reference"
    """reference (/hgpt/reference, commanded) | robot_state (/hgpt/robot_state, executed)."""
    topic: str = ""
    """Topic (default: by kind)."""
    fps: float = 50.0
    max_gap: float = 0.2
    """Split at gaps longer than this [s]."""
    min_duration: float = 1.0
    """Drop shorter segments [s]."""
    time_source: str = "header"
    """header | bag (receive time)."""
    licence: str = ""
    """Licence of the clips (default: the bag's hgpt.licence, else unknown)."""
    strict: bool = False


@dataclass(frozen=True)
class Info:
    """Topics, counts, duration and whether the bag is complete (exit 1 when not)."""

    bag: tyro.conf.Positional[Path]
    json: bool = False
