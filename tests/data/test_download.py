"""``rationalizer data download``: pinned sources, resume, verification and atomic install.

Archives are built by the tests and served from 127.0.0.1 by a stdlib HTTP server that can
honour or ignore ``Range``, cut the connection, or promise more bytes than it sends; the
pinned digests of the real sources are checked against the data directory when it has them.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rationalizer.cli import _common as cli_common
from rationalizer.cli import app
from rationalizer.data import download as dl
from rationalizer.data.download import (
    MARKER,
    DownloadError,
    ExistingFolderError,
    IntegrityError,
    Outcome,
    Source,
    State,
    content_digest,
    download_source,
    folder_state,
)
from rationalizer.data.registry import available_datasets, loader_class
from rationalizer.errors import RationalizerError, UnknownNameError

TOP = "repo-0123abc/"
FILES = {
    "data/docs/a": b"the plot is thin",
    "data/docs/b": "caf\u00e9 au lait".encode(),
    "data/val.jsonl": b'{"annotation_id": "a"}\n',
    "data/test.jsonl": b'{"annotation_id": "b"}\n',
}
#: what the dataset folder must hold: FILES under data/, without the prefix
EXPECTED = {path.removeprefix("data/"): body for path, body in FILES.items()}


def reference_digest(files: dict[str, bytes]) -> str:
    """The documented content digest, computed independently of the code under test."""
    lines = sorted(f"{path}\t{hashlib.sha256(body).hexdigest()}\n" for path, body in files.items())
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def build_archive(files: dict[str, bytes], extra: list[tarfile.TarInfo] = ()) -> bytes:
    """A .tar.gz like GitHub's: everything under one top folder, plus unrelated files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, body in {**files, "README.md": b"not part of the dataset"}.items():
            info = tarfile.TarInfo(TOP + path)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buffer.getvalue()


ARCHIVE = build_archive(FILES)


@dataclass
class Route:
    body: bytes
    honor_range: bool = True
    #: send only this many bytes of the body, then close the connection
    cut_after: int | None = None
    #: announce this Content-Length instead of the body's
    declared_length: int | None = None
    status: int = 200


@dataclass
class Server:
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    #: (path, Range header, If-Range header) of every request, in order
    requests: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ranged = self.headers.get("Range")
            server.requests.append((self.path, ranged, self.headers.get("If-Range")))
            route = server.routes.get(self.path)
            if route is None or route.status != 200:
                self.send_error(404 if route is None else route.status)
                return
            body, start = route.body, 0
            if ranged and route.honor_range:
                start = int(ranged.removeprefix("bytes=").rstrip("-"))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            rest = body[start:]
            self.send_header("Content-Length", str(route.declared_length or len(rest)))
            self.send_header("ETag", '"v1"')
            self.end_headers()
            self.wfile.write(rest if route.cut_after is None else rest[: route.cut_after])
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy configured on the machine."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = Server(port=httpd.server_address[1])
    httpd.RequestHandlerClass = _handler(state)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def toy_source(url: str, **changes: object) -> Source:
    source = Source(
        folder="toy-eraser",
        url=url,
        members=(
            (TOP + "data/docs/", "docs/"),
            (TOP + "data/val.jsonl", "val.jsonl"),
            (TOP + "data/test.jsonl", "test.jsonl"),
        ),
        download_size=len(ARCHIVE),
        content_sha256=reference_digest(EXPECTED),
    )
    return replace(source, **changes)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/toy.tar.gz"


def installed(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MARKER
    }


def leftovers(data_dir: Path) -> list[str]:
    """Everything in the data directory but installed dataset folders."""
    return sorted(p.name for p in data_dir.iterdir() if not (p / MARKER).is_file())


def fetch(source: Source, data_dir: Path, **kwargs: object) -> Outcome:
    return download_source(source, data_dir, label="toy", progress=False, **kwargs)


def test_download_extracts_verifies_and_installs(server: Server, tmp_path: Path) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    source = toy_source(server.url("/toy.tar.gz"))
    assert fetch(source, tmp_path) is Outcome.DOWNLOADED
    target = tmp_path / "toy-eraser"
    assert installed(target) == EXPECTED
    marker = json.loads((target / MARKER).read_text("utf-8"))
    assert (marker["format"], marker["version"]) == ("rationalizer.download", 1)
    assert marker["url"] == source.url
    assert marker["content_sha256"] == source.content_sha256 == content_digest(target)
    assert marker["archive_sha256"] == hashlib.sha256(ARCHIVE).hexdigest()
    assert leftovers(tmp_path) == []  # no .downloads, no temporary folder
    assert folder_state(source, tmp_path) is State.DOWNLOADED


