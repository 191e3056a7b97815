"""Command line: ``python -m data_download list | fetch NAME... | verify [NAME...]``, and
``python -m data_download zenodo list | fetch NAME [--participants ID...] | freeze NAME`` for
the public recordings (:mod:`data_download.zenodo`).

Exit status 0 on success, 1 when any fetch fails or any verified file is
missing or corrupted, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys

import data_download as dd


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_download",
        description="List, download and check the project's data files. "
        "The cache is $NMM_DATA_DIR/downloads if NMM_DATA_DIR is set, else a per-user cache.",
    )
    parser.add_argument(
        "--registry",
        metavar="FILE",
        help=f"registry file to use instead of the packaged one ({dd.REGISTRY_FILE})",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("zenodo", help="public recordings on Zenodo (python -m data_download zenodo --help)")
    sub.add_parser("list", help="show the known data files and whether they are cached")
    fetch = sub.add_parser("fetch", help="download (or generate) data files into the cache")
    fetch.add_argument("names", nargs="+", metavar="NAME")
    fetch.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    verify = sub.add_parser(
        "verify",
        help="recompute the hashes of cached files (all when no NAME is given; "
        "files not yet downloaded only count as failures when named)",
    )
    verify.add_argument("names", nargs="*", metavar="NAME")
    return parser


def _list(registry) -> int:
    entries = dd.list_entries(registry)
    print(f"cache: {dd.cache_dir()}")
    if not entries:
        print("no data files registered")
        return 0
    statuses = dict(dd.verify(registry=registry))
    width = max(len(entry.name) for entry in entries)
    for entry in entries:
        source = entry.url if entry.kind == "remote" else f"generated: {entry.description}"
        print(f"{entry.name:<{width}}  {statuses[entry.name]:<8}  {source}")
    return 0


def _fetch(registry, names, progress) -> int:
    failed = 0
    for name in names:
        try:
            path = dd.fetch(name, registry=registry, progress=progress)
        except (ValueError, RuntimeError) as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
        else:
            print(f"{name}: {path}")
    return 1 if failed else 0


def _verify(registry, names) -> int:
    results = dd.verify(names or None, registry=registry)
    if not results:
        print("no data files registered")
        return 0
    width = max(len(name) for name, _ in results)
    for name, status in results:
        print(f"{name:<{width}}  {status}")
    bad = [name for name, status in results if status == "mismatch"]
    # Not having downloaded everything is normal; a named file that is missing is not.
    missing = [name for name, status in results if status == "missing" and names]
    if bad:
        print(
            f"error: {', '.join(bad)} do(es) not match the registered hash; delete the cached "
            f"file(s) in {dd.cache_dir()} and fetch again.",
            file=sys.stderr,
        )
    if missing:
        print(
            f"error: {', '.join(missing)} not in the cache; run "
            f"'python -m data_download fetch {' '.join(missing)}'.",
            file=sys.stderr,
        )
    return 1 if bad or missing else 0


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["zenodo"]:  # public recordings: data_download.zenodo
        from data_download import zenodo

        return zenodo.main(argv[1:])
    args = _parser().parse_args(argv)
    registry = args.registry
    try:
        if args.command == "list":
            return _list(registry)
        if args.command == "fetch":
            return _fetch(registry, args.names, not args.no_progress)
        return _verify(registry, args.names)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        # Registry problems and unknown names: one readable line, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
