"""The package's dependency graph points one way.

kernels, scores, metrics, pool, features  <  models, strategies  <  loop  <  bench, app, cli;
datasets sits beside the loop and nothing below the loop imports it.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "labelwise"

RANK = {
    "_typing": 0,
    "_validation": 0,
    "_device": 0,
    "exceptions": 0,
    "scores": 1,
    "kernels": 1,
    "metrics": 1,
    "pool": 1,
    "features": 1,
    "models": 2,
    "strategies": 3,
    "testing": 4,
    "datasets": 4,
    "loop": 4,
    "bench": 5,
    "app": 5,
    "cli": 6,
    "__init__": 6,
}


def _room(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "labelwise" and len(parts) > 1:
                yield node.lineno, parts[1]


MODULES = sorted(PKG.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_imports_a_layer_above_it(path):
    room = _room(path)
    assert room in RANK, f"add {room!r} to RANK in {__file__}"
    upward = [
        f"line {line}: {room} imports {target}"
        for line, target in _imports(path)
        if target in RANK and RANK[target] > RANK[room]
    ]
    assert not upward, f"{path.relative_to(PKG)} imports upward: {upward}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_nothing_below_the_loop_imports_datasets(path):
    room = _room(path)
    if RANK.get(room, 9) >= RANK["loop"]:
        return
    hits = [line for line, target in _imports(path) if target == "datasets"]
    assert not hits, f"{path.relative_to(PKG)} imports labelwise.datasets at {hits}"


def test_the_command_line_starts_without_torch_or_scikit_learn():
    """``import labelwise`` is lazy: ``labelwise --help`` pays for neither."""
    code = (
        "import sys, labelwise, labelwise.cli; "
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_lazy_names_are_the_modules_own():
    import labelwise
    from labelwise import loop, strategies

    assert labelwise.get_strategy is strategies.get_strategy
    assert labelwise.ActiveLearner is loop.ActiveLearner
    assert labelwise.models.mlp is labelwise.mlp
    assert set(labelwise.__all__) <= set(dir(labelwise))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = labelwise.nope