def test_a_second_call_is_a_no_op_without_any_request(server: Server, tmp_path: Path) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    source = toy_source(server.url("/toy.tar.gz"))
    fetch(source, tmp_path)
    server.requests.clear()
    assert fetch(source, tmp_path) is Outcome.VERIFIED
    assert server.requests == []


def test_a_pinned_archive_checksum_is_checked_before_extracting(
    server: Server, tmp_path: Path
) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    source = toy_source(server.url("/toy.tar.gz"), archive_sha256="0" * 64)
    with pytest.raises(IntegrityError) as caught:
        fetch(source, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"sha256 {hashlib.sha256(ARCHIVE).hexdigest()}, expected {'0' * 64}" in message
    assert leftovers(tmp_path) == []  # neither the folder nor the bad download is left


def test_a_pinned_archive_size_is_checked(server: Server, tmp_path: Path) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    source = toy_source(server.url("/toy.tar.gz"), archive_size=len(ARCHIVE) + 1)
    with pytest.raises(IntegrityError, match=f"has {len(ARCHIVE):,} bytes, expected"):
        fetch(source, tmp_path)
    assert leftovers(tmp_path) == []


def test_a_body_shorter_than_announced_is_an_interrupted_download(
    server: Server, tmp_path: Path
) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE, declared_length=len(ARCHIVE) + 100)
    with pytest.raises(DownloadError, match="broke off after") as caught:
        fetch(toy_source(server.url("/toy.tar.gz")), tmp_path)
    assert "run the command again to resume" in str(caught.value)
    assert not (tmp_path / "toy-eraser").exists()
    assert leftovers(tmp_path) == [".downloads"]


def test_a_corrupt_archive_is_rejected_and_deleted(server: Server, tmp_path: Path) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE[:100] + b"\0" * (len(ARCHIVE) - 100))
    with pytest.raises(IntegrityError, match="is not a valid tar archive"):
        fetch(toy_source(server.url("/toy.tar.gz")), tmp_path)
    assert leftovers(tmp_path) == []


def test_a_dropped_connection_keeps_the_part_and_the_next_call_resumes(
    server: Server, tmp_path: Path
) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE, cut_after=200)
    source = toy_source(server.url("/toy.tar.gz"))
    with pytest.raises(DownloadError, match=f"after 200 of {len(ARCHIVE):,} bytes") as caught:
        fetch(source, tmp_path)
    part = tmp_path / ".downloads" / "toy-eraser.tar.gz.part"
    assert str(part) in str(caught.value) and part.read_bytes() == ARCHIVE[:200]
    assert not (tmp_path / "toy-eraser").exists()

    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    assert fetch(source, tmp_path) is Outcome.DOWNLOADED
    assert server.requests[-1] == ("/toy.tar.gz", "bytes=200-", '"v1"')
    assert installed(tmp_path / "toy-eraser") == EXPECTED
    assert leftovers(tmp_path) == []


def test_a_server_ignoring_range_is_read_from_the_start(server: Server, tmp_path: Path) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE, cut_after=200)
    source = toy_source(server.url("/toy.tar.gz"))
    with pytest.raises(DownloadError):
        fetch(source, tmp_path)
    server.routes["/toy.tar.gz"] = Route(ARCHIVE, honor_range=False)
    assert fetch(source, tmp_path) is Outcome.DOWNLOADED
    assert server.requests[-1][1] == "bytes=200-"  # asked to resume, got the whole file
    assert installed(tmp_path / "toy-eraser") == EXPECTED


def test_a_refused_range_starts_over(server: Server, tmp_path: Path) -> None:
    """A .part longer than the file (the file changed) gets 416; the download starts over."""
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    source = toy_source(server.url("/toy.tar.gz"))
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / "toy-eraser.tar.gz.part").write_bytes(b"\0" * (len(ARCHIVE) + 10))
    (downloads / "toy-eraser.tar.gz.json").write_text(json.dumps({"url": source.url}))
    assert fetch(source, tmp_path) is Outcome.DOWNLOADED
    assert [r[1] for r in server.requests] == [f"bytes={len(ARCHIVE) + 10}-", None]
    assert installed(tmp_path / "toy-eraser") == EXPECTED


