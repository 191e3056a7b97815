"""Fetching and caching of data files, each checked against its registered SHA-256.

Remote files are listed in ``registry.txt`` next to this module (one
``<name> sha256:<hex> <url>`` line each) and downloaded with ``pooch``.
Files that are produced locally, such as the virtual cohort, are *generated*
entries: a Python callable registered with :func:`register_generated` makes them
on first use. Everything is cached per user (``pooch.os_cache("nmm")``);
``NMM_DATA_DIR`` moves the cache to ``$NMM_DATA_DIR/downloads``.
Nothing here touches the network unless a user asks for a download.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

__all__ = [
    "ChecksumError",
    "DownloadError",
    "Entry",
    "REGISTRY_FILE",
    "cache_dir",
    "fetch",
    "file_digest",
    "list_entries",
    "load_registry",
    "register_generated",
    "verify",
]

#: The registry shipped with the package.
REGISTRY_FILE = Path(__file__).with_name("registry.txt")

# A name becomes a file or folder name in the cache, so it must not be able to
# escape the cache (no separators, no leading dot, hence no '..').
_NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_HASH_RE = re.compile(r"sha256:([0-9a-fA-F]{64})")
_URL_SCHEMES = ("http", "https", "ftp", "doi")
# Written into a generated entry's folder once its generator succeeded; it holds
# the generator's returned path, relative to that folder.
_GENERATED_MARKER = ".nmm-generated"

_REGISTRY_HELP = f"See the header of {REGISTRY_FILE} for the format."


class ChecksumError(ValueError):
    """A downloaded or cached file does not have its registered SHA-256."""


class DownloadError(RuntimeError):
    """A download failed (connection, HTTP status, interrupted transfer)."""


@dataclass(frozen=True)
class Entry:
    """One data file the project knows how to obtain.

    Attributes
    ----------
    name : str
        Name of the file (or, for generated entries, folder) in the cache.
    kind : {"remote", "generated"}
        ``"remote"`` entries are downloaded from `url` and checked against
        `sha256`; ``"generated"`` entries are made by `generator`.
    url : str or None
        Download address of a remote entry.
    sha256 : str or None
        Lower-case hex SHA-256 of a remote entry.
    generator : callable or None
        ``generator(target_dir: Path) -> Path`` of a generated entry.
    description : str
        One line for humans.
    """

    name: str
    kind: str
    url: str | None = None
    sha256: str | None = None
    generator: Callable[[Path], Path] | None = None
    description: str = ""

    @property
    def known_hash(self) -> str | None:
        """The hash in pooch's ``"sha256:<hex>"`` form, or None for generated entries."""
        return None if self.sha256 is None else f"sha256:{self.sha256}"


# Generated entries registered by the code that knows how to make them.
_GENERATED: dict[str, Entry] = {}


def cache_dir() -> Path:
    """Folder of cached files.

    Returns
    -------
    pathlib.Path
        ``$NMM_DATA_DIR/downloads`` when the environment variable ``NMM_DATA_DIR``
        is set and not empty, else pooch's per-user cache for ``"nmm"``. The
        folder is not created here.
    """
    override = os.environ.get("NMM_DATA_DIR")
    if override:
        return Path(override).expanduser() / "downloads"
    import pooch

    return Path(pooch.os_cache("nmm"))


