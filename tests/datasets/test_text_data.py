"""Text datasets: the ARFF reader on hand-written snippets, packing, Reuters."""

from __future__ import annotations

import dataclasses
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

import labelwise.datasets as ds
from labelwise.datasets import _fetch, registry
from labelwise.datasets._fetch import DebSource, sha256_file
from labelwise.datasets.parsers import (
    _parse_reuters,
    content_hash,
    pack_texts,
    read_arff,
    unpack_texts,
)
from labelwise.exceptions import InvalidParameterError

HEAD = "@relation r\n@attribute Text string\n@attribute class {0,1}\n@data\n"


def test_arff_quotes_escapes_and_commas_inside_strings():
    text = HEAD + (
        "'plain',0\n"
        "'a, b, c',1\n"
        '"double \\"quoted\\", with \'single\' inside",0\n'
        "'it\\'s\\nnew line\\ttab \\\\ backslash \\% percent',1\n"
        "'unknown \\q escape',0\n"
        "  'spaces around' ,  1  \n"
        "unquoted,0\n"
        "?,?\n"
    )
    attrs, rows = read_arff(text)
    assert attrs == [("Text", "string"), ("class", "{0,1}")]
    assert rows == [
        ["plain", "0"],
        ["a, b, c", "1"],
        ["double \"quoted\", with 'single' inside", "0"],
        ["it's\nnew line\ttab \\ backslash % percent", "1"],
        ["unknown \\q escape", "0"],
        ["spaces around", "1"],
        ["unquoted", "0"],
        [None, None],
    ]


def test_arff_comments_case_and_quoted_attribute_names():
    text = (
        "% a comment\n@RELATION 'my set'\n\n@ATTRIBUTE 'the text' STRING\n"
        "@Attribute label {x,y}\n% another\n@DATA\n'',x\n'%not a comment',y\n"
    )
    attrs, rows = read_arff(text)
    assert attrs == [("the text", "STRING"), ("label", "{x,y}")]
    assert rows == [["", "x"], ["%not a comment", "y"]]


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("'never closed,0\n", "line 5: the value quoted with ' at column 1 is never"),
        ("'one value'\n", "line 5: 1 values for 2 attributes"),
        ("'a',0,1\n", "line 5: 3 values for 2 attributes"),
        ("'a'x,0\n", "line 5: expected a comma at column 4"),
        ("{0 'a', 1 1}\n", "line 5: sparse instances"),
        ("'a',\n", "line 5: a value is missing"),
    ],
)
def test_arff_errors_name_the_line(body, match):
    with pytest.raises(InvalidParameterError, match=match):
        read_arff(HEAD + body)


def test_arff_without_data_or_with_a_bad_attribute():
    with pytest.raises(InvalidParameterError, match="no @data section"):
        read_arff("@relation r\n@attribute a string\n")
    with pytest.raises(InvalidParameterError, match="needs a name and a type"):
        read_arff("@relation r\n@attribute lonely\n@data\n")


def test_pack_texts_round_trip():
    texts = ["", "héllo wörld", "multi\nline", "", "日本語"]
    packed = pack_texts(texts)
    assert packed.dtype == np.uint8 and packed.ndim == 1
    assert unpack_texts(packed, len(texts)) == texts
    assert unpack_texts(pack_texts([]), 0) == []
    with pytest.raises(InvalidParameterError, match="hold 5 texts, expected 4"):
        unpack_texts(packed, 4)


def _arff(rows: list[tuple[str, int]]) -> bytes:
    body = "".join(f"'{t}',{y}\n" for t, y in rows)
    head = "@relation 'Reuters'\n\n@attribute Text string\n@attribute class-att {0,1}\n"
    return (head + "\n@data\n\n" + body).encode()


TRAIN = [
    ("CORN CROP UP The corn crop\\nrose &lt;AGR> sharply.\\n Reuter\\n&#3;", 1),
    ("BANK RATES Banks raised rates\\n Reuter\\n&#3;", 0),
    ("WHEAT \\'GOOD\\' Wheat, corn and oats\\n&#3;", 1),
    ("OIL PRICES Oil fell\\n&#3;", 0),
]
TEST = [("CORN EXPORTS Corn exports grew\\n&#3;", 1), ("STOCKS Stocks fell\\n&#3;", 0)]


