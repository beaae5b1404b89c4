"""``detect``: co-action per trace in DuckDB, tested against chance, combined and clustered.

Per trace: events → integer-coded (account, item, time) → bursts on popular items capped → the bucketed
co-action join → per pair the distinct co-acted items, the number expected by chance, a p-value.
Then BH over every tested (pair, trace), flags, evidence, TF-IDF weights, Leiden clusters.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from cibwatch import schema
from cibwatch.coord import decide, network
from cibwatch.coord.choose import choose_traces
from cibwatch.coord.incremental import CoactionState
from cibwatch.coord.params import CoordParams
from cibwatch.coord.stats import benjamini_hochberg, conditional_poisson_p, support_chance, tfidf_cosine
from cibwatch.coord.traces import Prepare, Trace, get_traces, null_strata
from cibwatch.coord.window import coaction_sql, detect_resolution, estimate_window
from cibwatch.errors import ConfigError
from cibwatch.progress import Progress, ProgressEvent
from cibwatch.store import duck
from cibwatch.store.case import Case
from cibwatch.store.lake import Lake

FALLBACK_WINDOW = 60.0
EXCLUDE_Q = 0.01
SIGNIFICANCE_BATCH = 1_000_000  # tested pairs per batch
ITEM_PRIOR_PAIRS = 1_000_000.0  # event pairs of evidence an item's own rate needs (``_item_null``)
ITEM_OCCASION_MS = 86_400_000  # an item's own rate is its rate on the day (``_item_null``)


@dataclass
class CoordResult:
    """The four output tables (polars, in ``cibwatch.schema`` column order) and the run record."""

    edges: pl.DataFrame
    evidence: pl.DataFrame
    accounts: pl.DataFrame
    clusters: pl.DataFrame
    capped: pl.DataFrame
    run: dict[str, Any] = field(default_factory=dict)


def detect(
    case: Case | Lake,
    traces: list[str] | str | None = None,
    window: float | str | dict[str, float | str] | None = CoordParams.window,
    *,
    time_resolution: float | str = CoordParams.time_resolution,
    alpha: float = CoordParams.alpha,
    min_shared: int = CoordParams.min_shared,
    max_item_accounts: int = CoordParams.max_item_accounts,
    max_burst_accounts: int = CoordParams.max_burst_accounts,
    max_examples: int = CoordParams.max_examples,
    near_threshold: float = CoordParams.near_threshold,
    sync_bin: float = CoordParams.sync_bin,
    null_stratum: float = CoordParams.null_stratum,
    null_passes: int = CoordParams.null_passes,
    seed: int = CoordParams.seed,
    memory_limit: str = CoordParams.memory_limit,
    threads: int = CoordParams.threads,
    engine: str = CoordParams.engine,
    spark: Any = None,
    progress: Progress | None = None,
    coactions: CoactionState | None = None,
) -> CoordResult:
    """Find accounts that act together beyond chance in ``case``'s posts.

    ``engine``: "duckdb" (embedded, the default) or "spark": the same statements on ``spark`` (a
    SparkSession; None: the active one or a new local one), reading the case's Parquet directly.
    On Spark, ``case`` may also be a ``Lake`` (``store/lake.py``, from ``ingest --engine spark``).

    >>> result = detect(open_case("out/case"), traces=["repost", "url"], window=60)  # doctest: +SKIP
    >>> result.edges.filter(pl.col("q_value") < 1e-6)                                # doctest: +SKIP
    >>> detect(open_case("out/case"), engine="spark", spark=session)                 # doctest: +SKIP

    ``coactions``: co-actions kept from the previous detection over an overlapping window
    (``watch``; DuckDB only): only the new events' are computed (``coord.incremental``).
    """
    chosen = get_traces(traces)
    params = CoordParams(
        traces=[t.name for t in chosen],
        window=window,
        time_resolution=time_resolution,
        alpha=alpha,
        min_shared=min_shared,
        max_item_accounts=max_item_accounts,
        max_burst_accounts=max_burst_accounts,
        max_examples=max_examples,
        near_threshold=near_threshold,
        sync_bin=sync_bin,
        null_stratum=null_stratum,
        null_passes=null_passes,
        seed=seed,
        memory_limit=memory_limit,
        threads=threads,
        engine=engine,
    ).validate()
    started = time.perf_counter()
    # With the default traces, the posts pick what is added (coord/choose.py).
    choose = traces is None or traces == "default"
    if engine == "spark":
        if coactions is not None:
            raise ConfigError(
                "kept co-actions (coactions=) are computed on DuckDB only; leave engine='duckdb'"
            )
        from cibwatch.coord import spark as on_spark

        result = on_spark.detect_on_spark(case, chosen, params, progress, choose=choose, session=spark)
        result.run["seconds"] = round(time.perf_counter() - started, 3)
        return result
    if isinstance(case, Lake):
        raise ConfigError(f"The lake {case.root} is read by the Spark engine: pass engine='spark'.")
    # Spill beside the case (same disk as the data), or to the system's temp if it is read-only.
    spill_dir = case.root if os.access(case.root, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="coord-", dir=spill_dir) as tmp:
        con = connect(Path(tmp), memory_limit, threads)
        if coactions is not None:
            coactions.begin()
        try:
            result = _Run(con, case, chosen, params, progress, choose=choose, coactions=coactions).run()
        except BaseException:
            if coactions is not None:
                coactions.abandon()
            raise
        finally:
            con.close()
        if coactions is not None:
            coactions.publish()
            result.run["coactions_kept"] = coactions.stats
    result.run["seconds"] = round(time.perf_counter() - started, 3)
    return result


def connect(tmp: Path, memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to ``tmp``; never the case's own database file."""
    return duck.connect(
        temp_directory=tmp, memory_limit=memory_limit, threads=threads, preserve_insertion_order=False
    )