def _check_name(name: object, where: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{where}: a data file name must be a str, got {type(name).__name__}.")
    if not _NAME_RE.fullmatch(name):
        raise ValueError(
            f"{where}: invalid data file name {name!r}: use only letters, digits, '.', '_' "
            "and '-', not starting with '.' (the name becomes a file name in the cache)."
        )
    return name


def load_registry(path: str | os.PathLike | None = None) -> dict[str, Entry]:
    """Read a registry file of remote entries.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Registry file; the packaged ``registry.txt`` by default.

    Returns
    -------
    dict of str to Entry
        Remote entries by name, in file order.

    Raises
    ------
    FileNotFoundError
        If `path` does not exist.
    ValueError
        If a line is malformed (the message names the file and line number) or
        a name appears twice.
    """
    path = REGISTRY_FILE if path is None else Path(path)
    entries: dict[str, Entry] = {}
    first_line: dict[str, int] = {}
    text = path.read_text(encoding="utf-8")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}, line {lineno}"
        fields = line.split()
        if len(fields) != 3:
            raise ValueError(
                f"{where}: expected 3 fields '<name> sha256:<hex> <url>', got {len(fields)} "
                f"in {raw!r}. {_REGISTRY_HELP}"
            )
        name, hash_field, url = fields
        _check_name(name, where)
        match = _HASH_RE.fullmatch(hash_field)
        if match is None:
            raise ValueError(
                f"{where}: expected the hash as 'sha256:' followed by 64 hex digits, got "
                f"{hash_field!r}. {_REGISTRY_HELP}"
            )
        if urlparse(url).scheme not in _URL_SCHEMES:
            raise ValueError(
                f"{where}: expected a URL starting with one of "
                f"{', '.join(s + ':' for s in _URL_SCHEMES)}, got {url!r}. {_REGISTRY_HELP}"
            )
        if name in entries:
            raise ValueError(
                f"{where}: name {name!r} is already registered on line {first_line[name]}; "
                "each name must appear once."
            )
        first_line[name] = lineno
        entries[name] = Entry(name=name, kind="remote", url=url, sha256=match.group(1).lower())
    return entries


def register_generated(
    name: str,
    generator: Callable[[Path], Path],
    description: str = "",
    *,
    replace: bool = False,
) -> Entry:
    """Register a data entry produced locally by a Python callable.

    Parameters
    ----------
    name : str
        Name of the entry; its output lives in the folder ``<cache>/<name>``.
    generator : callable
        ``generator(target_dir: Path) -> Path``: writes its output into the
        (existing, empty) folder `target_dir` and returns the path to hand to
        users, inside `target_dir`. `target_dir` is a scratch folder that is
        moved into place only when the generator returns, so a failed run
        leaves nothing behind.
    description : str, optional
        One line for humans.
    replace : bool, optional
        Allow replacing an entry already registered under `name`.

    Returns
    -------
    Entry
        The registered entry.

    Raises
    ------
    TypeError
        If `generator` is not callable or `description` is not a str.
    ValueError
        If `name` is invalid or already registered and `replace` is False.
    """
    _check_name(name, "register_generated")
    if not callable(generator):
        raise TypeError(
            f"register_generated({name!r}): generator must be callable as "
            f"generator(target_dir) -> Path, got {type(generator).__name__}."
        )
    if not isinstance(description, str):
        raise TypeError(
            f"register_generated({name!r}): description must be a str, "
            f"got {type(description).__name__}."
        )
    if name in _GENERATED and not replace:
        raise ValueError(
            f"register_generated: {name!r} is already registered; pass replace=True to replace it."
        )
    entry = Entry(name=name, kind="generated", generator=generator, description=description)
    _GENERATED[name] = entry
    return entry


def _entries(registry: Mapping[str, Entry] | str | os.PathLike | None) -> dict[str, Entry]:
    """Remote entries of `registry` merged with the generated ones."""
    if registry is None or isinstance(registry, (str, os.PathLike)):
        remote = load_registry(registry)
    elif isinstance(registry, Mapping):
        remote = dict(registry)
    else:
        raise TypeError(
            "registry must be None (the packaged registry), a path to a registry file or a "
            f"dict of name -> Entry from load_registry(), got {type(registry).__name__}."
        )
    clash = sorted(remote.keys() & _GENERATED.keys())
    if clash:
        raise ValueError(
            f"{', '.join(clash)}: registered both as a remote file and as a generated entry; "
            "rename one of them."
        )
    return {**remote, **_GENERATED}


def _lookup(name: str, entries: Mapping[str, Entry]) -> Entry:
    _check_name(name, "data file")
    try:
        return entries[name]
    except KeyError:
        known = ", ".join(sorted(entries)) or "none"
        raise ValueError(
            f"Unknown data file {name!r}; known: {known}. Add it to {REGISTRY_FILE} "
            "or register it with register_generated()."
        ) from None