def test_a_marker_written_before_its_version_still_verifies(server: Server, tmp_path: Path) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    source = toy_source(server.url("/toy.tar.gz"))
    fetch(source, tmp_path)
    path = tmp_path / "toy-eraser" / MARKER
    marker = json.loads(path.read_text("utf-8"))
    del marker["version"]  # as markers were written before the one file envelope
    path.write_text(json.dumps(marker), encoding="utf-8")
    assert fetch(source, tmp_path) is Outcome.VERIFIED
    assert len(server.requests) == 1


def test_a_part_left_by_another_source_is_not_resumed(server: Server, tmp_path: Path) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    source = toy_source(server.url("/toy.tar.gz"))
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / "toy-eraser.tar.gz.part").write_bytes(ARCHIVE[:50])
    (downloads / "toy-eraser.tar.gz.json").write_text(json.dumps({"url": "http://old/"}))
    assert fetch(source, tmp_path) is Outcome.DOWNLOADED
    assert server.requests == [("/toy.tar.gz", None, None)]


def test_an_unreachable_host_is_one_line_naming_dataset_and_url(tmp_path: Path) -> None:
    url = closed_port_url()
    with pytest.raises(DownloadError) as caught:
        fetch(toy_source(url), tmp_path)
    message = str(caught.value)
    assert message.startswith(f"could not download toy from {url}: ")
    assert "\n" not in message and "resume" not in message  # nothing was written
    assert leftovers(tmp_path) == []


def test_an_http_error_is_one_line(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"from http://127\.0\.0\.1:\d+/gone: HTTP 404"):
        fetch(toy_source(server.url("/gone")), tmp_path)
    assert not (tmp_path / "toy-eraser").exists()


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        ("../evil", "points outside the archive"),
        ("/tmp/evil", "points outside the archive"),
        (TOP + "data/docs/link", "is a link or a special file"),
    ],
    ids=["dot-dot", "absolute", "symlink"],
)
def test_unsafe_members_are_refused(
    server: Server, tmp_path: Path, member: str, problem: str
) -> None:
    info = tarfile.TarInfo(member)
    if member.endswith("link"):
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        info.size = 4
    server.routes["/toy.tar.gz"] = Route(build_archive(FILES, extra=[info]))
    data_dir = tmp_path / "data"
    with pytest.raises(IntegrityError, match=f"member '{member}' {problem}"):
        fetch(toy_source(server.url("/toy.tar.gz")), data_dir)
    assert leftovers(data_dir) == [] and not (tmp_path / "evil").exists()


def test_a_content_digest_mismatch_installs_nothing(server: Server, tmp_path: Path) -> None:
    tampered = {**FILES, "data/docs/a": b"the plot is thick"}
    server.routes["/toy.tar.gz"] = Route(build_archive(tampered))
    source = toy_source(server.url("/toy.tar.gz"))
    with pytest.raises(IntegrityError) as caught:
        fetch(source, tmp_path)
    assert f"content sha256 {reference_digest({**EXPECTED, 'docs/a': b'the plot is thick'})}" in (
        str(caught.value)
    )
    assert f"expected {source.content_sha256}" in str(caught.value)
    assert leftovers(tmp_path) == []


def test_a_missing_member_is_named(server: Server, tmp_path: Path) -> None:
    server.routes["/toy.tar.gz"] = Route(build_archive({"data/docs/a": b"x"}))
    with pytest.raises(IntegrityError, match=f"lacks {TOP}data/val.jsonl, {TOP}data/test.jsonl"):
        fetch(toy_source(server.url("/toy.tar.gz")), tmp_path)
    assert leftovers(tmp_path) == []


def place_by_hand(data_dir: Path, files: dict[str, bytes]) -> Path:
    target = data_dir / "toy-eraser"
    for path, body in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(body)
    return target


def test_a_folder_placed_by_hand_is_verified_by_its_content(server: Server, tmp_path: Path) -> None:
    place_by_hand(tmp_path, EXPECTED)
    source = toy_source(server.url("/toy.tar.gz"))
    assert fetch(source, tmp_path) is Outcome.VERIFIED
    assert folder_state(source, tmp_path) is State.PRESENT
    assert server.requests == []


