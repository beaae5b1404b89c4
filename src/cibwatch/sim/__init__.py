"""A simulated social platform with planted influence operations and known ground truth.

>>> from cibwatch.sim import simulate, scorecard   # doctest: +SKIP
>>> simulate("demo", out="sim/demo", seed=1)        # posts/*.jsonl, truth_*.csv
>>> scorecard("sim/demo", {"1234", "5678"}).table   # precision, recall, per tactic and trap
"""

from cibwatch.sim.plan import TACTICS, Context, tactic
from cibwatch.sim.run import SimReport, simulate
from cibwatch.sim.scenarios import SCENARIOS, Scenario, get_scenario
from cibwatch.sim.scorecard import Scorecard, render_scorecard, scorecard

__all__ = [
    "SCENARIOS",
    "TACTICS",
    "Context",
    "Scenario",
    "Scorecard",
    "SimReport",
    "get_scenario",
    "render_scorecard",
    "scorecard",
    "simulate",
    "tactic",
]