def list_entries(registry: Mapping[str, Entry] | str | os.PathLike | None = None) -> list[Entry]:
    """All known entries, remote and generated, sorted by name.

    Parameters
    ----------
    registry : dict, str or os.PathLike, optional
        Remote entries (from :func:`load_registry`) or a registry file; the
        packaged registry by default.

    Returns
    -------
    list of Entry
    """
    return [entry for _, entry in sorted(_entries(registry).items())]


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``"sha256"``, ``"md5"``, any ``hashlib`` name), read in blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    return file_digest(path, "sha256")


class _HashingDownloader:
    """Wraps pooch's downloader to remember the hash of what was downloaded.

    Pooch deletes a download whose hash does not match before we see it, and
    its error does not reliably carry the actual hash in a parseable form; we
    want both hashes in our message.
    """

    def __init__(self, url: str, progress: bool):
        from pooch.downloaders import choose_downloader

        self._inner = choose_downloader(url, progressbar=progress)
        self.actual: str | None = None

    def __call__(self, url, output_file, pooch_obj, check_only=False):
        result = self._inner(url, output_file, pooch_obj, check_only=check_only)
        if not check_only and isinstance(output_file, (str, os.PathLike)):
            self.actual = _sha256(Path(output_file))
        return result


def _fetch_remote(entry: Entry, cache: Path, progress: bool) -> Path:
    import pooch
    import requests

    downloader = _HashingDownloader(entry.url, progress)
    try:
        # pooch streams into a temporary file in `cache`, checks its hash and
        # only then moves it onto the target: a bad or broken download never
        # replaces a cached file and leaves no partial file behind.
        path = pooch.retrieve(
            url=entry.url,
            known_hash=entry.known_hash,
            fname=entry.name,
            path=cache,
            downloader=downloader,
            progressbar=progress,
        )
    except ValueError as exc:
        if downloader.actual is None or downloader.actual == entry.sha256:
            raise
        raise ChecksumError(
            f"Checksum mismatch for {entry.name!r} downloaded from {entry.url}:\n"
            f"  expected sha256:{entry.sha256}\n"
            f"  got      sha256:{downloader.actual}\n"
            f"The download was discarded and the cache ({cache}) left as it was.\n"
            "Check that the URL still serves the intended file; "
            "update the hash in the registry only if the upstream file legitimately changed."
        ) from exc
    except requests.exceptions.RequestException as exc:
        raise DownloadError(
            f"Download of {entry.name!r} from {entry.url} failed: {exc}\n"
            f"The partial download was discarded and the cache ({cache}) left as it was.\n"
            "Check the network connection and the URL, then run the fetch again."
        ) from exc
    return Path(path)


def _generated_result(target: Path) -> Path | None:
    """Path recorded by a completed generator run in `target`, or None."""
    marker = target / _GENERATED_MARKER
    if not marker.is_file():
        return None
    return target / marker.read_text(encoding="utf-8").strip()


def _fetch_generated(entry: Entry, cache: Path) -> Path:
    target = cache / entry.name
    done = _generated_result(target)
    if done is not None:
        return done
    if target.exists():
        raise RuntimeError(
            f"{target} exists but was not completed by the generator of {entry.name!r} "
            f"(no {_GENERATED_MARKER} file). Delete it and fetch {entry.name!r} again."
        )
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{entry.name}.tmp-", dir=cache))
    try:
        result = entry.generator(scratch)
        if not isinstance(result, (str, os.PathLike)):
            raise TypeError(
                f"The generator of {entry.name!r} must return a path inside its target "
                f"folder, got {type(result).__name__}."
            )
        result = Path(result).resolve()
        try:
            relative = result.relative_to(scratch.resolve())
        except ValueError:
            raise ValueError(
                f"The generator of {entry.name!r} returned {result}, which is outside its "
                f"target folder {scratch}; it must write into the folder it is given."
            ) from None
        if not result.exists():
            raise RuntimeError(
                f"The generator of {entry.name!r} returned {result}, which does not exist."
            )
        (scratch / _GENERATED_MARKER).write_text(f"{relative.as_posix()}\n", encoding="utf-8")
        try:
            scratch.rename(target)
        except OSError:
            # Another process completed the same entry meanwhile: use theirs.
            done = _generated_result(target)
            if done is None:
                raise
            return done
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target / relative


