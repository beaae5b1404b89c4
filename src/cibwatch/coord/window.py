"""Time handling: the common time resolution, the automatic window and the co-action join.

The co-action join is plain SQL that runs on DuckDB and, unchanged, on Spark SQL: an equality
join on (item, time bucket) against the neighbouring buckets, then the exact |Δt| ≤ window test.
Buckets are one window wide, so every pair within the window is in the same or an adjacent
bucket and no item is ever compared across its whole history.
"""

from __future__ import annotations

from typing import Any

# Candidate resolutions, coarsest first: a dataset is "minute" data when every time is whole minutes.
_RESOLUTIONS_MS = (60_000, 1_000, 1)


def detect_resolution(con: Any, posts: str) -> tuple[int, dict[str, float]]:
    """The common time resolution (ms) of ``posts``: the coarsest over its datasets.

    Mixing minute-resolution and second-resolution sources lets the resolution alone
    separate them (FINDINGS), so every time is floored to the coarsest one.
    """
    checks = ", ".join(f"bool_and(ms % {r} = 0)" for r in _RESOLUTIONS_MS)
    rows = con.execute(
        f"""SELECT dataset, {checks} FROM (SELECT dataset, epoch_ms(created_at) AS ms FROM {posts}
            WHERE created_at IS NOT NULL) GROUP BY dataset ORDER BY dataset"""
    ).fetchall()
    per_dataset: dict[str, float] = {}
    for dataset, *flags in rows:
        res = next((r for r, ok in zip(_RESOLUTIONS_MS, flags, strict=True) if ok), 1)
        per_dataset[dataset] = res / 1000
    common = int(max(per_dataset.values(), default=0.001) * 1000)
    return common, per_dataset


def estimate_window(con: Any, events: str, q: float = 0.1, p: float = 0.5) -> float | None:
    """CooRnet's coordination interval, in seconds, over ``events`` (columns i, t in ms).

    Among items acted on more than once, take the fastest ``q`` share by time from first to second
    action; the interval is the median time those items take to gather ``p`` of their actions.
    None when no item is acted on twice.
    """
    row = con.execute(
        f"""WITH ranked AS (
                SELECT i, t - min(t) OVER (PARTITION BY i) AS since_first,
                       row_number() OVER (PARTITION BY i ORDER BY t) AS rnk,
                       count(*) OVER (PARTITION BY i) AS n
                FROM {events}),
            multi AS (SELECT * FROM ranked WHERE n > 1),
            second AS (SELECT i, since_first AS to_second FROM multi WHERE rnk = 2),
            fast AS (SELECT i FROM second
                     WHERE to_second <= (SELECT quantile_disc(to_second, {q}) FROM second))
            SELECT median(reach) FROM (
                SELECT m.i, min(m.since_first) AS reach FROM multi m SEMI JOIN fast f ON m.i = f.i
                WHERE m.rnk::DOUBLE / m.n > {p} GROUP BY m.i)"""
    ).fetchall()
    value = row[0][0] if row else None
    return None if value is None else float(value) / 1000


# The few spellings DuckDB and Spark SQL disagree on; the statement is otherwise the same.
DIALECTS: dict[str, dict[str, str]] = {
    "duckdb": {"div": "({x} // {y})", "struct": "struct_pack({fields})", "field": "{name} := {value}"},
    "spark": {"div": "({x} div {y})", "struct": "named_struct({fields})", "field": "'{name}', {value}"},
}


def coaction_sql(
    events: str,
    window_ms: int,
    strata_ms: int,
    dialect: str = "duckdb",
    stratum_sql: str | None = None,
    episodes: bool = True,
    left: str | None = None,
) -> str:
    """SQL for co-actions per (a, b, item, episode), a < b, both on the item within the window.

    ``events`` has columns a (int account), i (int item), t (ms), post_id. An *episode* is the
    window-wide time bucket of a co-action's earlier event: acting together on one hashtag in three
    separate bursts is three co-actions, not one (``episodes=False``: one episode, 0, per item,
    for items that do not recur, such as posts). Each row keeps its ``stratum`` (the null model's
    time stratum), the closest pair of events as evidence and how many event pairs were within the
    window (``n_co``, the null model's count). ``dialect`` is "duckdb" or "spark". With ``left``
    (events of the same columns), only pairs whose account-``a`` event is in ``left`` and whose
    account-``b`` event is in ``events`` (the incremental update's new events against the window).
    """
    spell = DIALECTS[dialect]

    def div(x: str, y: int) -> str:
        return spell["div"].format(x=x, y=y)

    def struct(**fields: str) -> str:
        inner = ", ".join(spell["field"].format(name=k, value=v) for k, v in fields.items())
        return spell["struct"].format(fields=inner)

    width = max(int(window_ms), 1)
    gap = "abs(n1.t - e2.t)"
    # A trace's own strata (``Strata.sql``, over ``{t}``, in the caller's dialect) replace t // strata.
    stratum = div("least(n1.t, e2.t)", strata_ms) if stratum_sql is None else f"({stratum_sql})"
    stratum = stratum.replace("{t}", "least(n1.t, e2.t)")
    episode = div("least(n1.t, e2.t)", width) if episodes else "0"
    by_episode = f", {episode}" if episodes else ""
    evidence = struct(pa="n1.post_id", pb="e2.post_id", ta="n1.t", tb="e2.t")
    closest_first = struct(g=gap, pa="n1.post_id", pb="e2.post_id")
    return f"""
        WITH e AS (SELECT a, i, t, post_id, {div("t", width)} AS bk FROM {events}),
        {f"l AS (SELECT a, i, t, post_id, {div('t', width)} AS bk FROM {left})," if left else ""}
        near AS (SELECT e.a, e.i, e.t, e.post_id, e.bk + o.d AS nb
                 FROM {"l" if left else "e"} e CROSS JOIN (VALUES (-1), (0), (1)) AS o(d))
        SELECT n1.a AS a, e2.a AS b, n1.i AS i, {episode} AS episode, {stratum} AS stratum,
               count(*) AS n_co,
               min({gap}) AS gap,
               min(least(n1.t, e2.t)) AS first_t,
               max(greatest(n1.t, e2.t)) AS last_t,
               min_by({evidence}, {closest_first}) AS ex
        FROM near n1 JOIN e e2 ON e2.i = n1.i AND e2.bk = n1.nb
        WHERE n1.a < e2.a AND {gap} <= {int(window_ms)}
        GROUP BY n1.a, e2.a, n1.i{by_episode}, {stratum}"""
