"""Error types. Messages name the offending file or field and list valid choices."""


class HgptError(Exception):
    """Base class of every error raised by hgpt on bad input."""


class MotionFormatError(HgptError, ValueError):
    """A motion file is unreadable, truncated, malformed or implausible."""


class MetadataMismatchError(HgptError, ValueError):
    """A policy's metadata does not match the robot configuration; lists every difference."""
