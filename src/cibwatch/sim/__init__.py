"""A simulated social platform with planted influence operations and known ground truth.

``simulate(scenario, out=DIR, seed=N)`` writes::

    DIR/posts/tweets-YYYYmmddTHH.jsonl   X API v2 pages as twarc2 writes them (data, includes.users,
                                         includes.tweets, meta, __twarc), or v1.1 tweets (format="v1")
    DIR/truth_accounts.csv               account_id, role, campaign_id, tactic, screen_name, n_posts
    DIR/truth_campaigns.csv              one row per operation or trap
    DIR/manifest.json                    scenario, seed, counts (no wall-clock values: same seed, same bytes)

Roles: ``organic``; ``organic-trap`` (organic, but in a trap that looks coordinated); and for
operations ``bot``, ``troll``, ``cyborg``, ``state-media``. Operations and traps are registered
functions (``@tactic(name)`` in ``tactics.py`` and ``traps.py``); a scenario lists which run.

>>> from cibwatch.sim import simulate, scorecard, render_scorecard
>>> report = simulate("demo", out="sim/demo", seed=1, accounts=300, days=1)
>>> print(render_scorecard(scorecard("sim/demo", flagged_accounts=[])).splitlines()[0])
precision n/a, recall 0.0%, F1 0.0%; 0/56 operation accounts flagged, 0/233 organic accounts flagged (0.0%)
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
