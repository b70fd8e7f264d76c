"""Randomness is explicit: no global RNG calls anywhere in the package."""

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "labelwise"
FORBIDDEN = [
    r"np\.random\.(rand|randn|randint|random|choice|shuffle|permutation|seed|normal|uniform)\(",
    r"^\s*import random\b",
    r"torch\.(multinomial|randperm|rand|randn|randint)\((?!.*generator=)",
]


def test_no_global_rng_calls():
    hits = []
    for path in SRC.rglob("*.py"):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            for pattern in FORBIDDEN:
                if re.search(pattern, line):
                    hits.append(f"{path.relative_to(SRC)}:{lineno}: {line.strip()}")
    assert not hits, "global randomness:\n" + "\n".join(hits)
