"""The active-learning loop: ask/tell learner, oracles, simulations and results."""

from labelwise.loop.experiment import (
    RunConfig,
    initial_indices,
    run_simulation,
)
from labelwise.loop.learner import ActiveLearner
from labelwise.loop.oracle import HumanOracle, Oracle, SimulatedOracle
from labelwise.loop.report import (
    auc_table,
    curve_table,
    format_auc_table,
    plot_learning_curves,
)
from labelwise.loop.stopping import StopMonitor, StoppingCriteria, changed_share
from labelwise.loop.store import ResultStore, run_id

__all__ = [
    "ActiveLearner",
    "HumanOracle",
    "Oracle",
    "ResultStore",
    "RunConfig",
    "SimulatedOracle",
    "StopMonitor",
    "StoppingCriteria",
    "auc_table",
    "changed_share",
    "curve_table",
    "format_auc_table",
    "initial_indices",
    "plot_learning_curves",
    "run_id",
    "run_simulation",
]
