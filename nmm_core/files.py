"""Writing a file so that no reader ever sees half of it: one helper for every writer.

A file is written to a temporary name in its own folder and renamed over the target;
``os.replace`` within one folder is atomic, so a reader sees the old file or the complete new
one, and an interrupted run leaves what the user had.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path beside ``path``; when the block ends without an error, rename it
    over ``path`` (creating the folder first), else delete it. ``suffix`` ends the temporary
    name, for writers that insist on one (``numpy.savez`` adds ``.npz`` otherwise)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8 with ``\\n`` line ends, or bytes) to ``path`` atomically,
    flushed to disk before the rename; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
    return path
