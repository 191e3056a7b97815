"""Check the built book page by page, and optionally render it in headless Chromium.

    python scripts/check_book.py [--html _build/html] [--quick] [--screenshots DIR] [--chromium PATH]

For every page of the table of contents: no traceback or error output, every figure file
present and a readable PNG/SVG, every table with a header and at least one row, no unfilled
glue placeholder. With Chromium (Debian: ``apt-get install chromium``), each page is also
loaded headless: the checks run again on the DOM after its scripts ran (MathJax, the theme),
and a full-page screenshot is saved to look at. Exit status 1 lists the problems.
"""

from __future__ import annotations

import argparse
import html.parser
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nmm_core.paths import QUICK_TOC

ERROR_MARKERS = ("Traceback (most recent call last)", "output traceback", "highlight-ipythontb",
                 "PapermillExecutionError", "output stderr")


class _Page(html.parser.HTMLParser):
    """Images, tables (header cells, body rows) and text of one HTML page."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.tables: list[dict] = []
        self._table_depth = 0
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "img" and attributes.get("src"):
            self.images.append(attributes["src"])
        elif tag == "table":
            self._table_depth += 1
            self.tables.append({"header": 0, "rows": 0})
        elif tag == "th" and self.tables:
            self.tables[-1]["header"] += 1
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self.tables:
            self.tables[-1]["rows"] += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table_depth -= 1


def check_html(text: str, page: Path) -> tuple[list[str], dict]:
    """Problems found in one page's HTML, and counts (images, tables)."""
    problems = []
    for marker in ERROR_MARKERS:
        if marker in text:
            problems.append(f"{page}: contains {marker!r} (an error output)")
    parser = _Page()
    parser.feed(text)
    for src in parser.images:
        if src.startswith(("http://", "https://", "data:")):
            continue
        image = (page.parent / src.split("#")[0].split("?")[0]).resolve()
        if not image.is_file() or image.stat().st_size == 0:
            problems.append(f"{page}: figure {src} is missing or empty")
            continue
        head = image.read_bytes()[:512]
        if not (head.startswith(b"\x89PNG") or b"<svg" in head or head.startswith(b"\xff\xd8")):
            problems.append(f"{page}: figure {src} is not a PNG, JPEG or SVG image")
    for index, table in enumerate(parser.tables):
        if table["header"] == 0 or table["rows"] == 0:
            problems.append(f"{page}: table {index + 1} has {table['header']} header cells and "
                            f"{table['rows']} rows")
    if "{glue:" in text:
        problems.append(f"{page}: an unfilled glue reference")
    return problems, {"images": len(parser.images), "tables": len(parser.tables)}


def book_pages(html_dir: Path, toc: Path) -> list[Path]:
    """The pages of the table of contents, as built HTML files."""
    import yaml

    entries = yaml.safe_load(toc.read_text())
    files = [entries["root"]]
    stack = list(entries.get("parts", [])) + list(entries.get("chapters", []))
    while stack:
        entry = stack.pop(0)
        if "file" in entry:
            files.append(entry["file"])
        stack[:0] = list(entry.get("chapters", [])) + list(entry.get("sections", []))
    return [html_dir / f"{name}.html" for name in files]


def render(chromium: str, page: Path, screenshot: Path | None) -> str:
    """The page's DOM after its scripts ran, from headless Chromium; saves a screenshot."""
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--allow-file-access-from-files", "--virtual-time-budget=5000"]
    with tempfile.TemporaryDirectory() as profile:
        base.append(f"--user-data-dir={profile}")
        dom = subprocess.run(base + ["--dump-dom", page.as_uri()], capture_output=True, text=True,
                             timeout=120, check=True).stdout
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(base + [f"--screenshot={screenshot}", "--window-size=1280,3000", page.as_uri()],
                           capture_output=True, timeout=120, check=True)
    return dom


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=Path("_build/html"))
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"))
    parser.add_argument("--quick", action="store_true",
                        help=f"the quick run's book (its table of contents, {QUICK_TOC}, in place of --toc)")
    parser.add_argument("--screenshots", type=Path, default=None, help="save one PNG per page here")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"),
                        help="Chromium executable (default: found on PATH); none: static checks only")
    args = parser.parse_args(argv)
    if args.quick:
        args.toc = QUICK_TOC
    args.html = args.html.resolve()
    pages = book_pages(args.html, args.toc)
    absent = [p for p in pages if not p.is_file()]
    if absent:
        hint = ("; a quick run's book leaves some chapters out: check it with make check-book QUICK=1"
                if not args.quick and (args.toc.parent / QUICK_TOC).is_file() else "")
        print(f"error: {absent[0]} was not built; build the book first (make reproduce){hint}.", file=sys.stderr)
        return 1
    problems = []
    print(f"{'page':55s} {'figures':>7s} {'tables':>6s}  rendered")
    for page in pages:
        found, counts = check_html(page.read_text(errors="replace"), page)
        rendered = "no chromium"
        if args.chromium:
            shot = args.screenshots / (page.relative_to(args.html).as_posix().replace("/", "_") + ".png") \
                if args.screenshots else None
            dom_problems, _ = check_html(render(args.chromium, page, shot), page)
            found += [f"{p} (after rendering)" for p in dom_problems]
            rendered = "ok" if not dom_problems else "PROBLEMS"
        problems += found
        print(f"{str(page.relative_to(args.html)):55s} {counts['images']:7d} {counts['tables']:6d}  {rendered}")
    if problems:
        print("\n".join(["", "Problems:", *problems]), file=sys.stderr)
        return 1
    print(f"\n{len(pages)} pages checked, no problems.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
