#!/usr/bin/env bash
# Set up (if needed), then run lint, strict type checks, doctests and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the labeling app's browser tests drive Debian's Chromium through Playwright
if ! command -v chromium > /dev/null; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
# the documentation site, strict: a broken link, a missing reference or a failing example fails
NO_MKDOCS_2_WARNING=1 MPLBACKEND=Agg .venv/bin/mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
# last, so that pytest's summary closes the output
.venv/bin/python -m pytest -n 2 --doctest-modules src/labelwise tests "$@"
