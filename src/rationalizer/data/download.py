"""Download the datasets from pinned sources, verify them, and install them atomically.

Every dataset folder the loaders read (``DatasetLoader.folder``) has one pinned :class:`Source`
in :data:`SOURCES`. What is pinned depends on who makes the archive:

- **ERASER** publishes a fixed file, so its bytes are pinned: size and sha256 of the archive,
  checked before anything is extracted.
- **GitHub** generates ``codeload.github.com`` archives on the fly; their bytes are not
  promised to stay the same, so the *content* is pinned instead (:func:`content_digest` of
  the dataset folder the archive yields), checked after extraction and before the folder is
  moved into place. The commit pins what the content should be.

A download streams into ``DATA_DIR/.downloads/<folder>.tar.gz.part`` and resumes with an HTTP
``Range`` request (guarded by ``If-Range`` when the server gave a validator); a server that
ignores the range is read again from the start. The archive is extracted with ``tarfile``'s
``"data"`` filter (Python 3.11.4+) into a temporary folder inside the data directory, only the
mapped members are kept, and the verified folder is renamed into place with a marker file
(:data:`MARKER`) recording where it came from. A failed download keeps its ``.part`` file for
the next attempt; a download that fails verification is deleted; a half-built dataset folder
never appears.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import unicodedata
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from rationalizer.data.registry import available_datasets, loader_class
from rationalizer.errors import DataFormatError, RationalizerError
from rationalizer.files import read_json, write_json
from rationalizer.provenance import file_digest

#: written into an installed dataset folder; hidden, so not part of its content digest
MARKER = ".rationalizer-download.json"
#: where archives are downloaded to, inside the data directory
DOWNLOADS = ".downloads"
TIMEOUT_S = 30.0
CHUNK_BYTES = 1 << 16
USER_AGENT = "rationalizer-dataset-downloader"


class DownloadError(RationalizerError):
    """A dataset could not be downloaded (network, HTTP); a partial download is kept."""


class IntegrityError(DownloadError):
    """The downloaded bytes are not the pinned ones (checksum, size, content, unsafe archive)."""


class ExistingFolderError(DownloadError):
    """The dataset folder exists and does not match the pin; ``force`` replaces it."""


@dataclass(frozen=True)
class Source:
    """Where one dataset folder comes from and what it must look like.

    ``members`` maps archive paths to paths inside the dataset folder; a path ending in ``/``
    maps a whole folder, anything else one file. Every entry must match something.
    """

    folder: str
    url: str
    members: tuple[tuple[str, str], ...]
    #: bytes to download, for display; exact when ``archive_size`` is pinned, else estimated
    download_size: int
    archive_sha256: str | None = None
    archive_size: int | None = None
    content_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.archive_sha256 is None and self.content_sha256 is None:
            raise ValueError(f"source of {self.folder!r} pins neither archive nor content")


def _github(
    repository: str,
    commit: str,
    members: tuple[tuple[str, str], ...],
    *,
    folder: str,
    content_sha256: str,
    download_size: int,
) -> Source:
    """A folder taken from a GitHub repository at a fixed commit (whole-repo archive)."""
    top = f"{repository.split('/')[1]}-{commit}/"
    return Source(
        folder=folder,
        url=f"https://codeload.github.com/{repository}/tar.gz/{commit}",
        members=tuple((top + src, dst) for src, dst in members),
        download_size=download_size,
        content_sha256=content_sha256,
    )


_HATEXPLAIN_DATA_FILES = (
    "post_id_division_split1_seed_1234.json",
    "post_id_division_split2_seed_12345.json",
    "post_id_divisions.json",
    "test_split1.json",
    "test_split1.jsonl",
    "test_split2.json",
    "test_split2.jsonl",
    "test_split3.json",
    "test_split3.jsonl",
    "val_split1.json",
    "val_split2.json",
    "val_split3.json",
)
_FEVER = "rr/base/explainable_qa/data/fever/"

# Content digests were computed from copies whose every file has the git blob id of the
# pinned commit; download sizes of GitHub archives are estimates (the repositories hold more
# than the dataset, and the archive is generated on request).
SOURCES: dict[str, Source] = {
    source.folder: source
    for source in (
        Source(
            folder="movies-eraser",
            url="https://www.eraserbenchmark.com/zipped/movies.tar.gz",
            members=(
                ("movies/docs/", "docs/"),
                ("movies/train.jsonl", "train.jsonl"),
                ("movies/val.jsonl", "val.jsonl"),
                ("movies/test.jsonl", "test.jsonl"),
            ),
            download_size=3_899_487,
            # Recorded by Hugging Face's `datasets` (datasets/movie_rationales/
            # dataset_infos.json, download_checksums); ERASER publishes no digest itself.
            archive_sha256="66e18d4e6c9df9e9f5544572b0bfe92a39673f74ecbfc3859b46cedb2f5b2dee",
            archive_size=3_899_487,
        ),
        _github(
            "yezhang-xiaofan/Rationale-CNN",
            "724f528851df593e239436a6d582f5b790397318",
            (("movies/", ""),),
            folder="movies-zaidan",
            content_sha256="dfad2b71a7f937e8b28dafc3adb08bb2147718001dd7fc509617a007b79667b6",
            download_size=6_200_000,
        ),
        _github(
            "ritwikmishra/hateXplain-metrics-calculation",
            "fd87b0314c202b5998b1fe540f458d09a3995f25",
            (
                ("Model_Eval/docs/", "docs/"),
                ("Model_Eval/val.jsonl", "val.jsonl"),
                ("Model_Eval/test.jsonl", "test.jsonl"),
                *((f"data/{name}", f"data/{name}") for name in _HATEXPLAIN_DATA_FILES),
            ),
            folder="hatexplain-eraser",
            content_sha256="7fde8e58f823361ec9834571e113cc0752ecd1ec2289b58f35b5d7175cda4422",
            download_size=10_000_000,
        ),
        _github(
            "princeton-nlp/rationale-robustness",
            "1093548d70927bb8728c6183ae3124c3ebb30aeb",
            (
                (f"{_FEVER}val.jsonl", "val.jsonl"),
                (f"{_FEVER}test.jsonl", "test.jsonl"),
                (f"{_FEVER}docs/", "docs/"),
            ),
            folder="fever-eraser",
            content_sha256="3326474d695473361641d2547835d0d2c47c28b66b143969de72346be9d3c541",
            download_size=21_000_000,
        ),
    )
}


class Outcome(StrEnum):
    """What :func:`download_source` did."""

    DOWNLOADED = "downloaded"
    #: the folder was already there and matches its pin (or its marker): nothing to do
    VERIFIED = "verified"
    #: the folder was placed by hand and its source pins only archive bytes: kept unchecked
    KEPT_UNVERIFIED = "kept-unverified"


class State(StrEnum):
    """What :func:`folder_state` finds, cheaply (no hashing), for listings."""

    DOWNLOADED = "downloaded"
    PRESENT = "present"
    MISSING = "missing"


def content_digest(folder: Path) -> str:
    """sha256 over the sorted lines ``"<relative path>\\t<sha256 of file>\\n"`` of ``folder``.

    Paths use ``/`` and NFC; names starting with a dot (the marker, ``.DS_Store``) are not
    dataset files and are skipped. Independent of archive format, compression and file dates.
    """
    lines = []
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            path = Path(directory, name)
            relative = unicodedata.normalize("NFC", path.relative_to(folder).as_posix())
            lines.append(f"{relative}\t{file_digest(path)}\n")
    return hashlib.sha256("".join(sorted(lines)).encode("utf-8")).hexdigest()


def downloadable() -> dict[str, Source]:
    """Dataset name → source, for every registered dataset whose folder has one."""
    folders = {name: loader_class(name).folder for name in available_datasets()}
    return {name: SOURCES[f] for name, f in folders.items() if f in SOURCES}


def sources_for(name: str) -> list[tuple[str, Source]]:
    """``(dataset name, source)`` pairs to download for NAME, or for every source with ``all``."""
    by_name = downloadable()
    if name == "all":
        return sorted(by_name.items())
    loader_class(name)  # an unknown name gets the registry's error, listing every dataset
    if name not in by_name:
        raise RationalizerError(
            f"nothing to download for {name!r} (generated, or read from your own files); "
            f"downloadable: {', '.join(sorted(by_name))}, or all"
        )
    return [(name, by_name[name])]


def folder_state(source: Source, data_dir: Path) -> State:
    """Downloaded (marker matches the pin), present (any other folder) or missing."""
    target = data_dir / source.folder
    if not target.is_dir():
        return State.MISSING
    marker = _read_marker(target)
    return State.DOWNLOADED if marker and _marker_matches(marker, source) else State.PRESENT


def download_source(
    source: Source,
    data_dir: Path,
    *,
    label: str | None = None,
    force: bool = False,
    progress: bool = True,
    console: Console | None = None,
) -> Outcome:
    """Make ``data_dir/source.folder`` hold the pinned dataset, downloading only if needed.

    ``label`` names the dataset in messages (default: the folder). Without ``force`` an
    existing folder is checked, never replaced: :class:`ExistingFolderError` when it does not
    match. Network failures raise :class:`DownloadError` (the partial file is kept for resume),
    verification failures :class:`IntegrityError` (the bad download is deleted).
    """
    label = label or source.folder
    target = data_dir / source.folder
    if target.exists() and not force:
        return _check_existing(source, target, label)
    data_dir.mkdir(parents=True, exist_ok=True)
    console = console or Console(stderr=True)
    archive = _fetch(source, data_dir, label, progress, console)
    status = console.status(f"{label}: verifying and installing")
    with status if progress else contextlib.nullcontext():
        archive_sha256 = _verify_archive(source, archive, label)
        _install(source, archive, archive_sha256, target, label)
    _discard(archive)
    return Outcome.DOWNLOADED


def _check_existing(source: Source, target: Path, label: str) -> Outcome:
    replace = "run again with --force to replace it"
    marker = _read_marker(target)
    if marker is not None:
        if not _marker_matches(marker, source):
            raise ExistingFolderError(
                f"{label}: {target} was downloaded from {marker.get('url')}, not from the "
                f"pinned source {source.url}; {replace}"
            )
        actual = content_digest(target)
        if actual != marker.get("content_sha256"):
            raise ExistingFolderError(
                f"{label}: files in {target} changed after download (content sha256 {actual}, "
                f"recorded {marker.get('content_sha256')}); {replace}"
            )
        return Outcome.VERIFIED
    if source.content_sha256 is None:
        return Outcome.KEPT_UNVERIFIED
    actual = content_digest(target)
    if actual != source.content_sha256:
        raise ExistingFolderError(
            f"{label}: {target} exists but its content sha256 is {actual}, not the pinned "
            f"{source.content_sha256}; {replace}"
        )
    return Outcome.VERIFIED


def _read_marker(target: Path) -> dict | None:
    """The marker of a downloaded folder; None without a readable one (then the folder is
    checked against the pinned digest instead)."""
    try:
        return read_json(target / MARKER, "download")
    except DataFormatError:
        return None


def _marker_matches(marker: dict, source: Source) -> bool:
    return (
        marker.get("url") == source.url
        and source.archive_sha256 in (None, marker.get("archive_sha256"))
        and source.content_sha256 in (None, marker.get("content_sha256"))
    )


def _archive_path(source: Source, data_dir: Path) -> Path:
    return data_dir / DOWNLOADS / f"{source.folder}.tar.gz"


def _companions(archive: Path) -> tuple[Path, Path]:
    """The ``.part`` file while downloading, and the sidecar recording url and validator."""
    return archive.with_name(archive.name + ".part"), archive.with_name(archive.name + ".json")


def _discard(archive: Path) -> None:
    for path in (archive, *_companions(archive)):
        path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # other downloads are still there
        archive.parent.rmdir()


def _fetch(source: Source, data_dir: Path, label: str, progress: bool, console: Console) -> Path:
    """The complete archive: reused, resumed or downloaded from the start."""
    archive = _archive_path(source, data_dir)
    part, sidecar = _companions(archive)
    saved: dict = {}
    with contextlib.suppress(DataFormatError):
        saved = read_json(sidecar, "download-progress")
    if saved.get("url") != source.url:  # left by another source, or by nothing: start afresh
        for path in (archive, part):
            path.unlink(missing_ok=True)
    if archive.is_file():  # complete, but an earlier run stopped before installing it
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    # A second attempt only follows a refused range, and starts from zero.
    for _ in range(2):
        offset = part.stat().st_size if part.is_file() else 0
        try:
            response = _open(source.url, offset, saved.get("validator") if offset else None)
        except urllib.error.HTTPError as error:
            if error.code == 416 and offset:  # nothing left to send from there
                if offset == source.archive_size:
                    part.replace(archive)
                    return archive
                part.unlink()
                continue
            raise DownloadError(
                f"could not download {label} from {source.url}: HTTP {error.code} "
                f"{error.reason}{_kept(part)}"
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise DownloadError(
                f"could not download {label} from {source.url}: {_reason(error)}{_kept(part)}"
            ) from None
        with response:
            if response.status == 206 and _range_start(response) != offset:
                part.unlink(missing_ok=True)
                continue
            if response.status != 206:
                offset = 0  # the server ignored the range (or, per If-Range, the file changed)
            _stream(response, source, part, sidecar, offset, label, progress, console)
        part.replace(archive)
        return archive
    raise DownloadError(
        f"could not download {label} from {source.url}: the server kept refusing the range"
    )


def _open(url: str, offset: int, validator: str | None) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator:
            headers["If-Range"] = validator
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)


def _stream(
    response: http.client.HTTPResponse,
    source: Source,
    part: Path,
    sidecar: Path,
    offset: int,
    label: str,
    progress: bool,
    console: Console,
) -> None:
    """Write the body to ``part`` from ``offset``, with a progress bar; detect a short body."""
    length = response.headers.get("Content-Length", "")
    expected = offset + int(length) if length.isdigit() else None
    etag = response.headers.get("ETag", "")
    # If-Range takes a strong ETag or a date; without either, resume on Range alone.
    strong = etag and not etag.startswith("W/")
    validator = etag if strong else response.headers.get("Last-Modified")
    write_json(sidecar, "download-progress", {"url": source.url, "validator": validator})
    columns = (
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    received = offset
    with (
        part.open("ab" if offset else "wb") as out,
        Progress(
            *columns,
            console=console,
            transient=True,
            disable=not progress,
        ) as bar,
    ):
        task = bar.add_task("download", total=expected or source.archive_size, completed=offset)
        try:
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                received += len(chunk)
                bar.update(task, completed=received)
        except (OSError, http.client.HTTPException) as error:
            failure: str | None = _reason(error)
        else:
            failure = None if expected is None or received >= expected else "connection closed"
    if failure is not None:
        of = f" of {expected:,}" if expected is not None else ""
        raise DownloadError(
            f"download of {label} from {source.url} broke off after {received:,}{of} bytes "
            f"({failure}){_kept(part)}"
        )


def _range_start(response: http.client.HTTPResponse) -> int | None:
    content_range = response.headers.get("Content-Range", "")  # "bytes 100-999/1000"
    try:
        return int(content_range.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    return str(reason) or type(reason).__name__


def _kept(part: Path) -> str:
    if part.is_file() and part.stat().st_size:
        return f" (kept {part.stat().st_size:,} bytes in {part}; run the command again to resume)"
    part.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # leave no empty .downloads behind
        part.parent.rmdir()
    return ""


def _verify_archive(source: Source, archive: Path, label: str) -> str:
    """The archive's sha256, after checking the pinned size and sha256 (if any)."""
    size = archive.stat().st_size
    if source.archive_size is not None and size != source.archive_size:
        _discard(archive)
        raise IntegrityError(
            f"{label}: the archive from {source.url} has {size:,} bytes, expected "
            f"{source.archive_size:,}; deleted it, run the command again"
        )
    actual = file_digest(archive)
    if source.archive_sha256 is not None and actual != source.archive_sha256:
        _discard(archive)
        raise IntegrityError(
            f"{label}: the archive from {source.url} has sha256 {actual}, expected "
            f"{source.archive_sha256}; deleted it, run the command again"
        )
    return actual


