"""Latency-growth detection for message streams (no ROS).

A stream's *offset* is ``receive time - source time`` (LowState: local clock minus the robot's ``tick``;
JointCommand: local clock minus ``header.stamp``). The two clocks need not agree: a constant offset is the
transport delay plus the clock difference, and only its *growth* matters — a queue filling up behind a slow
consumer, or a publisher falling behind. Growth = (smallest offset of the last ``recent`` samples) minus
(smallest offset within ``window_s``). Minima ignore single late deliveries (jitter); growth shows when
*every* recent sample is late. The sliding baseline window also absorbs clock drift (100 ppm = 0.5 ms in 5 s).
"""

from __future__ import annotations

from collections import deque


class LagMonitor:
    """Sliding-window minimum of the offset (monotonic deque, O(1) amortised per sample)."""

    def __init__(self, window_s: float, recent: int, reset_jump_s: float = 1.0) -> None:
        """Args:
        window_s: Baseline window [s].
        recent: Samples in the "current" minimum.
        reset_jump_s: A source time that goes back by more than this restarts the monitor [s]
            (robot reboot, tick wrap-around not unwrapped by the caller).
        """
        assert window_s > 0 and recent >= 1
        self.window_s, self.reset_jump_s = window_s, reset_jump_s
        self._base: deque[tuple[float, float]] = deque()  # (receive time, offset), offsets increasing
        self._recent: deque[float] = deque(maxlen=recent)
        self._last_src: float | None = None

    def reset(self) -> None:
        self._base.clear()
        self._recent.clear()
        self._last_src = None

    def add(self, recv: float, src: float) -> None:
        """Record a message received at ``recv`` [s] that its source stamped ``src`` [s]."""
        if self._last_src is not None and src < self._last_src - self.reset_jump_s:
            self.reset()
        self._last_src = src
        off = recv - src
        while self._base and self._base[-1][1] >= off:
            self._base.pop()
        self._base.append((recv, off))
        while self._base[0][0] < recv - self.window_s:
            self._base.popleft()
        self._recent.append(off)

    @property
    def ready(self) -> bool:
        """Enough samples for a growth estimate."""
        return len(self._recent) == self._recent.maxlen

    @property
    def growth(self) -> float:
        """Current delay minus the best delay within the window [s]; 0 until :attr:`ready`."""
        if not self.ready:
            return 0.0
        return max(0.0, min(self._recent) - self._base[0][1])


class TickUnwrapper:
    """Turns a wrapping uint32 counter into a monotonically growing time [s]."""

    def __init__(self, period_s: float, bits: int = 32) -> None:
        self.period_s, self.modulus = period_s, 1 << bits
        self._last: int | None = None
        self._wraps = 0

    def __call__(self, tick: int) -> float:
        # A drop of more than half the range is a wrap; smaller drops (reboot) pass through for the monitor.
        if self._last is not None and self._last - tick > self.modulus // 2:
            self._wraps += 1
        self._last = tick
        return (tick + self._wraps * self.modulus) * self.period_s
