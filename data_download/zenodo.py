"""Public recordings on Zenodo, fetched through pooch's DOI support.

Two data sets fit the NMM (see the book's real-data chapter):

``upper-limb-torque``
    "A dataset for the investigation of upper limb torque prediction from EMG signals",
    doi:10.5281/zenodo.11209324 (17 participants, folders ``SXX/``).
``emg-elbow``
    "EMG elbow dataset" (Toro-Ossaba and Tejada), doi:10.5281/zenodo.7946782 (one archive,
    ``EMG elbow dataset.zip``, 10 subjects).

How a download goes:

1. pooch resolves the DOI to the Zenodo record and reads the files' md5 checksums from the
   Zenodo API (``Pooch.load_registry_from_doi``). Checksums frozen into
   ``zenodo_checksums.txt`` (shipped with the package; written by :func:`freeze`) take
   precedence: if the record now publishes another checksum for a frozen file, the download
   stops, since the record changed since it was checked.
2. The record's licence, as Zenodo states it, is shown before the first download of a data set
   and must be accepted (``accept_license=True`` or the command line's prompt); the acceptance
   is remembered per licence.
3. Files are downloaded by :class:`ResumableDownloader`: an interrupted transfer leaves its
   bytes in ``<cache>/<data set>/.partial/`` and the next fetch resumes it with an HTTP range
   request; pooch then checks the md5 before the file enters the cache.
4. Archives are unpacked into ``<cache>/<data set>/data/``, only the selected participants'
   members when a subset is asked for.

Nothing here runs unless a user asks for these data sets.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Sequence

import pooch
import requests
from pooch.downloaders import doi_to_repository
from tqdm import tqdm

from nmm_core.files import atomic_write

from . import ChecksumError, DownloadError, cache_dir

#: Checksums frozen after a checked download: ``<data set> <file name> md5:<hex>`` per line.
CHECKSUM_FILE = Path(__file__).with_name("zenodo_checksums.txt")
_TIMEOUT = 60


@dataclasses.dataclass(frozen=True)
class ZenodoDataset:
    """A public data set on Zenodo.

    Attributes
    ----------
    name : str
        Its name here (the folder in the cache).
    doi : str
        The record's DOI.
    title : str
    participant_pattern : str
        Regular expression whose first group is a participant's identifier in a file or
        archive-member path (e.g. ``S01``).
    """

    name: str
    doi: str
    title: str
    participant_pattern: str


DATASETS: dict[str, ZenodoDataset] = {
    "upper-limb-torque": ZenodoDataset(
        "upper-limb-torque", "10.5281/zenodo.11209324",
        "A dataset for the investigation of upper limb torque prediction from EMG signals",
        r"(?:^|/)(S\d{2})(?:/|\.|_|$)"),
    "emg-elbow": ZenodoDataset(
        "emg-elbow", "10.5281/zenodo.7946782", "EMG elbow dataset (Toro-Ossaba and Tejada)",
        r"(?:^|/)([^/]*?\d+)/"),
}


def dataset(name: str) -> ZenodoDataset:
    """The :class:`ZenodoDataset` called ``name``; a clear error for an unknown one."""
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}; known: {', '.join(DATASETS)}.")
    return DATASETS[name]


# --------------------------------------------------------------------------------------------
# Frozen checksums.
# --------------------------------------------------------------------------------------------
def load_checksums(path: Path | None = None) -> dict[str, dict[str, str]]:
    """``{data set: {file name: "md5:<hex>"}}`` from the checksum file (file names may contain
    spaces: the data set is the first field, the checksum the last)."""
    path = CHECKSUM_FILE if path is None else Path(path)
    frozen: dict[str, dict[str, str]] = {}
    if not path.is_file():
        return frozen
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 3 or not re.fullmatch(r"md5:[0-9a-f]{32}", parts[-1]):
            raise ValueError(f"{path}, line {number}: expected '<data set> <file name> md5:<32 hex>', "
                             f"got {line!r}; fix or delete the line.")
        name = line.strip()[len(parts[0]):].strip()[: -len(parts[-1])].strip()
        frozen.setdefault(parts[0], {})[name] = parts[-1]
    return frozen


def _md5(path: Path) -> str:
    return pooch.file_hash(str(path), alg="md5")


def freeze(name: str, path: Path | None = None, cache: Path | None = None) -> list[str]:
    """Write the md5 of every downloaded file of data set ``name`` into the checksum file
    (keeping the other data sets' lines); return the lines written for it."""
    record = dataset(name)
    path = CHECKSUM_FILE if path is None else Path(path)
    files = _folder(record, cache) / "files"
    downloaded = sorted(p for p in files.iterdir() if p.is_file()) if files.is_dir() else []
    if not downloaded:
        raise FileNotFoundError(f"Nothing of {name!r} is downloaded in {files}; fetch it first.")
    frozen = load_checksums(path)
    frozen[name] = {p.name: f"md5:{_md5(p)}" for p in downloaded}
    header = ("# Zenodo files checked after download: <data set> <file name> md5:<hex>.\n"
              "# Written by `python -m data_download zenodo freeze NAME`; fetches check against it.\n")
    lines = [f"{d} {f} {h}" for d in sorted(frozen) for f, h in sorted(frozen[d].items())]
    atomic_write(path, header + "\n".join(lines) + "\n")
    return [line for line in lines if line.startswith(f"{name} ")]


# --------------------------------------------------------------------------------------------
# Downloads.
# --------------------------------------------------------------------------------------------
def _folder(record: ZenodoDataset, cache: Path | None) -> Path:
    return (cache_dir() if cache is None else Path(cache)) / record.name


class ResumableDownloader:
    """A pooch downloader for ``doi:`` and ``http(s):`` addresses that resumes interrupted
    transfers from ``partial_dir`` with HTTP range requests."""

    def __init__(self, partial_dir: Path, progress: bool = True):
        self.partial_dir = Path(partial_dir)
        self.progress = progress

    def resolve(self, url: str) -> str:
        """The HTTP address of a ``doi:<doi>/<file>`` address (via pooch and the Zenodo API)."""
        if not url.startswith("doi:"):
            return url
        doi, _, file_name = url[len("doi:"):].rpartition("/")
        return doi_to_repository(doi, timeout=_TIMEOUT).download_url(file_name)

    def __call__(self, url, output_file, pooch_obj=None, check_only=False):
        address = self.resolve(url)
        if check_only:
            return requests.head(address, timeout=_TIMEOUT, allow_redirects=True).ok
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        part = self.partial_dir / (hashlib.sha1(address.encode()).hexdigest() + ".part")
        offset = part.stat().st_size if part.is_file() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with requests.get(address, headers=headers, stream=True, timeout=_TIMEOUT) as response:
                if response.status_code == 416:  # already complete
                    total = offset
                else:
                    response.raise_for_status()
                    if response.status_code != 206:  # the server ignored the range: start again
                        offset = 0
                    total = offset + int(response.headers.get("Content-Length", 0)) or None
                    self._stream(response, part, offset, total, url)
        except requests.exceptions.RequestException as error:
            have = part.stat().st_size if part.is_file() else 0
            raise DownloadError(f"Download of {url} ({address}) was interrupted after {have} bytes: {error}. "
                                f"The bytes are kept in {part}; run the same fetch again to resume.") from error
        have = part.stat().st_size
        if total is not None and have != total:
            raise DownloadError(f"Download of {url} stopped at {have} of {total} bytes; the bytes are kept "
                                f"in {part}; run the same fetch again to resume.")
        shutil.move(part, output_file)

    def _stream(self, response, part: Path, offset: int, total, label: str) -> None:
        with open(part, "ab" if offset else "wb") as handle, \
                tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=Path(label).name,
                     disable=not self.progress, file=sys.stderr) as bar:
            for block in response.iter_content(chunk_size=1 << 16):
                handle.write(block)
                bar.update(len(block))


