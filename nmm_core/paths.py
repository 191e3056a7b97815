"""Where the project reads and writes files: the one place that names a folder.

- ``data_dir()``: ``$NMM_DATA_DIR`` if set, else the per-user cache (``~/.cache/nmm`` on
  Linux, pooch's ``os_cache("nmm")`` elsewhere);
- ``downloads_dir()``: ``<data dir>/downloads``, files fetched by :mod:`data_download`;
- ``generated_dir()``: ``<data dir>/generated``, data made here, such as the virtual cohorts;
- ``results_dir()``: ``$NMM_RESULTS_DIR`` if set, else ``<repository>/results``;
- :data:`QUICK_TOC`: the quick run's table of contents, under the book's root.

No folder is created here. The module is kept apart from :mod:`nmm_core.config` because the
cohort's fingerprint covers ``config.py``: moving a folder must not regenerate a cohort.
"""

from __future__ import annotations

import os
from pathlib import Path

import pooch

#: The repository (or installed source tree) that holds ``nmm_core``.
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The table of contents of a quick run's book, relative to the book's root: ``_toc.yml`` less
#: the chapters a quick run does not execute (:func:`nmm_core.reproduce.book_toc` writes it).
QUICK_TOC = Path("_build") / "_toc.quick.yml"


def _override(variable: str) -> Path | None:
    value = os.environ.get(variable, "")
    return Path(value).expanduser() if value else None  # empty counts as unset, as in a shell


def data_dir() -> Path:
    """Root of every downloaded and generated data file.

    Returns
    -------
    pathlib.Path
        ``$NMM_DATA_DIR`` when that environment variable is set and not empty, else the
        per-user cache folder for ``"nmm"``.
    """
    return _override("NMM_DATA_DIR") or Path(pooch.os_cache("nmm"))


def downloads_dir() -> Path:
    """Folder of downloaded files, ``<data dir>/downloads`` (see :func:`data_dir`)."""
    return data_dir() / "downloads"


def generated_dir() -> Path:
    """Folder of generated data, ``<data dir>/generated`` (see :func:`data_dir`)."""
    return data_dir() / "generated"


def results_dir() -> Path:
    """Folder of results files: ``$NMM_RESULTS_DIR`` when set and not empty, else
    ``<repository>/results``."""
    return _override("NMM_RESULTS_DIR") or REPO_ROOT / "results"