def test_a_mismatching_folder_needs_force(server: Server, tmp_path: Path) -> None:
    target = place_by_hand(tmp_path, {**EXPECTED, "docs/extra": b"added"})
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    source = toy_source(server.url("/toy.tar.gz"))
    with pytest.raises(ExistingFolderError, match="run again with --force to replace it"):
        fetch(source, tmp_path)
    assert server.requests == [] and (target / "docs" / "extra").is_file()
    assert fetch(source, tmp_path, force=True) is Outcome.DOWNLOADED
    assert installed(target) == EXPECTED
    assert leftovers(tmp_path) == []


def test_a_downloaded_folder_edited_later_is_reported(server: Server, tmp_path: Path) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    source = toy_source(server.url("/toy.tar.gz"))
    fetch(source, tmp_path)
    (tmp_path / "toy-eraser" / "val.jsonl").write_text("edited")
    with pytest.raises(ExistingFolderError, match="changed after download"):
        fetch(source, tmp_path)


def test_a_folder_is_unverifiable_when_only_the_archive_is_pinned(
    server: Server, tmp_path: Path
) -> None:
    place_by_hand(tmp_path, EXPECTED)
    source = toy_source(
        server.url("/toy.tar.gz"),
        archive_sha256=hashlib.sha256(ARCHIVE).hexdigest(),
        content_sha256=None,
    )
    assert fetch(source, tmp_path) is Outcome.KEPT_UNVERIFIED
    assert server.requests == []


def test_sources_resolve_through_the_loaders() -> None:
    assert dl.sources_for("movies") == [("movies", dl.SOURCES["movies-eraser"])]
    assert [name for name, _ in dl.sources_for("all")] == [
        "fever",
        "hatexplain",
        "movies",
        "movies-zaidan",
    ]
    with pytest.raises(RationalizerError, match="nothing to download for 'synthetic'"):
        dl.sources_for("synthetic")
    with pytest.raises(UnknownNameError):
        dl.sources_for("imdb")


def test_every_dataset_folder_has_exactly_one_source() -> None:
    folders = {loader_class(name).folder for name in available_datasets()} - {None}
    assert folders == set(dl.SOURCES)
    for source in dl.SOURCES.values():
        assert source.url.startswith("https://")
        assert (source.archive_sha256 is None) == (source.archive_size is None)


def _name_of(folder: str) -> str:
    return next(n for n in available_datasets() if loader_class(n).folder == folder)


@pytest.mark.parametrize(
    "folder", [f for f, s in dl.SOURCES.items() if s.content_sha256 is not None]
)
def test_pinned_content_digests_match_the_data_directory(folder: str, dataset_root) -> None:
    """CI has the data: every content pin must equal the digest of the folder it checks."""
    assert content_digest(dataset_root(_name_of(folder))) == dl.SOURCES[folder].content_sha256


runner = CliRunner()


def test_cli_downloads_then_lists_the_dataset_as_downloaded(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes["/toy.tar.gz"] = Route(ARCHIVE)
    monkeypatch.setitem(
        dl.SOURCES, "fever-eraser", toy_source(server.url("/toy.tar.gz"), folder="fever-eraser")
    )
    args = ["data", "download", "fever", "--data-dir", str(tmp_path)]
    result = runner.invoke(app, args, catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert f"fever: downloaded and verified into {tmp_path / 'fever-eraser'}" in result.stdout
    assert installed(tmp_path / "fever-eraser") == EXPECTED
    result = runner.invoke(app, args, catch_exceptions=False, env={"COLUMNS": "200"})
    assert "already in" in result.stdout and result.exit_code == 0

    monkeypatch.setattr(cli_common.console, "width", 250)  # one table row per line
    listing = runner.invoke(app, ["data", "list", "--data-dir", str(tmp_path)])
    rows = {line.split("│")[1].strip(): line for line in listing.stdout.splitlines() if "│" in line}
    assert "downloaded" in rows["fever"]
    assert "missing: rationalizer data download hatexplain" in rows["hatexplain"]


def test_cli_failure_is_one_line_and_exit_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = closed_port_url()
    monkeypatch.setitem(dl.SOURCES, "fever-eraser", toy_source(url, folder="fever-eraser"))
    result = runner.invoke(
        app, ["data", "download", "fever", "--data-dir", str(tmp_path)], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: could not download fever from {url}: ")
    assert "Traceback" not in result.output and not (tmp_path / "fever-eraser").exists()