def fetch(
    name: str,
    registry: Mapping[str, Entry] | str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """Path to a data file, downloading or generating it if it is not cached.

    Parameters
    ----------
    name : str
        Name of a remote or generated entry.
    registry : dict, str or os.PathLike, optional
        Remote entries (from :func:`load_registry`) or a registry file; the
        packaged registry by default.
    cache : str or os.PathLike, optional
        Cache folder; :func:`cache_dir` by default.
    progress : bool, optional
        Show a tqdm progress bar while downloading.

    Returns
    -------
    pathlib.Path
        The cached file (remote entries) or the generator's returned path.

    Raises
    ------
    ValueError
        If `name` is unknown or invalid.
    ChecksumError
        If the download does not have the registered SHA-256 (a subclass of
        ValueError); the cache is left untouched.
    DownloadError
        If the download fails or is interrupted (a subclass of RuntimeError);
        no partial file is left in the cache.
    """
    entry = _lookup(name, _entries(registry))
    cache = cache_dir() if cache is None else Path(cache)
    if entry.kind == "generated":
        return _fetch_generated(entry, cache)
    return _fetch_remote(entry, cache, progress)


def verify(
    names: str | Iterable[str] | None = None,
    registry: Mapping[str, Entry] | str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
) -> list[tuple[str, str]]:
    """Recompute the hashes of cached files.

    Parameters
    ----------
    names : str or iterable of str, optional
        Entries to check; all known entries by default.
    registry : dict, str or os.PathLike, optional
        Remote entries (from :func:`load_registry`) or a registry file; the
        packaged registry by default.
    cache : str or os.PathLike, optional
        Cache folder; :func:`cache_dir` by default.

    Returns
    -------
    list of (str, str)
        ``(name, status)`` with status ``"ok"``, ``"missing"`` (not cached) or
        ``"mismatch"`` (cached file does not have the registered hash; delete it
        and fetch again). Generated entries have no hash: they are ``"ok"`` when
        their generator completed and its output still exists.

    Raises
    ------
    ValueError
        If a name is unknown.
    """
    entries = _entries(registry)
    cache = cache_dir() if cache is None else Path(cache)
    if names is None:
        selected = sorted(entries)
    elif isinstance(names, str):
        selected = [names]
    else:
        selected = list(names)
    results = []
    for name in selected:
        entry = _lookup(name, entries)
        if entry.kind == "generated":
            done = _generated_result(cache / name)
            status = "ok" if done is not None and done.exists() else "missing"
        else:
            path = cache / name
            if not path.is_file():
                status = "missing"
            else:
                status = "ok" if _sha256(path) == entry.sha256 else "mismatch"
        results.append((name, status))
    return results


# --------------------------------------------------------------------------------------------
# The project's generated entries: the virtual cohort (nmm_core.cohort), full and quick.
# --------------------------------------------------------------------------------------------
def _virtual_cohort_generator(quick: bool) -> Callable[[Path], Path]:
    def generate(target_dir: Path) -> Path:
        from nmm_core.cohort import generate_cohort  # OpenSim is needed only when generating

        return generate_cohort(target_dir, quick=quick)

    return generate


register_generated("virtual-cohort", _virtual_cohort_generator(False),
                   "virtual cohort: 5 OpenSim subjects, 90 trials, Moco ground truth (minutes)")
register_generated("virtual-cohort-quick", _virtual_cohort_generator(True),
                   "virtual cohort, quick parameter set: 5 subjects, 30 short trials (~1 min)")