def _repository(record: ZenodoDataset):
    return doi_to_repository(record.doi, timeout=_TIMEOUT)


def record_license(record: ZenodoDataset, repository=None) -> str:
    """The licence as the Zenodo record states it (its identifier or title)."""
    metadata = (repository or _repository(record)).api_response.get("metadata", {})
    license_ = metadata.get("license") or metadata.get("rights") or "not stated by the record"
    if isinstance(license_, list):
        license_ = license_[0] if license_ else "not stated by the record"
    if isinstance(license_, dict):
        license_ = license_.get("id") or license_.get("title") or json.dumps(license_)
    return str(license_)


def _accept_license(record: ZenodoDataset, license_: str, folder: Path,
                    accept: bool | Callable[[str], bool]) -> None:
    stamp = folder / "LICENSE.accepted"
    if stamp.is_file() and stamp.read_text().strip() == license_:
        return
    message = (f"{record.title} (doi:{record.doi}) is distributed under the licence: {license_}.\n"
               f"See https://doi.org/{record.doi} for its terms, and cite the record when you use it.")
    agreed = accept(message) if callable(accept) else accept
    if not agreed:
        raise PermissionError(f"{message}\nAccept the licence to download it "
                              "(accept_license=True, or --accept-license on the command line).")
    folder.mkdir(parents=True, exist_ok=True)
    stamp.write_text(license_ + "\n")


def _participant(record: ZenodoDataset, path: str) -> str | None:
    found = re.search(record.participant_pattern, path)
    return found.group(1) if found else None


