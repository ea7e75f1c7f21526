"""Rows a run collects until its end, kept on disk so memory stays flat however long it
runs: a store open all day sees millions of tracked boxes.

:class:`RowSpool` takes float64 rows of a fixed width and gives them back in order, in
chunks. With a folder it writes them to an anonymous temporary file there (gone when the
spool is closed, and when the process ends, also by a crash); without one it keeps them in
memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHUNK_ROWS = 65536  # rows read back at a time: 3.5 MB at seven columns


class RowSpool:
    def __init__(self, width: int, folder: str | Path | None = None) -> None:
        self.width = width
        self.rows = 0
        # open for the whole run, closed by close()
        self._file = None if folder is None else tempfile.TemporaryFile(dir=folder)  # noqa: SIM115
        self._parts: list[np.ndarray] = []

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=np.float64).reshape(-1, self.width)
        if not len(rows):
            return
        self.rows += len(rows)
        if self._file is None:
            self._parts.append(rows)
        else:
            self._file.write(rows.tobytes())

    def chunks(self) -> Iterator[np.ndarray]:
        """Every row so far, in order, a chunk at a time (``(n, width)`` arrays)."""
        if self._file is None:
            yield from self._parts
            return
        self._file.flush()
        self._file.seek(0)
        size = CHUNK_ROWS * self.width * 8
        while data := self._file.read(size):
            yield np.frombuffer(data, np.float64).reshape(-1, self.width)
        self._file.seek(0, 2)  # appending goes on at the end

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._parts = []