def _install(source: Source, archive: Path, archive_sha256: str, target: Path, label: str) -> None:
    """Extract into a temporary folder, verify, write the marker, and rename into place."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{source.folder}.", dir=target.parent))
    try:
        staging = scratch / source.folder
        _extract(source, archive, staging, label)
        digest = content_digest(staging)
        if source.content_sha256 is not None and digest != source.content_sha256:
            raise IntegrityError(
                f"{label}: the files from {source.url} have content sha256 {digest}, expected "
                f"{source.content_sha256}; deleted the download, nothing was installed"
            )
        marker = {
            "folder": source.folder,
            "url": source.url,
            "archive_sha256": archive_sha256,
            "content_sha256": digest,
            "downloaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_json(staging / MARKER, "download", marker)
        if target.exists():  # --force: move the old folder aside, to be deleted with scratch
            old = scratch / "replaced"
            target.replace(old)
            try:
                staging.replace(target)
            except OSError:
                old.replace(target)
                raise
        else:
            staging.replace(target)
    except IntegrityError:
        _discard(archive)  # the download is bad: the next attempt starts afresh
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _extract(source: Source, archive: Path, staging: Path, label: str) -> None:
    """Extract the mapped members into ``staging``; refuse unsafe or incomplete archives."""
    matched = dict.fromkeys((src for src, _ in source.members), False)
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                name = _safe_name(member, source, label)
                if member.isdir():
                    continue
                destination = _map(source, name, matched)
                if destination is None or any(p.startswith(".") for p in destination.split("/")):
                    continue
                tar.extract(member.replace(name=destination), staging, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise IntegrityError(
            f"{label}: the archive from {source.url} is not a valid tar archive ({error}); "
            "deleted it, run the command again"
        ) from None
    missing = [src for src, found in matched.items() if not found]
    if missing:
        raise IntegrityError(
            f"{label}: the archive from {source.url} lacks {', '.join(missing)}; deleted it"
        )


def _safe_name(member: tarfile.TarInfo, source: Source, label: str) -> str:
    name = member.name.removeprefix("./")
    problem = None
    if name.startswith("/") or ".." in PurePosixPath(name).parts:
        problem = "points outside the archive"
    elif not (member.isfile() or member.isdir()):
        problem = "is a link or a special file"
    if problem:
        raise IntegrityError(
            f"{label}: refused the archive from {source.url}: member {member.name!r} {problem}; "
            "deleted it"
        )
    return name


def _map(source: Source, name: str, matched: dict[str, bool]) -> str | None:
    """Where archive member ``name`` goes inside the dataset folder (None: not wanted)."""
    for src, dst in source.members:
        if src.endswith("/") and name.startswith(src):
            matched[src] = True
            return dst + name[len(src) :]
        if name == src:
            matched[src] = True
            return dst
    return None
