"""The README's Python examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})
    assert "n_labeled=50" in capsys.readouterr().out
    assert (tmp_path / "labels.npz").exists()


def test_readme_opens_with_the_two_commands():
    lines = [
        ln.strip()
        for ln in README.read_text().splitlines()[:12]
        if ln.startswith("    ")
    ]
    assert lines[:2] == ["bash scripts/main.sh", "bash scripts/test.sh"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