def _fake_weka(tmp_path: Path) -> Path:
    files = {
        f"./usr/share/doc/weka/examples/Reuters{t}-{p}.arff": _arff(rows)
        for t in ("Corn", "Grain")
        for p, rows in (("train", TRAIN), ("test", TEST))
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    deb = tmp_path / "weka_3.6.14-3_all.deb"
    with open(deb, "wb") as fh:
        fh.write(b"!<arch>\n")
        for name, data in (
            ("debian-binary", b"2.0\n"),
            ("data.tar.xz", buf.getvalue()),
        ):
            fh.write(
                f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
            )
            fh.write(data + (b"\n" if len(data) % 2 else b""))
    return deb


def test_reuters_through_the_debian_source_machinery(tmp_path, monkeypatch):
    """A fake weka .deb served by a fake apt-get: fetched, verified, parsed, cached."""
    deb = _fake_weka(tmp_path)

    def fake_apt(args, cwd, lists):
        if args[0] == "download":
            assert args[1] == "weka=3.6.14-3"
            (cwd / deb.name).write_bytes(deb.read_bytes())
        return _fetch.subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(_fetch, "_apt", fake_apt)
    real = registry._SPECS["reuters-corn"]
    source = dataclasses.replace(real.sources[0], sha256=sha256_file(deb))
    assert isinstance(source, DebSource)
    members = {m: tmp_path / Path(m).name for m in source.members}
    for m, path in members.items():
        path.write_bytes(_arff(TRAIN if "train" in m else TEST))
    expected = content_hash(_parse_reuters(members, "Corn"))
    monkeypatch.setitem(
        registry._SPECS,
        "reuters-corn",
        dataclasses.replace(real, sources=(source,), content_sha256=expected),
    )
    root = tmp_path / "cache"
    d = ds.load("reuters-corn", root=root)
    assert d.classes == ["other", "corn"]
    assert d.y_train.tolist() == [1, 0, 1, 0] and d.y_test.tolist() == [1, 0]
    assert (
        d.texts_train[0] == "CORN CROP UP The corn crop\nrose <AGR> sharply.\n Reuter"
    )
    assert d.texts_train[2] == "WHEAT 'GOOD' Wheat, corn and oats"
    assert d.X_train.dtype == np.float32 and d.X_train.shape[0] == 4
    assert d.X_test.shape == (2, d.X_train.shape[1])
    np.testing.assert_allclose(np.linalg.norm(d.X_train, axis=1), 1.0, atol=1e-6)
    # only the verified cache stays behind; a second load reads it
    assert {p.name for p in (root / "reuters-corn").iterdir()} == {"raw.npz", ".lock"}
    again = ds.load("reuters-corn", root=root, pool_size=2)
    assert len(again.texts_train) == 2 and again.X_train.shape[0] == 2


def test_text_datasets_are_registered_and_refuse_numeric_wrappers():
    names = ds.available_datasets()
    assert {"reuters-corn", "reuters-grain"} <= set(names)
    assert ds.is_text("reuters-grain") and not ds.is_text("digits")
    assert not ds.is_regression("reuters-corn")
    with pytest.raises(InvalidParameterError, match="text dataset; the noise"):
        ds.check_name("reuters-corn:noisy-blank")
    with pytest.raises(InvalidParameterError, match="text dataset; the imbalance"):
        ds.check_name("reuters-grain:imbalanced")


def test_real_registry_fetch_reuters():
    """Fetches Debian's weka 3.6.14-3 from the registry (CI reaches it)."""
    from typer.testing import CliRunner

    from labelwise.cli import app as cli

    res = CliRunner().invoke(cli, ["datasets", "--fetch", "reuters-corn"])
    assert res.exit_code == 0, res.output
    assert "reuters-corn: ok, train 1554 texts, test 604" in res.output
    d = ds.load("reuters-corn")
    assert d.X_train.shape == (1554, 2000) and d.X_test.shape == (604, 2000)
    assert int(d.y_train.sum()) == 45 and int(d.y_test.sum()) == 24
    assert len(d.texts_train) == 1554 and not any("&#3;" in t for t in d.texts_train)
    g = ds.load("reuters-grain")
    assert g.texts_train == d.texts_train and int(g.y_train.sum()) == 103
