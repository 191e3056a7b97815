"""data_download: downloads from a local HTTP server only; the network is never touched."""

import hashlib
import json
import re
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pooch
import pytest

import data_download as dd
from nmm_core import cohort

GOOD = b"time,activation\n0.0,0.1\n0.1,0.2\n" * 100
OTHER = b"something else entirely\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    files: dict = {}
    hits: dict = {}

    def do_GET(self):
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path == "/truncated.csv":
            # Promise more bytes than are sent, then drop the connection.
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD[: len(GOOD) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server(monkeypatch):
    # A proxy configured in the environment must not intercept the local server.
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    handler = type("Handler", (_Handler,), {"files": {}, "hits": {}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data" / "downloads"


def write_registry(path: Path, lines) -> Path:
    path.write_text("# test registry\n\n" + "".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def registry(tmp_path, server):
    server.files["/good.csv"] = GOOD
    server.files["/changed.csv"] = OTHER
    return write_registry(
        tmp_path / "registry.txt",
        [
            f"good.csv sha256:{sha(GOOD)} {server.base}/good.csv",
            # Registered with GOOD's hash but the server sends something else.
            f"changed.csv sha256:{sha(GOOD)} {server.base}/changed.csv",
            f"truncated.csv sha256:{sha(GOOD)} {server.base}/truncated.csv",
        ],
    )


def listing(folder: Path):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_downloads_live_under_the_one_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path))
    assert dd.cache_dir() == tmp_path / "downloads"
    monkeypatch.delenv("NMM_DATA_DIR")
    assert dd.cache_dir() == Path(pooch.os_cache("nmm")) / "downloads"


def test_packaged_registry_parses():
    assert isinstance(dd.load_registry(), dict)


def test_fetch_downloads_once(registry, cache, server):
    path = dd.fetch("good.csv", registry=registry, progress=False)
    assert path == cache / "good.csv"
    assert path.read_bytes() == GOOD
    assert dd.fetch("good.csv", registry=registry, progress=True) == path
    assert server.hits["/good.csv"] == 1
    assert listing(cache) == ["good.csv"]


def test_checksum_mismatch_leaves_nothing(registry, cache):
    with pytest.raises(dd.ChecksumError) as info:
        dd.fetch("changed.csv", registry=registry, progress=False)
    message = str(info.value)
    assert "changed.csv" in message
    assert sha(GOOD) in message and sha(OTHER) in message
    assert "registry" in message and "URL" in message
    assert listing(cache) == []


def test_bad_download_never_replaces_good_cached_file(tmp_path, registry, cache, server):
    dd.fetch("good.csv", registry=registry, progress=False)
    # Upstream "changes": the registry now expects new content, the server sends junk.
    new = GOOD + b"v2\n"
    reg = write_registry(
        tmp_path / "reg2.txt", [f"good.csv sha256:{sha(new)} {server.base}/changed.csv"]
    )
    with pytest.raises(dd.ChecksumError):
        dd.fetch("good.csv", registry=reg, progress=False)
    assert listing(cache) == ["good.csv"]
    assert (cache / "good.csv").read_bytes() == GOOD


def test_interrupted_download_leaves_nothing(registry, cache):
    with pytest.raises(dd.DownloadError, match="truncated.csv"):
        dd.fetch("truncated.csv", registry=registry, progress=False)
    assert listing(cache) == []


def test_http_error_is_download_error(tmp_path, cache, server):
    reg = write_registry(tmp_path / "r.txt", [f"gone.csv sha256:{sha(GOOD)} {server.base}/gone"])
    with pytest.raises(dd.DownloadError, match="404"):
        dd.fetch("gone.csv", registry=reg, progress=False)
    assert listing(cache) == []


def test_verify_statuses(registry, cache):
    dd.fetch("good.csv", registry=registry, progress=False)
    assert dd.verify("good.csv", registry=registry) == [("good.csv", "ok")]
    assert dict(dd.verify(registry=registry)) == {
        "changed.csv": "missing",
        "good.csv": "ok",
        "truncated.csv": "missing",
        "virtual-cohort": "missing",
        "virtual-cohort-quick": "missing",
        "virtual-cohort-thresholds": "missing",
        "virtual-cohort-thresholds-quick": "missing",
    }
    (cache / "good.csv").write_bytes(GOOD + b"tampered")
    assert dd.verify(["good.csv"], registry=registry) == [("good.csv", "mismatch")]
    with pytest.raises(ValueError, match="Unknown data file 'nope'"):
        dd.verify("nope", registry=registry)


@pytest.mark.parametrize(
    "line, match",
    [
        ("a.csv sha256:abc http://x/a", "64 hex"),
        (f"a.csv md5:{'0' * 64} http://x/a", "sha256:"),
        (f"a.csv sha256:{'0' * 64}", "3 fields"),
        (f"a.csv sha256:{'0' * 64} http://x/a extra", "3 fields"),
        (f"a.csv sha256:{'0' * 64} file:///tmp/a", "URL"),
        (f"../a.csv sha256:{'0' * 64} http://x/a", "invalid data file name"),
    ],
)
def test_malformed_registry_names_line(tmp_path, line, match):
    path = write_registry(tmp_path / "r.txt", [f"ok.csv sha256:{'1' * 64} http://x/ok", line])
    with pytest.raises(ValueError, match=match) as info:
        dd.load_registry(path)
    assert "line 4" in str(info.value)


def test_duplicate_registry_name(tmp_path):
    line = f"a.csv sha256:{'0' * 64} http://x/a"
    with pytest.raises(ValueError, match="line 4.*line 3"):
        dd.load_registry(write_registry(tmp_path / "r.txt", [line, line]))


def fake_cohort(folder: Path, quick: bool, fingerprint: str | None = None, complete: bool = True,
                motor_control: str = "min_effort", names=None) -> Path:
    """A cohort folder as generation leaves it (``names``: its subjects, by default every one):
    only its record matters to the cache."""
    folder.mkdir(parents=True)
    if complete:
        names = names or [s.name for s in cohort.make_cohort()]
        fingerprint = fingerprint or cohort.cohort_fingerprint(quick, cohort.DEFAULT_SEED, motor_control)
        (folder / "cohort.json").write_text(json.dumps({"fingerprint": fingerprint, "subjects": names}))
    return folder


def test_a_cohort_is_fetched_into_its_fingerprinted_home(cache, monkeypatch):
    generated = []

    def generate(directory, quick, seed, progress, motor_control, subjects):
        generated.append((quick, seed, motor_control, subjects))
        return fake_cohort(Path(directory), quick, motor_control=motor_control, names=subjects)

    monkeypatch.setattr(cohort, "generate_cohort", generate)
    assert dd.verify("virtual-cohort-quick") == [("virtual-cohort-quick", "missing")]
    path = dd.fetch("virtual-cohort-quick", progress=False)
    fingerprint = cohort.cohort_fingerprint(True, cohort.DEFAULT_SEED)
    assert path == cache.parent / "generated" / f"virtual-cohort-quick-seed2025-{fingerprint}"
    assert dd.fetch("virtual-cohort-quick", progress=False) == path  # complete: not generated again
    everyone = [s.name for s in cohort.make_cohort()]
    assert generated == [(True, cohort.DEFAULT_SEED, "min_effort", everyone)]
    assert dd.verify("virtual-cohort-quick") == [("virtual-cohort-quick", "ok")]
    assert dd.verify("virtual-cohort") == [("virtual-cohort", "missing")]
    # The variant is a data set of its own: its own folder, generated with its motor control.
    variant = dd.fetch("virtual-cohort-thresholds-quick", progress=False)
    assert variant.name == f"virtual-cohort-thresholds-quick-seed2025-{cohort.cohort_fingerprint(True, 2025, 'thresholds')}"
    assert generated[-1] == (True, cohort.DEFAULT_SEED, "thresholds", everyone[:1])  # what a quick run trains on it
    assert dd.verify("virtual-cohort-thresholds-quick") == [("virtual-cohort-thresholds-quick", "ok")]
    assert dd.verify("virtual-cohort-thresholds") == [("virtual-cohort-thresholds", "missing")]
    assert listing(cache) == []  # nothing among the downloads


def test_only_stale_cohorts_are_pruned(cache):
    generated = cache.parent / "generated"
    current = fake_cohort(cohort.cohort_path(quick=True), quick=True)
    resuming = fake_cohort(cohort.cohort_path(quick=False), quick=False, complete=False)
    other_seed = fake_cohort(generated / f"virtual-cohort-seed7-{cohort.cohort_fingerprint(False, 7)}", False)
    stale = fake_cohort(generated / "virtual-cohort-quick-seed2025-0123456789abcdef", True, "0123456789abcdef")
    unrelated = generated / "notes"
    unrelated.mkdir()
    assert dd.stale_cohorts() == [stale]
    assert dd.prune(dry_run=True) == [stale] and stale.is_dir()
    assert dd.prune() == [stale]
    assert sorted(generated.iterdir()) == sorted([current, resuming, other_seed, unrelated])
    assert dd.prune() == []


def run_cli(*args, data_dir):
    env = {**os.environ, "NMM_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "data_download", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_list_and_verify(tmp_path, registry, cache):
    data_dir = tmp_path / "data"
    listed = run_cli("--registry", str(registry), "list", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    assert "good.csv" in listed.stdout and "missing" in listed.stdout

    # Nothing downloaded yet is not a failure for a full verify, but is for a named one.
    assert run_cli("--registry", str(registry), "verify", data_dir=data_dir).returncode == 0
    named = run_cli("--registry", str(registry), "verify", "good.csv", data_dir=data_dir)
    assert named.returncode == 1 and "fetch good.csv" in named.stderr

    dd.fetch("good.csv", registry=registry, progress=False)
    ok = run_cli("--registry", str(registry), "verify", "good.csv", data_dir=data_dir)
    assert ok.returncode == 0, ok.stderr
    assert "good.csv  ok" in ok.stdout

    (cache / "good.csv").write_bytes(b"tampered")
    bad = run_cli("--registry", str(registry), "verify", data_dir=data_dir)
    assert bad.returncode == 1
    assert "mismatch" in bad.stdout and "delete" in bad.stderr


def test_cli_fetch_and_errors(tmp_path, registry, cache):
    data_dir = tmp_path / "data"
    got = run_cli(
        "--registry", str(registry), "fetch", "--no-progress", "good.csv", data_dir=data_dir
    )
    assert got.returncode == 0, got.stderr
    assert (cache / "good.csv").read_bytes() == GOOD

    bad = run_cli("--registry", str(registry), "fetch", "changed.csv", "nope", data_dir=data_dir)
    assert bad.returncode == 1
    assert "Checksum mismatch" in bad.stderr and "Unknown data file 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr

    # The packaged registry (no --registry) works too.
    assert run_cli("list", data_dir=data_dir).returncode == 0


def test_cli_lists_and_prunes_stale_cohorts(tmp_path):
    data_dir = tmp_path / "data"
    stale = fake_cohort(data_dir / "generated" / "virtual-cohort-seed2025-0123456789abcdef", False,
                        "0123456789abcdef")
    listed = run_cli("list", data_dir=data_dir)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^virtual-cohort-quick +missing", listed.stdout, re.MULTILINE)
    assert re.search(r"^virtual-cohort-thresholds +missing", listed.stdout, re.MULTILINE)
    assert str(stale) in listed.stdout and "prune" in listed.stdout
    dry = run_cli("prune", "--dry-run", data_dir=data_dir)
    assert dry.returncode == 0 and f"would remove {stale}" in dry.stdout and stale.is_dir()
    pruned = run_cli("prune", data_dir=data_dir)
    assert pruned.returncode == 0 and f"removed {stale}" in pruned.stdout and not stale.exists()
    assert str(stale) not in run_cli("list", data_dir=data_dir).stdout
    named = run_cli("verify", "virtual-cohort", data_dir=data_dir)
    assert named.returncode == 1 and "fetch virtual-cohort" in named.stderr


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("NMM_TEST_NETWORK") != "1", reason="set NMM_TEST_NETWORK=1")
def test_packaged_registry_files_download(tmp_path, monkeypatch):
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path))
    for name in dd.load_registry():
        dd.fetch(name, progress=False)
    assert all(status == "ok" for _, status in dd.verify(list(dd.load_registry())))
