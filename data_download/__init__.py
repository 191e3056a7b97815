"""Fetching and caching of data files, each checked against its registered SHA-256.

The registry of remote files is filled as data sets are added (the virtual cohort is generated
locally and needs no download). Files are cached per user; ``NMM_DATA_DIR`` moves the cache.
Nothing here runs unless a user asks for a download.
"""

from __future__ import annotations

import os
from pathlib import Path

#: name -> (url, "sha256:<hex>"); empty until a data set is registered.
REGISTRY: dict[str, tuple[str, str]] = {}


def cache_dir() -> Path:
    """Folder of downloaded files: ``$NMM_DATA_DIR/downloads`` or pooch's per-user cache."""
    override = os.environ.get("NMM_DATA_DIR")
    if override:
        return Path(override).expanduser() / "downloads"
    import pooch

    return Path(pooch.os_cache("nmm"))
