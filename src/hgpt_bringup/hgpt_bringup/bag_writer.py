"""The rosbag2 mcap bag writer (pre-serialized CDR messages). Nothing here ever overwrites an existing
file or folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hgpt_bringup.bag_format import BagError, ensure_types, typestore

FLUSH_BYTES = 1 << 20  # the writer closes an mcap chunk at this size (rosbags' value)


def _mcap_writer_cls():
    from rosbags.rosbag2.storage_mcap import McapWriter

    class Mcap0Writer(McapWriter):
        """rosbags' mcap storage, named ``<bag>_0.mcap`` as ``ros2 bag record`` names it; can flush chunks."""

        def __init__(self, path: Path, compression) -> None:
            super().__init__(path, compression)
            named = path / f"{path.name}_0.mcap"
            self.path.rename(named)  # the open handle keeps writing to the renamed file
            self.path = named

        def flush(self) -> None:
            """Write the pending chunk to disk: a killed recorder loses at most what came after."""
            if self.chunk.bio.tell():
                self.close_chunk()
            self.bio.flush()

    return Mcap0Writer


class BagWriter:
    """Writes a rosbag2 mcap bag of pre-serialized CDR messages. Use as a context manager.

    ``close()`` (also on an exception or Ctrl-C inside the ``with``) writes the mcap summary and
    ``metadata.yaml``; ``flush()`` puts buffered messages on disk so a hard kill keeps them recoverable.
    """

    def __init__(self, path: str | Path, custom_data: dict[str, str] | None = None) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path}: exists already; not overwriting (choose a new output folder)")

        class _Writer(Writer):
            STORAGE_PLUGINS = {StoragePlugin.MCAP: _mcap_writer_cls()}  # noqa: RUF012

        self._w = _Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        for k, v in (custom_data or {}).items():
            self._w.set_custom_data(k, str(v))
        self._conns: dict[str, Any] = {}
        self._open = False

    def open(self) -> BagWriter:
        from rosbags.rosbag2 import WriterError

        try:
            self._w.open()
        except WriterError as exc:
            raise BagError(f"{self.path}: {exc}") from exc
        self._open = True
        return self

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare ``topic`` with ROS type ``pkg/msg/Name`` (registered from its .msg file if needed)."""
        store = typestore()
        ensure_types(store, [msgtype])
        self._conns[topic] = self._w.add_connection(topic, msgtype, typestore=store)

    @property
    def topics(self) -> dict[str, str]:
        return {t: c.msgtype for t, c in self._conns.items()}

    def write(self, topic: str, timestamp_ns: int, data: bytes) -> None:
        self._w.write(self._conns[topic], int(timestamp_ns), data)

    def flush(self) -> None:
        if self._open:
            self._w.storage.flush()

    def close(self) -> None:
        if self._open:
            self._open = False
            self._w.close()

    def __enter__(self) -> BagWriter:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()  # also on error: a bag with what was recorded beats a bag without metadata
