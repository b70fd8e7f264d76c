"""Benchmark harness: experiment grids, a resumable runner, statistics and reports."""

from labelwise.bench.config import ConfigError, GridConfig, load_grid, parse_grid
from labelwise.bench.report import build_report
from labelwise.bench.runner import execute_run, run_grid
from labelwise.bench.stats import (
    auc_ranks,
    checkpoints,
    penalty_matrix,
    random_comparison,
)

__all__ = [
    "ConfigError",
    "GridConfig",
    "auc_ranks",
    "build_report",
    "checkpoints",
    "execute_run",
    "load_grid",
    "parse_grid",
    "penalty_matrix",
    "random_comparison",
    "run_grid",
]
