"""data_download: downloads from a local HTTP server only; the network is never touched."""

import hashlib
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import data_download as dd

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
    # Generated entries registered elsewhere must not leak into these tests.
    monkeypatch.setattr(dd, "_GENERATED", {})
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


def test_cache_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path))
    assert dd.cache_dir() == tmp_path / "downloads"
    monkeypatch.delenv("NMM_DATA_DIR")
    assert dd.cache_dir() != tmp_path / "downloads"


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


def test_generated_entry_runs_once(tmp_path, cache):
    calls = []

    def make_cohort(target: Path) -> Path:
        calls.append(target)
        out = target / "cohort.csv"
        out.write_text("subject,mass\n1,70\n")
        return out

    dd.register_generated("virtual-cohort", make_cohort, "synthetic subjects")
    reg = write_registry(tmp_path / "empty.txt", [])
    assert dd.verify("virtual-cohort", registry=reg) == [("virtual-cohort", "missing")]
    first = dd.fetch("virtual-cohort", registry=reg)
    assert first == cache / "virtual-cohort" / "cohort.csv"
    assert first.read_text().startswith("subject")
    assert dd.fetch("virtual-cohort", registry=reg) == first
    assert len(calls) == 1
    assert dd.verify(registry=reg) == [("virtual-cohort", "ok")]
    assert [e.name for e in dd.list_entries(reg)] == ["virtual-cohort"]
    with pytest.raises(ValueError, match="already registered"):
        dd.register_generated("virtual-cohort", make_cohort)
    with pytest.raises(TypeError, match="callable"):
        dd.register_generated("other", "not a function")


def test_failing_generator_leaves_nothing(tmp_path, cache):
    def broken(target: Path) -> Path:
        (target / "half.csv").write_text("x")
        raise RuntimeError("generator failed")

    dd.register_generated("broken", broken)
    with pytest.raises(RuntimeError, match="generator failed"):
        dd.fetch("broken", registry=write_registry(tmp_path / "r.txt", []))
    assert listing(cache) == []


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


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("NMM_TEST_NETWORK") != "1", reason="set NMM_TEST_NETWORK=1")
def test_packaged_registry_files_download(tmp_path, monkeypatch):
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path))
    for name in dd.load_registry():
        dd.fetch(name, progress=False)
    assert all(status == "ok" for _, status in dd.verify(list(dd.load_registry())))
