"""The repository speaks for itself: no page or docstring cites a file it lacks."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOREIGN = [
    "ALGORITHMS.md",
    "ALGORITHMS-DEEP.md",
    "PERFORMANCE.md",
    "DATASETS.md",
    "PEERS.md",
    "STYLE.md",
    "shared/docs",
    "shared/seeds",
    "the lecture",
    "seed 000",
    "seed 001",
    "seed 002",
    "seed 003",
    "seed 004",
]


def _files():
    yield ROOT / "README.md"
    yield ROOT / "mkdocs.yml"
    for folder, pattern in [
        ("src", "*.py"),
        ("benchmarks", "*.py"),
        ("benchmarks", "*.toml"),
        ("docs", "*.md"),
        ("docs/examples_src", "*.py"),
    ]:
        for path in sorted((ROOT / folder).rglob(pattern)):
            if "docs/examples/" not in path.as_posix():
                yield path


@pytest.mark.parametrize("needle", FOREIGN)
def test_no_reference_to_documents_outside_the_repository(needle):
    hits = [
        f"{path.relative_to(ROOT)}:{i}"
        for path in _files()
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if needle in line
    ]
    assert not hits, (
        f"{needle!r} is not part of this repository; cite the paper: {hits}"
    )


def test_docs_nav_lists_every_page():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [
        p.relative_to(ROOT / "docs").as_posix()
        for p in (ROOT / "docs").rglob("*.md")
        if not {"examples", "examples_src"} & set(p.parts)
    ]
    missing = [p for p in pages if p not in nav]
    assert not missing, f"pages not in mkdocs.yml's nav: {missing}"


def test_docs_image_links_exist():
    for page in (ROOT / "docs").rglob("*.md"):
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page.read_text()):
            assert (page.parent / target).resolve().exists(), f"{page}: {target}"


def test_api_reference_has_a_page_for_every_public_name():
    import labelwise

    pages = {p.stem for p in (ROOT / "docs" / "api").glob("*.md")}
    missing = []
    for name in labelwise.__all__:
        module = getattr(labelwise, name).__module__.split(".")
        if len(module) > 1 and module[1] not in pages:
            missing.append(f"{name} ({'.'.join(module)})")
    assert not missing, f"no docs/api page renders: {missing}"
