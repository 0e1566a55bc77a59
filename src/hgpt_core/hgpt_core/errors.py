"""Error types. Messages name the offending file or field and list valid choices."""


class HgptError(Exception):
    """Base class of every error raised by hgpt on bad input."""


class MotionFormatError(HgptError, ValueError):
    """A motion file is unreadable, truncated, malformed or implausible."""


class MetadataMismatchError(HgptError, ValueError):
    """A policy's metadata does not match the robot configuration; lists every difference."""


def require_positive(options: dict[str, float | int | None], prefix: str = "--") -> None:
    """Raise HgptError ``--NAME V must be > 0`` for the first option that is set and not finite and > 0."""
    for name, v in options.items():
        if v is not None and not 0 < v < float("inf"):
            raise HgptError(f"{prefix}{name} {v} must be > 0")
