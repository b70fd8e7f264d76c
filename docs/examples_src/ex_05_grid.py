"""
A benchmark grid
================

A grid compares strategies over datasets and seeds, stores every round in SQLite,
resumes when run again, and reports with statistics. This one is tiny: logistic
regression on digits, three strategies, two seeds.
"""

import tempfile

from labelwise.bench import parse_grid, run_grid
from labelwise import ResultStore
from labelwise.bench.stats import final_table

grid = parse_grid(
    {
        "name": "docs-example",
        "datasets": ["digits"],
        "models": ["logreg"],
        "strategies": ["random", "entropy", "badge"],
        "settings": {"initial": 20, "batch_size": 20, "rounds": 3, "seeds": 2},
    }
)
out = tempfile.mkdtemp()
print(run_grid(grid, out, progress=False))
print(run_grid(grid, out, progress=False))  # run again: everything is skipped
measurements = ResultStore(f"{out}/results.sqlite").measurements()
print(final_table(measurements).to_string(index=False))