class _Run:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        case: Case,
        chosen: list[Trace],
        params: CoordParams,
        progress: Progress | None,
        *,
        choose: bool = False,
        coactions: CoactionState | None = None,
    ) -> None:
        self.con, self.case, self.chosen, self.params = con, case, chosen, params
        self.coactions = coactions
        self.progress = progress
        self.choose = choose  # True: the default traces, plus what the posts call for
        self.run_record: dict[str, Any] = {"params": params.as_dict(), "traces": {}}
        self.strata: dict[int, tuple[int, int]] = {}  # trace index → (stratum_ms, window_ms)
        self.recurring: dict[int, bool] = {}

    # Events carry a post's code (``post_codes``), not its id: the co-action join and the evidence
    # ranking then aggregate integers. Spark keeps the ids: one global ordering is one task.
    codes_posts = True

    def _source(self, table: str) -> str:
        """A ``FROM`` source over the case's ``table``."""
        return self.case.table_sql(table)

    def _step(self, step: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent("coord", step, done, total))

    def run(self) -> CoordResult:
        con, params = self.con, self.params
        if not self.case.has_table("posts"):
            return self._empty()
        posts = self._source("posts")
        if params.time_resolution == "auto":
            res_ms, per_dataset = detect_resolution(con, posts)
        else:
            res_ms, per_dataset = max(1, round(float(params.time_resolution) * 1000)), {}
        self.res_ms = res_ms
        self.run_record["time_resolution_s"] = res_ms / 1000
        self.run_record["dataset_resolution_s"] = per_dataset
        con.execute(
            f"""CREATE VIEW p AS SELECT post_id, account_id, kind, ref_post_id, ref_account_id, text,
                       hashtags, urls, mentions, media_hashes, dataset,
                       (epoch_ms(created_at) // {res_ms}) * {res_ms} AS t
                FROM {posts} WHERE created_at IS NOT NULL"""
        )
        # The profile links the text traces read (a post linking its author's own site).
        profiles = self._source("accounts")
        con.execute(f"CREATE VIEW profile_urls AS SELECT account_id, url FROM {profiles}")
        if self.choose:
            names, reason = choose_traces(con, "p")
            self.chosen = get_traces(names)
            params.traces = self.run_record["params"]["traces"] = names
        else:
            reason = {"source": "given", "traces": params.traces}
        self.run_record["trace_choice"] = reason
        con.execute(
            "CREATE TABLE acc AS SELECT account_id, "
            "(row_number() OVER (ORDER BY account_id) - 1)::INTEGER AS a "
            "FROM (SELECT DISTINCT account_id FROM p)"
        )
        if self.codes_posts:
            # In the ids' order, so the least code is the least id and ties break as on the ids.
            con.execute(
                "CREATE TABLE post_codes AS SELECT post_id, "
                "(row_number() OVER (ORDER BY post_id))::BIGINT AS c FROM p GROUP BY post_id"
            )
        capped: list[pl.DataFrame] = []
        pair_tables: list[str] = []
        for k, trace in enumerate(self.chosen):
            self._step("co-action per trace", k, len(self.chosen))
            started = time.perf_counter()
            capped.append(self._trace(k, trace))
            self.run_record["traces"][trace.name]["seconds"] = round(time.perf_counter() - started, 3)
            pair_tables.append(f"pairs_{k}")
        self._step("co-action per trace", len(self.chosen), len(self.chosen))
        self._step("significance", 0, params.null_passes)
        supported = self._significance(pair_tables)
        flagged = self._flagged(supported)
        passes = 1
        # The background is re-estimated without the clearly coordinated pairs: flagged at the
        # stricter of alpha and EXCLUDE_Q, so asking for every edge (alpha 1) excludes no more.
        strict = min(params.alpha, EXCLUDE_Q)
        while passes < params.null_passes:
            self._step("significance", passes, params.null_passes)
            excluded = flagged.filter(pl.col("q_value") <= strict)
            for k in range(len(self.chosen)):
                mine = excluded.filter(pl.col("k") == k)
                if mine.height:
                    self._null_model(k, mine)
            supported = self._significance(pair_tables)
            again = self._flagged(supported)
            passes += 1
            stable = (
                again.select("k", "a", "b")
                .sort("k", "a", "b")
                .equals(flagged.select("k", "a", "b").sort("k", "a", "b"))
            )
            flagged = again
            if stable or excluded.height == 0:
                break
        self.run_record["null_passes"] = passes
        self._step("significance", params.null_passes, params.null_passes)
        decisions = self._decide(supported)
        coordinated = decisions.filter(pl.col("status") == decide.COORDINATED)["a"]
        # Written: every edge flagged on its own, and the supported edges between accounts the
        # account-level test calls coordinated (a ring member's many weak edges are its evidence).
        both = pl.col("a").is_in(coordinated.implode()) & pl.col("b").is_in(coordinated.implode())
        written = supported.filter(
            (pl.col("n_shared") >= params.min_shared) & ((pl.col("q_value") <= params.alpha) | both)
        )
        edges, evidence = self._edges_and_evidence(written.select("k", "a", "b", "p_value", "q_value"))
        self._step("clusters", 0, 1)
        named = self._named_decisions(decisions).join(self._trace_overlap(), on="account_id", how="left")
        members = named.filter(pl.col("status") == decide.COORDINATED)["account_id"].implode()
        # Clusters are groups of coordinated accounts; a crowd or a weak account stays outside.
        cluster_of = network.cluster(
            edges.filter(pl.col("account_a").is_in(members) & pl.col("account_b").is_in(members)),
            params.seed,
        )
        shared, cluster_items = self._item_stats(cluster_of)
        accounts, clusters = network.build(
            edges, evidence, cluster_of, shared, cluster_items, self._screen_names(edges), named
        )
        # As accounts.csv lists them (an account with support but no written edge is not listed).
        listed = accounts.group_by("status").len().iter_rows()
        self.run_record["account_status"] = {k: int(v) for k, v in listed if k is not None}
        self._step("clusters", 1, 1)
        capped_df = pl.concat(capped) if capped else _capped_frame([])
        self.run_record["capped_items"] = capped_df.height
        self.run_record["flagged_edges"] = edges.height
        self.run_record["flagged_accounts"] = self.run_record["account_status"].get(decide.COORDINATED, 0)
        return CoordResult(
            edges=_cast(edges, schema.COORD_EDGES),
            evidence=_cast(evidence, schema.COORD_EVIDENCE),
            accounts=_cast(accounts, schema.COORD_ACCOUNTS),
            clusters=_cast(clusters, schema.COORD_CLUSTERS),
            capped=capped_df,
            run=self.run_record,
        )

    # -- one trace -----------------------------------------------------------------
    def _trace(self, k: int, trace: Trace) -> pl.DataFrame:
        con, params = self.con, self.params
        sync_bin_ms = max(self.res_ms, round(params.sync_bin * 1000))
        prepare = self._preparation(trace)
        if prepare is not None:
            prepare(con, {"near_threshold": params.near_threshold})
        # The one placeholder a trace's SQL may use; no str.format, so regex braces stay as written.
        source = trace.sql.replace("{sync_bin_ms}", str(sync_bin_ms))
        # One event per (account, item, instant): a duplicate row is not a second action.
        post, coded = (
            ("min(pc.c)", "LEFT JOIN post_codes pc ON pc.post_id = x.post_id")
            if self.codes_posts
            else ("min(x.post_id)", "")
        )
        con.execute(
            f"""CREATE TABLE raw_{k} AS SELECT acc.a, x.item, x.t, {post} AS post_id
                FROM ({source}) x JOIN acc USING (account_id) {coded}
                WHERE x.item IS NOT NULL AND x.t IS NOT NULL GROUP BY acc.a, x.item, x.t"""
        )
        con.execute(
            f"""CREATE TABLE items_{k} AS SELECT item, (row_number() OVER (ORDER BY item))::INTEGER AS i,
                       n_accounts, n_events FROM (
                    SELECT item, count(DISTINCT a) AS n_accounts, count(*) AS n_events
                    FROM raw_{k} GROUP BY item)"""
        )
        con.execute(
            f"CREATE TABLE ev_{k} AS SELECT r.a, it.i, r.t, r.post_id "
            f"FROM raw_{k} r JOIN items_{k} it USING (item)"
        )
        con.execute(f"DROP TABLE raw_{k}")
        window_s, how = self._window(k, trace)
        window_ms = (round(window_s * 1000) // self.res_ms) * self.res_ms
        # Two caps, both reported. An item acted on by very many accounts tells little about any
        # pair (popular); a burst, many accounts on one item within one window-wide bucket, costs
        # O(n²) pairs (burst). Partitioning by bucket means an item spread over weeks costs little.
        bucket_ms = max(window_ms, 1)
        con.execute(
            f"""CREATE TABLE popular_{k} AS SELECT i, n_accounts, n_events FROM items_{k}
                WHERE n_accounts > {params.max_item_accounts}"""
        )
        con.execute(
            f"""CREATE TABLE hot_{k} AS SELECT e.i, e.t // {bucket_ms} AS bk,
                       count(DISTINCT e.a) AS n_accounts, count(*) AS n_events, min(e.t) AS first_t
                FROM ev_{k} e ANTI JOIN popular_{k} p ON e.i = p.i
                GROUP BY e.i, e.t // {bucket_ms} HAVING count(DISTINCT e.a) > {params.max_burst_accounts}"""
        )
        capped = con.sql(
            f"""SELECT it.item, 'popular' AS reason, NULL::BIGINT AS n_bursts, p.n_accounts, p.n_events,
                       (SELECT min(t) FROM ev_{k} e WHERE e.i = p.i) AS first_at
                FROM popular_{k} p JOIN items_{k} it USING (i)
                UNION ALL
                SELECT it.item, 'burst', count(*), max(h.n_accounts), sum(h.n_events), min(h.first_t)
                FROM hot_{k} h JOIN items_{k} it USING (i) GROUP BY it.item
                ORDER BY n_events DESC, item"""
        ).pl()
        con.execute(
            f"""CREATE TABLE evu_{k} AS SELECT e.* FROM ev_{k} e
                ANTI JOIN popular_{k} p ON e.i = p.i
                ANTI JOIN hot_{k} h ON e.i = h.i AND e.t // {bucket_ms} = h.bk"""
        )
        con.execute(f"DROP TABLE hot_{k}")
        con.execute(f"DROP TABLE popular_{k}")
        # Strata much wider than the window, so few co-actions straddle two of them.
        stratum_ms = max(1, round(params.null_stratum * 1000), 4 * window_ms)
        # A trace may bring its own strata (sync: hour of day within the week); slot_ms is one
        # unbroken stretch of a stratum, what the neighbour-stratum weight is a share of.
        own, slot_ms, strata_label = null_strata(trace, stratum_ms, window_ms)

        def pairs_sql(events: str, left: str | None = None) -> str:
            return coaction_sql(
                events, window_ms, stratum_ms, stratum_sql=own, episodes=trace.recurring, left=left
            )

        if self.coactions is None:
            con.execute(f"CREATE TABLE pi_{k} AS {pairs_sql(f'evu_{k}')}")
        else:  # what pairs events: a change in any of these and the kept co-actions are not used
            pairing: dict[str, Any] = {"res_ms": self.res_ms, "window_ms": window_ms}
            pairing |= {"stratum_ms": stratum_ms, "strata": own, "episodes": trace.recurring}
            self.coactions.coactions(con, k, trace.name, pairing, pairs_sql)
        by_t = f"t // {stratum_ms}" if own is None else own.replace("{t}", "t")
        con.execute(
            f"CREATE TABLE act_{k} AS SELECT a, {by_t} AS stratum, count(*) AS n FROM evu_{k} GROUP BY ALL"
        )
        if trace.recurring:
            self._item_null(k)
        con.execute(f"DROP TABLE evu_{k}")
        self.strata[k] = (slot_ms, window_ms)
        self.recurring[k] = trace.recurring
        # Each pair's shared items, and which account's strata its expectation is summed over:
        # the same in every pass of the null model, so counted once.
        con.execute(
            f"""CREATE TABLE side_{k} AS
                WITH obs AS (SELECT a, b, count(DISTINCT (i, episode)) AS n_shared FROM pi_{k} GROUP BY a, b),
                strata AS (SELECT a, count(*) AS n FROM act_{k} GROUP BY a)
                -- Each pair is summed over the strata of its account with fewer of them.
                SELECT o.a, o.b, o.n_shared, sa.n <= sb.n AS a_first FROM obs o
                JOIN strata sa ON sa.a = o.a JOIN strata sb ON sb.a = o.b"""
        )
        self._null_model(k, None)
        n_events, n_pairs = con.execute(
            f"SELECT (SELECT count(*) FROM ev_{k}), (SELECT count(*) FROM pairs_{k})"
        ).fetchall()[0]
        self.run_record["traces"][trace.name] = {
            "window_s": window_s,
            "window_effective_s": window_ms / 1000,
            "window_source": how,
            "events": int(n_events),
            "items": int(con.execute(f"SELECT count(*) FROM items_{k}").fetchall()[0][0]),
            "capped_items": capped.height,
            "capped_events": int(capped["n_events"].sum()) if capped.height else 0,
            "tested_pairs": int(n_pairs),
            "null_stratum_s": stratum_ms / 1000,
            "null_strata": strata_label,
        }
        return _capped_frame([capped.with_columns(pl.lit(trace.name).alias("trace"))])

    def _preparation(self, trace: Trace) -> Prepare | None:
        """What builds ``trace``'s helper tables on this engine."""
        return trace.prepare

    def _window(self, k: int, trace: Trace) -> tuple[float, str]:
        if trace.fixed_window is not None:
            return max(trace.fixed_window(self.params.as_dict()), self.res_ms / 1000), "fixed by trace"
        asked = self.params.window_for(trace.name)
        if asked is None:
            return trace.default_window, "trace default"
        if asked != "auto":
            return float(asked), "given"
        estimated = estimate_window(self.con, f"ev_{k}")
        if estimated is None:
            return FALLBACK_WINDOW, "auto: no item acted on twice, fallback"
        # Never narrower than the data can resolve.
        return max(estimated, self.res_ms / 1000), "auto (CooRnet coordination interval, q=0.1, p=0.5)"

    def _null_model(self, k: int, flagged: pl.DataFrame | None) -> None:
        """Expected co-actions: each stratum's within-window pairs spread over accounts by activity.

        A co-action can straddle two strata; the neighbouring stratum's events count with the share
        of a stratum that lies within one window of its edge. With ``flagged`` pairs (a, b), the
        background rate is re-estimated without them, so a large operation does not make its own
        co-action look ordinary; see docs/coordination.md.
        """
        con = self.con
        stratum_ms, window_ms = self.strata[k]
        edge_share = min(1.0, window_ms / (2 * stratum_ms))
        totals = f"""SELECT s.stratum, coalesce(kc.k, 0) AS k, (s.m * s.m - s.sq) / 2.0 AS p
                     FROM (SELECT stratum, sum(n)::DOUBLE AS m, sum(n * n)::DOUBLE AS sq
                           FROM act_{k} GROUP BY stratum) s
                     LEFT JOIN (SELECT stratum, sum(n_co)::DOUBLE AS k FROM pi_{k} GROUP BY stratum) kc
                     USING (stratum)"""
        if flagged is None:
            rate = f"SELECT stratum, k / p AS rate FROM ({totals}) WHERE p > 0"
        else:
            con.register("excluded", flagged.select("a", "b").to_arrow())
            # Background without the flagged pairs: their co-actions and their event pairs leave the
            # counts. Shrunk toward the trace's overall background by one median stratum of pairs,
            # so a stratum holding nothing but flagged pairs keeps a rate rather than zero; the
            # overall background counts one co-action more than seen, so it is never zero either.
            rate = f"""WITH t AS ({totals}),
                kx AS (SELECT stratum, sum(n_co)::DOUBLE AS k FROM pi_{k}
                       SEMI JOIN excluded x ON x.a = pi_{k}.a AND x.b = pi_{k}.b GROUP BY stratum),
                px AS (SELECT u.stratum, sum(u.n * v.n)::DOUBLE AS p FROM excluded x
                       JOIN act_{k} u ON u.a = x.a JOIN act_{k} v ON v.a = x.b AND v.stratum = u.stratum
                       GROUP BY u.stratum),
                bg AS (SELECT t.stratum, greatest(t.k - coalesce(kx.k, 0), 0) AS k,
                              greatest(t.p - coalesce(px.p, 0), 0) AS p
                       FROM t LEFT JOIN kx USING (stratum) LEFT JOIN px USING (stratum)),
                prior AS (SELECT (sum(k) + 1) / nullif(sum(p), 0) AS rate, median(p) FILTER (p > 0) AS pairs
                          FROM bg)
                SELECT bg.stratum, (bg.k + prior.rate * prior.pairs) / (bg.p + prior.pairs) AS rate
                FROM bg, prior WHERE bg.p + prior.pairs > 0"""
        con.execute(f"CREATE OR REPLACE TABLE rate_{k} AS {rate}")
        if flagged is not None:
            con.unregister("excluded")
        # Recurring items: the larger of this and the items' own expectation (``_item_null``).
        final = (
            f"""SELECT m.a, m.b, m.n_shared, greatest(m.expected, coalesce(ie.expected, 0)) AS expected
                FROM model m LEFT JOIN item_exp_{k} ie USING (a, b)"""
            if self.recurring.get(k)
            else "SELECT * FROM model"
        )
        con.execute(
            f"""CREATE OR REPLACE TABLE pairs_{k} AS
                -- Equality joins only: a range condition on the stratum pairs every stratum of one
                -- account with every stratum of the other (hour strata: billions of rows).
                WITH x AS (SELECT u.a, u.stratum, u.n * r.rate AS nr
                           FROM act_{k} u JOIN rate_{k} r USING (stratum)),
                y AS (SELECT a, stratum + d AS stratum,
                             n * CASE WHEN d = 0 THEN 1.0 ELSE {edge_share} END AS w
                      FROM act_{k} CROSS JOIN (VALUES (-1), (0), (1)) AS o(d)),
                model AS (
                    SELECT s.a, s.b, s.n_shared, sum(x.nr * y.w) AS expected
                    FROM side_{k} s LEFT JOIN x ON x.a = CASE WHEN s.a_first THEN s.a ELSE s.b END
                    LEFT JOIN y ON y.a = CASE WHEN s.a_first THEN s.b ELSE s.a END AND y.stratum = x.stratum
                    GROUP BY s.a, s.b, s.n_shared)
                {final}"""
        )

    def _item_null(self, k: int) -> None:
        """For recurring items, what the items' own timing gives a pair that uses them both.

        Fans live-tweeting a show use its tag in the same minutes on the night it airs: given that
        both use the tag that day, their synchrony is the tag's, not theirs. An item's own rate on
        a day (``ITEM_OCCASION_MS``) is its within-window event pairs over its cross-account event
        pairs that day, K_id / P_id, trusted in proportion to the evidence behind the item over the
        whole run, P_i / (P_i + ``ITEM_PRIOR_PAIRS``): a tag only a small group uses (a push) is
        left to the stratum model, a tag with a large audience explains its own bursts, night by
        night. A pair expects Σ n_aid · n_bid · rate_id over the days both used the item, and its
        expectation is the larger of this and the stratum model's. The passes never change it.
        """
        self.con.execute(
            f"""CREATE TABLE item_exp_{k} AS
                WITH ai AS (SELECT a, i, t // {ITEM_OCCASION_MS} AS d, count(*)::DOUBLE AS n
                            FROM evu_{k} GROUP BY ALL),
                per_day AS (SELECT i, d, (sum(n) * sum(n) - sum(n * n)) / 2.0 AS p FROM ai GROUP BY i, d),
                per_item AS (SELECT i, (sum(n) * sum(n) - sum(n * n)) / 2.0 AS p
                             FROM (SELECT a, i, sum(n) AS n FROM ai GROUP BY a, i) GROUP BY i),
                co AS (SELECT i, first_t // {ITEM_OCCASION_MS} AS d, sum(n_co)::DOUBLE AS k
                       FROM pi_{k} GROUP BY ALL),
                day_rate AS (SELECT pd.i, pd.d, co.k / pd.p * pit.p / (pit.p + {ITEM_PRIOR_PAIRS}) AS rate
                             FROM per_day pd JOIN co USING (i, d) JOIN per_item pit USING (i) WHERE pd.p > 0),
                common AS (SELECT DISTINCT a, b, i FROM pi_{k})
                SELECT c.a, c.b, sum(x.n * y.n * r.rate) AS expected FROM common c
                JOIN ai x ON x.a = c.a AND x.i = c.i JOIN ai y ON y.a = c.b AND y.i = c.i AND y.d = x.d
                JOIN day_rate r ON r.i = c.i AND r.d = x.d GROUP BY c.a, c.b"""
        )

    # -- across traces -------------------------------------------------------------
    def _significance(self, pair_tables: list[str]) -> pl.DataFrame:
        """p-values in batches; only pairs with p ≤ alpha are kept for Benjamini–Hochberg.

        q ≥ p, so no other pair can be flagged, and the kept pairs' ranks among all tested ones
        are their ranks among the kept: their q-values are exact. Tested pairs can run to hundreds
        of millions on a large case; they never have to be in memory together.
        """
        candidates, tested, without_expectation = self._p_values(pair_tables)
        self.run_record["tested_pairs"] = tested
        self.run_record["pairs_without_expectation"] = without_expectation
        ids = {"k": pl.Int32, "a": pl.Int32, "b": pl.Int32}
        columns = ["k", "a", "b", "n_shared", "p_value", "q_value"]
        if candidates.height == 0:
            return pl.DataFrame(
                schema={**ids, "n_shared": pl.Int64, "p_value": pl.Float64, "q_value": pl.Float64}
            )
        q = benjamini_hochberg(candidates["p_value"].to_numpy(), n_tests=tested)
        return candidates.with_columns(q_value=pl.Series(q)).select(columns)

    def _p_values(self, pair_tables: list[str]) -> tuple[pl.DataFrame, int, int]:
        """(the pairs with p ≤ alpha: k, a, b, n_shared, p_value; tested pairs; without expectation)."""
        alpha = self.params.alpha
        tested = without_expectation = 0
        kept: list[pl.DataFrame] = []
        for k, table in enumerate(pair_tables):
            query = f"SELECT {k}::INTEGER AS k, a, b, n_shared, expected FROM {table}"
            for batch in self.con.sql(query).to_arrow_reader(SIGNIFICANCE_BATCH):
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                # No expectation (no activity model for the pair) is never evidence: p = 1.
                expected = frame["expected"].fill_null(0.0).to_numpy()
                p = np.where(expected > 0, conditional_poisson_p(frame["n_shared"].to_numpy(), expected), 1.0)
                tested += frame.height
                without_expectation += int((expected <= 0).sum())
                kept.append(frame.with_columns(p_value=pl.Series(p)).filter(pl.col("p_value") <= alpha))
        ids = {"k": pl.Int32, "a": pl.Int32, "b": pl.Int32}
        empty = pl.DataFrame(schema={**ids, "n_shared": pl.Int64, "p_value": pl.Float64})
        candidates = pl.concat(kept).select(list(empty.columns)) if kept else empty
        return candidates, tested, without_expectation

    def _flagged(self, supported: pl.DataFrame) -> pl.DataFrame:
        """Edges significant on their own: q ≤ alpha and at least ``min_shared`` co-acted items."""
        keep = (pl.col("q_value") <= self.params.alpha) & (pl.col("n_shared") >= self.params.min_shared)
        return supported.filter(keep).select("k", "a", "b", "p_value", "q_value")

    def _chance_support(self) -> tuple[np.ndarray, np.ndarray]:
        """Per account (by integer code): its tests, and how many chance alone would support."""
        n_accounts = int(self.con.execute("SELECT count(*) FROM acc").fetchall()[0][0])
        tests = np.zeros(n_accounts, dtype=np.int64)
        chance = np.zeros(n_accounts)
        for k in range(len(self.chosen)):
            query = f"SELECT a, b, coalesce(expected, 0) AS expected FROM pairs_{k}"
            for batch in self.con.sql(query).to_arrow_reader(SIGNIFICANCE_BATCH):
                expected = batch.column("expected").to_numpy()
                supported = support_chance(expected, self.params.alpha, self.params.min_shared)
                for side in ("a", "b"):
                    codes = batch.column(side).to_numpy()
                    tests += np.bincount(codes, minlength=n_accounts)
                    chance += np.bincount(codes, weights=supported, minlength=n_accounts)
        return tests, chance

    def _decide(self, candidates: pl.DataFrame) -> pl.DataFrame:
        """The account-level decision (``decide``) from every account's tests and supported edges."""
        params = self.params
        supported = candidates.filter(pl.col("n_shared") >= params.min_shared).with_columns(
            trace=pl.col("k").replace_strict(
                {k: t.name for k, t in enumerate(self.chosen)}, return_dtype=pl.String
            ),
            targets_posts=pl.col("k").replace_strict(
                {k: t.targets_posts for k, t in enumerate(self.chosen)}, return_dtype=pl.Boolean
            ),
        )
        tests, chance = self._chance_support()
        active = np.flatnonzero(tests)
        tested = pl.DataFrame(
            {"a": pl.Series(active, dtype=pl.Int32), "n_tested": tests[active], "expected": chance[active]}
        )
        return decide.account_decisions(supported, tested, self._sources(supported), alpha=params.alpha)

    def _sources(self, supported: pl.DataFrame) -> pl.DataFrame:
        """Per account, the distinct authors of the posts its supported target-trace edges share."""
        con = self.con
        targets = supported.filter(pl.col("targets_posts"))
        if targets.height == 0:
            return pl.DataFrame(schema=decide.SOURCES)
        con.register("sup_arrow", targets.select("k", "a", "b").to_arrow())
        try:
            ks = sorted(set(targets["k"].to_list()))
            union = " UNION ALL ".join(
                f"""SELECT {k} AS k, pi.a, pi.b, pi.i FROM pi_{k} pi
                    SEMI JOIN sup_arrow s ON s.k = {k} AND s.a = pi.a AND s.b = pi.b"""
                for k in ks
            )
            names = " UNION ALL ".join(f"SELECT {k} AS k, i, item FROM items_{k}" for k in ks)
            # An item's author: the original's, or what a repost of it names. An item whose author
            # is unknown counts as a source of its own: no evidence of a crowd. Co-actions carry
            # item codes and sources a code in the sources' order (so the least code is the least
            # source): no names are joined over every co-action.
            return con.sql(
                f"""WITH co AS MATERIALIZED ({union}),
                    acted AS (SELECT n.k, n.i, n.item FROM ({names}) n SEMI JOIN co USING (k, i)),
                    named AS (SELECT post_id AS item, account_id AS source FROM p
                              UNION ALL SELECT ref_post_id, ref_account_id FROM p
                              WHERE ref_post_id IS NOT NULL AND ref_account_id IS NOT NULL),
                    authors AS (SELECT item, any_value(source) AS source FROM named
                                SEMI JOIN acted USING (item) GROUP BY item),
                    item_source AS (SELECT ac.k, ac.i, coalesce(au.source, 'post:' || ac.item) AS source
                                    FROM acted ac LEFT JOIN authors au USING (item)),
                    coded AS (SELECT k, i, source, dense_rank() OVER (ORDER BY source) AS sc
                              FROM item_source),
                    sides AS (SELECT co.a, c.sc FROM co JOIN coded c USING (k, i)
                              UNION ALL SELECT co.b, c.sc FROM co JOIN coded c USING (k, i)),
                    per AS (SELECT a, count(DISTINCT sc)::BIGINT AS n_sources, min(sc) AS sc
                            FROM sides GROUP BY a)
                    SELECT per.a, per.n_sources, c.source
                    FROM per JOIN (SELECT DISTINCT sc, source FROM coded) c USING (sc)"""
            ).pl()
        finally:
            con.unregister("sup_arrow")

    def _named_decisions(self, decisions: pl.DataFrame) -> pl.DataFrame:
        con = self.con
        con.register("dec_arrow", decisions.to_arrow())
        try:
            return con.sql("SELECT acc.account_id, d.* EXCLUDE (a) FROM dec_arrow d JOIN acc USING (a)").pl()
        finally:
            con.unregister("dec_arrow")

    def _edges_and_evidence(self, flagged: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Flagged edges and their evidence rows; every co-acted item stays in DuckDB (``slim``).

        Only the evidence (the closest ``max_examples`` items per edge) leaves DuckDB: a tightly
        knit group can share thousands of items per pair, so the edge figures and the item
        statistics (``_item_stats``) are aggregated where the items are.
        """
        con = self.con
        con.execute("CREATE OR REPLACE TEMP TABLE slim (k INTEGER, a INTEGER, b INTEGER, i INTEGER)")
        post_type = "BIGINT" if self.codes_posts else "VARCHAR"
        con.execute(f"CREATE OR REPLACE TEMP TABLE acted (k INTEGER, side INTEGER, post {post_type})")
        edges, evidence = [], []
        for k, trace in enumerate(self.chosen):
            mine = flagged.filter(pl.col("k") == k).drop("k")
            if mine.height == 0:
                continue
            con.register("flag_arrow", mine.to_arrow())
            # Ranked by i, which follows the items' names (items_k): no names joined over every co-action.
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE per_item AS
                    SELECT pi.a, pi.b, pi.i, pi.episode, min(pi.first_t) AS first_t, max(pi.last_t) AS last_t,
                           min(pi.gap) AS gap,
                           arg_min(pi.ex, struct_pack(g := pi.gap, s := pi.stratum)) AS ex,
                           row_number() OVER (PARTITION BY pi.a, pi.b
                                              ORDER BY min(pi.gap), pi.i, pi.episode) AS rank
                    FROM pi_{k} pi SEMI JOIN flag_arrow f ON f.a = pi.a AND f.b = pi.b
                    GROUP BY pi.a, pi.b, pi.i, pi.episode"""
            )
            names = "JOIN acc x ON x.a = pr.a JOIN acc y ON y.a = pr.b"
            edge_rows = (
                con.sql(
                    f"""SELECT pr.a, pr.b, any_value(x.account_id) AS account_a,
                               any_value(y.account_id) AS account_b, count(*)::BIGINT AS n_shared,
                               min(pr.first_t) AS first_at, max(pr.last_t) AS last_at,
                               median(pr.gap / 1000.0) AS median_gap_s
                        FROM per_item pr {names} GROUP BY pr.a, pr.b"""
                )
                .pl()
                .join(mine, on=["a", "b"])
                .join(self._expected(k, mine), on=["a", "b"])
            )
            if self.codes_posts:
                post_a, post_b = "qa.post_id", "qb.post_id"
                posts = (
                    "LEFT JOIN post_codes qa ON qa.c = pr.ex.pa LEFT JOIN post_codes qb ON qb.c = pr.ex.pb"
                )
            else:
                post_a, post_b, posts = "pr.ex.pa", "pr.ex.pb", ""
            evidence.append(
                con.sql(
                    f"""SELECT '{trace.name}' AS trace, x.account_id AS account_a, y.account_id AS account_b,
                               it.item, {post_a} AS post_id_a, {post_b} AS post_id_b,
                               pr.ex.ta AS time_a, pr.ex.tb AS time_b, pr.gap / 1000.0 AS gap_s, pr.rank
                        FROM per_item pr JOIN items_{k} it ON it.i = pr.i {names} {posts}
                        WHERE pr.rank <= {self.params.max_examples}"""
                ).pl()
            )
            con.execute(f"INSERT INTO slim SELECT DISTINCT {k}, a, b, i FROM per_item")
            con.execute(
                f"INSERT INTO acted SELECT {k}, a, ex.pa FROM per_item "
                f"UNION ALL SELECT {k}, b, ex.pb FROM per_item"
            )
            con.execute("DROP TABLE per_item")
            tf = con.sql(f"SELECT a, i, count(*)::DOUBLE AS tf FROM ev_{k} GROUP BY a, i").pl()
            weight = tfidf_cosine(
                tf["a"].to_numpy(),
                tf["i"].to_numpy(),
                tf["tf"].to_numpy(),
                edge_rows["a"].to_numpy(),
                edge_rows["b"].to_numpy(),
            )
            con.unregister("flag_arrow")
            edges.append(edge_rows.with_columns(trace=pl.lit(trace.name), weight=pl.Series(weight)))
        if not edges:
            return _empty_like(schema.COORD_EDGES), _empty_items()
        edge_df = (
            pl.concat(edges)
            .with_columns(_ms_to_ts("first_at"), _ms_to_ts("last_at"))
            .sort("trace", "account_a", "account_b")
        )
        evidence_df = (
            pl.concat(evidence)
            .with_columns(_ms_to_ts("time_a"), _ms_to_ts("time_b"))
            .sort("trace", "account_a", "account_b", "rank")
        )
        return edge_df.select([f.name for f in schema.COORD_EDGES]), evidence_df

    def _item_stats(self, cluster_of: dict[str, str | None]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Per account the distinct (trace, item) it co-acted on; per cluster the items inside it."""
        con = self.con
        shared = con.sql(
            """SELECT acc.account_id, count(*)::BIGINT AS n_shared_items
               FROM (SELECT DISTINCT side, k, i FROM (SELECT a AS side, k, i FROM slim
                                                      UNION ALL SELECT b, k, i FROM slim)) s
               JOIN acc ON acc.a = s.side GROUP BY acc.account_id"""
        ).pl()
        members = pl.DataFrame(
            {"account_id": list(cluster_of), "cluster_id": list(cluster_of.values())},
            schema={"account_id": pl.String, "cluster_id": pl.String},
        ).drop_nulls()
        names = " UNION ALL ".join(
            f"SELECT {k}::INTEGER AS k, '{t.name}' AS trace, i, item FROM items_{k}"
            for k, t in enumerate(self.chosen)
        )
        con.register("members", members.to_arrow())
        try:
            cluster_items = con.sql(
                f"""WITH cl AS (SELECT acc.a, m.cluster_id FROM members m JOIN acc USING (account_id)),
                    inside AS (SELECT c1.cluster_id, s.k, s.i, s.a, s.b FROM slim s
                               JOIN cl c1 ON c1.a = s.a JOIN cl c2 ON c2.a = s.b
                               WHERE c1.cluster_id = c2.cluster_id),
                    counted AS (SELECT cluster_id, k, i, count(DISTINCT (a, b)) AS n
                                FROM inside GROUP BY ALL),
                    totals AS (SELECT cluster_id, count(*)::BIGINT AS n_items
                               FROM counted GROUP BY cluster_id),
                    named AS (SELECT c.cluster_id, nm.trace, nm.item, c.n,
                                     row_number() OVER (PARTITION BY c.cluster_id
                                                        ORDER BY c.n DESC, nm.trace, nm.item) AS r
                              FROM counted c JOIN ({names}) nm ON nm.k = c.k AND nm.i = c.i)
                    SELECT t.cluster_id, t.n_items,
                           string_agg(n.trace || ':' || n.item || ' (' || n.n || ' pairs)', '; ' ORDER BY n.r)
                               AS top_items
                    FROM totals t JOIN named n ON n.cluster_id = t.cluster_id AND n.r <= 5
                    GROUP BY t.cluster_id, t.n_items"""
            ).pl()
        finally:
            con.unregister("members")
        return shared, cluster_items

    def _trace_overlap(self) -> pl.DataFrame:
        """Per account, how far the posts behind two of its traces are the same posts.

        One post with a link, a hashtag and an image, copied by a partner, is one act that three
        traces see; the policy counts such traces as one line (``max_post_overlap``). The overlap
        of two traces is |shared posts| / |posts of the smaller|, over every co-action of the
        written edges (not only the evidence examples).
        """
        names = {k: t.name for k, t in enumerate(self.chosen)}
        rows = self.con.sql(
            """WITH s AS (SELECT DISTINCT side, k, post FROM acted WHERE post IS NOT NULL),
                n AS (SELECT side, k, count(*) AS c FROM s GROUP BY side, k),
                x AS (SELECT s1.side, s1.k AS k1, s2.k AS k2, count(*) AS inter FROM s s1
                      JOIN s s2 ON s1.side = s2.side AND s1.post = s2.post AND s1.k < s2.k
                      GROUP BY s1.side, s1.k, s2.k)
               SELECT acc.account_id, x.k1, x.k2, x.inter / least(n1.c, n2.c) AS overlap
               FROM x JOIN n n1 ON n1.side = x.side AND n1.k = x.k1
               JOIN n n2 ON n2.side = x.side AND n2.k = x.k2 JOIN acc ON acc.a = x.side"""
        ).pl()
        return (
            rows.with_columns(
                entry=pl.format(
                    "{}|{}={}",
                    pl.col("k1").replace_strict(names, return_dtype=pl.String),
                    pl.col("k2").replace_strict(names, return_dtype=pl.String),
                    pl.col("overlap").round(2),
                )
            )
            .sort("account_id", "k1", "k2")
            .group_by("account_id", maintain_order=True)
            .agg(trace_overlap=pl.col("entry").str.join(";"))
        )

    def _expected(self, k: int, mine: pl.DataFrame) -> pl.DataFrame:
        return self.con.sql(
            f"SELECT pr.a, pr.b, pr.expected FROM pairs_{k} pr "
            "SEMI JOIN flag_arrow f ON f.a = pr.a AND f.b = pr.b"
        ).pl()

    def _screen_names(self, edges: pl.DataFrame) -> dict[str, str]:
        if edges.height == 0 or not self.case.has_table("accounts"):
            return {}
        rows = self.con.execute(
            f"""SELECT account_id, arg_max(screen_name, coalesce(probed_at, ingested_at))
                FROM {self._source("accounts")}
                WHERE screen_name IS NOT NULL GROUP BY account_id"""
        ).fetchall()
        return dict(rows)

    def _empty(self) -> CoordResult:
        return CoordResult(
            edges=_empty_like(schema.COORD_EDGES),
            evidence=_empty_like(schema.COORD_EVIDENCE),
            accounts=_empty_like(schema.COORD_ACCOUNTS),
            clusters=_empty_like(schema.COORD_CLUSTERS),
            capped=_capped_frame([]),
            run={**self.run_record, "tested_pairs": 0, "flagged_edges": 0, "flagged_accounts": 0},
        )


def _ms_to_ts(col: str) -> pl.Expr:
    return pl.from_epoch(pl.col(col), time_unit="ms").dt.replace_time_zone("UTC").alias(col)


_CAPPED = pl.Schema(
    {
        "trace": pl.String(),
        "item": pl.String(),
        "reason": pl.String(),  # "popular": too many accounts overall; "burst": too many at once
        "n_bursts": pl.Int64(),  # burst: window-wide time buckets of the item that were capped
        "n_accounts": pl.Int64(),  # popular: accounts on the item; burst: in its largest capped burst
        "n_events": pl.Int64(),  # events left out of the co-action join
        "first_at": pl.Datetime("ms", "UTC"),
    }
)


def _capped_frame(frames: list[pl.DataFrame]) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=_CAPPED)
    return pl.concat(
        [f.with_columns(_ms_to_ts("first_at")).select(list(_CAPPED)).cast(_CAPPED) for f in frames]
    )


def _empty_like(table_schema: Any) -> pl.DataFrame:
    return pl.from_arrow(table_schema.empty_table())  # type: ignore[return-value]


def _empty_items() -> pl.DataFrame:
    evidence = _empty_like(schema.COORD_EVIDENCE)
    return evidence.with_columns(pl.lit(None, pl.Int64).alias("rank"))


def _cast(frame: pl.DataFrame, table_schema: Any) -> pl.DataFrame:
    """``frame`` with exactly ``table_schema``'s columns and types."""
    import pyarrow as pa

    names = [f.name for f in table_schema]
    arrow = frame.select(names).to_arrow()
    return pl.from_arrow(pa.Table.from_arrays(arrow.columns, names=names).cast(table_schema))  # type: ignore[return-value]
