"""The project's folders: environment overrides, the per-user default, and test isolation."""

import os
import subprocess
import sys
from pathlib import Path

import pooch

from nmm_core import config, paths


def test_data_folders_follow_nmm_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path))
    assert paths.data_dir() == tmp_path
    assert paths.downloads_dir() == tmp_path / "downloads"
    assert paths.generated_dir() == tmp_path / "generated"
    assert config.data_dir() == tmp_path  # the name kept in config is the same function


def test_default_data_dir_is_the_per_user_cache(monkeypatch):
    for value in (None, ""):  # unset, or set to nothing as `NMM_DATA_DIR= make ...` does
        if value is None:
            monkeypatch.delenv("NMM_DATA_DIR", raising=False)
        else:
            monkeypatch.setenv("NMM_DATA_DIR", value)
        assert paths.data_dir() == Path(pooch.os_cache("nmm"))
        assert paths.downloads_dir() == Path(pooch.os_cache("nmm")) / "downloads"


def test_results_dir_override_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("NMM_RESULTS_DIR", str(tmp_path / "r"))
    assert paths.results_dir() == tmp_path / "r"
    monkeypatch.delenv("NMM_RESULTS_DIR")
    assert paths.results_dir() == Path(__file__).resolve().parent.parent / "results"


def test_tests_never_use_the_users_folders(session_data_folders, tmp_path_factory):
    """The session fixture must move every folder under pytest's temporary root, for this
    process and for the subprocesses tests start."""
    temporary = tmp_path_factory.getbasetemp().resolve()
    user_cache = Path(pooch.os_cache("nmm")).resolve()
    for folder in (paths.data_dir(), paths.downloads_dir(), paths.generated_dir(), paths.results_dir()):
        assert folder.resolve().is_relative_to(temporary), folder
        assert not folder.resolve().is_relative_to(user_cache), folder
    child = subprocess.run([sys.executable, "-c", "from nmm_core import paths; "
                            "print(paths.data_dir()); print(paths.results_dir())"],
                           capture_output=True, text=True, check=True, env={**os.environ})
    for line in child.stdout.splitlines():
        assert Path(line).resolve().is_relative_to(temporary), line
