"""Co-actions carried from one detection to the next over a sliding window (``watch``).

A detection's co-actions per trace (``pi``: per account pair, item, episode and stratum, the
count of event pairs within the window, the closest pair and the first and last times) are kept
with the events they came from. The next detection over a moved window then computes only:

- the pairs that involve an event new to the window, joined against the window's events
  (``coaction_sql`` with ``left``), merged into the kept rows of their group (counts add, the
  closest pair is the closer of the two, times take the min and max);
- every pair of an item that lost an event (expired from the window, or newly capped as popular
  or in a burst): recomputed from the window's events of that item, since a count cannot be
  told which of its pairs left.

The result equals ``coaction_sql`` over the whole window, row for row (the tests compare every
detection with a batch ``detect``). Everything after the co-actions (the null model's activity
counts and rates, p-values, decisions, clusters) is recomputed from them as in a batch run.

State lives in a folder (``DIR/state-N``: per trace the window's events and its co-actions, as
Parquet, with the parameters they hold for), published by rewriting ``DIR/current.json``; state
made under other parameters (time resolution, window, strata) is not used.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from cibwatch.store import sql
from cibwatch.store.case import write_atomic

_POINTER = "current.json"


class CoactionState:
    """Co-actions kept between detections in ``folder`` (see the module doc).

    >>> state = CoactionState(case.root / "watch" / "coactions")  # doctest: +SKIP
    >>> detect(window_case, coactions=state)                        # doctest: +SKIP
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.previous: dict[str, Any] = {}
        self.stats: dict[str, dict[str, int]] = {}
        self._next: Path | None = None
        self._saved: dict[str, Any] = {}

    # -- a detection ---------------------------------------------------------------
    def begin(self) -> None:
        """Read what the last published detection kept."""
        pointer = self.folder / _POINTER
        self.previous = {}
        if pointer.exists():
            with_state = json.loads(pointer.read_text())
            base = self.folder / with_state["state"]
            if base.is_dir():
                self.previous = {"base": base, "traces": with_state["traces"]}
        self.stats = {}
        self._saved = {}
        self._next = self.folder / f"state-{uuid.uuid4().hex[:12]}"
        self._next.mkdir(parents=True)

    def coactions(self, con: Any, k: int, trace: str, params: dict[str, Any], sql_for: Any) -> None:
        """Create ``pi_{k}`` from ``evu_{k}`` (events by account and item code), reusing the kept
        co-actions when they were made under ``params``; ``sql_for(events, left=None)`` is the
        trace's ``coaction_sql``. Keeps the window's events and co-actions for the next detection."""
        assert self._next is not None, "call begin() first"
        # Kept by names (account, item, post id): this run's codes are not the next run's.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE cur_ev AS
                SELECT acc.account_id, it.item, e.t, pc.post_id, e.a, e.i, e.post_id AS c
                FROM evu_{k} e JOIN acc USING (a) JOIN items_{k} it USING (i)
                LEFT JOIN post_codes pc ON pc.c = e.post_id"""
        )
        kept = self.previous.get("traces", {}).get(trace)
        if kept is None or kept["params"] != params:
            con.execute(f"CREATE TABLE pi_{k} AS {sql_for(f'evu_{k}')}")
            n = con.execute("SELECT count(*) FROM cur_ev").fetchall()[0][0]
            self.stats[trace] = {"new_events": int(n), "recomputed_items": -1, "kept_rows": 0}
        else:
            self._update(con, k, self.previous["base"] / kept["dir"], sql_for)
            self.stats[trace] = dict(
                zip(
                    ("new_events", "recomputed_items", "kept_rows"),
                    (int(x) for x in con.execute(
                        "SELECT (SELECT count(*) FROM ev_new), (SELECT count(*) FROM dirty), "
                        "(SELECT count(*) FROM kept_pi)"
                    ).fetchall()[0]),
                    strict=True,
                )
            )  # fmt: skip
        self._save(con, k, trace, params)

    def publish(self) -> None:
        """Make this detection's state the one the next detection reads; drop older states."""
        if self._next is None:
            return
        pointer = {"state": self._next.name, "traces": self._saved}
        write_atomic(self.folder / _POINTER, json.dumps(pointer) + "\n")
        for old in self.folder.glob("state-*"):
            if old != self._next:
                shutil.rmtree(old, ignore_errors=True)
        self._next = None

    def abandon(self) -> None:
        if self._next is not None:
            shutil.rmtree(self._next, ignore_errors=True)
            self._next = None

    # -- the update ----------------------------------------------------------------
    def _update(self, con: Any, k: int, base: Path, sql_for: Any) -> None:
        events = sql.read_parquet([base / "events.parquet"])
        coactions = sql.read_parquet([base / "coactions.parquet"])
        same = "USING (account_id, item, t, post_id)"
        # Items that lost an event since: their co-actions are recomputed whole.
        con.execute(f"CREATE OR REPLACE TEMP TABLE dirty AS {_lost_items(events)}")
        con.execute(
            """CREATE OR REPLACE TEMP TABLE ev_clean AS SELECT c.* FROM cur_ev c
                ANTI JOIN dirty d ON d.item = c.item"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE ev_new AS SELECT c.a, c.i, c.t, c.c AS post_id FROM ev_clean c
                ANTI JOIN {events} p {same}"""
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE ev_old AS SELECT c.a, c.i, c.t, c.c AS post_id FROM ev_clean c
                SEMI JOIN {events} p {same}"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE ev_dirty AS SELECT c.a, c.i, c.t, c.c AS post_id FROM cur_ev c
               SEMI JOIN dirty d ON d.item = c.item"""
        )
        # Kept co-actions of clean items, back on this run's account, item and post codes.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE kept_pi AS
                SELECT xa.a AS a, xb.a AS b, it.i AS i, p.episode, p.stratum, p.n_co, p.gap,
                       p.first_t, p.last_t,
                       struct_pack(pa := qa.c, pb := qb.c, ta := p.ex.ta, tb := p.ex.tb) AS ex
                FROM {coactions} p ANTI JOIN dirty d ON d.item = p.item
                JOIN acc xa ON xa.account_id = p.account_a JOIN acc xb ON xb.account_id = p.account_b
                JOIN items_{k} it ON it.item = p.item
                LEFT JOIN post_codes qa ON qa.post_id = p.ex.pa
                LEFT JOIN post_codes qb ON qb.post_id = p.ex.pb"""
        )
        all_clean = "(SELECT a, i, t, c AS post_id FROM ev_clean)"
        new_first = sql_for(all_clean, left="ev_new")  # pairs whose account-a event is new
        old_first = sql_for("ev_new", left="ev_old")  # the others: account-a old, account-b new
        added = f"SELECT * FROM ({new_first}) UNION ALL SELECT * FROM ({old_first})"
        closest = "struct_pack(g := abs(ex.ta - ex.tb), pa := ex.pa, pb := ex.pb)"
        con.execute(
            f"""CREATE TABLE pi_{k} AS
                SELECT a, b, i, episode, stratum, sum(n_co)::BIGINT AS n_co, min(gap) AS gap,
                       min(first_t) AS first_t, max(last_t) AS last_t, min_by(ex, {closest}) AS ex
                FROM (SELECT * FROM kept_pi UNION ALL {added})
                GROUP BY a, b, i, episode, stratum
                UNION ALL SELECT * FROM ({sql_for("ev_dirty")})"""
        )

    def _save(self, con: Any, k: int, trace: str, params: dict[str, Any]) -> None:
        assert self._next is not None
        target = self._next / f"trace-{len(self._saved)}"
        target.mkdir()
        con.execute(
            "COPY (SELECT account_id, item, t, post_id FROM cur_ev) "
            f"TO {sql.literal(target / 'events.parquet')} (FORMAT parquet)"
        )
        con.execute(
            f"""COPY (SELECT xa.account_id AS account_a, xb.account_id AS account_b, it.item, p.episode,
                             p.stratum, p.n_co, p.gap, p.first_t, p.last_t,
                             struct_pack(pa := qa.post_id, pb := qb.post_id, ta := p.ex.ta, tb := p.ex.tb)
                                 AS ex
                      FROM pi_{k} p JOIN acc xa ON xa.a = p.a JOIN acc xb ON xb.a = p.b
                      JOIN items_{k} it ON it.i = p.i
                      LEFT JOIN post_codes qa ON qa.c = p.ex.pa LEFT JOIN post_codes qb ON qb.c = p.ex.pb)
                TO {sql.literal(target / "coactions.parquet")} (FORMAT parquet)"""
        )
        self._saved[trace] = {"dir": target.name, "params": params}


def _lost_items(events: str) -> str:
    """Items with an event in ``events`` (the last window's) that ``cur_ev`` (this one's) lacks."""
    return f"SELECT DISTINCT p.item FROM {events} p ANTI JOIN cur_ev c USING (account_id, item, t, post_id)"