def fetch_dataset(name: str, participants: Sequence[str] | None = None, *,
                  accept_license: bool | Callable[[str], bool] = False, cache: Path | None = None,
                  checksums: Path | None = None, progress: bool = True) -> Path:
    """Download (resuming and verifying), unpack and return the folder of data set ``name``.

    ``participants`` selects a subset (e.g. ``["S01", "S04"]``): only their files, or their
    members of a shared archive, are fetched or unpacked. ``accept_license`` is True, or a
    callable shown the licence that returns whether it is accepted.
    """
    record = dataset(name)
    folder = _folder(record, cache)
    repository = _repository(record)
    _accept_license(record, record_license(record, repository), folder, accept_license)

    registry = pooch.create(path=folder / "files", base_url=f"doi:{record.doi}/", registry=None,
                            retry_if_failed=0)
    registry.load_registry_from_doi()
    for file_name, frozen in load_checksums(checksums).get(name, {}).items():
        published = registry.registry.get(file_name)
        if published is not None and published != frozen:
            raise ChecksumError(f"The Zenodo record doi:{record.doi} now publishes {published} for "
                                f"{file_name!r}, but {frozen} was checked and frozen in "
                                f"{checksums or CHECKSUM_FILE}. The record changed: check the new file, "
                                "then run `python -m data_download zenodo freeze` again.")
        registry.registry[file_name] = frozen
    wanted = set(participants or [])
    names = list(registry.registry)
    if wanted and any(_participant(record, n) for n in names):
        names = [n for n in names if _participant(record, n) in wanted or _participant(record, n) is None]
    downloader = ResumableDownloader(folder / ".partial", progress)
    target = folder / "data"
    for file_name in names:
        try:
            path = Path(registry.fetch(file_name, downloader=downloader))
        except ValueError as error:  # pooch: the md5 does not match
            raise ChecksumError(f"{file_name!r} of doi:{record.doi} does not have its checksum "
                                f"{registry.registry[file_name]}; the download was discarded. "
                                f"({error})") from error
        if zipfile.is_zipfile(path):
            unpack(path, target, lambda member: not wanted or _participant(record, member) in wanted
                   or _participant(record, member) is None)
        else:
            target.mkdir(parents=True, exist_ok=True)
            if not (target / file_name).is_file():
                shutil.copyfile(path, target / file_name)
    return target


def unpack(archive: Path, target: Path, keep: Callable[[str], bool] = lambda member: True) -> list[Path]:
    """Unpack the members of a zip archive that ``keep`` accepts into ``target`` (each file
    written to a temporary name, then renamed; existing files of the same size are kept)."""
    written = []
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            member = PurePosixPath(info.filename)
            if info.is_dir() or not keep(info.filename):
                continue
            if member.is_absolute() or ".." in member.parts:
                raise ValueError(f"{archive}: member {info.filename!r} would leave {target}; "
                                 "the archive is not safe to unpack.")
            destination = target.joinpath(*member.parts)
            if destination.is_file() and destination.stat().st_size == info.file_size:
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(info) as source, tempfile.NamedTemporaryFile(
                    dir=destination.parent, delete=False, prefix=f".{destination.name}.") as tmp:
                shutil.copyfileobj(source, tmp)
            os.replace(tmp.name, destination)
            written.append(destination)
    return written


def participants_in(name: str, folder: Path) -> list[str]:
    """The participants whose data are unpacked in ``folder``."""
    record = dataset(name)
    found = {_participant(record, p.relative_to(folder).as_posix() + "/") for p in folder.rglob("*") if p.is_dir()}
    return sorted(p for p in found if p)


def _ask(message: str) -> bool:
    print(message, file=sys.stderr)
    if not sys.stdin.isatty():
        return False
    return input("Accept this licence and download? [y/N] ").strip().lower() in ("y", "yes")


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m data_download zenodo list | fetch NAME [--participants ...] | freeze NAME``."""
    parser = argparse.ArgumentParser(prog="python -m data_download zenodo",
                                     description="Public recordings on Zenodo (see data_download.zenodo).")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the data sets and what is downloaded")
    fetch = sub.add_parser("fetch", help="download, check and unpack a data set (or some participants)")
    fetch.add_argument("name", choices=sorted(DATASETS))
    fetch.add_argument("--participants", nargs="+", metavar="ID", help="e.g. S01 S04 (default: all)")
    fetch.add_argument("--accept-license", action="store_true", help="accept the record's licence")
    fetch.add_argument("--no-progress", action="store_true")
    freeze_ = sub.add_parser("freeze", help="write the downloaded files' md5 into the shipped checksums")
    freeze_.add_argument("name", choices=sorted(DATASETS))
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        if args.command == "list":
            frozen = load_checksums()
            for record in DATASETS.values():
                data = _folder(record, None) / "data"
                have = participants_in(record.name, data) if data.is_dir() else []
                print(f"{record.name:18s} doi:{record.doi}  frozen files: {len(frozen.get(record.name, {}))}  "
                      f"downloaded: {', '.join(have) or 'none'}\n{'':18s} {record.title}")
        elif args.command == "fetch":
            path = fetch_dataset(args.name, args.participants, accept_license=args.accept_license or _ask,
                                 progress=not args.no_progress)
            print(f"{args.name}: {path}")
        else:
            for line in freeze(args.name):
                print(line)
    except (ValueError, RuntimeError, PermissionError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
