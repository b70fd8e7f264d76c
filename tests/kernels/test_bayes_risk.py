"""The BAIT paper's Bayesian linear-regression result, small version (benchmarks/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bayes_risk.py"


def test_bait_ties_logdet_on_gaussian_and_wins_on_the_basis():
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = json.loads(res.stdout)
    gauss, basis = out["gaussian"], out["basis"]
    ratio_a = np.array(gauss["logdet"]) / np.array(gauss["bait"])
    ratio_b = np.array(basis["logdet"]) / np.array(basis["bait"])
    assert (np.abs(ratio_a - 1) < 0.05).all(), ratio_a  # a tie
    assert (ratio_b[:2] > 1.5).all(), ratio_b  # BAIT clearly lower
    assert (np.array(basis["bait"]) < np.array(basis["random"])).all()


def test_exact_bayes_risk_matches_monte_carlo():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import bayes_risk as br
    finally:
        sys.path.pop(0)
    rng = np.random.default_rng(0)
    x = br.make_pool("gaussian", 300, rng)
    chosen = rng.choice(300, size=40, replace=False)
    sigma_pool = x.T @ x / len(x)
    xs = x[chosen]
    errs = []
    for _ in range(3000):
        theta = rng.normal(size=br.D) / np.sqrt(br.LAM)
        y = xs @ theta + br.SIGMA * rng.normal(size=len(xs))
        a = xs.T @ xs + br.LAM * br.SIGMA**2 * np.eye(br.D)
        est = np.linalg.solve(a, xs.T @ y)
        errs.append((est - theta) @ sigma_pool @ (est - theta))
    assert abs(np.mean(errs) - br.bayes_risk(x, chosen)) < 0.05 * br.bayes_risk(
        x, chosen
    )
