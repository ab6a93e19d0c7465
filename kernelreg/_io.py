"""Atomic file writes shared by feature export and the benchmark runner (a leaf module)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[IO[bytes]]:
    """Open a binary temporary file beside ``path``; on success fsync and ``os.replace`` it into place.

    A crash or exception midway leaves either the old file or none at ``path``, never half a
    file, and no temporary file behind.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary readable files
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
