"""Zenodo downloads through pooch's DOI support, against a local server that mimics Zenodo's
records API and file URLs (127.0.0.1 only; no network)."""

import hashlib
import http.server
import io
import json
import random
import threading
import zipfile

import pooch.downloaders
import pytest

from data_download import ChecksumError, DownloadError, zenodo


def _zip(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, text in members.items():
            bundle.writestr(name, text)
    return buffer.getvalue()


class FakeZenodo:
    """Serves /api/records/<id> (the legacy JSON layout pooch reads) and /files/<name>, with
    HTTP range requests; can cut a transfer short or publish a wrong checksum."""

    def __init__(self, files: dict, record="11209324", license_id="cc-by-4.0"):
        self.files, self.record, self.license_id = files, record, license_id
        self.wrong_md5: set = set()
        self.cut_next: set = set()  # names whose next transfer stops half way
        self.ranges: list = []
        self.requests: list = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                if self.path == f"/api/records/{outer.record}":
                    body = json.dumps(outer.api()).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                name = self.path.removeprefix("/files/").replace("%20", " ")
                if name not in outer.files:
                    self.send_error(404)
                    return
                data = outer.files[name]
                start = 0
                if self.headers.get("Range"):
                    outer.ranges.append(self.headers["Range"])
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if name in outer.cut_next:
                    outer.cut_next.discard(name)
                    self.wfile.write(data[start:start + (len(data) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the transfer dies half way
                    return
                self.wfile.write(data[start:])

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def api(self):
        files = []
        for name, data in self.files.items():
            md5 = hashlib.md5(data + (b"x" if name in self.wrong_md5 else b"")).hexdigest()
            files.append({"key": name, "size": len(data), "checksum": f"md5:{md5}",
                          "links": {"self": f"{self.url}/files/{name.replace(' ', '%20')}"}})
        return {"id": int(self.record), "metadata": {"title": "test record", "license": {"id": self.license_id}},
                "files": files}


@pytest.fixture
def zenodo_server(monkeypatch, tmp_path):
    # 1 MiB of incompressible bytes, so that half a transfer is many network chunks.
    payload = random.Random(0).randbytes(1 << 20)
    files = {"S01.zip": _zip({"S01/S01.json": '{"weight": 70}', "S01/SJ/trial1/emgFilt.csv": "TIME\n0\n",
                              "S01/SJ/trial1/emgRaw.bin": payload}),
             "S02.zip": _zip({"S02/S02.json": '{"weight": 80}'}),
             "README.md": b"about the data"}
    server = FakeZenodo(files)
    # pooch resolves a DOI at doi.org and reads Zenodo's API: both point at the local server.
    monkeypatch.setattr(pooch.downloaders, "doi_to_url",
                        lambda doi, **kwargs: f"https://zenodo.org/records/{doi.split('.')[-1]}")
    monkeypatch.setattr(pooch.downloaders.ZenodoRepository, "base_api_url", f"{server.url}/api/records")
    yield server, tmp_path / "cache", tmp_path / "checksums.txt"
    server.server.shutdown()


def test_a_subset_is_downloaded_checked_and_unpacked(zenodo_server):
    server, cache, checksums = zenodo_server
    shown = []
    folder = zenodo.fetch_dataset("upper-limb-torque", ["S01"], cache=cache, checksums=checksums,
                                  accept_license=lambda text: shown.append(text) or True, progress=False)
    assert "cc-by-4.0" in shown[0] and "10.5281/zenodo.11209324" in shown[0]
    assert (folder / "S01" / "SJ" / "trial1" / "emgFilt.csv").is_file()
    assert (folder / "README.md").read_bytes() == b"about the data"
    assert not (folder / "S02").exists() and "/files/S02.zip" not in server.requests
    assert zenodo.participants_in("upper-limb-torque", folder) == ["S01"]
    # The licence is asked once; a second fetch downloads nothing new.
    count = len([r for r in server.requests if r.startswith("/files/")])
    zenodo.fetch_dataset("upper-limb-torque", ["S01"], cache=cache, checksums=checksums, progress=False)
    assert len([r for r in server.requests if r.startswith("/files/")]) == count

    lines = zenodo.freeze("upper-limb-torque", checksums, cache)
    md5 = hashlib.md5(server.files["S01.zip"]).hexdigest()
    assert f"upper-limb-torque S01.zip md5:{md5}" in lines
    assert zenodo.load_checksums(checksums)["upper-limb-torque"]["S01.zip"] == f"md5:{md5}"


def test_the_licence_must_be_accepted_before_anything_is_downloaded(zenodo_server):
    server, cache, checksums = zenodo_server
    with pytest.raises(PermissionError, match="(?s)cc-by-4.0.*Accept the licence"):
        zenodo.fetch_dataset("upper-limb-torque", cache=cache, checksums=checksums, progress=False)
    assert not [r for r in server.requests if r.startswith("/files/")]


def test_a_file_that_does_not_match_its_published_checksum_is_discarded(zenodo_server):
    server, cache, checksums = zenodo_server
    server.wrong_md5.add("S01.zip")
    with pytest.raises(ChecksumError, match="S01.zip.*does not have its checksum"):
        zenodo.fetch_dataset("upper-limb-torque", ["S01"], cache=cache, checksums=checksums,
                             accept_license=True, progress=False)
    assert not (cache / "upper-limb-torque" / "files" / "S01.zip").exists()
    assert not (cache / "upper-limb-torque" / "data" / "S01").exists()


def test_a_record_that_changed_since_its_checksums_were_frozen_stops_the_download(zenodo_server):
    server, cache, checksums = zenodo_server
    checksums.write_text(f"upper-limb-torque S01.zip md5:{'0' * 32}\n")
    with pytest.raises(ChecksumError, match="now publishes .* frozen"):
        zenodo.fetch_dataset("upper-limb-torque", ["S01"], cache=cache, checksums=checksums,
                             accept_license=True, progress=False)
    assert not [r for r in server.requests if r.startswith("/files/")]


def test_an_interrupted_transfer_resumes_where_it_stopped(zenodo_server):
    server, cache, checksums = zenodo_server
    server.cut_next.add("S01.zip")
    with pytest.raises(DownloadError, match="run the same fetch again to resume"):
        zenodo.fetch_dataset("upper-limb-torque", ["S01"], cache=cache, checksums=checksums,
                             accept_license=True, progress=False)
    partial = list((cache / "upper-limb-torque" / ".partial").glob("*.part"))
    assert len(partial) == 1 and 0 < partial[0].stat().st_size < len(server.files["S01.zip"])
    kept = partial[0].stat().st_size
    folder = zenodo.fetch_dataset("upper-limb-torque", ["S01"], cache=cache, checksums=checksums, progress=False)
    assert server.ranges == [f"bytes={kept}-"]
    assert (folder / "S01" / "S01.json").read_text() == '{"weight": 70}'
    assert not list((cache / "upper-limb-torque" / ".partial").glob("*.part"))


def test_checksum_file_names_with_spaces_and_bad_lines(tmp_path):
    path = tmp_path / "sums.txt"
    path.write_text(f"# comment\nemg-elbow EMG elbow dataset.zip md5:{'a' * 32}\n")
    assert zenodo.load_checksums(path) == {"emg-elbow": {"EMG elbow dataset.zip": f"md5:{'a' * 32}"}}
    path.write_text("emg-elbow file.zip sha256:abc\n")
    with pytest.raises(ValueError, match="line 1: expected"):
        zenodo.load_checksums(path)
    with pytest.raises(ValueError, match="Unknown data set 'nope'"):
        zenodo.dataset("nope")


def test_unpack_refuses_members_that_leave_the_folder(tmp_path):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip({"../outside.txt": "x"}))
    with pytest.raises(ValueError, match="would leave"):
        zenodo.unpack(archive, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()
